//===- GemmWeightOnly.cuh - weight-only (w8a16/w4a16) and float GEMMs -----===//
//
// C = alpha * A * W^T for float A [M, K] (f32/f16/bf16) and W [N, K] stored
// as float (f32/f16/bf16, the fused float linears) or as integer codes
// (i8, or i4: two per byte, low nibble = even column) with block scales
// [N, K/G] (or [] / [N, 1]) and optional i8 zero points: W[n][k] =
// (q - zero) * scale in f32, one rounding, as the CPU backend decodes it
// (runtime/backends/cpu/Quantized.cpp); products and sums in f32. Results go
// to an epilogue (GemmEpilogue.cuh).
//
// gemvWeightRows (decode, few rows): one warp per output column; each lane
// streams 4 * LoadWords bytes of the weight row per load (16 by default),
// decodes them in registers and multiplies them into every activation row,
// so each weight byte is read once per four rows: the memory-bound path
// that sets decode speed.
// gemmWeightTiles (prefill): 64x64 tiles, the weight tile dequantized into
// shared memory as f32 once per block, 256 threads each owning 4x4 outputs.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_CODEGEN_CUDA_KERNELS_GEMMWEIGHTONLY_CUH
#define LLMC_CODEGEN_CUDA_KERNELS_GEMMWEIGHTONLY_CUH

#ifndef LLMC_KERNELS_SINGLE_SOURCE
#include "compiler/codegen/cuda/kernels/Common.cuh"
#include "compiler/codegen/cuda/kernels/GemmEpilogue.cuh"
#endif

