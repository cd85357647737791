// Fused softmax cross-entropy: rows of logits (N, C), any strides, and int32 targets -> per-row loss
// -log softmax[t] (float64), and optionally grad = (softmax - onehot(t)) * scale, in one pass; its
// entry point softmaxCrossEntropy. float32 logits with contiguous rows run their row loops on the
// active path (layer_norm_gelu_isa.h sce_shift_f32, sce_sum_grad_f32); the exp is the path's exp_f64. TypeScript binding: src/backends/native/softmax_cross_entropy.ts.
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "binding.h"
#include "common.h"
#include "layer_norm_gelu_isa.h"
#include "threadpool.h"

namespace ts {
namespace {

template <class T>
void softmax_cross_entropy_t(const ViewDesc& lg, const int32_t* target, long ts, double* loss, T* grad, double scale) {
  const long n = lg.shape[0], c = lg.shape[1], s0 = lg.strides[0], s1 = lg.strides[1];
  const T* base = static_cast<const T*>(lg.data) + lg.offset;
  const KernelTable* kt = active();
  const LayerNormGeluTable* rows = layer_norm_gelu_loops();
  parallel_for(n, c >= 4096 ? 1 : 1 + 4096 / (c + 1), [&](long b, long e) {
    // exp(z - max) of a row, in float64 on the path's vectorized exp, kept for the gradient:
    // softmax = e / sum (one exp per element)
    thread_local std::vector<double> ebuf;
    if (ebuf.size() < size_t(c)) ebuf.resize(size_t(c));
    for (long i = b; i < e; i++) {
      const T* row = base + i * s0;
      double* ex = ebuf.data();
      if constexpr (std::is_same_v<T, float>) {
        if (s1 == 1) {  // the active path's row loops (same arithmetic and order as below, vectorized)
          const double mx = rows->sce_shift_f32(row, c, ex);
          kt->exp_f64(ex, c);
          const long t = target[i * ts];
          const double zt = double(row[t]);  // read before the gradient row is written (it may be this row)
          const double sum = rows->sce_sum_grad_f32(ex, c, t, scale, grad != nullptr ? grad + i * c : nullptr);
          loss[i] = (mx + std::log(sum)) - zt;
          continue;
        }
      }
      for (long j = 0; j < c; j++) ex[j] = double(row[j * s1]);
      // row max (NaN wins) and the sum below in 8 independent lanes, so both vectorize
      const double ninf = -std::numeric_limits<double>::infinity();
      double lm[8] = {ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf};
      long j = 0;
      for (; j + 8 <= c; j += 8) for (int q = 0; q < 8; q++) { const double v = ex[j + q]; lm[q] = (v > lm[q] || v != v) ? v : lm[q]; }
      double mx = ninf;
      for (; j < c; j++) { const double v = ex[j]; if (v > mx || v != v) mx = v; }
      for (int q = 0; q < 8; q++) if (lm[q] > mx || lm[q] != lm[q]) mx = lm[q];
      for (long k = 0; k < c; k++) ex[k] -= mx;
      kt->exp_f64(ex, c);
      double ls[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (j = 0; j + 8 <= c; j += 8) for (int q = 0; q < 8; q++) ls[q] += ex[j + q];
      double sum = 0;
      for (; j < c; j++) sum += ex[j];
      sum += ((ls[0] + ls[1]) + (ls[2] + ls[3])) + ((ls[4] + ls[5]) + (ls[6] + ls[7]));
      const double lse = mx + std::log(sum);
      const long t = target[i * ts];
      loss[i] = lse - double(row[t * s1]);
      if (grad != nullptr) {
        T* g = grad + i * c;
        const double inv = 1.0 / sum;
        for (long j = 0; j < c; j++) g[j] = T((ex[j] * inv - (j == t ? 1.0 : 0.0)) * scale);
      }
    }
  });
}

void softmax_cross_entropy(const ViewDesc& logits, const int32_t* target, long ts, double* loss, void* grad, double scale) {
  if (logits.dtype == DT_F32) softmax_cross_entropy_t<float>(logits, target, ts, loss, static_cast<float*>(grad), scale);
  else softmax_cross_entropy_t<double>(logits, target, ts, loss, static_cast<double*>(grad), scale);
}

}  // namespace

// ---- entry points (declared in binding.h; addon.cc exports them)

// softmaxCrossEntropy(logits, target, meta, loss (Float64Array n), grad | null, scale)
// meta = view logits (2-D (N, C)), view target (1-D int32 (N,))
void SoftmaxCrossEntropy(Call& c) {
  c.meta(2);
  const ViewDesc lg = c.view(0, "logits"), tg = c.view(1, "target");
  c.need_float(lg);
  if (lg.ndim != 2) c.fail("logits must be 2-D (N, C)");
  if (tg.dtype != DT_I32 || tg.ndim != 1 || tg.shape[0] != lg.shape[0]) c.fail("target must be int32 of shape (N,)");
  const int32_t* t = static_cast<const int32_t*>(tg.data) + tg.offset;
  for (long i = 0; i < tg.shape[0]; i++) {
    const long k = t[i * tg.strides[0]];
    if (k < 0 || k >= lg.shape[1]) c.fail("target " + std::to_string(k) + " is out of range for " + std::to_string(lg.shape[1]) + " classes");
  }
  if (lg.shape[1] == 0 && lg.shape[0] > 0) c.fail("logits have zero classes");
  double* loss = static_cast<double*>(c.out(3, DT_F64, lg.shape[0]));
  void* grad = c.out_opt(4, lg.dtype, lg.shape[0] * lg.shape[1]);
  const double scale = c.number(5, "scale");
  softmax_cross_entropy(lg, t, tg.strides[0], loss, grad, scale);
}

}  // namespace ts
