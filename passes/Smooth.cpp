//===- Smooth.cpp - llm-smooth: SmoothQuant norm/linear rescaling ---------===//

#include "dialects/llm/LLMOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "passes/Calibration.h"
#include "passes/Passes.h"
#include "passes/WeightAnnotations.h"
#include "passes/WeightNameFilter.h"

#define DEBUG_TYPE "llm-smooth"

namespace llmc {
#define GEN_PASS_DEF_SMOOTHPASS
#include "passes/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;

namespace {

struct SmoothPass : llmc::impl::SmoothPassBase<SmoothPass> {
  using Base::Base;

  void runOnOperation() override;

private:
  /// Records the smoothing of `norm` or says (as a remark) why not.
  void smoothNorm(Operation *norm, Value normWeight, Value normBias,
                  const Calibration &calibration);
  /// Smooths the input of `consumer` into the linear `producer` that feeds
  /// it through a per-channel linear map, when both qualify; else nothing.
  /// `queryHeadsPerKVHead` > 1: through GQA attention (see Passes.td).
  void smoothLinearPair(llm::LinearOp producer, llm::LinearOp consumer,
                        int64_t headDim, int64_t queryHeadsPerKVHead,
                        const Calibration &calibration);
  /// down_proj after `mul(act(gate), up)`, o_proj after attention over V.
  void smoothLinearInput(llm::LinearOp consumer,
                         const Calibration &calibration);

