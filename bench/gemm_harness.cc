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
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
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
size_t gemm_block_bytes() { return size_t(8) << 20; }
void* scratch_alloc(size_t bytes, bool& mapped) {
  mapped = false;
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (p == nullptr && bytes > 0) { std::fprintf(stderr, "gemm_harness: scratch of %zu bytes failed\n", bytes); std::exit(1); }
  return p;
}
void scratch_free(void* p, size_t, bool) { std::free(p); }
}  // namespace ts

// GEMM_AB builds (gemm_harness.sh with GEMM_AB=<other checkout>): the peer is not OpenBLAS but the
// other checkout's driver, compiled with -Dts=ts_before (its own kernels, pool and scratch), so
// before and after alternate in one process; the "openblas*" fields then hold the before side.
#if defined(GEMM_AB)
namespace ts_before {  // its scratch: the stand-ins above (alloc.h's signatures of both checkouts)
size_t scratch_keep_bytes() { return ts::scratch_keep_bytes(); }
size_t gemm_block_bytes() { return ts::gemm_block_bytes(); }
void* scratch_alloc(size_t bytes, bool& mapped) { return ts::scratch_alloc(bytes, mapped); }
void scratch_free(void* p, size_t bytes, bool mapped) { ts::scratch_free(p, bytes, mapped); }
struct GemmOp;  // the same layout as ts::GemmOp (gemm.h, unchanged between the two checkouts)
void gemm_multi(bool f64, const GemmOp* ops, int nops, long nside, const std::function<void(long)>* side);
void set_num_threads(int n);
}  // namespace ts_before
#endif

