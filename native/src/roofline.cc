// The machine's roofs, measured (src/report/roofline.ts caches them and places kernels under them):
//   - peak float32 FLOP/s of one CPU path: every pool thread runs a loop of independent
//     multiply-adds on registers only (12 accumulators, enough to cover the FMA latency on two FMA
//     ports), AVX-512 FMA on zmm, AVX2 FMA on ymm, or SSE2 multiply + add (the generic path, no FMA
//     in baseline x86-64); FLOPs = 2 per lane per multiply-add;
//   - memory bandwidth: a parallel copy of a buffer far larger than the caches, counted as
//     bytes read + bytes written (STREAM's "copy" convention), best of a few runs.
// The SIMD loops use function-level target attributes instead of a static library per path (as
// the kernels do): they are a few lines each, run only when CPUID says the path is supported, and
// the rest of the file stays baseline x86-64.
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "binding.h"
#include "common.h"
#include "threadpool.h"
#if defined(__x86_64__) && !defined(TS_NO_X86_PATHS)
#include <immintrin.h>
#endif

namespace ts {
namespace {

using clock_type = std::chrono::steady_clock;
constexpr int kAcc = 12;

#if defined(__x86_64__) && !defined(TS_NO_X86_PATHS)
__attribute__((target("avx512f,fma"))) float fma_loop_avx512(long iters) {
  __m512 acc[kAcc];
  for (int j = 0; j < kAcc; j++) acc[j] = _mm512_set1_ps(1.0f + 0.001f * float(j));
  volatile float mv = 0.9999999f, cv = 1e-7f;   // opaque: a compiler must not fold the loop (it did, for SSE)
  const __m512 m = _mm512_set1_ps(mv), c = _mm512_set1_ps(cv);
  for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
    for (int j = 0; j < kAcc; j++) acc[j] = _mm512_fmadd_ps(acc[j], m, c);
  }
  __m512 s = acc[0];
  for (int j = 1; j < kAcc; j++) s = _mm512_add_ps(s, acc[j]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) float fma_loop_avx2(long iters) {
  __m256 acc[kAcc];
  for (int j = 0; j < kAcc; j++) acc[j] = _mm256_set1_ps(1.0f + 0.001f * float(j));
  volatile float mv = 0.9999999f, cv = 1e-7f;
  const __m256 m = _mm256_set1_ps(mv), c = _mm256_set1_ps(cv);
  for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
    for (int j = 0; j < kAcc; j++) acc[j] = _mm256_fmadd_ps(acc[j], m, c);
  }
  float out[8];
  __m256 s = acc[0];
  for (int j = 1; j < kAcc; j++) s = _mm256_add_ps(s, acc[j]);
  _mm256_storeu_ps(out, s);
  return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

float fma_loop_generic(long iters) {
  __m128 acc[kAcc];
  for (int j = 0; j < kAcc; j++) acc[j] = _mm_set1_ps(1.0f + 0.001f * float(j));
  // opaque constants: with literal ones GCC -O3 folded this loop away, the calibration below then
  // grew the count without bound and a 0.02 s probe ran for minutes
  volatile float mv = 0.9999999f, cv = 1e-7f;
  const __m128 m = _mm_set1_ps(mv), c = _mm_set1_ps(cv);
  for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
    for (int j = 0; j < kAcc; j++) acc[j] = _mm_add_ps(_mm_mul_ps(acc[j], m), c);
  }
  float out[4];
  __m128 s = acc[0];
  for (int j = 1; j < kAcc; j++) s = _mm_add_ps(s, acc[j]);
  _mm_storeu_ps(out, s);
  return out[0] + out[1] + out[2] + out[3];
}
constexpr int kLanes512 = 16, kLanes256 = 8, kLanes128 = 4;
#else
float fma_loop_generic(long iters) {
  float acc[kAcc * 4];
  volatile float mv0 = 0.9999999f, cv0 = 1e-7f;   // opaque, so the loop cannot be folded
  const float mv = mv0, cv = cv0;
  for (int j = 0; j < kAcc * 4; j++) acc[j] = 1.0f + 0.001f * float(j);
  for (long i = 0; i < iters; i++)
    for (int j = 0; j < kAcc * 4; j++) acc[j] = acc[j] * mv + cv;
  float s = 0;
  for (int j = 0; j < kAcc * 4; j++) s += acc[j];
  return s;
}
constexpr int kLanes128 = 4;
#endif

volatile float g_sink = 0;

// Seconds for every pool thread to run `iters` iterations of `loop`.
double time_all_threads(float (*loop)(long), long iters) {
  std::vector<float> sinks(size_t(num_threads()), 0.0f);
  const auto t0 = clock_type::now();
  run_on_all([&](int i, int) { sinks[size_t(i)] = loop(iters); });
  const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
  for (float x : sinks) g_sink = g_sink + x;
  return s;
}

// rooflineProbe(path, seconds, copyBytes) -> { path, threads, fmaGflops, copyGbps }
Napi::Value RooflineProbeImpl(const Napi::CallbackInfo& info) {
  Call c(info, "rooflineProbe");
  if (!info[0].IsString()) c.fail("argument 0 must be the CPU path ('avx512', 'avx2' or 'generic')");
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const double seconds = c.number(1, "seconds");
  const long copy_bytes = c.integer(2, "copyBytes", 1 << 20, 1L << 34);
  if (!(seconds > 0 && seconds <= 10)) c.fail("seconds must be in (0, 10], got " + std::to_string(seconds));
  if (!cpu_supports(path.c_str())) c.fail("CPU path '" + path + "' is not supported by this CPU");
  float (*loop)(long) = fma_loop_generic;
  int lanes = kLanes128;
#if defined(__x86_64__) && !defined(TS_NO_X86_PATHS)
  if (path == "avx512") { loop = fma_loop_avx512; lanes = kLanes512; }
  else if (path == "avx2") { loop = fma_loop_avx2; lanes = kLanes256; }
#endif
  const int threads = num_threads();
  // calibrate, then three timed runs of about seconds / 4 each; keep the fastest
  long iters = 1 << 16;
  double t = time_all_threads(loop, iters);
  while (t < 0.01 && iters < (1L << 40)) { iters *= 4; t = time_all_threads(loop, iters); }   // bounded, whatever the timer says
  iters = long(double(iters) * (seconds / 4) / t) + 1;
  double best = 1e300;
  for (int r = 0; r < 3; r++) best = std::min(best, time_all_threads(loop, iters));
  const double flops = 2.0 * lanes * kAcc * double(iters) * threads;

  // copy bandwidth: touch both buffers first (page faults are not bandwidth)
  const size_t n = size_t(copy_bytes);
  std::vector<char> src(n), dst(n);
  parallel_for(long(n), 1 << 20, [&](long b, long e) { std::memset(src.data() + b, 1, size_t(e - b)); std::memset(dst.data() + b, 0, size_t(e - b)); });
  double best_copy = 1e300;
  for (int r = 0; r < 4; r++) {
    const auto t0 = clock_type::now();
    parallel_for(long(n), 1 << 20, [&](long b, long e) { std::memcpy(dst.data() + b, src.data() + b, size_t(e - b)); });
    best_copy = std::min(best_copy, std::chrono::duration<double>(clock_type::now() - t0).count());
  }
  g_sink = g_sink + float(dst[n / 2]);

  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", Napi::String::New(env, path));
  o.Set("threads", Napi::Number::New(env, threads));
  o.Set("fmaGflops", Napi::Number::New(env, flops / best / 1e9));
  o.Set("copyGbps", Napi::Number::New(env, 2.0 * double(n) / best_copy / 1e9));
  return o;
}

}  // namespace

Napi::Value RooflineProbe(const Napi::CallbackInfo& info) { return RooflineProbeImpl(info); }

}  // namespace ts
