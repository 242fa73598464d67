//===- Checksum.h - XXH64, the checksum of every .llmc blob and header ---===//
//
// Writer and loader hash with the same function: XXH64 with seed 0 from
// Debian's libxxhash-dev, inlined (XXH_INLINE_ALL) so that neither the
// compiler nor the deployable runtime needs libxxhash at run time.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SCHEMA_CHECKSUM_H
#define LLMC_RUNTIME_SCHEMA_CHECKSUM_H

#include <cstddef>
#include <cstdint>

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

namespace llmc::artifact {

inline uint64_t xxhash64(const void *data, size_t bytes) {
  return static_cast<uint64_t>(XXH64(data, bytes, /*seed=*/0));
}

} // namespace llmc::artifact

#endif // LLMC_RUNTIME_SCHEMA_CHECKSUM_H
