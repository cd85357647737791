// Kernel `conv2d` (native side): 2-D convolution (cross-correlation) of x (N, C, H, W) with
// w (O, C/G, kh, kw) in G groups and an optional bias (O), forward and backward, one sample at a
// time: the sample's im2col columns (C*kh*kw, OH*OW) go to a scratch buffer that stays in cache,
// then one GEMM per group and sample (gemm_multi, serial inside the pool's job): output channels
// [g*O/G, (g+1)*O/G) read input channels [g*C/G, (g+1)*C/G). No (N, C*kh*kw, OH*OW) column tensor
// is ever allocated, which is what the composed form (unfold2d + matmul) costs per layer. The
// weight and bias gradients are summed per chunk of samples (a fixed number of chunks, so the
// result does not depend on the thread count), then over the chunks.
// Depthwise (one input channel per group, G = C, O = C * multiplier; MobileNets) has its own
// direct loops, no columns: one task per (sample, channel) forward and per channel backward, each
// kernel tap a scaled addition of input rows (a GEMM with K = 9 and M = 1 would be all edge).
// Home: src/ops/conv2d.ts.
#include "conv_direct_isa.h"
#include "conv_geometry.h"
#include "gemm.h"
#include "strided.h"
#include "threadpool.h"

#include <cstring>
#include <vector>

