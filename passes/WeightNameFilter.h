//===- WeightNameFilter.h - keep-fp: weight names kept in high precision --===//

#ifndef LLMC_PASSES_WEIGHTNAMEFILTER_H
#define LLMC_PASSES_WEIGHTNAMEFILTER_H

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/GlobPattern.h"

#include <optional>
#include <string>

namespace llmc {

/// A comma-separated list of weight-name patterns: an entry with a glob
/// character (`*`, `?`, `[`) matches whole names as a glob, any other entry
/// matches names containing it. Empty entries are ignored.
class WeightNameFilter {
public:
  /// Errors name the bad glob.
  static llvm::Expected<WeightNameFilter> parse(llvm::StringRef list);

  bool matches(llvm::StringRef name) const;

private:
  struct Pattern {
    std::string text;
    std::optional<llvm::GlobPattern> glob;
  };
  llvm::SmallVector<Pattern> patterns;
};

} // namespace llmc

#endif // LLMC_PASSES_WEIGHTNAMEFILTER_H
