// Portable C++ bodies of the elementwise, reduction and optimizer inner loops, and the generic GEMM
// micro-kernel. This header is included once per instruction-set translation unit (isa_*.cc), each
// compiled with its own -m flags, so the compiler vectorizes the same loops for AVX-512, AVX2+FMA or
// baseline x86-64. Everything here has internal linkage (anonymous namespace inside TS_ISA_NS):
// a function compiled for AVX-512 must never be merged by the linker into the portable path.
// Do not use std:: templates (std::max, ...) here for the same reason.
#include <math.h>
#include <stdint.h>
#include "common.h"
#include "gemm_isa.h"
#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace ts { namespace TS_ISA_NS { namespace {

// JavaScript truthiness of a number (NaN and 0 are false), as the reference backend uses.
template <class T> inline bool truthy(T v) { return v != 0 && v == v; }
template <class T> inline T fmax_nan(T a, T b) { return (a != a || b != b) ? (a != a ? a : b) : (a > b ? a : b); }
template <class T> inline T fmin_nan(T a, T b) { return (a != a || b != b) ? (a != a ? a : b) : (a < b ? a : b); }

inline float m_exp(float v) { return expf(v); }
inline double m_exp(double v) { return exp(v); }
inline float m_log(float v) { return logf(v); }
inline double m_log(double v) { return log(v); }
inline float m_sqrt(float v) { return sqrtf(v); }
inline double m_sqrt(double v) { return sqrt(v); }
inline float m_tanh(float v) { return tanhf(v); }
inline double m_tanh(double v) { return tanh(v); }
inline float m_erf(float v) { return erff(v); }
inline double m_erf(double v) { return erf(v); }
inline float m_sin(float v) { return sinf(v); }
inline double m_sin(double v) { return sin(v); }
inline float m_cos(float v) { return cosf(v); }
inline double m_cos(double v) { return cos(v); }
inline float m_floor(float v) { return floorf(v); }
inline double m_floor(double v) { return floor(v); }
inline float m_pow(float a, float b) { return powf(a, b); }
inline double m_pow(double a, double b) { return pow(a, b); }

#include "exp_f32.h"  // exp_f32 (full range), exp_poly_f32, f32_bits / f32_from_bits
// exp for float64 in the same branch-free form (the fused cross-entropy's softmax; libm's exp is a
// scalar call): n = round(x log2 e) by the 1.5 * 2^52 trick, r = x - n ln2 (fdlibm's two-part ln2,
// exact for these n), e^r by its Taylor series to r^13 (|r| <= ln2/2: truncation < 1e-17), and 2^n
// as two normal factors (n1 also by the trick, so only 64-bit integer adds: AVX2 vectorizes it
// too). x > 709.78... gives inf, x < -745.13... 0, NaN stays NaN.
inline double f64_from_bits(int64_t i) { double d; __builtin_memcpy(&d, &i, 8); return d; }
inline int64_t f64_bits(double d) { int64_t i; __builtin_memcpy(&i, &d, 8); return i; }
inline double exp_f64(double x) {
  const double hi = 709.782712893383973096, lo = -745.133219101941108420;
  const double xc = x > hi ? hi : (x < lo ? lo : x);
  const double magic = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  const double t = xc * 1.44269504088896338700 + magic;
  const int64_t n = f64_bits(t) - f64_bits(magic);
  const double nf = t - magic;
  const double r = (xc - nf * 6.93147180369123816490e-01) - nf * 1.90821492927058770002e-10;
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  const double e = (r * r) * p + r + 1.0;
  const int64_t n1 = f64_bits(nf * 0.5 + magic) - f64_bits(magic), n2 = n - n1;
  const double y = e * f64_from_bits((n1 + 1023) << 52) * f64_from_bits((n2 + 1023) << 52);
  return x != x ? x : (x > hi ? __builtin_inf() : (x < lo ? 0.0 : y));
}
inline float v_exp(float v) { return exp_f32(v); }
inline double v_exp(double v) { return exp(v); }

