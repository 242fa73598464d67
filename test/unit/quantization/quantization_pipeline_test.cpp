// The compiler half of quantization end to end: addQuantizationPasses on an
// llm module, applyWeightAnnotations into a WeightStore over
// quant.safetensors, then the bytes the artifact would stream. Goldens are
// the numpy / ml_dtypes computations of test/unit/weights/make_quant_data.py
// (independent of llmc); the lowering's artifact view (Tensor.quant,
// kv_cache_dtype) comes from translatePlan.

#include "compiler/artifact/PlanToSpec.h"
#include "compiler/registration/Registration.h"
#include "compiler/weights/Safetensors.h"
#include "compiler/weights/WeightStore.h"
#include "passes/Calibration.h"
#include "passes/Passes.h"
#include "passes/QuantizationPipeline.h"
#include "passes/WeightAnnotations.h"
#include "runtime/loader/Artifact.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

namespace {

using namespace llmc;
using ::testing::HasSubstr;

std::string dataPath(llvm::StringRef name) {
  return std::string(LLMC_QUANT_TEST_DATA) + "/" + name.str();
}

std::vector<uint8_t> readBytes(llvm::StringRef name) {
  auto buffer = llvm::MemoryBuffer::getFile(dataPath(name), /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer) {
    ADD_FAILURE() << "cannot read " << dataPath(name);
    return {};
  }
  llvm::StringRef bytes = (*buffer)->getBuffer();
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

std::vector<float> toFloats(const std::vector<uint8_t> &bytes) {
  std::vector<float> values(bytes.size() / 4);
  std::memcpy(values.data(), bytes.data(), values.size() * 4);
  return values;
}

// A norm in front of one linear over the golden weight `w` [6, 256].
constexpr const char *kModule = R"mlir(
func.func @forward(%x: tensor<?x256xf32>, %b: !llm.batch) -> tensor<?x6xf32> {
  %g = llm.weight @norm : tensor<256xf32>
  %n = llm.rms_norm %x, %g epsilon = 1.0e-05 : tensor<?x256xf32>, tensor<256xf32>
  %w = llm.weight @w : tensor<6x256xf32>
  %y = llm.linear %n, %w : tensor<?x256xf32>, tensor<6x256xf32> -> tensor<?x6xf32>
  %y3 = llm.reshape %y : tensor<?x6xf32> -> tensor<?x3x2xf32>
  %o = llm.attention %y3, %y3, %y3, %b {layer = 0 : i64, scale = 0.5 : f64} : tensor<?x3x2xf32>, tensor<?x3x2xf32>, tensor<?x3x2xf32> -> tensor<?x3x2xf32>
  %o2 = llm.reshape %o : tensor<?x3x2xf32> -> tensor<?x6xf32>
  return %o2 : tensor<?x6xf32>
}
)mlir";

class QuantizationPipelineTest : public ::testing::Test {
protected:
  void SetUp() override {
    mlir::DialectRegistry registry;
    registerAllLlmcDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
    module = mlir::parseSourceString<mlir::ModuleOp>(kModule, &context);
    ASSERT_TRUE(module);
    auto checkpoint =
        weights::SafetensorsCheckpoint::open(dataPath("quant.safetensors"));
    ASSERT_TRUE(!!checkpoint) << llvm::toString(checkpoint.takeError());
    ASSERT_FALSE(!!store.addSource(std::move(*checkpoint)));
    store.addAllSourceTensors();
  }

