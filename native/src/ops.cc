// Strided drivers: see ops.h. Each kernel coalesces the axes of its operands, then walks runs of
// the innermost axis (the inner loop is the active path's vectorized function) and splits the
// flat output range over the thread pool. Work below ~32k elements stays on the calling thread.
#include "ops.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "common.h"
#include "gemm.h"
#include "threadpool.h"
#include <cstdlib>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace ts {
namespace {

#if defined(__GLIBC__)
// Tensor buffers are typed arrays that V8 allocates with calloc. With glibc's defaults, buffers of
// a few MB are mmapped fresh (or the heap top is trimmed after a free), so every new output page
// faults in on first touch: for a 1200 x 1200 float32 GEMM output that cost more than the product
// itself. A fixed mmap threshold of 32 MiB and a trim threshold of 256 MiB keep freed buffers in
// the heap for reuse (calloc then zeroes them with memset, far cheaper than page faults). Resident
// memory stays at its high-water mark instead of shrinking after each step. Set
// TENSORSLIM_MALLOC_TUNE=0 to keep glibc's defaults.
struct MallocTune {
  MallocTune() {
    const char* e = std::getenv("TENSORSLIM_MALLOC_TUNE");
    if (e != nullptr && e[0] == '0') return;
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
  }
} g_malloc_tune;
#endif

constexpr long kGrain = 131072;  // below this many elements, threads cost more than they give

// Large outputs: ask for transparent huge pages before the first write. A typed array of more
// than 32 MiB (the mmap threshold above) is fresh, untouched mmapped memory, so every 4 KiB page of
// it faults on its first write; on this machine (a KVM guest) a fault costs ~2.5 us, and a 64 MiB
// clone took 40 ms (3.3 GB/s) of which the copy itself is a few ms. With MADV_HUGEPAGE (honoured
// when /sys/kernel/mm/transparent_hugepage/enabled is "madvise" or "always") the kernel maps 2 MiB
// pages instead: 512 times fewer faults. numpy does the same for its large arrays. Only the
// 2 MiB-aligned interior of the buffer is advised (it is wholly ours); a no-op elsewhere.
// TENSORSLIM_HUGEPAGES=0 turns it off.
constexpr size_t kHugeMin = size_t(8) << 20;
bool hugepages_on() {
  static const bool on = [] {
    const char* e = std::getenv("TENSORSLIM_HUGEPAGES");
    return !(e != nullptr && e[0] == '0');
  }();
  return on;
}
void advise_output(void* out, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (bytes < kHugeMin || out == nullptr || !hugepages_on()) return;
  const uintptr_t huge = uintptr_t(2) << 20;
  const uintptr_t b = (reinterpret_cast<uintptr_t>(out) + huge - 1) & ~(huge - 1);
  const uintptr_t e = (reinterpret_cast<uintptr_t>(out) + bytes) & ~(huge - 1);
  if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_HUGEPAGE);
#else
  (void)out; (void)bytes;
#endif
}

// Axes shared by up to 3 operands (same shape, own strides), coalesced.
struct Iter {
  int nd = 0;
  int nops = 0;
  long shape[kMaxDims];
  long st[3][kMaxDims];
};