namespace llmc_kernels {

/// One byte of two int4 codes: element 2j is the low nibble of byte j.
struct i4x2_t {
  unsigned char bits;
};

/// Reading weight codes 32 bits at a time: kPerWord elements per word,
/// element e at bits [e * bits, (e + 1) * bits) (little-endian storage).
template <class W> struct WeightCodes;
template <> struct WeightCodes<float> {
  static constexpr int kPerWord = 1;
  __device__ __forceinline__ static float element(unsigned word, int) {
    return bitsAsFloat(word);
  }
};
template <> struct WeightCodes<f16_t> {
  static constexpr int kPerWord = 2;
  __device__ __forceinline__ static float element(unsigned word, int e) {
    return toF32(f16_t{static_cast<unsigned short>(word >> (16 * e))});
  }
};
template <> struct WeightCodes<bf16_t> {
  static constexpr int kPerWord = 2;
  __device__ __forceinline__ static float element(unsigned word, int e) {
    return toF32(bf16_t{static_cast<unsigned short>(word >> (16 * e))});
  }
};
template <> struct WeightCodes<signed char> {
  static constexpr int kPerWord = 4;
  __device__ __forceinline__ static float element(unsigned word, int e) {
    return static_cast<float>(
        static_cast<signed char>((word >> (8 * e)) & 0xffu));
  }
};
template <> struct WeightCodes<i4x2_t> {
  static constexpr int kPerWord = 8;
  __device__ __forceinline__ static float element(unsigned word, int e) {
    // Nibble e moved to the top, then an arithmetic shift sign-extends it.
    return static_cast<float>(static_cast<int>(word << (28 - 4 * e)) >> 28);
  }
};

/// The scale and zero point of weight element (n, k): Group elements of a
/// row share one; Group = 0 marks float weights (no scales).
template <int K, int Group, bool ScalePerRow, bool HasZero>
__device__ __forceinline__ void
weightBlock(const float *scale, const signed char *zero, int n, int k,
            float &blockScale, float &blockZero) {
  blockScale = 1.0f;
  blockZero = 0.0f;
  if (Group == 0)
    return;
  const long long index =
      (ScalePerRow ? static_cast<long long>(n) * (K / (Group ? Group : 1))
                   : 0) +
      k / (Group ? Group : 1);
  blockScale = scale[index];
  if (HasZero)
    blockZero = static_cast<float>(zero[index]);
}

/// Weight code -> f32 weight value: (q - zero) * scale, or the float weight.
template <int Group>
__device__ __forceinline__ float dequantizeWeight(float code, float scale,
                                                  float zero) {
  return Group == 0 ? code : (code - zero) * scale;
}

/// Words words (16 bytes for 4) from 4 * Words-byte aligned `source`.
template <int Words>
__device__ __forceinline__ void loadWords(const unsigned *source,
                                          unsigned (&words)[Words]) {
#if defined(__CUDACC__)
  if constexpr (Words == 4) {
    const uint4 v = *reinterpret_cast<const uint4 *>(source);
    words[0] = v.x;
    words[1] = v.y;
    words[2] = v.z;
    words[3] = v.w;
    return;
  } else if constexpr (Words == 2) {
    const uint2 v = *reinterpret_cast<const uint2 *>(source);
    words[0] = v.x;
    words[1] = v.y;
    return;
  }
#endif
  for (int w = 0; w < Words; ++w)
    words[w] = source[w];
}

constexpr int kWeightGemvRows = 4;

/// Grid: ceil(output columns / warps per block); warp w of block b
/// computes output column b * warps + w (gated: weight rows j and j + N/2)
/// for every row, four rows per pass over the weight.
template <class A, class W, int N, int K, int Group, bool ScalePerRow,
          bool HasZero, int LoadWords, int BlockThreads, class Epilogue>
__device__ void gemvWeightRows(const A *a, const W *b, const float *scale,
                               const signed char *zero, float alpha,
                               const Epilogue &epilogue, int m) {
  using Codes = WeightCodes<W>;
  constexpr int kChunk = Codes::kPerWord * LoadWords;
  static_assert(K % kChunk == 0, "K is a multiple of a lane's load");
  static_assert(Group == 0 || Group % kChunk == 0,
                "a lane's load lies in one scale group");
  constexpr int kWarps = BlockThreads / kWarpSize;
  constexpr int kParts = Epilogue::kGated ? 2 : 1;
  constexpr int kOutputColumns = N / kParts;
  constexpr int kWordsPerRow = K / Codes::kPerWord;
  const int column = blockIdx.x * kWarps + threadIdx.x / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  if (column >= kOutputColumns) // whole warps leave: shuffles stay complete
    return;
  const unsigned *bWords = reinterpret_cast<const unsigned *>(b);
  for (int row0 = 0; row0 < m; row0 += kWeightGemvRows) {
    float sums[kWeightGemvRows][2] = {};
    for (int chunk = lane; chunk < K / kChunk; chunk += kWarpSize) {
      const int k0 = chunk * kChunk;
      for (int part = 0; part < kParts; ++part) {
        const int weightRow = column + part * kOutputColumns;
        unsigned words[LoadWords];
        loadWords<LoadWords>(
            bWords + static_cast<long long>(weightRow) * kWordsPerRow +
                chunk * LoadWords,
            words);
        float blockScale, blockZero;
        weightBlock<K, Group, ScalePerRow, HasZero>(scale, zero, weightRow, k0,
                                                    blockScale, blockZero);
        for (int w = 0; w < LoadWords; ++w)
          for (int e = 0; e < Codes::kPerWord; ++e) {
            const float weight = dequantizeWeight<Group>(
                Codes::element(words[w], e), blockScale, blockZero);
            const int k = k0 + w * Codes::kPerWord + e;
            for (int r = 0; r < kWeightGemvRows; ++r)
              if (row0 + r < m)
                sums[r][part] +=
                    toF32(a[static_cast<long long>(row0 + r) * K + k]) * weight;
          }
      }
    }
    for (int r = 0; r < kWeightGemvRows && row0 + r < m; ++r) {
      float values[2] = {0.0f, 0.0f};
      for (int part = 0; part < kParts; ++part)
        values[part] = alpha * warpSum(sums[r][part]);
      if (lane == 0)
        epilogue.store(row0 + r, column, values[0], values[1]);
    }
  }
}

constexpr int kWeightTileM = 64, kWeightTileN = 64, kWeightTileK = 32;
constexpr int kWeightGemmThreads = 256;

/// Grid: (ceil(N / 64), ceil(M / 64)); block: 256 threads. N counts weight
/// rows (a gated tile covers 32 output columns).
template <class A, class W, int N, int K, int Group, bool ScalePerRow,
          bool HasZero, class Epilogue>
__device__ void gemmWeightTiles(const A *a, const W *b, const float *scale,
                                const signed char *zero, float alpha,
                                const Epilogue &epilogue, int m) {
  static_assert(K % kWeightTileK == 0, "K is a multiple of 32");
  using Codes = WeightCodes<W>;
  using Columns = TileColumns<Epilogue::kGated, N, kWeightTileN>;
  // +1 column of padding: threads of a warp read different rows of one k.
  __shared__ float tileA[kWeightTileM][kWeightTileK + 1];
  __shared__ float tileB[kWeightTileN][kWeightTileK + 1];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int rowBase = blockIdx.y * kWeightTileM;
  const int tile = blockIdx.x;
  const unsigned *bWords = reinterpret_cast<const unsigned *>(b);
  float sums[4][4] = {};
  for (int k0 = 0; k0 < K; k0 += kWeightTileK) {
    // Consecutive threads take consecutive k: coalesced reads of A and W.
    for (int i = threadIdx.x; i < kWeightTileM * kWeightTileK;
         i += kWeightGemmThreads) {
      const int r = i / kWeightTileK, kk = i % kWeightTileK;
      const int row = rowBase + r, k = k0 + kk;
      tileA[r][kk] =
          row < m ? toF32(a[static_cast<long long>(row) * K + k]) : 0.0f;
      float weight = 0.0f;
      if (Columns::valid(tile, r)) {
        const int weightRow = Columns::weightRow(tile, r);
        const long long element = static_cast<long long>(weightRow) * K + k;
        float blockScale, blockZero;
        weightBlock<K, Group, ScalePerRow, HasZero>(scale, zero, weightRow, k,
                                                    blockScale, blockZero);
        weight = dequantizeWeight<Group>(
            Codes::element(bWords[element / Codes::kPerWord],
                           static_cast<int>(element % Codes::kPerWord)),
            blockScale, blockZero);
      }
      tileB[r][kk] = weight;
    }
    __syncthreads();
    for (int kk = 0; kk < kWeightTileK; ++kk)
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
          sums[i][j] += tileA[ty + 16 * i][kk] * tileB[tx + 16 * j][kk];
    __syncthreads();
  }
  float values[4][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j)
      values[i][j] = alpha * sums[i][j];
  storeThreadTile<Columns>(epilogue, values, rowBase + ty, tile, tx, m);
}

//===----------------------------------------------------------------------===//
// Tensor-core tiles for f16/bf16 activations (sm_80+)
//===----------------------------------------------------------------------===//
//
// mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}: the weight tile is
// decoded once per block into shared memory as the integer q - zero (exact
// in f16 and bf16: |q - zero| <= 255) or the float weight itself, so the
// tensor cores form exact products and accumulate each scale group in f32;
// the group's sum is then multiplied by its scale: sum_g s_g * sum_k a * (q -
// zero) instead of the CPU's sum_k a * ((q - zero) * s), the same value up
// to f32 rounding (within the accumulation-order bound). Fragments (PTX ISA,
// m16n8k16 16-bit layout; g = lane / 4, t = lane % 4):
//   A regs 0..3: rows g, g+8, g, g+8; columns 2t, 2t+1 (+8 for regs 2, 3)
//   B regs 0..1: column g; k = 2t, 2t+1 (+8 for reg 1)
//   C regs 0..3: rows g, g, g+8, g+8; columns 2t, 2t+1
// Below sm_80 and in the host shim the MMA is emulated with warp shuffles
// from the same fragments (as GemmFp8.cuh), so tiling and fragment
// addressing are tested on the CPU.

constexpr int kMmaWarps = 4, kMmaTileM = 16 * kMmaWarps, kMmaTileN = 32;
constexpr int kMmaStepK = 32;

template <class A> struct MmaHalf;
template <> struct MmaHalf<f16_t> {
  __device__ __forceinline__ static float value(unsigned word, int half) {
    return toF32(f16_t{static_cast<unsigned short>(word >> (16 * half))});
  }
};
template <> struct MmaHalf<bf16_t> {
  __device__ __forceinline__ static float value(unsigned word, int half) {
    return toF32(bf16_t{static_cast<unsigned short>(word >> (16 * half))});
  }
};

template <class A> struct MmaIsBf16 {
  static constexpr bool value = false;
};
template <> struct MmaIsBf16<bf16_t> {
  static constexpr bool value = true;
};

/// d += A (16x16) * B (16x8), fragments as above.
template <class A>
__device__ __forceinline__ void
mma16x8x16(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if constexpr (MmaIsBf16<A>::value)
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                 "{%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]),
                   "r"(b[1]));
  else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                 "{%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]),
                   "r"(b[1]));
