//===- Gguf.cpp - GGUF parsing with every length checked before use
//--------===//

#include "compiler/weights/Gguf.h"
#include "compiler/weights/Support.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <limits>

namespace llmc::weights {

using detail::makeError;

namespace {

constexpr uint32_t kDefaultAlignment = 32;
// ggml tensors have at most four dimensions (GGML_MAX_DIMS).
constexpr uint32_t kMaxDims = 4;
// Arrays of arrays are legal; deeper than this is an attack on the stack,
// not a model.
constexpr unsigned kMaxArrayNesting = 8;
// The smallest encodings, used to reject counts the rest of the file cannot
// hold before reserving memory for them: a key/value is at least a length,
// a type and a one-byte value; a tensor info at least a name length,
// n_dims, a type and an offset; an array element that is a string or an
// array at least its length (and element type) field.
constexpr uint64_t kMinMetadataEntryBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;
constexpr uint64_t kMinStringBytes = 8;
constexpr uint64_t kMinArrayBytes = 4 + 8;

/// Bytes of a fixed-size value type; 0 for strings and arrays.
unsigned getScalarBytes(GgufValueType type) {
  switch (type) {
  case GgufValueType::U8:
  case GgufValueType::I8:
  case GgufValueType::Bool:
    return 1;
  case GgufValueType::U16:
  case GgufValueType::I16:
    return 2;
  case GgufValueType::U32:
  case GgufValueType::I32:
  case GgufValueType::F32:
    return 4;
  case GgufValueType::U64:
  case GgufValueType::I64:
  case GgufValueType::F64:
    return 8;
  case GgufValueType::String:
  case GgufValueType::Array:
    return 0;
  }
  return 0;
}

bool isValidValueType(uint32_t raw) {
  return raw <= static_cast<uint32_t>(GgufValueType::F64);
}

uint64_t readLittleEndian(const char *p, unsigned bytes) {
  uint64_t value = 0;
  for (unsigned i = 0; i < bytes; ++i)
    value |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return value;
}

std::string supportedGgmlTypes() {
  std::string names;
  for (uint32_t number = 0; number < 64; ++number) {
    std::optional<DType> dtype = dtypeFromGgmlType(number);
    if (!dtype)
      continue;
    if (!names.empty())
      names += ", ";
    names += getDTypeName(*dtype).str();
  }
  return names;
}

} // namespace

/// A read position in a region of the mapped file. Every read checks the
/// bytes left and reports what it was reading when they ran out.
class GgufCursor {
public:
  GgufCursor(llvm::StringRef path, llvm::StringRef data, uint64_t base = 0)
      : path(path), data(data), base(base) {}

  uint64_t getOffset() const { return base + position; }
  uint64_t getRemaining() const { return data.size() - position; }

  llvm::Error truncated(uint64_t needed, const llvm::Twine &what) const {
    return makeError(path + ": file ends inside " + what + " (needs " +
                     llvm::Twine(needed) + " bytes at offset " +
                     llvm::Twine(getOffset()) + ", " +
                     llvm::Twine(getRemaining()) + " left)");
  }

  llvm::Error readBytes(uint64_t size, llvm::StringRef &out,
                        const llvm::Twine &what) {
    if (size > getRemaining())
      return truncated(size, what);
    out = data.substr(position, size);
    position += size;
    return llvm::Error::success();
  }

  llvm::Error readInt(unsigned size, uint64_t &out, const llvm::Twine &what) {
    llvm::StringRef bytes;
    if (llvm::Error error = readBytes(size, bytes, what))
      return error;
    out = readLittleEndian(bytes.data(), size);
    return llvm::Error::success();
  }

  llvm::Error readU32(uint32_t &out, const llvm::Twine &what) {
    uint64_t value = 0;
    if (llvm::Error error = readInt(4, value, what))
      return error;
    out = static_cast<uint32_t>(value);
    return llvm::Error::success();
  }

  llvm::Error readU64(uint64_t &out, const llvm::Twine &what) {
    return readInt(8, out, what);
  }

  /// A GGUF string: u64 length, then that many bytes (not NUL-terminated).
  llvm::Error readString(llvm::StringRef &out, const llvm::Twine &what) {
    uint64_t length = 0;
    if (llvm::Error error = readU64(length, what + " length"))
      return error;
    if (length > getRemaining())
      return makeError(path + ": " + what + " length " + llvm::Twine(length) +
                       " at offset " + llvm::Twine(getOffset() - 8) +
                       " exceeds the " + llvm::Twine(getRemaining()) +
                       " bytes left in the file");
    return readBytes(length, out, what);
  }

