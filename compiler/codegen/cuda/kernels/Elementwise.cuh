//===- Elementwise.cuh - unary, binary, bias add, gated rows, programs ----===//
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

/// One instruction of an `elementwise` step's program
/// (cpu::ElementwiseInstruction): op(operands) rounded to `resultType`; an
/// operand >= 0 is an earlier instruction's result, -1 - n is input n.
struct ElementwiseStep {
  int op;
  int operands[2];
  int resultType;
  float constant; // kEwScale's factor
};

enum ElementwiseOp {
  kEwAdd = 0,
  kEwMul = 1,
  kEwSilu = 2,
  kEwGelu = 3,
  kEwGeluTanh = 4,
  kEwScale = 5,
  kEwConvert = 6,
};

/// Storage types of elementwise inputs and intermediate results.
enum ElementwiseType { kEwF32 = 0, kEwBf16 = 1, kEwF16 = 2 };

__device__ __forceinline__ float loadAsF32(const void *data, int type,
                                           long long i) {
  if (type == kEwBf16)
    return toF32(static_cast<const bf16_t *>(data)[i]);
  if (type == kEwF16)
    return toF32(static_cast<const f16_t *>(data)[i]);
  return static_cast<const float *>(data)[i];
}

__device__ __forceinline__ float roundThroughType(float value, int type) {
  if (type == kEwBf16)
    return roundThrough<bf16_t>(value);
  if (type == kEwF16)
    return roundThrough<f16_t>(value);
  return value;
}

/// Runs a fused elementwise program (a constant of the generated source)
/// over `count` elements, grid-stride; each instruction rounds its result
/// to the type the unfused step stores, as cpu::elementwise does.
template <class Out, int NumInputs, int NumSteps>
__device__ void elementwiseProgram(const void *const (&inputs)[NumInputs],
                                   const int (&inputTypes)[NumInputs],
                                   const ElementwiseStep (&program)[NumSteps],
                                   Out *output, long long count) {
  for (long long e = flatThreadIndex(); e < count; e += flatThreadCount()) {
    float loaded[NumInputs];
    float results[NumSteps];
#pragma unroll
    for (int n = 0; n < NumInputs; ++n)
      loaded[n] = loadAsF32(inputs[n], inputTypes[n], e);
#pragma unroll
    for (int j = 0; j < NumSteps; ++j) {
      const ElementwiseStep &step = program[j];
      const int a = step.operands[0], b = step.operands[1];
      const float x = a < 0 ? loaded[-1 - a] : results[a];
      const bool binary = step.op == kEwAdd || step.op == kEwMul;
      const float y = binary ? (b < 0 ? loaded[-1 - b] : results[b]) : 0.0f;
      float value = x;
      switch (step.op) {
      case kEwAdd:
        value = x + y;
        break;
      case kEwMul:
        value = x * y;
        break;
      case kEwSilu:
        value = applyUnary<kSilu>(x, 1.0f);
        break;
      case kEwGelu:
        value = applyUnary<kGeluErf>(x, 1.0f);
        break;
      case kEwGeluTanh:
        value = applyUnary<kGeluTanh>(x, 1.0f);
        break;
      case kEwScale:
        value = x * step.constant;
        break;
      default:
        break; // kEwConvert: the rounding below is the whole op
      }
      results[j] = roundThroughType(value, step.resultType);
    }
    output[e] = fromF32<Out>(results[NumSteps - 1]);
  }
}

} // namespace llmc_kernels

#endif // LLMC_CODEGEN_CUDA_KERNELS_ELEMENTWISE_CUH
