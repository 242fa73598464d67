//===- GemmFp8.cuh - FP8 E4M3 tensor-core GEMM (mma.sync m16n8k32, sm_89+)
//-===//
//
// C[m, n] = alpha * scale_a[m] * scale_b[n] * sum_k A[m, k] * B[n, k] for
// E4M3 A [M, K] and B [N, K], f32 accumulation in the tensor cores, with the
// per-token / per-channel scale epilogue. Each warp computes a 16x32 tile
// (four m16n8k32 MMAs per 32-wide K step); a block of four warps covers 64
// rows. Fragments are loaded straight from global memory, 4 bytes per
// register, in the PTX ISA's m16n8k32 8-bit layout (groupID = lane / 4,
// thread-in-group t = lane % 4):
//   A regs 0..3: rows g, g+8, g, g+8; columns 4t..4t+3 (+16 for regs 2, 3)
//   B regs 0..1: column g; k = 4t..4t+3 (+16 for reg 1)
//   C regs 0..3: rows g, g, g+8, g+8; columns 2t, 2t+1
// On anything older than sm_89 (and in the host shim) the MMA is emulated
// with warp shuffles from the same fragments, so the tiling and epilogue
// are tested on the CPU; the tensor-core numerics are checked on a GPU.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_CODEGEN_CUDA_KERNELS_GEMMFP8_CUH
#define LLMC_CODEGEN_CUDA_KERNELS_GEMMFP8_CUH

#ifndef LLMC_KERNELS_SINGLE_SOURCE
#include "compiler/codegen/cuda/kernels/Common.cuh"
#include "compiler/codegen/cuda/kernels/GemmEpilogue.cuh"
#include "compiler/codegen/cuda/kernels/GemmInt8.cuh"
#endif

namespace llmc_kernels {

constexpr int kFp8WarpTileN = 32, kFp8Warps = 4, kFp8TileM = 16 * kFp8Warps;

__device__ __forceinline__ float e4m3Byte(unsigned word, int byte) {
  return toF32(e4m3_t{static_cast<unsigned char>(word >> (8 * byte))});
}

/// d += A (16x32) * B (32x8), fragments as in the file comment.
__device__ __forceinline__ void mmaE4m3(float (&d)[4], const unsigned (&a)[4],
                                        const unsigned (&b)[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]),
                 "r"(b[1]));
#else
  const int lane = threadIdx.x % kWarpSize, group = lane / 4, thread = lane % 4;
  for (int out = 0; out < 4; ++out) {
    const int row = out < 2 ? group : group + 8;
    const int column = 2 * thread + (out & 1);
    float sum = 0.0f;
    for (int kQuad = 0; kQuad < 8; ++kQuad) {
      // Lane (row % 8) * 4 + kQuad % 4 holds A[row][4 kQuad ..] in register
      // (row >= 8) + 2 (kQuad >= 4); lane column * 4 + kQuad % 4 holds
      // B[4 kQuad ..][column] in register kQuad >= 4. Every lane takes part
      // in every shuffle, as __shfl_sync requires.
      const int aSource = (row % 8) * 4 + kQuad % 4;
      const int bSource = column * 4 + kQuad % 4;
      unsigned aWords[4], bWords[2];
      for (int r = 0; r < 4; ++r)
        aWords[r] = __shfl_sync(0xffffffffu, a[r], aSource);
      for (int r = 0; r < 2; ++r)
        bWords[r] = __shfl_sync(0xffffffffu, b[r], bSource);
      const unsigned aWord = aWords[(row >= 8 ? 1 : 0) + (kQuad >= 4 ? 2 : 0)];
      const unsigned bWord = bWords[kQuad >= 4 ? 1 : 0];
      for (int byte = 0; byte < 4; ++byte)
        sum += e4m3Byte(aWord, byte) * e4m3Byte(bWord, byte);
    }
    d[out] += sum;
  }
#endif
}

/// Grid: (ceil(N / 32), ceil(M / 64)); block: 128 threads. N counts weight
/// rows: a gated epilogue's block covers 16 output columns (n8 tiles 0, 1
/// hold the gate rows, 2, 3 the up rows of the same columns).
template <int N, int K, bool ScaleAPerRow, bool ScaleBPerColumn, class Epilogue>
__device__ void gemmFp8Tiles(const e4m3_t *a, const e4m3_t *b,
                             const float *scaleA, const float *scaleB,
                             float alpha, const Epilogue &epilogue, int m) {
  static_assert(K % 32 == 0, "K is a multiple of 32 (one MMA step)");
  using Columns = TileColumns<Epilogue::kGated, N, kFp8WarpTileN>;
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int group = lane / 4, thread = lane % 4;
  const int rowBase = blockIdx.y * kFp8TileM + warp * 16;
  const int tileIndex = blockIdx.x;
  const unsigned char *aBytes = reinterpret_cast<const unsigned char *>(a);
  const unsigned char *bBytes = reinterpret_cast<const unsigned char *>(b);
  auto loadWord = [](const unsigned char *base, long long row, bool inside,
                     int k) -> unsigned {
    return inside ? *reinterpret_cast<const unsigned *>(base + row * K + k)
                  : 0u;
  };
  float accumulators[kFp8WarpTileN / 8][4] = {};
  for (int k = 0; k < K; k += 32) {
    unsigned aFragment[4];
    for (int r = 0; r < 4; ++r) {
      const int row = rowBase + group + (r % 2) * 8;
      aFragment[r] =
          loadWord(aBytes, row, row < m, k + 4 * thread + (r / 2) * 16);
    }
    for (int tile = 0; tile < kFp8WarpTileN / 8; ++tile) {
      const int c = tile * 8 + group;
      const bool inside = Columns::valid(tileIndex, c);
      const int weightRow = inside ? Columns::weightRow(tileIndex, c) : 0;
      unsigned bFragment[2];
      for (int r = 0; r < 2; ++r)
        bFragment[r] =
            loadWord(bBytes, weightRow, inside, k + 4 * thread + r * 16);
      mmaE4m3(accumulators[tile], aFragment, bFragment);
    }
  }
  constexpr int kStoredTiles = Epilogue::kGated ? 2 : kFp8WarpTileN / 8;
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
               accumulators[t][out];
      };
      epilogue.store(row, Columns::output(tileIndex, c), value(tile),
                     Epilogue::kGated ? value(tile + 2) : 0.0f);
    }
}

} // namespace llmc_kernels

#endif // LLMC_CODEGEN_CUDA_KERNELS_GEMMFP8_CUH
