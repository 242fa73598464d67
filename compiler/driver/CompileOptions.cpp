//===- CompileOptions.cpp - parses and validates `llmc compile` arguments -===//
//
// A hand-written parser rather than llvm::cl: llvm::cl keeps global state and
// exits the process on errors, and this library must return every error as a
// Status with the exact message the lit tests pin.
//
//===----------------------------------------------------------------------===//

#include "compiler/driver/CompileOptions.h"

#include <cstddef>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace llmc {

namespace {

/// The command line as written, before any of it is checked against the
/// target table.
struct RawCompileArguments {
  std::optional<std::string> target;
  std::optional<std::string> quant;
  std::optional<std::string> output;
  std::optional<std::string> emit;
  std::optional<std::string> maxTokens;
  std::optional<std::string> maxSeqLen;
  std::optional<std::string> maxBatch;
  std::optional<std::string> jobs;
  std::optional<std::string> kvCache;
  std::optional<std::string> activationScales;
  std::optional<std::string> keepFp;
  std::optional<std::string> calib;
  std::optional<std::string> calibCache;
  std::optional<std::string> smoothAlpha;
  std::optional<std::string> groupSize;
  std::vector<std::string> models;
  bool noSmooth = false;
  bool asymmetric = false;
  bool gptq = false;
  bool syntheticWeights = false;
  bool noFuse = false;
  bool stats = false;
  bool verbose = false;
  bool help = false;
};

/// If `arg` is `--name=value` or `--name` followed by a value, stores the value
/// and returns true. `index` is advanced past a separate value.
bool takeOptionValue(const std::vector<std::string> &args, std::size_t &index,
                     std::string_view name, std::optional<std::string> &value,
                     Status &status) {
  std::string_view arg = args[index];
  if (arg.substr(0, name.size()) != name)
    return false;
  std::string_view rest = arg.substr(name.size());
  if (!rest.empty() && rest.front() == '=') {
    value = std::string(rest.substr(1));
  } else if (rest.empty()) {
    if (index + 1 >= args.size()) {
      status = Status::usageError(std::string(name) + " needs a value");
      return true;
    }
    value = args[++index];
  } else {
    // A longer option that merely starts with `name` ("--targets").
    return false;
  }
  if (value->empty())
    status = Status::usageError(std::string(name) + " needs a value");
  return true;
}

Status scanArguments(const std::vector<std::string> &args,
                     RawCompileArguments &raw) {
  bool optionsEnded = false;
  for (std::size_t index = 0; index < args.size(); ++index) {
    const std::string &arg = args[index];
    // "-" alone is a file name by convention, and everything after "--" is.
    if (optionsEnded || arg.size() < 2 || arg.front() != '-') {
      raw.models.push_back(arg);
      continue;
    }
    if (arg == "--") {
      optionsEnded = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      raw.help = true;
      continue;
    }
    if (arg == "-v" || arg == "--verbose") {
      raw.verbose = true;
      continue;
    }
    if (arg == "--synthetic-weights") {
      raw.syntheticWeights = true;
      continue;
    }
    if (arg == "--no-fuse") {
      raw.noFuse = true;
      continue;
    }
    if (arg == "--stats") {
      raw.stats = true;
      continue;
    }
    if (arg == "--no-smooth") {
      raw.noSmooth = true;
      continue;
    }
    if (arg == "--asym") {
      raw.asymmetric = true;
      continue;
    }
    if (arg == "--gptq") {
      raw.gptq = true;
      continue;
    }
    Status status;
    if (takeOptionValue(args, index, "--max-tokens", raw.maxTokens, status) ||
        takeOptionValue(args, index, "--max-seq-len", raw.maxSeqLen, status) ||
        takeOptionValue(args, index, "--max-batch", raw.maxBatch, status) ||
        takeOptionValue(args, index, "--jobs", raw.jobs, status) ||
        takeOptionValue(args, index, "--target", raw.target, status) ||
        takeOptionValue(args, index, "--quant", raw.quant, status) ||
        takeOptionValue(args, index, "--kv-cache", raw.kvCache, status) ||
        takeOptionValue(args, index, "--act-scales", raw.activationScales,
                        status) ||
        takeOptionValue(args, index, "--keep-fp", raw.keepFp, status) ||
        takeOptionValue(args, index, "--calib-cache", raw.calibCache, status) ||
        takeOptionValue(args, index, "--calib", raw.calib, status) ||
        takeOptionValue(args, index, "--smooth-alpha", raw.smoothAlpha,
                        status) ||
        takeOptionValue(args, index, "--group-size", raw.groupSize, status) ||
        takeOptionValue(args, index, "--emit", raw.emit, status) ||
        takeOptionValue(args, index, "--output", raw.output, status) ||
        takeOptionValue(args, index, "-o", raw.output, status)) {
      if (!status.ok())
        return status;
      continue;
    }
    // "-oOUT", the form compilers accept without a separator.
    if (arg.compare(0, 2, "-o") == 0 && arg.size() > 2 && arg[2] != '-') {
      raw.output = arg.substr(2);
      continue;
    }
    return Status::usageError("unknown option '" + arg +
                              "'; see 'llmc compile --help'");
  }
  if (raw.models.size() > 1)
    return Status::usageError("expected one model, got '" + raw.models[0] +
                              "' and '" + raw.models[1] + "'");
  return Status::success();
}

/// A positive integer option, at most `limit`.
Status parsePositive(const std::optional<std::string> &text,
                     std::string_view name, int64_t limit, int64_t &value) {
  if (!text)
    return Status::success();
  int64_t parsed = 0;
  bool valid = !text->empty() && text->size() <= 12;
  for (char c : *text)
    valid = valid && c >= '0' && c <= '9';
  if (valid)
    parsed = std::stoll(*text);
  if (!valid || parsed <= 0 || parsed > limit)
    return Status::usageError(std::string(name) +
                              " must be an integer in [1, " +
                              std::to_string(limit) + "], got '" + *text + "'");
  value = parsed;
  return Status::success();
}

/// --kv-cache, --act-scales, --keep-fp, --calib, --calib-cache,
/// --smooth-alpha, --no-smooth, --group-size and --asym, each checked against
/// the mode and target it applies to. `options.quant` and `options.target`
/// are set.
Status parseQuantizationOptions(const RawCompileArguments &raw,
                                CompileOptions &options) {
  const Target &target = *options.target;
  const QuantMode mode = options.quant;
  const std::string modeName(quantModeName(mode));
  if (raw.kvCache) {
    const std::string &kv = *raw.kvCache;
    if (kv == "none")
      options.kvCache = KVCacheMode::None;
    else if (kv == "fp8")
      options.kvCache = KVCacheMode::Fp8;
    else if (kv == "int8")
      options.kvCache = KVCacheMode::Int8;
    else if (kv == "auto")
      // FP8 where the chip converts to it natively, else INT8.
      options.kvCache = target.fp8 == UnitSupport::Native ? KVCacheMode::Fp8
                                                          : KVCacheMode::Int8;
    else
      return Status::usageError("unknown --kv-cache '" + kv +
                                "'; expected none, fp8, int8 or auto");
    if (options.kvCache == KVCacheMode::Fp8 &&
        target.fp8 == UnitSupport::Absent)
      return Status::usageError(target.describe() +
                                " has no FP8 conversions for an fp8 KV cache; "
                                "use --kv-cache=int8");
  }

  const bool weightAndActivation =
      mode == QuantMode::Int8 || mode == QuantMode::Fp8;
  const bool weightOnly = mode == QuantMode::W8A16 || mode == QuantMode::W4A16;
  if (raw.calib)
    options.calibrationTextPath = *raw.calib;
  if (raw.calibCache)
    options.calibrationCachePath = *raw.calibCache;
  const bool calibrated = raw.calib || raw.calibCache;
  if (raw.activationScales) {
    if (*raw.activationScales == "static")
      options.activationScales = ActivationScales::Static;
    else if (*raw.activationScales == "dynamic")
      options.activationScales = ActivationScales::Dynamic;
    else
      return Status::usageError("unknown --act-scales '" +
                                *raw.activationScales +
                                "'; expected static or dynamic");
    if (mode != QuantMode::Fp8)
      return Status::usageError(
          "--act-scales applies to --quant=fp8; --quant=" + modeName +
          (mode == QuantMode::Int8 ? " scales activations per token"
                                   : " does not quantize activations"));
  } else if (mode == QuantMode::Fp8 && calibrated) {
    options.activationScales = ActivationScales::Static;
  }
  if (options.activationScales == ActivationScales::Static && !calibrated)
    return Status::usageError("--act-scales=static needs calibration data: "
                              "pass --calib FILE.txt (or --calib-cache FILE "
                              "written by an earlier --calib run)");
  // SmoothQuant (norms, and down_proj/o_proj from up_proj/v_proj) when
  // calibrated: for W8A8 because its activation scales suffer from outlier
  // channels, for weight-only as AWQ-style activation-aware weight scaling.
  const bool smoothing = (weightAndActivation || weightOnly) && !raw.noSmooth;
  if (calibrated &&
      !(options.activationScales == ActivationScales::Static || smoothing ||
        raw.gptq))
    return Status::usageError(
        "--calib is used for --quant=fp8 static scales, SmoothQuant and "
        "--gptq (int8, fp8, w8a16, w4a16); --quant=" +
        modeName +
        (weightAndActivation || weightOnly ? " with --no-smooth" : "") +
        " has no use for it");
  // SmoothQuant needs activation maxima; without them the modes run
  // unsmoothed.
  options.smooth = smoothing && calibrated;
  if ((raw.smoothAlpha || raw.noSmooth) && !weightAndActivation && !weightOnly)
    return Status::usageError(
        std::string(raw.noSmooth ? "--no-smooth" : "--smooth-alpha") +
        " applies to --quant=int8, fp8, w8a16 and w4a16 (SmoothQuant), not "
        "--quant=" +
        modeName);
  if (raw.smoothAlpha) {
    char *end = nullptr;
    double alpha = std::strtod(raw.smoothAlpha->c_str(), &end);
    if (end == raw.smoothAlpha->c_str() || *end != '\0' || !(alpha >= 0) ||
        !(alpha <= 1))
      return Status::usageError("--smooth-alpha must be a number in [0, 1], "
                                "got '" +
                                *raw.smoothAlpha + "'");
    if (!calibrated)
      return Status::usageError("--smooth-alpha needs calibration data: pass "
                                "--calib FILE.txt");
    options.smoothAlpha = alpha;
  }
  if ((raw.groupSize || raw.asymmetric) && !weightOnly)
    return Status::usageError(
        std::string(raw.asymmetric ? "--asym" : "--group-size") +
        " applies to the weight-only modes w8a16 and w4a16, not --quant=" +
        modeName);
  if (Status status = parsePositive(raw.groupSize, "--group-size",
                                    int64_t(1) << 20, options.groupSize);
      !status.ok())
    return status;
  if (raw.groupSize && options.groupSize % 2 != 0)
    return Status::usageError("--group-size must be even (INT4 packs two "
                              "values per byte), got " +
                              *raw.groupSize);
  options.asymmetric = raw.asymmetric;
  if (raw.gptq && !(weightAndActivation || weightOnly))
    return Status::usageError("--gptq rounds quantized weights: it applies to "
                              "--quant=fp8, int8, w8a16 and w4a16, not --quant=" +
                              modeName);
  if (raw.gptq && !calibrated)
    return Status::usageError("--gptq needs calibration data: pass --calib "
                              "FILE.txt (its Gram matrices are measured "
                              "there)");
  options.gptq = raw.gptq;
  if (raw.keepFp) {
    if (!weightAndActivation && !weightOnly)
      return Status::usageError("--keep-fp applies to quantized modes; "
                                "--quant=" +
                                modeName + " quantizes nothing");
    std::string list = *raw.keepFp;
    if (list != "none") {
      std::size_t begin = 0;
      while (begin <= list.size()) {
        std::size_t comma = list.find(',', begin);
        std::string name =
            list.substr(begin, comma == std::string::npos ? std::string::npos
                                                          : comma - begin);
        if (name.empty())
          return Status::usageError("--keep-fp has an empty name in '" + list +
                                    "'; pass comma-separated weight names");
        options.keepFullPrecision.push_back(name);
        if (comma == std::string::npos)
          break;
        begin = comma + 1;
      }
    }
    options.keepFullPrecisionGiven = true;
  }
  return Status::success();
}

} // namespace

