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

// TS_CD_R output channels per block (4 where there are 32 vector registers: 16 accumulators), then 2,
// then 1. A channel count that is not a multiple of TS_CD_R but of 6 (lenet5's first layer, and
// the input channels of its second layer's dx) first takes blocks of 6 (32 registers: 24
// accumulators) or 3 (16 registers): fewer input loads per multiply-add than blocks of 4 + 2
// or 2 + 2 + 2 (dx of conv2 and the conv1 forward 28-40% faster on both paths).
template <class T>
void wide_conv(const WideConvArgs<T>& a) {
  long o = 0;
#if TS_CD_VBYTES == 64
  if (a.cout % 4 != 0) for (; o + 6 <= a.cout; o += 6) conv_rows<T, 6>(a, o);
#else
  if (a.cout % 2 != 0 || a.cout % 3 == 0) for (; o + 3 <= a.cout; o += 3) conv_rows<T, 3>(a, o);
#endif
  for (; o + TS_CD_R <= a.cout; o += TS_CD_R) conv_rows<T, TS_CD_R>(a, o);
  for (; o + 2 <= a.cout; o += 2) conv_rows<T, 2>(a, o);
  if (o < a.cout) conv_rows<T, 1>(a, o);
}

// R output channels x J neighbouring taps (j .. j + J - 1 of one kernel row) at a time, over every
// sample of the call: each dy vector is loaded once for J products and each input vector once for
// R, and the partial sums are read and written once per call, not per sample.
template <class T, int R, int J>
inline void wgrad_block(const WideWeightGradArgs<T>& a, long o, long c, long i, long j) {
  typedef typename Vec<T>::type V;
  constexpr int L = Vec<T>::lanes;
  const long taps = a.kh * a.kw, ckk = a.cin * taps;
  V s[R][J];
  for (int r = 0; r < R; r++) for (int u = 0; u < J; u++) s[r][u] = V{};
  for (long n = 0; n < a.ns; n++) {
    const T* src = a.in + n * a.xn + c * a.ps + i * a.wp + j;
    const T* dy = a.dy + n * a.dn + o * a.ds;
    for (long v = 0; v < a.nv; v++) {
      V xv[J], dv[R];
      for (int u = 0; u < J; u++) xv[u] = load<V>(src + v * L + u);
      for (int r = 0; r < R; r++) dv[r] = load<V>(dy + r * a.ds + v * L);
      for (int r = 0; r < R; r++) for (int u = 0; u < J; u++) s[r][u] += dv[r] * xv[u];
    }
  }
  const long q = c * taps + i * a.kw + j;
  for (int r = 0; r < R; r++) for (int u = 0; u < J; u++) {
    T* p = a.part + ((o + r) * ckk + q + u) * L;
    store(p, load<V>(p) + s[r][u]);
  }
}

// A kernel row of 5 taps (lenet5's, and common) in one block where R * 5 sums, 5 input and R dy
// vectors fit the registers (4 channels with 32 of them), else blocks of 4 taps, then single taps.
constexpr int kWgradRegs = TS_CD_VBYTES == 64 ? 32 : 16;