template <class T, class F> inline void map1(const T* x, long sx, T* y, long n, F f) {
  if (sx == 1) { for (long i = 0; i < n; i++) y[i] = f(x[i]); }
  else if (sx == 0) { const T v = f(x[0]); for (long i = 0; i < n; i++) y[i] = v; }
  else { for (long i = 0; i < n; i++) y[i] = f(x[i * sx]); }
}

template <class T> void unary_loop(int op, const T* x, long sx, T* y, long n) {
  switch (op) {
    case U_NEG: map1(x, sx, y, n, [](T v) { return -v; }); break;
    case U_EXP: map1(x, sx, y, n, [](T v) { return v_exp(v); }); break;
    case U_LOG: map1(x, sx, y, n, [](T v) { return m_log(v); }); break;
    case U_SQRT: map1(x, sx, y, n, [](T v) { return m_sqrt(v); }); break;
    case U_ABS: map1(x, sx, y, n, [](T v) { return v < 0 ? -v : (v == 0 ? T(0) : v); }); break;
    case U_TANH: map1(x, sx, y, n, [](T v) { return m_tanh(v); }); break;
    case U_SIGMOID: map1(x, sx, y, n, [](T v) {
      if (v >= 0) return T(1) / (T(1) + m_exp(-v));
      const T e = m_exp(v); return e / (T(1) + e); }); break;
    case U_RELU: map1(x, sx, y, n, [](T v) { return v <= T(0) ? T(0) : v; }); break;  // NaN stays NaN, as torch.relu
    case U_ERF: map1(x, sx, y, n, [](T v) { return m_erf(v); }); break;
    case U_SIGN: map1(x, sx, y, n, [](T v) { return v > 0 ? T(1) : (v < 0 ? T(-1) : T(0)); }); break;
    case U_SIN: map1(x, sx, y, n, [](T v) { return m_sin(v); }); break;
    case U_COS: map1(x, sx, y, n, [](T v) { return m_cos(v); }); break;
    case U_FLOOR: map1(x, sx, y, n, [](T v) { return m_floor(v); }); break;
    default: break;
  }
}

template <class T, class O, class F> inline void map2(const T* a, long sa, const T* b, long sb, O* y, long n, F f) {
  if (sa == 1 && sb == 1) { for (long i = 0; i < n; i++) y[i] = f(a[i], b[i]); }
  else if (sa == 1 && sb == 0) { const T bv = b[0]; for (long i = 0; i < n; i++) y[i] = f(a[i], bv); }
  else if (sa == 0 && sb == 1) { const T av = a[0]; for (long i = 0; i < n; i++) y[i] = f(av, b[i]); }
  else { for (long i = 0; i < n; i++) y[i] = f(a[i * sa], b[i * sb]); }
}

template <class T> void binary_loop(int op, const T* a, long sa, const T* b, long sb, T* y, long n) {
  switch (op) {
    case B_ADD: map2(a, sa, b, sb, y, n, [](T u, T v) { return u + v; }); break;
    case B_SUB: map2(a, sa, b, sb, y, n, [](T u, T v) { return u - v; }); break;
    case B_MUL: map2(a, sa, b, sb, y, n, [](T u, T v) { return u * v; }); break;
    case B_DIV: map2(a, sa, b, sb, y, n, [](T u, T v) { return u / v; }); break;
    case B_POW: map2(a, sa, b, sb, y, n, [](T u, T v) { return m_pow(u, v); }); break;
    case B_MAXIMUM: map2(a, sa, b, sb, y, n, [](T u, T v) { return fmax_nan(u, v); }); break;
    case B_MINIMUM: map2(a, sa, b, sb, y, n, [](T u, T v) { return fmin_nan(u, v); }); break;
    default: break;
  }
}

