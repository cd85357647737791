// The geometry of a 2-D window op (im2col.cc's unfold2d/fold2d, max_pool2d.cc's pooling): input
// (N, C, H, W), kernel, stride, padding, dilation and output size, as the 14 values that follow the
// views in a call's meta (the order of Conv2dGeometry in src/backend/backend.ts, packed by
// src/backends/native/index.ts `geometry`).
#pragma once
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

}  // namespace ts