Iter make_iter(int ndim, const long* shape, int nops, const long* const* strides) {
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

// Calls f(off[nops], flatPos, len, innerStrides) for each run of the innermost axis in [b, e).
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

long numel(const ViewDesc& v) {
  long n = 1;
  for (int d = 0; d < v.ndim; d++) n *= v.shape[d];
  return n;
}

template <class F>
void par_runs(const Iter& it, long n, F f) {
  parallel_for(n, kGrain, [&](long b, long e) { for_runs(it, b, e, f); });
}

template <class S, class D>
void convert_run(const S* s, long ss, D* d, long n) {
  if (ss == 1) for (long i = 0; i < n; i++) d[i] = D(s[i]);
  else for (long i = 0; i < n; i++) d[i] = D(s[i * ss]);
}

template <class S, class D>
void copy_typed(const ViewDesc& x, D* out) {
  const long* st[1] = {x.strides};
  Iter it = make_iter(x.ndim, x.shape, 1, st);
  const S* base = static_cast<const S*>(x.data) + x.offset;
  // A transposed last pair of axes (inner stride != 1, the one before it unit-stride): copy in
  // 32 x 32 tiles so both reads and writes stay in cache.
  if (it.nd >= 2 && it.st[0][it.nd - 2] == 1 && it.st[0][it.nd - 1] != 1) {
    const long R = it.shape[it.nd - 2], C = it.shape[it.nd - 1], sc = it.st[0][it.nd - 1];
    long outer = 1;
    for (int d = 0; d < it.nd - 2; d++) outer *= it.shape[d];
    const long nt = ((R + 31) / 32) * outer;
    parallel_for(nt, (kGrain + 1023) / 1024, [&](long b, long e) {
      for (long t = b; t < e; t++) {
        const long o = t / ((R + 31) / 32), r0 = (t % ((R + 31) / 32)) * 32;
        long off = 0, rem = o;
        for (int d = it.nd - 3; d >= 0; d--) { off += (rem % it.shape[d]) * it.st[0][d]; rem /= it.shape[d]; }
        const S* src = base + off;
        D* dst = out + o * R * C;
        const long r1 = r0 + 32 < R ? r0 + 32 : R;
        for (long c0 = 0; c0 < C; c0 += 32) {
          const long c1 = c0 + 32 < C ? c0 + 32 : C;
          for (long c = c0; c < c1; c++) for (long r = r0; r < r1; r++) dst[r * C + c] = D(src[r + c * sc]);
        }
      }
    });
    return;
  }
  par_runs(it, numel(x), [&](const long* off, long pos, long len) {
    const long s = it.st[0][it.nd - 1];
    if (s == 1 && std::is_same<S, D>::value) std::memcpy(out + pos, base + off[0], len * sizeof(D));
    else convert_run(base + off[0], s, out + pos, len);
  });
}

size_t dt_size(int dt) { return dt == DT_F64 ? 8 : dt == DT_U8 ? 1 : 4; }

}  // namespace

void unary(int op, const ViewDesc& x, void* out, int outDtype) {
  (void)outDtype;
  advise_output(out, size_t(numel(x)) * dt_size(x.dtype));
  const long* st[1] = {x.strides};
  Iter it = make_iter(x.ndim, x.shape, 1, st);
  const KernelTable* t = active();
  const long sx = it.st[0][it.nd - 1];
  if (x.dtype == DT_F32) {
    const float* base = static_cast<const float*>(x.data) + x.offset;
    float* y = static_cast<float*>(out);
    par_runs(it, numel(x), [&](const long* off, long pos, long len) { t->unary_f32(op, base + off[0], sx, y + pos, len); });
  } else {
    const double* base = static_cast<const double*>(x.data) + x.offset;
    double* y = static_cast<double*>(out);
    par_runs(it, numel(x), [&](const long* off, long pos, long len) { t->unary_f64(op, base + off[0], sx, y + pos, len); });
  }
}

void binary(int op, const ViewDesc& a, const ViewDesc& b, void* out, int outDtype) {
  advise_output(out, size_t(numel(a)) * dt_size(outDtype));
  const long* st[2] = {a.strides, b.strides};
  Iter it = make_iter(a.ndim, a.shape, 2, st);
  const KernelTable* t = active();
  const long sa = it.st[0][it.nd - 1], sb = it.st[1][it.nd - 1];
  const bool cmp = outDtype == DT_U8;
  if (a.dtype == DT_F32) {
    const float* pa = static_cast<const float*>(a.data) + a.offset;
    const float* pb = static_cast<const float*>(b.data) + b.offset;
    if (cmp) par_runs(it, numel(a), [&](const long* off, long pos, long len) { t->compare_f32(op, pa + off[0], sa, pb + off[1], sb, static_cast<uint8_t*>(out) + pos, len); });
    else par_runs(it, numel(a), [&](const long* off, long pos, long len) { t->binary_f32(op, pa + off[0], sa, pb + off[1], sb, static_cast<float*>(out) + pos, len); });
  } else {
    const double* pa = static_cast<const double*>(a.data) + a.offset;
    const double* pb = static_cast<const double*>(b.data) + b.offset;
    if (cmp) par_runs(it, numel(a), [&](const long* off, long pos, long len) { t->compare_f64(op, pa + off[0], sa, pb + off[1], sb, static_cast<uint8_t*>(out) + pos, len); });
    else par_runs(it, numel(a), [&](const long* off, long pos, long len) { t->binary_f64(op, pa + off[0], sa, pb + off[1], sb, static_cast<double*>(out) + pos, len); });
  }
}

