//===- SyntheticCheckpoint.h - a large generated safetensors file for tests
//-===//
//
// Writes `tensorCount` F32 tensors of `rows` x 1024 (the first one twice as
// many rows, so it is the largest) filled with a cheap pseudo-random
// pattern, streamed in 1 MiB chunks so generating it needs no memory.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_UNIT_ARTIFACT_SYNTHETICCHECKPOINT_H
#define LLMC_TEST_UNIT_ARTIFACT_SYNTHETICCHECKPOINT_H

#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <string>
#include <vector>

namespace llmc::artifact::testing {

struct SyntheticCheckpoint {
  uint64_t totalBytes = 0;
  uint64_t largestTensorBytes = 0;
  size_t tensorCount = 0;
};

/// About `approximateBytes` of F32 tensors of 8 MiB (the first 16 MiB).
inline llvm::Expected<SyntheticCheckpoint>
writeSyntheticSafetensors(const std::string &path, uint64_t approximateBytes) {
  constexpr uint64_t kColumns = 1024;
  constexpr uint64_t kRows = 2048; // 8 MiB of F32
  std::vector<uint64_t> rows;
  uint64_t total = 0;
  while (total < approximateBytes || rows.empty()) {
    uint64_t r = rows.empty() ? 2 * kRows : kRows;
    rows.push_back(r);
    total += r * kColumns * 4;
  }
  std::string header = "{";
  uint64_t offset = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    uint64_t bytes = rows[i] * kColumns * 4;
    header += (i ? "," : "") + std::string("\"layers.") + std::to_string(i) +
              ".weight\":{\"dtype\":\"F32\",\"shape\":[" +
              std::to_string(rows[i]) + "," + std::to_string(kColumns) +
              "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  header += "}";
  while (header.size() % 8)
    header += ' ';
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return llvm::createStringError(ec, "cannot write " + path);
  uint64_t headerBytes = header.size();
  os.write(reinterpret_cast<const char *>(&headerBytes), 8);
  os << header;
  std::vector<uint32_t> chunk(1 << 18);
  uint32_t state = 12345;
  for (uint64_t written = 0; written < offset;) {
    for (uint32_t &value : chunk) {
      state = state * 1664525u + 1013904223u;
      // Finite floats in [1, 2): exponent 127, random mantissa.
      value = 0x3f800000u | (state >> 9);
    }
    uint64_t bytes = std::min<uint64_t>(chunk.size() * 4, offset - written);
    os.write(reinterpret_cast<const char *>(chunk.data()), bytes);
    written += bytes;
  }
  os.close();
  if (os.has_error())
    return llvm::createStringError(os.error(), "cannot write " + path);
  return SyntheticCheckpoint{offset, 2 * kRows * kColumns * 4, rows.size()};
}

} // namespace llmc::artifact::testing

#endif // LLMC_TEST_UNIT_ARTIFACT_SYNTHETICCHECKPOINT_H
