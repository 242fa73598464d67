//===- PlanOps.cpp - verifiers and canonicalizers of the plan dialect -----===//

#include "dialects/plan/PlanOps.h"

#include "dialects/common/VerifierUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallSet.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace llmc;
using namespace llmc::plan;

int64_t llmc::plan::getBufferBytes(MemRefType type) {
  int64_t bits = type.getNumElements() *
                 static_cast<int64_t>(type.getElementTypeBitWidth());
  return llvm::divideCeil(bits, 8);
}

namespace {

/// The alignment, in bytes, an element of `type` needs: its size, or one byte
/// for sub-byte types.
int64_t elementAlignmentBytes(Type elementType) {
  return std::max<int64_t>(1, elementType.getIntOrFloatBitWidth() / 8);
}

bool isFloat(Type type) {
  return type.isF32() || type.isF16() || type.isBF16();
}

bool isFloat8(Type type) { return isa<Float8E4M3FNType, Float8E5M2Type>(type); }

/// A `[x, y, z]` launch dimension: three positive sizes, each at most its
/// CUDA limit.
LogicalResult verifyLaunchDims(function_ref<InFlightDiagnostic()> emitError,
                               StringRef name, ArrayRef<int64_t> dims,
                               ArrayRef<int64_t> limits) {
  if (dims.size() != 3)
    return emitError() << name << " must have 3 dimensions [x, y, z], got "
                       << formatShape(dims);
  static constexpr StringLiteral axes[] = {"x", "y", "z"};
  for (auto [axis, dim, limit] : llvm::zip(axes, dims, limits))
    if (dim <= 0 || dim > limit)
      return emitError() << name << " " << axis << " must be in [1, " << limit
                         << "], got " << dim << " in " << formatShape(dims);
  return success();
}

/// CUDA's limits: grid x < 2^31, grid y and z <= 65535; block x and y <=
/// 1024, z <= 64, at most 1024 threads in all; no negative shared memory.
LogicalResult verifyGridAndBlock(function_ref<InFlightDiagnostic()> emitError,
                                 ArrayRef<int64_t> grid,
                                 ArrayRef<int64_t> block, int64_t sharedBytes) {
  if (failed(verifyLaunchDims(emitError, "grid", grid,
                              {(int64_t{1} << 31) - 1, 65535, 65535})) ||
      failed(verifyLaunchDims(emitError, "block", block, {1024, 1024, 64})))
    return failure();
  int64_t threads = block[0] * block[1] * block[2];
  if (threads > 1024)
    return emitError() << "block " << formatShape(block) << " has " << threads
                       << " threads; a block has at most 1024";
  if (sharedBytes < 0)
    return emitError() << "shared_bytes must be non-negative, got "
                       << sharedBytes;
  return success();
}

/// Checks that a GEMM scale operand holds 1 value or `count` values.
LogicalResult verifyGemmScale(Operation *op, StringRef name, Value scale,
                              int64_t count, StringRef what) {
  if (!scale)
    return success();
  auto type = cast<MemRefType>(scale.getType());
  int64_t values = type.getNumElements();
  if (values != 1 && values != count)
    return op->emitOpError()
           << name << " must hold 1 value (per tensor) or " << count << " ("
           << what << ") but has shape " << formatShape(type.getShape());
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// plan.arena
//===----------------------------------------------------------------------===//

LogicalResult ArenaOp::verify() {
  // I64Attr getters return uint64_t; read the attributes as signed so that a
  // negative value is reported as what the user wrote.
  int64_t size = getSizeAttr().getInt();
  int64_t alignment = getAlignmentAttr().getInt();
  if (size <= 0)
    return emitOpError("arena @")
           << getSymName() << " must have a positive size, got " << size
           << " bytes";
  if (alignment <= 0 || !llvm::isPowerOf2_64(alignment))
    return emitOpError("arena @")
           << getSymName() << " alignment must be a power of two, got "
           << alignment;
  return success();
}

//===----------------------------------------------------------------------===//
// plan.kernel
//===----------------------------------------------------------------------===//

LogicalResult KernelOp::verify() {
  StringRef entry = getEntry();
  // The runtime looks the entry up in the cubin by name (cuModuleGetFunction),
  // so it must be a plain C identifier.
  bool isIdentifier =
      !entry.empty() && !llvm::isDigit(entry.front()) &&
      llvm::all_of(entry, [](char c) { return llvm::isAlnum(c) || c == '_'; });
  if (!isIdentifier)
    return emitOpError("kernel @")
           << getSymName() << " entry must be a C identifier, got '" << entry
           << "'";
  return success();
}

//===----------------------------------------------------------------------===//
// plan.rank
//===----------------------------------------------------------------------===//

LogicalResult RankOp::verify() {
  int64_t rank = getRankAttr().getInt();
  if (rank < 0)
    return emitOpError("rank must be non-negative, got ") << rank;
  Block &body = getBody().front();
  if (body.getNumArguments() != 0)
    return emitOpError("body of rank ")
           << rank << " takes no arguments, got " << body.getNumArguments();
  for (Operation &step : body)
    if (step.getDialect() != (*this)->getDialect())
      return step.emitOpError("cannot be a step of plan.rank ")
             << rank
             << "; a rank's body holds only plan ops, so that every buffer "
                "is a plan.slice";
  // Quadratic in the number of ranks, which stays in the thousands at most.
  for (Operation *sibling = (*this)->getPrevNode(); sibling;
       sibling = sibling->getPrevNode())
    if (auto other = dyn_cast<RankOp>(sibling);
        other && other.getRankAttr().getInt() == rank)
      return emitOpError("rank ") << rank << " already has a plan";
  return success();
}

//===----------------------------------------------------------------------===//
// plan.slice
//===----------------------------------------------------------------------===//

LogicalResult SliceOp::verify() {
  MemRefType type = getType();
  int64_t offset = getOffsetAttr().getInt();
  if (offset < 0)
    return emitOpError("slice offset must be non-negative, got ") << offset;
  if (!type.getLayout().isIdentity())
    return emitOpError("slice must be a contiguous row-major buffer, got "
                       "layout ")
           << type.getLayout();
  if (type.getMemorySpace())
    return emitOpError("slice must not name a memory space (the arena says "
                       "where it lives), got ")
           << type.getMemorySpace();
  int64_t alignment = elementAlignmentBytes(type.getElementType());
  if (offset % alignment != 0)
    return emitOpError("slice offset ")
           << offset << " is not a multiple of the " << alignment
           << "-byte size of " << type.getElementType();
  if (Value base = getBase()) {
    auto baseSlice = base.getDefiningOp<SliceOp>();
    if (!baseSlice)
      return emitOpError("a view's base must be a plan.slice");
    if (baseSlice.getArenaAttr() != getArenaAttr())
      return emitOpError("view of a slice of @")
             << baseSlice.getArena() << " must be in the same arena, not @"
             << getArena();
    int64_t baseOffset = baseSlice.getOffsetAttr().getInt();
    int64_t baseEnd = baseOffset + getBufferBytes(baseSlice.getType());
    int64_t end = offset + getBufferBytes(type);
    if (offset < baseOffset || end > baseEnd)
      return emitOpError("view of bytes [")
             << offset << ", " << end << ") lies outside its base's bytes ["
             << baseOffset << ", " << baseEnd << ")";
  }
  return success();
}

SliceOp SliceOp::getRootBuffer() {
  SliceOp root = *this;
  while (Value base = root.getBase())
    root = base.getDefiningOp<SliceOp>();
  return root;
}

LogicalResult SliceOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  Operation *symbol =
      symbolTable.lookupNearestSymbolFrom(*this, getArenaAttr());
  auto arena = dyn_cast_or_null<ArenaOp>(symbol);
  if (!arena)
    return emitOpError("'@") << getArena() << "' does not name a plan.arena";
  int64_t bytes = getBufferBytes(getType());
  int64_t offset = getOffsetAttr().getInt();
  int64_t arenaBytes = arena.getSizeAttr().getInt();
  // Both are non-negative and far below 2^62 for any real arena.
  if (offset > arenaBytes || bytes > arenaBytes - offset)
    return emitOpError("slice of ")
           << bytes << " bytes at offset " << offset << " overruns arena @"
           << getArena() << " of " << arenaBytes << " bytes";
  return success();
}

//===----------------------------------------------------------------------===//
// plan.launch
//===----------------------------------------------------------------------===//

LogicalResult LaunchOp::verify() {
  return verifyGridAndBlock([&] { return emitOpError(); }, getGrid(),
                            getBlock(), getSharedBytesAttr().getInt());
}

LogicalResult LaunchOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  Operation *symbol =
      symbolTable.lookupNearestSymbolFrom(*this, getKernelAttr());
  if (!isa_and_nonnull<KernelOp>(symbol))
    return emitOpError("'@") << getKernel() << "' does not name a plan.kernel";
  return success();
}

