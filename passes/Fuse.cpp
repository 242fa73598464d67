//===- Fuse.cpp - llm-fuse: groups @forward's ops into kernels -----------===//

#include "dialects/llm/LLMOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "passes/FusedWeights.h"
#include "passes/Passes.h"
#include "passes/WeightAnnotations.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringSet.h"

#define DEBUG_TYPE "llm-fuse"

namespace llmc {
#define GEN_PASS_DEF_FUSEPASS
#include "passes/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;

namespace {

/// The single user of `value`, or null.
Operation *getSingleUser(Value value) {
  if (!value.hasOneUse())
    return nullptr;
  return *value.getUsers().begin();
}

/// Whether `op` is an elementwise op the `elementwise` kind may hold.
bool isElementwise(Operation *op) {
  return isa<llm::AddOp, llm::MulOp, llm::SiluOp, llm::GeluOp, llm::ScaleOp,
             arith::ExtFOp, arith::TruncFOp>(op);
}

//===----------------------------------------------------------------------===//
// Horizontal merges: names of the concatenated weights
//===----------------------------------------------------------------------===//

/// `a.q_proj.weight`, `a.k_proj.weight`, `a.v_proj.weight` ->
/// `a.qkv_proj.weight`; `m.gate_proj.w`, `m.up_proj.w` -> `m.gate_up_proj.w`:
/// the pieces that differ, joined (single letters run together), around the
/// parts the names share.
std::string mergeWeightNames(ArrayRef<StringRef> names) {
  SmallVector<SmallVector<StringRef>> pieces;
  for (StringRef name : names) {
    pieces.emplace_back();
    name.split(pieces.back(), '.');
  }
  size_t shortest = pieces.front().size();
  for (auto &p : pieces)
    shortest = std::min(shortest, p.size());
  auto allEqual = [&](auto pick) {
    return llvm::all_of(
        pieces, [&](auto &p) { return pick(p) == pick(pieces.front()); });
  };
  size_t lead = 0;
  while (lead < shortest && allEqual([&](auto &p) { return p[lead]; }))
    ++lead;
  size_t trail = 0;
  while (trail < shortest - lead &&
         allEqual([&](auto &p) { return p[p.size() - 1 - trail]; }))
    ++trail;
  SmallVector<std::string> middles;
  for (auto &p : pieces)
    middles.push_back(llvm::join(
        ArrayRef<StringRef>(p).slice(lead, p.size() - lead - trail), "."));
  // A shared suffix such as `_proj` is kept once.
  std::string suffix = middles.front();
  for (const std::string &middle : middles)
    while (!StringRef(middle).ends_with(suffix))
      suffix.erase(0, 1);
  size_t underscore = suffix.find('_');
  suffix = underscore == std::string::npos ? "" : suffix.substr(underscore);
  bool letters = true;
  SmallVector<std::string> stems;
  for (const std::string &middle : middles) {
    stems.push_back(middle.substr(0, middle.size() - suffix.size()));
    letters &= stems.back().size() == 1;
  }
  std::string merged = llvm::join(stems, letters ? "" : "_") + suffix;
  SmallVector<StringRef> result(
      ArrayRef<StringRef>(pieces.front()).take_front(lead));
  result.push_back(merged);
  llvm::append_range(result,
                     ArrayRef<StringRef>(pieces.front()).take_back(trail));
  return llvm::join(result, ".");
}

struct FusePass : llmc::impl::FusePassBase<FusePass> {
  using Base::Base;

  void runOnOperation() override;

private:
  void mergeHorizontally(func::FuncOp function);
  void fuseRopeKVWrite(func::FuncOp function);
  void fuseGatedActivations(func::FuncOp function);
  void fuseResidualEpilogues(func::FuncOp function);
  void fuseBiasEpilogues(func::FuncOp function);
  void fuseNorms(func::FuncOp function);
  void fuseAttentionQuantization(func::FuncOp function);
  void fuseElementwiseChains(func::FuncOp function);

  FailureOr<llm::FusedOp>
  buildGroup(StringRef kind, ArrayRef<Operation *> ops, ArrayRef<Value> yields,
             ArrayRef<Value> extraInputs = {},
             function_ref<void(OpBuilder &, IRMapping &)> extraBody = nullptr);
  llm::WeightOp createConcatWeight(OpBuilder &builder, Location loc,
                                   ArrayRef<llm::WeightOp> parts,
                                   RankedTensorType type);

