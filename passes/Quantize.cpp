//===- Quantize.cpp - llm-quantize: FP8/INT8 W8A8, weight-only, KV cache --===//

#include "dialects/llm/LLMOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "passes/Calibration.h"
#include "passes/Passes.h"
#include "passes/WeightAnnotations.h"
#include "passes/WeightNameFilter.h"
#include "llvm/ADT/StringExtras.h"

#define DEBUG_TYPE "llm-quantize"

namespace llmc {
#define GEN_PASS_DEF_QUANTIZEPASS
#include "passes/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;

namespace {

enum class Scheme { Fp8, Int8, W8A16, W4A16, Fp16, Bf16, F32 };
enum class Granularity { PerTensor, PerChannel, Group };

struct QuantizePass : llmc::impl::QuantizePassBase<QuantizePass> {
  using Base::Base;

  void runOnOperation() override;

private:
  LogicalResult parseOptions(ModuleOp module);
  bool isKept(StringRef name) const { return keep.matches(name); }
  LogicalResult quantizeLinear(llm::LinearOp linear, llm::WeightOp weight);
  /// Makes `weight` the quantized weight of element type `element` and
  /// declares its scales (and zero points); returns {scale, zero}.
  std::pair<Value, Value> quantizeWeight(llm::WeightOp weight, Type element,
                                         Granularity granularity, int64_t group,
                                         bool isSymmetric);

