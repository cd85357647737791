// Process-wide memory tuning: see alloc.h, and docs/NATIVE.md "Memory tuning" for the measurements.
//
// Tensor storage is typed arrays, which Node allocates with malloc/calloc. With glibc's defaults,
// buffers of a few MB are mmapped fresh (or the heap top is trimmed after a free), so every new
// output page faults in on first touch: for a 1200 x 1200 float32 GEMM output that cost more than
// the product itself. tune_process_memory() therefore
//   1. fixes the mmap threshold at 32 MiB (the most glibc accepts) and the trim threshold at 256 MiB,
//      so freed buffers stay in the heap for reuse (calloc then zeroes them with memset, far cheaper
//      than page faults);
//   2. sets M_MMAP_MAX = 0, so glibc serves even larger blocks (a 2^24-element float32 tensor is
//      64 MiB) from its heap: a freed 64 MiB buffer is reused, already resident, by the next
//      allocation of that size, instead of being mmapped fresh and faulted in page by page (which
//      held ops that allocate a 64 MiB output to 33-70% of the bandwidth of a copy into an existing
//      tensor). Threads other than the main one allocate from per-thread arenas of at most 64 MiB;
//      glibc still mmaps larger blocks there.
// Cost: resident memory stays at its high-water mark instead of shrinking after each large free
// (glibc returns the heap top above the trim threshold, and everything free on malloc_trim).
#include "alloc.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "binding.h"
#include "gemm.h"
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace ts {
namespace {

// Whether environment variable `name` is set and starts with `c`.
bool env_is(const char* name, char c) {
  const char* e = std::getenv(name);
  return e != nullptr && e[0] == c;
}

constexpr size_t kHugeMin = size_t(8) << 20;  // outputs from 8 MiB get huge pages

}  // namespace

void tune_process_memory() {
#if defined(__GLIBC__)
  static bool done = false;
  if (done) return;
  done = true;
  if (env_is("TENSORSLIM_MALLOC_TUNE", '0')) return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  if (!env_is("TENSORSLIM_MALLOC_MMAP", '1')) mallopt(M_MMAP_MAX, 0);
#endif
}

// A large output of a fresh mmapped buffer faults on its first write of every 4 KiB page; on a KVM
// guest a fault costs ~2.5 us, and a 64 MiB clone took 40 ms (3.3 GB/s) of which the copy itself is
// a few ms. With MADV_HUGEPAGE (honoured when /sys/kernel/mm/transparent_hugepage/enabled is
// "madvise" or "always") the kernel maps 2 MiB pages instead: 512 times fewer faults. Only the
// 2 MiB-aligned interior of the buffer is advised (it is wholly ours).
void advise_output(void* out, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  static const bool on = !env_is("TENSORSLIM_HUGEPAGES", '0');
  if (bytes < kHugeMin || out == nullptr || !on) return;
  const uintptr_t huge = uintptr_t(2) << 20;
  const uintptr_t b = (reinterpret_cast<uintptr_t>(out) + huge - 1) & ~(huge - 1);
  const uintptr_t e = (reinterpret_cast<uintptr_t>(out) + bytes) & ~(huge - 1);
  if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_HUGEPAGE);
#else
  (void)out; (void)bytes;
#endif
}

namespace {
// TENSORSLIM_GEMM_SCRATCH_MB and TENSORSLIM_GEMM_BLOCK_MB, read once; gemmScratch() changes them (tests)
std::atomic<size_t>& keep_setting() {
  static std::atomic<size_t> keep([] {
    const char* e = std::getenv("TENSORSLIM_GEMM_SCRATCH_MB");
    const long mb = e != nullptr && *e != '\0' ? std::strtol(e, nullptr, 10) : 32;
    return size_t(mb < 0 ? 32 : mb) << 20;
  }());
  return keep;
}
std::atomic<size_t>& block_setting() {
  static std::atomic<size_t> block([] {
    const char* e = std::getenv("TENSORSLIM_GEMM_BLOCK_MB");
    const double mb = e != nullptr && *e != '\0' ? std::strtod(e, nullptr) : 8;
    return size_t((mb < 1 ? 1 : mb) * 1048576.0);
  }());
  return block;
}
}  // namespace

size_t scratch_keep_bytes() { return keep_setting().load(std::memory_order_relaxed); }
size_t gemm_block_bytes() { return block_setting().load(std::memory_order_relaxed); }

size_t trim_min_free_bytes() {
  static const size_t min_free = [] {
    const char* e = std::getenv("TENSORSLIM_MALLOC_TRIM_MB");
    const double mb = e != nullptr && *e != '\0' ? std::strtod(e, nullptr) : 64;
    return mb > 0 ? size_t(mb * 1048576.0) : size_t(0);
  }();
  return min_free;
}

