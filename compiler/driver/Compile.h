//===- Compile.h - runs `llmc compile` once its options are validated -----===//

#ifndef LLMC_COMPILER_DRIVER_COMPILE_H
#define LLMC_COMPILER_DRIVER_COMPILE_H

#include "compiler/driver/CompileOptions.h"

namespace llmc {

/// Reads the model, runs the pipeline for the options' target and mode, and
/// writes the result. MLIR diagnostics about the model (with file, line and
/// column) go to standard error as they happen; the returned status says what
/// failed overall.
///
/// Hugging Face directories and .gguf files are imported (frontends'
/// importModel), llm-dialect .mlir models are parsed and verified; the
/// module is canonicalized and only `--emit=mlir` is written. Other inputs
/// and outputs are a `StatusCode::Failure` saying they are not supported yet.
Status compileModel(const CompileOptions &options);

} // namespace llmc

#endif // LLMC_COMPILER_DRIVER_COMPILE_H
