//===- WeightAnnotations.cpp - annotations on llm.weight to WeightStore ---===//

#include "passes/WeightAnnotations.h"

#include "compiler/weights/WeightStore.h"
#include "dialects/llm/LLMOps.h"
#include "passes/Calibration.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;

namespace llmc {

namespace {

llvm::Error annotationError(StringRef weight, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "weight '" + weight + "': " + message);
}

llvm::Expected<weights::QuantScheme> parseScheme(llm::WeightOp op,
                                                 DictionaryAttr quant) {
  weights::QuantScheme scheme;
  Type element = op.getType().getElementType();
  if (isa<Float8E4M3FNType>(element))
    scheme.dtype = weights::DType::F8E4M3;
  else if (element.isSignlessInteger(8))
    scheme.dtype = weights::DType::I8;
  else if (element.isSignlessInteger(4))
    scheme.dtype = weights::DType::I4;
  else
    return annotationError(op.getName(), "llm.quant on a weight of element "
                                         "type that is not i8, i4 or "
                                         "f8E4M3FN");
  auto granularity = quant.getAs<StringAttr>("granularity");
  if (!granularity)
    return annotationError(op.getName(), "llm.quant lacks `granularity`");
  if (granularity.getValue() == "tensor")
    scheme.granularity = weights::QuantGranularity::PerTensor;
  else if (granularity.getValue() == "channel")
    scheme.granularity = weights::QuantGranularity::PerChannel;
  else if (granularity.getValue() == "group")
    scheme.granularity = weights::QuantGranularity::Group;
  else
    return annotationError(op.getName(), "unknown llm.quant granularity '" +
                                             granularity.getValue() + "'");
  if (auto groupSize = quant.getAs<IntegerAttr>("group_size"))
    scheme.groupSize = groupSize.getInt();
  if (auto symmetric = quant.getAs<BoolAttr>("symmetric"))
    scheme.symmetric = symmetric.getValue();
  scheme.searchClipping = quant.contains("clip_search");
  return scheme;
}

/// Records the smoothing that `smooth` (llm.smooth on weight `name`) asks
/// for: of a norm, or with `rows` of a linear's output rows.
llvm::Error applySmoothing(StringRef name, DictionaryAttr smooth,
                           weights::WeightStore &store) {
  auto alpha = smooth.getAs<FloatAttr>("alpha");
  auto minFactor = smooth.getAs<FloatAttr>("min_factor");
  auto maxima = smooth.getAs<DenseFPElementsAttr>("activation_absmax");
  auto linears = smooth.getAs<ArrayAttr>("linears");
  if (!alpha || !maxima || !linears)
    return annotationError(name, "llm.smooth needs alpha, "
                                 "activation_absmax and linears");
  std::vector<float> absMax;
  for (APFloat value : maxima.getValues<APFloat>())
    absMax.push_back(value.convertToFloat());
  std::vector<std::string> linearNames;
  for (Attribute linear : linears) {
    auto linearName = dyn_cast<StringAttr>(linear);
    if (!linearName)
      return annotationError(name, "llm.smooth linears must be strings");
    linearNames.push_back(linearName.getValue().str());
  }
  StringRef bias;
  if (auto biasName = smooth.getAs<StringAttr>("bias"))
    bias = biasName.getValue();
  double min = minFactor ? minFactor.getValueAsDouble() : 1e-5;
  if (!smooth.contains("rows"))
    return store.smooth(name, bias, linearNames, absMax,
                        alpha.getValueAsDouble(), min);
  int64_t headDim = 0, queryHeadsPerKVHead = 1;
  if (auto attr = smooth.getAs<IntegerAttr>("head_dim"))
    headDim = attr.getInt();
  if (auto attr = smooth.getAs<IntegerAttr>("query_heads_per_kv_head"))
    queryHeadsPerKVHead = attr.getInt();
  return store.smoothLinearPair(name, bias, linearNames, absMax,
                                alpha.getValueAsDouble(), min, headDim,
                                queryHeadsPerKVHead);
}

} // namespace

