//===- FusedWeights.h - weights that llm-fuse concatenates ----------------===//
//
// llm-fuse merges linears that read one input into one GEMM over a new
// weight, the concatenation of theirs. Passes never touch weight data (and
// llmc-opt runs without a checkpoint), so the new `llm.weight` records its
// parts as a discardable attribute; `applyWeightConcats` declares it in the
// WeightStore once the pipeline has run, and the artifact writer streams it.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_FUSEDWEIGHTS_H
#define LLMC_PASSES_FUSEDWEIGHTS_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace llmc {

namespace weights {
class WeightStore;
} // namespace weights

/// On a weight llm-fuse created: {parts = ["<W1>", "<W2>", ...], axis = 0}.
inline constexpr llvm::StringLiteral kWeightConcatAttrName = "llm.concat";

/// Declares every weight of `module` that carries `llm.concat` as the
/// concatenation of its parts (as the store has them now) and checks that
/// the result has the op's type. Weights the store already knows are left
/// alone (a second call is a no-op). Errors name the weight.
llvm::Error applyWeightConcats(mlir::ModuleOp module,
                               weights::WeightStore &store);

} // namespace llmc

#endif // LLMC_PASSES_FUSEDWEIGHTS_H
