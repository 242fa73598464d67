//===- kv_cache_test.cpp - block allocator, block tables, appends ---------===//

#include "runtime/kv_cache/KVCache.h"

#include <gtest/gtest.h>

#include <set>

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

} // namespace
} // namespace llmc::kv
