//===- Attention.cuh - paged attention over the KV cache ------------------===//
//
// cpu::pagedAttention's math: query head h of token t (position p, sequence
// s) attends to the cached keys [first, p] of s, first = max(0, p - window +
// 1) with a sliding window, else 0; KV head h / (Heads / KVHeads) (GQA, MQA);
// logit = q.k * scale, optionally softcap * tanh(logit / softcap); online
// softmax in f32 (running maximum m, sum l, unnormalized output acc, rescaled
// by exp(m_old - m_new)); output acc * (1 / l). Keys and values come a cache
// block at a time through shared memory, dequantized with their vector
// scales for an int8 / fp8 cache. A warp owns one query row at a time: lanes
// split the head dimension, a warp sum forms each logit.
//
// Two launch shapes:
// - decode (few tokens): split-K. attentionDecodePartials runs a block per
//   (token, query head, split); split j takes the j-th run of whole cache
//   blocks' worth of the row's keys, the warps interleave keys and merge at
//   the end, and the block writes (m, l, acc[HeadDim]) to `partials`;
//   attentionCombineRows (a block per token) merges the splits of every
//   head, optionally quantizing the token's row per token.
// - prefill: attentionPrefillTiles, flash style: a block per (QueryTile
//   consecutive tokens, query head); for each sequence among its rows it
//   streams the union of their key ranges through shared memory once, each
//   warp updating its rows' online softmax.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_CODEGEN_CUDA_KERNELS_ATTENTION_CUH
#define LLMC_CODEGEN_CUDA_KERNELS_ATTENTION_CUH

#ifndef LLMC_KERNELS_SINGLE_SOURCE
#include "compiler/codegen/cuda/kernels/KVCache.cuh"
#endif

