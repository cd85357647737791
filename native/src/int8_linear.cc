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
// int8Conv2d with stride 1 and at most 32 output channels runs the direct convolution instead
// (int8_conv_direct.h: output pixels along the lanes, no im2col); int8MaxPool2d pools uint8 codes.
//
// Path: the int8 path follows the addon's CPU path (avx512 -> vnni when the CPU has AVX-512 VNNI,
// else avx512; avx2 -> avx2; generic -> generic). TENSORSLIM_INT8=vnni|avx512|avx2|generic at load,
// or setInt8Path(), forces another path the CPU supports (tests cover every path this way).
#include <algorithm>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "binding.h"
#include "common.h"
#include "conv_geometry.h"
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

// AVX-VNNI (the VEX-encoded vpdpbusd): CPUID leaf 7, subleaf 1, EAX bit 4, on a CPU (and OS) with AVX2.
// Asked once: every int8 call on an AVX2 CPU asks, and CPUID traps to the hypervisor in a VM (a few
// microseconds, a fifth of a batch-1 convolution).
bool has_avxvnni() {
#if !defined(TS_NO_X86_PATHS) && (defined(__x86_64__) || defined(__i386__))
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!cpu_supports("avx2") || __get_cpuid_max(0, nullptr) < 7) return false;
    __cpuid_count(7, 1, a, b, c, d);
    return ((a >> 4) & 1) != 0;
  }();
  return has;
#else
  return false;
#endif
}

// Path codes (the packed header stores them): 0 generic, 1 avx2, 2 avx512, 3 vnni, 4 avxvnni.
constexpr int kPaths = 5;
const char* const kNames[kPaths] = {"generic", "avx2", "avx512", "vnni", "avxvnni"};
const int kBestFirst[kPaths] = {3, 2, 4, 1, 0};

const Int8GemmIsa* isa_of(int code) {
  switch (code) {
    case 0: return int8_gemm_generic();
    case 1: return cpu_supports("avx2") ? int8_gemm_avx2() : nullptr;
    case 2: return cpu_supports("avx512") ? int8_gemm_avx512() : nullptr;
    case 3: return has_vnni() ? int8_gemm_vnni() : nullptr;
    case 4: return has_avxvnni() ? int8_gemm_avxvnni() : nullptr;
    default: return nullptr;
  }
}

int code_of(const char* name) {
  for (int i = 0; i < kPaths; i++) if (std::strcmp(name, kNames[i]) == 0) return i;
  return -1;
}

std::string path_list() {
  std::string s;
  for (int c : kBestFirst) if (isa_of(c) != nullptr) s += (s.empty() ? "" : ", ") + std::string(kNames[c]);
  return s;
}

int g_forced = -1;        // setInt8Path / TENSORSLIM_INT8, -1: follow the CPU path
bool g_env_read = false;
std::string g_env_error;  // TENSORSLIM_INT8 names a path that is unknown or that this CPU lacks

void read_env() {
  if (g_env_read) return;
  g_env_read = true;
  const char* env = std::getenv("TENSORSLIM_INT8");
  if (env == nullptr || *env == 0) return;
  const int c = code_of(env);
  if (c < 0) g_env_error = std::string("TENSORSLIM_INT8=") + env + " is not an int8 path (vnni, avx512, avxvnni, avx2, generic); this CPU supports: " + path_list() + "; unset it or name one of those";
  else if (isa_of(c) == nullptr) g_env_error = std::string("TENSORSLIM_INT8=") + env + " forces a path this CPU lacks; it supports: " + path_list() + "; unset it or name one of those";
  else g_forced = c;
}

int active_code() {
  read_env();
  if (g_forced >= 0) return g_forced;
  const char* p = active()->name;
  if (std::strcmp(p, "avx512") == 0) return has_vnni() ? 3 : (isa_of(2) ? 2 : 0);
  if (std::strcmp(p, "avx2") == 0) return has_avxvnni() ? 4 : (isa_of(1) ? 1 : 0);
  return 0;
}