//===----------------------------------------------------------------------===//
// plan.gemm
//===----------------------------------------------------------------------===//

LogicalResult GemmOp::verify() {
  MemRefType a = getA().getType(), b = getB().getType(), c = getC().getType();
  for (auto [name, type] :
       {std::pair<StringRef, MemRefType>{"A", a}, {"B", b}, {"C", c}})
    if (type.getRank() != 2)
      return emitOpError("expected ")
             << name << " to be a matrix but got shape "
             << formatShape(type.getShape());
  int64_t m = a.getDimSize(0), k = a.getDimSize(1);
  bool transposeB = getTransposeB();
  int64_t n = transposeB ? b.getDimSize(0) : b.getDimSize(1);
  int64_t bK = transposeB ? b.getDimSize(1) : b.getDimSize(0);
  if (bK != k)
    return emitOpError("A of shape ")
           << formatShape(a.getShape()) << " has K = " << k
           << " but B of shape " << formatShape(b.getShape())
           << " has K = " << bK
           << (transposeB ? " (B is [N, K] with transpose_b)"
                          : " (B is [K, N] without transpose_b)");
  if (c.getShape() != ArrayRef<int64_t>{m, n})
    return emitOpError("expected C of shape [M, N] = ")
           << formatShape({m, n}) << " but got " << formatShape(c.getShape());

  Type aType = a.getElementType(), bType = b.getElementType(),
       cType = c.getElementType();
  bool hasScales = getScaleA() || getScaleB();
  if (isFloat(aType) && (bType.isInteger(8) || bType.isInteger(4)))
    return verifyWeightOnly(k, n);
  if (getZeroB())
    return emitOpError("zero_b belongs to weight-only GEMMs (float A, i8 or "
                       "i4 B); ")
           << aType << " x " << bType << " takes none";
  if (isFloat(aType)) {
    if (aType != bType)
      return emitOpError("A and B element types differ: ")
             << aType << " and " << bType << "; convert one of them first";
    if (!isFloat(cType))
      return emitOpError("float inputs give an f32, f16 or bf16 result, not ")
             << cType;
    if (hasScales)
      return emitOpError("scales dequantize i8 or f8 inputs; ")
             << aType << " inputs take none";
  } else if (aType.isInteger(8)) {
    if (!bType.isInteger(8))
      return emitOpError("i8 A needs i8 B, got ") << bType;
    if (!cType.isInteger(32) && !isFloat(cType))
      return emitOpError("i8 x i8 gives i32 or f32, f16, bf16, not ") << cType;
    if (cType.isInteger(32) && hasScales)
      return emitOpError("i8 x i8 -> i32 keeps the raw accumulator; scales "
                         "need a float result");
  } else if (isFloat8(aType)) {
    if (!isFloat8(bType))
      return emitOpError("f8 A needs f8 B, got ") << bType;
    if (!isFloat(cType))
      return emitOpError("f8 x f8 gives f32, f16 or bf16, not ") << cType;
  } else {
    return emitOpError("no GEMM mode takes ")
           << aType << " x " << bType
           << "; expected f32, f16 or bf16 of one type, i8 x i8, f8 x f8, or "
              "a float A with an i8 or i4 B (weight-only)";
  }
  if (failed(verifyGemmScale(*this, "scale_a", getScaleA(), m,
                             "per row of A, M")) ||
      failed(verifyGemmScale(*this, "scale_b", getScaleB(), n,
                             "per column of C, N")))
    return failure();
  return success();
}

