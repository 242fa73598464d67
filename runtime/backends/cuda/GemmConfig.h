//===- GemmConfig.h - a plan GEMM as a cuBLASLt matmul --------------------===//
//
// Pure mapping from a GemmStep (row-major C[M, N] = alpha * A[M, K] x B' +
// beta * C, B' = B^T when transpose_b) to cuBLASLt's column-major terms, so
// it is unit-tested without a GPU. The row-major product is computed as the
// column-major C^T = B'^T x A^T: cuBLASLt's "A" is our B and its "B" is our
// A, which also gives FP8 the "TN" layout it requires when transpose_b.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_BACKENDS_CUDA_GEMMCONFIG_H
#define LLMC_RUNTIME_BACKENDS_CUDA_GEMMCONFIG_H

#include "runtime/schema/artifact_generated.h"

#include <cublasLt.h>

#include <cstdint>
#include <string>
#include <vector>

namespace llmc::cuda {

namespace fb = ::llmc::artifact;

/// How a quantized operand is scaled: no scale, one f32 for the tensor, or
/// one per row of A / per column of C (per output channel of B).
enum class ScaleKind { None, Tensor, Vector };

/// How the plan GEMM's scales are applied.
enum class GemmScaling {
  /// Float GEMM: alpha and beta only.
  None,
  /// FP8: cuBLASLt reads the two f32 scales from device pointers.
  FP8TensorScales,
  /// FP8 with per-row x per-column scales (cuBLASLt "outer vector" mode,
  /// Hopper and later).
  FP8OuterVectorScales,
  /// INT8: cuBLASLt writes the exact i32 product to scratch and the
  /// runtime's epilogue kernel computes C = alpha * sa * sb * acc + beta * C
  /// (cuBLASLt's INT8 GEMM has no float output).
  Int32Epilogue,
};

struct LtGemmTypes {
  cudaDataType_t aType = CUDA_R_32F; // our A
  cudaDataType_t bType = CUDA_R_32F; // our B
  /// The matmul's C/D: our C, or i32 scratch for Int32Epilogue.
  cudaDataType_t productType = CUDA_R_32F;
  cublasComputeType_t computeType = CUBLAS_COMPUTE_32F;
  cudaDataType_t scaleType = CUDA_R_32F;
  GemmScaling scaling = GemmScaling::None;
};

/// Chooses the cuBLASLt types of a GEMM of A x B -> C on a GPU of compute
/// capability `smNumber` (90 for sm_90a); returns "" or what cuBLASLt cannot
/// do ("FP8 GEMMs need sm_89 or newer; this GPU is sm_80").
std::string chooseLtGemmTypes(fb::DType a, fb::DType b, fb::DType c,
                              int smNumber, bool transposeB, ScaleKind scaleA,
                              ScaleKind scaleB, LtGemmTypes &out);

/// The column-major problem cuBLASLt solves for a row-major GEMM of M x N x
/// K: matrix layouts (rows, columns, leading dimension of the stored
/// matrix, before the operation) and the operations.
struct LtGemmShape {
  uint64_t m = 0, n = 0, k = 0; // cuBLASLt's m = N, n = M
  bool transposeA = false;      // cuBLASLt's A = our B
  uint64_t aRows = 0, aCols = 0;
  int64_t lda = 0;
  uint64_t bRows = 0, bCols = 0; // cuBLASLt's B = our A, never transposed
  int64_t ldb = 0;
  uint64_t cRows = 0, cCols = 0;
  int64_t ldc = 0;
};
LtGemmShape columnMajorShape(int64_t m, int64_t n, int64_t k, bool transposeB);

/// The M a heuristic is asked for when a call has `m` rows: the next power
/// of two (at most `maxM`). Algorithms are chosen once per bucket at load.
int64_t gemmBucket(int64_t m, int64_t maxM);
/// Every bucket up to maxM: 1, 2, 4, ..., maxM.
std::vector<int64_t> gemmBuckets(int64_t maxM);

/// "CUDA_R_16BF" etc., for messages.
const char *cudaDataTypeName(cudaDataType_t type);

} // namespace llmc::cuda

#endif // LLMC_RUNTIME_BACKENDS_CUDA_GEMMCONFIG_H