  /// Runs the quantization pipeline, records its weight transforms and
  /// lowers to the plan; returns the artifact's view of the plan.
  artifact::PlanTranslation compile(const QuantizationOptions &options) {
    LowerToPlanPassOptions lowering;
    lowering.maxTokens = 4;
    // Annotations are read before lowering erases @forward.
    mlir::PassManager quantizeOnly(&context);
    addQuantizationPasses(quantizeOnly, options);
    EXPECT_TRUE(mlir::succeeded(quantizeOnly.run(*module)));
    if (llvm::Error error = applyWeightAnnotations(*module, store))
      ADD_FAILURE() << llvm::toString(std::move(error));
    mlir::PassManager lower(&context);
    lower.addPass(createLowerToPlanPass(lowering));
    EXPECT_TRUE(mlir::succeeded(lower.run(*module)));
    auto translation = artifact::translatePlan(*module, 4);
    if (!translation) {
      ADD_FAILURE() << llvm::toString(translation.takeError());
      return {};
    }
    return std::move(*translation);
  }

  std::vector<uint8_t> materialize(llvm::StringRef name) {
    auto desc = store.describe(name);
    if (!desc) {
      ADD_FAILURE() << llvm::toString(desc.takeError());
      return {};
    }
    std::vector<uint8_t> bytes(desc->getBytes());
    if (llvm::Error error = store.materialize(name, bytes))
      ADD_FAILURE() << llvm::toString(std::move(error));
    return bytes;
  }

  static const artifact::TensorSpec *
  findTensor(const artifact::PlanTranslation &plan, llvm::StringRef name) {
    for (const artifact::TensorSpec &tensor : plan.tensors)
      if (tensor.name == name)
        return &tensor;
    ADD_FAILURE() << "no tensor " << name.str();
    return nullptr;
  }

  /// `w` [6, 256] as quant.safetensors holds it.
  static std::vector<float> unquantizedW() {
    weights::WeightStore plain;
    auto checkpoint =
        weights::SafetensorsCheckpoint::open(dataPath("quant.safetensors"));
    EXPECT_TRUE(!!checkpoint);
    EXPECT_FALSE(!!plain.addSource(std::move(*checkpoint)));
    plain.addAllSourceTensors();
    std::vector<uint8_t> bytes(6 * 256 * 4);
    EXPECT_FALSE(!!plain.materialize("w", bytes));
    return toFloats(bytes);
  }

