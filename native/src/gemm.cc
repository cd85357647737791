// Goto/BLIS-style GEMM driver: pack A into MR-high panels and B into NR-wide panels (zero-padded;
// row-major A and transposed B are packed with per-ISA register transposes, gemm_isa.h), then call
// the active path's register-blocked micro-kernel per MR x NR tile. Packing reads any strides, so
// all four transpose combinations run the same inner loop.
//  - Serial (small products, one thread, or nested in a pool job): gemm_block, K blocks x L2-sized
//    N blocks, with thread-local packing buffers.
//  - Parallel: a Plan per product packs B by blocks (one pool job), then computes the tiles of C as
//    pool tasks, each packing the A band it needs on first use, shared with the other tiles
//    (gemm_multi runs several products' plans in one job per phase, with an optional bias / ReLU
//    epilogue in the tiles). The pool hands tasks out dynamically, so a thread the OS deschedules
//    (other processes share the cores) delays only the task it holds (and, rarely, a block whose
//    packing chunk it holds): no static split, no packing phase for A, nothing packed twice.
//  - Small float32 products on unpacked operands (sgemm_direct: attention's tiles).
//  - Batches of small products: one product per task.
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "alloc.h"
#include "common.h"
#include "gemm_isa.h"
#include "threadpool.h"

