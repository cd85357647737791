// AVX-512 path (compiled with -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma; run only when CPUID
// and the OS report AVX-512 state). GEMM micro-kernels: float32 6x64 (B~ rows as four vectors) and
// float64 12x16 (two), 24 zmm accumulators, A~ values broadcast from memory.
#define TS_ISA_NS avx512
#include "kernels_impl.h"
#include <immintrin.h>

namespace ts {
namespace avx512 { namespace {

// The float32 micro-kernel: ROWS (<= 6) rows of a 6-row A~ panel times a 64-column B~ panel, 4
// zmm B~ vectors per step and one broadcast A~ value per row, 4 * ROWS accumulators (24 for a whole
// tile: with the 4 B~ vectors and the broadcast, 29 of the 32 zmm registers, no spills). SET: C = A~
// B~ (the first K block of C = A B: C written, never read); else C += A~ B~. Exactly ROWS rows of C
// are touched. 6 x 64 rather than 12 x 32 (session 8): per step 24 FMAs need 6 broadcasts and 4 B~
// loads instead of 12 and 2, so the two 512-bit FMA ports of an Ice Lake core are fed with fewer
// load-port micro-ops: the kernel alone on L1/L2-resident panels ran 163-173 GFLOP/s against 144-152
// for 12 x 32 (FMA peak 178), see docs/NATIVE.md "Session 8".
template <int ROWS, bool SET>
void sgemm_rows_x64(long k, const float* a, const float* b, float* c, long ldc) {
  __m512 acc[ROWS][4];
#pragma GCC unroll 6
  for (int i = 0; i < ROWS; i++)
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) acc[i][v] = _mm512_setzero_ps();
  // C's tile (4 lines per row) is read or written once, after the loop: fetch it now, so its misses
  // (C is often far out of cache between K blocks) overlap the FMAs.
#pragma GCC unroll 6
  for (int i = 0; i < ROWS; i++)
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16 * v), _MM_HINT_T0);
  for (long p = 0; p < k; p++) {
    __m512 bv[4];
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) {
      bv[v] = _mm512_load_ps(b + 16 * v);
      _mm_prefetch(reinterpret_cast<const char*>(b + 64 * 8 + 16 * v), _MM_HINT_T0);  // the B~ row 8 steps ahead
    }
#pragma GCC unroll 6
    for (int i = 0; i < ROWS; i++) {
      const __m512 av = _mm512_set1_ps(a[i]);
#pragma GCC unroll 4
      for (int v = 0; v < 4; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
    }
    a += 6; b += 64;
  }
#pragma GCC unroll 6
  for (int i = 0; i < ROWS; i++)
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) {
      float* q = c + i * ldc + 16 * v;
      _mm512_storeu_ps(q, SET ? acc[i][v] : _mm512_add_ps(_mm512_loadu_ps(q), acc[i][v]));
    }
}
void sgemm_6x64(long k, const float* a, const float* b, float* c, long ldc) { sgemm_rows_x64<6, false>(k, a, b, c, ldc); }
void sgemm_6x64_set(long k, const float* a, const float* b, float* c, long ldc) { sgemm_rows_x64<6, true>(k, a, b, c, ldc); }

// Edge panels: the first `rows` (< 6) rows of a 6-row A~ panel, C += A~ B~ on those rows only.
void sgemm_edge_x64(long k, long rows, const float* a, const float* b, float* c, long ldc) {
  switch (rows) {
    case 1: sgemm_rows_x64<1, false>(k, a, b, c, ldc); return;
    case 2: sgemm_rows_x64<2, false>(k, a, b, c, ldc); return;
    case 3: sgemm_rows_x64<3, false>(k, a, b, c, ldc); return;
    case 4: sgemm_rows_x64<4, false>(k, a, b, c, ldc); return;
    default: sgemm_rows_x64<5, false>(k, a, b, c, ldc); return;
  }
}

// Unpacked operands (small products such as attention's 64 x 64 tiles, where packing would cost as
// much as the product): C[ROWS x 32] += A B with A(i, p) at a[i * sai + p] (AT = false, row-major A)
// or a[i + p * sap] (AT = true, A stored transposed), and row p of B at b + p * ldb (32 values).
// Exactly ROWS rows of A are read and of C written.
template <int ROWS, bool AT>
void sgemm_direct_rows(long k, const float* a, long sa, const float* b, long ldb, float* c, long ldc) {
  __m512 acc0[ROWS], acc1[ROWS];
#pragma GCC unroll 12
  for (int i = 0; i < ROWS; i++) { acc0[i] = _mm512_setzero_ps(); acc1[i] = _mm512_setzero_ps(); }
  for (long p = 0; p < k; p++) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 12
    for (int i = 0; i < ROWS; i++) {
      const __m512 av = _mm512_set1_ps(AT ? a[i] : a[i * sa]);
      acc0[i] = _mm512_fmadd_ps(av, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(av, b1, acc1[i]);
    }
    a += AT ? sa : 1;
    b += ldb;
  }
#pragma GCC unroll 12
  for (int i = 0; i < ROWS; i++) {
    float* q = c + i * ldc;
    _mm512_storeu_ps(q, _mm512_add_ps(_mm512_loadu_ps(q), acc0[i]));
    _mm512_storeu_ps(q + 16, _mm512_add_ps(_mm512_loadu_ps(q + 16), acc1[i]));
  }
}

