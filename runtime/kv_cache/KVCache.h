//===- KVCache.h - the paged KV cache: fixed-size blocks and block tables -===//
//
// Keys and values of every layer live in blocks of `blockTokens` tokens taken
// from one pool (vLLM's PagedAttention layout), so sequences of any length
// share memory without fragmentation and a finished sequence returns its
// blocks at once. Block b of layer l holds, per KV head, a contiguous
// [blockTokens, headDim] tile of keys and another of values: attention reads
// one head's keys as a dense tile per block.
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

struct KVCacheConfig {
  int64_t numLayers = 0;
  int64_t numKVHeads = 0;
  int64_t headDim = 0;
  int64_t blockTokens = 16;
  int64_t numBlocks = 0; // shared by all sequences
  DType dtype = DType::BF16;
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
  /// given positions of the sequence, converting to the cache's type.
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

private:
  explicit PagedKVCache(const KVCacheConfig &config) : config_(config) {}
  int64_t tileOffsetBytes(int32_t block, int64_t head) const {
    return ((static_cast<int64_t>(block) * config_.numKVHeads + head) *
            config_.blockTokens * config_.headDim) *
           static_cast<int64_t>(cpu::dtypeBytes(config_.dtype));
  }

  KVCacheConfig config_;
  std::vector<std::unique_ptr<uint8_t[]>> keys_, values_; // per layer
  std::vector<int32_t> freeBlocks_; // a stack: the last freed is reused first
  std::unordered_map<int64_t, std::vector<int32_t>> sequences_;
};

} // namespace llmc::kv

#endif // LLMC_RUNTIME_KV_CACHE_KVCACHE_H
