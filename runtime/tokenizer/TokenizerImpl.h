//===- TokenizerImpl.h - the in-memory tokenizer both loaders build -------===//
//
// Internal to llmc_tokenizer. A tokenizer is Hugging Face's pipeline reduced to
// the pieces LLM tokenizers use: added tokens matched first, then per text
// segment normalizer steps, pre-tokenizer steps, the BPE model, and for
// decoding a list of decoder steps. Loaders fill it; Tokenizer.cpp runs it.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_TOKENIZER_TOKENIZERIMPL_H
#define LLMC_RUNTIME_TOKENIZER_TOKENIZERIMPL_H

#include "runtime/tokenizer/Tokenizer.h"

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace llmc::tokenizer {

/// A compiled PCRE2 pattern with UTF and UCP (Unicode \s, \p{L}, ...), the
/// closest match to the Oniguruma regexes Hugging Face runs.
class Regex {
public:
  /// Returns null and sets `error` when the pattern does not compile.
  static std::shared_ptr<Regex> compile(const std::string &pattern,
                                        std::string &error);
  ~Regex();
  Regex(const Regex &) = delete;
  Regex &operator=(const Regex &) = delete;
  /// [begin, end) byte ranges of the non-empty matches, left to right.
  void findAll(const std::string &text,
               std::vector<std::pair<size_t, size_t>> &matches) const;

private:
  Regex() = default;
  void *code_ = nullptr;
};

/// The regex of `tokenizer.ggml.pre` / a Split pre-tokenizer.
namespace patterns {
inline constexpr const char *kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
inline constexpr const char *kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
inline constexpr const char *kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
} // namespace patterns

/// How a Split step treats the matched part (HF SplitDelimiterBehavior).
enum class SplitBehavior {
  Removed,
  Isolated,
  MergedWithPrevious,
  MergedWithNext,
  Contiguous
};

/// HF PrependScheme of Metaspace.
enum class PrependScheme { Always, Never, First };

struct NormalizerStep {
  enum class Kind { Replace, Prepend, Nfc };
  NormalizerStep(Kind kind) : kind(kind) {}
  Kind kind;
  /// Replace: a literal pattern, or `regex` when set.
  std::string pattern;
  std::shared_ptr<Regex> regex;
  /// Replace: the replacement. Prepend: the prefix.
  std::string content;
};

struct PreTokenizerStep {
  enum class Kind { Split, ByteLevel, Digits, Metaspace };
  PreTokenizerStep(Kind kind) : kind(kind) {}
  Kind kind;
  // Split: a literal `pattern` or `regex`.
  std::string pattern;
  std::shared_ptr<Regex> regex;
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false;
  // ByteLevel.
  bool addPrefixSpace = false;
  bool useRegex = true;
  // Digits.
  bool individualDigits = false;
  // Metaspace.
  std::string replacement;
  PrependScheme prependScheme = PrependScheme::Always;
  bool split = true;
};

struct DecoderStep {
  enum class Kind { ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace };
  DecoderStep(Kind kind) : kind(kind) {}
  Kind kind;
  // Replace.
  std::string pattern;
  std::string content;
  // Strip: `content` is the character; up to start/stop of them go.
  size_t start = 0;
  size_t stop = 0;
  // Metaspace.
  std::string replacement;
  PrependScheme prependScheme = PrependScheme::Always;
};

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool singleWord = false;
  bool normalized = false;
};

/// A byte trie over the added tokens' contents, for leftmost-longest matching.
class AddedTokenTrie {
public:
  void insert(const std::string &content, size_t tokenIndex);
  /// The longest token starting at `pos` for which `accept(index)` holds, as
  /// (token index, length); (-1, 0) when none.
  template <typename Accept>
  std::pair<long, size_t> longestAt(const std::string &text, size_t pos,
                                    Accept accept) const {
    std::pair<long, size_t> best{-1, 0};
    size_t node = 0;
    for (size_t i = pos; i < text.size(); ++i) {
      node = child(node, static_cast<unsigned char>(text[i]));
      if (node == 0)
        break;
      long index = nodes_[node].tokenIndex;
      if (index >= 0 && accept(static_cast<size_t>(index)))
        best = {index, i + 1 - pos};
    }
    return best;
  }

private:
  struct Node {
    std::vector<std::pair<unsigned char, size_t>> children;
    long tokenIndex = -1;
  };
  size_t child(size_t node, unsigned char byte) const;
  std::vector<Node> nodes_{Node()};
};

struct BpeModel {
  std::unordered_map<std::string, int32_t> tokenIds;
  /// (left id << 32 | right id) -> (rank, merged id); lower rank merges first.
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges;
  bool byteFallback = false;
  /// Llama 3: a pre-tokenized word that is a whole token is not split.
  bool ignoreMerges = false;
  int32_t unknownId = -1;
  bool fuseUnknown = false;
  /// <0xNN> token ids, -1 where the vocabulary lacks one.
  std::vector<int32_t> byteTokenIds = std::vector<int32_t>(256, -1);
};

class TokenizerImpl {
public:
  // Vocabulary: model tokens and added tokens by id.
  std::vector<std::string> idToToken;
  std::vector<bool> isSpecial;
  BpeModel model;
  std::vector<AddedToken> addedTokens;
  AddedTokenTrie addedTrie;
  std::vector<NormalizerStep> normalizer;
  std::vector<PreTokenizerStep> preTokenizer;
  std::vector<DecoderStep> decoder;
  /// With no decoder, HF joins tokens with spaces.
  bool hasDecoder = false;
  /// The post-processor's single-sequence template: ids around the text.
  std::vector<int32_t> prefixIds;
  std::vector<int32_t> suffixIds;

  int32_t bosId = -1;
  int32_t eosId = -1;
  std::string bosToken;
  std::string eosToken;
  std::vector<int32_t> stopIds;
  std::string chatTemplate;

  /// Registers the added tokens (building the trie and marking specials);
  /// call once all ids are known.
  Status finalizeAddedTokens();
  /// Fills stopIds from eosId and the end-of-turn markers in the vocabulary.
  void computeStopIds();

  Status encode(const std::string &text, const EncodeOptions &options,
                std::vector<int32_t> &ids) const;
  Status decode(const std::vector<int32_t> &ids, const DecodeOptions &options,
                std::string &text) const;

private:
  struct Segment {
    size_t begin, end;
    long addedIndex; // -1 for plain text
  };
  void splitOnAddedTokens(const std::string &text, bool parseSpecial,
                          std::vector<Segment> &segments) const;
  void encodeSegment(const std::string &text, bool atInputStart,
                     std::vector<int32_t> &ids) const;
  void encodeWord(const std::string &word, std::vector<int32_t> &ids) const;
};

/// Builds the pre-tokenizer steps for a GGUF `tokenizer.ggml.pre` name.
Status preTokenizerForName(const std::string &name,
                           std::vector<PreTokenizerStep> &steps);

} // namespace llmc::tokenizer

#endif // LLMC_RUNTIME_TOKENIZER_TOKENIZERIMPL_H