  llvm::StringRef getPath() const { return path; }
  uint64_t getPosition() const { return position; }
  /// The bytes read since `start` (a value of getPosition()).
  llvm::StringRef getSliceFrom(uint64_t start) const {
    return data.slice(start, position);
  }

private:
  llvm::StringRef path;
  llvm::StringRef data;
  uint64_t base;
  uint64_t position = 0;
};

/// Fills GgufFile and GgufValue, whose fields it is a friend of.
class GgufParser {
public:
  static llvm::Error parseValue(GgufCursor &cursor, GgufValueType type,
                                unsigned depth, GgufValue &out,
                                const llvm::Twine &what);
  static llvm::Error parseFile(GgufFile &file);
  static std::vector<GgufValue> decodeArray(const GgufValue &array);
};

llvm::Error GgufParser::parseValue(GgufCursor &cursor, GgufValueType type,
                                   unsigned depth, GgufValue &out,
                                   const llvm::Twine &what) {
  out.type = type;
  if (unsigned size = getScalarBytes(type))
    return cursor.readInt(size, out.scalarBits, what);
  if (type == GgufValueType::String)
    return cursor.readString(out.payload, what);

  // An array: element type, count, elements.
  if (depth >= kMaxArrayNesting)
    return makeError(cursor.getPath() + ": " + what + " nests arrays more " +
                     "than " + llvm::Twine(kMaxArrayNesting) + " deep");
  uint32_t rawElementType = 0;
  if (llvm::Error error =
          cursor.readU32(rawElementType, what + " array element type"))
    return error;
  if (!isValidValueType(rawElementType))
    return makeError(cursor.getPath() + ": " + what +
                     " has unknown array element type " +
                     llvm::Twine(rawElementType));
  out.elementType = static_cast<GgufValueType>(rawElementType);
  if (llvm::Error error = cursor.readU64(out.count, what + " array length"))
    return error;
  unsigned elementBytes = getScalarBytes(out.elementType);
  uint64_t minBytesPerElement = elementBytes ? elementBytes
                                : out.elementType == GgufValueType::String
                                    ? kMinStringBytes
                                    : kMinArrayBytes;
  if (out.count > cursor.getRemaining() / minBytesPerElement)
    return makeError(cursor.getPath() + ": " + what + " array length " +
                     llvm::Twine(out.count) + " of " +
                     getGgufValueTypeName(out.elementType) + " exceeds the " +
                     llvm::Twine(cursor.getRemaining()) +
                     " bytes left in the file");
  if (elementBytes)
    return cursor.readBytes(out.count * elementBytes, out.payload, what);

  // Strings and arrays vary in size: walk them to validate and find the end.
  uint64_t start = cursor.getPosition();
  GgufValue element;
  for (uint64_t i = 0; i < out.count; ++i)
    if (llvm::Error error =
            parseValue(cursor, out.elementType, depth + 1, element,
                       what + "[" + llvm::Twine(i) + "]"))
      return error;
  out.payload = cursor.getSliceFrom(start);
  return llvm::Error::success();
}

std::vector<GgufValue> GgufParser::decodeArray(const GgufValue &array) {
  std::vector<GgufValue> elements;
  if (array.type != GgufValueType::Array)
    return elements;
  elements.resize(array.count);
  GgufCursor cursor("", array.payload);
  for (uint64_t i = 0; i < array.count; ++i) {
    // The payload was validated when the file was opened.
    if (llvm::Error error = parseValue(cursor, array.elementType, 0,
                                       elements[i], "array element")) {
      llvm::consumeError(std::move(error));
      elements.resize(i);
      break;
    }
  }
  return elements;
}

llvm::Error GgufParser::parseFile(GgufFile &file) {
  llvm::StringRef path = file.getPath();
  llvm::StringRef contents = file.buffer->getBuffer();
  GgufCursor cursor(path, contents);

  llvm::StringRef magic;
  if (llvm::Error error = cursor.readBytes(4, magic, "the magic number"))
    return error;
  if (magic != "GGUF")
    return makeError(path + ": not a GGUF file (magic is not \"GGUF\")");
  if (llvm::Error error = cursor.readU32(file.version, "the version"))
    return error;
  if (file.version != 2 && file.version != 3) {
    // GGUF v3 allows big-endian files; their version reads byte-swapped.
    if (llvm::byteswap(file.version) == 2 || llvm::byteswap(file.version) == 3)
      return makeError(path + ": big-endian GGUF files are not supported");
    return makeError(path + ": GGUF version " + llvm::Twine(file.version) +
                     " is not supported (llmc reads versions 2 and 3)");
  }
  uint64_t tensorCount = 0, metadataCount = 0;
  if (llvm::Error error = cursor.readU64(tensorCount, "the tensor count"))
    return error;
  if (llvm::Error error =
          cursor.readU64(metadataCount, "the metadata key/value count"))
    return error;
  if (metadataCount > cursor.getRemaining() / kMinMetadataEntryBytes)
    return makeError(path + ": metadata key/value count " +
                     llvm::Twine(metadataCount) + " is more than the " +
                     llvm::Twine(cursor.getRemaining()) +
                     " bytes left in the file can hold");
  if (tensorCount > cursor.getRemaining() / kMinTensorInfoBytes)
    return makeError(path + ": tensor count " + llvm::Twine(tensorCount) +
                     " is more than the " + llvm::Twine(cursor.getRemaining()) +
                     " bytes left in the file can hold");

  // Metadata.
  file.metadata.reserve(metadataCount);
  for (uint64_t i = 0; i < metadataCount; ++i) {
    GgufMetadataEntry entry;
    if (llvm::Error error =
            cursor.readString(entry.key, "metadata key #" + llvm::Twine(i)))
      return error;
    std::string what = ("metadata '" + entry.key + "'").str();
    uint32_t rawType = 0;
    if (llvm::Error error = cursor.readU32(rawType, what + " type"))
      return error;
    if (!isValidValueType(rawType))
      return makeError(path + ": " + what + " has unknown value type " +
                       llvm::Twine(rawType));
    if (llvm::Error error = parseValue(
            cursor, static_cast<GgufValueType>(rawType), 0, entry.value, what))
      return error;
    if (!file.metadataIndex.try_emplace(entry.key, file.metadata.size()).second)
      return makeError(path + ": metadata key '" + entry.key +
                       "' appears twice");
    file.metadata.push_back(entry);
  }

  file.alignment = kDefaultAlignment;
  if (const GgufValue *value = file.lookup("general.alignment")) {
    std::optional<uint64_t> alignment = value->getAsUnsigned();
    if (value->getType() != GgufValueType::U32 || !alignment ||
        *alignment == 0 || !llvm::isPowerOf2_64(*alignment))
      return makeError(path + ": metadata 'general.alignment' must be a "
                              "u32 power of two");
    file.alignment = static_cast<uint32_t>(*alignment);
  }

  // Tensor infos.
  file.tensors.reserve(tensorCount);
  for (uint64_t i = 0; i < tensorCount; ++i) {
    GgufTensorInfo info;
    llvm::StringRef name;
    if (llvm::Error error =
            cursor.readString(name, "tensor info #" + llvm::Twine(i) + " name"))
      return error;
    std::string what = ("tensor '" + name + "'").str();
    uint32_t numDims = 0;
    if (llvm::Error error = cursor.readU32(numDims, what + " n_dims"))
      return error;
    if (numDims > kMaxDims)
      return makeError(path + ": " + what + " has " + llvm::Twine(numDims) +
                       " dimensions; ggml allows at most " +
                       llvm::Twine(kMaxDims));
    uint64_t numElements = 1;
    for (uint32_t d = 0; d < numDims; ++d) {
      uint64_t dim = 0;
      if (llvm::Error error =
              cursor.readU64(dim, what + " dimension " + llvm::Twine(d)))
        return error;
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          detail::multiplyOverflows(numElements, dim, numElements))
        return makeError(path + ": " + what +
                         " has more elements than fit in 64 bits");
      info.ggmlDims.push_back(dim);
    }
    if (llvm::Error error = cursor.readU32(info.ggmlType, what + " type"))
      return error;
    if (llvm::Error error = cursor.readU64(info.offset, what + " offset"))
      return error;

    std::optional<DType> dtype = dtypeFromGgmlType(info.ggmlType);
    if (!dtype) {
      std::optional<llvm::StringRef> typeName = getGgmlTypeName(info.ggmlType);
      if (!typeName)
        return makeError(path + ": " + what + " has unknown ggml type " +
                         llvm::Twine(info.ggmlType));
      return makeError(path + ": " + what + " has ggml type " + *typeName +
                       " (" + llvm::Twine(info.ggmlType) +
                       "), which llmc cannot decode (supported: " +
                       supportedGgmlTypes() + ")");
    }
    const DTypeInfo &dtypeInfo = getDTypeInfo(*dtype);
    uint64_t rowLength = info.ggmlDims.empty() ? 1 : info.ggmlDims.front();
    if (rowLength % dtypeInfo.blockElements != 0)
      return makeError(path + ": " + what + " rows of " +
                       llvm::Twine(rowLength) + " values are not a whole " +
                       "number of " + dtypeInfo.name + " blocks of " +
                       llvm::Twine(dtypeInfo.blockElements));
    if (info.offset % file.alignment != 0)
      return makeError(path + ": " + what + " data offset " +
                       llvm::Twine(info.offset) + " is not a multiple of " +
                       "the alignment " + llvm::Twine(file.alignment));
    std::optional<uint64_t> bytes = getStorageBytes(*dtype, numElements);
    if (!bytes)
      return makeError(path + ": " + what + " is too large");

    info.view.name = name.str();
    info.view.dtype = *dtype;
    info.view.path = path.str();
    for (uint64_t dim : llvm::reverse(info.ggmlDims))
      info.view.shape.push_back(static_cast<int64_t>(dim));
    // Bytes are attached once the data section's start is known.
    info.view.bytes = llvm::ArrayRef<uint8_t>(nullptr, *bytes);
    if (!file.tensorIndex.try_emplace(name, file.tensors.size()).second)
      return makeError(path + ": tensor '" + name + "' appears twice");
    file.tensors.push_back(std::move(info));
  }