template <bool AT>
void sgemm_direct_at(long k, long rows, const float* a, long sa, const float* b, long ldb, float* c, long ldc) {
  switch (rows) {
    case 1: sgemm_direct_rows<1, AT>(k, a, sa, b, ldb, c, ldc); return;
    case 2: sgemm_direct_rows<2, AT>(k, a, sa, b, ldb, c, ldc); return;
    case 3: sgemm_direct_rows<3, AT>(k, a, sa, b, ldb, c, ldc); return;
    case 4: sgemm_direct_rows<4, AT>(k, a, sa, b, ldb, c, ldc); return;
    case 5: sgemm_direct_rows<5, AT>(k, a, sa, b, ldb, c, ldc); return;
    case 6: sgemm_direct_rows<6, AT>(k, a, sa, b, ldb, c, ldc); return;
    case 7: sgemm_direct_rows<7, AT>(k, a, sa, b, ldb, c, ldc); return;
    case 8: sgemm_direct_rows<8, AT>(k, a, sa, b, ldb, c, ldc); return;
    case 9: sgemm_direct_rows<9, AT>(k, a, sa, b, ldb, c, ldc); return;
    case 10: sgemm_direct_rows<10, AT>(k, a, sa, b, ldb, c, ldc); return;
    case 11: sgemm_direct_rows<11, AT>(k, a, sa, b, ldb, c, ldc); return;
    default: sgemm_direct_rows<12, AT>(k, a, sa, b, ldb, c, ldc); return;
  }
}

void sgemm_direct_x32(long k, long rows, const float* a, long sai, long sap, const float* b, long ldb, float* c, long ldc) {
  if (sap == 1) sgemm_direct_at<false>(k, rows, a, sai, b, ldb, c, ldc);
  else sgemm_direct_at<true>(k, rows, a, sap, b, ldb, c, ldc);  // sai == 1 (checked by the caller)
}

void dgemm_12x16(long k, const double* a, const double* b, double* c, long ldc) {
  __m512d c00 = _mm512_setzero_pd(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m512d c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  __m512d c60 = c00, c61 = c00, c70 = c00, c71 = c00, c80 = c00, c81 = c00;
  __m512d c90 = c00, c91 = c00, cA0 = c00, cA1 = c00, cB0 = c00, cB1 = c00;
  for (long p = 0; p < k; p++) {
    const __m512d b0 = _mm512_load_pd(b), b1 = _mm512_load_pd(b + 8);
    _mm_prefetch(reinterpret_cast<const char*>(b + 16 * 8), _MM_HINT_T0);
    __m512d av;
#define TS_ROW(i, r) av = _mm512_set1_pd(a[i]); c##r##0 = _mm512_fmadd_pd(av, b0, c##r##0); c##r##1 = _mm512_fmadd_pd(av, b1, c##r##1);
    TS_ROW(0, 0) TS_ROW(1, 1) TS_ROW(2, 2) TS_ROW(3, 3) TS_ROW(4, 4) TS_ROW(5, 5)
    TS_ROW(6, 6) TS_ROW(7, 7) TS_ROW(8, 8) TS_ROW(9, 9) TS_ROW(10, A) TS_ROW(11, B)
#undef TS_ROW
    a += 12; b += 16;
  }
#define TS_ST(i, r) { double* q = c + i * ldc; _mm512_storeu_pd(q, _mm512_add_pd(_mm512_loadu_pd(q), c##r##0)); \
                      _mm512_storeu_pd(q + 8, _mm512_add_pd(_mm512_loadu_pd(q + 8), c##r##1)); }
  TS_ST(0, 0) TS_ST(1, 1) TS_ST(2, 2) TS_ST(3, 3) TS_ST(4, 4) TS_ST(5, 5)
  TS_ST(6, 6) TS_ST(7, 7) TS_ST(8, 8) TS_ST(9, 9) TS_ST(10, A) TS_ST(11, B)
#undef TS_ST
}
} }

const KernelTable* table_avx512() {
  static KernelTable t = [] {
    KernelTable t{};
    t.name = "avx512";
    t.smr = 6; t.snr = 64; t.skc = 384; t.smc = 512; t.sgemm_ukr = avx512::sgemm_6x64;
    t.dmr = 12; t.dnr = 16; t.dkc = 192; t.dmc = 480; t.dgemm_ukr = avx512::dgemm_12x16;
    TS_FILL_COMMON(t);
    return t;
  }();
  return &t;
}
const GemmIsa* gemm_isa_avx512() {
  static const GemmIsa g{avx512::interleave_f32, avx512::interleave_f64, avx512::sgemm_edge_x64, avx512::sgemm_direct_x32, avx512::sgemm_6x64_set};
  return &g;
}
}  // namespace ts
