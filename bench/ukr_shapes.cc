// AVX-512 float32 micro-kernel shapes, the kernel alone: MR x (NV * 16) tiles (MR broadcast A~
// values and NV B~ vectors per step, MR * NV accumulators), over packed panels in the serial
// driver's order (an A~ micro-panel against every B~ panel of a kc x N block, then the next A~
// micro-panel; C with a leading dimension of 1024), best of 15 passes, GFLOP/s. Session 8 chose the
// GEMM's 6 x 64 kernel with it (docs/NATIVE.md "Session 8: one core against OpenBLAS").
//   g++ -O3 -march=icelake-server bench/ukr_shapes.cc -o /tmp/ukr_shapes && /tmp/ukr_shapes [kc=384]
// Variants: U (K unrolled), PF (B~ rows prefetched PF steps ahead, 0: none).
#include <immintrin.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace {
template <int MR, int NV, int U, int PF>
__attribute__((noinline)) void ukr(long k, const float* a, const float* b, float* c, long ldc) {
  constexpr int NR = NV * 16;
  __m512 acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
  for (int i = 0; i < MR; i++)
    for (int v = 0; v < NV; v++) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + v * 16), _MM_HINT_T0);
  long p = 0;
  for (; p + U <= k; p += U) {
#pragma GCC unroll 8
    for (int u = 0; u < U; u++) {
      __m512 bv[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; v++) bv[v] = _mm512_load_ps(b + u * NR + v * 16);
      if (PF > 0) {
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++) _mm_prefetch(reinterpret_cast<const char*>(b + (u + PF) * NR + v * 16), _MM_HINT_T0);
      }
#pragma GCC unroll 16
      for (int i = 0; i < MR; i++) {
        const __m512 av = _mm512_set1_ps(a[u * MR + i]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
      }
    }
    a += U * MR;
    b += U * NR;
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int v = 0; v < NV; v++) {
      float* q = c + i * ldc + v * 16;
      _mm512_storeu_ps(q, _mm512_add_ps(_mm512_loadu_ps(q), acc[i][v]));
    }
}

template <int MR, int NV, int U, int PF>
void run(long kc) {
  constexpr int NR = NV * 16;
  const long M = 1020 / MR * MR, N = 480 / NR * NR, ldc = 1024, passes = 15;
  kc = kc / U * U;
  float* A = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * M * kc));
  float* B = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * (N + NR * PF) * kc));
  float* C = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * M * ldc));
  for (long i = 0; i < M * kc; i++) A[i] = float(i % 7) * 0.01f;
  for (long i = 0; i < (N + NR * PF) * kc; i++) B[i] = float(i % 5) * 0.01f;
  for (long i = 0; i < M * ldc; i++) C[i] = 0;
  double best = 1e9;
  for (int r = 0; r < passes; r++) {
    const auto t0 = std::chrono::steady_clock::now();
    for (long ir = 0; ir < M; ir += MR)
      for (long jr = 0; jr < N; jr += NR) ukr<MR, NV, U, PF>(kc, A + ir * kc, B + jr * kc, C + ir * ldc + jr, ldc);
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (t < best) best = t;
  }
  std::printf("%2d x %2d  unroll %d  prefetch %2d  M %4ld N %3ld kc %3ld: %6.1f GFLOP/s\n", MR, NR, U, PF, M, N, kc, 2.0 * double(M * N * kc) / best / 1e9);
  std::free(A);
  std::free(B);
  std::free(C);
}
// One variant as a type, so a list of them can be run in order.
template <int MR, int NV, int U, int PF> struct V {};
template <int MR, int NV, int U, int PF> void run_one(V<MR, NV, U, PF>, long kc) { run<MR, NV, U, PF>(kc); }
template <class... Vs> void run_all(long kc) { (run_one(Vs{}, kc), ...); }
}  // namespace

int main(int argc, char** argv) {
  const long kc = argc > 1 ? std::atol(argv[1]) : 384;
  if (kc < 8) { std::fprintf(stderr, "ukr_shapes: kc must be >= 8\n"); return 2; }
  // 12 x 32: the kernel before session 8 (unroll 1, prefetch 8) and its variants; 6 x 64 (unroll 1,
  // prefetch 8): the kernel since session 8
  run_all<V<12, 2, 1, 8>, V<12, 2, 2, 8>, V<12, 2, 4, 8>, V<12, 2, 1, 0>, V<12, 2, 1, 4>, V<12, 2, 1, 16>, V<14, 2, 1, 8>,
          V<8, 3, 1, 8>, V<9, 3, 1, 8>, V<6, 4, 1, 8>, V<6, 4, 2, 8>, V<6, 4, 1, 0>, V<6, 4, 1, 16>, V<5, 5, 1, 8>,
          V<4, 6, 1, 8>>(kc);
  return 0;
}
