//===- fake_driver_test.cpp - the CUDA backend end to end on a fake driver ===//
//
// ctest runs this binary with fake-libcuda/ (libcuda.so.1 and
// libcublasLt.so.13 test doubles on host memory, fake_driver/) first on
// LD_LIBRARY_PATH, so the backend's load and forward paths run here without
// a GPU: module choice, arenas, weight upload, the LlmcDeviceBatch and block
// tables, kernel parameters and grids, graph capture and replay, cuBLASLt
// layouts and operations (checked against the CPU backend), the INT8
// epilogue's parameters, and the messages for out-of-memory, a rejected
// module, an older GPU and a missing device. Tensor-core numerics are the
// GPU tests' (test/gpu).

#include "GemmPlan.h"
#include "LaunchAbiPlan.h"

#include "runtime/backends/cuda/CudaDriver.h"
#include "runtime/engine/Engine.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdlib>

namespace llmc::cuda {
namespace {

namespace fb = ::llmc::artifact;

/// The fake's counters, or null when the real driver (or none) was loaded.
int (*fakeCounter(const char *name, const char *library = "libcuda.so.1"))() {
  const CudaDriver *driver = nullptr;
  if (!CudaDriver::load(driver).ok())
    return nullptr;
  void *handle = dlopen(library, RTLD_NOW | RTLD_NOLOAD);
  return handle ? reinterpret_cast<int (*)()>(dlsym(handle, name)) : nullptr;
}

class FakeDriver : public ::testing::Test {
protected:
  void SetUp() override {
    launches = fakeCounter("fakeCudaLaunchesExecuted");
    graphs = fakeCounter("fakeCudaGraphsLaunched");
    ASSERT_TRUE(launches && graphs)
        << "run through ctest, which puts the fake libcuda.so.1 first on "
           "LD_LIBRARY_PATH";
    unsetenv("FAKE_CUDA_CC");
    unsetenv("FAKE_CUDA_MEMORY");
    unsetenv("FAKE_CUDA_BAD_IMAGE");
  }
  std::unique_ptr<loader::Artifact> launchPlan(const std::string &target,
                                               const std::string &sm,
                                               bool cubin = true,
                                               bool ptx = true) {
    runtime::Status status;
    auto artifact = test::buildLaunchAbiPlan(
        target, sm,
        cubin ? std::vector<uint8_t>{1, 2, 3} : std::vector<uint8_t>{},
        ptx ? std::vector<uint8_t>{'.', 'v'} : std::vector<uint8_t>{}, x,
        status);
    EXPECT_TRUE(status.ok()) << status.message();
    return artifact;
  }
  runtime::Status create(const loader::Artifact &artifact,
                         std::unique_ptr<engine::Engine> &engine,
                         const std::string &device = "cuda") {
    engine::EngineOptions options;
    options.maxSequences = 2;
    options.device = device;
    return engine::Engine::create(artifact, options, engine);
  }
  int (*launches)() = nullptr;
  int (*graphs)() = nullptr;
  std::vector<float> x;
};

// A prefill of two sequences, then decode steps replayed from one captured
// graph: the kernel sees T, the positions, the sequences, the block tables
// (blocks reserved as the CPU cache would), layer 3 and the scratch.
TEST_F(FakeDriver, LaunchAbiPrefillAndGraphReplay) {
  auto artifact = launchPlan("h100", "90a");
  ASSERT_TRUE(artifact);
  std::unique_ptr<engine::Engine> engine;
  runtime::Status s = create(*artifact, engine);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(engine->deviceDescription(), "cuda:0 (Fake GPU, sm_90)");
  EXPECT_EQ(engine->maxTokens(), 8);
  // 2 sequences x 32 positions of 4-token blocks.
  EXPECT_EQ(engine->kvCapacityTokens(), 64);

  engine::ForwardBatch batch;
  batch.tokenIds = {1, 2, 3};
  batch.positions = {5, 6, 0};
  batch.sequences = {{10, 2}, {11, 1}};
  std::vector<float> logits;
  const int launchesBefore = launches(), graphsBefore = graphs();
  s = engine->forward(batch, logits);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(launches() - launchesBefore, 1);
  EXPECT_EQ(graphs() - graphsBefore, 0); // T = 3 > 2 sequences: eager
  ASSERT_EQ(logits.size(), 3u * 32);
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t c = 0; c < 32; ++c)
      ASSERT_EQ(logits[r * 32 + c],
                test::expectedLaunchAbi(x, r, c, batch.positions[r],
                                        r < 2 ? 0 : 1, r < 2 ? 0 : 2))
          << "row " << r << " column " << c;

