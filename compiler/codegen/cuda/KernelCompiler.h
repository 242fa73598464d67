//===- KernelCompiler.h - NVRTC: CUDA C++ to cubin + PTX, with a disk cache
//===//
//
// Compiles generated kernels for a target's exact architecture (sm_90a,
// sm_75, ...): the cubin runs on that chip, and the PTX (portable: sm_90
// rather than sm_90a, whose PTX no later GPU accepts) lets a newer GPU JIT
// the same code. NVRTC is linked only when
// the build found the CUDA toolkit; otherwise every compile is an error
// that says so.
//
// Cache: one file per kernel, named by the XXH64 of (source, architecture,
// NVRTC version, options), in $LLMC_KERNEL_CACHE or ~/.cache/llmc/kernels.
// Entries are written to a temporary file and renamed (readers never see a
// partial entry) and carry a checksum; an unreadable or corrupt entry is
// ignored and rewritten.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_CODEGEN_CUDA_KERNELCOMPILER_H
#define LLMC_COMPILER_CODEGEN_CUDA_KERNELCOMPILER_H

#include "compiler/codegen/cuda/CudaKernel.h"
#include "compiler/targets/Target.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace llmc::codegen::cuda {

struct CompiledKernel {
  std::string ptx;
  std::string cubin;
  bool fromCache = false;
};

struct KernelCompilerOptions {
  /// Empty: $LLMC_KERNEL_CACHE, else ~/.cache/llmc/kernels.
  std::string cacheDirectory;
  bool useCache = true;
  /// Parallel NVRTC compiles; 0: one per hardware thread.
  unsigned threads = 0;
};

struct KernelCompileStatistics {
  int64_t compiled = 0;
  int64_t cacheHits = 0;
  /// Corrupt or unreadable cache entries that were rebuilt.
  int64_t cacheEntriesRebuilt = 0;
};

/// Whether this build links NVRTC.
bool haveNvrtc();

/// "13.0", or empty without NVRTC.
std::string nvrtcVersion();

/// The directory the cache uses for `options`.
std::string kernelCacheDirectory(const KernelCompilerOptions &options);

/// The cache key of `kernel` for `target` (hex XXH64): what identifies a
/// compiled kernel on disk.
std::string kernelCacheKey(const CudaKernel &kernel, const Target &target);

/// Compiles every kernel for `target` (cache first). The result is in the
/// order of `kernels`. An NVRTC error names the kernel's entries, kind and
/// plan origin, and includes NVRTC's log.
llvm::Expected<std::vector<CompiledKernel>>
compileKernels(llvm::ArrayRef<CudaKernel> kernels, const Target &target,
               const KernelCompilerOptions &options,
               KernelCompileStatistics *statistics = nullptr);

} // namespace llmc::codegen::cuda

#endif // LLMC_COMPILER_CODEGEN_CUDA_KERNELCOMPILER_H
