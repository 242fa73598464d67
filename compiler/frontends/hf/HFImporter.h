//===- HFImporter.h - a Hugging Face model to the llm dialect -------------===//

#ifndef LLMC_COMPILER_FRONTENDS_HF_HFIMPORTER_H
#define LLMC_COMPILER_FRONTENDS_HF_HFIMPORTER_H

#include "compiler/frontends/ModelBuilder.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace llmc::frontends::hf {

/// The names, shapes and element types of a checkpoint's tensors without
/// their data: what a safetensors header says.
struct WeightManifest {
  /// In file order, for messages and for buildModel's weightNames.
  std::vector<std::string> names;
  llvm::StringMap<WeightDesc> tensors;

  /// Looks a tensor up; the describer buildModel takes.
  llvm::Expected<WeightDesc> describe(llvm::StringRef name) const;
};

/// The element type a safetensors `dtype` string (`BF16`, `F16`, `F32`,
/// `F8_E4M3`, `I8`, ...; lower case accepted) stands for, or null.
mlir::Type parseDType(mlir::MLIRContext &context, llvm::StringRef dtype);

/// Parses a JSON manifest `{"name": {"dtype": "bf16", "shape": [..]}, ...}`;
/// a safetensors header (which has `data_offsets` too, and `__metadata__`)
/// parses as well.
llvm::Expected<WeightManifest> parseWeightManifest(mlir::MLIRContext &context,
                                                   llvm::StringRef jsonText,
                                                   llvm::StringRef source);

/// Builds `@forward` from a config.json (or a model directory) and a weight
/// manifest file: the import path minus reading the tensors' data.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
importFromManifest(mlir::MLIRContext &context, llvm::StringRef configPath,
                   llvm::StringRef manifestPath,
                   const BuildOptions &options = {});

} // namespace llmc::frontends::hf

#endif // LLMC_COMPILER_FRONTENDS_HF_HFIMPORTER_H
