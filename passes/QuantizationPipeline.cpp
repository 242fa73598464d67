//===- QuantizationPipeline.cpp - the quantization passes, from options ---===//

#include "passes/QuantizationPipeline.h"

#include "passes/Passes.h"

namespace llmc {

std::optional<double> QuantizationOptions::getSmoothAlpha() const {
  if (calibFile.empty())
    return std::nullopt;
  if (smoothAlpha)
    return *smoothAlpha >= 0.0 ? smoothAlpha : std::nullopt;
  // W8A8: the per-token or per-tensor activation scales suffer from outlier
  // channels (SmolLM2's down_proj input most of all). Weight-only: the same
  // factors are AWQ's activation-aware scaling -- the weight columns that
  // meet large activations grow before rounding, so their error, which
  // those activations amplify, shrinks (SmolLM2 w8a16 KL -35 %, w4a16 asym
  // -32 %; 0.5 was the best of 0.3/0.5/0.7 for both).
  if (scheme == "int8" || scheme == "fp8" || scheme == "w8a16" ||
      scheme == "w4a16")
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
  quantize.gptq = options.gptq;
  pm.addPass(createQuantizePass(quantize));
}

} // namespace llmc
