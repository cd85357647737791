// A strided view as the kernels see it (checked by the binding layer, binding.h, before any kernel
// runs): typed-array data, dtype code, shape, strides and offset in elements. Also the strided copy
// that other kernels use to make a dense copy of a view (copy.cc).
#pragma once
#include <cstddef>
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

// Bytes per element of a dtype code.
inline size_t dt_size(int dt) { return dt == DT_F64 ? 8 : dt == DT_U8 ? 1 : 4; }

// out (contiguous, row-major) = x, same dtype or float32 <-> float64 (copy.cc).
void copy(const ViewDesc& x, void* out, int outDtype);

}  // namespace ts
