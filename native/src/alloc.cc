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

#include <cstdint>
#include <cstdlib>
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

}  // namespace ts
