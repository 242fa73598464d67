//===- Safetensors.h - mmapped safetensors files and sharded checkpoints
//---===//
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
// {string: string}}), then the data buffer the offsets index. The reader
// maps the file and checks everything the format promises (sizes agree with
// dtype x shape, ranges in bounds, the buffer covered exactly once, no
// duplicate names) before handing out views, so later code can trust them.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_WEIGHTS_SAFETENSORS_H
#define LLMC_COMPILER_WEIGHTS_SAFETENSORS_H

#include "compiler/weights/DType.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <vector>

namespace llmc::weights {

class SafetensorsFile {
public:
  /// Maps `path` (no copy) and validates its header.
  static llvm::Expected<std::unique_ptr<SafetensorsFile>>
  open(llvm::StringRef path);
  /// Validates a file already in memory; the buffer's identifier is the path
  /// messages name. Tests and fuzzers use this to avoid the file system.
  static llvm::Expected<std::unique_ptr<SafetensorsFile>>
  parse(std::unique_ptr<llvm::MemoryBuffer> buffer);

  llvm::StringRef getPath() const { return buffer->getBufferIdentifier(); }
  /// Tensors in the order of their data offsets.
  llvm::ArrayRef<TensorView> getTensors() const { return tensors; }
  /// The tensor named `name`, or nullptr.
  const TensorView *lookup(llvm::StringRef name) const;
  /// The optional `__metadata__` map (e.g. {"format": "pt"}).
  const llvm::StringMap<std::string> &getMetadata() const { return metadata; }

private:
  explicit SafetensorsFile(std::unique_ptr<llvm::MemoryBuffer> buffer)
      : buffer(std::move(buffer)) {}
  llvm::Error parseHeader();

  std::unique_ptr<llvm::MemoryBuffer> buffer;
  std::vector<TensorView> tensors;
  llvm::StringMap<size_t> indexByName;
  llvm::StringMap<std::string> metadata;
};

/// All tensors of a Hugging Face checkpoint: one `.safetensors` file, or the
/// shards a `model.safetensors.index.json` lists. Each shard is mapped once.
class SafetensorsCheckpoint {
public:
  /// `path` is a `.safetensors` file, an `*.index.json`, or a directory
  /// holding `model.safetensors.index.json` or `model.safetensors`.
  static llvm::Expected<std::unique_ptr<SafetensorsCheckpoint>>
  open(llvm::StringRef path);

  /// The tensor named `name` in whichever shard holds it, or nullptr.
  const TensorView *lookup(llvm::StringRef name) const;
  /// Every tensor, sorted by name.
  std::vector<const TensorView *> getTensors() const;
  llvm::ArrayRef<std::unique_ptr<SafetensorsFile>> getShards() const {
    return shards;
  }

private:
  SafetensorsCheckpoint() = default;
  llvm::Error addShard(std::unique_ptr<SafetensorsFile> shard);

  std::vector<std::unique_ptr<SafetensorsFile>> shards;
  llvm::StringMap<const TensorView *> tensorsByName;
};

} // namespace llmc::weights

#endif // LLMC_COMPILER_WEIGHTS_SAFETENSORS_H
