// N-API entry points of the pool's per-thread kernel timing (threadpool.h): the profiler turns it
// on, runs kernels, then drains the spans (src/report/profiler.ts turns them into one Chrome-trace
// track per pool thread and into native kernel times).
#include <vector>

#include "binding.h"
#include "threadpool.h"

namespace ts {

// poolTrace(on: boolean): start or stop recording.
Napi::Value PoolTrace(const Napi::CallbackInfo& info) {
  if (!info[0].IsBoolean()) Call(info, "poolTrace").fail("expected a boolean");
  set_pool_trace(info[0].As<Napi::Boolean>().Value());
  return info.Env().Undefined();
}

// poolTraceDrain() -> { spans: Float64Array [thread, job, startUs, endUs, ...], nowUs }
Napi::Value PoolTraceDrain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<int64_t> raw;
  drain_pool_trace(raw);
  Napi::Float64Array spans = Napi::Float64Array::New(env, raw.size());
  for (size_t i = 0; i < raw.size(); i += 4) {
    spans[i] = double(raw[i]);
    spans[i + 1] = double(raw[i + 1]);
    spans[i + 2] = double(raw[i + 2]) / 1e3;
    spans[i + 3] = double(raw[i + 3]) / 1e3;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("spans", spans);
  o.Set("nowUs", Napi::Number::New(env, double(pool_trace_now_ns()) / 1e3));
  return o;
}

}  // namespace ts
