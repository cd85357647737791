// AVX2 parts of the int8 GEMM (int8_gemm_isa.h; compiled with -mavx2 -mfma, run only when the int8
// path is avx2 or avxvnni). Micro-kernel tile: up to 6 rows x 16 channels (12 ymm accumulators,
// 2 weight vectors).
//   avx2:    activations and weights widened to int16 at packing, vpmaddwd multiplies pairs of k
//            into 32-bit lanes (exact: a pair sum is at most 65280 in magnitude), vpaddd accumulates
//            (wrapping).
//   avxvnni: the VEX-encoded vpdpbusd of AVX-VNNI (Alder Lake and later client cores, Zen 5): u8 x s8
//            products of 4 consecutive k summed into each int32 lane without saturation, on bytes
//            as packed; only these functions are built for avxvnni (a target attribute), so no
//            AVX-VNNI instruction can leak into the avx2 path.
// Both share the 8-lane epilogue, activation packing, quantizer and range finder below, which
// perform the scalar functions' operations lane by lane.
#include <immintrin.h>

#include "int8_gemm_isa.h"
#define TS_DIRECT_VL 8
#include "int8_conv_direct.h"
// the same direct convolution with vpdpwssd, for the avxvnni path only (a target pragma, so no such
// instruction can leak into the plain path above)
#pragma GCC push_options
#pragma GCC target("avxvnni")
#define TS_DIRECT_NS direct_dp
#define TS_DIRECT_DP 1
#include "int8_conv_direct.h"
#pragma GCC pop_options

namespace ts {
namespace {

constexpr int kNr = 16, kMr = 6;

// The accumulators are named variables, not an array: GCC does not keep an array of vectors in
// registers (it spills it to the stack on every k group).
#define TS_ACC_ROW(i) __m256i c##i##0, c##i##1;
#define TS_ACC_INIT(i)                                                                                              \
  if (MR > i) {                                                                                                     \
    if (accumulate) {                                                                                               \
      c##i##0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + i * ldc));                                  \
      c##i##1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + i * ldc + 8));                              \
    } else {                                                                                                        \
      c##i##0 = c##i##1 = _mm256_setzero_si256();                                                                   \
    }                                                                                                               \
  }
#define TS_ACC_STORE(i)                                                                                             \
  if (MR > i) {                                                                                                     \
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + i * ldc), c##i##0);                                          \
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + i * ldc + 8), c##i##1);                                      \
  }
#define TS_AVX2_ROW(i)                                                                                              \
  if (MR > i) {                                                                                                     \
    const __m256i x = _mm256_set1_epi32(*reinterpret_cast<const int32_t*>(a + i * lda + g * 4));                    \
    c##i##0 = _mm256_add_epi32(c##i##0, _mm256_madd_epi16(x, b0));                                                  \
    c##i##1 = _mm256_add_epi32(c##i##1, _mm256_madd_epi16(x, b1));                                                  \
  }
#define TS_AVXVNNI_ROW(i)                                                                                           \
  if (MR > i) {                                                                                                     \
    const __m256i x = _mm256_set1_epi32(*reinterpret_cast<const int32_t*>(a + i * lda + g * 4));                    \
    c##i##0 = _mm256_dpbusd_avx_epi32(c##i##0, x, b0);                                                              \
    c##i##1 = _mm256_dpbusd_avx_epi32(c##i##1, x, b1);                                                              \
  }
#define TS_ROWS(m) m(0) m(1) m(2) m(3) m(4) m(5)

template <int MR>
void tile(long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc, bool accumulate) {
  TS_ROWS(TS_ACC_ROW)
  TS_ROWS(TS_ACC_INIT)
  for (long g = 0; g < groups; g++) {
    const uint8_t* bg = b + g * kNr * 4;  // 16 channels x 2 int16
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bg));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bg + 32));
    TS_ROWS(TS_AVX2_ROW)
  }
  TS_ROWS(TS_ACC_STORE)
}

template <int MR>
__attribute__((target("avxvnni"))) void tile_avxvnni(long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc, bool accumulate) {
  TS_ROWS(TS_ACC_ROW)
  TS_ROWS(TS_ACC_INIT)
  for (long g = 0; g < groups; g++) {
    const uint8_t* bg = b + g * kNr * 4;  // 16 channels x 4 int8
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bg));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bg + 32));
    TS_ROWS(TS_AVXVNNI_ROW)
  }
  TS_ROWS(TS_ACC_STORE)
}

