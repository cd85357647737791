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
};

const GemmIsa* gemm_isa_generic();
const GemmIsa* gemm_isa_avx2();    // nullptr when not compiled in
const GemmIsa* gemm_isa_avx512();  // nullptr when not compiled in
// The helpers matching a kernel table (the generic ones for an unknown table).
const GemmIsa* gemm_isa_for(const KernelTable* t);

}  // namespace ts
