//===- Norm.cuh - rms_norm and layer_norm, optionally add + norm + quant --===//
//
// One block per token row. With AddResidual the kernel first forms
// h = input + residual, rounded to In and written to `sum` (the residual
// stream the next layer reads), and normalizes h: the decoder's
// [add + rms_norm] pair in one pass. The statistics follow the CPU backend
// (runtime/backends/cpu/Kernels.cpp): f32 sums, 1 / sqrt(mean + epsilon),
// two-pass variance; only the summation order differs.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_CODEGEN_CUDA_KERNELS_NORM_CUH
#define LLMC_CODEGEN_CUDA_KERNELS_NORM_CUH

#ifndef LLMC_KERNELS_SINGLE_SOURCE
#include "compiler/codegen/cuda/kernels/Common.cuh"
#endif

namespace llmc_kernels {

/// Loads row `row` of input (+ residual) as pairs; writes the sum when asked.
template <class In, int Cols, int BlockThreads, bool AddResidual>
__device__ __forceinline__ void
loadRow(float (&values)[RowPairs<Cols, BlockThreads>::kPerThread][2],
        const In *input, const In *residual, In *sum, int row) {
  using Pairs = RowPairs<Cols, BlockThreads>;
  const long long base = static_cast<long long>(row) * Cols;
  for (int slot = 0; slot < Pairs::kPerThread; ++slot) {
    values[slot][0] = values[slot][1] = 0.0f;
    if (!Pairs::valid(slot))
      continue;
    const long long index = base + Pairs::column(slot);
    for (int half = 0; half < 2; ++half) {
      float value = toF32(input[index + half]);
      if (AddResidual) {
        In rounded = fromF32<In>(value + toF32(residual[index + half]));
        sum[index + half] = rounded;
        value = toF32(rounded);
      }
      values[slot][half] = value;
    }
  }
}

/// y = x / sqrt(mean(x^2) + epsilon) * (weight + weightOffset).
template <class In, class Weight, class Out, class Quant, int Cols,
          int BlockThreads, bool AddResidual, int ScaleMode>
__device__ void
rmsNormRows(const In *input, const In *residual, In *sum, const Weight *weight,
            float epsilon, float weightOffset, Out *output, Quant *quantized,
            const float *staticScale, float *tokenScales, int rows) {
  using Pairs = RowPairs<Cols, BlockThreads>;
  __shared__ float scratch[kWarpSize];
  const int row = blockIdx.x;
  if (row >= rows)
    return;
  float values[Pairs::kPerThread][2];
  loadRow<In, Cols, BlockThreads, AddResidual>(values, input, residual, sum,
                                               row);
  float squares = 0.0f;
  for (int slot = 0; slot < Pairs::kPerThread; ++slot)
    squares +=
        values[slot][0] * values[slot][0] + values[slot][1] * values[slot][1];
  squares = blockSum<BlockThreads>(squares, scratch);
  const float inverseRms =
      1.0f / sqrtf(squares / static_cast<float>(Cols) + epsilon);
  for (int slot = 0; slot < Pairs::kPerThread; ++slot) {
    if (!Pairs::valid(slot))
      continue;
    const int column = Pairs::column(slot);
    for (int half = 0; half < 2; ++half)
      values[slot][half] = values[slot][half] * inverseRms *
                           (toF32(weight[column + half]) + weightOffset);
  }
  storeRow<Out, Quant, ScaleMode, Cols, BlockThreads>(
      values, row, output, quantized, staticScale, tokenScales, scratch);
}

/// y = (x - mean) / sqrt(var + epsilon) * weight + bias (biased variance,
/// two passes over the registers). `bias` may be null.
template <class In, class Param, class Out, class Quant, int Cols,
          int BlockThreads, bool AddResidual, int ScaleMode>
__device__ void
layerNormRows(const In *input, const In *residual, In *sum, const Param *weight,
              const Param *bias, float epsilon, Out *output, Quant *quantized,
              const float *staticScale, float *tokenScales, int rows) {
  using Pairs = RowPairs<Cols, BlockThreads>;
  __shared__ float scratch[kWarpSize];
  const int row = blockIdx.x;
  if (row >= rows)
    return;
  float values[Pairs::kPerThread][2];
  loadRow<In, Cols, BlockThreads, AddResidual>(values, input, residual, sum,
                                               row);
  float total = 0.0f;
  for (int slot = 0; slot < Pairs::kPerThread; ++slot)
    total += values[slot][0] + values[slot][1];
  const float mean =
      blockSum<BlockThreads>(total, scratch) / static_cast<float>(Cols);
  float squares = 0.0f;
  for (int slot = 0; slot < Pairs::kPerThread; ++slot) {
    if (!Pairs::valid(slot))
      continue;
    for (int half = 0; half < 2; ++half) {
      const float deviation = values[slot][half] - mean;
      squares += deviation * deviation;
    }
  }
  squares = blockSum<BlockThreads>(squares, scratch);
  const float inverseStd =
      1.0f / sqrtf(squares / static_cast<float>(Cols) + epsilon);
  for (int slot = 0; slot < Pairs::kPerThread; ++slot) {
    if (!Pairs::valid(slot))
      continue;
    const int column = Pairs::column(slot);
    for (int half = 0; half < 2; ++half) {
      const float shift = bias ? toF32(bias[column + half]) : 0.0f;
      values[slot][half] = (values[slot][half] - mean) * inverseStd *
                               toF32(weight[column + half]) +
                           shift;
    }
  }
  storeRow<Out, Quant, ScaleMode, Cols, BlockThreads>(
      values, row, output, quantized, staticScale, tokenScales, scratch);
}

/// Gemma's sandwich (cpu::rmsNormAddRmsNorm): the branch normalized with
/// its own weight and rounded to Branch, plus the residual, rounded to Sum
/// and written to `sum`, normalized again with `weight` into `output`.
template <class Branch, class Residual, class Weight, class Sum, class Out,
          int Cols, int BlockThreads>
__device__ void
rmsNormAddRmsNormRows(const Branch *branch, const Weight *branchWeight,
                      float branchEpsilon, const Residual *residual,
                      const Weight *weight, float epsilon, Sum *sum,
                      Out *output, int rows) {
  using Pairs = RowPairs<Cols, BlockThreads>;
  __shared__ float scratch[kWarpSize];
  const int row = blockIdx.x;
  if (row >= rows)
    return;
  float values[Pairs::kPerThread][2];
  loadRow<Branch, Cols, BlockThreads, false>(values, branch, nullptr, nullptr,
                                             row);
  float squares = 0.0f;
  for (int slot = 0; slot < Pairs::kPerThread; ++slot)
    squares +=
        values[slot][0] * values[slot][0] + values[slot][1] * values[slot][1];
  squares = blockSum<BlockThreads>(squares, scratch);
  float inverseRms =
      1.0f / sqrtf(squares / static_cast<float>(Cols) + branchEpsilon);
  const long long base = static_cast<long long>(row) * Cols;
  squares = 0.0f;
  for (int slot = 0; slot < Pairs::kPerThread; ++slot) {
    if (!Pairs::valid(slot))
      continue;
    const int column = Pairs::column(slot);
    for (int half = 0; half < 2; ++half) {
      const float normalized = roundThrough<Branch>(
          values[slot][half] * inverseRms * toF32(branchWeight[column + half]));
      const Sum stored =
          fromF32<Sum>(toF32(residual[base + column + half]) + normalized);
      sum[base + column + half] = stored;
      values[slot][half] = toF32(stored);
      squares += values[slot][half] * values[slot][half];
    }
  }
  squares = blockSum<BlockThreads>(squares, scratch);
  inverseRms = 1.0f / sqrtf(squares / static_cast<float>(Cols) + epsilon);
  for (int slot = 0; slot < Pairs::kPerThread; ++slot) {
    if (!Pairs::valid(slot))
      continue;
    const int column = Pairs::column(slot);
    for (int half = 0; half < 2; ++half)
      values[slot][half] =
          values[slot][half] * inverseRms * toF32(weight[column + half]);
  }
  storeRow<Out, signed char, kNoQuant, Cols, BlockThreads>(
      values, row, output, nullptr, nullptr, nullptr, scratch);
}

} // namespace llmc_kernels

#endif // LLMC_CODEGEN_CUDA_KERNELS_NORM_CUH