std::string_view kvCacheModeName(KVCacheMode mode) {
  switch (mode) {
  case KVCacheMode::None:
    return "none";
  case KVCacheMode::Fp8:
    return "fp8";
  case KVCacheMode::Int8:
    return "int8";
  }
  return "none";
}

std::string compileUsage() {
  return "usage: llmc compile MODEL --target=TARGET [--quant=MODE] -o OUT "
         "[--kv-cache=KIND] [--calib=FILE] [--calib-cache=FILE] "
         "[--emit=artifact|plan|mlir|cuda|ptx] [--max-tokens=N] "
         "[--max-seq-len=N] "
         "[--max-batch=N] [--jobs=N] [--synthetic-weights] [--no-fuse] "
         "[--stats] [--verbose]\n"
         "\n"
         "  MODEL           a Hugging Face model directory, .gguf, .onnx or "
         "an llm-dialect .mlir file\n"
         "  --target=TARGET the GPU (or cpu) to compile for; 'llmc targets' "
         "lists them\n"
         "  --quant=MODE    " +
         knownQuantModeNames() +
         "; defaults to the target's fastest native mode\n"
         "  --kv-cache=KIND none (default), fp8, int8, or auto (fp8 where the "
         "chip has it, else int8)\n"
         "  --calib=FILE    a text run through the model to record "
         "activation maxima (fp8 static\n"
         "                  scales, SmoothQuant of int8/fp8/w8a16/w4a16)\n"
         "  --calib-cache=FILE\n"
         "                  stores those maxima; reused when the model and "
         "text match\n"
         "  --act-scales=S  fp8 activation scales: static (default with "
         "--calib) or dynamic (per token)\n"
         "  --smooth-alpha=A\n"
         "                  SmoothQuant migration strength for "
         "int8/fp8/w8a16/w4a16 with --calib (default\n"
         "                  0.5); --no-smooth: none\n"
         "  --group-size=N  w8a16/w4a16 elements per scale (default 128); "
         "--asym: with zero points\n"
         "  --gptq          round weights with GPTQ against the --calib "
         "text's input statistics\n"
         "                  instead of to nearest\n"
         "  --keep-fp=NAMES weights (comma-separated name parts) kept in "
         "high precision;\n"
         "                  default: embeddings and the LM head; 'none' "
         "quantizes all linears\n"
         "  -o OUT          the artifact to write ('-' for standard output)\n"
         "  --emit=KIND     artifact (default); plan: the plan-dialect module "
         "after memory planning; mlir: the llm-dialect module after cleanups "
         "and fusion;\n"
         "                  cuda, ptx: one file per generated GPU kernel, into "
         "the directory -o names\n"
         "  --max-tokens=N  the most tokens one forward call carries; the "
         "plan's buffers are sized for it (default 512)\n"
         "  --max-seq-len=N the longest sequence the runtime's KV cache "
         "holds (recorded in the artifact)\n"
         "  --max-batch=N   the most sequences batched at once (recorded in "
         "the artifact)\n"
         "  --jobs=N        GPU kernels compiled in parallel (default: one per "
         "hardware thread)\n"
         "  --synthetic-weights\n"
         "                  store a seed per tensor instead of its bytes; the "
         "runtime generates\n"
         "                  deterministic values at load (benchmarks, a "
         "config.json-only model)\n"
         "  --no-fuse       keep one kernel per op (no llm-fuse)\n"
         "  --stats         print kernel launches per decoder layer and bytes "
         "per decode token, before -> after fusion\n"
         "  --verbose, -v   print the chosen target and mode to standard "
         "error\n";
}

