//===- ArtifactHeader.h - the fixed 64-byte header in front of a .llmc file
//===//
//
// Plain C++17, header-only, shared by the writer (compiler/artifact/) and the
// loader (runtime/loader/): with artifact.fbs it is the whole file contract.
// The magic, header size and version sit at fixed offsets in every format
// version, so any runtime can say "this file is format 2.0" even when it
// cannot read the rest. Layout (little-endian):
//
//   offset size field
//        0    8 magic "\x89LLMC\r\n\x1a" (high bit and CR LF catch 7-bit and
//               text-mode transfers, like PNG's signature)
//        8    4 header_bytes: size of this header (64 in format 1)
//       12    2 format_major
//       14    2 format_minor
//       16    8 flatbuffer_offset: absolute offset of the FlatBuffer (64)
//       24    8 flatbuffer_bytes
//       32    8 flatbuffer_xxhash64: XXH64 (seed 0) of the FlatBuffer bytes
//       40    8 file_bytes: the size of the whole file as written
//       48    8 reserved (zero)
//       56    8 header_xxhash64: XXH64 (seed 0) of bytes [0, 56)
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SCHEMA_ARTIFACTHEADER_H
#define LLMC_RUNTIME_SCHEMA_ARTIFACTHEADER_H

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace llmc::artifact {

/// The format version this build writes and reads (see artifact.fbs for the
/// compatibility rules).
constexpr uint16_t kFormatMajor = 1;
constexpr uint16_t kFormatMinor = 1;

constexpr char kMagic[8] = {'\x89', 'L', 'L', 'M', 'C', '\r', '\n', '\x1a'};
constexpr size_t kMagicBytes = 8;
constexpr uint32_t kHeaderBytes = 64;
/// Sections and every blob in them start on this boundary.
constexpr uint64_t kSectionAlignment = 4096;

/// Byte offsets of the header fields.
namespace header_offset {
constexpr size_t kHeaderBytes = 8;
constexpr size_t kFormatMajor = 12;
constexpr size_t kFormatMinor = 14;
constexpr size_t kFlatbufferOffset = 16;
constexpr size_t kFlatbufferBytes = 24;
constexpr size_t kFlatbufferXxhash64 = 32;
constexpr size_t kFileBytes = 40;
constexpr size_t kReserved = 48;
constexpr size_t kHeaderXxhash64 = 56;
} // namespace header_offset

struct FixedHeader {
  uint32_t headerBytes = kHeaderBytes;
  uint16_t formatMajor = kFormatMajor;
  uint16_t formatMinor = kFormatMinor;
  uint64_t flatbufferOffset = 0;
  uint64_t flatbufferBytes = 0;
  uint64_t flatbufferXxhash64 = 0;
  uint64_t fileBytes = 0;
  uint64_t headerXxhash64 = 0;
};

namespace detail {
template <typename T> inline T readLittleEndian(const uint8_t *bytes) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i)
    value |= static_cast<T>(static_cast<T>(bytes[i]) << (8 * i));
  return value;
}
template <typename T> inline void writeLittleEndian(uint8_t *bytes, T value) {
  for (size_t i = 0; i < sizeof(T); ++i)
    bytes[i] = static_cast<uint8_t>(value >> (8 * i));
}
} // namespace detail

inline bool hasMagic(const uint8_t *bytes, size_t size) {
  return size >= kMagicBytes && std::memcmp(bytes, kMagic, kMagicBytes) == 0;
}

/// Decodes the fields of a header whose first kHeaderBytes bytes are
/// readable (the checksum is read, not checked).
inline FixedHeader decodeHeader(const uint8_t *bytes) {
  using detail::readLittleEndian;
  FixedHeader header;
  header.headerBytes =
      readLittleEndian<uint32_t>(bytes + header_offset::kHeaderBytes);
  header.formatMajor =
      readLittleEndian<uint16_t>(bytes + header_offset::kFormatMajor);
  header.formatMinor =
      readLittleEndian<uint16_t>(bytes + header_offset::kFormatMinor);
  header.flatbufferOffset =
      readLittleEndian<uint64_t>(bytes + header_offset::kFlatbufferOffset);
  header.flatbufferBytes =
      readLittleEndian<uint64_t>(bytes + header_offset::kFlatbufferBytes);
  header.flatbufferXxhash64 =
      readLittleEndian<uint64_t>(bytes + header_offset::kFlatbufferXxhash64);
  header.fileBytes =
      readLittleEndian<uint64_t>(bytes + header_offset::kFileBytes);
  header.headerXxhash64 =
      readLittleEndian<uint64_t>(bytes + header_offset::kHeaderXxhash64);
  return header;
}

/// Encodes `header` into kHeaderBytes bytes, except the checksum field,
/// which the caller computes over bytes [0, kHeaderXxhash64) and stores with
/// `storeHeaderChecksum`.
inline void encodeHeader(const FixedHeader &header, uint8_t *bytes) {
  using detail::writeLittleEndian;
  std::memset(bytes, 0, kHeaderBytes);
  std::memcpy(bytes, kMagic, kMagicBytes);
  writeLittleEndian(bytes + header_offset::kHeaderBytes, header.headerBytes);
  writeLittleEndian(bytes + header_offset::kFormatMajor, header.formatMajor);
  writeLittleEndian(bytes + header_offset::kFormatMinor, header.formatMinor);
  writeLittleEndian(bytes + header_offset::kFlatbufferOffset,
                    header.flatbufferOffset);
  writeLittleEndian(bytes + header_offset::kFlatbufferBytes,
                    header.flatbufferBytes);
  writeLittleEndian(bytes + header_offset::kFlatbufferXxhash64,
                    header.flatbufferXxhash64);
  writeLittleEndian(bytes + header_offset::kFileBytes, header.fileBytes);
}

inline void storeHeaderChecksum(uint8_t *bytes, uint64_t checksum) {
  detail::writeLittleEndian(bytes + header_offset::kHeaderXxhash64, checksum);
}

inline uint64_t alignUp(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

} // namespace llmc::artifact

#endif // LLMC_RUNTIME_SCHEMA_ARTIFACTHEADER_H
