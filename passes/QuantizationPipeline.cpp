//===- QuantizationPipeline.cpp - the quantization passes, from options ---===//

#include "passes/QuantizationPipeline.h"

#include "passes/Passes.h"

namespace llmc {

std::optional<double> QuantizationOptions::getSmoothAlpha() const {
  if (calibFile.empty())
    return std::nullopt;
  if (smoothAlpha)
    return *smoothAlpha >= 0.0 ? smoothAlpha : std::nullopt;
  // Both W8A8 schemes: their per-token or per-tensor activation scales
  // suffer from outlier channels (SmolLM2's down_proj input most of all).
  if (scheme == "int8" || scheme == "fp8")
    return 0.5;
  return std::nullopt;
}

void addQuantizationPasses(mlir::OpPassManager &pm,
                           const QuantizationOptions &options) {
  if (std::optional<double> alpha = options.getSmoothAlpha()) {
    SmoothPassOptions smooth;
    smooth.alpha = *alpha;
    smooth.calibFile = options.calibFile;
    smooth.keepFp = options.keepFp;
    smooth.norms = options.smoothNorms;
    smooth.linearPairs =
        options.smoothLinearPairs.value_or(options.scheme != "fp8");
    pm.addPass(createSmoothPass(smooth));
  }
  QuantizePassOptions quantize;
  quantize.scheme = options.scheme;
  quantize.weightGranularity = options.weightGranularity;
  quantize.groupSize = options.groupSize;
  quantize.activations = options.activations;
  quantize.symmetric = options.symmetric;
  quantize.keepFp = options.keepFp;
  quantize.kvCache = options.kvCache;
  quantize.calibFile = options.calibFile;
  quantize.staticFallback = options.staticFallback;
  quantize.clipSearch = options.clipSearch;
  pm.addPass(createQuantizePass(quantize));
}

} // namespace llmc
