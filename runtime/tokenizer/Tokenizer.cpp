//===- Tokenizer.cpp - encode and decode, step for step as HF tokenizers --===//
//
// Each step cites the Hugging Face `tokenizers` (Rust) component it mirrors,
// because exact id parity with it is the contract.
//
//===----------------------------------------------------------------------===//

#include "runtime/tokenizer/Tokenizer.h"

#include "runtime/tokenizer/TokenizerImpl.h"
#include "runtime/tokenizer/Unicode.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <queue>

namespace llmc::tokenizer {

//===----------------------------------------------------------------------===//
// Regex
//===----------------------------------------------------------------------===//

std::shared_ptr<Regex> Regex::compile(const std::string &pattern,
                                      std::string &error) {
  int errorCode = 0;
  PCRE2_SIZE errorOffset = 0;
  pcre2_code *code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()),
                                   pattern.size(), PCRE2_UTF | PCRE2_UCP,
                                   &errorCode, &errorOffset, nullptr);
  if (!code) {
    PCRE2_UCHAR buffer[256];
    pcre2_get_error_message(errorCode, buffer, sizeof(buffer));
    error = "invalid regex '" + pattern + "' at offset " +
            std::to_string(errorOffset) + ": " +
            reinterpret_cast<const char *>(buffer);
    return nullptr;
  }
  // JIT is an optimisation only; without it pcre2_match interprets.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  std::shared_ptr<Regex> regex(new Regex());
  regex->code_ = code;
  return regex;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code *>(code_)); }

void Regex::findAll(const std::string &text,
                    std::vector<std::pair<size_t, size_t>> &matches) const {
  auto *code = static_cast<pcre2_code *>(code_);
  pcre2_match_data *data = pcre2_match_data_create_from_pattern(code, nullptr);
  size_t offset = 0;
  while (offset <= text.size()) {
    // The text was validated as UTF-8 once at encode().
    int rc =
        pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()),
                    text.size(), offset, PCRE2_NO_UTF_CHECK, data, nullptr);
    if (rc < 0)
      break;
    PCRE2_SIZE *vector = pcre2_get_ovector_pointer(data);
    size_t begin = vector[0], end = vector[1];
    if (end > begin) {
      matches.emplace_back(begin, end);
      offset = end;
      continue;
    }
    // An empty match: move on by one character.
    if (begin >= text.size())
      break;
    size_t length = unicode::validSequenceLength(text, begin);
    offset = begin + (length ? length : 1);
  }
  pcre2_match_data_free(data);
}

//===----------------------------------------------------------------------===//
// Added tokens
//===----------------------------------------------------------------------===//

size_t AddedTokenTrie::child(size_t node, unsigned char byte) const {
  for (const auto &[key, next] : nodes_[node].children)
    if (key == byte)
      return next;
  return 0;
}

void AddedTokenTrie::insert(const std::string &content, size_t tokenIndex) {
  size_t node = 0;
  for (unsigned char byte : content) {
    size_t next = child(node, byte);
    if (next == 0) {
      next = nodes_.size();
      nodes_[node].children.emplace_back(byte, next);
      nodes_.emplace_back();
    }
    node = next;
  }
  // A later duplicate content wins, as in HF's AddedVocabulary.
  nodes_[node].tokenIndex = static_cast<long>(tokenIndex);
}

Status TokenizerImpl::finalizeAddedTokens() {
  addedTrie = AddedTokenTrie();
  isSpecial.assign(idToToken.size(), false);
  for (size_t i = 0; i < addedTokens.size(); ++i) {
    const AddedToken &token = addedTokens[i];
    if (token.id < 0 || static_cast<size_t>(token.id) >= idToToken.size())
      return Status::error("added token '" + token.content + "' has id " +
                           std::to_string(token.id) +
                           " outside the vocabulary");
    if (token.content.empty())
      return Status::error("added token " + std::to_string(token.id) +
                           " has empty content");
    idToToken[token.id] = token.content;
    isSpecial[token.id] = token.special;
    addedTrie.insert(token.content, i);
  }
  return Status::success();
}

