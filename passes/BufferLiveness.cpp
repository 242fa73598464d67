//===- BufferLiveness.cpp - live ranges of a rank's buffers ---------------===//

#include "passes/BufferLiveness.h"

#include "llvm/ADT/DenseMap.h"

using namespace mlir;
using namespace llmc;
using namespace llmc::plan;

SmallVector<BufferLiveRange>
llmc::computeBufferLiveRanges(RankOp rank, StringRef arenaName) {
  SmallVector<BufferLiveRange> buffers;
  DenseMap<Operation *, size_t> indexOfRoot;
  Block &body = rank.getBody().front();
  for (auto slice : body.getOps<SliceOp>()) {
    if (slice.getArena() != arenaName)
      continue;
    SliceOp root = slice.getRootBuffer();
    auto [it, inserted] = indexOfRoot.try_emplace(root, buffers.size());
    if (inserted) {
      BufferLiveRange buffer;
      buffer.root = root;
      buffer.bytes = getBufferBytes(root.getType());
      buffers.push_back(buffer);
    }
    if (slice != root)
      buffers[it->second].views.push_back(slice);
  }

  auto touch = [&](BufferLiveRange &buffer, int64_t step) {
    if (!buffer.isLive()) {
      buffer.firstStep = buffer.lastStep = step;
      return;
    }
    buffer.firstStep = std::min(buffer.firstStep, step);
    buffer.lastStep = std::max(buffer.lastStep, step);
  };

  int64_t step = 0;
  for (Operation &op : body) {
    if (isa<SliceOp>(op))
      continue;
    for (Value operand : op.getOperands()) {
      auto slice = operand.getDefiningOp<SliceOp>();
      if (!slice || slice.getArena() != arenaName)
        continue;
      touch(buffers[indexOfRoot.lookup(slice.getRootBuffer())], step);
    }
    ++step;
  }
  int64_t stepCount = step;

  // The runtime fills inputs before the first step and reads outputs after
  // the last, whichever slice of the buffer carries the mark.
  for (BufferLiveRange &buffer : buffers) {
    auto marked = [&](StringRef mark) {
      if (buffer.root->hasAttr(mark))
        return true;
      return llvm::any_of(buffer.views,
                          [&](SliceOp view) { return view->hasAttr(mark); });
    };
    if (marked("plan.input"))
      touch(buffer, -1);
    if (marked("plan.output"))
      touch(buffer, stepCount);
  }
  return buffers;
}

LogicalResult llmc::verifyNoLiveOverlap(RankOp rank, StringRef arenaName) {
  SmallVector<BufferLiveRange> buffers =
      computeBufferLiveRanges(rank, arenaName);
  bool clean = true;
  // Quadratic, but a rank has a few thousand buffers at most.
  for (size_t i = 0; i < buffers.size(); ++i) {
    BufferLiveRange &a = buffers[i];
    int64_t aBegin = a.root.getOffsetAttr().getInt();
    int64_t aEnd = aBegin + a.bytes;
    for (size_t j = i + 1; j < buffers.size(); ++j) {
      BufferLiveRange &b = buffers[j];
      int64_t bBegin = b.root.getOffsetAttr().getInt();
      int64_t bEnd = bBegin + b.bytes;
      if (!a.livesWith(b) || aEnd <= bBegin || bEnd <= aBegin)
        continue;
      clean = false;
      // Views are the one intended way to share bytes, hence the hint.
      InFlightDiagnostic diag =
          b.root.emitError("buffer of bytes [")
          << bBegin << ", " << bEnd << ") of @" << arenaName
          << " live over steps " << b.firstStep << " to " << b.lastStep
          << " overlaps a buffer of bytes [" << aBegin << ", " << aEnd
          << ") live over steps " << a.firstStep << " to " << a.lastStep
          << "; a slice meant to share another's bytes must be a view of it";
      diag.attachNote(a.root.getLoc()) << "the other buffer";
    }
  }
  return success(clean);
}
