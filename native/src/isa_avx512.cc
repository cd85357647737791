// AVX-512 path (compiled with -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma; run only when CPUID
// and the OS report AVX-512 state). GEMM micro-kernels: float32 12x32 and float64 12x16, 24 zmm
// accumulators, B~ rows as two vectors, A~ values broadcast from memory into the FMA.
#define TS_ISA_NS avx512
#include "kernels_impl.h"
#include <immintrin.h>

namespace ts {
namespace avx512 { namespace {

// ACC: C += A~ B~ (the micro-kernel); else C = A~ B~ (sgemm_set: C is written, never read).
template <bool ACC>
void sgemm_12x32_t(long k, const float* a, const float* b, float* c, long ldc) {
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  __m512 c60 = c00, c61 = c00, c70 = c00, c71 = c00, c80 = c00, c81 = c00;
  __m512 c90 = c00, c91 = c00, cA0 = c00, cA1 = c00, cB0 = c00, cB1 = c00;
  // C's 12 x 32 tile (24 lines) is read and written once, after the loop: start fetching it now,
  // so its misses (C is often far out of cache between K blocks) overlap the FMAs.
  for (int i = 0; i < 12; i++) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 31), _MM_HINT_T0);
  }
  for (long p = 0; p < k; p++) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    // both lines of the B row 8 steps ahead
    _mm_prefetch(reinterpret_cast<const char*>(b + 32 * 8), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + 32 * 8 + 16), _MM_HINT_T0);
    __m512 av;
#define TS_ROW(i, r) av = _mm512_set1_ps(a[i]); c##r##0 = _mm512_fmadd_ps(av, b0, c##r##0); c##r##1 = _mm512_fmadd_ps(av, b1, c##r##1);
    TS_ROW(0, 0) TS_ROW(1, 1) TS_ROW(2, 2) TS_ROW(3, 3) TS_ROW(4, 4) TS_ROW(5, 5)
    TS_ROW(6, 6) TS_ROW(7, 7) TS_ROW(8, 8) TS_ROW(9, 9) TS_ROW(10, A) TS_ROW(11, B)
#undef TS_ROW
    a += 12; b += 32;
  }
#define TS_ST(i, r) { float* q = c + i * ldc; \
                      if (ACC) { c##r##0 = _mm512_add_ps(_mm512_loadu_ps(q), c##r##0); c##r##1 = _mm512_add_ps(_mm512_loadu_ps(q + 16), c##r##1); } \
                      _mm512_storeu_ps(q, c##r##0); _mm512_storeu_ps(q + 16, c##r##1); }
  TS_ST(0, 0) TS_ST(1, 1) TS_ST(2, 2) TS_ST(3, 3) TS_ST(4, 4) TS_ST(5, 5)
  TS_ST(6, 6) TS_ST(7, 7) TS_ST(8, 8) TS_ST(9, 9) TS_ST(10, A) TS_ST(11, B)
#undef TS_ST
}
void sgemm_12x32(long k, const float* a, const float* b, float* c, long ldc) { sgemm_12x32_t<true>(k, a, b, c, ldc); }
void sgemm_12x32_set(long k, const float* a, const float* b, float* c, long ldc) { sgemm_12x32_t<false>(k, a, b, c, ldc); }

// Edge panels: ROWS (4 or 8) rows of a 12-row packed A~ panel times a 32-column B~ panel; stores
// the first `rows` rows. Fewer accumulators (8 or 16) still cover the FMA latency.
template <int ROWS>
void sgemm_rows_x32(long k, long rows, const float* a, const float* b, float* c, long ldc) {
  __m512 acc0[ROWS], acc1[ROWS];
#pragma GCC unroll 8
  for (int i = 0; i < ROWS; i++) { acc0[i] = _mm512_setzero_ps(); acc1[i] = _mm512_setzero_ps(); }
  for (long p = 0; p < k; p++) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    _mm_prefetch(reinterpret_cast<const char*>(b + 32 * 8), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + 32 * 8 + 16), _MM_HINT_T0);
#pragma GCC unroll 8
    for (int i = 0; i < ROWS; i++) {
      const __m512 av = _mm512_set1_ps(a[i]);
      acc0[i] = _mm512_fmadd_ps(av, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(av, b1, acc1[i]);
    }
    a += 12; b += 32;
  }
#pragma GCC unroll 8
  for (int i = 0; i < ROWS; i++) {
    if (i >= rows) break;
    float* q = c + i * ldc;
    _mm512_storeu_ps(q, _mm512_add_ps(_mm512_loadu_ps(q), acc0[i]));
    _mm512_storeu_ps(q + 16, _mm512_add_ps(_mm512_loadu_ps(q + 16), acc1[i]));
  }
}

void sgemm_edge_x32(long k, long rows, const float* a, const float* b, float* c, long ldc) {
  if (rows <= 4) { sgemm_rows_x32<4>(k, rows, a, b, c, ldc); return; }
  if (rows <= 8) { sgemm_rows_x32<8>(k, rows, a, b, c, ldc); return; }
  // 9..11 rows: the full kernel into a scratch tile, then the rows wanted
  alignas(64) float tile[12 * 32] = {};
  sgemm_12x32(k, a, b, tile, 32);
  for (long i = 0; i < rows; i++) for (int j = 0; j < 32; j++) c[i * ldc + j] += tile[i * 32 + j];
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
    t.smr = 12; t.snr = 32; t.skc = 384; t.smc = 480; t.sgemm_ukr = avx512::sgemm_12x32;
    t.dmr = 12; t.dnr = 16; t.dkc = 192; t.dmc = 480; t.dgemm_ukr = avx512::dgemm_12x16;
    TS_FILL_COMMON(t);
    return t;
  }();
  return &t;
}
const GemmIsa* gemm_isa_avx512() {
  static const GemmIsa g{avx512::interleave_f32, avx512::interleave_f64, avx512::sgemm_edge_x32, avx512::sgemm_direct_x32, avx512::sgemm_12x32_set};
  return &g;
}
}  // namespace ts
