//===- LaunchPlan.h - how a LaunchStep runs for a forward call of T tokens ===//
//
// The launch ABI of artifact format 1.1 (docs/codegen.md, "Launches") as pure
// functions, so that it is unit-tested without a GPU:
//  - which launches of a step run for T tokens (min_tokens / max_tokens);
//  - the grid for T (`grid_token_scale`: min(ceil(T * n / d), grid[dim]));
//  - the kernel parameter array: buffer pointers, one `long long` T * k per
//    token argument, then the extra arguments (batch, layer, scratch). It is
//    built once per launch at load; a forward call only patches the token
//    arguments (`setTokens`).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_BACKENDS_CUDA_LAUNCHPLAN_H
#define LLMC_RUNTIME_BACKENDS_CUDA_LAUNCHPLAN_H

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace llmc::cuda {

/// True when a launch with this token range runs for a call over `tokens`
/// tokens (max_tokens 0: no upper bound).
bool launchRunsAt(uint32_t minTokens, uint32_t maxTokens, int64_t tokens);

using Grid = std::array<uint32_t, 3>;

/// The grid of a call over `tokens` tokens: a dimension with n > 0 is
/// min(ceil(tokens * n / d), grid[dim]) (at least 1), the others grid[dim].
Grid gridForTokens(const Grid &gridAtMaxTokens,
                   const std::vector<uint32_t> &gridTokenScale, int64_t tokens);

/// A kernel's parameter array in cuLaunchKernel's form: `pointers()[i]`
/// points at the value of parameter i. Every parameter of the 1.1 ABI is 8
/// bytes (device pointers and `long long`), so values live in one vector of
/// 64-bit slots that never moves after `finish`.
class KernelParams {
public:
  /// A device pointer (a buffer, the batch, the scratch).
  void addPointer(uint64_t deviceAddress) { slots_.push_back(deviceAddress); }
  /// A `long long` that does not depend on T (the layer).
  void addInt64(int64_t value) {
    slots_.push_back(static_cast<uint64_t>(value));
  }
  /// A `long long` equal to T * rowsPerToken for a call over T tokens.
  void addTokenArg(int64_t rowsPerToken) {
    tokenArgs_.push_back({slots_.size(), rowsPerToken});
    slots_.push_back(0);
  }
  /// Fixes the slots (call after the last add) and builds the pointer array.
  void finish();
  /// Writes T * k into every token argument.
  void setTokens(int64_t tokens);

  size_t size() const { return slots_.size(); }
  int64_t value(size_t index) const {
    return static_cast<int64_t>(slots_[index]);
  }
  void **pointers() { return pointers_.data(); }

private:
  struct TokenArg {
    size_t slot;
    int64_t rowsPerToken;
  };
  std::vector<uint64_t> slots_;
  std::vector<TokenArg> tokenArgs_;
  std::vector<void *> pointers_;
};

} // namespace llmc::cuda

#endif // LLMC_RUNTIME_BACKENDS_CUDA_LAUNCHPLAN_H