  /// A calibration file whose one entry, for `w`, has the channel maxima
  /// `act`; the caller removes it.
  static llvm::SmallString<128>
  writeCalibrationOfW(const std::vector<float> &act) {
    llvm::SmallString<128> calibPath;
    int fd;
    if (llvm::sys::fs::createTemporaryFile("calib", "json", fd, calibPath)) {
      ADD_FAILURE() << "cannot create a calibration file";
      return calibPath;
    }
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << R"({"format": "llmc-calibration-1", "model": "t", "tokens": 3, )"
       << R"("inputs": {"w": {"absmax": )"
       << *std::max_element(act.begin(), act.end())
       << R"(, "channel_absmax": [)";
    for (size_t j = 0; j < act.size(); ++j)
      os << (j ? ", " : "") << llvm::format("%.9g", act[j]);
    os << "]}}}";
    return calibPath;
  }

  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  weights::WeightStore store;
};

// --quant=int8 (no calibration): int8 per-channel weight bytes and scales as
// numpy computes them; the artifact tensor names its scheme and scales.
TEST_F(QuantizationPipelineTest, Int8WeightsMatchNumpy) {
  QuantizationOptions options;
  options.scheme = "int8";
  artifact::PlanTranslation plan = compile(options);
  EXPECT_EQ(materialize("w"), readBytes("int8_per_channel.bin"));
  EXPECT_EQ(materialize("w.scale"), readBytes("int8_per_channel.scale.f32"));
  const artifact::TensorSpec *w = findTensor(plan, "w");
  ASSERT_TRUE(w && w->quant);
  EXPECT_EQ(w->quant->scheme, "int8_per_channel");
  EXPECT_EQ(w->quant->scaleTensor, "w.scale");
  EXPECT_EQ(w->quant->zeroPointTensor, "");
  EXPECT_EQ(w->desc->dtype, weights::DType::I8);
  ASSERT_TRUE(plan.kvCacheDType.has_value());
  EXPECT_EQ(*plan.kvCacheDType, artifact::DType::F32);
}

// --quant=w4a16 asymmetric: packed int4, group scales and zero points equal
// numpy's (with its clipping search, the weight-only default); the GEMM step
// reads them as scale_b / zero_b.
TEST_F(QuantizationPipelineTest, W4A16AsymmetricMatchesNumpy) {
  QuantizationOptions options;
  options.scheme = "w4a16";
  options.symmetric = false;
  artifact::PlanTranslation plan = compile(options);
  EXPECT_EQ(materialize("w"), readBytes("int4_group128_asym_clip.bin"));
  EXPECT_EQ(materialize("w.scale"),
            readBytes("int4_group128_asym_clip.scale.f32"));
  EXPECT_EQ(materialize("w.zero_point"),
            readBytes("int4_group128_asym_clip.zero.bin"));
  const artifact::TensorSpec *w = findTensor(plan, "w");
  ASSERT_TRUE(w && w->quant);
  EXPECT_EQ(w->quant->scheme, "int4_group128_asym");
  EXPECT_EQ(w->quant->zeroPointTensor, "w.zero_point");
  EXPECT_EQ(w->desc->dtype, weights::DType::I4);
  bool sawGemm = false;
  for (const artifact::StepSpec &step : plan.plans.front().steps)
    if (const auto *gemm = std::get_if<artifact::GemmSpec>(&step.op)) {
      sawGemm = true;
      ASSERT_TRUE(gemm->scaleB && gemm->zeroB);
      EXPECT_EQ(gemm->zeroB->dtype, artifact::DType::I8);
      EXPECT_EQ(gemm->b.dtype, artifact::DType::I4);
    }
  EXPECT_TRUE(sawGemm);
}

// clipSearch=false: the plain max-range scales of numpy's quantize().
TEST_F(QuantizationPipelineTest, W4A16WithoutClipSearchMatchesNumpy) {
  QuantizationOptions options;
  options.scheme = "w4a16";
  options.symmetric = false;
  options.clipSearch = false;
  compile(options);
  EXPECT_EQ(materialize("w"), readBytes("int4_group128_asym.bin"));
  EXPECT_EQ(materialize("w.scale"), readBytes("int4_group128_asym.scale.f32"));
  EXPECT_EQ(materialize("w.zero_point"),
            readBytes("int4_group128_asym.zero.bin"));
}

// The W4A16 plan written as an artifact and read back by the runtime's
// loader: the weight's QuantParams name the scheme and index the scale and
// zero-point tensors; the GEMM step carries zero_b; the config says what the
// KV cache holds.
TEST_F(QuantizationPipelineTest, W4A16ArtifactRoundTrip) {
  QuantizationOptions options;
  options.scheme = "w4a16";
  options.symmetric = false;
  options.kvCache = "int8";
  artifact::PlanTranslation plan = compile(options);
  artifact::ArtifactSpec spec;
  spec.producer = "llmc test";
  spec.target = {"cpu", "x86-64", ""};
  spec.quantization = "w4a16";
  spec.config.architecture = "llama";
  spec.config.vocabSize = 6;
  spec.config.hiddenSize = 256;
  spec.config.numLayers = 1;
  spec.config.numHeads = 3;
  spec.config.numKVHeads = 3;
  spec.config.headDim = 2;
  spec.config.maxBatchTokens = 4;
  ASSERT_TRUE(plan.kvCacheDType.has_value());
  spec.config.kvCacheDType = *plan.kvCacheDType;
  spec.tensors = plan.tensors;
  spec.plans = plan.plans;
  llvm::SmallString<128> path;
  int fd;
  ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("quant", "llmc", fd, path));
  llvm::sys::Process::SafelyCloseFileDescriptor(fd);
  artifact::WriteOptions writeOptions;
  writeOptions.progressBar = artifact::WriteOptions::ProgressBar::Never;
  auto stats = artifact::writeArtifact(path, spec, store, writeOptions);
  ASSERT_TRUE(!!stats) << llvm::toString(stats.takeError());

