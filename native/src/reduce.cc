// Reductions (sum, max, min) over any set of axes of a strided float view, and their entry point.
#include <limits>

#include "binding.h"
#include "common.h"
#include "strided.h"

namespace ts {
namespace {

// Reduce: kept axes (output order) and reduced axes, each coalesced. Two schedules:
//  - rows: the innermost reduced axis is the fastest in memory: each output reduces its runs;
//  - columns: the innermost kept axis has stride 1: accumulate whole rows into a float64 buffer.
void reduce(int op, const ViewDesc& x, const bool* reduced, void* out) {
  const KernelTable* t = active();
  long kshape[kMaxDims], kst[kMaxDims], rshape[kMaxDims], rst[kMaxDims];
  int nk = 0, nr = 0;
  for (int d = 0; d < x.ndim; d++) {
    const long s = x.shape[d], st = x.strides[d];
    if (s == 1) continue;
    if (reduced[d]) {
      if (nr > 0 && rst[nr - 1] == st * s) { rshape[nr - 1] *= s; rst[nr - 1] = st; }
      else { rshape[nr] = s; rst[nr] = st; nr++; }
    } else {
      if (nk > 0 && kst[nk - 1] == st * s) { kshape[nk - 1] *= s; kst[nk - 1] = st; }
      else { kshape[nk] = s; kst[nk] = st; nk++; }
    }
  }
  long nout = 1, nred = 1;
  for (int i = 0; i < nk; i++) nout *= kshape[i];
  for (int i = 0; i < nr; i++) nred *= rshape[i];
  if (nout == 0) return;
  const bool f32 = x.dtype == DT_F32;
  const size_t es = f32 ? 4 : 8;
  const char* base = static_cast<const char*>(x.data) + x.offset * es;
  const double init = op == R_SUM ? 0.0 : op == R_MAX ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  auto store = [&](long i, double v) {
    if (f32) static_cast<float*>(out)[i] = float(v); else static_cast<double*>(out)[i] = v;
  };
  // offset (in elements) of a multi-index given by a flat number over (shape, strides)
  auto offset_of = [](long flat, int n, const long* shape, const long* st) {
    long off = 0;
    for (int d = n - 1; d >= 0; d--) { off += (flat % shape[d]) * st[d]; flat /= shape[d]; }
    return off;
  };
  const bool columns = nk > 0 && kst[nk - 1] == 1 && (nr == 0 || rst[nr - 1] != 1);
  if (!columns) {
    const long rlen = nr > 0 ? rshape[nr - 1] : 1;
    const long rs = nr > 0 ? rst[nr - 1] : 1;
    const long nouter = nr > 0 ? nred / rlen : 1;
    const long grain = nred >= kGrain ? 1 : (kGrain + nred - 1) / (nred > 0 ? nred : 1);
    parallel_for(nout, grain, [&](long b, long e) {
      for (long i = b; i < e; i++) {
        const long ko = offset_of(i, nk, kshape, kst);
        double acc = init;
        for (long r = 0; r < nouter; r++) {
          const long ro = ko + (nr > 1 ? offset_of(r, nr - 1, rshape, rst) : 0);
          acc = f32 ? t->reduce_run_f32(op, reinterpret_cast<const float*>(base) + ro, rs, rlen, acc)
                    : t->reduce_run_f64(op, reinterpret_cast<const double*>(base) + ro, rs, rlen, acc);
        }
        store(i, acc);
      }
    });
    return;
  }
  // columns schedule: out rows of width w = kshape[nk-1]
  const long w = kshape[nk - 1];
  const long nrows = nout / w;
  const long cw = 256;  // column chunk
  const long nchunks = (w + cw - 1) / cw;
  const long tasks = nrows * nchunks;
  const long perTask = nred * cw;  // elements one task reads (at most)
  const long grain = perTask >= kGrain ? 1 : (kGrain + perTask - 1) / perTask;
  parallel_for(tasks, grain, [&](long b, long e) {
    double acc[cw];
    for (long task = b; task < e; task++) {
      const long row = task / nchunks, c0 = (task % nchunks) * cw;
      const long len = w - c0 < cw ? w - c0 : cw;
      for (long j = 0; j < len; j++) acc[j] = init;
      const long ko = offset_of(row, nk - 1, kshape, kst) + c0;
      for (long r = 0; r < nred; r++) {
        const long ro = ko + offset_of(r, nr, rshape, rst);
        if (f32) t->reduce_acc_f32(op, acc, reinterpret_cast<const float*>(base) + ro, 1, len);
        else t->reduce_acc_f64(op, acc, reinterpret_cast<const double*>(base) + ro, 1, len);
      }
      for (long j = 0; j < len; j++) store(row * w + c0 + j, acc[j]);
    }
  });
}

}  // namespace

// ---- entry points (declared in binding.h; addon.cc exports them)

// reduce(op, x, meta, out): meta = view, then ndim flags (1 = reduced)
void Reduce(Call& c) {
  const int op = c.op(0, 0, R_MIN);
  c.meta(2);
  const ViewDesc x = c.float_view(1, "x");
  bool red[kMaxDims];
  long nout = 1, nred = 1;
  for (int d = 0; d < x.ndim; d++) {
    red[d] = c.next() != 0;
    (red[d] ? nred : nout) *= x.shape[d];
  }
  if (op != R_SUM && nred == 0 && nout > 0) c.fail("cannot take max/min over an empty axis");
  reduce(op, x, red, c.out(3, x.dtype, nout));
}

}  // namespace ts
