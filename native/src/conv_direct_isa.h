// The per-instruction-set loops of the direct convolution (conv2d.cc uses them for stride-1,
// dilation-1 convolutions with few channels, where per-sample im2col + GEMM spends its time on
// packing and tile edges): argument blocks and the table each path fills (conv_direct_generic.cc,
// conv_direct_avx2.cc, conv_direct_avx512.cc, all from conv_direct_impl.h). No N-API here.
//
// Both loops work on "wide" planes: a plane of width wp (the padded input width) whose output
// position t = oy * wp + ox covers every column ox < wp, of which only ox < OW = wp - kw + 1 are
// real (the others are computed and dropped, or must hold zeros where they are read). Then the
// tap (i, j) of every output is the same shift i * wp + j of the input plane, and each tap is one
// contiguous multiply-add over the whole plane.
#pragma once

namespace ts {

// out[o * os + t] = (bias ? bias[o] : 0) + sum_{c, i, j} w[((o * cin + c) * kh + i) * kw + j] *
// in[c * ps + i * wp + j + t], for o < cout and t < nv * lanes (nv vectors of the path's width).
// Every in[] read must be inside the caller's buffer (ps and the last plane padded accordingly).
template <class T> struct WideConvArgs {
  const T* in; long cin, ps, wp;
  const T* w; long cout, kh, kw;
  const T* bias;
  T* out; long os;
  long nv;
};

// part[(o * cin * kh * kw + q) * lanes + l] += lane l of sum_{s, v} dy[s * dn + o * ds + v * lanes + ..] *
// in[s * xn + c * ps + i * wp + j + v * lanes + ..] over samples s < ns and v < nv, q = (c * kh + i)
// * kw + j: the weight gradient of ns samples (their planes dn and xn elements apart) as per-lane
// partial sums (the caller sums the lanes).
template <class T> struct WideWeightGradArgs {
  const T* dy; long cout, ds;
  const T* in; long cin, ps, wp;
  long kh, kw, nv;
  T* part;
  long ns, dn, xn;
};

// Max pooling of one float32 (n, c) plane x (h, w) with contiguous rows of stride rs: y (oh, ow) and,
// per output, the position y * w + x of its window's first maximum (row order; the first NaN wins;
// -1 and -inf for a window without an element inside the plane), as max_pool2d.cc's scalar loop.
// Window kh x kw, stride sh x sw, padding ph x pw, dilation dh x dw, all >= 1 (padding >= 0).
struct MaxPoolArgs {
  const float* x; long rs, h, w;
  long kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
  float* y; int* arg;
};

struct ConvDirectTable {
  int lanes_f32, lanes_f64;  // vector width in elements
  void (*conv_f32)(const WideConvArgs<float>& a);
  void (*conv_f64)(const WideConvArgs<double>& a);
  void (*wgrad_f32)(const WideWeightGradArgs<float>& a);
  void (*wgrad_f64)(const WideWeightGradArgs<double>& a);
  void (*maxpool_f32)(const MaxPoolArgs& a);
};

const ConvDirectTable* conv_direct_generic();
const ConvDirectTable* conv_direct_avx2();    // nullptr when not compiled in
const ConvDirectTable* conv_direct_avx512();  // nullptr when not compiled in
// The table of the addon's active path (TENSORSLIM_CPU, setCpuPath), like the other kernels.
const ConvDirectTable* conv_direct_loops();

}  // namespace ts
