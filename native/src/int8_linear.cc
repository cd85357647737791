// int8Linear: y = x (M, K) w^T (w: (N, K)) + bias in 8-bit integers with int32 accumulation, the
// native twin of int8LinearReference (src/backends/reference/quantized.ts; contract:
// QuantizedKernels.int8Linear in src/backend/quantized.ts). TypeScript binding:
// src/backends/native/int8_linear.ts. Per-ISA micro-kernels and packed layouts: int8_gemm_isa.h
// (int8_gemm_generic.cc, int8_gemm_avx2.cc, int8_gemm_avx512.cc).
//
// Steps of one call:
//   1. weights are packed once per layer (int8Pack, the TypeScript side keeps the buffer): panels
//      of the chosen path's layout behind a 64-byte header (magic, path, N, K), plus colsum[n] =
//      sum_k w[n][k];
//   2. activations are packed per call: unsigned (int8 inputs are shifted by +128, their zero point
//      with them), zero-padded to whole k groups, widened to int16 for the vpmaddwd paths, with
//      rowsum[m] = sum_k x[m][k];
//   3. the micro-kernel computes raw = sum_k x w in wrapping 32-bit lanes over tiles of mr rows x nr
//      channels, spread over the thread pool by (row block, panel);
//   4. the epilogue (one portable function for every path, so every path gives the same bits):
//      acc = raw - zw[n] rowsum[m] + (K zx zw[n] - zx colsum[n])   in uint32 (wrapping like the
//      reference's int32 sum: modular arithmetic, exact for K <= 33025),
//      real = float(double(acc) * double(mult[n])), mult[n] = float(xScale * double(wScale[n])),
//      real = real + bias[n] (float), then float32 out, or q = nearbyint(real * inv) + zp clamped
//      to [qmin, qmax] (qmin raised to zp under ReLU; NaN and |r| >= 2^63 give qmin), exactly as
//      quantizeValue in src/backend/quantized.ts.
//
// Path: the int8 path follows the addon's CPU path (avx512 -> vnni when the CPU has AVX-512 VNNI,
// else avx512; avx2 -> avx2; generic -> generic). TENSORSLIM_INT8=vnni|avx512|avx2|generic at load,
// or setInt8Path(), forces another path the CPU supports (tests cover every path this way).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "binding.h"
#include "common.h"
#include "int8_gemm_isa.h"
#include "threadpool.h"

