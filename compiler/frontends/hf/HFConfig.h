//===- HFConfig.h - Hugging Face config.json to ModelConfig ---------------===//

#ifndef LLMC_COMPILER_FRONTENDS_HF_HFCONFIG_H
#define LLMC_COMPILER_FRONTENDS_HF_HFCONFIG_H

#include "compiler/frontends/ModelConfig.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace llmc::frontends::hf {

/// The `model_type` values parseHFConfig understands. `gemma3` (the
/// multimodal wrapper) is accepted too: its `text_config` is imported.
llvm::ArrayRef<llvm::StringRef> supportedModelTypes();

/// Parses the text of a Hugging Face `config.json` the way transformers'
/// config classes read it: absent optional fields take that family's
/// defaults (LlamaConfig, MistralConfig, Qwen2Config, Qwen3Config,
/// Gemma3TextConfig), and the result is validated. `source` names the file
/// in every message.
llvm::Expected<ModelConfig> parseHFConfig(llvm::StringRef jsonText,
                                          llvm::StringRef source);

/// Reads and parses `path`, a `config.json` or a model directory holding one.
llvm::Expected<ModelConfig> readHFConfig(llvm::StringRef path);

} // namespace llmc::frontends::hf

#endif // LLMC_COMPILER_FRONTENDS_HF_HFCONFIG_H
