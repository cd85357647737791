// Client of the rendezvous key-value store that rank 0 hosts (src/distributed/store.ts), seen by
// Gloo through its three-call Store interface (set / get / wait). Runs on the communication thread
// only, so it holds one blocking socket and no locks. It speaks our own small framed protocol
// (docs/DISTRIBUTED.md): never PyTorch's TCPStore protocol, which is internal to PyTorch.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <gloo/rendezvous/store.h>

namespace tsdist {

// Protocol constants: keep equal to src/distributed/store.ts.
constexpr uint8_t kOpHello = 1, kOpSet = 2, kOpGet = 3, kOpWait = 4;
constexpr uint32_t kMaxFrame = 16u << 20;  // 16 MiB: a frame announcing more is refused

class StoreClient : public gloo::rendezvous::Store {
 public:
  // Connects (retrying refused connections until `timeout`) and authenticates with `token`.
  // Throws std::runtime_error naming the address on failure.
  StoreClient(const std::string& host, int port, const std::string& token, std::chrono::milliseconds timeout);
  ~StoreClient() override;

  void set(const std::string& key, const std::vector<char>& data) override;
  std::vector<char> get(const std::string& key) override;
  void wait(const std::vector<std::string>& keys) override;
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override;

 private:
  // Sends one request frame and returns the reply body; throws with the store's error message.
  std::vector<char> request(const std::vector<char>& payload, std::chrono::milliseconds replyTimeout);
  void writeAll(const char* p, size_t n, std::chrono::steady_clock::time_point deadline);
  void readAll(char* p, size_t n, std::chrono::steady_clock::time_point deadline);

  std::string where_;  // "host:port", for messages
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
};

}  // namespace tsdist
