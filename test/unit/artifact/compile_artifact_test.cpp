// `llmc compile` to a .llmc artifact and back: every weight the loader sees
// is byte for byte what the model's WeightStore materializes, and the plan
// has the shape the lowering promised (token capacity, named inputs and
// outputs, weights on 4 KiB pages).

#include "compiler/artifact/ArtifactWriter.h"
#include "compiler/driver/Compile.h"
#include "compiler/driver/CompileOptions.h"
#include "compiler/frontends/Importer.h"
#include "compiler/registration/Registration.h"
#include "compiler/weights/WeightStore.h"
#include "dialects/llm/LLMOps.h"
#include "passes/FusedWeights.h"
#include "passes/Passes.h"
#include "runtime/loader/Artifact.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>

namespace {

using namespace llmc;
using loader::Artifact;

std::string tinyModel(const std::string &name) {
  return std::string(LLMC_TINY_MODELS_DIR) + "/" + name;
}

class CompileArtifactTest
    : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
protected:
  void SetUp() override {
    llvm::SmallString<128> dir;
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("llmc-compile", dir));
    tempDir = std::string(dir);
  }
  void TearDown() override { llvm::sys::fs::remove_directories(tempDir); }

  /// Runs `llmc compile MODEL ARGS... -o OUT`; returns OUT.
  std::string compile(const std::string &model, std::vector<std::string> args) {
    std::string out = tempDir + "/model.llmc";
    args.insert(args.begin(), model);
    args.push_back("-o");
    args.push_back(out);
    CompileOptions options;
    Status parsed = parseCompileOptions(args, options);
    EXPECT_TRUE(parsed.ok()) << parsed.message;
    Status status = compileModel(options);
    EXPECT_TRUE(status.ok()) << status.message;
    return out;
  }

  std::string tempDir;
};

