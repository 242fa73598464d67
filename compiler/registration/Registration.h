//===- Registration.h - the dialects and passes every llmc tool knows
//------===//

#ifndef LLMC_COMPILER_REGISTRATION_REGISTRATION_H
#define LLMC_COMPILER_REGISTRATION_REGISTRATION_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace llmc {

/// Adds llmc's dialects and the upstream ones its IR uses (func, arith,
/// tensor) to `registry`. Every tool and test calls this, so they all accept
/// the same IR.
void registerAllLlmcDialects(mlir::DialectRegistry &registry);

/// Registers llmc's passes and the upstream cleanups pipelines use
/// (canonicalize, cse, ...) with the global pass registry.
void registerAllLlmcPasses();

} // namespace llmc

#endif // LLMC_COMPILER_REGISTRATION_REGISTRATION_H
