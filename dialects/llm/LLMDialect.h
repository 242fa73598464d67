//===- LLMDialect.h - the llm dialect, its types and attributes
//------------===//

#ifndef LLMC_DIALECTS_LLM_LLMDIALECT_H
#define LLMC_DIALECTS_LLM_LLMDIALECT_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/llm/LLMDialect.h.inc"
#include "dialects/llm/LLMEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/llm/LLMAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialects/llm/LLMTypes.h.inc"

namespace llmc::llm {

/// The paged KV cache the runtime owns; `llm.attention` reads and appends it.
struct KVCacheResource : mlir::SideEffects::Resource::Base<KVCacheResource> {
  llvm::StringRef getName() final { return "<KVCache>"; }
};

} // namespace llmc::llm

#endif // LLMC_DIALECTS_LLM_LLMDIALECT_H
