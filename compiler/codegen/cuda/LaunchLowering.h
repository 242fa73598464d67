//===- LaunchLowering.h - attach generated kernels' launches to plan steps ===//
//
// For GPU targets: every step that got a generated kernel keeps its op (the
// CPU backend, the reference, runs it) and gains a `plan.launches` list of
// #plan.launch attributes, one per kernel entry, saying how a GPU backend
// runs it instead; each entry is declared once by a plan.kernel. Grid and
// block are those of a launch over max-tokens; grid_token_scale, token_args,
// extra_args and the token range say how a forward call over T tokens
// launches (docs/codegen.md, "Launches"). PlanToSpec writes them as the
// artifact's `Step.launches`.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_CODEGEN_CUDA_LAUNCHLOWERING_H
#define LLMC_COMPILER_CODEGEN_CUDA_LAUNCHLOWERING_H

#include "compiler/codegen/cuda/PlanKernels.h"

namespace llmc::codegen::cuda {

/// Annotates `plan` in place; `kernels` must come from collectPlanKernels on
/// the same module. Returns the number of steps that got launches. Fails,
/// with a diagnostic on the step, when a kernel's arguments are not the
/// step's operands or it needs a `layer` the step lacks.
mlir::FailureOr<int64_t> attachLaunches(mlir::ModuleOp plan,
                                        const PlanKernels &kernels);

} // namespace llmc::codegen::cuda

#endif // LLMC_COMPILER_CODEGEN_CUDA_LAUNCHLOWERING_H
