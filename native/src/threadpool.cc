// Thread pool: see threadpool.h. One job at a time (N-API calls arrive on the JS thread only;
// nested calls run inline).
//
// Job protocol. `state_` packs (generation:32 | ntasks:16 | next:16). The caller stores the task
// function, resets `done_`, then publishes a new generation with next = 0. Anyone claims task
// `next` by a compare-and-swap that also checks the generation, so a worker that wakes up late,
// after the job ended (all tasks claimed), fails the CAS and touches nothing. The task function is
// read only after a successful claim, when the job cannot have ended (its claimed task is not
// done), so it is always the live one. The caller returns when done_ == ntasks.
//
// Home jobs (run_tasks_home): the tasks are split into one contiguous block per thread (thread t's
// home block is [t * ntasks / n, (t + 1) * ntasks / n)), each with its own cursor packed as
// (generation:32 | next:16 | end:16) on its own cache line. A thread claims from its own cursor
// first (from the front), then from the others' (from their back, in thread order after its own),
// each claim a CAS that checks the
// generation, so the late-worker argument above holds for every cursor. The caller writes all
// cursors before it publishes the generation in state_, whose own next is set to ntasks (nothing
// to claim there), so a thread that sees the generation sees the cursors. When every thread runs,
// each gets the same rows of a GEMV at every call and its core's L2 keeps them; a thread that the
// OS has descheduled only loses its block to the others, as with ordinary jobs.
#include "threadpool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__linux__)
#include <sched.h>
#endif

namespace ts {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

constexpr long kMaxTasks = 0xffff;
inline uint32_t gen_of(uint64_t s) { return uint32_t(s >> 32); }
inline long total_of(uint64_t s) { return long((s >> 16) & 0xffff); }
inline long next_of(uint64_t s) { return long(s & 0xffff); }

thread_local bool tl_in_job = false;

// How long an idle worker spins for the next job before it sleeps, and how long the caller spins
// for the last tasks of its job: by the clock, not by a count of pause instructions (a pause takes
// about 10 cycles on some x86 cores and 140 on others). Back-to-back small jobs (a batch-1 forward:
// one GEMV job per layer, a few microseconds of JavaScript between them) then find the workers
// awake on every CPU, as OpenMP's spin-then-sleep wait policy does; an idle pool sleeps after this.
constexpr int64_t kIdleSpinNs = 200000;
constexpr int64_t kDoneSpinNs = 100000;

// Pool tracing (threadpool.h): one span buffer per thread index, written only by that thread,
// read by drain_pool_trace between jobs (a worker's last push precedes its done_ increment, which
// the caller waits for, so the caller sees it).
constexpr int kMaxTraceThreads = 1025;
std::atomic<bool> g_trace{false};
thread_local int tl_tid = 0;
std::vector<int64_t> g_spans[kMaxTraceThreads];
inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
inline void record_span(uint32_t job, int64_t start, int64_t end) {
  std::vector<int64_t>& v = g_spans[tl_tid < kMaxTraceThreads ? tl_tid : kMaxTraceThreads - 1];
  v.push_back(job); v.push_back(start); v.push_back(end);
}

inline uint64_t pack_cursor(uint32_t g, long next, long end) { return (uint64_t(g) << 32) | (uint64_t(next) << 16) | uint64_t(end); }
inline long cursor_end(uint64_t c) { return long(c & 0xffff); }

struct alignas(64) Cursor {
  std::atomic<uint64_t> v{0};
};

class Pool {
 public:
  explicit Pool(int n) { start(n); }
  ~Pool() { stop(); }

  int size() const { return n_; }

  void resize(int n) {
    if (n == n_) return;
    stop();
    start(n);
  }

