//===- LowerToPlan.cpp - llm-lower-to-plan: @forward to a plan.rank -------===//

#include "dialects/llm/LLMOps.h"
#include "dialects/plan/PlanOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "passes/Passes.h"
#include "passes/WeightAnnotations.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

#define DEBUG_TYPE "llm-lower-to-plan"

namespace llmc {
#define GEN_PASS_DEF_LOWERTOPLANPASS
#include "passes/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;

namespace {

constexpr StringLiteral kActivationsArena = "activations";
constexpr StringLiteral kWeightsArena = "weights";
// Every activation buffer starts on a 256-byte boundary, which suits any
// element type and the widest vector loads; weights start on 4 KiB pages, the
// alignment of the artifact's weight section, so the runtime can map them.
constexpr int64_t kActivationAlignment = 256;
constexpr int64_t kWeightAlignment = 4096;
// Marks a slice whose leading dimension is max-tokens (or a multiple of it,
// for views): the runtime runs a batch of N tokens on the first rows only.
constexpr StringLiteral kTokenRowsAttr = "plan.token_rows";

/// Finds arena `name` of `kind` in `module`, or declares it at the top.
/// Several ranks lowered into one module share their arenas, each sized for
/// the rank that needs the most.
FailureOr<plan::ArenaOp> getOrCreateArena(ModuleOp module, StringRef name,
                                          plan::ArenaKind kind,
                                          int64_t alignment, bool &created) {
  created = false;
  Operation *existing = SymbolTable::lookupSymbolIn(module, name);
  if (auto arena = dyn_cast_or_null<plan::ArenaOp>(existing)) {
    if (arena.getKind() != kind)
      return arena.emitError("arena @")
             << name << " exists with kind "
             << plan::stringifyArenaKind(arena.getKind()) << ", not "
             << plan::stringifyArenaKind(kind);
    return arena;
  }
  if (existing)
    return existing->emitError("symbol @")
           << name << " is taken by something that is not a plan.arena";
  created = true;
  OpBuilder builder = OpBuilder::atBlockBegin(module.getBody());
  // The size is a placeholder until the lowering knows it.
  return plan::ArenaOp::create(
      builder, module.getLoc(), builder.getStringAttr(name),
      plan::ArenaKindAttr::get(module.getContext(), kind),
      builder.getI64IntegerAttr(1), builder.getI64IntegerAttr(alignment));
}

/// Lowers one @forward function into the body of one plan.rank.
class ForwardLowering {
public:
  ForwardLowering(func::FuncOp forward, plan::RankOp rankOp, int64_t maxTokens,
                  plan::GemmBackend backend, int64_t sm)
      : forward(forward), rankOp(rankOp), maxTokens(maxTokens),
        backend(backend), sm(sm),
        builder(OpBuilder::atBlockEnd(&rankOp.getBody().front())) {}

  LogicalResult run();

  int64_t activationBytes = 0;
  int64_t weightBytes = 0;
  int64_t stepCount = 0;
  int64_t weightCount = 0;

private:
  FailureOr<MemRefType> getBufferType(Location loc, Type type);
  FailureOr<Value> createActivation(Location loc, Type tensorType);
  Value createView(Location loc, Value base, MemRefType type);
  FailureOr<Value> lookup(Operation *user, Value tensor);
  FailureOr<SmallVector<Value>> lookupAll(Operation *user, ValueRange tensors);
  LogicalResult setParameters(Operation *from, Operation *to);

  LogicalResult lowerArguments();
  LogicalResult lowerOp(Operation *op);
  LogicalResult lowerWeight(llm::WeightOp op);
  LogicalResult lowerReshape(llm::ReshapeOp op);
  plan::GemmBackendAttr gemmBackend(Value a, Value b, Value scaleA,
                                    Value scaleB);
  LogicalResult lowerLinear(llm::LinearOp op);
  FailureOr<Value> lookupMatrix(Operation *user, Value tensor);
  LogicalResult lowerMatmul(llm::MatmulOp op);
  LogicalResult lowerCollective(Operation *op);
  LogicalResult lowerReturn(func::ReturnOp op);
  LogicalResult lowerSplit(llm::SplitOp op);
  LogicalResult lowerFused(llm::FusedOp op);
  LogicalResult lowerNormGroup(llm::FusedOp op);
  LogicalResult lowerGatedGroup(llm::FusedOp op);
  LogicalResult lowerLinearResidual(llm::FusedOp op);
  LogicalResult lowerRopeKVWrite(llm::FusedOp op);
  LogicalResult lowerAttentionQuantization(llm::FusedOp op);
  LogicalResult lowerElementwise(llm::FusedOp op);
  FailureOr<Value> lookupGroupInput(llm::FusedOp op, Value bodyValue);
  /// B, scale_a, scale_b and zero_b of the GEMM of `linear` in `op`'s body:
  /// a float weight, a W8A8 weight with its linear's scales, or the weight
  /// a weight-only dequantize outside the group reads, with its scales.
  struct GroupGemmOperands {
    Value b, scaleA, scaleB, zeroB;
  };
  FailureOr<GroupGemmOperands> lookupGroupGemmOperands(llm::FusedOp op,
                                                       llm::LinearOp linear);
  FailureOr<SmallVector<Value>> createGroupResults(llm::FusedOp op);
  Value asMatrixView(Location loc, Value buffer);
  FailureOr<plan::ComputeOp> lowerToCompute(Operation *op, StringRef name,
                                            ValueRange inputs);

