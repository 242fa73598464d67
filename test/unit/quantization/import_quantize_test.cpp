// The quantization pipeline on imported tiny checkpoints (llama, qwen2,
// qwen3, gemma3; test/Inputs/tiny-models, made by scripts/make_tiny_model.py)
// as `llmc compile` will run it: import -> addQuantizationPasses ->
// applyWeightAnnotations -> lower-to-plan + plan-memory -> translatePlan.
// Every tensor of the plan must be what the WeightStore produces (dtype and
// shape) and materialize; SmoothQuant must divide Gemma's `1 + w` norms
// exactly. The calibration file is synthetic (channel maxima 1 + j % 7):
// what matters here is the wiring, the maths is pinned by
// quantization_pipeline_test.cpp and test/unit/weights/quantize_test.cpp.

#include "compiler/artifact/PlanToSpec.h"
#include "compiler/frontends/Importer.h"
#include "compiler/registration/Registration.h"
#include "compiler/weights/WeightStore.h"
#include "dialects/llm/LLMOps.h"
#include "passes/Passes.h"
#include "passes/QuantizationPipeline.h"
#include "passes/WeightAnnotations.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>

namespace {

using namespace llmc;

struct Case {
  const char *model;
  const char *scheme;
  bool calibrated;
  bool symmetric;
  const char *kvCache;
};

std::string caseName(const ::testing::TestParamInfo<Case> &info) {
  return std::string(info.param.model) + "_" + info.param.scheme +
         (info.param.calibrated ? "_calib" : "") +
         (info.param.symmetric ? "" : "_asym");
}

class ImportQuantizeTest : public ::testing::TestWithParam<Case> {};

/// Writes an llmc-calibration-1 file with an entry for every linear.
std::string writeCalibration(mlir::ModuleOp module) {
  llvm::SmallString<128> path;
  int fd;
  if (llvm::sys::fs::createTemporaryFile("calib", "json", fd, path)) {
    ADD_FAILURE() << "cannot create a temporary file";
    return {};
  }
  llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
  os << R"({"format": "llmc-calibration-1", "model": "tiny", "tokens": 8, )"
     << R"("inputs": {)";
  std::set<std::string> seen;
  module.walk([&](llm::LinearOp linear) {
    auto weight = linear.getWeight().getDefiningOp<llm::WeightOp>();
    if (!weight || !seen.insert(weight.getName().str()).second)
      return;
    int64_t channels = weight.getType().getDimSize(1);
    os << (seen.size() > 1 ? ", " : "") << '"' << weight.getName()
       << R"(": {"absmax": 7, "channel_absmax": [)";
    for (int64_t j = 0; j < channels; ++j)
      os << (j ? ", " : "") << 1 + j % 7;
    os << "]}";
  });
  os << "}}";
  return path.str().str();
}

std::vector<float> materializeF32(const weights::WeightStore &store,
                                  llvm::StringRef name) {
  auto desc = store.describe(name);
  if (!desc || desc->dtype != weights::DType::F32) {
    ADD_FAILURE() << name.str() << " is not an F32 weight";
    if (!desc)
      llvm::consumeError(desc.takeError());
    return {};
  }
  std::vector<float> values(desc->getNumElements());
  llvm::MutableArrayRef<uint8_t> bytes(
      reinterpret_cast<uint8_t *>(values.data()), values.size() * 4);
  if (llvm::Error error = store.materialize(name, bytes))
    ADD_FAILURE() << llvm::toString(std::move(error));
  return values;
}

// Every tensor of the quantized plan is in the store with the plan's dtype
// and shape, and streams; quantized linears name existing scale tensors.
TEST_P(ImportQuantizeTest, PlanTensorsMaterialize) {
  const Case &c = GetParam();
  mlir::DialectRegistry registry;
  registerAllLlmcDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  frontends::ImportOptions importOptions;
  importOptions.activationType = mlir::Float32Type::get(&context);
  auto imported = frontends::importModel(
      context, std::string(LLMC_TINY_MODELS_DIR) + "/" + c.model,
      importOptions);
  ASSERT_TRUE(!!imported) << llvm::toString(imported.takeError());
  mlir::ModuleOp module = *imported->module;

  QuantizationOptions options;
  options.scheme = c.scheme;
  options.symmetric = c.symmetric;
  options.kvCache = c.kvCache;
  std::string calib;
  if (c.calibrated) {
    calib = writeCalibration(module);
    options.calibFile = calib;
    options.smoothAlpha = 0.5;
    if (options.scheme == "fp8" || options.scheme == "int8")
      options.activations = "static";
  }
  mlir::PassManager quantize(&context);
  addQuantizationPasses(quantize, options);
  ASSERT_TRUE(mlir::succeeded(quantize.run(module)));
  if (!calib.empty())
    llvm::sys::fs::remove(calib);
  weights::WeightStore &store = *imported->weights;
  ASSERT_FALSE(!!applyWeightAnnotations(module, store));

  // Norm weights before the divisions, for the exactness check below.
  // Smoothed norms and the linears they feed.
  std::map<std::string, std::vector<std::string>> smoothedNorms;
  // Linear pairs (down_proj from up_proj, o_proj from v_proj): the producer
  // and its smoothing record.
  std::map<std::string, mlir::DictionaryAttr> smoothedPairs;
  module.walk([&](llm::WeightOp op) {
    auto smooth =
        op->getAttrOfType<mlir::DictionaryAttr>(kWeightSmoothAttrName);
    if (!smooth)
      return;
    if (smooth.contains("rows")) {
      smoothedPairs[op.getName().str()] = smooth;
      return;
    }
    std::vector<std::string> &linears = smoothedNorms[op.getName().str()];
    for (mlir::Attribute name : smooth.getAs<mlir::ArrayAttr>("linears"))
      linears.push_back(llvm::cast<mlir::StringAttr>(name).getValue().str());
  });
  if (c.calibrated)
    EXPECT_FALSE(smoothedNorms.empty());

  mlir::PassManager lower(&context);
  LowerToPlanPassOptions lowering;
  lowering.maxTokens = 8;
  lower.addPass(createLowerToPlanPass(lowering));
  lower.addPass(createPlanMemoryPass());
  lower.addPass(createPlanVerifyMemoryPass());
  ASSERT_TRUE(mlir::succeeded(lower.run(module)));
  auto plan = artifact::translatePlan(module, 8);
  ASSERT_TRUE(!!plan) << llvm::toString(plan.takeError());

  std::set<std::string> names;
  for (const artifact::TensorSpec &tensor : plan->tensors)
    names.insert(tensor.name);
  int quantized = 0;
  for (const artifact::TensorSpec &tensor : plan->tensors) {
    auto stored = store.describe(tensor.weight);
    ASSERT_TRUE(!!stored) << llvm::toString(stored.takeError());
    EXPECT_EQ(stored->dtype, tensor.desc->dtype) << tensor.name;
    EXPECT_EQ(llvm::ArrayRef<int64_t>(stored->shape),
              llvm::ArrayRef<int64_t>(tensor.desc->shape))
        << tensor.name;
    std::vector<uint8_t> bytes(stored->getBytes());
    ASSERT_FALSE(!!store.materialize(tensor.weight, bytes)) << tensor.name;
    if (tensor.quant) {
      ++quantized;
      EXPECT_TRUE(names.count(tensor.quant->scaleTensor)) << tensor.name;
      if (!c.symmetric)
        EXPECT_TRUE(names.count(tensor.quant->zeroPointTensor)) << tensor.name;
    }
  }
  bool quantizes =
      std::string(c.scheme) != "fp16" && std::string(c.scheme) != "bf16";
  EXPECT_EQ(quantized > 0, quantizes);
  ASSERT_TRUE(plan->kvCacheDType.has_value());
  if (std::string(c.kvCache) == "fp8")
    EXPECT_EQ(*plan->kvCacheDType, artifact::DType::F8E4M3);

  // Smoothing divides the stored norm (Gemma: 1 + w) by the factors.
  if (!smoothedNorms.empty()) {
    auto fresh = frontends::importModel(
        context, std::string(LLMC_TINY_MODELS_DIR) + "/" + c.model,
        importOptions);
    ASSERT_TRUE(!!fresh);
    for (auto &[name, linears] : smoothedNorms) {
      std::vector<float> original = materializeF32(*fresh->weights, name);
      std::vector<float> smoothed = materializeF32(store, name);
      auto factors = store.getSmoothingFactors(name);
      ASSERT_TRUE(!!factors);
      ASSERT_EQ(original.size(), smoothed.size());
      for (size_t j = 0; j < original.size(); ++j)
        ASSERT_EQ(smoothed[j], original[j] / (*factors)[j]) << name << j;
      if (quantizes)
        continue;
      // Unquantized, the smoothed network computes what the original did:
      // W (x * g) == (W diag(s)) (x * g / s) up to f32 rounding.
      std::vector<float> x(original.size());
      for (size_t j = 0; j < x.size(); ++j)
        x[j] = std::sin(0.7f * j + 0.3f);
      for (const std::string &linear : linears) {
        std::vector<float> w = materializeF32(*fresh->weights, linear);
        std::vector<float> ws = materializeF32(store, linear);
        // A pair producer's rows are divided as well: undo that here.
        std::vector<float> rowFactors;
        if (smoothedPairs.count(linear)) {
          auto pairFactors = store.getSmoothingFactors(linear);
          ASSERT_TRUE(!!pairFactors);
          rowFactors = *pairFactors;
        }
        ASSERT_EQ(w.size(), ws.size());
        EXPECT_NE(w, ws) << linear;
        size_t k = x.size();
        for (size_t n = 0; n < w.size() / k; ++n) {
          double before = 0, after = 0, magnitude = 0;
          for (size_t j = 0; j < k; ++j) {
            before += double(w[n * k + j]) * (x[j] * original[j]);
            after += double(ws[n * k + j]) * (x[j] * smoothed[j]);
            magnitude += std::fabs(double(w[n * k + j]) * x[j] * original[j]);
          }
          if (!rowFactors.empty())
            after *= rowFactors[n];
          EXPECT_NEAR(after, before, 1e-6 * (1.0 + magnitude))
              << linear << " row " << n;
        }
      }
    }
  }
  // The consumers' columns are multiplied by their V (or up) channel's
  // factor: c = h * head_dim + d reads channel (h / r) * head_dim + d.
  if (!quantizes && c.calibrated) {
    auto fresh = frontends::importModel(
        context, std::string(LLMC_TINY_MODELS_DIR) + "/" + c.model,
        importOptions);
    ASSERT_TRUE(!!fresh);
    EXPECT_FALSE(smoothedPairs.empty());
    for (auto &[producer, smooth] : smoothedPairs) {
      auto factors = store.getSmoothingFactors(producer);
      ASSERT_TRUE(!!factors);
      int64_t headDim = 0, r = 1;
      if (auto attr = smooth.getAs<mlir::IntegerAttr>("head_dim"))
        headDim = attr.getInt();
      if (auto attr =
              smooth.getAs<mlir::IntegerAttr>("query_heads_per_kv_head"))
        r = attr.getInt();
      for (mlir::Attribute name : smooth.getAs<mlir::ArrayAttr>("linears")) {
        std::string consumer =
            llvm::cast<mlir::StringAttr>(name).getValue().str();
        std::vector<float> w = materializeF32(*fresh->weights, consumer);
        std::vector<float> ws = materializeF32(store, consumer);
        ASSERT_EQ(w.size(), ws.size());
        size_t columns = factors->size() * r;
        for (size_t i = 0; i < w.size(); ++i) {
          size_t col = i % columns;
          size_t j =
              r == 1 ? col : col / (headDim * r) * headDim + col % headDim;
          ASSERT_EQ(ws[i], w[i] * (*factors)[j]) << consumer << " " << i;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    TinyModels, ImportQuantizeTest,
    ::testing::Values(Case{"llama", "fp8", true, true, "fp8"},
                      Case{"llama", "int8", false, true, "int8"},
                      Case{"qwen2", "int8", true, true, "none"},
                      Case{"qwen3", "w4a16", false, false, "none"},
                      Case{"qwen2", "w8a16", false, true, "none"},
                      Case{"gemma3", "int8", true, true, "fp8"},
                      Case{"gemma3", "w4a16", false, true, "none"},
                      Case{"mistral", "bf16", false, true, "fp8"},
                      // Smoothing alone: the float outputs are unchanged.
                      Case{"llama", "fp16", true, true, "none"},
                      Case{"gemma3", "fp16", true, true, "none"}),
    caseName);

} // namespace