namespace ts {
namespace {

constexpr int32_t kMagic = 0x51384954;  // "TI8Q"
constexpr long kHeader = 64;            // bytes before the packed panels

bool has_vnni() {
#if !defined(TS_NO_X86_PATHS) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  return cpu_supports("avx512") && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

// Path codes (the packed header stores them): 0 generic, 1 avx2, 2 avx512, 3 vnni.
const char* const kNames[] = {"generic", "avx2", "avx512", "vnni"};

const Int8GemmIsa* isa_of(int code) {
  switch (code) {
    case 0: return int8_gemm_generic();
    case 1: return cpu_supports("avx2") ? int8_gemm_avx2() : nullptr;
    case 2: return cpu_supports("avx512") ? int8_gemm_avx512() : nullptr;
    case 3: return has_vnni() ? int8_gemm_vnni() : nullptr;
    default: return nullptr;
  }
}

int code_of(const char* name) {
  for (int i = 0; i < 4; i++) if (std::strcmp(name, kNames[i]) == 0) return i;
  return -1;
}

int g_forced = -1;        // setInt8Path / TENSORSLIM_INT8, -1: follow the CPU path
bool g_env_read = false;

int active_code() {
  if (!g_env_read) {
    g_env_read = true;
    const char* env = std::getenv("TENSORSLIM_INT8");
    if (env != nullptr && *env != 0) {
      const int c = code_of(env);
      if (c >= 0 && isa_of(c) != nullptr) g_forced = c;
    }
  }
  if (g_forced >= 0) return g_forced;
  const char* p = active()->name;
  if (std::strcmp(p, "avx512") == 0) return has_vnni() ? 3 : (isa_of(2) ? 2 : 0);
  if (std::strcmp(p, "avx2") == 0) return isa_of(1) ? 1 : 0;
  return 0;
}

long packed_bytes(const Int8GemmIsa& isa, long N, long K) {
  const long panels = (N + isa.nr - 1) / isa.nr, groups = (K + isa.kg - 1) / isa.kg;
  return kHeader + panels * groups * isa.nr * isa.kg * isa.wbytes;
}

void pack_weights(const Int8GemmIsa& isa, int code, const int8_t* w, long N, long K, uint8_t* packed, int32_t* colsum) {
  int32_t head[4] = {kMagic, code, int32_t(N), int32_t(K)};
  std::memset(packed, 0, size_t(kHeader));
  std::memcpy(packed, head, sizeof(head));
  const long nr = isa.nr, kg = isa.kg, groups = (K + kg - 1) / kg, panels = (N + nr - 1) / nr;
  uint8_t* body = packed + kHeader;
  for (long p = 0; p < panels; p++) {
    for (long g = 0; g < groups; g++) {
      for (long j = 0; j < nr; j++) {
        const long n = p * nr + j;
        for (long e = 0; e < kg; e++) {
          const long k = g * kg + e;
          const int8_t v = n < N && k < K ? w[n * K + k] : int8_t(0);
          const long at = ((p * groups + g) * nr + j) * kg + e;
          if (isa.wbytes == 1) body[at] = uint8_t(v);
          else { const int16_t s = v; std::memcpy(body + 2 * at, &s, 2); }
        }
      }
    }
  }
  for (long n = 0; n < N; n++) {
    int32_t s = 0;
    for (long k = 0; k < K; k++) s += w[n * K + k];
    colsum[n] = s;
  }
}

// nearbyint(p) in the default rounding mode (half to even) without a libm call (baseline x86-64 has
// no roundss): below 2^22, adding and subtracting 1.5 * 2^23 rounds p to an integer in one float
// rounding (the sum lies in [2^23, 2^24), where float spacing is 1; 1.5 * 2^23 is even, so ties keep
// their parity); larger or non-finite values are integers, infinities or NaN already, or go to libm.
inline float round_half_even(float p) {
  if (std::fabs(p) < 4194304.0f) {
    constexpr float b = 12582912.0f;  // (p + b) - b is not simplified without -ffast-math
    return (p + b) - b;
  }
  return std::nearbyint(p);
}

struct Epilogue {
  long N;
  const uint32_t* rowsum;  // (M)
  const int32_t* zw;       // (N)
  const uint32_t* cterm;   // (N): K zx zw[n] - zx colsum[n]
  const float* mult;       // (N)
  const float* bias;       // (N) or null
  int kind;                // 0 float32, 1 requantize
  bool outSigned;
  float inv;
  double zp, qmin, qmax;
  void* out;
};

// The per-element tail shared by every path (see the header comment, step 4).
void epilogue(const Epilogue& e, const int32_t* tile, long ldt, long m0, long rows, long n0, long cols) {
  for (long i = 0; i < rows; i++) {
    const long m = m0 + i;
    const uint32_t rs = e.rowsum[m];
    for (long j = 0; j < cols; j++) {
      const long n = n0 + j;
      const uint32_t acc = uint32_t(tile[i * ldt + j]) - uint32_t(e.zw[n]) * rs + e.cterm[n];
      float real = float(double(int32_t(acc)) * double(e.mult[n]));
      if (e.bias != nullptr) real = real + e.bias[n];
      if (e.kind == 0) {
        static_cast<float*>(e.out)[m * e.N + n] = real;
        continue;
      }
      const float r = round_half_even(real * e.inv);
      double q;
      if (!(std::fabs(double(r)) < 9223372036854775808.0)) q = e.qmin;
      else {
        q = double(r) + e.zp;
        q = q < e.qmin ? e.qmin : q > e.qmax ? e.qmax : q;
      }
      if (e.outSigned) static_cast<int8_t*>(e.out)[m * e.N + n] = int8_t(int(q));
      else static_cast<uint8_t*>(e.out)[m * e.N + n] = uint8_t(int(q));
    }
  }
}

void run_gemm(const Int8GemmIsa& isa, const uint8_t* x, bool xSigned, long M, long K, const uint8_t* panels, long N, const Epilogue& e0,
              std::vector<uint32_t>& rowsum) {
  const long kg = isa.kg, groups = (K + kg - 1) / kg, lda = groups * kg * isa.xbytes;
  std::vector<uint8_t> xp(size_t(M * lda) + 64);
  rowsum.assign(size_t(M), 0);
  const uint8_t flip = xSigned ? 0x80 : 0;
  parallel_for(M, std::max<long>(1, 32768 / std::max<long>(1, K)), [&](long r0, long r1) {
    for (long m = r0; m < r1; m++) {
      const uint8_t* src = x + m * K;
      uint8_t* dst = xp.data() + m * lda;
      uint32_t s = 0;
      if (isa.xbytes == 1) {
        for (long k = 0; k < K; k++) { const uint8_t u = src[k] ^ flip; dst[k] = u; s += u; }
        for (long k = K; k < groups * kg; k++) dst[k] = 0;
      } else {
        uint16_t* d16 = reinterpret_cast<uint16_t*>(dst);
        for (long k = 0; k < K; k++) { const uint8_t u = src[k] ^ flip; d16[k] = u; s += u; }
        for (long k = K; k < groups * kg; k++) d16[k] = 0;
      }
      rowsum[size_t(m)] = s;
    }
  });
  Epilogue e = e0;
  e.rowsum = rowsum.data();
  const long nr = isa.nr, mr = isa.mr, npanels = (N + nr - 1) / nr;
  const long panel_bytes = groups * nr * kg * isa.wbytes;
  const long mc = mr * 8, nmc = (M + mc - 1) / mc;
  auto task = [&](long t) {
    const long p = t % npanels, mb = t / npanels;
    alignas(64) int32_t tile[8 * 64];
    const long m_end = std::min(M, (mb + 1) * mc);
    for (long m0 = mb * mc; m0 < m_end; m0 += mr) {
      const long rows = std::min(mr, m_end - m0);
      isa.ukr(int(rows), groups, xp.data() + m0 * lda, lda, panels + p * panel_bytes, tile, nr);
      epilogue(e, tile, nr, m0, rows, p * nr, std::min(nr, N - p * nr));
    }
  };
  const long ntasks = npanels * nmc;
  if (double(M) * double(N) * double(K) < 262144.0 || ntasks == 1) {
    for (long t = 0; t < ntasks; t++) task(t);
  } else {
    run_tasks(ntasks, task);
  }
}

std::string path_list() {
  std::string s;
  for (int c = 3; c >= 0; c--) if (isa_of(c) != nullptr) s += (s.empty() ? "" : ", ") + std::string(kNames[c]);
  return s;
}

}  // namespace

// ---- path controls (value-returning; addon.cc exports them)

Napi::Value Int8Path(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), kNames[active_code()]); }