namespace ts {
namespace {

constexpr long kChunks = 16;
constexpr long kDirectWeightGrad = 64;  // below this many weight columns (C*kh*kw), dW by dot products

// Direct (wide-plane) convolution instead of im2col + GEMM for stride 1, dilation 1 and at most
// this many weights (O*C*kh*kw; lenet5's layers have 150 and 2400): there the per-sample GEMMs are
// small, mostly tile edges and packing (docs/NATIVE.md, "Convolution").
constexpr long kDirectMaxWeights = 4096;
constexpr long kDirectMaxPlane = 1L << 18;  // elements of one padded plane (scratch stays small)

// sum of a[0 .. n) with 16 independent partial sums, so the compiler vectorizes it without
// reassociating (a bias gradient's row: a single running sum is one add per 4 cycles, latency-bound)
template <class T>
T sum_run(const T* a, long n) {
  T part[16] = {};
  long t = 0;
  for (; t + 16 <= n; t += 16) for (int u = 0; u < 16; u++) part[u] += a[t + u];
  T s = 0;
  for (; t < n; t++) s += a[t];
  for (int u = 0; u < 16; u++) s += part[u];
  return s;
}

// The wide-plane layout of a direct convolution (conv_direct_isa.h): padded width wp, wide output
// length lw = (OH - 1) * wp + OW, forward vectors nvf, input plane stride ps (every tap's read of
// nvf vectors inside it); for dx: output rows ph .. ph + H - 1 as nvx vectors, and the dy planes
// (front margin m = (kh - 1) * wp + kw - 1, then dy in wide rows, zeros elsewhere) of stride dps.
struct Wide {
  long wp, hp, lw, nvf, ps, nvx, m, dps;
  Wide(const Conv2dGeom& p, long lanes) {
    wp = p.w + 2 * p.pw; hp = p.h + 2 * p.ph;
    lw = (p.oh - 1) * wp + p.ow;
    nvf = (lw + lanes - 1) / lanes;
    ps = (p.kh - 1) * wp + p.kw - 1 + nvf * lanes;
    nvx = (p.h * wp + lanes - 1) / lanes;
    m = (p.kh - 1) * wp + p.kw - 1;
    const long a = m + nvf * lanes, b = p.ph * wp + nvx * lanes + m;
    dps = a > b ? a : b;
  }
};

bool use_direct(const Conv2dGeom& p, long o) {
  return p.sh == 1 && p.sw == 1 && p.dh == 1 && p.dw == 1 && p.oh > 0 && p.ow > 0 && o * p.c * p.kh * p.kw <= kDirectMaxWeights &&
         (p.h + 2 * p.ph) * (p.w + 2 * p.pw) <= kDirectMaxPlane;
}

template <class T> void (*conv_fn(const ConvDirectTable* t))(const WideConvArgs<T>&);
template <> void (*conv_fn<float>(const ConvDirectTable* t))(const WideConvArgs<float>&) { return t->conv_f32; }
template <> void (*conv_fn<double>(const ConvDirectTable* t))(const WideConvArgs<double>&) { return t->conv_f64; }
template <class T> void (*wgrad_fn(const ConvDirectTable* t))(const WideWeightGradArgs<T>&);
template <> void (*wgrad_fn<float>(const ConvDirectTable* t))(const WideWeightGradArgs<float>&) { return t->wgrad_f32; }
template <> void (*wgrad_fn<double>(const ConvDirectTable* t))(const WideWeightGradArgs<double>&) { return t->wgrad_f64; }
template <class T> long lanes_of(const ConvDirectTable* t) { return sizeof(T) == 4 ? t->lanes_f32 : t->lanes_f64; }

// Copies sample n of x into the interior of its padded planes xp (C planes of stride ps; the
// padding was zeroed once and is never written).
template <class T>
void fill_padded(const T* xn, long sc, long sh, long sw, const Conv2dGeom& p, const Wide& g, T* xp) {
  for (long c = 0; c < p.c; c++) for (long y = 0; y < p.h; y++) {
    const T* src = xn + c * sc + y * sh;
    T* dst = xp + c * g.ps + (y + p.ph) * g.wp + p.pw;
    if (sw == 1) std::memcpy(dst, src, sizeof(T) * size_t(p.w));
    else for (long x = 0; x < p.w; x++) dst[x] = src[x * sw];
  }
}

template <class T>
void conv2d_forward_direct(const ViewDesc& x, const T* w, const T* bias, const Conv2dGeom& p, long o, T* out) {
  const ConvDirectTable* tab = conv_direct_loops();
  const Wide g(p, lanes_of<T>(tab));
  const T* xd = static_cast<const T*>(x.data) + x.offset;
  const long sn = x.strides[0], l = p.oh * p.ow, os = g.nvf * lanes_of<T>(tab);
  const auto conv = conv_fn<T>(tab);
  parallel_for(p.n, 1, [&](long b, long e) {
    std::vector<T> xp(size_t(p.c * g.ps)), yw(size_t(o * os));
    WideConvArgs<T> a{xp.data(), p.c, g.ps, g.wp, w, o, p.kh, p.kw, bias, yw.data(), os, g.nvf};
    for (long n = b; n < e; n++) {
      fill_padded<T>(xd + n * sn, x.strides[1], x.strides[2], x.strides[3], p, g, xp.data());
      conv(a);
      T* y = out + n * o * l;
      for (long r = 0; r < o; r++) for (long oy = 0; oy < p.oh; oy++) std::memcpy(y + r * l + oy * p.ow, yw.data() + r * os + oy * g.wp, sizeof(T) * size_t(p.ow));
    }
  });
}

// dx, dw (chunk partial sums dwp, dbp) by the direct loops; same chunking as the GEMM form.
template <class T>
void conv2d_backward_direct(const T* dyd, const ViewDesc& x, const T* w, const Conv2dGeom& p, long o, long chunks, T* dx, T* dwp, T* dbp) {
  const ConvDirectTable* tab = conv_direct_loops();
  const long lanes = lanes_of<T>(tab);
  const Wide g(p, lanes);
  const T* xd = static_cast<const T*>(x.data) + x.offset;
  const long sn = x.strides[0], l = p.oh * p.ow, ckk = p.c * p.kh * p.kw, hw = p.h * p.w, osx = g.nvx * lanes;
  // dx = the convolution of dy (zero-padded by the kernel size) with the flipped, transposed weight
  std::vector<T> wf(dx ? size_t(o * ckk) : 0);
  for (long r = 0; dx && r < o; r++) for (long c = 0; c < p.c; c++) for (long i = 0; i < p.kh; i++) for (long j = 0; j < p.kw; j++)
    wf[size_t(((c * o + r) * p.kh + (p.kh - 1 - i)) * p.kw + (p.kw - 1 - j))] = w[((r * p.c + c) * p.kh + i) * p.kw + j];
  const auto conv = conv_fn<T>(tab);
  const auto wgrad = wgrad_fn<T>(tab);
  run_tasks(chunks, [&](long ch) {
    const long b = p.n * ch / chunks, e = p.n * (ch + 1) / chunks, ns = e - b;
    // the chunk's dy planes (and input planes for dW) side by side: dW runs once over all of them
    const long dn = o * g.dps, xn = p.c * g.ps;
    std::vector<T> dyp(size_t(ns * dn)), xp(dwp ? size_t(ns * xn) : 0), part(dwp ? size_t(o * ckk * lanes) : 0), dxw(dx ? size_t(p.c * osx) : 0);
    WideConvArgs<T> ax{nullptr, o, g.dps, g.wp, wf.data(), p.c, p.kh, p.kw, nullptr, dxw.data(), osx, g.nvx};
    WideWeightGradArgs<T> aw{dyp.data() + g.m, o, g.dps, xp.data(), p.c, g.ps, g.wp, p.kh, p.kw, g.nvf, part.data(), ns, dn, xn};
    for (long n = b; n < e; n++) {
      const T* dy = dyd + n * o * l;
      if (dbp) for (long r = 0; r < o; r++) dbp[ch * o + r] += sum_run(dy + r * l, l);
      if (!dx && !dwp) continue;
      T* dypn = dyp.data() + (n - b) * dn;
      for (long r = 0; r < o; r++) for (long oy = 0; oy < p.oh; oy++) std::memcpy(dypn + r * g.dps + g.m + oy * g.wp, dy + r * l + oy * p.ow, sizeof(T) * size_t(p.ow));
      if (dwp) fill_padded<T>(xd + n * sn, x.strides[1], x.strides[2], x.strides[3], p, g, xp.data() + (n - b) * xn);
      if (dx) {
        ax.in = dypn + p.ph * g.wp;
        conv(ax);
        T* dxn = dx + n * p.c * hw;
        for (long c = 0; c < p.c; c++) for (long y = 0; y < p.h; y++) std::memcpy(dxn + c * hw + y * p.w, dxw.data() + c * osx + y * g.wp + p.pw, sizeof(T) * size_t(p.w));
      }
    }
    if (dwp && ns > 0) wgrad(aw);
    if (dwp) {
      T* dwc = dwp + ch * o * ckk;
      for (long q = 0; q < o * ckk; q++) { T s = 0; for (long u = 0; u < lanes; u++) s += part[size_t(q * lanes + u)]; dwc[q] = s; }
    }
  });
}

// dot(a, b) over n elements with 16 independent partial sums, so the compiler vectorizes it
// without reassociating.
template <class T>
T dot_run(const T* a, const T* b, long n) {
  T part[16] = {};
  long t = 0;
  for (; t + 16 <= n; t += 16) for (int u = 0; u < 16; u++) part[u] += a[t + u] * b[t + u];
  T s = 0;
  for (; t < n; t++) s += a[t] * b[t];
  for (int u = 0; u < 16; u++) s += part[u];
  return s;
}

// acc[o * ckk + q] += dot(dy[o, :], cols[q, :]) over l columns (dot_run: GEMM tiles would be mostly
// edge for so few columns).
template <class T>
void weight_grad_dots(const T* dy, const T* cols, long o, long ckk, long l, T* acc) {
  for (long r = 0; r < o; r++) for (long q = 0; q < ckk; q++) acc[r * ckk + q] += dot_run(dy + r * l, cols + q * l, l);
}  // weight-gradient partial sums (fixed: results independent of threads)

// Depthwise convolution, direct (no columns): for each kernel tap (i, j) and output row, the valid
// run of output columns [lo, hi) (conv_row_range) reads one input row at a fixed offset, so each
// tap is a scaled row addition. Forward: y (OH, OW) += w (kh, kw) * plane xc (row stride sh,
// column stride sw).
template <class T>
void dw_forward_plane(const T* xc, long sh, long sw, const Conv2dGeom& p, const T* w, T* y) {
  for_each_tap_row(p, [&](long i, long j, long x0, long lo, long hi, long oy, long yy) {
    if (yy < 0 || yy >= p.h) return;
    const T wk = w[i * p.kw + j];
    const T* row = xc + yy * sh;
    T* yr = y + oy * p.ow;
    if (p.sw == 1 && sw == 1) {
      for (long ox = lo; ox < hi; ox++) yr[ox] += wk * row[x0 + ox];
    } else {
      for (long ox = lo; ox < hi; ox++) yr[ox] += wk * row[(x0 + ox * p.sw) * sw];
    }
  });
}

// Backward of dw_forward_plane for one (input channel, output channel) pair: dw (kh, kw) += the
// taps' dot products of dy (OH, OW) with the input rows they read; dx (H, W, contiguous) += w * dy
// scattered back along the same runs (when dx is non-null).
template <class T>
void dw_backward_plane(const T* xc, long sh, long sw, const Conv2dGeom& p, const T* w, const T* dy, T* dw, T* dx) {
  for (long i = 0; i < p.kh; i++) for (long j = 0; j < p.kw; j++) {
    const T wk = w[i * p.kw + j];
    const long x0 = j * p.dw - p.pw;
    long lo, hi;
    conv_row_range(x0, p, &lo, &hi);
    T acc = 0;
    for (long oy = 0; oy < p.oh; oy++) {
      const long yy = oy * p.sh - p.ph + i * p.dh;
      if (yy < 0 || yy >= p.h) continue;
      const T* dyr = dy + oy * p.ow;
      if (dw) {
        const T* row = xc + yy * sh;
        T part = 0;
        if (p.sw == 1 && sw == 1) {
          part = dot_run<T>(dyr + lo, row + x0 + lo, hi - lo);
        } else {
          for (long ox = lo; ox < hi; ox++) part += dyr[ox] * row[(x0 + ox * p.sw) * sw];
        }
        acc += part;
      }
      if (dx) {
        T* dxr = dx + yy * p.w;
        if (p.sw == 1) {
          for (long ox = lo; ox < hi; ox++) dxr[x0 + ox] += wk * dyr[ox];
        } else {
          for (long ox = lo; ox < hi; ox++) dxr[x0 + ox * p.sw] += wk * dyr[ox];
        }
      }
    }
    if (dw) dw[i * p.kw + j] += acc;
  }
}

// Depthwise forward: y[n, r] = bias[r] + w[r] * x[n, c] for the `mult` output channels
// r = c * mult + m of input channel c; one task per (sample, channel).
template <class T>
void depthwise_forward_t(const ViewDesc& x, const T* w, const T* bias, const Conv2dGeom& p, long mult, T* out) {
  const T* xd = static_cast<const T*>(x.data) + x.offset;
  const long sn = x.strides[0], sc = x.strides[1], sh = x.strides[2], sw = x.strides[3];
  const long kk = p.kh * p.kw, l = p.oh * p.ow;
  parallel_for(p.n * p.c, 1, [&](long b, long e) {
    for (long t = b; t < e; t++) {
      const long n = t / p.c, c = t % p.c;
      for (long m = 0; m < mult; m++) {
        const long r = c * mult + m;
        T* y = out + (n * p.c * mult + r) * l;
        std::fill(y, y + l, bias ? bias[r] : T(0));
        dw_forward_plane<T>(xd + n * sn + c * sc, sh, sw, p, w + r * kk, y);
      }
    }
  });
}

template <class T>
void conv2d_forward_t(const ViewDesc& x, const T* w, const T* bias, const Conv2dGeom& p, long o, long groups, T* out) {
  if (groups == p.c && groups > 1) return depthwise_forward_t<T>(x, w, bias, p, o / p.c, out);
  if (groups == 1 && use_direct(p, o)) { conv2d_forward_direct<T>(x, w, bias, p, o, out); return; }
  const T* xd = static_cast<const T*>(x.data) + x.offset;
  const long sn = x.strides[0], sc = x.strides[1], sh = x.strides[2], sw = x.strides[3];
  const long ckk = p.c * p.kh * p.kw, l = p.oh * p.ow, plane = p.kh * p.kw * l;
  const long og = o / groups, gk = ckk / groups;  // per group: output channels, weight columns
  parallel_for(p.n, 1, [&](long b, long e) {
    std::vector<T> cols(size_t(ckk * l));
    std::vector<GemmOp> ops(static_cast<size_t>(groups));
    for (long n = b; n < e; n++) {
      for (long c = 0; c < p.c; c++) unfold_plane<T>(xd + n * sn + c * sc, sh, sw, p, T(0), cols.data() + c * plane);
      T* y = out + n * o * l;
      if (bias) for (long r = 0; r < o; r++) std::fill(y + r * l, y + (r + 1) * l, bias[r]);
      for (long g = 0; g < groups; g++) {
        GemmOp& op = ops[size_t(g)];
        op.m = og; op.n = l; op.k = gk;
        op.a = w + g * og * gk; op.sam = gk; op.sak = 1;
        op.b = cols.data() + g * gk * l; op.sbk = l; op.sbn = 1;
        op.c = y + g * og * l; op.ldc = l;
        op.overwrite = bias == nullptr;
      }
      gemm_multi(sizeof(T) == 8, ops.data(), int(groups));
    }
  });
}

// Depthwise backward, one task per input channel c (its dw rows and db entries are its own, summed
// over the samples in order, so the result does not depend on the thread count):
// dw_backward_plane for each of its `mult` output channels and each sample, db[r] += sum dy[n, r].
template <class T>
void depthwise_backward_t(const T* dyd, const ViewDesc& x, const T* w, const Conv2dGeom& p, long mult, T* dx, T* dw, T* db) {
  const T* xd = static_cast<const T*>(x.data) + x.offset;
  const long sn = x.strides[0], sc = x.strides[1], sh = x.strides[2], sw = x.strides[3];
  const long kk = p.kh * p.kw, l = p.oh * p.ow, hw = p.h * p.w, o = p.c * mult;
  run_tasks(p.c, [&](long c) {
    if (dw) std::fill(dw + c * mult * kk, dw + (c + 1) * mult * kk, T(0));
    if (db) std::fill(db + c * mult, db + (c + 1) * mult, T(0));
    for (long n = 0; n < p.n; n++) {
      for (long m = 0; m < mult; m++) {
        const long r = c * mult + m;
        const T* dyr = dyd + (n * o + r) * l;
        if (db) db[r] += sum_run(dyr, l);
        if (dw || dx) dw_backward_plane<T>(xd + n * sn + c * sc, sh, sw, p, w + r * kk, dyr, dw ? dw + r * kk : nullptr, dx ? dx + (n * p.c + c) * hw : nullptr);
      }
    }
  });
}

// dx (N, C, H, W), dw (O, C/G*kh*kw), db (O), each when non-null, every element written (dx by the
// direct loops, else zeroed here first: the GEMM form and depthwise accumulate into it).
template <class T>
void conv2d_backward_t(const ViewDesc& dyv, const ViewDesc& x, const T* w, const Conv2dGeom& p, long o, long groups, T* dx, T* dw, T* db) {
  const T* dyd = static_cast<const T*>(dyv.data) + dyv.offset;  // contiguous (N, O, OH, OW): checked by the entry point
  const bool direct = groups == 1 && use_direct(p, o);
  if (dx && !direct) {
    const long per = p.c * p.h * p.w;
    parallel_for(p.n, 1, [&](long b, long e) { std::memset(dx + b * per, 0, sizeof(T) * size_t((e - b) * per)); });
  }
  if (groups == p.c && groups > 1) return depthwise_backward_t<T>(dyd, x, w, p, o / p.c, dx, dw, db);
  const T* xd = static_cast<const T*>(x.data) + x.offset;
  const long sn = x.strides[0], sc = x.strides[1], sh = x.strides[2], sw = x.strides[3];
  const long ckk = p.c * p.kh * p.kw, l = p.oh * p.ow, plane = p.kh * p.kw * l, hw = p.h * p.w;
  const long og = o / groups, gk = ckk / groups;  // per group: output channels, weight columns
  const long chunks = p.n < kChunks ? p.n : kChunks;
  std::vector<T> dwp(dw ? size_t(chunks * o * gk) : 0), dbp(db ? size_t(chunks * o) : 0);
  if (direct) {
    conv2d_backward_direct<T>(dyd, x, w, p, o, chunks, dx, dw ? dwp.data() : nullptr, db ? dbp.data() : nullptr);
  } else {  // per-sample im2col + GEMM per group
    // each group's W_g^T (gk, og) once, so dx's per-sample product reads a row-major A (GEMM packing
    // of a transposed operand costs more than these small products)
    std::vector<T> wt(dx ? size_t(gk * o) : 0);
    for (long g = 0; dx && g < groups; g++) {
      for (long r = 0; r < og; r++) for (long q = 0; q < gk; q++) wt[size_t(g * gk * og + q * og + r)] = w[(g * og + r) * gk + q];
    }
    run_tasks(chunks, [&](long ch) {
      const long b = p.n * ch / chunks, e = p.n * (ch + 1) / chunks;
      std::vector<T> cols(size_t(ckk * l)), colst(dw ? size_t(ckk * l) : 0);
      T* dwc = dw ? dwp.data() + ch * o * gk : nullptr;
      T* dbc = db ? dbp.data() + ch * o : nullptr;
      for (long n = b; n < e; n++) {
        const T* dy = dyd + n * o * l;
        if (dbc) for (long r = 0; r < o; r++) dbc[r] += sum_run(dy + r * l, l);
        if (dwc) {
          // dW_g += dy_{n,g} (og, L) @ cols_{n,g}^T (L, gk): dot products for few columns, else a GEMM
          // with cols_{n,g}^T transposed in cache first (row-major B)
          for (long c = 0; c < p.c; c++) unfold_plane<T>(xd + n * sn + c * sc, sh, sw, p, T(0), cols.data() + c * plane);
          for (long g = 0; g < groups; g++) {
            const T* cg = cols.data() + g * gk * l;
            if (gk < kDirectWeightGrad) {
              weight_grad_dots<T>(dy + g * og * l, cg, og, gk, l, dwc + g * og * gk);
              continue;
            }
            T* ct = colst.data() + g * gk * l;
            for (long q = 0; q < gk; q++) { const T* src = cg + q * l; for (long t = 0; t < l; t++) ct[size_t(t * gk + q)] = src[t]; }
            GemmOp op;
            op.m = og; op.n = gk; op.k = l;
            op.a = dy + g * og * l; op.sam = l; op.sak = 1;
            op.b = ct; op.sbk = gk; op.sbn = 1;
            op.c = dwc + g * og * gk; op.ldc = gk;
            op.overwrite = false;  // the chunk's partial sum starts at zero
            gemm_multi(sizeof(T) == 8, &op, 1);
          }
        }
        if (dx) {
          // dcols_{n,g} (gk, L) = W_g^T (gk, og) @ dy_{n,g} (og, L), then col2im into dx_n
          std::vector<GemmOp> ops(static_cast<size_t>(groups));
          for (long g = 0; g < groups; g++) {
            GemmOp& op = ops[size_t(g)];
            op.m = gk; op.n = l; op.k = og;
            op.a = wt.data() + g * gk * og; op.sam = og; op.sak = 1;
            op.b = dy + g * og * l; op.sbk = l; op.sbn = 1;
            op.c = cols.data() + g * gk * l; op.ldc = l;
            op.overwrite = true;
          }
          gemm_multi(sizeof(T) == 8, ops.data(), int(groups));
          for (long c = 0; c < p.c; c++) fold_plane<T>(cols.data() + c * plane, p.kw * l, l, p.ow, 1, p, dx + (n * p.c + c) * hw);
        }
      }
    });
  }
  if (dw) {
    std::memcpy(dw, dwp.data(), sizeof(T) * size_t(o * gk));
    for (long ch = 1; ch < chunks; ch++) for (long i = 0; i < o * gk; i++) dw[i] += dwp[size_t(ch * o * gk + i)];
  }
  if (db) {
    std::memcpy(db, dbp.data(), sizeof(T) * size_t(o));
    for (long ch = 1; ch < chunks; ch++) for (long r = 0; r < o; r++) db[r] += dbp[size_t(ch * o + r)];
  }
}

// The group count (the meta value after the geometry): >= 1 and dividing C.
long read_groups(Call& c, const Conv2dGeom& p) {
  const long groups = c.next_long("groups");
  if (groups < 1 || p.c % groups != 0) c.fail("groups must be >= 1 and divide the input channels");
  return groups;
}

// The weight (O, C/G, kh, kw) and bias (O) as contiguous arrays of x's dtype matching the geometry.
long check_weight(Call& c, const Conv2dGeom& p, long groups, const ViewDesc& w, int dtype) {
  if (w.dtype != dtype) c.fail("weight must have the input's dtype");
  if (w.ndim != 4 || w.shape[1] != p.c / groups || w.shape[2] != p.kh || w.shape[3] != p.kw) c.fail("weight shape does not match the geometry (O, C/groups, kh, kw)");
  if (w.shape[0] % groups != 0) c.fail("groups must divide the output channels");
  long st = 1;
  for (int d = 3; d >= 0; d--) { if (w.shape[d] > 1 && w.strides[d] != st) c.fail("weight must be contiguous"); st *= w.shape[d]; }
  return w.shape[0];
}

}  // namespace

// ---- entry points (declared in binding.h; addon.cc exports them)

// conv2dForward(x, w, bias|null, meta, out): meta = views of x (N, C, H, W) and w (O, C/G, kh, kw,
// contiguous), then the 14 geometry values and G; bias contiguous (O) of x's dtype or null; out (N, O, OH, OW)
void Conv2dForward(Call& c) {
  c.meta(3);
  const ViewDesc x = c.float_view(0, "x");
  const ViewDesc w = c.float_view(1, "weight");
  const Conv2dGeom p = read_conv2d_geometry(c);
  const long groups = read_groups(c, p);
  if (x.ndim != 4 || x.shape[0] != p.n || x.shape[1] != p.c || x.shape[2] != p.h || x.shape[3] != p.w) c.fail("input shape does not match the geometry");
  const long o = check_weight(c, p, groups, w, x.dtype);
  const void* bias = nullptr;
  if (c.has(2)) {
    void* bd = nullptr; size_t blen = 0;
    if (c.array(2, &bd, &blen, "bias") != x.dtype || static_cast<long>(blen) != o) c.fail("bias must be a contiguous (O) array of the input's dtype");
    bias = bd;
  }
  void* out = c.out(4, x.dtype, p.n * o * p.oh * p.ow);
  if (x.dtype == DT_F32) {
    conv2d_forward_t<float>(x, static_cast<const float*>(w.data) + w.offset, static_cast<const float*>(bias), p, o, groups, static_cast<float*>(out));
  } else {
    conv2d_forward_t<double>(x, static_cast<const double*>(w.data) + w.offset, static_cast<const double*>(bias), p, o, groups, static_cast<double*>(out));
  }
}

// conv2dBackward(dy, x, w, meta, dx|null, dw|null, db|null): meta = views of dy (N, O, OH, OW,
// contiguous), x (N, C, H, W) and w (O, C/G, kh, kw, contiguous), then the geometry and G; dx,
// dw and db: every element written
void Conv2dBackward(Call& c) {
  c.meta(3);
  const ViewDesc dy = c.float_view(0, "dy");
  const ViewDesc x = c.float_view(1, "x");
  const ViewDesc w = c.float_view(2, "weight");
  const Conv2dGeom p = read_conv2d_geometry(c);
  const long groups = read_groups(c, p);
  if (x.ndim != 4 || x.shape[0] != p.n || x.shape[1] != p.c || x.shape[2] != p.h || x.shape[3] != p.w) c.fail("input shape does not match the geometry");
  const long o = check_weight(c, p, groups, w, x.dtype);
  c.same_dtype(dy, x);
  if (dy.ndim != 4 || dy.shape[0] != p.n || dy.shape[1] != o || dy.shape[2] != p.oh || dy.shape[3] != p.ow) c.fail("dy shape must be (N, O, OH, OW)");
  long st = 1;
  for (int d = 3; d >= 0; d--) { if (dy.shape[d] > 1 && dy.strides[d] != st) c.fail("dy must be contiguous"); st *= dy.shape[d]; }
  void* dx = c.out_opt(4, x.dtype, p.n * p.c * p.h * p.w, "dx");
  void* dw = c.out_opt(5, x.dtype, o * (p.c / groups) * p.kh * p.kw, "dw");
  void* db = c.out_opt(6, x.dtype, o, "db");
  if (x.dtype == DT_F32) {
    conv2d_backward_t<float>(dy, x, static_cast<const float*>(w.data) + w.offset, p, o, groups, static_cast<float*>(dx), static_cast<float*>(dw), static_cast<float*>(db));
  } else {
    conv2d_backward_t<double>(dy, x, static_cast<const double*>(w.data) + w.offset, p, o, groups, static_cast<double*>(dx), static_cast<double*>(dw), static_cast<double*>(db));
  }
}

}  // namespace ts
