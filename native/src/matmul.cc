// The batched matrix product entry point: (B, M, K) @ (B, K, N) of one float dtype, any strides, on
// the packed GEMM of gemm.cc (transposed operands are packed, not copied).
#include "binding.h"
#include "gemm.h"

namespace ts {
namespace {

// (B, M, K) @ (B, K, N) of one float dtype.
GemmArgs gemm_args(Call& c, const ViewDesc& a, const ViewDesc& b) {
  if (a.ndim != 3 || b.ndim != 3) c.fail("operands must be 3-D (B, M, K) and (B, K, N)");
  c.same_dtype(a, b);
  c.need_float(a);
  if (a.shape[0] != b.shape[0] || a.shape[2] != b.shape[1]) c.fail("shapes do not line up: " + shape_str(a) + " @ " + shape_str(b));
  return GemmArgs{a.shape[0], a.shape[1], b.shape[2], a.shape[2], a.strides[0], a.strides[1], a.strides[2],
                  b.strides[0], b.strides[1], b.strides[2]};
}

void run_gemm(const GemmArgs& g, const ViewDesc& a, const ViewDesc& b, void* out) {
  if (a.dtype == DT_F32) gemm_f32(g, static_cast<const float*>(a.data) + a.offset, static_cast<const float*>(b.data) + b.offset, static_cast<float*>(out));
  else gemm_f64(g, static_cast<const double*>(a.data) + a.offset, static_cast<const double*>(b.data) + b.offset, static_cast<double*>(out));
}

}  // namespace

// ---- entry points (declared in binding.h; addon.cc exports them)

// matmul(a, b, meta, out, overwrite?): out (B, M, N) contiguous; out = a @ b when `overwrite` (out
// may be uninitialized storage), else out += a @ b (out zero-filled by the caller, or a sum to add to)
void Matmul(Call& c) {
  c.meta(2);
  const ViewDesc a = c.view(0, "a"), b = c.view(1, "b");
  GemmArgs g = gemm_args(c, a, b);
  g.overwrite = c.has(4) && c.flag(4);
  run_gemm(g, a, b, c.out(3, a.dtype, g.batch * g.m * g.n));
}

}  // namespace ts
