//===- VerifyPlanMemory.cpp - plan-verify-memory: no live buffers overlap -===//

#include "dialects/plan/PlanOps.h"
#include "passes/BufferLiveness.h"
#include "passes/Passes.h"

#define DEBUG_TYPE "plan-verify-memory"

namespace llmc {
#define GEN_PASS_DEF_PLANVERIFYMEMORYPASS
#include "passes/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;
using namespace llmc::plan;

namespace {

struct PlanVerifyMemoryPass
    : llmc::impl::PlanVerifyMemoryPassBase<PlanVerifyMemoryPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    bool clean = true;
    for (ArenaOp arena : module.getOps<ArenaOp>()) {
      // No step writes weights, so sharing their bytes clobbers nothing.
      if (arena.getKind() == ArenaKind::Weights)
        continue;
      for (RankOp rank : module.getOps<RankOp>())
        clean &= succeeded(verifyNoLiveOverlap(rank, arena.getSymName()));
    }
    if (!clean)
      signalPassFailure();
    markAllAnalysesPreserved();
  }
};

} // namespace
