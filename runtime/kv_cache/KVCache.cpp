//===- KVCache.cpp - block allocator, block tables and K/V appends --------===//

#include "runtime/kv_cache/KVCache.h"

#include <cstring>
#include <limits>
#include <new>
#include <string>

namespace llmc::kv {

Status PagedKVCache::create(const KVCacheConfig &config,
                            std::unique_ptr<PagedKVCache> &cache) {
  if (config.numLayers <= 0 || config.numKVHeads <= 0 || config.headDim <= 0 ||
      config.blockTokens <= 0 || config.numBlocks <= 0)
    return Status::error(
        "KV cache: layers, KV heads, head_dim, block_tokens and blocks must "
        "all be positive (got " +
        std::to_string(config.numLayers) + ", " +
        std::to_string(config.numKVHeads) + ", " +
        std::to_string(config.headDim) + ", " +
        std::to_string(config.blockTokens) + ", " +
        std::to_string(config.numBlocks) + ")");
  if (config.numBlocks > std::numeric_limits<int32_t>::max())
    return Status::error("KV cache: at most 2^31-1 blocks");
  std::unique_ptr<PagedKVCache> result(new PagedKVCache(config));
  int64_t layerBytes = config.numBlocks * config.numKVHeads *
                       config.blockTokens * config.headDim *
                       static_cast<int64_t>(cpu::dtypeBytes(config.dtype));
  for (int64_t layer = 0; layer < config.numLayers; ++layer) {
    // Zero-filled, so a position attention reads but no append wrote is a
    // finite zero rather than stale memory.
    std::unique_ptr<uint8_t[]> keys(new (std::nothrow) uint8_t[layerBytes]());
    std::unique_ptr<uint8_t[]> values(new (std::nothrow) uint8_t[layerBytes]());
    if (!keys || !values)
      return Status::error("KV cache: cannot allocate " +
                           std::to_string(2 * layerBytes) +
                           " bytes for layer " + std::to_string(layer));
    result->keys_.push_back(std::move(keys));
    result->values_.push_back(std::move(values));
  }
  result->freeBlocks_.reserve(config.numBlocks);
  for (int64_t block = config.numBlocks - 1; block >= 0; --block)
    result->freeBlocks_.push_back(static_cast<int32_t>(block));
  cache = std::move(result);
  return Status::success();
}

int64_t PagedKVCache::bytesPerToken() const {
  return 2 * config_.numLayers * config_.numKVHeads * config_.headDim *
         static_cast<int64_t>(cpu::dtypeBytes(config_.dtype));
}

int64_t PagedKVCache::bytes() const {
  return bytesPerToken() * config_.numBlocks * config_.blockTokens;
}

Status PagedKVCache::reserve(int64_t sequenceId, int64_t tokens) {
  if (tokens < 0)
    return Status::error("KV cache: negative token count");
  std::vector<int32_t> &table = sequences_[sequenceId];
  int64_t needed = blocksFor(tokens) - static_cast<int64_t>(table.size());
  if (needed <= 0)
    return Status::success();
  if (needed > numFreeBlocks()) {
    if (table.empty())
      sequences_.erase(sequenceId);
    return Status::error(
        "KV cache out of blocks: sequence " + std::to_string(sequenceId) +
        " needs " + std::to_string(needed) + " more block(s) of " +
        std::to_string(config_.blockTokens) + " tokens for " +
        std::to_string(tokens) + " tokens, " + std::to_string(numFreeBlocks()) +
        " free of " + std::to_string(config_.numBlocks));
  }
  for (int64_t i = 0; i < needed; ++i) {
    table.push_back(freeBlocks_.back());
    freeBlocks_.pop_back();
  }
  return Status::success();
}

void PagedKVCache::freeSequence(int64_t sequenceId) {
  auto it = sequences_.find(sequenceId);
  if (it == sequences_.end())
    return;
  // Reversed so the sequence's first block is reused first.
  for (auto block = it->second.rbegin(); block != it->second.rend(); ++block)
    freeBlocks_.push_back(*block);
  sequences_.erase(it);
}

int64_t PagedKVCache::capacityTokens(int64_t sequenceId) const {
  auto it = sequences_.find(sequenceId);
  if (it == sequences_.end())
    return 0;
  return static_cast<int64_t>(it->second.size()) * config_.blockTokens;
}

const std::vector<int32_t> *PagedKVCache::blockTable(int64_t sequenceId) const {
  auto it = sequences_.find(sequenceId);
  return it == sequences_.end() ? nullptr : &it->second;
}

namespace {
// Copies one head row, converting storage types through f32 when they differ.
void copyRow(const void *src, DType srcDType, void *dst, DType dstDType,
             int64_t count) {
  if (srcDType == dstDType) {
    std::memcpy(dst, src, count * cpu::dtypeBytes(srcDType));
    return;
  }
  for (int64_t i = 0; i < count; ++i)
    cpu::storeFromF32(dst, dstDType, i, cpu::loadAsF32(src, srcDType, i));
}
} // namespace

Status PagedKVCache::append(int64_t layer, int64_t sequenceId,
                            const int32_t *positions, int64_t count,
                            const void *keys, const void *values,
                            DType srcDType, int64_t tokenStride) {
  if (layer < 0 || layer >= config_.numLayers)
    return Status::error("KV cache: layer " + std::to_string(layer) +
                         " out of range [0, " +
                         std::to_string(config_.numLayers) + ")");
  auto it = sequences_.find(sequenceId);
  if (it == sequences_.end())
    return Status::error("KV cache: unknown sequence " +
                         std::to_string(sequenceId) + " (reserve it first)");
  const std::vector<int32_t> &table = it->second;
  int64_t capacity = static_cast<int64_t>(table.size()) * config_.blockTokens;
  for (int64_t t = 0; t < count; ++t)
    if (positions[t] < 0 || positions[t] >= capacity)
      return Status::error("KV cache: position " +
                           std::to_string(positions[t]) + " of sequence " +
                           std::to_string(sequenceId) + " outside its " +
                           std::to_string(capacity) + " reserved tokens");
  size_t srcBytes = cpu::dtypeBytes(srcDType);
  size_t dstBytes = cpu::dtypeBytes(config_.dtype);
  for (int64_t t = 0; t < count; ++t) {
    int32_t block = table[positions[t] / config_.blockTokens];
    int64_t slot = positions[t] % config_.blockTokens;
    for (int64_t head = 0; head < config_.numKVHeads; ++head) {
      int64_t srcOffset =
          (t * tokenStride + head * config_.headDim) * (int64_t)srcBytes;
      int64_t dstOffset = slot * config_.headDim * (int64_t)dstBytes;
      copyRow(static_cast<const uint8_t *>(keys) + srcOffset, srcDType,
              static_cast<uint8_t *>(mutableKeyTile(layer, block, head)) +
                  dstOffset,
              config_.dtype, config_.headDim);
      copyRow(static_cast<const uint8_t *>(values) + srcOffset, srcDType,
              static_cast<uint8_t *>(mutableValueTile(layer, block, head)) +
                  dstOffset,
              config_.dtype, config_.headDim);
    }
  }
  return Status::success();
}

} // namespace llmc::kv
