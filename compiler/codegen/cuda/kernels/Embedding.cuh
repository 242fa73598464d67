//===- Embedding.cuh - token embedding gather -----------------------------===//
//
// One block per token. The runtime checks token ids against the vocabulary
// on the host before the launch (it has them there, and an error needs a
// message); a kernel that still meets a bad id writes zeros rather than
// reading outside the table.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_CODEGEN_CUDA_KERNELS_EMBEDDING_CUH
#define LLMC_CODEGEN_CUDA_KERNELS_EMBEDDING_CUH

#ifndef LLMC_KERNELS_SINGLE_SOURCE
#include "compiler/codegen/cuda/kernels/Common.cuh"
#endif

namespace llmc_kernels {

template <class Table, class Out, int Vocab, int Cols, int BlockThreads>
__device__ void embeddingRows(const Table *table, const int *ids, Out *output,
                              int rows) {
  const int row = blockIdx.x;
  if (row >= rows)
    return;
  const int id = ids[row];
  const bool valid = id >= 0 && id < Vocab;
  const Table *source = table + static_cast<long long>(valid ? id : 0) * Cols;
  Out *destination = output + static_cast<long long>(row) * Cols;
  for (int c = threadIdx.x; c < Cols; c += BlockThreads)
    destination[c] = fromF32<Out>(valid ? toF32(source[c]) : 0.0f);
}

} // namespace llmc_kernels

#endif // LLMC_CODEGEN_CUDA_KERNELS_EMBEDDING_CUH
