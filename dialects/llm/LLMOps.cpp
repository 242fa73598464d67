//===- LLMOps.cpp - verifiers and folders of the llm dialect
//---------------===//

#include "dialects/llm/LLMOps.h"

#include "dialects/common/VerifierUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace llmc;
using namespace llmc::llm;

namespace {

/// Whether two dimensions can be equal at run time.
bool dimsMatch(int64_t lhs, int64_t rhs) {
  return ShapedType::isDynamic(lhs) || ShapedType::isDynamic(rhs) || lhs == rhs;
}

bool shapesMatch(ArrayRef<int64_t> lhs, ArrayRef<int64_t> rhs) {
  return lhs.size() == rhs.size() &&
         llvm::all_of(llvm::zip(lhs, rhs), [](auto dims) {
           return dimsMatch(std::get<0>(dims), std::get<1>(dims));
         });
}

RankedTensorType tensorType(Value value) {
  return cast<RankedTensorType>(value.getType());
}

/// Checks that `value` is a vector of `expectedSize` elements, as norm weights
/// and biases are.
LogicalResult verifyVectorOperand(Operation *op, StringRef name, Value value,
                                  int64_t expectedSize, StringRef sizeName) {
  RankedTensorType type = tensorType(value);
  if (type.getRank() != 1 || !dimsMatch(type.getDimSize(0), expectedSize))
    return op->emitOpError("expected ")
           << name << " of shape " << formatShape({expectedSize}) << " ("
           << sizeName << ") but got " << formatShape(type.getShape());
  return success();
}

LogicalResult verifyPositive(Operation *op, StringRef name, double value) {
  if (!(value > 0.0) || !std::isfinite(value))
    return op->emitOpError()
           << name << " must be a positive number, got " << formatNumber(value);
  return success();
}

/// The block-wise scale rule of llm.quantize and llm.dequantize: a scalar
/// scale, or one of the input's rank whose every dimension divides the input's.
LogicalResult verifyQuantParams(Operation *op, RankedTensorType quantType,
                                RankedTensorType floatType, Value scale,
                                Value zeroPoint) {
  if (!shapesMatch(quantType.getShape(), floatType.getShape()))
    return op->emitOpError("result shape ")
           << formatShape(
                  cast<ShapedType>(op->getResult(0).getType()).getShape())
           << " differs from input shape "
           << formatShape(
                  cast<ShapedType>(op->getOperand(0).getType()).getShape());
  RankedTensorType scaleType = tensorType(scale);
  if (scaleType.getRank() != 0) {
    if (scaleType.getRank() != floatType.getRank())
      return op->emitOpError("scale must be a scalar or have the input's rank ")
             << floatType.getRank() << ", got shape "
             << formatShape(scaleType.getShape());
    for (auto [axis, dims] : llvm::enumerate(
             llvm::zip(floatType.getShape(), scaleType.getShape()))) {
      auto [dataDim, scaleDim] = dims;
      // Over the dynamic token dimension a scale is either shared (1) or one
      // per token (also dynamic, e.g. per-token activation scales).
      if (ShapedType::isDynamic(dataDim)) {
        if (scaleDim != 1 && !ShapedType::isDynamic(scaleDim))
          return op->emitOpError("scale dimension ")
                 << axis << " must be 1 or dynamic where the input's is "
                 << "dynamic, got " << scaleDim;
        continue;
      }
      if (ShapedType::isDynamic(scaleDim) || scaleDim <= 0)
        return op->emitOpError("scale dimension ")
               << axis << " must be static and positive where the input's is "
               << "static, got shape " << formatShape(scaleType.getShape());
      if (dataDim % scaleDim != 0)
        return op->emitOpError("scale of shape ")
               << formatShape(scaleType.getShape())
               << " does not split input of shape "
               << formatShape(floatType.getShape())
               << " into blocks: " << dataDim << " is not a multiple of "
               << scaleDim << " along dimension " << axis;
    }
  }
  if (!zeroPoint)
    return success();
  if (!isa<IntegerType>(quantType.getElementType()))
    return op->emitOpError(
               "zero points apply to integer quantization only, not ")
           << quantType.getElementType();
  RankedTensorType zeroPointType = tensorType(zeroPoint);
  if (zeroPointType.getShape() != scaleType.getShape())
    return op->emitOpError("zero point shape ")
           << formatShape(zeroPointType.getShape())
           << " must equal scale shape " << formatShape(scaleType.getShape());
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// llm.weight
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError("weight needs a non-empty name");
  RankedTensorType type = getType();
  if (!type.hasStaticShape() || llvm::is_contained(type.getShape(), 0))
    return emitOpError("weight @")
           << getName() << " must have a static, non-empty shape, got "
           << formatShape(type.getShape());
  return success();
}

//===----------------------------------------------------------------------===//
// llm.embedding
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  RankedTensorType table = getTable().getType();
  RankedTensorType result = getType();
  if (table.getRank() != 2)
    return emitOpError("expected a [vocab, hidden] table but got shape ")
           << formatShape(table.getShape());
  SmallVector<int64_t> expected = {getIds().getType().getDimSize(0),
                                   table.getDimSize(1)};
  if (!shapesMatch(result.getShape(), expected))
    return emitOpError("expected result of shape ")
           << formatShape(expected) << " but got "
           << formatShape(result.getShape());
  if (result.getElementType() != table.getElementType())
    return emitOpError("result element type ")
           << result.getElementType() << " differs from the table's "
           << table.getElementType();
  return success();
}

