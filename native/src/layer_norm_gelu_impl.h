// Portable C++ bodies of the fused LayerNorm and GELU loops (layer_norm.cc and gelu.cc drive them).
// Included once per instruction-set translation unit (layer_norm_gelu_generic.cc: baseline x86-64;
// layer_norm_gelu_avx2.cc, layer_norm_gelu_avx512.cc: their -m flags), so the compiler vectorizes the
// same loops for each path. Everything has internal linkage inside TS_LNG_NS (a function compiled for AVX-512 must never be
// merged into the portable path); no std:: templates for the same reason.
//
// float32 GELU uses branch-free approximations that vectorize (no libm calls in the loop):
//   exp: Cephes expf (range reduction by ln 2 in two parts, degree-6 polynomial, 2^n from the
//        exponent bits), relative error ~1 ulp on [-87, 88] (clamped outside);
//   erf: the rational approximation Eigen and XLA use for float (x P(x^2) / Q(x^2), x clamped to
//        [-4, 4]), absolute error a few 1e-7;
//   tanh: 1 - 2 / (exp(2|u|) + 1) written as (1 - e) / (1 + e) with e = exp(-2|u|), absolute error
//        ~1e-7 (GELU needs 1 + tanh to absolute precision, not tanh to relative precision); the
//        backward takes 1 - tanh^2 as 4 e / (1 + e)^2, free of cancellation.
// float64 uses libm (erf, exp, tanh), so float64 results are exact to a few ulps for the parity tests.
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "layer_norm_gelu_isa.h"

