// A persistent thread pool with dynamic task claiming. A job is a number of tasks; the calling
// thread and the workers claim tasks from one atomic counter until none are left, so a worker the
// OS has descheduled (other processes share the cores) never holds up a job it has not started:
// the others simply take its share. The caller waits only for tasks already claimed. Workers spin
// for 200 us after a job (back-to-back kernels pay no wake-up), then sleep. Calls from inside a
// running job run inline and serially (no nested parallelism).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace ts {

// Number of threads used by parallel kernels (the caller included); >= 1.
int num_threads();
// Resize the pool (n >= 1). Not callable from inside a job.
void set_num_threads(int n);
// True on a thread that is running a task of a job (nested calls then run serially).
bool in_parallel_job();
// Run task(i) for every i in [0, ntasks), spread dynamically over the pool; waits for all.
void run_tasks(long ntasks, const std::function<void(long)>& task);
// Run fn(i, n) for i in [0, n) with n = num_threads() (each index exactly once, on any thread).
void run_on_all(const std::function<void(int, int)>& fn);
// Split [0, n) into contiguous chunks (at least `grain` items each, a few per thread so the
// split adapts to threads that run late): fn(begin, end) per chunk. Runs inline when n is small
// or when called from inside a job.
void parallel_for(long n, long grain, const std::function<void(long, long)>& fn);
// run_tasks with a fixed home thread per task: thread t (the caller is 0) first runs the tasks of
// [t * ntasks / n, (t + 1) * ntasks / n) (n = num_threads()), then helps with the others' blocks
// that are still unclaimed. Repeated calls with the same ntasks thus put each task on the same
// thread whenever every thread is running, so data a task reads stays in that core's cache across
// calls (a batch-1 GEMV's rows of W).
void run_tasks_home(long ntasks, const std::function<void(long)>& task);
// parallel_for over home tasks (run_tasks_home): one to four chunks of [0, n) per thread, at least
// `grain` items each; inline (as parallel_for) when n < grain * num_threads().
void parallel_for_home(long n, long grain, const std::function<void(long, long)>& fn);

// Profiling (src/report/profiler.ts through pool_trace.cc). While on, every task a pool thread runs
// is recorded as (thread index, job number, start, end) in that thread's own buffer (steady_clock
// nanoseconds; the caller is thread 0, workers 1..n-1), and so is every top-level kernel that runs
// inline (job number 0). Off by default: then the cost is one relaxed atomic load per task.
void set_pool_trace(bool on);
// Appends the recorded spans to `out` as 4 values each (thread, job, start_ns, end_ns) and clears
// the buffers. Call only between jobs (from the JavaScript thread).
void drain_pool_trace(std::vector<int64_t>& out);
// steady_clock now, in nanoseconds (the clock of the spans).
int64_t pool_trace_now_ns();

}  // namespace ts
