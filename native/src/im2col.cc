// im2col for conv2d: unfold2d (input (N, C, H, W) -> columns (N, C, kh, kw, OH, OW), pad value
// outside the input) and its adjoint fold2d (columns summed back into (N, C, H, W)), and their
// entry points. The geometry travels in meta after the view (14 values, conv_geometry.h).
#include "binding.h"
#include "conv_geometry.h"
#include "strided.h"

namespace ts {
namespace {

template <class T>
void unfold2d_t(const ViewDesc& x, const Conv2dGeom& p, T pad, T* out) {
  const T* xd = static_cast<const T*>(x.data) + x.offset;
  const long sn = x.strides[0], sc = x.strides[1], sh = x.strides[2], sw = x.strides[3];
  const long per = p.kh * p.kw * p.oh * p.ow;
  parallel_for(p.n * p.c, per >= kGrain ? 1 : 1 + kGrain / (per + 1), [&](long b, long e) {
    for (long nc = b; nc < e; nc++) {
      const long n = nc / p.c, c = nc % p.c;
      unfold_plane<T>(xd + n * sn + c * sc, sh, sw, p, pad, out + nc * per);
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
      fold_plane<T>(cd + n * st[0] + c * st[1], st[2], st[3], st[4], st[5], p, out + nc * hw);
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

}  // namespace

// ---- entry points (declared in binding.h; addon.cc exports them)

// unfold2d(x, meta, padValue, out): meta = view (N, C, H, W) then 14 geometry values
void Unfold2d(Call& c) {
  c.meta(1);
  const ViewDesc x = c.float_view(0, "x");
  const Conv2dGeom p = read_conv2d_geometry(c);
  if (x.ndim != 4 || x.shape[0] != p.n || x.shape[1] != p.c || x.shape[2] != p.h || x.shape[3] != p.w) c.fail("input shape does not match the geometry");
  const double pad = c.number(2, "padValue");
  unfold2d(x, p, pad, c.out(3, x.dtype, p.n * p.c * p.kh * p.kw * p.oh * p.ow));
}

// fold2d(cols, meta, out): meta = view (N, C, kh, kw, OH, OW) then 14 geometry values; out zeroed
void Fold2d(Call& c) {
  c.meta(1);
  const ViewDesc cols = c.float_view(0, "cols");
  const Conv2dGeom p = read_conv2d_geometry(c);
  const long want[6] = {p.n, p.c, p.kh, p.kw, p.oh, p.ow};
  bool ok = cols.ndim == 6;
  for (int d = 0; ok && d < 6; d++) ok = cols.shape[d] == want[d];
  if (!ok) c.fail("cols shape does not match the geometry");
  fold2d(cols, p, c.out(2, cols.dtype, p.n * p.c * p.h * p.w));
}

}  // namespace ts
