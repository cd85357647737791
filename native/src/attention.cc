// Fused scaled-dot-product attention, flash style (Dao et al. 2022), on the addon's packed GEMM.
//
//   out = Pd V,  P = softmax(scale * Q K^T + mask),  Pd = P * Z (dropout multipliers),  per (b, h)
//   q (B, H, Tq, D), k (B, H, Tk, D), v (B, H, Tk, Dv), any strides; out (B, H, Tq, Dv) contiguous or
//   any strided destination (dq, dk, dv likewise), so a packed (B, T, 3, H, D) gradient and a merged
//   (B, T, H, D) output are written in place.
//
// Forward: for each block of Br query rows, sweep blocks of Bc keys keeping a running row max m, a
// running sum l and an unnormalized output accumulator (online softmax); so the (Tq, Tk) score
// matrix never exists, only one Br x Bc tile per thread. Saves lse = m + log l per row.
// Backward: per (b, h), for each key block and each query block that sees it, recompute
// P = exp(scale Q K^T - lse) and accumulate dV += Pd^T dO, dS = P * (dO V^T * Z - rowsum(dO * O)),
// dQ += scale dS K, dK += scale dS^T Q. Causal blocks above the diagonal are skipped entirely, and
// a block the diagonal crosses is computed by groups of 32 query rows, each over only the keys its
// rows can see (rounded up to 32): its fully masked upper-right corner is never computed.
//
// Causal mask: query i sees keys j <= i + (Tk - Tq) (aligned to the last key, for a KV cache).
// Dropout mask: keep(row, col) = mix32(mix32(seed ^ row) + col * 0x9e3779b9) >= p * 2^32 with
// row = (b H + h) Tq + i, col = j: the same as attentionKeep in src/ops/attention.ts.
//
// float32 score rows (scale, row max, exp, row sums, dS) run as one call per row group on the active
// path's vectorized loops (layer_norm_gelu_isa.h attn_fwd_rows_f32, attn_bwd_p_rows_f32,
// attn_bwd_ds_rows_f32, with the full-range exp_f32 of the elementwise exp kernel); float64 keeps the
// per-row loops below.
// Work items run on the addon's thread pool; each GEMM inside runs on its item's thread.
// TypeScript binding: src/backends/native/attention.ts.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "binding.h"
#include "common.h"
#include "gemm.h"
#include "layer_norm_gelu_isa.h"
#include "threadpool.h"