  func::FuncOp forward;
  plan::RankOp rankOp;
  int64_t maxTokens;
  plan::GemmBackend backend;
  int64_t sm;
  OpBuilder builder;
  /// The buffer each tensor value of @forward lives in.
  DenseMap<Value, Value> buffers;
  /// One slice per distinct weight name: a tied LM head reuses the table.
  llvm::StringMap<Value> weightSlices;
  /// Dequantized weights that every user reads as a GEMM's B: the GEMM
  /// dequantizes on the fly (weight-only), so no step materializes them.
  DenseSet<Operation *> fusedDequantizes;
};

/// Whether `op` dequantizes an i8/i4 [N, K] weight with f32 [N, K / G]
/// scales (and i8 zero points) for linears only: the weight-only GEMM form.
bool isWeightOnlyDequantize(llm::DequantizeOp op) {
  auto weight = op.getInput().getDefiningOp<llm::WeightOp>();
  auto inputType = cast<RankedTensorType>(op.getInput().getType());
  auto scaleType = cast<RankedTensorType>(op.getScale().getType());
  if (!weight || inputType.getRank() != 2 ||
      !(inputType.getElementType().isSignlessInteger(8) ||
        inputType.getElementType().isSignlessInteger(4)) ||
      scaleType.getRank() != 2 || !scaleType.getElementType().isF32())
    return false;
  if (Value zero = op.getZeroPoint())
    if (!cast<RankedTensorType>(zero.getType())
             .getElementType()
             .isSignlessInteger(8))
      return false;
  auto readsAsWeight = [](OpOperand &use) {
    auto linear = dyn_cast<llm::LinearOp>(use.getOwner());
    return linear && use.getOperandNumber() == 1 && !linear.isQuantized();
  };
  return !op->use_empty() && llvm::all_of(op->getUses(), [&](OpOperand &use) {
    // A fused group's GEMM dequantizes on the fly as well, when its body
    // reads the weight only as linear weights.
    if (auto group = dyn_cast<llm::FusedOp>(use.getOwner())) {
      Value argument =
          group.getBody().front().getArgument(use.getOperandNumber());
      return !argument.use_empty() &&
             llvm::all_of(argument.getUses(), readsAsWeight);
    }
    return readsAsWeight(use);
  });
}

FailureOr<MemRefType> ForwardLowering::getBufferType(Location loc, Type type) {
  auto tensorType = dyn_cast<RankedTensorType>(type);
  if (!tensorType)
    return emitError(loc, "llm-lower-to-plan expects ranked tensors, got ")
           << type;
  SmallVector<int64_t> shape(tensorType.getShape());
  for (auto [dim, size] : llvm::enumerate(shape)) {
    if (!ShapedType::isDynamic(size))
      continue;
    // The leading dimension is the token dimension of the flattened batch;
    // nothing else may be dynamic, or the plan could not be static.
    if (dim != 0)
      return emitError(loc, "dimension ")
             << dim << " of " << type
             << " is dynamic; only the leading token dimension may be, every "
                "other dimension needs a static size";
    size = maxTokens;
  }
  Type element = tensorType.getElementType();
  bool storable = element.isF32() || element.isF16() || element.isBF16() ||
                  isa<Float8E4M3FNType, Float8E5M2Type>(element) ||
                  element.isSignlessInteger(8) ||
                  element.isSignlessInteger(32) || element.isSignlessInteger(4);
  if (!storable)
    return emitError(loc, "no plan buffer holds element type ")
           << element << " (of " << type
           << "); buffers hold f32, f16, bf16, f8E4M3FN, f8E5M2, i8, i32 or "
              "i4";
  return MemRefType::get(shape, element);
}

FailureOr<Value> ForwardLowering::createActivation(Location loc,
                                                   Type tensorType) {
  FailureOr<MemRefType> type = getBufferType(loc, tensorType);
  if (failed(type))
    return failure();
  // The naive layout: every buffer in its own bytes. plan-memory packs them.
  int64_t offset = activationBytes;
  activationBytes =
      offset + llvm::alignTo(plan::getBufferBytes(*type), kActivationAlignment);
  auto slice = plan::SliceOp::create(builder, loc, *type, kActivationsArena,
                                     offset, /*base=*/Value());
  auto ranked = cast<RankedTensorType>(tensorType);
  if (ranked.getRank() > 0 && ranked.isDynamicDim(0))
    slice->setAttr(kTokenRowsAttr, builder.getUnitAttr());
  return slice.getResult();
}

Value ForwardLowering::createView(Location loc, Value base, MemRefType type) {
  auto baseSlice = base.getDefiningOp<plan::SliceOp>();
  auto view =
      plan::SliceOp::create(builder, loc, type, baseSlice.getArenaAttr(),
                            baseSlice.getOffsetAttr(), base);
  // Row-major views of token rows keep the tokens outermost: the leading
  // dimension stays a multiple of max-tokens.
  if (baseSlice->hasAttr(kTokenRowsAttr) && type.getRank() > 0 &&
      type.getShape()[0] % maxTokens == 0)
    view->setAttr(kTokenRowsAttr, builder.getUnitAttr());
  return view.getResult();
}

FailureOr<Value> ForwardLowering::lookup(Operation *user, Value tensor) {
  Value buffer = buffers.lookup(tensor);
  if (!buffer)
    return user->emitError("llm-lower-to-plan: operand has no buffer (")
           << tensor.getType() << " defined by an op that was not lowered)";
  return buffer;
}

FailureOr<SmallVector<Value>> ForwardLowering::lookupAll(Operation *user,
                                                         ValueRange tensors) {
  SmallVector<Value> result;
  for (Value tensor : tensors) {
    FailureOr<Value> buffer = lookup(user, tensor);
    if (failed(buffer))
      return failure();
    result.push_back(*buffer);
  }
  return result;
}

/// Copies `from`'s attributes onto the step `to` as the plain integers,
/// floats and strings the artifact stores: enums by name, RoPE scaling as
/// `scaling` plus `scaling_*` numbers, unit attributes as `1`. Annotations of
/// other dialects (`llm.note`) are not parameters and stay behind.
LogicalResult ForwardLowering::setParameters(Operation *from, Operation *to) {
  MLIRContext *context = from->getContext();
  auto setF64 = [&](StringRef name, const APFloat &value) {
    to->setAttr(name, FloatAttr::get(Float64Type::get(context), value));
  };
  for (NamedAttribute attr : from->getAttrs()) {
    StringRef name = attr.getName().strref();
    Attribute value = attr.getValue();
    if (name.contains('.'))
      continue;
    if (isa<IntegerAttr, FloatAttr, StringAttr>(value)) {
      to->setAttr(name, value);
    } else if (isa<UnitAttr>(value)) {
      to->setAttr(name, builder.getI64IntegerAttr(1));
    } else if (auto type = dyn_cast<TypeAttr>(value)) {
      // Element types by their MLIR spelling ("f8E4M3FN", "i8").
      std::string spelled;
      llvm::raw_string_ostream os(spelled);
      type.getValue().print(os);
      to->setAttr(name, builder.getStringAttr(spelled));
    } else if (auto style = dyn_cast<llm::RopeStyleAttr>(value)) {
      to->setAttr(name, builder.getStringAttr(
                            llm::stringifyRopeStyle(style.getValue())));
    } else if (auto gelu = dyn_cast<llm::GeluApproximationAttr>(value)) {
      to->setAttr(name, builder.getStringAttr(
                            llm::stringifyGeluApproximation(gelu.getValue())));
    } else if (auto scaling = dyn_cast<llm::RopeScalingAttr>(value)) {
      to->setAttr(name, builder.getStringAttr(
                            llm::stringifyRopeScalingKind(scaling.getKind())));
      setF64((name + "_factor").str(), scaling.getFactor());
      setF64((name + "_low_freq_factor").str(), scaling.getLowFreqFactor());
      setF64((name + "_high_freq_factor").str(), scaling.getHighFreqFactor());
      to->setAttr((name + "_original_max_position").str(),
                  builder.getI64IntegerAttr(scaling.getOriginalMaxPosition()));
    } else {
      return from->emitError("llm-lower-to-plan cannot carry attribute '")
             << name << "' (" << value
             << ") as a step parameter; parameters are integers, floats and "
                "strings";
    }
  }
  return success();
}

FailureOr<plan::ComputeOp> ForwardLowering::lowerToCompute(Operation *op,
                                                           StringRef name,
                                                           ValueRange inputs) {
  FailureOr<SmallVector<Value>> inputBuffers = lookupAll(op, inputs);
  if (failed(inputBuffers))
    return failure();
  SmallVector<Value> outputs;
  for (Value result : op->getResults()) {
    FailureOr<Value> output = createActivation(op->getLoc(), result.getType());
    if (failed(output))
      return failure();
    buffers[result] = *output;
    outputs.push_back(*output);
  }
  auto step = plan::ComputeOp::create(builder, op->getLoc(), name,
                                      *inputBuffers, outputs);
  ++stepCount;
  if (failed(setParameters(op, step)))
    return failure();
  return step;
}

/// The runtime fills the arguments before the first step. They live in the
/// activations arena so that the steps read them like any other buffer; the
/// mark tells the runtime which is which and keeps plan-memory from reusing
/// their bytes while they are live.
LogicalResult ForwardLowering::lowerArguments() {
  for (BlockArgument argument : forward.getArguments()) {
    // Attention reads the batch metadata (query offsets, KV lengths, block
    // tables) the runtime's scheduler supplies each call; it needs no buffer.
    if (isa<llm::BatchType>(argument.getType()))
      continue;
    FailureOr<Value> buffer =
        createActivation(argument.getLoc(), argument.getType());
    if (failed(buffer))
      return failure();
    std::string role = ("arg" + Twine(argument.getArgNumber())).str();
    for (Operation *user : argument.getUsers()) {
      if (auto embedding = dyn_cast<llm::EmbeddingOp>(user);
          embedding && embedding.getIds() == argument)
        role = "token_ids";
      if (auto rope = dyn_cast<llm::RopeOp>(user);
          rope && rope.getPositions() == argument)
        role = "positions";
      // A fused group reads the positions through its body's RoPE.
      if (auto fused = dyn_cast<llm::FusedOp>(user))
        for (auto [input, inner] : llvm::zip(
                 fused.getInputs(), fused.getBody().front().getArguments()))
          if (input == argument &&
              llvm::any_of(inner.getUsers(), [&](Operation *innerUser) {
                auto rope = dyn_cast<llm::RopeOp>(innerUser);
                return rope && rope.getPositions() == inner;
              }))
            role = "positions";
    }
    buffer->getDefiningOp()->setAttr("plan.input", builder.getStringAttr(role));
    buffers[argument] = *buffer;
  }
  return success();
}

LogicalResult ForwardLowering::lowerWeight(llm::WeightOp op) {
  StringRef name = op.getName();
  auto [it, inserted] = weightSlices.try_emplace(name, Value());
  FailureOr<MemRefType> type =
      getBufferType(op.getLoc(), op.getResult().getType());
  if (failed(type))
    return failure();
  if (!inserted) {
    if (it->second.getType() != *type)
      return op.emitError("weight @")
             << name << " is used as " << *type << " here but as "
             << it->second.getType() << " before";
    buffers[op.getResult()] = it->second;
    return success();
  }
  // In order of first use, each on its own page: the artifact writer streams
  // the weights into the section in the same order and alignment, matching
  // slices to tensors by the `plan.weight` name.
  int64_t offset = llvm::alignTo(weightBytes, kWeightAlignment);
  weightBytes = offset + plan::getBufferBytes(*type);
  auto slice = plan::SliceOp::create(builder, op.getLoc(), *type, kWeightsArena,
                                     offset, /*base=*/Value());
  slice->setAttr("plan.weight", builder.getStringAttr(name));
  // The artifact's Tensor.quant: the scheme and the scale / zero-point
  // tensors the quantization pass named.
  if (auto quant = op->getAttrOfType<DictionaryAttr>(kWeightQuantAttrName)) {
    SmallVector<NamedAttribute> carried;
    for (StringRef key : {"scheme", "scale", "zero_point"})
      if (auto value = quant.getAs<StringAttr>(key))
        carried.push_back(builder.getNamedAttr(key, value));
    slice->setAttr("plan.quant", builder.getDictionaryAttr(carried));
  }
  it->second = slice.getResult();
  buffers[op.getResult()] = slice.getResult();
  ++weightCount;
  return success();
}

LogicalResult ForwardLowering::lowerReshape(llm::ReshapeOp op) {
  FailureOr<Value> input = lookup(op, op.getInput());
  FailureOr<MemRefType> type =
      getBufferType(op.getLoc(), op.getResult().getType());
  if (failed(input) || failed(type))
    return failure();
  // Row-major order is kept, so a reshape is the same bytes under another
  // shape: a view, no copy and no step.
  buffers[op.getResult()] = createView(op.getLoc(), *input, *type);
  return success();
}

/// A [..., K] operand as the [rows, K] matrix a GEMM takes: itself when it is
/// a matrix, else a view.
static MemRefType asMatrix(MemRefType type) {
  int64_t columns = type.getShape().back();
  return MemRefType::get({type.getNumElements() / columns, columns},
                         type.getElementType());
}

/// The buffer of `tensor` as a [rows, columns] matrix (a view when it has
/// another rank); a scalar stays a scalar.
FailureOr<Value> ForwardLowering::lookupMatrix(Operation *user, Value tensor) {
  FailureOr<Value> buffer = lookup(user, tensor);
  if (failed(buffer))
    return failure();
  auto type = cast<MemRefType>(buffer->getType());
  if (type.getRank() == 0 || type.getRank() == 2)
    return *buffer;
  return createView(user->getLoc(), *buffer, asMatrix(type));
}

/// Who runs one GEMM on a GPU: cuBLASLt where it supports the mode, else a
/// kernel llmc generates. cuBLASLt's INT8 and FP8 GEMMs take scalar scales,
/// plus per-row/per-column FP8 scales ("outer vector" scaling) from Hopper
/// on (Ada refuses them); it has no float x INT8/INT4 (weight-only) GEMM.
plan::GemmBackendAttr ForwardLowering::gemmBackend(Value a, Value b,
                                                   Value scaleA,
                                                   Value scaleB) {
  MLIRContext *context = a.getContext();
  auto attr = [&](plan::GemmBackend chosen) {
    return plan::GemmBackendAttr::get(context, chosen);
  };
  if (backend != plan::GemmBackend::CublasLt)
    return attr(backend);
  auto quantized = [](Value value) {
    Type element = cast<MemRefType>(value.getType()).getElementType();
    return isa<IntegerType, Float8E4M3FNType, Float8E5M2Type>(element);
  };
  if (!quantized(b))
    return attr(plan::GemmBackend::CublasLt);
  if (!quantized(a))
    return attr(plan::GemmBackend::Generated);
  auto scalar = [](Value scale) {
    return !scale || cast<MemRefType>(scale.getType()).getNumElements() == 1;
  };
  if (scalar(scaleA) && scalar(scaleB))
    return attr(plan::GemmBackend::CublasLt);
  bool fp8 = isa<Float8E4M3FNType, Float8E5M2Type>(
      cast<MemRefType>(b.getType()).getElementType());
  return attr(fp8 && sm >= 90 ? plan::GemmBackend::CublasLt
                              : plan::GemmBackend::Generated);
}

LogicalResult ForwardLowering::lowerLinear(llm::LinearOp op) {
  // Weight-only: B is the quantized weight the dequantize reads, with its
  // scales and zero points.
  Value weight = op.getWeight(), scaleA, scaleB, zeroB;
  auto dequantize = weight.getDefiningOp<llm::DequantizeOp>();
  bool weightOnly = dequantize && fusedDequantizes.contains(dequantize);
  if (weightOnly) {
    weight = dequantize.getInput();
    FailureOr<Value> scale = lookup(op, dequantize.getScale());
    if (failed(scale))
      return failure();
    scaleB = *scale;
    if (Value zero = dequantize.getZeroPoint()) {
      FailureOr<Value> zeroBuffer = lookup(op, zero);
      if (failed(zeroBuffer))
        return failure();
      zeroB = *zeroBuffer;
    }
  }
  FailureOr<Value> input = lookup(op, op.getInput());
  FailureOr<Value> b = lookup(op, weight);
  if (failed(input) || failed(b))
    return failure();
  FailureOr<Value> output =
      createActivation(op.getLoc(), op.getResult().getType());
  if (failed(output))
    return failure();
  buffers[op.getResult()] = *output;
  Value c = *output;
  FailureOr<Value> a = lookupMatrix(op, op.getInput());
  if (failed(a))
    return failure();
  auto cType = cast<MemRefType>(c.getType());
  if (cType.getRank() != 2)
    c = createView(op.getLoc(), c, asMatrix(cType));
  // W8A8: the linear's scales become the GEMM's, as [M, 1] / [N, 1] or [].
  if (op.isQuantized()) {
    FailureOr<Value> inputScale = lookupMatrix(op, op.getInputScale());
    FailureOr<Value> weightScale = lookup(op, op.getWeightScale());
    if (failed(inputScale) || failed(weightScale))
      return failure();
    scaleA = *inputScale;
    scaleB = *weightScale;
  }
  // nn.Linear's weight is [out_features, in_features]: B is [N, K].
  plan::GemmOp::create(builder, op.getLoc(),
                       gemmBackend(*a, *b, scaleA, scaleB), *a, *b, c, scaleA,
                       scaleB, zeroB,
                       /*transpose_b=*/builder.getUnitAttr(),
                       builder.getF32FloatAttr(1.0f),
                       builder.getF32FloatAttr(0.0f));
  ++stepCount;
  if (Value bias = op.getBias()) {
    FailureOr<Value> biasBuffer = lookup(op, bias);
    if (failed(biasBuffer))
      return failure();
    // In place: C += bias, broadcast over rows.
    plan::ComputeOp::create(builder, op.getLoc(), "bias_add",
                            ValueRange{*output, *biasBuffer},
                            ValueRange{*output});
    ++stepCount;
  }
  return success();
}

LogicalResult ForwardLowering::lowerMatmul(llm::MatmulOp op) {
  auto lhsType = cast<RankedTensorType>(op.getLhs().getType());
  // plan.gemm multiplies matrices; batched products stay one step.
  if (lhsType.getRank() != 2) {
    FailureOr<plan::ComputeOp> step =
        lowerToCompute(op, "matmul", op->getOperands());
    if (failed(step))
      return failure();
    (*step)->setAttr("transpose_rhs",
                     builder.getI64IntegerAttr(op.getTransposeRhs()));
    return success();
  }
  FailureOr<SmallVector<Value>> operands = lookupAll(op, op->getOperands());
  if (failed(operands))
    return failure();
  FailureOr<Value> output =
      createActivation(op.getLoc(), op.getResult().getType());
  if (failed(output))
    return failure();
  buffers[op.getResult()] = *output;
  plan::GemmOp::create(
      builder, op.getLoc(),
      gemmBackend((*operands)[0], (*operands)[1], Value(), Value()),
      (*operands)[0], (*operands)[1], *output, Value(), Value(), Value(),
      op.getTransposeRhs() ? builder.getUnitAttr() : UnitAttr(),
      builder.getF32FloatAttr(1.0f), builder.getF32FloatAttr(0.0f));
  ++stepCount;
  return success();
}

LogicalResult ForwardLowering::lowerCollective(Operation *op) {
  MLIRContext *context = op->getContext();
  int64_t rank = rankOp.getRankAttr().getInt();
  FailureOr<SmallVector<Value>> operands = lookupAll(op, op->getOperands());
  if (failed(operands))
    return failure();
  Value output;
  if (op->getNumResults() == 1) {
    FailureOr<Value> created =
        createActivation(op->getLoc(), op->getResult(0).getType());
    if (failed(created))
      return failure();
    output = *created;
    buffers[op->getResult(0)] = output;
  }
  auto kindAttr = [&](plan::CollectiveKind kind) {
    return plan::CollectiveKindAttr::get(context, kind);
  };
  // Point-to-point steps talk over the pair's own group.
  auto pairGroup = [&](int64_t peer) {
    return builder.getDenseI64ArrayAttr(
        {std::min(rank, peer), std::max(rank, peer)});
  };
  if (auto allReduce = dyn_cast<llm::AllReduceOp>(op)) {
    auto reduction = plan::symbolizeReductionKind(
        llm::stringifyReductionKind(allReduce.getReduction()));
    plan::CollectiveOp::create(
        builder, op->getLoc(), kindAttr(plan::CollectiveKind::AllReduce),
        plan::ReductionKindAttr::get(context, *reduction), (*operands)[0],
        output, IntegerAttr(), IntegerAttr(), allReduce.getGroupAttr());
  } else if (auto allGather = dyn_cast<llm::AllGatherOp>(op)) {
    plan::CollectiveOp::create(
        builder, op->getLoc(), kindAttr(plan::CollectiveKind::AllGather),
        plan::ReductionKindAttr(), (*operands)[0], output,
        allGather.getAxisAttr(), IntegerAttr(), allGather.getGroupAttr());
  } else if (auto send = dyn_cast<llm::SendOp>(op)) {
    plan::CollectiveOp::create(
        builder, op->getLoc(), kindAttr(plan::CollectiveKind::Send),
        plan::ReductionKindAttr(), (*operands)[0], Value(), IntegerAttr(),
        send.getPeerAttr(), pairGroup(send.getPeer()));
  } else {
    auto recv = cast<llm::RecvOp>(op);
    plan::CollectiveOp::create(
        builder, op->getLoc(), kindAttr(plan::CollectiveKind::Recv),
        plan::ReductionKindAttr(), output, Value(), IntegerAttr(),
        recv.getPeerAttr(), pairGroup(recv.getPeer()));
  }
  ++stepCount;
  return success();
}

/// The runtime reads the results after the last step.
LogicalResult ForwardLowering::lowerReturn(func::ReturnOp op) {
  for (auto [index, value] : llvm::enumerate(op.getOperands())) {
    FailureOr<Value> buffer = lookup(op, value);
    if (failed(buffer))
      return failure();
    std::string role = op.getNumOperands() == 1
                           ? std::string("logits")
                           : ("result" + Twine(index)).str();
    buffer->getDefiningOp()->setAttr("plan.output",
                                     builder.getStringAttr(role));
  }
  return success();
}

LogicalResult ForwardLowering::lowerOp(Operation *op) {
  // Steps whose op has defaulted attributes spell the defaults out, so that
  // a backend need not know them.
  auto withDefault = [&](FailureOr<plan::ComputeOp> step, StringRef name,
                         Attribute value) -> LogicalResult {
    if (failed(step))
      return failure();
    if (!(*step)->hasAttr(name))
      (*step)->setAttr(name, value);
    return success();
  };
  return TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](llm::WeightOp weight) { return lowerWeight(weight); })
      .Case([&](llm::ReshapeOp reshape) { return lowerReshape(reshape); })
      .Case([&](llm::LinearOp linear) { return lowerLinear(linear); })
      .Case([&](llm::MatmulOp matmul) { return lowerMatmul(matmul); })
      .Case<llm::AllReduceOp, llm::AllGatherOp, llm::SendOp, llm::RecvOp>(
          [&](Operation *collective) { return lowerCollective(collective); })
      .Case([&](func::ReturnOp ret) { return lowerReturn(ret); })
      .Case([&](llm::FusedOp fused) { return lowerFused(fused); })
      .Case([&](llm::SplitOp split) { return lowerSplit(split); })
      .Case([&](llm::CachedAttentionOp attention) {
        // Reads the KV-cache rows a rope_kv_write step of `layer` stored.
        return lowerToCompute(attention, "cached_attention",
                              {attention.getQuery()});
      })
      .Case([&](llm::KVCacheWriteOp write) {
        return write.emitError(
            "llm-lower-to-plan lowers llm.kv_cache_write only inside a "
            "rope_kv_write group (llm-fuse creates it there)");
      })
      .Case([&](llm::AttentionOp attention) {
        // The batch operand is the runtime's per-call metadata, not a buffer;
        // `layer` names the KV-cache layer the step appends to and reads.
        return lowerToCompute(
            attention, "attention",
            {attention.getQuery(), attention.getKey(), attention.getValue()});
      })
      .Case([&](llm::RopeOp rope) {
        return withDefault(lowerToCompute(rope, "rope", rope->getOperands()),
                           "style", builder.getStringAttr("half"));
      })
      .Case([&](llm::GeluOp gelu) {
        return withDefault(lowerToCompute(gelu, "gelu", gelu->getOperands()),
                           "approximation", builder.getStringAttr("none"));
      })
      .Case([&](llm::SoftmaxOp softmax) {
        return withDefault(
            lowerToCompute(softmax, "softmax", softmax->getOperands()), "axis",
            builder.getI64IntegerAttr(-1));
      })
      .Case<arith::ExtFOp, arith::TruncFOp>([&](Operation *convert) {
        return lowerToCompute(convert, "convert", convert->getOperands());
      })
      .Case([&](llm::DequantizeOp dequantize) -> LogicalResult {
        if (fusedDequantizes.contains(dequantize))
          return success();
        return lowerToCompute(dequantize, "dequantize",
                              dequantize->getOperands());
      })
      .Case<llm::EmbeddingOp, llm::RMSNormOp, llm::LayerNormOp, llm::SiluOp,
            llm::AddOp, llm::MulOp, llm::ScaleOp, llm::QuantizeOp,
            llm::QuantizeDynamicOp>([&](Operation *step) {
        return lowerToCompute(step, step->getName().stripDialect(),
                              step->getOperands());
      })
      .Default([&](Operation *other) {
        InFlightDiagnostic diag =
            other->emitError("llm-lower-to-plan cannot lower '")
            << other->getName() << "'";
        diag << "; it lowers the llm dialect's model ops, arith.extf and "
                "arith.truncf";
        return diag;
      });
}

