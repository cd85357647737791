// weightOnlyLinear: y = x @ dequant(W)^T + b for the weight-only quantized Linear layers (issue #20):
// x (M, K) float32, W int8 (N, K) or int4 (N, K/2 bytes, column 2j in the low nibble of byte j,
// 2j+1 in the high one) with one float32 scale and one int32 zero point per group of G columns,
// y (M, N) float32. The twin of weightOnlyLinearReference in src/backend/weight_only.ts (layout
// there); TypeScript binding: src/backends/native/weight_only_linear.ts.
//
// Output rows are spread over the thread pool. Paths follow the float32 CPU path (TENSORSLIM_CPU /
// setCpuPath, so `TENSORSLIM_CPU=avx2` or `generic` forces a lower one on any machine):
//  - avx512 / avx2 (when G is a multiple of 16 / 8 columns): dequantize inside the matmul. Per
//    weight row and group, 16 (8) weights are widened in registers (int8: sign-extend; int4: split
//    the nibbles and interleave them back into column order), turned into float32 exactly as the
//    twin does (float(q) - float(z), times the scale: one rounding, fround(scale * (q - z))), and
//    multiplied into up to 4 input rows at once with FMA (two accumulators per row when M = 1).
//    No float copy of the weight exists at all. Functions compiled with target attributes, so this
//    file needs no per-ISA flags.
//  - generic (and group sizes the SIMD paths do not cover): each row is dequantized into a
//    thread-local float buffer of K values, then dotted with each input row with 8 float32
//    accumulators (portable C++).
// Sums run in float32 in another order than the twin's double sums: results agree to rounding
// (tests compare every path with a tolerance).

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "binding.h"
#include "common.h"
#include "threadpool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TS_WO_X86 1
#endif

namespace ts {

namespace {

void dequant_row(int bits, long n, long K, long G, const uint8_t* data, const float* scales, const int32_t* zeros, float* out) {
  const long nG = K / G;
  for (long g = 0; g < nG; g++) {
    const float s = scales[n * nG + g];
    const int z = zeros[n * nG + g];
    const long k0 = g * G;
    if (bits == 8) {
      const int8_t* d = reinterpret_cast<const int8_t*>(data) + n * K;
      for (long k = k0; k < k0 + G; k++) out[k] = s * float(int(d[k]) - z);
    } else {
      const uint8_t* d = data + (n * K) / 2;
      for (long k = k0; k < k0 + G; k += 2) {
        const uint8_t b = d[k >> 1];
        out[k] = s * float(int(b & 15) - z);
        out[k + 1] = s * float(int(b >> 4) - z);
      }
    }
  }
}

float dot(const float* a, const float* b, long K) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  long k = 0;
  for (; k + 8 <= K; k += 8) {
    for (int j = 0; j < 8; j++) acc[j] += a[k + j] * b[k + j];
  }
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; k < K; k++) s += a[k] * b[k];
  return s;
}

#if TS_WO_X86
// GCC 12 flags its own intrinsics' deliberately undefined pass-through operands when they are inlined
// into target-attribute functions (a known false positive); nothing here reads an undefined value.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// 16 weights from flat element index e (int8: sign-extended; int4: the nibbles of 8 bytes split and
// interleaved back into column order, low nibble first) as int32 lanes.
__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"))) inline __m512i weights16(int bits, const uint8_t* data, long e) {
  if (bits == 8) return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + e)));
  const __m128i lo4 = _mm_set1_epi8(15);
  const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(data + e / 2));
  const __m128i lo = _mm_and_si128(b, lo4), hi = _mm_and_si128(_mm_srli_epi16(b, 4), lo4);
  return _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi));
}

// 8 weights from flat element index e, as weights16.
__attribute__((target("avx2,fma"))) inline __m256i weights8(int bits, const uint8_t* data, long e) {
  if (bits == 8) return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(data + e)));
  int32_t four;
  std::memcpy(&four, data + e / 2, 4);
  const __m128i lo4 = _mm_set1_epi8(15);
  const __m128i b = _mm_cvtsi32_si128(four);
  const __m128i lo = _mm_and_si128(b, lo4), hi = _mm_and_si128(_mm_srli_epi16(b, 4), lo4);
  return _mm256_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi));
}