#else
  // Lane g * 4 + q holds A[g][2q, 2q+1] (reg 0), A[g+8][..] (1) and the
  // same at k + 8 (2, 3); lane column * 4 + q holds B[2q, 2q+1][column]
  // (reg 0) and at k + 8 (reg 1). Every lane takes part in every shuffle,
  // as __shfl_sync requires.
  const int lane = threadIdx.x % kWarpSize, group = lane / 4, thread = lane % 4;
  float sums[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int q = 0; q < 4; ++q) {
    unsigned aWords[4], bWords[2][2];
    for (int r = 0; r < 4; ++r)
      aWords[r] = __shfl_sync(0xffffffffu, a[r], group * 4 + q);
    for (int c = 0; c < 2; ++c)
      for (int r = 0; r < 2; ++r)
        bWords[c][r] = __shfl_sync(0xffffffffu, b[r], (2 * thread + c) * 4 + q);
    for (int out = 0; out < 4; ++out)
      for (int kHalf = 0; kHalf < 2; ++kHalf) {
        const unsigned aWord = aWords[out / 2 + 2 * kHalf];
        const unsigned bWord = bWords[out % 2][kHalf];
        for (int half = 0; half < 2; ++half)
          sums[out] +=
              MmaHalf<A>::value(aWord, half) * MmaHalf<A>::value(bWord, half);
      }
  }
  for (int out = 0; out < 4; ++out)
    d[out] += sums[out];
