// Unit tests of `llmc compile` argument parsing and validation
// (compiler/driver/CompileOptions) and of how the driver treats models it
// cannot read yet (compiler/driver/Compile).

#include "compiler/driver/Compile.h"
#include "compiler/driver/CompileOptions.h"

#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using llmc::CompileOptions;
using llmc::QuantMode;
using llmc::Status;
using llmc::StatusCode;

struct Parsed {
  Status status;
  CompileOptions options;
};

Parsed parse(const std::vector<std::string> &args) {
  Parsed parsed;
  parsed.status = llmc::parseCompileOptions(args, parsed.options);
  return parsed;
}

// The exit codes llmc returns are the status codes' values.
TEST(CompileOptionsTest, StatusCodesAreExitCodes) {
  EXPECT_EQ(Status::success().exitCode(), 0);
  EXPECT_EQ(Status::failure("x").exitCode(), 1);
  EXPECT_EQ(Status::usageError("x").exitCode(), 2);
}

// A full command fills every field.
TEST(CompileOptionsTest, FullCommandFillsEveryField) {
  Parsed parsed = parse({"model.mlir", "--target=h100", "--quant=int8", "-o",
                         "out.llmc", "--emit=mlir", "--verbose"});
  ASSERT_TRUE(parsed.status.ok()) << parsed.status.message;
  EXPECT_EQ(parsed.options.modelPath, "model.mlir");
  ASSERT_NE(parsed.options.target, nullptr);
  EXPECT_EQ(parsed.options.target->name, "h100");
  EXPECT_EQ(parsed.options.quant, QuantMode::Int8);
  EXPECT_FALSE(parsed.options.quantIsTargetDefault);
  EXPECT_EQ(parsed.options.outputPath, "out.llmc");
  EXPECT_EQ(parsed.options.emit, llmc::EmitKind::Mlir);
  EXPECT_TRUE(parsed.options.verbose);
  EXPECT_FALSE(parsed.options.helpRequested);
}

// Values may follow their option as the next argument, and -o accepts
// -oOUT and --output=OUT.
TEST(CompileOptionsTest, OptionValueForms) {
  Parsed separate = parse({"--target", "t4", "--quant", "w4a16", "--emit",
                           "mlir", "model.mlir", "--output", "a.mlir"});
  ASSERT_TRUE(separate.status.ok()) << separate.status.message;
  EXPECT_EQ(separate.options.target->name, "t4");
  EXPECT_EQ(separate.options.quant, QuantMode::W4A16);
  EXPECT_EQ(separate.options.outputPath, "a.mlir");
  Parsed joined = parse({"model.mlir", "--target=t4", "-oout.llmc"});
  ASSERT_TRUE(joined.status.ok()) << joined.status.message;
  EXPECT_EQ(joined.options.outputPath, "out.llmc");
  Parsed longForm = parse({"model.mlir", "--target=t4", "--output=o.llmc"});
  ASSERT_TRUE(longForm.status.ok()) << longForm.status.message;
  EXPECT_EQ(longForm.options.outputPath, "o.llmc");
}

// "-" is a path (standard output), not an option.
TEST(CompileOptionsTest, DashIsStandardOutput) {
  Parsed parsed = parse({"model.mlir", "--target=cpu", "-o", "-"});
  ASSERT_TRUE(parsed.status.ok()) << parsed.status.message;
  EXPECT_EQ(parsed.options.outputPath, "-");
}

// Without --quant each target gets its default: fp8 from Ada on, int8 on
// Ampere, Turing and the CPU.
TEST(CompileOptionsTest, DefaultQuantPerTarget) {
  const std::vector<std::pair<std::string, QuantMode>> expectations = {
      {"b200", QuantMode::Fp8},  {"h100", QuantMode::Fp8},
      {"h200", QuantMode::Fp8},  {"rtx4090", QuantMode::Fp8},
      {"a100", QuantMode::Int8}, {"rtx3090", QuantMode::Int8},
      {"t4", QuantMode::Int8},   {"rtx2080ti", QuantMode::Int8},
      {"cpu", QuantMode::Int8},
  };
  for (const auto &[targetName, expectedMode] : expectations) {
    Parsed parsed = parse({"m.mlir", "--target=" + targetName, "-o", "x"});
    ASSERT_TRUE(parsed.status.ok()) << targetName << parsed.status.message;
    EXPECT_EQ(parsed.options.quant, expectedMode) << targetName;
    EXPECT_TRUE(parsed.options.quantIsTargetDefault) << targetName;
  }
}

