// Dense access to a strided view for kernels whose loops want contiguous data (layer_norm.cc,
// gelu.cc): the view itself when it is already row-major, else a copy into a caller-owned buffer.
#pragma once
#include <vector>

#include "view.h"

namespace ts {

inline bool is_contiguous(const ViewDesc& v) {
  long expect = 1;
  for (int d = v.ndim - 1; d >= 0; d--) {
    if (v.shape[d] == 0) return true;
    if (v.shape[d] != 1 && v.strides[d] != expect) return false;
    expect *= v.shape[d];
  }
  return true;
}

// A pointer to the first element of v laid out row-major (copied into `buf` when v is not).
template <class T> const T* dense(const ViewDesc& v, std::vector<T>& buf) {
  if (is_contiguous(v)) return static_cast<const T*>(v.data) + v.offset;
  long n = 1;
  for (int d = 0; d < v.ndim; d++) n *= v.shape[d];
  buf.resize(size_t(n));
  copy(v, buf.data(), v.dtype);
  return buf.data();
}

// Rows of a 2-D view with adjacent elements: base pointer and row stride (a copy when the last
// dimension is strided).
template <class T> const T* rows_of(const ViewDesc& v, std::vector<T>& buf, long* rs) {
  if (v.shape[1] <= 1 || v.strides[1] == 1) {
    *rs = v.strides[0];
    return static_cast<const T*>(v.data) + v.offset;
  }
  *rs = v.shape[1];
  return dense(v, buf);
}

}  // namespace ts
