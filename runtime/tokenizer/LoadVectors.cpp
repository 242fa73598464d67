//===- LoadVectors.cpp - a tokenizer from GGUF-style vectors --------------===//
//
// The form the GGUF frontend and the .llmc artifact carry. The pipeline built
// here is the one Hugging Face uses for the same model family, so that a GGUF
// tokenizer and the model's tokenizer.json encode alike:
//   gpt2:  [Split(pre regex)] + ByteLevel pre-tokenizer, ByteLevel decoder;
//   llama: Replace(' ' -> U+2581) + Metaspace(prepend first|never), BPE with
//          byte fallback; decoder Replace, ByteFallback, Fuse[, Strip].
//
//===----------------------------------------------------------------------===//

#include "runtime/tokenizer/Tokenizer.h"
#include "runtime/tokenizer/TokenizerImpl.h"
#include "runtime/tokenizer/Unicode.h"

#include <algorithm>
#include <exception>
#include <numeric>

namespace llmc::tokenizer {

namespace {
struct NamedPreTokenizer {
  std::vector<std::string> names;
  const char *splitPattern; // null: GPT-2's own regex inside ByteLevel
  bool individualDigits;
};

// llama.cpp's LLAMA_VOCAB_PRE_TYPE_* names and the HF pre-tokenizers of the
// same models.
const std::vector<NamedPreTokenizer> &namedPreTokenizers() {
  static const std::vector<NamedPreTokenizer> table = {
      {{"gpt-2", "gpt2", "default", ""}, nullptr, false},
      {{"smollm", "starcoder", "refact"}, nullptr, true},
      {{"llama-bpe", "llama3", "llama-v3", "falcon3", "dbrx", "smaug-bpe"},
       patterns::kLlama3,
       false},
      {{"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"},
       patterns::kQwen2,
       false},
  };
  return table;
}

std::string joinNames() {
  std::string joined;
  for (const std::string &name : knownPreTokenizerNames())
    joined += (joined.empty() ? "" : ", ") + ("'" + name + "'");
  return joined;
}
} // namespace

std::vector<std::string> knownPreTokenizerNames() {
  std::vector<std::string> names;
  for (const NamedPreTokenizer &entry : namedPreTokenizers())
    for (const std::string &name : entry.names)
      if (!name.empty())
        names.push_back(name);
  return names;
}

Status preTokenizerForName(const std::string &name,
                           std::vector<PreTokenizerStep> &steps) {
  for (const NamedPreTokenizer &entry : namedPreTokenizers()) {
    if (std::find(entry.names.begin(), entry.names.end(), name) ==
        entry.names.end())
      continue;
    steps.clear();
    if (entry.individualDigits) {
      PreTokenizerStep digits{PreTokenizerStep::Kind::Digits};
      digits.individualDigits = true;
      steps.push_back(digits);
    }
    PreTokenizerStep byteLevel{PreTokenizerStep::Kind::ByteLevel};
    byteLevel.addPrefixSpace = false;
    byteLevel.useRegex = entry.splitPattern == nullptr;
    if (entry.splitPattern) {
      PreTokenizerStep split{PreTokenizerStep::Kind::Split};
      std::string error;
      split.regex = Regex::compile(entry.splitPattern, error);
      if (!split.regex)
        return Status::error("pre-tokenizer '" + name + "': " + error);
      split.behavior = SplitBehavior::Isolated;
      steps.push_back(split);
    }
    steps.push_back(byteLevel);
    return Status::success();
  }
  return Status::error(
      "tokenizer.ggml.pre '" + name +
      "' is not a pre-tokenizer llmc knows (known: " + joinNames() + ")");
}

namespace {
Status buildFromVectors(const TokenizerVectors &vectors, TokenizerImpl &impl) {
  const size_t count = vectors.tokens.size();
  if (count == 0)
    return Status::error("tokenizer.ggml.tokens is empty");
  if (!vectors.scores.empty() && vectors.scores.size() != count)
    return Status::error(
        "tokenizer.ggml.scores has " + std::to_string(vectors.scores.size()) +
        " entries but tokenizer.ggml.tokens has " + std::to_string(count));
  if (!vectors.tokenTypes.empty() && vectors.tokenTypes.size() != count)
    return Status::error("tokenizer.ggml.token_type has " +
                         std::to_string(vectors.tokenTypes.size()) +
                         " entries but tokenizer.ggml.tokens has " +
                         std::to_string(count));
  auto checkId = [&](int32_t id, const char *key) -> Status {
    if (id < -1 || id >= static_cast<int32_t>(count))
      return Status::error(std::string(key) + " " + std::to_string(id) +
                           " is outside the vocabulary of " +
                           std::to_string(count) + " tokens");
    return Status::success();
  };
  for (auto [id, key] :
       {std::pair{vectors.bosId, "tokenizer.ggml.bos_token_id"},
        {vectors.eosId, "tokenizer.ggml.eos_token_id"},
        {vectors.unknownId, "tokenizer.ggml.unknown_token_id"},
        {vectors.paddingId, "tokenizer.ggml.padding_token_id"}})
    if (Status status = checkId(id, key); !status)
      return status;

  auto typeOf = [&](size_t id) {
    return vectors.tokenTypes.empty() ? TokenType::Normal
                                      : vectors.tokenTypes[id];
  };
  impl.idToToken = vectors.tokens;
  impl.model.tokenIds.reserve(count);
  for (size_t id = 0; id < count; ++id) {
    if (!unicode::isValidUtf8(vectors.tokens[id]))
      return Status::error("tokenizer.ggml.tokens[" + std::to_string(id) +
                           "] is not valid UTF-8");
    // A duplicate string keeps its first id, as llama.cpp does.
    impl.model.tokenIds.emplace(vectors.tokens[id], static_cast<int32_t>(id));
    TokenType type = typeOf(id);
    if (type == TokenType::Control || type == TokenType::UserDefined) {
      AddedToken added;
      added.id = static_cast<int32_t>(id);
      added.content = vectors.tokens[id];
      added.special = type == TokenType::Control;
      impl.addedTokens.push_back(added);
    }
  }
  impl.model.unknownId = vectors.unknownId;

  // Merges: explicit pairs, or for SentencePiece derived from the scores.
  auto addMerge = [&](int32_t left, int32_t right, int32_t rank,
                      int32_t merged) {
    uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
                   static_cast<uint32_t>(right);
    impl.model.merges.emplace(key, std::make_pair(rank, merged));
  };
  for (size_t rank = 0; rank < vectors.merges.size(); ++rank) {
    const std::string &merge = vectors.merges[rank];
    size_t space = merge.find(' ', 1);
    if (space == std::string::npos)
      return Status::error("tokenizer.ggml.merges[" + std::to_string(rank) +
                           "] '" + merge +
                           "' is not two tokens separated "
                           "by a space");
    std::string left = merge.substr(0, space), right = merge.substr(space + 1);
    auto leftIt = impl.model.tokenIds.find(left);
    auto rightIt = impl.model.tokenIds.find(right);
    auto mergedIt = impl.model.tokenIds.find(left + right);
    if (leftIt == impl.model.tokenIds.end() ||
        rightIt == impl.model.tokenIds.end() ||
        mergedIt == impl.model.tokenIds.end())
      return Status::error(
          "tokenizer.ggml.merges[" + std::to_string(rank) + "] '" + merge +
          "' refers to a token missing from tokenizer.ggml.tokens ('" +
          (leftIt == impl.model.tokenIds.end()    ? left
           : rightIt == impl.model.tokenIds.end() ? right
                                                  : left + right) +
          "')");
    addMerge(leftIt->second, rightIt->second, static_cast<int32_t>(rank),
             mergedIt->second);
  }

  if (vectors.model == ModelKind::SentencePieceBpe) {
    impl.model.byteFallback = true;
    // SentencePiece emits one unknown token for a run of unknown characters
    // (the `fuse_unk: true` of Llama's and Gemma's tokenizer.json).
    impl.model.fuseUnknown = true;
    for (size_t id = 0; id < count; ++id) {
      const std::string &token = vectors.tokens[id];
      if (token.size() == 6 && token.compare(0, 3, "<0x") == 0 &&
          token[5] == '>') {
        int byte = std::stoi(token.substr(3, 2), nullptr, 16);
        if (impl.model.byteTokenIds[byte] < 0)
          impl.model.byteTokenIds[byte] = static_cast<int32_t>(id);
      }
    }
    if (vectors.merges.empty()) {
      if (vectors.scores.empty())
        return Status::error("a 'llama' tokenizer needs tokenizer.ggml.scores "
                             "or tokenizer.ggml.merges");
      // SentencePiece BPE merges the adjacent pair whose concatenation is the
      // best-scoring normal piece. As ranks: normal pieces by score, best
      // first; every split of a piece into two vocabulary tokens is a merge.
      std::vector<int32_t> order;
      for (size_t id = 0; id < count; ++id)
        if (typeOf(id) == TokenType::Normal)
          order.push_back(static_cast<int32_t>(id));
      std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
        return vectors.scores[a] > vectors.scores[b];
      });
      for (size_t rank = 0; rank < order.size(); ++rank) {
        const std::string &piece = vectors.tokens[order[rank]];
        for (size_t cut = 1; cut < piece.size(); ++cut) {
          if ((static_cast<unsigned char>(piece[cut]) & 0xC0) == 0x80)
            continue;
          auto left = impl.model.tokenIds.find(piece.substr(0, cut));
          if (left == impl.model.tokenIds.end())
            continue;
          auto right = impl.model.tokenIds.find(piece.substr(cut));
          if (right == impl.model.tokenIds.end())
            continue;
          addMerge(left->second, right->second, static_cast<int32_t>(rank),
                   order[rank]);
        }
      }
    }
    NormalizerStep replace{NormalizerStep::Kind::Replace};
    replace.pattern = " ";
    replace.content = unicode::kMetaspace;
    impl.normalizer.push_back(replace);
    PreTokenizerStep metaspace{PreTokenizerStep::Kind::Metaspace};
    metaspace.replacement = unicode::kMetaspace;
    metaspace.prependScheme =
        vectors.addSpacePrefix ? PrependScheme::First : PrependScheme::Never;
    metaspace.split = false;
    impl.preTokenizer.push_back(metaspace);
    DecoderStep replaceBack{DecoderStep::Kind::Replace};
    replaceBack.pattern = unicode::kMetaspace;
    replaceBack.content = " ";
    impl.decoder.push_back(replaceBack);
    impl.decoder.push_back({DecoderStep::Kind::ByteFallback});
    impl.decoder.push_back({DecoderStep::Kind::Fuse});
    if (vectors.addSpacePrefix) {
      DecoderStep strip{DecoderStep::Kind::Strip};
      strip.content = " ";
      strip.start = 1;
      impl.decoder.push_back(strip);
    }
  } else {
    if (vectors.merges.empty())
      return Status::error("a 'gpt2' tokenizer needs tokenizer.ggml.merges");
    if (Status status =
            preTokenizerForName(vectors.preTokenizer, impl.preTokenizer);
        !status)
      return status;
    // Llama 3's tokenizer.json sets ignore_merges; the others leave it off.
    impl.model.ignoreMerges = vectors.preTokenizer == "llama-bpe" ||
                              vectors.preTokenizer == "llama3" ||
                              vectors.preTokenizer == "llama-v3";
    impl.decoder.push_back({DecoderStep::Kind::ByteLevel});
  }
  impl.hasDecoder = true;

  impl.bosId = vectors.bosId;
  impl.eosId = vectors.eosId;
  if (vectors.bosId >= 0)
    impl.bosToken = vectors.tokens[vectors.bosId];
  if (vectors.eosId >= 0)
    impl.eosToken = vectors.tokens[vectors.eosId];
  if (vectors.addBos && vectors.bosId >= 0)
    impl.prefixIds.push_back(vectors.bosId);
  if (vectors.addEos && vectors.eosId >= 0)
    impl.suffixIds.push_back(vectors.eosId);
  impl.chatTemplate = vectors.chatTemplate;
  if (Status status = impl.finalizeAddedTokens(); !status)
    return status;
  impl.computeStopIds();
  return Status::success();
}
} // namespace

Status Tokenizer::fromVectors(const TokenizerVectors &vectors,
                              std::unique_ptr<Tokenizer> &out) {
  try {
    auto impl = std::make_unique<TokenizerImpl>();
    if (Status status = buildFromVectors(vectors, *impl); !status)
      return status;
    out.reset(new Tokenizer(std::move(impl)));
    return Status::success();
  } catch (const std::exception &error) {
    return Status::error(std::string("loading tokenizer vectors: ") +
                         error.what());
  }
}

} // namespace llmc::tokenizer
