//===- Support.h - helpers shared by the weight readers (not installed API)
//-===//

#ifndef LLMC_COMPILER_WEIGHTS_SUPPORT_H
#define LLMC_COMPILER_WEIGHTS_SUPPORT_H

#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <cstdint>

namespace llmc::weights::detail {

/// Every reader error is a message that starts with the file path.
inline llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// `result = a * b`; true when the product does not fit in 64 bits.
inline bool multiplyOverflows(uint64_t a, uint64_t b, uint64_t &result) {
  return __builtin_mul_overflow(a, b, &result);
}

} // namespace llmc::weights::detail

#endif // LLMC_COMPILER_WEIGHTS_SUPPORT_H