// Rows m0..m0+MB of y for weight row n: y[m][n] = sum_k x[m][k] * dequant(W)[n][k] (+ bias by the caller).
template <int MB>
__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"))) void row_avx512(int bits, long n, long K, long G, const uint8_t* data, const float* scales,
                                                                        const int32_t* zeros, const float* x, long m0, float* dots) {
  const long nG = K / G;
  __m512 acc[MB], acc2[MB];
  for (int i = 0; i < MB; i++) { acc[i] = _mm512_setzero_ps(); acc2[i] = _mm512_setzero_ps(); }
#define weights(k) weights16(bits, data, n * K + (k))
  for (long g = 0; g < nG; g++) {
    const __m512 s = _mm512_set1_ps(scales[n * nG + g]);
    const __m512 z = _mm512_set1_ps(float(zeros[n * nG + g]));
    const long k0 = g * G, k1 = k0 + G;
    long k = k0;
    if (MB == 1) {
      for (; k + 32 <= k1; k += 32) {
        const __m512 w0 = _mm512_mul_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(weights(k)), z), s);
        const __m512 w1 = _mm512_mul_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(weights(k + 16)), z), s);
        acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(x + m0 * K + k), w0, acc[0]);
        acc2[0] = _mm512_fmadd_ps(_mm512_loadu_ps(x + m0 * K + k + 16), w1, acc2[0]);
      }
    }
    for (; k < k1; k += 16) {
      const __m512 w = _mm512_mul_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(weights(k)), z), s);
#pragma GCC unroll 4
      for (int i = 0; i < MB; i++) acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(x + (m0 + i) * K + k), w, acc[i]);
    }
  }
  for (int i = 0; i < MB; i++) dots[i] = _mm512_reduce_add_ps(_mm512_add_ps(acc[i], acc2[i]));
}
#undef weights

__attribute__((target("avx2,fma"))) inline float hsum256(__m256 v) {
  const __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 b = _mm_add_ps(a, _mm_movehl_ps(a, a));
  return _mm_cvtss_f32(_mm_add_ss(b, _mm_shuffle_ps(b, b, 1)));
}

template <int MB>
__attribute__((target("avx2,fma"))) void row_avx2(int bits, long n, long K, long G, const uint8_t* data, const float* scales,
                                                  const int32_t* zeros, const float* x, long m0, float* dots) {
  const long nG = K / G;
  __m256 acc[MB], acc2[MB];
  for (int i = 0; i < MB; i++) { acc[i] = _mm256_setzero_ps(); acc2[i] = _mm256_setzero_ps(); }
#define weights(k) weights8(bits, data, n * K + (k))
  for (long g = 0; g < nG; g++) {
    const __m256 s = _mm256_set1_ps(scales[n * nG + g]);
    const __m256 z = _mm256_set1_ps(float(zeros[n * nG + g]));
    const long k0 = g * G, k1 = k0 + G;
    long k = k0;
    if (MB == 1) {
      for (; k + 16 <= k1; k += 16) {
        const __m256 w0 = _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(weights(k)), z), s);
        const __m256 w1 = _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(weights(k + 8)), z), s);
        acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + m0 * K + k), w0, acc[0]);
        acc2[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + m0 * K + k + 8), w1, acc2[0]);
      }
    }
    for (; k < k1; k += 8) {
      const __m256 w = _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(weights(k)), z), s);
#pragma GCC unroll 4
      for (int i = 0; i < MB; i++) acc[i] = _mm256_fmadd_ps(_mm256_loadu_ps(x + (m0 + i) * K + k), w, acc[i]);
    }
  }
  for (int i = 0; i < MB; i++) dots[i] = hsum256(_mm256_add_ps(acc[i], acc2[i]));
}
#undef weights

using RowFn = void (*)(int, long, long, long, const uint8_t*, const float*, const int32_t*, const float*, long, float*);
#pragma GCC diagnostic pop
#endif

}  // namespace

