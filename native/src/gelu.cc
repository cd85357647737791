// Fused GELU, elementwise, 'none' (erf) or 'tanh' form: y = x Phi(x), and dx = dy gelu'(x), and
// their entry points geluForward and geluBackward. TypeScript binding: src/backends/native/gelu.ts.
// The loops (and the float32 erf/tanh approximations) are the active path's, from
// layer_norm_gelu_impl.h; a strided input is first copied to a contiguous buffer; outputs are
// contiguous; elements are split over the thread pool.
#include <vector>

#include "binding.h"
#include "dense.h"
#include "layer_norm_gelu_isa.h"
#include "threadpool.h"

namespace ts {
namespace {

constexpr long kGeluGrain = 32768;

int gelu_form(Call& c, size_t i) {
  if (!c.has(i)) c.fail("form must be 0 (erf) or 1 (tanh)");
  const int f = c.int32(i);
  if (f != 0 && f != 1) c.fail("form must be 0 (erf) or 1 (tanh), got " + std::to_string(f));
  return f;
}

}  // namespace

// ---- entry points (declared in binding.h; addon.cc exports them)

// geluForward(x, meta, form, y); meta = view x (any rank); y contiguous of x's dtype; form 0 erf, 1 tanh.
void GeluForward(Call& c) {
  c.meta(1);
  const ViewDesc x = c.float_view(0, "x");
  const int form = gelu_form(c, 2);
  const long n = view_numel(x);
  auto run = [&](auto zero) {
    using T = decltype(zero);
    T* y = static_cast<T*>(c.out(3, x.dtype, n, "y"));
    if (n == 0) return;
    std::vector<T> xb;
    const T* xp = dense<T>(x, xb);
    const LayerNormGeluTable* t = layer_norm_gelu_loops();
    parallel_for(n, kGeluGrain, [&](long i0, long i1) {
      if constexpr (sizeof(T) == 4) t->gelu_fwd_f32(xp + i0, y + i0, i1 - i0, form);
      else t->gelu_fwd_f64(xp + i0, y + i0, i1 - i0, form);
    });
  };
  if (x.dtype == DT_F32) run(0.0f); else run(0.0);
}

// geluBackward(dy, x, meta, form, dx); meta = views dy, x (one shape); dx contiguous of x's dtype.
void GeluBackward(Call& c) {
  c.meta(2);
  const ViewDesc dy = c.view(0, "dy");
  const ViewDesc x = c.float_view(1, "x");
  const int form = gelu_form(c, 3);
  if (dy.dtype != x.dtype) c.fail(std::string("dy must have x's dtype ") + dt_name(x.dtype) + ", got " + dt_name(dy.dtype));
  bool same = dy.ndim == x.ndim;
  for (int d = 0; same && d < x.ndim; d++) same = dy.shape[d] == x.shape[d];
  if (!same) c.fail("dy and x must have one shape");
  const long n = view_numel(x);
  auto run = [&](auto zero) {
    using T = decltype(zero);
    T* dx = static_cast<T*>(c.out(4, x.dtype, n, "dx"));
    if (n == 0) return;
    std::vector<T> xb, gb;
    const T* xp = dense<T>(x, xb);
    const T* gp = dense<T>(dy, gb);
    const LayerNormGeluTable* t = layer_norm_gelu_loops();
    parallel_for(n, kGeluGrain, [&](long i0, long i1) {
      if constexpr (sizeof(T) == 4) t->gelu_bwd_f32(gp + i0, xp + i0, dx + i0, i1 - i0, form);
      else t->gelu_bwd_f64(gp + i0, xp + i0, dx + i0, i1 - i0, form);
    });
  };
  if (x.dtype == DT_F32) run(0.0f); else run(0.0);
}

}  // namespace ts