void TokenizerImpl::computeStopIds() {
  stopIds.clear();
  if (eosId >= 0)
    stopIds.push_back(eosId);
  // End-of-turn markers of the chat families the runtime knows.
  for (const char *marker : {"<|im_end|>", "<|eot_id|>", "<|end_of_text|>",
                             "<end_of_turn>", "<|endoftext|>", "</s>"}) {
    auto it = model.tokenIds.find(marker);
    int32_t id = -1;
    if (it != model.tokenIds.end())
      id = it->second;
    for (const AddedToken &token : addedTokens)
      if (token.content == marker)
        id = token.id;
    if (id >= 0 &&
        std::find(stopIds.begin(), stopIds.end(), id) == stopIds.end())
      stopIds.push_back(id);
  }
}

namespace {

/// Unicode NFC (canonical composition), as Hugging Face's NFC normalizer.
/// Invalid UTF-8, which a Rust string cannot hold, is left as it is.
std::string composeNfc(std::string text) {
  utf8proc_uint8_t *composed = nullptr;
  utf8proc_ssize_t length = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t *>(text.data()),
      static_cast<utf8proc_ssize_t>(text.size()), &composed,
      static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (length < 0)
    return text;
  std::string result(reinterpret_cast<char *>(composed),
                     static_cast<size_t>(length));
  std::free(composed);
  return result;
}

} // namespace

namespace {
bool endsWithWordChar(const std::string &text, size_t end) {
  // HF single_word: a word character is alphanumeric or '_'; ASCII suffices
  // for the flag's users (it is rare in LLM tokenizers).
  if (end == 0)
    return false;
  unsigned char c = text[end - 1];
  return std::isalnum(c) || c == '_' || c >= 0x80;
}
bool startsWithWordChar(const std::string &text, size_t begin) {
  if (begin >= text.size())
    return false;
  unsigned char c = text[begin];
  return std::isalnum(c) || c == '_' || c >= 0x80;
}

// The start of the run of whitespace characters that ends at `end`.
size_t whitespaceRunStart(const std::string &text, size_t limit, size_t end) {
  size_t start = end;
  while (start > limit) {
    size_t charStart = start - 1;
    while (charStart > limit &&
           (static_cast<unsigned char>(text[charStart]) & 0xC0) == 0x80)
      --charStart;
    size_t pos = charStart;
    if (!unicode::validSequenceLength(text, pos) ||
        !unicode::isWhitespace(unicode::decodeAt(text, pos)))
      break;
    start = charStart;
  }
  return start;
}
size_t whitespaceRunEnd(const std::string &text, size_t begin) {
  size_t pos = begin;
  while (pos < text.size()) {
    size_t next = pos;
    if (!unicode::validSequenceLength(text, next) ||
        !unicode::isWhitespace(unicode::decodeAt(text, next)))
      break;
    pos = next;
  }
  return pos;
}
} // namespace

// HF AddedVocabulary::split_with_indices: leftmost-longest matches, then
// lstrip / rstrip absorb the whitespace around a token.
void TokenizerImpl::splitOnAddedTokens(const std::string &text,
                                       bool parseSpecial,
                                       std::vector<Segment> &segments) const {
  size_t plainStart = 0;
  size_t pos = 0;
  auto accept = [&](size_t index) {
    return parseSpecial || !addedTokens[index].special;
  };
  while (pos < text.size()) {
    auto [index, length] = addedTrie.longestAt(text, pos, accept);
    if (index < 0) {
      ++pos;
      continue;
    }
    const AddedToken &token = addedTokens[index];
    size_t begin = pos, end = pos + length;
    if (token.singleWord &&
        (endsWithWordChar(text, begin) || startsWithWordChar(text, end))) {
      pos = end;
      continue;
    }
    if (token.lstrip)
      begin = whitespaceRunStart(text, plainStart, begin);
    if (token.rstrip)
      end = whitespaceRunEnd(text, end);
    if (begin > plainStart)
      segments.push_back({plainStart, begin, -1});
    segments.push_back({begin, end, index});
    plainStart = pos = end;
  }
  if (plainStart < text.size())
    segments.push_back({plainStart, text.size(), -1});
}

