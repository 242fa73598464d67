//===- CudaKernel.h - generated CUDA kernels: source, entries, launch rules
//===//
//
// What code generation hands to NVRTC, to `--emit=cuda|ptx` and (later) to
// the artifact: one self-contained CUDA C++ translation unit per distinct
// kernel instance, with its `extern "C"` entry points and how to launch
// each. No MLIR here: the runtime side of issue 6 can include it.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_CODEGEN_CUDA_CUDAKERNEL_H
#define LLMC_COMPILER_CODEGEN_CUDA_CUDAKERNEL_H

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace llmc::codegen::cuda {

/// How the grid follows the runtime token count T (the only dynamic size;
/// every other size is baked into the kernel).
enum class GridRule {
  /// grid = [T, 1, 1]: one block per token row.
  TokenRows,
  /// grid = [min(ceil(T * elementsPerToken / block), 65535), 1, 1]; the
  /// kernel loops grid-stride, so any grid is correct.
  FlatElements,
  /// grid = [ceil(N / 64), ceil(T / 64), 1] (dp4a GEMM tiles).
  Int8GemmTiles,
  /// grid = [ceil(N / (block / 32)), 1, 1]: one warp per output column.
  Int8GemvColumns,
  /// grid = [ceil(N / 32), ceil(T / 64), 1] (FP8 mma.sync tiles).
  Fp8GemmTiles,
  /// grid = [T * tokenMultiple, gridExtent, 1]: one block per (token, query
  /// head, split) of split-K decode attention.
  AttentionSplits,
  /// grid = [ceil(T / kAttentionQueryTile), gridExtent, 1]: one block per
  /// (query tile, query head) of prefill attention.
  AttentionQueryTiles,
};

/// Consecutive tokens one prefill attention block handles.
constexpr int64_t kAttentionQueryTile = 16;

/// Tokens per KV-cache block the generated kernels address: the artifact's
/// ModelConfig.kv_block_tokens (llmc compile writes 16); a GPU backend must
/// give them a cache with this block size.
constexpr int64_t kKVCacheBlockTokens = 16;

/// "grid = [T, 1, 1]" and so on, for manifests and messages.
std::string describeGridRule(GridRule rule);

struct KernelEntry;

/// A runtime value a kernel takes after its buffers and token arguments,
/// in the order of artifact.fbs's `LaunchArg`.
enum class ExtraArgument {
  /// `const LlmcDeviceBatch *` (runtime/include/llmc/device_batch.h).
  Batch,
  /// `long long`: the decoder layer of the step (its `layer` attribute).
  Layer,
  /// `void *`: `scratchBytes` of device scratch.
  Scratch,
};

/// The grid of a launch of `entry` over `tokens` tokens.
std::array<int64_t, 3> launchGrid(const KernelEntry &entry, int64_t tokens);

/// The same rule as numbers, for a launch prepared at max-tokens: dimension
/// d with scale[2d] > 0 is min(ceil(T * scale[2d] / scale[2d + 1]), the grid
/// at max-tokens); the others are static.
std::array<int64_t, 6> gridTokenScale(const KernelEntry &entry);

struct KernelEntry {
  /// The `extern "C"` name.
  std::string name;
  GridRule grid = GridRule::TokenRows;
  int64_t blockThreads = 0;
  /// Columns for TokenRows, elements per row for FlatElements, N for GEMMs.
  int64_t gridExtent = 0;
  /// Rows (TokenRows) or elements (FlatElements) per token: a kernel over a
  /// [T, heads, dim] view with one block per head row has heads rows per
  /// token.
  int64_t tokenMultiple = 1;
  /// The 64-bit integers the kernel takes after its buffers, each
  /// T * multiplier (its `rows`, `count` or `m`). Every generated kernel
  /// takes them as `long long`, so a launcher needs no other type.
  std::vector<int64_t> tokenArguments;
  /// The C parameter list, so a launcher can check what it passes.
  std::string parameters;
  /// The runtime launches, in order, every entry of a step's kernel whose
  /// token range holds T: minTokens <= T and (maxTokens == 0 or T <=
  /// maxTokens). Alternatives (a GEMV for T <= 4, tiles above) have disjoint
  /// ranges; stages (attention partials, then their combine) share one.
  int64_t minTokens = 0;
  int64_t maxTokens = 0;
  /// Runtime values passed after the token arguments (artifact.fbs
  /// `LaunchArg`): the forward call's LlmcDeviceBatch, the step's layer,
  /// device scratch.
  std::vector<ExtraArgument> extraArguments;
  /// Scratch the `Scratch` argument needs at max-tokens (shared by every
  /// launch; the entries of one step may pass data through it).
  int64_t scratchBytes = 0;
};

/// "always", "T <= 4", "T > 4", "5 <= T <= 64".
std::string describeTokenRange(const KernelEntry &entry);

struct CudaKernel {
  /// The template family: "rms_norm", "rope", "gemm_int8", ...
  std::string kind;
  /// The plan step(s) it implements, for messages: `plan.compute "rms_norm"
  /// at model.mlir:12:5`; a later fused group names its group here.
  std::string origin;
  /// A complete translation unit: the embedded template headers plus the
  /// instance's entry points. NVRTC needs only the CUDA include directory.
  std::string source;
  std::vector<KernelEntry> entries;
  /// XXH64 of the source (hex, first 8 digits), also the entries' suffix.
  std::string sourceHash;
  /// How many plan steps use this instance (identical steps share it).
  int64_t uses = 1;
};

} // namespace llmc::codegen::cuda

#endif // LLMC_COMPILER_CODEGEN_CUDA_CUDAKERNEL_H
