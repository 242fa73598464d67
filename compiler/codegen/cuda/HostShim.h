//===- HostShim.h - runs the CUDA kernel templates on the CPU -------------===//
//
// Include this before a kernel header (compiler/codegen/cuda/kernels/*.cuh)
// and the same source that NVRTC compiles builds with the host compiler:
// `launchOnHost(grid, block, body)` runs the blocks one after another, each
// block's threads as real threads, so __syncthreads is a real barrier and
// warp shuffles a real exchange among the 32 threads of a warp. Blocks never
// run at the same time, which is what lets `__shared__` be a function-level
// `static` (one copy, used by one block at a time). Tests only: a kernel
// that deadlocks or races on a GPU deadlocks or races here too, which is
// the point.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_CODEGEN_CUDA_HOSTSHIM_H
#define LLMC_COMPILER_CODEGEN_CUDA_HOSTSHIM_H

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#define LLMC_HOST_SHIM 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __restrict__
#define __launch_bounds__(...)

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned x = 1, unsigned y = 1, unsigned z = 1) : x(x), y(y), z(z) {}
};

inline thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace llmc::hostshim {

/// A reusable barrier for `count` threads (C++17 has no std::barrier).
class Barrier {
public:
  explicit Barrier(unsigned count) : count(count) {}
  void arriveAndWait() {
    std::unique_lock<std::mutex> lock(mutex);
    unsigned generation = currentGeneration;
    if (++arrived == count) {
      arrived = 0;
      ++currentGeneration;
      condition.notify_all();
      return;
    }
    condition.wait(lock, [&] { return generation != currentGeneration; });
  }

private:
  std::mutex mutex;
  std::condition_variable condition;
  unsigned count, arrived = 0, currentGeneration = 0;
};

/// The threads of one warp and the slots their shuffles exchange through.
struct Warp {
  explicit Warp(unsigned lanes) : barrier(lanes) {}
  Barrier barrier;
  uint64_t slots[32] = {};
};

struct Block {
  explicit Block(unsigned threads) : barrier(threads) {
    for (unsigned first = 0; first < threads; first += 32)
      warps.push_back(std::make_unique<Warp>(std::min(32u, threads - first)));
  }
  Barrier barrier;
  std::vector<std::unique_ptr<Warp>> warps;
};

inline thread_local Block *currentBlock = nullptr;
inline thread_local unsigned linearThread = 0;

/// Every lane of the warp publishes `value` and reads lane `source`'s.
template <class T> T exchange(T value, unsigned source) {
  static_assert(sizeof(T) <= sizeof(uint64_t), "shuffles move 8 bytes");
  Warp &warp = *currentBlock->warps[linearThread / 32];
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof value);
  warp.slots[linearThread % 32] = bits;
  warp.barrier.arriveAndWait();
  uint64_t theirs = warp.slots[source % 32];
  warp.barrier.arriveAndWait(); // nobody overwrites a slot still being read
  T result;
  std::memcpy(&result, &theirs, sizeof result);
  return result;
}

} // namespace llmc::hostshim

inline void __syncthreads() {
  llmc::hostshim::currentBlock->barrier.arriveAndWait();
}

/// The lanes of the calling thread's warp meet (a shared-memory fence
/// between them on the GPU).
inline void __syncwarp(unsigned = 0xffffffffu) {
  llmc::hostshim::currentBlock->warps[llmc::hostshim::linearThread / 32]
      ->barrier.arriveAndWait();
}

template <class T> T __shfl_xor_sync(unsigned, T value, int laneMask) {
  return llmc::hostshim::exchange(value, (llmc::hostshim::linearThread % 32) ^
                                             static_cast<unsigned>(laneMask));
}

template <class T> T __shfl_sync(unsigned, T value, int sourceLane) {
  return llmc::hostshim::exchange(value, static_cast<unsigned>(sourceLane));
}

/// Four signed 8-bit products summed into `accumulator`, as the instruction.
inline int __dp4a(int a, int b, int accumulator) {
  for (int byte = 0; byte < 4; ++byte)
    accumulator += static_cast<int8_t>(static_cast<uint32_t>(a) >> (8 * byte)) *
                   static_cast<int8_t>(static_cast<uint32_t>(b) >> (8 * byte));
  return accumulator;
}

namespace llmc::hostshim {

/// Runs `body` as every thread of every block of the grid.
inline void launchOnHost(dim3 grid, dim3 block,
                         const std::function<void()> &body) {
  const unsigned threads = block.x * block.y * block.z;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        Block state(threads);
        std::vector<std::thread> workers;
        workers.reserve(threads);
        for (unsigned t = 0; t < threads; ++t)
          workers.emplace_back([&, t] {
            currentBlock = &state;
            linearThread = t;
            threadIdx = dim3(t % block.x, (t / block.x) % block.y,
                             t / (block.x * block.y));
            blockIdx = dim3(bx, by, bz);
            blockDim = block;
            gridDim = grid;
            body();
          });
        for (std::thread &worker : workers)
          worker.join();
      }
}

} // namespace llmc::hostshim

#endif // LLMC_COMPILER_CODEGEN_CUDA_HOSTSHIM_H
