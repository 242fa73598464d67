//===- PlanOps.h - ops of the plan dialect --------------------------------===//

#ifndef LLMC_DIALECTS_PLAN_PLANOPS_H
#define LLMC_DIALECTS_PLAN_PLANOPS_H

#include "dialects/plan/PlanDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"

#define GET_OP_CLASSES
#include "dialects/plan/PlanOps.h.inc"

namespace llmc::plan {

/// Bytes one buffer of `type` occupies; i4 packs two elements per byte,
/// rounding up.
int64_t getBufferBytes(mlir::MemRefType type);

} // namespace llmc::plan

#endif // LLMC_DIALECTS_PLAN_PLANOPS_H
