// The direct int8 convolution for few output channels (int8Conv2d picks it for stride 1 and
// O <= kInt8DirectMaxChannels; see int8_linear.cc): output pixels along the SIMD lanes instead of
// output channels, so LeNet's 6 and 16 channels fill the vectors that a 64-channel GEMM panel
// would leave mostly empty, and no im2col matrix is built.
//
// Included by each int8 ISA translation unit (int8_gemm_generic.cc, int8_gemm_avx2.cc,
// int8_gemm_avx512.cc) with TS_DIRECT_VL set to its int32 lanes per vector (4, 8, 16); everything is
// in an anonymous namespace, so each unit compiles its own copy for its own -m flags. The vectors are
// GCC vector extensions; the arithmetic is plain int32 (products and sums wrap as the reference's
// Math.imul and `| 0` do), so every width gives the same bits.
//
// Layout: the input planes are copied once per call into int32 planes padded by the conv's padding,
// holding x - zx (0 in the padding, which is the zero point's real value), Wp = W + 2 pw wide. Output
// pixel (oy, ox) of an image is lane l = oy Wp + ox of a grid as wide as the padded input: tap
// (c, i, j) of every lane then reads padded[c][l + i dh Wp + j dw], one contiguous (unaligned) vector
// load for all lanes. Lanes with ox >= OW are computed and dropped (Wp - OW of every Wp). A task is
// one image and a block of R vectors of lanes; each channel block of up to 6 channels keeps its OB x R
// accumulators in registers over all C kh kw taps, multiplying each loaded vector by the broadcast
// weight w - zw[o]. When every w - zw[o] fits in int16 (always, for int8 weights with zero points in
// int8), the planes are also stored as pairs of int16 (columns p and p + dw in one int32) and the
// kernel multiplies two taps per instruction with vpmaddwd (SSE2 / AVX2 / AVX-512BW; shifts and
// multiplies elsewhere); otherwise one tap per vpmulld.
//
// With TS_DIRECT_DP defined to 1 (the vnni and avxvnni paths: include this file a second time with
// TS_DIRECT_NS naming another namespace, under a GCC target pragma for avx512vnni or avxvnni), the
// pair kernel multiplies and accumulates in one instruction (vpdpwssd, the non-saturating form: the
// same wrapping int32 sum as vpmaddwd + vpaddd, whose pair sums cannot overflow here).
//
// Epilogue (the bits of int8_epilogue_scalar, lane by lane): real = float(double(acc) *
// double(mult[o])) (+ bias[o]), float32 out, or q = nearbyint(real * inv) + zp clamped to
// [qmin, qmax]. When a channel's accumulators are bounded below 2^24 in magnitude (fexact[o]:
// 255 sum_k |w - zw| < 2^24, true for LeNet's layers) float(acc) is exact and the float product
// float(acc) * mult rounds the exact product once, as the double product (exact, 48 bits) rounded to
// float does, so the epilogue multiplies in float32. The rounding uses the 1.5 * 2^23 trick when
// every lane is below 2^22 in magnitude, and the scalar function otherwise (NaN, large values).
// Output rows are copied from a staging buffer in 8-byte pieces (no library call), after every
// channel of the block is staged.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "int8_gemm_isa.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#ifndef TS_DIRECT_VL
#error "define TS_DIRECT_VL (int32 lanes per vector) before including int8_conv_direct.h"
#endif
#ifndef TS_DIRECT_NS
#define TS_DIRECT_NS direct
#endif
#ifndef TS_DIRECT_DP
#define TS_DIRECT_DP 0
#endif

