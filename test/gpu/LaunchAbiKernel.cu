// LaunchAbiKernel.cu - a kernel that reports what the 1.1 launch ABI handed
// it (test/gpu/cuda_gpu_test.cpp): one block per token row, one thread per
// column. y[r, c] = scratch round trip of 2 * x[r, c] + position[r]
// + 100 * sequence[r] + 1000 * layer + 10000 * (1 + the first KV block id
// of r's sequence) + 100000 * (num_tokens == rows).
#include "llmc/device_batch.h"

extern "C" __global__ void llmcTestLaunchAbi(const float *x, float *y,
                                             long long rows,
                                             const LlmcDeviceBatch *batch,
                                             long long layer, float *scratch) {
  const long long row = blockIdx.x;
  const long long cols = blockDim.x;
  if (row >= rows)
    return;
  const long long i = row * cols + threadIdx.x;
  const int sequence = batch->token_sequence[row];
  const int firstBlock =
      batch->block_tables[sequence * batch->block_table_stride];
  float value = 2.0f * x[i] + (float)batch->positions[row] +
                100.0f * (float)sequence + 1000.0f * (float)layer +
                10000.0f * (float)(firstBlock + 1) +
                (batch->num_tokens == rows ? 100000.0f : 0.0f);
  scratch[i] = value;
  y[i] = scratch[i];
}