//===----------------------------------------------------------------------===//
// Fused groups: one step each
//===----------------------------------------------------------------------===//

Value ForwardLowering::asMatrixView(Location loc, Value buffer) {
  auto type = cast<MemRefType>(buffer.getType());
  if (type.getRank() == 2)
    return buffer;
  return createView(loc, buffer, asMatrix(type));
}

/// The buffer of the group input that `bodyValue`, a block argument of the
/// group's body, stands for.
FailureOr<Value> ForwardLowering::lookupGroupInput(llm::FusedOp op,
                                                   Value bodyValue) {
  auto argument = dyn_cast<BlockArgument>(bodyValue);
  if (!argument || argument.getOwner() != &op.getBody().front())
    return op.emitError("llm-lower-to-plan: fused group '")
           << op.getKind().value_or("") << "' computes inside the group a "
           << "value its step reads from memory (" << bodyValue.getType()
           << ")";
  return lookup(op, op.getInputs()[argument.getArgNumber()]);
}

FailureOr<ForwardLowering::GroupGemmOperands>
ForwardLowering::lookupGroupGemmOperands(llm::FusedOp op,
                                         llm::LinearOp linear) {
  GroupGemmOperands operands;
  auto weightArgument = dyn_cast<BlockArgument>(linear.getWeight());
  auto dequantize = weightArgument
                        ? op.getInputs()[weightArgument.getArgNumber()]
                              .getDefiningOp<llm::DequantizeOp>()
                        : llm::DequantizeOp();
  if (dequantize && fusedDequantizes.contains(dequantize)) {
    FailureOr<Value> b = lookup(op, dequantize.getInput());
    FailureOr<Value> scale = lookup(op, dequantize.getScale());
    if (failed(b) || failed(scale))
      return failure();
    operands.b = *b;
    operands.scaleB = *scale;
    if (Value zero = dequantize.getZeroPoint()) {
      FailureOr<Value> zeroBuffer = lookup(op, zero);
      if (failed(zeroBuffer))
        return failure();
      operands.zeroB = *zeroBuffer;
    }
    return operands;
  }
  FailureOr<Value> b = lookupGroupInput(op, linear.getWeight());
  if (failed(b))
    return failure();
  operands.b = *b;
  if (linear.isQuantized()) {
    FailureOr<Value> scaleA = lookupGroupInput(op, linear.getInputScale());
    FailureOr<Value> scaleB = lookupGroupInput(op, linear.getWeightScale());
    if (failed(scaleA) || failed(scaleB))
      return failure();
    // [tokens, 1] per token or [] per tensor (a static scale stays a
    // scalar).
    auto scaleAType = cast<MemRefType>(scaleA->getType());
    operands.scaleA = scaleAType.getRank() == 0
                          ? *scaleA
                          : asMatrixView(op.getLoc(), *scaleA);
    operands.scaleB = *scaleB;
  }
  return operands;
}

