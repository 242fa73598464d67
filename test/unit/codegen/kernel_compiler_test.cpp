//===- kernel_compiler_test.cpp - NVRTC driver errors, cache keys, sources ===//

#include "compiler/codegen/cuda/KernelCompiler.h"
#include "compiler/codegen/cuda/KernelSources.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace llmc::codegen::cuda {
namespace {

CudaKernel kernelWithSource(std::string source) {
  CudaKernel kernel;
  kernel.kind = "rms_norm";
  kernel.origin = "plan.compute \"rms_norm\" at model.mlir:12:5";
  kernel.source = std::move(source);
  KernelEntry entry;
  entry.name = "llmc_rms_norm_64_0badc0de";
  kernel.entries.push_back(entry);
  return kernel;
}

// A kernel NVRTC rejects fails with a message naming the entry, the kind,
// the plan step it came from, the architecture and NVRTC's own log; a build
// without the CUDA toolkit says GPU code generation needs it.
TEST(KernelCompiler, CompileErrorNamesKernelStepAndLog) {
  const Target *h100 = lookupTarget("h100");
  ASSERT_NE(h100, nullptr);
  CudaKernel broken = kernelWithSource(
      "extern \"C\" __global__ void llmc_rms_norm_64_0badc0de() { "
      "undeclared_thing = 1; }\n");
  KernelCompilerOptions options;
  options.useCache = false;
  auto result = compileKernels({broken}, *h100, options);
  ASSERT_FALSE(static_cast<bool>(result));
  std::string message = llvm::toString(result.takeError());
  if (!haveNvrtc()) {
    EXPECT_NE(message.find("built without the CUDA toolkit"), std::string::npos)
        << message;
    return;
  }
  EXPECT_NE(message.find("llmc_rms_norm_64_0badc0de"), std::string::npos)
      << message;
  EXPECT_NE(message.find("rms_norm, from plan.compute \"rms_norm\" at "
                         "model.mlir:12:5"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("sm_90a"), std::string::npos) << message;
  EXPECT_NE(message.find("undeclared_thing"), std::string::npos)
      << "NVRTC's log is part of the message: " << message;
}

// A valid kernel yields PTX for the exact architecture and an ELF cubin;
// the second compile of the same source comes from the cache, bit for bit.
TEST(KernelCompiler, CompilesToPtxAndCubinThroughTheCache) {
  if (!haveNvrtc())
    GTEST_SKIP() << "built without the CUDA toolkit";
  const Target *t4 = lookupTarget("t4");
  ASSERT_NE(t4, nullptr);
  CudaKernel kernel = kernelWithSource(
      "extern \"C\" __global__ void llmc_rms_norm_64_0badc0de(int *out) { "
      "out[threadIdx.x] = __dp4a(0x01010101, 0x02020202, 3); }\n");
  llvm::SmallString<128> directory;
  ASSERT_FALSE(
      llvm::sys::fs::createUniqueDirectory("llmc-kernel-cache", directory));
  KernelCompilerOptions options;
  options.cacheDirectory = std::string(directory);
  KernelCompileStatistics statistics;
  auto first = compileKernels({kernel}, *t4, options, &statistics);
  ASSERT_TRUE(static_cast<bool>(first)) << llvm::toString(first.takeError());
  ASSERT_EQ(first->size(), 1u);
  const CompiledKernel &compiled = (*first)[0];
  EXPECT_FALSE(compiled.fromCache);
  EXPECT_NE(compiled.ptx.find(".target sm_75"), std::string::npos);
  EXPECT_NE(compiled.ptx.find(".entry llmc_rms_norm_64_0badc0de"),
            std::string::npos);
  EXPECT_NE(compiled.ptx.find("dp4a"), std::string::npos);
  ASSERT_GE(compiled.cubin.size(), 4u);
  EXPECT_EQ(compiled.cubin.substr(0, 4), "\x7f"
                                         "ELF");
  auto second = compileKernels({kernel}, *t4, options, &statistics);
  ASSERT_TRUE(static_cast<bool>(second)) << llvm::toString(second.takeError());
  EXPECT_TRUE((*second)[0].fromCache);
  EXPECT_EQ((*second)[0].ptx, compiled.ptx);
  EXPECT_EQ((*second)[0].cubin, compiled.cubin);
  EXPECT_EQ(statistics.compiled, 1);
  EXPECT_EQ(statistics.cacheHits, 1);
  llvm::sys::fs::remove_directories(directory);
}

// An arch-specific target (sm_90a) gets its cubin for sm_90a and portable
// sm_90 PTX: PTX for sm_90a would not JIT on any newer GPU.
TEST(KernelCompiler, ArchSpecificTargetsGetPortablePtx) {
  if (!haveNvrtc())
    GTEST_SKIP() << "built without the CUDA toolkit";
  const Target *h100 = lookupTarget("h100");
  ASSERT_NE(h100, nullptr);
  CudaKernel kernel = kernelWithSource(
      "extern \"C\" __global__ void llmc_rms_norm_64_0badc0de(float *out) { "
      "out[threadIdx.x] = 1.0f; }\n");
  KernelCompilerOptions options;
  options.useCache = false;
  auto compiled = compileKernels({kernel}, *h100, options);
  ASSERT_TRUE(static_cast<bool>(compiled))
      << llvm::toString(compiled.takeError());
  const std::string &ptx = (*compiled)[0].ptx;
  EXPECT_NE(ptx.find(".target sm_90\n"), std::string::npos) << ptx;
  EXPECT_EQ((*compiled)[0].cubin.substr(0, 4), "\x7f"
                                               "ELF");
}

// The CPU is not a CUDA target, whatever the build.
TEST(KernelCompiler, RefusesCpuTarget) {
  const Target *cpu = lookupTarget("cpu");
  ASSERT_NE(cpu, nullptr);
  auto result = compileKernels({kernelWithSource("")}, *cpu, {});
  ASSERT_FALSE(static_cast<bool>(result));
  EXPECT_NE(llvm::toString(result.takeError()).find("cpu"), std::string::npos);
}

// The cache key is a function of source and architecture: equal inputs give
// equal keys, a changed byte or another chip gives another key.
TEST(KernelCompiler, CacheKeyCoversSourceAndArchitecture) {
  const Target *h100 = lookupTarget("h100");
  const Target *a100 = lookupTarget("a100");
  CudaKernel one = kernelWithSource("// a\n");
  CudaKernel same = kernelWithSource("// a\n");
  CudaKernel other = kernelWithSource("// b\n");
  EXPECT_EQ(kernelCacheKey(one, *h100), kernelCacheKey(same, *h100));
  EXPECT_NE(kernelCacheKey(one, *h100), kernelCacheKey(other, *h100));
  EXPECT_NE(kernelCacheKey(one, *h100), kernelCacheKey(one, *a100));
  EXPECT_EQ(kernelCacheKey(one, *h100).size(), 16u);
}

// An explicit folder wins over $LLMC_KERNEL_CACHE, which wins over the
// default under the home directory.
TEST(KernelCompiler, CacheDirectoryPrecedence) {
  KernelCompilerOptions options;
  options.cacheDirectory = "/explicit";
  setenv("LLMC_KERNEL_CACHE", "/from-env", 1);
  EXPECT_EQ(kernelCacheDirectory(options), "/explicit");
  EXPECT_EQ(kernelCacheDirectory({}), "/from-env");
  unsetenv("LLMC_KERNEL_CACHE");
  unsetenv("XDG_CACHE_HOME");
  EXPECT_NE(kernelCacheDirectory({}).find(".cache/llmc/kernels"),
            std::string::npos);
}

// The numeric rule a launch carries (grid at max-tokens plus
// grid_token_scale) gives the same grid as launchGrid for every T.
TEST(LaunchRules, TokenScaleReproducesTheGrid) {
  const int64_t maxTokens = 512;
  std::vector<KernelEntry> entries(7);
  entries[0].grid = GridRule::TokenRows;
  entries[0].tokenMultiple = 3;
  entries[1].grid = GridRule::FlatElements;
  entries[1].blockThreads = 256;
  entries[1].tokenMultiple = 65536; // capped at 65535 blocks at max-tokens
  entries[2].grid = GridRule::Int8GemmTiles;
  entries[2].gridExtent = 4096;
  entries[3].grid = GridRule::Int8GemvColumns;
  entries[3].blockThreads = 128;
  entries[3].gridExtent = 1000;
  entries[4].grid = GridRule::Fp8GemmTiles;
  entries[4].gridExtent = 6144;
  entries[5].grid = GridRule::AttentionSplits; // 32 heads x 16 splits
  entries[5].tokenMultiple = 32;
  entries[5].gridExtent = 16;
  entries[6].grid = GridRule::AttentionQueryTiles; // 16-token tiles x 8 heads
  entries[6].gridExtent = 8;
  for (const KernelEntry &entry : entries) {
    std::array<int64_t, 3> atMax = launchGrid(entry, maxTokens);
    std::array<int64_t, 6> scale = gridTokenScale(entry);
    for (int64_t tokens : {1, 2, 63, 64, 65, 300, 512}) {
      std::array<int64_t, 3> expected = launchGrid(entry, tokens);
      for (int d = 0; d < 3; ++d) {
        int64_t numerator = scale[2 * d], denominator = scale[2 * d + 1];
        int64_t dim =
            numerator == 0
                ? atMax[d]
                : std::min(atMax[d], (tokens * numerator + denominator - 1) /
                                         denominator);
        EXPECT_EQ(dim, expected[d])
            << describeGridRule(entry.grid) << " T=" << tokens << " dim " << d;
      }
    }
  }
  EXPECT_EQ(launchGrid(entries[1], maxTokens)[0], 65535);
  EXPECT_EQ(launchGrid(entries[0], 7)[0], 21);
  EXPECT_EQ(launchGrid(entries[3], 7)[0], 250);
  EXPECT_EQ(launchGrid(entries[5], 3), (std::array<int64_t, 3>{96, 16, 1}));
  EXPECT_EQ(launchGrid(entries[6], 17), (std::array<int64_t, 3>{2, 8, 1}));
}

// The templates embedded in the compiler are the files in the source tree
// (the build step re-embeds them on every change).
TEST(KernelSources, EmbeddedHeadersMatchSourceTree) {
  for (const char *name :
       {"Common.cuh", "Norm.cuh", "Rope.cuh", "Softmax.cuh", "Elementwise.cuh",
        "Quantize.cuh", "Embedding.cuh", "GemmInt8.cuh", "GemmFp8.cuh",
        "KVCache.cuh", "RopeKVWrite.cuh", "Attention.cuh", "device_batch.h",
        "GemmEpilogue.cuh", "GemmWeightOnly.cuh"}) {
    // device_batch.h is the runtime's header, embedded from its own place.
    std::string folder = std::string(LLMC_KERNEL_SOURCE_DIR) +
                         (std::string(name) == "device_batch.h"
                              ? "/../../../../runtime/include/llmc"
                              : "");
    std::ifstream file(folder + "/" + name);
    ASSERT_TRUE(file.good()) << name;
    std::stringstream text;
    text << file.rdbuf();
    EXPECT_EQ(kernelHeader(name).str(), text.str()) << name;
  }
  EXPECT_TRUE(kernelHeader("Missing.cuh").empty());
}

} // namespace
} // namespace llmc::codegen::cuda
