//===- WeightNameFilter.cpp - keep-fp: weight names kept in high precision ===//

#include "passes/WeightNameFilter.h"

#include "llvm/ADT/STLExtras.h"

namespace llmc {

llvm::Expected<WeightNameFilter> WeightNameFilter::parse(llvm::StringRef list) {
  WeightNameFilter filter;
  llvm::SmallVector<llvm::StringRef> entries;
  list.split(entries, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  for (llvm::StringRef entry : entries) {
    entry = entry.trim();
    if (entry.empty())
      continue;
    Pattern pattern{entry.str(), std::nullopt};
    if (entry.find_first_of("*?[") != llvm::StringRef::npos) {
      llvm::Expected<llvm::GlobPattern> glob = llvm::GlobPattern::create(entry);
      if (!glob)
        return llvm::createStringError(
            llvm::inconvertibleErrorCode(),
            "bad glob '" + entry + "': " + llvm::toString(glob.takeError()));
      pattern.glob = std::move(*glob);
    }
    filter.patterns.push_back(std::move(pattern));
  }
  return filter;
}

bool WeightNameFilter::matches(llvm::StringRef name) const {
  return llvm::any_of(patterns, [&](const Pattern &pattern) {
    return pattern.glob ? pattern.glob->match(name)
                        : name.contains(pattern.text);
  });
}

} // namespace llmc