//===----------------------------------------------------------------------===//
// llm.rms_norm, llm.layer_norm
//===----------------------------------------------------------------------===//

LogicalResult RMSNormOp::verify() {
  RankedTensorType input = getInput().getType();
  if (input.getRank() == 0)
    return emitOpError("input must have at least one dimension");
  if (failed(verifyPositive(*this, "epsilon", getEpsilon().convertToDouble())))
    return failure();
  return verifyVectorOperand(*this, "weight", getWeight(),
                             input.getShape().back(),
                             "the input's last dimension");
}

LogicalResult LayerNormOp::verify() {
  RankedTensorType input = getInput().getType();
  if (input.getRank() == 0)
    return emitOpError("input must have at least one dimension");
  if (failed(verifyPositive(*this, "epsilon", getEpsilon().convertToDouble())))
    return failure();
  int64_t hidden = input.getShape().back();
  if (failed(verifyVectorOperand(*this, "weight", getWeight(), hidden,
                                 "the input's last dimension")))
    return failure();
  if (getBias())
    return verifyVectorOperand(*this, "bias", getBias(), hidden,
                               "the input's last dimension");
  return success();
}

//===----------------------------------------------------------------------===//
// llm.linear
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType weight = getWeight().getType();
  RankedTensorType result = getType();
  if (input.getRank() == 0)
    return emitOpError("input must have at least one dimension");
  if (weight.getRank() != 2)
    return emitOpError("expected an [out_features, in_features] weight but got "
                       "shape ")
           << formatShape(weight.getShape());
  int64_t inFeatures = input.getShape().back();
  int64_t outFeatures = weight.getDimSize(0);
  if (!dimsMatch(inFeatures, weight.getDimSize(1)))
    return emitOpError("input has ")
           << inFeatures << " features but weight of shape "
           << formatShape(weight.getShape()) << " expects "
           << weight.getDimSize(1);
  SmallVector<int64_t> expected(input.getShape());
  expected.back() = outFeatures;
  if (!shapesMatch(result.getShape(), expected))
    return emitOpError("expected result of shape ")
           << formatShape(expected) << " but got "
           << formatShape(result.getShape());

  Type inType = input.getElementType();
  Type outType = result.getElementType();
  if (inType != weight.getElementType())
    return emitOpError("input element type ")
           << inType << " differs from the weight's " << weight.getElementType()
           << "; dequantize or quantize one of them first";
  bool floatIn = inType.isF32() || inType.isF16() || inType.isBF16();
  bool floatOut = outType.isF32() || outType.isF16() || outType.isBF16();
  bool quantizedIn =
      inType.isInteger(8) || isa<Float8E4M3FNType, Float8E5M2Type>(inType);
  Value inputScale = getInputScale(), weightScale = getWeightScale();
  if (static_cast<bool>(inputScale) != static_cast<bool>(weightScale))
    return emitOpError("input_scale and weight_scale come together: give "
                       "both or neither");
  if (!floatIn && !quantizedIn)
    return emitOpError("no linear takes ")
           << inType
           << " inputs; use f32, f16 or bf16, or i8/f8 with scales (W8A8); "
              "weight-only i4 is llm.dequantize of the weight feeding a "
              "float linear";
  if (floatIn && inputScale)
    return emitOpError("scales apply to i8 or f8 inputs; ")
           << inType << " inputs take none";
  if (quantizedIn && !inputScale)
    return emitOpError()
           << inType
           << " inputs need scales (W8A8): llm.linear %x, %w scales(%sx, "
              "%sw : ...) with f32 input_scale [] or [tokens, 1] and "
              "weight_scale [] or [N, 1]";
  if (!floatOut)
    return emitOpError(floatIn ? "float inputs give a float result, not "
                               : "quantized inputs give an f32, f16 or bf16 "
                                 "result, not ")
           << outType;
  if (inputScale) {
    RankedTensorType scale = tensorType(inputScale);
    SmallVector<int64_t> perToken(input.getShape());
    perToken.back() = 1;
    if (scale.getRank() != 0 && !shapesMatch(scale.getShape(), perToken))
      return emitOpError("expected input_scale of shape [] (per tensor) or ")
             << formatShape(perToken) << " (per token) but got "
             << formatShape(scale.getShape());
    RankedTensorType wScale = tensorType(weightScale);
    if (wScale.getRank() != 0 &&
        !shapesMatch(wScale.getShape(), {outFeatures, 1}))
      return emitOpError("expected weight_scale of shape [] (per tensor) or ")
             << formatShape({outFeatures, 1})
             << " (per output channel) but got "
             << formatShape(wScale.getShape());
  }
  if (Value bias = getBias()) {
    if (failed(verifyVectorOperand(*this, "bias", bias, outFeatures,
                                   "the weight's out_features")))
      return failure();
    if (tensorType(bias).getElementType() != outType)
      return emitOpError("bias element type ")
             << tensorType(bias).getElementType()
             << " differs from the result's " << outType;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// llm.matmul
//===----------------------------------------------------------------------===//

LogicalResult MatmulOp::verify() {
  ArrayRef<int64_t> lhs = getLhs().getType().getShape();
  ArrayRef<int64_t> rhs = getRhs().getType().getShape();
  ArrayRef<int64_t> result = getType().getShape();
  if (lhs.size() < 2 || lhs.size() != rhs.size())
    return emitOpError("operands must have the same rank of at least 2, got ")
           << formatShape(lhs) << " and " << formatShape(rhs);
  size_t batchRank = lhs.size() - 2;
  int64_t rhsK = getTransposeRhs() ? rhs.back() : rhs[batchRank];
  int64_t n = getTransposeRhs() ? rhs[batchRank] : rhs.back();
  if (!shapesMatch(lhs.take_front(batchRank), rhs.take_front(batchRank)))
    return emitOpError("batch dimensions differ: ")
           << formatShape(lhs) << " and " << formatShape(rhs);
  if (!dimsMatch(lhs.back(), rhsK))
    return emitOpError("contracting dimensions differ: ")
           << lhs.back() << " in " << formatShape(lhs) << " and " << rhsK
           << " in " << formatShape(rhs);
  SmallVector<int64_t> expected(lhs.take_front(batchRank));
  expected.append({lhs[batchRank], n});
  if (!shapesMatch(result, expected))
    return emitOpError("expected result of shape ")
           << formatShape(expected) << " but got " << formatShape(result);
  if (getLhs().getType().getElementType() !=
      getRhs().getType().getElementType())
    return emitOpError("operand element types differ: ")
           << getLhs().getType().getElementType() << " and "
           << getRhs().getType().getElementType();
  return success();
}

//===----------------------------------------------------------------------===//
// llm.reshape
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType result = getType();
  if (input.getElementType() != result.getElementType())
    return emitOpError("element type changes from ")
           << input.getElementType() << " to " << result.getElementType();
  auto staticProduct = [](ArrayRef<int64_t> shape) {
    int64_t product = 1;
    for (int64_t dim : shape)
      if (!ShapedType::isDynamic(dim))
        product *= dim;
    return product;
  };
  int64_t inputDynamic = input.getNumDynamicDims();
  int64_t resultDynamic = result.getNumDynamicDims();
  if (inputDynamic > 1 || resultDynamic > 1 || inputDynamic != resultDynamic)
    return emitOpError("each side may have one dynamic dimension, and then "
                       "both must; got ")
           << formatShape(input.getShape()) << " -> "
           << formatShape(result.getShape());
  if (staticProduct(input.getShape()) != staticProduct(result.getShape()))
    return emitOpError("cannot reshape ")
           << formatShape(input.getShape()) << " into "
           << formatShape(result.getShape()) << ": the element counts differ";
  return success();
}

