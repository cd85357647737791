// AVX-512 parts of the int8 GEMM (int8_gemm_isa.h; compiled with the AVX-512 F/BW/DQ/VL flags, run
// only when the int8 path says the CPU has them). Micro-kernel tile: up to 6 rows x 64 channels
// (24 zmm accumulators, 4 weight vectors), activations broadcast 4 bytes at a time.
//   avx512: both operands widened to int16 at packing, vpmaddwd + vpaddd (exact pair sums, wrapping
//           accumulation), for AVX-512BW CPUs without VNNI.
//   vnni:   vpdpbusd, u8 x s8 products of 4 consecutive k summed into each int32 lane without
//           saturation (the non-"s" form); only these functions are built for avx512vnni (a target
//           attribute), so no VNNI instruction can leak into the avx512 path.
// Both share the 16-lane epilogue, activation packing, quantizer and range finder below (plain
// AVX-512F/BW/DQ), which perform the scalar functions' operations lane by lane.
#include <immintrin.h>

#include "int8_gemm_isa.h"
#define TS_DIRECT_VL 16
#include "int8_conv_direct.h"
// the same direct convolution with vpdpwssd, for the vnni path only (a target pragma, so no such
// instruction can leak into the plain path above)
#pragma GCC push_options
#pragma GCC target("avx512vnni")
#define TS_DIRECT_NS direct_dp
#define TS_DIRECT_DP 1
#include "int8_conv_direct.h"
#pragma GCC pop_options