  // ntasks in [2, kMaxTasks]; home: a home job (see the top of this file).
  void run(long ntasks, const std::function<void(long)>& fn, bool home) {
    fn_ = &fn;
    ntasks_ = ntasks;
    done_.store(0, std::memory_order_relaxed);
    const uint32_t g = gen_of(state_.load(std::memory_order_relaxed)) + 1;
    if (home) {
      for (int t = 0; t < n_; t++) {
        cursors_[t].v.store(pack_cursor(g, ntasks * t / n_, ntasks * (t + 1) / n_), std::memory_order_relaxed);
      }
    }
    // seq_cst: orders the cursors (home jobs) before the generation
    state_.store((uint64_t(g) << 32) | (uint64_t(ntasks) << 16) | uint64_t(home ? ntasks : 0), std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      { std::lock_guard<std::mutex> lk(m_); }
      cv_.notify_all();
    }
    work(g);
    // Only tasks claimed by other threads can remain. Spin briefly; if a worker is slow (the OS
    // descheduled it), sleep until the last task ends instead of burning the core it may need.
    int64_t t0 = 0;
    for (int spins = 0; done_.load(std::memory_order_acquire) != ntasks; spins++) {
      cpu_relax();
      if ((spins & 63) != 0) continue;
      if (t0 == 0) { t0 = now_ns(); continue; }
      if (now_ns() - t0 < kDoneSpinNs) continue;
      std::unique_lock<std::mutex> lk(m_);
      waiting_.store(true, std::memory_order_seq_cst);
      cv_done_.wait(lk, [&] { return done_.load(std::memory_order_seq_cst) == ntasks_; });
      waiting_.store(false, std::memory_order_relaxed);
      break;
    }
    fn_ = nullptr;
  }