// Target names go through the alias table and ignore case.
TEST(CompileOptionsTest, TargetAliasResolves) {
  Parsed parsed = parse({"m.mlir", "--target=A100-80G", "-o", "x"});
  ASSERT_TRUE(parsed.status.ok()) << parsed.status.message;
  EXPECT_EQ(parsed.options.target->name, "a100");
}

// t4 with fp8 is a usage error with the exact DESIGN.md message.
TEST(CompileOptionsTest, T4Fp8Refused) {
  Parsed parsed = parse({"m.mlir", "--target=t4", "--quant=fp8", "-o", "x"});
  EXPECT_EQ(parsed.status.code, StatusCode::UsageError);
  EXPECT_EQ(parsed.status.message,
            "t4 (Turing, sm_75) has no FP8 tensor cores; use --quant=int8, "
            "w8a16, w4a16 or fp16");
}

// t4 with bf16 is refused for its missing BF16 tensor cores.
TEST(CompileOptionsTest, T4Bf16Refused) {
  Parsed parsed = parse({"m.mlir", "--target=t4", "--quant=bf16", "-o", "x"});
  EXPECT_EQ(parsed.status.code, StatusCode::UsageError);
  EXPECT_EQ(parsed.status.message,
            "t4 (Turing, sm_75) has no BF16 tensor cores; use --quant=int8, "
            "w8a16, w4a16 or fp16");
}

// a100 with fp8 is refused, offering bf16 among the alternatives.
TEST(CompileOptionsTest, A100Fp8Refused) {
  Parsed parsed = parse({"m.mlir", "--target=a100", "--quant=fp8", "-o", "x"});
  EXPECT_EQ(parsed.status.code, StatusCode::UsageError);
  EXPECT_EQ(parsed.status.message,
            "a100 (Ampere, sm_80) has no FP8 tensor cores; use --quant=int8, "
            "w8a16, w4a16, fp16 or bf16");
}

// v100 is refused with the reason, with or without --quant and by alias.
TEST(CompileOptionsTest, V100Refused) {
  const std::string refusal = "v100 (Volta, sm_70) is not supported: CUDA 13 "
                              "has no sm_70 code generation";
  for (const std::vector<std::string> &args :
       std::vector<std::vector<std::string>>{
           {"m.mlir", "--target=v100", "-o", "x"},
           {"m.mlir", "--target=v100", "--quant=fp16", "-o", "x"},
           {"m.mlir", "--target=sm_70", "-o", "x"}}) {
    Parsed parsed = parse(args);
    EXPECT_EQ(parsed.status.code, StatusCode::UsageError);
    EXPECT_EQ(parsed.status.message, refusal);
  }
}

// An unknown target lists every known target.
TEST(CompileOptionsTest, UnknownTargetListsKnownTargets) {
  Parsed parsed = parse({"m.mlir", "--target=xyz", "-o", "x"});
  EXPECT_EQ(parsed.status.code, StatusCode::UsageError);
  EXPECT_EQ(parsed.status.message,
            "unknown target 'xyz'; known targets: " + llmc::knownTargetNames());
}

// An unknown --quant lists every mode.
TEST(CompileOptionsTest, UnknownQuantListsModes) {
  Parsed parsed = parse({"m.mlir", "--target=h100", "--quant=fp4", "-o", "x"});
  EXPECT_EQ(parsed.status.code, StatusCode::UsageError);
  EXPECT_EQ(parsed.status.message, "unknown --quant 'fp4'; modes: int8, fp8, "
                                   "w8a16, w4a16, fp16, bf16, f32");
}

