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

// Quantized GEMV/GEMM (docs/quantization.md). args: out_features,
// in_features, mode, rows. Modes: 0 W8A8 int8 (per-token x per-channel
// scales; the activation's quantize_dynamic is not timed, it is its own plan
// step), 1 W8A8 fp8 E4M3, 2 w8a16 (int8 weights, group 128), 3 w4a16 (int4,
// group 128, zero points), all with f32 activations/outputs. weight_GB/s
// counts the quantized weight bytes; compare GEMV time with BM_Linear's f32
// row of the same shape.
void BM_QuantizedLinear(benchmark::State &state) {
  const int64_t n = state.range(0), k = state.range(1), mode = state.range(2),
                m = state.range(3);
  std::mt19937 rng(2);
  std::uniform_int_distribution<int> byte(0, 255);
  const bool int4 = mode == 3;
  std::vector<uint8_t> weight(int4 ? n * k / 2 : n * k), act(m * k);
  for (uint8_t &b : weight)
    b = static_cast<uint8_t>(mode == 1 ? byte(rng) % 0x7e : byte(rng));
  for (uint8_t &b : act)
    b = static_cast<uint8_t>(mode == 1 ? byte(rng) % 0x7e : byte(rng));
  const int64_t group = 128;
  std::vector<float> scales(n * (k / group), 0.01f), actScales(m, 0.02f);
  std::vector<int8_t> zeros(scales.size(), 1);
  auto x = randomMatrix(m, k, DType::F32);
  std::vector<float> y(m * n);
  static const char *names[] = {"w8a8 int8", "w8a8 fp8", "w8a16 int8 g128",
                                "w4a16 int4 g128"};
  for (auto _ : state) {
    MatrixView out = matrix(y.data(), DType::F32, m, n);
    if (mode <= 1) {
      QuantDType type = mode == 0 ? QuantDType::I8 : QuantDType::F8E4M3FN;
      gemmW8A8(quantMatrix(act.data(), type, m, k),
               quantMatrix(weight.data(), type, n, k),
               BlockScales::perRow(actScales.data()),
               BlockScales::perRow(scales.data()), 1.0f, out, &pool());
    } else {
      gemmWeightOnly(constMatrix(x.data(), DType::F32, m, k),
                     quantMatrix(weight.data(),
                                 int4 ? QuantDType::I4 : QuantDType::I8, n, k),
                     BlockScales::blocks(scales.data(),
                                         int4 ? zeros.data() : nullptr, n, k, n,
                                         k / group),
                     1.0f, out, &pool());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["weight_GB/s"] =
      benchmark::Counter(static_cast<double>(weight.size()) * 1e-9,
                         benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GOP/s"] = benchmark::Counter(
      2.0 * m * n * k * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(names[mode]) + " " + isaName(activeIsa()) +
                 (mode == 0 && useAvx512Vnni() ? "+vnni" : "") +
                 " threads=" + std::to_string(pool().numThreads()));
}

void quantizedLinearArgs(benchmark::internal::Benchmark *b) {
  for (int mode : {0, 1, 2, 3})
    for (auto shape :
         {std::pair<int, int>{576, 1536}, {1536, 576}, {4096, 4096}})
      b->Args({shape.first, shape.second, mode, 1});
  b->Args({4096, 4096, 0, 64});
  b->Args({4096, 4096, 3, 64});
}
BENCHMARK(BM_QuantizedLinear)
    ->Apply(quantizedLinearArgs)
    ->ArgNames({"out", "in", "mode", "rows"})
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
