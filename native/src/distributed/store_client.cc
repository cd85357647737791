// See store_client.h. Frames: u32 little-endian payload length, then the payload. A reply payload is
// u8 status (0 ok, 1 error) followed by the body (the value, or a UTF-8 error message).
#include "store_client.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tsdist {

using Clock = std::chrono::steady_clock;

namespace {

void putU32(std::vector<char>& b, uint32_t v) {
  for (int i = 0; i < 4; i++) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void putStr(std::vector<char>& b, const std::string& s) {
  putU32(b, static_cast<uint32_t>(s.size()));
  b.insert(b.end(), s.begin(), s.end());
}
int msLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left > 1 << 30 ? 1 << 30 : left);
}

// One non-blocking connect attempt bounded by the deadline; returns the fd or -1 (errno-style message in err).
int tryConnect(const std::string& host, int port, Clock::time_point deadline, std::string& err) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) { err = std::string("cannot resolve: ") + gai_strerror(rc); return -1; }
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) { err = strerror(errno); continue; }
    int flags = fcntl(fd, F_GETFL, 0);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = poll(&p, 1, msLeft(deadline));
      if (rc == 1) {
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        rc = soerr == 0 ? 0 : -1;
        errno = soerr;
      } else {
        rc = -1;
        errno = ETIMEDOUT;
      }
    }
    if (rc == 0) {
      fcntl(fd, F_SETFL, flags);  // back to blocking; reads and writes poll with deadlines anyway
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      break;
    }
    err = strerror(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

}  // namespace

StoreClient::StoreClient(const std::string& host, int port, const std::string& token, std::chrono::milliseconds timeout)
    : where_(host + ":" + std::to_string(port)), timeout_(timeout) {
  auto deadline = Clock::now() + timeout;
  std::string err;
  // Rank 0 may start its store after this rank starts: retry refused connections until the deadline.
  while ((fd_ = tryConnect(host, port, deadline, err)) < 0) {
    if (Clock::now() >= deadline) {
      throw std::runtime_error("cannot reach the rendezvous store at " + where_ + " within " +
                               std::to_string(timeout.count()) + " ms (" + err + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::vector<char> hello{static_cast<char>(kOpHello)};
  hello.insert(hello.end(), token.begin(), token.end());
  request(hello, timeout);
}

StoreClient::~StoreClient() {
  if (fd_ >= 0) close(fd_);
}

void StoreClient::writeAll(const char* p, size_t n, Clock::time_point deadline) {
  while (n > 0) {
    pollfd pf{fd_, POLLOUT, 0};
    if (poll(&pf, 1, msLeft(deadline)) != 1) throw std::runtime_error("timed out writing to the rendezvous store at " + where_);
    ssize_t w = send(fd_, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      throw std::runtime_error("lost the rendezvous store at " + where_ + ": " + strerror(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void StoreClient::readAll(char* p, size_t n, Clock::time_point deadline) {
  while (n > 0) {
    pollfd pf{fd_, POLLIN, 0};
    if (poll(&pf, 1, msLeft(deadline)) != 1) throw std::runtime_error("timed out waiting for the rendezvous store at " + where_);
    ssize_t r = recv(fd_, p, n, 0);
    if (r == 0) throw std::runtime_error("the rendezvous store at " + where_ + " closed the connection (rank 0 gone, or a wrong TENSORSLIM_DIST_TOKEN)");
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      throw std::runtime_error("lost the rendezvous store at " + where_ + ": " + strerror(errno));
    }
    p += r;
    n -= static_cast<size_t>(r);
  }
}

std::vector<char> StoreClient::request(const std::vector<char>& payload, std::chrono::milliseconds replyTimeout) {
  // The reply may legitimately take replyTimeout (a server-side wait); allow 5 s more for the network.
  auto deadline = Clock::now() + replyTimeout + std::chrono::seconds(5);
  std::vector<char> frame;
  putU32(frame, static_cast<uint32_t>(payload.size()));
  frame.insert(frame.end(), payload.begin(), payload.end());
  writeAll(frame.data(), frame.size(), deadline);
  unsigned char len[4];
  readAll(reinterpret_cast<char*>(len), 4, deadline);
  uint32_t n = len[0] | (len[1] << 8) | (len[2] << 16) | (static_cast<uint32_t>(len[3]) << 24);
  if (n == 0 || n > kMaxFrame) throw std::runtime_error("the rendezvous store at " + where_ + " sent a malformed frame (" + std::to_string(n) + " bytes)");
  std::vector<char> reply(n);
  readAll(reply.data(), n, deadline);
  if (reply[0] != 0) throw std::runtime_error("rendezvous store at " + where_ + ": " + std::string(reply.begin() + 1, reply.end()));
  return std::vector<char>(reply.begin() + 1, reply.end());
}

void StoreClient::set(const std::string& key, const std::vector<char>& data) {
  std::vector<char> p{static_cast<char>(kOpSet)};
  putStr(p, key);
  p.insert(p.end(), data.begin(), data.end());
  request(p, timeout_);
}

std::vector<char> StoreClient::get(const std::string& key) {
  // Gloo calls get after wait, but a get that arrives first waits for the key like the wait does.
  std::vector<char> p{static_cast<char>(kOpGet)};
  putU32(p, static_cast<uint32_t>(timeout_.count()));
  putStr(p, key);
  return request(p, timeout_);
}

void StoreClient::wait(const std::vector<std::string>& keys) { wait(keys, timeout_); }

void StoreClient::wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) {
  std::vector<char> p{static_cast<char>(kOpWait)};
  putU32(p, static_cast<uint32_t>(timeout.count()));
  putU32(p, static_cast<uint32_t>(keys.size()));
  for (const auto& k : keys) putStr(p, k);
  request(p, timeout);
}

}  // namespace tsdist
