//===- CompileOptions.h - the parsed and validated `llmc compile` command -===//

#ifndef LLMC_COMPILER_DRIVER_COMPILEOPTIONS_H
#define LLMC_COMPILER_DRIVER_COMPILEOPTIONS_H

#include "compiler/targets/Target.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmc {

/// Outcomes of the driver, numbered as the process exit codes `llmc` returns
/// for them, so tools can return the code as is.
enum class StatusCode {
  Ok = 0,
  /// The model could not be read or compiled, or the output not written.
  Failure = 1,
  /// The command line is malformed or asks for something the target cannot
  /// do; nothing was read.
  UsageError = 2,
};

/// A result with a message a user can act on. The message has no "error: "
/// prefix; whoever prints it adds one.
struct [[nodiscard]] Status {
  StatusCode code = StatusCode::Ok;
  std::string message;

  static Status success() { return {}; }
  static Status usageError(std::string message) {
    return {StatusCode::UsageError, std::move(message)};
  }
  static Status failure(std::string message) {
    return {StatusCode::Failure, std::move(message)};
  }
  bool ok() const { return code == StatusCode::Ok; }
  int exitCode() const { return static_cast<int>(code); }
};

/// What `llmc compile` writes.
enum class EmitKind {
  /// A deployable `.llmc` artifact (the default).
  Artifact,
  /// The llm-dialect module after the compiler's cleanups and fusion, as
  /// text.
  Mlir,
  /// The plan-dialect module after lowering and memory planning, as text.
  Plan,
  /// One CUDA C++ file per generated kernel of the plan, into a directory.
  Cuda,
  /// The same kernels compiled by NVRTC to PTX for the target.
  Ptx,
};

/// How the KV cache stores keys and values (`--kv-cache`).
enum class KVCacheMode {
  /// In the activations' type: no quantization.
  None,
  Fp8,
  Int8,
};

/// "none", "fp8", "int8": the spelling of --kv-cache and of llm-quantize's
/// kv-cache option.
std::string_view kvCacheModeName(KVCacheMode mode);

/// Where the activation scales of W8A8 GEMMs come from (`--act-scales`).
enum class ActivationScales {
  /// Per token, computed at run time from each row's maximum.
  Dynamic,
  /// Per tensor, fixed at compile time from calibration maxima.
  Static,
};

struct CompileOptions {
  /// The model as given: a Hugging Face directory, .gguf, .onnx or .mlir.
  std::string modelPath;
  /// Points into `allTargets()`, which lives as long as the program.
  const Target *target = nullptr;
  QuantMode quant = QuantMode::Int8;
  /// True when `--quant` was not given and `quant` is the target's default.
  bool quantIsTargetDefault = false;
  KVCacheMode kvCache = KVCacheMode::None;
  /// fp8 defaults to static scales when calibration data is given, int8 is
  /// always dynamic (per token, as SmoothQuant's W8A8).
  ActivationScales activationScales = ActivationScales::Dynamic;
  /// Weight names (substrings) that stay in high precision; empty: the
  /// passes' default (embeddings and the LM head).
  std::vector<std::string> keepFullPrecision;
  /// `--keep-fp` was given (`--keep-fp=none` keeps nothing).
  bool keepFullPrecisionGiven = false;
  /// `--calib`: a text file run through the model to record activation
  /// maxima; `--calib-cache`: where those maxima are stored and reused.
  std::string calibrationTextPath;
  std::string calibrationCachePath;
  /// SmoothQuant's migration strength for --quant=int8 and fp8 when
  /// calibrated; `smooth` false with --no-smooth or without calibration.
  bool smooth = true;
  double smoothAlpha = 0.5;
  /// Weight-only modes: elements per scale along a row, and zero points.
  int64_t groupSize = 128;
  bool asymmetric = false;
  /// `--gptq`: GPTQ rounding of quantized weights; calibration also measures
  /// the Gram matrices of the linears' inputs.
  bool gptq = false;
  /// Where the result goes; "-" is standard output.
  std::string outputPath;
  EmitKind emit = EmitKind::Artifact;
  /// The most tokens one forward call carries: the plan's buffers are sized
  /// for it.
  int64_t maxTokens = 512;
  /// The longest sequence and the most sequences the runtime's KV cache is
  /// sized for; 0 when not given (the artifact then records the model's
  /// context length and one sequence).
  int64_t maxSeqLen = 0;
  int64_t maxBatch = 0;
  /// `--jobs`: NVRTC compiles of GPU kernels in parallel; 0: one per
  /// hardware thread.
  int64_t jobs = 0;
  /// Store a seed per tensor instead of its bytes; the runtime generates
  /// deterministic values at load. The checkpoint's weights are never read
  /// (a Hugging Face directory may hold config.json alone).
  bool syntheticWeights = false;
  /// Run llm-fuse (`--no-fuse` turns it off).
  bool fuse = true;
  /// `--stats`: print launches per decoder layer and bytes per decode token
  /// before -> after fusion.
  bool stats = false;
  /// Print the chosen target and mode, and each step, to standard error.
  bool verbose = false;
  /// `--help` was given: print `compileUsage()` and do nothing else.
  bool helpRequested = false;
};

/// The usage text of `llmc compile`, for `--help` and usage errors.
std::string compileUsage();

/// Parses the arguments that follow `llmc compile` into `options`.
///
/// Target and precision are checked before anything else is (and the model
/// path is never opened here), so asking a chip for a mode it lacks fails
/// fast whatever the model is. Without `--quant` the target's default is
/// used. Every failure is a `StatusCode::UsageError`.
Status parseCompileOptions(const std::vector<std::string> &args,
                           CompileOptions &options);

} // namespace llmc

#endif // LLMC_COMPILER_DRIVER_COMPILEOPTIONS_H
