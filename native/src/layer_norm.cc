// Fused LayerNorm over the last dimension of x (R, D), with optional affine weight w (D) and bias
// b (D), forward and backward, and their entry points layerNormForward and layerNormBackward.
// TypeScript binding: src/backends/native/layer_norm.ts.
//   forward:  mean = sum_j x / D,  rstd = 1 / sqrt(sum_j (x - mean)^2 / D + eps)   (float64 totals
//             of short lane sums, layer_norm_gelu_impl.h),
//             y = (x - mean) rstd w + b; mean and rstd (R) are returned for backward.
//   backward: xh = (x - mean) rstd, g = dy w,
//             dx = rstd (g - mean_j g - xh mean_j (g xh)),  dw = sum_rows dy xh,  db = sum_rows dy,
//             all three from one pass over the rows (per row: the two row sums, then dx and the
//             dw / db terms). dw and db are summed per fixed block of rows (in x's dtype over tiles of
//             32 rows, then float64), then the blocks in order, so the result does not depend on the
//             thread count.
// Inputs may be any strided views (a row whose elements are not adjacent is first copied to a
// contiguous buffer); outputs are contiguous. The row loops are the active path's
// (layer_norm_gelu_impl.h); rows are split over the thread pool.
#include <algorithm>
#include <cmath>
#include <vector>

#include "binding.h"
#include "dense.h"
#include "layer_norm_gelu_isa.h"
#include "threadpool.h"

