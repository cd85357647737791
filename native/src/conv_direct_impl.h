// Portable C++ bodies of the direct-convolution loops (conv_direct_isa.h; conv2d.cc drives them),
// written with GCC vector extensions of TS_CD_VBYTES bytes, so one body compiles to zmm registers
// (conv_direct_avx512.cc), ymm (conv_direct_avx2.cc) or xmm (conv_direct_generic.cc). Included once
// per translation unit with its own -m flags; everything has internal linkage inside TS_CD_NS (a
// function compiled for AVX-512 must never be merged into the portable path); no std:: templates.
#include "conv_direct_isa.h"

namespace ts { namespace TS_CD_NS { namespace {

typedef float vf __attribute__((vector_size(TS_CD_VBYTES)));
typedef double vd __attribute__((vector_size(TS_CD_VBYTES)));
template <class T> struct Vec;
template <> struct Vec<float> { typedef vf type; static constexpr int lanes = TS_CD_VBYTES / 4; };
template <> struct Vec<double> { typedef vd type; static constexpr int lanes = TS_CD_VBYTES / 8; };

template <class V, class T> inline V load(const T* p) { V v; __builtin_memcpy(&v, p, sizeof v); return v; }
template <class V, class T> inline void store(T* p, V v) { __builtin_memcpy(p, &v, sizeof v); }
template <class V, class T> inline V splat(T s) { V v = {}; v += s; return v; }

// R output channels x B vectors of output positions, accumulated in registers over every tap.
template <class T, int R, int B>
inline void conv_block(const WideConvArgs<T>& a, long o, long t0) {
  typedef typename Vec<T>::type V;
  constexpr int L = Vec<T>::lanes;
  V acc[R][B];
  for (int r = 0; r < R; r++) { const V b0 = splat<V>(a.bias ? a.bias[o + r] : T(0)); for (int b = 0; b < B; b++) acc[r][b] = b0; }
  const long taps = a.kh * a.kw;
  for (long c = 0; c < a.cin; c++) {
    const T* plane = a.in + c * a.ps + t0;
    for (long i = 0; i < a.kh; i++) for (long j = 0; j < a.kw; j++) {
      const T* src = plane + i * a.wp + j;
      V xv[B];
      for (int b = 0; b < B; b++) xv[b] = load<V>(src + b * L);
      const long q = c * taps + i * a.kw + j;
      for (int r = 0; r < R; r++) {
        const V wv = splat<V>(a.w[(o + r) * a.cin * taps + q]);
        for (int b = 0; b < B; b++) acc[r][b] += wv * xv[b];
      }
    }
  }
  for (int r = 0; r < R; r++) for (int b = 0; b < B; b++) store(a.out + (o + r) * a.os + t0 + b * L, acc[r][b]);
}

template <class T, int R>
inline void conv_rows(const WideConvArgs<T>& a, long o) {
  constexpr int L = Vec<T>::lanes;
  // blocks of 4 vectors, the rest as one block of 1-3 (a lone 1 after a 4 as 3 + 2: a 1-vector
  // block loads as many operands as it multiplies)
  long v = 0;
  const long full = a.nv % 4 == 1 && a.nv > 4 ? a.nv - 5 : a.nv - a.nv % 4;
  for (; v < full; v += 4) conv_block<T, R, 4>(a, o, v * L);
  if (a.nv - v == 5) { conv_block<T, R, 3>(a, o, v * L); v += 3; }
  switch (a.nv - v) {
    case 3: conv_block<T, R, 3>(a, o, v * L); break;
    case 2: conv_block<T, R, 2>(a, o, v * L); break;
    case 1: conv_block<T, R, 1>(a, o, v * L); break;
    default: break;
  }
}

// TS_CD_R output channels per block (4 where there are 32 vector registers: 16 accumulators), then 2, then 1.
template <class T>
void wide_conv(const WideConvArgs<T>& a) {
  long o = 0;
  for (; o + TS_CD_R <= a.cout; o += TS_CD_R) conv_rows<T, TS_CD_R>(a, o);
  for (; o + 2 <= a.cout; o += 2) conv_rows<T, 2>(a, o);
  if (o < a.cout) conv_rows<T, 1>(a, o);
}

// R output channels x J neighbouring taps (j .. j + J - 1 of one kernel row) at a time: each dy
// vector is loaded once for J products and each input vector once for R.
template <class T, int R, int J>
inline void wgrad_block(const WideWeightGradArgs<T>& a, long o, long c, long i, long j) {
  typedef typename Vec<T>::type V;
  constexpr int L = Vec<T>::lanes;
  const long taps = a.kh * a.kw, ckk = a.cin * taps;
  const T* src = a.in + c * a.ps + i * a.wp + j;
  V s[R][J];
  for (int r = 0; r < R; r++) for (int u = 0; u < J; u++) s[r][u] = V{};
  for (long v = 0; v < a.nv; v++) {
    V xv[J], dv[R];
    for (int u = 0; u < J; u++) xv[u] = load<V>(src + v * L + u);
    for (int r = 0; r < R; r++) dv[r] = load<V>(a.dy + (o + r) * a.ds + v * L);
    for (int r = 0; r < R; r++) for (int u = 0; u < J; u++) s[r][u] += dv[r] * xv[u];
  }
  const long q = c * taps + i * a.kw + j;
  for (int r = 0; r < R; r++) for (int u = 0; u < J; u++) {
    T* p = a.part + ((o + r) * ckk + q + u) * L;
    store(p, load<V>(p) + s[r][u]);
  }
}

template <class T, int R>
inline void wgrad_rows(const WideWeightGradArgs<T>& a, long o) {
  for (long c = 0; c < a.cin; c++) for (long i = 0; i < a.kh; i++) {
    long j = 0;
    for (; j + 4 <= a.kw; j += 4) wgrad_block<T, R, 4>(a, o, c, i, j);
    for (; j < a.kw; j++) wgrad_block<T, R, 1>(a, o, c, i, j);
  }
}

template <class T>
void wide_wgrad(const WideWeightGradArgs<T>& a) {
  long o = 0;
  for (; o + TS_CD_R <= a.cout; o += TS_CD_R) wgrad_rows<T, TS_CD_R>(a, o);
  for (; o + 2 <= a.cout; o += 2) wgrad_rows<T, 2>(a, o);
  for (; o < a.cout; o++) wgrad_rows<T, 1>(a, o);
}

// Max pooling 2x2 / stride 2, PL outputs per step: the two rows' 2 PL elements split into even
// and odd columns by shuffles, then the same branch-free selects as the scalar loop, in row order.
// The path's full width first, then 4 lanes (lenet5's rows have 14 and 5 outputs), then scalar.
typedef float vf4 __attribute__((vector_size(16)));
typedef int vi4 __attribute__((vector_size(16)));
typedef int vi __attribute__((vector_size(TS_CD_VBYTES)));

template <class VF, class VI>
inline void pool_take(VF v, VI pos, VF& best, VI& at) {
  const VI take = (v > best) | ((v != v) & (best == best));
  best = take ? v : best;
  at = take ? pos : at;
}

template <class VF, class VI, int PL>
inline long pool_row(const float* r0, const float* r1, long rowbase, long w, long ox, long ow, float* y, int* arg) {
  VI even, odd;
  for (int l = 0; l < PL; l++) { even[l] = 2 * l; odd[l] = 2 * l + 1; }
  for (; ox + PL <= ow; ox += PL) {
    const VF a0 = load<VF>(r0 + 2 * ox), a1 = load<VF>(r0 + 2 * ox + PL);
    const VF b0 = load<VF>(r1 + 2 * ox), b1 = load<VF>(r1 + 2 * ox + PL);
    const VI pos = even + int(rowbase + 2 * ox);
    VF best = __builtin_shuffle(a0, a1, even);
    VI at = pos;
    pool_take(__builtin_shuffle(a0, a1, odd), pos + 1, best, at);
    pool_take(__builtin_shuffle(b0, b1, even), pos + int(w), best, at);
    pool_take(__builtin_shuffle(b0, b1, odd), pos + int(w + 1), best, at);
    store(y + ox, best);
    store(arg + ox, at);
  }
  return ox;
}

void maxpool2x2_f32(const MaxPool2x2Args& a) {
  for (long oy = 0; oy < a.oh; oy++) {
    const float* r0 = a.x + 2 * oy * a.rs;
    const float* r1 = r0 + a.rs;
    const long rowbase = 2 * oy * a.w;
    float* y = a.y + oy * a.ow;
    int* arg = a.arg + oy * a.ow;
    long ox = 0;
    if (TS_CD_VBYTES > 16) ox = pool_row<vf, vi, TS_CD_VBYTES / 4>(r0, r1, rowbase, a.w, ox, a.ow, y, arg);
    ox = pool_row<vf4, vi4, 4>(r0, r1, rowbase, a.w, ox, a.ow, y, arg);
    for (; ox < a.ow; ox++) {
      const long base = rowbase + 2 * ox;
      float best = r0[2 * ox];
      long at = base;
      const float v[3] = {r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1]};
      const long pos[3] = {base + 1, base + a.w, base + a.w + 1};
      for (int u = 0; u < 3; u++) {
        const bool take = (v[u] > best) | ((v[u] != v[u]) & (best == best));
        best = take ? v[u] : best;
        at = take ? pos[u] : at;
      }
      y[ox] = best;
      arg[ox] = int(at);
    }
  }
}

void conv_f32(const WideConvArgs<float>& a) { wide_conv<float>(a); }
void conv_f64(const WideConvArgs<double>& a) { wide_conv<double>(a); }
void wgrad_f32(const WideWeightGradArgs<float>& a) { wide_wgrad<float>(a); }
void wgrad_f64(const WideWeightGradArgs<double>& a) { wide_wgrad<double>(a); }

}  // namespace
}  // namespace TS_CD_NS
}  // namespace ts

// Defines the table function `fname` of this translation unit's path.
#define TS_DEFINE_CONV_DIRECT(fname)                                                                   \
  const ConvDirectTable* fname() {                                                                    \
    static const ConvDirectTable t{TS_CD_VBYTES / 4, TS_CD_VBYTES / 8, TS_CD_NS::conv_f32,              \
                                   TS_CD_NS::conv_f64, TS_CD_NS::wgrad_f32, TS_CD_NS::wgrad_f64, \
                                   TS_CD_NS::maxpool2x2_f32};       \
    return &t;                                                                                        \
  }
