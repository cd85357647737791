// tensorslim_dist.node: Gloo process groups for src/distributed. Built only where Gloo's headers are
// installed (Debian libgloo-dev), as its own addon, so the main addon never depends on Gloo.
//
// One ProcessGroup = one Gloo context + one dedicated communication thread with a FIFO queue.
// Collectives block inside Gloo, so they never run on the JS thread nor on libuv's pool (which they
// would starve); they run on that thread in issue order (every rank must issue the same collectives
// in the same order, as with PyTorch), and each JS call returns a Promise settled through a
// thread-safe function. Buffers are the caller's typed arrays, read and written in place: the JS side
// keeps them referenced (and must not touch them) until the Promise settles.
// After the first failed collective the context is destroyed, which closes every TCP pair, so the
// other ranks fail at once ("connection closed") instead of waiting for their timeout.
#include <napi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>
#include <gloo/types.h>

#include "ring_allreduce.h"
#include "store_client.h"

namespace {

using ms = std::chrono::milliseconds;

constexpr int kAbiVersion = 6;  // 2: reduceScatter(buf, op, counts, timeoutMs?) is a ring; 3: allReduceSync; 4: allReduce16;
                                // 5: allReduce tuning (segment bytes, algorithm), allGatherStart/waitSync; 6: algorithm 3 (pipelined), depth
constexpr uint8_t kSendRecvSlotPrefix = 0x40;  // above Gloo's collective prefixes (0x01-0x08)
constexpr uint8_t kReduceScatterSlotPrefix = 0x41;  // our ring reduce-scatter (tag = the collective counter)

enum class Reduce { Sum = 0, Avg = 1, Max = 2, Min = 3 };

// One queued operation. `run` executes on the communication thread and throws on failure; the
// deferred and the references live on the JS thread only.
struct Shared;
struct Task {
  std::function<void()> run;
  std::shared_ptr<Shared> sh;
  Napi::Promise::Deferred deferred;
  std::vector<Napi::Reference<Napi::Value>> keep;
  bool ok = false;
  bool runWhenBroken = false;  // close() still tears down after an error
  std::string error;
  // Blocking calls (allReduceSync, waitSync): the JS thread waits on this instead of a Promise.
  std::shared_ptr<std::promise<void>> done;
  std::shared_future<void> finished;
  explicit Task(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

// State shared by the JS object and its thread; the thread holds a shared_ptr so a finalized object
// never leaves the thread with a dangling pointer.
struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Task*> queue;
  bool stop = false;
  Napi::ThreadSafeFunction tsfn;
  std::shared_ptr<gloo::rendezvous::Context> ctx;  // touched only on the comm thread
  std::string broken;                              // first error; later ops fail with it
  uint32_t tag = 0;                                // collective counter: equal on every rank
  int pending = 0;                                 // JS thread only: queued, unsettled tasks
  // Exit handling: the env's cleanup hook stops the thread and waits for it briefly; if the thread
  // is stuck in a collective, envGone tells it never to touch N-API objects again.
  bool envGone = false;
  bool finished = false;
  std::condition_variable doneCv;
};

template <typename T>
void reduceInto(Reduce op, void* c, const void* a, const void* b, size_t n) {
  switch (op) {
    case Reduce::Max: gloo::max<T>(c, a, b, n); break;
    case Reduce::Min: gloo::min<T>(c, a, b, n); break;
    default: gloo::sum<T>(c, a, b, n); break;
  }
}

// 16-bit floats for compressed gradients (DDP comm hooks): bfloat16 and IEEE half, converted with
// round-to-nearest-even; a sum of two rounds once, like an add in the 16-bit type.
// src/distributed/comm_hooks.ts has the same conversions (tests compare them bit for bit).
inline float bf16ToFloat(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint16_t floatToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // NaN stays NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  float f;
  if (exp == 0) {
    f = std::ldexp(static_cast<float>(man), -24);  // zero or subnormal
    return sign ? -f : f;
  }
  uint32_t u = exp == 31 ? (sign | 0x7f800000u | (man << 13)) : (sign | ((exp + 112) << 23) | (man << 13));
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint16_t floatToHalf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00u;           // NaN
  if (a >= 0x477ff000u) return sign | 0x7c00u;          // rounds to >= 65520: infinity
  if (a < 0x38800000u) {                                // below 2^-14: subnormal half (or zero)
    float m = std::fabs(f) * 16777216.0f;               // in units of 2^-24, exact
    float r = std::nearbyint(m);                        // default rounding mode: to nearest even
    return sign | static_cast<uint16_t>(r);
  }
  uint32_t mant = a + 0xfffu + ((a >> 13) & 1u);        // round the 13 dropped bits to nearest even
  return sign | static_cast<uint16_t>(((mant >> 13) - (112u << 10)) & 0xffffu);
}
void sumBf16(void* c, const void* a, const void* b, size_t n) {
  auto* o = static_cast<uint16_t*>(c);
  auto* x = static_cast<const uint16_t*>(a);
  auto* y = static_cast<const uint16_t*>(b);
  for (size_t i = 0; i < n; i++) o[i] = floatToBf16(bf16ToFloat(x[i]) + bf16ToFloat(y[i]));
}
void sumHalf(void* c, const void* a, const void* b, size_t n) {
  auto* o = static_cast<uint16_t*>(c);
  auto* x = static_cast<const uint16_t*>(a);
  auto* y = static_cast<const uint16_t*>(b);
  for (size_t i = 0; i < n; i++) o[i] = floatToHalf(halfToFloat(x[i]) + halfToFloat(y[i]));
}

const char* reduceName(Reduce op) {
  switch (op) {
    case Reduce::Avg: return "avg";
    case Reduce::Max: return "max";
    case Reduce::Min: return "min";
    default: return "sum";
  }
}

struct Buf {
  void* data;
  size_t length;     // elements
  size_t elemBytes;
  napi_typedarray_type type;
  const char* dtype;
};

Buf bufOf(const Napi::Value& v, const char* op, const char* what) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(v.Env(), std::string(op) + ": " + what + " must be a typed array");
  auto ta = v.As<Napi::TypedArray>();
  Buf b{nullptr, ta.ElementLength(), 0, ta.TypedArrayType(), ""};
  switch (b.type) {
    case napi_float32_array: b.elemBytes = 4; b.dtype = "float32"; break;
    case napi_float64_array: b.elemBytes = 8; b.dtype = "float64"; break;
    case napi_int32_array: b.elemBytes = 4; b.dtype = "int32"; break;
    default:
      throw Napi::TypeError::New(v.Env(), std::string(op) + ": " + what + " must be a Float32Array, Float64Array or Int32Array");
  }
  auto ab = ta.ArrayBuffer();
  b.data = static_cast<char*>(ab.Data()) + ta.ByteOffset();
  return b;
}

class ProcessGroup : public Napi::ObjectWrap<ProcessGroup> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "ProcessGroup", {
      InstanceMethod("connect", &ProcessGroup::Connect),
      InstanceMethod("allReduce", &ProcessGroup::AllReduce),
      InstanceMethod("allReduceSync", &ProcessGroup::AllReduceSync),
      InstanceMethod("broadcast", &ProcessGroup::Broadcast),
      InstanceMethod("allGather", &ProcessGroup::AllGather),
      InstanceMethod("allGatherStart", &ProcessGroup::AllGatherStart),
      InstanceMethod("waitSync", &ProcessGroup::WaitSync),
      InstanceMethod("reduceScatter", &ProcessGroup::ReduceScatter),
      InstanceMethod("barrier", &ProcessGroup::Barrier),
      InstanceMethod("allReduce16", &ProcessGroup::AllReduce16),
      InstanceMethod("send", &ProcessGroup::Send),
      InstanceMethod("recv", &ProcessGroup::Recv),
      InstanceMethod("close", &ProcessGroup::Close),
    });
  }

  // new ProcessGroup(rank, size, timeoutMs)
  explicit ProcessGroup(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcessGroup>(info) {
    Napi::Env env = info.Env();
    rank_ = info[0].As<Napi::Number>().Int32Value();
    size_ = info[1].As<Napi::Number>().Int32Value();
    timeout_ = ms(info[2].As<Napi::Number>().Int64Value());
    sh_ = std::make_shared<Shared>();
    sh_->tsfn = Napi::ThreadSafeFunction::New(env, Napi::Function(), "tensorslim-dist", 0, 1);
    sh_->tsfn.Unref(env);  // only pending operations keep the event loop alive
    std::shared_ptr<Shared> sh = sh_;
    thread_ = std::thread([sh]() { Loop(sh); });
    // Registered after the thread-safe function, so it runs before that function is torn down.
    napi_add_env_cleanup_hook(env, &ProcessGroup::OnEnvExit, this);
    hooked_ = true;
    env_ = env;
  }

  ~ProcessGroup() override {
    // Garbage-collected without close(): the env is alive, so the thread may finish on its own.
    if (hooked_) napi_remove_env_cleanup_hook(env_, &ProcessGroup::OnEnvExit, this);
    hooked_ = false;
    StopThread(false);
  }

  // The process is exiting (e.g. the script ended without destroyProcessGroup).
  static void OnEnvExit(void* arg) {
    auto* self = static_cast<ProcessGroup*>(arg);
    self->hooked_ = false;
    self->StopThread(true);
  }

  // Stops the thread; at env teardown waits up to 1 s for it, else cuts it off from N-API.
  void StopThread(bool envExit) {
    if (!thread_.joinable()) return;
    std::unique_lock<std::mutex> l(sh_->mu);
    sh_->stop = true;
    sh_->cv.notify_all();
    if (envExit) {
      if (sh_->doneCv.wait_for(l, std::chrono::seconds(1), [&] { return sh_->finished; })) {
        l.unlock();
        thread_.join();
        return;
      }
      sh_->envGone = true;
    }
    l.unlock();
    thread_.detach();
  }

 private:
  static void Loop(std::shared_ptr<Shared> sh) {
    for (;;) {
      Task* t = nullptr;
      {
        std::unique_lock<std::mutex> l(sh->mu);
        sh->cv.wait(l, [&] { return sh->stop || !sh->queue.empty(); });
        if (sh->queue.empty()) break;  // stop requested and nothing left
        t = sh->queue.front();
        sh->queue.pop_front();
      }
      if (!sh->broken.empty() && !t->runWhenBroken) {
        t->error = "the process group is broken by an earlier error: " + sh->broken;
      } else {
        try {
          t->run();
          t->ok = true;
        } catch (const std::exception& e) {
          t->error = e.what();
        } catch (...) {
          t->error = "unknown C++ exception";
        }
        if (!t->ok && sh->ctx) {
          sh->broken = t->error;
          sh->ctx.reset();  // closes every pair: peers fail now instead of at their timeout
        }
      }
      if (t->done) {  // a blocking call: its JS thread is waiting and owns the task
        std::shared_ptr<std::promise<void>> d = t->done;  // the task may be freed once the value is set
        d->set_value();
        continue;
      }
      {
        std::lock_guard<std::mutex> l(sh->mu);
        if (sh->envGone) continue;  // the env is gone: leak the task rather than touch N-API
      }
      sh->tsfn.NonBlockingCall(t, [](Napi::Env env, Napi::Function, Task* task) {
        Napi::HandleScope scope(env);
        if (--task->sh->pending == 0) task->sh->tsfn.Unref(env);
        if (task->ok) task->deferred.Resolve(env.Undefined());
        else task->deferred.Reject(Napi::Error::New(env, task->error).Value());
        delete task;
      });
    }
    sh->ctx.reset();
    std::lock_guard<std::mutex> l(sh->mu);
    if (!sh->envGone) sh->tsfn.Release();
    sh->finished = true;
    sh->doneCv.notify_all();
  }

  Napi::Value Enqueue(Napi::Env env, Task* t) {
    Napi::Promise p = t->deferred.Promise();
    if (closed_) {
      t->deferred.Reject(Napi::Error::New(env, "the process group was destroyed").Value());
      delete t;
      return p;
    }
    // Keep the event loop alive while a task is pending; the settle callback drops the count.
    t->sh = sh_;
    if (sh_->pending++ == 0) sh_->tsfn.Ref(env);
    {
      std::lock_guard<std::mutex> l(sh_->mu);
      sh_->queue.push_back(t);
    }
    sh_->cv.notify_one();
    return p;
  }

  std::string where(const char* op) const {
    return std::string(op) + " (rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ")";
  }

  ms opTimeout(const Napi::Value& v) const {
    if (v.IsNumber() && v.As<Napi::Number>().Int64Value() > 0) return ms(v.As<Napi::Number>().Int64Value());
    return timeout_;
  }

  Task* NewTask(const Napi::CallbackInfo& info) {
    Task* t = new Task(info.Env());
    return t;
  }

  // connect(storeHost, storePort, token, prefix, deviceHost)
  Napi::Value Connect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string host = info[0].As<Napi::String>();
    int port = info[1].As<Napi::Number>().Int32Value();
    std::string token = info[2].As<Napi::String>();
    std::string prefix = info[3].As<Napi::String>();
    std::string deviceHost = info[4].As<Napi::String>();
    Task* t = NewTask(info);
    auto sh = sh_;
    int rank = rank_, size = size_;
    ms timeout = timeout_;
    t->run = [=]() {
      tsdist::StoreClient store(host, port, token, timeout);
      gloo::rendezvous::PrefixStore prefixed(prefix, store);
      gloo::transport::tcp::attr attr;
      attr.hostname = deviceHost;
      auto dev = gloo::transport::tcp::CreateDevice(attr);
      auto ctx = std::make_shared<gloo::rendezvous::Context>(rank, size);
      ctx->setTimeout(timeout);
      try {
        ctx->connectFullMesh(prefixed, dev);
      } catch (const std::exception& e) {
        throw std::runtime_error(std::string("connecting the Gloo full mesh: ") + e.what());
      }
      sh->ctx = ctx;
    };
    return Track(env, t);
  }

  Napi::Value Track(Napi::Env env, Task* t) {
    Napi::Value p = Enqueue(env, t);
    return p;
  }

  static std::shared_ptr<gloo::rendezvous::Context> need(const std::shared_ptr<Shared>& sh, const std::string& w) {
    if (!sh->ctx) throw std::runtime_error(w + ": the process group is not connected");
    return sh->ctx;
  }

  // A task that runs `op(ctx, tag)` on the connected context with the next collective tag (nothing,
  // and no tag, when `skip`), its errors prefixed with `w`; info[k] for each k in `keep` stays
  // referenced until the task is freed.
  template <typename F>
  Task* GlooTask(const Napi::CallbackInfo& info, std::initializer_list<int> keep, const std::string& w, bool skip, F op) {
    Task* t = NewTask(info);
    for (int k : keep) t->keep.push_back(Napi::Persistent(info[k]));
    auto sh = sh_;
    t->run = [sh, w, skip, op]() {
      auto ctx = need(sh, w);
      if (skip) return;
      const uint32_t tag = sh->tag++;
      try { op(ctx, tag); } catch (const std::exception& e) { throw std::runtime_error(w + ": " + e.what()); }
    };
    return t;
  }

  // allReduce(buf, reduceCode, timeoutMs?)
  Napi::Value AllReduce(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Buf b = bufOf(info[0], "allReduce", "the buffer");
    Reduce op = static_cast<Reduce>(info[1].As<Napi::Number>().Int32Value());
    if (op == Reduce::Avg && b.type == napi_int32_array) throw Napi::TypeError::New(env, "allReduce: avg of int32 is not supported; use sum");
    return RunAllReduce(info, b, op, "allReduce");
  }

  // allReduceSync(buf, reduceCode, timeoutMs?): the same allreduce, queued behind every earlier
  // operation, but the JS thread blocks until it is done and a failure throws. For autograd rules
  // (tensor parallelism), which run synchronously inside backward().
  Napi::Value AllReduceSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Buf b = bufOf(info[0], "allReduceSync", "the buffer");
    Reduce op = static_cast<Reduce>(info[1].As<Napi::Number>().Int32Value());
    if (op == Reduce::Avg && b.type == napi_int32_array) throw Napi::TypeError::New(env, "allReduceSync: avg of int32 is not supported; use sum");
    if (closed_) throw Napi::Error::New(env, "allReduceSync: the process group was destroyed");
    Task* t = MakeAllReduce(info, b, op, "allReduce");
    Wait(env, Start(t));
    return env.Undefined();
  }

  // Queues a task whose completion the JS thread waits for itself (Wait), not through a Promise.
  uint32_t Start(Task* t) {
    t->done = std::make_shared<std::promise<void>>();
    t->finished = t->done->get_future().share();
    const uint32_t id = nextStarted_++;
    started_[id] = t;
    {
      std::lock_guard<std::mutex> l(sh_->mu);
      sh_->queue.push_back(t);
    }
    sh_->cv.notify_one();
    return id;
  }

  // Blocks the JS thread until started task `id` is done; throws its error. The task (and the
  // references that kept its buffers alive) is freed here, on the JS thread.
  void Wait(Napi::Env env, uint32_t id) {
    auto it = started_.find(id);
    if (it == started_.end()) throw Napi::Error::New(env, "waitSync: operation " + std::to_string(id) + " is unknown or was already waited for");
    std::unique_ptr<Task> owned(it->second);
    started_.erase(it);
    owned->finished.wait();
    if (!owned->ok) throw Napi::Error::New(env, owned->error);
  }

  // waitSync(id): blocks until the operation started by allGatherStart(...) is done (throws on failure).
  Napi::Value WaitSync(const Napi::CallbackInfo& info) {
    Wait(info.Env(), info[0].As<Napi::Number>().Uint32Value());
    return info.Env().Undefined();
  }

  Napi::Value RunAllReduce(const Napi::CallbackInfo& info, const Buf& b, Reduce op, const char* name) {
    return Track(info.Env(), MakeAllReduce(info, b, op, name));
  }

  // allReduce(buf, op, timeoutMs?, segmentBytes?, algorithm?, depth?): segmentBytes > 0 sets the ring's
  // largest segment (Gloo's default: 1 MiB; ours: RingOptions), algorithm 1 Gloo's ring, 2 Gloo's
  // bcube (0: Gloo's choice, the ring), 3 our pipelined ring on Gloo's transport (ring_allreduce.cc),
  // whose temp segments `depth` (> 0) sets.
  Task* MakeAllReduce(const Napi::CallbackInfo& info, const Buf& b, Reduce op, const char* name) {
    ms timeout = opTimeout(info[2]);
    const double segArg = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().DoubleValue() : 0;
    const int algoArg = info.Length() > 4 && info[4].IsNumber() ? info[4].As<Napi::Number>().Int32Value() : 0;
    const int depthArg = info.Length() > 5 && info[5].IsNumber() ? info[5].As<Napi::Number>().Int32Value() : 0;
    if (!(segArg >= 0) || segArg > 4294967296.0) throw Napi::RangeError::New(info.Env(), std::string(name) + ": segment bytes must be between 0 (Gloo's default) and 4 GiB, got " + std::to_string(segArg));
    if (algoArg < 0 || algoArg > 3) throw Napi::RangeError::New(info.Env(), std::string(name) + ": algorithm code must be 0 (default), 1 (ring), 2 (bcube) or 3 (pipelined), got " + std::to_string(algoArg));
    if (depthArg < 0 || depthArg > 1024) throw Napi::RangeError::New(info.Env(), std::string(name) + ": pipeline depth must be between 1 and 1024 segments (0: the default), got " + std::to_string(depthArg));
    const size_t segmentBytes = static_cast<size_t>(segArg);
    std::string w = where(name) + " [" + b.dtype + " x " + std::to_string(b.length) + ", " + reduceName(op) + "]";
    Task* t = NewTask(info);
    t->keep.push_back(Napi::Persistent(info[0]));
    auto sh = sh_;
    int size = size_;
    t->run = [=]() {
      auto ctx = need(sh, w);
      if (b.length == 0) return;
      if (algoArg == 3) {
        tsdist::RingOptions ro;
        if (segmentBytes > 0) ro.segmentBytes = segmentBytes;
        if (depthArg > 0) ro.depth = depthArg;
        const tsdist::RingDtype dt = b.type == napi_float32_array ? tsdist::RingDtype::Float32 : b.type == napi_float64_array ? tsdist::RingDtype::Float64 : tsdist::RingDtype::Int32;
        try {
          tsdist::pipelinedAllReduce(*ctx, b.data, b.length, dt, static_cast<tsdist::RingReduce>(op), sh->tag++, timeout, ro);
        } catch (const std::exception& e) {
          throw std::runtime_error(w + ": " + e.what());
        }
        return;
      }
      gloo::AllreduceOptions o(ctx);
      o.setTag(sh->tag++);
      o.setTimeout(timeout);
      if (segmentBytes > 0) o.setMaxSegmentSize(std::max(segmentBytes, b.elemBytes));
      if (algoArg == 1) o.setAlgorithm(gloo::AllreduceOptions::Algorithm::RING);
      if (algoArg == 2) o.setAlgorithm(gloo::AllreduceOptions::Algorithm::BCUBE);
      try {
        switch (b.type) {
          case napi_float32_array:
            o.setOutput(static_cast<float*>(b.data), b.length);
            o.setReduceFunction([op](void* c, const void* a, const void* bb, size_t n) { reduceInto<float>(op, c, a, bb, n); });
            break;
          case napi_float64_array:
            o.setOutput(static_cast<double*>(b.data), b.length);
            o.setReduceFunction([op](void* c, const void* a, const void* bb, size_t n) { reduceInto<double>(op, c, a, bb, n); });
            break;
          default:
            o.setOutput(static_cast<int32_t*>(b.data), b.length);
            o.setReduceFunction([op](void* c, const void* a, const void* bb, size_t n) { reduceInto<int32_t>(op, c, a, bb, n); });
        }
        gloo::allreduce(o);
      } catch (const std::exception& e) {
        throw std::runtime_error(w + ": " + e.what());
      }
      if (op == Reduce::Avg) {
        if (b.type == napi_float32_array) {
          float* p = static_cast<float*>(b.data);
          const float inv = 1.0f / static_cast<float>(size);
          for (size_t i = 0; i < b.length; i++) p[i] *= inv;
        } else {
          double* p = static_cast<double*>(b.data);
          for (size_t i = 0; i < b.length; i++) p[i] /= size;
        }
      }
    };
    return t;
  }

  // allReduce16(buf: Uint16Array, format: 0 bfloat16 | 1 float16, timeoutMs?): sum of 16-bit floats
  // in place, each addition rounded to the format (the DDP compression hooks).
  Napi::Value AllReduce16(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint16_array) {
      throw Napi::TypeError::New(env, "allReduce16: the buffer must be a Uint16Array of bfloat16 or float16 bits");
    }
    auto ta = info[0].As<Napi::TypedArray>();
    uint16_t* data = reinterpret_cast<uint16_t*>(static_cast<char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
    size_t length = ta.ElementLength();
    bool half = info[1].As<Napi::Number>().Int32Value() == 1;
    ms timeout = opTimeout(info[2]);
    std::string w = where("allReduce16") + " [" + (half ? "float16" : "bfloat16") + " x " + std::to_string(length) + ", sum]";
    Task* t = NewTask(info);
    t->keep.push_back(Napi::Persistent(info[0]));
    auto sh = sh_;
    t->run = [=]() {
      auto ctx = need(sh, w);
      if (length == 0) return;
      gloo::AllreduceOptions o(ctx);
      o.setTag(sh->tag++);
      o.setTimeout(timeout);
      o.setOutput(data, length);
      o.setReduceFunction(half ? &sumHalf : &sumBf16);
      try { gloo::allreduce(o); } catch (const std::exception& e) { throw std::runtime_error(w + ": " + e.what()); }
    };
    return Track(env, t);
  }

  // broadcast(buf, root, timeoutMs?)
  Napi::Value Broadcast(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Buf b = bufOf(info[0], "broadcast", "the buffer");
    int root = info[1].As<Napi::Number>().Int32Value();
    ms timeout = opTimeout(info[2]);
    std::string w = where("broadcast") + " [" + b.dtype + " x " + std::to_string(b.length) + ", root " + std::to_string(root) + "]";
    return Track(env, GlooTask(info, {0}, w, b.length == 0, [=](const std::shared_ptr<gloo::rendezvous::Context>& ctx, uint32_t tag) {
      gloo::BroadcastOptions o(ctx);
      o.setTag(tag);
      o.setTimeout(timeout);
      o.setRoot(root);
      o.setOutput(static_cast<char*>(b.data), b.length * b.elemBytes);
      gloo::broadcast(o);
    }));
  }

  // allGather(input, output, timeoutMs?): output.length == size * input.length
  Napi::Value AllGather(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Buf in = bufOf(info[0], "allGather", "the input");
    Buf out = bufOf(info[1], "allGather", "the output");
    ms timeout = opTimeout(info[2]);
    std::string w = where("allGather") + " [" + in.dtype + " x " + std::to_string(in.length) + "]";
    return Track(env, GlooTask(info, {0, 1}, w, in.length == 0, [=](const std::shared_ptr<gloo::rendezvous::Context>& ctx, uint32_t tag) {
      gloo::AllgatherOptions o(ctx);
      o.setTag(tag);
      o.setTimeout(timeout);
      o.setInput(static_cast<char*>(in.data), in.length * in.elemBytes);
      o.setOutput(static_cast<char*>(out.data), out.length * out.elemBytes);
      gloo::allgather(o);
    }));
  }

  // allGatherStart(buf, timeoutMs?): an in-place all-gather queued like every other operation,
  // whose end the JS thread waits for with waitSync(id) (blocking) instead of a Promise: buf holds
  // `size` equal chunks, chunk `rank` this rank's input; afterwards every chunk holds its rank's.
  // Gloo's ring all-gather: each rank sends and receives (size-1)/size of the buffer, half of what
  // an allreduce moves. The caller must not touch buf until waitSync returns (ZeRO-3 starts the
  // next unit's gather, computes, then waits: prefetch from synchronous code).
  Napi::Value AllGatherStart(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Buf b = bufOf(info[0], "allGatherStart", "the buffer");
    if (closed_) throw Napi::Error::New(env, "allGatherStart: the process group was destroyed");
    if (b.length % static_cast<size_t>(size_) != 0) {
      throw Napi::RangeError::New(env, "allGatherStart: the buffer's " + std::to_string(b.length) + " elements are not " + std::to_string(size_) + " equal chunks (one per rank); pad it to a multiple of the world size");
    }
    ms timeout = opTimeout(info[1]);
    std::string w = where("allGather") + " [" + b.dtype + " x " + std::to_string(b.length / size_) + " per rank, in place]";
    return Napi::Number::New(env, Start(GlooTask(info, {0}, w, b.length == 0, [=](const std::shared_ptr<gloo::rendezvous::Context>& ctx, uint32_t tag) {
      gloo::AllgatherOptions o(ctx);
      o.setTag(tag);
      o.setTimeout(timeout);
      o.setOutput(static_cast<char*>(b.data), b.length * b.elemBytes);  // no input: in place
      gloo::allgather(o);
    })));
  }

  // reduceScatter(buf, reduceCode, counts, timeoutMs?): buf holds `size` consecutive chunks, chunk
  // r of counts[r] elements (uneven sizes allowed, zeros too); on return chunk `rank` holds the
  // reduction of every rank's chunk `rank` (the other chunks are scratch). A ring over Gloo's
  // point-to-point unbound buffers, on this communication thread: in step s (0..size-2) rank r sends
  // its partial chunk (r-s-1) mod size to rank r+1 and receives chunk (r-s-2) mod size from rank r-1,
  // reducing it into its own copy; after size-1 steps chunk r has passed through every rank and
  // ends on rank r complete. Each rank sends and receives (size-1)/size of the buffer (for equal
  // chunks), half of what an allreduce moves. (Gloo 0.5's ReduceScatterHalvingDoubling, its only
  // reduce-scatter, left wrong chunks on 3 ranks when we tried it, so it is not used.)
  Napi::Value ReduceScatter(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Buf b = bufOf(info[0], "reduceScatter", "the buffer");
    Reduce op = static_cast<Reduce>(info[1].As<Napi::Number>().Int32Value());
    if (op == Reduce::Avg && b.type == napi_int32_array) throw Napi::TypeError::New(env, "reduceScatter: avg of int32 is not supported; use sum");
    if (!info[2].IsArray()) throw Napi::TypeError::New(env, "reduceScatter: counts must be an array of one element count per rank");
    auto arr = info[2].As<Napi::Array>();
    if (static_cast<int>(arr.Length()) != size_) {
      throw Napi::RangeError::New(env, "reduceScatter: counts has " + std::to_string(arr.Length()) + " entries, expected one per rank (" + std::to_string(size_) + ")");
    }
    std::vector<size_t> counts(size_), offsets(size_);
    size_t total = 0;
    for (int r = 0; r < size_; r++) {
      Napi::Value v = arr.Get(static_cast<uint32_t>(r));
      double c = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
      if (!(c >= 0) || c != static_cast<double>(static_cast<size_t>(c))) throw Napi::RangeError::New(env, "reduceScatter: counts[" + std::to_string(r) + "] is not a non-negative integer");
      counts[r] = static_cast<size_t>(c);
      offsets[r] = total;
      total += counts[r];
    }
    if (total != b.length) {
      throw Napi::RangeError::New(env, "reduceScatter: counts add up to " + std::to_string(total) + " elements but the buffer holds " + std::to_string(b.length));
    }
    ms timeout = opTimeout(info[3]);
    std::string w = where("reduceScatter") + " [" + b.dtype + " x " + std::to_string(b.length) + ", " + reduceName(op) + "]";
    Task* t = NewTask(info);
    t->keep.push_back(Napi::Persistent(info[0]));
    auto sh = sh_;
    int size = size_, rank = rank_;
    t->run = [=]() {
      auto ctx = need(sh, w);
      const uint32_t tag = sh->tag++;
      char* base = static_cast<char*>(b.data);
      const size_t eb = b.elemBytes;
      if (size > 1) {
        size_t maxCount = *std::max_element(counts.begin(), counts.end());
        std::vector<char> scratch(std::max<size_t>(maxCount * eb, 1));
        const int next = (rank + 1) % size, prev = (rank + size - 1) % size;
        const uint64_t slot = gloo::Slot::build(kReduceScatterSlotPrefix, tag);
        for (int s = 0; s < size - 1; s++) {
          const int sendChunk = ((rank - s - 1) % size + size) % size;
          const int recvChunk = ((rank - s - 2) % size + size) % size;
          const size_t sendBytes = counts[sendChunk] * eb, recvBytes = counts[recvChunk] * eb;
          // An unbound buffer of zero bytes is still a message: every step exchanges one, so the
          // ring stays in lockstep even where a chunk is empty.
          auto out = ctx->createUnboundBuffer(base + offsets[sendChunk] * eb, sendBytes);
          auto in = ctx->createUnboundBuffer(scratch.data(), recvBytes);
          bool done;
          try {
            in->recv(prev, slot);
            out->send(next, slot);
            done = in->waitRecv(timeout) && out->waitSend(timeout);
          } catch (const std::exception& e) {
            throw std::runtime_error(w + " (ring step " + std::to_string(s + 1) + " of " + std::to_string(size - 1) + "): " + e.what());
          }
          if (!done) throw std::runtime_error(w + ": timed out after " + std::to_string(timeout.count()) + " ms in ring step " + std::to_string(s + 1));
          void* dst = base + offsets[recvChunk] * eb;
          const size_t n = counts[recvChunk];
          switch (b.type) {
            case napi_float32_array: reduceInto<float>(op, dst, dst, scratch.data(), n); break;
            case napi_float64_array: reduceInto<double>(op, dst, dst, scratch.data(), n); break;
            default: reduceInto<int32_t>(op, dst, dst, scratch.data(), n);
          }
        }
      }
      if (op == Reduce::Avg) {
        const size_t n = counts[rank];
        if (b.type == napi_float32_array) {
          float* p = reinterpret_cast<float*>(base) + offsets[rank];
          const float inv = 1.0f / static_cast<float>(size);
          for (size_t i = 0; i < n; i++) p[i] *= inv;
        } else {
          double* p = reinterpret_cast<double*>(base) + offsets[rank];
          for (size_t i = 0; i < n; i++) p[i] /= size;
        }
      }
    };
    return Track(env, t);
  }

  // barrier(timeoutMs?)
  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ms timeout = opTimeout(info[0]);
    std::string w = where("barrier");
    Task* t = NewTask(info);
    auto sh = sh_;
    t->run = [=]() {
      auto ctx = need(sh, w);
      gloo::BarrierOptions o(ctx);
      o.setTag(sh->tag++);
      o.setTimeout(timeout);
      try { gloo::barrier(o); } catch (const std::exception& e) { throw std::runtime_error(w + ": " + e.what()); }
    };
    return Track(env, t);
  }

  // send(buf, dst, tag, timeoutMs?) / recv(buf, src, tag, timeoutMs?)
  Napi::Value Send(const Napi::CallbackInfo& info) { return PointToPoint(info, true); }
  Napi::Value Recv(const Napi::CallbackInfo& info) { return PointToPoint(info, false); }

  Napi::Value PointToPoint(const Napi::CallbackInfo& info, bool isSend) {
    Napi::Env env = info.Env();
    const char* name = isSend ? "send" : "recv";
    Buf b = bufOf(info[0], name, "the buffer");
    int peer = info[1].As<Napi::Number>().Int32Value();
    uint32_t tag = info[2].As<Napi::Number>().Uint32Value();
    ms timeout = opTimeout(info[3]);
    std::string w = where(name) + " [" + b.dtype + " x " + std::to_string(b.length) + (isSend ? ", to rank " : ", from rank ") +
                    std::to_string(peer) + ", tag " + std::to_string(tag) + "]";
    Task* t = NewTask(info);
    t->keep.push_back(Napi::Persistent(info[0]));
    auto sh = sh_;
    t->run = [=]() {
      auto ctx = need(sh, w);
      auto ub = ctx->createUnboundBuffer(b.data, b.length * b.elemBytes);
      const uint64_t slot = gloo::Slot::build(kSendRecvSlotPrefix, tag);
      bool done;
      try {
        if (isSend) { ub->send(peer, slot); done = ub->waitSend(timeout); }
        else { ub->recv(peer, slot); done = ub->waitRecv(timeout); }
      } catch (const std::exception& e) {
        throw std::runtime_error(w + ": " + e.what());
      }
      if (!done) throw std::runtime_error(w + ": timed out after " + std::to_string(timeout.count()) + " ms");
    };
    return Track(env, t);
  }

  // close(): Promise; destroys the context on the comm thread, then the thread ends.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Task* t = NewTask(info);
    Napi::Promise p = t->deferred.Promise();
    if (closed_) {
      t->deferred.Resolve(env.Undefined());
      delete t;
      return p;
    }
    auto sh = sh_;
    t->run = [sh]() { sh->ctx.reset(); };
    t->runWhenBroken = true;
    // Queue the close task, then the stop flag: the thread runs what was queued first, then exits.
    t->sh = sh_;
    if (sh_->pending++ == 0) sh_->tsfn.Ref(env);
    {
      std::lock_guard<std::mutex> l(sh_->mu);
      sh_->queue.push_back(t);
      sh_->stop = true;
    }
    sh_->cv.notify_one();
    closed_ = true;
    return p;
  }

  int rank_ = 0, size_ = 1;
  ms timeout_{30000};
  std::shared_ptr<Shared> sh_;
  std::thread thread_;
  bool hooked_ = false;
  napi_env env_ = nullptr;
  bool closed_ = false;
  // Operations started for a blocking wait (allReduceSync, allGatherStart), by id; JS thread only.
  std::map<uint32_t, Task*> started_;
  uint32_t nextStarted_ = 1;
};

Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  exports.Set("ProcessGroup", ProcessGroup::Init(env));
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  return exports;
}

}  // namespace

NODE_API_MODULE(tensorslim_dist, InitAll)
