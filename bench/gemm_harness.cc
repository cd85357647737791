// One-process GEMM comparison: our driver (native/src/gemm.cc, gemm_multi) and OpenBLAS's
// cblas_sgemm (libopenblas0-pthread) on the same N x N x N float32 operands, alternating in
// rounds (which side goes first alternates too), timed by the process's CPU time and by wall time.
// No Node, no fresh output per product: it isolates the kernels and the driver from what a `bench
// gemm` process adds (allocating and zeroing each output, garbage collection). Prints one JSON line.
//   build and run: bench/gemm_harness.sh [N=1024] [rounds=7] [threads=1] [reps: ~4 GFLOP per side and round]
//   TENSORSLIM_CPU=avx2 runs our AVX2 path (set OPENBLAS_CORETYPE=Haswell for OpenBLAS's AVX2 kernel);
//   GEMM_FRESH=1 writes every product into freshly mmapped memory (as a new tensor often is);
//   GEMM_ACC=1 runs ours as C += A B on that zeroed storage (the `matmul` entry point's form)
//   instead of C = A B.
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

#include "alloc.h"
#include "common.h"
#include "gemm.h"
#include "threadpool.h"

extern "C" void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda,
                            const float* b, int ldb, float beta, float* c, int ldc);
extern "C" void openblas_set_num_threads(int);

// Stand-ins for alloc.cc's packing-scratch functions (alloc.cc also holds N-API bindings, so it is
// not linked here): plain 64-byte aligned heap blocks, which is what alloc.cc hands out below its
// kept size (32 MiB; the packed operands of a 2048^3 product take 16 MiB each).
namespace ts {
size_t scratch_keep_bytes() { return size_t(32) << 20; }
void* scratch_alloc(size_t bytes) {
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (p == nullptr && bytes > 0) { std::fprintf(stderr, "gemm_harness: scratch of %zu bytes failed\n", bytes); std::exit(1); }
  return p;
}
void scratch_free(void* p, size_t) { std::free(p); }
}  // namespace ts

namespace {
double now(clockid_t id) { timespec t; clock_gettime(id, &t); return double(t.tv_sec) + double(t.tv_nsec) * 1e-9; }
double median(std::vector<double> v) { std::sort(v.begin(), v.end()); return v[v.size() / 2]; }
}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 1024;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 7;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 1;
  const int reps = argc > 4 ? std::atoi(argv[4]) : int(std::max(2.0, 4e9 / (2.0 * double(n) * double(n) * double(n))));
  if (n < 1 || rounds < 1 || threads < 1 || reps < 1) { std::fprintf(stderr, "gemm_harness: N, rounds, threads and reps must be >= 1\n"); return 2; }
  const bool fresh = std::getenv("GEMM_FRESH") != nullptr, acc = std::getenv("GEMM_ACC") != nullptr;
  ts::set_num_threads(threads);
  openblas_set_num_threads(threads);
  std::vector<float> a(n * n), b(n * n), c(n * n), c2(n * n);
  std::srand(1);
  for (long i = 0; i < n * n; i++) { a[i] = float(std::rand() % 1000) / 1000.f - .5f; b[i] = float(std::rand() % 1000) / 1000.f - .5f; }
  const size_t bytes = sizeof(float) * size_t(n * n);
  auto ours = [&](float* out) {
    ts::GemmOp o;
    o.m = n; o.n = n; o.k = n;
    o.a = a.data(); o.sam = n; o.sak = 1;
    o.b = b.data(); o.sbk = n; o.sbn = 1;
    o.c = out; o.ldc = n;
    o.overwrite = !acc;
    ts::gemm_multi(false, &o, 1);
  };
  auto blas = [&](float* out) { cblas_sgemm(101, 111, 111, int(n), int(n), int(n), 1.f, a.data(), int(n), b.data(), int(n), 0.f, out, int(n)); };
  std::fill(c.begin(), c.end(), 0.f);
  ours(c.data());
  blas(c2.data());
  double maxdiff = 0;
  for (long i = 0; i < n * n; i++) maxdiff = std::max(maxdiff, double(std::fabs(c[i] - c2[i])));
  std::vector<double> cpuOurs, cpuBlas, wallOurs, wallBlas;
  const double flops = 2.0 * double(n) * double(n) * double(n) * reps;
  for (int r = 0; r < rounds; r++) {
    for (int side = 0; side < 2; side++) {
      const bool isOurs = (side == 0) == (r % 2 == 0);
      const double c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
      for (int i = 0; i < reps; i++) {
        float* out = c.data();
        if (fresh) out = static_cast<float*>(mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        if (out == MAP_FAILED) { std::fprintf(stderr, "gemm_harness: mmap of %zu bytes failed\n", bytes); return 1; }
        if (isOurs) ours(out); else blas(out);
        if (fresh) munmap(out, bytes);
      }
      const double cs = now(CLOCK_PROCESS_CPUTIME_ID) - c0, ws = now(CLOCK_MONOTONIC) - w0;
      (isOurs ? cpuOurs : cpuBlas).push_back(flops / cs / 1e9);
      (isOurs ? wallOurs : wallBlas).push_back(flops / ws / 1e9);
    }
  }
  const double mo = median(cpuOurs), mb = median(cpuBlas), wo = median(wallOurs), wb = median(wallBlas);
  std::printf("{\"bench\":\"gemm-harness\",\"size\":%ld,\"threads\":%d,\"path\":\"%s\",\"reps\":%d,\"rounds\":%d,\"fresh\":%s,\"acc\":%s,"
              "\"maxAbsDiff\":%.3g,\"cpuGflops\":%.2f,\"openblasCpuGflops\":%.2f,\"cpuRatio\":%.4f,\"gflops\":%.2f,\"openblasGflops\":%.2f,\"ratio\":%.4f}\n",
              n, threads, ts::active()->name, reps, rounds, fresh ? "true" : "false", acc ? "true" : "false", maxdiff, mo, mb, mo / mb, wo, wb, wo / wb);
  return 0;
}
