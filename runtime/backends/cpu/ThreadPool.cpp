//===- ThreadPool.cpp - persistent workers with a spin-then-sleep wait ----===//

#include "runtime/backends/cpu/ThreadPool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LLMC_CPU_RELAX() _mm_pause()
#else
#define LLMC_CPU_RELAX() ((void)0)
#endif

namespace llmc::cpu {

namespace {
// About 20-50 microseconds of spinning: long enough to bridge the gap between
// consecutive kernels of one decode step, short enough not to steal a core
// from other processes while the engine idles.
constexpr int kSpinIterations = 20000;
} // namespace

ThreadPool::ThreadPool(int numThreads) {
  if (numThreads <= 0)
    numThreads = std::max(1u, std::thread::hardware_concurrency());
  numThreads_ = numThreads;
  for (int i = 1; i < numThreads_; ++i)
    workers_.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (std::thread &worker : workers_)
    worker.join();
}

void ThreadPool::workOn(int threadIndex) {
  if (staticSplit_) {
    int64_t per = (count_ + numThreads_ - 1) / numThreads_;
    int64_t begin = std::min<int64_t>(count_, per * threadIndex);
    int64_t end = std::min<int64_t>(count_, begin + per);
    if (begin < end)
      trampoline_(context_, begin, end, threadIndex);
    return;
  }
  for (;;) {
    int64_t begin = nextItem_.fetch_add(grain_, std::memory_order_relaxed);
    if (begin >= count_)
      return;
    trampoline_(context_, begin, std::min(count_, begin + grain_), threadIndex);
  }
}

void ThreadPool::workerLoop(int threadIndex) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t current = generation_.load(std::memory_order_acquire);
    for (int spin = 0; current == seen && spin < kSpinIterations; ++spin) {
      LLMC_CPU_RELAX();
      current = generation_.load(std::memory_order_acquire);
    }
    if (current == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] {
        return generation_.load(std::memory_order_acquire) != seen;
      });
      current = generation_.load(std::memory_order_acquire);
    }
    seen = current;
    if (stopping_.load(std::memory_order_acquire))
      return;
    workOn(threadIndex);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::run(int64_t count, int64_t grain, Trampoline trampoline,
                     void *context) {
  if (count <= 0)
    return;
  if (numThreads_ == 1 || (grain > 0 && grain >= count)) {
    trampoline(context, 0, count, 0);
    return;
  }
  std::lock_guard<std::mutex> runLock(runMutex_);
  trampoline_ = trampoline;
  context_ = context;
  count_ = count;
  grain_ = grain > 0 ? grain : 1;
  staticSplit_ = grain <= 0;
  nextItem_.store(0, std::memory_order_relaxed);
  pending_.store(numThreads_ - 1, std::memory_order_relaxed);
  {
    // Publishing under the mutex pairs with the sleepers' predicate check, so
    // no wake-up is lost.
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  workOn(0);
  // When cores are oversubscribed a worker may not be running: yield rather
  // than spin away the time slice it needs.
  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
    if (spin < kSpinIterations)
      LLMC_CPU_RELAX();
    else
      std::this_thread::yield();
  }
}

} // namespace llmc::cpu
