// Goto/BLIS-style GEMM driver: pack A into MR-high panels and B into NR-wide panels (zero-padded;
// row-major A and transposed B are packed with per-ISA register transposes, gemm_isa.h), then call
// the active path's register-blocked micro-kernel per MR x NR tile. Packing reads any strides, so
// all four transpose combinations run the same inner loop.
//  - Serial (small products, one thread, or nested in a pool job): gemm_block, K blocks x L2-sized
//    N blocks, with thread-local packing buffers.
//  - Parallel: gemm_parallel packs A and B whole, up front, as many small pool tasks, then computes
//    the tiles of C as tasks. The pool hands tasks out dynamically, so a thread the OS deschedules
//    (other processes share the cores) delays only the task it holds: no static split, no barrier
//    inside a phase, and no per-thread repacking of B.
//  - Batches of small products: one product per task.
#include "gemm.h"

#include <cstdlib>
#include <cstring>

#include "common.h"
#include "gemm_isa.h"
#include "threadpool.h"

namespace ts {
namespace {

template <class T> struct Ukr;
template <> struct Ukr<float> {
  static void get(const KernelTable* t, int& mr, int& nr, int& kc, int& mc, void (*&f)(long, const float*, const float*, float*, long)) {
    mr = t->smr; nr = t->snr; kc = t->skc; mc = t->smc; f = t->sgemm_ukr;
  }
};
template <> struct Ukr<double> {
  static void get(const KernelTable* t, int& mr, int& nr, int& kc, int& mc, void (*&f)(long, const double*, const double*, double*, long)) {
    mr = t->dmr; nr = t->dnr; kc = t->dkc; mc = t->dmc; f = t->dgemm_ukr;
  }
};

// A per-thread, 64-byte aligned scratch buffer that only grows.
struct Scratch {
  void* p = nullptr;
  size_t cap = 0;
  void* get(size_t bytes) {
    if (bytes > cap) {
      std::free(p);
      cap = bytes + 4096;
      p = std::aligned_alloc(64, (cap + 63) / 64 * 64);
    }
    return p;
  }
  ~Scratch() { std::free(p); }
};
thread_local Scratch tl_pack_a, tl_pack_b;

inline void interleave(const GemmIsa* gi, const float* s, long ld, long rows, int R, long kc, float* d) { gi->interleave_f32(s, ld, rows, R, kc, d); }
inline void interleave(const GemmIsa* gi, const double* s, long ld, long rows, int R, long kc, double* d) { gi->interleave_f64(s, ld, rows, R, kc, d); }

// A (rows i0.., cols p0..) -> panels of MR rows: dst[panel][p][i], zero-padded to MR.
template <class T>
void pack_a(const GemmIsa* gi, const T* a, long sam, long sak, long mc, long kc, int MR, T* dst) {
  for (long i0 = 0; i0 < mc; i0 += MR) {
    const long mr = mc - i0 < MR ? mc - i0 : MR;
    T* d = dst + i0 * kc;
    const T* s = a + i0 * sam;
    if (sak == 1 && sam != 1) {  // row-major A: a register transpose of MR rows
      interleave(gi, s, sam, mr, MR, kc, d);
    } else if (sam == 1) {  // A^T stored row-major: MR consecutive values per p
      for (long p = 0; p < kc; p++) {
        const T* sp = s + p * sak;
        long i = 0;
        for (; i < mr; i++) d[p * MR + i] = sp[i];
        for (; i < MR; i++) d[p * MR + i] = T(0);
      }
    } else {
      for (long i = 0; i < mr; i++) {
        const T* si = s + i * sam;
        if (sak == 1) for (long p = 0; p < kc; p++) d[p * MR + i] = si[p];
        else for (long p = 0; p < kc; p++) d[p * MR + i] = si[p * sak];
      }
      for (long i = mr; i < MR; i++) for (long p = 0; p < kc; p++) d[p * MR + i] = T(0);
    }
  }
}

// B (rows p0.., cols j0..) -> panels of NR cols: dst[panel][p][j], zero-padded to NR.
template <class T>
void pack_b(const GemmIsa* gi, const T* b, long sbk, long sbn, long kc, long nc, int NR, T* dst) {
  for (long j0 = 0; j0 < nc; j0 += NR) {
    const long nr = nc - j0 < NR ? nc - j0 : NR;
    T* d = dst + j0 * kc;
    const T* s = b + j0 * sbn;
    if (sbk == 1 && sbn != 1) {  // B read transposed (a Linear weight): a register transpose of NR rows
      interleave(gi, s, sbn, nr, NR, kc, d);
    } else if (sbn == 1) {
      for (long p = 0; p < kc; p++) {
        const T* sp = s + p * sbk;
        T* dp = d + p * NR;
        if (nr == NR) std::memcpy(dp, sp, sizeof(T) * NR);
        else { long j = 0; for (; j < nr; j++) dp[j] = sp[j]; for (; j < NR; j++) dp[j] = T(0); }
      }
    } else {
      for (long j = 0; j < nr; j++) {
        const T* sj = s + j * sbn;
        if (sbk == 1) for (long p = 0; p < kc; p++) d[p * NR + j] = sj[p];
        else for (long p = 0; p < kc; p++) d[p * NR + j] = sj[p * sbk];
      }
      for (long j = nr; j < NR; j++) for (long p = 0; p < kc; p++) d[p * NR + j] = T(0);
    }
  }
}

// One single-threaded GEMM on a block of C: rows [0, m), cols [0, n) of the given pointers.
template <class T>
void gemm_block(const KernelTable* t, long m, long n, long k, const T* a, long sam, long sak,
                const T* b, long sbk, long sbn, T* c, long ldc) {
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
  T* pb = static_cast<T*>(tl_pack_b.get(sizeof(T) * ncap * kcb));
  alignas(64) T tile[16 * 32];  // MR x NR edge tile (MR <= 16, NR <= 32)
  for (long ic = 0; ic < m; ic += MCA) {
    const long mc = m - ic < MCA ? m - ic : MCA;
    for (long pc = 0; pc < k; pc += kcb) {
      const long kc = k - pc < kcb ? k - pc : kcb;
      pack_a(gi, a + ic * sam + pc * sak, sam, sak, mc, kc, MR, pa);
      for (long jc = 0; jc < n; jc += MC) {
        const long nc = n - jc < MC ? n - jc : MC;
        pack_b(gi, b + pc * sbk + jc * sbn, sbk, sbn, kc, nc, NR, pb);
        for (long ir = 0; ir < mc; ir += MR) {
          const long mr = mc - ir < MR ? mc - ir : MR;
          const T* ap = pa + ir * kc;
          for (long jr = 0; jr < nc; jr += NR) {
            const long nr = nc - jr < NR ? nc - jr : NR;
            T* cp = c + (ic + ir) * ldc + jc + jr;
            if (mr == MR && nr == NR) {
              ukr(kc, ap, pb + jr * kc, cp, ldc);
            } else {
              std::memset(tile, 0, sizeof(T) * MR * NR);
              ukr(kc, ap, pb + jr * kc, tile, NR);
              for (long i = 0; i < mr; i++) for (long j = 0; j < nr; j++) cp[i * ldc + j] += tile[i * NR + j];
            }
          }
        }
      }
    }
  }
}

// The parallel driver for one product: A and B are packed whole, up front, in parallel (panels of
// every K block, zero-padded), then the tiles of C are computed in parallel. Both phases hand out
// many small tasks through the pool's dynamic claiming, so a thread that the OS deschedules delays
// only the task it is running, and the packing is never repeated per thread.
//   packed A: for the K block starting at p0 (size kc): mp * p0 + (row panel i0) * kc, MR per p;
//   packed B: np * p0 + (col panel j0) * kc, NR per p  (mp, np: m and n rounded up to MR, NR).
template <class T>
void gemm_parallel(const KernelTable* t, long m, long n, long k, const T* a, long sam, long sak,
                   const T* b, long sbk, long sbn, T* c, long ldc) {
  int MR, NR, KC, NC;
  void (*ukr)(long, const T*, const T*, T*, long);
  Ukr<T>::get(t, MR, NR, KC, NC, ukr);
  const GemmIsa* gi = gemm_isa_for(t);
  const long nkb = (k + KC - 1) / KC;
  const long kcb = (k + nkb - 1) / nkb;
  const long mpan = (m + MR - 1) / MR, npan = (n + NR - 1) / NR;
  const long mp = mpan * MR, np = npan * NR;
  T* pa = static_cast<T*>(tl_pack_a.get(sizeof(T) * mp * k));
  T* pb = static_cast<T*>(tl_pack_b.get(sizeof(T) * np * k));
  // Phase 1: packing tasks of ~16k elements each: groups of A row panels and of B column panels, per K block.
  const long perTask = 16384;
  const long ga = (MR * kcb) >= perTask ? 1 : perTask / (MR * kcb);   // panels per task
  const long gb = (NR * kcb) >= perTask ? 1 : perTask / (NR * kcb);
  const long ta = (mpan + ga - 1) / ga, tb = (npan + gb - 1) / gb;
  run_tasks(nkb * (ta + tb), [&](long task) {
    const long kb = task / (ta + tb), r = task % (ta + tb);
    const long p0 = kb * kcb, kc = k - p0 < kcb ? k - p0 : kcb;
    if (r < ta) {
      const long i0 = r * ga * MR, i1 = (r + 1) * ga * MR < m ? (r + 1) * ga * MR : m;
      pack_a(gi, a + i0 * sam + p0 * sak, sam, sak, i1 - i0, kc, MR, pa + mp * p0 + i0 * kc);
    } else {
      const long rb = r - ta;
      const long j0 = rb * gb * NR, j1 = (rb + 1) * gb * NR < n ? (rb + 1) * gb * NR : n;
      pack_b(gi, b + p0 * sbk + j0 * sbn, sbk, sbn, kc, j1 - j0, NR, pb + np * p0 + j0 * kc);
    }
  });
  // Phase 2: tiles of C, (rows: tm micro-panels) x (cols: tn micro-panels). A tile's B block
  // (kc x tn*NR) stays in L2 while its A micro-panels (kc x MR) stream through L1.
  const int nt = num_threads();
  long tn = (NC / NR) < npan ? NC / NR : npan;
  long tm = (192 / MR) < mpan ? 192 / MR : mpan;
  if (tm < 1) tm = 1;
  if (tn < 1) tn = 1;
  auto ntiles = [&] { return ((mpan + tm - 1) / tm) * ((npan + tn - 1) / tn); };
  // at least ~4 tiles per thread, so late threads are absorbed, but never tiles under 2 x 2 micro-tiles
  while (ntiles() < 4L * nt && (tm > 2 || tn > 2)) {
    if (tm * MR >= tn * NR && tm > 2) tm = (tm + 1) / 2; else if (tn > 2) tn = (tn + 1) / 2; else tm = (tm + 1) / 2;
  }
  const long rowTiles = (mpan + tm - 1) / tm;
  const long colTiles = (npan + tn - 1) / tn;
  run_tasks(rowTiles * colTiles, [&](long task) {
    const long rt = task % rowTiles, ct = task / rowTiles;
    const long ip0 = rt * tm, ip1 = (rt + 1) * tm < mpan ? (rt + 1) * tm : mpan;
    const long jp0 = ct * tn, jp1 = (ct + 1) * tn < npan ? (ct + 1) * tn : npan;
    alignas(64) T tile[16 * 32];
    for (long p0 = 0; p0 < k; p0 += kcb) {
      const long kc = k - p0 < kcb ? k - p0 : kcb;
      const T* pak = pa + mp * p0;
      const T* pbk = pb + np * p0;
      for (long ip = ip0; ip < ip1; ip++) {
        const long i0 = ip * MR, mr = m - i0 < MR ? m - i0 : MR;
        const T* ap = pak + i0 * kc;
        for (long jp = jp0; jp < jp1; jp++) {
          const long j0 = jp * NR, nr = n - j0 < NR ? n - j0 : NR;
          T* cp = c + i0 * ldc + j0;
          if (mr == MR && nr == NR) {
            ukr(kc, ap, pbk + j0 * kc, cp, ldc);
          } else {
            std::memset(tile, 0, sizeof(T) * MR * NR);
            ukr(kc, ap, pbk + j0 * kc, tile, NR);
            for (long i = 0; i < mr; i++) for (long j = 0; j < nr; j++) cp[i * ldc + j] += tile[i * NR + j];
          }
        }
      }
    }
  });
}

// Products below this many flops run on the calling thread: a pool round trip costs more than it
// saves, and far more when other processes share the cores.
constexpr double kParallelFlops = 4e6;

template <class T>
void gemm(const GemmArgs& g, const T* a, const T* b, T* c) {
  if (g.batch <= 0 || g.m <= 0 || g.n <= 0 || g.k <= 0) return;
  const KernelTable* t = active();
  const double flops = 2.0 * double(g.m) * double(g.n) * double(g.k);
  const int nt = in_parallel_job() ? 1 : num_threads();
  const long mn = g.m * g.n;
  // Several products, each too small to split well: one batch per task.
  if (g.batch > 1 && nt > 1 && (g.batch >= 4L * nt || flops < 4 * kParallelFlops)) {
    const long grain = flops >= kParallelFlops ? 1 : long(kParallelFlops / flops) + 1;
    parallel_for(g.batch, grain, [&](long b0, long b1) {
      for (long bi = b0; bi < b1; bi++)
        gemm_block(t, g.m, g.n, g.k, a + bi * g.sab, g.sam, g.sak, b + bi * g.sbb, g.sbk, g.sbn, c + bi * mn, g.n);
    });
    return;
  }
  for (long bi = 0; bi < g.batch; bi++) {
    const T* ab = a + bi * g.sab;
    const T* bb = b + bi * g.sbb;
    T* cb = c + bi * mn;
    if (nt == 1 || flops < kParallelFlops) gemm_block(t, g.m, g.n, g.k, ab, g.sam, g.sak, bb, g.sbk, g.sbn, cb, g.n);
    else gemm_parallel(t, g.m, g.n, g.k, ab, g.sam, g.sak, bb, g.sbk, g.sbn, cb, g.n);
  }
}

}  // namespace

void gemm_f32(const GemmArgs& g, const float* a, const float* b, float* c) { gemm<float>(g, a, b, c); }
void gemm_f64(const GemmArgs& g, const double* a, const double* b, double* c) { gemm<double>(g, a, b, c); }

}  // namespace ts
