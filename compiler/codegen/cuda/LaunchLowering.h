//===- LaunchLowering.h - plan steps to plan.launch of generated kernels --===//
//
// For GPU targets: every step that got a generated kernel becomes a
// plan.launch of the kernel's first entry (declared once by a plan.kernel),
// its grid and block set for max-tokens. How the grid and the kernel's
// integer arguments follow the runtime token count T is stated on the
// launch, until the plan dialect and the artifact schema carry it as
// fields (docs/codegen.md, "Launches"):
//   plan.grid_token_scale = [n_x, d_x, n_y, d_y, n_z, d_z]: a dimension with
//     n > 0 is min(ceil(T * n / d), its grid at max-tokens);
//   plan.token_args = [k...]: after the buffers, one 64-bit T * k each.
// Steps whose buffers are not token rows keep their plan.compute.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_CODEGEN_CUDA_LAUNCHLOWERING_H
#define LLMC_COMPILER_CODEGEN_CUDA_LAUNCHLOWERING_H

#include "compiler/codegen/cuda/PlanKernels.h"

namespace llmc::codegen::cuda {

constexpr llvm::StringLiteral kGridTokenScaleAttr = "plan.grid_token_scale";
constexpr llvm::StringLiteral kTokenArgsAttr = "plan.token_args";

/// Rewrites `plan` in place; `kernels` must come from collectPlanKernels on
/// the same module. Returns the number of steps replaced.
mlir::FailureOr<int64_t> replaceStepsWithLaunches(mlir::ModuleOp plan,
                                                  const PlanKernels &kernels);

} // namespace llmc::codegen::cuda

#endif // LLMC_COMPILER_CODEGEN_CUDA_LAUNCHLOWERING_H
