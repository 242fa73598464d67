//===- kv_cache_test.cpp - block allocator, block tables, appends ---------===//

#include "runtime/kv_cache/KVCache.h"
#include "runtime/support/Quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

namespace llmc::kv {
namespace {

std::unique_ptr<PagedKVCache> makeCache(int64_t numBlocks, DType dtype,
                                        int64_t blockTokens = 4) {
  KVCacheConfig config;
  config.numLayers = 2;
  config.numKVHeads = 2;
  config.headDim = 3;
  config.blockTokens = blockTokens;
  config.numBlocks = numBlocks;
  config.dtype = dtype;
  std::unique_ptr<PagedKVCache> cache;
  EXPECT_TRUE(PagedKVCache::create(config, cache));
  return cache;
}

// A configuration with a zero or negative size is refused with a message.
TEST(KVCache, RejectsBadConfig) {
  KVCacheConfig config;
  config.numLayers = 1;
  config.numKVHeads = 0;
  config.headDim = 64;
  config.numBlocks = 4;
  std::unique_ptr<PagedKVCache> cache;
  Status status = PagedKVCache::create(config, cache);
  EXPECT_FALSE(status);
  EXPECT_FALSE(cache);
  EXPECT_NE(status.message().find("must all be positive"), std::string::npos);
}

// Sizes: bytes per token and in total follow layers x heads x dim x type.
TEST(KVCache, ReportsSizes) {
  auto cache = makeCache(10, DType::BF16);
  EXPECT_EQ(cache->bytesPerToken(), 2 * 2 * 2 * 3 * 2);
  EXPECT_EQ(cache->bytes(), cache->bytesPerToken() * 10 * 4);
}

// reserve() takes whole blocks, grows a table in place and never hands a
// block to two sequences.
TEST(KVCache, ReserveAllocatesDistinctBlocks) {
  auto cache = makeCache(8, DType::F32);
  ASSERT_TRUE(cache->reserve(1, 5)); // 2 blocks
  ASSERT_TRUE(cache->reserve(2, 4)); // 1 block
  ASSERT_TRUE(cache->reserve(1, 9)); // +1 block
  ASSERT_TRUE(cache->reserve(1, 3)); // shrinking is a no-op
  EXPECT_EQ(cache->capacityTokens(1), 12);
  EXPECT_EQ(cache->capacityTokens(2), 4);
  EXPECT_EQ(cache->numFreeBlocks(), 4);
  std::set<int32_t> used;
  for (int64_t seq : {1, 2})
    for (int32_t block : *cache->blockTable(seq))
      EXPECT_TRUE(used.insert(block).second) << "block " << block;
}

// Running out of blocks is an error that changes nothing; freeing a
// sequence returns its blocks for reuse.
TEST(KVCache, CapacityErrorIsAtomicAndFreeReuses) {
  auto cache = makeCache(4, DType::F32);
  ASSERT_TRUE(cache->reserve(1, 12));   // 3 blocks
  Status status = cache->reserve(2, 8); // needs 2, 1 free
  EXPECT_FALSE(status);
  EXPECT_NE(status.message().find("out of blocks"), std::string::npos);
  EXPECT_NE(status.message().find("needs 2 more"), std::string::npos);
  EXPECT_FALSE(cache->hasSequence(2));
  EXPECT_EQ(cache->numFreeBlocks(), 1);
  EXPECT_FALSE(cache->reserve(1, 20)); // growing too: unchanged
  EXPECT_EQ(cache->capacityTokens(1), 12);
  cache->freeSequence(1);
  cache->freeSequence(1); // twice is harmless
  EXPECT_EQ(cache->numFreeBlocks(), 4);
  EXPECT_TRUE(cache->reserve(2, 16));
  EXPECT_EQ(cache->numFreeBlocks(), 0);
}

// append() writes each token's heads into its block slot, converting f32 to
// the cache type, and refuses positions beyond the reserved capacity.
TEST(KVCache, AppendWritesSlotsWithConversion) {
  auto cache = makeCache(8, DType::BF16);
  ASSERT_TRUE(cache->reserve(5, 4)); // block A
  ASSERT_TRUE(cache->reserve(6, 4)); // block B, between
  ASSERT_TRUE(cache->reserve(5, 8)); // block C
  // Two tokens at positions 1 and 6, rows [token][head][dim], stride 8.
  std::vector<float> keys(16), values(16);
  for (int i = 0; i < 16; ++i) {
    keys[i] = static_cast<float>(i) + 0.5f;
    values[i] = -static_cast<float>(i);
  }
  int32_t positions[2] = {1, 6};
  ASSERT_TRUE(cache->append(1, 5, positions, 2, keys.data(), values.data(),
                            DType::F32, 8));
  const auto &table = *cache->blockTable(5);
  for (int t = 0; t < 2; ++t) {
    int32_t block = table[positions[t] / 4];
    int slot = positions[t] % 4;
    for (int head = 0; head < 2; ++head)
      for (int i = 0; i < 3; ++i) {
        const uint16_t *k =
            static_cast<const uint16_t *>(cache->keyTile(1, block, head));
        const uint16_t *v =
            static_cast<const uint16_t *>(cache->valueTile(1, block, head));
        EXPECT_EQ(cpu::bf16ToF32(k[slot * 3 + i]), keys[t * 8 + head * 3 + i]);
        EXPECT_EQ(cpu::bf16ToF32(v[slot * 3 + i]),
                  values[t * 8 + head * 3 + i]);
      }
  }
  // Layer 0 was not touched.
  const uint16_t *k0 =
      static_cast<const uint16_t *>(cache->keyTile(0, table[0], 0));
  EXPECT_EQ(k0[3], 0);
  positions[1] = 8;
  Status status = cache->append(1, 5, positions, 2, keys.data(), values.data(),
                                DType::F32, 8);
  EXPECT_FALSE(status);
  EXPECT_NE(status.message().find("position 8"), std::string::npos);
  EXPECT_FALSE(cache->append(2, 5, positions, 1, keys.data(), values.data(),
                             DType::F32, 8));
  EXPECT_FALSE(cache->append(0, 77, positions, 1, keys.data(), values.data(),
                             DType::F32, 8));
}

// Quantized caches store each (token, KV head) vector of K and V as codes
// with its own f32 scale (amax / qmax, 1 for an all-zero vector): the codes
// and scales are exactly Quantize.h's, readTile returns (q * scale), the
// round trip is within half a step, and bytes count one scale per vector.
TEST(KVCache, QuantizedVectorsRoundTripExactly) {
  for (KVQuantization quantization :
       {KVQuantization::Int8, KVQuantization::Fp8E4M3}) {
    KVCacheConfig config;
    config.numLayers = 2;
    config.numKVHeads = 2;
    config.headDim = 5;
    config.blockTokens = 4;
    config.numBlocks = 6;
    config.quantization = quantization;
    std::unique_ptr<PagedKVCache> cache;
    ASSERT_TRUE(PagedKVCache::create(config, cache));
    EXPECT_EQ(cache->bytesPerToken(), 2 * 2 * 2 * (5 + 4));
    ASSERT_TRUE(cache->reserve(3, 6));
    // Six tokens x 2 heads x 5, bf16 input; token 2 head 1 all zero.
    const int64_t tokens = 6, stride = 10;
    std::vector<uint16_t> keys(tokens * stride), values(tokens * stride);
    for (int64_t i = 0; i < tokens * stride; ++i) {
      keys[i] = cpu::f32ToBf16(std::sin(0.7f * i) * (1 + i % 7) * 3.0f);
      values[i] = cpu::f32ToBf16(std::cos(1.3f * i) * 0.01f * (i % 5));
    }
    for (int64_t i = 5; i < 10; ++i)
      keys[2 * stride + i] = 0;
    std::vector<int32_t> positions = {0, 1, 2, 3, 4, 5};
    ASSERT_TRUE(cache->append(1, 3, positions.data(), tokens, keys.data(),
                              values.data(), DType::BF16, stride));
    const bool int8 = quantization == KVQuantization::Int8;
    const float qmax = int8 ? numeric::kInt8QMax : numeric::kE4M3Max;
    const std::vector<int32_t> &table = *cache->blockTable(3);
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t head = 0; head < 2; ++head)
        for (bool isKey : {true, false}) {
          const std::vector<uint16_t> &source = isKey ? keys : values;
          float vector[5];
          for (int i = 0; i < 5; ++i)
            vector[i] = cpu::bf16ToF32(source[t * stride + head * 5 + i]);
          const float scale =
              numeric::symmetricScale(numeric::absMax(vector, 5), qmax);
          const int32_t block = table[t / 4];
          const void *tile = isKey ? cache->keyTile(1, block, head)
                                   : cache->valueTile(1, block, head);
          const float *scales = isKey ? cache->keyScales(1, block, head)
                                      : cache->valueScales(1, block, head);
          ASSERT_EQ(scales[t % 4], scale) << t << " " << head;
          if (t == 2 && head == 1 && isKey)
            EXPECT_EQ(scale, 1.0f);
          const uint8_t *codes =
              static_cast<const uint8_t *>(tile) + (t % 4) * 5;
          float decoded[5];
          cache->readTile(tile, t % 4, 1, decoded);
          for (int i = 0; i < 5; ++i) {
            float expected;
            if (int8) {
              int8_t q = numeric::quantizeInt8(vector[i], scale);
              ASSERT_EQ(static_cast<int8_t>(codes[i]), q);
              expected = numeric::dequantizeInt(q, scale);
            } else {
              uint8_t q = numeric::quantizeFp8(vector[i], scale,
                                               numeric::Fp8Format::E4M3FN);
              ASSERT_EQ(codes[i], q);
              expected =
                  numeric::dequantizeFp8(q, scale, numeric::Fp8Format::E4M3FN);
            }
            ASSERT_EQ(decoded[i], expected);
            // Half a step: scale/2 for int8; fp8 rounds to 3 mantissa bits.
            double bound = int8 ? 0.5 * scale + 1e-7
                                : std::fabs(vector[i]) / 16 + 1e-3 * scale;
            EXPECT_LE(std::fabs(decoded[i] - vector[i]), bound);
          }
        }
    // Layer 0 was never written: its scales are zero-initialized, its
    // values read back as zeros.
    float untouched[5];
    cache->readTile(cache->keyTile(0, table[0], 0), 0, 1, untouched);
    for (float v : untouched)
      EXPECT_EQ(v, 0.0f);
  }
}

} // namespace
} // namespace llmc::kv
