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
/// Today only llm-dialect .mlir models are read (parsed, verified and
/// canonicalized) and only `--emit=mlir` is written; every other input or
/// output is a `StatusCode::Failure` saying it is not supported yet, until the
/// frontends and the artifact writer exist.
Status compileModel(const CompileOptions &options);

} // namespace llmc

#endif // LLMC_COMPILER_DRIVER_COMPILE_H
