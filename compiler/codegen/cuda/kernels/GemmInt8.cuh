//===- GemmInt8.cuh - INT8 GEMM and GEMV with __dp4a (Turing/Ampere)
//-------===//
//
// C[m, n] = alpha * scale_a[m] * scale_b[n] * sum_k A[m, k] * B[n, k] for
// i8 A [M, K] (token rows) and B [N, K] (nn.Linear's layout), accumulated
// exactly in int32 by __dp4a (four i8 products per instruction), so results
// are bit-exact whatever the summation order. The scale product is
// evaluated left to right as the contract writes it. Scales are per row /
// per column ([M, 1], [N, 1]) or per tensor ([]).
//
// gemmInt8Tiles: 64x64 output tiles, 256 threads each owning 4x4 outputs,
// K staged through shared memory 32 bytes at a time (prefill).
// gemvInt8Rows: one warp per output column reading B once with 16-byte
// loads, for the few rows of decode.
// Both hand their results to an epilogue (GemmEpilogue.cuh).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_CODEGEN_CUDA_KERNELS_GEMMINT8_CUH
#define LLMC_CODEGEN_CUDA_KERNELS_GEMMINT8_CUH

#ifndef LLMC_KERNELS_SINGLE_SOURCE
#include "compiler/codegen/cuda/kernels/Common.cuh"
#include "compiler/codegen/cuda/kernels/GemmEpilogue.cuh"
#endif

namespace llmc_kernels {

template <bool ScaleAPerRow, bool ScaleBPerColumn>
__device__ __forceinline__ float scaleProduct(float alpha, const float *scaleA,
                                              const float *scaleB, int m,
                                              int n) {
  return alpha * scaleA[ScaleAPerRow ? m : 0] * scaleB[ScaleBPerColumn ? n : 0];
}

constexpr int kInt8TileM = 64, kInt8TileN = 64, kInt8TileKWords = 8;
constexpr int kInt8GemmThreads = 256;

/// Grid: (ceil(N / 64), ceil(M / 64)); block: 256 threads. N counts weight
/// rows: a gated epilogue's tile covers 32 output columns.
template <int N, int K, bool ScaleAPerRow, bool ScaleBPerColumn, class Epilogue>
__device__ void gemmInt8Tiles(const signed char *a, const signed char *b,
                              const float *scaleA, const float *scaleB,
                              float alpha, const Epilogue &epilogue, int m) {
  static_assert(K % (4 * kInt8TileKWords) == 0, "K is a multiple of 32");
  using Columns = TileColumns<Epilogue::kGated, N, kInt8TileN>;
  // +1 word of padding: threads of a warp read different rows of one column.
  __shared__ int tileA[kInt8TileM][kInt8TileKWords + 1];
  __shared__ int tileB[kInt8TileN][kInt8TileKWords + 1];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int rowBase = blockIdx.y * kInt8TileM;
  const int tile = blockIdx.x;
  const int *aWords = reinterpret_cast<const int *>(a);
  const int *bWords = reinterpret_cast<const int *>(b);
  constexpr int kWordsPerRow = K / 4;
  int accumulators[4][4] = {};
  for (int kWord = 0; kWord < kWordsPerRow; kWord += kInt8TileKWords) {
    for (int i = threadIdx.x; i < kInt8TileM * kInt8TileKWords;
         i += kInt8GemmThreads) {
      const int r = i / kInt8TileKWords, w = i % kInt8TileKWords;
      const int row = rowBase + r;
      tileA[r][w] =
          row < m
              ? aWords[static_cast<long long>(row) * kWordsPerRow + kWord + w]
              : 0;
      tileB[r][w] =
          Columns::valid(tile, r)
              ? bWords[static_cast<long long>(Columns::weightRow(tile, r)) *
                           kWordsPerRow +
                       kWord + w]
              : 0;
    }
    __syncthreads();
    for (int w = 0; w < kInt8TileKWords; ++w)
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
          accumulators[i][j] = __dp4a(
              tileA[ty + 16 * i][w], tileB[tx + 16 * j][w], accumulators[i][j]);
    __syncthreads();
  }
  float values[4][4] = {};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const int row = rowBase + ty + 16 * i, c = tx + 16 * j;
      if (row < m && Columns::valid(tile, c)) // scales exist only there
        values[i][j] =
            scaleProduct<ScaleAPerRow, ScaleBPerColumn>(
                alpha, scaleA, scaleB, row, Columns::weightRow(tile, c)) *
            static_cast<float>(accumulators[i][j]);
    }
  storeThreadTile<Columns>(epilogue, values, rowBase + ty, tile, tx, m);
}

__device__ __forceinline__ int warpSumInt(int value) {
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1)
    value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

/// Grid: ceil(output columns / warps per block) blocks; warp w of block b
/// computes output column b * warps + w for every row (gated: from weight
/// rows j and j + N/2).
template <int N, int K, int BlockThreads, bool ScaleAPerRow,
          bool ScaleBPerColumn, class Epilogue>
__device__ void gemvInt8Rows(const signed char *a, const signed char *b,
                             const float *scaleA, const float *scaleB,
                             float alpha, const Epilogue &epilogue, int m) {
  static_assert(K % 16 == 0, "K is a multiple of 16 (16-byte loads)");
  constexpr int kWarps = BlockThreads / kWarpSize;
  constexpr int kParts = Epilogue::kGated ? 2 : 1;
  constexpr int kOutputColumns = N / kParts;
  const int column = blockIdx.x * kWarps + threadIdx.x / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  if (column >= kOutputColumns) // whole warps leave: shuffles stay complete
    return;
  for (int row = 0; row < m; ++row) {
    const int *aRow =
        reinterpret_cast<const int *>(a + static_cast<long long>(row) * K);
    float values[2] = {0.0f, 0.0f};
    for (int part = 0; part < kParts; ++part) {
      const int weightRow = column + part * kOutputColumns;
      const int *bRow = reinterpret_cast<const int *>(
          b + static_cast<long long>(weightRow) * K);
      int accumulator = 0;
      for (int word = 4 * lane; word < K / 4; word += 4 * kWarpSize)
        for (int v = 0; v < 4; ++v)
          accumulator = __dp4a(aRow[word + v], bRow[word + v], accumulator);
      accumulator = warpSumInt(accumulator);
      values[part] = scaleProduct<ScaleAPerRow, ScaleBPerColumn>(
                         alpha, scaleA, scaleB, row, weightRow) *
                     static_cast<float>(accumulator);
    }
    if (lane == 0)
      epilogue.store(row, column, values[0], values[1]);
  }
}

} // namespace llmc_kernels

#endif // LLMC_CODEGEN_CUDA_KERNELS_GEMMINT8_CUH