// The active path's kernels; a TENSORSLIM_INT8 the CPU cannot honour fails the call (never a silent
// fallback to another path).
const Int8GemmIsa& active_isa(const Call& c) {
  read_env();
  if (!g_env_error.empty() && g_forced < 0) c.fail(g_env_error);
  return *isa_of(active_code());
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

// Rows per tile for a block of `rows` rows: as even as possible, at most mr each (a block of 32 rows
// on a 6-row kernel runs 6, 6, 5, 5, 5, 5, not 6 x 5 + 2: short tiles reload the weights per row).
inline long tile_rows(long rows, long mr, long t, long* at) {
  const long tiles = (rows + mr - 1) / mr, base = rows / tiles, extra = rows % tiles;
  *at = t * base + (t < extra ? t : extra);
  return base + (t < extra ? 1 : 0);
}

// x (M x K) -> packed unsigned rows + rowsum, then the micro-kernel over (row block, panel) tasks:
// each task walks K in blocks of kc groups, so the block of its weight panel (about 16 KiB) stays in
// L1 while every row tile of the block passes over it, accumulating in a per-task int32 tile, and
// ends with the epilogue for its rows and channels.
void run_gemm(const Int8GemmIsa& isa, const uint8_t* x, bool xSigned, long M, long K, const uint8_t* panels, long N, const Int8Epilogue& e0) {
  const long kg = isa.kg, groups = (K + kg - 1) / kg, kpad = groups * kg, lda = kpad * isa.xbytes;
  // packed rows and row sums: scratch of the calling thread, kept between calls (pack_row writes every
  // byte up to kpad, so nothing needs clearing; a fresh vector per call cleared 64 KiB at batch 32)
  // (the worker threads reach them through these pointers: inside a lambda the names of thread_local
  // variables would denote the worker's own)
  thread_local std::vector<uint8_t> xp_scratch;
  thread_local std::vector<uint32_t> rowsum_scratch;
  if (xp_scratch.size() < static_cast<size_t>(M * lda) + 64) xp_scratch.resize(static_cast<size_t>(M * lda) + 64);
  if (rowsum_scratch.size() < static_cast<size_t>(M)) rowsum_scratch.resize(static_cast<size_t>(M));
  uint8_t* const xp = xp_scratch.data();
  uint32_t* const rowsum = rowsum_scratch.data();
  const uint8_t flip = xSigned ? 0x80 : 0;
  const auto pack = [&](long r0, long r1) {
    for (long m = r0; m < r1; m++) rowsum[m] = isa.pack_row(x + m * K, K, kpad, flip, xp + m * lda);
  };
  const bool serial = double(M) * double(N) * double(K) < 262144.0;
  if (serial) pack(0, M);
  else parallel_for(M, std::max<long>(1, 65536 / std::max<long>(1, K)), pack);
  Int8Epilogue e = e0;
  e.rowsum = rowsum;
  const long nr = isa.nr, mr = isa.mr, npanels = (N + nr - 1) / nr;
  const long group_bytes = nr * kg * isa.wbytes, panel_bytes = groups * group_bytes;
  const long kc = std::max<long>(1, 16384 / group_bytes);
  const long mc = mr * 8, nmc = (M + mc - 1) / mc;
  auto task = [&](long t) {
    const long p = t % npanels, mb = t / npanels;
    alignas(64) int32_t tile[8 * 6 * 64];  // mc x nr (48 x 64 on the AVX-512 paths)
    const long mstart = mb * mc, rows = std::min(mc, M - mstart), ntiles = (rows + mr - 1) / mr;
    const uint8_t* panel = panels + p * panel_bytes;
    for (long g0 = 0; g0 < groups; g0 += kc) {
      const long gn = std::min(kc, groups - g0);
      for (long ti = 0; ti < ntiles; ti++) {
        long at;
        const long h = tile_rows(rows, mr, ti, &at);
        isa.ukr(int(h), gn, xp + (mstart + at) * lda + g0 * kg * isa.xbytes, lda, panel + g0 * group_bytes, tile + at * nr, nr, g0 > 0);
      }
    }
    isa.epilogue(e, tile, nr, mstart, rows, p * nr, std::min(nr, N - p * nr));
  };
  const long ntasks = npanels * nmc;
  if (serial || ntasks == 1) {
    for (long t = 0; t < ntasks; t++) task(t);
  } else {
    run_tasks(ntasks, task);
  }
}

}  // namespace

// ---- path controls (value-returning; addon.cc exports them)

Napi::Value Int8Path(const Napi::CallbackInfo& info) {
  read_env();
  if (!g_env_error.empty() && g_forced < 0) throw Napi::Error::New(info.Env(), "int8Path: " + g_env_error);
  return Napi::String::New(info.Env(), kNames[active_code()]);
}

