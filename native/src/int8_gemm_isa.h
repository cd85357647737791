// The per-instruction-set parts of the int8 GEMM behind int8Linear (int8_linear.cc drives them):
// the packed layouts and the micro-kernel each path provides (int8_gemm_generic.cc,
// int8_gemm_avx2.cc, int8_gemm_avx512.cc). No N-API here: the ISA translation units include it.
//
// The product is raw[m][n] = sum_k a[m][k] * b[n][k] with a unsigned 8-bit (activations, shifted
// by +128 first when they are int8) and b signed 8-bit (weights), accumulated in 32-bit registers
// that wrap (never saturate): the zero points are applied afterwards, in the epilogue, in the same
// wrapping arithmetic, so the result equals the reference's int32 sum bit for bit.
//
// Packed weights: output channels in panels of `nr`, K in groups of `kg` consecutive values; panel p,
// group g holds for each of its nr channels j the kg values b[p nr + j][g kg .. g kg + kg) (zeros past
// N and past K), as `wbytes`-byte integers. Packed activations: one row per m of G kg values (zeros past
// K), as `xbytes`-byte unsigned integers, rows `lda` bytes apart.
//
//   path     kernel instruction        nr  kg  wbytes xbytes  mr
//   vnni     vpdpbusd (u8 x s8 -> s32)  64   4   1      1      6
//   avx512   vpmaddwd (s16 x s16 -> s32) 64  2   2      2      6
//   avx2     vpmaddwd (s16 x s16 -> s32) 16  2   2      2      6
//   generic  portable int32 loops       16   4   1      1      4
//
// AVX2 and AVX-512 without VNNI widen both operands to int16 and use vpmaddwd, whose pair sums
// (at most 2 x 255 x 128 = 65280 in magnitude) cannot overflow its 32-bit lanes; vpmaddubsw, which
// would take the bytes directly, saturates its int16 pair sums (255 x -128 x 2 = -65280 < -32768) and
// is therefore not used.
#pragma once
#include <cstdint>

namespace ts {

struct Int8GemmIsa {
  const char* name;  // "vnni", "avx512", "avx2", "generic"
  int nr, kg, wbytes, xbytes, mr;
  // c[i][j] = sum over groups of a row i x panel column j, for i < mr (1 <= mr <= this->mr), j < nr:
  // a: packed activation rows (lda bytes apart), b: one packed weight panel, c: int32 rows of nr
  // values, ldc apart (overwritten, not accumulated).
  void (*ukr)(int mr, long groups, const uint8_t* a, long lda, const uint8_t* b, int32_t* c, long ldc);
};

const Int8GemmIsa* int8_gemm_generic();
const Int8GemmIsa* int8_gemm_avx2();    // nullptr when not compiled in
const Int8GemmIsa* int8_gemm_avx512();  // AVX-512BW, nullptr when not compiled in
const Int8GemmIsa* int8_gemm_vnni();    // AVX-512 VNNI, nullptr when not compiled in

}  // namespace ts
