//===- PatchArtifact.h - damage an artifact's metadata past its checksums -===//
//
// Tests of the loader's semantic checks need a FlatBuffer that passes the
// generated verifier and the checksums but says something wrong (a launch of
// a kernel that does not exist). The writer refuses to write such a thing,
// so these helpers patch a written file and forge its checksums.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_UNIT_ARTIFACT_PATCHARTIFACT_H
#define LLMC_TEST_UNIT_ARTIFACT_PATCHARTIFACT_H

#include "runtime/schema/ArtifactHeader.h"
#include "runtime/schema/Checksum.h"
#include "runtime/schema/artifact_generated.h"

#include <cstring>
#include <string>

namespace llmc::artifact::testing {

/// The file offset of scalar `field` of `table`, a table inside the artifact
/// whose first byte is `file` (the writer forces every scalar, so it is
/// present); SIZE_MAX when absent.
inline size_t fieldOffset(const uint8_t *file, const void *table,
                          flatbuffers::voffset_t field) {
  const uint8_t *address =
      reinterpret_cast<const flatbuffers::Table *>(table)->GetAddressOf(field);
  return address ? size_t(address - file) : SIZE_MAX;
}

/// `bytes` with the uint32 at `offset` set to `value` and the header's
/// FlatBuffer and header checksums forged to match.
inline std::string patchMetadata(const std::string &bytes, size_t offset,
                                 uint32_t value) {
  std::string patched = bytes;
  auto *data = reinterpret_cast<uint8_t *>(patched.data());
  std::memcpy(data + offset, &value, sizeof value);
  FixedHeader header = decodeHeader(data);
  header.flatbufferXxhash64 = xxhash64(data + 64, header.flatbufferBytes);
  encodeHeader(header, data);
  storeHeaderChecksum(data, xxhash64(data, 56));
  return patched;
}

/// The first launch of the first step that has launches in rank 0's plan
/// of the artifact `bytes`, or nullptr.
inline const LaunchStep *firstStepLaunch(const std::string &bytes) {
  const Artifact *root = GetArtifact(bytes.data() + 64);
  if (!root->plans() || root->plans()->size() == 0)
    return nullptr;
  const RankPlan *plan = root->plans()->Get(0);
  if (plan->steps())
    for (const Step *step : *plan->steps())
      if (step->launches() && step->launches()->size() > 0)
        return step->launches()->Get(0);
  return nullptr;
}

} // namespace llmc::artifact::testing

#endif // LLMC_TEST_UNIT_ARTIFACT_PATCHARTIFACT_H
