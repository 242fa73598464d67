//===- Importer.h - a checkpoint on disk to an llm module + WeightStore ---===//
//
// `llmc import` and `llmc compile` start here. A Hugging Face directory
// (config.json + one or more .safetensors) or a llama.cpp .gguf file becomes
// the `@forward` module of the `llm` dialect and a WeightStore that holds,
// under every name an `llm.weight` op uses, the checkpoint tensor and the
// transforms that turn it into exactly the op's tensor type: dtype
// conversion or dequantization, undoing llama.cpp's Q/K row permutation,
// adding Gemma's norm offset. Nothing is read beyond headers and metadata,
// and the tokenizer (which the artifact embeds), loaded and checked.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_FRONTENDS_IMPORTER_H
#define LLMC_COMPILER_FRONTENDS_IMPORTER_H

#include "compiler/frontends/ModelConfig.h"
#include "compiler/frontends/TokenizerImport.h"
#include "compiler/weights/DType.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace llmc::weights {
class GgufFile;
class WeightStore;
} // namespace llmc::weights

namespace llmc::frontends {

struct ImportOptions {
  /// The activation element type (bf16, f16 or f32). Null: the embedding
  /// table's type; f32 when that table is block-quantized.
  mlir::Type activationType;
  /// The module's `llm.model` name; the architecture when empty.
  std::string modelName;
  /// A Hugging Face directory without .safetensors files is imported from
  /// config.json alone: every weight gets the shape the config implies (in
  /// `activationType`, bf16 by default) and the WeightStore stays empty.
  /// For `llmc compile --synthetic-weights`, which never reads weights.
  bool allowMissingWeights = false;
};

enum class CheckpointFormat { HuggingFace, Gguf };

struct ImportedModel {
  mlir::OwningOpRef<mlir::ModuleOp> module;
  /// Every `llm.weight @name : type` of `module` is declared here and
  /// `describe(name)` gives that type's dtype and shape.
  std::unique_ptr<weights::WeightStore> weights;
  ModelConfig config;
  CheckpointFormat format = CheckpointFormat::HuggingFace;
  /// The tokenizer, loaded (GGUF `tokenizer.*` metadata, or the directory's
  /// tokenizer.json + tokenizer_config.json); std::nullopt when the
  /// checkpoint has none.
  std::optional<ImportedTokenizer> tokenizer;

  ImportedModel();
  ImportedModel(ImportedModel &&);
  ImportedModel &operator=(ImportedModel &&);
  ~ImportedModel();
};

/// True for what importModel reads: a directory or a `.gguf` file.
bool isImportablePath(llvm::StringRef path);

/// Imports the model at `path`. Every message starts with the file it is
/// about and names the tensor or metadata field.
llvm::Expected<ImportedModel> importModel(mlir::MLIRContext &context,
                                          llvm::StringRef path,
                                          const ImportOptions &options = {});

/// The MLIR element type of a checkpoint dtype (F32 -> f32, BF16 -> bf16,
/// F8E4M3 -> f8E4M3FN, I8 -> i8, ...); null for block-quantized and other
/// types the `llm` dialect has no element type for.
mlir::Type getElementType(mlir::MLIRContext &context, weights::DType dtype);
/// The inverse for the float types the WeightStore converts to.
std::optional<weights::DType> getDType(mlir::Type elementType);

} // namespace llmc::frontends

#endif // LLMC_COMPILER_FRONTENDS_IMPORTER_H