  for (int32_t position : {7, 8, 9}) {
    engine::ForwardBatch decode;
    decode.tokenIds = {4};
    decode.positions = {position};
    decode.sequences = {{11, 1}};
    s = engine->forward(decode, logits);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(logits.size(), 32u);
    for (int64_t c = 0; c < 32; ++c)
      ASSERT_EQ(logits[c], test::expectedLaunchAbi(x, 0, c, position, 0, 2))
          << "decode at position " << position;
  }
  EXPECT_EQ(graphs() - graphsBefore, 3); // captured once, launched 3 times

  // A freed sequence's blocks are reused: sequence 12 gets blocks 2, 3 back.
  engine->freeSequence(11);
  engine::ForwardBatch fresh;
  fresh.tokenIds = {5};
  fresh.positions = {4};
  fresh.sequences = {{12, 1}};
  ASSERT_TRUE(engine->forward(fresh, logits).ok());
  EXPECT_EQ(logits[0], test::expectedLaunchAbi(x, 0, 0, 4, 0, 2));
}

// Calls the plan cannot hold are refused before anything runs.
TEST_F(FakeDriver, RefusesBadBatches) {
  auto artifact = launchPlan("h100", "90a");
  std::unique_ptr<engine::Engine> engine;
  ASSERT_TRUE(create(*artifact, engine).ok());
  std::vector<float> logits;
  engine::ForwardBatch batch;
  batch.tokenIds = {1};
  batch.positions = {40}; // 41 positions; a sequence holds 32
  batch.sequences = {{0, 1}};
  runtime::Status s = engine->forward(batch, logits);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("needs 41 positions; the CUDA backend holds 32 "
                             "per sequence"),
            std::string::npos)
      << s.message();
  batch.tokenIds = {1, 2, 3};
  batch.positions = {0, 0, 0};
  batch.sequences = {{0, 1}, {1, 1}, {2, 1}};
  s = engine->forward(batch, logits);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("at most 2 sequences"), std::string::npos)
      << s.message();
  batch.sequences = {{0, 2}};
  s = engine->forward(batch, logits);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("the sequences hold 2 tokens, the batch 3"),
            std::string::npos);
}

// A newer GPU JIT-compiles the PTX; an older one is refused with both names;
// a PTX-less artifact on a newer GPU is refused.
TEST_F(FakeDriver, DeviceCheck) {
  setenv("FAKE_CUDA_CC", "100", 1);
  auto artifact = launchPlan("h100", "90a");
  std::unique_ptr<engine::Engine> engine;
  runtime::Status s = create(*artifact, engine);
  EXPECT_TRUE(s.ok()) << s.message();

  setenv("FAKE_CUDA_CC", "80", 1);
  s = create(*artifact, engine);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "launch.llmc: artifact targets h100 (sm_90a); this "
                         "GPU is Fake GPU (sm_80); recompile with llmc "
                         "compile --target=a100");

  setenv("FAKE_CUDA_CC", "100", 1);
  auto noPtx = launchPlan("h100", "90a", true, false);
  s = create(*noPtx, engine);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("keeps no PTX"), std::string::npos);
}

// Out of memory names the allocation, the bytes asked and the bytes free.
TEST_F(FakeDriver, OutOfMemoryMessage) {
  setenv("FAKE_CUDA_MEMORY", "1000", 1);
  auto artifact = launchPlan("h100", "90a");
  std::unique_ptr<engine::Engine> engine;
  runtime::Status s = create(*artifact, engine);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("launch.llmc: cuMemAlloc failed: "
                             "CUDA_ERROR_OUT_OF_MEMORY (out of memory) "
                             "allocating arena 'activations' ("),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("bytes free of 1000"), std::string::npos)
      << s.message();
}

// A module the driver rejects: the call, the error, the JIT log.
TEST_F(FakeDriver, RejectedModuleMessage) {
  setenv("FAKE_CUDA_BAD_IMAGE", "1", 1);
  auto artifact = launchPlan("h100", "90a");
  std::unique_ptr<engine::Engine> engine;
  runtime::Status s = create(*artifact, engine);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("kernel module 0 (cubin for sm_90a): "
                             "cuModuleLoadDataEx failed: "
                             "CUDA_ERROR_INVALID_IMAGE (fake error); JIT log: "
                             "fake: bad image; this driver supports CUDA 13.0"),
            std::string::npos)
      << s.message();
}

// A device number the machine does not have.
TEST_F(FakeDriver, MissingDevice) {
  auto artifact = launchPlan("h100", "90a");
  std::unique_ptr<engine::Engine> engine;
  runtime::Status s = create(*artifact, engine, "cuda:1");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "--device=cuda:1: this machine has 1 CUDA device "
                         "(cuda:0..0)");
}

