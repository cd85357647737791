// AVX-512 micro-kernels of the int8 GEMM (int8_gemm_isa.h; compiled with the AVX-512 F/BW/DQ/VL
// flags, run only when the int8 path says the CPU has them). Tile: up to 6 rows x 64 channels
// (24 zmm accumulators, 4 weight vectors), activations broadcast 4 bytes at a time.
//   avx512: both operands widened to int16 at packing, vpmaddwd + vpaddd (exact pair sums, wrapping
//           accumulation), for AVX-512BW CPUs without VNNI.
//   vnni:   vpdpbusd, u8 x s8 products of 4 consecutive k summed into each int32 lane without
//           saturation (the non-"s" form); only this function is built for avx512vnni (a target
//           attribute), so no VNNI instruction can leak into the avx512 path.
#include <immintrin.h>

#include "int8_gemm_isa.h"

namespace ts {
namespace {

constexpr int kNr = 64, kMr = 6;

template <int MR>
void tile_bw(long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc) {
  __m512i acc[MR][4];
  for (int i = 0; i < MR; i++) for (int v = 0; v < 4; v++) acc[i][v] = _mm512_setzero_si512();
  for (long g = 0; g < groups; g++) {
    const uint8_t* bg = b + g * kNr * 4;  // 64 channels x 2 int16
    const __m512i b0 = _mm512_loadu_si512(bg), b1 = _mm512_loadu_si512(bg + 64);
    const __m512i b2 = _mm512_loadu_si512(bg + 128), b3 = _mm512_loadu_si512(bg + 192);
    for (int i = 0; i < MR; i++) {
      int32_t pair;
      __builtin_memcpy(&pair, a + i * lda + g * 4, 4);
      const __m512i x = _mm512_set1_epi32(pair);
      acc[i][0] = _mm512_add_epi32(acc[i][0], _mm512_madd_epi16(x, b0));
      acc[i][1] = _mm512_add_epi32(acc[i][1], _mm512_madd_epi16(x, b1));
      acc[i][2] = _mm512_add_epi32(acc[i][2], _mm512_madd_epi16(x, b2));
      acc[i][3] = _mm512_add_epi32(acc[i][3], _mm512_madd_epi16(x, b3));
    }
  }
  for (int i = 0; i < MR; i++) for (int v = 0; v < 4; v++) _mm512_storeu_si512(c + i * ldc + 16 * v, acc[i][v]);
}

template <int MR>
__attribute__((target("avx512vnni"))) void tile_vnni(long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc) {
  __m512i acc[MR][4];
  for (int i = 0; i < MR; i++) for (int v = 0; v < 4; v++) acc[i][v] = _mm512_setzero_si512();
  for (long g = 0; g < groups; g++) {
    const uint8_t* bg = b + g * kNr * 4;  // 64 channels x 4 int8
    const __m512i b0 = _mm512_loadu_si512(bg), b1 = _mm512_loadu_si512(bg + 64);
    const __m512i b2 = _mm512_loadu_si512(bg + 128), b3 = _mm512_loadu_si512(bg + 192);
    for (int i = 0; i < MR; i++) {
      int32_t quad;
      __builtin_memcpy(&quad, a + i * lda + g * 4, 4);
      const __m512i x = _mm512_set1_epi32(quad);
      acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], x, b0);
      acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], x, b1);
      acc[i][2] = _mm512_dpbusd_epi32(acc[i][2], x, b2);
      acc[i][3] = _mm512_dpbusd_epi32(acc[i][3], x, b3);
    }
  }
  for (int i = 0; i < MR; i++) for (int v = 0; v < 4; v++) _mm512_storeu_si512(c + i * ldc + 16 * v, acc[i][v]);
}

void ukr_bw(int mr, long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc) {
  switch (mr) {
    case 1: tile_bw<1>(groups, a, lda, b, c, ldc); break;
    case 2: tile_bw<2>(groups, a, lda, b, c, ldc); break;
    case 3: tile_bw<3>(groups, a, lda, b, c, ldc); break;
    case 4: tile_bw<4>(groups, a, lda, b, c, ldc); break;
    case 5: tile_bw<5>(groups, a, lda, b, c, ldc); break;
    default: tile_bw<6>(groups, a, lda, b, c, ldc); break;
  }
}

__attribute__((target("avx512vnni"))) void ukr_vnni(int mr, long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc) {
  switch (mr) {
    case 1: tile_vnni<1>(groups, a, lda, b, c, ldc); break;
    case 2: tile_vnni<2>(groups, a, lda, b, c, ldc); break;
    case 3: tile_vnni<3>(groups, a, lda, b, c, ldc); break;
    case 4: tile_vnni<4>(groups, a, lda, b, c, ldc); break;
    case 5: tile_vnni<5>(groups, a, lda, b, c, ldc); break;
    default: tile_vnni<6>(groups, a, lda, b, c, ldc); break;
  }
}

const Int8GemmIsa kAvx512{"avx512", kNr, 2, 2, 2, kMr, ukr_bw};
const Int8GemmIsa kVnni{"vnni", kNr, 4, 1, 1, kMr, ukr_vnni};

}  // namespace

const Int8GemmIsa* int8_gemm_avx512() { return &kAvx512; }
const Int8GemmIsa* int8_gemm_vnni() { return &kVnni; }

}  // namespace ts
