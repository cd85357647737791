// The portable (baseline x86-64) micro-kernel of the int8 GEMM (int8_gemm_isa.h): u8 x s8 products
// summed in uint32 (wrapping as the SIMD paths' int32 lanes do), 4 rows x 16 channels per call.
#include "int8_gemm_isa.h"

namespace ts {
namespace {

constexpr int kNr = 16, kKg = 4, kMr = 4;

template <int MR>
void tile(long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc) {
  uint32_t acc[MR][kNr] = {};
  for (long g = 0; g < groups; g++) {
    const int8_t* bg = reinterpret_cast<const int8_t*>(b) + g * kNr * kKg;
    for (int i = 0; i < MR; i++) {
      const uint8_t* ai = a + i * lda + g * kKg;
      const uint32_t a0 = ai[0], a1 = ai[1], a2 = ai[2], a3 = ai[3];
      for (int j = 0; j < kNr; j++) {
        const int8_t* w = bg + j * kKg;
        acc[i][j] += a0 * uint32_t(int32_t(w[0])) + a1 * uint32_t(int32_t(w[1])) + a2 * uint32_t(int32_t(w[2])) + a3 * uint32_t(int32_t(w[3]));
      }
    }
  }
  for (int i = 0; i < MR; i++) for (int j = 0; j < kNr; j++) c[i * ldc + j] = int32_t(acc[i][j]);
}

void ukr(int mr, long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc) {
  switch (mr) {
    case 1: tile<1>(groups, a, lda, b, c, ldc); break;
    case 2: tile<2>(groups, a, lda, b, c, ldc); break;
    case 3: tile<3>(groups, a, lda, b, c, ldc); break;
    default: tile<4>(groups, a, lda, b, c, ldc); break;
  }
}

const Int8GemmIsa kGeneric{"generic", kNr, kKg, 1, 1, kMr, ukr};

}  // namespace

const Int8GemmIsa* int8_gemm_generic() { return &kGeneric; }

#if defined(TS_NO_X86_PATHS)
const Int8GemmIsa* int8_gemm_avx2() { return nullptr; }
const Int8GemmIsa* int8_gemm_avx512() { return nullptr; }
const Int8GemmIsa* int8_gemm_vnni() { return nullptr; }
#endif

}  // namespace ts
