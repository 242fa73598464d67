//===- VerifierUtils.cpp - diagnostics helpers shared by llmc's dialects
//---===//

#include "dialects/common/VerifierUtils.h"

#include "mlir/IR/BuiltinTypeInterfaces.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallSet.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>

namespace llmc {

std::string formatShape(llvm::ArrayRef<int64_t> shape) {
  std::string text = "[";
  llvm::raw_string_ostream os(text);
  llvm::interleaveComma(shape, os, [&](int64_t dim) {
    if (mlir::ShapedType::isDynamic(dim))
      os << "?";
    else
      os << dim;
  });
  os << "]";
  return text;
}

std::string formatNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", value);
  return text;
}

mlir::LogicalResult verifyCollectiveGroup(mlir::Operation *op,
                                          llvm::ArrayRef<int64_t> group) {
  if (group.empty())
    return op->emitOpError("group must name at least one rank");
  llvm::SmallSet<int64_t, 8> seen;
  for (int64_t rank : group) {
    if (rank < 0)
      return op->emitOpError("group rank must be non-negative, got ") << rank;
    if (!seen.insert(rank).second)
      return op->emitOpError("group names rank ") << rank << " twice";
  }
  return mlir::success();
}

} // namespace llmc