  std::unique_ptr<loader::Artifact> loaded;
  loader::Status status = loader::Artifact::open(path.str().str(), {}, loaded);
  llvm::sys::fs::remove(path);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(loaded->config().kv_cache_dtype(), artifact::DType::I8);
  loader::TensorRef w;
  ASSERT_TRUE(loaded->findTensor("w", w).ok());
  ASSERT_TRUE(w.table && w.table->quant());
  EXPECT_EQ(w.table->dtype(), artifact::DType::I4);
  EXPECT_EQ(w.table->quant()->scheme()->str(), "int4_group128_asym");
  int scaleIndex = w.table->quant()->scale_tensor();
  int zeroIndex = w.table->quant()->zero_point_tensor();
  ASSERT_GE(scaleIndex, 0);
  ASSERT_GE(zeroIndex, 0);
  EXPECT_EQ(loaded->tensor(scaleIndex).name, "w.scale");
  EXPECT_EQ(loaded->tensor(zeroIndex).name, "w.zero_point");
  std::vector<uint8_t> stored(w.data, w.data + w.bytes);
  EXPECT_EQ(stored, readBytes("int4_group128_asym_clip.bin"));
  bool sawZeroB = false;
  for (const auto *rank : *loaded->root().plans())
    for (const auto *step : *rank->steps())
      if (const auto *gemm = step->op_as_GemmStep())
        sawZeroB = gemm->zero_b() != nullptr;
  EXPECT_TRUE(sawZeroB);
}

// --quant=fp8 --calib with SmoothQuant and --kv-cache=fp8: the norm and the
// weight are smoothed (the float product is unchanged), the static input
// scale is max_j(absmax_j / s_j) / 448, and the KV cache is FP8.
TEST_F(QuantizationPipelineTest, Fp8StaticSmoothedWithKvCache) {
  auto act = toFloats(readBytes("act_absmax.f32"));
  ASSERT_EQ(act.size(), 256u);
  llvm::SmallString<128> calibPath = writeCalibrationOfW(act);
  QuantizationOptions options;
  options.scheme = "fp8";
  options.activations = "static";
  options.calibFile = calibPath.str().str();
  options.smoothAlpha = 0.5;
  options.kvCache = "fp8";
  ASSERT_EQ(options.getSmoothAlpha(), 0.5);
  artifact::PlanTranslation plan = compile(options);
  llvm::sys::fs::remove(calibPath);

  auto factors = store.getSmoothingFactors("norm");
  ASSERT_TRUE(!!factors) << llvm::toString(factors.takeError());
  float smoothedMax = 0.0f;
  for (size_t j = 0; j < act.size(); ++j)
    smoothedMax = std::max(smoothedMax, act[j] / (*factors)[j]);
  std::vector<float> inputScale = toFloats(materialize("w.input_scale"));
  ASSERT_EQ(inputScale.size(), 1u);
  EXPECT_FLOAT_EQ(inputScale[0], smoothedMax / 448.0f);
  EXPECT_TRUE(findTensor(plan, "w.input_scale"));
  ASSERT_TRUE(plan.kvCacheDType.has_value());
  EXPECT_EQ(*plan.kvCacheDType, artifact::DType::F8E4M3);

  // The smoothed norm weight is the original divided by s.
  std::vector<float> norm = toFloats(materialize("norm"));
  weights::WeightStore plain;
  auto checkpoint =
      weights::SafetensorsCheckpoint::open(dataPath("quant.safetensors"));
  ASSERT_TRUE(!!checkpoint);
  ASSERT_FALSE(!!plain.addSource(std::move(*checkpoint)));
  plain.addAllSourceTensors();
  std::vector<uint8_t> originalBytes(256 * 4);
  ASSERT_FALSE(!!plain.materialize("norm", originalBytes));
  std::vector<float> original = toFloats(originalBytes);
  for (size_t j = 0; j < 256; ++j)
    EXPECT_FLOAT_EQ(norm[j], original[j] / (*factors)[j]) << j;
}

