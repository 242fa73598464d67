//===- Passes.td - llmc's transformations ----------------------------------===//
//
// Every llmc pass is declared here (IREE/MLIR style: no `let constructor`).
// Def names end in `Pass`; command-line names are `llm-<verb-noun>`.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_PASSES_TD
#define LLMC_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

#endif // LLMC_PASSES_PASSES_TD