// Missing --target, model or -o are usage errors that say what is missing.
TEST(CompileOptionsTest, MissingPiecesAreUsageErrors) {
  Parsed noTarget = parse({"m.mlir", "-o", "x"});
  EXPECT_EQ(noTarget.status.code, StatusCode::UsageError);
  EXPECT_EQ(noTarget.status.message.rfind("missing --target; known targets: "
                                          "b200, ",
                                          0),
            0u)
      << noTarget.status.message;
  Parsed noOutput = parse({"m.mlir", "--target=h100"});
  EXPECT_EQ(noOutput.status.code, StatusCode::UsageError);
  EXPECT_EQ(noOutput.status.message.rfind("missing -o OUT", 0), 0u)
      << noOutput.status.message;
  Parsed noModel = parse({"--target=h100", "-o", "x"});
  EXPECT_EQ(noModel.status.code, StatusCode::UsageError);
  EXPECT_EQ(noModel.status.message.rfind("missing MODEL", 0), 0u)
      << noModel.status.message;
}

// Target and precision are checked before the model and output: a bad pair
// is reported even when everything else is missing.
TEST(CompileOptionsTest, TargetCheckedFirst) {
  Parsed parsed = parse({"--target=t4", "--quant=fp8"});
  EXPECT_EQ(parsed.status.code, StatusCode::UsageError);
  EXPECT_EQ(parsed.status.message.rfind("t4 (Turing, sm_75) has no FP8", 0), 0u)
      << parsed.status.message;
}

// Parsing never opens the model: a path that does not exist parses fine.
TEST(CompileOptionsTest, ParsingDoesNotTouchTheModel) {
  Parsed parsed =
      parse({"/does/not/exist/model.gguf", "--target=h100", "-o", "x"});
  EXPECT_TRUE(parsed.status.ok()) << parsed.status.message;
}

// Malformed command lines: unknown options, two models, options without
// values, unknown --emit kinds.
TEST(CompileOptionsTest, MalformedCommandLines) {
  Parsed unknownOption = parse({"m.mlir", "--target=h100", "-o", "x", "--tp"});
  EXPECT_EQ(unknownOption.status.code, StatusCode::UsageError);
  EXPECT_EQ(unknownOption.status.message,
            "unknown option '--tp'; see 'llmc compile --help'");
  // "--targets" is not "--target" with a value.
  Parsed prefix = parse({"m.mlir", "--targets=h100", "-o", "x"});
  EXPECT_EQ(prefix.status.message,
            "unknown option '--targets=h100'; see 'llmc compile --help'");
  Parsed twoModels = parse({"a.mlir", "b.mlir", "--target=h100", "-o", "x"});
  EXPECT_EQ(twoModels.status.message,
            "expected one model, got 'a.mlir' and 'b.mlir'");
  Parsed noValue = parse({"m.mlir", "-o", "x", "--quant"});
  EXPECT_EQ(noValue.status.message, "--quant needs a value");
  Parsed emptyValue = parse({"m.mlir", "-o", "x", "--target="});
  EXPECT_EQ(emptyValue.status.message, "--target needs a value");
  Parsed badEmit =
      parse({"m.mlir", "--target=h100", "-o", "x", "--emit=spirv"});
  EXPECT_EQ(badEmit.status.code, StatusCode::UsageError);
  EXPECT_EQ(badEmit.status.message, "unknown --emit 'spirv'; expected "
                                    "artifact, plan, mlir, cuda or ptx");
  Parsed ptx = parse({"m.mlir", "--target=h100", "-o", "x", "--emit=ptx"});
  EXPECT_EQ(ptx.options.emit, llmc::EmitKind::Ptx);
  Parsed cpuCuda =
      parse({"m.mlir", "--target=cpu", "-o", "x", "--emit=cuda"});
  EXPECT_EQ(cpuCuda.status.code, StatusCode::UsageError);
}

// Arguments after "--" are models even when they start with '-'.
TEST(CompileOptionsTest, DoubleDashEndsOptions) {
  Parsed parsed = parse({"--target=h100", "-o", "x", "--", "-model.mlir"});
  ASSERT_TRUE(parsed.status.ok()) << parsed.status.message;
  EXPECT_EQ(parsed.options.modelPath, "-model.mlir");
}