Napi::Value SetInt8Path(const Napi::CallbackInfo& info) {
  read_env();  // read TENSORSLIM_INT8 first, so a later call overrides it
  if (!info[0].IsString()) Call(info, "setInt8Path").fail("expected 'vnni', 'avx512', 'avxvnni', 'avx2', 'generic' or 'auto'");
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name == "auto") { g_forced = -1; g_env_error.clear(); return Napi::Boolean::New(info.Env(), true); }
  const int c = code_of(name.c_str());
  if (c < 0 || isa_of(c) == nullptr) return Napi::Boolean::New(info.Env(), false);
  g_forced = c;
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value SupportedInt8Paths(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array a = Napi::Array::New(env);
  uint32_t i = 0;
  for (int c : kBestFirst) if (isa_of(c) != nullptr) a.Set(i++, Napi::String::New(env, kNames[c]));
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

namespace {

// The direct convolution (int8_conv_direct.h) serves convolutions with stride 1 and at most this many
// output channels: below a GEMM panel's width, where the panel would run mostly on padding.
constexpr long kInt8DirectMaxChannels = 32;

// What the direct convolution needs besides the parsed GEMM arguments: the geometry and the input.
struct DirectInput {
  const Conv2dGeom* g;
  const uint8_t* x;  // (N, C, H, W) bits
  bool xSigned;
};

// w[n][k] of a packed weight (the inverse of pack_weights), as int32 w - zw[n] (wrapping like the
// reference's Math.imul operand).
void unpack_weights(const Int8GemmIsa& isa, const uint8_t* body, long N, long K, const int32_t* zw, int32_t* out) {
  // no division per element (runs on every call: the direct convolution keeps no unpacked copy)
  const long nr = isa.nr, kg = isa.kg, groups = (K + kg - 1) / kg;
  for (long n = 0; n < N; n++) {
    const long p = n / nr, j = n - p * nr;
    const uint32_t z = uint32_t(zw[n]);
    int32_t* row = out + n * K;
    for (long g = 0, k = 0; g < groups; g++) {
      const long at = ((p * groups + g) * nr + j) * kg;
      for (long e = 0; e < kg && k < K; e++, k++) {
        int32_t v;
        if (isa.wbytes == 1) v = int8_t(body[at + e]);
        else { int16_t s; std::memcpy(&s, body + 2 * (at + e), 2); v = s; }
        row[k] = int32_t(uint32_t(v) - z);
      }
    }
  }
}

// The weight forms the direct convolution reads, derived from a packed weight, its zero points and the
// kernel shape: w - zw (O, K) int32; pair words (two taps in int16) when every w - zw fits in int16;
// quad words (four int8 taps) and corr[o] = zu sum_k w[o][k] on paths with vpdpbusd when every zw is
// 0; fexact (see Int8DirectConv). Deriving them costs as much as a batch-1 LeNet convolution, so the
// last few are kept per calling thread, keyed by an exact copy of what they derive from (packed bytes,
// zero points, kernel shape, path): a packed buffer freed and reallocated at the same address with
// other contents never matches.
struct DirectWeights {
  const Int8GemmIsa* isa = nullptr;
  long O = 0, K = 0, c = 0, kh = 0, kw = 0;
  std::vector<uint8_t> body;
  std::vector<int32_t> zw, ws, wps, wqs, wsum;
  std::vector<uint8_t> fexact;
  bool pairs = false, quads = false;
};

const DirectWeights& direct_weights(const Int8GemmIsa& isa, const uint8_t* body, long O, long K, const int32_t* zw, const Conv2dGeom& g) {
  constexpr size_t kKeep = 8;
  thread_local std::vector<DirectWeights> cache;
  thread_local size_t next = 0;
  const size_t bytes = size_t(packed_bytes(isa, O, K) - kHeader);
  for (const DirectWeights& d : cache) {
    if (d.isa == &isa && d.O == O && d.K == K && d.c == g.c && d.kh == g.kh && d.kw == g.kw && d.body.size() == bytes &&
        std::memcmp(d.body.data(), body, bytes) == 0 && std::memcmp(d.zw.data(), zw, size_t(O) * sizeof(int32_t)) == 0) return d;
  }
  if (cache.size() < kKeep) cache.emplace_back();
  DirectWeights& d = cache[next];
  next = (next + 1) % kKeep;
  d.isa = &isa; d.O = O; d.K = K; d.c = g.c; d.kh = g.kh; d.kw = g.kw;
  d.body.assign(body, body + bytes);
  d.zw.assign(zw, zw + O);
  d.ws.resize(size_t(O * K));
  unpack_weights(isa, body, O, K, zw, d.ws.data());
  const int32_t* ws = d.ws.data();
  // two taps per int32 lane (vpmaddwd) when every w - zw fits in int16 (int8 weights, int8 zero points)
  d.pairs = true;
  for (long i = 0; i < O * K && d.pairs; i++) d.pairs = ws[i] >= -32768 && ws[i] <= 32767;
  // four taps per int32 lane (vpdpbusd) on the VNNI paths when the weights have no zero points
  d.quads = isa.direct_quads;
  for (long o = 0; o < O && d.quads; o++) d.quads = zw[o] == 0;
  const long kwp = (g.kw + 1) / 2, kwq = (g.kw + 3) / 4, rows = g.c * g.kh;
  if (d.quads) {
    d.wqs.resize(size_t(O * rows * kwq));
    d.wsum.resize(size_t(O));
    for (long o = 0; o < O; o++) {
      uint32_t sum = 0;
      for (long k = 0; k < K; k++) sum += uint32_t(ws[o * K + k]);
      d.wsum[size_t(o)] = int32_t(sum);
      for (long r = 0; r < rows; r++) {
        for (long jq = 0; jq < kwq; jq++) {
          uint32_t word = 0;
          for (long t = 0; t < 4 && 4 * jq + t < g.kw; t++) word |= uint32_t(uint8_t(int8_t(ws[o * K + r * g.kw + 4 * jq + t]))) << (8 * t);
          d.wqs[size_t((o * rows + r) * kwq + jq)] = int32_t(word);
        }
      }
    }
  } else if (d.pairs) {
    d.wps.resize(size_t(O * rows * kwp));
    const auto pair = [](int32_t lo, int32_t hi) { return int32_t(uint32_t(uint16_t(int16_t(lo))) | (uint32_t(hi) << 16)); };
    for (long o = 0; o < O; o++) {
      for (long r = 0; r < rows; r++) {
        for (long jp = 0; jp < kwp; jp++) {
          const int32_t lo = ws[o * K + r * g.kw + 2 * jp], hi = 2 * jp + 1 < g.kw ? ws[o * K + r * g.kw + 2 * jp + 1] : 0;
          d.wps[size_t((o * rows + r) * kwp + jp)] = pair(lo, hi);
        }
      }
    }
  }
  // channels whose accumulators stay below 2^24 (|x - zx| <= 255): the epilogue multiplies in float32
  d.fexact.resize(size_t(O));
  for (long o = 0; o < O; o++) {
    int64_t bound = 0;  // |w - zw| <= 2^31 each
    for (long k = 0; k < K; k++) bound += ws[o * K + k] < 0 ? -int64_t(ws[o * K + k]) : int64_t(ws[o * K + k]);
    d.fexact[size_t(o)] = 255.0 * double(bound) < 16777216.0 ? 1 : 0;
  }
  return d;
}

// dst[i] = src[i] ^ flip (restrict pointers: a loop of byte stores through captured references would
// reload its bounds every iteration and not vectorize).
void xor_bytes(uint8_t* __restrict dst, const uint8_t* __restrict src, long n, uint8_t flip) {
  for (long i = 0; i < n; i++) dst[i] = src[i] ^ flip;
}

// The direct convolution of d with the parsed arguments of gemm_call (epilogue constants in e).
void run_direct(const Int8GemmIsa& isa, const DirectInput& d, long xZp, const uint8_t* body, long O, long K, const Int8Epilogue& e) {
  const Conv2dGeom& g = *d.g;
  const long Hp = g.h + 2 * g.ph, Wp = g.w + 2 * g.pw, plane = Hp * Wp, lanes = isa.direct_lanes;
  const long slack = (g.kw - 1) * g.dw + lanes + 16;
  const DirectWeights& dw8 = direct_weights(isa, body, O, K, e.zw, g);
  const long blocks = (g.oh * Wp + lanes - 1) / lanes, L = g.oh * g.ow, es = e.kind == 0 ? 4 : 1;
  // images in chunks of about 8K plane values: each chunk's planes are built and convolved while they
  // are in cache (per thread: a chunk never leaves the thread that built it)
  const long chunk = std::max<long>(1, 8192 / std::max<long>(1, g.c * plane));
  const auto runImages = [&](long n0, long n1) {
    thread_local std::vector<int32_t> xs, xps, xqs, corr;
    thread_local std::vector<int16_t> x16;
    thread_local std::vector<uint8_t> x8;
    for (long c0 = n0; c0 < n1; c0 += chunk) {
      const long c1 = std::min(n1, c0 + chunk), planes = (c1 - c0) * g.c;
      const size_t need = size_t(planes * plane + slack);
      const long total = long(need), dw = g.dw;
      const uint8_t* x = d.x + c0 * g.c * g.h * g.w;
      // the padded planes of x - zx (0 in the padding), as int16 (pair planes) or int32
      const auto fill = [&](auto* dst0, size_t size) {
        for (long pl = 0; pl < planes; pl++) {
          auto* dst = dst0 + pl * plane;
          std::fill(dst, dst + plane, 0);
          for (long y = 0; y < g.h; y++) {
            const uint8_t* src = x + (pl * g.h + y) * g.w;
            auto* row = dst + (y + g.ph) * Wp + g.pw;
            if (d.xSigned) { for (long i = 0; i < g.w; i++) row[i] = int16_t(int32_t(int8_t(src[i])) - int32_t(xZp)); }
            else { for (long i = 0; i < g.w; i++) row[i] = int16_t(int32_t(src[i]) - int32_t(xZp)); }
          }
        }
        std::fill(dst0 + planes * plane, dst0 + size, 0);
      };
      Int8DirectConv p{};
      if (dw8.quads) {
        // u: the planes as uint8 (int8 shifted by +128), padded with the (shifted) zero point zu;
        // xqs[q] = u[q] | u[q + dw] << 8 | u[q + 2 dw] << 16 | u[q + 3 dw] << 24
        const uint8_t flip = d.xSigned ? 0x80 : 0, zu = uint8_t(uint8_t(xZp) ^ flip);
        if (x8.size() < need + size_t(3 * dw)) x8.resize(need + size_t(3 * dw));
        uint8_t* u = x8.data();
        std::memset(u, zu, need + size_t(3 * dw));
        for (long pl = 0; pl < planes; pl++) {
          for (long y = 0; y < g.h; y++) {
            const uint8_t* src = x + (pl * g.h + y) * g.w;
            uint8_t* row = u + pl * plane + (y + g.ph) * Wp + g.pw;
            if (flip == 0) std::memcpy(row, src, size_t(g.w));
            else xor_bytes(row, src, g.w, flip);
          }
        }
        if (xqs.size() < need) xqs.resize(need);
        int32_t* xq = xqs.data();
        for (long q = 0; q < total; q++) {
          xq[q] = int32_t(uint32_t(u[q]) | (uint32_t(u[q + dw]) << 8) | (uint32_t(u[q + 2 * dw]) << 16) | (uint32_t(u[q + 3 * dw]) << 24));
        }
        if (corr.size() < size_t(O)) corr.resize(size_t(O));
        for (long o = 0; o < O; o++) corr[size_t(o)] = int32_t(uint32_t(zu) * uint32_t(dw8.wsum[size_t(o)]));
        p.quads = true; p.xquads = xq; p.wquads = dw8.wqs.data(); p.corr = corr.data();
      } else if (dw8.pairs) {
        // xps[q] = int16 v[q] | int16 v[q + dw] << 16 over the flat padded planes v (zeros past the end)
        if (x16.size() < need + size_t(dw)) x16.resize(need + size_t(dw));
        if (xps.size() < need) xps.resize(need);
        fill(x16.data(), need + size_t(dw));
        const int16_t* v = x16.data();
        int32_t* xq = xps.data();
        for (long q = 0; q < total; q++) xq[q] = int32_t(uint32_t(uint16_t(v[q])) | (uint32_t(uint16_t(v[q + dw])) << 16));
        p.pairs = true; p.xpairs = xq; p.wpairs = dw8.wps.data();
      } else {
        if (xs.size() < need) xs.resize(need);
        fill(xs.data(), need);
        p.x = xs.data();
      }
      p.fexact = dw8.fexact.data();
      p.c = g.c; p.hp = Hp; p.wp = Wp; p.kh = g.kh; p.kw = g.kw; p.dh = g.dh; p.dw = g.dw; p.oh = g.oh; p.ow = g.ow; p.O = O;
      p.w = dw8.ws.data(); p.mult = e.mult; p.bias = e.bias; p.kind = e.kind; p.inv = e.inv; p.zp = e.zp; p.qmin = e.qmin; p.qmax = e.qmax;
      p.out = static_cast<uint8_t*>(e.out) + c0 * O * L * es;
      isa.conv_direct(p, 0, (c1 - c0) * blocks);
    }
  };
  const double work = double(g.n) * double(g.oh) * double(Wp) * double(O) * double(K);
  if (work < 262144.0 || g.n == 1) runImages(0, g.n);
  else parallel_for(g.n, 1, runImages);
}

// The arguments int8Linear and int8Conv2d share, from index `at` on: xScale, xZeroPoint, packed,
// colsum, wScales, wZeroPoints, bias | null, params, out. Checks them against x (M x K) and runs the
// GEMM, writing the output in the epilogue's layout (rowsPerImage, imageStride, chanStride, rowStride
// as Int8Epilogue; rowsPerImage 0: row-major (M, N)).
void gemm_call(Call& c, int at, const uint8_t* x, bool xSigned, long M, long K, long rowsPerImage, const DirectInput* direct = nullptr) {
  void *pd, *csd, *sd, *zd, *bd = nullptr, *od;
  size_t pl, csl, sl, zl, bl = 0, ol, parl;
  const double xScale = c.number(at, "xScale");
  const long xZp = c.integer(at + 1, "xZeroPoint", -2147483648L, 2147483647L);
  const int pt = c.array(at + 2, &pd, &pl, "packed");
  const int cst = c.array(at + 3, &csd, &csl, "colsum"), st = c.array(at + 4, &sd, &sl, "wScales"), zt = c.array(at + 5, &zd, &zl, "wZeroPoints");
  const bool hasBias = c.has(at + 6);
  const int bt = hasBias ? c.array(at + 6, &bd, &bl, "bias") : DT_F32;
  const double* par = c.f64(at + 7, "params", 5, &parl);
  const int ot = c.array(at + 8, &od, &ol, "out");
  if (pt != DT_U8) c.fail("packed must be a Uint8Array");
  if (cst != DT_I32 || zt != DT_I32 || st != DT_F32 || bt != DT_F32) c.fail("colsum and wZeroPoints must be Int32Arrays, wScales and bias Float32Arrays");
  if (pl < size_t(kHeader)) c.fail("packed is too short to hold a packed weight (" + std::to_string(pl) + " bytes); pack it with int8Pack");
  int32_t head[4];
  std::memcpy(head, pd, sizeof(head));
  if (head[0] != kMagic || head[1] < 0 || head[1] >= kPaths) c.fail("packed does not start with a packed-weight header; pack it with int8Pack");
  const Int8GemmIsa* isa = isa_of(head[1]);
  if (isa == nullptr) c.fail(std::string("packed was packed for the '") + kNames[head[1]] + "' path, which this CPU does not support; repack it");
  const long N = head[2];
  if (head[3] != K) c.fail("x has " + std::to_string(K) + " columns but the packed weight has " + std::to_string(head[3]));
  if (long(pl) != packed_bytes(*isa, N, head[3])) c.fail("packed has " + std::to_string(pl) + " bytes, expected " + std::to_string(packed_bytes(*isa, N, K)) + "; it is corrupt");
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
  Int8Epilogue e{};
  e.zw = zw; e.cterm = cterm.data(); e.mult = mult.data(); e.bias = static_cast<const float*>(bd);
  e.kind = kind; e.out = od;
  if (rowsPerImage <= 0) { e.rowsPerImage = M; e.imageStride = 0; e.chanStride = 1; e.rowStride = N; }
  else { e.rowsPerImage = rowsPerImage; e.imageStride = N * rowsPerImage; e.chanStride = rowsPerImage; e.rowStride = 1; }
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
  if (direct != nullptr) run_direct(*isa, *direct, xZp, static_cast<const uint8_t*>(pd) + kHeader, N, K, e);
  else run_gemm(*isa, x, xSigned, M, K, static_cast<const uint8_t*>(pd) + kHeader, N, e);
}

}  // namespace

// ---- entry points (declared in binding.h; addon.cc exports them)

// int8Pack(w, rows N, cols K, path, packed, colsum): w (N x K) int8 bits in a Uint8Array, packed of
// int8PackedBytes(path, N, K) bytes, colsum Int32Array (N).
void Int8Pack(Call& c) {
  void *wd, *pd, *cd;
  size_t wl, pl, cl;
  const int wt = c.array(0, &wd, &wl, "w");
  const long N = c.integer(1, "rows", 0, 2147483647L), K = c.integer(2, "cols", 0, 2147483647L);
  const int code = int(c.integer(3, "path", 0, kPaths - 1));
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
  void* xd;
  size_t xl;
  const int xt = c.array(0, &xd, &xl, "x");
  const bool xSigned = c.flag(1);
  const long M = c.integer(2, "rows", 0, 2147483647L), K = c.integer(3, "cols", 0, 2147483647L);
  if (xt != DT_U8) c.fail("x must be a Uint8Array (int8 data travels as its bits)");
  if (double(xl) != double(M) * double(K)) c.fail("x holds " + std::to_string(xl) + " values, expected " + std::to_string(M) + " x " + std::to_string(K));
  gemm_call(c, 4, static_cast<const uint8_t*>(xd), xSigned, M, K, 0);
}

// int8Conv2d(x, xSigned, geometry, xScale, xZeroPoint, packed, colsum, wScales, wZeroPoints,
//            bias | null, params, out): a convolution (groups 1) of x (N, C, H, W; uint8 or int8 bits
// in a Uint8Array) with the packed weight (O, C kh kw), as an integer im2col (row (n, oy, ox),
// column (c, i, j); positions outside the image read x's zero point, what quantizing a zero-padded
// float image gives) and the GEMM of int8Linear, whose epilogue writes out in NCHW (N, O, OH, OW)
// order. geometry: Float64Array of 14 values (N, C, H, W, kh, kw, strides, paddings, dilations, OH, OW,
// as Conv2dGeometry in src/backend/backend.ts).
void Int8Conv2d(Call& c) {
  void* xd;
  size_t xl;
  const int xt = c.array(0, &xd, &xl, "x");
  const bool xSigned = c.flag(1);
  c.meta(2);
  const Conv2dGeom g = read_conv2d_geometry(c);
  if (xt != DT_U8) c.fail("x must be a Uint8Array (int8 data travels as its bits)");
  if (double(xl) != double(g.n) * double(g.c) * double(g.h) * double(g.w)) {
    c.fail("x holds " + std::to_string(xl) + " values, expected " + std::to_string(g.n) + " x " + std::to_string(g.c) + " x " + std::to_string(g.h) + " x " + std::to_string(g.w));
  }
  const long eh = g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1, ew = g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1;
  if (g.kh < 1 || g.kw < 1 || eh < 0 || ew < 0 || g.oh != eh / g.sh + 1 || g.ow != ew / g.sw + 1) c.fail("the geometry's output size does not follow from its input, kernel, stride, padding and dilation");
  const long xZp = c.integer(4, "xZeroPoint", -2147483648L, 2147483647L);
  const long lo = xSigned ? -128 : 0, hi = xSigned ? 127 : 255;
  if (xZp < lo || xZp > hi) c.fail("the input zero point " + std::to_string(xZp) + " is outside the input's " + (xSigned ? "int8" : "uint8") + " range (it pads the image)");
  const long L = g.oh * g.ow, M = g.n * L, K = g.c * g.kh * g.kw;
  // few output channels and stride 1: the direct convolution (int8_conv_direct.h), no im2col
  {
    void* pd;
    size_t pl;
    const int pt = c.array(5, &pd, &pl, "packed");
    int32_t head[4] = {0, 0, 0, 0};
    if (pt == DT_U8 && pl >= size_t(kHeader)) std::memcpy(head, pd, sizeof(head));
    if (head[0] == kMagic && head[2] <= kInt8DirectMaxChannels && g.sh == 1 && g.sw == 1) {
      const DirectInput d{&g, static_cast<const uint8_t*>(xd), xSigned};
      gemm_call(c, 3, nullptr, xSigned, M, K, L, &d);
      return;
    }
  }
  // a zero-point-padded copy of every (n, c) plane, so each kernel row of a patch is kw bytes read
  // without bounds checks (dw apart): padded row oy sh + i dh, column ox sw + j dw
  const long Hp = g.h + 2 * g.ph, Wp = g.w + 2 * g.pw, planes = g.n * g.c;
  const uint8_t pad = uint8_t(xZp);  // int8 bits when signed
  const uint8_t* x = static_cast<const uint8_t*>(xd);
  std::vector<uint8_t> padded(static_cast<size_t>(planes * Hp * Wp), pad);
  for (long pl = 0; pl < planes; pl++) {
    for (long y = 0; y < g.h; y++) std::memcpy(padded.data() + (pl * Hp + y + g.ph) * Wp + g.pw, x + (pl * g.h + y) * g.w, size_t(g.w));
  }
  std::vector<uint8_t> cols(static_cast<size_t>(M * K));
  const auto unfold = [&](long r0, long r1) {
    for (long m = r0; m < r1; m++) {
      const long n = m / L, l = m - n * L, oy = l / g.ow, ox = l - oy * g.ow;
      uint8_t* dst = cols.data() + m * K;
      for (long ch = 0; ch < g.c; ch++) {
        const uint8_t* plane = padded.data() + (n * g.c + ch) * Hp * Wp + ox * g.sw;
        for (long i = 0; i < g.kh; i++) {
          const uint8_t* src = plane + (oy * g.sh + i * g.dh) * Wp;
          if (g.dw == 1) { for (long jj = 0; jj < g.kw; jj++) dst[jj] = src[jj]; }
          else { for (long jj = 0; jj < g.kw; jj++) dst[jj] = src[jj * g.dw]; }
          dst += g.kw;
        }
      }
    }
  };
  if (double(M) * double(K) < 65536.0) unfold(0, M);
  else parallel_for(M, std::max<long>(1, 16384 / std::max<long>(1, K)), unfold);
  gemm_call(c, 3, cols.data(), xSigned, M, K, L);
}

namespace {

// 2x2 stride-2 max pooling of row pairs r0 .. r1 (each 2 W input bytes at x + 2 r W, OW = W / 2 outputs
// at out + r OW), through vm (W bytes per row pair): locals and restrict pointers, so the compiler
// keeps the bounds in registers and vectorizes both passes (a lambda's captured references and byte
// stores that may alias them do not).
void int8_max_pool_2x2(const uint8_t* __restrict x, uint8_t* __restrict vm, uint8_t* __restrict out, long r0, long r1, long OW, long W) {
  for (long r = r0; r < r1; r++) {
    const uint8_t* __restrict a = x + 2 * r * W;
    const uint8_t* __restrict b = a + W;
    uint8_t* __restrict v = vm + r * W;
    for (long i = 0; i < W; i++) v[i] = a[i] > b[i] ? a[i] : b[i];
  }
  for (long i = r0 * OW; i < r1 * OW; i++) {
    const uint8_t a = vm[2 * i], b = vm[2 * i + 1];
    out[i] = a > b ? a : b;
  }
}

}  // namespace

// int8MaxPool2d(x, geometry, out): max pooling of uint8 codes x (N, C, H, W) -> out (N, C, OH, OW), the
// maximum over each window's positions inside the image (0 when a window has none; padding <= kernel / 2
// rules that out), the twin of int8MaxPool2dReference (src/backends/reference/quantized.ts). Quantized
// max pooling: the codes of a per-tensor uint8 tensor order as its values. One portable loop (no CPU
// dispatch: a byte max the compiler vectorizes), planes over the thread pool.
void Int8MaxPool2d(Call& c) {
  void *xd, *od;
  size_t xl, ol;
  const int xt = c.array(0, &xd, &xl, "x");
  c.meta(1);
  const Conv2dGeom g = read_conv2d_geometry(c);
  const int ot = c.array(2, &od, &ol, "out");
  if (xt != DT_U8 || ot != DT_U8) c.fail("x and out must be Uint8Arrays (uint8 codes)");
  const long planes = g.n * g.c;
  if (double(xl) != double(planes) * double(g.h) * double(g.w)) c.fail("x holds " + std::to_string(xl) + " values, expected N C H W = " + std::to_string(planes * g.h * g.w));
  const long eh = g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1, ew = g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1;
  if (g.kh < 1 || g.kw < 1 || eh < 0 || ew < 0 || g.oh != eh / g.sh + 1 || g.ow != ew / g.sw + 1) c.fail("the geometry's output size does not follow from its input, kernel, stride, padding and dilation");
  if (double(ol) != double(planes) * double(g.oh) * double(g.ow)) c.fail("out holds " + std::to_string(ol) + " values, expected N C OH OW = " + std::to_string(planes * g.oh * g.ow));
  const uint8_t* x = static_cast<const uint8_t*>(xd);
  uint8_t* out = static_cast<uint8_t*>(od);
  const long H = g.h, W = g.w, OH = g.oh, OW = g.ow;
  const bool simple = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0 && g.dh == 1 && g.dw == 1;
  if (simple && H == 2 * OH && W == 2 * OW) {
    // even sizes: the planes are a run of row pairs, so two flat passes that the compiler vectorizes:
    // the maximum of each row pair (into vm, OH rows of W per plane), then of each column pair of vm
    // (out[i] = max(vm[2 i], vm[2 i + 1]), flat over the outputs)
    thread_local std::vector<uint8_t> vms;
    if (vms.size() < size_t(planes * OH * W)) vms.resize(size_t(planes * OH * W));
    uint8_t* vm = vms.data();
    const auto pool = [x, vm, out, OH, OW, W](long p0, long p1) { int8_max_pool_2x2(x, vm, out, p0 * OH, p1 * OH, OW, W); };
    if (planes * OH * OW < 65536) pool(0, planes);
    else parallel_for(planes, std::max<long>(1, 16384 / std::max<long>(1, OH * OW)), pool);
    return;
  }
  const auto run = [&](long p0, long p1) {
    for (long p = p0; p < p1; p++) {
      const uint8_t* src = x + p * H * W;
      uint8_t* dst = out + p * OH * OW;
      for (long oy = 0; oy < OH; oy++) {
        uint8_t* o = dst + oy * OW;
        if (simple) {
          const uint8_t* r0 = src + 2 * oy * W;
          const uint8_t* r1 = r0 + W;
          for (long ox = 0; ox < OW; ox++) {
            const uint8_t a = std::max(r0[2 * ox], r0[2 * ox + 1]), b = std::max(r1[2 * ox], r1[2 * ox + 1]);
            o[ox] = std::max(a, b);
          }
          continue;
        }
        for (long ox = 0; ox < OW; ox++) {
          int m = -1;
          for (long i = 0; i < g.kh; i++) {
            const long y = oy * g.sh - g.ph + i * g.dh;
            if (y < 0 || y >= H) continue;
            for (long j = 0; j < g.kw; j++) {
              const long xx = ox * g.sw - g.pw + j * g.dw;
              if (xx >= 0 && xx < W && src[y * W + xx] > m) m = src[y * W + xx];
            }
          }
          o[ox] = uint8_t(m < 0 ? 0 : m);
        }
      }
    }
  };
  if (planes * OH * OW < 65536) run(0, planes);
  else parallel_for(planes, std::max<long>(1, 16384 / std::max<long>(1, OH * OW)), run);
}

namespace {

// JavaScript's Math.min / Math.max on finite numbers (-0 below +0), so the twin below takes the same
// steps as chooseDynamicQparams.
inline double js_min(double a, double b) { return a < b ? a : b < a ? b : (std::signbit(a) ? a : b); }
inline double js_max(double a, double b) { return a > b ? a : b > a ? b : (std::signbit(a) ? b : a); }

// chooseDynamicQparams (src/backend/quantized.ts; ATen's ChooseQuantizationParams) over a finite range,
// the same double operations in the same order, so the bits agree: scale (a float32 value) and the
// integer zero point.
void dynamic_qparams(float mn, float mx, double qmin, double qmax, double* scaleOut, double* zpOut) {
  const double small = double(float(6.1e-5));
  double lo = js_min(double(mn), 0.0), hi = js_max(double(mx), 0.0);
  double scale = (hi - lo) / (qmax - qmin);
  if (float(scale) == 0.0f || !std::isfinite(1.0 / double(float(scale)))) scale = 0.1;
  if (scale < small) {
    const double org = scale;
    scale = small;
    if (lo == 0) hi = scale * (qmax - qmin);
    else if (hi == 0) lo = -scale * (qmax - qmin);
    else { const double amp = double(float(scale / org)); lo = double(float(lo * amp)); hi = double(float(hi * amp)); }
  }
  const double fromMin = qmin - lo / scale, fromMax = qmax - hi / scale;
  const double errMin = std::fabs(qmin) - std::fabs(lo / scale), errMax = std::fabs(qmax) - std::fabs(hi / scale);
  const double initial = errMin < errMax ? fromMin : fromMax;
  *zpOut = initial < qmin ? qmin : initial > qmax ? qmax : std::nearbyint(initial);
  *scaleOut = double(float(scale));
}

// isa.quantize over x[0, n), on the thread pool when n is large.
void quantize_all(const Int8GemmIsa& isa, const float* x, long n, float inv, long zp, bool sgn, uint8_t* out) {
  const auto run = [&](long a, long b) { isa.quantize(x + a, b - a, inv, zp, sgn, out + a); };
  if (n < 262144) run(0, n);
  else parallel_for(n, 65536, run);
}

}  // namespace

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
  quantize_all(active_isa(c), static_cast<const float*>(xd), long(xl), inv, zp, sgn, static_cast<uint8_t*>(od));
}