void ukr(int mr, long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc, bool accumulate) {
  switch (mr) {
    case 1: tile<1>(groups, a, lda, b, c, ldc, accumulate); break;
    case 2: tile<2>(groups, a, lda, b, c, ldc, accumulate); break;
    case 3: tile<3>(groups, a, lda, b, c, ldc, accumulate); break;
    case 4: tile<4>(groups, a, lda, b, c, ldc, accumulate); break;
    case 5: tile<5>(groups, a, lda, b, c, ldc, accumulate); break;
    default: tile<6>(groups, a, lda, b, c, ldc, accumulate); break;
  }
}

__attribute__((target("avxvnni"))) void ukr_avxvnni(int mr, long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc, bool accumulate) {
  switch (mr) {
    case 1: tile_avxvnni<1>(groups, a, lda, b, c, ldc, accumulate); break;
    case 2: tile_avxvnni<2>(groups, a, lda, b, c, ldc, accumulate); break;
    case 3: tile_avxvnni<3>(groups, a, lda, b, c, ldc, accumulate); break;
    case 4: tile_avxvnni<4>(groups, a, lda, b, c, ldc, accumulate); break;
    case 5: tile_avxvnni<5>(groups, a, lda, b, c, ldc, accumulate); break;
    default: tile_avxvnni<6>(groups, a, lda, b, c, ldc, accumulate); break;
  }
}

// clamp(r + zp) with NaN, infinities and |r| >= 2^63 -> qmin, as 8 int8 bits in the low 64 bits; r
// already rounded (see int8_gemm_avx512.cc's clamp_to_bytes for why the float sum is exact enough).
inline __m128i clamp_to_bytes(__m256 r, __m256 zp, __m256 qmin, __m256 qmax, bool sgn) {
  const __m256 absr = _mm256_and_ps(r, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
  const __m256 ok = _mm256_cmp_ps(absr, _mm256_set1_ps(9223372036854775808.0f), _CMP_LT_OQ);
  __m256 q = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(r, zp), qmin), qmax);
  q = _mm256_blendv_ps(qmin, q, ok);
  const __m256i qi = _mm256_cvttps_epi32(q);
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(qi), _mm256_extracti128_si256(qi, 1));
  return sgn ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w);
}

void epilogue(const Int8Epilogue& e, const int32_t* tile, long ldt, long m0, long rows, long n0, long cols) {
  const bool fast = e.kind == 0 || std::fabs(e.zp) <= 16777216.0;
  const bool dense = e.chanStride == 1;  // else (a conv's NCHW output) each lane goes chanStride apart
  const long vcols = fast ? cols / 8 * 8 : 0;
  if (vcols > 0) {
    const __m256 inv = _mm256_set1_ps(e.inv), zp = _mm256_set1_ps(float(e.zp));
    const __m256 qmin = _mm256_set1_ps(float(e.qmin)), qmax = _mm256_set1_ps(float(e.qmax));
    for (long i = 0; i < rows; i++) {
      const long m = m0 + i;
      const __m256i rs = _mm256_set1_epi32(int32_t(e.rowsum[m]));
      const long base = int8_out_index(e, m, n0);
      for (long j = 0; j < vcols; j += 8) {
        const long n = n0 + j;
        const __m256i t = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + i * ldt + j));
        const __m256i zw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(e.zw + n));
        const __m256i ct = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(e.cterm + n));
        const __m256i acc = _mm256_add_epi32(_mm256_sub_epi32(t, _mm256_mullo_epi32(zw, rs)), ct);
        const __m128 mlo = _mm_loadu_ps(e.mult + n), mhi = _mm_loadu_ps(e.mult + n + 4);
        const __m128 lo = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(acc)), _mm256_cvtps_pd(mlo)));
        const __m128 hi = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(acc, 1)), _mm256_cvtps_pd(mhi)));
        __m256 real = _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
        if (e.bias != nullptr) real = _mm256_add_ps(real, _mm256_loadu_ps(e.bias + n));
        if (e.kind == 0) {
          float* o = static_cast<float*>(e.out) + base;
          if (dense) { _mm256_storeu_ps(o + j, real); continue; }
          alignas(32) float lanes[8];
          _mm256_store_ps(lanes, real);
          for (long l = 0; l < 8; l++) o[(j + l) * e.chanStride] = lanes[l];
        } else {
          const __m256 r = _mm256_round_ps(_mm256_mul_ps(real, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
          uint8_t* o = static_cast<uint8_t*>(e.out) + base;
          if (dense) { _mm_storel_epi64(reinterpret_cast<__m128i*>(o + j), clamp_to_bytes(r, zp, qmin, qmax, e.outSigned)); continue; }
          alignas(16) uint8_t lanes[16];
          _mm_store_si128(reinterpret_cast<__m128i*>(lanes), clamp_to_bytes(r, zp, qmin, qmax, e.outSigned));
          for (long l = 0; l < 8; l++) o[(j + l) * e.chanStride] = lanes[l];
        }
      }
    }
  }
  if (vcols < cols) int8_epilogue_scalar(e, tile + vcols, ldt, m0, rows, n0 + vcols, cols - vcols);
}