namespace llmc_kernels {

/// The online-softmax state of one query row, lane-distributed.
template <int HeadDim> struct AttentionRow {
  float query[HeadLanes<HeadDim>::kPerLane];
  float acc[HeadLanes<HeadDim>::kPerLane];
  float maximum;
  float sum;
};

template <class Query, int HeadDim>
__device__ __forceinline__ void startRow(AttentionRow<HeadDim> &row,
                                         const Query *query) {
  using Lanes = HeadLanes<HeadDim>;
  for (int j = 0; j < Lanes::kPerLane; ++j) {
    row.query[j] = Lanes::valid(j) ? toF32(query[Lanes::index(j)]) : 0.0f;
    row.acc[j] = 0.0f;
  }
  row.maximum = negativeInfinity();
  row.sum = 0.0f;
}

/// exp(m - reference), 0 for an empty state (m = -inf).
__device__ __forceinline__ float rescaleFactor(float m, float reference) {
  return m == negativeInfinity() ? 0.0f : expf(m - reference);
}

/// One key and value (shared-memory rows of HeadDim f32) into a row's
/// state; the whole warp calls it.
template <int HeadDim, bool Softcap>
__device__ __forceinline__ void attendKey(AttentionRow<HeadDim> &row,
                                          const float *key, const float *value,
                                          float scale, float softcap) {
  using Lanes = HeadLanes<HeadDim>;
  float partial = 0.0f;
  for (int j = 0; j < Lanes::kPerLane; ++j)
    if (Lanes::valid(j))
      partial += row.query[j] * key[Lanes::index(j)];
  float logit = warpSum(partial) * scale;
  if (Softcap)
    logit = softcap * tanhf(logit / softcap);
  const float maximum = fmaxf(row.maximum, logit);
  const float correction = rescaleFactor(row.maximum, maximum);
  const float weight = expf(logit - maximum);
  row.sum = row.sum * correction + weight;
  for (int j = 0; j < Lanes::kPerLane; ++j)
    if (Lanes::valid(j))
      row.acc[j] = row.acc[j] * correction + weight * value[Lanes::index(j)];
  row.maximum = maximum;
}

/// The first key position a token at `position` sees.
template <int SlidingWindow>
__device__ __forceinline__ int firstKey(int position) {
  if (SlidingWindow <= 0)
    return 0;
  const int first = position - SlidingWindow + 1;
  return first > 0 ? first : 0;
}

/// Floats of one (row, split) partial: m, l, acc[HeadDim].
template <int HeadDim> __host__ __device__ constexpr int partialFloats() {
  return HeadDim + 2;
}

template <class Query, class Cache, int Heads, int KVHeads, int HeadDim,
          int BlockTokens, int Splits, int BlockThreads, int SlidingWindow,
          bool Softcap>
__device__ void
attentionDecodePartials(const Query *query, float scale, float softcap,
                        const LlmcDeviceBatch *batch, long long layer,
                        float *partials, int tokens) {
  static_assert(Heads % KVHeads == 0, "query heads share KV heads evenly");
  static_assert(BlockThreads % kWarpSize == 0, "blocks are whole warps");
  using Lanes = HeadLanes<HeadDim>;
  constexpr int kWarps = BlockThreads / kWarpSize;
  __shared__ float keys[BlockTokens * HeadDim];
  __shared__ float values[BlockTokens * HeadDim];
  __shared__ float warpMaximum[kWarps];
  __shared__ float warpSumOf[kWarps];
  __shared__ float warpAcc[kWarps][HeadDim];
  const int rowIndex = blockIdx.x, split = blockIdx.y;
  const int token = rowIndex / Heads, head = rowIndex % Heads;
  if (token >= tokens)
    return;
  const int kvHead = head / (Heads / KVHeads);
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const int position = batch->positions[token];
  const int sequence = batch->token_sequence[token];
  const int first = firstKey<SlidingWindow>(position);
  const int count = position - first + 1;
  // Whole cache blocks' worth of keys per split, so that a split's tiles
  // are few; trailing splits may get none.
  const int perSplit = (count + Splits - 1) / Splits;
  const int chunk = (perSplit + BlockTokens - 1) / BlockTokens * BlockTokens;
  const int begin = first + split * chunk;
  const int end = begin + chunk - 1 < position ? begin + chunk - 1 : position;
  AttentionRow<HeadDim> row;
  startRow<Query, HeadDim>(row,
                           query + static_cast<long long>(rowIndex) * HeadDim);
  for (int b = begin / BlockTokens; begin <= end && b <= end / BlockTokens;
       ++b) {
    const int block = kvBlockOf(batch, sequence, b * BlockTokens, BlockTokens);
    if (block < 0)
      continue;
    __syncthreads(); // the previous tile is consumed
    loadKVTiles<Cache, KVHeads, HeadDim, BlockTokens, BlockThreads>(
        batch, layer, block, kvHead, keys, values);
    __syncthreads();
    const int low = begin > b * BlockTokens ? begin : b * BlockTokens;
    const int high = end < b * BlockTokens + BlockTokens - 1
                         ? end
                         : b * BlockTokens + BlockTokens - 1;
    for (int k = low + warp; k <= high; k += kWarps) {
      const int slot = k - b * BlockTokens;
      attendKey<HeadDim, Softcap>(row, keys + slot * HeadDim,
                                  values + slot * HeadDim, scale, softcap);
    }
  }
  // Merge the warps' states, then write the split's partial.
  if (laneIndex() == 0) {
    warpMaximum[warp] = row.maximum;
    warpSumOf[warp] = row.sum;
  }
  for (int j = 0; j < Lanes::kPerLane; ++j)
    if (Lanes::valid(j))
      warpAcc[warp][Lanes::index(j)] = row.acc[j];
  __syncthreads();
  float maximum = negativeInfinity();
  for (int w = 0; w < kWarps; ++w)
    maximum = fmaxf(maximum, warpMaximum[w]);
  float *out = partials + (static_cast<long long>(rowIndex) * Splits + split) *
                              partialFloats<HeadDim>();
  for (int i = threadIdx.x; i < HeadDim; i += BlockThreads) {
    float acc = 0.0f;
    for (int w = 0; w < kWarps; ++w)
      acc += warpAcc[w][i] * rescaleFactor(warpMaximum[w], maximum);
    out[2 + i] = acc;
  }
  if (threadIdx.x == 0) {
    float sum = 0.0f;
    for (int w = 0; w < kWarps; ++w)
      sum += warpSumOf[w] * rescaleFactor(warpMaximum[w], maximum);
    out[0] = maximum;
    out[1] = sum;
  }
}

/// Element `element` (head h = element / HeadDim) of token `token`'s output
/// row from the splits' partials.
template <int Heads, int HeadDim, int Splits>
__device__ __forceinline__ float combinedElement(const float *partials,
                                                 int token, int element) {
  const int head = element / HeadDim, i = element % HeadDim;
  const float *row = partials + (static_cast<long long>(token) * Heads + head) *
                                    Splits * partialFloats<HeadDim>();
  float maximum = negativeInfinity();
  for (int s = 0; s < Splits; ++s)
    maximum = fmaxf(maximum, row[s * partialFloats<HeadDim>()]);
  float sum = 0.0f, acc = 0.0f;
  for (int s = 0; s < Splits; ++s) {
    const float *partial = row + s * partialFloats<HeadDim>();
    const float factor = rescaleFactor(partial[0], maximum);
    sum += partial[1] * factor;
    acc += partial[2 + i] * factor;
  }
  return sum > 0.0f ? acc * (1.0f / sum) : 0.0f;
}

/// One block per token: every head's output from the partials, stored as
/// Out, or (ScaleMode == kDynamicScale) rounded to Out, as the unfused
/// attention stores it, and quantized per token with amax / qmax.
template <class Out, class Quant, int ScaleMode, int Heads, int HeadDim,
          int Splits, int BlockThreads>
__device__ void attentionCombineRows(const float *partials, Out *output,
                                     Quant *quantized, float *tokenScales,
                                     int tokens) {
  constexpr int kWidth = Heads * HeadDim;
  __shared__ float scratch[kWarpSize];
  const int token = blockIdx.x;
  if (token >= tokens)
    return;
  const long long base = static_cast<long long>(token) * kWidth;
  if (ScaleMode == kNoQuant) {
    for (int e = threadIdx.x; e < kWidth; e += BlockThreads)
      output[base + e] = fromF32<Out>(
          combinedElement<Heads, HeadDim, Splits>(partials, token, e));
    return;
  }
  // Two passes over the partials (amax, then codes) instead of holding a
  // row of any width in shared memory.
  float amax = 0.0f;
  for (int e = threadIdx.x; e < kWidth; e += BlockThreads)
    amax = fmaxf(
        amax, fabsf(roundThrough<Out>(combinedElement<Heads, HeadDim, Splits>(
                  partials, token, e))));
  const float scale = tokenScale<Quant>(blockMax<BlockThreads>(amax, scratch));
  if (threadIdx.x == 0)
    tokenScales[token] = scale;
  for (int e = threadIdx.x; e < kWidth; e += BlockThreads)
    Quantizer<Quant>::store(
        quantized + base + e,
        roundThrough<Out>(
            combinedElement<Heads, HeadDim, Splits>(partials, token, e)) /
            scale);
}

template <class Query, class Out, class Cache, int Heads, int KVHeads,
          int HeadDim, int BlockTokens, int QueryTile, int BlockThreads,
          int SlidingWindow, bool Softcap>
__device__ void
attentionPrefillTiles(const Query *query, float scale, float softcap,
                      const LlmcDeviceBatch *batch, long long layer,
                      Out *output, int tokens) {
  static_assert(Heads % KVHeads == 0, "query heads share KV heads evenly");
  constexpr int kWarps = BlockThreads / kWarpSize;
  static_assert(QueryTile % kWarps == 0, "every warp owns as many rows");
  constexpr int kRowsPerWarp = QueryTile / kWarps;
  using Lanes = HeadLanes<HeadDim>;
  __shared__ float keys[BlockTokens * HeadDim];
  __shared__ float values[BlockTokens * HeadDim];
  const int tileBegin = blockIdx.x * QueryTile, head = blockIdx.y;
  if (tileBegin >= tokens)
    return;
  const int tileEnd =
      tileBegin + QueryTile < tokens ? tileBegin + QueryTile : tokens;
  const int kvHead = head / (Heads / KVHeads);
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  // Rows interleave over the warps, so that the rows of a short sequence
  // keep several warps busy.
  AttentionRow<HeadDim> rows[kRowsPerWarp];
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int token = tileBegin + r * kWarps + warp;
    startRow<Query, HeadDim>(
        rows[r],
        query + (static_cast<long long>(token < tileEnd ? token : 0) * Heads +
                 head) *
                    HeadDim);
  }
  // Tokens are sequence after sequence: each run of one sequence streams
  // the union of its rows' key ranges once.
  for (int runBegin = tileBegin; runBegin < tileEnd;) {
    const int sequence = batch->token_sequence[runBegin];
    int runEnd = runBegin, keyFirst = 0x7fffffff, keyLast = -1;
    while (runEnd < tileEnd && batch->token_sequence[runEnd] == sequence) {
      const int position = batch->positions[runEnd];
      const int first = firstKey<SlidingWindow>(position);
      keyFirst = first < keyFirst ? first : keyFirst;
      keyLast = position > keyLast ? position : keyLast;
      ++runEnd;
    }
    for (int b = keyFirst / BlockTokens;
         keyLast >= 0 && b <= keyLast / BlockTokens; ++b) {
      const int block =
          kvBlockOf(batch, sequence, b * BlockTokens, BlockTokens);
      if (block < 0)
        continue;
      __syncthreads();
      loadKVTiles<Cache, KVHeads, HeadDim, BlockTokens, BlockThreads>(
          batch, layer, block, kvHead, keys, values);
      __syncthreads();
      for (int r = 0; r < kRowsPerWarp; ++r) {
        const int token = tileBegin + r * kWarps + warp;
        if (token < runBegin || token >= runEnd)
          continue;
        const int position = batch->positions[token];
        int low = firstKey<SlidingWindow>(position);
        low = low > b * BlockTokens ? low : b * BlockTokens;
        const int high = position < b * BlockTokens + BlockTokens - 1
                             ? position
                             : b * BlockTokens + BlockTokens - 1;
        for (int k = low; k <= high; ++k) {
          const int slot = k - b * BlockTokens;
          attendKey<HeadDim, Softcap>(rows[r], keys + slot * HeadDim,
                                      values + slot * HeadDim, scale, softcap);
        }
      }
    }
    runBegin = runEnd;
  }
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int token = tileBegin + r * kWarps + warp;
    if (token >= tileEnd)
      continue;
    const float inverse = rows[r].sum > 0.0f ? 1.0f / rows[r].sum : 0.0f;
    Out *out =
        output + (static_cast<long long>(token) * Heads + head) * HeadDim;
    for (int j = 0; j < Lanes::kPerLane; ++j)
      if (Lanes::valid(j))
        out[Lanes::index(j)] = fromF32<Out>(rows[r].acc[j] * inverse);
  }
}

} // namespace llmc_kernels

#endif // LLMC_CODEGEN_CUDA_KERNELS_ATTENTION_CUH