// reshape(x : T) -> T is x; reshape(reshape(x)) is one reshape of x.
OpFoldResult ReshapeOp::fold(FoldAdaptor) {
  if (getInput().getType() == getType())
    return getInput();
  if (auto producer = getInput().getDefiningOp<ReshapeOp>()) {
    getInputMutable().assign(producer.getInput());
    return getResult();
  }
  return {};
}

//===----------------------------------------------------------------------===//
// llm.rope
//===----------------------------------------------------------------------===//

LogicalResult RopeOp::verify() {
  RankedTensorType input = getInput().getType();
  if (input.getRank() != 3)
    return emitOpError(
               "expected [tokens, heads, head_dim] input but got shape ")
           << formatShape(input.getShape());
  if (!dimsMatch(input.getDimSize(0), getPositions().getType().getDimSize(0)))
    return emitOpError("input has ")
           << input.getDimSize(0) << " tokens but positions has "
           << getPositions().getType().getDimSize(0);
  if (failed(verifyPositive(*this, "theta", getTheta().convertToDouble())))
    return failure();
  int64_t headDim = input.getDimSize(2);
  int64_t rotaryDim =
      getRotaryDimAttr() ? getRotaryDimAttr().getInt() : headDim;
  if (ShapedType::isDynamic(headDim))
    return emitOpError("head_dim must be static");
  if (rotaryDim <= 0 || rotaryDim % 2 != 0 || rotaryDim > headDim)
    return emitOpError("rotary_dim must be even and in (0, head_dim = ")
           << headDim << "], got " << rotaryDim;
  return success();
}

