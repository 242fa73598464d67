//===- Safetensors.cpp - safetensors header validation and shard indexes
//---===//

#include "compiler/weights/Safetensors.h"
#include "compiler/weights/Support.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <map>

namespace llmc::weights {

using detail::makeError;

namespace {

// The safetensors reference implementation refuses larger headers; a bigger
// one is a corrupt length, not a real checkpoint.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
mapFile(llvm::StringRef path) {
  // Not a text file and no terminating NUL wanted, so LLVM maps the file
  // instead of reading it.
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (!buffer)
    return makeError(path + ": cannot open: " + buffer.getError().message());
  return std::move(*buffer);
}

// llvm::json keeps the last of duplicate keys silently, but a safetensors
// header with a name twice is ambiguous (which bytes are the tensor?). This
// scans the top-level object of an already valid JSON text for a repeated
// key, comparing keys as written.
std::optional<std::string> findDuplicateTopLevelKey(llvm::StringRef json) {
  llvm::StringSet<> seen;
  size_t i = json.find('{');
  if (i == llvm::StringRef::npos)
    return std::nullopt;
  ++i;
  unsigned depth = 0;
  bool expectKey = true;
  while (i < json.size()) {
    char c = json[i];
    if (c == '"') {
      size_t start = ++i;
      while (i < json.size() && json[i] != '"')
        i += json[i] == '\\' ? 2 : 1;
      if (depth == 0 && expectKey) {
        llvm::StringRef key = json.slice(start, i);
        if (!seen.insert(key).second)
          return key.str();
        expectKey = false;
      }
      ++i;
      continue;
    }
    if (c == '{' || c == '[')
      ++depth;
    else if (c == '}' || c == ']') {
      if (depth == 0)
        break;
      --depth;
    } else if (c == ',' && depth == 0)
      expectKey = true;
    ++i;
  }
  return std::nullopt;
}

std::string formatRange(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

} // namespace

//===----------------------------------------------------------------------===//
// SafetensorsFile
//===----------------------------------------------------------------------===//

llvm::Expected<std::unique_ptr<SafetensorsFile>>
SafetensorsFile::open(llvm::StringRef path) {
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> buffer = mapFile(path);
  if (!buffer)
    return buffer.takeError();
  return parse(std::move(*buffer));
}

llvm::Expected<std::unique_ptr<SafetensorsFile>>
SafetensorsFile::parse(std::unique_ptr<llvm::MemoryBuffer> buffer) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile(std::move(buffer)));
  if (llvm::Error error = file->parseHeader())
    return error;
  return file;
}

const TensorView *SafetensorsFile::lookup(llvm::StringRef name) const {
  auto it = indexByName.find(name);
  return it == indexByName.end() ? nullptr : &tensors[it->second];
}

