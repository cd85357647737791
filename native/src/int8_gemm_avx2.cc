// AVX2 micro-kernel of the int8 GEMM (int8_gemm_isa.h; compiled with -mavx2 -mfma, run only when the
// int8 path is avx2): activations and weights widened to int16 at packing, vpmaddwd multiplies pairs
// of k into 32-bit lanes (exact: a pair sum is at most 65280 in magnitude), vpaddd accumulates
// (wrapping). Tile: up to 6 rows x 16 channels (12 accumulators, 2 weight vectors).
#include <immintrin.h>

#include "int8_gemm_isa.h"

namespace ts {
namespace {

constexpr int kNr = 16, kKg = 2, kMr = 6;

template <int MR>
void tile(long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc) {
  __m256i acc[MR][2];
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
  const int16_t* bp = reinterpret_cast<const int16_t*>(b);
  for (long g = 0; g < groups; g++) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + g * kNr * kKg));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + g * kNr * kKg + 16));
    for (int i = 0; i < MR; i++) {
      int32_t pair;
      __builtin_memcpy(&pair, a + i * lda + g * 4, 4);
      const __m256i x = _mm256_set1_epi32(pair);
      acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(x, b0));
      acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(x, b1));
    }
  }
  for (int i = 0; i < MR; i++) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + i * ldc), acc[i][0]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + i * ldc + 8), acc[i][1]);
  }
}

void ukr(int mr, long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc) {
  switch (mr) {
    case 1: tile<1>(groups, a, lda, b, c, ldc); break;
    case 2: tile<2>(groups, a, lda, b, c, ldc); break;
    case 3: tile<3>(groups, a, lda, b, c, ldc); break;
    case 4: tile<4>(groups, a, lda, b, c, ldc); break;
    case 5: tile<5>(groups, a, lda, b, c, ldc); break;
    default: tile<6>(groups, a, lda, b, c, ldc); break;
  }
}

const Int8GemmIsa kAvx2{"avx2", kNr, kKg, 2, 2, kMr, ukr};

}  // namespace

const Int8GemmIsa* int8_gemm_avx2() { return &kAvx2; }

}  // namespace ts