  // The data section starts at the next multiple of the alignment.
  uint64_t infoEnd = cursor.getOffset();
  uint64_t dataOffset = llvm::alignTo(infoEnd, file.alignment);
  file.dataOffset = dataOffset;
  uint64_t dataBytes =
      dataOffset <= contents.size() ? contents.size() - dataOffset : 0;
  const uint8_t *data = reinterpret_cast<const uint8_t *>(contents.data()) +
                        std::min<uint64_t>(dataOffset, contents.size());

  std::vector<const GgufTensorInfo *> byOffset;
  byOffset.reserve(file.tensors.size());
  for (GgufTensorInfo &info : file.tensors) {
    uint64_t size = info.view.bytes.size();
    if (info.offset > dataBytes || size > dataBytes - info.offset)
      return makeError(path + ": tensor '" + info.view.name + "' data [" +
                       llvm::Twine(info.offset) + ", " +
                       llvm::Twine(info.offset + size) +
                       ") runs past the end of the " + llvm::Twine(dataBytes) +
                       "-byte data section");
    info.view.bytes = llvm::ArrayRef<uint8_t>(data + info.offset, size);
    info.view.mapped =
        file.buffer->getBufferKind() == llvm::MemoryBuffer::MemoryBuffer_MMap;
    byOffset.push_back(&info);
  }
  // Stable, so ties are reported in file order on every platform.
  llvm::stable_sort(byOffset,
                    [](const GgufTensorInfo *a, const GgufTensorInfo *b) {
                      return a->offset < b->offset;
                    });
  for (size_t i = 1; i < byOffset.size(); ++i) {
    const GgufTensorInfo &previous = *byOffset[i - 1];
    const GgufTensorInfo &current = *byOffset[i];
    if (current.offset < previous.offset + previous.view.bytes.size())
      return makeError(
          path + ": tensor '" + current.view.name + "' data at " +
          llvm::Twine(current.offset) + " overlaps tensor '" +
          previous.view.name + "' data [" + llvm::Twine(previous.offset) +
          ", " + llvm::Twine(previous.offset + previous.view.bytes.size()) +
          ")");
  }
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// GgufValue
//===----------------------------------------------------------------------===//

llvm::StringRef getGgufValueTypeName(GgufValueType type) {
  switch (type) {
  case GgufValueType::U8:
    return "u8";
  case GgufValueType::I8:
    return "i8";
  case GgufValueType::U16:
    return "u16";
  case GgufValueType::I16:
    return "i16";
  case GgufValueType::U32:
    return "u32";
  case GgufValueType::I32:
    return "i32";
  case GgufValueType::F32:
    return "f32";
  case GgufValueType::Bool:
    return "bool";
  case GgufValueType::String:
    return "string";
  case GgufValueType::Array:
    return "array";
  case GgufValueType::U64:
    return "u64";
  case GgufValueType::I64:
    return "i64";
  case GgufValueType::F64:
    return "f64";
  }
  return "unknown";
}

bool GgufValue::isInteger() const {
  switch (type) {
  case GgufValueType::U8:
  case GgufValueType::I8:
  case GgufValueType::U16:
  case GgufValueType::I16:
  case GgufValueType::U32:
  case GgufValueType::I32:
  case GgufValueType::U64:
  case GgufValueType::I64:
    return true;
  default:
    return false;
  }
}

std::optional<int64_t> GgufValue::getAsSigned() const {
  switch (type) {
  case GgufValueType::U8:
  case GgufValueType::U16:
  case GgufValueType::U32:
    return static_cast<int64_t>(scalarBits);
  case GgufValueType::U64:
    if (scalarBits > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return std::nullopt;
    return static_cast<int64_t>(scalarBits);
  case GgufValueType::I8:
    return static_cast<int8_t>(scalarBits);
  case GgufValueType::I16:
    return static_cast<int16_t>(scalarBits);
  case GgufValueType::I32:
    return static_cast<int32_t>(scalarBits);
  case GgufValueType::I64:
    return static_cast<int64_t>(scalarBits);
  default:
    return std::nullopt;
  }
}

std::optional<uint64_t> GgufValue::getAsUnsigned() const {
  if (type == GgufValueType::U64)
    return scalarBits;
  std::optional<int64_t> value = getAsSigned();
  if (!value || *value < 0)
    return std::nullopt;
  return static_cast<uint64_t>(*value);
}

std::optional<double> GgufValue::getAsFloat() const {
  if (type == GgufValueType::F32)
    return llvm::bit_cast<float>(static_cast<uint32_t>(scalarBits));
  if (type == GgufValueType::F64)
    return llvm::bit_cast<double>(scalarBits);
  return std::nullopt;
}

std::optional<bool> GgufValue::getAsBool() const {
  if (type != GgufValueType::Bool)
    return std::nullopt;
  return scalarBits != 0;
}

std::optional<llvm::StringRef> GgufValue::getAsString() const {
  if (type != GgufValueType::String)
    return std::nullopt;
  return payload;
}

std::vector<GgufValue> GgufValue::getArrayElements() const {
  return GgufParser::decodeArray(*this);
}

//===----------------------------------------------------------------------===//
// GgufFile
//===----------------------------------------------------------------------===//

llvm::Expected<std::unique_ptr<GgufFile>> GgufFile::open(llvm::StringRef path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (!buffer)
    return makeError(path + ": cannot open: " + buffer.getError().message());
  return parse(std::move(*buffer));
}

llvm::Expected<std::unique_ptr<GgufFile>>
GgufFile::parse(std::unique_ptr<llvm::MemoryBuffer> buffer) {
  std::unique_ptr<GgufFile> file(new GgufFile(std::move(buffer)));
  if (llvm::Error error = GgufParser::parseFile(*file))
    return error;
  return file;
}

const GgufValue *GgufFile::lookup(llvm::StringRef key) const {
  auto it = metadataIndex.find(key);
  return it == metadataIndex.end() ? nullptr : &metadata[it->second].value;
}

const GgufTensorInfo *GgufFile::lookupTensor(llvm::StringRef name) const {
  auto it = tensorIndex.find(name);
  return it == tensorIndex.end() ? nullptr : &tensors[it->second];
}

llvm::Expected<const GgufValue *> GgufFile::require(llvm::StringRef key) const {
  if (const GgufValue *value = lookup(key))
    return value;
  return makeError(getPath() + ": metadata '" + key + "' is missing");
}

llvm::Error GgufFile::wrongType(llvm::StringRef key, const GgufValue &value,
                                llvm::StringRef expected) const {
  std::string actual = getGgufValueTypeName(value.getType()).str();
  if (value.getType() == GgufValueType::Array)
    actual += " of " + getGgufValueTypeName(value.getElementType()).str();
  return makeError(getPath() + ": metadata '" + key + "' is " + actual +
                   ", expected " + expected);
}

llvm::Expected<llvm::StringRef> GgufFile::getString(llvm::StringRef key) const {
  llvm::Expected<const GgufValue *> value = require(key);
  if (!value)
    return value.takeError();
  if (std::optional<llvm::StringRef> text = (*value)->getAsString())
    return *text;
  return wrongType(key, **value, "string");
}

llvm::Expected<uint64_t> GgufFile::getU64(llvm::StringRef key) const {
  llvm::Expected<const GgufValue *> value = require(key);
  if (!value)
    return value.takeError();
  if (std::optional<uint64_t> number = (*value)->getAsUnsigned())
    return *number;
  return wrongType(key, **value, "a non-negative integer");
}

llvm::Expected<uint32_t> GgufFile::getU32(llvm::StringRef key) const {
  llvm::Expected<const GgufValue *> value = require(key);
  if (!value)
    return value.takeError();
  std::optional<uint64_t> number = (*value)->getAsUnsigned();
  if (number && *number <= std::numeric_limits<uint32_t>::max())
    return static_cast<uint32_t>(*number);
  return wrongType(key, **value, "an integer in u32 range");
}

llvm::Expected<int32_t> GgufFile::getI32(llvm::StringRef key) const {
  llvm::Expected<const GgufValue *> value = require(key);
  if (!value)
    return value.takeError();
  std::optional<int64_t> number = (*value)->getAsSigned();
  if (number && *number >= std::numeric_limits<int32_t>::min() &&
      *number <= std::numeric_limits<int32_t>::max())
    return static_cast<int32_t>(*number);
  return wrongType(key, **value, "an integer in i32 range");
}

llvm::Expected<float> GgufFile::getF32(llvm::StringRef key) const {
  llvm::Expected<const GgufValue *> value = require(key);
  if (!value)
    return value.takeError();
  if (std::optional<double> number = (*value)->getAsFloat())
    return static_cast<float>(*number);
  return wrongType(key, **value, "f32 or f64");
}

llvm::Expected<bool> GgufFile::getBool(llvm::StringRef key) const {
  llvm::Expected<const GgufValue *> value = require(key);
  if (!value)
    return value.takeError();
  if (std::optional<bool> flag = (*value)->getAsBool())
    return *flag;
  return wrongType(key, **value, "bool");
}

llvm::Expected<std::vector<llvm::StringRef>>
GgufFile::getStringArray(llvm::StringRef key) const {
  llvm::Expected<const GgufValue *> value = require(key);
  if (!value)
    return value.takeError();
  const GgufValue &array = **value;
  if (array.getType() != GgufValueType::Array ||
      array.getElementType() != GgufValueType::String)
    return wrongType(key, array, "array of string");
  std::vector<llvm::StringRef> strings;
  strings.reserve(array.getArraySize());
  for (const GgufValue &element : array.getArrayElements())
    strings.push_back(*element.getAsString());
  return strings;
}

llvm::Expected<std::vector<float>>
GgufFile::getF32Array(llvm::StringRef key) const {
  llvm::Expected<const GgufValue *> value = require(key);
  if (!value)
    return value.takeError();
  const GgufValue &array = **value;
  if (array.getType() != GgufValueType::Array ||
      (array.getElementType() != GgufValueType::F32 &&
       array.getElementType() != GgufValueType::F64))
    return wrongType(key, array, "array of f32 or f64");
  std::vector<float> numbers;
  numbers.reserve(array.getArraySize());
  for (const GgufValue &element : array.getArrayElements())
    numbers.push_back(static_cast<float>(*element.getAsFloat()));
  return numbers;
}

llvm::Expected<std::vector<int32_t>>
GgufFile::getI32Array(llvm::StringRef key) const {
  llvm::Expected<const GgufValue *> value = require(key);
  if (!value)
    return value.takeError();
  const GgufValue &array = **value;
  if (array.getType() != GgufValueType::Array)
    return wrongType(key, array, "array of integers");
  std::vector<int32_t> numbers;
  numbers.reserve(array.getArraySize());
  uint64_t index = 0;
  for (const GgufValue &element : array.getArrayElements()) {
    std::optional<int64_t> number = element.getAsSigned();
    if (!number)
      return wrongType(key, array, "array of integers");
    if (*number < std::numeric_limits<int32_t>::min() ||
        *number > std::numeric_limits<int32_t>::max())
      return makeError(getPath() + ": metadata '" + key + "' element " +
                       llvm::Twine(index) + " (" + llvm::Twine(*number) +
                       ") is out of i32 range");
    numbers.push_back(static_cast<int32_t>(*number));
    ++index;
  }
  return numbers;
}

} // namespace llmc::weights