namespace ts {
namespace {

// This CPU's L1d and L2 sizes in bytes, from sysfs (0 where unknown: other systems, containers that
// hide /sys). Read once.
struct CacheSizes { long l1d = 0, l2 = 0; };
long read_cache_file(const char* path) {
  std::FILE* f = std::fopen(path, "r");
  if (f == nullptr) return -1;
  char buf[64] = {};
  const size_t got = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[got] = 0;
  char* end = nullptr;
  long v = std::strtol(buf, &end, 10);
  if (end != nullptr && (*end == 'K' || *end == 'k')) v *= 1024;
  else if (end != nullptr && (*end == 'M' || *end == 'm')) v *= 1024 * 1024;
  return v;
}
const CacheSizes& cache_sizes() {
  static const CacheSizes cs = [] {
    CacheSizes r;
    for (int i = 0; i < 8; i++) {
      char base[96], path[128], type[16] = {};
      std::snprintf(base, sizeof(base), "/sys/devices/system/cpu/cpu0/cache/index%d/", i);
      std::snprintf(path, sizeof(path), "%stype", base);
      std::FILE* f = std::fopen(path, "r");
      if (f == nullptr) break;
      const bool ok = std::fscanf(f, "%15s", type) == 1;
      std::fclose(f);
      if (!ok) continue;
      std::snprintf(path, sizeof(path), "%slevel", base);
      const long level = read_cache_file(path);
      std::snprintf(path, sizeof(path), "%ssize", base);
      const long size = read_cache_file(path);
      if (level == 1 && std::strcmp(type, "Data") == 0) r.l1d = size;
      if (level == 2 && std::strcmp(type, "Instruction") != 0) r.l2 = size;
    }
    return r;
  }();
  return cs;
}

// The K block (kc) and N block (nc) of a path with an MR x NR micro-kernel. The tables' skc / smc
// (dkc / dmc) are tuned on a core with a 48 KiB L1d and a 1.25 MiB L2 (Ice Lake Xeon); on another
// CPU they scale with its caches: kc with the L1d (the MR x kc A~ micro-panel stays in L1 while the
// B~ panels stream past it), nc so that the kc x nc block of B~ takes the same share of the L2.
// Unknown sizes keep the table's values.
void scale_blocking(int NR, int& kc, int& nc) {
  const CacheSizes& cs = cache_sizes();
  const long refL1 = 48L * 1024, refL2 = 1280L * 1024;
  const long kc0 = kc;
  if (cs.l1d > 0) {
    long k2 = kc0 * cs.l1d / refL1 / 8 * 8;
    kc = int(k2 < 64 ? 64 : (k2 > 2 * kc0 ? 2 * kc0 : k2));
  }
  if (cs.l2 > 0) {
    long n2 = long(double(nc) * double(cs.l2) / double(refL2) * double(kc0) / double(kc)) / NR * NR;
    nc = int(n2 < 2L * NR ? 2L * NR : (n2 > 8L * nc ? 8L * nc : n2));
  }
}

template <class T> struct Ukr;
template <> struct Ukr<float> {
  static void get(const KernelTable* t, int& mr, int& nr, int& kc, int& mc, void (*&f)(long, const float*, const float*, float*, long)) {
    mr = t->smr; nr = t->snr; kc = t->skc; mc = t->smc; f = t->sgemm_ukr;
    scale_blocking(nr, kc, mc);
  }
};
template <> struct Ukr<double> {
  static void get(const KernelTable* t, int& mr, int& nr, int& kc, int& mc, void (*&f)(long, const double*, const double*, double*, long)) {
    mr = t->dmr; nr = t->dnr; kc = t->dkc; mc = t->dmc; f = t->dgemm_ukr;
    scale_blocking(nr, kc, mc);
  }
};

// A per-thread, 64-byte aligned scratch buffer that only grows, until release_large() frees it.
// Above the kept size (scratch_keep_bytes) it is its own mapping, never C heap (alloc.h).
struct Scratch {
  void* p = nullptr;
  size_t cap = 0;
  bool mapped = false;
  void* get(size_t bytes) {
    if (bytes > cap) {
      scratch_free(p, cap, mapped);
      p = nullptr;
      cap = 0;
      p = scratch_alloc(bytes + 4096, mapped);
      cap = bytes + 4096;
    }
    return p;
  }
  void release_large() {
    if (cap <= scratch_keep_bytes() && !mapped) return;
    scratch_free(p, cap, mapped);
    p = nullptr;
    cap = 0;
    mapped = false;
  }
  ~Scratch() { scratch_free(p, cap, mapped); }
};
thread_local Scratch tl_pack_a, tl_pack_b, tl_panel;  // serial driver; tl_panel: one A micro-panel (parallel tiles)

inline void interleave(const GemmIsa* gi, const float* s, long ld, long rows, int R, long kc, float* d) { gi->interleave_f32(s, ld, rows, R, kc, d); }
inline void interleave(const GemmIsa* gi, const double* s, long ld, long rows, int R, long kc, double* d) { gi->interleave_f64(s, ld, rows, R, kc, d); }

// Copies W values (a compile-time count, so the copy is a few vector moves) or fewer, zero-padded.
template <class T, int W>
inline void copy_pad(const T* s, long n, T* d) {
  if (n == W) { std::memcpy(d, s, sizeof(T) * W); return; }
  long i = 0;
  for (; i < n; i++) d[i] = s[i];
  for (; i < W; i++) d[i] = T(0);
}
template <class T>
inline void copy_pad_rt(const T* s, long n, int W, T* d) {
  switch (W) {
    case 4: copy_pad<T, 4>(s, n, d); return;
    case 6: copy_pad<T, 6>(s, n, d); return;
    case 8: copy_pad<T, 8>(s, n, d); return;
    case 12: copy_pad<T, 12>(s, n, d); return;
    case 16: copy_pad<T, 16>(s, n, d); return;
    case 32: copy_pad<T, 32>(s, n, d); return;
    case 64: copy_pad<T, 64>(s, n, d); return;
    default: {
      long i = 0;
      for (; i < n; i++) d[i] = s[i];
      for (; i < W; i++) d[i] = T(0);
    }
  }
}

// Panels of W values per p from a source whose W values are contiguous (A^T or B stored row-major):
// the source rows are walked once, in order, each row scattered over all the panels (a panel-major
// walk would stride through memory once per panel and refetch every row's lines W / 64 B times).
// Rows [q0, q1) of a K block of kc rows (the whole block by default).
// Groups of rows that fit in L1 together (16 KiB) are scattered panel by panel, so each panel gets a
// run of rows * W contiguous values at once instead of W values per source row (a wide source
// scatters over many panels, i.e. many pages, for every row).
template <class T, int W>
void pack_rows_w(const T* s, long ld, long cols, long kc, T* dst, long q0, long q1) {
  const long full = cols / W * W;
  long rb = 16384 / (long(sizeof(T)) * (cols > 0 ? cols : 1));
  rb = rb < 1 ? 1 : (rb > 16 ? 16 : rb);
  for (long p0 = q0; p0 < q1; p0 += rb) {
    const long p1 = p0 + rb < q1 ? p0 + rb : q1;
    for (long j0 = 0; j0 < full; j0 += W) {
      T* dp = dst + j0 * kc;
      for (long p = p0; p < p1; p++) std::memcpy(dp + p * W, s + p * ld + j0, sizeof(T) * W);  // a few vector moves
    }
    if (full < cols) for (long p = p0; p < p1; p++) copy_pad<T, W>(s + p * ld + full, cols - full, dst + full * kc + p * W);
  }
}
template <class T>
void pack_rows(const T* s, long ld, long cols, long kc, int W, T* dst, long q0 = 0, long q1 = -1) {
  if (q1 < 0) q1 = kc;
  switch (W) {  // the panel widths of the paths' micro-kernels, with the copy size known at compile time
    case 4: pack_rows_w<T, 4>(s, ld, cols, kc, dst, q0, q1); return;
    case 6: pack_rows_w<T, 6>(s, ld, cols, kc, dst, q0, q1); return;
    case 8: pack_rows_w<T, 8>(s, ld, cols, kc, dst, q0, q1); return;
    case 12: pack_rows_w<T, 12>(s, ld, cols, kc, dst, q0, q1); return;
    case 16: pack_rows_w<T, 16>(s, ld, cols, kc, dst, q0, q1); return;
    case 32: pack_rows_w<T, 32>(s, ld, cols, kc, dst, q0, q1); return;
    case 64: pack_rows_w<T, 64>(s, ld, cols, kc, dst, q0, q1); return;
    default: break;
  }
  for (long p = q0; p < q1; p++) {
    const T* sp = s + p * ld;
    for (long j0 = 0; j0 < cols; j0 += W) copy_pad_rt(sp + j0, cols - j0 < W ? cols - j0 : W, W, dst + j0 * kc + p * W);
  }
}

// Panels of W lines of a strided matrix, for either operand: line r (a row of A, or a column of B)
// holds its kc values at s + r * sl + p * sp (p < kc), and panel i0 / W gets them interleaved,
// dst[i0 * kc + p * W + (r - i0)], zero-padded to W lines. A (rows i0.., cols p0..) is
// pack_panels(a, sam, sak, mc, ..., MR); B (rows p0.., cols j0..) is pack_panels(b, sbn, sbk, nc, ..., NR).
template <class T>
void pack_panels(const GemmIsa* gi, const T* s, long sl, long sp, long lines, long kc, int W, T* dst) {
  if (sl == 1) { pack_rows(s, sp, lines, kc, W, dst); return; }  // the panels' values contiguous in the source (A^T or B row-major, or a single line)
  for (long i0 = 0; i0 < lines; i0 += W) {
    const long w = lines - i0 < W ? lines - i0 : W;
    T* d = dst + i0 * kc;
    const T* si0 = s + i0 * sl;
    if (sp == 1) {  // lines contiguous (row-major A, or B read transposed: a Linear weight): a register transpose of W lines
      interleave(gi, si0, sl, w, W, kc, d);
    } else {
      for (long i = 0; i < w; i++) {
        const T* si = si0 + i * sl;
        for (long p = 0; p < kc; p++) d[p * W + i] = si[p * sp];
      }
      for (long i = w; i < W; i++) for (long p = 0; p < kc; p++) d[p * W + i] = T(0);
    }
  }
}

// Faults in the pages of a contiguous output of `bytes` bytes at p that the process has never
// touched, each with one write access, before the kernels read it. The callers of the C += A B
// entry points hand in zeroed storage, and a large zeroed allocation is often fresh memory (calloc
// skips the memset of pages the kernel maps zeroed): the micro-kernel's first access to such a
// page is then a read, which maps the shared zero page, and its store a second, copy-on-write fault
// that allocates the page (and rules out a transparent huge page there). A 4 MiB output then cost
// ~10% of a single-threaded 1024^3 product in page faults. The write here is an atomic OR with 0
// (value unchanged, and harmless even if another thread wrote the word meanwhile); resident pages
// (found with mincore, one call per 2 MiB) are not touched at all. Outputs that are written before
// they are read (C = A B, or a bias) are prefaulted the same way: a never-touched 2 MiB-aligned
// chunk then comes in as one huge page instead of 512 page faults taken by the tile tasks (a fresh
// 4 MiB `matmul` output outside a pool scope: ~1 ms of a 10 ms product on two threads). Linux
// only; elsewhere a no-op.
constexpr uintptr_t kPrefaultChunk = uintptr_t(2) << 20;  // a transparent huge page
void prefault_output(void* p, size_t bytes) {
#if defined(__linux__)
  static const long psz = sysconf(_SC_PAGESIZE);
  const uintptr_t lo = reinterpret_cast<uintptr_t>(p), hi = lo + bytes;
  const uintptr_t chunk = kPrefaultChunk;
  if (psz <= 0 || chunk / uintptr_t(psz) > 512) return;
  unsigned char vec[512];
  // per 2 MiB-aligned chunk: [c0, c1) is the part of the output's pages inside it
  for (uintptr_t base = lo & ~(chunk - 1); base < hi; base += chunk) {
    const uintptr_t c0 = base > lo ? base : lo & ~uintptr_t(psz - 1);
    const uintptr_t c1 = base + chunk < hi ? base + chunk : hi;
    const long pages = long((c1 - c0 + psz - 1) / psz);
    if (mincore(reinterpret_cast<void*>(c0), size_t(c1 - c0), vec) != 0) return;
    bool again = false;
    if (base >= lo && base + chunk <= hi) {  // a whole 2 MiB chunk of the output, none of it resident: one huge page
      bool none = true;
      for (long i = 0; i < pages && none; i++) none = (vec[i] & 1) == 0;
      if (none) madvise(reinterpret_cast<void*>(base), chunk, MADV_HUGEPAGE);
    }
    for (long i = 0; i < pages; i++) {
      if (vec[i] & 1) continue;
      uintptr_t at = c0 + uintptr_t(i) * psz;
      if (at < lo) at = lo;
      __atomic_fetch_or(reinterpret_cast<unsigned*>(at & ~uintptr_t(3)), 0u, __ATOMIC_RELAXED);
      // after the chunk's first fault, look again once: a transparent huge page may have mapped the rest
      if (!again && i + 1 < pages) {
        again = true;
        if (mincore(reinterpret_cast<void*>(c0), size_t(c1 - c0), vec) != 0) return;
      }
    }
  }
#else
  (void)p; (void)bytes;
#endif
}

// Outputs below this size are not prefaulted (a few pages: the check would cost more than it saves).
constexpr size_t kPrefaultMin = size_t(256) << 10;
// The prefault of an output of `bytes` bytes at p as tasks, one per 2 MiB-aligned chunk (so the
// faults of a parallel product are taken by all its threads): the number of tasks, and task t.
inline long prefault_tasks(const void* p, size_t bytes) {
  if (bytes < kPrefaultMin) return 0;
  const uintptr_t lo = reinterpret_cast<uintptr_t>(p);
  return long(((lo + bytes + kPrefaultChunk - 1) / kPrefaultChunk) - lo / kPrefaultChunk);
}
inline void prefault_task(void* p, size_t bytes, long t) {
  const uintptr_t lo = reinterpret_cast<uintptr_t>(p), hi = lo + bytes;
  uintptr_t a = (lo / kPrefaultChunk + uintptr_t(t)) * kPrefaultChunk, b = a + kPrefaultChunk;
  if (a < lo) a = lo;
  if (b > hi) b = hi;
  if (a < b) prefault_output(reinterpret_cast<void*>(a), size_t(b - a));
}

// Part `part` of `parts` of a packed block of `bytes` bytes at p, prefetched into L2: the driver
// spreads the next A~ micro-panel's lines over the current row of tiles' kernel calls, so it is in
// L2 (not L3 or memory) when its row starts.
inline void prefetch_part(const void* p, long bytes, long part, long parts) {
  const char* c = static_cast<const char*>(p);
  const long lines = (bytes + 63) / 64;
  const long l0 = lines * part / parts, l1 = lines * (part + 1) / parts;
  for (long l = l0; l < l1; l++) __builtin_prefetch(c + l * 64, 0, 2);  // read, into L2 (prefetcht1 on x86)
}

// One MR x NR tile of C (mr <= MR rows, nr <= NR columns of it inside C): the micro-kernel straight
// into C when the tile is whole; an edge tile goes through the ISA's edge kernel (float32, full
// width: straight into C, computing only the rows it needs) or a zeroed scratch tile. With `set`
// (the first K block of C = A B) C is written, not accumulated: a whole tile through the ISA's
// store-only kernel where it has one, otherwise the tile's part of C is zeroed first (in L1, right
// before the kernel reads it).
template <class T>
inline void edge_kernel(const GemmIsa*, long, long, const T*, const T*, T*, long) {}
inline bool has_edge(const GemmIsa* gi, const float*) { return gi->sgemm_edge != nullptr; }
inline bool has_edge(const GemmIsa*, const double*) { return false; }
inline void edge_kernel(const GemmIsa* gi, long kc, long mr, const float* ap, const float* bp, float* c, long ldc) { gi->sgemm_edge(kc, mr, ap, bp, c, ldc); }
inline void (*set_kernel(const GemmIsa* gi, const float*))(long, const float*, const float*, float*, long) { return gi->sgemm_set; }
inline void (*set_kernel(const GemmIsa*, const double*))(long, const double*, const double*, double*, long) { return nullptr; }

template <class T>
inline void micro_tile(const GemmIsa* gi, void (*ukr)(long, const T*, const T*, T*, long), int MR, int NR, long kc,
                       long mr, long nr, const T* ap, const T* bp, T* cp, long ldc, bool set) {
  if (mr == MR && nr == NR) {
    void (*ukrSet)(long, const T*, const T*, T*, long) = set ? set_kernel(gi, ap) : nullptr;
    if (ukrSet != nullptr) { ukrSet(kc, ap, bp, cp, ldc); return; }
  }
  if (set) for (long i = 0; i < mr; i++) std::memset(cp + i * ldc, 0, sizeof(T) * nr);
  if (mr == MR && nr == NR) { ukr(kc, ap, bp, cp, ldc); return; }
  const bool edge = mr < MR && has_edge(gi, ap);
  if (edge && nr == NR) { edge_kernel(gi, kc, mr, ap, bp, cp, ldc); return; }
  alignas(64) T tile[16 * 32];  // MR x NR (MR <= 16, NR <= 32)
  std::memset(tile, 0, sizeof(T) * MR * NR);
  if (edge) edge_kernel(gi, kc, mr, ap, bp, tile, NR);
  else ukr(kc, ap, bp, tile, NR);
  for (long i = 0; i < mr; i++) for (long j = 0; j < nr; j++) cp[i * ldc + j] += tile[i * NR + j];
}

// One single-threaded GEMM on a block of C: rows [0, m), cols [0, n) of the given pointers;
// C += A B, or C = A B with `set` (C is never read then; k must be > 0).
template <class T>
void gemm_block(const KernelTable* t, long m, long n, long k, const T* a, long sam, long sak,
                const T* b, long sbk, long sbn, T* c, long ldc, bool set = false) {
  if (m <= 0 || n <= 0 || k <= 0) return;
  int MR, NR, KC, MC;
  void (*ukr)(long, const T*, const T*, T*, long);
  Ukr<T>::get(t, MR, NR, KC, MC, ukr);
  const GemmIsa* gi = gemm_isa_for(t);
  // Balance K blocks so the last one is not tiny.
  const long nkb = (k + KC - 1) / KC;
  const long kcb = (k + nkb - 1) / nkb;
  const long MCA = 3072 / MR * MR;  // rows of A packed at once (L3-sized block)
  const long mcap = m < MCA ? (m + MR - 1) / MR * MR : MCA;
  const long ncap = n < MC ? (n + NR - 1) / NR * NR : MC;
  T* pa = static_cast<T*>(tl_pack_a.get(sizeof(T) * mcap * kcb));
  // With a single column block (n <= MC) every A micro-panel is used by one row of tiles only:
  // pack it right before that row (it stays in L1) instead of packing the whole M x kc block out
  // to L2/L3 and reading it back. Not for A^T (sam == 1), whose row-wise packing wants whole rows.
  const bool aLate = n <= MC && sam != 1;
  T* pb = static_cast<T*>(tl_pack_b.get(sizeof(T) * ncap * kcb));
  for (long ic = 0; ic < m; ic += MCA) {
    const long mc = m - ic < MCA ? m - ic : MCA;
    for (long pc = 0; pc < k; pc += kcb) {
      const long kc = k - pc < kcb ? k - pc : kcb;
      if (!aLate) pack_panels(gi, a + ic * sam + pc * sak, sam, sak, mc, kc, MR, pa);
      for (long jc = 0; jc < n; jc += MC) {
        const long nc = n - jc < MC ? n - jc : MC;
        pack_panels(gi, b + pc * sbk + jc * sbn, sbn, sbk, nc, kc, NR, pb);
        for (long ir = 0; ir < mc; ir += MR) {
          const long mr = mc - ir < MR ? mc - ir : MR;
          const T* ap = pa + ir * kc;
          if (aLate) {  // this micro-panel only, into L1, right before its row of tiles
            pack_panels(gi, a + (ic + ir) * sam + pc * sak, sam, sak, mr, kc, MR, pa);
            ap = pa;
          }
          const long njr = (nc + NR - 1) / NR;
          const bool pfA = !aLate && ir + MR < mc;
          for (long jr = 0; jr < nc; jr += NR) {
            const long nr = nc - jr < NR ? nc - jr : NR;
            if (pfA) prefetch_part(ap + MR * kc, long(sizeof(T)) * MR * kc, jr / NR, njr);
            micro_tile(gi, ukr, MR, NR, kc, mr, nr, ap, pb + jr * kc, c + (ic + ir) * ldc + jc + jr, ldc, set && pc == 0);
          }
        }
      }
    }
  }
}

// Epilogue pieces: C rows [0, rows) x cols [0, cols) of a block, with row stride ldc.
// Each row = the strided vector bias (zeros when bias is null).
template <class T>
inline void fill_bias(T* c, long ldc, long rows, long cols, const T* bias, long sb) {
  for (long i = 0; i < rows; i++) {
    T* ci = c + i * ldc;
    if (bias == nullptr) std::memset(ci, 0, sizeof(T) * cols);
    else if (sb == 1) std::memcpy(ci, bias, sizeof(T) * cols);
    else for (long j = 0; j < cols; j++) ci[j] = bias[j * sb];
  }
}
template <class T>
inline void relu_block(T* c, long ldc, long rows, long cols) {
  for (long i = 0; i < rows; i++) {
    T* ci = c + i * ldc;
    for (long j = 0; j < cols; j++) ci[j] = ci[j] <= T(0) ? T(0) : ci[j];  // NaN stays NaN, as the unary relu and torch.relu
  }
}

// Chunk t of packing one block of an operand, a K block of kc values: the block's `lines` lines
// (rows of A, or columns of B) at stride sl, their values at stride sp, into panels of W at dst
// (the block's packed start). By rows of the K block (`per` per chunk) when the packed values are
// contiguous in the source (`rows`), else by groups of `per` panels (register transposes).
template <class T>
void pack_task(const GemmIsa* gi, const T* src, long sl, long sp, long lines, long kc, int W, T* dst, bool rows, long per, long t) {
  if (rows) {
    const long q0 = t * per, q1 = q0 + per < kc ? q0 + per : kc;
    if (q0 < q1) pack_rows(src, sp, lines, kc, W, dst, q0, q1);
    return;
  }
  const long i0 = t * per * W, i1 = (t + 1) * per * W < lines ? (t + 1) * per * W : lines;
  if (i0 < i1) pack_panels(gi, src + i0 * sl, sl, sp, i1 - i0, kc, W, dst + i0 * kc);
}

// One product of the parallel driver. The operands are packed by blocks: one K block of one row
// band of A (the rows of a row of tiles) or of one column band of B (the columns of a column of
// tiles). A block is packed once, in chunks that any thread needing it claims (an atomic counter);
// a thread that finds every chunk claimed waits for the last ones to be done (the other thread is
// packing them: chunks are ~16k values, a few microseconds). gemm_multi packs B's blocks first, one
// pool task per block (packB); then the tiles of C are the pool's tasks, and each tile packs its A
// band on first use (need), right before its kernels and into the cache of the thread that uses it
// first, while the other thread computes: no packing phase for A. Later tiles of the same band
// (other columns) find it packed. (Packing B on first use as well, inside the tiles, gained less:
// 1.01x against 1.11x of the two-phase driver at 2048 on AVX-512; the two threads then pack each B
// block together right before both read it.) gemm_blocked's sub-products pack both operands on first use. Several plans share one pool job
// per phase (gemm_multi): fewer pool round trips, and the tasks of one product fill the other's
// tail.
//   packed A: for the K block starting at p0 (size kc): mp * p0 + (row panel i0) * kc, MR per p;
//   packed B: np * p0 + (col panel j0) * kc, NR per p  (mp, np: m and n rounded up to MR, NR).
// Tiles are whole (tm x tn micro-panels) except the last row and column of tiles, which the task
// order reaches last (the last column's narrower tiles are the job's tail: a thread that finishes
// early waits for less; even tiles measured no better).
// Epilogue (in the tile tasks, on rows still in L1): with a bias, the first K block starts from the
// bias row instead of C's contents; with overwrite, the first K block writes C (micro_tile's `set`);
// with relu, the last K block clamps its rows at 0.
//
// The packing state of one block: chunks claimed (next) and chunks packed (done), on a cache line
// of its own.
struct alignas(64) PackState {
  std::atomic<long> next{0};
  std::atomic<long> done{0};
};

inline void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Waits until `done` reaches n (the chunks another thread claimed are packed): spins, then yields
// the core (the packer may be descheduled, and may need this core to finish).
inline void wait_packed(const std::atomic<long>& done, long n) {
  for (long spins = 0; done.load(std::memory_order_acquire) < n; spins++) {
    if (spins < 4096) spin_pause();
    else std::this_thread::yield();
  }
}

template <class T>
struct Plan : GemmOp {  // the product (GemmOp's untyped pointers, typed below), then its blocking
  const T* A() const { return static_cast<const T*>(a); }
  const T* B() const { return static_cast<const T*>(b); }
  T* C() const { return static_cast<T*>(c); }
  const T* Bias() const { return static_cast<const T*>(bias); }
  int MR = 0, NR = 0;
  void (*ukr)(long, const T*, const T*, T*, long) = nullptr;
  const GemmIsa* gi = nullptr;
  long nkb = 0, kcb = 0, mpan = 0, npan = 0, mp = 0, np = 0, tm = 0, tn = 0, rowTiles = 0, colTiles = 0;
  bool aLate = false, rowsA = false, rowsB = false;
  // already packed (gemm_blocked: the same operand, packed by an earlier plan into the same scratch)
  bool aPacked = false, bPacked = false;
  T* pa = nullptr;
  T* pb = nullptr;
  std::unique_ptr<PackState[]> state;  // A blocks (kb * rowTiles + band), then B blocks (kb * colTiles + band)

