//===- Calibrate.h - `llmc compile --calib`: activation maxima of a text --===//
//
// Static FP8 activation scales and SmoothQuant need the largest magnitude of
// every input channel of every linear layer on representative text. The
// driver measures them the straightforward way: it compiles the model at full
// precision for the CPU, runs the CPU runtime's engine over the text and
// records the inputs of each GEMM whose right operand is a weight. The maxima
// go to a JSON file (docs/quantization.md, "Calibration file") that the
// quantization passes read, and that `--calib-cache` keeps for the next
// compile of the same model with the same text.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_DRIVER_CALIBRATE_H
#define LLMC_COMPILER_DRIVER_CALIBRATE_H

#include "compiler/driver/CompileOptions.h"

#include <string>

namespace llmc {

/// Makes `calibrationFile` hold the maxima for `options` (which asks for
/// calibration: a --calib text, a --calib-cache, or both). It is the
/// --calib-cache path when one is given (reused as is when it was measured on
/// this model and text, or when no text is given) or a temporary file the
/// caller owns.
Status calibrate(const CompileOptions &options,
                 const std::string &calibrationFile);

/// Where the Gram matrices of `--gptq` go: beside the calibration file,
/// named after it (passes/Calibration.h, GramFile).
std::string gramFileFor(const std::string &calibrationFile);

} // namespace llmc

#endif // LLMC_COMPILER_DRIVER_CALIBRATE_H