// weightOnlyLinear(x, rows, N, K, G, bits, data, scales, zeros, bias | null, out)
void WeightOnlyLinear(Call& c) {
  void *xd, *dd, *sd, *zd, *bd = nullptr, *od;
  size_t xl, dl, sl, zl, bl = 0, ol;
  const int xt = c.array(0, &xd, &xl, "x");
  const long M = c.integer(1, "rows", 0, 2147483647L), N = c.integer(2, "N", 0, 2147483647L), K = c.integer(3, "K", 1, 2147483647L);
  const long G = c.integer(4, "groupSize", 1, 2147483647L);
  const int bits = int(c.integer(5, "bits", 4, 8));
  const int dt = c.array(6, &dd, &dl, "data"), st = c.array(7, &sd, &sl, "scales"), zt = c.array(8, &zd, &zl, "zeroPoints");
  const bool hasBias = c.has(9);
  const int bt = hasBias ? c.array(9, &bd, &bl, "bias") : DT_F32;
  const int ot = c.array(10, &od, &ol, "out");
  if (bits != 4 && bits != 8) c.fail("bits must be 4 or 8, got " + std::to_string(bits));
  if (xt != DT_F32 || st != DT_F32 || bt != DT_F32 || ot != DT_F32) c.fail("x, scales, bias and out must be Float32Arrays");
  if (dt != DT_U8) c.fail(std::string("data must be a Uint8Array (int8 values viewed as bytes), got ") + dt_name(dt));
  if (zt != DT_I32) c.fail("zeroPoints must be an Int32Array");
  if (K % G != 0 || (bits == 4 && G % 2 != 0)) c.fail("group size " + std::to_string(G) + " must divide K = " + std::to_string(K) + (bits == 4 ? " and be even" : ""));
  const double need = bits == 8 ? double(N) * double(K) : double(N) * double(K) / 2;
  if (double(dl) != need) c.fail("data has " + std::to_string(dl) + " bytes, expected " + std::to_string(long(need)) + " for (" + std::to_string(N) + ", " + std::to_string(K) + ") at " + std::to_string(bits) + " bits");
  const long groups = N * (K / G);
  if (long(sl) != groups || long(zl) != groups) c.fail("scales and zeroPoints need " + std::to_string(groups) + " values, got " + std::to_string(sl) + " and " + std::to_string(zl));
  if (double(xl) < double(M) * double(K)) c.fail("x has " + std::to_string(xl) + " values, fewer than rows x K");
  if (double(ol) < double(M) * double(N)) c.fail("out has " + std::to_string(ol) + " values, fewer than rows x N");
  if (hasBias && long(bl) != N) c.fail("bias has " + std::to_string(bl) + " values, expected N = " + std::to_string(N));
  const float* x = static_cast<const float*>(xd);
  const uint8_t* data = static_cast<const uint8_t*>(dd);
  const float* scales = static_cast<const float*>(sd);
  const int32_t* zeros = static_cast<const int32_t*>(zd);
  const float* bias = static_cast<const float*>(bd);
  float* y = static_cast<float*>(od);
  const long grain = std::max(1L, 16384L / std::max(1L, K * std::max(1L, M)));
#if TS_WO_X86
  const std::string path = active()->name;
  RowFn fns[4] = {nullptr, nullptr, nullptr, nullptr};
  if (path == "avx512" && G % 16 == 0) { fns[0] = row_avx512<1>; fns[1] = row_avx512<2>; fns[2] = row_avx512<3>; fns[3] = row_avx512<4>; }
  else if (path == "avx2" && G % 8 == 0) { fns[0] = row_avx2<1>; fns[1] = row_avx2<2>; fns[2] = row_avx2<3>; fns[3] = row_avx2<4>; }
  if (fns[0] != nullptr) {
    parallel_for(N, grain, [&](long n0, long n1) {
      float dots[4];
      for (long n = n0; n < n1; n++) {
        const float b = bias ? bias[n] : 0.0f;
        for (long m = 0; m < M; m += 4) {
          const long mb = std::min(4L, M - m);
          fns[mb - 1](bits, n, K, G, data, scales, zeros, x, m, dots);
          for (long i = 0; i < mb; i++) y[(m + i) * N + n] = dots[i] + b;
        }
      }
    });
    return;
  }
#endif
  parallel_for(N, grain, [&](long n0, long n1) {
    std::vector<float> row(static_cast<size_t>(K));
    for (long n = n0; n < n1; n++) {
      dequant_row(bits, n, K, G, data, scales, zeros, row.data());
      const float b = bias ? bias[n] : 0.0f;
      for (long m = 0; m < M; m++) y[m * N + n] = dot(x + m * K, row.data(), K) + b;
    }
  });
}

}  // namespace ts