namespace ts {
namespace {
namespace TS_DIRECT_NS {

constexpr int kDirectVl = TS_DIRECT_VL;
constexpr int kDirectR = kDirectVl >= 16 ? 4 : 2;  // vectors of lanes per task: 6 x 4 zmm or 6 x 2 ymm accumulators
constexpr int kDirectOb = 6;                        // channels per block
typedef int32_t dvi __attribute__((vector_size(kDirectVl * 4)));
typedef float dvf __attribute__((vector_size(kDirectVl * 4)));
typedef double dvd __attribute__((vector_size(kDirectVl * 8)));

inline dvi dload(const int32_t* p) { dvi v; std::memcpy(&v, p, sizeof v); return v; }

// Per int32 lane: lo16(v) lo16(w) + hi16(v) hi16(w), the int16 halves signed (vpmaddwd; exact, as
// |halves| <= 255 on the input side and <= 32767 on the weight side).
inline dvi dmadd(dvi v, int32_t w) {
#if TS_DIRECT_VL == 16 && defined(__AVX512BW__)
  return (dvi)_mm512_madd_epi16((__m512i)v, _mm512_set1_epi32(w));
#elif TS_DIRECT_VL == 8 && defined(__AVX2__)
  return (dvi)_mm256_madd_epi16((__m256i)v, _mm256_set1_epi32(w));
#elif TS_DIRECT_VL == 4 && defined(__SSE2__)
  return (dvi)_mm_madd_epi16((__m128i)v, _mm_set1_epi32(w));
#else
  const dvi wl = dvi{} + int32_t(int16_t(uint16_t(uint32_t(w)))), wh = dvi{} + (w >> 16);
  return ((v << 16) >> 16) * wl + (v >> 16) * wh;
#endif
}

// acc + dmadd(v, w): one vpdpwssd on the VNNI paths (TS_DIRECT_DP), else vpmaddwd + vpaddd.
inline dvi dmadd_acc(dvi acc, dvi v, int32_t w) {
#if TS_DIRECT_DP && TS_DIRECT_VL == 16
  return (dvi)_mm512_dpwssd_epi32((__m512i)acc, (__m512i)v, _mm512_set1_epi32(w));
#elif TS_DIRECT_DP && TS_DIRECT_VL == 8
  return (dvi)_mm256_dpwssd_avx_epi32((__m256i)acc, (__m256i)v, _mm256_set1_epi32(w));
#else
  return acc + dmadd(v, w);
#endif
}

// acc + the four u8 x s8 byte products of each lane of v with the bytes of w: one vpdpbusd on the
// VNNI paths; the portable form elsewhere (those paths never set Int8DirectConv::quads).
inline dvi ddot4_acc(dvi acc, dvi v, int32_t w) {
#if TS_DIRECT_DP && TS_DIRECT_VL == 16
  return (dvi)_mm512_dpbusd_epi32((__m512i)acc, (__m512i)v, _mm512_set1_epi32(w));
#elif TS_DIRECT_DP && TS_DIRECT_VL == 8
  return (dvi)_mm256_dpbusd_avx_epi32((__m256i)acc, (__m256i)v, _mm256_set1_epi32(w));
#else
  for (int t = 0; t < 4; t++) acc += ((v >> (8 * t)) & 255) * int32_t(int8_t(uint8_t(uint32_t(w) >> (8 * t))));
  return acc;
#endif
}

// Whether any lane of a comparison mask is set.
inline bool dany(dvi m) {
#if TS_DIRECT_VL == 16 && defined(__AVX512F__)
  return _mm512_test_epi32_mask((__m512i)m, (__m512i)m) != 0;
#elif TS_DIRECT_VL == 8 && defined(__AVX2__)
  return !_mm256_testz_si256((__m256i)m, (__m256i)m);
#elif TS_DIRECT_VL == 4 && defined(__SSE2__)
  return _mm_movemask_epi8((__m128i)m) != 0;
#else
  int32_t any = 0;
  for (int e = 0; e < kDirectVl; e++) any |= m[e];
  return any != 0;
#endif
}

// The low byte of each lane of q into dst[0 .. VL), every lane in [-128, 127] (wide false) or [0, 255]
// (wide true), as q is clamped to the output's range: saturating packs, which are then exact (GCC
// lowers __builtin_convertvector to bytes into one extract and shift per lane below AVX-512).
inline void dstore_bytes(dvi q, bool wide, uint8_t* dst) {
#if TS_DIRECT_VL == 16 && defined(__AVX512F__)
  (void)wide;
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm512_cvtepi32_epi8((__m512i)q));
#elif TS_DIRECT_VL == 8 && defined(__AVX2__)
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128((__m256i)q), _mm256_extracti128_si256((__m256i)q, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), wide ? _mm_packus_epi16(w, w) : _mm_packs_epi16(w, w));
#elif TS_DIRECT_VL == 4 && defined(__SSE2__)
  const __m128i w = _mm_packs_epi32((__m128i)q, (__m128i)q);
  const int32_t b = _mm_cvtsi128_si32(wide ? _mm_packus_epi16(w, w) : _mm_packs_epi16(w, w));
  std::memcpy(dst, &b, 4);
#else
  (void)wide;
  for (int e = 0; e < kDirectVl; e++) dst[e] = uint8_t(q[e]);
#endif
}

// dst[0 .. n) = src[0 .. n) for 0 <= n <= kMaxBytes, in 8-byte pieces (the last one overlapping) and
// no library call: a plain copy loop here would become a memmove call (GCC's loop-distribution
// idiom), which cost more than the copy of a 10- to 28-byte output row.
template <long kMaxBytes>
inline void dcopy(uint8_t* dst, const uint8_t* src, long n) {
  if (n < 8) {
    long at = 0;
    if (n & 4) { std::memcpy(dst, src, 4); at = 4; }
    if (n & 2) { std::memcpy(dst + at, src + at, 2); at += 2; }
    if (n & 1) dst[at] = src[at];
    return;
  }
#pragma GCC unroll 32
  for (long i = 0; i + 8 <= kMaxBytes; i += 8) {
    if (i + 8 <= n) std::memcpy(dst + i, src + i, 8);
  }
  if (n % 8 != 0) std::memcpy(dst + n - 8, src + n - 8, 8);
}

// The same block over pair planes (G = 2, Int8DirectConv::pairs) or quad planes (G = 4, ::quads):
// lane l of plane element p holds the inputs of columns p, p + dw (.., p + 3 dw) as int16 (bytes),
// and each weight word the taps (c, i, G jg ..) (0 past kw), so one vpmaddwd / vpdpwssd (pairs) or
// vpdpbusd (quads) does G taps for every lane.
template <int OB, int G>
void direct_block_grouped(const Int8DirectConv& p, const int32_t* img, long l0, long o0, int32_t* tile) {
  dvi acc[OB][kDirectR];
#pragma GCC unroll 8
  for (int o = 0; o < OB; o++) {
#pragma GCC unroll 8
    for (int r = 0; r < kDirectR; r++) acc[o][r] = dvi{};
  }
  const long kwg = (p.kw + G - 1) / G, KG = p.c * p.kh * kwg, plane = p.hp * p.wp;
  const int32_t* w0 = (G == 4 ? p.wquads : p.wpairs) + o0 * KG;
  long k = 0;
  for (long ch = 0; ch < p.c; ch++) {
    for (long i = 0; i < p.kh; i++) {
      const int32_t* row = img + ch * plane + i * p.dh * p.wp + l0;
      for (long jg = 0; jg < kwg; jg++, k++) {
        const int32_t* src = row + G * jg * p.dw;
        dvi v[kDirectR];
#pragma GCC unroll 8
        for (int r = 0; r < kDirectR; r++) v[r] = dload(src + r * kDirectVl);
#pragma GCC unroll 8
        for (int o = 0; o < OB; o++) {
          const int32_t wk = w0[o * KG + k];
#pragma GCC unroll 8
          for (int r = 0; r < kDirectR; r++) acc[o][r] = G == 4 ? ddot4_acc(acc[o][r], v[r], wk) : dmadd_acc(acc[o][r], v[r], wk);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int o = 0; o < OB; o++) {
#pragma GCC unroll 8
    for (int r = 0; r < kDirectR; r++) std::memcpy(tile + (o * kDirectR + r) * kDirectVl, &acc[o][r], sizeof(dvi));
  }
}

// acc[o][r] for channels o0 .. o0 + OB and lanes l0 + r VL .., over every tap; written to tile[o][R VL].
template <int OB>
void direct_block(const Int8DirectConv& p, const int32_t* img, long l0, long o0, int32_t* tile) {
  dvi acc[OB][kDirectR];
#pragma GCC unroll 8
  for (int o = 0; o < OB; o++) {
#pragma GCC unroll 8
    for (int r = 0; r < kDirectR; r++) acc[o][r] = dvi{} ;
  }
  const long K = p.c * p.kh * p.kw, plane = p.hp * p.wp;
  const int32_t* w0 = p.w + o0 * K;
  long k = 0;
  for (long ch = 0; ch < p.c; ch++) {
    for (long i = 0; i < p.kh; i++) {
      const int32_t* row = img + ch * plane + i * p.dh * p.wp + l0;
      for (long j = 0; j < p.kw; j++, k++) {
        const int32_t* src = row + j * p.dw;
        dvi v[kDirectR];
#pragma GCC unroll 8
        for (int r = 0; r < kDirectR; r++) v[r] = dload(src + r * kDirectVl);
#pragma GCC unroll 8
        for (int o = 0; o < OB; o++) {
          const int32_t wk = w0[o * K + k];
#pragma GCC unroll 8
          for (int r = 0; r < kDirectR; r++) acc[o][r] += v[r] * wk;
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int o = 0; o < OB; o++) {
#pragma GCC unroll 8
    for (int r = 0; r < kDirectR; r++) std::memcpy(tile + (o * kDirectR + r) * kDirectVl, &acc[o][r], sizeof(dvi));
  }
}

// clamp(r + zp) for a rounded product r, as quantizeValue: NaN, infinities and |r| >= 2^63 give qmin.
inline double direct_clamp(float r, double zp, double qmin, double qmax) {
  if (!(std::fabs(double(r)) < 9223372036854775808.0)) return qmin;
  const double q = double(r) + zp;
  return q < qmin ? qmin : q > qmax ? qmax : q;
}

// The block's lanes as row segments: row oy holds lanes oy Wp .. oy Wp + OW; calls f(oy, lane of
// column a, a, e) for the columns a .. e of each row the block touches.
template <class F>
inline void direct_segments(const Int8DirectConv& p, long l0, long lanes, F f) {
  const long wp = p.wp, ow = p.ow;
  for (long oy = l0 / wp; oy * wp < l0 + lanes && oy < p.oh; oy++) {
    const long a = oy * wp < l0 ? l0 - oy * wp : 0, e = l0 + lanes - oy * wp < ow ? l0 + lanes - oy * wp : ow;
    if (a < e) f(oy, oy * wp + a - l0, a, e);
  }
}

// real = float(double(acc) * double(m)) (+ b) for one vector of lanes; in float32 when the
// channel's accumulators are bounded below 2^24 (exact, see the top of this file).
inline dvf direct_real(dvi a, bool fexact, float mf, double m, bool hasBias, float b) {
  dvf v = fexact ? __builtin_convertvector(a, dvf) * mf : __builtin_convertvector(__builtin_convertvector(a, dvd) * m, dvf);
  if (hasBias) v = v + b;
  return v;
}

// The bytes of a task's staging buffer per channel: R VL float32 values (kind 0) or bytes, at least 16
// (dcopy reads 8-byte pieces).
constexpr long kDirectStage = long(kDirectR) * kDirectVl * 4;

// The epilogue of one channel's lanes l0 .. l0 + R VL (raw sums t) into stage: float32 (kind 0) or
// the requantized bytes (int8 bits when signed).
void direct_epilogue(const Int8DirectConv& p, const int32_t* t, long o, uint8_t* stage) {
  typedef uint32_t dvu __attribute__((vector_size(kDirectVl * 4)));
  const double m = double(p.mult[o]);
  const float mf = p.mult[o], b = p.bias != nullptr ? p.bias[o] : 0.0f;
  const bool hasBias = p.bias != nullptr, fexact = p.fexact != nullptr && p.fexact[o] != 0;
  const uint32_t corr = p.corr != nullptr ? uint32_t(p.corr[o]) : 0u;
  const auto accAt = [&](int r) { return (dvi)((dvu)dload(t + r * kDirectVl) - corr); };  // wrapping
  if (p.kind == 0) {
    for (int r = 0; r < kDirectR; r++) {
      const dvf v = direct_real(accAt(r), fexact, mf, m, hasBias, b);
      std::memcpy(stage + r * sizeof v, &v, sizeof v);
    }
    return;
  }
  const float inv = p.inv;
  const bool intZp = std::fabs(p.zp) < 1073741824.0;
  const int32_t zp = intZp ? int32_t(p.zp) : 0, lo = int32_t(p.qmin), hi = int32_t(p.qmax);
  for (int r = 0; r < kDirectR; r++) {
    const dvf v = direct_real(accAt(r), fexact, mf, m, hasBias, b);
    const dvf prod = v * inv;
    // every lane below 2^22 in magnitude (NaN fails)
    if (intZp && !dany(~((prod < 4194304.0f) & (prod > -4194304.0f)))) {
      constexpr float bigf = 12582912.0f;
      dvi qi = __builtin_convertvector((prod + bigf) - bigf, dvi) + zp;
      qi = qi < lo ? dvi{} + lo : qi;
      qi = qi > hi ? dvi{} + hi : qi;
      dstore_bytes(qi, hi > 127, stage + r * kDirectVl);  // the low byte of each lane: int8 bits when signed
    } else {
      for (int e = 0; e < kDirectVl; e++) stage[r * kDirectVl + e] = uint8_t(int32_t(direct_clamp(int8_round_half_even(v[e] * inv), p.zp, p.qmin, p.qmax)));
    }
  }
}

// Channel o's staged lanes l0 .. l0 + R VL of image n into the output rows they belong to.
void direct_store(const Int8DirectConv& p, const uint8_t* stage, long n, long o, long l0) {
  const long L = p.oh * p.ow, lanes = long(kDirectR) * kDirectVl, ow = p.ow, es = p.kind == 0 ? 4 : 1;
  uint8_t* out = static_cast<uint8_t*>(p.out) + (n * p.O + o) * L * es;
  direct_segments(p, l0, lanes, [&](long oy, long at, long a, long e) { dcopy<kDirectStage>(out + (oy * ow + a) * es, stage + at * es, (e - a) * es); });
}

// Task t of p: image t / blocks, lanes (t % blocks) R VL ..; every channel block, then the epilogue.
void direct_task(const Int8DirectConv& p, long t) {
  const long lanes = long(kDirectR) * kDirectVl;
  const long blocks = (p.oh * p.wp + lanes - 1) / lanes;
  const long n = t / blocks, l0 = (t - n * blocks) * lanes;
  const int32_t* img = (p.quads ? p.xquads : p.pairs ? p.xpairs : p.x) + n * p.c * p.hp * p.wp;
  alignas(64) int32_t tile[kDirectOb * kDirectR * kDirectVl];
  alignas(64) uint8_t stage[kDirectOb * kDirectStage];
  for (long o0 = 0; o0 < p.O; o0 += kDirectOb) {
    const long ob = p.O - o0 < kDirectOb ? p.O - o0 : kDirectOb;
    if (p.quads) {
      switch (ob) {
        case 6: direct_block_grouped<6, 4>(p, img, l0, o0, tile); break;
        case 5: direct_block_grouped<5, 4>(p, img, l0, o0, tile); break;
        case 4: direct_block_grouped<4, 4>(p, img, l0, o0, tile); break;
        case 3: direct_block_grouped<3, 4>(p, img, l0, o0, tile); break;
        case 2: direct_block_grouped<2, 4>(p, img, l0, o0, tile); break;
        default: direct_block_grouped<1, 4>(p, img, l0, o0, tile); break;
      }
    } else if (p.pairs) {
      switch (ob) {
        case 6: direct_block_grouped<6, 2>(p, img, l0, o0, tile); break;
        case 5: direct_block_grouped<5, 2>(p, img, l0, o0, tile); break;
        case 4: direct_block_grouped<4, 2>(p, img, l0, o0, tile); break;
        case 3: direct_block_grouped<3, 2>(p, img, l0, o0, tile); break;
        case 2: direct_block_grouped<2, 2>(p, img, l0, o0, tile); break;
        default: direct_block_grouped<1, 2>(p, img, l0, o0, tile); break;
      }
    } else switch (ob) {
      case 6: direct_block<6>(p, img, l0, o0, tile); break;
      case 5: direct_block<5>(p, img, l0, o0, tile); break;
      case 4: direct_block<4>(p, img, l0, o0, tile); break;
      case 3: direct_block<3>(p, img, l0, o0, tile); break;
      case 2: direct_block<2>(p, img, l0, o0, tile); break;
      default: direct_block<1>(p, img, l0, o0, tile); break;
    }
    // every channel of the block is staged before any is copied out: a row copy that reloads bytes
    // just stored by the vector stores would stall on store forwarding
    for (long o = 0; o < ob; o++) direct_epilogue(p, tile + o * lanes, o0 + o, stage + o * kDirectStage);
    for (long o = 0; o < ob; o++) direct_store(p, stage + o * kDirectStage, n, o0 + o, l0);
  }
}

// The Int8GemmIsa entry: tasks [t0, t1) of p.
void int8_conv_direct(const Int8DirectConv& p, long t0, long t1) {
  for (long t = t0; t < t1; t++) direct_task(p, t);
}

}  // namespace TS_DIRECT_NS
}  // namespace
}  // namespace ts
#undef TS_DIRECT_NS
#undef TS_DIRECT_DP
