// Fused linear: y = x W^T + bias (then ReLU when asked) with the bias and the ReLU applied inside
// the GEMM's tiles (gemm.h GemmOp), and its backward (dx, dw, db in one pool job per GEMM phase), and
// their entry points linear and linearBackward; and linearChain, a whole chain of Linear(+ReLU) layers
// in one call (the inference plan, src/nn/inference.ts). TypeScript binding: src/backends/native/linear.ts.
#include <cstring>
#include <functional>
#include <type_traits>
#include <vector>

#include "binding.h"
#include "common.h"
#include "gemm.h"
#include "strided.h"

namespace ts {
namespace {

// Rows of x up to which the float32 forward reads W in place (KernelTable::sgemv_f32) instead of
// packing it: generation runs one token (or a few sequences) per call, and packing W then costs
// more memory traffic than the product.
constexpr long kGemvMaxRows = 4;

// linear_forward for x (M <= kGemvMaxRows, K) and w (N, K) with contiguous rows, float32: blocks of
// W's rows over the pool, each block's bias and ReLU applied right after its dot products. The
// blocks are home tasks (threadpool.h parallel_for_home): at every call the same thread computes the
// same rows, so a weight matrix that fits the cores' L2 caches together (the mlp preset's 784 x 300,
// 0.94 MB, half per core) is read from L2, not L3, in a repeated batch-1 forward.
void linear_forward_gemv(const ViewDesc& x, const ViewDesc& w, const ViewDesc* bias, bool relu, float* y) {
  const long M = x.shape[0], N = w.shape[0], K = x.shape[1];
  const float* px = static_cast<const float*>(x.data) + x.offset;
  const float* pw = static_cast<const float*>(w.data) + w.offset;
  const float* pb = bias ? static_cast<const float*>(bias->data) + bias->offset : nullptr;
  const long sb = bias ? bias->strides[0] : 0, sx = x.strides[0], sw = w.strides[0];
  const KernelTable* t = active();
  // Split over the pool from 128 K multiply-adds (below, one thread is faster than a job), in chunks
  // of at least about 16 K (up to 4 per thread: a thread that starts late loses only some of its
  // rows to the others), whole groups of 4 rows.
  long grain = N * K * M < 2 * 65536 ? N : (16384 / (K * M) + 3) & ~3L;
  if (grain < 4) grain = 4;
  parallel_for_home(N, grain, [&](long j0, long j1) {
    t->sgemv_f32(M, j1 - j0, K, px, sx, pw + j0 * sw, sw, y + j0, N);
    if (pb == nullptr && !relu) return;
    for (long i = 0; i < M; i++) {
      float* yi = y + i * N;
      for (long j = j0; j < j1; j++) {
        float v = pb ? yi[j] + pb[j * sb] : yi[j];
        if (relu && v <= 0.f) v = 0.f;  // NaN stays NaN, as in the GEMM's epilogue
        yi[j] = v;
      }
    }
  });
}

// y (M, N) = x (M, K) W^T + bias (then max(y, 0) when relu): x (M, K), w (N, K), bias (N,) or null,
// any strides, one float dtype; out contiguous (M x N), every element written (it may be uninitialized).
void linear_forward(const ViewDesc& x, const ViewDesc& w, const ViewDesc* bias, bool relu, void* out) {
  const size_t es = x.dtype == DT_F32 ? 4 : 8;
  if (x.dtype == DT_F32 && x.shape[0] >= 1 && x.shape[0] <= kGemvMaxRows && x.shape[1] >= 1 && x.strides[1] == 1 && w.strides[1] == 1) {
    linear_forward_gemv(x, w, bias, relu, static_cast<float*>(out));
    return;
  }
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

inline void acc_run(const KernelTable* t, double* acc, const float* x, long sx, long n) { t->reduce_acc_f32(R_SUM, acc, x, sx, n); }
inline void acc_run(const KernelTable* t, double* acc, const double* x, long sx, long n) { t->reduce_acc_f64(R_SUM, acc, x, sx, n); }

// Backward of y = act(x W^T + b) in one gemm_multi call: the tiles of dw = g^T x and dx = g W are
// computed together (one pool job), and the bias gradient's column sums of g run as side tasks of
// that job. g is dy itself when there is no ReLU mask and dy
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
          if (d1 == 1 && y1 == 1) for (long j = 0; j < N; j++) gi[j] = yi[j] <= T(0) ? T(0) : di[j];
          else for (long j = 0; j < N; j++) gi[j] = yi[j * y1] <= T(0) ? T(0) : di[j * d1];
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

// Backward of y = act(x W^T + b): g = dy (times 0 where y <= 0 when y is given, ReLU: a NaN y passes
// dy, as PyTorch's threshold_backward), then
// dx = g W (M x K), dw = g^T x (N x K), db = column sums of g (N), each only when its pointer is
// non-null, every element written (they may be uninitialized); g is scratch of M x N elements (null: a
// thread-local one; unused when there is no ReLU and dy is row- or column-major). dy, y: (M, N);
// x: (M, K); w: (N, K); any strides.
void linear_backward(const ViewDesc& dy, const ViewDesc* y, const ViewDesc& x, const ViewDesc& w,
                     void* g, void* dx, void* dw, void* db) {
  if (dy.dtype == DT_F32) linear_backward_t<float>(dy, y, x, w, static_cast<float*>(g), static_cast<float*>(dx), static_cast<float*>(dw), static_cast<float*>(db));
  else linear_backward_t<double>(dy, y, x, w, static_cast<double*>(g), static_cast<double*>(dx), static_cast<double*>(dw), static_cast<double*>(db));
}

}  // namespace

// ---- entry points (declared in binding.h; addon.cc exports them)

// linear(x, w, bias | null, meta, relu, out): out (M, N) = x (M, K) @ w^T + bias, then relu if asked
// (every element of out written: it may be uninitialized).
// meta = view x (2-D), view w (2-D, (N, K)), view bias (1-D (N,)) when present.
void Linear(Call& c) {
  c.meta(3);
  const ViewDesc x = c.view(0, "x"), w = c.view(1, "weight");
  if (x.ndim != 2 || w.ndim != 2) c.fail("x and weight must be 2-D");
  if (x.shape[1] != w.shape[1]) c.fail("x has " + std::to_string(x.shape[1]) + " features but weight expects " + std::to_string(w.shape[1]));
  const bool hasBias = c.has(2);
  ViewDesc bias{};
  if (hasBias) {
    bias = c.view(2, "bias");
    if (bias.ndim != 1 || bias.shape[0] != w.shape[0] || bias.dtype != x.dtype) c.fail("bias must have shape (outFeatures,) and x's dtype");
  }
  const bool relu = c.flag(4);
  c.same_dtype(x, w);
  c.need_float(x);
  void* out = c.out(5, x.dtype, x.shape[0] * w.shape[0]);
  linear_forward(x, w, hasBias ? &bias : nullptr, relu, out);  // bias and ReLU inside the GEMM's tiles
}

// linearBackward(dy, y | null, x, w, meta, g, dx | null, dw | null, db | null)
// meta = views dy (M, N), y (M, N) when given, x (M, K), w (N, K). g: scratch (M*N) or null for
// native scratch; dx, dw, db: every element written (they may be uninitialized).
void LinearBackward(Call& c) {
  c.meta(4);
  const bool hasY = c.has(1);
  const ViewDesc dy = c.view(0, "dy");
  const ViewDesc y = hasY ? c.view(1, "y") : ViewDesc{};
  const ViewDesc x = c.view(2, "x"), w = c.view(3, "weight");
  c.need_float(dy);
  if (x.dtype != dy.dtype || w.dtype != dy.dtype || (hasY && y.dtype != dy.dtype)) c.fail("dy, y, x and weight must share one dtype");
  if (dy.ndim != 2 || x.ndim != 2 || w.ndim != 2) c.fail("dy, x and weight must be 2-D");
  const long M = dy.shape[0], N = dy.shape[1], K = x.shape[1];
  if (x.shape[0] != M || w.shape[0] != N || w.shape[1] != K) c.fail("shapes do not line up: dy (M, N), x (M, K), weight (N, K)");
  if (hasY) c.same_shape(dy, y);
  void* g = c.out_opt(5, dy.dtype, M * N);
  void* dx = c.out_opt(6, dy.dtype, M * K);
  void* dw = c.out_opt(7, dy.dtype, N * K);
  void* db = c.out_opt(8, dy.dtype, N);
  linear_backward(dy, hasY ? &y : nullptr, x, w, g, dx, dw, db);
}

// linearChain(meta, out, x, w0, b0 | null, w1, b1 | null, ...): a batch-1 (or any batch) forward of
// L >= 1 linear layers in one call, for inference: y_0 = x, y_{i+1} = linear(y_i, w_i, b_i, relu_i),
// out = y_L (M, N_{L-1}), every element written. Each layer is the same linear_forward call as the
// `linear` entry point on a contiguous input, so the values are those of L separate calls; the
// intermediates live in two thread-local buffers reused across calls (no JavaScript allocation, one
// N-API crossing instead of L). meta = [L, relu_0 .. relu_{L-1}], then the views x (M, K), w_0 (N_0, K),
// b_0 (N_0,) when present, w_1 (N_1, N_0), b_1, ...; one float dtype throughout.
void LinearChain(Call& c) {
  c.meta(0);
  const long L = c.next_long("layer count");
  if (L < 1 || L > 4096) c.fail("the layer count must be in [1, 4096], got " + std::to_string(L));
  std::vector<char> relu(static_cast<size_t>(L));
  for (long i = 0; i < L; i++) relu[i] = c.next() != 0.0;
  const ViewDesc x = c.view(2, "x");
  c.need_float(x);
  if (x.ndim != 2) c.fail("x must be 2-D (rows, features), got " + shape_str(x));
  std::vector<ViewDesc> w(static_cast<size_t>(L)), b(static_cast<size_t>(L));
  std::vector<char> hasBias(static_cast<size_t>(L));
  long width = x.shape[1], widest = 0;
  for (long i = 0; i < L; i++) {
    const std::string at = "layer " + std::to_string(i) + ": ";
    w[i] = c.view(3 + 2 * i, "weight");
    if (w[i].ndim != 2 || w[i].dtype != x.dtype) c.fail(at + "weight must be 2-D (outFeatures, inFeatures) of x's dtype, got " + shape_str(w[i]) + " " + dt_name(w[i].dtype));
    if (w[i].shape[1] != width) c.fail(at + "weight " + shape_str(w[i]) + " expects " + std::to_string(w[i].shape[1]) + " features but its input has " + std::to_string(width));
    hasBias[i] = c.has(4 + 2 * i);
    if (hasBias[i]) {
      b[i] = c.view(4 + 2 * i, "bias");
      if (b[i].ndim != 1 || b[i].shape[0] != w[i].shape[0] || b[i].dtype != x.dtype) c.fail(at + "bias must have shape (" + std::to_string(w[i].shape[0]) + ",) and x's dtype");
    }
    width = w[i].shape[0];
    if (i + 1 < L && width > widest) widest = width;
  }
  const long M = x.shape[0];
  void* out = c.out(1, x.dtype, M * width);
  if (M == 0) return;
  const size_t es = dt_size(x.dtype);
  static thread_local std::vector<char> scratch[2];  // ping-pong intermediates, reused across calls
  for (auto& s : scratch) if (s.size() < size_t(M * widest) * es) s.resize(size_t(M * widest) * es);
  ViewDesc in = x;
  for (long i = 0; i < L; i++) {
    void* y = i + 1 == L ? out : scratch[i & 1].data();
    linear_forward(in, w[i], hasBias[i] ? &b[i] : nullptr, relu[i] != 0, y);
    in = ViewDesc{};
    in.data = y; in.dtype = x.dtype; in.ndim = 2; in.offset = 0;
    in.shape[0] = M; in.shape[1] = w[i].shape[0]; in.strides[0] = w[i].shape[0]; in.strides[1] = 1;
  }
}

}  // namespace ts