// --help succeeds without any other argument.
TEST(CompileOptionsTest, HelpNeedsNothingElse) {
  Parsed parsed = parse({"--help"});
  ASSERT_TRUE(parsed.status.ok()) << parsed.status.message;
  EXPECT_TRUE(parsed.options.helpRequested);
  EXPECT_NE(llmc::compileUsage().find("--target=TARGET"), std::string::npos);
}

// The default emit kind is the artifact.
TEST(CompileOptionsTest, DefaultEmitIsArtifact) {
  Parsed parsed = parse({"m.mlir", "--target=h100", "-o", "x"});
  ASSERT_TRUE(parsed.status.ok()) << parsed.status.message;
  EXPECT_EQ(parsed.options.emit, llmc::EmitKind::Artifact);
}

// The plan's limits, --emit=plan and --synthetic-weights; limits must be
// positive integers; a mode without quantization passes is refused for
// artifacts only.
// Fusion is on unless --no-fuse; --stats asks for the before/after report.
TEST(CompileOptionsTest, FuseAndStats) {
  Parsed defaults = parse({"m.gguf", "--target=cpu", "-o", "x"});
  ASSERT_TRUE(defaults.status.ok()) << defaults.status.message;
  EXPECT_TRUE(defaults.options.fuse);
  EXPECT_FALSE(defaults.options.stats);
  Parsed parsed =
      parse({"m.gguf", "--target=cpu", "--no-fuse", "--stats", "-o", "x"});
  ASSERT_TRUE(parsed.status.ok()) << parsed.status.message;
  EXPECT_FALSE(parsed.options.fuse);
  EXPECT_TRUE(parsed.options.stats);
}

TEST(CompileOptionsTest, PlanLimitsAndSyntheticWeights) {
  Parsed defaults = parse({"m.gguf", "--target=cpu", "-o", "x"});
  ASSERT_TRUE(defaults.status.ok()) << defaults.status.message;
  EXPECT_EQ(defaults.options.maxTokens, 512);
  EXPECT_EQ(defaults.options.maxSeqLen, 0);
  EXPECT_EQ(defaults.options.maxBatch, 0);
  EXPECT_FALSE(defaults.options.syntheticWeights);
  Parsed parsed = parse({"m.gguf", "--target=cpu", "-o", "x", "--emit=plan",
                         "--max-tokens=64", "--max-seq-len", "4096",
                         "--max-batch=8", "--synthetic-weights"});
  ASSERT_TRUE(parsed.status.ok()) << parsed.status.message;
  EXPECT_EQ(parsed.options.emit, llmc::EmitKind::Plan);
  EXPECT_EQ(parsed.options.maxTokens, 64);
  EXPECT_EQ(parsed.options.maxSeqLen, 4096);
  EXPECT_EQ(parsed.options.maxBatch, 8);
  EXPECT_TRUE(parsed.options.syntheticWeights);
  Parsed negative =
      parse({"m.gguf", "--target=cpu", "-o", "x", "--max-tokens=-4"});
  EXPECT_EQ(negative.status.code, StatusCode::UsageError);
  EXPECT_EQ(negative.status.message,
            "--max-tokens must be an integer in [1, 1048576], got '-4'");
  Parsed w4 = parse({"m.gguf", "--target=h100", "--quant=w4a16", "-o", "x"});
  EXPECT_TRUE(w4.status.ok()) << w4.status.message;
  Parsed w4Mlir = parse(
      {"m.gguf", "--target=h100", "--quant=w4a16", "--emit=mlir", "-o", "x"});
  EXPECT_TRUE(w4Mlir.status.ok()) << w4Mlir.status.message;
  Parsed fp16 = parse({"m.gguf", "--target=h100", "--quant=fp16", "-o", "x"});
  EXPECT_TRUE(fp16.status.ok()) << fp16.status.message;
}

// --jobs: how many GPU kernels NVRTC compiles at once; 0 (one per hardware
// thread) unless given, and a positive count when given.
TEST(CompileOptionsTest, Jobs) {
  EXPECT_EQ(parse({"m", "--target=h100", "-o", "x"}).options.jobs, 0);
  Parsed four = parse({"m", "--target=h100", "-o", "x", "--jobs=4"});
  ASSERT_TRUE(four.status.ok()) << four.status.message;
  EXPECT_EQ(four.options.jobs, 4);
  Parsed zero = parse({"m", "--target=h100", "-o", "x", "--jobs", "0"});
  EXPECT_EQ(zero.status.code, StatusCode::UsageError);
  EXPECT_EQ(zero.status.message,
            "--jobs must be an integer in [1, 1024], got '0'");
}