template <class T> void compare_loop(int op, const T* a, long sa, const T* b, long sb, uint8_t* y, long n) {
  switch (op) {
    case B_EQ: map2(a, sa, b, sb, y, n, [](T u, T v) { return uint8_t(u == v); }); break;
    case B_NE: map2(a, sa, b, sb, y, n, [](T u, T v) { return uint8_t(u != v); }); break;
    case B_LT: map2(a, sa, b, sb, y, n, [](T u, T v) { return uint8_t(u < v); }); break;
    case B_LE: map2(a, sa, b, sb, y, n, [](T u, T v) { return uint8_t(u <= v); }); break;
    case B_GT: map2(a, sa, b, sb, y, n, [](T u, T v) { return uint8_t(u > v); }); break;
    case B_GE: map2(a, sa, b, sb, y, n, [](T u, T v) { return uint8_t(u >= v); }); break;
    case B_LOGICAL_AND: map2(a, sa, b, sb, y, n, [](T u, T v) { return uint8_t(truthy(u) && truthy(v)); }); break;
    case B_LOGICAL_OR: map2(a, sa, b, sb, y, n, [](T u, T v) { return uint8_t(truthy(u) || truthy(v)); }); break;
    default: break;
  }
}

// One strided run reduced into a double: sums accumulate in float64 (8 independent lanes, so the
// loop vectorizes without -ffast-math); max/min propagate NaN like PyTorch.
template <class T> double reduce_run(int op, const T* x, long sx, long n, double init) {
  if (op == R_SUM) {
    double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    long i = 0;
    if (sx == 1) {
      for (; i + 8 <= n; i += 8) for (int j = 0; j < 8; j++) lanes[j] += double(x[i + j]);
    }
    double s = 0;
    for (; i < n; i++) s += double(x[i * sx]);
    for (int j = 0; j < 8; j++) s += lanes[j];
    return init + s;
  }
  const bool mx = op == R_MAX;
  T best = T(init);
  if (sx == 1) {
    T lanes[8];
    for (int j = 0; j < 8; j++) lanes[j] = best;
    long i = 0;
    for (; i + 8 <= n; i += 8) for (int j = 0; j < 8; j++) {
      const T v = x[i + j];
      lanes[j] = mx ? ((v > lanes[j] || v != v) ? v : lanes[j]) : ((v < lanes[j] || v != v) ? v : lanes[j]);
    }
    for (int j = 0; j < 8; j++) best = mx ? fmax_nan(best, lanes[j]) : fmin_nan(best, lanes[j]);
    for (; i < n; i++) best = mx ? fmax_nan(best, x[i]) : fmin_nan(best, x[i]);
    return double(best);
  }
  for (long i = 0; i < n; i++) best = mx ? fmax_nan(best, x[i * sx]) : fmin_nan(best, x[i * sx]);
  return double(best);
}

template <class T> void reduce_acc(int op, double* acc, const T* x, long sx, long n) {
  if (op == R_SUM) {
    if (sx == 1) for (long j = 0; j < n; j++) acc[j] += double(x[j]);
    else for (long j = 0; j < n; j++) acc[j] += double(x[j * sx]);
  } else if (op == R_MAX) {
    for (long j = 0; j < n; j++) acc[j] = fmax_nan(acc[j], double(x[j * sx]));
  } else {
    for (long j = 0; j < n; j++) acc[j] = fmin_nan(acc[j], double(x[j * sx]));
  }
}

