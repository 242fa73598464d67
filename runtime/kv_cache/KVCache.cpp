//===- KVCache.cpp - block allocator, block tables and K/V appends --------===//

#include "runtime/kv_cache/KVCache.h"

#include "runtime/support/Quantize.h"

#include <array>
#include <cstring>
#include <limits>
#include <new>
#include <string>

namespace llmc::kv {

const char *kvQuantizationName(KVQuantization quantization) {
  switch (quantization) {
  case KVQuantization::None:
    return "none";
  case KVQuantization::Int8:
    return "i8";
  case KVQuantization::Fp8E4M3:
    return "f8E4M3FN";
  }
  return "?";
}

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
  int64_t layerBytes =
      config.numBlocks * config.numKVHeads * result->tileBytes();
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
  // Per token and head: the codes (or values) and, quantized, one scale.
  int64_t perHead = config_.headDim * elementBytes() + (quantized() ? 4 : 0);
  return 2 * config_.numLayers * config_.numKVHeads * perHead;
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
  for (int64_t t = 0; t < count; ++t) {
    int32_t block = table[positions[t] / config_.blockTokens];
    int64_t slot = positions[t] % config_.blockTokens;
    for (int64_t head = 0; head < config_.numKVHeads; ++head) {
      int64_t srcOffset =
          (t * tokenStride + head * config_.headDim) * (int64_t)srcBytes;
      writeVector(static_cast<const uint8_t *>(keys) + srcOffset, srcDType,
                  mutableKeyTile(layer, block, head), slot);
      writeVector(static_cast<const uint8_t *>(values) + srcOffset, srcDType,
                  mutableValueTile(layer, block, head), slot);
    }
  }
  return Status::success();
}

void PagedKVCache::writeVector(const void *src, DType srcDType, void *tile,
                               int64_t slot) {
  const int64_t d = config_.headDim;
  uint8_t *codes = static_cast<uint8_t *>(tile) + slot * d * elementBytes();
  if (!quantized()) {
    copyRow(src, srcDType, codes, config_.dtype, d);
    return;
  }
  float vector[1024];
  std::unique_ptr<float[]> large;
  float *values = vector;
  if (d > 1024) {
    large.reset(new float[d]);
    values = large.get();
  }
  for (int64_t i = 0; i < d; ++i)
    values[i] = cpu::loadAsF32(src, srcDType, i);
  const float amax = numeric::absMax(values, d);
  float *scales = reinterpret_cast<float *>(static_cast<uint8_t *>(tile) +
                                            scalesOffsetBytes());
  if (config_.quantization == KVQuantization::Int8) {
    const float scale = numeric::symmetricScale(amax, numeric::kInt8QMax);
    for (int64_t i = 0; i < d; ++i)
      codes[i] = static_cast<uint8_t>(numeric::quantizeInt8(values[i], scale));
    scales[slot] = scale;
  } else {
    const float scale = numeric::symmetricScale(amax, numeric::kE4M3Max);
    for (int64_t i = 0; i < d; ++i)
      codes[i] =
          numeric::quantizeFp8(values[i], scale, numeric::Fp8Format::E4M3FN);
    scales[slot] = scale;
  }
}

void PagedKVCache::readTile(const void *tile, int64_t slot0, int64_t count,
                            float *dst) const {
  const int64_t d = config_.headDim;
  const uint8_t *codes =
      static_cast<const uint8_t *>(tile) + slot0 * d * elementBytes();
  if (!quantized()) {
    for (int64_t i = 0; i < count * d; ++i)
      dst[i] = cpu::loadAsF32(codes, config_.dtype, i);
    return;
  }
  const float *scales = reinterpret_cast<const float *>(
      static_cast<const uint8_t *>(tile) + scalesOffsetBytes());
  for (int64_t t = 0; t < count; ++t) {
    const float scale = scales[slot0 + t];
    const uint8_t *row = codes + t * d;
    float *out = dst + t * d;
    if (config_.quantization == KVQuantization::Int8) {
      for (int64_t i = 0; i < d; ++i)
        out[i] = numeric::dequantizeInt(static_cast<int8_t>(row[i]), scale);
    } else {
      // fp8ToFloat through a table: this runs for every cached key and value
      // that attention reads.
      static const std::array<float, 256> table = [] {
        std::array<float, 256> values;
        for (int code = 0; code < 256; ++code)
          values[code] = numeric::fp8ToFloat(static_cast<uint8_t>(code),
                                             numeric::Fp8Format::E4M3FN);
        return values;
      }();
      for (int64_t i = 0; i < d; ++i)
        out[i] = table[row[i]] * scale;
    }
  }
}

} // namespace llmc::kv
