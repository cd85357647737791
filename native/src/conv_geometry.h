// The geometry of a 2-D window op (im2col.cc's unfold2d/fold2d, max_pool2d.cc's pooling, conv2d.cc):
// input (N, C, H, W), kernel, stride, padding, dilation and output size, as the 14 values that
// follow the views in a call's meta (the order of Conv2dGeometry in src/backend/backend.ts, packed
// by src/backends/native/index.ts `geometry`); and the im2col / col2im loops of one (n, c) plane.
#pragma once
#include <algorithm>

#include "binding.h"

namespace ts {

struct Conv2dGeom { long n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow; };

// The next 14 meta values as a geometry; fails the call on a negative value, a stride or a dilation < 1.
inline Conv2dGeom read_conv2d_geometry(Call& c) {
  long g[14];
  for (int i = 0; i < 14; i++) {
    g[i] = c.next_long("geometry value");
    if (g[i] < 0) c.fail("negative geometry value");
  }
  Conv2dGeom p{g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13]};
  if (p.sh < 1 || p.sw < 1 || p.dh < 1 || p.dw < 1) c.fail("strides and dilations must be >= 1");
  return p;
}

// The output columns ox in [lo, hi) whose input column x0 + ox * sw lies inside [0, w).
inline void conv_row_range(long x0, const Conv2dGeom& p, long* lo, long* hi) {
  *lo = std::min(p.ow, x0 >= 0 ? 0 : (-x0 + p.sw - 1) / p.sw);
  *hi = std::max(*lo, std::min(p.ow, x0 >= p.w ? 0 : (p.w - x0 + p.sw - 1) / p.sw));
}

// Calls f(i, j, x0, lo, hi, oy, y) for every kernel tap (i, j), then every output row oy: x0 = j * dw
// - pw is the tap's input column at ox = 0, [lo, hi) the output columns whose input column
// x0 + ox * sw lies inside the row (conv_row_range), and y = oy * sh - ph + i * dh the input row
// (possibly outside [0, h): f decides). The loop shape of im2col, col2im and the depthwise loops.
template <class F>
inline void for_each_tap_row(const Conv2dGeom& p, F&& f) {
  for (long i = 0; i < p.kh; i++) for (long j = 0; j < p.kw; j++) {
    const long x0 = j * p.dw - p.pw;
    long lo, hi;
    conv_row_range(x0, p, &lo, &hi);
    for (long oy = 0; oy < p.oh; oy++) f(i, j, x0, lo, hi, oy, oy * p.sh - p.ph + i * p.dh);
  }
}

// im2col of one input plane xc (row stride sh, column stride sw) into o: (kh, kw, OH, OW),
// positions outside the input read `pad`.
template <class T>
void unfold_plane(const T* xc, long sh, long sw, const Conv2dGeom& p, T pad, T* o) {
  for_each_tap_row(p, [&](long, long, long x0, long lo, long hi, long, long y) {
    if (y < 0 || y >= p.h) { for (long ox = 0; ox < p.ow; ox++) *o++ = pad; return; }
    const T* row = xc + y * sh;
    long ox = 0;
    for (; ox < lo; ox++) *o++ = pad;
    if (p.sw == 1 && sw == 1) {
      for (; ox < hi; ox++) *o++ = row[x0 + ox];
    } else {
      for (; ox < hi; ox++) *o++ = row[(x0 + ox * p.sw) * sw];
    }
    for (; ox < p.ow; ox++) *o++ = pad;
  });
}

// col2im of one plane: columns cc (kh, kw, OH, OW) with strides (si, sj, sy, sx) summed into the
// contiguous (H, W) plane o (added to what it holds).
template <class T>
void fold_plane(const T* cc, long si, long sj, long sy, long sx, const Conv2dGeom& p, T* o) {
  for_each_tap_row(p, [&](long i, long j, long x0, long lo, long hi, long oy, long y) {
    if (y < 0 || y >= p.h) return;
    const T* src = cc + i * si + j * sj + oy * sy;
    T* orow = o + y * p.w;
    if (p.sw == 1 && sx == 1) {
      for (long ox = lo; ox < hi; ox++) orow[x0 + ox] += src[ox];
    } else {
      for (long ox = lo; ox < hi; ox++) orow[x0 + ox * p.sw] += src[ox * sx];
    }
  });
}

}  // namespace ts