// Adam/AdamW over one contiguous parameter. hp: beta1, beta2, lr, eps, weightDecay, stepSize,
// sqrt(biasCorrection2), decoupled (0/1), amsgrad (0/1), maximize (0/1). Same math as
// src/optim/adam.ts adamUpdate, in the parameter's precision.
template <class T> void adam_loop(T* p, const T* g, T* m, T* v, T* vmax, long n, const double* hp) {
  const T b1 = T(hp[0]), b2 = T(hp[1]), lr = T(hp[2]), eps = T(hp[3]), wd = T(hp[4]);
  const T stepSize = T(hp[5]), bc2s = T(hp[6]);
  const bool decoupled = hp[7] != 0, amsgrad = hp[8] != 0, maximize = hp[9] != 0;
  const T decay = T(1.0 - hp[2] * hp[4]);
  const T ob1 = T(1.0 - hp[0]), ob2 = T(1.0 - hp[1]);
  (void)lr;
  if (!decoupled && wd == 0 && !amsgrad && !maximize) {  // the common case: one tight vector loop
    for (long i = 0; i < n; i++) {
      const T gi = g[i];
      const T mi = m[i] * b1 + ob1 * gi;
      const T vi = v[i] * b2 + ob2 * gi * gi;
      m[i] = mi; v[i] = vi;
      p[i] = p[i] - stepSize * mi / (m_sqrt(vi) / bc2s + eps);
    }
    return;
  }
  for (long i = 0; i < n; i++) {
    T gi = maximize ? -g[i] : g[i];
    T pi = p[i];
    if (decoupled) pi = pi * decay;
    else if (wd != 0) gi = gi + wd * pi;
    const T mi = m[i] * b1 + ob1 * gi;
    const T vi = v[i] * b2 + ob2 * gi * gi;
    m[i] = mi; v[i] = vi;
    T second = vi;
    if (amsgrad) { const T mx = vmax[i] > vi ? vmax[i] : vi; vmax[i] = mx; second = mx; }
    p[i] = pi - stepSize * mi / (m_sqrt(second) / bc2s + eps);
  }
}

template <int MR, int NR, class T> void gemm_ukr_portable(long k, const T* a, const T* b, T* c, long ldc) {
  T acc[MR][NR];
  for (int i = 0; i < MR; i++) for (int j = 0; j < NR; j++) acc[i][j] = T(0);
  for (long p = 0; p < k; p++) {
    for (int i = 0; i < MR; i++) {
      const T av = a[p * MR + i];
      for (int j = 0; j < NR; j++) acc[i][j] += av * b[p * NR + j];
    }
  }
  for (int i = 0; i < MR; i++) for (int j = 0; j < NR; j++) c[i * ldc + j] += acc[i][j];
}

// Row interleave for GEMM packing (see gemm_isa.h): 8 x 8 (AVX) and 4 x 4 (SSE) register
// transposes over blocks of rows and columns, scalar edges, zero rows up to R.
template <class T> inline void il_scalar(const T* src, long ld, long r0, long r1, long p0, long p1, int R, T* dst) {
  for (long p = p0; p < p1; p++) for (long r = r0; r < r1; r++) dst[p * R + r] = src[r * ld + p];
}

