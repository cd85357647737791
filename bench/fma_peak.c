// Peak float32 FMA throughput of one core: 12 independent chains of 512-bit FMAs (enough to hide
// the FMA latency), timed in 100 chunks of 2M iterations; prints the best chunk's GFLOP/s (the
// rate while the OS lets the thread run: on a shared machine the mean measures the load).
//   cc -O2 -mavx512f -mfma bench/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak
// The AVX2 path's peak (256-bit FMAs, the instructions its 6 x 16 GEMM kernel issues):
//   cc -O2 -mavx2 -mfma -DFMA_YMM bench/fma_peak.c -o /tmp/fma_peak_ymm && /tmp/fma_peak_ymm
#include <immintrin.h>
#ifdef FMA_YMM  // the same loop on 256-bit vectors: 8 lanes per FMA
#define __m512 __m256
#define _mm512_set1_ps _mm256_set1_ps
#define _mm512_fmadd_ps _mm256_fmadd_ps
#define _mm512_add_ps _mm256_add_ps
#define LANES 8
static float reduce_add(__m256 v) { float t[8]; _mm256_storeu_ps(t, v); return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7]; }
#else
#define LANES 16
static float reduce_add(__m512 v) { return _mm512_reduce_add_ps(v); }
#endif
#include <stdio.h>
#include <time.h>

static double wall(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

int main(void) {
  volatile float seed = 1.0f;  // distinct, opaque starting values: the chains cannot be merged
  __m512 a0 = _mm512_set1_ps(seed), a1 = _mm512_set1_ps(seed + 1), a2 = _mm512_set1_ps(seed + 2), a3 = _mm512_set1_ps(seed + 3);
  __m512 a4 = _mm512_set1_ps(seed + 4), a5 = _mm512_set1_ps(seed + 5), a6 = _mm512_set1_ps(seed + 6), a7 = _mm512_set1_ps(seed + 7);
  __m512 a8 = _mm512_set1_ps(seed + 8), a9 = _mm512_set1_ps(seed + 9), a10 = _mm512_set1_ps(seed + 10), a11 = _mm512_set1_ps(seed + 11);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  const long iters = 2000000;
  double best = 1e9;
  for (int rep = 0; rep < 100; rep++) {
    const double t0 = wall();
    for (long i = 0; i < iters; i++) {
      a0 = _mm512_fmadd_ps(a0, m, c); a1 = _mm512_fmadd_ps(a1, m, c); a2 = _mm512_fmadd_ps(a2, m, c); a3 = _mm512_fmadd_ps(a3, m, c);
      a4 = _mm512_fmadd_ps(a4, m, c); a5 = _mm512_fmadd_ps(a5, m, c); a6 = _mm512_fmadd_ps(a6, m, c); a7 = _mm512_fmadd_ps(a7, m, c);
      a8 = _mm512_fmadd_ps(a8, m, c); a9 = _mm512_fmadd_ps(a9, m, c); a10 = _mm512_fmadd_ps(a10, m, c); a11 = _mm512_fmadd_ps(a11, m, c);
    }
    const double t = wall() - t0;
    if (t < best) best = t;
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)), _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  const double flops = iters * 12.0 * 2.0 * LANES;  // 12 FMAs x LANES lanes x 2 flops
  printf("best chunk: %.1f GFLOP/s per core (float32 %d-bit FMA; checksum %g)\n", flops / best / 1e9, LANES * 32, (double)reduce_add(s));
  return 0;
}