// --quant=w8a16 --calib: weight-only smooths by default (AWQ-style
// activation-aware scaling, alpha 0.5): the norm is divided by s and the
// stored INT8 groups hold w[n][j] * s_j, each within half its group's step.
TEST_F(QuantizationPipelineTest, W8A16CalibratedIsSmoothed) {
  auto act = toFloats(readBytes("act_absmax.f32"));
  ASSERT_EQ(act.size(), 256u);
  llvm::SmallString<128> calibPath = writeCalibrationOfW(act);
  QuantizationOptions options;
  options.scheme = "w8a16";
  options.calibFile = calibPath.str().str();
  // Plain max-range scales, so every value is within half a step.
  options.clipSearch = false;
  ASSERT_EQ(options.getSmoothAlpha(), 0.5);
  artifact::PlanTranslation plan = compile(options);
  llvm::sys::fs::remove(calibPath);

  auto factors = store.getSmoothingFactors("norm");
  ASSERT_TRUE(!!factors) << llvm::toString(factors.takeError());
  std::vector<float> original = unquantizedW();
  ASSERT_EQ(original.size(), 6u * 256u);
  std::vector<uint8_t> q = materialize("w");
  std::vector<float> scales = toFloats(materialize("w.scale"));
  ASSERT_EQ(q.size(), 6u * 256u);
  ASSERT_EQ(scales.size(), 6u * 2u); // groups of 128
  bool anyFactorBelowOne = false, anyFactorAboveOne = false;
  for (size_t j = 0; j < 256; ++j) {
    anyFactorBelowOne |= (*factors)[j] < 0.99f;
    anyFactorAboveOne |= (*factors)[j] > 1.01f;
  }
  EXPECT_TRUE(anyFactorBelowOne && anyFactorAboveOne);
  for (size_t n = 0; n < 6; ++n)
    for (size_t j = 0; j < 256; ++j) {
      float scale = scales[n * 2 + j / 128];
      float stored = static_cast<float>(static_cast<int8_t>(q[n * 256 + j]));
      float smoothed = original[n * 256 + j] * (*factors)[j];
      EXPECT_NEAR(stored * scale, smoothed, 0.5f * scale * 1.0001f)
          << n << ", " << j;
    }
  const artifact::TensorSpec *w = findTensor(plan, "w");
  ASSERT_TRUE(w && w->quant);
  EXPECT_EQ(w->quant->scheme, "int8_group128");
}

// Malformed annotations are errors naming the weight, not crashes.
TEST_F(QuantizationPipelineTest, BadAnnotationsAreErrors) {
  auto check = [&](const char *text, const char *message) {
    auto bad = mlir::parseSourceString<mlir::ModuleOp>(text, &context);
    ASSERT_TRUE(bad);
    llvm::Error error = applyWeightAnnotations(*bad, store);
    EXPECT_THAT(llvm::toString(std::move(error)), HasSubstr(message));
  };
  check(R"mlir(func.func @f() {
    %w = llm.weight @w {llm.quant = {granularity = "rows"}} : tensor<6x256xi8>
    return })mlir",
        "weight 'w': unknown llm.quant granularity 'rows'");
  check(R"mlir(func.func @f() {
    %s = llm.weight @x.scale {llm.derived = {of = "up", kind = "scale"}} : tensor<4x1xf32>
    return })mlir",
        "weight 'x.scale': scales of 'up', which has no quantization recorded");
  check(R"mlir(func.func @f() {
    %s = llm.weight @x.scale {llm.derived = {of = "up", kind = "offset"}} : tensor<4x1xf32>
    return })mlir",
        "weight 'x.scale': unknown llm.derived kind 'offset'");
}