namespace ts { namespace TS_LNG_NS { namespace {

constexpr double kSqrt1_2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1 / sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588; // sqrt(2 / pi)
constexpr double kGeluC = 0.044715;

#include "exp_f32.h"  // exp_f32_clamped, with internal linkage in this namespace
inline float v_exp(float x) { return exp_f32_clamped(x); }

inline float v_erf(float a) {
  const float x = a < -4.0f ? -4.0f : (a > 4.0f ? 4.0f : a);
  const float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  float q = -1.45660718464996e-05f;
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return x * p / q;
}

inline float v_tanh(float u) {
  const float a = u < 0 ? -u : u;
  const float e = v_exp(-2.0f * a);
  const float t = (1.0f - e) / (1.0f + e);
  return u < 0 ? -t : t;
}

// ---- GELU ----

void gelu_fwd_f32(const float* x, float* y, long n, int tanhForm) {
  if (tanhForm) {
    const float k = float(kSqrt2OverPi), c = float(kGeluC);
    for (long i = 0; i < n; i++) {
      const float v = x[i];
      const float t = v_tanh(k * (v + c * v * v * v));
      y[i] = 0.5f * v * (1.0f + t);
    }
  } else {
    const float s = float(kSqrt1_2);
    for (long i = 0; i < n; i++) {
      const float v = x[i];
      y[i] = 0.5f * v * (1.0f + v_erf(v * s));
    }
  }
}

void gelu_fwd_f64(const double* x, double* y, long n, int tanhForm) {
  if (tanhForm) {
    for (long i = 0; i < n; i++) {
      const double v = x[i];
      y[i] = 0.5 * v * (1.0 + tanh(kSqrt2OverPi * (v + kGeluC * v * v * v)));
    }
  } else {
    for (long i = 0; i < n; i++) { const double v = x[i]; y[i] = 0.5 * v * (1.0 + erf(v * kSqrt1_2)); }
  }
}

// gelu'(x) = Phi(x) + x phi(x) (erf form);
// 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2) with t = tanh(k (x + c x^3)) (tanh form).
void gelu_bwd_f32(const float* dy, const float* x, float* dx, long n, int tanhForm) {
  if (tanhForm) {
    const float k = float(kSqrt2OverPi), c = float(kGeluC);
    for (long i = 0; i < n; i++) {
      const float v = x[i], v2 = v * v;
      const float u = k * (v + c * v2 * v);
      // t = tanh(u) and 1 - t^2 = 4 e / (1 + e)^2 from e = exp(-2|u|): no cancellation near |t| = 1
      const float e = v_exp(-2.0f * (u < 0 ? -u : u));
      const float inv = 1.0f / (1.0f + e);
      const float ta = (1.0f - e) * inv;
      const float t = u < 0 ? -ta : ta;
      const float sech2 = 4.0f * e * inv * inv;
      const float d = 0.5f * (1.0f + t) + 0.5f * v * sech2 * k * (1.0f + 3.0f * c * v2);
      dx[i] = dy[i] * d;
    }
  } else {
    const float s = float(kSqrt1_2), ip = float(kInvSqrt2Pi);
    for (long i = 0; i < n; i++) {
      const float v = x[i];
      const float cdf = 0.5f * (1.0f + v_erf(v * s));
      const float pdf = v_exp(-0.5f * v * v) * ip;
      dx[i] = dy[i] * (cdf + v * pdf);
    }
  }
}

void gelu_bwd_f64(const double* dy, const double* x, double* dx, long n, int tanhForm) {
  if (tanhForm) {
    for (long i = 0; i < n; i++) {
      const double v = x[i], v2 = v * v;
      const double t = tanh(kSqrt2OverPi * (v + kGeluC * v2 * v));
      dx[i] = dy[i] * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * kSqrt2OverPi * (1.0 + 3.0 * kGeluC * v2));
    }
  } else {
    for (long i = 0; i < n; i++) {
      const double v = x[i];
      dx[i] = dy[i] * (0.5 * (1.0 + erf(v * kSqrt1_2)) + v * exp(-0.5 * v * v) * kInvSqrt2Pi);
    }
  }
}

// ---- attention score rows (attention.cc, float32) ----
// Row r of a tile of `rows` rows (row stride nc) sees the first lim(r) = min(nc, lim0 + r * step)
// columns (<= 0: none); the rest of the row is set to 0. exp is the full-range exp_f32 (the same
// function the elementwise exp kernel runs on this path), and row sums are taken in 8 partial sums in
// the order attention.cc's lane_sum uses, so these rows equal the per-row loops they replace.

inline long attn_lim(long nc, long lim0, long step, long r) {
  const long v = lim0 + r * step;
  return v < nc ? v : nc;
}

inline float attn_sum8(const float* x, long n) {
  float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  long j = 0;
  for (; j + 8 <= n; j += 8) for (int q = 0; q < 8; q++) l[q] += x[j + q];
  float s = 0.0f;
  for (; j < n; j++) s += x[j];
  return s + ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

// Largest of n values (NaN never wins, as `v > mx ? v : mx` in one pass), in 16 independent lanes
// so that it vectorizes (a single running max is a reduction GCC keeps scalar without -ffast-math).
inline float attn_max16(const float* x, long n) {
  const float ninf = -__builtin_inff();
  float l[16];
  for (int q = 0; q < 16; q++) l[q] = ninf;
  long j = 0;
  for (; j + 16 <= n; j += 16) for (int q = 0; q < 16; q++) l[q] = x[j + q] > l[q] ? x[j + q] : l[q];
  float mx = ninf;
  for (; j < n; j++) mx = x[j] > mx ? x[j] : mx;
  for (int q = 0; q < 16; q++) mx = l[q] > mx ? l[q] : mx;
  return mx;
}

// Online-softmax step of the forward: with x = S * scale on the visible columns, mnew = max(m[r],
// max x), alpha[r] = exp(m[r] - mnew) (libm expf, 0 when m[r] = -inf), S = exp(x - mnew), then
// l[r] = l[r] alpha[r] + sum, m[r] = mnew. A row that sees no column: zeros, alpha[r] = 1, m and l kept.
void attn_fwd_rows_f32(float* S, long rows, long nc, long lim0, long step, float scale, float* m, float* l, float* alpha) {
  for (long r = 0; r < rows; r++) {
    float* row = S + r * nc;
    const long lim = attn_lim(nc, lim0, step, r);
    if (lim <= 0) { for (long c = 0; c < nc; c++) row[c] = 0.0f; alpha[r] = 1.0f; continue; }
    for (long c = 0; c < lim; c++) row[c] *= scale;
    const float mx = attn_max16(row, lim);
    const float mnew = m[r] > mx ? m[r] : mx;
    const float a = expf(m[r] - mnew);
    for (long c = 0; c < lim; c++) row[c] = exp_f32(row[c] - mnew);
    const float sum = attn_sum8(row, lim);
    for (long c = lim; c < nc; c++) row[c] = 0.0f;
    l[r] = l[r] * a + sum;
    m[r] = mnew;
    alpha[r] = a;
  }
}

// The backward's probabilities: P = exp(S * scale - lse[r * ls]) on the visible columns, 0 beyond.
void attn_bwd_p_rows_f32(float* P, long rows, long nc, long lim0, long step, float scale, const float* lse, long ls) {
  for (long r = 0; r < rows; r++) {
    float* row = P + r * nc;
    const long lim = attn_lim(nc, lim0, step, r);
    const long k = lim > 0 ? lim : 0;
    const float lr = lse[r * ls];
    for (long c = 0; c < k; c++) row[c] = exp_f32(row[c] * scale - lr);
    for (long c = k; c < nc; c++) row[c] = 0.0f;
  }
}

// dS = scale * P * (dP - d[r]), in place of dP (no dropout).
void attn_bwd_ds_rows_f32(float* dP, const float* P, long rows, long nc, float scale, const float* d) {
  for (long r = 0; r < rows; r++) {
    float* ds = dP + r * nc;
    const float* p = P + r * nc;
    const float di = d[r];
    for (long c = 0; c < nc; c++) ds[c] = scale * p[c] * (ds[c] - di);
  }
}

// ---- softmax cross-entropy rows (softmax_cross_entropy.cc, float32 logits, contiguous rows) ----
// Same arithmetic, in the same order, as the kernel's generic row loops, compiled for this path
// (bit for bit on rows without NaN).

// ex = the row in float64 minus its max; returns the max (8 lanes then the tail). A NaN is skipped by
// the max here (the generic loop lets it win): either way its row's ex, sum, loss and gradient are all
// NaN, and the branch-free select vectorizes where `v > m || v != v` compiled to scalar branches.
double sce_shift_f32(const float* row, long c, double* ex) {
  const double ninf = -__builtin_inf();
  double lm[8] = {ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf};
  long j = 0;
  for (; j + 8 <= c; j += 8) for (int q = 0; q < 8; q++) { const double v = double(row[j + q]); ex[j + q] = v; lm[q] = v > lm[q] ? v : lm[q]; }
  double mx = ninf;
  for (; j < c; j++) { const double v = double(row[j]); ex[j] = v; mx = v > mx ? v : mx; }
  for (int q = 0; q < 8; q++) mx = lm[q] > mx ? lm[q] : mx;
  for (long k = 0; k < c; k++) ex[k] -= mx;
  return mx;
}

// The sum of ex (8 partial sums); with g, also g = float((ex / sum - onehot(t)) * scale).
double sce_sum_grad_f32(const double* ex, long c, long t, double scale, float* g) {
  double ls[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  long j = 0;
  for (; j + 8 <= c; j += 8) for (int q = 0; q < 8; q++) ls[q] += ex[j + q];
  double sum = 0;
  for (; j < c; j++) sum += ex[j];
  sum += ((ls[0] + ls[1]) + (ls[2] + ls[3])) + ((ls[4] + ls[5]) + (ls[6] + ls[7]));
  if (g != nullptr) {
    const double inv = 1.0 / sum;
    for (long k = 0; k < c; k++) g[k] = float((ex[k] * inv - 0.0) * scale);
    g[t] = float((ex[t] * inv - 1.0) * scale);
  }
  return sum;
}

// ---- LayerNorm ----
//
// Row sums run on GCC vector types of 64 bytes (16 float or 8 double lanes; on the AVX2 and baseline
// paths the compiler splits them into ymm / xmm operations) over chunks of kChunk values, each
// chunk's lanes then added pairwise into a float64 total, so each float lane sums at most
// kChunk / 16 = 16 values before it reaches float64. Plain loops over arrays of lanes did not
// vectorize: float64 lanes fed from float values compiled to scalar conversions, and fixed 16-wide
// inner loops were unrolled into shuffles (the backward's two row sums were two thirds of its time).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"  // 64-byte vectors on paths without AVX-512: all inlined here

constexpr long kChunk = 256;

template <class T> struct Lanes;
template <> struct Lanes<float> { typedef float V __attribute__((vector_size(64))); static constexpr int n = 16; };
template <> struct Lanes<double> { typedef double V __attribute__((vector_size(64))); static constexpr int n = 8; };
template <class T> inline typename Lanes<T>::V vload(const T* p) { typename Lanes<T>::V v; memcpy(&v, p, sizeof v); return v; }

// the lanes' total in float64, added pairwise
template <class T> inline double vtotal(const typename Lanes<T>::V& v) {
  double a[Lanes<T>::n];
  for (int q = 0; q < Lanes<T>::n; q++) a[q] = double(v[q]);
  for (int h = Lanes<T>::n / 2; h > 0; h /= 2) for (int q = 0; q < h; q++) a[q] += a[q + h];
  return a[0];
}

// sum_j x[j] and sum_j (x[j] - m)^2 (m given as T) in float64 totals.
template <class T> inline double row_sum(const T* x, long n) {
  typedef typename Lanes<T>::V V;
  constexpr long nl = Lanes<T>::n;
  double s = 0;
  long j = 0;
  while (j + nl <= n) {
    const long j1 = j + kChunk <= n ? j + kChunk : n;
    V l = {};
    for (; j + nl <= j1; j += nl) l += vload(x + j);
    s += vtotal<T>(l);
  }
  for (; j < n; j++) s += double(x[j]);
  return s;
}

template <class T> inline double row_sq_dev(const T* x, long n, T m) {
  typedef typename Lanes<T>::V V;
  constexpr long nl = Lanes<T>::n;
  const V vm = m - V{};
  double s = 0;
  long j = 0;
  while (j + nl <= n) {
    const long j1 = j + kChunk <= n ? j + kChunk : n;
    V l = {};
    for (; j + nl <= j1; j += nl) { const V d = vload(x + j) - vm; l += d * d; }
    s += vtotal<T>(l);
  }
  for (; j < n; j++) { const double d = double(x[j] - m); s += d * d; }
  return s;
}

// The variance is taken around the mean rounded to T (the value stored and used for y), so the
// deviations are exact differences of T values.
template <class T> void ln_fwd(const LnForwardArgs<T>& a, long r0, long r1) {
  const long D = a.D;
  const T* w = a.w;
  const T* b = a.b;
  for (long r = r0; r < r1; r++) {
    const T* x = a.x + r * a.xrs;
    T* y = a.y + r * D;
    const T m = T(row_sum(x, D) / double(D));
    const double var = row_sq_dev(x, D, m) / double(D);
    const T rs = T(1.0 / sqrt(var + a.eps));
    a.mean[r] = m;
    a.rstd[r] = rs;
    if (w && b) for (long j = 0; j < D; j++) y[j] = (x[j] - m) * rs * w[j] + b[j];
    else if (w) for (long j = 0; j < D; j++) y[j] = (x[j] - m) * rs * w[j];
    else if (b) for (long j = 0; j < D; j++) y[j] = (x[j] - m) * rs + b[j];
    else for (long j = 0; j < D; j++) y[j] = (x[j] - m) * rs;
  }
}

// sum_j g[j] and sum_j g[j] xh[j] of one row, g = dy w (w null: g = dy), xh = (x - m) rs.
template <class T, bool kW> inline void row_grad_sums(const T* dy, const T* x, const T* w, T m, T rs, long D, double& s1, double& s2) {
  typedef typename Lanes<T>::V V;
  constexpr long n = Lanes<T>::n;
  s1 = 0; s2 = 0;
  long j = 0;
  while (j + n <= D) {
    const long j1 = j + kChunk <= D ? j + kChunk : D;
    V l1 = {}, l2 = {};
    const V vm = m - V{}, vrs = rs + V{};
    for (; j + n <= j1; j += n) {
      const V g = kW ? vload(dy + j) * vload(w + j) : vload(dy + j);
      l1 += g;
      l2 += g * ((vload(x + j) - vm) * vrs);
    }
    s1 += vtotal<T>(l1);
    s2 += vtotal<T>(l2);
  }
  for (; j < D; j++) { const T g = kW ? dy[j] * w[j] : dy[j]; s1 += double(g); s2 += double(g * ((x[j] - m) * rs)); }
}

// xh = (x - mean) rstd, g = dy w:
//   dx = rstd (g - mean_j(g) - xh mean_j(g xh)),  dw += dy xh,  db += dy,
// per row: one pass for the two sums, one pass writing dx and adding into the dw / db partials dwa,
// dba (of type Acc; null: not wanted).
template <class T, bool kW, class Acc> void ln_bwd_rows(const LnBackwardArgs<T>& a, long r0, long r1, Acc* dwa, Acc* dba) {
  const long D = a.D;
  const T* w = a.w;
  for (long r = r0; r < r1; r++) {
    const T* x = a.x + r * a.xrs;
    const T* dy = a.dy + r * a.dyrs;
    const T m = a.mean[r], rs = a.rstd[r];
    if (a.dx) {
      double s1, s2;
      row_grad_sums<T, kW>(dy, x, w, m, rs, D, s1, s2);
      const T c1 = T(s1 / double(D)), c2 = T(s2 / double(D));
      T* dx = a.dx + r * D;
      if (dwa && dba) {
        for (long k = 0; k < D; k++) {
          const T xh = (x[k] - m) * rs, d = dy[k];
          dx[k] = rs * ((kW ? d * w[k] : d) - c1 - xh * c2);
          dwa[k] += Acc(d * xh);
          dba[k] += Acc(d);
        }
        continue;
      }
      for (long k = 0; k < D; k++) dx[k] = rs * ((kW ? dy[k] * w[k] : dy[k]) - c1 - ((x[k] - m) * rs) * c2);
    }
    if (dwa) for (long k = 0; k < D; k++) dwa[k] += Acc(dy[k] * ((x[k] - m) * rs));
    if (dba) for (long k = 0; k < D; k++) dba[k] += Acc(dy[k]);
  }
}

// Rows [r0, r1); dw, db: float64 partials (D) or null. Rows up to kLocalD wide add their dw / db terms
// into T partials on the stack, moved into float64 every kTileRows rows (float64 adds per element
// and row cost as much as the rest of the backward); wider rows add into float64 directly.
constexpr long kLocalD = 1024, kTileRows = 32;
template <class T, bool kW> void ln_bwd_w(const LnBackwardArgs<T>& a, long r0, long r1, double* dw, double* db) {
  if (a.D > kLocalD || (!dw && !db)) { ln_bwd_rows<T, kW, double>(a, r0, r1, dw, db); return; }
  const long D = a.D;
  T tw[kLocalD], tb[kLocalD];
  for (long t0 = r0; t0 < r1; t0 += kTileRows) {
    for (long k = 0; k < D; k++) { tw[k] = T(0); tb[k] = T(0); }
    ln_bwd_rows<T, kW, T>(a, t0, t0 + kTileRows < r1 ? t0 + kTileRows : r1, dw ? tw : nullptr, db ? tb : nullptr);
    if (dw) for (long k = 0; k < D; k++) dw[k] += double(tw[k]);
    if (db) for (long k = 0; k < D; k++) db[k] += double(tb[k]);
  }
}

template <class T> void ln_bwd(const LnBackwardArgs<T>& a, long r0, long r1, double* dw, double* db) {
  if (a.w) ln_bwd_w<T, true>(a, r0, r1, dw, db); else ln_bwd_w<T, false>(a, r0, r1, dw, db);
}

#pragma GCC diagnostic pop

void ln_fwd_f32(const LnForwardArgs<float>& a, long r0, long r1) { ln_fwd<float>(a, r0, r1); }
void ln_fwd_f64(const LnForwardArgs<double>& a, long r0, long r1) { ln_fwd<double>(a, r0, r1); }
void ln_bwd_f32(const LnBackwardArgs<float>& a, long r0, long r1, double* dw, double* db) { ln_bwd<float>(a, r0, r1, dw, db); }
void ln_bwd_f64(const LnBackwardArgs<double>& a, long r0, long r1, double* dw, double* db) { ln_bwd<double>(a, r0, r1, dw, db); }

}  // namespace
}  // namespace TS_LNG_NS
}  // namespace ts

// Defines the table function `fname` of this translation unit's path.
#define TS_DEFINE_LAYER_NORM_GELU(fname)                                                                     \
  const LayerNormGeluTable* fname() {                                                                       \
    static const LayerNormGeluTable t{TS_LNG_NS::ln_fwd_f32, TS_LNG_NS::ln_fwd_f64, TS_LNG_NS::ln_bwd_f32,     \
                                TS_LNG_NS::ln_bwd_f64, TS_LNG_NS::gelu_fwd_f32, TS_LNG_NS::gelu_fwd_f64, \
                                TS_LNG_NS::gelu_bwd_f32, TS_LNG_NS::gelu_bwd_f64,                       \
                                TS_LNG_NS::attn_fwd_rows_f32, TS_LNG_NS::attn_bwd_p_rows_f32,           \
                                TS_LNG_NS::attn_bwd_ds_rows_f32, TS_LNG_NS::sce_shift_f32,             \
                                TS_LNG_NS::sce_sum_grad_f32};                                           \
    return &t;                                                                                        \
  }