#if defined(__AVX__)
// An 8 x 8 transpose: v[j] lane i <- v[i] lane j.
inline void transpose8(__m256 (&v)[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]), t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
  const __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]), t6 = _mm256_unpacklo_ps(v[6], v[7]), t7 = _mm256_unpackhi_ps(v[6], v[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE), u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE), u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  v[0] = _mm256_permute2f128_ps(u0, u4, 0x20); v[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  v[2] = _mm256_permute2f128_ps(u2, u6, 0x20); v[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  v[4] = _mm256_permute2f128_ps(u0, u4, 0x31); v[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  v[6] = _mm256_permute2f128_ps(u2, u6, 0x31); v[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// Rows [r, r + nr) of the interleave (nr = 8 when kFull, else 5..7: zero rows past nr, only nr
// lanes stored), columns [0, kc - kc % 8), by 8 x 8 transposes; returns the first column not done.
template <bool kFull>
inline long il_rows8(const float* src, long ld, long r, int nr, long kc, int R, float* dst) {
  const __m256i keep = _mm256_castps_si256(_mm256_cmp_ps(_mm256_set1_ps(float(nr)), _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7), _CMP_GT_OQ));
  const float* s = src + r * ld;
  long p = 0;
  for (; p + 8 <= kc; p += 8) {
    __m256 v[8];
    for (int i = 0; i < 8; i++) v[i] = (kFull || i < nr) ? _mm256_loadu_ps(s + i * ld + p) : _mm256_setzero_ps();
    transpose8(v);
    float* d = dst + p * R + r;
    for (int j = 0; j < 8; j++) {
      if (kFull) _mm256_storeu_ps(d + j * R, v[j]);
      else _mm256_maskstore_ps(d + j * R, keep, v[j]);
    }
  }
  return p;
}
#endif

void interleave_f32(const float* src, long ld, long rows, int R, long kc, float* dst) {
  long r = 0;
#if defined(__AVX__)
  for (; r + 8 <= rows; r += 8) il_scalar(src, ld, r, r + 8, il_rows8<true>(src, ld, r, 8, kc, R, dst), kc, R, dst);
  if (rows - r > 4) {  // 5 to 7 rows (the AVX2 path's 6-row A~ panels): one transpose, not 4 rows + scalars
    il_scalar(src, ld, r, rows, il_rows8<false>(src, ld, r, int(rows - r), kc, R, dst), kc, R, dst);
    r = rows;
  }
#endif
#if defined(__SSE2__)
  for (; r + 4 <= rows; r += 4) {
    const float* s = src + r * ld;
    long p = 0;
    for (; p + 4 <= kc; p += 4) {
      __m128 r0 = _mm_loadu_ps(s + p), r1 = _mm_loadu_ps(s + ld + p), r2 = _mm_loadu_ps(s + 2 * ld + p), r3 = _mm_loadu_ps(s + 3 * ld + p);
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
      float* d = dst + p * R + r;
      _mm_storeu_ps(d, r0); _mm_storeu_ps(d + R, r1); _mm_storeu_ps(d + 2 * R, r2); _mm_storeu_ps(d + 3 * R, r3);
    }
    il_scalar(src, ld, r, r + 4, p, kc, R, dst);
  }
#endif
  il_scalar(src, ld, r, rows, 0, kc, R, dst);
  if (rows < R) for (long p = 0; p < kc; p++) for (long q = rows; q < R; q++) dst[p * R + q] = 0.0f;
}

void interleave_f64(const double* src, long ld, long rows, int R, long kc, double* dst) {
  long r = 0;
#if defined(__AVX__)
  for (; r + 4 <= rows; r += 4) {
    const double* s = src + r * ld;
    long p = 0;
    for (; p + 4 <= kc; p += 4) {
      const __m256d r0 = _mm256_loadu_pd(s + p), r1 = _mm256_loadu_pd(s + ld + p), r2 = _mm256_loadu_pd(s + 2 * ld + p), r3 = _mm256_loadu_pd(s + 3 * ld + p);
      const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1), t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
      double* d = dst + p * R + r;
      _mm256_storeu_pd(d, _mm256_permute2f128_pd(t0, t2, 0x20));
      _mm256_storeu_pd(d + R, _mm256_permute2f128_pd(t1, t3, 0x20));
      _mm256_storeu_pd(d + 2 * R, _mm256_permute2f128_pd(t0, t2, 0x31));
      _mm256_storeu_pd(d + 3 * R, _mm256_permute2f128_pd(t1, t3, 0x31));
    }
    il_scalar(src, ld, r, r + 4, p, kc, R, dst);
  }
#endif
  il_scalar(src, ld, r, rows, 0, kc, R, dst);
  if (rows < R) for (long p = 0; p < kc; p++) for (long q = rows; q < R; q++) dst[p * R + q] = 0.0;
}

// Batch-1 (to 4) products for generation: y[i * ldy + j] = sum_p x[i * ldx + p] * w[j * ldw + p]
// for i < M, j < n (x and w rows contiguous; y overwritten). The weight matrix is read once, in
// place, four rows at a time (no packing: at M <= 4 a packed copy of W costs more memory traffic
// than the product), each row against all M inputs, in 16 (AVX-512), 8 (AVX2) or 4 (SSE) lanes.
#if defined(__AVX2__) && defined(__FMA__)
// The vector registers of this path's sgemv_block: 16 lanes (AVX-512) or 8 (AVX2), and its
// intrinsics (TS_SGEMV(loadu) is _mm512_loadu_ps or _mm256_loadu_ps).
#if defined(__AVX512F__)
using SgemvV = __m512;
#define TS_SGEMV(op) _mm512_##op##_ps
#else
using SgemvV = __m256;
#define TS_SGEMV(op) _mm256_##op##_ps
#endif
constexpr int kSgemvW = int(sizeof(SgemvV) / sizeof(float));
// acc[r][i] = the lane-wise products of W row r and x row i over whole vectors of K; returns the
// first p not covered (the tail, handled per path).
template <int R, int M> inline long sgemv_vectors(long k, const float* x, long ldx, const float* w, long ldw, SgemvV (&acc)[R][M]) {
#pragma GCC unroll 4
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int i = 0; i < M; i++) acc[r][i] = TS_SGEMV(setzero)();
  long p = 0;
  for (; p + kSgemvW <= k; p += kSgemvW) {
    SgemvV xv[M];
#pragma GCC unroll 4
    for (int i = 0; i < M; i++) xv[i] = TS_SGEMV(loadu)(x + i * ldx + p);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
      const SgemvV wv = TS_SGEMV(loadu)(w + r * ldw + p);
#pragma GCC unroll 4
      for (int i = 0; i < M; i++) acc[r][i] = TS_SGEMV(fmadd)(wv, xv[i], acc[r][i]);
    }
  }
  return p;
}
#undef TS_SGEMV
#endif
#if defined(__AVX512F__)
template <int R, int M> inline void sgemv_block(long k, const float* x, long ldx, const float* w, long ldw, float* y, long ldy) {
  __m512 acc[R][M];
  const long p = sgemv_vectors<R, M>(k, x, ldx, w, ldw, acc);
  if (p < k) {
    const __mmask16 mk = static_cast<__mmask16>((1u << (k - p)) - 1u);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
      const __m512 wv = _mm512_maskz_loadu_ps(mk, w + r * ldw + p);
#pragma GCC unroll 4
      for (int i = 0; i < M; i++) acc[r][i] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(mk, x + i * ldx + p), acc[r][i]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int i = 0; i < M; i++) y[i * ldy + r] = _mm512_reduce_add_ps(acc[r][i]);
}
#elif defined(__AVX2__) && defined(__FMA__)
inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
  return _mm_cvtss_f32(s);
}
template <int R, int M> inline void sgemv_block(long k, const float* x, long ldx, const float* w, long ldw, float* y, long ldy) {
  __m256 acc[R][M];
  const long p = sgemv_vectors<R, M>(k, x, ldx, w, ldw, acc);
#pragma GCC unroll 4
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int i = 0; i < M; i++) {
      float s = hsum256(acc[r][i]);
      for (long q = p; q < k; q++) s += x[i * ldx + q] * w[r * ldw + q];
      y[i * ldy + r] = s;
    }
}
#else
template <int R, int M> inline void sgemv_block(long k, const float* x, long ldx, const float* w, long ldw, float* y, long ldy) {
  for (int r = 0; r < R; r++)
    for (int i = 0; i < M; i++) {
      float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
      const float* xi = x + i * ldx;
      const float* wr = w + r * ldw;
      long p = 0;
      for (; p + 4 <= k; p += 4) { s0 += xi[p] * wr[p]; s1 += xi[p + 1] * wr[p + 1]; s2 += xi[p + 2] * wr[p + 2]; s3 += xi[p + 3] * wr[p + 3]; }
      for (; p < k; p++) s0 += xi[p] * wr[p];
      y[i * ldy + r] = (s0 + s1) + (s2 + s3);
    }
}
#endif