FailureOr<SmallVector<Value>>
ForwardLowering::createGroupResults(llm::FusedOp op) {
  SmallVector<Value> outputs;
  for (Value result : op.getResults()) {
    FailureOr<Value> output = createActivation(op.getLoc(), result.getType());
    if (failed(output))
      return failure();
    buffers[result] = *output;
    outputs.push_back(*output);
  }
  return outputs;
}

/// The ops of `op`'s body of type OpTy, in order.
template <typename OpTy> static SmallVector<OpTy> bodyOps(llm::FusedOp op) {
  return llvm::to_vector(op.getBody().front().getOps<OpTy>());
}

/// `activation` and `approximation` parameters of a gated activation.
static void setActivationParameters(Operation *step, Operation *activation,
                                    OpBuilder &builder) {
  step->setAttr(
      "activation",
      builder.getStringAttr(isa<llm::SiluOp>(activation) ? "silu" : "gelu"));
  StringRef approximation = "none";
  if (auto gelu = dyn_cast<llm::GeluOp>(activation))
    approximation = llm::stringifyGeluApproximation(gelu.getApproximation());
  step->setAttr("approximation", builder.getStringAttr(approximation));
}

LogicalResult ForwardLowering::lowerFused(llm::FusedOp op) {
  StringRef kind = op.getKind().value_or("");
  if (kind == "add_rms_norm" || kind == "add_rms_norm_quantize" ||
      kind == "rms_norm_quantize" || kind == "rms_norm_add_rms_norm" ||
      kind == "add_rms_norm_quantize_dynamic" ||
      kind == "rms_norm_quantize_dynamic")
    return lowerNormGroup(op);
  if (kind == "gated_activation" || kind == "gated_activation_quantize" ||
      kind == "linear_gated_activation" ||
      kind == "linear_gated_activation_quantize" ||
      kind == "gated_activation_quantize_dynamic" ||
      kind == "linear_gated_activation_quantize_dynamic")
    return lowerGatedGroup(op);
  if (kind == "cached_attention_quantize_dynamic")
    return lowerAttentionQuantization(op);
  if (kind == "linear_residual")
    return lowerLinearResidual(op);
  if (kind == "rope_kv_write")
    return lowerRopeKVWrite(op);
  if (kind == "elementwise")
    return lowerElementwise(op);
  if (kind == "linear_bias") {
    SmallVector<llm::LinearOp> linears = bodyOps<llm::LinearOp>(op);
    if (linears.size() != 1 || !linears.front().getBias())
      return op.emitError("a linear_bias group holds one biased llm.linear");
    llm::LinearOp linear = linears.front();
    FailureOr<Value> x = lookupGroupInput(op, linear.getInput());
    FailureOr<GroupGemmOperands> gemm = lookupGroupGemmOperands(op, linear);
    FailureOr<Value> b = lookupGroupInput(op, linear.getBias());
    FailureOr<SmallVector<Value>> outputs = createGroupResults(op);
    if (failed(x) || failed(gemm) || failed(b) || failed(outputs))
      return failure();
    // nn.Linear with its bias as the GEMM's epilogue: y = x * w^T + b. A
    // quantized GEMM's scales (W8A8: scale_a, scale_b; weight-only:
    // scale_b, zero_b) come between w and the bias.
    SmallVector<Value> inputs = {asMatrixView(op.getLoc(), *x), gemm->b};
    for (Value scale : {gemm->scaleA, gemm->scaleB, gemm->zeroB})
      if (scale)
        inputs.push_back(scale);
    inputs.push_back(*b);
    plan::ComputeOp::create(
        builder, op.getLoc(), "linear_bias", inputs,
        ValueRange{asMatrixView(op.getLoc(), outputs->front())});
    ++stepCount;
    return success();
  }
  return op.emitError("llm-lower-to-plan cannot lower fused groups of kind '")
         << kind
         << "'; it lowers add_rms_norm(_quantize), rms_norm_quantize, "
            "(linear_)gated_activation(_quantize), linear_residual, "
            "linear_bias, rope_kv_write and elementwise";
}