  llvm::StringMap<int> opsPerName;
  WeightNameFilter keep;
};

/// The llm.weight op behind `value` when nothing else reads that weight and
/// no smoothing or quantization is recorded on it yet; `producerSmoothed`
/// admits a weight whose output rows a linear-pair smoothing divides (its
/// columns can still be scaled).
llm::WeightOp getPrivateWeight(Value value,
                               const llvm::StringMap<int> &opsPerName,
                               bool producerSmoothed = false) {
  auto weight = value ? value.getDefiningOp<llm::WeightOp>() : nullptr;
  if (!weight || !weight->hasOneUse() ||
      opsPerName.lookup(weight.getName()) != 1 ||
      (!producerSmoothed && weight->hasAttr(kWeightSmoothAttrName)) ||
      weight->hasAttr(kWeightSmoothedByAttrName) ||
      weight->hasAttr(kWeightQuantAttrName))
    return nullptr;
  return weight;
}

void SmoothPass::smoothNorm(Operation *norm, Value normWeight, Value normBias,
                            const Calibration &calibration) {
  Value output = norm->getResult(0);
  if (output.use_empty() ||
      llvm::none_of(output.getUsers(),
                    [](Operation *user) { return isa<llm::LinearOp>(user); }))
    return; // Not a norm in front of linears (e.g. Qwen3's q_norm).
  auto skip = [&](const Twine &why) {
    norm->emitRemark("llm-smooth: not smoothed: ") << why;
    ++numSkipped;
  };
  int64_t channels = cast<RankedTensorType>(output.getType()).getShape().back();
  llm::WeightOp weight = getPrivateWeight(normWeight, opsPerName);
  if (!weight)
    return skip("its scale is not a weight that only this norm reads");
  llm::WeightOp bias;
  if (normBias && !(bias = getPrivateWeight(normBias, opsPerName)))
    return skip("its bias is not a weight that only this norm reads");

  // In program order (use lists are not), so that the record is stable.
  SmallVector<OpOperand *> uses;
  for (OpOperand &use : output.getUses())
    uses.push_back(&use);
  llvm::sort(uses, [](OpOperand *a, OpOperand *b) {
    Operation *x = a->getOwner(), *y = b->getOwner();
    return x->getBlock() == y->getBlock() && x->isBeforeInBlock(y);
  });
  SmallVector<llm::WeightOp> linearWeights;
  const CalibrationEntry *entry = nullptr;
  for (OpOperand *use : uses) {
    auto linear = dyn_cast<llm::LinearOp>(use->getOwner());
    if (!linear || use->getOperandNumber() != 0 || linear.isQuantized())
      return skip(Twine("its result also feeds '") +
                  use->getOwner()->getName().getStringRef() +
                  "', which cannot absorb the factors");
    // Linears that stay in high precision gain nothing from smoothing.
    if (auto weightOp = linear.getWeight().getDefiningOp<llm::WeightOp>();
        weightOp && keep.matches(weightOp.getName()))
      return;
    llm::WeightOp linearWeight = getPrivateWeight(
        linear.getWeight(), opsPerName, /*producerSmoothed=*/true);
    if (!linearWeight || linearWeight.getType().getRank() != 2)
      return skip("a consuming linear's weight is shared or not a weight");
    linearWeights.push_back(linearWeight);
    const CalibrationEntry *candidate =
        calibration.lookup(linearWeight.getName());
    if (!entry && candidate &&
        static_cast<int64_t>(candidate->channelAbsMax.size()) == channels)
      entry = candidate;
  }
  if (!entry)
    return skip(Twine("'") + calibration.path + "' has no channel_absmax of " +
                Twine(channels) + " channels for any of its linears (first: @" +
                linearWeights.front().getName() + ")");

  Builder builder(norm->getContext());
  SmallVector<Attribute> names;
  for (llm::WeightOp linearWeight : linearWeights) {
    names.push_back(builder.getStringAttr(linearWeight.getName()));
    linearWeight->setAttr(kWeightSmoothedByAttrName,
                          builder.getStringAttr(weight.getName()));
  }
  auto maximaType = RankedTensorType::get({channels}, builder.getF32Type());
  SmallVector<NamedAttribute> smooth = {
      builder.getNamedAttr("alpha", builder.getF64FloatAttr(alpha)),
      builder.getNamedAttr("min_factor", builder.getF64FloatAttr(minFactor)),
      builder.getNamedAttr(
          "activation_absmax",
          DenseFPElementsAttr::get(maximaType,
                                   ArrayRef<float>(entry->channelAbsMax))),
      builder.getNamedAttr("linears", builder.getArrayAttr(names))};
  if (bias)
    smooth.push_back(
        builder.getNamedAttr("bias", builder.getStringAttr(bias.getName())));
  weight->setAttr(kWeightSmoothAttrName, builder.getDictionaryAttr(smooth));
  ++numSmoothed;
}

/// `value`'s single user, or null.
static Operation *getOnlyUser(Value value) {
  return value.hasOneUse() ? *value.getUsers().begin() : nullptr;
}

/// The float linear producing `value` when `value` is its result's only use.
static llm::LinearOp getOnlyUseLinear(Value value) {
  auto linear = value.getDefiningOp<llm::LinearOp>();
  if (!linear || linear.isQuantized() || !value.hasOneUse())
    return nullptr;
  return linear;
}

void SmoothPass::smoothLinearInput(llm::LinearOp consumer,
                                   const Calibration &calibration) {
  if (consumer.isQuantized())
    return;
  Value input = consumer.getInput();
  if (!input.hasOneUse())
    return;
  // down_proj: mul(act(gate), up) = mul(act(gate), up / s) * s.
  if (auto mul = input.getDefiningOp<llm::MulOp>()) {
    for (Value side : {mul.getRhs(), mul.getLhs()})
      if (llm::LinearOp up = getOnlyUseLinear(side))
        return smoothLinearPair(up, consumer, 0, 1, calibration);
    return;
  }
  // o_proj: reshape(attention(q, k, reshape(v))); each output head is a
  // weighted sum of its KV head's V rows.
  auto merge = input.getDefiningOp<llm::ReshapeOp>();
  auto attention =
      merge ? merge.getInput().getDefiningOp<llm::AttentionOp>() : nullptr;
  if (!attention || getOnlyUser(attention.getResult()) != merge ||
      attention.getValue() == attention.getKey() ||
      attention.getValue() == attention.getQuery())
    return;
  auto split = attention.getValue().getDefiningOp<llm::ReshapeOp>();
  if (!split || getOnlyUser(split.getResult()) != attention)
    return;
  llm::LinearOp v = getOnlyUseLinear(split.getInput());
  auto queryType = cast<RankedTensorType>(attention.getQuery().getType());
  auto valueType = cast<RankedTensorType>(attention.getValue().getType());
  if (!v || queryType.getRank() != 3 || valueType.getRank() != 3 ||
      queryType.isDynamicDim(1) || valueType.isDynamicDim(1) ||
      queryType.getDimSize(2) != valueType.getDimSize(2) ||
      valueType.getDimSize(1) == 0 ||
      queryType.getDimSize(1) % valueType.getDimSize(1) != 0)
    return;
  smoothLinearPair(v, consumer, valueType.getDimSize(2),
                   queryType.getDimSize(1) / valueType.getDimSize(1),
                   calibration);
}

void SmoothPass::smoothLinearPair(llm::LinearOp producer,
                                  llm::LinearOp consumer, int64_t headDim,
                                  int64_t queryHeadsPerKVHead,
                                  const Calibration &calibration) {
  auto consumerOp = consumer.getWeight().getDefiningOp<llm::WeightOp>();
  // A consumer kept in high precision gains nothing.
  if (!consumerOp || keep.matches(consumerOp.getName()))
    return;
  auto skip = [&](const Twine &why) {
    consumer->emitRemark("llm-smooth: input not smoothed: ") << why;
  };
  llm::WeightOp consumerWeight =
      getPrivateWeight(consumer.getWeight(), opsPerName);
  llm::WeightOp producerWeight =
      getPrivateWeight(producer.getWeight(), opsPerName);
  if (!consumerWeight || !producerWeight ||
      consumerWeight.getType().getRank() != 2 ||
      producerWeight.getType().getRank() != 2)
    return skip("its weight or the weight of the linear producing its input "
                "is shared or not a matrix");
  llm::WeightOp bias;
  if (producer.getBias() &&
      !(bias = getPrivateWeight(producer.getBias(), opsPerName)))
    return skip("the producing linear's bias is shared or not a weight");
  int64_t channels = consumerWeight.getType().getDimSize(1);
  if (producerWeight.getType().getDimSize(0) * queryHeadsPerKVHead != channels)
    return skip("the producing linear's rows do not match its input");
  const CalibrationEntry *entry = calibration.lookup(consumerWeight.getName());
  if (!entry || static_cast<int64_t>(entry->channelAbsMax.size()) != channels)
    return skip(Twine("'") + calibration.path + "' has no channel_absmax of " +
                Twine(channels) + " channels for @" + consumerWeight.getName());

  Builder builder(consumer->getContext());
  consumerWeight->setAttr(kWeightSmoothedByAttrName,
                          builder.getStringAttr(producerWeight.getName()));
  auto maximaType = RankedTensorType::get({channels}, builder.getF32Type());
  SmallVector<NamedAttribute> smooth = {
      builder.getNamedAttr("alpha", builder.getF64FloatAttr(alpha)),
      builder.getNamedAttr("min_factor", builder.getF64FloatAttr(minFactor)),
      builder.getNamedAttr(
          "activation_absmax",
          DenseFPElementsAttr::get(maximaType,
                                   ArrayRef<float>(entry->channelAbsMax))),
      builder.getNamedAttr(
          "linears", builder.getArrayAttr(
                         {builder.getStringAttr(consumerWeight.getName())})),
      builder.getNamedAttr("rows", builder.getUnitAttr())};
  if (bias)
    smooth.push_back(
        builder.getNamedAttr("bias", builder.getStringAttr(bias.getName())));
  if (queryHeadsPerKVHead > 1) {
    smooth.push_back(
        builder.getNamedAttr("head_dim", builder.getI64IntegerAttr(headDim)));
    smooth.push_back(
        builder.getNamedAttr("query_heads_per_kv_head",
                             builder.getI64IntegerAttr(queryHeadsPerKVHead)));
  }
  producerWeight->setAttr(kWeightSmoothAttrName,
                          builder.getDictionaryAttr(smooth));
  ++numSmoothedPairs;
}

void SmoothPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (!(alpha >= 0.0 && alpha <= 1.0)) {
    module.emitError("llm-smooth option 'alpha' must be in [0, 1], got ")
        << alpha;
    return signalPassFailure();
  }
  if (!(minFactor > 0.0 && minFactor < 1.0)) {
    module.emitError("llm-smooth option 'min-factor' must be in (0, 1), got ")
        << minFactor;
    return signalPassFailure();
  }
  if (calibFile.empty()) {
    module.emitError("llm-smooth needs calib-file: SmoothQuant's factors come "
                     "from the calibrated activation maxima (run `llmc "
                     "compile --calib TEXT`)");
    return signalPassFailure();
  }
  llvm::Expected<WeightNameFilter> filter = WeightNameFilter::parse(keepFp);
  if (!filter) {
    module.emitError("llm-smooth option 'keep-fp': ")
        << llvm::toString(filter.takeError());
    return signalPassFailure();
  }
  keep = std::move(*filter);
  FailureOr<Calibration> calibration =
      loadCalibration(calibFile, module.getLoc());
  if (failed(calibration))
    return signalPassFailure();
  module.walk([&](llm::WeightOp op) { ++opsPerName[op.getName()]; });
  // Pairs first: a norm then sees up_proj/v_proj with their rows divided.
  if (linearPairs)
    module.walk(
        [&](llm::LinearOp linear) { smoothLinearInput(linear, *calibration); });
  if (!norms)
    return;
  module.walk([&](Operation *op) {
    if (auto rms = dyn_cast<llm::RMSNormOp>(op))
      smoothNorm(rms, rms.getWeight(), Value(), *calibration);
    else if (auto layer = dyn_cast<llm::LayerNormOp>(op))
      smoothNorm(layer, layer.getWeight(), layer.getBias(), *calibration);
  });
}

} // namespace