template <int M> void sgemv_m(long n, long k, const float* x, long ldx, const float* w, long ldw, float* y, long ldy) {
  long j = 0;
  for (; j + 4 <= n; j += 4) sgemv_block<4, M>(k, x, ldx, w + j * ldw, ldw, y + j, ldy);
  for (; j < n; j++) sgemv_block<1, M>(k, x, ldx, w + j * ldw, ldw, y + j, ldy);
}

void sgemv_f32(long m, long n, long k, const float* x, long ldx, const float* w, long ldw, float* y, long ldy) {
  for (long i0 = 0; i0 < m; i0 += 4) {
    const long mm = m - i0 < 4 ? m - i0 : 4;
    const float* xi = x + i0 * ldx;
    float* yi = y + i0 * ldy;
    if (mm == 1) sgemv_m<1>(n, k, xi, ldx, w, ldw, yi, ldy);
    else if (mm == 2) sgemv_m<2>(n, k, xi, ldx, w, ldw, yi, ldy);
    else if (mm == 3) sgemv_m<3>(n, k, xi, ldx, w, ldw, yi, ldy);
    else sgemv_m<4>(n, k, xi, ldx, w, ldw, yi, ldy);
  }
}

void unary_f32(int op, const float* x, long sx, float* y, long n) { unary_loop<float>(op, x, sx, y, n); }
void unary_f64(int op, const double* x, long sx, double* y, long n) { unary_loop<double>(op, x, sx, y, n); }
void binary_f32(int op, const float* a, long sa, const float* b, long sb, float* y, long n) { binary_loop<float>(op, a, sa, b, sb, y, n); }
void binary_f64(int op, const double* a, long sa, const double* b, long sb, double* y, long n) { binary_loop<double>(op, a, sa, b, sb, y, n); }
void compare_f32(int op, const float* a, long sa, const float* b, long sb, uint8_t* y, long n) { compare_loop<float>(op, a, sa, b, sb, y, n); }
void compare_f64(int op, const double* a, long sa, const double* b, long sb, uint8_t* y, long n) { compare_loop<double>(op, a, sa, b, sb, y, n); }
double reduce_run_f32(int op, const float* x, long sx, long n, double init) { return reduce_run<float>(op, x, sx, n, init); }
double reduce_run_f64(int op, const double* x, long sx, long n, double init) { return reduce_run<double>(op, x, sx, n, init); }
void reduce_acc_f32(int op, double* acc, const float* x, long sx, long n) { reduce_acc<float>(op, acc, x, sx, n); }
void reduce_acc_f64(int op, double* acc, const double* x, long sx, long n) { reduce_acc<double>(op, acc, x, sx, n); }
void adam_f32(float* p, const float* g, float* m, float* v, float* vmax, long n, const double* hp) { adam_loop<float>(p, g, m, v, vmax, n, hp); }
void adam_f64(double* p, const double* g, double* m, double* v, double* vmax, long n, const double* hp) { adam_loop<double>(p, g, m, v, vmax, n, hp); }
void exp_f64_inplace(double* x, long n) { for (long i = 0; i < n; i++) x[i] = exp_f64(x[i]); }

}  // namespace
}  // namespace TS_ISA_NS
}  // namespace ts

