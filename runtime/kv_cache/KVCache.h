//===- KVCache.h - the paged KV cache: fixed-size blocks and block tables -===//
//
// Keys and values of every layer live in blocks of `blockTokens` tokens taken
// from one pool (vLLM's PagedAttention layout), so sequences of any length
// share memory without fragmentation and a finished sequence returns its
// blocks at once. Block b of layer l holds, per KV head, a contiguous
// [blockTokens, headDim] tile of keys and another of values: attention reads
// one head's keys as a dense tile per block.
//
// A quantized cache (KVQuantization::Int8 / Fp8E4M3) stores every (token, KV
// head) vector of K and of V as one byte per element with its own f32 scale
// (amax / qmax, 1 for an all-zero vector), the block's scales right after its
// codes in the same tile, so attention dequantizes one tile with one read.
//
// Running out of blocks is a Status error the scheduler handles (preempt or
// wait), never a crash; a failed reserve() allocates nothing.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_KV_CACHE_KVCACHE_H
#define LLMC_RUNTIME_KV_CACHE_KVCACHE_H

#include "runtime/backends/cpu/Numeric.h"
#include "runtime/support/Status.h"

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

namespace llmc::kv {

using cpu::DType;
using Status = ::llmc::runtime::Status;

/// How K and V are stored: in `KVCacheConfig::dtype`, or quantized per
/// (token, KV head) vector (docs/quantization.md, contract item 6).
enum class KVQuantization : uint8_t { None, Int8, Fp8E4M3 };

const char *kvQuantizationName(KVQuantization quantization);

struct KVCacheConfig {
  int64_t numLayers = 0;
  int64_t numKVHeads = 0;
  int64_t headDim = 0;
  int64_t blockTokens = 16;
  int64_t numBlocks = 0;     // shared by all sequences
  DType dtype = DType::BF16; // the storage when not quantized
  KVQuantization quantization = KVQuantization::None;
};

class PagedKVCache {
public:
  /// Checks the configuration and allocates every block up front (one
  /// buffer per layer for K and one for V).
  static Status create(const KVCacheConfig &config,
                       std::unique_ptr<PagedKVCache> &cache);

  const KVCacheConfig &config() const { return config_; }
  /// Bytes of K plus V storage over all layers.
  int64_t bytes() const;
  /// Bytes one token costs over all layers (K and V).
  int64_t bytesPerToken() const;

  int64_t numFreeBlocks() const {
    return static_cast<int64_t>(freeBlocks_.size());
  }
  /// Blocks a sequence of `tokens` tokens occupies.
  int64_t blocksFor(int64_t tokens) const {
    return (tokens + config_.blockTokens - 1) / config_.blockTokens;
  }

  /// Makes sequence `sequenceId` (created on first use) hold at least
  /// `tokens` positions, taking blocks from the free list. All or nothing:
  /// when too few blocks are free, nothing changes and the error says how
  /// many were needed.
  Status reserve(int64_t sequenceId, int64_t tokens);
  /// Returns the sequence's blocks to the free list; unknown ids are a no-op.
  void freeSequence(int64_t sequenceId);
  bool hasSequence(int64_t sequenceId) const {
    return sequences_.count(sequenceId) != 0;
  }
  /// Positions reserved for the sequence (0 for unknown ids).
  int64_t capacityTokens(int64_t sequenceId) const;

  /// Writes this step's keys and values ([count, numKVHeads, headDim] rows,
  /// `tokenStride` elements apart, in `srcDType`) of layer `layer` at the
  /// given positions of the sequence, converting to the cache's type (or
  /// quantizing each head vector with its own scale).
  /// Positions must lie within the reserved capacity.
  Status append(int64_t layer, int64_t sequenceId, const int32_t *positions,
                int64_t count, const void *keys, const void *values,
                DType srcDType, int64_t tokenStride);

  /// The sequence's block table (block ids in position order), or null.
  const std::vector<int32_t> *blockTable(int64_t sequenceId) const;

  /// The [blockTokens, headDim] key / value tile of one KV head in a block.
  const void *keyTile(int64_t layer, int32_t block, int64_t head) const {
    return keys_[layer].get() + tileOffsetBytes(block, head);
  }
  const void *valueTile(int64_t layer, int32_t block, int64_t head) const {
    return values_[layer].get() + tileOffsetBytes(block, head);
  }
  void *mutableKeyTile(int64_t layer, int32_t block, int64_t head) {
    return keys_[layer].get() + tileOffsetBytes(block, head);
  }
  void *mutableValueTile(int64_t layer, int32_t block, int64_t head) {
    return values_[layer].get() + tileOffsetBytes(block, head);
  }

  bool quantized() const {
    return config_.quantization != KVQuantization::None;
  }
  /// The blockTokens f32 scales of a quantized key / value tile (slot i's
  /// vector is codes[i * headDim ...] * scales[i]).
  const float *keyScales(int64_t layer, int32_t block, int64_t head) const {
    return reinterpret_cast<const float *>(
        static_cast<const uint8_t *>(keyTile(layer, block, head)) +
        scalesOffsetBytes());
  }
  const float *valueScales(int64_t layer, int32_t block, int64_t head) const {
    return reinterpret_cast<const float *>(
        static_cast<const uint8_t *>(valueTile(layer, block, head)) +
        scalesOffsetBytes());
  }

  /// Decodes `count` cached vectors of one key or value tile, from slot
  /// `slot0`, to f32 [count, headDim] (dequantizing when quantized).
  void readTile(const void *tile, int64_t slot0, int64_t count,
                float *dst) const;

private:
  explicit PagedKVCache(const KVCacheConfig &config) : config_(config) {}
  int64_t elementBytes() const {
    return quantized() ? 1
                       : static_cast<int64_t>(cpu::dtypeBytes(config_.dtype));
  }
  /// Codes of a quantized tile, rounded up so that the scales are aligned.
  int64_t scalesOffsetBytes() const {
    return (config_.blockTokens * config_.headDim + 3) / 4 * 4;
  }
  int64_t tileBytes() const {
    return quantized() ? scalesOffsetBytes() + config_.blockTokens * 4
                       : config_.blockTokens * config_.headDim * elementBytes();
  }
  int64_t tileOffsetBytes(int32_t block, int64_t head) const {
    return (static_cast<int64_t>(block) * config_.numKVHeads + head) *
           tileBytes();
  }
  void writeVector(const void *src, DType srcDType, void *tile, int64_t slot);

  KVCacheConfig config_;
  std::vector<std::unique_ptr<uint8_t[]>> keys_, values_; // per layer
  std::vector<int32_t> freeBlocks_; // a stack: the last freed is reused first
  std::unordered_map<int64_t, std::vector<int32_t>> sequences_;
};

} // namespace llmc::kv

#endif // LLMC_RUNTIME_KV_CACHE_KVCACHE_H
