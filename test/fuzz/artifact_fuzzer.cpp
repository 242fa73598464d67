// libFuzzer target: the .llmc loader (runtime/loader) on arbitrary bytes,
// then the inspect report over whatever it accepts. Each input is tried
// twice: as it is, and with the header and metadata checksums recomputed so
// that mutations reach the FlatBuffer verifier and the semantic checks
// instead of stopping at a checksum mismatch.

#include "runtime/inspect/Inspect.h"
#include "runtime/loader/Artifact.h"
#include "runtime/schema/ArtifactHeader.h"
#include "runtime/schema/Checksum.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace {

void exercise(const uint8_t *data, size_t size,
              llmc::loader::ChecksumPolicy policy) {
  using llmc::loader::Artifact;
  std::unique_ptr<Artifact> artifact;
  llmc::loader::OpenOptions options;
  options.checksums = policy;
  if (!Artifact::fromMemory(data, size, "fuzz.llmc", options, artifact))
    return;
  llmc::inspect::formatArtifactText(*artifact);
  llmc::inspect::formatArtifactJson(*artifact);
  llmc::tokenizer::TokenizerVectors vectors;
  if (artifact->hasTokenizer())
    (void)artifact->tokenizerVectors(vectors);
  for (size_t i = 0; i < artifact->tensorCount(); ++i) {
    llmc::loader::TensorRef ref = artifact->tensor(i);
    volatile uint8_t sink = 0;
    if (ref.bytes)
      sink = ref.data[ref.bytes - 1];
    (void)sink;
    (void)artifact->findTensor(ref.name, ref);
  }
  (void)artifact->verifyAllChecksums();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  exercise(data, size, llmc::loader::ChecksumPolicy::AtOpen);
  using namespace llmc::artifact;
  if (size < kHeaderBytes || !hasMagic(data, size))
    return 0;
  std::vector<uint8_t> fixed(data, data + size);
  FixedHeader header = decodeHeader(fixed.data());
  if (header.flatbufferOffset <= size &&
      header.flatbufferBytes <= size - header.flatbufferOffset)
    header.flatbufferXxhash64 = xxhash64(fixed.data() + header.flatbufferOffset,
                                         header.flatbufferBytes);
  encodeHeader(header, fixed.data());
  storeHeaderChecksum(fixed.data(),
                      xxhash64(fixed.data(), header_offset::kHeaderXxhash64));
  exercise(fixed.data(), fixed.size(), llmc::loader::ChecksumPolicy::Lazy);
  return 0;
}