namespace ts {
namespace {

constexpr int kNr = 64, kMr = 6;

// The accumulators are named variables, not an array: GCC does not keep a 24-vector array in
// registers (it spills it to the stack on every k group, a 3x slowdown measured on Ice Lake).
#define TS_ACC_ROW(i) __m512i c##i##0, c##i##1, c##i##2, c##i##3;
#define TS_ACC_INIT(i)                                                                                              \
  if (MR > i) {                                                                                                     \
    if (accumulate) {                                                                                               \
      c##i##0 = _mm512_loadu_si512(c + i * ldc); c##i##1 = _mm512_loadu_si512(c + i * ldc + 16);                    \
      c##i##2 = _mm512_loadu_si512(c + i * ldc + 32); c##i##3 = _mm512_loadu_si512(c + i * ldc + 48);               \
    } else {                                                                                                        \
      c##i##0 = c##i##1 = c##i##2 = c##i##3 = _mm512_setzero_si512();                                               \
    }                                                                                                               \
  }
#define TS_ACC_STORE(i)                                                                                             \
  if (MR > i) {                                                                                                     \
    _mm512_storeu_si512(c + i * ldc, c##i##0); _mm512_storeu_si512(c + i * ldc + 16, c##i##1);                      \
    _mm512_storeu_si512(c + i * ldc + 32, c##i##2); _mm512_storeu_si512(c + i * ldc + 48, c##i##3);                 \
  }
#define TS_BW_ROW(i)                                                                                                \
  if (MR > i) {                                                                                                     \
    const __m512i x = _mm512_set1_epi32(*reinterpret_cast<const int32_t*>(a + i * lda + g * 4));                    \
    c##i##0 = _mm512_add_epi32(c##i##0, _mm512_madd_epi16(x, b0)); c##i##1 = _mm512_add_epi32(c##i##1, _mm512_madd_epi16(x, b1)); \
    c##i##2 = _mm512_add_epi32(c##i##2, _mm512_madd_epi16(x, b2)); c##i##3 = _mm512_add_epi32(c##i##3, _mm512_madd_epi16(x, b3)); \
  }
#define TS_VNNI_ROW(i)                                                                                              \
  if (MR > i) {                                                                                                     \
    const __m512i x = _mm512_set1_epi32(*reinterpret_cast<const int32_t*>(a + i * lda + g * 4));                    \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, x, b0); c##i##1 = _mm512_dpbusd_epi32(c##i##1, x, b1);                   \
    c##i##2 = _mm512_dpbusd_epi32(c##i##2, x, b2); c##i##3 = _mm512_dpbusd_epi32(c##i##3, x, b3);                   \
  }
#define TS_ROWS(m) m(0) m(1) m(2) m(3) m(4) m(5)

template <int MR>
void tile_bw(long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc, bool accumulate) {
  TS_ROWS(TS_ACC_ROW)
  TS_ROWS(TS_ACC_INIT)
  for (long g = 0; g < groups; g++) {
    const uint8_t* bg = b + g * kNr * 4;  // 64 channels x 2 int16
    const __m512i b0 = _mm512_loadu_si512(bg), b1 = _mm512_loadu_si512(bg + 64);
    const __m512i b2 = _mm512_loadu_si512(bg + 128), b3 = _mm512_loadu_si512(bg + 192);
    TS_ROWS(TS_BW_ROW)
  }
  TS_ROWS(TS_ACC_STORE)
}

template <int MR>
__attribute__((target("avx512vnni"))) void tile_vnni(long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc, bool accumulate) {
  TS_ROWS(TS_ACC_ROW)
  TS_ROWS(TS_ACC_INIT)
  for (long g = 0; g < groups; g++) {
    const uint8_t* bg = b + g * kNr * 4;  // 64 channels x 4 int8
    const __m512i b0 = _mm512_loadu_si512(bg), b1 = _mm512_loadu_si512(bg + 64);
    const __m512i b2 = _mm512_loadu_si512(bg + 128), b3 = _mm512_loadu_si512(bg + 192);
    TS_ROWS(TS_VNNI_ROW)
  }
  TS_ROWS(TS_ACC_STORE)
}

void ukr_bw(int mr, long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc, bool accumulate) {
  switch (mr) {
    case 1: tile_bw<1>(groups, a, lda, b, c, ldc, accumulate); break;
    case 2: tile_bw<2>(groups, a, lda, b, c, ldc, accumulate); break;
    case 3: tile_bw<3>(groups, a, lda, b, c, ldc, accumulate); break;
    case 4: tile_bw<4>(groups, a, lda, b, c, ldc, accumulate); break;
    case 5: tile_bw<5>(groups, a, lda, b, c, ldc, accumulate); break;
    default: tile_bw<6>(groups, a, lda, b, c, ldc, accumulate); break;
  }
}

__attribute__((target("avx512vnni"))) void ukr_vnni(int mr, long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc, bool accumulate) {
  switch (mr) {
    case 1: tile_vnni<1>(groups, a, lda, b, c, ldc, accumulate); break;
    case 2: tile_vnni<2>(groups, a, lda, b, c, ldc, accumulate); break;
    case 3: tile_vnni<3>(groups, a, lda, b, c, ldc, accumulate); break;
    case 4: tile_vnni<4>(groups, a, lda, b, c, ldc, accumulate); break;
    case 5: tile_vnni<5>(groups, a, lda, b, c, ldc, accumulate); break;
    default: tile_vnni<6>(groups, a, lda, b, c, ldc, accumulate); break;
  }
}

// clamp(r + zp) with NaN, infinities and |r| >= 2^63 -> qmin, as int8 bits; r already rounded. The
// float sum equals the scalar double one wherever the clamp does not decide the result (|zp| <= 2^24
// is exact; beyond 2^24 both sums are far outside [qmin, qmax], and rounding is monotonic).
inline __m128i clamp_to_bytes(__m512 r, __m512 zp, __m512 qmin, __m512 qmax) {
  const __mmask16 ok = _mm512_cmp_ps_mask(_mm512_abs_ps(r), _mm512_set1_ps(9223372036854775808.0f), _CMP_LT_OQ);
  __m512 q = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(r, zp), qmin), qmax);
  q = _mm512_mask_blend_ps(ok, qmin, q);
  return _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(q));
}