/// The GEMM plan on the CPU and through the fake cuBLASLt: a prefill of 5
/// and two decode calls (graph capture, replay) must agree.
void compareGemmWithCpu(const test::GemmCase &g, double relative) {
  auto gpuArtifact = test::buildGemmPlan(g, true, "h100", "90a");
  auto cpuArtifact = test::buildGemmPlan(g, false, "h100", "90a");
  ASSERT_TRUE(gpuArtifact && cpuArtifact);
  engine::EngineOptions options;
  options.maxSequences = 2;
  options.threads = 1;
  std::unique_ptr<engine::Engine> cpu, cuda;
  ASSERT_TRUE(engine::Engine::create(*cpuArtifact, options, cpu).ok());
  options.device = "cuda";
  runtime::Status s = engine::Engine::create(*gpuArtifact, options, cuda);
  ASSERT_TRUE(s.ok()) << s.message();
  for (auto [tokens, position] : {std::pair{5, 0}, {1, 5}, {1, 6}}) {
    engine::ForwardBatch batch;
    for (int t = 0; t < tokens; ++t) {
      batch.tokenIds.push_back(t);
      batch.positions.push_back(position + t);
    }
    batch.sequences = {{0, tokens}};
    std::vector<float> expected, actual;
    ASSERT_TRUE(cpu->forward(batch, expected).ok());
    s = cuda->forward(batch, actual);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < actual.size(); ++i)
      ASSERT_NEAR(actual[i], expected[i],
                  relative * std::max(1.0, std::fabs(double(expected[i]))))
          << "T=" << tokens << " element " << i;
  }
}

// nn.Linear layout (transpose_b): cuBLASLt's A is the weight, transposed.
TEST_F(FakeDriver, GemmF32MatchesCpu) {
  compareGemmWithCpu({}, 1e-5); // loads the fake cuBLASLt
  auto queries =
      fakeCounter("fakeCublasLtHeuristicQueries", "libcublasLt.so.13");
  auto matmuls = fakeCounter("fakeCublasLtMatmuls", "libcublasLt.so.13");
  ASSERT_TRUE(queries && matmuls);
  const int queriesBefore = queries(), matmulsBefore = matmuls();
  compareGemmWithCpu({}, 1e-5);
  // Buckets 1, 2, 4, 8 asked once at load; cublasLtMatmul called for the
  // prefill and while capturing the decode graph, which the third call
  // replays without calling it.
  EXPECT_EQ(queries() - queriesBefore, 4);
  EXPECT_EQ(matmuls() - matmulsBefore, 2);
}

// The residual epilogue: beta = 1 accumulates into C (bf16 rounding).
TEST_F(FakeDriver, GemmBf16WithBetaMatchesCpu) {
  test::GemmCase g;
  g.a = g.b = g.c = fb::DType::BF16;
  g.beta = 1.0f;
  compareGemmWithCpu(g, 1e-2);
}

// INT8: the i32 product, then the runtime's epilogue kernel with per-tensor
// and per-row x per-column scales.
TEST_F(FakeDriver, GemmInt8EpilogueMatchesCpu) {
  test::GemmCase g;
  g.a = g.b = fb::DType::I8;
  g.scales = true;
  compareGemmWithCpu(g, 1e-5);
  g.perRowScaleA = true;
  g.beta = 1.0f;
  compareGemmWithCpu(g, 1e-5);
  g.c = fb::DType::BF16;
  compareGemmWithCpu(g, 1e-2);
}

// FP8 with tensor scales through the scale pointers (sm_90).
TEST_F(FakeDriver, GemmFp8MatchesCpu) {
  test::GemmCase g;
  g.a = g.b = fb::DType::F8E4M3;
  g.c = fb::DType::BF16;
  g.scales = true;
  compareGemmWithCpu(g, 1e-2);
}

// FP8 on a GPU without FP8 is refused at load, naming the step and the GPU.
TEST_F(FakeDriver, Fp8GemmOnAmpereIsRefused) {
  setenv("FAKE_CUDA_CC", "80", 1);
  test::GemmCase g;
  g.a = g.b = fb::DType::F8E4M3;
  g.c = fb::DType::BF16;
  g.scales = true;
  auto artifact = test::buildGemmPlan(g, true, "a100", "80");
  engine::EngineOptions options;
  options.device = "cuda";
  std::unique_ptr<engine::Engine> engine;
  runtime::Status s = engine::Engine::create(*artifact, options, engine);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("step 0 (gemm): FP8 GEMMs need sm_89 or newer; "
                             "this GPU is sm_80"),
            std::string::npos)
      << s.message();
}

} // namespace
} // namespace llmc::cuda