LogicalResult ForwardLowering::lowerNormGroup(llm::FusedOp op) {
  SmallVector<llm::AddOp> adds = bodyOps<llm::AddOp>(op);
  SmallVector<llm::RMSNormOp> norms = bodyOps<llm::RMSNormOp>(op);
  SmallVector<llm::QuantizeOp> quants = bodyOps<llm::QuantizeOp>(op);
  SmallVector<llm::QuantizeDynamicOp> dynamics =
      bodyOps<llm::QuantizeDynamicOp>(op);
  bool sandwich = *op.getKind() == "rms_norm_add_rms_norm";
  if (norms.size() != (sandwich ? 2u : 1u) || adds.size() > 1 ||
      quants.size() + dynamics.size() > 1 ||
      (sandwich && (adds.empty() || !quants.empty() || !dynamics.empty())))
    return op.emitError("a norm group holds one llm.rms_norm (two around "
                        "the add for rms_norm_add_rms_norm), at most one "
                        "llm.add before it and one llm.quantize or "
                        "llm.quantize_dynamic after it");
  // The norm's results: the quantize_dynamic's codes and scales, or one.
  unsigned normResults = dynamics.empty() ? 1u : 2u;
  SmallVector<Value> inputs;
  SmallVector<Value> bodyInputs;
  if (sandwich) {
    // (branch, branch norm weight, residual, norm weight): the branch is
    // normalized, added to the residual, and the sum normalized again.
    llm::RMSNormOp inner = norms.front();
    llm::AddOp add = adds.front();
    Value residual =
        add.getLhs() == inner.getResult() ? add.getRhs() : add.getLhs();
    bodyInputs.append({inner.getInput(), inner.getWeight(), residual});
    norms.erase(norms.begin());
  } else if (!adds.empty()) {
    bodyInputs.append({adds.front().getLhs(), adds.front().getRhs()});
  } else {
    bodyInputs.push_back(norms.front().getInput());
  }
  bodyInputs.push_back(norms.front().getWeight());
  if (!quants.empty())
    bodyInputs.push_back(quants.front().getScale());
  for (Value value : bodyInputs) {
    FailureOr<Value> buffer = lookupGroupInput(op, value);
    if (failed(buffer))
      return failure();
    inputs.push_back(*buffer);
  }
  FailureOr<SmallVector<Value>> outputs = createGroupResults(op);
  if (failed(outputs))
    return failure();
  // The step always writes the sum; a group that yields only the norm (as
  // llm.fused's example) gets a buffer for it that nothing reads.
  auto yield = cast<llm::YieldOp>(op.getBody().front().getTerminator());
  if (!adds.empty() &&
      !llvm::is_contained(yield.getValues(), adds.front().getResult())) {
    FailureOr<Value> sum =
        createActivation(op.getLoc(), adds.front().getResult().getType());
    if (failed(sum))
      return failure();
    outputs->insert(outputs->begin(), *sum);
  }
  if (outputs->size() != (adds.empty() ? 0u : 1u) + normResults ||
      (yield.getValues().size() == normResults + 1 &&
       yield.getValues()[0] != adds.front().getResult()))
    return op.emitError("a norm group yields ")
           << (adds.empty() ? "the norm" : "the sum and the norm, in order");
  auto step = plan::ComputeOp::create(builder, op.getLoc(), *op.getKind(),
                                      inputs, *outputs);
  step->setAttr("epsilon", norms.front().getEpsilonAttr());
  if (sandwich)
    step->setAttr("branch_epsilon",
                  bodyOps<llm::RMSNormOp>(op).front().getEpsilonAttr());
  ++stepCount;
  return success();
}

