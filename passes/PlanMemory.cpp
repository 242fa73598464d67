//===- PlanMemory.cpp - plan-memory: pack activation buffers by liveness --===//

#include "dialects/plan/PlanOps.h"
#include "mlir/IR/SymbolTable.h"
#include "passes/BufferLiveness.h"
#include "passes/Passes.h"
#include "llvm/Support/MathExtras.h"

#define DEBUG_TYPE "plan-memory"

namespace llmc {
#define GEN_PASS_DEF_PLANMEMORYPASS
#include "passes/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;
using namespace llmc::plan;

namespace {

// Offsets stay multiples of 256 bytes: enough for any element type and the
// widest vector loads, and what the activations arena is aligned to.
constexpr int64_t kBufferAlignment = 256;

struct Placement {
  const BufferLiveRange *buffer;
  int64_t offset;
  int64_t end() const { return offset + buffer->bytes; }
};

/// Assigns every buffer an offset such that buffers live at the same time do
/// not share bytes: largest first, each into the smallest gap among the
/// already placed buffers it lives with that fits it (best fit), or above
/// them all. Returns the offsets in `buffers`' order.
SmallVector<int64_t> assignOffsets(ArrayRef<BufferLiveRange> buffers) {
  SmallVector<size_t> order =
      llvm::to_vector(llvm::seq<size_t>(0, buffers.size()));
  // Larger first; among equals the earlier-live first, which keeps the
  // result deterministic and the layout readable.
  llvm::stable_sort(order, [&](size_t a, size_t b) {
    if (buffers[a].bytes != buffers[b].bytes)
      return buffers[a].bytes > buffers[b].bytes;
    return buffers[a].firstStep < buffers[b].firstStep;
  });
  SmallVector<int64_t> offsets(buffers.size(), 0);
  SmallVector<Placement> placed;
  for (size_t index : order) {
    const BufferLiveRange &buffer = buffers[index];
    SmallVector<Placement> conflicts;
    for (const Placement &other : placed)
      if (buffer.livesWith(*other.buffer))
        conflicts.push_back(other);
    llvm::sort(conflicts, [](const Placement &a, const Placement &b) {
      return a.offset < b.offset;
    });
    std::optional<int64_t> bestOffset;
    int64_t bestGap = 0;
    int64_t gapBegin = 0;
    for (const Placement &other : conflicts) {
      int64_t gap = other.offset - gapBegin;
      if (gap >= buffer.bytes && (!bestOffset || gap < bestGap)) {
        bestOffset = gapBegin;
        bestGap = gap;
      }
      gapBegin = std::max(gapBegin, static_cast<int64_t>(llvm::alignTo(
                                        other.end(), kBufferAlignment)));
    }
    int64_t offset = bestOffset.value_or(gapBegin);
    offsets[index] = offset;
    placed.push_back({&buffer, offset});
  }
  return offsets;
}

struct PlanMemoryPass : llmc::impl::PlanMemoryPassBase<PlanMemoryPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<RankOp> ranks(module.getOps<RankOp>());
    for (ArenaOp arena : module.getOps<ArenaOp>()) {
      if (arena.getKind() != ArenaKind::Activations)
        continue;
      if (arena.getAlignmentAttr().getInt() < kBufferAlignment)
        arena.setAlignment(kBufferAlignment);
      int64_t peak = 0, naive = 0;
      bool sliced = false;
      for (RankOp rank : ranks) {
        SmallVector<BufferLiveRange> buffers =
            computeBufferLiveRanges(rank, arena.getSymName());
        if (buffers.empty())
          continue;
        sliced = true;
        SmallVector<int64_t> offsets = assignOffsets(buffers);
        int64_t rankPeak = 0, rankNaive = 0;
        for (auto [buffer, offset] : llvm::zip(buffers, offsets)) {
          int64_t oldOffset = buffer.root.getOffsetAttr().getInt();
          // A view keeps its place within its base.
          for (SliceOp view : buffer.views)
            view.setOffset(offset +
                           (view.getOffsetAttr().getInt() - oldOffset));
          buffer.root.setOffset(offset);
          int64_t alignedBytes = llvm::alignTo(buffer.bytes, kBufferAlignment);
          rankPeak = std::max(rankPeak, offset + alignedBytes);
          rankNaive += alignedBytes;
        }
        peak = std::max(peak, rankPeak);
        naive = std::max(naive, rankNaive);
        numBuffers += buffers.size();
        // The planner's own check: a conflict here is a bug in it.
        if (failed(verifyNoLiveOverlap(rank, arena.getSymName())))
          return signalPassFailure();
      }
      if (!sliced)
        continue;
      arena.setSize(std::max<int64_t>(peak, 1));
      if (report)
        arena.emitRemark("activations arena @")
            << arena.getSymName() << ": " << peak << " bytes at peak, " << naive
            << " bytes naive (each buffer in its own bytes)";
      peakBytes += peak;
      naiveBytes += naive;
    }
  }
};

} // namespace