Napi::Value SetInt8Path(const Napi::CallbackInfo& info) {
  active_code();  // read TENSORSLIM_INT8 first, so a later call overrides it
  if (!info[0].IsString()) Call(info, "setInt8Path").fail("expected 'vnni', 'avx512', 'avx2', 'generic' or 'auto'");
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name == "auto") { g_forced = -1; return Napi::Boolean::New(info.Env(), true); }
  const int c = code_of(name.c_str());
  if (c < 0 || isa_of(c) == nullptr) return Napi::Boolean::New(info.Env(), false);
  g_forced = c;
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value SupportedInt8Paths(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array a = Napi::Array::New(env);
  uint32_t i = 0;
  for (int c = 3; c >= 0; c--) if (isa_of(c) != nullptr) a.Set(i++, Napi::String::New(env, kNames[c]));
  return a;
}

// int8PackedBytes(path, N, K): the length of the buffer int8Pack fills for that path.
Napi::Value Int8PackedBytes(const Napi::CallbackInfo& info) {
  Call c(info, "int8Pack");
  const std::string name = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : std::string();
  const int code = code_of(name.c_str());
  if (code < 0 || isa_of(code) == nullptr) c.fail("int8 path '" + name + "' is not supported on this CPU; supported: " + path_list());
  const long N = c.integer(1, "rows", 0, 2147483647L), K = c.integer(2, "cols", 0, 2147483647L);
  return Napi::Number::New(info.Env(), double(packed_bytes(*isa_of(code), N, K)));
}

// ---- entry points (declared in binding.h; addon.cc exports them)

// int8Pack(w, rows N, cols K, path, packed, colsum): w (N x K) int8 bits in a Uint8Array, packed of
// int8PackedBytes(path, N, K) bytes, colsum Int32Array (N).
void Int8Pack(Call& c) {
  void *wd, *pd, *cd;
  size_t wl, pl, cl;
  const int wt = c.array(0, &wd, &wl, "w");
  const long N = c.integer(1, "rows", 0, 2147483647L), K = c.integer(2, "cols", 0, 2147483647L);
  const int code = int(c.integer(3, "path", 0, 3));
  const int pt = c.array(4, &pd, &pl, "packed"), ct = c.array(5, &cd, &cl, "colsum");
  const Int8GemmIsa* isa = isa_of(code);
  if (isa == nullptr) c.fail(std::string("int8 path '") + kNames[code] + "' is not supported on this CPU; supported: " + path_list());
  if (wt != DT_U8 || pt != DT_U8 || ct != DT_I32) c.fail("w and packed must be Uint8Arrays (int8 bits) and colsum an Int32Array");
  if (double(wl) != double(N) * double(K)) c.fail("w holds " + std::to_string(wl) + " values, expected " + std::to_string(N) + " x " + std::to_string(K));
  if (long(pl) != packed_bytes(*isa, N, K)) c.fail("packed has " + std::to_string(pl) + " bytes, expected " + std::to_string(packed_bytes(*isa, N, K)));
  if (long(cl) != N) c.fail("colsum has " + std::to_string(cl) + " values, expected " + std::to_string(N));
  pack_weights(*isa, code, static_cast<const int8_t*>(wd), N, K, static_cast<uint8_t*>(pd), static_cast<int32_t*>(cd));
}

