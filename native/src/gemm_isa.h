// Per-instruction-set helpers of the GEMM driver (gemm.cc) that are not part of the shared kernel
// table: the packing transposes. Each isa_*.cc provides one table, compiled with its own -m flags.
#pragma once
#include "common.h"

namespace ts {

struct GemmIsa {
  // dst[p * R + r] = src[r * ld + p] for r < rows, 0 for rows <= r < R, p < kc: R rows of a
  // row-major matrix interleaved column by column (packing row-major A, or B read transposed).
  void (*interleave_f32)(const float* src, long ld, long rows, int R, long kc, float* dst);
  void (*interleave_f64)(const double* src, long ld, long rows, int R, long kc, double* dst);
  // Optional (nullptr: none): the float32 micro-kernel for an edge panel of `rows` < smr rows, on
  // the same packed panels (A~ with smr values per p, B~ with snr): C[i][j] += sum_p A~[p][i] B~[p][j]
  // for i < rows, j < snr only, computing as few rows as it can (a 64-row block then costs 64 rows of
  // FMAs, not 72). Writes exactly `rows` rows of C (leading dimension ldc).
  void (*sgemm_edge)(long k, long rows, const float* a, const float* b, float* c, long ldc);
  // Optional (nullptr: none): float32 on unpacked operands, rows <= 12 rows x 32 columns (any smr):
  // C[i][j] += sum_p A(i, p) B(p, j), A(i, p) at a[i * sai + p * sap] with sap == 1 or sai == 1,
  // B(p, j) at b[p * ldb + j]. Reads exactly `rows` rows of A and writes `rows` rows of C.
  void (*sgemm_direct)(long k, long rows, const float* a, long sai, long sap, const float* b, long ldb, float* c, long ldc);
  // Optional (nullptr: none): the float32 micro-kernel's store-only twin, C = A~ B~ on a whole
  // smr x snr tile, C never read (the first K block of C = A B: no zero-fill of C, no load of it).
  void (*sgemm_set)(long k, const float* a, const float* b, float* c, long ldc);
};

const GemmIsa* gemm_isa_generic();
const GemmIsa* gemm_isa_avx2();    // nullptr when not compiled in
const GemmIsa* gemm_isa_avx512();  // nullptr when not compiled in
// The helpers matching a kernel table (the generic ones for an unknown table).
const GemmIsa* gemm_isa_for(const KernelTable* t);

}  // namespace ts
