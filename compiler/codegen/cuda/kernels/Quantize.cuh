//===- Quantize.cuh - quantize (static / per-token) and dequantize --------===//
//
// The plan steps "quantize", "quantize_dynamic" and "dequantize" of the
// quantization contract (docs/quantization.md): q = saturate(round half to
// even(x / scale)), per-token scale = amax / qmax (1 when amax == 0), real
// value = (q - zero) * scale.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_CODEGEN_CUDA_KERNELS_QUANTIZE_CUH
#define LLMC_CODEGEN_CUDA_KERNELS_QUANTIZE_CUH

#ifndef LLMC_KERNELS_SINGLE_SOURCE
#include "compiler/codegen/cuda/kernels/Common.cuh"
#endif

namespace llmc_kernels {

/// One block per row. ScaleMode: kStaticScale (scale[0]), kTokenScaleInput
/// (scale[row]) or kDynamicScale (computed, written to tokenScales[row]).
template <class In, class Quant, int Cols, int BlockThreads, int ScaleMode>
__device__ void quantizeRows(const In *input, const float *scale,
                             Quant *quantized, float *tokenScales, int rows) {
  using Pairs = RowPairs<Cols, BlockThreads>;
  __shared__ float scratch[kWarpSize];
  const int row = blockIdx.x;
  if (row >= rows)
    return;
  const long long base = static_cast<long long>(row) * Cols;
  float values[Pairs::kPerThread][2];
  for (int slot = 0; slot < Pairs::kPerThread; ++slot) {
    values[slot][0] = values[slot][1] = 0.0f;
    if (!Pairs::valid(slot))
      continue;
    values[slot][0] = toF32(input[base + Pairs::column(slot)]);
    values[slot][1] = toF32(input[base + Pairs::column(slot) + 1]);
  }
  // Rounding through In changes nothing: the values are In already.
  storeRow<In, Quant, ScaleMode, Cols, BlockThreads>(
      values, row, static_cast<In *>(nullptr), quantized, scale, tokenScales,
      scratch);
}

/// output[r, c] = (q[r, c] - zero) * scale, the scale (and zero point)
/// covering blocks of Cols / ScaleCols columns of a row; ScaleCols == 0
/// means one scale for the tensor. `zeroPoints` may be null.
template <class Quant, class Out, int Cols, int ScaleCols>
__device__ void dequantizeElements(const Quant *quantized, const float *scale,
                                   const signed char *zeroPoints, Out *output,
                                   long long count) {
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i =
           static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < count; i += stride) {
    long long scaleIndex = 0;
    if (ScaleCols > 0)
      scaleIndex = (i / Cols) * ScaleCols + (i % Cols) / (Cols / ScaleCols);
    float value = toF32(quantized[i]);
    if (zeroPoints)
      value -= static_cast<float>(zeroPoints[scaleIndex]);
    output[i] = fromF32<Out>(value * scale[scaleIndex]);
  }
}

} // namespace llmc_kernels

#endif // LLMC_CODEGEN_CUDA_KERNELS_QUANTIZE_CUH