void* scratch_alloc(size_t bytes, bool& mapped) {
  mapped = false;
#if defined(__linux__)
  if (bytes > scratch_keep_bytes()) {
    // New pages from the kernel while the C heap may hold hundreds of MiB of free resident pages:
    // give those back first.
    if (trim_min_free_bytes() > 0) trim_heap(trim_min_free_bytes());
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    // no MADV_HUGEPAGE here: a mapping made anew at every use pays huge-page faults (synchronous
    // compaction with THP defrag "madvise"): ~+7% of the GPT-2 step's CPU against ~+3% with 4 KiB pages
    mapped = true;
    return p;
  }
#endif
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (p == nullptr && bytes > 0) throw std::bad_alloc();
  return p;
}

void scratch_free(void* p, size_t bytes, bool mapped) {
  if (p == nullptr) return;
#if defined(__linux__)
  if (mapped) { munmap(p, bytes); return; }
#else
  (void)bytes; (void)mapped;
#endif
  std::free(p);
}

HeapTrim trim_heap(size_t min_free) {
  HeapTrim r;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 mi = mallinfo2();
  r.heap_bytes = mi.arena + mi.hblkhd;
  r.free_bytes = mi.fordblks;
  r.available = true;
  if (mi.fordblks < min_free) return r;
  const auto t0 = std::chrono::steady_clock::now();
  malloc_trim(0);
  r.trim_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  r.trimmed = true;
  mi = mallinfo2();
  r.free_after = mi.fordblks;
#else
  (void)min_free;
#endif
  return r;
}

// releaseScratch(): frees the calling thread's kernel scratch above TENSORSLIM_GEMM_SCRATCH_MB
Napi::Value ReleaseScratch(const Napi::CallbackInfo& info) {
  release_gemm_scratch();
  return info.Env().Undefined();
}

// gemmScratch(keepBytes?: number, blockBytes?: number) -> { keepBytes, blockBytes } (the settings
// before the call): sets TENSORSLIM_GEMM_SCRATCH_MB's and TENSORSLIM_GEMM_BLOCK_MB's values in bytes
// at run time, so tests reach the blocked GEMM with small products. Undefined leaves one as it is.
Napi::Value GemmScratch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("keepBytes", Napi::Number::New(env, double(scratch_keep_bytes())));
  o.Set("blockBytes", Napi::Number::New(env, double(gemm_block_bytes())));
  for (size_t i = 0; i < 2 && i < info.Length(); i++) {
    if (info[i].IsUndefined()) continue;
    if (!info[i].IsNumber() || !(info[i].As<Napi::Number>().DoubleValue() >= (i == 0 ? 0 : 1))) {
      Call(info, "gemmScratch").fail(i == 0 ? "expected keepBytes, a number >= 0 (or undefined)" : "expected blockBytes, a number >= 1 (or undefined)");
    }
  }
  if (info.Length() > 0 && info[0].IsNumber()) keep_setting().store(size_t(info[0].As<Napi::Number>().DoubleValue()));
  if (info.Length() > 1 && info[1].IsNumber()) block_setting().store(size_t(info[1].As<Napi::Number>().DoubleValue()));
  return o;
}

// mallocTrim(minFreeBytes: number) -> { available, heapBytes, freeBytes, trimmed, trimUs }
Napi::Value MallocTrim(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber() || info[0].As<Napi::Number>().DoubleValue() < 0) {
    Call(info, "mallocTrim").fail("expected minFreeBytes, a number >= 0 (0 = always trim)");
  }
  const HeapTrim r = trim_heap(size_t(info[0].As<Napi::Number>().DoubleValue()));
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("available", Napi::Boolean::New(env, r.available));
  o.Set("heapBytes", Napi::Number::New(env, double(r.heap_bytes)));
  o.Set("freeBytes", Napi::Number::New(env, double(r.free_bytes)));
  o.Set("trimmed", Napi::Boolean::New(env, r.trimmed));
  o.Set("trimUs", Napi::Number::New(env, r.trim_us));
  return o;
}

// freeArrayBuffer(buf) -> boolean: detach buf, so its memory goes back to the C heap at once instead
// of when V8 collects it (the storage pool's eviction, src/backend/pool.ts); false when buf cannot
// be detached. Every typed array over buf reads as empty afterwards.
Napi::Value FreeArrayBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) Call(info, "freeArrayBuffer").fail("expected an ArrayBuffer");
  const napi_status st = napi_detach_arraybuffer(env, info[0]);
  return Napi::Boolean::New(env, st == napi_ok);
}

}  // namespace ts