Status parseCompileOptions(const std::vector<std::string> &args,
                           CompileOptions &options) {
  RawCompileArguments raw;
  if (Status status = scanArguments(args, raw); !status.ok())
    return status;
  options = CompileOptions();
  options.verbose = raw.verbose;
  if (raw.help) {
    options.helpRequested = true;
    return Status::success();
  }

  // Target and precision first: they decide whether there is anything to
  // compile at all, and checking them must not depend on the model.
  if (!raw.target)
    return Status::usageError("missing --target; known targets: " +
                              knownTargetNames());
  options.target = lookupTarget(*raw.target);
  if (!options.target)
    return Status::usageError("unknown target '" + *raw.target +
                              "'; known targets: " + knownTargetNames());
  if (TargetCheck supported = checkTargetSupported(*options.target);
      !supported.ok())
    return Status::usageError(supported.errorMessage);

  if (raw.quant) {
    if (!parseQuantMode(*raw.quant, options.quant))
      return Status::usageError("unknown --quant '" + *raw.quant +
                                "'; modes: " + knownQuantModeNames());
  } else {
    options.quant = options.target->defaultQuant;
    options.quantIsTargetDefault = true;
  }
  if (TargetCheck pair = checkTargetQuant(*options.target, options.quant);
      !pair.ok())
    return Status::usageError(pair.errorMessage);

  if (Status status = parseQuantizationOptions(raw, options); !status.ok())
    return status;

  if (raw.emit) {
    if (*raw.emit == "artifact")
      options.emit = EmitKind::Artifact;
    else if (*raw.emit == "mlir")
      options.emit = EmitKind::Mlir;
    else if (*raw.emit == "plan")
      options.emit = EmitKind::Plan;
    else if (*raw.emit == "cuda")
      options.emit = EmitKind::Cuda;
    else if (*raw.emit == "ptx")
      options.emit = EmitKind::Ptx;
    else
      return Status::usageError("unknown --emit '" + *raw.emit +
                                "'; expected artifact, plan, mlir, cuda or "
                                "ptx");
    if ((options.emit == EmitKind::Cuda || options.emit == EmitKind::Ptx) &&
        !options.target->isGpu())
      return Status::usageError("--emit=" + *raw.emit + " writes GPU kernels; " +
                                options.target->describe() +
                                " runs none (pick a GPU --target)");
  }
  if (Status status = parsePositive(raw.maxTokens, "--max-tokens",
                                    int64_t(1) << 20, options.maxTokens);
      !status.ok())
    return status;
  if (Status status = parsePositive(raw.maxSeqLen, "--max-seq-len",
                                    int64_t(1) << 24, options.maxSeqLen);
      !status.ok())
    return status;
  if (Status status = parsePositive(raw.maxBatch, "--max-batch",
                                    int64_t(1) << 20, options.maxBatch);
      !status.ok())
    return status;
  if (Status status =
          parsePositive(raw.jobs, "--jobs", int64_t(1) << 10, options.jobs);
      !status.ok())
    return status;
  options.syntheticWeights = raw.syntheticWeights;
  options.fuse = !raw.noFuse;
  options.stats = raw.stats;

  if (raw.models.empty())
    return Status::usageError("missing MODEL: pass a Hugging Face model "
                              "directory, .gguf, .onnx or .mlir file");
  options.modelPath = raw.models.front();
  if (!raw.output)
    return Status::usageError(
        "missing -o OUT: say where to write the result ('-' for standard "
        "output)");
  options.outputPath = *raw.output;
  return Status::success();
}

} // namespace llmc
