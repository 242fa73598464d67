//===- VerifierUtils.h - diagnostics helpers shared by llmc's dialects
//-----===//

#ifndef LLMC_DIALECTS_COMMON_VERIFIERUTILS_H
#define LLMC_DIALECTS_COMMON_VERIFIERUTILS_H

#include "mlir/IR/Operation.h"
#include "mlir/Support/LLVM.h"

#include <string>

namespace llmc {

/// A shape as users write it in messages: [4096, ?].
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// A number as users write it in messages: 0.5, -50, 1e-05.
std::string formatNumber(double value);

/// The ranks of a collective group: non-empty, non-negative and distinct.
mlir::LogicalResult verifyCollectiveGroup(mlir::Operation *op,
                                          llvm::ArrayRef<int64_t> group);

} // namespace llmc

#endif // LLMC_DIALECTS_COMMON_VERIFIERUTILS_H
