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

}  // namespace ts