//===----------------------------------------------------------------------===//
// llm.attention
//===----------------------------------------------------------------------===//

/// `kv_cache_dtype`, where an op has it, names a quantized KV cache.
static LogicalResult verifyKVCacheDType(Operation *op,
                                        std::optional<Type> cacheType) {
  if (cacheType && !isa<Float8E4M3FNType>(*cacheType) &&
      !cacheType->isSignlessInteger(8))
    return op->emitOpError("kv_cache_dtype must be f8E4M3FN or i8 (a "
                           "quantized KV cache), got ")
           << *cacheType << "; omit it to cache the key's element type";
  return success();
}

LogicalResult AttentionOp::verify() {
  RankedTensorType query = getQuery().getType();
  RankedTensorType key = getKey().getType();
  RankedTensorType value = getValue().getType();
  RankedTensorType result = getType();
  for (auto [name, type] :
       {std::pair<StringRef, RankedTensorType>{"query", query},
        {"key", key},
        {"value", value},
        {"result", result}}) {
    if (type.getRank() != 3)
      return emitOpError("expected ")
             << name << " of shape [tokens, heads, head_dim] but got "
             << formatShape(type.getShape());
    if (!dimsMatch(type.getDimSize(0), query.getDimSize(0)))
      return emitOpError() << name << " has " << type.getDimSize(0)
                           << " tokens but query has " << query.getDimSize(0);
    if (type.getElementType() != query.getElementType())
      return emitOpError() << name << " element type " << type.getElementType()
                           << " differs from the query's "
                           << query.getElementType();
  }
  int64_t queryHeads = query.getDimSize(1), kvHeads = key.getDimSize(1);
  if (ShapedType::isDynamic(queryHeads) || ShapedType::isDynamic(kvHeads) ||
      ShapedType::isDynamic(query.getDimSize(2)) ||
      ShapedType::isDynamic(value.getDimSize(2)))
    return emitOpError("head counts and head dimensions must be static");
  if (value.getDimSize(1) != kvHeads)
    return emitOpError("key has ")
           << kvHeads << " heads but value has " << value.getDimSize(1);
  if (queryHeads % kvHeads != 0)
    return emitOpError("query heads (")
           << queryHeads << ") must be a multiple of KV heads (" << kvHeads
           << ") for grouped-query attention";
  if (query.getDimSize(2) != key.getDimSize(2))
    return emitOpError("query head_dim ")
           << query.getDimSize(2) << " differs from key head_dim "
           << key.getDimSize(2);
  SmallVector<int64_t> expected = {query.getDimSize(0), queryHeads,
                                   value.getDimSize(2)};
  if (!shapesMatch(result.getShape(), expected))
    return emitOpError("expected result of shape ")
           << formatShape(expected) << " but got "
           << formatShape(result.getShape());
  // I64Attr getters return unsigned values; read the signed ones.
  if (getLayerAttr().getInt() < 0)
    return emitOpError("layer must be non-negative, got ")
           << getLayerAttr().getInt();
  if (failed(verifyPositive(*this, "scale", getScale().convertToDouble())))
    return failure();
  if (IntegerAttr window = getSlidingWindowAttr();
      window && window.getInt() <= 0)
    return emitOpError("sliding_window must be positive, got ")
           << window.getInt();
  if (failed(verifyKVCacheDType(*this, getKvCacheDtype())))
    return failure();
  if (std::optional<APFloat> softcap = getSoftcap())
    return verifyPositive(*this, "softcap", softcap->convertToDouble());
  return success();
}

