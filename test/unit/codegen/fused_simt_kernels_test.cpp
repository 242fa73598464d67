//===- fused_simt_kernels_test.cpp - fused kinds' templates on the host shim
//===//
//
// The templates of the fused kinds that touch the paged KV cache
// (rope_kv_write, cached attention: split-K decode and flash prefill),
// fused elementwise programs and Gemma's sandwich norm run through
// HostShim.h on random inputs against the CPU backend. The KV-cache kernels
// write and read a real kv::PagedKVCache through an LlmcDeviceBatch pointed
// at its storage (the layouts are one by contract), and the CPU reference
// runs on a second cache reserved the same way. Tolerances:
// - rope_kv_write without head norms: bitwise (query, every byte of both
//   caches, int8 / fp8 codes and scales included): the same f32 formulas,
//   cos/sin through double on both sides, quantization with one right
//   answer;
// - rope_kv_write with q/k norms, bf16: within one bf16 ulp (the norm's
//   sum of squares is reduced in another order);
// - attention, f32 output: 1e-5 relative to max(1, |expected|) (dot
//   products, the online softmax and the split/warp merges sum in another
//   order than cpu::pagedAttention); bf16 output: within one bf16 ulp;
// - attention quantized per token: scales within 1e-5 relative, codes
//   within one step of the CPU's codes (an f32 difference in the last bit
//   may cross a rounding boundary);
// - elementwise programs and rms_norm_add_rms_norm: bitwise on the host
//   (the same f32 operations and libm calls as the CPU backend; a GPU may
//   differ by expf/erff/tanhf's ulp before rounding) resp. one bf16 ulp.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/HostShim.h"

#include "compiler/codegen/cuda/kernels/Attention.cuh"
#include "compiler/codegen/cuda/kernels/Common.cuh"
#include "compiler/codegen/cuda/kernels/Elementwise.cuh"
#include "compiler/codegen/cuda/kernels/KVCache.cuh"
#include "compiler/codegen/cuda/kernels/Norm.cuh"
#include "compiler/codegen/cuda/kernels/Rope.cuh"
#include "compiler/codegen/cuda/kernels/RopeKVWrite.cuh"
#include "runtime/backends/cpu/FusedKernels.h"
#include "runtime/backends/cpu/Kernels.h"
#include "runtime/kv_cache/KVCache.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>

namespace {

using namespace llmc_kernels;
using llmc::hostshim::launchOnHost;
namespace cpu = llmc::cpu;
namespace kv = llmc::kv;

std::vector<float> randomValues(size_t count, float spread, unsigned seed) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, spread);
  std::vector<float> values(count);
  for (float &v : values)
    v = normal(generator);
  return values;
}

