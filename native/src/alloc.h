// Process-wide memory tuning of the tensorslim native addon: glibc malloc settings for large tensor
// buffers (applied once, by tune_process_memory(), from addon.cc's Init) and transparent huge pages
// for large kernel outputs (advise_output(), called by the drivers before they write). Every knob,
// its environment variable and why it exists: docs/NATIVE.md "Memory tuning".
#pragma once
#include <cstddef>

namespace ts {

// Applies the process-wide malloc settings (glibc only; a no-op elsewhere), unless switched off:
//   TENSORSLIM_MALLOC_TUNE=0  keep glibc's defaults entirely;
//   TENSORSLIM_MALLOC_MMAP=1  keep the mmap/trim thresholds but let glibc mmap blocks above them.
// Called once when the addon loads (never at static-initialization time).
void tune_process_memory();

// Asks for transparent huge pages over the 2 MiB-aligned interior of an output buffer of at least
// 8 MiB before a kernel writes it (Linux madvise(MADV_HUGEPAGE)); TENSORSLIM_HUGEPAGES=0 turns it off.
void advise_output(void* out, size_t bytes);

// Scratch buffers of the kernels (the GEMM's packed operands): 64-byte aligned. Above
// scratch_keep_bytes() (TENSORSLIM_GEMM_SCRATCH_MB, default 32) each is an anonymous mapping of its
// own (4 KiB pages, no huge-page advice) that scratch_free unmaps, so it never sits in the C heap
// (a large block freed there is carved up by tensor allocations and the next one grows the heap);
// smaller ones come from malloc. The parallel GEMM packs products whose packed operands would exceed
// it by blocks instead (gemm_block_bytes), so with the defaults no GEMM scratch is ever mapped; only
// a smaller TENSORSLIM_GEMM_SCRATCH_MB than TENSORSLIM_GEMM_BLOCK_MB maps the blocks' scratch. Before
// mapping, scratch_alloc trims the C heap (trim_heap) when it holds at least TENSORSLIM_MALLOC_TRIM_MB
// (default 64; 0 = never) free. scratch_alloc sets `mapped`; scratch_free needs the same `bytes` and
// `mapped` (nullptr is a no-op).
size_t scratch_keep_bytes();
// The packing scratch of one block of a product too large to pack whole (its packed A or B above
// scratch_keep_bytes): the parallel GEMM then packs by blocks of at most about this many bytes
// (TENSORSLIM_GEMM_BLOCK_MB, default 8, at least 1).
size_t gemm_block_bytes();
size_t trim_min_free_bytes();
void* scratch_alloc(size_t bytes, bool& mapped);
void scratch_free(void* p, size_t bytes, bool mapped);

// What trim_heap saw: glibc's heap (all arenas) and its free bytes before trimming (free bytes may
// already have been returned to the kernel by an earlier trim: glibc cannot tell resident from not).
struct HeapTrim {
  bool available = false;  // glibc >= 2.33 (mallinfo2); elsewhere nothing is measured or trimmed
  size_t heap_bytes = 0;   // arena + hblkhd: bytes glibc holds from the system
  size_t free_bytes = 0;   // fordblks: free bytes inside the arenas
  size_t free_after = 0;
  bool trimmed = false;
  double trim_us = 0;
};

// Returns the free pages of every arena to the kernel (malloc_trim(0): madvise(MADV_DONTNEED) of
// each free chunk's whole pages, and the heap top) when glibc's free bytes are at least min_free.
// With M_MMAP_MAX = 0 (tune_process_memory) freed tensor buffers stay resident until this runs.
HeapTrim trim_heap(size_t min_free);

}  // namespace ts
