// A pipelined ring all-reduce on Gloo's transport (the process group's own context: its TCP pairs
// and unbound buffers). Gloo moves every byte; only the order of the messages is ours, as PyTorch's
// ProcessGroupGloo composes its own algorithms from Gloo's point-to-point calls.
//
// N ranks, n elements. The buffer is cut into N chunks (balanced: the first n % N one element
// longer), each chunk into S segments of at most `segmentBytes` (the same S for every chunk, so
// every step has S messages; a segment may be empty and is then a zero-byte message that keeps the
// ring in lockstep). The ring runs 2(N-1) steps of S messages, numbered m = step * S + segment:
//   reduce-scatter, step s = 0..N-2: send chunk (r - s) mod N to rank r+1, receive chunk
//     (r - s - 1) mod N from rank r-1 into a small ring of `depth` temp segments and reduce it into
//     place (the last step also divides, for avg): rank r ends with chunk (r + 1) mod N complete;
//   all-gather, step a = 0..N-2: send chunk (r + 1 - a) mod N, receive chunk (r - a) mod N straight
//     into place (no temp, no copy).
// The send of message m carries what message m - S brought (the same segment of the chunk received
// one step earlier), so each segment moves on as soon as it is reduced, while the next ones are
// still on the wire: several segments are in flight, and each temp segment is reduced while it is
// still in cache. Sends go straight from the tensor's memory. Receives are posted ahead (Gloo's TCP
// transport sends a message only once the receiver has posted its buffer), all on one slot, and
// Gloo matches a pair's messages on a slot in the order they were posted, so message m of rank r-1
// lands in receive m of rank r.
// Memory safety: a region is written (reduced into, or received into during the all-gather) only
// after every send of it has been posted and, by causality, written out: the all-gather's data for
// a chunk depends on this rank's own reduce-scatter send of that chunk.
#include "ring_allreduce.h"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <gloo/transport/unbound_buffer.h>
#include <gloo/types.h>

