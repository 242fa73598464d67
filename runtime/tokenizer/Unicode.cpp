//===- Unicode.cpp - UTF-8 helpers with Rust / Hugging Face semantics -----===//

#include "runtime/tokenizer/Unicode.h"

#include <unordered_map>

namespace llmc::tokenizer::unicode {

void appendUtf8(std::string &out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

namespace {
// The number of bytes of the longest prefix of the sequence at `pos` that can
// still be the start of a valid character (Unicode's "maximal subpart"), and
// whether the whole character is there and valid.
struct SequenceCheck {
  size_t consumed;
  bool complete;
};

SequenceCheck checkSequence(const std::string &text, size_t pos) {
  auto byteAt = [&](size_t i) -> int {
    return i < text.size() ? static_cast<unsigned char>(text[i]) : -1;
  };
  int lead = byteAt(pos);
  if (lead < 0x80)
    return {1, true};
  size_t length;
  int secondLow = 0x80, secondHigh = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0)
      secondLow = 0xA0;
    if (lead == 0xED)
      secondHigh = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0)
      secondLow = 0x90;
    if (lead == 0xF4)
      secondHigh = 0x8F;
  } else {
    return {1, false};
  }
  for (size_t i = 1; i < length; ++i) {
    int byte = byteAt(pos + i);
    int low = i == 1 ? secondLow : 0x80, high = i == 1 ? secondHigh : 0xBF;
    if (byte < low || byte > high)
      return {i, false};
  }
  return {length, true};
}
} // namespace

size_t validSequenceLength(const std::string &text, size_t pos) {
  SequenceCheck check = checkSequence(text, pos);
  return check.complete ? check.consumed : 0;
}

uint32_t decodeAt(const std::string &text, size_t &pos) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  uint32_t lead = byte(pos);
  if (lead < 0x80) {
    pos += 1;
    return lead;
  }
  if (lead < 0xE0) {
    uint32_t cp = ((lead & 0x1F) << 6) | (byte(pos + 1) & 0x3F);
    pos += 2;
    return cp;
  }
  if (lead < 0xF0) {
    uint32_t cp = ((lead & 0x0F) << 12) | ((byte(pos + 1) & 0x3F) << 6) |
                  (byte(pos + 2) & 0x3F);
    pos += 3;
    return cp;
  }
  uint32_t cp = ((lead & 0x07) << 18) | ((byte(pos + 1) & 0x3F) << 12) |
                ((byte(pos + 2) & 0x3F) << 6) | (byte(pos + 3) & 0x3F);
  pos += 4;
  return cp;
}

std::string toValidUtf8Lossy(const std::string &bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t pos = 0;
  while (pos < bytes.size()) {
    SequenceCheck check = checkSequence(bytes, pos);
    if (check.complete)
      out.append(bytes, pos, check.consumed);
    else
      out += kReplacementChar;
    pos += check.consumed;
  }
  return out;
}

bool isValidUtf8(const std::string &text) {
  for (size_t pos = 0; pos < text.size();) {
    size_t length = validSequenceLength(text, pos);
    if (length == 0)
      return false;
    pos += length;
  }
  return true;
}

bool isWhitespace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

const std::array<uint32_t, 256> &byteToCodepoint() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> result{};
    uint32_t next = 256;
    for (uint32_t byte = 0; byte < 256; ++byte) {
      bool printable = (byte >= '!' && byte <= '~') ||
                       (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE;
      result[byte] = printable ? byte : next++;
    }
    return result;
  }();
  return table;
}

int byteForCodepoint(uint32_t cp) {
  static const std::unordered_map<uint32_t, int> inverse = [] {
    std::unordered_map<uint32_t, int> result;
    const auto &forward = byteToCodepoint();
    for (int byte = 0; byte < 256; ++byte)
      result.emplace(forward[byte], byte);
    return result;
  }();
  auto it = inverse.find(cp);
  return it == inverse.end() ? -1 : it->second;
}

std::string byteLevelEncode(const std::string &bytes) {
  const auto &table = byteToCodepoint();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char byte : bytes)
    appendUtf8(out, table[byte]);
  return out;
}

std::string byteLevelDecode(const std::string &text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t length = validSequenceLength(text, pos);
    if (length == 0) {
      out += text[pos++];
      continue;
    }
    size_t start = pos;
    int byte = byteForCodepoint(decodeAt(text, pos));
    if (byte >= 0)
      out += static_cast<char>(byte);
    else
      out.append(text, start, length);
  }
  return out;
}

} // namespace llmc::tokenizer::unicode