//===----------------------------------------------------------------------===//
// Normalizer and pre-tokenizer
//===----------------------------------------------------------------------===//

namespace {
void replaceAll(std::string &text, const std::string &pattern,
                const std::string &content) {
  if (pattern.empty())
    return;
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t found = text.find(pattern, pos);
    if (found == std::string::npos)
      break;
    out.append(text, pos, found - pos);
    out += content;
    pos = found + pattern.size();
  }
  out.append(text, pos, std::string::npos);
  text = std::move(out);
}

void regexReplaceAll(std::string &text, const Regex &regex,
                     const std::string &content) {
  std::vector<std::pair<size_t, size_t>> matches;
  regex.findAll(text, matches);
  if (matches.empty())
    return;
  std::string out;
  size_t pos = 0;
  for (auto [begin, end] : matches) {
    out.append(text, pos, begin - pos);
    out += content;
    pos = end;
  }
  out.append(text, pos, std::string::npos);
  text = std::move(out);
}

struct Piece {
  std::string text;
  /// The piece starts at offset 0 of the whole input (Metaspace "first").
  bool atInputStart;
};

// HF NormalizedString::split: the matches and the gaps between them, then
// merged according to the behaviour; empty pieces are dropped.
void splitPiece(const Piece &piece,
                const std::vector<std::pair<size_t, size_t>> &matchRanges,
                SplitBehavior behavior, bool invert, std::vector<Piece> &out) {
  struct Part {
    size_t begin, end;
    bool isMatch;
  };
  std::vector<Part> parts;
  size_t pos = 0;
  for (auto [begin, end] : matchRanges) {
    if (begin > pos)
      parts.push_back({pos, begin, false});
    parts.push_back({begin, end, true});
    pos = end;
  }
  if (pos < piece.text.size() || parts.empty())
    parts.push_back({pos, piece.text.size(), false});
  if (invert)
    for (Part &part : parts)
      part.isMatch = !part.isMatch;

  std::vector<Part> merged;
  switch (behavior) {
  case SplitBehavior::Removed:
    for (const Part &part : parts)
      if (!part.isMatch)
        merged.push_back(part);
    break;
  case SplitBehavior::Isolated:
    merged = parts;
    break;
  case SplitBehavior::MergedWithPrevious: {
    bool previousMatch = false;
    for (const Part &part : parts) {
      if (part.isMatch && !previousMatch && !merged.empty())
        merged.back().end = part.end;
      else
        merged.push_back(part);
      previousMatch = part.isMatch;
    }
    break;
  }
  case SplitBehavior::MergedWithNext: {
    bool previousMatch = false;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      if (it->isMatch && !previousMatch && !merged.empty())
        merged.back().begin = it->begin;
      else
        merged.push_back(*it);
      previousMatch = it->isMatch;
    }
    std::reverse(merged.begin(), merged.end());
    break;
  }
  case SplitBehavior::Contiguous: {
    bool previousMatch = false;
    for (const Part &part : parts) {
      if (part.isMatch == previousMatch && !merged.empty())
        merged.back().end = part.end;
      else
        merged.push_back(part);
      previousMatch = part.isMatch;
    }
    break;
  }
  }
  for (const Part &part : merged)
    if (part.end > part.begin)
      out.push_back({piece.text.substr(part.begin, part.end - part.begin),
                     piece.atInputStart && part.begin == 0});
}

void findLiteral(const std::string &text, const std::string &pattern,
                 std::vector<std::pair<size_t, size_t>> &matches) {
  if (pattern.empty())
    return;
  for (size_t pos = text.find(pattern); pos != std::string::npos;
       pos = text.find(pattern, pos + pattern.size()))
    matches.emplace_back(pos, pos + pattern.size());
}

const Regex &gpt2Regex() {
  static const std::shared_ptr<Regex> regex = [] {
    std::string error;
    return Regex::compile(patterns::kGpt2, error);
  }();
  return *regex;
}

const Regex &digitsRegex(bool individual) {
  static const std::shared_ptr<Regex> single = [] {
    std::string error;
    return Regex::compile(R"(\p{N})", error);
  }();
  static const std::shared_ptr<Regex> runs = [] {
    std::string error;
    return Regex::compile(R"(\p{N}+)", error);
  }();
  return individual ? *single : *runs;
}

