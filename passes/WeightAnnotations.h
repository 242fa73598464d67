//===- WeightAnnotations.h - weight transforms recorded in the IR ---------===//
//
// Passes never touch weight data, and llmc-opt runs them without any
// checkpoint, so the llm passes that change weights (llm-smooth,
// llm-quantize) record what the WeightStore must do as discardable
// attributes on `llm.weight` ops. `applyWeightAnnotations` turns them into
// WeightStore transforms and derived entries once the pipeline has run; the
// artifact writer then streams the results. The attributes are also what
// the lit tests check.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_WEIGHTANNOTATIONS_H
#define LLMC_PASSES_WEIGHTANNOTATIONS_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace llmc {

namespace weights {
class WeightStore;
} // namespace weights

/// On a quantized weight (whose type is now i8, i4 or f8E4M3FN):
///   {scheme = "int8_per_channel", granularity = "tensor" | "channel" |
///    "group", group_size = 128 : i64, symmetric = true,
///    scale = "<W>.scale", zero_point = "<W>.zero_point" (asymmetric only),
///    clip_search (unit: QuantScheme::searchClipping)?,
///    gptq = "<Gram matrix file>" (QuantScheme::gptq)?}
inline constexpr llvm::StringLiteral kWeightQuantAttrName = "llm.quant";
/// On `llm.weight @<W>.scale` / `@<W>.zero_point`: {of = "<W>", kind =
/// "scale" | "zero_point"}: computed with <W>'s quantization.
inline constexpr llvm::StringLiteral kWeightDerivedAttrName = "llm.derived";
/// On `llm.weight @<W>.input_scale : tensor<f32>`: a calibrated activation
/// scale {absmax = <f64>, qmax = <f64>, smoothed_by = "<norm weight>"?}.
inline constexpr llvm::StringLiteral kWeightActivationScaleAttrName =
    "llm.activation_scale";
/// On a smoothed norm weight: {alpha = <f64>, min_factor = <f64>,
///   activation_absmax = dense<...> : tensor<Kxf32>, linears = ["<W>", ...],
///   bias = "<norm bias>"?}; on a linear weight whose output rows are
///   divided (llm-smooth's linear pairs) the same plus `rows` (unit) and,
///   through GQA attention, head_dim and query_heads_per_kv_head (i64).
inline constexpr llvm::StringLiteral kWeightSmoothAttrName = "llm.smooth";
/// On each linear weight a smoothing rescales: the norm (or producing linear)
/// weight's name.
inline constexpr llvm::StringLiteral kWeightSmoothedByAttrName =
    "llm.smoothed_by";

/// Records the transforms the annotations of `module` ask for in `store`:
/// smoothing first, then quantization, then the derived entries (scales,
/// zero points, activation scales). Every annotated weight must already be
/// declared in the store (derived ones must not). Errors name the weight.
llvm::Error applyWeightAnnotations(mlir::ModuleOp module,
                                   weights::WeightStore &store);

} // namespace llmc

#endif // LLMC_PASSES_WEIGHTANNOTATIONS_H
