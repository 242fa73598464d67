// libFuzzer target: SafetensorsFile::parse on arbitrary bytes, then every
// (small) tensor decoded, as the importer would touch them.

#include "compiler/weights/Safetensors.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <vector>

namespace {
constexpr uint64_t kMaxDecodedElements = 1 << 16;
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(reinterpret_cast<const char *>(data), size),
      "fuzz.safetensors");
  auto file = llmc::weights::SafetensorsFile::parse(std::move(buffer));
  if (!file) {
    llvm::consumeError(file.takeError());
    return 0;
  }
  for (const llmc::weights::TensorView &tensor : (*file)->getTensors()) {
    uint64_t elements = tensor.getNumElements();
    if (elements > kMaxDecodedElements)
      continue;
    std::vector<float> values(elements);
    llvm::consumeError(llmc::weights::readTensorAsF32(tensor, values));
  }
  return 0;
}
