//===- LLMOps.h - ops of the llm dialect
//-----------------------------------===//

#ifndef LLMC_DIALECTS_LLM_LLMOPS_H
#define LLMC_DIALECTS_LLM_LLMOPS_H

#include "dialects/llm/LLMDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"

#define GET_OP_CLASSES
#include "dialects/llm/LLMOps.h.inc"

#endif // LLMC_DIALECTS_LLM_LLMOPS_H