// The vector epilogue of `rows` rows of 16 raw sums (raw, 16 apart) for channels n.. n + 16, of which
// only the first `rem` are stored; zw16, ct16, mult16 and bias16 (or null) hold 16 lanes each.
void tail16(const Int8Epilogue& e, const int32_t* raw, long m0, long rows, long n, long rem, const int32_t* zw16, const uint32_t* ct16,
            const float* mult16, const float* bias16) {
  const __m512 inv = _mm512_set1_ps(e.inv), zp = _mm512_set1_ps(float(e.zp));
  const __m512 qmin = _mm512_set1_ps(float(e.qmin)), qmax = _mm512_set1_ps(float(e.qmax));
  const __m512i zw = _mm512_loadu_si512(zw16), ct = _mm512_loadu_si512(ct16);
  const __m512 mult = _mm512_loadu_ps(mult16);
  const __m512d mlo = _mm512_cvtps_pd(_mm512_castps512_ps256(mult)), mhi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(mult, 1));
  for (long i = 0; i < rows; i++) {
    const long m = m0 + i;
    const __m512i acc = _mm512_add_epi32(_mm512_sub_epi32(_mm512_loadu_si512(raw + 16 * i), _mm512_mullo_epi32(zw, _mm512_set1_epi32(int32_t(e.rowsum[m])))), ct);
    const __m256 lo = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(acc)), mlo));
    const __m256 hi = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(acc, 1)), mhi));
    __m512 real = _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
    if (bias16 != nullptr) real = _mm512_add_ps(real, _mm512_loadu_ps(bias16));
    const long base = int8_out_index(e, m, n);
    if (e.kind == 0) {
      alignas(64) float lanes[16];
      _mm512_store_ps(lanes, real);
      float* o = static_cast<float*>(e.out) + base;
      for (long l = 0; l < rem; l++) o[l * e.chanStride] = lanes[l];
    } else {
      const __m512 r = _mm512_roundscale_ps(_mm512_mul_ps(real, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      alignas(16) uint8_t lanes[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(lanes), clamp_to_bytes(r, zp, qmin, qmax));
      uint8_t* o = static_cast<uint8_t*>(e.out) + base;
      for (long l = 0; l < rem; l++) o[l * e.chanStride] = lanes[l];
    }
  }
}

