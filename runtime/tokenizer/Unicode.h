//===- Unicode.h - UTF-8 helpers the tokenizer needs, with HF's semantics -===//
//
// Internal to llmc_tokenizer. The conversions follow Rust's standard library,
// which Hugging Face `tokenizers` uses: lossy UTF-8 decoding replaces each
// maximal invalid subpart with one U+FFFD (String::from_utf8_lossy), and
// whitespace is the Unicode White_Space property (char::is_whitespace).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_TOKENIZER_UNICODE_H
#define LLMC_RUNTIME_TOKENIZER_UNICODE_H

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace llmc::tokenizer::unicode {

/// U+FFFD as UTF-8.
inline constexpr const char *kReplacementChar = "\xEF\xBF\xBD";
/// U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's visible space.
inline constexpr const char *kMetaspace = "\xE2\x96\x81";

void appendUtf8(std::string &out, uint32_t codepoint);

/// Length in bytes of the valid UTF-8 sequence starting at `pos`, or 0 when
/// the bytes there are not a complete valid sequence.
size_t validSequenceLength(const std::string &text, size_t pos);

/// Decodes the sequence at `pos` (which must be valid) and advances `pos`.
uint32_t decodeAt(const std::string &text, size_t &pos);

/// Rust's String::from_utf8_lossy.
std::string toValidUtf8Lossy(const std::string &bytes);

bool isValidUtf8(const std::string &text);

/// Rust's char::is_whitespace (the White_Space property).
bool isWhitespace(uint32_t codepoint);

/// GPT-2's bytes_to_unicode(): the printable character standing for each byte.
const std::array<uint32_t, 256> &byteToCodepoint();
/// The inverse: -1 for characters that stand for no byte.
int byteForCodepoint(uint32_t codepoint);

/// Maps each byte of `bytes` to its GPT-2 character (as UTF-8).
std::string byteLevelEncode(const std::string &bytes);
/// The inverse; characters that stand for no byte are kept as their UTF-8.
std::string byteLevelDecode(const std::string &text);

} // namespace llmc::tokenizer::unicode

#endif // LLMC_RUNTIME_TOKENIZER_UNICODE_H