template <int XB>
uint32_t pack_row(const uint8_t* src, long K, long kpad, uint8_t flip, uint8_t* dst) {
  const __m256i f = _mm256_set1_epi8(char(flip)), zero = _mm256_setzero_si256();
  __m256i sums = zero;
  long k = 0;
  for (; k + 32 <= K; k += 32) {
    const __m256i u = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + k)), f);
    sums = _mm256_add_epi64(sums, _mm256_sad_epu8(u, zero));
    if (XB == 1) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k), u);
    } else {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 2 * k), _mm256_cvtepu8_epi16(_mm256_castsi256_si128(u)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 2 * k + 32), _mm256_cvtepu8_epi16(_mm256_extracti128_si256(u, 1)));
    }
  }
  alignas(32) uint64_t part[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(part), sums);
  const uint32_t head = uint32_t(part[0] + part[1] + part[2] + part[3]);
  return head + int8_pack_row_scalar(src + k, K - k, kpad - k, flip, XB, dst + XB * k);
}

// The codes of 8 values before the final clamp: nearbyint(x inv) + zp as int32, and qmin where x inv
// is NaN, infinite or |x inv| >= 2^63 (quantizeValue). vcvtps2dq rounds to nearest even (the default
// MXCSR mode, which the scalar 1.5 x 2^23 rounding assumes too) after |x inv| is clamped to 2^30, where
// every code saturates anyway (|zp| <= 2^24), so the conversion cannot overflow; NaN leaves max_ps as
// its second operand, and the mask replaces it. The saturating packs of the caller clamp to [qmin, qmax].
inline __m256i codes8(const float* x, __m256 inv, __m256i zp, __m256i qmin) {
  const __m256 p = _mm256_mul_ps(_mm256_loadu_ps(x), inv);
  const __m256 absp = _mm256_and_ps(p, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
  const __m256 ok = _mm256_cmp_ps(absp, _mm256_set1_ps(9223372036854775808.0f), _CMP_LT_OQ);
  const __m256 pc = _mm256_min_ps(_mm256_max_ps(p, _mm256_set1_ps(-1073741824.0f)), _mm256_set1_ps(1073741824.0f));
  const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(pc), zp);
  return _mm256_blendv_epi8(qmin, q, _mm256_castps_si256(ok));
}

// 32 values per step: four vectors of int32 codes, saturated to int16 then to 8 bits by the packs (the
// clamp to [qmin, qmax]), lanes put back in order by one permute; the tail (< 32) is scalar.
void quantize(const float* x, long n, float inv, long zp, bool sgn, uint8_t* out) {
  long i = 0;
  if (zp >= -16777216 && zp <= 16777216) {
    const __m256 vinv = _mm256_set1_ps(inv);
    const __m256i vzp = _mm256_set1_epi32(int32_t(zp)), qmin = _mm256_set1_epi32(sgn ? -128 : 0);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (; i + 32 <= n; i += 32) {
      const __m256i ab = _mm256_packs_epi32(codes8(x + i, vinv, vzp, qmin), codes8(x + i + 8, vinv, vzp, qmin));
      const __m256i cd = _mm256_packs_epi32(codes8(x + i + 16, vinv, vzp, qmin), codes8(x + i + 24, vinv, vzp, qmin));
      const __m256i bytes = sgn ? _mm256_packs_epi16(ab, cd) : _mm256_packus_epi16(ab, cd);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_permutevar8x32_epi32(bytes, order));
    }
  }
  int8_quantize_scalar(x + i, n - i, inv, zp, sgn, out + i);
}