template <class T> std::vector<T> stored(const std::vector<float> &values) {
  std::vector<T> out(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    out[i] = fromF32<T>(values[i]);
  return out;
}

template <class T> cpu::DType dtypeOf();
template <> cpu::DType dtypeOf<float>() { return cpu::DType::F32; }
template <> cpu::DType dtypeOf<bf16_t>() { return cpu::DType::BF16; }

/// Distance in bf16 codes; a sign change counts as far apart.
int bf16UlpDistance(uint16_t a, uint16_t b) {
  if ((a ^ b) & 0x8000)
    return (a & 0x7fff) == 0 && (b & 0x7fff) == 0 ? 0 : 1 << 16;
  return std::abs(static_cast<int>(a) - static_cast<int>(b));
}

void expectBf16WithinOneUlp(const uint16_t *actual, const uint16_t *expected,
                            size_t count, const char *what) {
  for (size_t i = 0; i < count; ++i)
    ASSERT_LE(bf16UlpDistance(actual[i], expected[i]), 1)
        << what << " at " << i << ": " << cpu::bf16ToF32(actual[i]) << " vs "
        << cpu::bf16ToF32(expected[i]);
}

//===----------------------------------------------------------------------===//
// A call over the paged KV cache, seen by the CPU and by the kernels
//===----------------------------------------------------------------------===//

constexpr int kHeads = 4, kHeadDim = 32, kBlockTokens = 4, kLayers = 2;
constexpr int kLayer = 1;

struct Sequence {
  int64_t id;
  int64_t capacity;
  std::vector<int32_t> positions; // this call's tokens
};

/// One forward call: its sequences' tokens in order, the CPU's
/// AttentionBatch and the kernels' LlmcDeviceBatch over `cache`.
struct Call {
  std::vector<int64_t> queryStart{0}, sequenceIds;
  std::vector<int32_t> positions;
  std::vector<int> tokenSequence, deviceQueryStart{0}, blockTables;
  std::vector<void *> keyLayers, valueLayers;
  LlmcDeviceBatch device{};

  Call(kv::PagedKVCache &cache, const std::vector<Sequence> &sequences,
       int paddingTokens = 0) {
    int64_t stride = 0;
    for (const Sequence &s : sequences)
      stride = std::max(stride, cache.blocksFor(s.capacity));
    for (size_t index = 0; index < sequences.size(); ++index) {
      const Sequence &s = sequences[index];
      for (int32_t position : s.positions) {
        positions.push_back(position);
        tokenSequence.push_back(static_cast<int>(index));
      }
      queryStart.push_back(static_cast<int64_t>(positions.size()));
      deviceQueryStart.push_back(static_cast<int>(positions.size()));
      sequenceIds.push_back(s.id);
      const std::vector<int32_t> &table = *cache.blockTable(s.id);
      for (int64_t b = 0; b < stride; ++b)
        blockTables.push_back(b < static_cast<int64_t>(table.size()) ? table[b]
                                                                     : -1);
    }
    // Padding tokens belong to no sequence: no cache write, no keys.
    for (int p = 0; p < paddingTokens; ++p) {
      positions.push_back(0);
      tokenSequence.push_back(-1);
    }
    for (int64_t layer = 0; layer < cache.config().numLayers; ++layer) {
      keyLayers.push_back(const_cast<void *>(cache.keyTile(layer, 0, 0)));
      valueLayers.push_back(const_cast<void *>(cache.valueTile(layer, 0, 0)));
    }
    device.num_tokens = static_cast<long long>(positions.size());
    device.num_sequences = static_cast<long long>(sequences.size());
    device.positions = positions.data();
    device.token_sequence = tokenSequence.data();
    device.query_start = deviceQueryStart.data();
    device.block_tables = blockTables.data();
    device.block_table_stride = stride;
    device.key_cache = keyLayers.data();
    device.value_cache = valueLayers.data();
  }
  int tokens() const { return static_cast<int>(positions.size()); }
  cpu::AttentionBatch cpuBatch() const {
    return {static_cast<int64_t>(sequenceIds.size()), queryStart.data(),
            sequenceIds.data(), positions.data()};
  }
};

std::unique_ptr<kv::PagedKVCache>
makeCache(int kvHeads, cpu::DType dtype, kv::KVQuantization quantization,
          const std::vector<Sequence> &sequences) {
  kv::KVCacheConfig config;
  config.numLayers = kLayers;
  config.numKVHeads = kvHeads;
  config.headDim = kHeadDim;
  config.blockTokens = kBlockTokens;
  config.numBlocks = 32;
  config.dtype = dtype;
  config.quantization = quantization;
  std::unique_ptr<kv::PagedKVCache> cache;
  EXPECT_TRUE(kv::PagedKVCache::create(config, cache).ok());
  // Reserved out of order so that block ids are not positions.
  for (auto it = sequences.rbegin(); it != sequences.rend(); ++it)
    EXPECT_TRUE(cache->reserve(it->id, it->capacity).ok());
  return cache;
}

/// Bytes of one layer's key (or value) storage, from the documented layout.
int64_t layerBytes(const kv::PagedKVCache &cache) {
  const kv::KVCacheConfig &c = cache.config();
  int64_t tile =
      cache.quantized()
          ? (c.blockTokens * c.headDim + 3) / 4 * 4 + 4 * c.blockTokens
          : c.blockTokens * c.headDim *
                static_cast<int64_t>(cpu::dtypeBytes(c.dtype));
  return c.numBlocks * c.numKVHeads * tile;
}

//===----------------------------------------------------------------------===//
// rope_kv_write
//===----------------------------------------------------------------------===//

const std::vector<Sequence> kWriteSequences = {
    {7, 12, {4, 5, 6, 7, 8}}, // a prefill chunk across a block boundary
    {3, 12, {9}},             // decode
    {11, 8, {0, 1, 2}},       // a new sequence
};

enum class NormCheck { Bitwise, OneBf16Ulp };

/// Runs ropeKVWriteRows and cpu::ropeKVWrite on equal caches and compares
/// the query and both caches' bytes.
template <class In, class Cache, int KVHeads, int RotaryDim, int Style,
          bool HeadNorm>
void checkRopeKVWrite(cpu::DType cacheDType, kv::KVQuantization quantization,
                      cpu::RopeStyle style, unsigned seed) {
  constexpr int kRowWidth = (kHeads + 2 * KVHeads) * kHeadDim;
  auto kernelCache =
      makeCache(KVHeads, cacheDType, quantization, kWriteSequences);
  auto referenceCache =
      makeCache(KVHeads, cacheDType, quantization, kWriteSequences);
  Call call(*kernelCache, kWriteSequences, /*paddingTokens=*/1);
  const int tokens = call.tokens();
  cpu::RopeParams params;
  params.theta = 10000.0;
  params.rotaryDim = RotaryDim;
  params.style = style;
  cpu::RopeFrequencies frequencies;
  ASSERT_TRUE(cpu::computeRopeFrequencies(params, kHeadDim, frequencies).ok());
  auto packed = stored<In>(randomValues(tokens * kRowWidth, 2.0f, seed));
  auto queryNorm = stored<In>(randomValues(kHeadDim, 1.0f, seed + 1));
  auto keyNorm = stored<In>(randomValues(kHeadDim, 1.0f, seed + 2));
  const float epsilon = 1e-6f;
  std::vector<In> query(tokens * kHeads * kHeadDim), expected(query.size());
  launchOnHost(tokens, 128, [&] {
    ropeKVWriteRows<In, In, In, Cache, kHeads, KVHeads, kHeadDim, RotaryDim,
                    Style, kBlockTokens, 128, HeadNorm>(
        packed.data(), call.positions.data(), queryNorm.data(), keyNorm.data(),
        epsilon, frequencies.inverseFrequencies.data(),
        frequencies.attentionFactor, query.data(), &call.device, kLayer,
        tokens);
  });
  cpu::PackedQKV qkv{packed.data(), dtypeOf<In>(), tokens,  kRowWidth,
                     kHeads,        KVHeads,       kHeadDim};
  cpu::QKNorm norm;
  if (HeadNorm) {
    norm.queryWeight = queryNorm.data();
    norm.keyWeight = keyNorm.data();
    norm.dtype = dtypeOf<In>();
    norm.epsilon = epsilon;
  }
  Call referenceCall(*referenceCache, kWriteSequences, 1);
  std::vector<uint8_t> scratch;
  ASSERT_TRUE(cpu::ropeKVWrite(qkv, call.positions.data(), frequencies, style,
                               norm, *referenceCache, kLayer,
                               referenceCall.cpuBatch(),
                               cpu::heads(expected.data(), dtypeOf<In>(),
                                          tokens, kHeads, kHeadDim),
                               scratch)
                  .ok());
  const int64_t bytes = layerBytes(*kernelCache);
  for (int64_t layer = 0; layer < kLayers; ++layer)
    for (bool keys : {true, false}) {
      auto *actual = static_cast<const uint8_t *>(
          keys ? kernelCache->keyTile(layer, 0, 0)
               : kernelCache->valueTile(layer, 0, 0));
      auto *reference = static_cast<const uint8_t *>(
          keys ? referenceCache->keyTile(layer, 0, 0)
               : referenceCache->valueTile(layer, 0, 0));
      if (HeadNorm && keys) {
        expectBf16WithinOneUlp(reinterpret_cast<const uint16_t *>(actual),
                               reinterpret_cast<const uint16_t *>(reference),
                               bytes / 2, "key cache");
        continue;
      }
      for (int64_t i = 0; i < bytes; ++i)
        ASSERT_EQ(actual[i], reference[i])
            << (keys ? "key" : "value") << " cache of layer " << layer
            << ", byte " << i;
    }
  if (HeadNorm) {
    expectBf16WithinOneUlp(reinterpret_cast<const uint16_t *>(query.data()),
                           reinterpret_cast<const uint16_t *>(expected.data()),
                           query.size(), "query");
  } else {
    ASSERT_EQ(
        std::memcmp(query.data(), expected.data(), query.size() * sizeof(In)),
        0);
  }
  // The call really wrote something: layer 1 differs from the zero fill.
  int nonzero = 0;
  auto *layer1 = static_cast<const uint8_t *>(kernelCache->keyTile(1, 0, 0));
  for (int64_t i = 0; i < bytes; ++i)
    nonzero += layer1[i] != 0;
  EXPECT_GT(nonzero, 0);
}

// bf16 rows into a bf16 cache (GQA, 4 query / 2 KV heads, half style), a
// padding token included: bitwise the CPU fused kernel, cache included.
TEST(FusedSimtKernels, RopeKVWriteBf16CacheIsBitwise) {
  checkRopeKVWrite<bf16_t, bf16_t, 2, kHeadDim, kRopeHalf, false>(
      cpu::DType::BF16, kv::KVQuantization::None, cpu::RopeStyle::Half, 31);
}

// f32 rows, interleaved partial rotary dim, an int8 cache quantized per
// (token, KV head) vector: codes and scales bitwise.
TEST(FusedSimtKernels, RopeKVWriteInt8CacheIsBitwise) {
  checkRopeKVWrite<float, signed char, 2, 24, kRopeInterleaved, false>(
      cpu::DType::F32, kv::KVQuantization::Int8, cpu::RopeStyle::Interleaved,
      41);
}

// bf16 rows into an fp8 e4m3 cache with MQA (one KV head): bitwise.
TEST(FusedSimtKernels, RopeKVWriteFp8CacheIsBitwise) {
  checkRopeKVWrite<bf16_t, e4m3_t, 1, kHeadDim, kRopeHalf, false>(
      cpu::DType::F32, kv::KVQuantization::Fp8E4M3, cpu::RopeStyle::Half, 51);
}

// Qwen3's per-head q/k RMS norms before RoPE: within one bf16 ulp.
TEST(FusedSimtKernels, RopeKVWriteWithHeadNorms) {
  checkRopeKVWrite<bf16_t, bf16_t, 2, kHeadDim, kRopeHalf, true>(
      cpu::DType::BF16, kv::KVQuantization::None, cpu::RopeStyle::Half, 61);
}

//===----------------------------------------------------------------------===//
// Cached attention
//===----------------------------------------------------------------------===//

/// Context lengths of the three cached sequences (ids 7, 3, 11).
const int64_t kContexts[3] = {37, 5, 20};

/// A cache whose sequences hold random keys and values at every position
/// of their context, written by the CPU cache itself.
std::unique_ptr<kv::PagedKVCache> filledCache(int kvHeads, cpu::DType dtype,
                                              kv::KVQuantization quantization,
                                              unsigned seed) {
  std::vector<Sequence> sequences = {
      {7, kContexts[0], {}}, {3, kContexts[1], {}}, {11, kContexts[2], {}}};
  auto cache = makeCache(kvHeads, dtype, quantization, sequences);
  for (const Sequence &s : sequences)
    for (int64_t layer = 0; layer < kLayers; ++layer) {
      const int64_t width = kvHeads * kHeadDim;
      auto keys = randomValues(s.capacity * width, 1.0f, seed++);
      auto values = randomValues(s.capacity * width, 1.0f, seed++);
      std::vector<int32_t> positions(s.capacity);
      for (int64_t p = 0; p < s.capacity; ++p)
        positions[p] = static_cast<int32_t>(p);
      EXPECT_TRUE(cache
                      ->append(layer, s.id, positions.data(), s.capacity,
                               keys.data(), values.data(), cpu::DType::F32,
                               width)
                      .ok());
    }
  return cache;
}

std::vector<Sequence>
attentionCall(const std::vector<int32_t> (&positions)[3]) {
  return {{7, kContexts[0], positions[0]},
          {3, kContexts[1], positions[1]},
          {11, kContexts[2], positions[2]}};
}

struct AttentionCase {
  int slidingWindow = 0;
  float softcap = 0.0f;
};

/// cpu::pagedAttention of `query` into `Out` rows.
template <class Query, class Out>
std::vector<Out> referenceAttention(const kv::PagedKVCache &cache,
                                    const Call &call,
                                    const std::vector<Query> &query,
                                    float scale, AttentionCase options) {
  std::vector<Out> expected(query.size());
  cpu::AttentionParams params;
  params.scale = scale;
  params.slidingWindow = options.slidingWindow;
  params.softcap = options.softcap;
  const int tokens = call.tokens();
  EXPECT_TRUE(
      cpu::pagedAttention(
          params,
          cpu::heads(const_cast<Query *>(query.data()), dtypeOf<Query>(),
                     tokens, kHeads, kHeadDim),
          cache, kLayer, call.cpuBatch(),
          cpu::heads(expected.data(), dtypeOf<Out>(), tokens, kHeads, kHeadDim),
          nullptr)
          .ok());
  return expected;
}

constexpr int kSplits = 4, kAttentionThreads = 128;

/// Split-K decode: partials into scratch, then the combine per token.
template <class Cache, int KVHeads, int Window, bool Softcap, class Out,
          class Quant, int ScaleMode, class Query = float>
void runDecode(const Call &call, const std::vector<Query> &query, float scale,
               float softcap, Out *output, Quant *quantized,
               float *tokenScales) {
  const int tokens = call.tokens();
  std::vector<float> partials(tokens * kHeads * kSplits *
                              partialFloats<kHeadDim>());
  launchOnHost(dim3(tokens * kHeads, kSplits), kAttentionThreads, [&] {
    attentionDecodePartials<Query, Cache, kHeads, KVHeads, kHeadDim,
                            kBlockTokens, kSplits, kAttentionThreads, Window,
                            Softcap>(query.data(), scale, softcap, &call.device,
                                     kLayer, partials.data(), tokens);
  });
  launchOnHost(tokens, 64, [&] {
    attentionCombineRows<Out, Quant, ScaleMode, kHeads, kHeadDim, kSplits, 64>(
        partials.data(), output, quantized, tokenScales, tokens);
  });
}

template <class Cache, int KVHeads, int Window, bool Softcap>
void checkDecode(cpu::DType cacheDType, kv::KVQuantization quantization,
                 AttentionCase options, unsigned seed) {
  auto cache = filledCache(KVHeads, cacheDType, quantization, seed);
  // One token per sequence, at its last cached position.
  const std::vector<int32_t> positions[3] = {{36}, {4}, {19}};
  Call call(*cache, attentionCall(positions));
  const int tokens = call.tokens();
  auto query = randomValues(tokens * kHeads * kHeadDim, 1.0f, seed + 100);
  const float scale = 0.4f; // sharp enough for softcap and masking to show
  std::vector<float> output(query.size());
  runDecode<Cache, KVHeads, Window, Softcap, float, signed char, kNoQuant>(
      call, query, scale, options.softcap, output.data(), nullptr, nullptr);
  auto expected =
      referenceAttention<float, float>(*cache, call, query, scale, options);
  for (size_t i = 0; i < output.size(); ++i)
    ASSERT_NEAR(output[i], expected[i],
                1e-5f * std::max(1.0f, std::fabs(expected[i])))
        << "at " << i;
}

// Split-K decode over three sequences of different lengths (one shorter
// than a split's share), GQA, bf16 cache: the partials' merge equals one
// online softmax over all keys.
TEST(FusedSimtKernels, AttentionDecodeSplitKGqa) {
  checkDecode<bf16_t, 2, 0, false>(cpu::DType::BF16, kv::KVQuantization::None,
                                   {}, 71);
}

// Sliding window (8) and softcap (2.0) over an int8 cache, MQA.
TEST(FusedSimtKernels, AttentionDecodeWindowSoftcapInt8) {
  checkDecode<signed char, 1, 8, true>(cpu::DType::F32,
                                       kv::KVQuantization::Int8, {8, 2.0f}, 81);
}

// The fp8 e4m3 cache, GQA, no window.
TEST(FusedSimtKernels, AttentionDecodeFp8Cache) {
  checkDecode<e4m3_t, 2, 0, false>(cpu::DType::F32, kv::KVQuantization::Fp8E4M3,
                                   {}, 91);
}

// cached_attention_quantize_dynamic at decode: the combine quantizes each
// token's [heads * head_dim] row to int8 per token, as cpu::pagedAttention
// then cpu::quantizeDynamic do.
TEST(FusedSimtKernels, AttentionDecodeQuantizedOutput) {
  auto cache = filledCache(2, cpu::DType::BF16, kv::KVQuantization::None, 101);
  const std::vector<int32_t> positions[3] = {{36}, {4}, {19}};
  Call call(*cache, attentionCall(positions));
  const int tokens = call.tokens(), width = kHeads * kHeadDim;
  auto query = randomValues(tokens * width, 1.0f, 102);
  std::vector<signed char> codes(tokens * width);
  std::vector<float> scales(tokens);
  runDecode<bf16_t, 2, 0, false, float, signed char, kDynamicScale>(
      call, query, 0.3f, 0.0f, nullptr, codes.data(), scales.data());
  auto rows = referenceAttention<float, float>(*cache, call, query, 0.3f, {});
  std::vector<int8_t> expectedCodes(codes.size());
  std::vector<float> expectedScales(tokens);
  cpu::quantizeDynamic(
      cpu::constMatrix(rows.data(), cpu::DType::F32, tokens, width),
      expectedCodes.data(), cpu::QuantDType::I8, expectedScales.data());
  int equal = 0;
  for (int t = 0; t < tokens; ++t)
    ASSERT_NEAR(scales[t], expectedScales[t], 1e-5f * expectedScales[t]);
  for (size_t i = 0; i < codes.size(); ++i) {
    ASSERT_LE(std::abs(codes[i] - expectedCodes[i]), 1) << "at " << i;
    equal += codes[i] == expectedCodes[i];
  }
  EXPECT_GT(equal, static_cast<int>(codes.size()) * 9 / 10);
}

/// Prefill: chunks of the three sequences, 20 tokens, two 16-token tiles
/// (the first spans two sequences, the second two more); the split-K entries
/// over the same call as well.
template <class Cache, int KVHeads, int Window, bool Softcap>
void checkPrefill(cpu::DType cacheDType, kv::KVQuantization quantization,
                  AttentionCase options, unsigned seed) {
  constexpr int kQueryTile = 16;
  auto cache = filledCache(KVHeads, cacheDType, quantization, seed);
  const std::vector<int32_t> positions[3] = {{30, 31, 32, 33, 34, 35, 36},
                                             {0, 1, 2, 3, 4},
                                             {12, 13, 14, 15, 16, 17, 18, 19}};
  Call call(*cache, attentionCall(positions));
  const int tokens = call.tokens();
  auto query =
      stored<bf16_t>(randomValues(tokens * kHeads * kHeadDim, 1.0f, seed + 7));
  std::vector<bf16_t> output(query.size());
  const float scale = 0.4f;
  launchOnHost(dim3((tokens + kQueryTile - 1) / kQueryTile, kHeads),
               kAttentionThreads, [&] {
                 attentionPrefillTiles<bf16_t, bf16_t, Cache, kHeads, KVHeads,
                                       kHeadDim, kBlockTokens, kQueryTile,
                                       kAttentionThreads, Window, Softcap>(
                     query.data(), scale, options.softcap, &call.device, kLayer,
                     output.data(), tokens);
               });
  auto expected =
      referenceAttention<bf16_t, bf16_t>(*cache, call, query, scale, options);
  expectBf16WithinOneUlp(reinterpret_cast<const uint16_t *>(output.data()),
                         reinterpret_cast<const uint16_t *>(expected.data()),
                         output.size(), "attention output");
  // Split-K over the same call (several tokens per sequence) agrees too:
  // which entries run is only a matter of speed.
  std::vector<bf16_t> splitOutput(query.size());
  runDecode<Cache, KVHeads, Window, Softcap, bf16_t, signed char, kNoQuant,
            bf16_t>(call, query, scale, options.softcap, splitOutput.data(),
                    nullptr, nullptr);
  expectBf16WithinOneUlp(reinterpret_cast<const uint16_t *>(splitOutput.data()),
                         reinterpret_cast<const uint16_t *>(expected.data()),
                         splitOutput.size(), "split-K attention output");
}

// Flash-style prefill, bf16 query, output and cache, GQA, causal.
TEST(FusedSimtKernels, AttentionPrefillTilesGqa) {
  checkPrefill<bf16_t, 2, 0, false>(cpu::DType::BF16, kv::KVQuantization::None,
                                    {}, 111);
}

// Prefill with a sliding window (6), softcap (2.0) and an int8 cache.
TEST(FusedSimtKernels, AttentionPrefillWindowSoftcapInt8) {
  checkPrefill<signed char, 1, 6, true>(
      cpu::DType::F32, kv::KVQuantization::Int8, {6, 2.0f}, 121);
}

//===----------------------------------------------------------------------===//
// Elementwise programs, rms_norm_add_rms_norm
//===----------------------------------------------------------------------===//

/// The instantiator's table: cpu::ElementwiseInstruction as ElementwiseStep.
std::vector<ElementwiseStep>
toSteps(const std::vector<cpu::ElementwiseInstruction> &program) {
  std::vector<ElementwiseStep> steps;
  for (const cpu::ElementwiseInstruction &instruction : program) {
    int type = instruction.resultDType == cpu::DType::BF16  ? kEwBf16
               : instruction.resultDType == cpu::DType::F16 ? kEwF16
                                                            : kEwF32;
    steps.push_back({static_cast<int>(instruction.op),
                     {instruction.operands[0], instruction.operands[1]},
                     type,
                     instruction.constant});
  }
  return steps;
}

// A program mixing bf16 and f32 inputs, unary and binary ops, a scale and
// a convert, every result rounded to its own type: bitwise cpu::elementwise.
TEST(FusedSimtKernels, ElementwiseProgramMatchesCpu) {
  constexpr int kCount = 1000;
  const std::string text = "t0:bf16=silu(i0);t1:bf16=mul(t0,i1);"
                           "t2:f32=scale(t1,7.5e-01);t3:f32=add(t2,i2);"
                           "t4:bf16=gelu_tanh(t3);t5:f32=convert(t4)";
  std::vector<cpu::ElementwiseInstruction> program;
  std::string error;
  ASSERT_TRUE(cpu::parseElementwiseProgram(text, 3, program, error)) << error;
  ASSERT_EQ(program.size(), 6u);
  std::vector<ElementwiseStep> parsed = toSteps(program);
  ElementwiseStep table[6];
  std::copy(parsed.begin(), parsed.end(), table);
  auto a = stored<bf16_t>(randomValues(kCount, 2.0f, 131));
  auto b = stored<bf16_t>(randomValues(kCount, 2.0f, 132));
  auto c = randomValues(kCount, 2.0f, 133);
  const void *const inputs[3] = {a.data(), b.data(), c.data()};
  const int types[3] = {kEwBf16, kEwBf16, kEwF32};
  std::vector<float> output(kCount), expected(kCount);
  launchOnHost(2, 64, [&] { // a grid smaller than the data: grid-stride
    elementwiseProgram<float, 3, 6>(inputs, types, table, output.data(),
                                    kCount);
  });
  cpu::elementwise(program, {a.data(), b.data(), c.data()},
                   {cpu::DType::BF16, cpu::DType::BF16, cpu::DType::F32},
                   expected.data(), cpu::DType::F32, kCount);
  for (int i = 0; i < kCount; ++i)
    ASSERT_EQ(output[i], expected[i]) << "at " << i;
}

// Gemma's sandwich: branch norm, residual add (sum bitwise after the
// branch norm's ulp), next norm: within one bf16 ulp of
// cpu::rmsNormAddRmsNorm.
TEST(FusedSimtKernels, RmsNormAddRmsNormMatchesCpu) {
  constexpr int kRows = 5, kCols = 96, kBlock = 32;
  auto branch = stored<bf16_t>(randomValues(kRows * kCols, 3.0f, 141));
  auto residual = stored<bf16_t>(randomValues(kRows * kCols, 1.0f, 142));
  auto branchWeight = stored<bf16_t>(randomValues(kCols, 1.0f, 143));
  auto weight = stored<bf16_t>(randomValues(kCols, 1.0f, 144));
  std::vector<bf16_t> sum(kRows * kCols), output(kRows * kCols);
  std::vector<bf16_t> expectedSum(sum.size()), expected(output.size());
  launchOnHost(kRows, kBlock, [&] {
    rmsNormAddRmsNormRows<bf16_t, bf16_t, bf16_t, bf16_t, bf16_t, kCols,
                          kBlock>(branch.data(), branchWeight.data(), 1e-6f,
                                  residual.data(), weight.data(), 1e-5f,
                                  sum.data(), output.data(), kRows);
  });
  cpu::rmsNormAddRmsNorm(
      cpu::constMatrix(branch.data(), cpu::DType::BF16, kRows, kCols),
      branchWeight.data(), 1e-6f,
      cpu::constMatrix(residual.data(), cpu::DType::BF16, kRows, kCols),
      weight.data(), cpu::DType::BF16, 1e-5f,
      cpu::matrix(expectedSum.data(), cpu::DType::BF16, kRows, kCols),
      cpu::matrix(expected.data(), cpu::DType::BF16, kRows, kCols));
  expectBf16WithinOneUlp(reinterpret_cast<const uint16_t *>(sum.data()),
                         reinterpret_cast<const uint16_t *>(expectedSum.data()),
                         sum.size(), "sum");
  expectBf16WithinOneUlp(reinterpret_cast<const uint16_t *>(output.data()),
                         reinterpret_cast<const uint16_t *>(expected.data()),
                         output.size(), "output");
}

} // namespace
