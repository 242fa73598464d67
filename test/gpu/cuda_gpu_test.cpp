//===- cuda_gpu_test.cpp - the CUDA backend on a GPU against the CPU ------===//
//
// Label `gpu`. Every test skips itself, saying why, on a machine without a
// usable NVIDIA driver or device. The references are the CPU backend on the
// same plan (the project's reference implementation, runtime/backends/cpu)
// and, for the launch ABI, the host formula the test kernel documents.
//
// Tolerances: f32 GEMMs 1e-4 relative (cuBLASLt reorders the K sum; f32
// compute, no TF32); bf16 outputs 1 bf16 ulp (2^-8 relative) plus
// reordering; INT8 GEMMs are exact integer sums, so 1e-6; FP8 products are
// exact in the f32 accumulator, bf16 output again.
//
//===----------------------------------------------------------------------===//

#include "../unit/cuda_backend/CudaPlanArtifact.h"
#include "../unit/cuda_backend/GemmPlan.h"
#include "../unit/cuda_backend/LaunchAbiPlan.h"

#include "runtime/backends/cuda/CudaDriver.h"
#include "runtime/backends/cuda/CudaEngine.h"
#include "runtime/backends/cuda/DeviceCheck.h"
#include "runtime/engine/Engine.h"
#include "runtime/support/Float8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {
// Generated at build time by nvcc from LaunchAbiKernel.cu.
#include "test/gpu/LaunchAbiFatbin.inc"
#include "test/gpu/LaunchAbiPtx.inc"
} // namespace