void applyPreTokenizerStep(const PreTokenizerStep &step,
                           std::vector<Piece> &pieces) {
  std::vector<Piece> out;
  std::vector<std::pair<size_t, size_t>> matches;
  for (Piece &piece : pieces) {
    matches.clear();
    switch (step.kind) {
    case PreTokenizerStep::Kind::Split:
      if (step.regex)
        step.regex->findAll(piece.text, matches);
      else
        findLiteral(piece.text, step.pattern, matches);
      splitPiece(piece, matches, step.behavior, step.invert, out);
      break;
    case PreTokenizerStep::Kind::Digits:
      digitsRegex(step.individualDigits).findAll(piece.text, matches);
      splitPiece(piece, matches, SplitBehavior::Isolated, false, out);
      break;
    case PreTokenizerStep::Kind::ByteLevel: {
      // HF ByteLevel::pre_tokenize: optional prefix space, the GPT-2 split,
      // then every byte becomes its printable stand-in.
      if (step.addPrefixSpace && piece.text.rfind(' ', 0) != 0)
        piece.text.insert(0, " ");
      size_t first = out.size();
      if (step.useRegex) {
        gpt2Regex().findAll(piece.text, matches);
        splitPiece(piece, matches, SplitBehavior::Isolated, false, out);
      } else if (!piece.text.empty()) {
        out.push_back(piece);
      }
      for (size_t i = first; i < out.size(); ++i)
        out[i].text = unicode::byteLevelEncode(out[i].text);
      break;
    }
    case PreTokenizerStep::Kind::Metaspace: {
      // HF Metaspace::pre_tokenize.
      replaceAll(piece.text, " ", step.replacement);
      bool prepend =
          step.prependScheme == PrependScheme::Always ||
          (step.prependScheme == PrependScheme::First && piece.atInputStart);
      if (prepend && piece.text.rfind(step.replacement, 0) != 0)
        piece.text.insert(0, step.replacement);
      if (step.split) {
        findLiteral(piece.text, step.replacement, matches);
        splitPiece(piece, matches, SplitBehavior::MergedWithNext, false, out);
      } else if (!piece.text.empty()) {
        out.push_back(piece);
      }
      break;
    }
    }
  }
  pieces = std::move(out);
}
} // namespace

void TokenizerImpl::encodeSegment(const std::string &segment, bool atInputStart,
                                  std::vector<int32_t> &ids) const {
  std::string text = segment;
  for (const NormalizerStep &step : normalizer) {
    switch (step.kind) {
    case NormalizerStep::Kind::Replace:
      if (step.regex)
        regexReplaceAll(text, *step.regex, step.content);
      else
        replaceAll(text, step.pattern, step.content);
      break;
    case NormalizerStep::Kind::Prepend:
      if (!text.empty())
        text.insert(0, step.content);
      break;
    case NormalizerStep::Kind::Nfc:
      text = composeNfc(std::move(text));
      break;
    }
  }
  std::vector<Piece> pieces{{std::move(text), atInputStart}};
  for (const PreTokenizerStep &step : preTokenizer)
    applyPreTokenizerStep(step, pieces);
  for (const Piece &piece : pieces)
    if (!piece.text.empty())
      encodeWord(piece.text, ids);
}

//===----------------------------------------------------------------------===//
// BPE (HF models::bpe::Word::merge_all)
//===----------------------------------------------------------------------===//