/// Float A x i8/i4 B: B is dequantized group-wise along K.
LogicalResult GemmOp::verifyWeightOnly(int64_t k, int64_t n) {
  Type bType = getB().getType().getElementType();
  Type cType = getC().getType().getElementType();
  if (!isFloat(cType))
    return emitOpError("weight-only GEMMs give an f32, f16 or bf16 result, "
                       "not ")
           << cType;
  if (!getTransposeB())
    return emitOpError("weight-only B (")
           << bType << ") is stored [N, K]: set transpose_b";
  if (getScaleA())
    return emitOpError("weight-only GEMMs scale B only; A is ")
           << getA().getType().getElementType() << " and takes no scale_a";
  if (!getScaleB())
    return emitOpError("weight-only B (")
           << bType << ") needs scale_b of shape [N, K / group] = [" << n
           << ", K / group]";
  MemRefType scale = getScaleB().getType();
  int64_t groups = scale.getRank() == 2 ? scale.getDimSize(1) : 0;
  if (scale.getRank() != 2 || scale.getDimSize(0) != n || groups <= 0 ||
      k % groups != 0)
    return emitOpError("weight-only scale_b must be [N, K / group] with N = ")
           << n << " and a group count dividing K = " << k << ", got "
           << formatShape(scale.getShape());
  if (bType.isInteger(4) && k % 2 != 0)
    return emitOpError("i4 B packs two columns per byte: K = ")
           << k << " must be even";
  if (Value zero = getZeroB()) {
    auto zeroType = cast<MemRefType>(zero.getType());
    if (!zeroType.getElementType().isInteger(8) ||
        zeroType.getShape() != scale.getShape())
      return emitOpError("zero_b must be i8 of scale_b's shape ")
             << formatShape(scale.getShape()) << ", got "
             << zeroType.getElementType() << " "
             << formatShape(zeroType.getShape());
  }
  return success();
}

