//===- Elementwise.cuh - unary, binary, bias add and gated activations ----===//
//
// The formulas are the CPU backend's (runtime/backends/cpu/Kernels.cpp):
// f32 math, one rounding to the output type. Flat kernels cover
// `count` = tokens * columns elements with a grid-stride loop, so any grid
// is correct and the launch rule only tunes occupancy.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_CODEGEN_CUDA_KERNELS_ELEMENTWISE_CUH
#define LLMC_CODEGEN_CUDA_KERNELS_ELEMENTWISE_CUH

#ifndef LLMC_KERNELS_SINGLE_SOURCE
#include "compiler/codegen/cuda/kernels/Common.cuh"
#endif

namespace llmc_kernels {

enum UnaryOp {
  kConvert = 0, // only the storage type changes (arith.extf / truncf)
  kSilu = 1,
  kGeluErf = 2,
  kGeluTanh = 3,
  kScale = 4, // x * factor
};

enum BinaryOp { kAdd = 0, kMul = 1 };

template <int Op>
__device__ __forceinline__ float applyUnary(float x, float factor) {
  if (Op == kSilu)
    return x / (1.0f + expf(-x));
  if (Op == kGeluErf)
    return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
  if (Op == kGeluTanh) {
    const float inner = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + tanhf(inner));
  }
  if (Op == kScale)
    return x * factor;
  return x;
}

__device__ __forceinline__ long long flatThreadIndex() {
  return static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ long long flatThreadCount() {
  return static_cast<long long>(gridDim.x) * blockDim.x;
}

template <class In, class Out, int Op>
__device__ void unaryElements(const In *input, Out *output, float factor,
                              long long count) {
  for (long long i = flatThreadIndex(); i < count; i += flatThreadCount())
    output[i] = fromF32<Out>(applyUnary<Op>(toF32(input[i]), factor));
}

template <class In, class Out, int Op>
__device__ void binaryElements(const In *lhs, const In *rhs, Out *output,
                               long long count) {
  for (long long i = flatThreadIndex(); i < count; i += flatThreadCount()) {
    const float a = toF32(lhs[i]), b = toF32(rhs[i]);
    output[i] = fromF32<Out>(Op == kAdd ? a + b : a * b);
  }
}

/// output[r, c] += bias[c], in place (a linear's bias after its GEMM).
template <class T, class Bias, int Cols>
__device__ void biasAddElements(T *output, const Bias *bias, long long count) {
  for (long long i = flatThreadIndex(); i < count; i += flatThreadCount())
    output[i] = fromF32<T>(toF32(output[i]) + toF32(bias[i % Cols]));
}

/// output = act(gate) * up per row, optionally quantized (storeRow). `Mid`
/// is where the unfused graph rounds act(gate): float for the CPU backend's
/// fused siluMul, In when llm.silu and llm.mul were separate steps. Gate and
/// up rows may be strided, so one merged [rows, 2 * Cols] gate/up GEMM
/// output feeds the kernel without a copy.
template <class In, class Mid, class Out, class Quant, int Cols,
          int BlockThreads, int Activation, int ScaleMode>
__device__ void gatedRows(const In *gate, long long gateRowStride, const In *up,
                          long long upRowStride, Out *output, Quant *quantized,
                          const float *staticScale, float *tokenScales,
                          int rows) {
  using Pairs = RowPairs<Cols, BlockThreads>;
  __shared__ float scratch[kWarpSize];
  const int row = blockIdx.x;
  if (row >= rows)
    return;
  float values[Pairs::kPerThread][2];
  for (int slot = 0; slot < Pairs::kPerThread; ++slot) {
    values[slot][0] = values[slot][1] = 0.0f;
    if (!Pairs::valid(slot))
      continue;
    const int column = Pairs::column(slot);
    for (int half = 0; half < 2; ++half) {
      const float g = toF32(gate[row * gateRowStride + column + half]);
      const float u = toF32(up[row * upRowStride + column + half]);
      values[slot][half] =
          roundThrough<Mid>(applyUnary<Activation>(g, 1.0f)) * u;
    }
  }
  storeRow<Out, Quant, ScaleMode, Cols, BlockThreads>(
      values, row, output, quantized, staticScale, tokenScales, scratch);
}

} // namespace llmc_kernels

#endif // LLMC_CODEGEN_CUDA_KERNELS_ELEMENTWISE_CUH
