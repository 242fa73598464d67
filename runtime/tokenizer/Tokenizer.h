//===- Tokenizer.h - text <-> token ids for the runtime, Hugging Face exact
//-===//
//
// The runtime's tokenizer: byte-level BPE (GPT-2, Llama 3, Qwen2, SmolLM2) and
// SentencePiece-style BPE with byte fallback (Llama 2, Gemma), loaded from a
// Hugging Face tokenizer.json or from plain vectors (what a GGUF file and the
// .llmc artifact carry). Plain C++17 with no MLIR/LLVM; exceptions stay inside:
// every public call returns a Status and never throws.
//
// The reference for every behaviour is the Hugging Face `tokenizers` library:
// encode() must give the same ids and decode() the same text.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_TOKENIZER_TOKENIZER_H
#define LLMC_RUNTIME_TOKENIZER_TOKENIZER_H

#include "runtime/support/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llmc::tokenizer {

using Status = ::llmc::runtime::Status;

/// The BPE flavour, as GGUF's `tokenizer.ggml.model` names it.
enum class ModelKind {
  /// "gpt2": text is mapped byte -> printable unicode before BPE.
  ByteLevelBpe,
  /// "llama": spaces become U+2581, unknown characters fall back to <0xNN>.
  SentencePieceBpe,
};

/// GGUF `tokenizer.ggml.token_type` values (llama.cpp's llama_token_type).
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

/// The vectors form of a tokenizer: what the GGUF frontend reads and the
/// artifact stores. Field names follow the GGUF keys.
struct TokenizerVectors {
  ModelKind model = ModelKind::ByteLevelBpe;
  /// `tokenizer.ggml.pre`: names the pre-tokenizer split regex of byte-level
  /// models ("gpt-2", "llama-bpe", "qwen2", "smollm", ...; see
  /// knownPreTokenizerNames()). Ignored by SentencePiece models.
  std::string preTokenizer = "gpt-2";
  std::vector<std::string> tokens;
  /// "left right" pairs, best first. Empty for SentencePiece models, which then
  /// merge by `scores` (a higher score merges first).
  std::vector<std::string> merges;
  std::vector<float> scores;
  /// One per token, or empty (all Normal).
  std::vector<TokenType> tokenTypes;
  int32_t bosId = -1;
  int32_t eosId = -1;
  int32_t unknownId = -1;
  int32_t paddingId = -1;
  bool addBos = false;
  bool addEos = false;
  /// SentencePiece only: prepend U+2581 to the text (Llama 2 yes, Gemma no).
  bool addSpacePrefix = false;
  std::string chatTemplate;
};

struct EncodeOptions {
  /// Add what the model adds around a sequence (BOS for Llama/Gemma; the
  /// post-processor template of a tokenizer.json).
  bool addSpecialTokens = false;
  /// Recognise special-token text such as "<|im_start|>" in the input. When
  /// false, only non-special added tokens are recognised and special-token
  /// text is tokenized as ordinary text (HF `encode_special_tokens=True`).
  bool parseSpecialTokens = true;
};

struct DecodeOptions {
  /// Leave out special tokens (BOS, EOS, <|im_start|>, ...).
  bool skipSpecialTokens = false;
};

class TokenizerImpl;

class Tokenizer {
public:
  ~Tokenizer();
  Tokenizer(Tokenizer &&) noexcept;
  Tokenizer &operator=(Tokenizer &&) noexcept;

  /// Loads a Hugging Face tokenizer.json. `configPath` (tokenizer_config.json)
  /// may be empty; when given, its bos/eos tokens and chat template are used.
  static Status fromHuggingFaceFile(const std::string &tokenizerJsonPath,
                                    const std::string &configPath,
                                    std::unique_ptr<Tokenizer> &out);
  /// The same from the JSON texts themselves (`configJson` may be empty).
  static Status fromHuggingFaceJson(const std::string &tokenizerJson,
                                    const std::string &configJson,
                                    std::unique_ptr<Tokenizer> &out);
  /// Builds a tokenizer from the vectors form (GGUF / artifact).
  static Status fromVectors(const TokenizerVectors &vectors,
                            std::unique_ptr<Tokenizer> &out);

  Status encode(const std::string &text, const EncodeOptions &options,
                std::vector<int32_t> &ids) const;
  /// Ids out of range are an error. Invalid UTF-8 from byte tokens becomes
  /// U+FFFD exactly as Hugging Face does it.
  Status decode(const std::vector<int32_t> &ids, const DecodeOptions &options,
                std::string &text) const;

  int32_t vocabSize() const;
  /// The token's string as stored in the vocabulary ("Ġthe", "▁the",
  /// "<0x0A>"), or "" when out of range.
  std::string idToToken(int32_t id) const;
  /// -1 when absent.
  int32_t tokenToId(const std::string &token) const;
  bool isSpecial(int32_t id) const;
  int32_t bosId() const;
  int32_t eosId() const;
  /// Every id that ends generation (EOS plus e.g. <|eot_id|>, <end_of_turn>).
  std::vector<int32_t> stopIds() const;
  const std::string &chatTemplate() const;
  const std::string &bosToken() const;
  const std::string &eosToken() const;

  const TokenizerImpl &impl() const { return *impl_; }

private:
  explicit Tokenizer(std::unique_ptr<TokenizerImpl> impl);
  std::unique_ptr<TokenizerImpl> impl_;
};

/// Incremental decode of one token at a time for streaming generation: text
/// is released only once it is complete UTF-8, and the concatenation of all
/// pieces (plus finish()) equals decode() of all ids. Mirrors Hugging Face's
/// `DecodeStream`.
class StreamDecoder {
public:
  StreamDecoder(const Tokenizer &tokenizer, DecodeOptions options = {});
  /// Appends the text that `id` completes (possibly empty) to `piece`.
  Status push(int32_t id, std::string &piece);
  /// Text still held back (an incomplete UTF-8 sequence, as U+FFFD).
  Status finish(std::string &piece);

private:
  const Tokenizer &tokenizer_;
  DecodeOptions options_;
  std::vector<int32_t> ids_;
  std::string prefix_;
  size_t prefixIndex_ = 0;
};

/// The `tokenizer.ggml.pre` names fromVectors() understands.
std::vector<std::string> knownPreTokenizerNames();

} // namespace llmc::tokenizer

#endif // LLMC_RUNTIME_TOKENIZER_TOKENIZER_H
