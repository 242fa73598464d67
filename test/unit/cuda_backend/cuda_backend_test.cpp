//===- cuda_backend_test.cpp - the CUDA backend's checks without a GPU ----===//
//
// What the CUDA backend decides before it touches a GPU: the plan check
// (every step runnable, refused by name otherwise), the KV-cache tile layout
// (equal to the CPU PagedKVCache's, which generated kernels share through
// llmc/device_batch.h), and the messages of a machine without a driver.

#include "CudaPlanArtifact.h"

#include "runtime/backends/cuda/CudaDriver.h"
#include "runtime/backends/cuda/CudaEngine.h"
#include "runtime/engine/Engine.h"
#include "runtime/kv_cache/KVCache.h"

#include <gtest/gtest.h>

namespace llmc::cuda {
namespace {

namespace fb = ::llmc::artifact;
using test::CudaBufferSpec;
using test::CudaLaunchSpec;
using test::CudaPlanArtifact;

/// A GPU plan: token ids in, one step producing [T, 8] f32 logits.
struct TinyPlan {
  CudaPlanArtifact plan{4, true};
  CudaBufferSpec ids, x, w, logits;
  TinyPlan() {
    ids = plan.tokenIds();
    x = plan.buffer(0, {4, 16}, fb::DType::F32, 4 * 4 * 16, true);
    w = plan.buffer(1, {8, 16}, fb::DType::F32, 4 * 8 * 16, false);
    logits = plan.buffer(0, {4, 8}, fb::DType::F32, 4 * 4 * 8, true);
    plan.setLogits(logits);
    std::vector<float> weights(8 * 16, 0.5f);
    plan.load("w", w, weights.data(), 4 * weights.size());
  }
  runtime::Status check() {
    std::unique_ptr<loader::Artifact> artifact;
    if (runtime::Status s = plan.open(artifact, "tiny.llmc"); !s.ok())
      return s;
    return checkPlanRunsOnCuda(*artifact);
  }
};

// cuBLASLt GEMMs and known host routines need no kernel.
TEST(CudaPlanCheck, AcceptsCublasLtGemmsAndHostCopies) {
  TinyPlan t;
  t.plan.host("copy_tokens_in");
  t.plan.gemm({t.x, t.w, t.logits});
  t.plan.host("copy_logits_out");
  runtime::Status s = t.check();
  EXPECT_TRUE(s.ok()) << s.message();
}

// A compute step without launches is refused by index and name, as the issue
// words it.
TEST(CudaPlanCheck, RefusesComputeStepWithoutKernel) {
  TinyPlan t;
  t.plan.gemm({t.x, t.w, t.logits});
  t.plan.compute("cached_attention", {t.x}, {t.x});
  runtime::Status s = t.check();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "tiny.llmc: step 1 (cached_attention) has no CUDA kernel in this "
            "artifact");
}

// The same step with a launch passes; a generated GEMM without one fails.
TEST(CudaPlanCheck, LaunchesMakeStepsRunnable) {
  TinyPlan t;
  uint32_t module = t.plan.kernelModule({1, 2, 3}, {}, {"scaleRows"});
  uint32_t kernel = t.plan.kernel("scaleRows", module);
  CudaLaunchSpec launch;
  launch.kernel = kernel;
  launch.grid = {4, 1, 1};
  launch.block = {128, 1, 1};
  launch.args = {t.x, t.logits};
  launch.gridTokenScale = {1, 1, 0, 0, 0, 0};
  launch.tokenArgs = {1};
  launch.extraArgs = {fb::LaunchArg::Batch, fb::LaunchArg::Layer};
  t.plan.compute("rms_norm", {t.x}, {t.logits}, {launch});
  EXPECT_TRUE(t.check().ok()) << t.check().message();

  CudaPlanArtifact::GemmOperands generated{t.x, t.w, t.logits};
  generated.backend = fb::GemmBackend::Generated;
  t.plan.gemm(generated);
  runtime::Status s = t.check();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("step 1 (gemm) has no CUDA kernel in this "
                             "artifact (a Generated GEMM without launches)"),
            std::string::npos)
      << s.message();
}

// Malformed launches are refused before any GPU work, naming the step: the
// loader's structural checks, then CUDA's block limit.
TEST(CudaPlanCheck, RefusesMalformedLaunches) {
  auto withLaunch = [](auto edit) {
    TinyPlan t;
    uint32_t module = t.plan.kernelModule({1}, {}, {"k"});
    CudaLaunchSpec launch;
    launch.kernel = t.plan.kernel("k", module);
    launch.grid = {4, 1, 1};
    launch.block = {64, 1, 1};
    edit(launch);
    t.plan.compute("silu", {t.x}, {t.logits}, {launch});
    return t.check();
  };
  runtime::Status s = withLaunch([](CudaLaunchSpec &l) { l.kernel = 7; });
  EXPECT_NE(s.message().find("step 0 launch 0 launches kernel 7 of 1"),
            std::string::npos)
      << s.message();
  s = withLaunch([](CudaLaunchSpec &l) { l.block = {64, 32, 1}; });
  EXPECT_NE(s.message().find("step 0 (silu) kernel 0: a block of 2048 threads"),
            std::string::npos)
      << s.message();
  s = withLaunch(
      [](CudaLaunchSpec &l) { l.gridTokenScale = {1, 0, 0, 0, 0, 0}; });
  EXPECT_NE(s.message().find("step 0 launch 0 divides the grid by 0 tokens"),
            std::string::npos)
      << s.message();
}