// int8QuantizeDynamic(x, qmax, out, result): a dynamic layer's activation quantization in one call:
// the range of x (isa.range), its qparams as chooseDynamicQparams(min, max, 0, qmax) computes them, and
// out[i] = the uint8 code of x[i] with them (isa.quantize over the whole uint8 range, the bits of
// quantizePerTensor), written into the caller's out (same length as x; the dynamic layers reuse one).
// result: Float64Array [scale, zeroPoint, index of the first NaN or +-Infinity (-1: none; then out and
// the qparams are unspecified)]. Empty x: scale 0.1, zero point 0 (the qparams of the range [0, 0]).
void Int8QuantizeDynamic(Call& c) {
  void *xd, *od;
  size_t xl, ol, rl;
  const int xt = c.array(0, &xd, &xl, "x");
  const long qmax = c.integer(1, "qmax", 1, 255);
  const int ot = c.array(2, &od, &ol, "out");
  double* res = const_cast<double*>(c.f64(3, "result", 3, &rl));
  if (xt != DT_F32 || ot != DT_U8) c.fail("x must be a Float32Array and out a Uint8Array");
  if (ol != xl) c.fail("out holds " + std::to_string(ol) + " values, x " + std::to_string(xl) + "; pass an out of x's length");
  const Int8GemmIsa& isa = active_isa(c);
  const float* x = static_cast<const float*>(xd);
  float lo = 0, hi = 0;
  const long bad = xl == 0 ? -1 : isa.range(x, long(xl), &lo, &hi);
  res[2] = double(bad);
  if (bad >= 0) return;
  double scale, zp;
  dynamic_qparams(lo, hi, 0, double(qmax), &scale, &zp);
  res[0] = scale;
  res[1] = zp;
  quantize_all(isa, x, long(xl), float(1.0 / scale), long(zp), false, static_cast<uint8_t*>(od));
}

// int8FloatRange(x, out): out = [min, max, index of the first NaN or +-Infinity (-1: none)] of a
// Float32Array (min = max = 0 when empty); min and max are unspecified when there is a NaN or infinity.
void Int8FloatRange(Call& c) {
  void* xd;
  size_t xl, ol;
  const int xt = c.array(0, &xd, &xl, "x");
  if (xt != DT_F32) c.fail("x must be a Float32Array");
  double* out = const_cast<double*>(c.f64(1, "out", 3, &ol));
  const Int8GemmIsa& isa = active_isa(c);
  float lo = 0, hi = 0;
  const long bad = xl == 0 ? -1 : isa.range(static_cast<const float*>(xd), long(xl), &lo, &hi);
  out[0] = xl == 0 ? 0 : double(lo);
  out[1] = xl == 0 ? 0 : double(hi);
  out[2] = double(bad);
}

}  // namespace ts
