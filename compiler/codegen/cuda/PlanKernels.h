//===- PlanKernels.h - the CUDA kernels a plan module needs ---------------===//
//
// Walks every plan.rank of a memory-planned plan module and instantiates one
// kernel template per distinct (step, parameters, element types, static
// sizes): a 32-layer model needs each layer's kernels once. Each step kind
// (and, later, each fused group pattern of llm-fuse) is one entry of a table
// of instantiators in PlanKernels.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_CODEGEN_CUDA_PLANKERNELS_H
#define LLMC_COMPILER_CODEGEN_CUDA_PLANKERNELS_H

#include "compiler/codegen/cuda/CudaKernel.h"
#include "compiler/targets/Target.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

namespace llmc::codegen::cuda {

struct PlanKernels {
  std::vector<CudaKernel> kernels;
  /// Steps no generated kernel implements, with the reason ("attention:
  /// runs in the attention kernel of the CUDA backend", "gemm bf16: cuBLASLt").
  std::vector<std::string> notGenerated;
  /// Steps visited that got a kernel (before deduplication).
  int64_t generatedSteps = 0;
  /// Which kernel each of those steps runs, with its buffers in the order of
  /// the kernel's parameters (what a plan.launch of it passes).
  struct StepKernel {
    mlir::Operation *step;
    size_t kernel;
    llvm::SmallVector<mlir::Value> arguments;
  };
  std::vector<StepKernel> stepKernels;
};

/// The kernels `plan` needs on GPU `target`. Fails (with a diagnostic on
/// the step) when a step asks for something the target cannot run, such as
/// an FP8 GEMM on a chip without FP8 tensor cores.
mlir::FailureOr<PlanKernels> collectPlanKernels(mlir::ModuleOp plan,
                                                const Target &target);

} // namespace llmc::codegen::cuda

#endif // LLMC_COMPILER_CODEGEN_CUDA_PLANKERNELS_H