// int8Linear(x, xSigned, M, K, xScale, xZeroPoint, packed, colsum, wScales, wZeroPoints, bias | null,
//            params, out); x (M x K) uint8 or int8 bits in a Uint8Array; packed from int8Pack (its
// header gives the path, N and K); params Float64Array [kind (0 float32, 1 requantize), outScale,
// outZeroPoint, relu, outSigned]; out Float32Array (M x N) or Uint8Array (M x N, int8 bits when
// outSigned).
void Int8Linear(Call& c) {
  void *xd, *pd, *csd, *sd, *zd, *bd = nullptr, *od;
  size_t xl, pl, csl, sl, zl, bl = 0, ol, parl;
  const int xt = c.array(0, &xd, &xl, "x");
  const bool xSigned = c.flag(1);
  const long M = c.integer(2, "rows", 0, 2147483647L), K = c.integer(3, "cols", 0, 2147483647L);
  const double xScale = c.number(4, "xScale");
  const long xZp = c.integer(5, "xZeroPoint", -2147483648L, 2147483647L);
  const int pt = c.array(6, &pd, &pl, "packed");
  const int cst = c.array(7, &csd, &csl, "colsum"), st = c.array(8, &sd, &sl, "wScales"), zt = c.array(9, &zd, &zl, "wZeroPoints");
  const bool hasBias = c.has(10);
  const int bt = hasBias ? c.array(10, &bd, &bl, "bias") : DT_F32;
  const double* par = c.f64(11, "params", 5, &parl);
  const int ot = c.array(12, &od, &ol, "out");
  if (xt != DT_U8 || pt != DT_U8) c.fail("x and packed must be Uint8Arrays (int8 data travels as its bits)");
  if (cst != DT_I32 || zt != DT_I32 || st != DT_F32 || bt != DT_F32) c.fail("colsum and wZeroPoints must be Int32Arrays, wScales and bias Float32Arrays");
  if (pl < size_t(kHeader)) c.fail("packed is too short to hold a packed weight (" + std::to_string(pl) + " bytes); pack it with int8Pack");
  int32_t head[4];
  std::memcpy(head, pd, sizeof(head));
  if (head[0] != kMagic || head[1] < 0 || head[1] > 3) c.fail("packed does not start with a packed-weight header; pack it with int8Pack");
  const Int8GemmIsa* isa = isa_of(head[1]);
  if (isa == nullptr) c.fail(std::string("packed was packed for the '") + kNames[head[1]] + "' path, which this CPU does not support; repack it");
  const long N = head[2];
  if (head[3] != K) c.fail("x has " + std::to_string(K) + " columns but the packed weight has " + std::to_string(head[3]));
  if (long(pl) != packed_bytes(*isa, N, head[3])) c.fail("packed has " + std::to_string(pl) + " bytes, expected " + std::to_string(packed_bytes(*isa, N, K)) + "; it is corrupt");
  if (double(xl) != double(M) * double(K)) c.fail("x holds " + std::to_string(xl) + " values, expected " + std::to_string(M) + " x " + std::to_string(K));
  if (long(csl) != N || long(sl) != N || long(zl) != N) c.fail("colsum, wScales and wZeroPoints need " + std::to_string(N) + " values each, got " + std::to_string(csl) + ", " + std::to_string(sl) + ", " + std::to_string(zl));
  if (hasBias && long(bl) != N) c.fail("bias has " + std::to_string(bl) + " values, expected " + std::to_string(N));
  const int kind = int(par[0]);
  if (kind != 0 && kind != 1) c.fail("params[0] (output kind) must be 0 (float32) or 1 (requantize)");
  if (ot != (kind == 0 ? DT_F32 : DT_U8)) c.fail(kind == 0 ? "out must be a Float32Array for a float32 output" : "out must be a Uint8Array for a requantized output");
  if (double(ol) != double(M) * double(N)) c.fail("out holds " + std::to_string(ol) + " values, expected " + std::to_string(M) + " x " + std::to_string(N));
  if (M == 0 || N == 0) return;

  const float* ws = static_cast<const float*>(sd);
  const int32_t* zw = static_cast<const int32_t*>(zd);
  const int32_t* cs = static_cast<const int32_t*>(csd);
  const uint32_t zx = uint32_t(int64_t(xZp) + (xSigned ? 128 : 0));
  std::vector<float> mult(static_cast<size_t>(N));
  std::vector<uint32_t> cterm(static_cast<size_t>(N));
  for (long n = 0; n < N; n++) {
    mult[size_t(n)] = float(xScale * double(ws[n]));
    cterm[size_t(n)] = uint32_t(K) * zx * uint32_t(zw[n]) - zx * uint32_t(cs[n]);
  }
  Epilogue e{};
  e.N = N; e.zw = zw; e.cterm = cterm.data(); e.mult = mult.data(); e.bias = static_cast<const float*>(bd);
  e.kind = kind; e.out = od;
  if (kind == 1) {
    const bool outSigned = par[4] != 0, relu = par[3] != 0;
    const double zp = par[2];
    e.outSigned = outSigned;
    e.inv = float(1.0 / double(float(par[1])));
    e.zp = zp;
    e.qmax = outSigned ? 127 : 255;
    e.qmin = outSigned ? -128 : 0;
    if (relu && zp > e.qmin) e.qmin = zp;
  }
  std::vector<uint32_t> rowsum;
  run_gemm(*isa, static_cast<const uint8_t*>(xd), xSigned, M, K, static_cast<const uint8_t*>(pd) + kHeader, N, e, rowsum);
}

