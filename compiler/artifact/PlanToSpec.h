//===- PlanToSpec.h - a memory-planned plan module to ArtifactSpec plans --===//
//
// The last step before the writer: every `plan.rank` of a module that went
// through `llm-lower-to-plan` and `plan-memory` becomes a RankPlanSpec. Each
// operand of a step is resolved through its `plan.slice` (arena index,
// offset, shape, dtype, `plan.token_rows`); slices marked `plan.weight`
// become weight loads of the artifact tensor of that name (the WeightStore
// entry streamed into the weights section), at the offset the lowering gave
// the slice; slices marked `plan.input` / `plan.output` become the rank's
// named inputs and outputs; `plan.kernel` declarations become the
// artifact's kernels and a step's `plan.launches` its `Step.launches`.
// Anything the artifact cannot express (a standalone plan.launch, an unknown
// op, an attribute that is not an integer, float or string) is an error
// naming the op and its location.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_ARTIFACT_PLANTOSPEC_H
#define LLMC_COMPILER_ARTIFACT_PLANTOSPEC_H

#include "compiler/artifact/ArtifactWriter.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <vector>

namespace llmc::artifact {

struct PlanTranslation {
  /// One per distinct `plan.weight` name, in the order of the weights arena
  /// (the order the lowering laid them out): name = WeightStore entry.
  std::vector<TensorSpec> tensors;
  /// One per `plan.kernel`, in declaration order (what launches index).
  /// `module` is left 0: the caller, which compiled the kernels, knows
  /// which module holds each entry.
  std::vector<KernelSpec> kernels;
  /// One per `plan.rank`, in rank order.
  std::vector<RankPlanSpec> plans;
  /// What the KV cache stores (ModelConfig.kv_cache_dtype): the attention
  /// steps' `kv_cache_dtype` parameter ("f8E4M3FN" -> F8E4M3, "i8" -> I8)
  /// when quantized, else the element type of their key input; absent
  /// without attention.
  std::optional<DType> kvCacheDType;
};

/// Translates `module`'s ranks. `maxTokens` is the token capacity the plan
/// was lowered for (`llm-lower-to-plan{max-tokens=...}`); every
/// `plan.token_rows` buffer's leading dimension must be a multiple of it.
llvm::Expected<PlanTranslation> translatePlan(mlir::ModuleOp module,
                                              int64_t maxTokens);

} // namespace llmc::artifact

#endif // LLMC_COMPILER_ARTIFACT_PLANTOSPEC_H
