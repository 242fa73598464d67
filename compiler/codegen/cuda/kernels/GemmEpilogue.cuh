//===- GemmEpilogue.cuh - what a generated GEMM does with its results -----===//
//
// Every generated GEMM (GemmInt8, GemmFp8, GemmWeightOnly) computes f32
// values v[m][n] = alpha * scale_a[m] * scale_b[n] * acc (scales as its
// mode has them) and hands them to an epilogue, so one GEMM template serves
// plan.gemm and the fused steps that contain a GEMM. The formulas are the
// CPU backend's (runtime/engine/Engine.cpp, runtime/backends/cpu/
// FusedKernels.cpp): the f32 value is rounded once to the output type.
//
// A gated epilogue (linear_gated_activation*) reads the packed
// [gate | up] product: output column j combines weight rows j and j + N/2,
// which every GEMM computes in the same thread (TileColumns below), so the
// packed product never reaches memory.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_CODEGEN_CUDA_KERNELS_GEMMEPILOGUE_CUH
#define LLMC_CODEGEN_CUDA_KERNELS_GEMMEPILOGUE_CUH

#ifndef LLMC_KERNELS_SINGLE_SOURCE
#include "compiler/codegen/cuda/kernels/Common.cuh"
#include "compiler/codegen/cuda/kernels/Elementwise.cuh"
#endif

namespace llmc_kernels {

/// c = v, or with Accumulate c = v + beta * c (plan.gemm's beta: the
/// residual add of linear_residual; C holds the residual).
template <class Out, int Columns, bool Accumulate> struct StoreEpilogue {
  static constexpr bool kGated = false;
  Out *c;
  float beta;
  __device__ __forceinline__ void store(int row, int column, float value,
                                        float) const {
    const long long at = static_cast<long long>(row) * Columns + column;
    if (Accumulate)
      value = value + beta * toF32(c[at]);
    c[at] = fromF32<Out>(value);
  }
};

/// y = v + bias[n] (linear_bias: nn.Linear with its bias).
template <class Out, class Bias, int Columns> struct BiasEpilogue {
  static constexpr bool kGated = false;
  Out *c;
  const Bias *bias;
  __device__ __forceinline__ void store(int row, int column, float value,
                                        float) const {
    c[static_cast<long long>(row) * Columns + column] =
        fromF32<Out>(value + toF32(bias[column]));
  }
};

/// act(gate) * up over the packed product, kept in f32 as the CPU fused
/// kernel keeps it (act(gate) rounds through f32, a no-op), then:
/// kNoQuant: stored as Out; kStaticScale / kTokenScaleInput: quantized with
/// the scale; kDynamicScale: stored as Out (the type the unfused mul
/// stores, `product_dtype`) for the quantizeRows stage that follows, since a
/// per-token scale needs the whole row.
template <class Out, class Quant, int Columns, int Activation, int ScaleMode>
struct GatedEpilogue {
  static constexpr bool kGated = true;
  Out *output;
  Quant *quantized;
  const float *scale;
  __device__ __forceinline__ void store(int row, int column, float gate,
                                        float up) const {
    const float product = applyUnary<Activation>(gate, 1.0f) * up;
    const long long at = static_cast<long long>(row) * Columns + column;
    if (ScaleMode == kNoQuant || ScaleMode == kDynamicScale) {
      output[at] = fromF32<Out>(product);
      return;
    }
    // Division, not a reciprocal multiply: the contract's exact rounding.
    Quantizer<Quant>::store(quantized + at,
                            product /
                                scale[ScaleMode == kTokenScaleInput ? row : 0]);
  }
};

/// Which weight row column c of tile `tile` (TileN weight rows wide) reads.
/// Plain: TileN consecutive rows. Gated: the first half of the tile holds
/// gate rows j, the second half the up rows j + N/2 of the same TileN/2
/// output columns.
template <bool Gated, int N, int TileN> struct TileColumns {
  static_assert(!Gated || N % 2 == 0, "a packed [gate | up] weight");
  static constexpr int kOutputsPerTile = Gated ? TileN / 2 : TileN;
  static constexpr int kOutputColumns = Gated ? N / 2 : N;
  __device__ __forceinline__ static int output(int tile, int c) {
    return tile * kOutputsPerTile + c % kOutputsPerTile;
  }
  __device__ __forceinline__ static bool valid(int tile, int c) {
    return output(tile, c) < kOutputColumns;
  }
  __device__ __forceinline__ static int weightRow(int tile, int c) {
    return output(tile, c) + (c < kOutputsPerTile ? 0 : kOutputColumns);
  }
};

/// The epilogue of a thread owning tile columns tx + 16 j (j = 0..3) of
/// rows rowBase + 16 i (the 64x64 SIMT tiles): plain, each value alone;
/// gated, j and j + 2 are the gate and up of one output column.
template <class Columns, class Epilogue>
__device__ __forceinline__ void
storeThreadTile(const Epilogue &epilogue, const float (&values)[4][4],
                int rowBase, int tile, int tx, int m) {
  for (int i = 0; i < 4; ++i) {
    const int row = rowBase + 16 * i;
    if (row >= m)
      continue;
    for (int j = 0; j < (Epilogue::kGated ? 2 : 4); ++j) {
      const int c = tx + 16 * j;
      if (Columns::valid(tile, c))
        epilogue.store(row, Columns::output(tile, c), values[i][j],
                       Epilogue::kGated ? values[i][j + 2] : 0.0f);
    }
  }
}

} // namespace llmc_kernels

#endif // LLMC_CODEGEN_CUDA_KERNELS_GEMMEPILOGUE_CUH