template <class T, int R>
inline void wgrad_rows(const WideWeightGradArgs<T>& a, long o) {
  for (long c = 0; c < a.cin; c++) for (long i = 0; i < a.kh; i++) {
    long j = 0;
    if (a.kw == 5 && R * 5 + R + 5 < kWgradRegs) { wgrad_block<T, R, 5>(a, o, c, i, 0); continue; }
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

// Max pooling of one float32 plane, any window, stride, padding and dilation (MaxPoolArgs). Outputs
// whose window lies wholly inside the plane are computed PL at a time: every tap (i, j), in row
// order, is one vector of the PL windows' elements (a plain load at stride 1; at stride 2, two loads
// split into even or odd columns by a shuffle; else gathered lane by lane), then the same
// branch-free "larger, or the first NaN" select as the scalar loop, so maxima and argmax equal it
// bit for bit. The path's full width, then 8 and 4 lanes, a run's last block overlapping the one
// before it (computing some outputs twice, identically) instead of a scalar tail; windows that cross
// the border, and runs of fewer than 4 outputs, go scalar. 2x2 windows of stride 2 without padding
// (lenet5) have their own loop: two loads per input row serve both taps, then 16, 8, 4 lanes and
// scalar (rows of 14 and 5 outputs: a narrower vector is cheaper than an overlapping block there).
typedef float vf4 __attribute__((vector_size(16)));
typedef int vi4 __attribute__((vector_size(16)));
#if TS_CD_VBYTES >= 32
typedef float vf8 __attribute__((vector_size(32)));
typedef int vi8 __attribute__((vector_size(32)));
#else  // no 32-byte vectors on this path: the 8-lane step is the 4-lane one (and skipped)
typedef vf4 vf8;
typedef vi4 vi8;
#endif
constexpr int kLanes8 = TS_CD_VBYTES >= 32 ? 8 : 4;
typedef int vi __attribute__((vector_size(TS_CD_VBYTES)));

template <class VF, class VI>
inline void pool_take(VF v, VI pos, VF& best, VI& at) {
  const VI take = (v > best) | ((v != v) & (best == best));
  best = take ? v : best;
  at = take ? pos : at;
}

// One output (oy, ox): the first maximum of the window's in-range elements in row order (the
// first NaN wins), at its position y * w + x; -inf and -1 for a window with none.
inline void pool_one(const MaxPoolArgs& a, long oy, long ox) {
  const long y0 = oy * a.sh - a.ph, x0 = ox * a.sw - a.pw;
  float best = -__builtin_inff();
  long at = -1;
  for (long i = 0; i < a.kh; i++) {
    const long y = y0 + i * a.dh;
    if (y < 0 || y >= a.h) continue;
    const float* row = a.x + y * a.rs;
    for (long j = 0; j < a.kw; j++) {
      const long xx = x0 + j * a.dw;
      if (xx < 0 || xx >= a.w) continue;
      const float v = row[xx];
      const bool take = at < 0 || (v > best) | ((v != v) & (best == best));
      best = take ? v : best;
      at = take ? y * a.w + xx : at;
    }
  }
  a.y[oy * a.ow + ox] = best;
  a.arg[oy * a.ow + ox] = int(at);
}

// Lane constants of a block: lane l's column offset l * sw, and the even and odd lanes of a pair
// of vectors (the shuffles of stride 2).
template <class VI, int PL> struct PoolLanes {
  VI lane, even, odd;
  explicit PoolLanes(long sw) { for (int l = 0; l < PL; l++) { lane[l] = int(l * sw); even[l] = 2 * l; odd[l] = 2 * l + 1; } }
};

// PL outputs of row oy from ox, every window inside the plane; SW: the stride along the row when 1
// or 2 (plain loads; shuffles), 0 for any other (gathered lane by lane).
template <class VF, class VI, int PL, int SW>
inline void pool_block(const MaxPoolArgs& a, const PoolLanes<VI, PL>& k, long oy, long ox) {
  VF best = {};
  VI at = {};
  bool first = true;
  const auto take = [&](VF v, VI pos) {
    if (first) { best = v; at = pos; first = false; } else pool_take(v, pos, best, at);
  };
  const long sw = SW == 0 ? a.sw : SW;
  const VI lane = k.lane, even = k.even, odd = k.odd;  // locals: not reloaded after the stores
  for (long i = 0; i < a.kh; i++) {
    const long y = oy * a.sh - a.ph + i * a.dh;
    const float* row = a.x + y * a.rs;
    const long c00 = ox * sw - a.pw;  // the first window's column at tap j = 0
    for (long j = 0; j < a.kw;) {
      const long c0 = c00 + j * a.dw;  // the first window's column at tap j
      const VI pos = lane + int(y * a.w + c0);
      if (SW == 1) {
        take(load<VF>(row + c0), pos);
      } else if (SW == 2 && c0 + 2 * PL <= a.w) {  // columns c0 .. c0 + 2 PL - 1, all in the row
        const VF v0 = load<VF>(row + c0), v1 = load<VF>(row + c0 + PL);
        take(__builtin_shuffle(v0, v1, even), pos);
        if (a.dw == 1 && j + 1 < a.kw) {  // tap j + 1 reads the odd columns of the same loads
          take(__builtin_shuffle(v0, v1, odd), pos + 1);
          j++;
        }
      } else if (SW == 2 && c0 >= 1) {  // columns c0 - 1 .. c0 + 2 PL - 2
        take(__builtin_shuffle(load<VF>(row + c0 - 1), load<VF>(row + c0 - 1 + PL), odd), pos);
      } else {
        VF v;
        for (int l = 0; l < PL; l++) v[l] = row[c0 + l * sw];
        take(v, pos);
      }
      j++;
    }
  }
  store(a.y + oy * a.ow + ox, best);
  store(a.arg + oy * a.ow + ox, at);
}

// Outputs [ox0, ox1) of row oy (windows inside the plane) in blocks of PL, the last one overlapping;
// false (nothing done) when the run is shorter than PL.
// Outputs [ox0, ox1) of row oy (windows inside the plane) in blocks of PL, the last one overlapping
// the one before it; false (nothing done) when the run is shorter than PL.
template <class VF, class VI, int PL>
inline bool pool_run(const MaxPoolArgs& a, const PoolLanes<VI, PL>& k, long oy, long ox0, long ox1) {
  if (ox1 - ox0 < PL) return false;
  long ox = ox0;
  if (a.sw == 1) {
    for (; ox + PL <= ox1; ox += PL) pool_block<VF, VI, PL, 1>(a, k, oy, ox);
    if (ox < ox1) pool_block<VF, VI, PL, 1>(a, k, oy, ox1 - PL);
  } else if (a.sw == 2) {
    for (; ox + PL <= ox1; ox += PL) pool_block<VF, VI, PL, 2>(a, k, oy, ox);
    if (ox < ox1) pool_block<VF, VI, PL, 2>(a, k, oy, ox1 - PL);
  } else {
    for (; ox + PL <= ox1; ox += PL) pool_block<VF, VI, PL, 0>(a, k, oy, ox);
    if (ox < ox1) pool_block<VF, VI, PL, 0>(a, k, oy, ox1 - PL);
  }
  return true;
}

// 2x2 windows of stride 2 without padding or dilation (lenet5's pooling), PL outputs per step from
// two loads per input row: even columns are tap 0, odd ones tap 1. Lane constants and pointers are
// locals (so the shuffles take constant masks and nothing is reloaded after a store). Returns the
// first output left.
template <class VF, class VI, int PL>
inline long pool2x2_row(const float* r0, const float* r1, long rowbase, long w, long ox, long ow, float* y, int* arg) {
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

void maxpool2x2_f32(const MaxPoolArgs& a) {
  for (long oy = 0; oy < a.oh; oy++) {
    const float* r0 = a.x + 2 * oy * a.rs;
    const float* r1 = r0 + a.rs;
    const long rowbase = 2 * oy * a.w;
    float* y = a.y + oy * a.ow;
    int* arg = a.arg + oy * a.ow;
    long ox = 0;
    if (TS_CD_VBYTES >= 64) ox = pool2x2_row<vf, vi, TS_CD_VBYTES / 4>(r0, r1, rowbase, a.w, ox, a.ow, y, arg);
    if (TS_CD_VBYTES >= 32) ox = pool2x2_row<vf8, vi8, kLanes8>(r0, r1, rowbase, a.w, ox, a.ow, y, arg);
    ox = pool2x2_row<vf4, vi4, 4>(r0, r1, rowbase, a.w, ox, a.ow, y, arg);
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

// ceil(v / d) for d > 0, any sign of v
inline long ceil_div(long v, long d) { return v >= 0 ? (v + d - 1) / d : -((-v) / d); }

void maxpool_f32(const MaxPoolArgs& a) {
  if (a.kh == 2 && a.kw == 2 && a.sh == 2 && a.sw == 2 && a.ph == 0 && a.pw == 0 && a.dh == 1 && a.dw == 1) {
    maxpool2x2_f32(a);
    return;
  }
  const PoolLanes<vi, TS_CD_VBYTES / 4> kf(a.sw);
  const PoolLanes<vi8, kLanes8> k8(a.sw);
  const PoolLanes<vi4, 4> k4(a.sw);
  // outputs whose window is inside the plane: rows [oy0, oy1), columns [ox0, ox1)
  const long oy0 = ceil_div(a.ph, a.sh), ox0 = ceil_div(a.pw, a.sw);
  const long ylast = a.h - 1 + a.ph - (a.kh - 1) * a.dh, xlast = a.w - 1 + a.pw - (a.kw - 1) * a.dw;
  long oy1 = ylast < 0 ? 0 : ylast / a.sh + 1, ox1 = xlast < 0 ? 0 : xlast / a.sw + 1;
  if (oy1 > a.oh) oy1 = a.oh;
  if (ox1 > a.ow) ox1 = a.ow;
  for (long oy = 0; oy < a.oh; oy++) {
    if (oy < oy0 || oy >= oy1 || ox0 >= ox1) {
      for (long ox = 0; ox < a.ow; ox++) pool_one(a, oy, ox);
      continue;
    }
    for (long ox = 0; ox < ox0; ox++) pool_one(a, oy, ox);
    if (!(TS_CD_VBYTES >= 64 && pool_run<vf, vi, TS_CD_VBYTES / 4>(a, kf, oy, ox0, ox1)) &&
        !(TS_CD_VBYTES >= 32 && pool_run<vf8, vi8, kLanes8>(a, k8, oy, ox0, ox1)) &&
        !pool_run<vf4, vi4, 4>(a, k4, oy, ox0, ox1)) {
      for (long ox = ox0; ox < ox1; ox++) pool_one(a, oy, ox);
    }
    for (long ox = ox1; ox < a.ow; ox++) pool_one(a, oy, ox);
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
                                   TS_CD_NS::maxpool_f32};       \
    return &t;                                                                                        \
  }