TEST_P(CompileArtifactTest, EveryWeightMatchesTheStore) {
  auto [model, target] = GetParam();
  std::string out =
      compile(tinyModel(model),
              {"--target=" + target, "--quant=f32", "--max-tokens=32"});
  std::unique_ptr<Artifact> artifact;
  loader::Status status = Artifact::open(out, {}, artifact);
  ASSERT_TRUE(status) << status.message();
  EXPECT_EQ(artifact->targetName(), target);
  EXPECT_TRUE(artifact->hasTokenizer());

  // The same model imported again: the reference bytes.
  mlir::DialectRegistry registry;
  registerAllLlmcDialects(registry);
  mlir::MLIRContext context(registry);
  // --quant=f32 imports at f32 (an f16 GGUF's weights convert).
  frontends::ImportOptions importOptions;
  importOptions.activationType = mlir::Float32Type::get(&context);
  auto imported =
      frontends::importModel(context, tinyModel(model), importOptions);
  ASSERT_TRUE(!!imported) << llvm::toString(imported.takeError());
  // llmc compile fuses by default: Q/K/V and gate/up weights become
  // concatenations, which the reference store learns the same way.
  mlir::PassManager fusion(&context);
  fusion.addPass(createFusePass());
  ASSERT_TRUE(mlir::succeeded(fusion.run(*imported->module)));
  ASSERT_FALSE(!!applyWeightConcats(*imported->module, *imported->weights));
  std::map<std::string, std::vector<std::string>> concatParts;
  imported->module->walk([&](llm::WeightOp op) {
    if (auto concat =
            op->getAttrOfType<mlir::DictionaryAttr>(kWeightConcatAttrName))
      for (mlir::Attribute part : concat.getAs<mlir::ArrayAttr>("parts"))
        concatParts[op.getName().str()].push_back(
            mlir::cast<mlir::StringAttr>(part).getValue().str());
  });
  EXPECT_FALSE(concatParts.empty());
  const weights::WeightStore &store = *imported->weights;
  EXPECT_EQ(artifact->config().num_layers(), imported->config.numLayers);
  EXPECT_EQ(artifact->config().vocab_size(), imported->config.vocabSize);
  EXPECT_EQ(artifact->config().max_batch_tokens(), 32);

  ASSERT_GT(artifact->tensorCount(), 0u);
  for (size_t i = 0; i < artifact->tensorCount(); ++i) {
    loader::TensorRef ref = artifact->tensor(i);
    std::string name(ref.name);
    auto desc = store.describe(name);
    ASSERT_TRUE(!!desc) << name << ": " << llvm::toString(desc.takeError());
    EXPECT_EQ(ref.dtype, artifact::toArtifactDType(desc->dtype)) << name;
    EXPECT_EQ(ref.shape,
              std::vector<int64_t>(desc->shape.begin(), desc->shape.end()))
        << name;
    std::vector<uint8_t> expected(desc->getBytes());
    ASSERT_FALSE(!!store.materialize(name, expected));
    ASSERT_EQ(ref.bytes, expected.size()) << name;
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), ref.data))
        << name << " differs from the WeightStore's bytes";
    // A concatenation along the rows is its parts' bytes end to end.
    if (auto parts = concatParts.find(name); parts != concatParts.end()) {
      std::vector<uint8_t> joined;
      for (const std::string &part : parts->second) {
        auto partDesc = store.describe(part);
        ASSERT_TRUE(!!partDesc) << llvm::toString(partDesc.takeError());
        std::vector<uint8_t> bytes(partDesc->getBytes());
        ASSERT_FALSE(!!store.materialize(part, bytes));
        joined.insert(joined.end(), bytes.begin(), bytes.end());
      }
      EXPECT_EQ(joined, expected) << name << " is not its parts end to end";
    }
  }

  const artifact::RankPlan *plan = artifact->plan(0);
  ASSERT_NE(plan, nullptr);
  EXPECT_EQ(plan->max_tokens(), 32u);
  ASSERT_EQ(plan->weight_loads()->size(), artifact->tensorCount());
  std::set<uint32_t> loaded;
  for (const artifact::WeightLoad *load : *plan->weight_loads()) {
    EXPECT_EQ(load->offset() % 4096, 0u);
    EXPECT_EQ(plan->arenas()->Get(load->arena())->kind(),
              artifact::ArenaKind::Weights);
    loaded.insert(load->tensor());
  }
  EXPECT_EQ(loaded.size(), artifact->tensorCount());
  std::set<std::string> inputs, outputs;
  for (const artifact::NamedBuffer *named : *plan->inputs()) {
    inputs.insert(named->name()->str());
    EXPECT_TRUE(named->buffer()->token_rows());
    EXPECT_EQ(named->buffer()->shape()->Get(0), 32);
  }
  for (const artifact::NamedBuffer *named : *plan->outputs())
    outputs.insert(named->name()->str());
  EXPECT_EQ(inputs, (std::set<std::string>{"token_ids", "positions"}));
  EXPECT_EQ(outputs, (std::set<std::string>{"logits"}));
  size_t gemms = 0, attention = 0;
  artifact::GemmBackend expectedBackend = target == "cpu"
                                              ? artifact::GemmBackend::Cpu
                                              : artifact::GemmBackend::CublasLt;
  for (const artifact::Step *step : *plan->steps()) {
    if (const auto *gemm = step->op_as_GemmStep()) {
      ++gemms;
      EXPECT_EQ(gemm->backend(), expectedBackend);
    }
    const auto *compute = step->op_as_ComputeStep();
    // GEMMs with a bias or gated-activation epilogue are compute steps.
    if (compute && (compute->name()->str() == "linear_bias" ||
                    compute->name()->str() == "linear_gated_activation"))
      ++gemms;
    if (compute && compute->name()->str() == "cached_attention") {
      bool hasLayer = false;
      for (const artifact::Param *param : *compute->params())
        hasLayer |= param->key()->str() == "layer";
      EXPECT_TRUE(hasLayer);
      ++attention;
    }
  }
  // Fused: packed QKV, O, packed gate/up, down per layer, plus the LM head.
  EXPECT_EQ(gemms, size_t(4 * imported->config.numLayers + 1));
  EXPECT_EQ(attention, size_t(imported->config.numLayers));
}

INSTANTIATE_TEST_SUITE_P(
    TinyModels, CompileArtifactTest,
    ::testing::Combine(::testing::Values("llama", "qwen2", "qwen3", "gemma3",
                                         "mistral", "llama.q8_0.gguf",
                                         "qwen2.f16.gguf", "gemma3.f32.gguf"),
                       ::testing::Values("cpu", "h100")),
    [](const auto &info) {
      std::string name =
          std::get<0>(info.param) + "_" + std::get<1>(info.param);
      for (char &c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)))
          c = '_';
      return name;
    });

// --synthetic-weights: the same tensors (names, dtypes, shapes), no bytes
// stored, and the weights are never needed.
TEST_F(CompileArtifactTest, SyntheticWeightsStoreNoBytes) {
  std::string out =
      compile(tinyModel("llama"), {"--target=h100", "--synthetic-weights"});
  std::unique_ptr<Artifact> artifact;
  loader::Status status = Artifact::open(out, {}, artifact);
  ASSERT_TRUE(status) << status.message();
  EXPECT_EQ(artifact->syntheticTensorCount(), artifact->tensorCount());
  EXPECT_EQ(artifact->storedTensorBytes(), 0u);
  EXPECT_GT(artifact->totalTensorBytes(), 0u);
  // Metadata only, besides the kernels' cubins and PTX.
  uint64_t kernelBytes = 0;
  for (const artifact::Section *section : *artifact->root().sections())
    if (section->kind() == artifact::SectionKind::Kernels)
      kernelBytes += section->bytes();
  EXPECT_LT(artifact->fileBytes() - kernelBytes, 64u * 1024u);
  EXPECT_EQ(artifact->plan(0)->max_tokens(), 512u);
}

