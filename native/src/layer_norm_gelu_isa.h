// The per-instruction-set loops of the fused LayerNorm (layer_norm.cc) and GELU (gelu.cc) kernels and
// of fused attention's float32 score rows (attention.cc) and the softmax cross-entropy's rows
// (softmax_cross_entropy.cc):
// argument blocks and the table each path fills (layer_norm_gelu_generic.cc, layer_norm_gelu_avx2.cc,
// layer_norm_gelu_avx512.cc, all from layer_norm_gelu_impl.h). No N-API here: the ISA translation
// units include it.
#pragma once

namespace ts {

// One LayerNorm forward job: rows [r0, r1) of x (R, D), last-dimension contiguous, row stride xrs.
// w, b: contiguous (D) or null. y: contiguous (R, D); mean, rstd: contiguous (R). Statistics are
// float64 totals of short sums in T lanes (layer_norm_gelu_impl.h); mean and rstd are stored rounded
// to T, and y is computed from the stored values, so backward sees exactly the forward's normalization.
template <class T> struct LnForwardArgs {
  const T* x; long xrs;
  const T* w; const T* b;
  T* y; T* mean; T* rstd;
  long D; double eps;
};

// One LayerNorm backward job over rows [r0, r1): dy and x last-dimension contiguous with row strides,
// mean/rstd contiguous (R), w contiguous (D) or null. dx: contiguous (R, D) or null. dw, db: float64
// partial sums (D) of this job's rows, accumulated into (null: not wanted).
template <class T> struct LnBackwardArgs {
  const T* dy; long dyrs;
  const T* x; long xrs;
  const T* w;
  const T* mean; const T* rstd;
  T* dx;
  long D;
};

// The loops one instruction-set path provides (all arrays contiguous).
struct LayerNormGeluTable {
  void (*ln_fwd_f32)(const LnForwardArgs<float>& a, long r0, long r1);
  void (*ln_fwd_f64)(const LnForwardArgs<double>& a, long r0, long r1);
  void (*ln_bwd_f32)(const LnBackwardArgs<float>& a, long r0, long r1, double* dw, double* db);
  void (*ln_bwd_f64)(const LnBackwardArgs<double>& a, long r0, long r1, double* dw, double* db);
  // y = gelu(x) over n elements; tanh != 0 selects the tanh approximation.
  void (*gelu_fwd_f32)(const float* x, float* y, long n, int tanh);
  void (*gelu_fwd_f64)(const double* x, double* y, long n, int tanh);
  // dx = dy * gelu'(x) over n elements.
  void (*gelu_bwd_f32)(const float* dy, const float* x, float* dx, long n, int tanh);
  void (*gelu_bwd_f64)(const double* dy, const double* x, double* dx, long n, int tanh);
  // Fused attention's float32 score rows (attention.cc; layer_norm_gelu_impl.h documents them): row r
  // of a (rows, nc) tile sees its first min(nc, lim0 + r * step) columns.
  void (*attn_fwd_rows_f32)(float* S, long rows, long nc, long lim0, long step, float scale, float* m, float* l, float* alpha);
  void (*attn_bwd_p_rows_f32)(float* P, long rows, long nc, long lim0, long step, float scale, const float* lse, long lseStride);
  void (*attn_bwd_ds_rows_f32)(float* dP, const float* P, long rows, long nc, float scale, const float* d);
  // One row of the fused softmax cross-entropy (softmax_cross_entropy.cc), float32 logits contiguous:
  // ex = row - max in float64 (returns the max); then the sum of exp(ex) and, with g, its gradient row.
  double (*sce_shift_f32)(const float* row, long c, double* ex);
  double (*sce_sum_grad_f32)(const double* ex, long c, long t, double scale, float* g);
};

const LayerNormGeluTable* layer_norm_gelu_generic();
const LayerNormGeluTable* layer_norm_gelu_avx2();    // nullptr when not compiled in
const LayerNormGeluTable* layer_norm_gelu_avx512();  // nullptr when not compiled in
// The table of the addon's active path (TENSORSLIM_CPU, setCpuPath), like the other kernels.
const LayerNormGeluTable* layer_norm_gelu_loops();

}  // namespace ts