void TokenizerImpl::encodeWord(const std::string &word,
                               std::vector<int32_t> &ids) const {
  if (model.ignoreMerges) {
    auto it = model.tokenIds.find(word);
    if (it != model.tokenIds.end()) {
      ids.push_back(it->second);
      return;
    }
  }
  struct Symbol {
    int32_t id;
    long prev, next;
    bool alive;
  };
  std::vector<Symbol> symbols;
  auto addSymbol = [&](int32_t id) {
    long index = static_cast<long>(symbols.size());
    symbols.push_back({id, index - 1, index + 1, true});
  };
  int32_t pendingUnknown = -1; // HF keeps one unk to fuse runs of them
  size_t pos = 0;
  std::string character;
  while (pos < word.size()) {
    size_t length = unicode::validSequenceLength(word, pos);
    if (length == 0)
      length = 1;
    character.assign(word, pos, length);
    pos += length;
    auto it = model.tokenIds.find(character);
    if (it != model.tokenIds.end()) {
      if (pendingUnknown >= 0) {
        addSymbol(pendingUnknown);
        pendingUnknown = -1;
      }
      addSymbol(it->second);
      continue;
    }
    if (model.byteFallback) {
      bool allBytes = true;
      for (unsigned char byte : character)
        allBytes = allBytes && model.byteTokenIds[byte] >= 0;
      if (allBytes) {
        // HF adds byte tokens without flushing a pending unk first.
        for (unsigned char byte : character)
          addSymbol(model.byteTokenIds[byte]);
        continue;
      }
    }
    if (model.unknownId >= 0) {
      if (pendingUnknown >= 0 && !model.fuseUnknown)
        addSymbol(pendingUnknown);
      pendingUnknown = model.unknownId;
    }
  }
  if (pendingUnknown >= 0)
    addSymbol(pendingUnknown);
  if (symbols.empty())
    return;
  symbols.back().next = -1;

  struct Candidate {
    int32_t rank;
    long pos;
    int32_t mergedId;
    bool operator<(const Candidate &other) const {
      // priority_queue pops the largest: lowest rank, then leftmost.
      if (rank != other.rank)
        return rank > other.rank;
      return pos > other.pos;
    }
  };
  auto lookup = [&](int32_t left, int32_t right) {
    uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
                   static_cast<uint32_t>(right);
    auto it = model.merges.find(key);
    return it == model.merges.end() ? nullptr : &it->second;
  };
  std::priority_queue<Candidate> queue;
  for (size_t i = 0; i + 1 < symbols.size(); ++i)
    if (auto *merge = lookup(symbols[i].id, symbols[i + 1].id))
      queue.push({merge->first, static_cast<long>(i), merge->second});
  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    Symbol &left = symbols[top.pos];
    if (!left.alive || left.next < 0)
      continue;
    Symbol &right = symbols[left.next];
    auto *merge = lookup(left.id, right.id);
    if (!merge || merge->second != top.mergedId)
      continue;
    left.id = top.mergedId;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0)
      symbols[right.next].prev = top.pos;
    if (left.prev >= 0)
      if (auto *m = lookup(symbols[left.prev].id, left.id))
        queue.push({m->first, left.prev, m->second});
    if (left.next >= 0)
      if (auto *m = lookup(left.id, symbols[left.next].id))
        queue.push({m->first, top.pos, m->second});
  }
  for (const Symbol &symbol : symbols)
    if (symbol.alive)
      ids.push_back(symbol.id);
}