namespace ts {
namespace {

constexpr long kBr = 64;  // query rows per block (128 measured no faster at T = 128, D = 64)
constexpr long kBc = 64;  // keys per block
constexpr long kSub = 32;  // query rows per group of a block the causal diagonal crosses

// Keys of a block (j0, bc keys) that row r of a query block starting at i0 sees: bc without the
// causal mask, else at most bc and <= 0 when none (query i sees keys j <= i + off).
inline long visible(bool causal, long i0, long r, long off, long j0, long bc) {
  return causal ? std::min(bc, i0 + r + off - j0 + 1) : bc;
}

// The row groups a (br x bc) tile is computed by: the whole tile when every row sees all bc keys,
// else groups of kSub rows, each over the keys its last row sees rounded up to a multiple of 32 (the
// widths sgemm_direct takes; at most bc), so the fully masked part of a diagonal tile is never
// computed; groups that see no key are skipped. f(r0, rows, nc) for each group: rows r0 .. r0 +
// rows - 1 over keys j0 .. j0 + nc - 1.
template <class F> inline void for_row_groups(bool causal, long i0, long br, long off, long j0, long bc, F&& f) {
  if (visible(causal, i0, 0, off, j0, bc) >= bc) { f(0L, br, bc); return; }
  for (long r0 = 0; r0 < br; r0 += kSub) {
    const long rows = std::min(kSub, br - r0);
    const long lim = visible(causal, i0, r0 + rows - 1, off, j0, bc);
    if (lim > 0) f(r0, rows, std::min(bc, (lim + 31) / 32 * 32));
  }
}

struct Params {
  double scale;
  bool causal;
  double dropout;
  uint32_t seed;
  uint32_t threshold;  // drop when hash < threshold
};

inline uint32_t mix32(uint32_t x) {
  x ^= x >> 16; x *= 0x7feb352du;
  x ^= x >> 15; x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

template <class T> struct V4 { const T* p; long n[4]; long s[4]; };
// A writable 4-D destination (B, H, T, D) with any strides.
template <class T> struct W4 { T* p; long s[4]; };

// exp(row[c] * mul - sub) for c < n, float64 (libm: exact, for the float64 parity tests). float32
// rows run on the active path's loops instead (layer_norm_gelu_impl.h attn_*_rows_f32).
inline void exp_row(double* row, long n, double mul, double sub) {
  for (long c = 0; c < n; c++) row[c] = std::exp(row[c] * mul - sub);
}

// Sum of n values with 8 independent partial sums (vectorizes without -ffast-math).
template <class T> inline T lane_sum(const T* x, long n) {
  T l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  long j = 0;
  for (; j + 8 <= n; j += 8) for (int q = 0; q < 8; q++) l[q] += x[j + q];
  T s = T(0);
  for (; j < n; j++) s += x[j];
  return s + ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

// Dot product of two contiguous runs of n values, 8 independent partial sums (as lane_sum).
template <class T> inline T lane_dot(const T* x, const T* y, long n) {
  T l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  long j = 0;
  for (; j + 8 <= n; j += 8) for (int q = 0; q < 8; q++) l[q] += x[j + q] * y[j + q];
  T s = T(0);
  for (; j < n; j++) s += x[j] * y[j];
  return s + ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

// Copy a contiguous (rows x cols) block to a destination with row stride rs and column stride cs.
// Contiguous float rows are copied by 16-byte moves inline: a memmove call per row of 64 values (3
// blocks of 128 rows per (batch, head) in the backward) cost ~5% of the kernel.
template <class T> inline void put_block(const T* src, long rows, long cols, T* dst, long rs, long cs) {
  for (long r = 0; r < rows; r++) {
    T* d = dst + r * rs;
    const T* x = src + r * cols;
#if defined(__SSE2__)
    if constexpr (sizeof(T) == 4) {
      if (cs == 1) {
        const float* xs = reinterpret_cast<const float*>(x);
        float* ds = reinterpret_cast<float*>(d);
        long c = 0;
        for (; c + 4 <= cols; c += 4) _mm_storeu_ps(ds + c, _mm_loadu_ps(xs + c));
        for (; c < cols; c++) ds[c] = xs[c];
        continue;
      }
    }
#endif
    if (cs == 1) std::copy(x, x + cols, d);
    else for (long c = 0; c < cols; c++) d[c * cs] = x[c];
  }
}

// One tile product C (m x n, contiguous, row stride n) += A B with A(i, p) at a[i * sai + p * sap] and
// B(p, j) at b[p * sbk + j * sbn]. float32 runs straight from the operands when the path has the
// kernel and the layout fits (no packing: at 64 x 64 x 64 packing costs as much as the product);
// otherwise, and for float64, the packed GEMM.
inline void tile_gemm(long m, long n, long k, const float* a, long sai, long sap, const float* b, long sbk, long sbn, float* c) {
  if (sbn == 1 && sgemm_direct(m, n, k, a, sai, sap, b, sbk, c, n)) return;
  gemm_f32(GemmArgs{1, m, n, k, 0, sai, sap, 0, sbk, sbn}, a, b, c);
}
inline void tile_gemm(long m, long n, long k, const double* a, long sai, long sap, const double* b, long sbk, long sbn, double* c) {
  gemm_f64(GemmArgs{1, m, n, k, 0, sai, sap, 0, sbk, sbn}, a, b, c);
}

// dst (cols x rows, row stride ld) = the transpose of rows x cols of src (strides rs, cs): K^T and V^T
// of one (batch, head), so that the tile products read them row by row.
template <class T> inline void transpose_to(const T* src, long rows, long cols, long rs, long cs, T* dst, long ld) {
#if defined(__SSE2__)
  if constexpr (sizeof(T) == 4) {
    if (cs == 1) {  // float rows contiguous: 4 x 4 blocks through SSE registers, the edges below
      const float* s = reinterpret_cast<const float*>(src);
      float* d = reinterpret_cast<float*>(dst);
      const long r4 = rows / 4 * 4, c4 = cols / 4 * 4;
      for (long r = 0; r < r4; r += 4) {
        for (long c = 0; c < c4; c += 4) {
          __m128 a0 = _mm_loadu_ps(s + r * rs + c), a1 = _mm_loadu_ps(s + (r + 1) * rs + c);
          __m128 a2 = _mm_loadu_ps(s + (r + 2) * rs + c), a3 = _mm_loadu_ps(s + (r + 3) * rs + c);
          _MM_TRANSPOSE4_PS(a0, a1, a2, a3);
          _mm_storeu_ps(d + c * ld + r, a0);
          _mm_storeu_ps(d + (c + 1) * ld + r, a1);
          _mm_storeu_ps(d + (c + 2) * ld + r, a2);
          _mm_storeu_ps(d + (c + 3) * ld + r, a3);
        }
        for (long c = c4; c < cols; c++) for (long i = r; i < r + 4; i++) d[c * ld + i] = s[i * rs + c];
      }
      for (long r = r4; r < rows; r++) for (long c = 0; c < cols; c++) d[c * ld + r] = s[r * rs + c];
      return;
    }
  }
#endif
  for (long r0 = 0; r0 < rows; r0 += 16) {
    const long r1 = std::min(rows, r0 + 16);
    for (long c = 0; c < cols; c++) {
      T* d = dst + c * ld;
      for (long r = r0; r < r1; r++) d[r] = src[r * rs + c * cs];
    }
  }
}

// Dropout multipliers of one row segment: z[c] = keep(row, j0 + c) ? inv : 0.
template <class T>
inline void apply_dropout(T* row, long n, uint32_t rowHash, long j0, uint32_t thr, T inv) {
  for (long c = 0; c < n; c++) {
    const uint32_t h = mix32(rowHash + uint32_t(j0 + c) * 0x9e3779b9u);
    row[c] = h >= thr ? row[c] * inv : T(0);
  }
}

template <class T>
void forward(const V4<T>& q, const V4<T>& k, const V4<T>& v, const W4<T>& out, T* lse, const Params& pr) {
  const long B = q.n[0], H = q.n[1], Tq = q.n[2], D = q.n[3], Tk = k.n[2], Dv = v.n[3];
  const long off = Tk - Tq;
  const long nqb = (Tq + kBr - 1) / kBr;
  const T scale = T(pr.scale);
  const T inv = pr.dropout > 0 ? T(1.0 / (1.0 - pr.dropout)) : T(1);
  const T ninf = -std::numeric_limits<T>::infinity();
  // work items: (b, h) pairs, each sweeping its query blocks (K^T is built once per pair)
  const long kneed = pr.causal ? std::min(Tk, Tq + off) : Tk;  // keys any query of the pair sees
  const LayerNormGeluTable* rows_f32 = layer_norm_gelu_loops();  // float32 score rows (the active path's)
  parallel_for(B * H, 1, [&](long lo, long hi) {
    thread_local std::vector<T> sbuf, obuf, ktbuf;
    sbuf.resize(kBr * kBc);
    obuf.resize(size_t(kBr * Dv));
    ktbuf.resize(size_t(D * Tk));
    T m[kBr], l[kBr];
    for (long it = lo * nqb; it < hi * nqb; it++) {
      const long bh = it / nqb, qb = it % nqb, b = bh / H, h = bh % H;
      const long i0 = qb * kBr, br = std::min(kBr, Tq - i0);
      const T* Q = q.p + b * q.s[0] + h * q.s[1] + i0 * q.s[2];
      const T* K = k.p + b * k.s[0] + h * k.s[1];
      const T* V = v.p + b * v.s[0] + h * v.s[1];
      T* KT = ktbuf.data();  // (D, Tk)
      if (qb == 0) transpose_to(K, kneed, D, k.s[2], k.s[3], KT, Tk);
      T* O = obuf.data();
      std::fill(O, O + br * Dv, T(0));
      for (long r = 0; r < br; r++) { m[r] = ninf; l[r] = T(0); }
      const long kend = pr.causal ? std::min(Tk, i0 + br + off) : Tk;
      for (long j0 = 0; j0 < kend; j0 += kBc) {
        const long bc = std::min(kBc, kend - j0);
        for_row_groups(pr.causal, i0, br, off, j0, bc, [&](long r0, long rows, long nc) {
          T* S = sbuf.data() + r0 * bc;  // rows x nc, row stride nc
          std::fill(S, S + rows * nc, T(0));
          tile_gemm(rows, nc, D, Q + r0 * q.s[2], q.s[2], q.s[3], KT + j0, Tk, 1, S);
          if constexpr (std::is_same_v<T, float>) {  // the path's row loops (vectorized, one call per group)
            float alpha[kBr];
            rows_f32->attn_fwd_rows_f32(S, rows, nc, pr.causal ? i0 + r0 + off - j0 + 1 : bc, pr.causal ? 1 : 0, scale, m + r0, l + r0, alpha);
            for (long r = r0; r < r0 + rows; r++) {
              if (alpha[r - r0] != 1.0f) { float* o = O + r * Dv; const float a = alpha[r - r0]; for (long d = 0; d < Dv; d++) o[d] *= a; }
              if (pr.dropout > 0) {
                const long lim = std::min(nc, visible(pr.causal, i0, r, off, j0, bc));
                if (lim > 0) apply_dropout(S + (r - r0) * nc, lim, mix32(pr.seed ^ uint32_t(bh * Tq + i0 + r)), j0, pr.threshold, inv);
              }
            }
          } else for (long r = r0; r < r0 + rows; r++) {
            T* row = S + (r - r0) * nc;
            const long lim = std::min(nc, visible(pr.causal, i0, r, off, j0, bc));
            if (lim <= 0) { std::fill(row, row + nc, T(0)); continue; }
            T mx = ninf;
            for (long c = 0; c < lim; c++) row[c] *= scale;
            for (long c = 0; c < lim; c++) mx = row[c] > mx ? row[c] : mx;
            const T mnew = std::max(m[r], mx);
            const T alpha = std::exp(m[r] - mnew);  // 0 on the first block (m = -inf)
            exp_row(row, lim, T(1), mnew);
            const T sum = lane_sum(row, lim);
            std::fill(row + lim, row + nc, T(0));
            l[r] = l[r] * alpha + sum;
            m[r] = mnew;
            if (alpha != T(1)) { T* o = O + r * Dv; for (long d = 0; d < Dv; d++) o[d] *= alpha; }
            if (pr.dropout > 0) apply_dropout(row, lim, mix32(pr.seed ^ uint32_t(bh * Tq + i0 + r)), j0, pr.threshold, inv);
          }
          tile_gemm(rows, Dv, nc, S, nc, 1, V + j0 * v.s[2], v.s[2], v.s[3], O + r0 * Dv);
        });
      }
      for (long r = 0; r < br; r++) {
        const T il = T(1) / l[r];
        T* o = O + r * Dv;
        for (long d = 0; d < Dv; d++) o[d] *= il;
        lse[bh * Tq + i0 + r] = m[r] + std::log(l[r]);
      }
      put_block(O, br, Dv, out.p + b * out.s[0] + h * out.s[1] + i0 * out.s[2], out.s[2], out.s[3]);
    }
  });
}

template <class T>
void backward(const V4<T>& q, const V4<T>& k, const V4<T>& v, const V4<T>& o, const V4<T>& dO,
              const T* lse, const long lseS[3], const W4<T>& dq, const W4<T>& dk, const W4<T>& dv, const Params& pr) {
  const long B = q.n[0], H = q.n[1], Tq = q.n[2], D = q.n[3], Tk = k.n[2], Dv = v.n[3];
  const long off = Tk - Tq;
  const T scale = T(pr.scale);
  const T inv = pr.dropout > 0 ? T(1.0 / (1.0 - pr.dropout)) : T(1);
  const bool drop = pr.dropout > 0;
  const LayerNormGeluTable* rows_f32 = layer_norm_gelu_loops();  // float32 score rows (the active path's)
  parallel_for(B * H, 1, [&](long lo, long hi) {
    thread_local std::vector<T> pbuf, pdbuf, dpbuf, dvec, gq, gk, gv, ktbuf, vtbuf;
    pbuf.resize(kBr * kBc); dpbuf.resize(kBr * kBc);
    ktbuf.resize(size_t(D * Tk)); vtbuf.resize(size_t(Dv * Tk));
    gq.resize(size_t(Tq * D)); gk.resize(size_t(Tk * D)); gv.resize(size_t(Tk * Dv));
    if (drop) pdbuf.resize(kBr * kBc);
    dvec.resize(Tq);
    for (long bh = lo; bh < hi; bh++) {
      const long b = bh / H, h = bh % H;
      const T* Q = q.p + b * q.s[0] + h * q.s[1];
      const T* K = k.p + b * k.s[0] + h * k.s[1];
      const T* V = v.p + b * v.s[0] + h * v.s[1];
      const T* Op = o.p + b * o.s[0] + h * o.s[1];
      const T* DO = dO.p + b * dO.s[0] + h * dO.s[1];
      const T* L = lse + b * lseS[0] + h * lseS[1];
      T* dQ = gq.data();
      T* dK = gk.data();
      T* dV = gv.data();
      T* KT = ktbuf.data();  // (D, Tk)
      T* VT = vtbuf.data();  // (Dv, Tk)
      transpose_to(K, Tk, D, k.s[2], k.s[3], KT, Tk);
      transpose_to(V, Tk, Dv, v.s[2], v.s[3], VT, Tk);
      std::fill(dQ, dQ + Tq * D, T(0));
      std::fill(dK, dK + Tk * D, T(0));
      std::fill(dV, dV + Tk * Dv, T(0));
      for (long i = 0; i < Tq; i++) {  // rowsum(dO * O)
        if (dO.s[3] == 1 && o.s[3] == 1) { dvec[i] = lane_dot(DO + i * dO.s[2], Op + i * o.s[2], Dv); continue; }
        T s = T(0);
        for (long d = 0; d < Dv; d++) s += DO[i * dO.s[2] + d * dO.s[3]] * Op[i * o.s[2] + d * o.s[3]];
        dvec[i] = s;
      }
      for (long j0 = 0; j0 < Tk; j0 += kBc) {
        const long bc = std::min(kBc, Tk - j0);
        const long istart = pr.causal ? std::max(0L, j0 - off) : 0;
        for (long i0 = istart / kBr * kBr; i0 < Tq; i0 += kBr) {
          const long br = std::min(kBr, Tq - i0);
          // by row groups (for_row_groups): query rows qi .. qi + rows - 1 over keys j0 .. j0 + nc - 1
          for_row_groups(pr.causal, i0, br, off, j0, bc, [&](long r0, long rows, long nc) {
            const long qi = i0 + r0;
            T* P = pbuf.data();
            T* Pd = drop ? pdbuf.data() : P;
            T* dP = dpbuf.data();
            std::fill(P, P + rows * nc, T(0));
            tile_gemm(rows, nc, D, Q + qi * q.s[2], q.s[2], q.s[3], KT + j0, Tk, 1, P);
            if constexpr (std::is_same_v<T, float>) rows_f32->attn_bwd_p_rows_f32(P, rows, nc, pr.causal ? qi + off - j0 + 1 : bc, pr.causal ? 1 : 0, scale, L + qi * lseS[2], lseS[2]);
            for (long r = 0; r < rows; r++) {
              T* row = P + r * nc;
              const long lim = std::max(0L, std::min(nc, visible(pr.causal, qi, r, off, j0, bc)));
              if constexpr (!std::is_same_v<T, float>) {
                exp_row(row, lim, scale, L[(qi + r) * lseS[2]]);
                std::fill(row + lim, row + nc, T(0));
              }
              if (drop) {
                T* rd = Pd + r * nc;
                std::copy(row, row + nc, rd);
                apply_dropout(rd, lim, mix32(pr.seed ^ uint32_t(bh * Tq + qi + r)), j0, pr.threshold, inv);
              }
            }
            // dV_j += Pd^T dO_i
            tile_gemm(nc, Dv, rows, Pd, 1, nc, DO + qi * dO.s[2], dO.s[2], dO.s[3], dV + j0 * Dv);
            // dP = dO_i V_j^T
            std::fill(dP, dP + rows * nc, T(0));
            tile_gemm(rows, nc, Dv, DO + qi * dO.s[2], dO.s[2], dO.s[3], VT + j0, Tk, 1, dP);
            // dS = scale * P * (dP * Z - rowsum(dO * O)), in place of dP
            if constexpr (std::is_same_v<T, float>) if (!drop) rows_f32->attn_bwd_ds_rows_f32(dP, P, rows, nc, scale, dvec.data() + qi);
            for (long r = 0; r < rows && (drop || !std::is_same_v<T, float>); r++) {
              T* ds = dP + r * nc;
              const T* pr_ = P + r * nc;
              const T di = dvec[qi + r];
              if (drop) {  // the multiplier Z recomputed from the mask (Pd / P would be 0/0 where P underflows)
                const uint32_t rh = mix32(pr.seed ^ uint32_t(bh * Tq + qi + r));
                for (long c = 0; c < nc; c++) {
                  const T z = mix32(rh + uint32_t(j0 + c) * 0x9e3779b9u) >= pr.threshold ? inv : T(0);
                  ds[c] = scale * pr_[c] * (ds[c] * z - di);
                }
              } else {
                for (long c = 0; c < nc; c++) ds[c] = scale * pr_[c] * (ds[c] - di);
              }
            }
            // dQ_i += dS K_j ; dK_j += dS^T Q_i
            tile_gemm(rows, D, nc, dP, nc, 1, K + j0 * k.s[2], k.s[2], k.s[3], dQ + qi * D);
            tile_gemm(nc, D, rows, dP, 1, nc, Q + qi * q.s[2], q.s[2], q.s[3], dK + j0 * D);
          });
        }
      }
      put_block(dQ, Tq, D, dq.p + b * dq.s[0] + h * dq.s[1], dq.s[2], dq.s[3]);
      put_block(dK, Tk, D, dk.p + b * dk.s[0] + h * dk.s[1], dk.s[2], dk.s[3]);
      put_block(dV, Tk, Dv, dv.p + b * dv.s[0] + h * dv.s[1], dv.s[2], dv.s[3]);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Entry points: arguments read and checked by the binding layer (binding.h).

template <class T>
V4<T> as_v4(const ViewDesc& d) {
  V4<T> v{};
  v.p = static_cast<const T*>(d.data) + d.offset;
  for (int i = 0; i < 4; i++) { v.n[i] = d.shape[i]; v.s[i] = d.strides[i]; }
  return v;
}

// A 4-D float view of q's dtype (`dt`).
ViewDesc view4(Call& c, size_t i, const char* name, int dt) {
  const ViewDesc v = c.view_rank(i, name, 4, "4-D");
  if (v.dtype != dt) c.fail(std::string(name) + " must have q's dtype " + dt_name(dt) + ", got " + dt_name(v.dtype));
  return v;
}

Params read_params(Call& c, size_t i) {
  size_t n = 0;
  const double* a = c.f64(i, "params [scale, causal, dropout, seed]", 4, &n);
  Params p{};
  p.scale = a[0];
  p.causal = a[1] != 0;
  p.dropout = a[2];
  if (!(p.dropout >= 0 && p.dropout < 1)) c.fail("dropout must be in [0, 1)");
  if (!(a[3] >= 0 && a[3] <= 4294967295.0) || a[3] != std::floor(a[3])) c.fail("seed must be a uint32");
  p.seed = uint32_t(a[3]);
  p.threshold = uint32_t(std::min(std::floor(p.dropout * 4294967296.0), 4294967295.0));
  if (!std::isfinite(p.scale)) c.fail("scale must be finite");
  return p;
}

// A (B, H, T, D) destination of shape `want`: the next 4-D view in meta (any strides, checked to lie
// inside its array; a fresh output travels as a contiguous view).
template <class T>
W4<T> dest(Call& c, size_t i, int dt, const long want[4], const char* name) {
  W4<T> w{};
  const ViewDesc v = view4(c, i, name, dt);
  for (int d = 0; d < 4; d++) if (v.shape[d] != want[d]) c.fail(std::string(name) + ": the destination view has the wrong shape " + shape_str(v));
  w.p = static_cast<T*>(v.data) + v.offset;
  for (int d = 0; d < 4; d++) w.s[d] = v.strides[d];
  return w;
}

template <class T>
void check_qkv(Call& c, const V4<T>& q, const V4<T>& kk, const V4<T>& v, const Params& p) {
  if (kk.n[0] != q.n[0] || kk.n[1] != q.n[1] || kk.n[3] != q.n[3]) c.fail("k must match q in batch, heads and headDim");
  if (v.n[0] != q.n[0] || v.n[1] != q.n[1] || v.n[2] != kk.n[2]) c.fail("v must match k in batch, heads and length");
  if (kk.n[2] < 1) c.fail("at least one key is needed");
  if (p.causal && q.n[2] > kk.n[2]) c.fail("causal attention needs at least as many keys as queries");
}

}  // namespace

// ---- entry points (declared in binding.h; addon.cc exports them)

// attentionForward(q, k, v, meta, params, out, lse); meta = views q, k, v, out (4-D each; out (B, H,
// Tq, Dv) any strided destination inside its array)
void AttentionForward(Call& c) {
  c.meta(3);
  const ViewDesc dq = c.float_view(0, "q");
  const ViewDesc dk = view4(c, 1, "k", dq.dtype), dv = view4(c, 2, "v", dq.dtype);
  if (dq.ndim != 4) c.fail("q must be 4-D, got " + shape_str(dq));
  const Params p = read_params(c, 4);
  auto run = [&](auto zero) {
    using T = decltype(zero);
    const V4<T> q = as_v4<T>(dq), kk = as_v4<T>(dk), v = as_v4<T>(dv);
    check_qkv(c, q, kk, v, p);
    const long rows = q.n[0] * q.n[1] * q.n[2];
    const long oshape[4] = {q.n[0], q.n[1], q.n[2], v.n[3]};
    const W4<T> out = dest<T>(c, 5, dq.dtype, oshape, "out");
    T* lse = static_cast<T*>(c.out(6, dq.dtype, rows, "lse"));
    if (rows > 0) forward<T>(q, kk, v, out, lse, p);
  };
  if (dq.dtype == DT_F32) run(0.0f); else run(0.0);
}

// attentionBackward(q, k, v, out, dOut, lse, meta, params, dq, dk, dv); meta = views q, k, v, out, dOut (4-D),
// lse (3-D), then the views of dq, dk and dv (4-D, any strided destinations inside their arrays)
void AttentionBackward(Call& c) {
  c.meta(6);
  const ViewDesc vq = c.float_view(0, "q");
  if (vq.ndim != 4) c.fail("q must be 4-D, got " + shape_str(vq));
  const int dt = vq.dtype;
  const ViewDesc vk = view4(c, 1, "k", dt), vv = view4(c, 2, "v", dt), vo = view4(c, 3, "out", dt), vdo = view4(c, 4, "dOut", dt);
  const ViewDesc vl = c.view_rank(5, "lse", 3, "3-D (B, H, Tq)");
  if (vl.dtype != dt) c.fail(std::string("lse must have q's dtype ") + dt_name(dt));
  const Params p = read_params(c, 7);
  auto run = [&](auto zero) {
    using T = decltype(zero);
    const V4<T> q = as_v4<T>(vq), kk = as_v4<T>(vk), v = as_v4<T>(vv), o = as_v4<T>(vo), dO = as_v4<T>(vdo);
    check_qkv(c, q, kk, v, p);
    for (int d = 0; d < 4; d++) {
      const long want = d == 3 ? v.n[3] : q.n[d];
      if (o.n[d] != want || dO.n[d] != want) c.fail("out and dOut must have shape (B, H, Tq, Dv)");
    }
    if (vl.shape[0] != q.n[0] || vl.shape[1] != q.n[1] || vl.shape[2] != q.n[2]) c.fail("lse must have shape (B, H, Tq)");
    const W4<T> dq = dest<T>(c, 8, dt, q.n, "dq");
    const W4<T> dk = dest<T>(c, 9, dt, kk.n, "dk");
    const W4<T> dv = dest<T>(c, 10, dt, v.n, "dv");
    if (q.n[0] * q.n[1] > 0) backward<T>(q, kk, v, o, dO, static_cast<const T*>(vl.data) + vl.offset, vl.strides, dq, dk, dv, p);
  };
  if (dt == DT_F32) run(0.0f); else run(0.0);
}

}  // namespace ts