namespace llmc::cuda {
namespace {

namespace fb = ::llmc::artifact;
using test::CudaBufferSpec;
using test::CudaLaunchSpec;
using test::CudaPlanArtifact;

/// The first GPU's compute capability, or a reason to skip.
struct Gpu {
  bool present = false;
  std::string skipReason;
  int major = 0, minor = 0;
  std::string name;
  int sm() const { return major * 10 + minor; }
};

Gpu findGpu() {
  Gpu gpu;
  const CudaDriver *cu = nullptr;
  if (runtime::Status s = CudaDriver::load(cu); !s.ok()) {
    gpu.skipReason = s.message();
    return gpu;
  }
  int count = 0;
  if (cu->cuDeviceGetCount(&count) != CUDA_SUCCESS || count == 0) {
    gpu.skipReason = "the driver reports no CUDA device";
    return gpu;
  }
  CUdevice device = 0;
  char name[256] = {0};
  cu->cuDeviceGet(&device, 0);
  cu->cuDeviceGetName(name, sizeof(name), device);
  cu->cuDeviceGetAttribute(
      &gpu.major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
  cu->cuDeviceGetAttribute(
      &gpu.minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
  gpu.name = name;
  gpu.present = true;
  return gpu;
}

#define REQUIRE_GPU(gpu)                                                       \
  const Gpu gpu = findGpu();                                                   \
  if (!gpu.present)                                                            \
  GTEST_SKIP() << "no CUDA device: " << gpu.skipReason

std::string smText(const Gpu &gpu) {
  return std::to_string(gpu.sm()) + (gpu.major >= 9 ? "a" : "");
}

std::unique_ptr<engine::Engine> createEngine(const loader::Artifact &artifact,
                                             const std::string &device) {
  engine::EngineOptions options;
  options.threads = 1;
  options.maxSequences = 2;
  options.device = device;
  std::unique_ptr<engine::Engine> engine;
  runtime::Status s = engine::Engine::create(artifact, options, engine);
  EXPECT_TRUE(s.ok()) << device << ": " << s.message();
  return engine;
}

engine::ForwardBatch oneSequence(int64_t tokens, int32_t firstPosition) {
  engine::ForwardBatch batch;
  for (int64_t t = 0; t < tokens; ++t) {
    batch.tokenIds.push_back(static_cast<int32_t>(t));
    batch.positions.push_back(firstPosition + static_cast<int32_t>(t));
  }
  batch.sequences = {{0, tokens}};
  return batch;
}

void expectClose(const std::vector<float> &actual,
                 const std::vector<float> &expected, double relative,
                 const std::string &what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i)
    ASSERT_NEAR(actual[i], expected[i],
                relative * std::max(1.0, std::fabs(double(expected[i]))))
        << what << " element " << i;
}

/// Runs the GEMM plan on both backends: a prefill of 5 tokens (eager) then
/// two decode calls of 1 (the second replays the captured graph).
void compareGemm(const test::GemmCase &g, double relative,
                 const std::string &what) {
  REQUIRE_GPU(gpu);
  const std::string target = targetForComputeCapability(gpu.major, gpu.minor);
  auto gpuArtifact = test::buildGemmPlan(g, true, target, smText(gpu));
  auto cpuArtifact = test::buildGemmPlan(g, false, target, smText(gpu));
  ASSERT_TRUE(gpuArtifact && cpuArtifact);
  // The same artifact on both backends: the CPU runs each step's op, the
  // GPU its launches.
  auto cuda = createEngine(*gpuArtifact, "cuda");
  auto cpu = createEngine(*gpuArtifact, "cpu");
  ASSERT_TRUE(cuda && cpu);
  for (auto [tokens, position] : {std::pair{5, 0}, {1, 5}, {1, 6}}) {
    engine::ForwardBatch batch = oneSequence(tokens, position);
    std::vector<float> gpuLogits, cpuLogits;
    runtime::Status s = cuda->forward(batch, gpuLogits);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_TRUE(cpu->forward(batch, cpuLogits).ok());
    expectClose(gpuLogits, cpuLogits, relative,
                what + " at T=" + std::to_string(tokens));
  }
}

// cuBLASLt f32 GEMMs (alpha 0.75) equal the CPU backend's.
TEST(CudaGpu, GemmF32MatchesCpu) { compareGemm({}, 1e-4, "f32"); }

// bf16 with the residual epilogue (beta = 1 accumulates into C per call).
TEST(CudaGpu, GemmBf16WithBetaMatchesCpu) {
  test::GemmCase g;
  g.a = g.b = g.c = fb::DType::BF16;
  g.beta = 1.0f;
  compareGemm(g, 2e-2, "bf16 beta=1");
}

// FP8 E4M3 with tensor scales (scale pointers), Ada and later.
TEST(CudaGpu, GemmFp8MatchesCpu) {
  REQUIRE_GPU(gpu);
  if (gpu.sm() < 89)
    GTEST_SKIP() << gpu.name << " (sm_" << gpu.sm() << ") has no FP8";
  test::GemmCase g;
  g.a = g.b = fb::DType::F8E4M3;
  g.c = fb::DType::BF16;
  g.scales = true;
  compareGemm(g, 1e-2, "fp8");
}

// INT8 through cuBLASLt's i32 product and the runtime's epilogue kernel,
// per-tensor and per-row x per-column scales, f32 and bf16 outputs.
TEST(CudaGpu, GemmInt8MatchesCpu) {
  test::GemmCase g;
  g.a = g.b = fb::DType::I8;
  g.scales = true;
  compareGemm(g, 1e-5, "int8 per tensor");
  g.perRowScaleA = true;
  g.c = fb::DType::BF16;
  g.beta = 1.0f;
  compareGemm(g, 1e-2, "int8 per row, bf16, beta=1");
}

void checkLaunchAbi(bool ptxOnly) {
  REQUIRE_GPU(gpu);
  std::vector<float> x;
  std::vector<uint8_t> fatbin(kLaunchAbiFatbin,
                              kLaunchAbiFatbin + sizeof(kLaunchAbiFatbin));
  std::vector<uint8_t> ptx(kLaunchAbiPtx,
                           kLaunchAbiPtx + sizeof(kLaunchAbiPtx));
  runtime::Status built;
  auto artifact = ptxOnly
                      ? test::buildLaunchAbiPlan("t4", "75", {}, ptx, x, built)
                      : test::buildLaunchAbiPlan(
                            targetForComputeCapability(gpu.major, gpu.minor),
                            smText(gpu), fatbin, ptx, x, built);
  ASSERT_TRUE(artifact) << built.message();
  auto cuda = createEngine(*artifact, "cuda");
  ASSERT_TRUE(cuda);
  // Two sequences: 0 holds positions 5, 6 (blocks 0 and 1 of 4 tokens), 1
  // holds position 0 (block 2).
  engine::ForwardBatch batch;
  batch.tokenIds = {1, 2, 3};
  batch.positions = {5, 6, 0};
  batch.sequences = {{10, 2}, {11, 1}};
  std::vector<float> logits;
  runtime::Status s = cuda->forward(batch, logits);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(logits.size(), 3u * 32);
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t c = 0; c < 32; ++c)
      ASSERT_EQ(logits[r * 32 + c],
                test::expectedLaunchAbi(x, r, c, batch.positions[r],
                                        r < 2 ? 0 : 1, r < 2 ? 0 : 2))
          << "row " << r << " column " << c;
  // Decode: T = 1 is captured once and replayed; the replay must see the
  // new position and block table.
  for (int32_t position : {7, 8, 9}) {
    engine::ForwardBatch decode;
    decode.tokenIds = {4};
    decode.positions = {position};
    decode.sequences = {{11, 1}};
    s = cuda->forward(decode, logits);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(logits.size(), 32u);
    for (int64_t c = 0; c < 32; ++c)
      ASSERT_EQ(logits[c], test::expectedLaunchAbi(x, 0, c, position, 0, 2))
          << "decode at position " << position;
  }
}

// A generated kernel from the artifact's cubin gets the 1.1 ABI: buffers,
// T, the batch (positions, sequences, block tables), the layer, scratch.
TEST(CudaGpu, LaunchAbiFromCubin) { checkLaunchAbi(false); }

// The same from PTX, JIT-compiled for this (newer) GPU.
TEST(CudaGpu, LaunchAbiFromPtxJit) { checkLaunchAbi(true); }

/// The models the comparisons run: the tiny Llama (test/Inputs) and the real
/// SmolLM2-135M (scripts/fetch-models.sh smollm2 puts it in the model cache).
enum class TestModel { Tiny, SmolLM2 };

/// `model` compiled for `target` (a GPU's): from
/// $LLMC_GPU_TEST_ARTIFACTS/<model>-<target>-<quant>.llmc when set (made on
/// the build machine by test/gpu/make_artifacts.sh: a lent GPU machine cannot
/// run the MLIR-linked compiler), else compiled now with llmc. "" with a
/// reason.
std::string modelArtifact(TestModel model, const std::string &target,
                          const std::string &quant, std::string &reason) {
  const bool tiny = model == TestModel::Tiny;
  const std::string name =
      std::string(tiny ? "tiny-" : "smollm2-") + target + "-" + quant + ".llmc";
  if (const char *dir = std::getenv("LLMC_GPU_TEST_ARTIFACTS"))
    return std::string(dir) + "/" + name;
  std::string source = std::string(LLMC_TINY_MODELS_DIR) + "/llama";
  if (!tiny) {
    const char *cache = std::getenv("LLMC_MODEL_CACHE");
    const char *home = std::getenv("HOME");
    source = (cache ? std::string(cache)
                    : std::string(home ? home : "") + "/.cache/llmc/models") +
             "/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf";
  }
  std::string out = ::testing::TempDir() + name;
  std::string command = std::string(LLMC_BIN) + " compile " + source +
                        " --target=" + target + " --quant=" + quant +
                        " --max-tokens=16 -o " + out + " 2>&1";
  if (std::system(command.c_str()) != 0) {
    reason = "failed: " + command +
             " (on a machine without MLIR, set LLMC_GPU_TEST_ARTIFACTS to "
             "the output of test/gpu/make_artifacts.sh; the real model comes "
             "from scripts/fetch-models.sh smollm2)";
    return "";
  }
  return out;
}

/// Prefill 6 tokens, then 4 greedy decode steps, on both backends.
void compareModel(TestModel model, const std::string &quant,
                  double relative) {
  REQUIRE_GPU(gpu);
  std::string reason;
  const std::string target = targetForComputeCapability(gpu.major, gpu.minor);
  ASSERT_FALSE(target.empty()) << "no llmc target for sm_" << gpu.sm();
  std::string gpuPath = modelArtifact(model, target, quant, reason);
  ASSERT_FALSE(gpuPath.empty()) << reason;
  std::unique_ptr<loader::Artifact> gpuArtifact;
  ASSERT_TRUE(loader::Artifact::open(gpuPath, {}, gpuArtifact).ok()) << gpuPath;
  // Every step of a fused model has a kernel or a cuBLASLt GEMM
  // (test/tools/llmc/gpu_runnable.test checks the same without a GPU).
  runtime::Status runs = checkPlanRunsOnCuda(*gpuArtifact);
  ASSERT_TRUE(runs.ok()) << runs.message();
  // The same artifact on both backends: the CPU runs each step's op, the
  // GPU its launches.
  auto cuda = createEngine(*gpuArtifact, "cuda");
  auto cpu = createEngine(*gpuArtifact, "cpu");
  ASSERT_TRUE(cuda && cpu);
  engine::ForwardBatch batch = oneSequence(6, 0);
  std::vector<float> gpuLogits, cpuLogits;
  for (int step = 0; step < 5; ++step) {
    runtime::Status s = cuda->forward(batch, gpuLogits);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_TRUE(cpu->forward(batch, cpuLogits).ok());
    expectClose(gpuLogits, cpuLogits, relative,
                quant + " step " + std::to_string(step));
    const int64_t vocab = cuda->vocabSize();
    const float *gpuLast = gpuLogits.data() + gpuLogits.size() - vocab;
    const float *cpuLast = cpuLogits.data() + cpuLogits.size() - vocab;
    int32_t gpuNext =
        int32_t(std::max_element(gpuLast, gpuLast + vocab) - gpuLast);
    int32_t cpuNext =
        int32_t(std::max_element(cpuLast, cpuLast + vocab) - cpuLast);
    EXPECT_EQ(gpuNext, cpuNext) << quant << " greedy token " << step;
    int32_t position = batch.positions.back() + 1;
    batch = oneSequence(1, position);
    batch.tokenIds = {cpuNext};
  }
}

// The tiny Llama and the real SmolLM2, CUDA vs CPU logits and greedy tokens.
TEST(CudaGpu, TinyModelF32MatchesCpu) {
  compareModel(TestModel::Tiny, "f32", 1e-3);
}
TEST(CudaGpu, TinyModelBf16MatchesCpu) {
  compareModel(TestModel::Tiny, "bf16", 3e-2);
}
TEST(CudaGpu, TinyModelFp8MatchesCpu) {
  REQUIRE_GPU(gpu);
  if (gpu.sm() < 89)
    GTEST_SKIP() << gpu.name << " has no FP8";
  compareModel(TestModel::Tiny, "fp8", 5e-2);
}
TEST(CudaGpu, TinyModelInt8MatchesCpu) {
  compareModel(TestModel::Tiny, "int8", 5e-2);
}
TEST(CudaGpu, SmolLM2Bf16MatchesCpu) {
  compareModel(TestModel::SmolLM2, "bf16", 3e-2);
}
TEST(CudaGpu, SmolLM2DefaultQuantizationMatchesCpu) {
  // The target's default: fp8 on Hopper/Ada/Blackwell, int8 below.
  REQUIRE_GPU(gpu);
  compareModel(TestModel::SmolLM2, gpu.sm() >= 89 ? "fp8" : "int8", 5e-2);
}

// Device-to-device bandwidth (what bench --bandwidth reports) is positive
// and below 100 TB/s.
TEST(CudaGpu, CopyBandwidthIsPlausible) {
  REQUIRE_GPU(gpu);
  double bytesPerSecond = 0;
  std::string name;
  runtime::Status s =
      measureCopyBandwidth(0, 64ull << 20, 5, bytesPerSecond, name);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_GT(bytesPerSecond, 1e9);
  EXPECT_LT(bytesPerSecond, 1e14);
  EXPECT_EQ(name, gpu.name);
}

} // namespace
} // namespace llmc::cuda
