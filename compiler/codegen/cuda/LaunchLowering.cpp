//===- LaunchLowering.cpp - plan steps to plan.launch of generated kernels ===//

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

} // namespace

FailureOr<int64_t> replaceStepsWithLaunches(ModuleOp plan,
                                            const PlanKernels &kernels) {
  FailureOr<int64_t> maxTokens = findMaxTokens(plan);
  if (failed(maxTokens)) {
    plan.emitError("cannot tell the plan's max-tokens: no plan.token_rows "
                   "buffer");
    return failure();
  }
  OpBuilder builder(plan.getContext());
  SymbolTable symbols(plan);
  int64_t replaced = 0;
  for (const PlanKernels::StepKernel &use : kernels.stepKernels) {
    // The grid rules scale with T: a step over fixed-size buffers (none
    // yet) keeps its plan.compute until kernels take static row counts.
    if (!llvm::any_of(use.arguments, isTokenRows))
      continue;
    const CudaKernel &kernel = kernels.kernels[use.kernel];
    // plan.launch has no batch, layer or scratch operands yet: kernels that
    // take them (rope_kv_write, attention) keep their plan.compute.
    if (llvm::any_of(kernel.entries, [](const KernelEntry &entry) {
          return !entry.extraArguments.empty();
        }))
      continue;
    const KernelEntry &entry = kernel.entries.front();
    if (!symbols.lookup(entry.name)) {
      builder.setInsertionPoint(
          (*plan.getOps<plan::RankOp>().begin()).getOperation());
      auto declaration = plan::KernelOp::create(
          builder, use.step->getLoc(), builder.getStringAttr(entry.name),
          builder.getStringAttr(entry.name), builder.getStringAttr(kernel.kind),
          builder.getStringAttr(kernel.sourceHash));
      symbols.insert(declaration);
    }
    std::array<int64_t, 3> grid = launchGrid(entry, *maxTokens);
    std::array<int64_t, 6> scale = gridTokenScale(entry);
    builder.setInsertionPoint(use.step);
    auto launch = plan::LaunchOp::create(
        builder, use.step->getLoc(),
        FlatSymbolRefAttr::get(builder.getStringAttr(entry.name)),
        builder.getDenseI64ArrayAttr(grid),
        builder.getDenseI64ArrayAttr({entry.blockThreads, 1, 1}),
        builder.getI64IntegerAttr(0), use.arguments);
    launch->setAttr(kGridTokenScaleAttr, builder.getDenseI64ArrayAttr(scale));
    launch->setAttr(kTokenArgsAttr,
                    builder.getDenseI64ArrayAttr(entry.tokenArguments));
    use.step->erase();
    ++replaced;
  }
  return replaced;
}

} // namespace llmc::codegen::cuda