// --kv-cache: auto picks FP8 where the chip converts natively, INT8
// elsewhere (the CPU emulates FP8); fp8 on a chip without it is refused.
TEST(CompileOptionsTest, KVCacheModes) {
  using llmc::KVCacheMode;
  EXPECT_EQ(parse({"m", "--target=h100", "-o", "x"}).options.kvCache,
            KVCacheMode::None);
  EXPECT_EQ(parse({"m", "--target=h100", "--kv-cache=auto", "-o", "x"})
                .options.kvCache,
            KVCacheMode::Fp8);
  EXPECT_EQ(
      parse({"m", "--target=t4", "--kv-cache=auto", "-o", "x"}).options.kvCache,
      KVCacheMode::Int8);
  EXPECT_EQ(parse({"m", "--target=cpu", "--kv-cache=auto", "-o", "x"})
                .options.kvCache,
            KVCacheMode::Int8);
  EXPECT_EQ(parse({"m", "--target=cpu", "--kv-cache", "fp8", "-o", "x"})
                .options.kvCache,
            KVCacheMode::Fp8);
  Parsed t4 = parse({"m", "--target=t4", "--kv-cache=fp8", "-o", "x"});
  EXPECT_EQ(t4.status.code, StatusCode::UsageError);
  EXPECT_EQ(t4.status.message, "t4 (Turing, sm_75) has no FP8 conversions "
                               "for an fp8 KV cache; use --kv-cache=int8");
  Parsed bad = parse({"m", "--target=h100", "--kv-cache=fp4", "-o", "x"});
  EXPECT_EQ(bad.status.message,
            "unknown --kv-cache 'fp4'; expected none, fp8, int8 or auto");
}