llvm::Error SafetensorsFile::parseHeader() {
  llvm::StringRef path = getPath();
  llvm::StringRef contents = buffer->getBuffer();
  uint64_t fileBytes = contents.size();
  if (fileBytes < 8)
    return makeError(path + ": file is " + llvm::Twine(fileBytes) +
                     " bytes, too short for the 8-byte header length");
  uint64_t headerBytes = llvm::support::endian::read64le(contents.data());
  if (headerBytes > fileBytes - 8)
    return makeError(path + ": header length " + llvm::Twine(headerBytes) +
                     " exceeds the " + llvm::Twine(fileBytes - 8) +
                     " bytes after the length field");
  if (headerBytes > kMaxHeaderBytes)
    return makeError(path + ": header length " + llvm::Twine(headerBytes) +
                     " is over the " + llvm::Twine(kMaxHeaderBytes) +
                     "-byte limit of the format");
  llvm::StringRef headerText = contents.substr(8, headerBytes);
  llvm::ArrayRef<uint8_t> data(
      reinterpret_cast<const uint8_t *>(contents.data()) + 8 + headerBytes,
      fileBytes - 8 - headerBytes);

  llvm::Expected<llvm::json::Value> header = llvm::json::parse(headerText);
  if (!header)
    return makeError(path + ": header is not valid JSON: " +
                     llvm::toString(header.takeError()));
  const llvm::json::Object *root = header->getAsObject();
  if (!root)
    return makeError(path + ": header is not a JSON object");
  if (std::optional<std::string> duplicate =
          findDuplicateTopLevelKey(headerText))
    return makeError(path + ": tensor '" + *duplicate +
                     "' is listed twice in the header");

  // Build every view before checking coverage, which needs them sorted.
  for (const auto &entry : *root) {
    llvm::StringRef name = entry.first;
    if (name == "__metadata__") {
      const llvm::json::Object *fields = entry.second.getAsObject();
      if (!fields)
        return makeError(path + ": field '__metadata__' is not an object");
      for (const auto &field : *fields) {
        std::optional<llvm::StringRef> text = field.second.getAsString();
        if (!text)
          return makeError(path + ": field '__metadata__." +
                           llvm::StringRef(field.first) + "' is not a string");
        metadata[field.first] = text->str();
      }
      continue;
    }
    std::string where = (path + ": tensor '" + name + "'").str();
    const llvm::json::Object *fields = entry.second.getAsObject();
    if (!fields)
      return makeError(where + " is not a JSON object");

    std::optional<llvm::StringRef> dtypeName = fields->getString("dtype");
    if (!dtypeName)
      return makeError(where + ": field 'dtype' is missing or not a string");
    std::optional<DType> dtype = parseSafetensorsDType(*dtypeName);
    if (!dtype)
      return makeError(where + ": unknown dtype '" + *dtypeName + "'");

    const llvm::json::Array *shapeArray = fields->getArray("shape");
    if (!shapeArray)
      return makeError(where + ": field 'shape' is missing or not an array");
    TensorView view;
    view.name = name.str();
    view.dtype = *dtype;
    view.path = path.str();
    uint64_t numElements = 1;
    for (const llvm::json::Value &dimValue : *shapeArray) {
      std::optional<int64_t> dim = dimValue.getAsInteger();
      if (!dim || *dim < 0)
        return makeError(where + ": field 'shape' holds something other than a "
                                 "non-negative integer");
      if (detail::multiplyOverflows(numElements, *dim, numElements))
        return makeError(where + ": shape " + formatShape(view.shape) +
                         "... has more elements than fit in 64 bits");
      view.shape.push_back(*dim);
    }

    const llvm::json::Array *offsets = fields->getArray("data_offsets");
    std::optional<uint64_t> begin, end;
    if (offsets && offsets->size() == 2) {
      begin = (*offsets)[0].getAsUINT64();
      end = (*offsets)[1].getAsUINT64();
    }
    if (!begin || !end)
      return makeError(where + ": field 'data_offsets' is not a pair of "
                               "non-negative integers");
    if (*begin > *end)
      return makeError(where + ": data_offsets " + formatRange(*begin, *end) +
                       " end before they begin");
    if (*end > data.size())
      return makeError(where + ": data_offsets " + formatRange(*begin, *end) +
                       " run past the end of the " + llvm::Twine(data.size()) +
                       "-byte data buffer");
    std::optional<uint64_t> expectedBytes =
        getStorageBytes(*dtype, numElements);
    if (!expectedBytes || *expectedBytes != *end - *begin)
      return makeError(where + ": shape " + formatShape(view.shape) + " of " +
                       *dtypeName + " needs " + llvm::Twine(numElements) +
                       " x " + llvm::Twine(getDTypeInfo(*dtype).blockBytes) +
                       " bytes but data_offsets " + formatRange(*begin, *end) +
                       " hold " + llvm::Twine(*end - *begin));
    view.bytes = data.slice(*begin, *end - *begin);
    view.mapped =
        buffer->getBufferKind() == llvm::MemoryBuffer::MemoryBuffer_MMap;
    tensors.push_back(std::move(view));
  }

  // The format requires the tensors to tile the data buffer: sorted by
  // offset, each begins where the previous ends and the last ends at the
  // end of the file. Anything else is overlap (two tensors sharing bytes)
  // or a hole (bytes nobody owns, often a sign of a truncated writer).
  llvm::stable_sort(tensors, [](const TensorView &a, const TensorView &b) {
    if (a.bytes.data() != b.bytes.data())
      return a.bytes.data() < b.bytes.data();
    return a.bytes.size() < b.bytes.size();
  });
  uint64_t covered = 0;
  const TensorView *previous = nullptr;
  for (const TensorView &tensor : tensors) {
    uint64_t begin = tensor.bytes.data() - data.data();
    uint64_t end = begin + tensor.bytes.size();
    if (begin < covered)
      return makeError(path + ": tensor '" + tensor.name + "' bytes " +
                       formatRange(begin, end) + " overlap tensor '" +
                       previous->name + "' bytes ending at " +
                       llvm::Twine(covered));
    if (begin > covered)
      return makeError(path + ": data bytes " + formatRange(covered, begin) +
                       " before tensor '" + tensor.name +
                       "' belong to no tensor");
    covered = end;
    previous = &tensor;
  }
  if (covered != data.size())
    return makeError(path + ": data bytes " +
                     formatRange(covered, data.size()) +
                     " at the end of the file belong to no tensor");
  for (size_t i = 0; i < tensors.size(); ++i)
    indexByName[tensors[i].name] = i;
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// SafetensorsCheckpoint
//===----------------------------------------------------------------------===//

llvm::Error
SafetensorsCheckpoint::addShard(std::unique_ptr<SafetensorsFile> shard) {
  for (const TensorView &tensor : shard->getTensors()) {
    auto [it, inserted] = tensorsByName.try_emplace(tensor.name, &tensor);
    if (!inserted)
      return makeError(shard->getPath() + ": tensor '" + tensor.name +
                       "' is also in shard " + it->second->path);
  }
  shards.push_back(std::move(shard));
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<SafetensorsCheckpoint>>
SafetensorsCheckpoint::open(llvm::StringRef path) {
  std::unique_ptr<SafetensorsCheckpoint> checkpoint(new SafetensorsCheckpoint);
  std::string indexPath = path.str();
  if (llvm::sys::fs::is_directory(path)) {
    llvm::SmallString<256> candidate(path);
    llvm::sys::path::append(candidate, "model.safetensors.index.json");
    if (llvm::sys::fs::exists(candidate)) {
      indexPath = candidate.str().str();
    } else {
      candidate = path;
      llvm::sys::path::append(candidate, "model.safetensors");
      if (!llvm::sys::fs::exists(candidate))
        return makeError(path + ": directory has neither "
                                "model.safetensors.index.json nor "
                                "model.safetensors");
      indexPath = candidate.str().str();
    }
  }
  if (!llvm::StringRef(indexPath).ends_with(".json")) {
    llvm::Expected<std::unique_ptr<SafetensorsFile>> file =
        SafetensorsFile::open(indexPath);
    if (!file)
      return file.takeError();
    if (llvm::Error error = checkpoint->addShard(std::move(*file)))
      return error;
    return checkpoint;
  }

  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> indexBuffer =
      mapFile(indexPath);
  if (!indexBuffer)
    return indexBuffer.takeError();
  llvm::Expected<llvm::json::Value> index =
      llvm::json::parse((*indexBuffer)->getBuffer());
  if (!index)
    return makeError(indexPath +
                     ": not valid JSON: " + llvm::toString(index.takeError()));
  const llvm::json::Object *root = index->getAsObject();
  const llvm::json::Object *weightMap =
      root ? root->getObject("weight_map") : nullptr;
  if (!weightMap)
    return makeError(indexPath +
                     ": field 'weight_map' is missing or not an object");

  // Shard names are resolved next to the index; an absolute path or `..`
  // would let a downloaded index read files outside the model directory.
  llvm::StringRef directory = llvm::sys::path::parent_path(indexPath);
  std::map<std::string, std::vector<std::string>> tensorsByShard;
  for (const auto &entry : *weightMap) {
    std::optional<llvm::StringRef> shard = entry.second.getAsString();
    if (!shard)
      return makeError(indexPath + ": weight_map entry for tensor '" +
                       llvm::StringRef(entry.first) + "' is not a string");
    if (shard->empty() || llvm::sys::path::is_absolute(*shard) ||
        llvm::is_contained(llvm::make_range(llvm::sys::path::begin(*shard),
                                            llvm::sys::path::end(*shard)),
                           ".."))
      return makeError(indexPath + ": weight_map entry for tensor '" +
                       llvm::StringRef(entry.first) + "' names shard '" +
                       *shard + "' outside the checkpoint directory");
    tensorsByShard[shard->str()].push_back(llvm::StringRef(entry.first).str());
  }
  if (tensorsByShard.empty())
    return makeError(indexPath + ": field 'weight_map' lists no tensors");

  for (auto &[shardName, names] : tensorsByShard) {
    llvm::SmallString<256> shardPath(directory);
    llvm::sys::path::append(shardPath, shardName);
    llvm::Expected<std::unique_ptr<SafetensorsFile>> shard =
        SafetensorsFile::open(shardPath);
    if (!shard)
      return shard.takeError();
    for (const std::string &name : names)
      if (!(*shard)->lookup(name))
        return makeError(indexPath + ": tensor '" + name +
                         "' is mapped to shard " + shardPath +
                         ", which does not hold it");
    if (llvm::Error error = checkpoint->addShard(std::move(*shard)))
      return error;
  }
  return checkpoint;
}

const TensorView *SafetensorsCheckpoint::lookup(llvm::StringRef name) const {
  auto it = tensorsByName.find(name);
  return it == tensorsByName.end() ? nullptr : it->second;
}

std::vector<const TensorView *> SafetensorsCheckpoint::getTensors() const {
  std::vector<const TensorView *> result;
  result.reserve(tensorsByName.size());
  for (const auto &entry : tensorsByName)
    result.push_back(entry.second);
  llvm::sort(result, [](const TensorView *a, const TensorView *b) {
    return a->name < b->name;
  });
  return result;
}

} // namespace llmc::weights
