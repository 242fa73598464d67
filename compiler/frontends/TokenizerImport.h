//===- TokenizerImport.h - a checkpoint's tokenizer, loaded ---------------===//
//
// The artifact carries the tokenizer, so `importModel` loads it next to the
// weights: from a GGUF file's `tokenizer.*` metadata (into the runtime's
// TokenizerVectors, absent keys taking llama.cpp's defaults) or from a Hugging
// Face directory's tokenizer.json + tokenizer_config.json. Either way the
// result holds a ready runtime Tokenizer (runtime/tokenizer, plain C++), so a
// vocabulary the runtime could not use fails at import, naming the file and
// the key. generation_config.json, which says when generation stops, is read
// here too.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_FRONTENDS_TOKENIZERIMPORT_H
#define LLMC_COMPILER_FRONTENDS_TOKENIZERIMPORT_H

#include "runtime/tokenizer/Tokenizer.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <optional>
#include <string>

namespace llmc::weights {
class GgufFile;
} // namespace llmc::weights

namespace llmc::frontends {

struct ModelConfig;

enum class TokenizerFormat { GgufMetadata, HuggingFace };

/// A checkpoint's tokenizer: the data the artifact embeds and a Tokenizer
/// built from it.
struct ImportedTokenizer {
  TokenizerFormat format = TokenizerFormat::GgufMetadata;
  /// The .gguf file, or the directory's tokenizer.json.
  std::string path;
  /// Hugging Face: tokenizer_config.json, empty when the directory has none.
  std::string configPath;
  /// GGUF: the `tokenizer.*` metadata (what the artifact stores).
  std::optional<tokenizer::TokenizerVectors> vectors;
  /// Hugging Face: the texts of tokenizer.json and tokenizer_config.json
  /// (the latter empty when absent).
  std::string tokenizerJson;
  std::string tokenizerConfigJson;
  /// Built from the above; never null.
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;

  /// "byte-level BPE" or "SentencePiece BPE".
  std::string getKindName() const;
  /// One line for `llmc import -v`: kind, vocabulary size, bos/eos, chat
  /// template family, e.g. `byte-level BPE (pre-tokenizer smollm), 49152
  /// tokens, bos 1 '<|im_start|>', eos 2 '<|im_end|>', chat template chatml`.
  std::string summarize() const;
};

/// The `tokenizer.*` metadata of a GGUF file as the runtime's vectors. Keys
/// llama.cpp treats as optional get its defaults: for `llama` (SentencePiece)
/// bos 1, eos 2, unknown 0, add_bos true, add_space_prefix true; for `gpt2`
/// (byte-level) bos and eos 11 where the vocabulary has them, no unknown
/// token, add_bos only for the Llama 3 family of pre-tokenizers. Errors name
/// the file and the key.
llvm::Expected<tokenizer::TokenizerVectors>
readGgufTokenizerVectors(const weights::GgufFile &file);

/// The tokenizer of a GGUF file; std::nullopt when it has no
/// `tokenizer.ggml.tokens`.
llvm::Expected<std::optional<ImportedTokenizer>>
importGgufTokenizer(const weights::GgufFile &file);

/// The tokenizer of a Hugging Face directory (tokenizer.json, and
/// tokenizer_config.json for bos/eos and the chat template); std::nullopt
/// when there is no tokenizer.json.
llvm::Expected<std::optional<ImportedTokenizer>>
importHuggingFaceTokenizer(llvm::StringRef directory);

/// Applies the directory's generation_config.json when there is one: its
/// `eos_token_id` (an integer or a list) replaces config.json's as the ids
/// that stop generation, and its `bos_token_id` config.json's. Errors name
/// the file and the key.
llvm::Error readGenerationConfig(llvm::StringRef directory,
                                 ModelConfig &config);

} // namespace llmc::frontends

#endif // LLMC_COMPILER_FRONTENDS_TOKENIZERIMPORT_H
