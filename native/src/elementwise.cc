// Elementwise kernels and their entry points: unary and binary float ops (the active path's
// vectorized inner loops, kernels_impl.h), comparisons of int32/uint8 operands, and the bitwise
// select behind the backend's `where`. Each driver coalesces the axes of its operands, walks runs of
// the innermost axis (strided.h) and splits the flat output range over the thread pool.
#include <cstdint>

#include "alloc.h"
#include "binding.h"
#include "common.h"
#include "strided.h"

namespace ts {
namespace {

void unary(int op, const ViewDesc& x, void* out) {
  advise_output(out, size_t(view_numel(x)) * dt_size(x.dtype));
  const long* st[1] = {x.strides};
  Iter it = make_iter(x.ndim, x.shape, 1, st);
  const KernelTable* t = active();
  const long sx = it.st[0][it.nd - 1];
  if (x.dtype == DT_F32) {
    const float* base = static_cast<const float*>(x.data) + x.offset;
    float* y = static_cast<float*>(out);
    par_runs(it, view_numel(x), [&](const long* off, long pos, long len) { t->unary_f32(op, base + off[0], sx, y + pos, len); });
  } else {
    const double* base = static_cast<const double*>(x.data) + x.offset;
    double* y = static_cast<double*>(out);
    par_runs(it, view_numel(x), [&](const long* off, long pos, long len) { t->unary_f64(op, base + off[0], sx, y + pos, len); });
  }
}

void binary(int op, const ViewDesc& a, const ViewDesc& b, void* out, int outDtype) {
  advise_output(out, size_t(view_numel(a)) * dt_size(outDtype));
  const long* st[2] = {a.strides, b.strides};
  Iter it = make_iter(a.ndim, a.shape, 2, st);
  const KernelTable* t = active();
  const long sa = it.st[0][it.nd - 1], sb = it.st[1][it.nd - 1];
  const bool cmp = outDtype == DT_U8;
  const long n = view_numel(a);
  if (a.dtype == DT_F32) {
    const float* pa = static_cast<const float*>(a.data) + a.offset;
    const float* pb = static_cast<const float*>(b.data) + b.offset;
    if (cmp) par_runs(it, n, [&](const long* off, long pos, long len) { t->compare_f32(op, pa + off[0], sa, pb + off[1], sb, static_cast<uint8_t*>(out) + pos, len); });
    else par_runs(it, n, [&](const long* off, long pos, long len) { t->binary_f32(op, pa + off[0], sa, pb + off[1], sb, static_cast<float*>(out) + pos, len); });
  } else {
    const double* pa = static_cast<const double*>(a.data) + a.offset;
    const double* pb = static_cast<const double*>(b.data) + b.offset;
    if (cmp) par_runs(it, n, [&](const long* off, long pos, long len) { t->compare_f64(op, pa + off[0], sa, pb + off[1], sb, static_cast<uint8_t*>(out) + pos, len); });
    else par_runs(it, n, [&](const long* off, long pos, long len) { t->binary_f64(op, pa + off[0], sa, pb + off[1], sb, static_cast<double*>(out) + pos, len); });
  }
}

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
  par_runs(it, view_numel(c), [&](const long* off, long pos, long len) {
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

// out = cond ? a : b for operands of any one dtype; cond uint8, all of one shape (broadcast by strides).
void select(const ViewDesc& cond, const ViewDesc& a, const ViewDesc& b, void* out) {
  advise_output(out, size_t(view_numel(cond)) * dt_size(a.dtype));
  switch (dt_size(a.dtype)) {
    case 8: select_typed<uint64_t>(cond, a, b, static_cast<uint64_t*>(out)); break;
    case 4: select_typed<uint32_t>(cond, a, b, static_cast<uint32_t*>(out)); break;
    default: select_typed<uint8_t>(cond, a, b, static_cast<uint8_t*>(out)); break;
  }
}

// Comparisons (B_EQ .. B_GE) of int32 or uint8 operands of one dtype -> uint8 0/1.
template <class T>
void compare_typed(int op, const ViewDesc& a, const ViewDesc& b, uint8_t* out) {
  const long* st[2] = {a.strides, b.strides};
  Iter it = make_iter(a.ndim, a.shape, 2, st);
  const T* pa = static_cast<const T*>(a.data) + a.offset;
  const T* pb = static_cast<const T*>(b.data) + b.offset;
  const long sa = it.st[0][it.nd - 1], sb = it.st[1][it.nd - 1];
  par_runs(it, view_numel(a), [&](const long* off, long pos, long len) {
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

}  // namespace

// ---- entry points (declared in binding.h; addon.cc exports them), arguments in the order
// src/backends/native/index.ts passes them

// unary(op, x, meta, out)
void Unary(Call& c) {
  const int op = c.op(0, 0, U_FLOOR);
  c.meta(2);
  const ViewDesc x = c.float_view(1, "x");
  unary(op, x, c.out(3, x.dtype, view_numel(x)));
}

// binary(op, a, b, meta, out): out is a's dtype, or uint8 for comparisons
void Binary(Call& c) {
  const int op = c.op(0, 0, B_LOGICAL_OR);
  c.meta(3);
  const ViewDesc a = c.view(1, "a"), b = c.view(2, "b");
  c.need_float(a);
  c.same_dtype(a, b);
  c.same_shape(a, b);
  const int odt = op >= B_EQ ? DT_U8 : a.dtype;
  binary(op, a, b, c.out(4, odt, view_numel(a)), odt);
}

// select(cond, a, b, meta, out): out = cond ? a : b, a and b of any one dtype, cond uint8, one shape
void Select(Call& c) {
  c.meta(3);
  const ViewDesc cond = c.view(0, "cond"), a = c.view(1, "a"), b = c.view(2, "b");
  if (cond.dtype != DT_U8) c.fail(std::string("cond must be bool (uint8), got ") + dt_name(cond.dtype));
  c.same_dtype(a, b);
  c.same_shape(cond, a);
  c.same_shape(cond, b);
  select(cond, a, b, c.out(4, a.dtype, view_numel(cond)));
}

// compareInt(op, a, b, meta, out): comparison (eq..ge) of int32 or uint8 operands -> uint8
void CompareInt(Call& c) {
  const int op = c.op(0, B_EQ, B_GE);
  c.meta(3);
  const ViewDesc a = c.view(1, "a"), b = c.view(2, "b");
  if (a.dtype != b.dtype || (a.dtype != DT_I32 && a.dtype != DT_U8)) {
    c.fail(std::string("needs two int32 or two uint8 operands, got ") + dt_name(a.dtype) + " and " + dt_name(b.dtype));
  }
  c.same_shape(a, b);
  uint8_t* out = static_cast<uint8_t*>(c.out(4, DT_U8, view_numel(a)));
  if (a.dtype == DT_I32) compare_typed<int32_t>(op, a, b, out);
  else compare_typed<uint8_t>(op, a, b, out);
}

}  // namespace ts
