//===- GGUFConfig.h - GGUF metadata and tensor names to ModelConfig -------===//
//
// llama.cpp's convert_hf_to_gguf.py turns a Hugging Face checkpoint into one
// GGUF file: config.json becomes `<arch>.*` metadata keys, tensors are renamed
// (`model.layers.0.self_attn.q_proj.weight` -> `blk.0.attn_q.weight`), Q/K
// rows of llama models are interleaved per head, and Gemma's norm weights are
// stored with the `1 +` of its RMSNorm already added. This file reads that
// back: a ModelConfig and, for every GGUF tensor, the Hugging Face name the
// ModelBuilder uses plus what must be undone to get the Hugging Face values.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_FRONTENDS_GGUF_GGUFCONFIG_H
#define LLMC_COMPILER_FRONTENDS_GGUF_GGUFCONFIG_H

#include "compiler/frontends/ModelConfig.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace llmc::weights {
class GgufFile;
} // namespace llmc::weights

namespace llmc::frontends::gguf {

/// The `general.architecture` values readGgufConfig understands. Mistral
/// models are converted as `llama`.
llvm::ArrayRef<llvm::StringRef> supportedArchitectures();

/// Reads the `general.architecture` and `<arch>.*` metadata of `file` (and
/// the shapes of `token_embd.weight`, `output.weight` and `rope_freqs.weight`,
/// which carry the vocabulary size, tying and Llama 3 RoPE scaling) the way
/// llama.cpp's loader does, and validates the result. The architecture is
/// named as Hugging Face names it (`gemma3` -> `gemma3_text`) so a model reads
/// the same from either format. Messages start with the file's path and name
/// the metadata key.
llvm::Expected<ModelConfig> readGgufConfig(const weights::GgufFile &file);

/// One GGUF tensor under the Hugging Face name the ModelBuilder expects.
struct TensorMapping {
  /// The Hugging Face name (`model.layers.0.self_attn.q_proj.weight`), or the
  /// GGUF name for tensors llmc has no mapping for (the builder then reports
  /// them as unused).
  std::string name;
  /// The tensor in the file (`blk.0.attn_q.weight`).
  std::string ggufName;
  /// When positive: convert_hf_to_gguf.py interleaved the rows of this
  /// llama Q or K projection per head; undo it for this many heads.
  int64_t unpermuteHeads = 0;
};

/// Maps every tensor of `file` for the model `config` describes, in file
/// order. Tensors that only feed the config (`rope_freqs.weight`) are left
/// out.
std::vector<TensorMapping> mapTensorNames(const weights::GgufFile &file,
                                          const ModelConfig &config);

/// The GGUF name convert_hf_to_gguf.py gives a Hugging Face tensor name, or
/// an empty string; for messages about weights the builder misses.
std::string getGgufTensorName(llvm::StringRef hfName,
                              const ModelConfig &config);

/// True when GGUF files of `config`'s architecture store RMSNorm weights with
/// the `1 +` of Gemma's norm already added (convert_hf_to_gguf.py's
/// `data_torch + 1` for every `norm.weight` of Gemma models), so the importer
/// must not add it again.
bool storesNormWeightsWithOneAdded(const ModelConfig &config);

} // namespace llmc::frontends::gguf

#endif // LLMC_COMPILER_FRONTENDS_GGUF_GGUFCONFIG_H