// Fills the table fields shared by every path; the ISA file sets its GEMM micro-kernels.
#define TS_FILL_COMMON(t)                                                     \
  (t).unary_f32 = TS_ISA_NS::unary_f32; (t).unary_f64 = TS_ISA_NS::unary_f64; \
  (t).binary_f32 = TS_ISA_NS::binary_f32; (t).binary_f64 = TS_ISA_NS::binary_f64; \
  (t).compare_f32 = TS_ISA_NS::compare_f32; (t).compare_f64 = TS_ISA_NS::compare_f64; \
  (t).reduce_run_f32 = TS_ISA_NS::reduce_run_f32; (t).reduce_run_f64 = TS_ISA_NS::reduce_run_f64; \
  (t).reduce_acc_f32 = TS_ISA_NS::reduce_acc_f32; (t).reduce_acc_f64 = TS_ISA_NS::reduce_acc_f64; \
  (t).adam_f32 = TS_ISA_NS::adam_f32; (t).adam_f64 = TS_ISA_NS::adam_f64; \
  (t).exp_f64 = TS_ISA_NS::exp_f64_inplace; \
  (t).sgemv_f32 = TS_ISA_NS::sgemv_f32

// Defines gemm_isa_<name>() for this translation unit's path.
#define TS_DEFINE_GEMM_ISA(fname)                                                   \
  const GemmIsa* fname() {                                                          \
    static const GemmIsa g{TS_ISA_NS::interleave_f32, TS_ISA_NS::interleave_f64};   \
    return &g;                                                                      \
  }