namespace tsdist {
namespace {

constexpr uint8_t kPipelinedSlotPrefix = 0x42;  // above Gloo's prefixes and dist_addon.cc's 0x40, 0x41

template <typename T>
void combine(RingReduce op, T* __restrict d, const T* __restrict s, size_t n) {
  switch (op) {
    case RingReduce::Max: for (size_t i = 0; i < n; i++) d[i] = std::max(d[i], s[i]); break;
    case RingReduce::Min: for (size_t i = 0; i < n; i++) d[i] = std::min(d[i], s[i]); break;
    default: for (size_t i = 0; i < n; i++) d[i] += s[i];
  }
}

// The sum of the last reduce-scatter step of an average, divided as dist_addon.cc's Gloo path does
// (float32: times 1/N; float64: over N).
void combineAvg(float* __restrict d, const float* __restrict s, size_t n, int world) {
  const float inv = 1.0f / static_cast<float>(world);
  for (size_t i = 0; i < n; i++) d[i] = (d[i] + s[i]) * inv;
}
void combineAvg(double* __restrict d, const double* __restrict s, size_t n, int world) {
  for (size_t i = 0; i < n; i++) d[i] = (d[i] + s[i]) / world;
}

template <typename T>
void reduceSegment(RingReduce op, bool last, int world, void* dst, const void* src, size_t n) {
  T* d = static_cast<T*>(dst);
  const T* s = static_cast<const T*>(src);
  if constexpr (std::is_floating_point_v<T>) {
    if (op == RingReduce::Avg) {
      if (last) combineAvg(d, s, n, world);
      else combine<T>(RingReduce::Sum, d, s, n);
      return;
    }
  }
  combine<T>(op, d, s, n);
}

}  // namespace

void pipelinedAllReduce(gloo::Context& ctx, void* data, size_t count, RingDtype dtype, RingReduce op, uint32_t tag,
                        std::chrono::milliseconds timeout, const RingOptions& opt) {
  const int world = ctx.size, rank = ctx.rank;
  if (world <= 1 || count == 0) return;  // avg over one rank divides by 1
  if (op == RingReduce::Avg && dtype == RingDtype::Int32) throw std::runtime_error("avg of int32 is not supported; use sum");
  const size_t eb = dtype == RingDtype::Float64 ? 8 : 4;
  const size_t N = static_cast<size_t>(world);
  const size_t base = count / N, extra = count % N;
  auto chunkOffset = [&](size_t c) { return c * base + std::min(c, extra); };
  auto chunkCount = [&](size_t c) { return base + (c < extra ? 1 : 0); };
  const size_t maxChunk = chunkCount(0);
  size_t segE = std::min(maxChunk, std::max<size_t>(1, opt.segmentBytes / eb));
  const size_t S = (maxChunk + segE - 1) / segE;
  segE = (maxChunk + S - 1) / S;  // balanced: S segments of at most segE elements
  const size_t K = static_cast<size_t>(std::max(1, opt.depth));
  const size_t R = (N - 1) * S;  // reduce-scatter messages
  const size_t M = 2 * R;        // all messages
  const int next = (rank + 1) % world, prev = (rank + world - 1) % world;
  const uint64_t slot = gloo::Slot::build(kPipelinedSlotPrefix, tag);
  auto mod = [&](long long x) { return static_cast<size_t>(((x % world) + world) % world); };
  char* bytes = static_cast<char*>(data);

  // Message m: its segment's element range in the buffer, for the chunk sent or received.
  struct Range { size_t offset, length; };
  auto segment = [&](size_t chunk, size_t j) {
    const size_t c = chunkCount(chunk), start = j * segE;
    return Range{chunkOffset(chunk) + std::min(start, c), start >= c ? 0 : std::min(segE, c - start)};
  };
  auto sendRange = [&](size_t m) {
    const long long step = static_cast<long long>(m / S);
    const size_t chunk = m < R ? mod(rank - step) : mod(rank + 1 - (step - static_cast<long long>(N - 1)));
    return segment(chunk, m % S);
  };
  auto recvRange = [&](size_t m) {
    const long long step = static_cast<long long>(m / S);
    const size_t chunk = m < R ? mod(rank - step - 1) : mod(rank - (step - static_cast<long long>(N - 1)));
    return segment(chunk, m % S);
  };
  auto where = [&](size_t m) {
    const size_t step = m / S;
    return std::string(m < R ? "reduce-scatter step " + std::to_string(step + 1) : "all-gather step " + std::to_string(step - (N - 1) + 1)) +
           " of " + std::to_string(N - 1) + ", segment " + std::to_string(m % S + 1) + " of " + std::to_string(S);
  };

  std::vector<char> temp(K * segE * eb);
  auto whole = ctx.createUnboundBuffer(data, count * eb);
  auto tmp = ctx.createUnboundBuffer(temp.data(), temp.size());
  size_t posted = 0, sent = 0, done = 0;
  auto post = [&]() {
    // Receives in message order: the reduce-scatter's into a free temp segment, the all-gather's in place.
    for (; posted < M && (posted >= R || posted < done + K); posted++) {
      const Range g = recvRange(posted);
      if (posted < R) tmp->recv(prev, slot, (posted % K) * segE * eb, g.length * eb);
      else whole->recv(prev, slot, g.offset * eb, g.length * eb);
    }
    // Sends of message m once message m - S has been received (and reduced).
    for (; sent < M && sent < done + S; sent++) {
      const Range g = sendRange(sent);
      whole->send(next, slot, g.offset * eb, g.length * eb);
    }
  };
  bool sending = false;  // waiting for the sends' completions (after every receive)
  size_t m = 0;
  try {
    post();
    for (; done < M; m = done) {
      const bool inTemp = done < R;
      if (!(inTemp ? tmp->waitRecv(timeout) : whole->waitRecv(timeout))) throw std::runtime_error("the receive was aborted");
      if (inTemp) {
        const Range g = recvRange(done);
        const bool last = done / S == N - 2;
        void* dst = bytes + g.offset * eb;
        const void* src = temp.data() + (done % K) * segE * eb;
        switch (dtype) {
          case RingDtype::Float32: reduceSegment<float>(op, last, world, dst, src, g.length); break;
          case RingDtype::Float64: reduceSegment<double>(op, last, world, dst, src, g.length); break;
          default: reduceSegment<int32_t>(op, last, world, dst, src, g.length);
        }
      }
      done++;
      post();
    }
    sending = true;
    for (m = 0; m < M; m++) {
      if (!whole->waitSend(timeout)) throw std::runtime_error("the send was aborted");
    }
  } catch (const std::exception& e) {
    const std::string at = sending ? "sending message " + std::to_string(m + 1) + " of " + std::to_string(M) + " to rank " + std::to_string(next)
                                   : where(m) + " (from rank " + std::to_string(prev) + ", to rank " + std::to_string(next) + ")";
    throw std::runtime_error("pipelined ring, " + at + ": " + e.what());
  }
}

}  // namespace tsdist