namespace ts {
namespace {

long row_grain(long D) { return D >= 16384 ? 1 : 16384 / (D > 0 ? D : 1); }

}  // namespace

// ---- entry points (declared in binding.h; addon.cc exports them)

// layerNormForward(x, w | null, b | null, meta, eps, y, mean, rstd); meta = views x (R, D), then w (D)
// and b (D) when given. y (R * D), mean (R), rstd (R): contiguous outputs of x's dtype.
void LayerNormForward(Call& c) {
  c.meta(3);
  const bool hasW = c.has(1), hasB = c.has(2);
  const ViewDesc x = c.float_view(0, "x");
  ViewDesc w{}, b{};
  if (hasW) w = c.view(1, "weight");
  if (hasB) b = c.view(2, "bias");
  if (x.ndim != 2) c.fail("x must be 2-D (rows, features), got rank " + std::to_string(x.ndim));
  const long R = x.shape[0], D = x.shape[1];
  for (const ViewDesc* p : {hasW ? &w : nullptr, hasB ? &b : nullptr}) {
    if (p == nullptr) continue;
    if (p->dtype != x.dtype) c.fail(std::string("weight and bias must have x's dtype ") + dt_name(x.dtype) + ", got " + dt_name(p->dtype));
    if (p->ndim != 1 || p->shape[0] != D) c.fail("weight and bias must have shape (" + std::to_string(D) + ",) to match x's last dimension");
  }
  const double eps = c.number(4, "eps");
  if (!(eps >= 0) || !std::isfinite(eps)) c.fail("eps must be finite and >= 0, got " + std::to_string(eps));
  auto run = [&](auto zero) {
    using T = decltype(zero);
    T* y = static_cast<T*>(c.out(5, x.dtype, R * D, "y"));
    T* mean = static_cast<T*>(c.out(6, x.dtype, R, "mean"));
    T* rstd = static_cast<T*>(c.out(7, x.dtype, R, "rstd"));
    if (R == 0) return;
    std::vector<T> xb, wb, bb;
    LnForwardArgs<T> a{};
    a.x = rows_of<T>(x, xb, &a.xrs);
    a.w = hasW ? dense<T>(w, wb) : nullptr;
    a.b = hasB ? dense<T>(b, bb) : nullptr;
    a.y = y; a.mean = mean; a.rstd = rstd; a.D = D; a.eps = eps;
    const LayerNormGeluTable* t = layer_norm_gelu_loops();
    parallel_for(R, row_grain(D), [&](long r0, long r1) {
      if constexpr (sizeof(T) == 4) t->ln_fwd_f32(a, r0, r1); else t->ln_fwd_f64(a, r0, r1);
    });
  };
  if (x.dtype == DT_F32) run(0.0f); else run(0.0);
}

// layerNormBackward(dy, x, w | null, mean, rstd, meta, dx | null, dw | null, db | null);
// meta = views dy (R, D), x (R, D), w (D) when given, mean (R), rstd (R).
void LayerNormBackward(Call& c) {
  c.meta(5);
  const bool hasW = c.has(2);
  const ViewDesc dy = c.view(0, "dy");
  const ViewDesc x = c.float_view(1, "x");
  ViewDesc w{};
  if (hasW) w = c.view(2, "weight");
  const ViewDesc mv = c.view(3, "mean");
  const ViewDesc rv = c.view(4, "rstd");
  if (x.ndim != 2) c.fail("x must be 2-D (rows, features), got rank " + std::to_string(x.ndim));
  const long R = x.shape[0], D = x.shape[1];
  for (const ViewDesc* p : std::initializer_list<const ViewDesc*>{&dy, &mv, &rv, hasW ? &w : nullptr}) {
    if (p != nullptr && p->dtype != x.dtype) c.fail(std::string("dy, weight, mean and rstd must have x's dtype ") + dt_name(x.dtype));
  }
  if (dy.ndim != 2 || dy.shape[0] != R || dy.shape[1] != D) c.fail("dy must have x's shape (" + std::to_string(R) + ", " + std::to_string(D) + ")");
  if (hasW && (w.ndim != 1 || w.shape[0] != D)) c.fail("weight must have shape (" + std::to_string(D) + ",)");
  if (mv.ndim != 1 || mv.shape[0] != R || rv.ndim != 1 || rv.shape[0] != R) c.fail("mean and rstd must have shape (" + std::to_string(R) + ",)");
  auto run = [&](auto zero) {
    using T = decltype(zero);
    T* dx = static_cast<T*>(c.out_opt(6, x.dtype, R * D, "dx"));
    T* dw = static_cast<T*>(c.out_opt(7, x.dtype, D, "dweight"));
    T* db = static_cast<T*>(c.out_opt(8, x.dtype, D, "dbias"));
    if (R == 0) {  // empty sums
      for (long j = 0; dw && j < D; j++) dw[j] = T(0);
      for (long j = 0; db && j < D; j++) db[j] = T(0);
      return;
    }
    std::vector<T> dyb, xb, wb, mb, rb;
    LnBackwardArgs<T> a{};
    a.dy = rows_of<T>(dy, dyb, &a.dyrs);
    a.x = rows_of<T>(x, xb, &a.xrs);
    a.w = hasW ? dense<T>(w, wb) : nullptr;
    a.mean = dense<T>(mv, mb);
    a.rstd = dense<T>(rv, rb);
    a.dx = dx;
    a.D = D;
    // fixed blocks of rows (independent of the thread count), each with its own float64 partials
    const long per = std::max((R + 127) / 128, row_grain(D));
    const long nblk = (R + per - 1) / per;
    std::vector<double> pw(dw ? size_t(nblk * D) : 0, 0.0), pb(db ? size_t(nblk * D) : 0, 0.0);
    const LayerNormGeluTable* t = layer_norm_gelu_loops();
    parallel_for(nblk, 1, [&](long b0, long b1) {
      for (long blk = b0; blk < b1; blk++) {
        const long r0 = blk * per, r1 = std::min(R, r0 + per);
        double* w_ = dw ? pw.data() + blk * D : nullptr;
        double* b_ = db ? pb.data() + blk * D : nullptr;
        if constexpr (sizeof(T) == 4) t->ln_bwd_f32(a, r0, r1, w_, b_); else t->ln_bwd_f64(a, r0, r1, w_, b_);
      }
    });
    for (long j = 0; dw && j < D; j++) { double s = 0; for (long q = 0; q < nblk; q++) s += pw[size_t(q * D + j)]; dw[j] = T(s); }
    for (long j = 0; db && j < D; j++) { double s = 0; for (long q = 0; q < nblk; q++) s += pb[size_t(q * D + j)]; db[j] = T(s); }
  };
  if (x.dtype == DT_F32) run(0.0f); else run(0.0);
}

}  // namespace ts