void copy(const ViewDesc& x, void* out, int outDtype) {
  advise_output(out, size_t(numel(x)) * dt_size(outDtype));
  switch (x.dtype * 4 + outDtype) {
    case DT_F32 * 4 + DT_F32: copy_typed<float, float>(x, static_cast<float*>(out)); break;
    case DT_F32 * 4 + DT_F64: copy_typed<float, double>(x, static_cast<double*>(out)); break;
    case DT_F64 * 4 + DT_F32: copy_typed<double, float>(x, static_cast<float*>(out)); break;
    case DT_F64 * 4 + DT_F64: copy_typed<double, double>(x, static_cast<double*>(out)); break;
    case DT_I32 * 4 + DT_I32: copy_typed<int32_t, int32_t>(x, static_cast<int32_t*>(out)); break;
    case DT_U8 * 4 + DT_U8: copy_typed<uint8_t, uint8_t>(x, static_cast<uint8_t*>(out)); break;
    default: break;  // other conversions are delegated by the JS side
  }
}

void assign(const ViewDesc& dst, const ViewDesc& src) {
  const long* st[2] = {dst.strides, src.strides};
  Iter it = make_iter(dst.ndim, dst.shape, 2, st);
  const size_t es = dt_size(dst.dtype);
  char* pd = static_cast<char*>(dst.data) + dst.offset * es;
  const char* ps = static_cast<const char*>(src.data) + src.offset * es;
  const long sd = it.st[0][it.nd - 1], ss = it.st[1][it.nd - 1];
  par_runs(it, numel(dst), [&](const long* off, long, long len) {
    char* d = pd + off[0] * es;
    const char* s = ps + off[1] * es;
    if (sd == 1 && ss == 1) { std::memmove(d, s, len * es); return; }
    switch (es) {
      case 8: for (long i = 0; i < len; i++) reinterpret_cast<double*>(d)[i * sd] = reinterpret_cast<const double*>(s)[i * ss]; break;
      case 4: for (long i = 0; i < len; i++) reinterpret_cast<float*>(d)[i * sd] = reinterpret_cast<const float*>(s)[i * ss]; break;
      default: for (long i = 0; i < len; i++) d[i * sd] = s[i * ss]; break;
    }
  });
}

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

template <class T>
void unfold2d_t(const ViewDesc& x, const Conv2dGeom& p, T pad, T* out) {
  const T* xd = static_cast<const T*>(x.data) + x.offset;
  const long sn = x.strides[0], sc = x.strides[1], sh = x.strides[2], sw = x.strides[3];
  const long per = p.kh * p.kw * p.oh * p.ow;
  parallel_for(p.n * p.c, per >= kGrain ? 1 : 1 + kGrain / (per + 1), [&](long b, long e) {
    for (long nc = b; nc < e; nc++) {
      const long n = nc / p.c, c = nc % p.c;
      const T* xc = xd + n * sn + c * sc;
      T* o = out + nc * per;
      for (long i = 0; i < p.kh; i++) for (long j = 0; j < p.kw; j++) {
        for (long oy = 0; oy < p.oh; oy++) {
          const long y = oy * p.sh - p.ph + i * p.dh;
          if (y < 0 || y >= p.h) { for (long ox = 0; ox < p.ow; ox++) *o++ = pad; continue; }
          const T* row = xc + y * sh;
          for (long ox = 0; ox < p.ow; ox++) {
            const long xx = ox * p.sw - p.pw + j * p.dw;
            *o++ = (xx < 0 || xx >= p.w) ? pad : row[xx * sw];
          }
        }
      }
    }
  });
}