// An attention step's kv_cache_dtype must be one the runtime stores.
TEST_F(QuantizationPipelineTest, UnknownKvCacheDtypeIsAnError) {
  auto plan = mlir::parseSourceString<mlir::ModuleOp>(R"mlir(
    plan.arena @act kind = activations size = 4096 alignment = 256
    plan.rank 0 {
      %q = plan.slice @act[0] : memref<4x2x2xf32>
      %o = plan.slice @act[256] : memref<4x2x2xf32>
      plan.compute "attention"(%q, %q, %q : memref<4x2x2xf32>, memref<4x2x2xf32>, memref<4x2x2xf32> -> %o : memref<4x2x2xf32>) {kv_cache_dtype = "f16", layer = 0 : i64, scale = 0.5 : f64}
    })mlir",
                                                      &context);
  ASSERT_TRUE(plan);
  auto translation = artifact::translatePlan(*plan, 4);
  ASSERT_FALSE(!!translation);
  EXPECT_THAT(llvm::toString(translation.takeError()),
              HasSubstr("attention kv_cache_dtype 'f16' is not f8E4M3FN or "
                        "i8"));
}

// writeCalibration and loadCalibration agree (floats survive exactly: JSON
// numbers are printed with full precision), and the file is what the
// passes read.
TEST(CalibrationTest, WriteThenLoad) {
  Calibration calibration;
  calibration.model = "tiny";
  calibration.tokens = 42;
  calibration.inputs["a.weight"] = {3.25f, {0.1f, 2.5f, 3.25f}};
  calibration.inputs["b.weight"] = {1e-7f, {}};
  llvm::SmallString<128> path;
  int fd;
  ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("calib", "json", fd, path));
  llvm::sys::Process::SafelyCloseFileDescriptor(fd);
  ASSERT_FALSE(!!writeCalibration(path, calibration));
  mlir::MLIRContext context;
  mlir::FailureOr<Calibration> loaded =
      loadCalibration(path, mlir::UnknownLoc::get(&context));
  llvm::sys::fs::remove(path);
  ASSERT_TRUE(mlir::succeeded(loaded));
  EXPECT_EQ(loaded->model, "tiny");
  EXPECT_EQ(loaded->tokens, 42);
  ASSERT_EQ(loaded->inputs.size(), 2u);
  const CalibrationEntry *a = loaded->lookup("a.weight");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->absMax, 3.25f);
  EXPECT_EQ(a->channelAbsMax, (std::vector<float>{0.1f, 2.5f, 3.25f}));
  const CalibrationEntry *b = loaded->lookup("b.weight");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->absMax, 1e-7f);
  EXPECT_TRUE(b->channelAbsMax.empty());
}

// SmoothQuant (for weight-only: AWQ-style scaling) is the default of every
// quantizing scheme, only with a calibration file; fp16/bf16 never smooth.
TEST(QuantizationOptionsTest, SmoothDefaults) {
  QuantizationOptions options;
  EXPECT_EQ(options.getSmoothAlpha(), std::nullopt);
  options.calibFile = "calib.json";
  EXPECT_EQ(options.getSmoothAlpha(), 0.5);
  options.smoothAlpha = -1.0;
  EXPECT_EQ(options.getSmoothAlpha(), std::nullopt);
  options.scheme = "fp8";
  options.smoothAlpha.reset();
  EXPECT_EQ(options.getSmoothAlpha(), 0.5);
  options.scheme = "w8a16";
  EXPECT_EQ(options.getSmoothAlpha(), 0.5);
  options.scheme = "w4a16";
  EXPECT_EQ(options.getSmoothAlpha(), 0.5);
  options.scheme = "bf16";
  EXPECT_EQ(options.getSmoothAlpha(), std::nullopt);
}

