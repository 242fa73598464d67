//===- Stats.h - kernel launches and bytes moved per decode token ---------===//
//
// What `llmc compile --stats` prints: a lowered plan's kernel launches per
// decoder layer and the bytes one decode token moves, before and after
// llm-fuse. Every plan.gemm, plan.compute and plan.collective is one launch.
// A step belongs to the decoder layer whose weights it reads
// (`...layers.<i>....`) or whose KV cache it touches (`layer`); a step with
// neither belongs to the layer of the step before it, so the activations
// and the attention of a layer count with it, and the embedding, final norm
// and LM head with none.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_DRIVER_STATS_H
#define LLMC_COMPILER_DRIVER_STATS_H

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <string>

namespace llmc {

struct PlanStats {
  /// Decoder layers found and the launches most of them take.
  int64_t numLayers = 0;
  int64_t launchesPerLayer = 0;
  int64_t totalLaunches = 0;
  /// Bytes one decode token moves (a batch of one token): every step's
  /// weights read in full (an embedding reads its one row), its activation
  /// buffers read and written at one token row, and the KV cache written
  /// for the token and read at a context of one token.
  int64_t weightBytes = 0;
  int64_t activationBytes = 0;
  int64_t kvCacheBytes = 0;
  /// What each further token of context adds (its K and V, every layer).
  int64_t kvBytesPerContextToken = 0;

  int64_t bytesPerDecodeToken() const {
    return weightBytes + activationBytes + kvCacheBytes;
  }
};

/// The statistics of a plan module (the output of llm-lower-to-plan, rank
/// 0).
PlanStats computePlanStats(mlir::ModuleOp plan);

/// The `--stats` report, two lines:
///   launches per decoder layer: 16 -> 8
///   bytes moved per decode token: B -> A (...)
std::string formatFusionStats(const PlanStats &before, const PlanStats &after);

} // namespace llmc

#endif // LLMC_COMPILER_DRIVER_STATS_H