template <class T>
void fold2d_t(const ViewDesc& cols, const Conv2dGeom& p, T* out) {
  const T* cd = static_cast<const T*>(cols.data) + cols.offset;
  const long* st = cols.strides;
  const long hw = p.h * p.w;
  parallel_for(p.n * p.c, 1, [&](long b, long e) {
    for (long nc = b; nc < e; nc++) {
      const long n = nc / p.c, c = nc % p.c;
      T* o = out + nc * hw;
      const T* cc = cd + n * st[0] + c * st[1];
      for (long i = 0; i < p.kh; i++) for (long j = 0; j < p.kw; j++) {
        for (long oy = 0; oy < p.oh; oy++) {
          const long y = oy * p.sh - p.ph + i * p.dh;
          if (y < 0 || y >= p.h) continue;
          const T* src = cc + i * st[2] + j * st[3] + oy * st[4];
          T* orow = o + y * p.w;
          for (long ox = 0; ox < p.ow; ox++) {
            const long xx = ox * p.sw - p.pw + j * p.dw;
            if (xx >= 0 && xx < p.w) orow[xx] += src[ox * st[5]];
          }
        }
      }
    }
  });
}

void unfold2d(const ViewDesc& x, const Conv2dGeom& p, double padValue, void* out) {
  if (x.dtype == DT_F32) unfold2d_t<float>(x, p, float(padValue), static_cast<float*>(out));
  else unfold2d_t<double>(x, p, padValue, static_cast<double*>(out));
}

void fold2d(const ViewDesc& cols, const Conv2dGeom& p, void* out) {
  if (cols.dtype == DT_F32) fold2d_t<float>(cols, p, static_cast<float*>(out));
  else fold2d_t<double>(cols, p, static_cast<double*>(out));
}

template <class T>
void softmax_xent_t(const ViewDesc& lg, const int32_t* target, long ts, double* loss, T* grad, double scale) {
  const long n = lg.shape[0], c = lg.shape[1], s0 = lg.strides[0], s1 = lg.strides[1];
  const T* base = static_cast<const T*>(lg.data) + lg.offset;
  const KernelTable* kt = active();
  parallel_for(n, c >= 4096 ? 1 : 1 + 4096 / (c + 1), [&](long b, long e) {
    // exp(z - max) of a row, in float64 on the path's vectorized exp, kept for the gradient:
    // softmax = e / sum (one exp per element)
    thread_local std::vector<double> ebuf;
    if (ebuf.size() < size_t(c)) ebuf.resize(size_t(c));
    for (long i = b; i < e; i++) {
      const T* row = base + i * s0;
      double* ex = ebuf.data();
      for (long j = 0; j < c; j++) ex[j] = double(row[j * s1]);
      // row max (NaN wins) and the sum below in 8 independent lanes, so both vectorize
      const double ninf = -std::numeric_limits<double>::infinity();
      double lm[8] = {ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf};
      long j = 0;
      for (; j + 8 <= c; j += 8) for (int q = 0; q < 8; q++) { const double v = ex[j + q]; lm[q] = (v > lm[q] || v != v) ? v : lm[q]; }
      double mx = ninf;
      for (; j < c; j++) { const double v = ex[j]; if (v > mx || v != v) mx = v; }
      for (int q = 0; q < 8; q++) if (lm[q] > mx || lm[q] != lm[q]) mx = lm[q];
      for (long k = 0; k < c; k++) ex[k] -= mx;
      kt->exp_f64(ex, c);
      double ls[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (j = 0; j + 8 <= c; j += 8) for (int q = 0; q < 8; q++) ls[q] += ex[j + q];
      double sum = 0;
      for (; j < c; j++) sum += ex[j];
      sum += ((ls[0] + ls[1]) + (ls[2] + ls[3])) + ((ls[4] + ls[5]) + (ls[6] + ls[7]));
      const double lse = mx + std::log(sum);
      const long t = target[i * ts];
      loss[i] = lse - double(row[t * s1]);
      if (grad != nullptr) {
        T* g = grad + i * c;
        const double inv = 1.0 / sum;
        for (long j = 0; j < c; j++) g[j] = T((ex[j] * inv - (j == t ? 1.0 : 0.0)) * scale);
      }
    }
  });
}

}  // namespace ts (internal templates above are file-local by use)