void epilogue(const Int8Epilogue& e, const int32_t* tile, long ldt, long m0, long rows, long n0, long cols) {
  const bool fast = e.kind == 0 || std::fabs(e.zp) <= 16777216.0;
  const bool dense = e.chanStride == 1;  // else (a conv's NCHW output) each lane goes chanStride apart
  const long vcols = fast ? cols / 16 * 16 : 0;
  if (vcols > 0) {
    const __m512 inv = _mm512_set1_ps(e.inv), zp = _mm512_set1_ps(float(e.zp));
    const __m512 qmin = _mm512_set1_ps(float(e.qmin)), qmax = _mm512_set1_ps(float(e.qmax));
    for (long i = 0; i < rows; i++) {
      const long m = m0 + i;
      const __m512i rs = _mm512_set1_epi32(int32_t(e.rowsum[m]));
      const long base = int8_out_index(e, m, n0);
      for (long j = 0; j < vcols; j += 16) {
        const long n = n0 + j;
        const __m512i t = _mm512_loadu_si512(tile + i * ldt + j);
        const __m512i zw = _mm512_loadu_si512(e.zw + n), ct = _mm512_loadu_si512(e.cterm + n);
        const __m512i acc = _mm512_add_epi32(_mm512_sub_epi32(t, _mm512_mullo_epi32(zw, rs)), ct);
        const __m512 mult = _mm512_loadu_ps(e.mult + n);
        const __m256 lo = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(acc)), _mm512_cvtps_pd(_mm512_castps512_ps256(mult))));
        const __m256 hi = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(acc, 1)), _mm512_cvtps_pd(_mm512_extractf32x8_ps(mult, 1))));
        __m512 real = _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
        if (e.bias != nullptr) real = _mm512_add_ps(real, _mm512_loadu_ps(e.bias + n));
        if (e.kind == 0) {
          float* o = static_cast<float*>(e.out) + base;
          if (dense) { _mm512_storeu_ps(o + j, real); continue; }
          alignas(64) float lanes[16];
          _mm512_store_ps(lanes, real);
          for (long l = 0; l < 16; l++) o[(j + l) * e.chanStride] = lanes[l];
        } else {
          const __m512 r = _mm512_roundscale_ps(_mm512_mul_ps(real, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
          uint8_t* o = static_cast<uint8_t*>(e.out) + base;
          if (dense) { _mm_storeu_si128(reinterpret_cast<__m128i*>(o + j), clamp_to_bytes(r, zp, qmin, qmax)); continue; }
          alignas(16) uint8_t lanes[16];
          _mm_store_si128(reinterpret_cast<__m128i*>(lanes), clamp_to_bytes(r, zp, qmin, qmax));
          for (long l = 0; l < 16; l++) o[(j + l) * e.chanStride] = lanes[l];
        }
      }
    }
  }
  if (vcols < cols && fast) {
    // the last cols - vcols (< 16) channels: the same lane operations on zero-padded copies, then
    // only the real lanes stored
    const long rem = cols - vcols, n = n0 + vcols;
    const __mmask16 mask = __mmask16((1u << rem) - 1);
    alignas(64) int32_t zw[16] = {}, raw[16 * 8];
    alignas(64) uint32_t ct[16] = {};
    alignas(64) float mult[16] = {}, bias[16] = {};
    for (long l = 0; l < rem; l++) { zw[l] = e.zw[n + l]; ct[l] = e.cterm[n + l]; mult[l] = e.mult[n + l]; if (e.bias) bias[l] = e.bias[n + l]; }
    for (long i0 = 0; i0 < rows; i0 += 8) {
      const long rr = rows - i0 < 8 ? rows - i0 : 8;
      for (long i = 0; i < rr; i++) _mm512_store_si512(raw + 16 * i, _mm512_maskz_loadu_epi32(mask, tile + (i0 + i) * ldt + vcols));
      tail16(e, raw, m0 + i0, rr, n, rem, zw, ct, mult, e.bias ? bias : nullptr);
    }
    return;
  }
  if (vcols < cols) int8_epilogue_scalar(e, tile + vcols, ldt, m0, rows, n0 + vcols, cols - vcols);
}

template <int XB>
uint32_t pack_row(const uint8_t* src, long K, long kpad, uint8_t flip, uint8_t* dst) {
  const __m512i f = _mm512_set1_epi8(char(flip)), zero = _mm512_setzero_si512();
  __m512i sums = zero;
  long k = 0;
  for (; k + 64 <= K; k += 64) {
    const __m512i u = _mm512_xor_si512(_mm512_loadu_si512(src + k), f);
    sums = _mm512_add_epi64(sums, _mm512_sad_epu8(u, zero));
    if (XB == 1) {
      _mm512_storeu_si512(dst + k, u);
    } else {
      _mm512_storeu_si512(dst + 2 * k, _mm512_cvtepu8_epi16(_mm512_castsi512_si256(u)));
      _mm512_storeu_si512(dst + 2 * k + 64, _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(u, 1)));
    }
  }
  const uint32_t head = uint32_t(_mm512_reduce_add_epi64(sums));
  return head + int8_pack_row_scalar(src + k, K - k, kpad - k, flip, XB, dst + XB * k);
}

// 16 values per step, as the AVX2 quantizer (int8_gemm_avx2.cc, codes8): nearbyint(x inv) + zp in
// int32 after clamping |x inv| to 2^30 (vcvtps2dq, nearest even), qmin under the mask of NaN,
// infinities and |x inv| >= 2^63, then a saturating narrowing to 8 bits (the clamp to [qmin, qmax]).
void quantize(const float* x, long n, float inv, long zp, bool sgn, uint8_t* out) {
  long i = 0;
  if (zp >= -16777216 && zp <= 16777216) {
    const __m512 vinv = _mm512_set1_ps(inv), lo = _mm512_set1_ps(-1073741824.0f), hi = _mm512_set1_ps(1073741824.0f);
    const __m512 big = _mm512_set1_ps(9223372036854775808.0f);
    const __m512i vzp = _mm512_set1_epi32(int32_t(zp)), qmin = _mm512_set1_epi32(sgn ? -128 : 0);
    for (; i + 16 <= n; i += 16) {
      const __m512 p = _mm512_mul_ps(_mm512_loadu_ps(x + i), vinv);
      const __mmask16 ok = _mm512_cmp_ps_mask(_mm512_abs_ps(p), big, _CMP_LT_OQ);
      const __m512i q = _mm512_mask_blend_epi32(ok, qmin, _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(p, lo), hi)), vzp));
      const __m128i b = sgn ? _mm512_cvtsepi32_epi8(q) : _mm512_cvtusepi32_epi8(_mm512_max_epi32(q, _mm512_setzero_si512()));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), b);
    }
  }
  int8_quantize_scalar(x + i, n - i, inv, zp, sgn, out + i);
}

