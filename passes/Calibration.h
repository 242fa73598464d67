//===- Calibration.h - the calibration file of llm-quantize, llm-smooth --===//
//
// `llmc compile --calib` runs the model on the CPU backend over a text and
// writes, for every linear layer, the maxima of the activations entering it:
//
//   {"format": "llmc-calibration-1", "model": "...", "tokens": N,
//    "inputs": {"<weight name>": {"absmax": 3.5,
//                                 "channel_absmax": [0.1, 2.0, ...]}}}
//
// keyed by the linear's weight name (docs/quantization.md).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_CALIBRATION_H
#define LLMC_PASSES_CALIBRATION_H

#include "mlir/IR/Location.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace llmc {

struct CalibrationEntry {
  /// max |x| over every token and channel.
  float absMax = 0.0f;
  /// max |x_j| per input channel j (may be empty when only absmax is known).
  std::vector<float> channelAbsMax;
};

struct Calibration {
  std::string path;
  std::string model;
  /// Identifies the model files and text measured (`llmc compile
  /// --calib-cache` reuses the file only when it matches); may be empty.
  std::string key;
  int64_t tokens = 0;
  llvm::StringMap<CalibrationEntry> inputs;

  const CalibrationEntry *lookup(llvm::StringRef weight) const {
    auto it = inputs.find(weight);
    return it == inputs.end() ? nullptr : &it->second;
  }
};

/// Writes `calibration` to `path` in the format above (what `llmc compile
/// --calib` produces after running the model); inputs in name order. The
/// file is written beside `path` and renamed over it, so an interrupted
/// compile never leaves half a cache.
llvm::Error writeCalibration(llvm::StringRef path,
                             const Calibration &calibration);

/// Reads and checks the file at `path`; errors (reported at `loc`) name the
/// file and the offending key.
mlir::FailureOr<Calibration> loadCalibration(llvm::StringRef path,
                                             mlir::Location loc);

} // namespace llmc

#endif // LLMC_PASSES_CALIBRATION_H
