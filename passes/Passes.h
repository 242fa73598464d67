//===- Passes.h - llmc's transformations
//-----------------------------------===//

#ifndef LLMC_PASSES_PASSES_H
#define LLMC_PASSES_PASSES_H

// The plan dialect's enums appear in pass options (llm-lower-to-plan's
// `backend`).
#include "dialects/plan/PlanDialect.h"
#include "mlir/Pass/Pass.h"

namespace llmc {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

} // namespace llmc

#endif // LLMC_PASSES_PASSES_H
