// Our pipelined ring all-reduce on Gloo's transport (ring_allreduce.cc): Gloo's pairs and unbound
// buffers move the bytes, this file only orders them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include <gloo/context.h>

namespace tsdist {

enum class RingDtype { Float32, Float64, Int32 };
enum class RingReduce { Sum = 0, Avg = 1, Max = 2, Min = 3 };  // the binding's reduce codes

// The pipelining of one call (every rank must pass the same).
struct RingOptions {
  size_t segmentBytes = 512 << 10;  // the largest piece of a rank's chunk sent as one message
  int depth = 4;                    // segments received ahead into the temp ring (reduce-scatter)
};

// Reduces `count` elements at `data` across every rank of `ctx` in place: a ring reduce-scatter,
// then a ring all-gather, each rank's chunk cut into segments that flow through the ring one
// message each, several in flight (see ring_allreduce.cc). Avg divides in the last reduction step
// (float types only). Every rank must call it with the same count, dtype, op, tag and options.
// Throws std::runtime_error naming the step and segment on a transport error or a timeout.
void pipelinedAllReduce(gloo::Context& ctx, void* data, size_t count, RingDtype dtype, RingReduce op, uint32_t tag,
                        std::chrono::milliseconds timeout, const RingOptions& opt);

}  // namespace tsdist