LogicalResult ForwardLowering::lowerGatedGroup(llm::FusedOp op) {
  SmallVector<llm::SplitOp> splits = bodyOps<llm::SplitOp>(op);
  SmallVector<llm::LinearOp> linears = bodyOps<llm::LinearOp>(op);
  SmallVector<llm::QuantizeOp> quants = bodyOps<llm::QuantizeOp>(op);
  if (!bodyOps<llm::QuantizeDynamicOp>(op).empty() &&
      (!quants.empty() || bodyOps<llm::MulOp>(op).size() != 1))
    return op.emitError("a gated-activation group quantizes its product once");
  Operation *activation = nullptr;
  for (Operation &inner : op.getBody().front())
    if (isa<llm::SiluOp, llm::GeluOp>(inner))
      activation = &inner;
  if (splits.size() != 1 || !activation || linears.size() > 1 ||
      quants.size() > 1)
    return op.emitError("a gated-activation group holds one llm.split, one "
                        "llm.silu or llm.gelu, and at most one llm.linear "
                        "and one llm.quantize");
  SmallVector<Value> inputs;
  Location loc = op.getLoc();
  if (linears.empty()) {
    FailureOr<Value> packed = lookupGroupInput(op, splits.front().getInput());
    if (failed(packed))
      return failure();
    inputs.push_back(asMatrixView(loc, *packed));
  } else {
    if (linears.front().getBias())
      return op.emitError("a linear_gated_activation group takes no bias");
    FailureOr<Value> x = lookupGroupInput(op, linears.front().getInput());
    FailureOr<GroupGemmOperands> gemm =
        lookupGroupGemmOperands(op, linears.front());
    if (failed(x) || failed(gemm))
      return failure();
    // A quantized GEMM's scales (W8A8: scale_a, scale_b; weight-only:
    // scale_b, zero_b) follow x and w.
    inputs.append({asMatrixView(loc, *x), gemm->b});
    for (Value scale : {gemm->scaleA, gemm->scaleB, gemm->zeroB})
      if (scale)
        inputs.push_back(scale);
  }
  if (!quants.empty()) {
    FailureOr<Value> scale = lookupGroupInput(op, quants.front().getScale());
    if (failed(scale))
      return failure();
    inputs.push_back(*scale);
  }
  FailureOr<SmallVector<Value>> outputs = createGroupResults(op);
  if (failed(outputs))
    return failure();
  SmallVector<Value> stepOutputs;
  for (Value output : *outputs)
    stepOutputs.push_back(asMatrixView(loc, output));
  auto step =
      plan::ComputeOp::create(builder, loc, *op.getKind(), inputs, stepOutputs);
  setActivationParameters(step, activation, builder);
  if (!bodyOps<llm::QuantizeDynamicOp>(op).empty()) {
    // The per-token scales are taken of act(gate) * up as the unfused mul
    // stores it.
    std::string spelled;
    llvm::raw_string_ostream os(spelled);
    cast<RankedTensorType>(bodyOps<llm::MulOp>(op).front().getType())
        .getElementType()
        .print(os);
    step->setAttr("product_dtype", builder.getStringAttr(spelled));
  }
  ++stepCount;
  return success();
}