//===----------------------------------------------------------------------===//
// plan.collective
//===----------------------------------------------------------------------===//

LogicalResult CollectiveOp::verify() {
  if (failed(verifyCollectiveGroup(*this, getGroup())))
    return failure();
  CollectiveKind kind = getKind();
  StringRef kindName = stringifyCollectiveKind(kind);
  bool isPointToPoint =
      kind == CollectiveKind::Send || kind == CollectiveKind::Recv;
  // Each kind takes exactly the parameters it uses.
  if (kind == CollectiveKind::AllReduce && !getReduction())
    return emitOpError("all_reduce needs a reduction, e.g. reduction = sum");
  if (kind != CollectiveKind::AllReduce && getReduction())
    return emitOpError("only all_reduce takes a reduction, not ") << kindName;
  if (kind == CollectiveKind::AllGather && !getAxis())
    return emitOpError("all_gather needs an axis, e.g. axis = 0");
  if (kind != CollectiveKind::AllGather && getAxis())
    return emitOpError("only all_gather takes an axis, not ") << kindName;
  if (isPointToPoint && !getPeer())
    return emitOpError() << kindName << " needs a peer, e.g. peer = 1";
  if (!isPointToPoint && getPeer())
    return emitOpError("only send and recv take a peer, not ") << kindName;
  if (isPointToPoint && getOutput())
    return emitOpError() << kindName << " takes one buffer, not an output";

  MemRefType buffer = getBuffer().getType();
  ArrayRef<int64_t> group = getGroup();
  int64_t groupSize = static_cast<int64_t>(group.size());
  std::optional<int64_t> ownRank;
  if (auto rankOp = (*this)->getParentOfType<RankOp>())
    ownRank = rankOp.getRankAttr().getInt();
  if (ownRank && !llvm::is_contained(group, *ownRank))
    return emitOpError("rank ")
           << *ownRank << " is not in group " << formatShape(group)
           << " of this " << kindName;

  switch (kind) {
  case CollectiveKind::AllReduce:
    if (getOutput() && getOutput().getType() != buffer)
      return emitOpError("all_reduce output type ")
             << getOutput().getType() << " differs from the buffer's "
             << buffer;
    return success();
  case CollectiveKind::AllGather: {
    int64_t axis = getAxisAttr().getInt();
    if (axis < 0 || axis >= buffer.getRank())
      return emitOpError("axis ")
             << axis << " is out of range for a buffer of shape "
             << formatShape(buffer.getShape());
    if (!getOutput()) {
      if (buffer.getDimSize(axis) % groupSize != 0)
        return emitOpError("in-place all_gather over ")
               << groupSize << " ranks needs dimension " << axis << " of "
               << formatShape(buffer.getShape()) << " to be a multiple of "
               << groupSize;
      return success();
    }
    MemRefType output = cast<MemRefType>(getOutput().getType());
    SmallVector<int64_t> expected(buffer.getShape());
    expected[axis] *= groupSize;
    if (output.getShape() != ArrayRef<int64_t>(expected))
      return emitOpError("expected all_gather output of shape ")
             << formatShape(expected) << " (" << groupSize
             << " parts along axis " << axis << ") but got "
             << formatShape(output.getShape());
    if (output.getElementType() != buffer.getElementType())
      return emitOpError("all_gather output element type ")
             << output.getElementType() << " differs from the buffer's "
             << buffer.getElementType();
    return success();
  }
  case CollectiveKind::Send:
  case CollectiveKind::Recv: {
    int64_t peer = getPeerAttr().getInt();
    if (groupSize < 2)
      return emitOpError() << kindName
                           << " needs a group of at least two ranks, got "
                           << formatShape(group);
    if (!llvm::is_contained(group, peer))
      return emitOpError("peer ")
             << peer << " is not in group " << formatShape(group);
    if (ownRank && peer == *ownRank)
      return emitOpError("rank ")
             << peer << " cannot " << kindName
             << (kind == CollectiveKind::Send ? " to" : " from") << " itself";
    return success();
  }
  }
  llvm_unreachable("unknown collective kind");
}