/// The buffers a step's op names (what its launches may pass).
std::vector<const artifact::Buffer *> stepBuffers(const artifact::Step &step) {
  std::vector<const artifact::Buffer *> buffers;
  auto add = [&](const auto *list) {
    if (list)
      buffers.insert(buffers.end(), list->begin(), list->end());
  };
  if (const auto *compute = step.op_as_ComputeStep()) {
    add(compute->inputs());
    add(compute->outputs());
  } else if (const auto *gemm = step.op_as_GemmStep()) {
    for (const artifact::Buffer *buffer :
         {gemm->a(), gemm->b(), gemm->c(), gemm->scale_a(), gemm->scale_b(),
          gemm->zero_b()})
      if (buffer)
        buffers.push_back(buffer);
  }
  return buffers;
}

// A GPU artifact's launches are consistent with its plan: t4 (int8, so the
// GEMMs are generated with a GEMV and a tiled variant): every launch names a
// kernel whose module is built for sm_75 and exports its entry, passes only
// buffers of its own step, and every token count from 1 to max-tokens runs
// some launch of each step (exactly one of a GEMM's variants).
TEST_F(CompileArtifactTest, GpuLaunchesMatchTheirSteps) {
  std::string out =
      compile(tinyModel("llama"),
              {"--target=t4", "--synthetic-weights", "--max-tokens=64"});
  std::unique_ptr<Artifact> artifact;
  loader::Status status = Artifact::open(out, {}, artifact);
  ASSERT_TRUE(status) << status.message();
#ifndef LLMC_HAVE_NVRTC
  GTEST_SKIP() << "llmc was built without NVRTC: no kernels to check";
#endif
  ASSERT_GT(artifact->kernelModuleCount(), 0u);
  for (size_t i = 0; i < artifact->kernelModuleCount(); ++i) {
    EXPECT_EQ(artifact->kernelModule(i).sm()->str(), "75");
    EXPECT_NE(artifact->kernelModule(i).cubin(), nullptr);
    EXPECT_NE(artifact->kernelModule(i).ptx(), nullptr);
  }
  size_t stepsWithLaunches = 0, stepsWithVariants = 0;
  for (const artifact::Step *step : *artifact->plan(0)->steps()) {
    size_t launches = Artifact::launchCount(*step);
    if (launches == 0)
      continue;
    ++stepsWithLaunches;
    stepsWithVariants += launches > 1;
    std::vector<const artifact::Buffer *> own = stepBuffers(*step);
    for (size_t i = 0; i < launches; ++i) {
      const artifact::LaunchStep &launch = Artifact::launch(*step, i);
      const artifact::Kernel &kernel = artifact->kernel(launch.kernel());
      const auto *entries =
          artifact->kernelModule(kernel.module_index()).entries();
      EXPECT_NE(std::find_if(entries->begin(), entries->end(),
                             [&](const flatbuffers::String *entry) {
                               return entry->str() == kernel.entry()->str();
                             }),
                entries->end())
          << kernel.entry()->str();
      for (const artifact::Buffer *arg : *launch.args())
        EXPECT_NE(std::find_if(own.begin(), own.end(),
                               [&](const artifact::Buffer *buffer) {
                                 return buffer->arena() == arg->arena() &&
                                        buffer->offset() == arg->offset() &&
                                        buffer->dtype() == arg->dtype();
                               }),
                  own.end())
            << kernel.entry()->str() << " passes a buffer its step lacks";
    }
    for (uint32_t tokens = 1; tokens <= 64; ++tokens) {
      size_t running = 0;
      for (size_t i = 0; i < launches; ++i)
        running += Artifact::launchRunsFor(Artifact::launch(*step, i), tokens);
      // A GEMM's variants are alternatives; attention's stages (partials,
      // then their combine) run one after the other.
      if (step->op_type() == artifact::StepOp::GemmStep)
        EXPECT_EQ(running, 1u) << "T = " << tokens;
      else
        EXPECT_GE(running, 1u) << "T = " << tokens;
    }
  }
  EXPECT_GT(stepsWithLaunches, 0u);
  EXPECT_GT(stepsWithVariants, 0u); // the int8 GEMMs
}

} // namespace
