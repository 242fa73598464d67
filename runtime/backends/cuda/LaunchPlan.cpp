//===- LaunchPlan.cpp - token-dependent grids and kernel parameters -------===//

#include "runtime/backends/cuda/LaunchPlan.h"

#include <algorithm>

namespace llmc::cuda {

bool launchRunsAt(uint32_t minTokens, uint32_t maxTokens, int64_t tokens) {
  return tokens >= static_cast<int64_t>(minTokens) &&
         (maxTokens == 0 || tokens <= static_cast<int64_t>(maxTokens));
}

Grid gridForTokens(const Grid &gridAtMaxTokens,
                   const std::vector<uint32_t> &gridTokenScale,
                   int64_t tokens) {
  Grid grid = gridAtMaxTokens;
  if (gridTokenScale.size() != 6)
    return grid;
  for (size_t dim = 0; dim < 3; ++dim) {
    uint64_t n = gridTokenScale[2 * dim], d = gridTokenScale[2 * dim + 1];
    if (n == 0 || d == 0)
      continue;
    uint64_t scaled =
        (static_cast<uint64_t>(std::max<int64_t>(tokens, 0)) * n + d - 1) / d;
    grid[dim] = static_cast<uint32_t>(std::max<uint64_t>(
        1, std::min<uint64_t>(scaled, gridAtMaxTokens[dim])));
  }
  return grid;
}

void KernelParams::finish() {
  pointers_.clear();
  for (uint64_t &slot : slots_)
    pointers_.push_back(&slot);
}

void KernelParams::setTokens(int64_t tokens) {
  for (const TokenArg &arg : tokenArgs_)
    slots_[arg.slot] = static_cast<uint64_t>(tokens * arg.rowsPerToken);
}

} // namespace llmc::cuda