#endif
}

/// Grid: (ceil(N / 32), ceil(M / 64)); block: 128 threads, each warp 16
/// rows x 32 weight rows (four n8 tiles; gated: tiles 0, 1 hold the gate
/// rows, 2, 3 the up rows of the same 16 output columns). A is f16 or bf16;
/// W float weights of A's type or integer codes with groups of a multiple
/// of 32 elements.
template <class A, class W, int N, int K, int Group, bool ScalePerRow,
          bool HasZero, class Epilogue>
__device__ void gemmWeightTilesMma(const A *a, const W *b, const float *scale,
                                   const signed char *zero, float alpha,
                                   const Epilogue &epilogue, int m) {
  static_assert(K % kMmaStepK == 0, "K is a multiple of 32");
  static_assert(Group % kMmaStepK == 0, "scale groups of whole k steps");
  using Codes = WeightCodes<W>;
  using Columns = TileColumns<Epilogue::kGated, N, kMmaTileN>;
  constexpr int kGroupK = Group == 0 ? K : Group;
  // +8 halves of padding: the B fragment reads of a warp hit distinct banks.
  __shared__ unsigned short tileB[kMmaTileN][kMmaStepK + 8];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int group = lane / 4, thread = lane % 4;
  const int rowBase = blockIdx.y * kMmaTileM + warp * 16;
  const int tileIndex = blockIdx.x;
  const unsigned *bWords = reinterpret_cast<const unsigned *>(b);
  float sums[kMmaTileN / 8][4] = {}, groupSums[kMmaTileN / 8][4] = {};
  for (int k0 = 0; k0 < K; k0 += kMmaStepK) {
    __syncthreads(); // the previous step's fragments are read
    for (int i = threadIdx.x; i < kMmaTileN * kMmaStepK;
         i += kMmaWarps * kWarpSize) {
      const int r = i / kMmaStepK, kk = i % kMmaStepK;
      float value = 0.0f;
      if (Columns::valid(tileIndex, r)) {
        const int weightRow = Columns::weightRow(tileIndex, r);
        const long long element =
            static_cast<long long>(weightRow) * K + k0 + kk;
        value = Codes::element(bWords[element / Codes::kPerWord],
                               static_cast<int>(element % Codes::kPerWord));
        if (HasZero) {
          float blockScale, blockZero;
          weightBlock<K, Group, ScalePerRow, HasZero>(
              scale, zero, weightRow, k0 + kk, blockScale, blockZero);
          value -= blockZero;
        }
      }
      tileB[r][kk] = fromF32<A>(value).bits;
    }
    __syncthreads();
    for (int ks = 0; ks < kMmaStepK; ks += 16) {
      unsigned aFragment[4];
      for (int r = 0; r < 4; ++r) {
        const int row = rowBase + group + (r % 2) * 8;
        const int k = k0 + ks + 2 * thread + (r / 2) * 8;
        aFragment[r] = row < m ? *reinterpret_cast<const unsigned *>(
                                     a + static_cast<long long>(row) * K + k)
                               : 0u;
      }
      for (int tile = 0; tile < kMmaTileN / 8; ++tile) {
        const int r = tile * 8 + group;
        unsigned bFragment[2];
        for (int half = 0; half < 2; ++half) {
          const int kk = ks + 2 * thread + half * 8;
          bFragment[half] = static_cast<unsigned>(tileB[r][kk]) |
                            static_cast<unsigned>(tileB[r][kk + 1]) << 16;
        }
        mma16x8x16<A>(groupSums[tile], aFragment, bFragment);
      }
    }
    if ((k0 + kMmaStepK) % kGroupK != 0)
      continue;
    // The end of a scale group: its sum times its scale joins the total.
    for (int tile = 0; tile < kMmaTileN / 8; ++tile)
      for (int out = 0; out < 4; ++out) {
        const int c = tile * 8 + 2 * thread + (out % 2);
        float blockScale = 1.0f, blockZero = 0.0f;
        if (Group != 0 && Columns::valid(tileIndex, c))
          weightBlock<K, Group, ScalePerRow, HasZero>(
              scale, zero, Columns::weightRow(tileIndex, c), k0, blockScale,
              blockZero);
        sums[tile][out] += blockScale * groupSums[tile][out];
        groupSums[tile][out] = 0.0f;
      }
  }
  constexpr int kStoredTiles = Epilogue::kGated ? 2 : kMmaTileN / 8;
  for (int tile = 0; tile < kStoredTiles; ++tile)
    for (int out = 0; out < 4; ++out) {
      const int row = rowBase + group + (out / 2) * 8;
      const int c = tile * 8 + 2 * thread + (out % 2);
      if (row < m && Columns::valid(tileIndex, c))
        epilogue.store(row, Columns::output(tileIndex, c),
                       alpha * sums[tile][out],
                       Epilogue::kGated ? alpha * sums[tile + 2][out] : 0.0f);
    }
}

} // namespace llmc_kernels

#endif // LLMC_CODEGEN_CUDA_KERNELS_GEMMWEIGHTONLY_CUH
