//===- cpu_backend_bench.cpp - CPU kernel microbenchmarks -----------------===//
//
// GEMV (decode's hot path) reports the weight bytes streamed per second
// (`weight_GB/s`), the number to hold against the machine's read bandwidth;
// attention decode reports KV-cache bytes read per second. Threads: the
// LLMC_BENCH_THREADS environment variable (default 2).
//
//===----------------------------------------------------------------------===//

#include "runtime/backends/cpu/CpuFeatures.h"
#include "runtime/backends/cpu/Kernels.h"
#include "runtime/kv_cache/KVCache.h"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <vector>

namespace {

using namespace llmc::cpu;

ThreadPool &pool() {
  static ThreadPool instance([] {
    const char *value = std::getenv("LLMC_BENCH_THREADS");
    return value ? std::atoi(value) : 2;
  }());
  return instance;
}

std::vector<uint8_t> randomMatrix(int64_t rows, int64_t cols, DType dtype) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<uint8_t> bytes(rows * cols * dtypeBytes(dtype));
  for (int64_t i = 0; i < rows * cols; ++i)
    storeFromF32(bytes.data(), dtype, i, normal(rng));
  return bytes;
}

// args: out_features, in_features, weight dtype (0 f32, 2 bf16, 1 f16), rows
void BM_Linear(benchmark::State &state) {
  const int64_t n = state.range(0), k = state.range(1);
  const DType dtype = static_cast<DType>(state.range(2));
  const int64_t m = state.range(3);
  auto weight = randomMatrix(n, k, dtype);
  auto x = randomMatrix(m, k, DType::F32);
  std::vector<float> y(m * n);
  for (auto _ : state) {
    linear(constMatrix(x.data(), DType::F32, m, k),
           constMatrix(weight.data(), dtype, n, k), nullptr, DType::F32,
           matrix(y.data(), DType::F32, m, n), &pool());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double weightBytes = static_cast<double>(weight.size());
  state.counters["weight_GB/s"] = benchmark::Counter(
      weightBytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * m * n * k * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(dtypeName(dtype)) + " " + isaName(activeIsa()) +
                 " threads=" + std::to_string(pool().numThreads()));
}

void linearArgs(benchmark::internal::Benchmark *b) {
  for (int dtype : {0, 2, 1})
    for (auto shape : {std::pair<int, int>{576, 1536},
                       {1536, 576},
                       {4096, 4096},
                       {14336, 4096},
                       {4096, 14336}})
      b->Args({shape.first, shape.second, dtype, 1});
  // Prefill-sized GEMMs.
  b->Args({4096, 4096, 2, 64});
  b->Args({1536, 576, 2, 128});
}
BENCHMARK(BM_Linear)
    ->Apply(linearArgs)
    ->ArgNames({"out", "in", "dtype", "rows"})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// Decode attention, Llama-3-8B layer shapes (32 query heads, 8 KV heads,
// head_dim 128, bf16 cache in 16-token blocks). args: cached tokens.
void BM_AttentionDecode(benchmark::State &state) {
  const int64_t context = state.range(0);
  const int64_t qHeads = 32, kvHeads = 8, headDim = 128;
  llmc::kv::KVCacheConfig config;
  config.numLayers = 1;
  config.numKVHeads = kvHeads;
  config.headDim = headDim;
  config.blockTokens = 16;
  config.numBlocks = (context + 15) / 16 + 1;
  config.dtype = DType::BF16;
  std::unique_ptr<llmc::kv::PagedKVCache> cache;
  if (!llmc::kv::PagedKVCache::create(config, cache) ||
      !cache->reserve(0, context)) {
    state.SkipWithError("cache");
    return;
  }
  auto rows = randomMatrix(context, kvHeads * headDim, DType::F32);
  std::vector<int32_t> positions(context);
  for (int64_t i = 0; i < context; ++i)
    positions[i] = static_cast<int32_t>(i);
  auto status = cache->append(0, 0, positions.data(), context, rows.data(),
                              rows.data(), DType::F32, kvHeads * headDim);
  auto query = randomMatrix(1, qHeads * headDim, DType::F32);
  std::vector<float> out(qHeads * headDim);
  int64_t queryStart[2] = {0, 1}, sequenceIds[1] = {0};
  int32_t position = static_cast<int32_t>(context - 1);
  AttentionBatch batch{1, queryStart, sequenceIds, &position};
  AttentionParams params;
  params.scale = 1.0f / std::sqrt(static_cast<float>(headDim));
  for (auto _ : state) {
    status = pagedAttention(
        params, heads(query.data(), DType::F32, 1, qHeads, headDim), *cache, 0,
        batch, heads(out.data(), DType::F32, 1, qHeads, headDim), &pool());
    benchmark::DoNotOptimize(out.data());
  }
  if (!status)
    state.SkipWithError(status.message().c_str());
  state.counters["kv_GB/s"] =
      benchmark::Counter(2.0 * context * kvHeads * headDim * 2 * 1e-9,
                         benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_AttentionDecode)
    ->Arg(1024)
    ->Arg(4096)
    ->ArgName("context")
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// args: rows, hidden size; bf16 in and out.
void BM_RmsNorm(benchmark::State &state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  auto x = randomMatrix(rows, cols, DType::BF16);
  auto w = randomMatrix(1, cols, DType::BF16);
  std::vector<uint16_t> y(rows * cols);
  for (auto _ : state) {
    rmsNorm(constMatrix(x.data(), DType::BF16, rows, cols), w.data(),
            DType::BF16, 1e-5f, matrix(y.data(), DType::BF16, rows, cols));
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] =
      benchmark::Counter(2.0 * rows * cols * 2 * 1e-9,
                         benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_RmsNorm)
    ->Args({1, 4096})
    ->Args({512, 4096})
    ->Args({1, 576})
    ->ArgNames({"rows", "cols"})
    ->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