  Scheme parsedScheme = Scheme::Int8;
  Granularity granularity = Granularity::PerChannel;
  bool staticActivations = false;
  std::optional<Type> kvCacheType;
  WeightNameFilter keep;
  std::optional<Calibration> calibration;
};

LogicalResult QuantizePass::parseOptions(ModuleOp module) {
  MLIRContext *context = module.getContext();
  auto fail = [&](StringRef option, const Twine &message) {
    return module.emitError("llm-quantize option '")
           << option << "': " << message;
  };
  std::optional<Scheme> schemeValue =
      llvm::StringSwitch<std::optional<Scheme>>(scheme)
          .Case("fp8", Scheme::Fp8)
          .Case("int8", Scheme::Int8)
          .Case("w8a16", Scheme::W8A16)
          .Case("w4a16", Scheme::W4A16)
          .Case("fp16", Scheme::Fp16)
          .Case("bf16", Scheme::Bf16)
          .Case("f32", Scheme::F32)
          .Default(std::nullopt);
  if (!schemeValue)
    return fail("scheme", "unknown scheme '" + scheme +
                              "'; expected fp8, int8, w8a16, w4a16, fp16, "
                              "bf16 or f32");
  parsedScheme = *schemeValue;
  bool weightOnly =
      parsedScheme == Scheme::W8A16 || parsedScheme == Scheme::W4A16;
  bool w8a8 = parsedScheme == Scheme::Fp8 || parsedScheme == Scheme::Int8;

  std::optional<Granularity> granularityValue =
      llvm::StringSwitch<std::optional<Granularity>>(weightGranularity)
          .Case("", weightOnly ? Granularity::Group : Granularity::PerChannel)
          .Case("per-tensor", Granularity::PerTensor)
          .Case("per-channel", Granularity::PerChannel)
          .Case("group", Granularity::Group)
          .Default(std::nullopt);
  if (!granularityValue)
    return fail("weight-granularity",
                "unknown granularity '" + weightGranularity +
                    "'; expected per-tensor, per-channel or group");
  granularity = *granularityValue;
  if (w8a8 && granularity == Granularity::Group)
    return fail("weight-granularity",
                "scheme=" + scheme +
                    " (W8A8) takes per-tensor or per-channel weight scales, "
                    "not group: its GEMM applies one scale per output "
                    "channel");
  if (weightOnly && granularity == Granularity::PerTensor)
    return fail("weight-granularity",
                "weight-only scheme=" + scheme +
                    " takes per-channel or group scales, not per-tensor");
  if (granularity == Granularity::Group && groupSize <= 0)
    return fail("group-size", "must be positive, got " +
                                  Twine(static_cast<int64_t>(groupSize)));
  if (!symmetric && w8a8)
    return fail("symmetric", "asymmetric (zero-point) quantization is for "
                             "the weight-only schemes w8a16 and w4a16; W8A8 "
                             "GEMMs take symmetric scales");

  if (activations != "dynamic" && activations != "static")
    return fail("activations", "unknown value '" + activations +
                                   "'; expected dynamic or static");
  staticActivations = activations == "static";
  if (staticActivations && !w8a8)
    return fail("activations", "static activation scales belong to the W8A8 "
                               "schemes fp8 and int8, not " +
                                   scheme);
  if (staticActivations && calibFile.empty())
    return fail("activations", "static activation scales need calib-file "
                               "(run `llmc compile --calib TEXT`), or use "
                               "activations=dynamic");
  if (!calibFile.empty()) {
    FailureOr<Calibration> loaded = loadCalibration(calibFile, module.getLoc());
    if (failed(loaded))
      return failure();
    calibration = std::move(*loaded);
  }
  if (gptq && (!calibration || calibration->gramPath.empty()))
    return fail("gptq", calibFile.empty()
                            ? Twine("needs calib-file with Gram matrices "
                                    "(`llmc compile --calib TEXT --gptq`)")
                            : "calibration file '" + calibFile +
                                  "' has no gram_file; recalibrate with "
                                  "`llmc compile --calib TEXT --gptq`");

  if (kvCache == "fp8")
    kvCacheType = Float8E4M3FNType::get(context);
  else if (kvCache == "int8")
    kvCacheType = IntegerType::get(context, 8);
  else if (kvCache != "none")
    return fail("kv-cache",
                "unknown value '" + kvCache + "'; expected none, fp8 or int8");

  llvm::Expected<WeightNameFilter> filter = WeightNameFilter::parse(keepFp);
  if (!filter)
    return fail("keep-fp", llvm::toString(filter.takeError()));
  keep = std::move(*filter);
  return success();
}

std::pair<Value, Value>
QuantizePass::quantizeWeight(llm::WeightOp weight, Type element,
                             Granularity weightGranularity, int64_t group,
                             bool isSymmetric) {
  MLIRContext *context = weight.getContext();
  OpBuilder builder(context);
  builder.setInsertionPointAfter(weight);
  RankedTensorType type = weight.getType();
  int64_t rows = type.getDimSize(0), columns = type.getDimSize(1);
  std::string name = weight.getName().str();

  SmallVector<int64_t> scaleShape;
  StringRef granularityName = "tensor";
  std::string schemeName =
      isa<Float8E4M3FNType>(element)
          ? "fp8"
          : (element.isSignlessInteger(4) ? "int4" : "int8");
  if (weightGranularity == Granularity::PerTensor) {
    schemeName += "_per_tensor";
  } else if (weightGranularity == Granularity::PerChannel) {
    scaleShape = {rows, 1};
    granularityName = "channel";
    schemeName += "_per_channel";
  } else {
    scaleShape = {rows, columns / group};
    granularityName = "group";
    schemeName += "_group" + std::to_string(group);
  }
  if (!isSymmetric)
    schemeName += "_asym";

  std::string scaleName = name + ".scale";
  std::string zeroName = name + ".zero_point";
  SmallVector<NamedAttribute> quant = {
      builder.getNamedAttr("scheme", builder.getStringAttr(schemeName)),
      builder.getNamedAttr("granularity",
                           builder.getStringAttr(granularityName)),
      builder.getNamedAttr("symmetric", builder.getBoolAttr(isSymmetric)),
      builder.getNamedAttr("scale", builder.getStringAttr(scaleName))};
  if (weightGranularity == Granularity::Group)
    quant.push_back(
        builder.getNamedAttr("group_size", builder.getI64IntegerAttr(group)));
  if (!isSymmetric)
    quant.push_back(
        builder.getNamedAttr("zero_point", builder.getStringAttr(zeroName)));
  // Weight-only schemes only: on SmolLM2 the search lowered int4/int8
  // weight-only error but not W8A8's (whose activation error dominates).
  bool weightOnly =
      parsedScheme == Scheme::W8A16 || parsedScheme == Scheme::W4A16;
  if (clipSearch && weightOnly && isa<IntegerType>(element) &&
      weightGranularity != Granularity::PerTensor)
    quant.push_back(builder.getNamedAttr("clip_search", builder.getUnitAttr()));
  if (gptq)
    quant.push_back(builder.getNamedAttr(
        "gptq", builder.getStringAttr(calibration->gramPath)));
  weight.getResult().setType(RankedTensorType::get(type.getShape(), element));
  weight->setAttr(kWeightQuantAttrName, builder.getDictionaryAttr(quant));

  auto derived = [&](StringRef kind) {
    return builder.getDictionaryAttr(
        {builder.getNamedAttr("of", builder.getStringAttr(name)),
         builder.getNamedAttr("kind", builder.getStringAttr(kind))});
  };
  auto scale = llm::WeightOp::create(
      builder, weight.getLoc(),
      RankedTensorType::get(scaleShape, builder.getF32Type()),
      FlatSymbolRefAttr::get(context, scaleName));
  scale->setAttr(kWeightDerivedAttrName, derived("scale"));
  Value zero;
  if (!isSymmetric) {
    auto zeroOp = llm::WeightOp::create(
        builder, weight.getLoc(),
        RankedTensorType::get(scaleShape, builder.getIntegerType(8)),
        FlatSymbolRefAttr::get(context, zeroName));
    zeroOp->setAttr(kWeightDerivedAttrName, derived("zero_point"));
    zero = zeroOp;
  }
  return {scale, zero};
}

LogicalResult QuantizePass::quantizeLinear(llm::LinearOp linear,
                                           llm::WeightOp weight) {
  MLIRContext *context = linear.getContext();
  OpBuilder builder(linear);
  StringRef name = weight.getName();
  int64_t columns = weight.getType().getDimSize(1);
  int64_t group = groupSize;

  if (parsedScheme == Scheme::W8A16 || parsedScheme == Scheme::W4A16) {
    Type element =
        IntegerType::get(context, parsedScheme == Scheme::W8A16 ? 8 : 4);
    Granularity weightGranularity = granularity;
    if (granularity == Granularity::Group && columns <= group) {
      // The whole row is one group.
      weightGranularity = Granularity::PerChannel;
    } else if (granularity == Granularity::Group && columns % group != 0) {
      // The largest even group below the asked one that divides the row
      // keeps the accuracy of small groups (SmolLM2's 576 channels get 96);
      // llama.cpp likewise falls back to smaller blocks for such rows.
      int64_t fallback = group - group % 2;
      while (fallback > 0 && columns % fallback != 0)
        fallback -= 2;
      if (fallback >= 2) {
        group = fallback;
        ++numSmallerGroups;
      } else {
        linear.emitRemark("llm-quantize: no even group size up to ")
            << static_cast<int64_t>(groupSize) << " divides the " << columns
            << " input channels of weight @" << name
            << "; it gets per-channel scales";
        weightGranularity = Granularity::PerChannel;
      }
    }
    if (element.isSignlessInteger(4) && columns % 2 != 0)
      return linear.emitError("llm-quantize: weight @")
             << name << " has " << columns
             << " input channels; int4 packs two per byte and needs an "
                "even count (keep it in high precision with keep-fp)";
    RankedTensorType floatWeightType = weight.getType();
    auto [scale, zero] =
        quantizeWeight(weight, element, weightGranularity, group, symmetric);
    auto dequantize =
        llm::DequantizeOp::create(builder, linear.getLoc(), floatWeightType,
                                  weight.getResult(), scale, zero);
    linear.getWeightMutable().assign(dequantize);
    return success();
  }

  // W8A8.
  Type element = parsedScheme == Scheme::Fp8
                     ? Type(Float8E4M3FNType::get(context))
                     : Type(IntegerType::get(context, 8));
  float qmax = parsedScheme == Scheme::Fp8 ? 448.0f : 127.0f;
  auto inputType = cast<RankedTensorType>(linear.getInput().getType());
  Value quantizedInput, inputScale;
  const CalibrationEntry *entry =
      calibration ? calibration->lookup(name) : nullptr;
  if (staticActivations && !entry) {
    if (!staticFallback)
      return linear.emitError("llm-quantize: no calibration entry for weight "
                              "@")
             << name << " in '" << calibFile
             << "'; static activation scales need one for every quantized "
                "linear (recalibrate, keep it in high precision with "
                "keep-fp, or pass static-fallback to quantize its input "
                "dynamically)";
    linear.emitRemark("llm-quantize: no calibration entry for weight @")
        << name << "; its input is quantized dynamically (static-fallback)";
  }
  Value weightScale = quantizeWeight(weight, element, granularity, /*group=*/0,
                                     /*isSymmetric=*/true)
                          .first;
  if (staticActivations && entry) {
    OpBuilder weightBuilder(context);
    weightBuilder.setInsertionPointAfter(weightScale.getDefiningOp());
    SmallVector<NamedAttribute> attrs = {
        builder.getNamedAttr("absmax", builder.getF64FloatAttr(entry->absMax)),
        builder.getNamedAttr("qmax", builder.getF64FloatAttr(qmax))};
    if (auto smoothedBy =
            weight->getAttrOfType<StringAttr>(kWeightSmoothedByAttrName))
      attrs.push_back(builder.getNamedAttr("smoothed_by", smoothedBy));
    auto scaleOp = llm::WeightOp::create(
        weightBuilder, weight.getLoc(),
        RankedTensorType::get({}, builder.getF32Type()),
        FlatSymbolRefAttr::get(context, (name + ".input_scale").str()));
    scaleOp->setAttr(kWeightActivationScaleAttrName,
                     builder.getDictionaryAttr(attrs));
    inputScale = scaleOp;
    quantizedInput = llm::QuantizeOp::create(
        builder, linear.getLoc(),
        RankedTensorType::get(inputType.getShape(), element), linear.getInput(),
        inputScale, Value());
  } else {
    SmallVector<int64_t> perToken(inputType.getShape());
    perToken.back() = 1;
    auto dynamic = llm::QuantizeDynamicOp::create(
        builder, linear.getLoc(),
        RankedTensorType::get(inputType.getShape(), element),
        RankedTensorType::get(perToken, builder.getF32Type()),
        linear.getInput());
    quantizedInput = dynamic.getResult();
    inputScale = dynamic.getScale();
  }
  linear.getInputMutable().assign(quantizedInput);
  linear.getInputScaleMutable().assign(inputScale);
  linear.getWeightScaleMutable().assign(weightScale);
  return success();
}

void QuantizePass::runOnOperation() {
  ModuleOp module = getOperation();
  if (failed(parseOptions(module)))
    return signalPassFailure();

  if (kvCacheType)
    module.walk([&](llm::AttentionOp attention) {
      attention.setKvCacheDtypeAttr(TypeAttr::get(*kvCacheType));
      ++numQuantizedAttention;
    });
  if (parsedScheme == Scheme::Fp16 || parsedScheme == Scheme::Bf16 ||
      parsedScheme == Scheme::F32)
    return;

  // A weight is quantized in place only when this linear alone reads it:
  // one llm.weight op per name, one use (a tied LM head shares the
  // embedding table, which must stay float for the lookup).
  llvm::StringMap<int> opsPerName;
  module.walk([&](llm::WeightOp op) { ++opsPerName[op.getName()]; });

  SmallVector<llm::LinearOp> linears;
  module.walk([&](llm::LinearOp op) { linears.push_back(op); });
  for (llm::LinearOp linear : linears) {
    if (linear.isQuantized())
      continue;
    auto weight = linear.getWeight().getDefiningOp<llm::WeightOp>();
    if (!weight || weight.getType().getRank() != 2) {
      ++numKept;
      continue;
    }
    Type element = weight.getType().getElementType();
    if (!(element.isF32() || element.isF16() || element.isBF16()) ||
        isKept(weight.getName())) {
      ++numKept;
      continue;
    }
    if (!weight->hasOneUse() || opsPerName[weight.getName()] != 1) {
      linear.emitRemark("llm-quantize: weight @")
          << weight.getName()
          << " is read by more than this linear; it stays in high precision";
      ++numKept;
      continue;
    }
    if (failed(quantizeLinear(linear, weight)))
      return signalPassFailure();
    ++numQuantized;
  }
}

} // namespace