// A bad option fails the pipeline with a message naming it.
TEST_F(QuantizationPipelineTest, BadOptionFails) {
  QuantizationOptions options;
  options.scheme = "int3";
  mlir::PassManager pm(&context);
  addQuantizationPasses(pm, options);
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&context,
                                        [&](mlir::Diagnostic &diagnostic) {
                                          diagnostics += diagnostic.str();
                                          return mlir::success();
                                        });
  EXPECT_TRUE(mlir::failed(pm.run(*module)));
  EXPECT_THAT(diagnostics, HasSubstr("llm-quantize option 'scheme': unknown "
                                     "scheme 'int3'"));
}

} // namespace

namespace {

/// A temporary file path (the file is created, then closed).
llvm::SmallString<128> temporaryPath(llvm::StringRef suffix) {
  llvm::SmallString<128> path;
  int fd;
  if (llvm::sys::fs::createTemporaryFile("gptq", suffix, fd, path))
    ADD_FAILURE() << "cannot create a temporary file";
  else
    llvm::sys::Process::SafelyCloseFileDescriptor(fd);
  return path;
}

std::string errorOf(llvm::Expected<std::shared_ptr<GramFile>> file) {
  if (file) {
    ADD_FAILURE() << "expected an error";
    return {};
  }
  return llvm::toString(file.takeError());
}

} // namespace

// GramFile::write and open agree; weights sharing an input share the
// matrix; a file that is cut short, has another header or trailing bytes
// is an error naming the file and what is wrong.
TEST(GramFileTest, WriteThenOpenAndCorruption) {
  llvm::SmallString<128> path = temporaryPath("gram");
  std::vector<GramEntry> entries = {
      {{"q.weight", "k.weight"}, 2, {1.0f, 0.5f, 0.5f, 2.0f}},
      {{"o.weight"}, 3, {1, 0, 0, 0, 1, 0, 0, 0, 1}}};
  ASSERT_FALSE(!!GramFile::write(path, 77, entries));
  auto file = GramFile::open(path);
  ASSERT_TRUE(!!file) << llvm::toString(file.takeError());
  EXPECT_EQ((*file)->getTokens(), 77);
  auto q = (*file)->lookup("q.weight"), k = (*file)->lookup("k.weight");
  auto o = (*file)->lookup("o.weight");
  ASSERT_TRUE(q && k && o);
  EXPECT_EQ(q->channels, 2);
  EXPECT_EQ(q->values, k->values);
  EXPECT_EQ(std::vector<float>(q->values, q->values + 4), entries[0].values);
  EXPECT_EQ(std::vector<float>(o->values, o->values + 9), entries[1].values);
  EXPECT_EQ((*file)->lookup("v.weight"), nullptr);

  std::vector<uint8_t> bytes;
  {
    auto buffer = llvm::MemoryBuffer::getFile(path, false, false);
    ASSERT_TRUE(!!buffer);
    llvm::StringRef data = (*buffer)->getBuffer();
    bytes.assign(data.begin(), data.end());
  }
  auto rewrite = [&](const std::vector<uint8_t> &content) {
    std::error_code error;
    llvm::raw_fd_ostream os(path, error);
    os.write(reinterpret_cast<const char *>(content.data()), content.size());
  };
  rewrite(std::vector<uint8_t>(bytes.begin(), bytes.end() - 4));
  EXPECT_THAT(errorOf(GramFile::open(path)),
              HasSubstr("Gram matrix file '" + path.str().str() +
                        "': truncated: entry 1's 3 x 3 matrix"));
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  rewrite(longer);
  EXPECT_THAT(errorOf(GramFile::open(path)),
              HasSubstr("1 bytes follow the last entry"));
  std::vector<uint8_t> renamed = bytes;
  renamed[0] = 'X';
  rewrite(renamed);
  EXPECT_THAT(errorOf(GramFile::open(path)),
              HasSubstr("not an llmc Gram matrix file"));
  llvm::sys::fs::remove(path);
  EXPECT_THAT(errorOf(GramFile::open(path)), HasSubstr("cannot read it"));
}