//===----------------------------------------------------------------------===//
// llm.split
//===----------------------------------------------------------------------===//

LogicalResult SplitOp::verify() {
  RankedTensorType input = getInput().getType();
  if (input.getRank() == 0)
    return emitOpError("expected an input of rank >= 1");
  if (getNumResults() == 0)
    return emitOpError("expected at least one part");
  int64_t last = input.getRank() - 1;
  if (ShapedType::isDynamic(input.getDimSize(last)))
    return emitOpError("the split dimension must be static");
  int64_t total = 0;
  for (auto [index, result] : llvm::enumerate(getResults())) {
    auto type = cast<RankedTensorType>(result.getType());
    if (type.getElementType() != input.getElementType())
      return emitOpError("part ")
             << index << " has element type " << type.getElementType()
             << " but the input " << input.getElementType();
    if (type.getRank() != input.getRank() ||
        !shapesMatch(type.getShape().drop_back(), input.getShape().drop_back()))
      return emitOpError("part ")
             << index << " of shape " << formatShape(type.getShape())
             << " must keep every dimension but the last of "
             << formatShape(input.getShape());
    if (ShapedType::isDynamic(type.getDimSize(last)))
      return emitOpError("part ") << index << " must have a static size";
    total += type.getDimSize(last);
  }
  if (total != input.getDimSize(last))
    return emitOpError("parts cover ")
           << total << " columns but the input has " << input.getDimSize(last);
  return success();
}

//===----------------------------------------------------------------------===//
// llm.kv_cache_write, llm.cached_attention
//===----------------------------------------------------------------------===//

LogicalResult KVCacheWriteOp::verify() {
  RankedTensorType key = getKey().getType(), value = getValue().getType();
  if (key.getRank() != 3 || value.getRank() != 3)
    return emitOpError("expected key and value of shape [tokens, kv_heads, "
                       "head_dim] but got ")
           << formatShape(key.getShape()) << " and "
           << formatShape(value.getShape());
  if (!shapesMatch(key.getShape(), value.getShape()) ||
      key.getElementType() != value.getElementType())
    return emitOpError("key ")
           << key << " and value " << value << " must have one shape and type";
  if (getLayerAttr().getInt() < 0)
    return emitOpError("layer must be non-negative, got ")
           << getLayerAttr().getInt();
  return verifyKVCacheDType(*this, getKvCacheDtype());
}