  // slot: which thread-local packing buffers of the calling thread this plan uses
  void init(const KernelTable* t, int slot, int nt);
  long ntiles() const { return rowTiles * colTiles; }
  long nbblocks() const { return nkb * colTiles; }
  void packB(long t) const { need(false, t / colTiles, t % colTiles); }
  void tile(long task) const;

 private:
  // One block of an operand (a: A, else B): K block kb, band `band`; its chunks.
  struct Block { long p0, kc, l0, l1, per, chunks; };
  Block block(bool a, long kb, long band) const;
  void need(bool a, long kb, long band) const;
};

constexpr int kMaxPlans = 4;
thread_local Scratch tl_plan_a[kMaxPlans], tl_plan_b[kMaxPlans];
// Packing chunks of about this many values (a few microseconds each).
constexpr long kPackChunk = 16384;

template <class T>
void Plan<T>::init(const KernelTable* t, int slot, int nt) {
  int KC, NC;
  Ukr<T>::get(t, MR, NR, KC, NC, ukr);
  gi = gemm_isa_for(t);
  nkb = (k + KC - 1) / KC;
  kcb = (k + nkb - 1) / nkb;
  mpan = (m + MR - 1) / MR; npan = (n + NR - 1) / NR;
  mp = mpan * MR; np = npan * NR;
  // Tiles of C, at most (rows: tm micro-panels) x (cols: tn micro-panels). A tile's B block
  // (kc x tn*NR) stays in L2 while its A micro-panels (kc x MR) stream through L1.
  tn = (NC / NR) < npan ? NC / NR : npan;
  tm = (192 / MR) < mpan ? 192 / MR : mpan;
  if (tm < 1) tm = 1;
  if (tn < 1) tn = 1;
  auto count = [&] { return ((mpan + tm - 1) / tm) * ((npan + tn - 1) / tn); };
  // at least ~4 tiles per thread, so late threads are absorbed, but never tiles under 2 x 2 micro-tiles
  while (count() < 4L * nt && (tm > 2 || tn > 2)) {
    if (tm * MR >= tn * NR && tm > 2) tm = (tm + 1) / 2; else if (tn > 2) tn = (tn + 1) / 2; else tm = (tm + 1) / 2;
  }
  rowTiles = (mpan + tm - 1) / tm;
  colTiles = (npan + tn - 1) / tn;
  // With one column of tiles, each A micro-panel is used by one task only: that task packs it right
  // before use (into L1, thread-local) instead of into the shared packed A. Not for A^T (sam == 1),
  // whose row-wise packing wants whole rows.
  aLate = colTiles == 1 && sam != 1;
  pa = aLate ? nullptr : static_cast<T*>(tl_plan_a[slot].get(sizeof(T) * mp * k));
  pb = static_cast<T*>(tl_plan_b[slot].get(sizeof(T) * np * k));
  // An operand whose packed values are contiguous in memory (A^T or B stored row-major) is packed
  // by rows of the K block (each chunk reads whole source rows of its band, in order); the others
  // (register transposes) by groups of panels.
  rowsA = sam == 1; rowsB = sbn == 1;
  state.reset(new PackState[nkb * (rowTiles + colTiles)]);
  aPacked = bPacked = false;
}

template <class T>
typename Plan<T>::Block Plan<T>::block(bool isA, long kb, long band) const {
  Block b;
  b.p0 = kb * kcb;
  b.kc = k - b.p0 < kcb ? k - b.p0 : kcb;
  const int W = isA ? MR : NR;
  const long pan = isA ? mpan : npan, per = isA ? tm : tn, lines = isA ? m : n;
  const long q0 = band * per, q1 = (band + 1) * per < pan ? (band + 1) * per : pan;
  b.l0 = q0 * W;
  b.l1 = q1 * W < lines ? q1 * W : lines;
  if (isA ? rowsA : rowsB) {  // rows of the K block per chunk
    const long width = (q1 - q0) * W;
    b.per = width >= kPackChunk ? 1 : kPackChunk / width;
    b.chunks = (b.kc + b.per - 1) / b.per;
  } else {  // micro-panels per chunk
    b.per = W * b.kc >= kPackChunk ? 1 : kPackChunk / (W * b.kc);
    b.chunks = (q1 - q0 + b.per - 1) / b.per;
  }
  return b;
}

// Makes block (kb, band) of A (isA) or B packed: claims and packs its unclaimed chunks, then waits
// for the ones other threads hold.
template <class T>
void Plan<T>::need(bool isA, long kb, long band) const {
  PackState& s = state[isA ? kb * rowTiles + band : nkb * rowTiles + kb * colTiles + band];
  const Block b = block(isA, kb, band);
  if (s.done.load(std::memory_order_acquire) >= b.chunks) return;
  const int W = isA ? MR : NR;
  const long sl = isA ? sam : sbn, sp = isA ? sak : sbk;
  const T* src = isA ? A() + b.p0 * sak : B() + b.p0 * sbk;
  T* dst = isA ? pa + mp * b.p0 : pb + np * b.p0;
  for (long c = s.next.fetch_add(1, std::memory_order_relaxed); c < b.chunks; c = s.next.fetch_add(1, std::memory_order_relaxed)) {
    pack_task(gi, src + b.l0 * sl, sl, sp, b.l1 - b.l0, b.kc, W, dst + b.l0 * b.kc, isA ? rowsA : rowsB, b.per, c);
    s.done.fetch_add(1, std::memory_order_acq_rel);
  }
  wait_packed(s.done, b.chunks);
}

template <class T>
void Plan<T>::tile(long task) const {
  const long rt = task % rowTiles, ct = task / rowTiles;  // down a column of tiles first: the threads share its B blocks
  const long ip0 = rt * tm, ip1 = (rt + 1) * tm < mpan ? (rt + 1) * tm : mpan;
  const long jp0 = ct * tn, jp1 = (ct + 1) * tn < npan ? (ct + 1) * tn : npan;
  const long jb = jp0 * NR, je = jp1 * NR < n ? jp1 * NR : n;  // the tile's columns of C
  T* panel = aLate ? static_cast<T*>(tl_panel.get(sizeof(T) * MR * kcb)) : nullptr;
  for (long kb = 0, p0 = 0; p0 < k; kb++, p0 += kcb) {
    const long kc = k - p0 < kcb ? k - p0 : kcb;
    const bool first = p0 == 0, last = p0 + kc >= k;
    if (!bPacked) need(false, kb, ct);
    if (!aLate && !aPacked) need(true, kb, rt);
    const T* pak = aLate ? nullptr : pa + mp * p0;
    const T* pbk = pb + np * p0;
    for (long ip = ip0; ip < ip1; ip++) {
      const long i0 = ip * MR, mr = m - i0 < MR ? m - i0 : MR;
      const T* ap;
      if (aLate) { pack_panels(gi, A() + i0 * sam + p0 * sak, sam, sak, mr, kc, MR, panel); ap = panel; }
      else ap = pak + i0 * kc;
      if (first && bias != nullptr) fill_bias(C() + i0 * ldc + jb, ldc, mr, je - jb, Bias() + jb * sbias, sbias);
      const bool set = first && overwrite && bias == nullptr;  // C = A B: the first K block writes C
      const bool pfA = !aLate && ip + 1 < ip1;  // the next A~ micro-panel into L2, over this row's kernel calls
      for (long jp = jp0; jp < jp1; jp++) {
        const long j0 = jp * NR, nr = n - j0 < NR ? n - j0 : NR;
        if (pfA) prefetch_part(ap + MR * kc, long(sizeof(T)) * MR * kc, jp - jp0, jp1 - jp0);
        micro_tile(gi, ukr, MR, NR, kc, mr, nr, ap, pbk + j0 * kc, C() + i0 * ldc + j0, ldc, set);
      }
      if (last && relu) relu_block(C() + i0 * ldc + jb, ldc, mr, je - jb);
    }
  }
}

// Whether the parallel driver would pack this product's operands whole into more than the kept
// scratch (TENSORSLIM_GEMM_SCRATCH_MB): then gemm_blocked packs it block by block instead.
template <class T>
bool needs_blocks(const KernelTable* t, const GemmOp& o) {
  int MR, NR, KC, NC;
  void (*ukr)(long, const T*, const T*, T*, long);
  Ukr<T>::get(t, MR, NR, KC, NC, ukr);
  const size_t keep = scratch_keep_bytes();
  const size_t aBytes = sizeof(T) * size_t((o.m + MR - 1) / MR * MR) * size_t(o.k);
  const size_t bBytes = sizeof(T) * size_t((o.n + NR - 1) / NR * NR) * size_t(o.k);
  return aBytes > keep || bBytes > keep;
}

// Block sizes of gemm_blocked: C (m x n) = sum over K blocks of A (m x kb) B (kb x n), as blocks of
// mb x nb with the packed A block ((mb rounded up to MR) x kb) and B block ((nb rounded up to NR) x
// kb) together at most `budget` bytes. K is split first when the packed M and N sides fit a block
// of at least KC (a long K: the LM head's input gradient g W, K = V), so nothing is packed twice;
// otherwise K stays whole (up to 2 KC) and the larger of M and N is split, the other kept whole
// when its packed block takes at most half the budget (then it is packed once for all blocks).
// Each split is balanced (about equal blocks, rows and columns in whole panels) so the last block
// is not a sliver.
struct Blocks { long mb, nb, kb; };
inline long balanced(long total, long cap, long unit, bool whole_units) {
  if (cap >= total) return total;
  cap = cap < unit ? unit : cap / unit * unit;
  const long nblk = (total + cap - 1) / cap;
  const long b = (total + nblk - 1) / nblk;
  return whole_units ? (b + unit - 1) / unit * unit : b;
}
inline Blocks block_sizes(long m, long n, long k, int MR, int NR, int KC, size_t elemBytes, size_t budget) {
  const long E = long(budget / elemBytes);
  const long mp = (m + MR - 1) / MR * MR, np = (n + NR - 1) / NR * NR;
  Blocks b{m, n, k};
  if ((mp + np) * long(KC) <= E) {  // M and N whole, K by blocks
    b.kb = balanced(k, E / (mp + np), KC, false);
    return b;
  }
  b.kb = k <= 2L * KC ? k : balanced(k, 2L * KC, KC, false);
  const long lines = E / b.kb;  // packed rows of A plus packed columns of B per block
  if (mp <= lines / 2) b.nb = balanced(n, lines - mp, NR, true);
  else if (np <= lines / 2) b.mb = balanced(m, lines - np, MR, true);
  else { b.mb = balanced(m, lines / 2, MR, true); b.nb = balanced(n, lines / 2, NR, true); }
  return b;
}

// One product too large to pack whole (needs_blocks), on the pool: for each block of C's columns,
// each K block, each block of rows, a Plan of the sub-product (its tiles as one pool job, packing
// the block's A and B on first use, as in gemm_multi), so the threads share one packed B block and the packing scratch stays within TENSORSLIM_GEMM_BLOCK_MB (default 8) instead of
// growing to the whole operands (GPT-2's LM head: 154 + 51 MiB). A block whose packed A (or B) is
// the one already in the scratch (A whole when only N is split, B whole when only M is) is not
// packed again. The bias / overwrite starts the first K block; relu clamps after the last.
template <class T>
void gemm_blocked(const KernelTable* t, const GemmOp& o, int nt) {
  int MR, NR, KC, NC;
  void (*ukr)(long, const T*, const T*, T*, long);
  Ukr<T>::get(t, MR, NR, KC, NC, ukr);
  const Blocks bs = block_sizes(o.m, o.n, o.k, MR, NR, KC, sizeof(T), gemm_block_bytes());
  const T* A = static_cast<const T*>(o.a);
  const T* B = static_cast<const T*>(o.b);
  T* C = static_cast<T*>(o.c);
  const size_t cb = sizeof(T) * size_t((o.m - 1) * o.ldc + o.n);  // every large output prefaulted, as gemm_multi_t does
  if (prefault_tasks(o.c, cb) > 0) run_tasks(prefault_tasks(o.c, cb), [&](long task) { prefault_task(o.c, cb, task); });
  const bool wholeA = bs.mb == o.m && bs.kb == o.k;
  bool aPacked = false;  // the scratch holds the whole packed A (wholeA, packed by an earlier plan's tiles)
  for (long jc = 0; jc < o.n; jc += bs.nb) {
    for (long pc = 0; pc < o.k; pc += bs.kb) {
      for (long ic = 0; ic < o.m; ic += bs.mb) {
        Plan<T> p;
        GemmOp& s = p;
        s = o;
        s.m = o.m - ic < bs.mb ? o.m - ic : bs.mb;
        s.n = o.n - jc < bs.nb ? o.n - jc : bs.nb;
        s.k = o.k - pc < bs.kb ? o.k - pc : bs.kb;
        s.a = A + ic * o.sam + pc * o.sak;
        s.b = B + pc * o.sbk + jc * o.sbn;
        s.c = C + ic * o.ldc + jc;
        const bool first = pc == 0;
        s.bias = first && o.bias != nullptr ? static_cast<const T*>(o.bias) + jc * o.sbias : nullptr;
        s.overwrite = first && o.overwrite;
        s.relu = o.relu && pc + s.k >= o.k;
        p.init(t, 0, nt);
        p.aPacked = wholeA && aPacked && !p.aLate;  // the same packed A, same scratch and layout
        p.bPacked = ic > 0;                         // B (pc, jc): packed by the first row block's tiles, same size
        run_tasks(p.ntiles(), [&](long task) { p.tile(task); });
        aPacked = wholeA && !p.aLate;
      }
    }
  }
}

// Products below this many flops run on the calling thread: a pool round trip costs more than it
// saves, and far more when other processes share the cores.
constexpr double kParallelFlops = 4e6;

// One product on the calling thread, with its epilogue.
template <class T>
void gemm_serial(const KernelTable* t, const GemmOp& o) {
  const T* a = static_cast<const T*>(o.a);
  const T* b = static_cast<const T*>(o.b);
  T* c = static_cast<T*>(o.c);
  const bool set = o.overwrite && o.bias == nullptr && o.k > 0;  // C = A B: the first K block writes C
  if (o.bias != nullptr || (o.overwrite && !set)) fill_bias(c, o.ldc, o.m, o.n, static_cast<const T*>(o.bias), o.sbias);
  gemm_block(t, o.m, o.n, o.k, a, o.sam, o.sak, b, o.sbk, o.sbn, c, o.ldc, set);
  if (o.relu) relu_block(c, o.ldc, o.m, o.n);
}

template <class T>
void gemm_multi_t(const GemmOp* ops, int nops, long nside, const std::function<void(long)>* side) {
  const KernelTable* t = active();
  double flops = 0;
  for (int i = 0; i < nops; i++) flops += 2.0 * double(ops[i].m) * double(ops[i].n) * double(ops[i].k);
  const int nt = in_parallel_job() ? 1 : num_threads();
  if (nops > kMaxPlans && nt > 1 && flops >= kParallelFlops) {  // in groups (the side tasks with the first)
    for (int i = 0; i < nops; i += kMaxPlans) gemm_multi_t<T>(ops + i, nops - i < kMaxPlans ? nops - i : kMaxPlans, i == 0 ? nside : 0, side);
    return;
  }
  // C's never-touched pages are faulted in with a write, whole 2 MiB chunks as huge pages (prefault_output)
  auto cBytes = [&](const GemmOp& o) { return o.m > 0 && o.n > 0 && o.k > 0 ? sizeof(T) * size_t((o.m - 1) * o.ldc + o.n) : size_t(0); };
  if (nt == 1 || flops < kParallelFlops) {
    for (int i = 0; i < nops; i++) if (cBytes(ops[i]) >= kPrefaultMin) prefault_output(ops[i].c, cBytes(ops[i]));
    for (long s = 0; s < nside; s++) (*side)(s);
    for (int i = 0; i < nops; i++) if (ops[i].m > 0 && ops[i].n > 0) gemm_serial<T>(t, ops[i]);
    return;
  }
  // products too large to pack whole run by blocks, after the others (and the side tasks)
  int big[kMaxPlans], nbig = 0;
  for (int i = 0; i < nops; i++) if (ops[i].m > 0 && ops[i].n > 0 && ops[i].k > 0 && needs_blocks<T>(t, ops[i])) big[nbig++] = i;
  if (nbig > 0) {
    GemmOp rest[kMaxPlans];
    int nrest = 0;
    for (int i = 0; i < nops; i++) if (std::find(big, big + nbig, i) == big + nbig) rest[nrest++] = ops[i];
    if (nrest > 0) gemm_multi_t<T>(rest, nrest, nside, side);
    else if (nside > 0) run_tasks(nside, *side);
    for (int i = 0; i < nbig; i++) gemm_blocked<T>(t, ops[big[i]], nt);
    return;
  }
  Plan<T> plans[kMaxPlans];
  int np = 0;
  for (int i = 0; i < nops; i++) {
    const GemmOp& o = ops[i];
    if (o.m <= 0 || o.n <= 0) continue;
    if (o.k <= 0) { gemm_serial<T>(t, o); continue; }  // epilogue only
    Plan<T>& p = plans[np];
    static_cast<GemmOp&>(p) = o;
    p.init(t, np, nt);
    np++;
  }
  // then one pool job: the side tasks, each plan's prefault tasks (a few per product, claimed before
  // the tiles, so a fresh output's chunks are mostly faulted in before a tile writes there; a tile
  // that gets there first takes the fault itself), then every plan's tiles (which pack A on first use)
  {  // each plan's B, one task per block (K block x column band)
    long bAt[kMaxPlans + 1];
    bAt[0] = 0;
    for (int i = 0; i < np; i++) bAt[i + 1] = bAt[i] + plans[i].nbblocks();
    run_tasks(bAt[np], [&](long task) {
      int i = 0;
      while (task >= bAt[i + 1]) i++;
      plans[i].packB(task - bAt[i]);
    });
  }
  long faultAt[kMaxPlans + 1], tileAt[kMaxPlans + 1];
  faultAt[0] = nside;
  for (int i = 0; i < np; i++) faultAt[i + 1] = faultAt[i] + prefault_tasks(plans[i].c, cBytes(plans[i]));
  tileAt[0] = faultAt[np];
  for (int i = 0; i < np; i++) tileAt[i + 1] = tileAt[i] + plans[i].ntiles();
  run_tasks(tileAt[np], [&](long task) {
    if (task < nside) { (*side)(task); return; }
    int i = 0;
    if (task < faultAt[np]) {
      while (task >= faultAt[i + 1]) i++;
      prefault_task(plans[i].c, cBytes(plans[i]), task - faultAt[i]);
      return;
    }
    while (task >= tileAt[i + 1]) i++;
    plans[i].tile(task - tileAt[i]);
  });
}

template <class T>
void gemm(const GemmArgs& g, const T* a, const T* b, T* c) {
  if (g.batch <= 0 || g.m <= 0 || g.n <= 0) return;
  if (g.k <= 0) {  // an empty sum: C += 0 leaves C, C = A B is zeros
    if (g.overwrite) std::memset(c, 0, sizeof(T) * size_t(g.batch * g.m * g.n));
    return;
  }
  const KernelTable* t = active();
  const double flops = 2.0 * double(g.m) * double(g.n) * double(g.k);
  const int nt = in_parallel_job() ? 1 : num_threads();
  const long mn = g.m * g.n;
  // One batch's product on the calling thread: C = A B writes each tile of C in its first K block
  // (no page is read before it is written); never-touched pages of C are faulted in first.
  auto serial = [&](long bi) {
    T* cb = c + bi * mn;
    if (sizeof(T) * size_t(mn) >= kPrefaultMin) prefault_output(cb, sizeof(T) * size_t(mn));
    gemm_block(t, g.m, g.n, g.k, a + bi * g.sab, g.sam, g.sak, b + bi * g.sbb, g.sbk, g.sbn, cb, g.n, g.overwrite);
  };
  // Several products, each too small to split well: one batch per task.
  if (g.batch > 1 && nt > 1 && (g.batch >= 4L * nt || flops < 4 * kParallelFlops)) {
    const long grain = flops >= kParallelFlops ? 1 : long(kParallelFlops / flops) + 1;
    parallel_for(g.batch, grain, [&](long b0, long b1) {
      for (long bi = b0; bi < b1; bi++) serial(bi);
    });
    return;
  }
  for (long bi = 0; bi < g.batch; bi++) {
    if (nt == 1 || flops < kParallelFlops) {
      serial(bi);
      continue;
    }
    GemmOp o{};
    o.m = g.m; o.n = g.n; o.k = g.k;
    o.a = a + bi * g.sab; o.sam = g.sam; o.sak = g.sak;
    o.b = b + bi * g.sbb; o.sbk = g.sbk; o.sbn = g.sbn;
    o.c = c + bi * mn; o.ldc = g.n;
    o.overwrite = g.overwrite;
    gemm_multi_t<T>(&o, 1, 0, nullptr);
  }
}

}  // namespace

void gemm_f32(const GemmArgs& g, const float* a, const float* b, float* c) { gemm<float>(g, a, b, c); }
void gemm_f64(const GemmArgs& g, const double* a, const double* b, double* c) { gemm<double>(g, a, b, c); }

// Rows per sgemm_direct call (the ISA's direct kernel takes up to 12: 24 accumulators).
constexpr long kDirectRows = 12;

bool sgemm_direct(long m, long n, long k, const float* a, long sai, long sap, const float* b, long ldb, float* c, long ldc) {
  const KernelTable* t = active();
  const GemmIsa* gi = gemm_isa_for(t);
  if (gi->sgemm_direct == nullptr || n % 32 != 0 || (sap != 1 && sai != 1)) return false;
  if (m <= 0 || n <= 0 || k <= 0) return true;
  const long MR = kDirectRows;
  for (long i0 = 0; i0 < m; i0 += MR) {
    const long rows = m - i0 < MR ? m - i0 : MR;
    for (long j0 = 0; j0 < n; j0 += 32) gi->sgemm_direct(k, rows, a + i0 * sai, sai, sap, b + j0, ldb, c + i0 * ldc + j0, ldc);
  }
  return true;
}

void release_gemm_scratch() {
  for (Scratch* s : {&tl_pack_a, &tl_pack_b, &tl_panel}) s->release_large();
  for (int i = 0; i < kMaxPlans; i++) { tl_plan_a[i].release_large(); tl_plan_b[i].release_large(); }
}

void gemm_multi(bool f64, const GemmOp* ops, int nops, long nside, const std::function<void(long)>* side) {
  if (f64) gemm_multi_t<double>(ops, nops, nside, side);
  else gemm_multi_t<float>(ops, nops, nside, side);
}

}  // namespace ts