namespace {
double now(clockid_t id) { timespec t; clock_gettime(id, &t); return double(t.tv_sec) + double(t.tv_nsec) * 1e-9; }
double median(std::vector<double> v) { std::sort(v.begin(), v.end()); return v[v.size() / 2]; }
long involuntary_switches() { rusage u; getrusage(RUSAGE_SELF, &u); return u.ru_nivcsw; }
double loadavg1() { double l[1] = {0}; return getloadavg(l, 1) == 1 ? l[0] : -1; }

// One product of ours seen through the pool's trace (threadpool.h): its wall time, and per phase
// (pool job, in order: 0 = packing and prefault, 1 = tiles of C; a driver with one job per product
// prints it as "tiles") the job's window (first task start
// to last task end), and per thread its busy time (sum of its task spans), how late its first task
// started after the window opened (wake-up / claim latency) and how long before the window closed
// its last task ended (waiting at the job's end). Also the gap between the two windows (the
// caller's wait for phase 1's last task plus the publication of phase 2) and the time outside both.
constexpr int kMaxPhases = 2, kMaxThreads = 2;
struct PhaseStats {
  int jobs = 0;
  double wall = 0, gap = 0, outside = 0;
  double window[kMaxPhases] = {}, busy[kMaxPhases][kMaxThreads] = {}, late[kMaxPhases][kMaxThreads] = {}, early[kMaxPhases][kMaxThreads] = {};
  double tasks[kMaxPhases][kMaxThreads] = {};
};
PhaseStats phase_stats(const std::vector<int64_t>& sp, int64_t t0, int64_t t1, int threads) {
  PhaseStats st;
  st.wall = double(t1 - t0) / 1e3;
  std::vector<int64_t> jobs;
  for (size_t i = 0; i + 3 < sp.size(); i += 4) if (std::find(jobs.begin(), jobs.end(), sp[i + 1]) == jobs.end()) jobs.push_back(sp[i + 1]);
  std::sort(jobs.begin(), jobs.end());
  st.jobs = int(jobs.size());
  int64_t lo[kMaxPhases], hi[kMaxPhases], first[kMaxPhases][kMaxThreads], last[kMaxPhases][kMaxThreads];
  for (int j = 0; j < kMaxPhases; j++) {
    lo[j] = INT64_MAX; hi[j] = INT64_MIN;
    for (int t = 0; t < kMaxThreads; t++) { first[j][t] = INT64_MAX; last[j][t] = INT64_MIN; }
  }
  for (size_t i = 0; i + 3 < sp.size(); i += 4) {
    const int t = int(sp[i]);
    const int j = int(std::find(jobs.begin(), jobs.end(), sp[i + 1]) - jobs.begin());
    if (j >= kMaxPhases || t >= kMaxThreads || t >= threads) continue;
    lo[j] = std::min(lo[j], sp[i + 2]); hi[j] = std::max(hi[j], sp[i + 3]);
    first[j][t] = std::min(first[j][t], sp[i + 2]); last[j][t] = std::max(last[j][t], sp[i + 3]);
    st.busy[j][t] += double(sp[i + 3] - sp[i + 2]) / 1e3;
    st.tasks[j][t] += 1;
  }
  double inside = 0;
  for (int j = 0; j < kMaxPhases && j < int(jobs.size()); j++) {
    st.window[j] = double(hi[j] - lo[j]) / 1e3;
    inside += st.window[j];
    for (int t = 0; t < threads && t < kMaxThreads; t++) {
      st.late[j][t] = first[j][t] == INT64_MAX ? st.window[j] : double(first[j][t] - lo[j]) / 1e3;
      st.early[j][t] = last[j][t] == INT64_MIN ? st.window[j] : double(hi[j] - last[j][t]) / 1e3;
    }
  }
  if (jobs.size() >= 2) st.gap = double(lo[1] - hi[0]) / 1e3;
  st.outside = st.wall - inside - st.gap;
  return st;
}
// Medians over products of every field, in microseconds, as JSON members `name: {...}`.
void print_phases(const char* name, const std::vector<PhaseStats>& v, int threads) {
  auto med = [&](auto get) { std::vector<double> x; for (const PhaseStats& s : v) x.push_back(get(s)); return x.empty() ? 0.0 : median(x); };
  std::printf(",\"%s\":{\"products\":%zu,\"wallUs\":%.1f,\"gapUs\":%.1f,\"outsideUs\":%.1f", name, v.size(),
              med([](const PhaseStats& s) { return s.wall; }), med([](const PhaseStats& s) { return s.gap; }), med([](const PhaseStats& s) { return s.outside; }));
  const int jobs = int(med([](const PhaseStats& s) { return double(s.jobs); }));
  std::printf(",\"jobs\":%d", jobs);
  for (int j = 0; j < kMaxPhases && j < jobs; j++) {
    std::printf(",\"%s\":{\"windowUs\":%.1f", j == 0 && jobs > 1 ? "pack" : "tiles", med([&](const PhaseStats& s) { return s.window[j]; }));
    for (int t = 0; t < threads && t < kMaxThreads; t++) {
      std::printf(",\"t%d\":{\"busyUs\":%.1f,\"lateUs\":%.1f,\"earlyUs\":%.1f,\"tasks\":%.0f}", t, med([&](const PhaseStats& s) { return s.busy[j][t]; }),
                  med([&](const PhaseStats& s) { return s.late[j][t]; }), med([&](const PhaseStats& s) { return s.early[j][t]; }),
                  med([&](const PhaseStats& s) { return s.tasks[j][t]; }));
    }
    std::printf("}");
  }
  std::printf("}");
}
}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 1024;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 7;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 1;
  const int reps = argc > 4 ? std::atoi(argv[4]) : int(std::max(2.0, 4e9 / (2.0 * double(n) * double(n) * double(n))));
  if (n < 1 || rounds < 1 || threads < 1 || reps < 1) { std::fprintf(stderr, "gemm_harness: N, rounds, threads and reps must be >= 1\n"); return 2; }
  const bool fresh = std::getenv("GEMM_FRESH") != nullptr, acc = std::getenv("GEMM_ACC") != nullptr;
  const bool trace = std::getenv("GEMM_TRACE") != nullptr;
  ts::set_num_threads(threads);
  openblas_set_num_threads(threads);
  std::vector<float> a(n * n), b(n * n), c(n * n), c2(n * n);
  std::srand(1);
  for (long i = 0; i < n * n; i++) { a[i] = float(std::rand() % 1000) / 1000.f - .5f; b[i] = float(std::rand() % 1000) / 1000.f - .5f; }
  const size_t bytes = sizeof(float) * size_t(n * n);
  auto product = [&](float* out) {  // C = A B (C += A B with GEMM_ACC) into out, both row-major
    ts::GemmOp o;
    o.m = n; o.n = n; o.k = n;
    o.a = a.data(); o.sam = n; o.sak = 1;
    o.b = b.data(); o.sbk = n; o.sbn = 1;
    o.c = out; o.ldc = n;
    o.overwrite = !acc;
    return o;
  };
  auto ours = [&](float* out) { const ts::GemmOp o = product(out); ts::gemm_multi(false, &o, 1); };
#if defined(GEMM_AB)
  ts_before::set_num_threads(threads);
  auto blas = [&](float* out) {
    const ts::GemmOp o = product(out);
    ts_before::gemm_multi(false, reinterpret_cast<const ts_before::GemmOp*>(&o), 1, 0, nullptr);
  };