 private:
  // Claim and run tasks of generation g until none are left: from state_ (ordinary jobs), then
  // from the home cursors, this thread's own first (home jobs; for an ordinary job every cursor
  // holds an older generation, so no claim succeeds there).
  void work(uint32_t g) {
    uint64_t s = state_.load(std::memory_order_acquire);
    if (gen_of(s) != g) return;
    const long total = total_of(s);
    for (;;) {
      if (gen_of(s) != g || next_of(s) >= total_of(s)) break;
      if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      run_task(g, next_of(s), total);
      s = state_.load(std::memory_order_acquire);
    }
    const int n = n_, me = tl_tid < n ? tl_tid : 0;
    for (int k = 0; k < n; k++) {
      // own block from its front (next++), the others' from their back (end--): a thread that
      // helps takes the rows its owner would reach last
      const bool own = k == 0;
      Cursor& c = cursors_[(me + k) % n];
      uint64_t v = c.v.load(std::memory_order_acquire);
      for (;;) {
        const long next = long((v >> 16) & 0xffff), end = cursor_end(v);
        if (gen_of(v) != g || next >= end) break;
        if (!c.v.compare_exchange_weak(v, own ? v + (uint64_t(1) << 16) : v - 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
        run_task(g, own ? next : end - 1, total);
        v = c.v.load(std::memory_order_acquire);
      }
    }
  }

  // Run claimed task i of generation g (a job of `total` tasks) and count it done.
  void run_task(uint32_t g, long i, long total) {
    const bool prev = tl_in_job;
    tl_in_job = true;
    const bool trace = g_trace.load(std::memory_order_relaxed);
    const int64_t t0 = trace ? now_ns() : 0;
    (*fn_)(i);
    if (trace) record_span(g, t0, now_ns());
    tl_in_job = prev;
    if (done_.fetch_add(1, std::memory_order_seq_cst) + 1 == total && waiting_.load(std::memory_order_seq_cst)) {
      std::lock_guard<std::mutex> lk(m_);
      cv_done_.notify_one();
    }
  }

  void start(int n) {
    n_ = n < 1 ? 1 : n;
    cursors_.reset(new Cursor[n_]);
    stop_.store(false);
    const uint32_t g = gen_of(state_.load());
    for (int i = 1; i < n_; i++) workers_.emplace_back([this, g, i] { tl_tid = i; loop(g); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_.store(true);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  void loop(uint32_t seen) {
    for (;;) {
      // Spin for the next job (kIdleSpinNs), then sleep.
      uint64_t s = state_.load(std::memory_order_acquire);
      int64_t t0 = 0;
      for (int spins = 0; gen_of(s) == seen && !stop_.load(std::memory_order_relaxed); spins++) {
        cpu_relax();
        s = state_.load(std::memory_order_acquire);
        if ((spins & 63) != 0) continue;
        if (t0 == 0) { t0 = now_ns(); continue; }
        if (now_ns() - t0 < kIdleSpinNs) continue;
        std::unique_lock<std::mutex> lk(m_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        cv_.wait(lk, [&] { return gen_of(state_.load(std::memory_order_seq_cst)) != seen || stop_.load(); });
        sleepers_.fetch_sub(1, std::memory_order_seq_cst);
        s = state_.load(std::memory_order_acquire);
        break;
      }
      if (stop_.load()) return;
      seen = gen_of(s);
      work(seen);
    }
  }

  int n_ = 1;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> workers_;
  std::mutex m_;
  std::condition_variable cv_, cv_done_;
  std::atomic<bool> waiting_{false};
  long ntasks_ = 0;
  std::atomic<uint64_t> state_{0};
  std::atomic<long> done_{0};
  std::atomic<int> sleepers_{0};
  const std::function<void(long)>* fn_ = nullptr;
  std::unique_ptr<Cursor[]> cursors_;  // one per thread (home jobs)
};

Pool& pool() {
  static Pool* p = [] {
    int hc = int(std::thread::hardware_concurrency());
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) hc = CPU_COUNT(&set);
#endif
    return new Pool(hc <= 0 ? 1 : hc);  // leaked on purpose: no join at process exit
  }();
  return *p;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) { pool().resize(n); }

bool in_parallel_job() { return tl_in_job; }

void run_tasks(long ntasks, const std::function<void(long)>& task) {
  if (ntasks <= 0) return;
  if (ntasks == 1 || tl_in_job || pool().size() == 1) {
    const bool trace = !tl_in_job && g_trace.load(std::memory_order_relaxed);
    const int64_t t0 = trace ? now_ns() : 0;
    for (long i = 0; i < ntasks; i++) task(i);
    if (trace) record_span(0, t0, now_ns());
    return;
  }
  // More tasks than one job can count: group them.
  if (ntasks > kMaxTasks) {
    const long groups = kMaxTasks;
    pool().run(groups, [&](long gi) {
      const long b = ntasks * gi / groups, e = ntasks * (gi + 1) / groups;
      for (long i = b; i < e; i++) task(i);
    }, false);
    return;
  }
  pool().run(ntasks, task, false);
}

void run_tasks_home(long ntasks, const std::function<void(long)>& task) {
  if (ntasks <= 0) return;
  if (ntasks == 1 || ntasks > kMaxTasks || tl_in_job || pool().size() == 1) {
    run_tasks(ntasks, task);
    return;
  }
  pool().run(ntasks, task, true);
}

void parallel_for_home(long n, long grain, const std::function<void(long, long)>& fn) {
  if (n <= 0) return;
  const int nt = num_threads();
  if (grain < 1) grain = 1;
  const long per = n / grain / nt;  // chunks per thread, the same at every call for one n
  if (nt == 1 || tl_in_job || per < 1) {
    parallel_for(n, grain, fn);
    return;
  }
  const long chunks = nt * (per < 4 ? per : 4);
  run_tasks_home(chunks, [&](long c) {
    const long b = n * c / chunks, e = n * (c + 1) / chunks;
    if (b < e) fn(b, e);
  });
}

void run_on_all(const std::function<void(int, int)>& fn) {
  const int n = tl_in_job ? 1 : num_threads();
  run_tasks(n, [&](long i) { fn(int(i), n); });
}

void parallel_for(long n, long grain, const std::function<void(long, long)>& fn) {
  if (n <= 0) return;
  const int nt = num_threads();
  if (grain < 1) grain = 1;
  long chunks = n / grain;
  if (chunks > 4L * nt) chunks = 4L * nt;
  if (chunks <= 1 || nt == 1 || tl_in_job) {
    const bool trace = !tl_in_job && g_trace.load(std::memory_order_relaxed);
    const int64_t t0 = trace ? now_ns() : 0;
    fn(0, n);
    if (trace) record_span(0, t0, now_ns());
    return;
  }
  run_tasks(chunks, [&](long c) {
    const long b = n * c / chunks, e = n * (c + 1) / chunks;
    if (b < e) fn(b, e);
  });
}

void set_pool_trace(bool on) { g_trace.store(on, std::memory_order_relaxed); }

void drain_pool_trace(std::vector<int64_t>& out) {
  for (int t = 0; t < kMaxTraceThreads; t++) {
    std::vector<int64_t>& v = g_spans[t];
    for (size_t i = 0; i + 2 < v.size(); i += 3) { out.push_back(t); out.push_back(v[i]); out.push_back(v[i + 1]); out.push_back(v[i + 2]); }
    v.clear();
  }
}

int64_t pool_trace_now_ns() { return now_ns(); }

}  // namespace ts
