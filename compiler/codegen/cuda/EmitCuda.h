//===- EmitCuda.h - `--emit=cuda|ptx`: write a plan's kernels to a folder -===//
//
// The function the driver calls for `llmc compile --emit=cuda|ptx -o DIR`
// (and llmc-codegen for lit tests): collect the kernels the memory-planned
// plan module needs on the GPU target, and write each as `<entry>.cu`, or
// compile it with NVRTC (through the kernel cache) and write `<entry>.ptx`,
// plus `kernels.txt`, a manifest of entries, launch rules and the steps
// left to other code. DIR "-" prints everything to stdout instead.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_CODEGEN_CUDA_EMITCUDA_H
#define LLMC_COMPILER_CODEGEN_CUDA_EMITCUDA_H

#include "compiler/codegen/cuda/KernelCompiler.h"
#include "compiler/codegen/cuda/PlanKernels.h"
#include "llvm/Support/Error.h"

namespace llmc::codegen::cuda {

enum class EmitFormat { Cuda, Ptx };

/// Collects the plan's kernels with their diagnostics turned into an error.
llvm::Expected<PlanKernels> collectPlanKernelsOrError(mlir::ModuleOp plan,
                                                      const Target &target);

/// The manifest text: one line per kernel entry, then the steps without a
/// generated kernel.
std::string formatKernelManifest(const PlanKernels &kernels,
                                 const Target &target);

llvm::Error emitCudaKernels(mlir::ModuleOp plan, const Target &target,
                            EmitFormat format, llvm::StringRef directory,
                            const KernelCompilerOptions &options = {},
                            KernelCompileStatistics *statistics = nullptr);

} // namespace llmc::codegen::cuda

#endif // LLMC_COMPILER_CODEGEN_CUDA_EMITCUDA_H
