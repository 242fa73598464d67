//===- ThreadPool.h - a small persistent thread pool for the CPU kernels --===//
//
// Decode runs a few hundred short kernels per token, so waking threads must be
// cheap: workers spin briefly on a generation counter before sleeping on a
// condition variable, and the calling thread takes a share of the work. Plain
// std::thread rather than OpenMP keeps the runtime free of a compiler runtime
// library and lets several engines own separate pools.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_BACKENDS_CPU_THREADPOOL_H
#define LLMC_RUNTIME_BACKENDS_CPU_THREADPOOL_H

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace llmc::cpu {

class ThreadPool {
public:
  /// `numThreads` counts the caller: 1 runs everything inline. 0 means one
  /// per hardware thread.
  explicit ThreadPool(int numThreads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int numThreads() const { return numThreads_; }

  /// Calls `body(begin, end, threadIndex)` over [0, count) in chunks of
  /// `grain` items, handed out dynamically; returns when all are done.
  /// `grain <= 0` splits the range into one contiguous part per thread
  /// (what a GEMV wants: each thread streams its own rows of the weight).
  template <typename Body>
  void parallelFor(int64_t count, int64_t grain, Body &&body) {
    run(
        count, grain,
        [](void *context, int64_t begin, int64_t end, int thread) {
          (*static_cast<std::remove_reference_t<Body> *>(context))(begin, end,
                                                                   thread);
        },
        const_cast<void *>(static_cast<const void *>(&body)));
  }

private:
  using Trampoline = void (*)(void *, int64_t, int64_t, int);
  void run(int64_t count, int64_t grain, Trampoline trampoline, void *context);
  void workerLoop(int threadIndex);
  void workOn(int threadIndex);

  int numThreads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::mutex runMutex_; // one parallelFor at a time per pool
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int64_t> nextItem_{0};
  std::atomic<bool> stopping_{false};
  // The job of the current generation.
  Trampoline trampoline_ = nullptr;
  void *context_ = nullptr;
  int64_t count_ = 0;
  int64_t grain_ = 1;
  bool staticSplit_ = false;
};

} // namespace llmc::cpu

#endif // LLMC_RUNTIME_BACKENDS_CPU_THREADPOOL_H
