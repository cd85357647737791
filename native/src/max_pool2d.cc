// Kernel `maxPool2d` (native side): 2-D max pooling in one pass with the argmax position of every
// window (maxPool2dForward), and its adjoint, dy scattered to those positions (maxPool2dBackward),
// with their entry points. Scalar loops (a window is a handful of compares), threaded over the
// (n, c) planes; float32 planes with contiguous rows take the active CPU path's vector loops, any
// window, stride, padding and dilation (conv_direct_impl.h maxpool_f32). Home of the kernel:
// src/ops/max_pool2d.ts.
#include "conv_direct_isa.h"
#include "conv_geometry.h"
#include "strided.h"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace ts {
namespace {

// Max pooling of x (N, C, H, W) in one pass: y (N, C, OH, OW) and, per output, the position in its
// (n, c) plane (y * W + x) of the first maximum of the window (the first NaN, if any: NaN wins, as
// in torch). Padding is never read (pad <= half the kernel, so every window holds an input element).
// Planes per pool task: at least kPoolGrain elements of the plane-sized work (window reads forward;
// the input-sized fill and the scatter backward). strided.h's kGrain (131072) made every lenet5
// pooling call but the first forward one task at batch 128 (pool1 backward: 768 planes in chunks of
// 666), so the second thread sat idle.
constexpr long kPoolGrain = 32768;
inline long planes_per_task(long per_plane) { return per_plane >= kPoolGrain ? 1 : 1 + kPoolGrain / (per_plane + 1); }

template <class T>
void max_pool2d_t(const ViewDesc& x, const Conv2dGeom& p, T* out, int32_t* arg) {
  const T* xd = static_cast<const T*>(x.data) + x.offset;
  const long sn = x.strides[0], sc = x.strides[1], sh = x.strides[2], sw = x.strides[3];
  const long per = p.oh * p.ow * p.kh * p.kw;
  // float32 planes with contiguous rows: the active path's vector loops (any window)
  const bool vec = sizeof(T) == 4 && sw == 1;
  const ConvDirectTable* pool = conv_direct_loops();
  parallel_for(p.n * p.c, planes_per_task(per), [&](long b, long e) {
    for (long nc = b; nc < e; nc++) {
      const long n = nc / p.c, c = nc % p.c;
      const T* xc = xd + n * sn + c * sc;
      T* o = out + nc * p.oh * p.ow;
      int32_t* a = arg + nc * p.oh * p.ow;
      if (vec) {
        MaxPoolArgs va{reinterpret_cast<const float*>(xc), sh, p.h, p.w, p.kh, p.kw, p.sh, p.sw, p.ph, p.pw, p.dh, p.dw, p.oh, p.ow, reinterpret_cast<float*>(o), a};
        pool->maxpool_f32(va);
        continue;
      }
      for (long oy = 0; oy < p.oh; oy++) {
        // the kernel rows inside the input: i in [i0, i1)
        const long y0 = oy * p.sh - p.ph;
        long i0 = 0, i1 = p.kh;
        while (i0 < p.kh && y0 + i0 * p.dh < 0) i0++;
        while (i1 > i0 && y0 + (i1 - 1) * p.dh >= p.h) i1--;
        for (long ox = 0; ox < p.ow; ox++) {
          const long x0 = ox * p.sw - p.pw;
          long j0 = 0, j1 = p.kw;
          while (j0 < p.kw && x0 + j0 * p.dw < 0) j0++;
          while (j1 > j0 && x0 + (j1 - 1) * p.dw >= p.w) j1--;
          T best = -std::numeric_limits<T>::infinity();
          long at = -1;
          if (i0 < i1 && j0 < j1) {
            // the first in-range element starts the scan, then branch-free selects (random data
            // mispredicts a compare-and-branch half the time)
            at = (y0 + i0 * p.dh) * p.w + x0 + j0 * p.dw;
            best = xc[(y0 + i0 * p.dh) * sh + (x0 + j0 * p.dw) * sw];
            for (long i = i0; i < i1; i++) {
              const long y = y0 + i * p.dh;
              const T* row = xc + y * sh;
              for (long j = j0; j < j1; j++) {
                const long xx = x0 + j * p.dw;
                const T v = row[xx * sw];
                // take v when larger, or when it is the first NaN (NaN wins, as in torch)
                const bool take = (v > best) | ((v != v) & (best == best));
                best = take ? v : best;
                at = take ? y * p.w + xx : at;
              }
            }
          }
          *o++ = best;
          *a++ = static_cast<int32_t>(at);
        }
      }
    }
  });
}

// dx (N, C, H, W), every element written (uninitialized before): each task zeroes its planes
// (a vectorized fill, faster than writing each window's elements with compares), then dx[n, c,
// arg] += dy[n, c, oy, ox] for every output.
template <class T>
void max_pool2d_backward_t(const ViewDesc& dy, const int32_t* arg, const Conv2dGeom& p, T* dx) {
  const T* dd = static_cast<const T*>(dy.data) + dy.offset;
  const long* st = dy.strides;
  const long hw = p.h * p.w, ohw = p.oh * p.ow;
  parallel_for(p.n * p.c, planes_per_task(hw + ohw), [&](long b, long e) {
    for (long nc = b; nc < e; nc++) {
      const long n = nc / p.c, c = nc % p.c;
      const T* d = dd + n * st[0] + c * st[1];
      const int32_t* a = arg + nc * ohw;
      T* o = dx + nc * hw;
      std::fill(o, o + hw, T(0));
      for (long oy = 0; oy < p.oh; oy++) for (long ox = 0; ox < p.ow; ox++) {
        const int32_t at = a[oy * p.ow + ox];
        if (at >= 0) o[at] += d[oy * st[2] + ox * st[3]];
      }
    }
  });
}

}  // namespace

