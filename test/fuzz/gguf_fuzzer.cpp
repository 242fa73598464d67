// libFuzzer target: GgufFile::parse on arbitrary bytes, then every metadata
// value and every (small) tensor decoded, as the importer would touch them.

#include "compiler/weights/Gguf.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <vector>

namespace {

// Decoding is linear in the tensor size; bounding it keeps each input fast
// while still reaching every dequantizer.
constexpr uint64_t kMaxDecodedElements = 1 << 16;

void touchValue(const llmc::weights::GgufValue &value, int depth) {
  (void)value.getAsUnsigned();
  (void)value.getAsSigned();
  (void)value.getAsFloat();
  (void)value.getAsBool();
  (void)value.getAsString();
  if (value.getType() == llmc::weights::GgufValueType::Array && depth < 4 &&
      value.getArraySize() <= kMaxDecodedElements)
    for (const llmc::weights::GgufValue &element : value.getArrayElements())
      touchValue(element, depth + 1);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(reinterpret_cast<const char *>(data), size), "fuzz.gguf");
  auto file = llmc::weights::GgufFile::parse(std::move(buffer));
  if (!file) {
    llvm::consumeError(file.takeError());
    return 0;
  }
  for (const llmc::weights::GgufMetadataEntry &entry : (*file)->getMetadata())
    touchValue(entry.value, 0);
  for (const llmc::weights::GgufTensorInfo &tensor :
       (*file)->getTensorInfos()) {
    uint64_t elements = tensor.view.getNumElements();
    if (elements > kMaxDecodedElements)
      continue;
    std::vector<float> values(elements);
    llvm::consumeError(llmc::weights::readTensorAsF32(tensor.view, values));
  }
  return 0;
}
