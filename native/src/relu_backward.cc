// ReLU's gradient in one pass (the fused threshold backward): dx = 0 where y <= 0, else dy, with
// y the ReLU's output (a NaN compares false, so the gradient passes there, as PyTorch's
// threshold_backward). Replaces the composed `where(le(y, 0), 0, dy)`: two kernels and a uint8
// mask per ReLU in the backward. Entry point reluBackward; TypeScript binding:
// src/backends/native/relu_backward.ts; gradient rule: src/autograd/grads/unary.ts (relu).
// Strided inputs are first copied to contiguous buffers; the output is contiguous; elements are
// split over the thread pool.
#include <vector>

#include "binding.h"
#include "dense.h"
#include "threadpool.h"

namespace ts {
namespace {

constexpr long kReluGrain = 65536;  // below this many elements the pool costs more than it gives

// A select, not a multiply: dy = inf or NaN where y <= 0 still gives 0 (as the composed where).
// Both operands are loaded unconditionally, so the compiler turns the select into a vector
// compare and mask (a conditional load of dy[i] stays a branch per element: ~50% mispredicted
// on a ReLU's mask, 4-5 ns per element).
template <class T>
void relu_backward_run(const T* dy, const T* y, T* dx, long n) {
  for (long i = 0; i < n; i++) {
    const T g = dy[i], v = y[i];
    dx[i] = v <= T(0) ? T(0) : g;
  }
}

// dx (argument 3, n elements of T) from dy and y, dense copies of strided views first.
template <class T>
void relu_backward_t(Call& c, const ViewDesc& dy, const ViewDesc& y, long n) {
  T* dx = static_cast<T*>(c.out(3, y.dtype, n, "dx"));
  if (n == 0) return;
  std::vector<T> yb, gb;
  const T* yp = dense<T>(y, yb);
  const T* gp = dense<T>(dy, gb);
  parallel_for(n, kReluGrain, [&](long i0, long i1) { relu_backward_run<T>(gp + i0, yp + i0, dx + i0, i1 - i0); });
}

}  // namespace

// ---- entry point (declared in binding.h; addon.cc exports it)

// reluBackward(dy, y, meta, dx); meta = views dy, y (one shape, one float dtype, any strides);
// dx contiguous of y's dtype, every element written.
void ReluBackward(Call& c) {
  c.meta(2);
  const ViewDesc dy = c.view(0, "dy");
  const ViewDesc y = c.float_view(1, "y");
  c.same_dtype(dy, y);
  c.same_shape(dy, y);
  const long n = view_numel(y);
  if (y.dtype == DT_F32) relu_backward_t<float>(c, dy, y, n);
  else relu_backward_t<double>(c, dy, y, n);
}

}  // namespace ts