// Calibration: fp8 turns static with --calib (or a cache); int8 and fp8
// smooth only with it; asking for what cannot be computed is refused.
TEST(CompileOptionsTest, CalibrationAndActivationScales) {
  using llmc::ActivationScales;
  Parsed fp8 = parse({"m", "--target=h100", "-o", "x"});
  EXPECT_EQ(fp8.options.activationScales, ActivationScales::Dynamic);
  Parsed calibrated = parse({"m", "--target=h100", "--calib=t.txt", "-o", "x"});
  ASSERT_TRUE(calibrated.status.ok()) << calibrated.status.message;
  EXPECT_EQ(calibrated.options.activationScales, ActivationScales::Static);
  EXPECT_EQ(calibrated.options.calibrationTextPath, "t.txt");
  EXPECT_TRUE(calibrated.options.smooth); // fp8 smooths when calibrated
  EXPECT_FALSE(fp8.options.smooth);
  // Dynamic fp8 uses the maxima for smoothing only.
  Parsed cached = parse({"m", "--target=h100", "--calib-cache", "c.json",
                         "--act-scales=dynamic", "-o", "x"});
  ASSERT_TRUE(cached.status.ok()) << cached.status.message;
  EXPECT_TRUE(cached.options.smooth);
  EXPECT_EQ(cached.options.activationScales, ActivationScales::Dynamic);
  Parsed cachedUnsmoothed =
      parse({"m", "--target=h100", "--calib-cache", "c.json",
             "--act-scales=dynamic", "--no-smooth", "-o", "x"});
  EXPECT_EQ(cachedUnsmoothed.status.message,
            "--calib is used for --quant=fp8 static scales, SmoothQuant and "
            "--gptq (int8, fp8, w8a16, w4a16); --quant=fp8 with --no-smooth has no "
            "use for it");
  Parsed fp8Alpha = parse(
      {"m", "--target=h100", "--calib=t.txt", "--smooth-alpha=0.3", "-o", "x"});
  ASSERT_TRUE(fp8Alpha.status.ok()) << fp8Alpha.status.message;
  EXPECT_TRUE(fp8Alpha.options.smooth);
  EXPECT_DOUBLE_EQ(fp8Alpha.options.smoothAlpha, 0.3);
  Parsed fp8NoSmooth =
      parse({"m", "--target=h100", "--calib=t.txt", "--no-smooth", "-o", "x"});
  ASSERT_TRUE(fp8NoSmooth.status.ok()) << fp8NoSmooth.status.message;
  EXPECT_FALSE(fp8NoSmooth.options.smooth);
  EXPECT_EQ(fp8NoSmooth.options.activationScales, ActivationScales::Static);
  Parsed staticNoData =
      parse({"m", "--target=h100", "--act-scales=static", "-o", "x"});
  EXPECT_EQ(staticNoData.status.message,
            "--act-scales=static needs calibration data: pass --calib "
            "FILE.txt (or --calib-cache FILE written by an earlier --calib "
            "run)");
  Parsed int8 = parse(
      {"m", "--target=t4", "--calib=t.txt", "--smooth-alpha=0.8", "-o", "x"});
  ASSERT_TRUE(int8.status.ok()) << int8.status.message;
  EXPECT_TRUE(int8.options.smooth);
  EXPECT_DOUBLE_EQ(int8.options.smoothAlpha, 0.8);
  EXPECT_FALSE(parse({"m", "--target=t4", "-o", "x"}).options.smooth);
  Parsed noSmooth =
      parse({"m", "--target=t4", "--calib=t.txt", "--no-smooth", "-o", "x"});
  EXPECT_EQ(noSmooth.status.message,
            "--calib is used for --quant=fp8 static scales, SmoothQuant and "
            "--gptq (int8, fp8, w8a16, w4a16); --quant=int8 with --no-smooth has no "
            "use for it");
  EXPECT_EQ(
      parse({"m", "--target=t4", "--calib=t", "--smooth-alpha=1.5", "-o", "x"})
          .status.message,
      "--smooth-alpha must be a number in [0, 1], got '1.5'");
  EXPECT_EQ(parse({"m", "--target=h100", "--smooth-alpha=0.5", "-o", "x"})
                .status.message,
            "--smooth-alpha needs calibration data: pass --calib FILE.txt");
  // Weight-only modes smooth (AWQ-style) when calibrated.
  Parsed w8 = parse(
      {"m", "--target=h100", "--quant=w8a16", "--calib=t.txt", "-o", "x"});
  ASSERT_TRUE(w8.status.ok()) << w8.status.message;
  EXPECT_TRUE(w8.options.smooth);
  EXPECT_EQ(w8.options.activationScales, ActivationScales::Dynamic);
  EXPECT_FALSE(
      parse({"m", "--target=h100", "--quant=w4a16", "-o", "x"}).options.smooth);
  EXPECT_EQ(parse({"m", "--target=h100", "--quant=w4a16", "--calib=t.txt",
                   "--no-smooth", "-o", "x"})
                .status.message,
            "--calib is used for --quant=fp8 static scales, SmoothQuant and "
            "--gptq (int8, fp8, w8a16, w4a16); --quant=w4a16 with --no-smooth has "
            "no use for it");
  EXPECT_EQ(
      parse({"m", "--target=h100", "--quant=bf16", "--no-smooth", "-o", "x"})
          .status.message,
      "--no-smooth applies to --quant=int8, fp8, w8a16 and w4a16 "
      "(SmoothQuant), not --quant=bf16");
  EXPECT_EQ(
      parse({"m", "--target=h100", "--act-scales=static", "--quant=int8",
             "--calib=t", "-o", "x"})
          .status.message,
      "--act-scales applies to --quant=fp8; --quant=int8 scales activations "
      "per token");
}

