//===- LaunchLowering.cpp - attach generated kernels' launches to steps ---===//

#include "compiler/codegen/cuda/LaunchLowering.h"
#include "dialects/plan/PlanOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;

namespace llmc::codegen::cuda {
namespace {

/// The token capacity the plan was lowered for: the length of the token-id
/// (or position) input, else the smallest leading dimension of a token-row
/// buffer.
FailureOr<int64_t> findMaxTokens(ModuleOp plan) {
  int64_t fromInputs = 0, smallestTokenRows = 0;
  plan.walk([&](plan::SliceOp slice) {
    auto type = cast<MemRefType>(slice.getType());
    if (type.getRank() == 0 || !slice->hasAttr("plan.token_rows"))
      return;
    if (auto role = slice->getAttrOfType<StringAttr>("plan.input");
        role &&
        (role.getValue() == "token_ids" || role.getValue() == "positions"))
      fromInputs = type.getShape()[0];
    if (smallestTokenRows == 0 || type.getShape()[0] < smallestTokenRows)
      smallestTokenRows = type.getShape()[0];
  });
  if (fromInputs > 0)
    return fromInputs;
  if (smallestTokenRows > 0)
    return smallestTokenRows;
  return failure();
}

bool isTokenRows(Value buffer) {
  auto slice = buffer.getDefiningOp<plan::SliceOp>();
  return slice && slice->hasAttr("plan.token_rows");
}

StringRef extraArgumentName(ExtraArgument argument) {
  switch (argument) {
  case ExtraArgument::Batch:
    return "batch";
  case ExtraArgument::Layer:
    return "layer";
  case ExtraArgument::Scratch:
    return "scratch";
  }
  return "?";
}

/// The launch of `entry` for `step`, whose operand `argumentIndices[i]` is
/// the kernel's buffer parameter i.
plan::LaunchAttr buildLaunch(OpBuilder &builder, const KernelEntry &entry,
                             ArrayRef<int64_t> argumentIndices,
                             int64_t maxTokens) {
  // A variant bounded below max-tokens (a GEMV for T <= 4) is sized for its
  // own bound.
  int64_t tokens =
      entry.maxTokens > 0 ? std::min(entry.maxTokens, maxTokens) : maxTokens;
  std::array<int64_t, 3> grid = launchGrid(entry, tokens);
  std::array<int64_t, 6> scale = gridTokenScale(entry);
  SmallVector<Attribute> extra;
  for (ExtraArgument argument : entry.extraArguments)
    extra.push_back(builder.getStringAttr(extraArgumentName(argument)));
  return plan::LaunchAttr::get(
      builder.getContext(),
      FlatSymbolRefAttr::get(builder.getStringAttr(entry.name)),
      builder.getDenseI64ArrayAttr(grid),
      builder.getDenseI64ArrayAttr({entry.blockThreads, 1, 1}),
      builder.getDenseI64ArrayAttr(argumentIndices),
      builder.getDenseI64ArrayAttr(scale),
      entry.tokenArguments.empty()
          ? DenseI64ArrayAttr()
          : builder.getDenseI64ArrayAttr(entry.tokenArguments),
      extra.empty() ? ArrayAttr() : builder.getArrayAttr(extra),
      /*shared_bytes=*/0, entry.scratchBytes, entry.minTokens, entry.maxTokens);
}

} // namespace

FailureOr<int64_t> attachLaunches(ModuleOp plan, const PlanKernels &kernels) {
  FailureOr<int64_t> maxTokens = findMaxTokens(plan);
  if (failed(maxTokens)) {
    plan.emitError("cannot tell the plan's max-tokens: no plan.token_rows "
                   "buffer");
    return failure();
  }
  OpBuilder builder(plan.getContext());
  SymbolTable symbols(plan);
  int64_t attached = 0;
  for (const PlanKernels::StepKernel &use : kernels.stepKernels) {
    // The grid rules scale with T: a step over fixed-size buffers (none
    // yet) keeps only its op until kernels take static row counts.
    if (!llvm::any_of(use.arguments, isTokenRows))
      continue;
    Operation *step = use.step;
    SmallVector<int64_t> argumentIndices;
    for (Value argument : use.arguments) {
      auto operand = llvm::find(step->getOperands(), argument);
      if (operand == step->getOperands().end())
        return step->emitOpError("kernel argument ")
               << argumentIndices.size()
               << " is not an operand of the step; a launch passes only the "
                  "step's buffers";
      argumentIndices.push_back(operand - step->getOperands().begin());
    }
    const CudaKernel &kernel = kernels.kernels[use.kernel];
    SmallVector<Attribute> launches;
    for (const KernelEntry &entry : kernel.entries) {
      // A variant for more tokens than the plan carries never runs.
      if (entry.minTokens > *maxTokens)
        continue;
      if (llvm::is_contained(entry.extraArguments, ExtraArgument::Layer) &&
          !step->getAttrOfType<IntegerAttr>("layer"))
        return step->emitOpError("kernel ")
               << entry.name
               << " takes the decoder layer, but the step has no integer "
                  "'layer' attribute";
      if (!symbols.lookup(entry.name)) {
        builder.setInsertionPoint(
            (*plan.getOps<plan::RankOp>().begin()).getOperation());
        auto declaration = plan::KernelOp::create(
            builder, step->getLoc(), builder.getStringAttr(entry.name),
            builder.getStringAttr(entry.name),
            builder.getStringAttr(kernel.kind),
            builder.getStringAttr(kernel.sourceHash));
        symbols.insert(declaration);
      }
      launches.push_back(
          buildLaunch(builder, entry, argumentIndices, *maxTokens));
    }
    if (launches.empty())
      continue;
    step->setAttr(plan::PlanDialect::getLaunchesAttrName(),
                  builder.getArrayAttr(launches));
    ++attached;
  }
  return attached;
}

} // namespace llmc::codegen::cuda