LogicalResult ForwardLowering::lowerLinearResidual(llm::FusedOp op) {
  SmallVector<llm::LinearOp> linears = bodyOps<llm::LinearOp>(op);
  SmallVector<llm::AddOp> adds = bodyOps<llm::AddOp>(op);
  if (linears.size() != 1 || adds.size() != 1 || linears.front().getBias())
    return op.emitError("a linear_residual group holds one llm.linear "
                        "without bias and the llm.add of its result");
  llm::LinearOp linear = linears.front();
  llm::AddOp add = adds.front();
  Value bodyResidual =
      add.getLhs() == linear.getResult() ? add.getRhs() : add.getLhs();
  auto residualArgument = dyn_cast<BlockArgument>(bodyResidual);
  if (!residualArgument)
    return op.emitError("the residual of a linear_residual group must be an "
                        "input");
  Value residual = op.getInputs()[residualArgument.getArgNumber()];
  // beta = 1 accumulates into the residual's own buffer: nothing may read
  // the residual afterwards, and it must be an activation of its own.
  Operation *def = residual.getDefiningOp();
  if (!def || isa<llm::WeightOp, llm::ReshapeOp, llm::SplitOp>(def) ||
      linear.getInput() == bodyResidual ||
      llvm::any_of(residual.getUsers(), [&](Operation *user) {
        return user != op.getOperation() &&
               (user->getBlock() != op->getBlock() ||
                op->isBeforeInBlock(user));
      }))
    return op.emitError("linear_residual accumulates into its residual's "
                        "buffer, but the residual is read after the group, "
                        "is the GEMM's input or is not an activation of its "
                        "own");
  FailureOr<Value> x = lookupGroupInput(op, linear.getInput());
  FailureOr<GroupGemmOperands> gemm = lookupGroupGemmOperands(op, linear);
  FailureOr<Value> c = lookup(op, residual);
  if (failed(x) || failed(gemm) || failed(c))
    return failure();
  buffers[op.getResult(0)] = *c;
  // Quantized linears keep their scales (W8A8) or their quantized weight,
  // scales and zero points (weight-only); the epilogue is the same.
  plan::GemmOp::create(
      builder, op.getLoc(),
      gemmBackend(*x, gemm->b, gemm->scaleA, gemm->scaleB),
      asMatrixView(op.getLoc(), *x), gemm->b, asMatrixView(op.getLoc(), *c),
      gemm->scaleA, gemm->scaleB, gemm->zeroB,
      /*transpose_b=*/builder.getUnitAttr(), builder.getF32FloatAttr(1.0f),
      builder.getF32FloatAttr(1.0f));
  ++stepCount;
  return success();
}

LogicalResult ForwardLowering::lowerRopeKVWrite(llm::FusedOp op) {
  SmallVector<llm::SplitOp> splits = bodyOps<llm::SplitOp>(op);
  SmallVector<llm::RopeOp> ropes = bodyOps<llm::RopeOp>(op);
  SmallVector<llm::RMSNormOp> norms = bodyOps<llm::RMSNormOp>(op);
  SmallVector<llm::KVCacheWriteOp> writes = bodyOps<llm::KVCacheWriteOp>(op);
  auto yield = cast<llm::YieldOp>(op.getBody().front().getTerminator());
  if (splits.size() != 1 || splits.front().getNumResults() != 3 ||
      ropes.size() != 2 || writes.size() != 1 ||
      (norms.size() != 0 && norms.size() != 2) || yield.getValues().size() != 1)
    return op.emitError("a rope_kv_write group holds one 3-way llm.split, "
                        "two llm.rope (each optionally of an llm.rms_norm), "
                        "one llm.kv_cache_write and yields the roped query");
  llm::RopeOp ropeQ = ropes[0], ropeK = ropes[1];
  if (yield.getValues()[0] != ropeQ.getResult())
    std::swap(ropeQ, ropeK);
  if (yield.getValues()[0] != ropeQ.getResult() ||
      writes.front().getKey() != ropeK.getResult())
    return op.emitError("rope_kv_write must yield one roped query and write "
                        "the other rope's result as the key");
  auto queryType = cast<RankedTensorType>(ropeQ.getType());
  auto keyType = cast<RankedTensorType>(ropeK.getType());
  SmallVector<Value> bodyInputs = {splits.front().getInput(),
                                   ropeQ.getPositions()};
  if (!norms.empty()) {
    llm::RMSNormOp normQ = norms[0], normK = norms[1];
    if (ropeQ.getInput() != normQ.getResult())
      std::swap(normQ, normK);
    bodyInputs.append({normQ.getWeight(), normK.getWeight()});
  }
  SmallVector<Value> inputs;
  for (Value value : bodyInputs) {
    FailureOr<Value> buffer = lookupGroupInput(op, value);
    if (failed(buffer))
      return failure();
    inputs.push_back(*buffer);
  }
  FailureOr<SmallVector<Value>> outputs = createGroupResults(op);
  if (failed(outputs))
    return failure();
  auto step = plan::ComputeOp::create(builder, op.getLoc(), "rope_kv_write",
                                      inputs, *outputs);
  ++stepCount;
  // The rotation's parameters as the rope step has them, and the layout of
  // the packed rows: [q heads | k heads | v heads] of head_dim each.
  if (failed(setParameters(ropeQ, step)))
    return failure();
  if (!step->hasAttr("style"))
    step->setAttr("style", builder.getStringAttr("half"));
  step->setAttr("layer", writes.front().getLayerAttr());
  if (std::optional<Type> cacheType = writes.front().getKvCacheDtype()) {
    // As setParameters spells an element type ("f8E4M3FN", "i8").
    std::string spelled;
    llvm::raw_string_ostream os(spelled);
    cacheType->print(os);
    step->setAttr("kv_cache_dtype", builder.getStringAttr(spelled));
  }
  step->setAttr("num_heads",
                builder.getI64IntegerAttr(queryType.getDimSize(1)));
  step->setAttr("num_kv_heads",
                builder.getI64IntegerAttr(keyType.getDimSize(1)));
  step->setAttr("head_dim", builder.getI64IntegerAttr(queryType.getDimSize(2)));
  if (!norms.empty())
    step->setAttr("epsilon", norms.front().getEpsilonAttr());
  return success();
}