Status TokenizerImpl::encode(const std::string &text,
                             const EncodeOptions &options,
                             std::vector<int32_t> &ids) const {
  ids.clear();
  for (size_t pos = 0; pos < text.size();) {
    size_t length = unicode::validSequenceLength(text, pos);
    if (length == 0)
      return Status::error("input text is not valid UTF-8 (byte offset " +
                           std::to_string(pos) + ")");
    pos += length;
  }
  if (options.addSpecialTokens)
    ids.insert(ids.end(), prefixIds.begin(), prefixIds.end());
  std::vector<Segment> segments;
  splitOnAddedTokens(text, options.parseSpecialTokens, segments);
  for (const Segment &segment : segments) {
    if (segment.addedIndex >= 0)
      ids.push_back(addedTokens[segment.addedIndex].id);
    else
      encodeSegment(text.substr(segment.begin, segment.end - segment.begin),
                    segment.begin == 0, ids);
  }
  if (options.addSpecialTokens)
    ids.insert(ids.end(), suffixIds.begin(), suffixIds.end());
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Decoding (HF decoders::*::decode_chain)
//===----------------------------------------------------------------------===//

namespace {
int parseByteToken(const std::string &token) {
  // "<0xNN>" exactly, as HF ByteFallback checks it.
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>')
    return -1;
  int value = 0;
  for (int i = 3; i < 5; ++i) {
    char c = token[i];
    int digit = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                         : -1;
    if (digit < 0)
      return -1;
    value = value * 16 + digit;
  }
  return value;
}

void applyDecoderStep(const DecoderStep &step,
                      std::vector<std::string> &tokens) {
  switch (step.kind) {
  case DecoderStep::Kind::ByteLevel: {
    std::string joined;
    for (const std::string &token : tokens)
      joined += token;
    tokens.assign(1,
                  unicode::toValidUtf8Lossy(unicode::byteLevelDecode(joined)));
    break;
  }
  case DecoderStep::Kind::Replace:
    for (std::string &token : tokens)
      replaceAll(token, step.pattern, step.content);
    break;
  case DecoderStep::Kind::ByteFallback: {
    std::vector<std::string> out;
    std::string bytes;
    size_t byteCount = 0;
    auto flush = [&] {
      if (byteCount == 0)
        return;
      if (unicode::isValidUtf8(bytes)) {
        out.push_back(bytes);
      } else {
        // HF: one U+FFFD per byte when the run is not valid UTF-8.
        for (size_t i = 0; i < byteCount; ++i)
          out.push_back(unicode::kReplacementChar);
      }
      bytes.clear();
      byteCount = 0;
    };
    for (std::string &token : tokens) {
      int byte = parseByteToken(token);
      if (byte >= 0) {
        bytes += static_cast<char>(byte);
        ++byteCount;
      } else {
        flush();
        out.push_back(std::move(token));
      }
    }
    flush();
    tokens = std::move(out);
    break;
  }
  case DecoderStep::Kind::Fuse: {
    std::string joined;
    for (const std::string &token : tokens)
      joined += token;
    tokens.assign(1, joined);
    break;
  }
  case DecoderStep::Kind::Strip:
    for (std::string &token : tokens) {
      size_t start = 0;
      for (size_t i = 0;
           i < step.start &&
           token.compare(start, step.content.size(), step.content) == 0;
           ++i)
        start += step.content.size();
      size_t end = token.size();
      for (size_t i = 0; i < step.stop && end >= start + step.content.size() &&
                         token.compare(end - step.content.size(),
                                       step.content.size(), step.content) == 0;
           ++i)
        end -= step.content.size();
      token = token.substr(start, end - start);
    }
    break;
  case DecoderStep::Kind::Metaspace:
    for (size_t i = 0; i < tokens.size(); ++i) {
      replaceAll(tokens[i], step.replacement, " ");
      if (i == 0 && step.prependScheme != PrependScheme::Never &&
          tokens[i].rfind(' ', 0) == 0)
        tokens[i].erase(0, 1);
    }
    break;
  }
}
} // namespace

Status TokenizerImpl::decode(const std::vector<int32_t> &ids,
                             const DecodeOptions &options,
                             std::string &text) const {
  text.clear();
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= idToToken.size())
      return Status::error("token id " + std::to_string(id) +
                           " is outside the vocabulary of " +
                           std::to_string(idToToken.size()) + " tokens");
    if (options.skipSpecialTokens && isSpecial[id])
      continue;
    tokens.push_back(idToToken[id]);
  }
  if (!hasDecoder) {
    for (size_t i = 0; i < tokens.size(); ++i)
      text += (i ? " " : "") + tokens[i];
    return Status::success();
  }
  for (const DecoderStep &step : decoder)
    applyDecoderStep(step, tokens);
  for (const std::string &token : tokens)
    text += token;
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Public API: catches everything so that nothing escapes as an exception.
//===----------------------------------------------------------------------===//

namespace {
template <typename Body> Status guarded(const char *what, Body body) {
  try {
    return body();
  } catch (const std::exception &error) {
    return Status::error(std::string(what) + ": " + error.what());
  } catch (...) {
    return Status::error(std::string(what) + ": unknown error");
  }
}
} // namespace

Tokenizer::Tokenizer(std::unique_ptr<TokenizerImpl> impl)
    : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer &&) noexcept = default;
Tokenizer &Tokenizer::operator=(Tokenizer &&) noexcept = default;