LogicalResult CollectiveOp::canonicalize(CollectiveOp op,
                                         PatternRewriter &rewriter) {
  bool combines = op.getKind() == CollectiveKind::AllReduce ||
                  op.getKind() == CollectiveKind::AllGather;
  if (!combines)
    return failure();
  // An in-place all_reduce or all_gather over one rank leaves the buffer as it
  // is. Out of place it is still a copy, so it stays.
  if (op.getGroup().size() == 1 && !op.getOutput()) {
    rewriter.eraseOp(op);
    return success();
  }
  // all_reduce %b into %b is the in-place form.
  if (op.getKind() == CollectiveKind::AllReduce &&
      op.getOutput() == op.getBuffer()) {
    rewriter.modifyOpInPlace(op, [&] { op.getOutputMutable().clear(); });
    return success();
  }
  return failure();
}

//===----------------------------------------------------------------------===//
// plan.compute
//===----------------------------------------------------------------------===//

LogicalResult ComputeOp::verify() {
  StringRef name = getName();
  bool isIdentifier =
      !name.empty() && !llvm::isDigit(name.front()) &&
      llvm::all_of(name, [](char c) { return llvm::isAlnum(c) || c == '_'; });
  if (!isIdentifier)
    return emitOpError("step name must be an identifier such as \"rms_norm\", "
                       "got '")
           << name << "'";
  if (getOutputs().empty())
    return emitOpError("step '")
           << name
           << "' writes no buffer; a destination-passing step names at least "
              "one output";
  // The artifact stores parameters as integers, floats and strings; anything
  // else would be lost on the way to the runtime.
  for (NamedAttribute attr : (*this)->getDiscardableAttrs()) {
    if (attr.getName().strref().contains('.'))
      continue;
    if (!isa<IntegerAttr, FloatAttr, StringAttr>(attr.getValue()))
      return emitOpError("parameter '")
             << attr.getName().strref()
             << "' must be an integer, float or string, got "
             << attr.getValue();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// plan.host
//===----------------------------------------------------------------------===//

LogicalResult HostOp::verify() {
  if (getName().empty())
    return emitOpError("host step needs a non-empty name, e.g. \"sample\"");
  return success();
}

//===----------------------------------------------------------------------===//
// #plan.launch and plan.launches
//===----------------------------------------------------------------------===//

LogicalResult LaunchAttr::verify(
    function_ref<InFlightDiagnostic()> emitError, FlatSymbolRefAttr kernel,
    DenseI64ArrayAttr grid, DenseI64ArrayAttr block, DenseI64ArrayAttr args,
    DenseI64ArrayAttr gridTokenScale, DenseI64ArrayAttr tokenArgs,
    ArrayAttr extraArgs, int64_t sharedBytes, int64_t scratchBytes,
    int64_t minTokens, int64_t maxTokens) {
  if (!kernel || !grid || !block || !args)
    return emitError() << "a launch needs kernel, grid, block and args";
  if (failed(verifyGridAndBlock(emitError, grid.asArrayRef(),
                                block.asArrayRef(), sharedBytes)))
    return failure();
  if (gridTokenScale) {
    ArrayRef<int64_t> scale = gridTokenScale.asArrayRef();
    if (scale.size() != 6)
      return emitError() << "grid_token_scale must be 3 pairs (n, d), got "
                         << formatShape(scale);
    // n = 0 leaves the dimension static, whatever d is.
    for (size_t i = 0; i < 6; i += 2)
      if (scale[i] < 0 || (scale[i] > 0 && scale[i + 1] <= 0))
        return emitError() << "grid_token_scale pair " << i / 2
                           << " needs n >= 0 and, when n > 0, d > 0, got "
                           << formatShape(scale);
  }
  if (tokenArgs &&
      llvm::any_of(tokenArgs.asArrayRef(), [](int64_t k) { return k <= 0; }))
    return emitError() << "token_args must be positive multipliers of T, got "
                       << formatShape(tokenArgs.asArrayRef());
  if (extraArgs)
    for (Attribute extra : extraArgs) {
      auto name = dyn_cast<StringAttr>(extra);
      if (!name ||
          !llvm::is_contained({"batch", "layer", "scratch"}, name.getValue()))
        return emitError() << "extra_args entries are \"batch\", \"layer\" "
                              "or \"scratch\", got "
                           << extra;
    }
  if (scratchBytes < 0)
    return emitError() << "scratch_bytes must be non-negative, got "
                       << scratchBytes;
  if (minTokens < 0 || maxTokens < 0 ||
      (maxTokens > 0 && minTokens > maxTokens))
    return emitError() << "token range [" << minTokens << ", " << maxTokens
                       << "] is empty or negative (max_tokens 0: unbounded)";
  return success();
}

LogicalResult PlanDialect::verifyOperationAttribute(Operation *op,
                                                    NamedAttribute attribute) {
  // Other plan.* annotations (plan.token_rows, plan.weight, ...) are checked
  // where they are used.
  if (attribute.getName() != getLaunchesAttrName())
    return success();
  if (!isa<ComputeOp, GemmOp>(op))
    return op->emitOpError("only plan.compute and plan.gemm steps carry ")
           << getLaunchesAttrName();
  auto launches = dyn_cast<ArrayAttr>(attribute.getValue());
  if (!launches || launches.empty() ||
      !llvm::all_of(launches, llvm::IsaPred<LaunchAttr>))
    return op->emitOpError() << getLaunchesAttrName()
                             << " must be a non-empty list of #plan.launch";
  int64_t operands = op->getNumOperands();
  for (auto [index, attr] : llvm::enumerate(launches)) {
    auto launch = cast<LaunchAttr>(attr);
    auto emitLaunchError = [&, index = index]() {
      return op->emitOpError("launch ") << index << ": ";
    };
    if (!isa_and_nonnull<KernelOp>(
            SymbolTable::lookupNearestSymbolFrom(op, launch.getKernel())))
      return emitLaunchError()
             << "'" << launch.getKernel() << "' does not name a plan.kernel";
    for (int64_t arg : launch.getArgs().asArrayRef())
      if (arg < 0 || arg >= operands)
        return emitLaunchError()
               << "argument " << arg << " is not an operand index of the step ("
               << operands << " operands)";
    bool passesLayer =
        launch.getExtraArgs() &&
        llvm::is_contained(launch.getExtraArgs(),
                           StringAttr::get(op->getContext(), "layer"));
    if (passesLayer && !op->getAttrOfType<IntegerAttr>("layer"))
      return emitLaunchError()
             << "passes the step's layer, but the step has no integer "
                "'layer' attribute";
  }
  return success();
}

#define GET_OP_CLASSES
#include "dialects/plan/PlanOps.cpp.inc"
