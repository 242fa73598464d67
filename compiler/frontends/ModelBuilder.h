//===- ModelBuilder.h - ModelConfig + weight shapes to an llm @forward ----===//

#ifndef LLMC_COMPILER_FRONTENDS_MODELBUILDER_H
#define LLMC_COMPILER_FRONTENDS_MODELBUILDER_H

#include "compiler/frontends/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <string>
#include <vector>

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace llmc::frontends {

/// What the builder needs to know about one tensor of a checkpoint.
struct WeightDesc {
  std::vector<int64_t> shape;
  mlir::Type elementType;
};

/// Describes the checkpoint tensor of that (Hugging Face) name. The importer
/// backs it with the WeightStore; tests with a JSON manifest.
using WeightDescriber =
    std::function<llvm::Expected<WeightDesc>(llvm::StringRef name)>;

/// Discardable attribute on `llm.weight`: a transform the WeightStore applies
/// to the stored tensor while streaming it. `add_one` (Gemma's norms) means
/// the model uses `1 + w` for the stored `w`; the rms_norm then multiplies by
/// the transformed weight as usual.
inline constexpr llvm::StringLiteral kWeightTransformAttrName =
    "llm.weight_transform";
inline constexpr llvm::StringLiteral kWeightTransformAddOne = "add_one";
/// Discardable attribute on `llm.weight`: the element type the checkpoint
/// stores when it differs from the op's type (the activation type); the
/// WeightStore converts while streaming.
inline constexpr llvm::StringLiteral kWeightSourceTypeAttrName =
    "llm.source_type";
/// Discardable attribute on `llm.weight`: the ggml block-quantized type
/// (`"Q4_K"`) a GGUF checkpoint stores the weight in; the importer
/// dequantizes it to the op's type. Informational, like `llm.source_type`.
inline constexpr llvm::StringLiteral kWeightSourceQuantAttrName =
    "llm.source_quant";

struct BuildOptions {
  /// The activation element type (bf16, f16 or f32). Null: the embedding
  /// table's element type (`--dtype` sets it).
  mlir::Type activationType;
  /// The module's `llm.model` name; the architecture when empty.
  std::string modelName;
  /// The checkpoint stores Gemma's norm weights with the `1 +` already added
  /// (GGUF files do), so no `add_one` transform is requested for them.
  bool normWeightsIncludeOne = false;
  /// Weights the checkpoint lacks are declared with the shape the config
  /// implies instead of being reported (a config.json-only model compiled
  /// with synthetic weights).
  bool allowMissingWeights = false;
};

/// Builds a module holding
///   func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>,
///                      %batch: !llm.batch) -> tensor<?x{vocab}xf32>
/// that computes the logits of every token as the transformers reference
/// implementation of `config.architecture` does. `weightNames` lists every
/// tensor of the checkpoint: the builder checks each weight it uses against
/// the shape the config implies and reports, all at once, the weights that
/// are missing, have the wrong shape, or are left over. The module is
/// verified before it is returned.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
buildModel(mlir::MLIRContext &context, const ModelConfig &config,
           llvm::ArrayRef<std::string> weightNames,
           const WeightDescriber &describeWeight,
           const BuildOptions &options = {});

} // namespace llmc::frontends

#endif // LLMC_COMPILER_FRONTENDS_MODELBUILDER_H