#else
  auto blas = [&](float* out) { cblas_sgemm(101, 111, 111, int(n), int(n), int(n), 1.f, a.data(), int(n), b.data(), int(n), 0.f, out, int(n)); };
#endif
  std::fill(c.begin(), c.end(), 0.f);
  ours(c.data());
  blas(c2.data());
  double maxdiff = 0;
  for (long i = 0; i < n * n; i++) maxdiff = std::max(maxdiff, double(std::fabs(c[i] - c2[i])));
  std::vector<double> cpuOurs, cpuBlas, wallOurs, wallBlas;
  // per product: wall GFLOP/s of the products that no thread of the process was preempted in
  // (getrusage's involuntary context switches unchanged): on a loaded machine these are the quiet
  // samples; with GEMM_TRACE=1, the pool's task spans of each of ours (phase breakdown, below)
  std::vector<double> cleanOurs, cleanBlas, cleanCpuOurs, cleanCpuBlas;
  std::vector<PhaseStats> phases, phasesClean;
  if (trace) ts::set_pool_trace(true);
  const double flops1 = 2.0 * double(n) * double(n) * double(n), flops = flops1 * reps;
  for (int r = 0; r < rounds; r++) {
    for (int side = 0; side < 2; side++) {
      const bool isOurs = (side == 0) == (r % 2 == 0);
      const double c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
      for (int i = 0; i < reps; i++) {
        float* out = c.data();
        if (fresh) out = static_cast<float*>(mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        if (out == MAP_FAILED) { std::fprintf(stderr, "gemm_harness: mmap of %zu bytes failed\n", bytes); return 1; }
        const long sw0 = involuntary_switches();
        const double p0 = now(CLOCK_PROCESS_CPUTIME_ID);
        const int64_t t0 = ts::pool_trace_now_ns();
        if (isOurs) ours(out); else blas(out);
        const int64_t t1 = ts::pool_trace_now_ns();
        const double p1 = now(CLOCK_PROCESS_CPUTIME_ID);
        const bool clean = involuntary_switches() == sw0;
        if (clean) {
          (isOurs ? cleanOurs : cleanBlas).push_back(flops1 / double(t1 - t0));
          (isOurs ? cleanCpuOurs : cleanCpuBlas).push_back(flops1 / (p1 - p0) / 1e9);
        }
        if (isOurs && trace) {
          std::vector<int64_t> spans;
          ts::drain_pool_trace(spans);
          const PhaseStats st = phase_stats(spans, t0, t1, threads);
          phases.push_back(st);
          if (clean) phasesClean.push_back(st);
        }
        if (fresh) munmap(out, bytes);
      }
      const double cs = now(CLOCK_PROCESS_CPUTIME_ID) - c0, ws = now(CLOCK_MONOTONIC) - w0;
      (isOurs ? cpuOurs : cpuBlas).push_back(flops / cs / 1e9);
      (isOurs ? wallOurs : wallBlas).push_back(flops / ws / 1e9);
    }
  }
  const double mo = median(cpuOurs), mb = median(cpuBlas), wo = median(wallOurs), wb = median(wallBlas);
  auto med0 = [](const std::vector<double>& v) { return v.empty() ? 0.0 : median(v); };
  const double co = med0(cleanOurs), cb = med0(cleanBlas);
  std::printf("{\"bench\":\"gemm-harness\",\"size\":%ld,\"threads\":%d,\"path\":\"%s\",\"reps\":%d,\"rounds\":%d,\"fresh\":%s,\"acc\":%s,"
              "\"maxAbsDiff\":%.3g,\"cpuGflops\":%.2f,\"openblasCpuGflops\":%.2f,\"cpuRatio\":%.4f,\"gflops\":%.2f,\"openblasGflops\":%.2f,\"ratio\":%.4f,"
              "\"cleanGflops\":%.2f,\"openblasCleanGflops\":%.2f,\"cleanRatio\":%.4f,\"cleanCpuGflops\":%.2f,\"openblasCleanCpuGflops\":%.2f,"
              "\"cleanProducts\":[%zu,%zu],\"products\":%d",
              n, threads, ts::active()->name, reps, rounds, fresh ? "true" : "false", acc ? "true" : "false", maxdiff, mo, mb, mo / mb, wo, wb, wo / wb,
              co, cb, cb > 0 ? co / cb : 0.0, med0(cleanCpuOurs), med0(cleanCpuBlas), cleanOurs.size(), cleanBlas.size(), reps * rounds);
  if (trace) {
    print_phases("phases", phases, threads);
    print_phases("phasesClean", phasesClean, threads);
  }
  std::printf(",\"loadavg\":%.2f}\n", loadavg1());
  return 0;
}