// int8Quantize(x, inv, zeroPoint, signed, out): out[i] = clamp(nearbyint(float(x[i] * inv)) + zeroPoint)
// over the whole int8 / uint8 range; inv is float32 (fround(1 / fround(scale)) on the TypeScript side),
// x Float32Array, out Uint8Array (int8 bits when signed). Non-finite products and |r| >= 2^63 give
// qmin, as quantizeValue in src/backend/quantized.ts (torch's quantize_val on x86).
void Int8Quantize(Call& c) {
  void *xd, *od;
  size_t xl, ol;
  const int xt = c.array(0, &xd, &xl, "x");
  const float inv = float(c.number(1, "inv"));
  const long zp = c.integer(2, "zeroPoint", -2147483648L, 2147483647L);
  const bool sgn = c.flag(3);
  const int ot = c.array(4, &od, &ol, "out");
  if (xt != DT_F32 || ot != DT_U8) c.fail("x must be a Float32Array and out a Uint8Array");
  if (ol != xl) c.fail("out holds " + std::to_string(ol) + " values, x " + std::to_string(xl));
  const float* x = static_cast<const float*>(xd);
  uint8_t* out = static_cast<uint8_t*>(od);
  const double lo = sgn ? -128 : 0, hi = sgn ? 127 : 255, z = double(zp);
  parallel_for(long(xl), 16384, [&](long a, long b) {
    for (long i = a; i < b; i++) {
      const float r = round_half_even(x[i] * inv);
      double q = lo;
      if (std::fabs(double(r)) < 9223372036854775808.0) { q = double(r) + z; q = q < lo ? lo : q > hi ? hi : q; }
      out[i] = uint8_t(int(q));  // int8 bits when signed
    }
  });
}

// int8FloatRange(x, out): out = [min, max, index of the first NaN or +-Infinity (-1: none)] of a
// Float32Array (min = max = 0 when empty); the range of finite values when there is none.
void Int8FloatRange(Call& c) {
  void* xd;
  size_t xl, ol;
  const int xt = c.array(0, &xd, &xl, "x");
  if (xt != DT_F32) c.fail("x must be a Float32Array");
  double* out = const_cast<double*>(c.f64(1, "out", 3, &ol));
  const float* x = static_cast<const float*>(xd);
  float lo = INFINITY, hi = -INFINITY;
  long bad = -1;
  const long n = long(xl);
  for (long i0 = 0; i0 < n && bad < 0; i0 += 4096) {
    const long i1 = std::min(n, i0 + 4096);
    float l = lo, h = hi, s = 0;
    for (long i = i0; i < i1; i++) { const float v = x[i]; l = v < l ? v : l; h = v > h ? v : h; s += v - v; }
    if (s != 0 || s != s) {  // a NaN or an infinity in this block: find the first
      for (long i = i0; i < i1; i++) if (!std::isfinite(x[i])) { bad = i; break; }
    }
    lo = l; hi = h;
  }
  out[0] = n == 0 ? 0 : double(lo);
  out[1] = n == 0 ? 0 : double(hi);
  out[2] = double(bad);
}

}  // namespace ts
