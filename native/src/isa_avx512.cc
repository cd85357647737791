// AVX-512 path (compiled with -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma; run only when CPUID
// and the OS report AVX-512 state). GEMM micro-kernels: float32 12x32 and float64 12x16, 24 zmm
// accumulators, B~ rows as two vectors, A~ values broadcast from memory into the FMA.
#define TS_ISA_NS avx512
#include "kernels_impl.h"
#include <immintrin.h>

namespace ts {
namespace avx512 { namespace {

void sgemm_12x32(long k, const float* a, const float* b, float* c, long ldc) {
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  __m512 c60 = c00, c61 = c00, c70 = c00, c71 = c00, c80 = c00, c81 = c00;
  __m512 c90 = c00, c91 = c00, cA0 = c00, cA1 = c00, cB0 = c00, cB1 = c00;
  for (long p = 0; p < k; p++) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    _mm_prefetch(reinterpret_cast<const char*>(b + 32 * 8), _MM_HINT_T0);
    __m512 av;
#define TS_ROW(i, r) av = _mm512_set1_ps(a[i]); c##r##0 = _mm512_fmadd_ps(av, b0, c##r##0); c##r##1 = _mm512_fmadd_ps(av, b1, c##r##1);
    TS_ROW(0, 0) TS_ROW(1, 1) TS_ROW(2, 2) TS_ROW(3, 3) TS_ROW(4, 4) TS_ROW(5, 5)
    TS_ROW(6, 6) TS_ROW(7, 7) TS_ROW(8, 8) TS_ROW(9, 9) TS_ROW(10, A) TS_ROW(11, B)
#undef TS_ROW
    a += 12; b += 32;
  }
#define TS_ST(i, r) { float* q = c + i * ldc; _mm512_storeu_ps(q, _mm512_add_ps(_mm512_loadu_ps(q), c##r##0)); \
                      _mm512_storeu_ps(q + 16, _mm512_add_ps(_mm512_loadu_ps(q + 16), c##r##1)); }
  TS_ST(0, 0) TS_ST(1, 1) TS_ST(2, 2) TS_ST(3, 3) TS_ST(4, 4) TS_ST(5, 5)
  TS_ST(6, 6) TS_ST(7, 7) TS_ST(8, 8) TS_ST(9, 9) TS_ST(10, A) TS_ST(11, B)
#undef TS_ST
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
TS_DEFINE_GEMM_ISA(gemm_isa_avx512)
}  // namespace ts