llvm::Error applyWeightAnnotations(ModuleOp module,
                                   weights::WeightStore &store) {
  // One op per name carries the annotations (others may repeat them).
  llvm::MapVector<StringRef, llm::WeightOp> byName;
  module.walk([&](llm::WeightOp op) {
    auto [it, inserted] = byName.insert({op.getName(), op});
    if (!inserted && op->getDiscardableAttrDictionary().size() >
                         it->second->getDiscardableAttrDictionary().size())
      it->second = op;
  });

  // 1. SmoothQuant groups, before any quantization of their weights; the
  // linear pairs before the norms, whose factors are computed from
  // up_proj/v_proj with their rows already divided (as llm-smooth intends).
  for (bool rows : {true, false})
    for (auto &[name, op] : byName) {
      auto smooth = op->getAttrOfType<DictionaryAttr>(kWeightSmoothAttrName);
      if (!smooth || smooth.contains("rows") != rows)
        continue;
      if (llvm::Error error = applySmoothing(name, smooth, store))
        return error;
    }

  // 2. Quantization of the weights themselves.
  llvm::StringMap<std::shared_ptr<GramFile>> gramFiles;
  for (auto &[name, op] : byName) {
    auto quant = op->getAttrOfType<DictionaryAttr>(kWeightQuantAttrName);
    if (!quant)
      continue;
    llvm::Expected<weights::QuantScheme> scheme = parseScheme(op, quant);
    if (!scheme)
      return scheme.takeError();
    if (auto gramPath = quant.getAs<StringAttr>("gptq")) {
      std::shared_ptr<GramFile> &file = gramFiles[gramPath.getValue()];
      if (!file) {
        llvm::Expected<std::shared_ptr<GramFile>> opened =
            GramFile::open(gramPath.getValue());
        if (!opened)
          return annotationError(name, llvm::toString(opened.takeError()));
        file = std::move(*opened);
      }
      scheme->gptq = file->lookup(name);
      if (!scheme->gptq)
        return annotationError(name, "GPTQ needs its input's Gram matrix, "
                                     "which '" +
                                         gramPath.getValue() +
                                         "' does not hold (recalibrate)");
    }
    if (llvm::Error error = store.quantize(name, *scheme))
      return error;
  }

  // 3. Entries derived from them.
  for (auto &[name, op] : byName) {
    if (auto derived =
            op->getAttrOfType<DictionaryAttr>(kWeightDerivedAttrName)) {
      auto of = derived.getAs<StringAttr>("of");
      auto kind = derived.getAs<StringAttr>("kind");
      if (!of || !kind)
        return annotationError(name, "llm.derived needs `of` and `kind`");
      llvm::Error error =
          kind.getValue() == "scale" ? store.addQuantScales(name, of)
          : kind.getValue() == "zero_point"
              ? store.addQuantZeroPoints(name, of)
              : annotationError(name, "unknown llm.derived kind '" +
                                          kind.getValue() + "'");
      if (error)
        return error;
    }
    if (auto activation =
            op->getAttrOfType<DictionaryAttr>(kWeightActivationScaleAttrName)) {
      auto absMax = activation.getAs<FloatAttr>("absmax");
      auto qmax = activation.getAs<FloatAttr>("qmax");
      if (!absMax || !qmax)
        return annotationError(name,
                               "llm.activation_scale needs absmax and qmax");
      StringRef smoothedBy;
      if (auto by = activation.getAs<StringAttr>("smoothed_by"))
        smoothedBy = by.getValue();
      if (llvm::Error error =
              store.addActivationScale(name, absMax.getValueAsDouble(),
                                       qmax.getValueAsDouble(), smoothedBy))
        return error;
    }
  }
  return llvm::Error::success();
}

} // namespace llmc