LogicalResult CachedAttentionOp::verify() {
  RankedTensorType query = getQuery().getType();
  if (query.getRank() != 3)
    return emitOpError("expected query of shape [tokens, heads, head_dim] "
                       "but got ")
           << formatShape(query.getShape());
  if (query != getType())
    return emitOpError("the result type ")
           << getType() << " must be the query's " << query;
  if (getLayerAttr().getInt() < 0)
    return emitOpError("layer must be non-negative, got ")
           << getLayerAttr().getInt();
  if (failed(verifyPositive(*this, "scale", getScale().convertToDouble())))
    return failure();
  if (IntegerAttr window = getSlidingWindowAttr();
      window && window.getInt() <= 0)
    return emitOpError("sliding_window must be positive, got ")
           << window.getInt();
  if (failed(verifyKVCacheDType(*this, getKvCacheDtype())))
    return failure();
  if (std::optional<APFloat> softcap = getSoftcap())
    return verifyPositive(*this, "softcap", softcap->convertToDouble());
  return success();
}

//===----------------------------------------------------------------------===//
// llm.add, llm.mul, llm.scale, llm.softmax
//===----------------------------------------------------------------------===//

// x + 0 -> x. Adding +0.0 turns -0.0 into +0.0; no model output depends on the
// sign of a zero activation, so both zeros fold.
OpFoldResult AddOp::fold(FoldAdaptor) {
  if (matchPattern(getRhs(), m_AnyZeroFloat()))
    return getLhs();
  if (matchPattern(getLhs(), m_AnyZeroFloat()))
    return getRhs();
  return {};
}

// x * 1 -> x (exact for every x, NaN included).
OpFoldResult MulOp::fold(FoldAdaptor) {
  if (matchPattern(getRhs(), m_OneFloat()))
    return getLhs();
  if (matchPattern(getLhs(), m_OneFloat()))
    return getRhs();
  return {};
}

// x * 1.0 -> x.
OpFoldResult ScaleOp::fold(FoldAdaptor) {
  return getFactor().isExactlyValue(1.0) ? getInput() : Value();
}

LogicalResult SoftmaxOp::verify() {
  int64_t rank = getType().getRank();
  int64_t axis = getAxisAttr().getInt();
  if (rank == 0 || axis < -rank || axis >= rank)
    return emitOpError("axis ") << axis << " is out of range for rank " << rank;
  return success();
}

//===----------------------------------------------------------------------===//
// llm.quantize, llm.dequantize
//===----------------------------------------------------------------------===//

LogicalResult QuantizeOp::verify() {
  return verifyQuantParams(*this, getType(), getInput().getType(), getScale(),
                           getZeroPoint());
}

// quantize(dequantize(q, s[, z]), s[, z]) -> q: requantizing with the same
// parameters reproduces every value exactly.
OpFoldResult QuantizeOp::fold(FoldAdaptor) {
  auto dequantize = getInput().getDefiningOp<DequantizeOp>();
  if (dequantize && dequantize.getScale() == getScale() &&
      dequantize.getZeroPoint() == getZeroPoint() &&
      dequantize.getInput().getType() == getType())
    return dequantize.getInput();
  return {};
}

//===----------------------------------------------------------------------===//
// llm.quantize_dynamic
//===----------------------------------------------------------------------===//

LogicalResult QuantizeDynamicOp::verify() {
  RankedTensorType input = getInput().getType();
  if (input.getRank() == 0)
    return emitOpError("input must have at least one dimension (rows are "
                       "quantized over the last)");
  if (!shapesMatch(getResult().getType().getShape(), input.getShape()))
    return emitOpError("result shape ")
           << formatShape(getResult().getType().getShape())
           << " differs from input shape " << formatShape(input.getShape());
  SmallVector<int64_t> perToken(input.getShape());
  perToken.back() = 1;
  if (!shapesMatch(getScale().getType().getShape(), perToken))
    return emitOpError("expected per-token scale of shape ")
           << formatShape(perToken) << " but got "
           << formatShape(getScale().getType().getShape());
  return success();
}