// ---- entry points (declared in binding.h; addon.cc exports them)

// maxPool2dForward(x, meta, out, argmax): meta = view (N, C, H, W) then 14 geometry values; out
// (N, C, OH, OW) of x's dtype, argmax int32 of as many elements (each a position y * W + x in its plane)
void MaxPool2dForward(Call& c) {
  c.meta(1);
  const ViewDesc x = c.float_view(0, "x");
  const Conv2dGeom p = read_conv2d_geometry(c);
  if (x.ndim != 4 || x.shape[0] != p.n || x.shape[1] != p.c || x.shape[2] != p.h || x.shape[3] != p.w) c.fail("input shape does not match the geometry");
  if (2 * p.ph > p.kh || 2 * p.pw > p.kw) c.fail("padding must be at most half the kernel");
  if (p.h * p.w > 2147483647L) c.fail("an input plane of more than 2^31 elements does not fit int32 argmax positions");
  const long numel = p.n * p.c * p.oh * p.ow;
  void* out = c.out(2, x.dtype, numel);
  int32_t* arg = static_cast<int32_t*>(c.out(3, DT_I32, numel, "argmax"));
  if (x.dtype == DT_F32) max_pool2d_t<float>(x, p, static_cast<float*>(out), arg);
  else max_pool2d_t<double>(x, p, static_cast<double*>(out), arg);
}

// maxPool2dBackward(dy, argmax, meta, out): meta = view of dy (N, C, OH, OW) then 14 geometry
// values; argmax int32 contiguous (N, C, OH, OW), each in [-1, H * W); out (N, C, H, W), every element written
void MaxPool2dBackward(Call& c) {
  c.meta(2);
  const ViewDesc dy = c.float_view(0, "dy");
  const Conv2dGeom p = read_conv2d_geometry(c);
  if (dy.ndim != 4 || dy.shape[0] != p.n || dy.shape[1] != p.c || dy.shape[2] != p.oh || dy.shape[3] != p.ow) c.fail("dy shape does not match the geometry");
  void* ad = nullptr; size_t alen = 0;
  if (c.array(1, &ad, &alen, "argmax") != DT_I32) c.fail("argmax must be an Int32Array");
  const long numel = p.n * p.c * p.oh * p.ow;
  if (static_cast<long>(alen) != numel) c.fail("argmax must hold one position per output element");
  const int32_t* arg = static_cast<const int32_t*>(ad);
  const long hw = p.h * p.w;
  for (long i = 0; i < numel; i++) if (arg[i] < -1 || arg[i] >= hw) c.fail("argmax position out of range");
  void* out = c.out(3, dy.dtype, p.n * p.c * hw);
  if (dy.dtype == DT_F32) max_pool2d_backward_t<float>(dy, arg, p, static_cast<float*>(out));
  else max_pool2d_backward_t<double>(dy, arg, p, static_cast<double*>(out));
}

}  // namespace ts
