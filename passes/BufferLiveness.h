//===- BufferLiveness.h - live ranges of a rank's buffers -------*- C++ -*-===//
//
// Shared by plan-memory (which packs buffers by liveness) and
// plan-verify-memory (which checks that packing).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_BUFFERLIVENESS_H
#define LLMC_PASSES_BUFFERLIVENESS_H

#include "dialects/plan/PlanOps.h"
#include "llvm/ADT/SmallVector.h"

namespace llmc {

/// One buffer of an arena in one rank: a slice that is not a view, with its
/// views, and the steps between which its bytes must stay untouched.
struct BufferLiveRange {
  plan::SliceOp root;
  /// Every slice whose root is `root`, directly or through other views.
  llvm::SmallVector<plan::SliceOp> views;
  /// Inclusive step indices of the first and last step touching the buffer
  /// or a view of it; -1 is "before the first step" (inputs the runtime
  /// fills), the step count is "after the last" (outputs it reads). A buffer
  /// no step touches has first > last.
  int64_t firstStep = 0;
  int64_t lastStep = -1;
  /// The root's size; views lie within it.
  int64_t bytes = 0;

  bool isLive() const { return firstStep <= lastStep; }
  bool livesWith(const BufferLiveRange &other) const {
    return isLive() && other.isLive() && firstStep <= other.lastStep &&
           other.firstStep <= lastStep;
  }
};

/// The buffers of arena `arenaName` that `rank` slices, in the order their
/// root slices appear, with live ranges over the rank's steps (every op of
/// the body but plan.slice, in order).
llvm::SmallVector<BufferLiveRange>
computeBufferLiveRanges(plan::RankOp rank, llvm::StringRef arenaName);

/// Reports every pair of buffers of `arenaName` in `rank` that share bytes
/// while both are live, on both slices; fails when there is one.
mlir::LogicalResult verifyNoLiveOverlap(plan::RankOp rank,
                                        llvm::StringRef arenaName);

} // namespace llmc

#endif // LLMC_PASSES_BUFFERLIVENESS_H
