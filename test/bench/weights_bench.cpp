// Dequantization throughput of the GGUF block formats, the work `llmc import
// --check-weights` and the artifact writer do for every quantized weight.

#include "compiler/weights/DType.h"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

namespace {

using llmc::weights::DType;

/// 16 MiB of blocks whose f16 scales are small and finite (d and dmin lead
/// every block except Q6_K's, whose d ends it), the rest pseudo-random.
std::vector<uint8_t> makeBlocks(DType type) {
  const auto &info = llmc::weights::getDTypeInfo(type);
  uint64_t blockBytes = info.blockBytes;
  uint64_t numBlocks = (16u << 20) / blockBytes;
  std::vector<uint8_t> blocks(numBlocks * blockBytes);
  for (size_t i = 0; i < blocks.size(); ++i)
    blocks[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
  uint64_t scaleOffset = type == DType::Q6_K ? blockBytes - 2 : 0;
  for (uint64_t b = 0; b < numBlocks; ++b) {
    // f16 0x1400 = 2^-10 (d, and dmin where present).
    blocks[b * blockBytes + scaleOffset] = 0x00;
    blocks[b * blockBytes + scaleOffset + 1] = 0x14;
    if (type == DType::Q4_K || type == DType::Q5_K || type == DType::Q4_1 ||
        type == DType::Q5_1) {
      blocks[b * blockBytes + 2] = 0x00;
      blocks[b * blockBytes + 3] = 0x14;
    }
  }
  return blocks;
}

void BM_DecodeToF32(benchmark::State &state, DType type) {
  std::vector<uint8_t> blocks = makeBlocks(type);
  const auto &info = llmc::weights::getDTypeInfo(type);
  uint64_t numValues = blocks.size() / info.blockBytes * info.blockElements;
  std::vector<float> values(numValues);
  for (auto _ : state) {
    llmc::weights::decodeToF32(type, blocks, values.data(), numValues);
    benchmark::DoNotOptimize(values.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(blocks.size()));
  state.counters["values/s"] =
      benchmark::Counter(static_cast<double>(numValues) * state.iterations(),
                         benchmark::Counter::kIsRate);
}

} // namespace

BENCHMARK_CAPTURE(BM_DecodeToF32, Q8_0, DType::Q8_0);
BENCHMARK_CAPTURE(BM_DecodeToF32, Q4_0, DType::Q4_0);
BENCHMARK_CAPTURE(BM_DecodeToF32, Q4_1, DType::Q4_1);
BENCHMARK_CAPTURE(BM_DecodeToF32, Q4_K, DType::Q4_K);
BENCHMARK_CAPTURE(BM_DecodeToF32, Q5_K, DType::Q5_K);
BENCHMARK_CAPTURE(BM_DecodeToF32, Q6_K, DType::Q6_K);
BENCHMARK_MAIN();