namespace ts {

void softmax_xent(const ViewDesc& logits, const int32_t* target, long ts, double* loss, void* grad, double scale) {
  if (logits.dtype == DT_F32) softmax_xent_t<float>(logits, target, ts, loss, static_cast<float*>(grad), scale);
  else softmax_xent_t<double>(logits, target, ts, loss, static_cast<double*>(grad), scale);
}

void adam(int dtype, void* p, const void* g, void* m, void* v, void* vmax, long n, const double* hp) {
  const KernelTable* t = active();
  parallel_for(n, 65536, [&](long b, long e) {
    if (dtype == DT_F32) t->adam_f32(static_cast<float*>(p) + b, static_cast<const float*>(g) + b, static_cast<float*>(m) + b,
                                     static_cast<float*>(v) + b, vmax ? static_cast<float*>(vmax) + b : nullptr, e - b, hp);
    else t->adam_f64(static_cast<double*>(p) + b, static_cast<const double*>(g) + b, static_cast<double*>(m) + b,
                     static_cast<double*>(v) + b, vmax ? static_cast<double*>(vmax) + b : nullptr, e - b, hp);
  });
}

namespace {

// Bitwise select of elements of type U (an unsigned integer as wide as the dtype): branch-free,
// so random masks (ReLU backward) cost no mispredictions and the loop vectorizes.
template <class U>
void select_typed(const ViewDesc& c, const ViewDesc& a, const ViewDesc& b, U* out) {
  const long* st[3] = {c.strides, a.strides, b.strides};
  Iter it = make_iter(c.ndim, c.shape, 3, st);
  const uint8_t* pc = static_cast<const uint8_t*>(c.data) + c.offset;
  const U* pa = static_cast<const U*>(a.data) + a.offset;
  const U* pb = static_cast<const U*>(b.data) + b.offset;
  const long sc = it.st[0][it.nd - 1], sa = it.st[1][it.nd - 1], sb = it.st[2][it.nd - 1];
  par_runs(it, numel(c), [&](const long* off, long pos, long len) {
    const uint8_t* cc = pc + off[0];
    const U* aa = pa + off[1];
    const U* bb = pb + off[2];
    U* o = out + pos;
    if (sc == 1 && sa == 1 && sb == 0) {
      const U bv = bb[0];
      for (long i = 0; i < len; i++) { const U m = U(0) - U(cc[i] != 0); o[i] = U((aa[i] & m) | (bv & ~m)); }
    } else if (sc == 1 && sa == 1 && sb == 1) {
      for (long i = 0; i < len; i++) { const U m = U(0) - U(cc[i] != 0); o[i] = U((aa[i] & m) | (bb[i] & ~m)); }
    } else {
      for (long i = 0; i < len; i++) { const U m = U(0) - U(cc[i * sc] != 0); o[i] = U((aa[i * sa] & m) | (bb[i * sb] & ~m)); }
    }
  });
}

template <class T>
void compare_typed(int op, const ViewDesc& a, const ViewDesc& b, uint8_t* out) {
  const long* st[2] = {a.strides, b.strides};
  Iter it = make_iter(a.ndim, a.shape, 2, st);
  const T* pa = static_cast<const T*>(a.data) + a.offset;
  const T* pb = static_cast<const T*>(b.data) + b.offset;
  const long sa = it.st[0][it.nd - 1], sb = it.st[1][it.nd - 1];
  par_runs(it, numel(a), [&](const long* off, long pos, long len) {
    const T* x = pa + off[0];
    const T* y = pb + off[1];
    uint8_t* o = out + pos;
    switch (op) {
      case B_EQ: for (long i = 0; i < len; i++) o[i] = x[i * sa] == y[i * sb]; break;
      case B_NE: for (long i = 0; i < len; i++) o[i] = x[i * sa] != y[i * sb]; break;
      case B_LT: for (long i = 0; i < len; i++) o[i] = x[i * sa] < y[i * sb]; break;
      case B_LE: for (long i = 0; i < len; i++) o[i] = x[i * sa] <= y[i * sb]; break;
      case B_GT: for (long i = 0; i < len; i++) o[i] = x[i * sa] > y[i * sb]; break;
      case B_GE: for (long i = 0; i < len; i++) o[i] = x[i * sa] >= y[i * sb]; break;
      default: break;
    }
  });
}

template <class S>
void convert_from(const ViewDesc& x, void* out, int odt) {
  switch (odt) {
    case DT_F32: copy_typed<S, float>(x, static_cast<float*>(out)); break;
    case DT_F64: copy_typed<S, double>(x, static_cast<double*>(out)); break;
    case DT_I32: copy_typed<S, int32_t>(x, static_cast<int32_t*>(out)); break;
    case DT_U8: copy_typed<S, uint8_t>(x, static_cast<uint8_t*>(out)); break;
    default: break;
  }
}

inline void acc_run(const KernelTable* t, double* acc, const float* x, long sx, long n) { t->reduce_acc_f32(R_SUM, acc, x, sx, n); }
inline void acc_run(const KernelTable* t, double* acc, const double* x, long sx, long n) { t->reduce_acc_f64(R_SUM, acc, x, sx, n); }

// Backward of y = act(x W^T + b) as one pool job per GEMM phase (gemm_multi): dw = g^T x and
// dx = g W are packed together and their tiles computed together, and the bias gradient's column
// sums of g run as side tasks of the packing phase. g is dy itself when there is no ReLU mask and dy
// is row- or column-major (the GEMMs read it in place), else a packed copy (masked by y > 0).
template <class T>
void linear_backward_t(const ViewDesc& dy, const ViewDesc* y, const ViewDesc& x, const ViewDesc& w,
                       T* gbuf, T* dx, T* dw, T* db) {
  const long M = dy.shape[0], N = dy.shape[1], K = x.shape[1];
  const T* pd = static_cast<const T*>(dy.data) + dy.offset;
  const long d0 = dy.strides[0], d1 = dy.strides[1];
  const T* g = pd;
  long g0 = d0, g1 = d1;
  const bool inPlace = y == nullptr && ((d1 == 1 && d0 >= N) || (d0 == 1 && d1 >= M));
  if (!inPlace && M > 0 && N > 0) {
    static thread_local std::vector<T> scratch;  // g when the caller passes none (no JS allocation)
    if (gbuf == nullptr) {
      if (scratch.size() < size_t(M) * size_t(N)) scratch.resize(size_t(M) * size_t(N));
      gbuf = scratch.data();
    }
    const T* py = y ? static_cast<const T*>(y->data) + y->offset : nullptr;
    const long y0 = y ? y->strides[0] : 0, y1 = y ? y->strides[1] : 0;
    parallel_for(M, N >= kGrain ? 1 : kGrain / N + 1, [&](long i0, long i1) {
      for (long i = i0; i < i1; i++) {
        T* gi = gbuf + i * N;
        const T* di = pd + i * d0;
        if (py != nullptr) {
          const T* yi = py + i * y0;
          if (d1 == 1 && y1 == 1) for (long j = 0; j < N; j++) gi[j] = yi[j] > T(0) ? di[j] : T(0);
          else for (long j = 0; j < N; j++) gi[j] = yi[j * y1] > T(0) ? di[j * d1] : T(0);
        } else {
          if (d1 == 1) std::memcpy(gi, di, sizeof(T) * N);
          else for (long j = 0; j < N; j++) gi[j] = di[j * d1];
        }
      }
    });
    g = gbuf; g0 = N; g1 = 1;
  }
  const KernelTable* t = active();
  // db: float64 partial column sums of fixed blocks of rows (whole rows, read in order: a column
  // chunk walked down 2048 rows touches a new page per row), added up in block order afterwards, so
  // the result does not depend on the thread count.
  const long per = M > 64 * 32 ? (M + 31) / 32 : 64;
  const long nblk = db != nullptr && N > 0 ? (M + per - 1) / per : 0;
  static thread_local std::vector<double> part;
  if (part.size() < size_t(nblk * N)) part.resize(size_t(nblk * N));
  double* pp = part.data();
  const std::function<void(long)> colsum = [&](long blk) {
    double* acc = pp + blk * N;
    for (long j = 0; j < N; j++) acc[j] = 0.0;
    const long r1 = (blk + 1) * per < M ? (blk + 1) * per : M;
    for (long i = blk * per; i < r1; i++) acc_run(t, acc, g + i * g0, g1, N);
  };
  GemmOp ops[2];
  int nops = 0;
  if (dw != nullptr) {  // dw (N x K) = g^T (N x M) x (M x K)
    GemmOp& o = ops[nops++];
    o.m = N; o.n = K; o.k = M;
    o.a = g; o.sam = g1; o.sak = g0;
    o.b = static_cast<const T*>(x.data) + x.offset; o.sbk = x.strides[0]; o.sbn = x.strides[1];
    o.c = dw; o.ldc = K; o.overwrite = true;
  }
  if (dx != nullptr) {  // dx (M x K) = g (M x N) w (N x K)
    GemmOp& o = ops[nops++];
    o.m = M; o.n = K; o.k = N;
    o.a = g; o.sam = g0; o.sak = g1;
    o.b = static_cast<const T*>(w.data) + w.offset; o.sbk = w.strides[0]; o.sbn = w.strides[1];
    o.c = dx; o.ldc = K; o.overwrite = true;
  }
  gemm_multi(std::is_same<T, double>::value, ops, nops, nblk, &colsum);
  if (db != nullptr) {
    for (long j = 0; j < N; j++) {
      double s = 0.0;
      for (long q = 0; q < nblk; q++) s += pp[q * N + j];
      db[j] = T(s);
    }
  }
}

}  // namespace

void select(const ViewDesc& cond, const ViewDesc& a, const ViewDesc& b, void* out) {
  advise_output(out, size_t(numel(cond)) * dt_size(a.dtype));
  switch (dt_size(a.dtype)) {
    case 8: select_typed<uint64_t>(cond, a, b, static_cast<uint64_t*>(out)); break;
    case 4: select_typed<uint32_t>(cond, a, b, static_cast<uint32_t*>(out)); break;
    default: select_typed<uint8_t>(cond, a, b, static_cast<uint8_t*>(out)); break;
  }
}

void compare_int(int op, const ViewDesc& a, const ViewDesc& b, uint8_t* out) {
  if (a.dtype == DT_I32) compare_typed<int32_t>(op, a, b, out);
  else compare_typed<uint8_t>(op, a, b, out);
}

void convert(const ViewDesc& x, void* out, int outDtype) {
  advise_output(out, size_t(numel(x)) * dt_size(outDtype));
  switch (x.dtype) {
    case DT_F32: convert_from<float>(x, out, outDtype); break;
    case DT_F64: convert_from<double>(x, out, outDtype); break;
    case DT_I32: convert_from<int32_t>(x, out, outDtype); break;
    default: convert_from<uint8_t>(x, out, outDtype); break;
  }
}

void linear_forward(const ViewDesc& x, const ViewDesc& w, const ViewDesc* bias, bool relu, void* out) {
  const size_t es = x.dtype == DT_F32 ? 4 : 8;
  GemmOp o;
  o.m = x.shape[0]; o.n = w.shape[0]; o.k = x.shape[1];
  o.a = static_cast<const char*>(x.data) + x.offset * es; o.sam = x.strides[0]; o.sak = x.strides[1];
  o.b = static_cast<const char*>(w.data) + w.offset * es; o.sbk = w.strides[1]; o.sbn = w.strides[0];
  o.c = out; o.ldc = o.n;
  if (bias != nullptr) { o.bias = static_cast<const char*>(bias->data) + bias->offset * es; o.sbias = bias->strides[0]; }
  o.relu = relu;
  o.overwrite = true;
  gemm_multi(x.dtype == DT_F64, &o, 1);
}

void linear_backward(const ViewDesc& dy, const ViewDesc* y, const ViewDesc& x, const ViewDesc& w,
                     void* g, void* dx, void* dw, void* db) {
  if (dy.dtype == DT_F32) linear_backward_t<float>(dy, y, x, w, static_cast<float*>(g), static_cast<float*>(dx), static_cast<float*>(dw), static_cast<float*>(db));
  else linear_backward_t<double>(dy, y, x, w, static_cast<double*>(g), static_cast<double*>(dx), static_cast<double*>(dw), static_cast<double*>(db));
}

}  // namespace ts
