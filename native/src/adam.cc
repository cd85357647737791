// Fused Adam/AdamW update over contiguous arrays (the loop is the active path's adam_f32/adam_f64,
// kernels_impl.h adam_loop, which documents hp), and its entry point adam. TypeScript binding:
// src/backends/native/adam.ts.
#include "binding.h"
#include "common.h"
#include "threadpool.h"

namespace ts {
namespace {

void adam(int dtype, void* p, const void* g, void* m, void* v, void* vmax, long n, const double* hp) {
  const KernelTable* t = active();
  parallel_for(n, 65536, [&](long b, long e) {
    if (dtype == DT_F32) t->adam_f32(static_cast<float*>(p) + b, static_cast<const float*>(g) + b, static_cast<float*>(m) + b,
                                     static_cast<float*>(v) + b, vmax ? static_cast<float*>(vmax) + b : nullptr, e - b, hp);
    else t->adam_f64(static_cast<double*>(p) + b, static_cast<const double*>(g) + b, static_cast<double*>(m) + b,
                     static_cast<double*>(v) + b, vmax ? static_cast<double*>(vmax) + b : nullptr, e - b, hp);
  });
}

}  // namespace

// ---- entry points (declared in binding.h; addon.cc exports them)

// adam(p, g, m, v, vmax | null, hp): contiguous arrays of one dtype and length; hp Float64Array(10)
void Adam(Call& c) {
  void* p;
  size_t n;
  const int dt = c.array(0, &p, &n);
  if (!is_float(dt)) c.fail("parameter must be float32 or float64");
  void* ptrs[4] = {nullptr, nullptr, nullptr, nullptr};
  const char* names[4] = {"grad", "expAvg", "expAvgSq", "maxExpAvgSq"};
  for (int i = 0; i < 4; i++) {
    if (i == 3 && !c.has(4)) break;
    size_t len;
    if (c.array(1 + i, &ptrs[i], &len) != dt || len != n) c.fail(std::string(names[i]) + " must be " + dt_name(dt) + " of length " + std::to_string(n));
  }
  size_t nhp;
  const double* hp = c.f64(5, "hyper-parameters", 10, &nhp);
  if (hp[8] != 0 && ptrs[3] == nullptr) c.fail("amsgrad needs a maxExpAvgSq buffer");
  adam(dt, p, ptrs[0], ptrs[1], ptrs[2], ptrs[3], long(n), hp);
}

}  // namespace ts