//===----------------------------------------------------------------------===//
// llm.dequantize
//===----------------------------------------------------------------------===//

LogicalResult DequantizeOp::verify() {
  return verifyQuantParams(*this, getInput().getType(), getType(), getScale(),
                           getZeroPoint());
}

//===----------------------------------------------------------------------===//
// llm.all_reduce, llm.all_gather, llm.send, llm.recv
//===----------------------------------------------------------------------===//

LogicalResult AllReduceOp::verify() {
  return verifyCollectiveGroup(*this, getGroup());
}

// A group of one rank has nothing to combine.
OpFoldResult AllReduceOp::fold(FoldAdaptor) {
  return getGroup().size() == 1 ? getInput() : Value();
}

LogicalResult AllGatherOp::verify() {
  if (failed(verifyCollectiveGroup(*this, getGroup())))
    return failure();
  RankedTensorType input = getInput().getType();
  RankedTensorType result = getType();
  int64_t rank = input.getRank();
  int64_t axis = getAxisAttr().getInt();
  if (axis < 0 || axis >= rank)
    return emitOpError("axis ") << axis << " is out of range for rank " << rank;
  SmallVector<int64_t> expected(input.getShape());
  if (!ShapedType::isDynamic(expected[axis]))
    expected[axis] *= static_cast<int64_t>(getGroup().size());
  if (!shapesMatch(result.getShape(), expected))
    return emitOpError("expected result of shape ")
           << formatShape(expected) << " but got "
           << formatShape(result.getShape());
  if (result.getElementType() != input.getElementType())
    return emitOpError("result element type ")
           << result.getElementType() << " differs from the input's "
           << input.getElementType();
  return success();
}

OpFoldResult AllGatherOp::fold(FoldAdaptor) {
  if (getGroup().size() == 1 && getInput().getType() == getType())
    return getInput();
  return {};
}

static LogicalResult verifyPeer(Operation *op, IntegerAttr peer) {
  if (peer.getInt() < 0)
    return op->emitOpError("peer rank must be non-negative, got ")
           << peer.getInt();
  return success();
}

LogicalResult SendOp::verify() { return verifyPeer(*this, getPeerAttr()); }

LogicalResult RecvOp::verify() { return verifyPeer(*this, getPeerAttr()); }

//===----------------------------------------------------------------------===//
// llm.fused
//===----------------------------------------------------------------------===//

LogicalResult FusedOp::verify() {
  Block &body = getBody().front();
  if (body.getNumArguments() != getInputs().size())
    return emitOpError("body takes ")
           << body.getNumArguments() << " arguments but the group has "
           << getInputs().size() << " inputs";
  for (auto [index, pair] : llvm::enumerate(
           llvm::zip(body.getArgumentTypes(), getInputs().getTypes())))
    if (std::get<0>(pair) != std::get<1>(pair))
      return emitOpError("body argument ")
             << index << " has type " << std::get<0>(pair) << " but input "
             << index << " has type " << std::get<1>(pair);
  if (getNumResults() == 0)
    return emitOpError("a fused group must produce at least one result");
  auto yield = cast<YieldOp>(body.getTerminator());
  if (yield.getValues().getTypes() != getResultTypes())
    return emitOpError("body yields ")
           << yield.getValues().size() << " values of types "
           << yield.getValues().getTypes() << " but the group returns "
           << getResultTypes();
  return success();
}

// A group that only forwards its inputs computes nothing: use the inputs.
LogicalResult FusedOp::fold(FoldAdaptor,
                            SmallVectorImpl<OpFoldResult> &results) {
  auto yield = cast<YieldOp>(getBody().front().getTerminator());
  for (Value value : yield.getValues()) {
    auto argument = dyn_cast<BlockArgument>(value);
    if (!argument || argument.getOwner() != &getBody().front())
      return failure();
    results.push_back(getInputs()[argument.getArgNumber()]);
  }
  return success();
}

#define GET_OP_CLASSES
#include "dialects/llm/LLMOps.cpp.inc"
