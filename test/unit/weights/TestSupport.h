//===- TestSupport.h - shared helpers of the compiler/weights unit tests
//---===//

#ifndef LLMC_TEST_UNIT_WEIGHTS_TESTSUPPORT_H
#define LLMC_TEST_UNIT_WEIGHTS_TESTSUPPORT_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace llmc::weights::testing {

inline std::string dataPath(llvm::StringRef name) {
  return std::string(LLMC_WEIGHTS_TEST_DATA) + "/" + name.str();
}

/// The bytes of a file under data/, or an empty string (with a test failure).
inline std::string readDataFile(llvm::StringRef name) {
  auto buffer = llvm::MemoryBuffer::getFile(dataPath(name), /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer) {
    ADD_FAILURE() << "cannot read " << dataPath(name);
    return {};
  }
  return (*buffer)->getBuffer().str();
}

/// A golden written by make_test_data.py: raw little-endian float32.
inline std::vector<float> readGolden(llvm::StringRef name) {
  std::string bytes = readDataFile(name.str() + ".f32");
  std::vector<float> values(bytes.size() / 4);
  if (!values.empty())
    std::memcpy(values.data(), bytes.data(), values.size() * 4);
  return values;
}

/// Bitwise equality, except that any two NaNs match (the goldens' NaN
/// payloads and signs come from Python's math.nan, not from the bits).
inline ::testing::AssertionResult
sameFloats(const std::vector<float> &actual,
           const std::vector<float> &expected) {
  if (actual.size() != expected.size())
    return ::testing::AssertionFailure()
           << actual.size() << " values, expected " << expected.size();
  for (size_t i = 0; i < actual.size(); ++i) {
    uint32_t a, e;
    std::memcpy(&a, &actual[i], 4);
    std::memcpy(&e, &expected[i], 4);
    if (a == e || (std::isnan(actual[i]) && std::isnan(expected[i])))
      continue;
    return ::testing::AssertionFailure()
           << "value " << i << " is " << actual[i] << " (0x" << std::hex << a
           << "), expected " << std::dec << expected[i] << " (0x" << std::hex
           << e << ")";
  }
  return ::testing::AssertionSuccess();
}

/// A buffer named `path` in messages, holding a copy of `bytes`.
inline std::unique_ptr<llvm::MemoryBuffer> bufferOf(llvm::StringRef bytes,
                                                    llvm::StringRef path) {
  return llvm::MemoryBuffer::getMemBufferCopy(bytes, path);
}

/// The message of an Expected that must have failed ("" and a test failure
/// if it succeeded).
template <typename T> std::string errorOf(llvm::Expected<T> result) {
  if (result) {
    ADD_FAILURE() << "expected an error";
    return {};
  }
  return llvm::toString(result.takeError());
}
inline std::string errorOf(llvm::Error error) {
  if (!error) {
    ADD_FAILURE() << "expected an error";
    return {};
  }
  return llvm::toString(std::move(error));
}

inline void appendU32(std::string &bytes, uint32_t value) {
  char raw[4];
  llvm::support::endian::write32le(raw, value);
  bytes.append(raw, 4);
}
inline void appendU64(std::string &bytes, uint64_t value) {
  char raw[8];
  llvm::support::endian::write64le(raw, value);
  bytes.append(raw, 8);
}

} // namespace llmc::weights::testing

#endif // LLMC_TEST_UNIT_WEIGHTS_TESTSUPPORT_H
