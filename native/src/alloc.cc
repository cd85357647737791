// Process-wide malloc tuning for large tensor buffers, applied once when the addon loads.
//
// Tensor storage is typed arrays, which Node allocates with malloc/calloc. ops.cc (MallocTune) already
// fixes glibc's mmap threshold at 32 MiB, the most glibc accepts, so buffers up to 32 MiB are reused
// from the heap. Larger ones (a 2^24-element float32 tensor is 64 MiB) were still mmapped fresh at
// every allocation and unmapped at every free: each output of an elementwise op then paid a page
// fault per page (or per 2 MiB huge page, which the kernel clears) before the kernel could write it,
// which held ops that allocate a 64 MiB output to 33-70% of the memory bandwidth of a copy into an
// existing tensor. With M_MMAP_MAX = 0 glibc serves every size from its heap, so a freed 64 MiB buffer
// is reused, already resident, by the next allocation of that size. (Threads other than the main one
// allocate from per-thread arenas of at most 64 MiB; glibc still mmaps larger blocks there.)
//
// Cost: freed memory stays resident while it is not at the top of the heap (glibc returns the top
// above the 256 MiB trim threshold set in ops.cc, and everything free on malloc_trim). Resident memory
// stays at its high-water mark instead of shrinking after each large free.
//   TENSORSLIM_MALLOC_TUNE=0   keep glibc's defaults (this and ops.cc's thresholds)
//   TENSORSLIM_MALLOC_MMAP=1   keep mmap for large blocks (only the ops.cc thresholds)
#include <cstdlib>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ts {
namespace {

#if defined(__GLIBC__)
struct HeapForLargeBlocks {
  HeapForLargeBlocks() {
    const char* tune = std::getenv("TENSORSLIM_MALLOC_TUNE");
    if (tune != nullptr && tune[0] == '0') return;
    const char* keep = std::getenv("TENSORSLIM_MALLOC_MMAP");
    if (keep != nullptr && keep[0] == '1') return;
    mallopt(M_MMAP_MAX, 0);
  }
} g_heap_for_large_blocks;
#endif

}  // namespace
}  // namespace ts
