//===- Import.h - `llmc import`: a checkpoint to llm-dialect text ---------===//

#ifndef LLMC_COMPILER_DRIVER_IMPORT_H
#define LLMC_COMPILER_DRIVER_IMPORT_H

#include "compiler/driver/CompileOptions.h"

#include <string>
#include <vector>

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace llmc {

struct ImportCommandOptions {
  /// A Hugging Face model directory or a .gguf file.
  std::string modelPath;
  /// Where the module goes; "-" (the default) is standard output.
  std::string outputPath = "-";
  /// `--dtype`: bf16, f16 or f32; empty for the checkpoint's own.
  std::string dtype;
  /// `--check-weights`: materialize every weight once (reading and
  /// decoding the whole checkpoint) to prove the store can produce it.
  bool checkWeights = false;
  bool verbose = false;
  bool helpRequested = false;
};

/// The usage text of `llmc import`.
std::string importUsage();

/// Parses the arguments that follow `llmc import`; every failure is a
/// `StatusCode::UsageError`.
Status parseImportOptions(const std::vector<std::string> &args,
                          ImportCommandOptions &options);

/// Imports the model and writes its `llm` module (no weight data) to the
/// output.
Status importModelToMlir(const ImportCommandOptions &options);

/// Turns an importer error (one or several messages, each naming its file)
/// into a Status whose message prints as one `error: ` line per problem.
Status importFailure(std::string messages);

} // namespace llmc

#endif // LLMC_COMPILER_DRIVER_IMPORT_H
