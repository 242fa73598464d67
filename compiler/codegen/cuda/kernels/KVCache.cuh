//===- KVCache.cuh - the paged KV cache as kernels address it -------------===//
//
// The layout of runtime/include/llmc/device_batch.h (the CPU PagedKVCache's):
// per layer one key and one value allocation; the tile of KV head h in block
// b starts at byte (b * KVHeads + h) * kTileBytes and holds BlockTokens x
// HeadDim elements; a quantized cache (Cache = signed char or e4m3_t) holds
// 1-byte codes and then, at byte round_up(BlockTokens * HeadDim, 4),
// BlockTokens f32 scales (slot i's vector is codes[i * HeadDim ...] *
// scales[i]). Also the warp-per-head-vector helpers that rope_kv_write and
// attention share: lane l holds elements l, l + 32, ... of a head.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_CODEGEN_CUDA_KERNELS_KVCACHE_CUH
#define LLMC_CODEGEN_CUDA_KERNELS_KVCACHE_CUH

#ifndef LLMC_KERNELS_SINGLE_SOURCE
#include "compiler/codegen/cuda/kernels/Common.cuh"
#include "runtime/include/llmc/device_batch.h"
#endif

namespace llmc_kernels {

/// 1-byte cache types are quantized per (token, KV head) vector.
template <class Cache> struct IsQuantizedCache {
  static constexpr bool kValue = false;
};
template <> struct IsQuantizedCache<signed char> {
  static constexpr bool kValue = true;
};
template <> struct IsQuantizedCache<e4m3_t> {
  static constexpr bool kValue = true;
};

template <class Cache, int KVHeads, int HeadDim, int BlockTokens>
struct KVCacheLayout {
  static constexpr bool kQuantized = IsQuantizedCache<Cache>::kValue;
  static constexpr long long kScalesOffset =
      (static_cast<long long>(BlockTokens) * HeadDim + 3) / 4 * 4;
  static constexpr long long kTileBytes =
      kQuantized ? kScalesOffset + 4LL * BlockTokens
                 : static_cast<long long>(BlockTokens) * HeadDim *
                       static_cast<long long>(sizeof(Cache));

  __device__ __forceinline__ static unsigned char *tile(void *layerBase,
                                                        int block, int head) {
    return static_cast<unsigned char *>(layerBase) +
           (static_cast<long long>(block) * KVHeads + head) * kTileBytes;
  }
  __device__ __forceinline__ static Cache *elements(unsigned char *tile) {
    return reinterpret_cast<Cache *>(tile);
  }
  __device__ __forceinline__ static float *scales(unsigned char *tile) {
    return reinterpret_cast<float *>(tile + kScalesOffset);
  }
};

/// The cache block holding `position` of sequence `sequence` in the call's
/// block tables, or -1 (a padding token or an unused table entry).
__device__ __forceinline__ int kvBlockOf(const LlmcDeviceBatch *batch,
                                         int sequence, int position,
                                         int blockTokens) {
  if (sequence < 0 || position < 0)
    return -1;
  return batch->block_tables[static_cast<long long>(sequence) *
                                 batch->block_table_stride +
                             position / blockTokens];
}

__device__ __forceinline__ int laneIndex() {
  return static_cast<int>(threadIdx.x) % kWarpSize;
}

/// Elements of one head vector a lane owns: lane + 32 * j.
template <int HeadDim> struct HeadLanes {
  static constexpr int kPerLane = (HeadDim + kWarpSize - 1) / kWarpSize;
  __device__ __forceinline__ static int index(int j) {
    return laneIndex() + kWarpSize * j;
  }
  __device__ __forceinline__ static bool valid(int j) {
    return index(j) < HeadDim;
  }
};

/// A warp stores one head vector (lane-distributed f32 `values`, already
/// rounded to what the unfused step stores) at `slot` of a cache tile:
/// converted to Cache, or quantized with its own scale amax / qmax (1 for
/// an all-zero vector), as PagedKVCache::append does.
template <class Cache, int KVHeads, int HeadDim, int BlockTokens>
__device__ __forceinline__ void
storeHeadVector(const float (&values)[HeadLanes<HeadDim>::kPerLane],
                unsigned char *tile, int slot) {
  using Layout = KVCacheLayout<Cache, KVHeads, HeadDim, BlockTokens>;
  using Lanes = HeadLanes<HeadDim>;
  Cache *row = Layout::elements(tile) + static_cast<long long>(slot) * HeadDim;
  if constexpr (!Layout::kQuantized) {
    for (int j = 0; j < Lanes::kPerLane; ++j)
      if (Lanes::valid(j))
        row[Lanes::index(j)] = fromF32<Cache>(values[j]);
  } else {
    float amax = 0.0f;
    for (int j = 0; j < Lanes::kPerLane; ++j)
      if (Lanes::valid(j))
        amax = fmaxf(amax, fabsf(values[j]));
    const float scale = tokenScale<Cache>(warpMax(amax));
    for (int j = 0; j < Lanes::kPerLane; ++j)
      if (Lanes::valid(j))
        Quantizer<Cache>::store(row + Lanes::index(j), values[j] / scale);
    if (laneIndex() == 0)
      Layout::scales(tile)[slot] = scale;
  }
}

/// The whole key and value tiles of one KV head in one cache block, as f32
/// (dequantized with each vector's scale), into shared `keys` / `values`
/// ([BlockTokens, HeadDim]). Every thread of the block takes part.
template <class Cache, int KVHeads, int HeadDim, int BlockTokens,
          int BlockThreads>
__device__ __forceinline__ void
loadKVTiles(const LlmcDeviceBatch *batch, long long layer, int block,
            int kvHead, float *keys, float *values) {
  using Layout = KVCacheLayout<Cache, KVHeads, HeadDim, BlockTokens>;
  unsigned char *keyTile = Layout::tile(batch->key_cache[layer], block, kvHead);
  unsigned char *valueTile =
      Layout::tile(batch->value_cache[layer], block, kvHead);
  for (int i = threadIdx.x; i < BlockTokens * HeadDim; i += BlockThreads) {
    float key = toF32(Layout::elements(keyTile)[i]);
    float value = toF32(Layout::elements(valueTile)[i]);
    if (Layout::kQuantized) {
      key *= Layout::scales(keyTile)[i / HeadDim];
      value *= Layout::scales(valueTile)[i / HeadDim];
    }
    keys[i] = key;
    values[i] = value;
  }
}

} // namespace llmc_kernels

#endif // LLMC_CODEGEN_CUDA_KERNELS_KVCACHE_CUH
