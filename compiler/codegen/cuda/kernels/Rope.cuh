//===- Rope.cuh - rotary position embedding, optionally writing the KV cache
//===//
//
// One block per token. The block first computes the token's cos/sin table in
// shared memory exactly as the CPU backend does (f32 angle = f32 position *
// f32 inverse frequency, cos and sin in double rounded to f32, times the
// attention factor), then rotates every head. The inverse frequencies are an
// argument: the compiler computes them once per model (llama3/yarn scaling
// included) and embeds them in the generated source.
//
// With WriteCache, the kernel is the [rope + KV-cache write] step: it also
// stores the rotated keys and the values of token t into the paged cache at
// slot slots[t] (block = slot / BlockTokens; a negative slot is a padding
// token and is skipped), in the runtime's layout: per block, per KV head, a
// contiguous [BlockTokens, HeadDim] tile.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_CODEGEN_CUDA_KERNELS_ROPE_CUH
#define LLMC_CODEGEN_CUDA_KERNELS_ROPE_CUH

#ifndef LLMC_KERNELS_SINGLE_SOURCE
#include "compiler/codegen/cuda/kernels/Common.cuh"
#endif

namespace llmc_kernels {

enum RopeStyle {
  kRopeHalf = 0,        // element i pairs with i + RotaryDim / 2 (NeoX)
  kRopeInterleaved = 1, // element 2i pairs with 2i + 1 (GPT-J)
};

/// Cache offset of (slot, head, dim) in the paged layout.
template <int Heads, int HeadDim, int BlockTokens>
__device__ __forceinline__ long long cacheOffset(long long slot, int head,
                                                 int dim) {
  const long long block = slot / BlockTokens, offset = slot % BlockTokens;
  return ((block * Heads + head) * BlockTokens + offset) * HeadDim + dim;
}

template <class In, class Out, class Cache, int Heads, int HeadDim,
          int RotaryDim, int Style, int BlockThreads, bool WriteCache,
          int BlockTokens>
__device__ void ropeRows(const In *input, const int *positions,
                         const float *inverseFrequencies, float attentionFactor,
                         Out *output, const In *values, const long long *slots,
                         Cache *keyCache, Cache *valueCache, int rows) {
  static_assert(RotaryDim % 2 == 0 && RotaryDim <= HeadDim,
                "the rotary part is an even prefix of the head");
  constexpr int kHalf = RotaryDim / 2;
  __shared__ float cosines[kHalf];
  __shared__ float sines[kHalf];
  const int token = blockIdx.x;
  if (token >= rows)
    return;
  const float position = static_cast<float>(positions[token]);
  for (int i = threadIdx.x; i < kHalf; i += BlockThreads) {
    const float angle = position * inverseFrequencies[i];
    cosines[i] =
        static_cast<float>(cos(static_cast<double>(angle))) * attentionFactor;
    sines[i] =
        static_cast<float>(sin(static_cast<double>(angle))) * attentionFactor;
  }
  __syncthreads();
  const long long tokenBase = static_cast<long long>(token) * Heads * HeadDim;
  const long long slot = WriteCache ? slots[token] : -1;
  // Work items: per head, kHalf rotated pairs then the unrotated tail.
  constexpr int kTail = HeadDim - RotaryDim;
  constexpr int kItemsPerHead = kHalf + kTail;
  for (int item = threadIdx.x; item < Heads * kItemsPerHead;
       item += BlockThreads) {
    const int head = item / kItemsPerHead, k = item % kItemsPerHead;
    const long long headBase =
        tokenBase + static_cast<long long>(head) * HeadDim;
    int first, second = -1;
    float newFirst, newSecond = 0.0f;
    if (k < kHalf) {
      first = Style == kRopeHalf ? k : 2 * k;
      second = Style == kRopeHalf ? k + kHalf : 2 * k + 1;
      const float a = toF32(input[headBase + first]);
      const float b = toF32(input[headBase + second]);
      newFirst = a * cosines[k] - b * sines[k];
      newSecond = b * cosines[k] + a * sines[k];
    } else {
      first = RotaryDim + (k - kHalf);
      newFirst = toF32(input[headBase + first]);
    }
    const Out storedFirst = fromF32<Out>(newFirst);
    output[headBase + first] = storedFirst;
    if (second >= 0)
      output[headBase + second] = fromF32<Out>(newSecond);
    if (WriteCache && slot >= 0) {
      // The cache holds what attention would read from the step's output.
      keyCache[cacheOffset<Heads, HeadDim, BlockTokens>(slot, head, first)] =
          fromF32<Cache>(toF32(storedFirst));
      if (second >= 0)
        keyCache[cacheOffset<Heads, HeadDim, BlockTokens>(slot, head, second)] =
            fromF32<Cache>(roundThrough<Out>(newSecond));
    }
  }
  if (WriteCache && slot >= 0)
    for (int i = threadIdx.x; i < Heads * HeadDim; i += BlockThreads)
      valueCache[cacheOffset<Heads, HeadDim, BlockTokens>(slot, i / HeadDim,
                                                          i % HeadDim)] =
          fromF32<Cache>(toF32(values[tokenBase + i]));
}

} // namespace llmc_kernels

#endif // LLMC_CODEGEN_CUDA_KERNELS_ROPE_CUH
