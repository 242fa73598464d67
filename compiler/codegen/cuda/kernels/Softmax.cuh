//===- Softmax.cuh - row softmax, max-subtracted, f32 ---------------------===//
//
// One block per row; rows can be as wide as a vocabulary, so the row is read
// three times from memory (max, sum, write) instead of held in registers.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_CODEGEN_CUDA_KERNELS_SOFTMAX_CUH
#define LLMC_CODEGEN_CUDA_KERNELS_SOFTMAX_CUH

#ifndef LLMC_KERNELS_SINGLE_SOURCE
#include "compiler/codegen/cuda/kernels/Common.cuh"
#endif

namespace llmc_kernels {

template <class In, class Out, int Cols, int BlockThreads>
__device__ void softmaxRows(const In *input, Out *output, int rows) {
  __shared__ float scratch[kWarpSize];
  const int row = blockIdx.x;
  if (row >= rows)
    return;
  const In *in = input + static_cast<long long>(row) * Cols;
  Out *out = output + static_cast<long long>(row) * Cols;
  float maximum = negativeInfinity();
  for (int c = threadIdx.x; c < Cols; c += BlockThreads)
    maximum = fmaxf(maximum, toF32(in[c]));
  maximum = blockMax<BlockThreads>(maximum, scratch);
  float sum = 0.0f;
  for (int c = threadIdx.x; c < Cols; c += BlockThreads)
    sum += expf(toF32(in[c]) - maximum);
  const float inverse = 1.0f / blockSum<BlockThreads>(sum, scratch);
  for (int c = threadIdx.x; c < Cols; c += BlockThreads)
    out[c] = fromF32<Out>(expf(toF32(in[c]) - maximum) * inverse);
}

} // namespace llmc_kernels

#endif // LLMC_CODEGEN_CUDA_KERNELS_SOFTMAX_CUH
