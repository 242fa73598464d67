//===- PlanBuffer.h - a plan buffer resolved to memory ----------*- C++ -*-===//
//
// Shared by the backends: a `Buffer` of the artifact's plan at an address
// (host for the CPU engine, device for CUDA), with how its leading
// dimension follows the forward call's token count.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_ENGINE_PLANBUFFER_H
#define LLMC_RUNTIME_ENGINE_PLANBUFFER_H

#include "runtime/schema/artifact_generated.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace llmc::engine {

template <typename Address> struct PlanBuffer {
  Address data{};
  artifact::DType dtype = artifact::DType::F32;
  std::vector<int64_t> shape;
  bool tokenRows = false;
  /// k of `k * max_tokens` (token-rows buffers only).
  int64_t rowsPerToken = 1;

  /// Leading dimension for a call over `tokens` tokens.
  int64_t dim0(int64_t tokens) const {
    if (shape.empty())
      return 1;
    return tokenRows ? rowsPerToken * tokens : shape[0];
  }
  int64_t inner() const {
    int64_t n = 1;
    for (size_t i = 1; i < shape.size(); ++i)
      n *= shape[i];
    return n;
  }
  int64_t lastDim() const { return shape.empty() ? 1 : shape.back(); }
  int64_t elements(int64_t tokens) const { return dim0(tokens) * inner(); }
  /// Rows of the [rows, lastDim] matrix this buffer is, for `tokens`.
  int64_t matrixRows(int64_t tokens) const {
    return elements(tokens) / std::max<int64_t>(1, lastDim());
  }
};

/// Reads `buffer` (in an arena starting at `arenaBase`) into `out`; "" or
/// the fault. The arena index and bounds are the caller's (the loader
/// verified them).
template <typename Address>
std::string readPlanBuffer(const artifact::Buffer &buffer, Address arenaBase,
                           int64_t maxTokens, PlanBuffer<Address> &out) {
  out.data = arenaBase + buffer.offset();
  out.dtype = buffer.dtype();
  out.shape.clear();
  if (buffer.shape())
    out.shape.assign(buffer.shape()->begin(), buffer.shape()->end());
  out.tokenRows = buffer.token_rows();
  if (out.tokenRows) {
    if (out.shape.empty() || out.shape[0] % maxTokens != 0)
      return "token-rows buffer whose leading dimension is not a multiple "
             "of max_tokens";
    out.rowsPerToken = out.shape[0] / maxTokens;
  }
  return "";
}

} // namespace llmc::engine

#endif // LLMC_RUNTIME_ENGINE_PLANBUFFER_H