Status Tokenizer::encode(const std::string &text, const EncodeOptions &options,
                         std::vector<int32_t> &ids) const {
  return guarded("encode", [&] { return impl_->encode(text, options, ids); });
}

Status Tokenizer::decode(const std::vector<int32_t> &ids,
                         const DecodeOptions &options,
                         std::string &text) const {
  return guarded("decode", [&] { return impl_->decode(ids, options, text); });
}

int32_t Tokenizer::vocabSize() const {
  return static_cast<int32_t>(impl_->idToToken.size());
}
std::string Tokenizer::idToToken(int32_t id) const {
  if (id < 0 || id >= vocabSize())
    return "";
  return impl_->idToToken[id];
}
int32_t Tokenizer::tokenToId(const std::string &token) const {
  for (const AddedToken &added : impl_->addedTokens)
    if (added.content == token)
      return added.id;
  auto it = impl_->model.tokenIds.find(token);
  return it == impl_->model.tokenIds.end() ? -1 : it->second;
}
bool Tokenizer::isSpecial(int32_t id) const {
  return id >= 0 && id < vocabSize() && impl_->isSpecial[id];
}
int32_t Tokenizer::bosId() const { return impl_->bosId; }
int32_t Tokenizer::eosId() const { return impl_->eosId; }
std::vector<int32_t> Tokenizer::stopIds() const { return impl_->stopIds; }
const std::string &Tokenizer::chatTemplate() const {
  return impl_->chatTemplate;
}
const std::string &Tokenizer::bosToken() const { return impl_->bosToken; }
const std::string &Tokenizer::eosToken() const { return impl_->eosToken; }

//===----------------------------------------------------------------------===//
// StreamDecoder (HF tokenizers DecodeStream::step)
//===----------------------------------------------------------------------===//

namespace {
bool endsWithReplacement(const std::string &text) {
  const std::string replacement = unicode::kReplacementChar;
  return text.size() >= replacement.size() &&
         text.compare(text.size() - replacement.size(), replacement.size(),
                      replacement) == 0;
}
} // namespace

StreamDecoder::StreamDecoder(const Tokenizer &tokenizer, DecodeOptions options)
    : tokenizer_(tokenizer), options_(options) {}

Status StreamDecoder::push(int32_t id, std::string &piece) {
  if (prefix_.empty() && !ids_.empty()) {
    std::string newPrefix;
    if (Status status = tokenizer_.decode(ids_, options_, newPrefix); !status)
      return status;
    if (!endsWithReplacement(newPrefix)) {
      prefix_ = newPrefix;
      prefixIndex_ = ids_.size();
    }
  }
  ids_.push_back(id);
  std::string text;
  if (Status status = tokenizer_.decode(ids_, options_, text); !status) {
    ids_.pop_back();
    return status;
  }
  // A UTF-8 character spans at most 4 byte tokens; past that the U+FFFD is
  // a real invalid sequence, not an incomplete one, and is released.
  bool incomplete =
      endsWithReplacement(text) && ids_.size() - prefixIndex_ <= 4;
  if (text.size() > prefix_.size() && !incomplete) {
    if (text.compare(0, prefix_.size(), prefix_) != 0) {
      // The decoder changed earlier text (e.g. a stripped space): restart
      // the window rather than emit a wrong diff.
      piece += text.substr(std::min(prefix_.size(), text.size()));
    } else {
      piece += text.substr(prefix_.size());
    }
    size_t newPrefixIndex = ids_.size() - prefixIndex_;
    ids_.erase(ids_.begin(), ids_.begin() + prefixIndex_);
    if (Status status = tokenizer_.decode(ids_, options_, prefix_); !status)
      return status;
    prefixIndex_ = newPrefixIndex;
  }
  return Status::success();
}

Status StreamDecoder::finish(std::string &piece) {
  std::string text;
  if (Status status = tokenizer_.decode(ids_, options_, text); !status)
    return status;
  if (text.size() > prefix_.size())
    piece += text.substr(prefix_.size());
  ids_.clear();
  prefix_.clear();
  prefixIndex_ = 0;
  return Status::success();
}

} // namespace llmc::tokenizer