  llvm::StringSet<> weightNames;
};

llm::WeightOp FusePass::createConcatWeight(OpBuilder &builder, Location loc,
                                           ArrayRef<llm::WeightOp> parts,
                                           RankedTensorType type) {
  SmallVector<StringRef> names;
  SmallVector<Attribute> partAttrs;
  for (llm::WeightOp part : parts) {
    names.push_back(part.getName());
    partAttrs.push_back(builder.getStringAttr(part.getName()));
  }
  std::string name = mergeWeightNames(names);
  // Another weight may already have the derived name (a model that also
  // ships a packed projection): keep both apart.
  std::string unique = name;
  for (int suffix = 1; weightNames.contains(unique); ++suffix)
    unique = name + "_fused" + std::to_string(suffix);
  weightNames.insert(unique);
  auto weight = llm::WeightOp::create(
      builder, loc, type, FlatSymbolRefAttr::get(builder.getContext(), unique));
  weight->setAttr(
      kWeightConcatAttrName,
      builder.getDictionaryAttr(
          {builder.getNamedAttr("parts", builder.getArrayAttr(partAttrs)),
           builder.getNamedAttr("axis", builder.getI64IntegerAttr(0))}));
  return weight;
}

FailureOr<llm::FusedOp>
FusePass::buildGroup(StringRef kind, ArrayRef<Operation *> ops,
                     ArrayRef<Value> yields, ArrayRef<Value> extraInputs,
                     function_ref<void(OpBuilder &, IRMapping &)> extraBody) {
  llvm::SmallPtrSet<Operation *, 8> members(ops.begin(), ops.end());
  Operation *last = ops.front();
  for (Operation *op : ops)
    if (last->isBeforeInBlock(op))
      last = op;
  // The group takes the place of its last op: every value it yields must be
  // read only after that, and every other value only inside the group.
  llvm::SmallPtrSet<Value, 8> yielded(yields.begin(), yields.end());
  for (Operation *op : ops)
    for (Value result : op->getResults())
      for (Operation *user : result.getUsers()) {
        if (members.contains(user))
          continue;
        if (!yielded.contains(result) || user->getBlock() != last->getBlock() ||
            user->isBeforeInBlock(last))
          return failure();
      }

  llvm::SetVector<Value> inputs;
  for (Operation *op : ops)
    for (Value operand : op->getOperands())
      if (!members.contains(operand.getDefiningOp()))
        inputs.insert(operand);
  inputs.insert(extraInputs.begin(), extraInputs.end());

  SmallVector<Location> locations;
  for (Operation *op : ops)
    locations.push_back(op->getLoc());
  OpBuilder builder(last);
  Location loc = builder.getFusedLoc(locations);
  SmallVector<Type> resultTypes;
  for (Value value : yields)
    resultTypes.push_back(value.getType());
  auto group =
      llm::FusedOp::create(builder, loc, resultTypes, inputs.getArrayRef(),
                           builder.getStringAttr(kind));
  Block *body = &group.getBody().emplaceBlock();
  IRMapping mapping;
  for (Value input : inputs)
    mapping.map(input, body->addArgument(input.getType(), input.getLoc()));
  OpBuilder bodyBuilder = OpBuilder::atBlockEnd(body);
  for (Operation *op : ops)
    bodyBuilder.clone(*op, mapping);
  if (extraBody)
    extraBody(bodyBuilder, mapping);
  SmallVector<Value> bodyResults;
  for (Value value : yields)
    bodyResults.push_back(mapping.lookup(value));
  llm::YieldOp::create(bodyBuilder, loc, bodyResults);

  for (auto [yielded, result] : llvm::zip(yields, group.getResults()))
    Value(yielded).replaceUsesWithIf(result, [&](OpOperand &use) {
      return !members.contains(use.getOwner());
    });
  for (Operation *op : llvm::reverse(ops)) {
    op->dropAllUses();
    op->erase();
  }
  ++numGroups;
  return group;
}

//===----------------------------------------------------------------------===//
// 1. Horizontal merges
//===----------------------------------------------------------------------===//

/// How a linear reads its weight, for horizontal merging: a float weight,
/// a W8A8 weight with [N, 1] scales, or a weight-only dequantize of an
/// i8/i4 weight with [N, K/G] scales (and zero points).
struct LinearWeight {
  llm::WeightOp weight;
  llm::WeightOp scale; // W8A8 and weight-only
  llm::WeightOp zeroPoint;
  llm::DequantizeOp dequantize; // weight-only
};

std::optional<LinearWeight> getMergeableWeight(llm::LinearOp linear) {
  LinearWeight result;
  Value weight = linear.getWeight();
  if (auto dequantize = weight.getDefiningOp<llm::DequantizeOp>()) {
    if (linear.isQuantized() || !weight.hasOneUse())
      return std::nullopt;
    result.dequantize = dequantize;
    result.scale = dequantize.getScale().getDefiningOp<llm::WeightOp>();
    if (Value zero = dequantize.getZeroPoint()) {
      result.zeroPoint = zero.getDefiningOp<llm::WeightOp>();
      if (!result.zeroPoint)
        return std::nullopt;
    }
    // Scales and zero points concatenate along N only when they are
    // [N, K/G] blocks.
    if (!result.scale ||
        cast<RankedTensorType>(result.scale.getType()).getRank() != 2)
      return std::nullopt;
    weight = dequantize.getInput();
  } else if (linear.isQuantized()) {
    // A per-tensor [] weight scale is one number per linear: the parts
    // would need per-channel scales, so such linears stay apart.
    result.scale = linear.getWeightScale().getDefiningOp<llm::WeightOp>();
    if (!result.scale ||
        cast<RankedTensorType>(result.scale.getType()).getRank() != 2)
      return std::nullopt;
  } else if (!isa<FloatType>(
                 cast<RankedTensorType>(weight.getType()).getElementType())) {
    return std::nullopt;
  }
  result.weight = weight.getDefiningOp<llm::WeightOp>();
  if (!result.weight ||
      cast<RankedTensorType>(result.weight.getType()).getRank() != 2)
    return std::nullopt;
  return result;
}

void FusePass::mergeHorizontally(func::FuncOp function) {
  // Linears that may merge: same input (and, for W8A8, the same input scale
  // value: the dynamic per-token one that CSE shares, or one static scale),
  // weight storage type, in_features, bias-ness, result element type, and
  // for weight-only the same scale blocks per row and zero-point-ness.
  using Key = std::tuple<Value, Value, Type, int64_t, int64_t, Type, int64_t,
                         int64_t, Type>;
  llvm::MapVector<Key, SmallVector<std::pair<llm::LinearOp, LinearWeight>>>
      candidates;
  // Only @forward's own ops: those already in a group stay as they are.
  for (auto linear : function.getBody().front().getOps<llm::LinearOp>()) {
    std::optional<LinearWeight> weight = getMergeableWeight(linear);
    if (!weight)
      continue;
    if (Value bias = linear.getBias();
        bias && !bias.getDefiningOp<llm::WeightOp>())
      continue;
    auto weightType = cast<RankedTensorType>(weight->weight.getType());
    int64_t scaleColumns = -1;
    Type dequantizedType;
    if (weight->dequantize) {
      scaleColumns =
          cast<RankedTensorType>(weight->scale.getType()).getDimSize(1);
      dequantizedType =
          cast<RankedTensorType>(weight->dequantize.getType()).getElementType();
    }
    candidates[{linear.getInput(), linear.getInputScale(),
                weightType.getElementType(), weightType.getDimSize(1),
                linear.getBias() ? 1 : 0, linear.getType().getElementType(),
                scaleColumns, weight->zeroPoint ? 1 : 0, dequantizedType}]
        .push_back({linear, *weight});
  }
  for (auto &[key, linears] : candidates) {
    llvm::StringSet<> distinct;
    for (auto &[linear, weight] : linears)
      distinct.insert(weight.weight.getName());
    if (linears.size() < 2 || distinct.size() != linears.size())
      continue;
    llm::LinearOp first = linears.front().first;
    for (auto &[linear, weight] : linears)
      if (linear->isBeforeInBlock(first))
        first = linear;
    OpBuilder builder(first);
    Location loc = first.getLoc();
    SmallVector<llm::WeightOp> weights, scales, zeroPoints, biases;
    SmallVector<llm::DequantizeOp> dequantizes;
    int64_t outFeatures = 0;
    for (auto &[linear, weight] : linears) {
      weights.push_back(weight.weight);
      if (weight.scale)
        scales.push_back(weight.scale);
      if (weight.zeroPoint)
        zeroPoints.push_back(weight.zeroPoint);
      if (weight.dequantize)
        dequantizes.push_back(weight.dequantize);
      if (linear.getBias())
        biases.push_back(linear.getBias().getDefiningOp<llm::WeightOp>());
      outFeatures += linear.getType().getShape().back();
    }
    auto concatOf = [&](ArrayRef<llm::WeightOp> parts) -> llm::WeightOp {
      auto type =
          cast<RankedTensorType>(llm::WeightOp(parts.front()).getType());
      SmallVector<int64_t> shape(type.getShape());
      shape.front() = outFeatures;
      return createConcatWeight(
          builder, loc, parts,
          RankedTensorType::get(shape, type.getElementType()));
    };
    llm::WeightOp weight = concatOf(weights);
    llm::WeightOp scale = scales.empty() ? nullptr : concatOf(scales);
    llm::WeightOp zeroPoint =
        zeroPoints.empty() ? nullptr : concatOf(zeroPoints);
    // The artifact's Tensor.quant of the packed weight names the packed
    // scales: the scheme is the parts' (they share storage type and
    // blocks).
    if (auto quant = weights.front()->getAttrOfType<DictionaryAttr>(
            kWeightQuantAttrName)) {
      NamedAttrList carried(quant);
      if (scale)
        carried.set("scale", builder.getStringAttr(scale.getName()));
      if (zeroPoint)
        carried.set("zero_point", builder.getStringAttr(zeroPoint.getName()));
      weight->setAttr(kWeightQuantAttrName,
                      carried.getDictionary(builder.getContext()));
    }
    Value bias;
    if (!biases.empty())
      bias = concatOf(biases);
    SmallVector<int64_t> shape(first.getType().getShape());
    shape.back() = outFeatures;
    auto packedType =
        RankedTensorType::get(shape, first.getType().getElementType());
    Value packed;
    if (!dequantizes.empty()) {
      auto dequantizedType = RankedTensorType::get(
          cast<RankedTensorType>(weight.getType()).getShape(),
          cast<RankedTensorType>(dequantizes.front().getType())
              .getElementType());
      Value dequantized = llm::DequantizeOp::create(
          builder, loc, dequantizedType, weight, scale,
          zeroPoint ? zeroPoint.getResult() : Value());
      packed = llm::LinearOp::create(builder, loc, packedType, first.getInput(),
                                     dequantized, bias);
    } else if (first.isQuantized()) {
      packed =
          llm::LinearOp::create(builder, loc, packedType, first.getInput(),
                                weight, bias, first.getInputScale(), scale);
    } else {
      packed = llm::LinearOp::create(builder, loc, packedType, first.getInput(),
                                     weight, bias);
    }
    SmallVector<Type> partTypes;
    for (auto &[linear, weight] : linears)
      partTypes.push_back(linear.getType());
    auto split = llm::SplitOp::create(builder, loc, partTypes, packed);
    for (auto [entry, part] : llvm::zip(linears, split.getResults())) {
      entry.first.getResult().replaceAllUsesWith(part);
      entry.first.erase();
    }
    for (llm::DequantizeOp old : dequantizes)
      if (old->use_empty())
        old.erase();
    for (llm::WeightOp old :
         llvm::concat<llm::WeightOp>(weights, scales, zeroPoints, biases))
      if (old->use_empty())
        old.erase();
    numMergedLinears += linears.size();
  }
}

//===----------------------------------------------------------------------===//
// 2. RoPE of the packed QKV + KV-cache write
//===----------------------------------------------------------------------===//

void FusePass::fuseRopeKVWrite(func::FuncOp function) {
  SmallVector<llm::AttentionOp> attentions;
  llvm::append_range(attentions,
                     function.getBody().front().getOps<llm::AttentionOp>());
  for (llm::AttentionOp attention : attentions) {
    auto ropeQ = attention.getQuery().getDefiningOp<llm::RopeOp>();
    auto ropeK = attention.getKey().getDefiningOp<llm::RopeOp>();
    auto reshapeV = attention.getValue().getDefiningOp<llm::ReshapeOp>();
    if (!ropeQ || !ropeK || !reshapeV || ropeQ == ropeK ||
        ropeQ.getPositions() != ropeK.getPositions() || !getSingleUser(ropeQ) ||
        !getSingleUser(ropeK) || !getSingleUser(reshapeV))
      continue;
    // The two ropes must rotate alike: one kernel applies one table.
    if (ropeQ->getAttrDictionary() != ropeK->getAttrDictionary())
      continue;
    // rope <- [rms_norm <-] reshape <- split part.
    auto headsOf = [](llm::RopeOp rope, llm::RMSNormOp &norm) {
      Value input = rope.getInput();
      norm = input.getDefiningOp<llm::RMSNormOp>();
      if (norm) {
        if (!getSingleUser(norm))
          return llm::ReshapeOp();
        input = norm.getInput();
      }
      auto reshape = input.getDefiningOp<llm::ReshapeOp>();
      if (!reshape || !getSingleUser(reshape))
        return llm::ReshapeOp();
      return reshape;
    };
    llm::RMSNormOp normQ, normK;
    llm::ReshapeOp reshapeQ = headsOf(ropeQ, normQ);
    llm::ReshapeOp reshapeK = headsOf(ropeK, normK);
    if (!reshapeQ || !reshapeK || bool(normQ) != bool(normK) ||
        (normQ && normQ.getEpsilon() != normK.getEpsilon()))
      continue;
    auto split = reshapeQ.getInput().getDefiningOp<llm::SplitOp>();
    if (!split || split.getNumResults() != 3 ||
        reshapeQ.getInput() != split.getResult(0) ||
        reshapeK.getInput() != split.getResult(1) ||
        reshapeV.getInput() != split.getResult(2) ||
        !llvm::all_of(split.getResults(),
                      [](Value part) { return part.hasOneUse(); }))
      continue;

    SmallVector<Operation *> ops = {split, reshapeQ, reshapeK, reshapeV};
    if (normQ)
      ops.append({normQ, normK});
    ops.append({ropeQ, ropeK});
    llvm::sort(
        ops, [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
    // Attention splits into the write (in the group) and the read (after
    // it, where attention was); every intermediate has one user, so the
    // group cannot be refused once attention no longer reads k and v.
    Value batch = attention.getBatch();
    Location attentionLoc = attention.getLoc();
    IntegerAttr layer = attention.getLayerAttr();
    // A quantized cache: the write stores codes and scales, the read
    // dequantizes them.
    TypeAttr kvCacheDType = attention.getKvCacheDtypeAttr();
    Value key = ropeK.getResult(), value = reshapeV.getResult();
    OpBuilder builder(attention);
    Value output = llm::CachedAttentionOp::create(
        builder, attentionLoc, attention.getType(), ropeQ.getResult(), batch,
        layer, attention.getScaleAttr(), attention.getSlidingWindowAttr(),
        attention.getSoftcapAttr(), kvCacheDType);
    attention.getResult().replaceAllUsesWith(output);
    attention.erase();
    FailureOr<llm::FusedOp> group =
        buildGroup("rope_kv_write", ops, {ropeQ.getResult()}, {batch},
                   [&](OpBuilder &bodyBuilder, IRMapping &mapping) {
                     llm::KVCacheWriteOp::create(
                         bodyBuilder, attentionLoc, mapping.lookup(key),
                         mapping.lookup(value), mapping.lookup(batch), layer,
                         kvCacheDType);
                   });
    assert(succeeded(group) && "rope_kv_write group refused");
    (void)group;
  }
}

//===----------------------------------------------------------------------===//
// 3 and 4. Gated activations, with their GEMM and quantization
//===----------------------------------------------------------------------===//

void FusePass::fuseGatedActivations(func::FuncOp function) {
  SmallVector<llm::MulOp> products;
  llvm::append_range(products, function.getBody().front().getOps<llm::MulOp>());
  for (llm::MulOp product : products) {
    Operation *activation = nullptr;
    Value up;
    for (auto [act, other] : {std::pair(product.getLhs(), product.getRhs()),
                              std::pair(product.getRhs(), product.getLhs())}) {
      Operation *def = act.getDefiningOp();
      if (def && isa<llm::SiluOp, llm::GeluOp>(def) && act.hasOneUse()) {
        activation = def;
        up = other;
        break;
      }
    }
    if (!activation)
      continue;
    Value gate = activation->getOperand(0);
    auto split = gate.getDefiningOp<llm::SplitOp>();
    if (!split || split.getNumResults() != 2 || split.getResult(0) != gate ||
        split.getResult(1) != up || !gate.hasOneUse() || !up.hasOneUse())
      continue;
    SmallVector<Operation *> ops = {split, activation, product};
    Value result = product.getResult();
    std::string kind = "gated_activation";
    auto linear = split.getInput().getDefiningOp<llm::LinearOp>();
    if (gemmEpilogues && linear && !linear.getBias() &&
        split.getInput().hasOneUse()) {
      ops.insert(ops.begin(), linear);
      kind = "linear_gated_activation";
    }
    SmallVector<Value> yields = {result};
    if (quantize) {
      Operation *user = getSingleUser(product.getResult());
      if (auto quant = dyn_cast_or_null<llm::QuantizeOp>(user);
          quant && !quant.getZeroPoint()) {
        ops.push_back(quant);
        yields = {quant.getResult()};
        kind += "_quantize";
      } else if (auto dynamic =
                     dyn_cast_or_null<llm::QuantizeDynamicOp>(user)) {
        ops.push_back(dynamic);
        yields = {dynamic.getResult(), dynamic.getScale()};
        kind += "_quantize_dynamic";
      }
    }
    (void)buildGroup(kind, ops, yields);
  }
}

//===----------------------------------------------------------------------===//
// 4. GEMM epilogues: residual add, bias
//===----------------------------------------------------------------------===//

void FusePass::fuseResidualEpilogues(func::FuncOp function) {
  SmallVector<llm::AddOp> adds;
  llvm::append_range(adds, function.getBody().front().getOps<llm::AddOp>());
  for (llm::AddOp add : adds) {
    for (unsigned index : {1u, 0u}) {
      Value product = add->getOperand(index);
      Value residual = add->getOperand(1 - index);
      auto linear = product.getDefiningOp<llm::LinearOp>();
      // C may not also be the GEMM's A (cuBLAS forbids the alias).
      if (!linear || linear.getBias() || !product.hasOneUse() ||
          residual == product || residual == linear.getInput())
        continue;
      // The GEMM accumulates into the residual's buffer, so the residual must
      // be an activation of its own that nothing reads after the add.
      Operation *def = residual.getDefiningOp();
      if (!def || isa<llm::WeightOp, llm::ReshapeOp, llm::SplitOp>(def) ||
          def->getBlock() != add->getBlock())
        continue;
      if (llvm::any_of(residual.getUsers(), [&](Operation *user) {
            return user != add && (user->getBlock() != add->getBlock() ||
                                   add->isBeforeInBlock(user));
          }))
        continue;
      if (succeeded(buildGroup("linear_residual", {linear, add}, {add})))
        break;
    }
  }
}

void FusePass::fuseBiasEpilogues(func::FuncOp function) {
  SmallVector<llm::LinearOp> linears;
  function.walk([&](llm::LinearOp op) {
    // W8A8 and weight-only linears too: the step takes the GEMM's scales.
    if (op.getBias() && op->getParentOp() == function)
      linears.push_back(op);
  });
  for (llm::LinearOp linear : linears)
    (void)buildGroup("linear_bias", {linear}, {linear.getResult()});
}

//===----------------------------------------------------------------------===//
// 5. Residual add + RMSNorm (+ quantize)
//===----------------------------------------------------------------------===//

void FusePass::fuseNorms(func::FuncOp function) {
  SmallVector<llm::RMSNormOp> norms;
  for (Operation &op : function.getBody().front())
    if (auto norm = dyn_cast<llm::RMSNormOp>(op))
      norms.push_back(norm);
  for (llm::RMSNormOp norm : norms) {
    SmallVector<Operation *> ops;
    SmallVector<Value> yields;
    std::string kind = "rms_norm";
    auto add = norm.getInput().getDefiningOp<llm::AddOp>();
    if (add && add->getBlock() == norm->getBlock()) {
      ops.push_back(add);
      yields.push_back(add.getResult());
      kind = "add_rms_norm";
    }
    ops.push_back(norm);
    Value normalized = norm.getResult();
    SmallVector<Value> normYields = {normalized};
    if (quantize) {
      Operation *user = getSingleUser(normalized);
      if (auto quant = dyn_cast_or_null<llm::QuantizeOp>(user);
          quant && !quant.getZeroPoint()) {
        ops.push_back(quant);
        normYields = {quant.getResult()};
        kind += "_quantize";
      } else if (auto dynamic =
                     dyn_cast_or_null<llm::QuantizeDynamicOp>(user)) {
        // W8A8's per-token activation quantization: the codes and the
        // scales both leave the group.
        ops.push_back(dynamic);
        normYields = {dynamic.getResult(), dynamic.getScale()};
        kind += "_quantize_dynamic";
      }
    }
    // Sandwich norms (Gemma): the branch's own norm before the residual add
    // joins too, so the branch output is read once.
    if (kind == "add_rms_norm")
      for (Value operand : add->getOperands())
        if (auto inner = operand.getDefiningOp<llm::RMSNormOp>();
            inner && operand.hasOneUse() &&
            inner->getBlock() == add->getBlock()) {
          ops.insert(ops.begin(), inner);
          kind = "rms_norm_add_rms_norm";
          break;
        }
    if (ops.size() < 2)
      continue;
    yields.append(normYields);
    (void)buildGroup(kind, ops, yields);
  }
}

//===----------------------------------------------------------------------===//
// 6. Elementwise chains
//===----------------------------------------------------------------------===//

void FusePass::fuseElementwiseChains(func::FuncOp function) {
  llvm::SmallPtrSet<Operation *, 16> claimed;
  SmallVector<SmallVector<Operation *>> chains;
  for (Operation &op : function.getBody().front()) {
    if (!isElementwise(&op) || claimed.contains(&op))
      continue;
    SmallVector<Operation *> chain = {&op};
    auto shapeOf = [](Operation *o) {
      return cast<RankedTensorType>(o->getResult(0).getType()).getShape();
    };
    for (Operation *current = &op;;) {
      Operation *next = getSingleUser(current->getResult(0));
      if (!next || !isElementwise(next) || claimed.contains(next) ||
          next->getBlock() != current->getBlock() ||
          shapeOf(next) != shapeOf(current))
        break;
      chain.push_back(next);
      current = next;
    }
    if (chain.size() < 2)
      continue;
    claimed.insert(chain.begin(), chain.end());
    chains.push_back(std::move(chain));
  }
  for (ArrayRef<Operation *> chain : chains)
    (void)buildGroup("elementwise", chain, {chain.back()->getResult(0)});
}

//===----------------------------------------------------------------------===//
// 7. Attention output + its per-token quantization (W8A8's O projection)
//===----------------------------------------------------------------------===//

void FusePass::fuseAttentionQuantization(func::FuncOp function) {
  SmallVector<llm::CachedAttentionOp> attentions;
  llvm::append_range(
      attentions, function.getBody().front().getOps<llm::CachedAttentionOp>());
  for (llm::CachedAttentionOp attention : attentions) {
    // cached_attention -> reshape to [tokens, heads * head_dim] ->
    // quantize_dynamic: the rows are the reshaped token rows.
    auto reshape =
        dyn_cast_or_null<llm::ReshapeOp>(getSingleUser(attention.getResult()));
    if (!reshape || cast<RankedTensorType>(reshape.getType()).getRank() != 2)
      continue;
    auto dynamic =
        dyn_cast_or_null<llm::QuantizeDynamicOp>(getSingleUser(reshape));
    if (!dynamic)
      continue;
    (void)buildGroup("cached_attention_quantize_dynamic",
                     {attention, reshape, dynamic},
                     {dynamic.getResult(), dynamic.getScale()});
  }
}

void FusePass::runOnOperation() {
  ModuleOp module = getOperation();
  module.walk(
      [&](llm::WeightOp weight) { weightNames.insert(weight.getName()); });
  for (auto function : module.getOps<func::FuncOp>()) {
    if (function.isExternal() || !function.getBody().hasOneBlock())
      continue;
    if (horizontal)
      mergeHorizontally(function);
    if (ropeKVWrite)
      fuseRopeKVWrite(function);
    if (gatedActivations)
      fuseGatedActivations(function);
    if (gemmEpilogues) {
      fuseResidualEpilogues(function);
      fuseBiasEpilogues(function);
    }
    if (norms)
      fuseNorms(function);
    if (quantize && ropeKVWrite)
      fuseAttentionQuantization(function);
    if (elementwise)
      fuseElementwiseChains(function);
  }
}

} // namespace
