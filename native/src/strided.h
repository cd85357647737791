// The strided walk shared by the elementwise, copy and select drivers (elementwise.cc, copy.cc):
// coalesce the axes of up to 3 operands of one shape, then visit runs of the innermost axis,
// splitting the flat output range over the thread pool. Work below kGrain elements stays on the
// calling thread.
#pragma once
#include "threadpool.h"
#include "view.h"

namespace ts {

constexpr long kGrain = 131072;  // below this many elements, threads cost more than they give

// Axes shared by up to 3 operands (same shape, own strides), coalesced.
struct Iter {
  int nd = 0;
  int nops = 0;
  long shape[kMaxDims];
  long st[3][kMaxDims];
};

inline Iter make_iter(int ndim, const long* shape, int nops, const long* const* strides) {
  Iter it;
  it.nops = nops;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 1) continue;
    if (it.nd > 0) {
      const int q = it.nd - 1;
      bool merge = true;
      for (int o = 0; o < nops; o++) if (it.st[o][q] != strides[o][d] * shape[d]) { merge = false; break; }
      if (merge) {
        it.shape[q] *= shape[d];
        for (int o = 0; o < nops; o++) it.st[o][q] = strides[o][d];
        continue;
      }
    }
    it.shape[it.nd] = shape[d];
    for (int o = 0; o < nops; o++) it.st[o][it.nd] = strides[o][d];
    it.nd++;
  }
  if (it.nd == 0) {  // a scalar: one run of length 1
    it.nd = 1;
    it.shape[0] = 1;
    for (int o = 0; o < nops; o++) it.st[o][0] = 1;
  }
  return it;
}

// Calls f(off[nops], flatPos, len) for each run of the innermost axis in [b, e).
template <class F>
void for_runs(const Iter& it, long b, long e, F f) {
  const int nd = it.nd;
  const long inner = it.shape[nd - 1];
  long idx[kMaxDims];
  long off[3] = {0, 0, 0};
  long rem = b;
  for (int d = nd - 1; d >= 0; d--) {
    idx[d] = rem % it.shape[d];
    rem /= it.shape[d];
    for (int o = 0; o < it.nops; o++) off[o] += idx[d] * it.st[o][d];
  }
  long pos = b;
  while (pos < e) {
    long len = inner - idx[nd - 1];
    if (len > e - pos) len = e - pos;
    f(off, pos, len);
    pos += len;
    if (pos >= e) break;
    // advance the index by len along the innermost axis, carrying into outer axes
    idx[nd - 1] += len;
    for (int o = 0; o < it.nops; o++) off[o] += len * it.st[o][nd - 1];
    for (int d = nd - 1; d > 0 && idx[d] == it.shape[d]; d--) {
      for (int o = 0; o < it.nops; o++) off[o] -= it.shape[d] * it.st[o][d] - it.st[o][d - 1];
      idx[d] = 0;
      idx[d - 1]++;
    }
  }
}

// for_runs over [0, n), split over the thread pool.
template <class F>
void par_runs(const Iter& it, long n, F f) {
  parallel_for(n, kGrain, [&](long b, long e) { for_runs(it, b, e, f); });
}

}  // namespace ts