// Weight-only options and --keep-fp.
TEST(CompileOptionsTest, WeightOnlyAndKeepFullPrecision) {
  Parsed w4 = parse({"m", "--target=t4", "--quant=w4a16", "--group-size=64",
                     "--asym", "--emit=mlir", "-o", "x"});
  ASSERT_TRUE(w4.status.ok()) << w4.status.message;
  EXPECT_EQ(w4.options.groupSize, 64);
  EXPECT_TRUE(w4.options.asymmetric);
  EXPECT_EQ(
      parse({"m", "--target=t4", "--group-size=64", "-o", "x"}).status.message,
      "--group-size applies to the weight-only modes w8a16 and w4a16, "
      "not --quant=int8");
  EXPECT_EQ(parse({"m", "--target=t4", "--quant=w4a16", "--group-size=33",
                   "--emit=mlir", "-o", "x"})
                .status.message,
            "--group-size must be even (INT4 packs two values per byte), got "
            "33");
  Parsed keep =
      parse({"m", "--target=h100", "--keep-fp=lm_head,layers.0.", "-o", "x"});
  ASSERT_TRUE(keep.status.ok()) << keep.status.message;
  EXPECT_EQ(keep.options.keepFullPrecision,
            (std::vector<std::string>{"lm_head", "layers.0."}));
  Parsed none = parse({"m", "--target=h100", "--keep-fp=none", "-o", "x"});
  EXPECT_TRUE(none.options.keepFullPrecisionGiven);
  EXPECT_TRUE(none.options.keepFullPrecision.empty());
  EXPECT_EQ(
      parse({"m", "--target=h100", "--keep-fp=a,,b", "-o", "x"}).status.message,
      "--keep-fp has an empty name in 'a,,b'; pass comma-separated "
      "weight names");
  EXPECT_EQ(
      parse({"m", "--target=h100", "--quant=bf16", "--keep-fp=a", "-o", "x"})
          .status.message,
      "--keep-fp applies to quantized modes; --quant=bf16 quantizes "
      "nothing");
}

// compileModel: a model path that does not exist is a failure (exit 1) naming
// the file.
TEST(CompileModelTest, MissingModelFails) {
  Parsed parsed =
      parse({"/does/not/exist/model.mlir", "--target=cpu", "-o", "-"});
  ASSERT_TRUE(parsed.status.ok()) << parsed.status.message;
  Status status = llmc::compileModel(parsed.options);
  EXPECT_EQ(status.code, StatusCode::Failure);
  EXPECT_NE(status.message.find("'/does/not/exist/model.mlir'"),
            std::string::npos)
      << status.message;
}

// compileModel: a directory goes to the Hugging Face importer, so one without
// config.json fails naming the file it could not read.
TEST(CompileModelTest, DirectoryIsImported) {
  std::string directory = ::testing::TempDir() + "/llmc-no-config";
  llvm::sys::fs::create_directories(directory);
  Parsed parsed = parse({directory, "--target=h100", "-o", "x.llmc"});
  ASSERT_TRUE(parsed.status.ok()) << parsed.status.message;
  Status status = llmc::compileModel(parsed.options);
  EXPECT_EQ(status.code, StatusCode::Failure);
  EXPECT_NE(status.message.find("llmc-no-config/config.json: cannot read"),
            std::string::npos)
      << status.message;
}

} // namespace

TEST(CompileOptionsTest, Gptq) {
  Parsed w4 = parse({"m", "--target=cpu", "--quant=w4a16", "--calib=t.txt",
                     "--gptq", "--no-smooth", "-o", "x"});
  ASSERT_TRUE(w4.status.ok()) << w4.status.message;
  EXPECT_TRUE(w4.options.gptq);
  EXPECT_FALSE(w4.options.smooth);
  Parsed fp8 = parse({"m", "--target=h100", "--calib-cache=c.json", "--gptq",
                      "-o", "x"});
  ASSERT_TRUE(fp8.status.ok()) << fp8.status.message;
  EXPECT_TRUE(fp8.options.gptq);
  EXPECT_FALSE(parse({"m", "--target=h100", "-o", "x"}).options.gptq);

  Parsed uncalibrated =
      parse({"m", "--target=cpu", "--quant=int8", "--gptq", "-o", "x"});
  EXPECT_EQ(uncalibrated.status.message,
            "--gptq needs calibration data: pass --calib FILE.txt (its Gram "
            "matrices are measured there)");
  Parsed unquantized = parse({"m", "--target=cpu", "--quant=bf16",
                              "--calib=t.txt", "--gptq", "-o", "x"});
  EXPECT_EQ(unquantized.status.message,
            "--gptq rounds quantized weights: it applies to --quant=fp8, "
            "int8, w8a16 and w4a16, not --quant=bf16");
}
