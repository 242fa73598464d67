//===- RopeKVWrite.cuh - the rope_kv_write group: split, norm, RoPE, cache
//-===//
//
// One block per token; warp w handles head vectors w, w + warps, ... of the
// packed row [q heads | k heads | v heads] (cpu::ropeKVWrite). A q or k head
// is optionally RMS-normalized (Qwen3's per-head norm, stored as the unfused
// rms_norm stores it: q in the query's type, k in the packed type), staged in
// shared memory so that RoPE can pair elements across lanes, rotated with the
// token's cos/sin table (built as ropeRows builds it), and stored: q to
// `query`, k rounded to the packed type and v unchanged to the paged cache at
// the token's position (device_batch.h), converted or quantized per vector.
// Tokens without a cache block (padding) write q only.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_CODEGEN_CUDA_KERNELS_ROPEKVWRITE_CUH
#define LLMC_CODEGEN_CUDA_KERNELS_ROPEKVWRITE_CUH

#ifndef LLMC_KERNELS_SINGLE_SOURCE
#include "compiler/codegen/cuda/kernels/KVCache.cuh"
#include "compiler/codegen/cuda/kernels/Rope.cuh"
#endif

namespace llmc_kernels {

template <class In, class Norm, class Out, class Cache, int Heads, int KVHeads,
          int HeadDim, int RotaryDim, int Style, int BlockTokens,
          int BlockThreads, bool HeadNorm>
__device__ void ropeKVWriteRows(const In *packed, const int *positions,
                                const Norm *queryNorm, const Norm *keyNorm,
                                float epsilon, const float *inverseFrequencies,
                                float attentionFactor, Out *query,
                                const LlmcDeviceBatch *batch, long long layer,
                                int rows) {
  static_assert(RotaryDim % 2 == 0 && RotaryDim <= HeadDim,
                "the rotary part is an even prefix of the head");
  static_assert(BlockThreads % kWarpSize == 0, "blocks are whole warps");
  using Lanes = HeadLanes<HeadDim>;
  using Layout = KVCacheLayout<Cache, KVHeads, HeadDim, BlockTokens>;
  constexpr int kHalf = RotaryDim / 2;
  constexpr int kWarps = BlockThreads / kWarpSize;
  constexpr int kRowWidth = (Heads + 2 * KVHeads) * HeadDim;
  __shared__ float cosines[kHalf];
  __shared__ float sines[kHalf];
  __shared__ float staged[kWarps][HeadDim];
  const int token = blockIdx.x;
  if (token >= rows)
    return;
  const float angleBase = static_cast<float>(positions[token]);
  for (int i = threadIdx.x; i < kHalf; i += BlockThreads) {
    const float angle = angleBase * inverseFrequencies[i];
    cosines[i] =
        static_cast<float>(cos(static_cast<double>(angle))) * attentionFactor;
    sines[i] =
        static_cast<float>(sin(static_cast<double>(angle))) * attentionFactor;
  }
  __syncthreads();
  const int position = batch->positions[token];
  const int block =
      kvBlockOf(batch, batch->token_sequence[token], position, BlockTokens);
  const int slot = position % BlockTokens;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const In *row = packed + static_cast<long long>(token) * kRowWidth;
  for (int head = warp; head < Heads + 2 * KVHeads; head += kWarps) {
    const bool isQuery = head < Heads, isValue = head >= Heads + KVHeads;
    float values[Lanes::kPerLane];
    for (int j = 0; j < Lanes::kPerLane; ++j)
      values[j] =
          Lanes::valid(j) ? toF32(row[head * HeadDim + Lanes::index(j)]) : 0.0f;
    if (!isValue) {
      if (HeadNorm) {
        // cpu::rmsNormalizeRow's formula; stored in the normalized tensor's
        // type before RoPE reads it.
        float squares = 0.0f;
        for (int j = 0; j < Lanes::kPerLane; ++j)
          squares += values[j] * values[j];
        const float inverseRms =
            1.0f /
            sqrtf(warpSum(squares) / static_cast<float>(HeadDim) + epsilon);
        const Norm *gain = isQuery ? queryNorm : keyNorm;
        for (int j = 0; j < Lanes::kPerLane; ++j) {
          if (!Lanes::valid(j))
            continue;
          const float normalized =
              values[j] * inverseRms * toF32(gain[Lanes::index(j)]);
          values[j] = isQuery ? roundThrough<Out>(normalized)
                              : roundThrough<In>(normalized);
        }
      }
      for (int j = 0; j < Lanes::kPerLane; ++j)
        if (Lanes::valid(j))
          staged[warp][Lanes::index(j)] = values[j];
      __syncwarp();
      for (int j = 0; j < Lanes::kPerLane; ++j) {
        const int i = Lanes::index(j);
        if (i >= RotaryDim)
          continue; // the tail is not rotated
        int k;
        bool first;
        if (Style == kRopeHalf) {
          first = i < kHalf;
          k = first ? i : i - kHalf;
        } else {
          first = i % 2 == 0;
          k = i / 2;
        }
        const int a = Style == kRopeHalf ? k : 2 * k;
        const int b = Style == kRopeHalf ? k + kHalf : 2 * k + 1;
        const float x = staged[warp][a], y = staged[warp][b];
        values[j] = first ? x * cosines[k] - y * sines[k]
                          : y * cosines[k] + x * sines[k];
      }
      __syncwarp(); // the staging row is free for the next head
      if (isQuery) {
        Out *out =
            query + (static_cast<long long>(token) * Heads + head) * HeadDim;
        for (int j = 0; j < Lanes::kPerLane; ++j)
          if (Lanes::valid(j))
            out[Lanes::index(j)] = fromF32<Out>(values[j]);
        continue;
      }
      // The roped key as the unfused rope step stores it (packed type).
      for (int j = 0; j < Lanes::kPerLane; ++j)
        values[j] = roundThrough<In>(values[j]);
    }
    if (block < 0)
      continue;
    const int kvHead = head - Heads - (isValue ? KVHeads : 0);
    void *layerBase =
        isValue ? batch->value_cache[layer] : batch->key_cache[layer];
    storeHeadVector<Cache, KVHeads, HeadDim, BlockTokens>(
        values, Layout::tile(layerBase, block, kvHead), slot);
  }
}

} // namespace llmc_kernels

#endif // LLMC_CODEGEN_CUDA_KERNELS_ROPEKVWRITE_CUH
