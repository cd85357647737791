// Drivers of the strided elementwise, reduction, copy and im2col kernels: they walk N-d views
// (coalescing axes first), split the work over the thread pool and call the active path's inner
// loops. Views are validated by the binding layer before they get here.
#pragma once
#include <cstdint>

namespace ts {

constexpr int kMaxDims = 16;

enum DT : int { DT_F32 = 0, DT_F64 = 1, DT_I32 = 2, DT_U8 = 3 };

struct ViewDesc {
  void* data;
  int dtype;
  int ndim;
  long shape[kMaxDims];
  long strides[kMaxDims];
  long offset;
};

void unary(int op, const ViewDesc& x, void* out, int outDtype);
void binary(int op, const ViewDesc& a, const ViewDesc& b, void* out, int outDtype);
void reduce(int op, const ViewDesc& x, const bool* reduced, void* out);
void copy(const ViewDesc& x, void* out, int outDtype);
// out = cond ? a : b; cond uint8, a and b one float dtype, all of one shape (broadcast by strides).
void assign(const ViewDesc& dst, const ViewDesc& src);

struct Conv2dGeom { long n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow; };
void unfold2d(const ViewDesc& x, const Conv2dGeom& p, double padValue, void* out);
void fold2d(const ViewDesc& cols, const Conv2dGeom& p, void* out);

// Fused: rows of logits (n x c, any strides) and int32 targets -> per-row loss (-log softmax[t])
// into loss[n], and optionally grad = softmax - onehot(t), scaled by `scale`, into grad (n x c).
void softmax_xent(const ViewDesc& logits, const int32_t* target, long ts, double* loss, void* grad, double scale);
// Fused Adam/AdamW over contiguous arrays (see kernels_impl.h adam_loop for hp).
void adam(int dtype, void* p, const void* g, void* m, void* v, void* vmax, long n, const double* hp);

// out = cond ? a : b as a bitwise select, for operands of any one dtype (float32/64, int32, uint8);
// cond uint8, all of one shape (broadcast by strides).
void select(const ViewDesc& cond, const ViewDesc& a, const ViewDesc& b, void* out);
// Comparisons (B_EQ .. B_GE) of int32 or uint8 operands of one dtype -> uint8 0/1.
void compare_int(int op, const ViewDesc& a, const ViewDesc& b, uint8_t* out);
// Casts: uint8 -> float32/float64/int32, int32 -> float32/float64, and float32 <-> float64 or
// same dtype (the same conversions as JavaScript typed-array stores for these pairs).
void convert(const ViewDesc& x, void* out, int outDtype);
// y (M, N) = x (M, K) W^T + bias (then max(y, 0) when relu): x (M, K), w (N, K), bias (N,) or null,
// any strides, one float dtype; out contiguous (M x N), every element written (it may be uninitialized).
// The bias and the ReLU are applied inside the GEMM's tiles (gemm.h GemmOp).
void linear_forward(const ViewDesc& x, const ViewDesc& w, const ViewDesc* bias, bool relu, void* out);
// Backward of y = act(x W^T + b): g = dy (times 1[y > 0] when y is given, ReLU), then
// dx = g W (M x K), dw = g^T x (N x K), db = column sums of g (N), each only when its pointer is
// non-null, every element written (they may be uninitialized); g is scratch of M x N elements (null: a thread-local one;
// unused when there is no ReLU and dy is row- or column-major). dy, y: (M, N); x: (M, K); w: (N, K);
// any strides.
void linear_backward(const ViewDesc& dy, const ViewDesc* y, const ViewDesc& x, const ViewDesc& w,
                     void* g, void* dx, void* dw, void* db);

}  // namespace ts
