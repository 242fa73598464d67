//===- CublasLt.h - cuBLASLt, loaded with dlopen --------------------------===//
//
// Like the driver, cuBLASLt is opened at run time (libcublasLt.so.13, .12,
// then libcublasLt.so) so that llmc-runtime has no CUDA link dependency;
// cublasLt.h is included for types only. Failing calls become Statuses
// naming the call and cuBLASLt's status name and text.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_BACKENDS_CUDA_CUBLASLT_H
#define LLMC_RUNTIME_BACKENDS_CUDA_CUBLASLT_H

#include "runtime/support/Status.h"

#include <cublasLt.h>

#include <string>

namespace llmc::cuda {

using Status = ::llmc::runtime::Status;

#define LLMC_CUBLASLT_FUNCTIONS(X)                                             \
  X(cublasLtCreate)                                                            \
  X(cublasLtDestroy)                                                           \
  X(cublasLtGetVersion)                                                        \
  X(cublasLtGetStatusName)                                                     \
  X(cublasLtGetStatusString)                                                   \
  X(cublasLtMatmulDescCreate)                                                  \
  X(cublasLtMatmulDescDestroy)                                                 \
  X(cublasLtMatmulDescSetAttribute)                                            \
  X(cublasLtMatrixLayoutCreate)                                                \
  X(cublasLtMatrixLayoutDestroy)                                               \
  X(cublasLtMatmulPreferenceCreate)                                            \
  X(cublasLtMatmulPreferenceDestroy)                                           \
  X(cublasLtMatmulPreferenceSetAttribute)                                      \
  X(cublasLtMatmulAlgoGetHeuristic)                                            \
  X(cublasLtMatmul)

struct CublasLt {
#define LLMC_DECLARE_MEMBER(name) decltype(&::name) name = nullptr;
  LLMC_CUBLASLT_FUNCTIONS(LLMC_DECLARE_MEMBER)
#undef LLMC_DECLARE_MEMBER

  std::string libraryName;
  /// cublasLtGetVersion, e.g. 130000.
  size_t version = 0;

  /// Opens the library once per process (cached like CudaDriver::load).
  static Status load(const CublasLt *&out);

  /// Success, or "`call` failed: CUBLAS_STATUS_NOT_SUPPORTED (...)".
  Status check(cublasStatus_t status, const char *call) const;
};

#define LLMC_LT(lt, call) (lt).check((lt).call, #call)

} // namespace llmc::cuda

#endif // LLMC_RUNTIME_BACKENDS_CUDA_CUBLASLT_H
