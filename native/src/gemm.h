// Batched strided GEMM: C[b] += A[b] (M x K) * B[b] (K x N) for every batch b, any element strides
// (so transposed and broadcast operands need no copies). C is contiguous row-major (M x N) per batch
// with batch stride M*N, and must be initialized by the caller (zeros, or a broadcast bias).
#pragma once

namespace ts {

struct GemmArgs {
  long batch, m, n, k;
  long sab, sam, sak;  // A strides (batch, row, col), elements
  long sbb, sbk, sbn;  // B strides
};

void gemm_f32(const GemmArgs& g, const float* a, const float* b, float* c);
void gemm_f64(const GemmArgs& g, const double* a, const double* b, double* c);

}  // namespace ts
