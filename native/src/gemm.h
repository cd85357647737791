// Batched strided GEMM: C[b] += A[b] (M x K) * B[b] (K x N) for every batch b, any element strides
// (so transposed and broadcast operands need no copies). C is contiguous row-major (M x N) per batch
// with batch stride M*N, and must be initialized by the caller (zeros, or a broadcast bias), unless
// GemmArgs::overwrite asks for C = A B (then C may be uninitialized; K = 0 writes zeros).
#pragma once
#include <functional>

namespace ts {

struct GemmArgs {
  long batch, m, n, k;
  long sab, sam, sak;  // A strides (batch, row, col), elements
  long sbb, sbk, sbn;  // B strides
  bool overwrite = false;  // C = A B: C's old contents are never read (uninitialized storage is fine)
};

void gemm_f32(const GemmArgs& g, const float* a, const float* b, float* c);
void gemm_f64(const GemmArgs& g, const double* a, const double* b, double* c);

// One product of gemm_multi: C (m x n, row stride ldc) = bias + A B when `bias` is given (the
// strided vector bias[j * sbias] broadcast over the rows), C = A B when `overwrite`, else C += A B
// (with a bias or `overwrite`, C's old contents are never read: it may be uninitialized storage);
// then C = max(C, 0) when `relu` (NaN stays NaN). Pointers to float or double per the call.
struct GemmOp {
  long m = 0, n = 0, k = 0;
  const void* a = nullptr; long sam = 0, sak = 0;
  const void* b = nullptr; long sbk = 0, sbn = 0;
  void* c = nullptr; long ldc = 0;
  const void* bias = nullptr; long sbias = 0;
  bool relu = false;
  bool overwrite = false;
};

// Small float32 products straight from unpacked operands (attention's tiles, where packing would
// cost as much as the product): C (m x n, row stride ldc) += A B with A(i, p) at a[i * sai + p * sap]
// and B(p, j) at b[p * ldb + j], on the calling thread. Returns false, touching nothing, when the
// active path has no such kernel or the layout does not fit it (n a multiple of 32, sap == 1 or
// sai == 1): use gemm_f32 then.
bool sgemm_direct(long m, long n, long k, const float* a, long sai, long sap, const float* b, long ldb, float* c, long ldc);

// Frees the calling thread's packing scratch above TENSORSLIM_GEMM_SCRATCH_MB (alloc.h): the
// LM head's whole packed operands, once its chunks are done (releaseScratch, linear_cross_entropy.ts).
void release_gemm_scratch();

// Several independent products of one dtype (float64 when f64) as one parallel job per phase (B's
// packing, then all tiles of C, each packing its A band on first use), so they share the pool's
// round trips and fill each other's tails. `side(i)` for i < nside runs on the pool in the tiles'
// job (its tasks are claimed first, while tiles already run): it may read the operands but must not
// touch any C.
// Small totals run serially on the calling thread.
void gemm_multi(bool f64, const GemmOp* ops, int nops, long nside = 0, const std::function<void(long)>* side = nullptr);

}  // namespace ts