// Host routines other than the engine's own copies are refused.
TEST(CudaPlanCheck, RefusesUnknownHostRoutine) {
  TinyPlan t;
  t.plan.host("sample");
  runtime::Status s = t.check();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("step 0 (sample) is a host routine"),
            std::string::npos);
}

// A CPU artifact is refused with the way out.
TEST(CudaPlanCheck, RefusesCpuArtifacts) {
  CudaPlanArtifact plan(4, /*gpu=*/false);
  plan.setLogits(plan.buffer(0, {4, 8}, fb::DType::F32, 128, true));
  plan.tokenIds();
  std::unique_ptr<loader::Artifact> artifact;
  ASSERT_TRUE(plan.open(artifact, "cpu.llmc").ok());
  runtime::Status s = checkPlanRunsOnCuda(*artifact);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().rfind("--device=cuda: cpu.llmc targets cpu", 0), 0u)
      << s.message();
  EXPECT_NE(s.message().find("--device=cpu"), std::string::npos);
}

// The device KV cache's tiles have the CPU cache's size, so a kernel and the
// CPU backend agree on where block b, head h lives (f32, bf16, int8, fp8).
TEST(CudaKVLayout, TileBytesEqualTheCpuCache) {
  for (auto [dtype, quantization] :
       {std::pair{cpu::DType::F32, kv::KVQuantization::None},
        std::pair{cpu::DType::BF16, kv::KVQuantization::None},
        std::pair{cpu::DType::F32, kv::KVQuantization::Int8},
        std::pair{cpu::DType::F32, kv::KVQuantization::Fp8E4M3}}) {
    for (int64_t headDim : {6, 64}) {
      kv::KVCacheConfig config;
      config.numLayers = 1;
      config.numKVHeads = 3;
      config.headDim = headDim;
      config.blockTokens = 16;
      config.numBlocks = 4;
      config.dtype = dtype;
      config.quantization = quantization;
      std::unique_ptr<kv::PagedKVCache> cache;
      ASSERT_TRUE(kv::PagedKVCache::create(config, cache).ok());
      auto at = [&](int32_t block, int64_t head) {
        return static_cast<const uint8_t *>(cache->keyTile(0, block, head)) -
               static_cast<const uint8_t *>(cache->keyTile(0, 0, 0));
      };
      const int64_t tile = kvTileBytes(config);
      EXPECT_EQ(at(0, 1), tile);
      EXPECT_EQ(at(2, 1), (2 * 3 + 1) * tile);
      EXPECT_EQ(cache->bytes(), 2 * config.numBlocks * 3 * tile);
    }
  }
}

// The messages of a machine without a usable driver.
TEST(CudaDriverMessages, NoDriverStubAndNoDevice) {
  EXPECT_EQ(describeDriverLoadFailure(false, "", "", 0, ""),
            "--device=cuda: no NVIDIA driver (libcuda.so.1 not found); use "
            "--device=cpu");
  std::string stub = describeDriverLoadFailure(
      true, "libcuda.so", "", kCudaErrorStubLibrary, "CUDA_ERROR_STUB_LIBRARY");
  EXPECT_NE(stub.find("stub library"), std::string::npos);
  EXPECT_NE(stub.find("CUDA_ERROR_STUB_LIBRARY"), std::string::npos);
  EXPECT_NE(describeDriverLoadFailure(true, "libcuda.so.1", "",
                                      CUDA_ERROR_NO_DEVICE,
                                      "CUDA_ERROR_NO_DEVICE")
                .find("sees no CUDA device"),
            std::string::npos);
  EXPECT_NE(describeDriverLoadFailure(true, "libcuda.so.1", "", 999,
                                      "CUDA_ERROR_UNKNOWN")
                .find("cuInit failed: CUDA_ERROR_UNKNOWN"),
            std::string::npos);
}

// Engine::create with --device=cuda reports the driver problem of this
// machine (or, with a GPU, gets past it), and bad device names are refused.
TEST(CudaEngineCreate, ReportsTheDriverOrBadDevice) {
  TinyPlan t;
  t.plan.gemm({t.x, t.w, t.logits});
  std::unique_ptr<loader::Artifact> artifact;
  ASSERT_TRUE(t.plan.open(artifact).ok());
  engine::EngineOptions options;
  options.device = "cuda:x";
  std::unique_ptr<engine::Engine> engine;
  runtime::Status s = engine::Engine::create(*artifact, options, engine);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--device=cuda:x"), std::string::npos);

  const CudaDriver *driver = nullptr;
  runtime::Status loaded = CudaDriver::load(driver);
  options.device = "cuda";
  s = engine::Engine::create(*artifact, options, engine);
  if (!loaded.ok()) {
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.message(), loaded.message());
    EXPECT_EQ(s.message().rfind("--device=cuda: ", 0), 0u) << s.message();
  }
}

} // namespace
} // namespace llmc::cuda