// min and max over 4 independent chains of vminps / vmaxps (their latency is 4 cycles: one chain ran
// at 8 values per 4 cycles, 12.9 us for 32K values); the non-finite check is an integer max of the
// bits with the sign cleared (1-cycle vpmaxud; a float is NaN or infinite iff those bits are >=
// 0x7f800000), checked once at the end: only an input that holds one scans again for the first.
long range(const float* x, long n, float* lo, float* hi) {
  const __m256i absmask = _mm256_set1_epi32(0x7fffffff);
  __m256 l0 = _mm256_set1_ps(INFINITY), l1 = l0, l2 = l0, l3 = l0;
  __m256 h0 = _mm256_set1_ps(-INFINITY), h1 = h0, h2 = h0, h3 = h0;
  __m256i a0 = _mm256_setzero_si256(), a1 = a0;
  long i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8), v2 = _mm256_loadu_ps(x + i + 16), v3 = _mm256_loadu_ps(x + i + 24);
    l0 = _mm256_min_ps(l0, v0); l1 = _mm256_min_ps(l1, v1); l2 = _mm256_min_ps(l2, v2); l3 = _mm256_min_ps(l3, v3);
    h0 = _mm256_max_ps(h0, v0); h1 = _mm256_max_ps(h1, v1); h2 = _mm256_max_ps(h2, v2); h3 = _mm256_max_ps(h3, v3);
    a0 = _mm256_max_epu32(a0, _mm256_and_si256(_mm256_castps_si256(v0), absmask));
    a1 = _mm256_max_epu32(a1, _mm256_and_si256(_mm256_castps_si256(v1), absmask));
    a0 = _mm256_max_epu32(a0, _mm256_and_si256(_mm256_castps_si256(v2), absmask));
    a1 = _mm256_max_epu32(a1, _mm256_and_si256(_mm256_castps_si256(v3), absmask));
  }
  alignas(32) uint32_t bits[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(bits), _mm256_max_epu32(a0, a1));
  for (int j = 0; j < 8; j++) {
    if (bits[j] >= 0x7f800000u) {  // a NaN or an infinity in x[0, i): find the first
      for (long k = 0; k < i; k++) if (!std::isfinite(x[k])) return k;
    }
  }
  float tl, th;
  const long bad = int8_range_scalar(x + i, n - i, &tl, &th);
  if (bad >= 0) return i + bad;
  alignas(32) float ls[8], hs[8];
  _mm256_store_ps(ls, _mm256_min_ps(_mm256_min_ps(l0, l1), _mm256_min_ps(l2, l3)));
  _mm256_store_ps(hs, _mm256_max_ps(_mm256_max_ps(h0, h1), _mm256_max_ps(h2, h3)));
  for (int j = 0; j < 8; j++) { tl = ls[j] < tl ? ls[j] : tl; th = hs[j] > th ? hs[j] : th; }
  *lo = tl;
  *hi = th;
  return -1;
}

const Int8GemmIsa kAvx2{"avx2", kNr, 2, 2, 2, kMr, ukr, epilogue, pack_row<2>, quantize, range, direct::int8_conv_direct, direct::kDirectR * direct::kDirectVl, false};
const Int8GemmIsa kAvxVnni{"avxvnni", kNr, 4, 1, 1, kMr, ukr_avxvnni, epilogue, pack_row<1>, quantize, range, direct_dp::int8_conv_direct, direct_dp::kDirectR * direct_dp::kDirectVl, true};

}  // namespace

const Int8GemmIsa* int8_gemm_avx2() { return &kAvx2; }
const Int8GemmIsa* int8_gemm_avxvnni() { return &kAvxVnni; }

}  // namespace ts
