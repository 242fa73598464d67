//===- Gguf.h - mmapped GGUF (v2/v3) files: metadata and tensor views
//------===//
//
// GGUF (llama.cpp's format): "GGUF", u32 version, u64 tensor count, u64
// metadata count, the metadata key/values, the tensor infos (name, dims
// innermost first, ggml type, offset), padding to `general.alignment`, then
// the tensor data. Every count and length is checked against the bytes that
// remain before anything is allocated, so a corrupt file is an error that
// names the file and the field, never a crash or a huge allocation.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_WEIGHTS_GGUF_H
#define LLMC_COMPILER_WEIGHTS_GGUF_H

#include "compiler/weights/DType.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <vector>

namespace llmc::weights {

/// GGUF's metadata value types, numbered as in the file.
enum class GgufValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};
/// "u32", "string", "array", ... for messages.
llvm::StringRef getGgufValueTypeName(GgufValueType type);

/// One metadata value, a view into the mapped file. Arrays keep their
/// validated payload and decode elements on request, so a file's metadata
/// costs a few words per key however long its arrays are.
class GgufValue {
public:
  GgufValueType getType() const { return type; }
  bool isInteger() const;

  /// Scalars; std::nullopt when the value has another type or (for the
  /// integer getters) does not fit.
  std::optional<uint64_t> getAsUnsigned() const;
  std::optional<int64_t> getAsSigned() const;
  /// F32 or F64.
  std::optional<double> getAsFloat() const;
  std::optional<bool> getAsBool() const;
  std::optional<llvm::StringRef> getAsString() const;

  /// Arrays: the element type and count, and the decoded elements.
  GgufValueType getElementType() const { return elementType; }
  uint64_t getArraySize() const { return count; }
  std::vector<GgufValue> getArrayElements() const;

private:
  friend class GgufParser;
  GgufValueType type = GgufValueType::U8;
  GgufValueType elementType = GgufValueType::U8;
  /// A scalar's little-endian bits, zero-extended.
  uint64_t scalarBits = 0;
  /// Array length.
  uint64_t count = 0;
  /// A string's bytes, or an array's elements as stored.
  llvm::StringRef payload;
};

struct GgufMetadataEntry {
  llvm::StringRef key;
  GgufValue value;
};

struct GgufTensorInfo {
  /// Name, row-major shape (outermost first), dtype and data bytes.
  TensorView view;
  /// As stored: ggml's ne[], innermost (contiguous) dimension first.
  llvm::SmallVector<uint64_t, 4> ggmlDims;
  uint32_t ggmlType = 0;
  /// Relative to the start of the data section.
  uint64_t offset = 0;
};

class GgufFile {
public:
  static llvm::Expected<std::unique_ptr<GgufFile>> open(llvm::StringRef path);
  /// Validates a file already in memory; the buffer's identifier is the path
  /// messages name.
  static llvm::Expected<std::unique_ptr<GgufFile>>
  parse(std::unique_ptr<llvm::MemoryBuffer> buffer);

  llvm::StringRef getPath() const { return buffer->getBufferIdentifier(); }
  uint32_t getVersion() const { return version; }
  /// `general.alignment`, 32 when absent.
  uint32_t getAlignment() const { return alignment; }
  /// File offset where tensor data starts.
  uint64_t getDataOffset() const { return dataOffset; }

  /// Metadata in file order.
  llvm::ArrayRef<GgufMetadataEntry> getMetadata() const { return metadata; }
  const GgufValue *lookup(llvm::StringRef key) const;
  bool has(llvm::StringRef key) const { return lookup(key) != nullptr; }

  /// Typed accessors. Each errors, naming the file and key, when the key is
  /// missing or holds another type. Integer getters accept any GGUF integer
  /// type whose value fits (writers disagree on u32 vs u64 for counts);
  /// getF32 accepts f32 and f64.
  llvm::Expected<llvm::StringRef> getString(llvm::StringRef key) const;
  llvm::Expected<uint32_t> getU32(llvm::StringRef key) const;
  llvm::Expected<uint64_t> getU64(llvm::StringRef key) const;
  llvm::Expected<int32_t> getI32(llvm::StringRef key) const;
  llvm::Expected<float> getF32(llvm::StringRef key) const;
  llvm::Expected<bool> getBool(llvm::StringRef key) const;
  llvm::Expected<std::vector<llvm::StringRef>>
  getStringArray(llvm::StringRef key) const;
  llvm::Expected<std::vector<float>> getF32Array(llvm::StringRef key) const;
  llvm::Expected<std::vector<int32_t>> getI32Array(llvm::StringRef key) const;

  /// Tensors in file order.
  llvm::ArrayRef<GgufTensorInfo> getTensorInfos() const { return tensors; }
  const GgufTensorInfo *lookupTensor(llvm::StringRef name) const;

private:
  friend class GgufParser;
  explicit GgufFile(std::unique_ptr<llvm::MemoryBuffer> buffer)
      : buffer(std::move(buffer)) {}
  llvm::Expected<const GgufValue *> require(llvm::StringRef key) const;
  llvm::Error wrongType(llvm::StringRef key, const GgufValue &value,
                        llvm::StringRef expected) const;

  std::unique_ptr<llvm::MemoryBuffer> buffer;
  uint32_t version = 0;
  uint32_t alignment = 32;
  uint64_t dataOffset = 0;
  std::vector<GgufMetadataEntry> metadata;
  llvm::StringMap<size_t> metadataIndex;
  std::vector<GgufTensorInfo> tensors;
  llvm::StringMap<size_t> tensorIndex;
};

} // namespace llmc::weights

#endif // LLMC_COMPILER_WEIGHTS_GGUF_H
