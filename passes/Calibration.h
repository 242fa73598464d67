//===- Calibration.h - the calibration file of llm-quantize, llm-smooth --===//
//
// `llmc compile --calib` runs the model on the CPU backend over a text and
// writes, for every linear layer, the maxima of the activations entering it:
//
//   {"format": "llmc-calibration-1", "model": "...", "tokens": N,
//    "inputs": {"<weight name>": {"absmax": 3.5,
//                                 "channel_absmax": [0.1, 2.0, ...]}}}
//
// keyed by the linear's weight name (docs/quantization.md). With `--gptq`
// it also measures E[x xᵀ] of every distinct linear input, for GPTQ's
// rounding, into a binary file beside it ("gram_file", below).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_CALIBRATION_H
#define LLMC_PASSES_CALIBRATION_H

#include "compiler/weights/Gptq.h"
#include "mlir/IR/Location.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
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
  /// The Gram matrix file (GramFile), resolved against the calibration
  /// file's folder; empty when none was measured.
  std::string gramPath;

  const CalibrationEntry *lookup(llvm::StringRef weight) const {
    auto it = inputs.find(weight);
    return it == inputs.end() ? nullptr : &it->second;
  }
};

/// E[x xᵀ] of one linear input and the weights that read it (q, k and v
/// share theirs).
struct GramEntry {
  std::vector<std::string> weights;
  int64_t channels = 0;
  /// channels x channels, row-major.
  std::vector<float> values;
};

/// The Gram matrix file, little-endian: "LLMCGRM1", u64 tokens, u32
/// entries; per entry u32 weight count, per weight u32 length and its name,
/// u32 channels, zero bytes up to a multiple of 4 from the file's start,
/// then channels² f32. Read through a mapping: entries point into it.
class GramFile : public std::enable_shared_from_this<GramFile> {
public:
  /// Checks every count and length against the file's size; errors name
  /// the file and the entry.
  static llvm::Expected<std::shared_ptr<GramFile>> open(llvm::StringRef path);
  /// Written beside `path` and renamed over it.
  static llvm::Error write(llvm::StringRef path, int64_t tokens,
                           llvm::ArrayRef<GramEntry> entries);

  /// The statistics of the input of `weight` (they keep this file
  /// mapped), or null.
  std::shared_ptr<const weights::InputGram>
  lookup(llvm::StringRef weight) const;
  int64_t getTokens() const { return tokens; }

private:
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  int64_t tokens = 0;
  llvm::StringMap<std::pair<int64_t, const float *>> byWeight;
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