// min and max over 4 independent chains (vminps / vmaxps latency is 4 cycles), the non-finite check
// an integer max of the bits with the sign cleared (>= 0x7f800000: NaN or infinite), as the AVX2
// range finder (int8_gemm_avx2.cc).
long range(const float* x, long n, float* lo, float* hi) {
  const __m512i absmask = _mm512_set1_epi32(0x7fffffff);
  __m512 l0 = _mm512_set1_ps(INFINITY), l1 = l0, l2 = l0, l3 = l0;
  __m512 h0 = _mm512_set1_ps(-INFINITY), h1 = h0, h2 = h0, h3 = h0;
  __m512i a0 = _mm512_setzero_si512(), a1 = a0;
  long i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16), v2 = _mm512_loadu_ps(x + i + 32), v3 = _mm512_loadu_ps(x + i + 48);
    l0 = _mm512_min_ps(l0, v0); l1 = _mm512_min_ps(l1, v1); l2 = _mm512_min_ps(l2, v2); l3 = _mm512_min_ps(l3, v3);
    h0 = _mm512_max_ps(h0, v0); h1 = _mm512_max_ps(h1, v1); h2 = _mm512_max_ps(h2, v2); h3 = _mm512_max_ps(h3, v3);
    a0 = _mm512_max_epu32(a0, _mm512_and_si512(_mm512_castps_si512(v0), absmask));
    a1 = _mm512_max_epu32(a1, _mm512_and_si512(_mm512_castps_si512(v1), absmask));
    a0 = _mm512_max_epu32(a0, _mm512_and_si512(_mm512_castps_si512(v2), absmask));
    a1 = _mm512_max_epu32(a1, _mm512_and_si512(_mm512_castps_si512(v3), absmask));
  }
  if (_mm512_reduce_max_epu32(_mm512_max_epu32(a0, a1)) >= 0x7f800000u) {  // a NaN or an infinity in x[0, i): find the first
    for (long k = 0; k < i; k++) if (!std::isfinite(x[k])) return k;
  }
  float tl, th;
  const long bad = int8_range_scalar(x + i, n - i, &tl, &th);
  if (bad >= 0) return i + bad;
  const float vl = _mm512_reduce_min_ps(_mm512_min_ps(_mm512_min_ps(l0, l1), _mm512_min_ps(l2, l3)));
  const float vh = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(h0, h1), _mm512_max_ps(h2, h3)));
  *lo = tl < vl ? tl : vl;
  *hi = th > vh ? th : vh;
  return -1;
}

const Int8GemmIsa kAvx512{"avx512", kNr, 2, 2, 2, kMr, ukr_bw, epilogue, pack_row<2>, quantize, range, direct::int8_conv_direct, direct::kDirectR * direct::kDirectVl, false};
const Int8GemmIsa kVnni{"vnni", kNr, 4, 1, 1, kMr, ukr_vnni, epilogue, pack_row<1>, quantize, range, direct_dp::int8_conv_direct, direct_dp::kDirectR * direct_dp::kDirectVl, true};

}  // namespace

const Int8GemmIsa* int8_gemm_avx512() { return &kAvx512; }
const Int8GemmIsa* int8_gemm_vnni() { return &kVnni; }

}  // namespace ts
