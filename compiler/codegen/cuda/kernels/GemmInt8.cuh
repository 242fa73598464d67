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

//===----------------------------------------------------------------------===//
// Tensor-core tiles (sm_80+): mma.sync m16n8k32 s8 x s8 -> s32
//===----------------------------------------------------------------------===//
//
// The same tiling and fragments as gemmFp8Tiles (GemmFp8.cuh: the m16n8k32
// 8-bit layout; each warp 16 rows x 32 weight rows, four warps per block),
// with exact int32 accumulation, so the result is bit-exact like the dp4a
// tiles. Below sm_80 and in the host shim the MMA is emulated with warp
// shuffles from the same fragments.

constexpr int kInt8MmaWarps = 4, kInt8MmaTileM = 16 * kInt8MmaWarps;
constexpr int kInt8MmaTileN = 32;

/// d += A (16x32) * B (32x8) in int32.
__device__ __forceinline__ void mmaS8(int (&d)[4], const unsigned (&a)[4],
                                      const unsigned (&b)[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};\n"
               : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]),
                 "r"(b[1]));
#else
  // Lane g * 4 + q holds A[g][4q ..] (reg 0), A[g+8][4q ..] (1) and the same
  // at k + 16 (2, 3); lane column * 4 + q holds B[4q ..][column] (reg 0) and
  // at k + 16 (reg 1). Every lane takes part in every shuffle.
  const int lane = threadIdx.x % kWarpSize, group = lane / 4, thread = lane % 4;
  for (int q = 0; q < 4; ++q) {
    unsigned aWords[4], bWords[2][2];
    for (int r = 0; r < 4; ++r)
      aWords[r] = __shfl_sync(0xffffffffu, a[r], group * 4 + q);
    for (int c = 0; c < 2; ++c)
      for (int r = 0; r < 2; ++r)
        bWords[c][r] = __shfl_sync(0xffffffffu, b[r], (2 * thread + c) * 4 + q);
    for (int out = 0; out < 4; ++out)
      for (int kHalf = 0; kHalf < 2; ++kHalf)
        d[out] = __dp4a(static_cast<int>(aWords[out / 2 + 2 * kHalf]),
                        static_cast<int>(bWords[out % 2][kHalf]), d[out]);
  }
#endif
}

/// Grid: (ceil(N / 32), ceil(M / 64)); block: 128 threads. N counts weight
/// rows (a gated block covers 16 output columns: n8 tiles 0, 1 gate, 2, 3
/// up).
template <int N, int K, bool ScaleAPerRow, bool ScaleBPerColumn, class Epilogue>
__device__ void gemmInt8TilesMma(const signed char *a, const signed char *b,
                                 const float *scaleA, const float *scaleB,
                                 float alpha, const Epilogue &epilogue, int m) {
  static_assert(K % 32 == 0, "K is a multiple of 32 (one MMA step)");
  using Columns = TileColumns<Epilogue::kGated, N, kInt8MmaTileN>;
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int group = lane / 4, thread = lane % 4;
  const int rowBase = blockIdx.y * kInt8MmaTileM + warp * 16;
  const int tileIndex = blockIdx.x;
  auto loadWord = [](const signed char *base, long long row, bool inside,
                     int k) -> unsigned {
    return inside ? *reinterpret_cast<const unsigned *>(base + row * K + k)
                  : 0u;
  };
  int accumulators[kInt8MmaTileN / 8][4] = {};
  for (int k = 0; k < K; k += 32) {
    unsigned aFragment[4];
    for (int r = 0; r < 4; ++r) {
      const int row = rowBase + group + (r % 2) * 8;
      aFragment[r] = loadWord(a, row, row < m, k + 4 * thread + (r / 2) * 16);
    }
    for (int tile = 0; tile < kInt8MmaTileN / 8; ++tile) {
      const int c = tile * 8 + group;
      const bool inside = Columns::valid(tileIndex, c);
      const int weightRow = inside ? Columns::weightRow(tileIndex, c) : 0;
      unsigned bFragment[2];
      for (int r = 0; r < 2; ++r)
        bFragment[r] = loadWord(b, weightRow, inside, k + 4 * thread + r * 16);
      mmaS8(accumulators[tile], aFragment, bFragment);
    }
  }
  constexpr int kStoredTiles = Epilogue::kGated ? 2 : kInt8MmaTileN / 8;
  for (int tile = 0; tile < kStoredTiles; ++tile)
    for (int out = 0; out < 4; ++out) {
      const int row = rowBase + group + (out / 2) * 8;
      const int c = tile * 8 + 2 * thread + (out % 2);
      if (row >= m || !Columns::valid(tileIndex, c))
        continue;
      auto value = [&](int t) {
        return scaleProduct<ScaleAPerRow, ScaleBPerColumn>(
                   alpha, scaleA, scaleB, row,
                   Columns::weightRow(tileIndex,
                                      t * 8 + 2 * thread + (out % 2))) *
               static_cast<float>(accumulators[t][out]);
      };
      epilogue.store(row, Columns::output(tileIndex, c), value(tile),
                     Epilogue::kGated ? value(tile + 2) : 0.0f);
    }
}

} // namespace llmc_kernels

#endif // LLMC_CODEGEN_CUDA_KERNELS_GEMMINT8_CUH