// GPTQ under SmoothQuant: the pipeline's calibration file names its Gram
// matrix file (gram_file, beside it), and the weight GPTQ rounds is the
// smoothed W diag(s), whose inputs are x / s. Mapped back (column j divided
// by s_j), its output error on the original inputs, sum over rows of
// e H eᵀ, must be well below rounding the same smoothed weight to nearest.
TEST_F(QuantizationPipelineTest, GptqUnderSmoothingLowersOutputError) {
  auto act = toFloats(readBytes("act_absmax.f32"));
  std::vector<float> gram = toFloats(readBytes("gram.f32"));
  ASSERT_EQ(gram.size(), 256u * 256u);
  std::vector<float> original = unquantizedW();
  ASSERT_EQ(original.size(), 6u * 256u);

  auto outputError = [&](bool gptq) {
    llvm::SmallString<128> calibPath = writeCalibrationOfW(act);
    std::string gramPath = (calibPath + ".gram").str();
    if (gptq) {
      mlir::FailureOr<Calibration> calibration =
          loadCalibration(calibPath, mlir::UnknownLoc::get(&context));
      EXPECT_TRUE(mlir::succeeded(calibration));
      calibration->gramPath = gramPath;
      EXPECT_FALSE(!!writeCalibration(calibPath, *calibration));
      EXPECT_FALSE(!!GramFile::write(gramPath, 3, {{{"w"}, 256, gram}}));
    }
    QuantizationOptions options;
    options.scheme = "w4a16";
    options.calibFile = calibPath.str().str();
    options.gptq = gptq;
    // A fresh module and store per run.
    auto module = mlir::parseSourceString<mlir::ModuleOp>(kModule, &context);
    weights::WeightStore store;
    auto source =
        weights::SafetensorsCheckpoint::open(dataPath("quant.safetensors"));
    EXPECT_TRUE(!!source);
    EXPECT_FALSE(!!store.addSource(std::move(*source)));
    store.addAllSourceTensors();
    mlir::PassManager pm(&context);
    addQuantizationPasses(pm, options);
    EXPECT_TRUE(mlir::succeeded(pm.run(*module)));
    EXPECT_FALSE(!!applyWeightAnnotations(*module, store));
    auto factors = store.getSmoothingFactors("norm");
    EXPECT_TRUE(!!factors);
    auto bytesOf = [&](llvm::StringRef name) {
      auto desc = store.describe(name);
      std::vector<uint8_t> bytes(desc ? desc->getBytes() : 0);
      EXPECT_FALSE(!!store.materialize(name, bytes));
      return bytes;
    };
    std::vector<uint8_t> q = bytesOf("w");
    std::vector<float> scales = toFloats(bytesOf("w.scale"));
    llvm::sys::fs::remove(calibPath);
    llvm::sys::fs::remove(gramPath);
    std::vector<float> codes(6 * 256);
    weights::decodeToF32(weights::DType::I4, q, codes.data(), codes.size());
    const size_t groups = scales.size() / 6, group = 256 / groups;
    std::vector<double> e(6 * 256);
    for (size_t n = 0; n < 6; ++n)
      for (size_t j = 0; j < 256; ++j)
        e[n * 256 + j] = original[n * 256 + j] -
                         double(codes[n * 256 + j]) *
                             scales[n * groups + j / group] / (*factors)[j];
    double error = 0;
    for (size_t n = 0; n < 6; ++n)
      for (size_t i = 0; i < 256; ++i)
        for (size_t j = 0; j < 256; ++j)
          error += e[n * 256 + i] * gram[i * 256 + j] * e[n * 256 + j];
    return error;
  };
  double nearest = outputError(false);
  double gptq = outputError(true);
  EXPECT_LT(gptq, 0.8 * nearest) << "nearest " << nearest << ", GPTQ " << gptq;
}
