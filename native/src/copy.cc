// Copies and casts of strided views into contiguous outputs (copy: same dtype or float32 <-> float64;
// convert: the exact widening casts), assignment between strided views of one dtype, and their entry
// points. A transposed last pair of axes is copied in 32 x 32 tiles.
#include <cstring>
#include <type_traits>

#include "alloc.h"
#include "binding.h"
#include "strided.h"

namespace ts {
namespace {

template <class S, class D>
void convert_run(const S* s, long ss, D* d, long n) {
  if (ss == 1) for (long i = 0; i < n; i++) d[i] = D(s[i]);
  else for (long i = 0; i < n; i++) d[i] = D(s[i * ss]);
}

template <class S, class D>
void copy_typed(const ViewDesc& x, D* out) {
  const long* st[1] = {x.strides};
  Iter it = make_iter(x.ndim, x.shape, 1, st);
  const S* base = static_cast<const S*>(x.data) + x.offset;
  // A transposed last pair of axes (inner stride != 1, the one before it unit-stride): copy in
  // 32 x 32 tiles so both reads and writes stay in cache.
  if (it.nd >= 2 && it.st[0][it.nd - 2] == 1 && it.st[0][it.nd - 1] != 1) {
    const long R = it.shape[it.nd - 2], C = it.shape[it.nd - 1], sc = it.st[0][it.nd - 1];
    long outer = 1;
    for (int d = 0; d < it.nd - 2; d++) outer *= it.shape[d];
    const long nt = ((R + 31) / 32) * outer;
    parallel_for(nt, (kGrain + 1023) / 1024, [&](long b, long e) {
      for (long t = b; t < e; t++) {
        const long o = t / ((R + 31) / 32), r0 = (t % ((R + 31) / 32)) * 32;
        long off = 0, rem = o;
        for (int d = it.nd - 3; d >= 0; d--) { off += (rem % it.shape[d]) * it.st[0][d]; rem /= it.shape[d]; }
        const S* src = base + off;
        D* dst = out + o * R * C;
        const long r1 = r0 + 32 < R ? r0 + 32 : R;
        for (long c0 = 0; c0 < C; c0 += 32) {
          const long c1 = c0 + 32 < C ? c0 + 32 : C;
          for (long c = c0; c < c1; c++) for (long r = r0; r < r1; r++) dst[r * C + c] = D(src[r + c * sc]);
        }
      }
    });
    return;
  }
  par_runs(it, view_numel(x), [&](const long* off, long pos, long len) {
    const long s = it.st[0][it.nd - 1];
    if (s == 1 && std::is_same<S, D>::value) std::memcpy(out + pos, base + off[0], len * sizeof(D));
    else convert_run(base + off[0], s, out + pos, len);
  });
}

template <class S>
void convert_from(const ViewDesc& x, void* out, int odt) {
  switch (odt) {
    case DT_F32: copy_typed<S, float>(x, static_cast<float*>(out)); break;
    case DT_F64: copy_typed<S, double>(x, static_cast<double*>(out)); break;
    case DT_I32: copy_typed<S, int32_t>(x, static_cast<int32_t*>(out)); break;
    case DT_U8: copy_typed<S, uint8_t>(x, static_cast<uint8_t*>(out)); break;
    default: break;
  }
}

}  // namespace

void copy(const ViewDesc& x, void* out, int outDtype) {
  advise_output(out, size_t(view_numel(x)) * dt_size(outDtype));
  switch (x.dtype * 4 + outDtype) {
    case DT_F32 * 4 + DT_F32: copy_typed<float, float>(x, static_cast<float*>(out)); break;
    case DT_F32 * 4 + DT_F64: copy_typed<float, double>(x, static_cast<double*>(out)); break;
    case DT_F64 * 4 + DT_F32: copy_typed<double, float>(x, static_cast<float*>(out)); break;
    case DT_F64 * 4 + DT_F64: copy_typed<double, double>(x, static_cast<double*>(out)); break;
    case DT_I32 * 4 + DT_I32: copy_typed<int32_t, int32_t>(x, static_cast<int32_t*>(out)); break;
    case DT_U8 * 4 + DT_U8: copy_typed<uint8_t, uint8_t>(x, static_cast<uint8_t*>(out)); break;
    default: break;  // other conversions are delegated by the JS side
  }
}

namespace {

// Casts: uint8 -> float32/float64/int32, int32 -> float32/float64, and float32 <-> float64 or
// same dtype (the same conversions as JavaScript typed-array stores for these pairs).
void convert(const ViewDesc& x, void* out, int outDtype) {
  advise_output(out, size_t(view_numel(x)) * dt_size(outDtype));
  switch (x.dtype) {
    case DT_F32: convert_from<float>(x, out, outDtype); break;
    case DT_F64: convert_from<double>(x, out, outDtype); break;
    case DT_I32: convert_from<int32_t>(x, out, outDtype); break;
    default: convert_from<uint8_t>(x, out, outDtype); break;
  }
}

// dst = src: same dtype and shape; dst and src must not share memory.
void assign(const ViewDesc& dst, const ViewDesc& src) {
  const long* st[2] = {dst.strides, src.strides};
  Iter it = make_iter(dst.ndim, dst.shape, 2, st);
  const size_t es = dt_size(dst.dtype);
  char* pd = static_cast<char*>(dst.data) + dst.offset * es;
  const char* ps = static_cast<const char*>(src.data) + src.offset * es;
  const long sd = it.st[0][it.nd - 1], ss = it.st[1][it.nd - 1];
  par_runs(it, view_numel(dst), [&](const long* off, long, long len) {
    char* d = pd + off[0] * es;
    const char* s = ps + off[1] * es;
    if (sd == 1 && ss == 1) { std::memmove(d, s, len * es); return; }
    switch (es) {
      case 8: for (long i = 0; i < len; i++) reinterpret_cast<double*>(d)[i * sd] = reinterpret_cast<const double*>(s)[i * ss]; break;
      case 4: for (long i = 0; i < len; i++) reinterpret_cast<float*>(d)[i * sd] = reinterpret_cast<const float*>(s)[i * ss]; break;
      default: for (long i = 0; i < len; i++) d[i * sd] = s[i * ss]; break;
    }
  });
}

// Output of a cast of x (copy, convert): a typed array of x's length whose dtype allowed(from, to) accepts.
void* cast_out(Call& c, size_t i, const ViewDesc& x, bool (*allowed)(int from, int to), int* odt) {
  void* out;
  size_t len;
  *odt = c.array(i, &out, &len);
  if (!allowed(x.dtype, *odt)) c.fail(std::string("conversion ") + dt_name(x.dtype) + " -> " + dt_name(*odt) + " is not a native kernel");
  if (long(len) != view_numel(x)) c.fail("output has " + std::to_string(len) + " elements, but the view has " + std::to_string(view_numel(x)));
  return out;
}

}  // namespace

// ---- entry points (declared in binding.h; addon.cc exports them)

// copy(x, meta, out): same dtype, or float32 <-> float64
void Copy(Call& c) {
  c.meta(1);
  const ViewDesc x = c.view(0, "x");
  int odt;
  void* out = cast_out(c, 2, x, [](int from, int to) { return from == to || (is_float(from) && is_float(to)); }, &odt);
  copy(x, out, odt);
}

// convert(x, meta, out): uint8 -> any, int32 -> int32/float, float -> float (no float -> int)
void Convert(Call& c) {
  c.meta(1);
  const ViewDesc x = c.view(0, "x");
  int odt;
  void* out = cast_out(c, 2, x, [](int from, int to) { return from == DT_U8 || is_float(to) || (from == DT_I32 && to == DT_I32); }, &odt);
  convert(x, out, odt);
}

// assign(dst, src, meta): same dtype and shape; dst and src must not share memory
void Assign(Call& c) {
  c.meta(2);
  const ViewDesc d = c.view(0, "dst"), s = c.view(1, "src");
  c.same_dtype(d, s);
  c.same_shape(d, s);
  assign(d, s);
}

}  // namespace ts
