//===- QuantizationPipeline.h - the quantization passes, from options -----===//
//
// What `llmc compile --quant/--kv-cache/--keep-fp/--calib` asks for, as one
// call that adds llm-smooth (when it applies) and llm-quantize to a pass
// manager. After the pipeline has run, `applyWeightAnnotations`
// (passes/WeightAnnotations.h) hands the recorded weight transforms to the
// WeightStore that the artifact writer streams from.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_QUANTIZATIONPIPELINE_H
#define LLMC_PASSES_QUANTIZATIONPIPELINE_H

#include "mlir/Pass/PassManager.h"

#include <optional>
#include <string>

namespace llmc {

/// The llm-quantize / llm-smooth options (Passes.td documents each).
struct QuantizationOptions {
  /// fp8 | int8 | w8a16 | w4a16 | fp16 | bf16.
  std::string scheme = "int8";
  /// per-tensor | per-channel | group; empty: the scheme's default.
  std::string weightGranularity;
  int64_t groupSize = 128;
  /// dynamic | static (W8A8 activation scales).
  std::string activations = "dynamic";
  /// false: zero points (weight-only schemes).
  bool symmetric = true;
  /// Comma-separated weight-name substrings or globs kept in high precision.
  std::string keepFp = "lm_head,embed_tokens";
  /// none | fp8 | int8.
  std::string kvCache = "none";
  /// The llmc-calibration-1 file; empty when not calibrated.
  std::string calibFile;
  /// Static activations: linears without a calibration entry go dynamic.
  bool staticFallback = false;
  /// Integer weight scales by a clipping search (llm-quantize clip-search).
  bool clipSearch = true;
  /// GPTQ rounding (llm-quantize gptq); `calibFile` must name Gram matrices.
  bool gptq = false;
  /// SmoothQuant's alpha; unset: 0.5 for int8, fp8, w8a16 and w4a16 with a
  /// calibration file (for weight-only it is AWQ-style activation-aware
  /// weight scaling), off otherwise (negative: off). Smoothing needs
  /// `calibFile`.
  std::optional<double> smoothAlpha;
  /// What llm-smooth smooths: the linears after norms (Q/K/V, gate/up), and
  /// down_proj/o_proj from up_proj/v_proj (unset: for int8, not fp8 --
  /// FP8's error is relative, so moving range between activations and
  /// weights does not help it; on SmolLM2 it doubled fp8's KL divergence).
  bool smoothNorms = true;
  std::optional<bool> smoothLinearPairs;

  /// Whether the pipeline runs llm-smooth, and with which alpha.
  std::optional<double> getSmoothAlpha() const;
};

/// Adds, to a pass manager on the module: llm-smooth (see getSmoothAlpha),
/// then llm-quantize. Options are checked when the passes run; errors name
/// the option.
void addQuantizationPasses(mlir::OpPassManager &pm,
                           const QuantizationOptions &options);

} // namespace llmc

#endif // LLMC_PASSES_QUANTIZATIONPIPELINE_H
