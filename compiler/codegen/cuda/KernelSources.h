//===- KernelSources.h - the kernel template headers, embedded ------------===//
//
// compiler/codegen/cuda/kernels/*.cuh, copied into the compiler binary at
// build time (cmake/EmbedKernelSources.cmake), so generated sources are
// complete wherever llmc runs.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_CODEGEN_CUDA_KERNELSOURCES_H
#define LLMC_COMPILER_CODEGEN_CUDA_KERNELSOURCES_H

#include "llvm/ADT/StringRef.h"

namespace llmc::codegen::cuda {

/// The text of kernels/`fileName` ("Norm.cuh"); empty if there is none.
llvm::StringRef kernelHeader(llvm::StringRef fileName);

} // namespace llmc::codegen::cuda

#endif // LLMC_COMPILER_CODEGEN_CUDA_KERNELSOURCES_H