/// cached_attention, the reshape of its heads into token rows and their
/// quantize_dynamic: (query -> codes [tokens, heads * head_dim], scales
/// [tokens, 1]) with the attention's parameters.
LogicalResult ForwardLowering::lowerAttentionQuantization(llm::FusedOp op) {
  SmallVector<llm::CachedAttentionOp> attentions =
      bodyOps<llm::CachedAttentionOp>(op);
  SmallVector<llm::QuantizeDynamicOp> dynamics =
      bodyOps<llm::QuantizeDynamicOp>(op);
  if (attentions.size() != 1 || dynamics.size() != 1 || op.getNumResults() != 2)
    return op.emitError("a cached_attention_quantize_dynamic group holds one "
                        "llm.cached_attention whose reshaped rows one "
                        "llm.quantize_dynamic quantizes, and yields its codes "
                        "and scales");
  llm::CachedAttentionOp attention = attentions.front();
  FailureOr<Value> query = lookupGroupInput(op, attention.getQuery());
  FailureOr<SmallVector<Value>> outputs = createGroupResults(op);
  if (failed(query) || failed(outputs))
    return failure();
  auto step = plan::ComputeOp::create(builder, op.getLoc(),
                                      "cached_attention_quantize_dynamic",
                                      ValueRange{*query}, *outputs);
  ++stepCount;
  return setParameters(attention, step);
}

/// The `elementwise` program: one instruction per body op,
/// `t<j>:<type>=<op>(<operands>)` with operands `i<n>` (step input n) or
/// `t<j>` (an earlier result) and a trailing constant for `scale`. Each
/// result is rounded to its type, as the unfused steps store it.
LogicalResult ForwardLowering::lowerElementwise(llm::FusedOp op) {
  Block &body = op.getBody().front();
  llvm::DenseMap<Value, std::string> names;
  SmallVector<Value> inputs;
  for (auto [index, argument] : llvm::enumerate(body.getArguments())) {
    FailureOr<Value> buffer = lookup(op, op.getInputs()[index]);
    if (failed(buffer))
      return failure();
    inputs.push_back(*buffer);
    names[argument] = ("i" + Twine(index)).str();
  }
  std::string program;
  int64_t next = 0;
  for (Operation &inner : body.without_terminator()) {
    std::string name;
    SmallVector<std::string> extra;
    if (isa<llm::AddOp>(inner))
      name = "add";
    else if (isa<llm::MulOp>(inner))
      name = "mul";
    else if (isa<llm::SiluOp>(inner))
      name = "silu";
    else if (auto gelu = dyn_cast<llm::GeluOp>(inner))
      name = gelu.getApproximation() == llm::GeluApproximation::Tanh
                 ? "gelu_tanh"
                 : "gelu";
    else if (auto scale = dyn_cast<llm::ScaleOp>(inner)) {
      name = "scale";
      extra.push_back(
          llvm::formatv("{0:e16}", scale.getFactor().convertToDouble()));
    } else if (isa<arith::ExtFOp, arith::TruncFOp>(inner))
      name = "convert";
    else
      return inner.emitError("an elementwise group cannot hold '")
             << inner.getName() << "'";
    SmallVector<std::string> operands;
    for (Value operand : inner.getOperands())
      operands.push_back(names.lookup(operand));
    llvm::append_range(operands, extra);
    std::string result = ("t" + Twine(next++)).str();
    std::string type;
    llvm::raw_string_ostream os(type);
    cast<RankedTensorType>(inner.getResult(0).getType())
        .getElementType()
        .print(os);
    names[inner.getResult(0)] = result;
    if (!program.empty())
      program += ";";
    program += result + ":" + type + "=" + name + "(" +
               llvm::join(operands, ",") + ")";
  }
  auto yield = cast<llm::YieldOp>(body.getTerminator());
  if (yield.getValues().size() != 1 || body.without_terminator().empty() ||
      yield.getValues()[0] != std::prev(body.end(), 2)->getResult(0))
    return op.emitError("an elementwise group yields its last op's result");
  FailureOr<SmallVector<Value>> outputs = createGroupResults(op);
  if (failed(outputs))
    return failure();
  auto step = plan::ComputeOp::create(builder, op.getLoc(), "elementwise",
                                      inputs, *outputs);
  step->setAttr("program", builder.getStringAttr(program));
  ++stepCount;
  return success();
}

/// A split on its own copies each part out of the packed rows.
LogicalResult ForwardLowering::lowerSplit(llm::SplitOp op) {
  FailureOr<plan::ComputeOp> step =
      lowerToCompute(op, "split", op->getOperands());
  return success(succeeded(step));
}

LogicalResult ForwardLowering::run() {
  if (!forward.getBody().hasOneBlock())
    return forward.emitError("@forward must have a single block, got ")
           << forward.getBody().getBlocks().size();
  if (failed(lowerArguments()))
    return failure();
  forward.walk([&](llm::DequantizeOp op) {
    if (isWeightOnlyDequantize(op))
      fusedDequantizes.insert(op);
  });
  for (Operation &op : forward.getBody().front())
    if (failed(lowerOp(&op)))
      return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

struct LowerToPlanPass : llmc::impl::LowerToPlanPassBase<LowerToPlanPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (maxTokens <= 0) {
      module.emitError("max-tokens must be positive, got ")
          << static_cast<int64_t>(maxTokens);
      return signalPassFailure();
    }
    if (rank < 0) {
      module.emitError("rank must be non-negative, got ")
          << static_cast<int64_t>(rank);
      return signalPassFailure();
    }
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward) {
      module.emitError("llm-lower-to-plan needs a func.func @forward to "
                       "lower; the module has none");
      return signalPassFailure();
    }

    // Each is declared at the top of the module: weights first, so that
    // the activations end up above them.
    bool createdActivations, createdWeights;
    FailureOr<plan::ArenaOp> weights =
        getOrCreateArena(module, kWeightsArena, plan::ArenaKind::Weights,
                         kWeightAlignment, createdWeights);
    FailureOr<plan::ArenaOp> activations = getOrCreateArena(
        module, kActivationsArena, plan::ArenaKind::Activations,
        kActivationAlignment, createdActivations);
    if (failed(activations) || failed(weights))
      return signalPassFailure();

    OpBuilder builder(forward);
    auto rankOp = plan::RankOp::create(builder, forward.getLoc(),
                                       builder.getI64IntegerAttr(rank));
    rankOp.getBody().emplaceBlock();

    ForwardLowering lowering(forward, rankOp, maxTokens, backend, sm);
    if (failed(lowering.run()))
      return signalPassFailure();
    forward.erase();

    // An arena cannot be empty: drop one this lowering declared and did not
    // use (a model without weights, say).
    auto finishArena = [](plan::ArenaOp arena, bool created, int64_t bytes) {
      if (created && bytes == 0) {
        arena.erase();
        return;
      }
      arena.setSize(std::max<int64_t>(arena.getSizeAttr().getInt(), bytes));
    };
    int64_t weightArenaBytes =
        llvm::alignTo(lowering.weightBytes, kWeightAlignment);
    finishArena(*activations, createdActivations, lowering.activationBytes);
    finishArena(*weights, createdWeights, weightArenaBytes);
    numSteps += lowering.stepCount;
    numWeights += lowering.weightCount;
    weightBytes += weightArenaBytes;
  }
};

} // namespace
