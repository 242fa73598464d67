//===- Compile.cpp - runs `llmc compile` once its options are validated ---===//

#include "compiler/driver/Compile.h"

#include "compiler/artifact/ArtifactWriter.h"
#include "compiler/artifact/PlanToSpec.h"
#include "compiler/codegen/cuda/EmitCuda.h"
#include "compiler/codegen/cuda/LaunchLowering.h"
#include "compiler/driver/Calibrate.h"
#include "compiler/driver/Import.h"
#include "compiler/driver/Stats.h"
#include "compiler/frontends/Importer.h"
#include "compiler/weights/WeightStore.h"
#include "dialects/plan/PlanOps.h"
#include "passes/FusedWeights.h"
#include "passes/Passes.h"
#include "passes/QuantizationPipeline.h"
#include "passes/WeightAnnotations.h"
#include "runtime/schema/Checksum.h"

#include "compiler/registration/Registration.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdlib>
#include <map>

namespace llmc {

namespace {

/// The model formats DESIGN.md lists and whether llmc reads them yet.
enum class ModelFormat {
  Mlir,
  HuggingFaceDirectory,
  Gguf,
  Onnx,
  Safetensors,
  Unknown,
};

ModelFormat classifyModel(llvm::StringRef path, bool isDirectory) {
  if (isDirectory)
    return ModelFormat::HuggingFaceDirectory;
  std::string extension = llvm::sys::path::extension(path).lower();
  if (extension == ".mlir")
    return ModelFormat::Mlir;
  if (extension == ".gguf")
    return ModelFormat::Gguf;
  if (extension == ".onnx")
    return ModelFormat::Onnx;
  if (extension == ".safetensors")
    return ModelFormat::Safetensors;
  return ModelFormat::Unknown;
}

Status unsupportedModel(const std::string &path, ModelFormat format) {
  std::string what;
  switch (format) {
  case ModelFormat::Onnx:
    what = "is an ONNX file; ONNX models are not supported yet";
    break;
  case ModelFormat::Safetensors:
    // A lone weights file lacks config.json and the tokenizer.
    what = "is a .safetensors file; Hugging Face models are read from their "
           "directory: pass the directory holding config.json";
    break;
  case ModelFormat::HuggingFaceDirectory:
  case ModelFormat::Gguf:
  case ModelFormat::Mlir:
  case ModelFormat::Unknown:
    what = "is not a model format llmc knows";
    break;
  }
  return Status::failure("model '" + path + "' " + what +
                         "; llmc compiles Hugging Face model directories, "
                         ".gguf files and llm-dialect .mlir files");
}

/// Parses and verifies an llm-dialect module; parse errors are reported with
/// their location through `sourceMgr`.
mlir::OwningOpRef<mlir::ModuleOp> parseMlirModel(const std::string &path,
                                                 mlir::MLIRContext &context,
                                                 llvm::SourceMgr &sourceMgr,
                                                 Status &status) {
  std::string errorMessage;
  std::unique_ptr<llvm::MemoryBuffer> input =
      mlir::openInputFile(path, &errorMessage);
  if (!input) {
    status =
        Status::failure("cannot read model '" + path + "': " + errorMessage);
    return nullptr;
  }
  sourceMgr.AddNewSourceBuffer(std::move(input), llvm::SMLoc());
  // The parser verifies the module after parsing (ParserConfig's default), so
  // a module that comes back is valid IR.
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr,
                                            mlir::ParserConfig(&context));
  if (!module)
    status = Status::failure("model '" + path +
                             "' is not a valid llm-dialect module");
  return module;
}

Status writeMlir(mlir::ModuleOp module, const std::string &outputPath) {
  std::string errorMessage;
  std::unique_ptr<llvm::ToolOutputFile> output =
      mlir::openOutputFile(outputPath, &errorMessage);
  // openOutputFile's message already names the file and the reason.
  if (!output)
    return Status::failure(errorMessage);
  module.print(output->os());
  output->os() << "\n";
  output->keep();
  return Status::success();
}

artifact::RopeScalingType toArtifact(frontends::RopeScalingType type) {
  switch (type) {
  case frontends::RopeScalingType::None:
    return artifact::RopeScalingType::None;
  case frontends::RopeScalingType::Linear:
    return artifact::RopeScalingType::Linear;
  case frontends::RopeScalingType::Llama3:
    return artifact::RopeScalingType::Llama3;
  case frontends::RopeScalingType::Yarn:
    return artifact::RopeScalingType::Yarn;
  }
  return artifact::RopeScalingType::None;
}

artifact::MLPActivation toArtifact(frontends::MLPActivation activation) {
  switch (activation) {
  case frontends::MLPActivation::Silu:
    return artifact::MLPActivation::Silu;
  case frontends::MLPActivation::GeluTanh:
    return artifact::MLPActivation::GeluTanh;
  case frontends::MLPActivation::Gelu:
    return artifact::MLPActivation::Gelu;
  }
  return artifact::MLPActivation::Silu;
}

artifact::ModelConfigSpec toConfigSpec(const frontends::ModelConfig &config) {
  artifact::ModelConfigSpec spec;
  spec.architecture = config.architecture;
  spec.vocabSize = config.vocabSize;
  spec.hiddenSize = config.hiddenSize;
  spec.intermediateSize = config.intermediateSize;
  spec.numLayers = config.numLayers;
  spec.numHeads = config.numHeads;
  spec.numKVHeads = config.numKVHeads;
  spec.headDim = config.headDim;
  spec.rotaryDim = config.rotaryDim;
  spec.maxPositionEmbeddings = config.maxPositionEmbeddings;
  spec.rmsNormEps = config.rmsNormEps;
  spec.ropeTheta = config.ropeTheta;
  spec.localRopeTheta = config.localRopeTheta;
  spec.ropeScalingType = toArtifact(config.ropeScaling.type);
  spec.ropeScalingFactor = config.ropeScaling.factor;
  spec.ropeLowFreqFactor = config.ropeScaling.lowFreqFactor;
  spec.ropeHighFreqFactor = config.ropeScaling.highFreqFactor;
  spec.ropeOriginalMaxPosition = config.ropeScaling.originalMaxPosition;
  spec.slidingWindow = config.slidingWindow;
  spec.slidingLayers = config.slidingLayers;
  spec.tieWordEmbeddings = config.tieWordEmbeddings;
  spec.mlpActivation = toArtifact(config.mlpActivation);
  spec.queryPreAttnScalar = config.queryPreAttnScalar;
  spec.attnLogitSoftcap = config.attnLogitSoftcap;
  spec.finalLogitSoftcap = config.finalLogitSoftcap;
  spec.bosTokenId = config.bosTokenId ? int32_t(*config.bosTokenId) : -1;
  spec.eosTokenId =
      config.eosTokenIds.empty() ? -1 : int32_t(config.eosTokenIds.front());
  for (int64_t id : config.eosTokenIds)
    spec.stopTokenIds.push_back(int32_t(id));
  return spec;
}

/// "bf16", "f32": how the quantization field names a stored precision.
std::string precisionName(weights::DType dtype) {
  return llvm::StringRef(weights::getDTypeName(dtype)).lower();
}

/// The quantization passes' options for the compile options.
QuantizationOptions quantizationOptions(const CompileOptions &options,
                                        const std::string &calibrationFile) {
  QuantizationOptions quantization;
  quantization.scheme = std::string(quantModeName(options.quant));
  quantization.groupSize = options.groupSize;
  quantization.symmetric = !options.asymmetric;
  quantization.activations =
      options.activationScales == ActivationScales::Static ? "static"
                                                           : "dynamic";
  if (options.keepFullPrecisionGiven) {
    quantization.keepFp.clear();
    for (const std::string &name : options.keepFullPrecision)
      quantization.keepFp += (quantization.keepFp.empty() ? "" : ",") + name;
  }
  quantization.kvCache = std::string(kvCacheModeName(options.kvCache));
  quantization.calibFile = calibrationFile;
  quantization.gptq = options.gptq;
  // Negative turns SmoothQuant off (QuantizationPipeline.h).
  quantization.smoothAlpha = options.smooth ? options.smoothAlpha : -1.0;
  return quantization;
}

/// llm-fuse's patterns for the options. The patterns that rewrite linears
/// (horizontal merges, GEMM epilogues) and the norm + quantize groups do not
/// know quantized linears yet, and the fused RoPE + KV write does not know a
/// quantized KV cache: those modes keep them unfused.
FusePassOptions fuseOptions(const CompileOptions &options) {
  FusePassOptions fuse;
  // Every pattern handles quantized linears and a quantized KV cache: the
  // horizontal merge concatenates quantized weights with their scales, the
  // residual epilogue keeps the GEMM's scales, the bias and gated-activation
  // epilogues leave quantized linears alone, and the fused KV write carries
  // kv_cache_dtype.
  (void)options;
  return fuse;
}

/// Lowers the canonicalized llm module to a memory-planned plan module.
Status lowerToPlan(mlir::ModuleOp module, const CompileOptions &options,
                   mlir::MLIRContext &context) {
  mlir::PassManager pipeline(&context);
  LowerToPlanPassOptions lowering;
  lowering.maxTokens = options.maxTokens;
  lowering.rank = 0;
  lowering.backend = options.target->isGpu() ? plan::GemmBackend::CublasLt
                                             : plan::GemmBackend::Cpu;
  // "90a" -> 90: what cuBLASLt supports depends on the chip.
  lowering.sm = options.target->isGpu() ? std::atoi(options.target->sm.c_str())
                                        : 0;
  pipeline.addPass(createLowerToPlanPass(lowering));
  pipeline.addPass(createPlanMemoryPass());
  pipeline.addPass(createPlanVerifyMemoryPass());
  if (mlir::failed(pipeline.run(module)))
    return Status::failure("lowering to a plan failed on '" +
                           options.modelPath + "'");
  return Status::success();
}

/// The kernels a GPU artifact carries: one module per distinct kernel.
struct GeneratedKernels {
  std::vector<codegen::cuda::CudaKernel> kernels;
  std::vector<codegen::cuda::CompiledKernel> compiled;
};

/// Generates the plan's kernels and attaches each step's launches
/// (plan.launches, plan.kernel), for GPU targets. Diagnostics become the
/// returned error.
Status attachGeneratedLaunches(mlir::ModuleOp module,
                               const CompileOptions &options,
                               std::vector<codegen::cuda::CudaKernel> &out) {
  llvm::Expected<codegen::cuda::PlanKernels> kernels =
      codegen::cuda::collectPlanKernelsOrError(module, *options.target);
  if (!kernels)
    return Status::failure(llvm::toString(kernels.takeError()));
  std::string messages;
  mlir::FailureOr<int64_t> attached;
  {
    mlir::ScopedDiagnosticHandler handler(
        module.getContext(), [&](mlir::Diagnostic &diagnostic) {
          llvm::raw_string_ostream os(messages);
          os << (messages.empty() ? "" : "\n") << diagnostic.getLocation()
             << ": " << diagnostic;
          return mlir::success();
        });
    attached = codegen::cuda::attachLaunches(module, *kernels);
  }
  if (mlir::failed(attached))
    return Status::failure("attaching kernel launches for " +
                           options.target->describe() + " failed: " + messages);
  // Only the kernels some step launches (a step whose buffers do not scale
  // with the token count keeps its op alone).
  mlir::SymbolTable symbols(module);
  for (codegen::cuda::CudaKernel &kernel : kernels->kernels)
    if (llvm::any_of(kernel.entries,
                     [&](const codegen::cuda::KernelEntry &entry) {
                       return symbols.lookup(entry.name) != nullptr;
                     }))
      out.push_back(std::move(kernel));
  return Status::success();
}

codegen::cuda::KernelCompilerOptions
kernelCompilerOptions(const CompileOptions &options) {
  codegen::cuda::KernelCompilerOptions compiler;
  compiler.threads = unsigned(options.jobs);
  return compiler;
}

/// Compiles `generated.kernels` with NVRTC through the kernel cache and
/// reports the count, cache hits and seconds with -v or --stats.
Status compileGeneratedKernels(const CompileOptions &options,
                               GeneratedKernels &generated) {
  auto start = std::chrono::steady_clock::now();
  codegen::cuda::KernelCompileStatistics statistics;
  llvm::Expected<std::vector<codegen::cuda::CompiledKernel>> compiled =
      codegen::cuda::compileKernels(generated.kernels, *options.target,
                                    kernelCompilerOptions(options),
                                    &statistics);
  if (!compiled)
    return Status::failure("compiling the kernels for " +
                           options.target->describe() + ": " +
                           llvm::toString(compiled.takeError()));
  generated.compiled = std::move(*compiled);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (options.verbose || options.stats)
    (options.verbose ? llvm::errs() : llvm::outs())
        << "llmc: kernels: " << generated.kernels.size() << " for sm_"
        << options.target->sm << ", " << statistics.compiled
        << " compiled with NVRTC, " << statistics.cacheHits
        << " from the cache, " << llvm::format("%.2f", seconds) << " s\n";
  return Status::success();
}

/// One KernelModule per compiled kernel; every plan.kernel of the
/// translation names its module by entry.
Status addKernelModules(const CompileOptions &options,
                        GeneratedKernels &generated,
                        artifact::PlanTranslation &translation,
                        artifact::ArtifactSpec &spec) {
  llvm::StringMap<uint32_t> moduleByEntry;
  for (auto [kernel, compiled] :
       llvm::zip(generated.kernels, generated.compiled)) {
    artifact::KernelModuleSpec module;
    module.sm = options.target->sm;
    module.cubin.assign(compiled.cubin.begin(), compiled.cubin.end());
    module.ptx = std::move(compiled.ptx);
    for (const codegen::cuda::KernelEntry &entry : kernel.entries) {
      module.entries.push_back(entry.name);
      moduleByEntry[entry.name] = uint32_t(spec.kernelModules.size());
    }
    spec.kernelModules.push_back(std::move(module));
  }
  for (artifact::KernelSpec &kernel : translation.kernels) {
    auto it = moduleByEntry.find(kernel.entry);
    if (it == moduleByEntry.end())
      return Status::failure("internal error: plan.kernel @" + kernel.name +
                             " names entry '" + kernel.entry +
                             "', which no compiled kernel exports");
    kernel.module = it->second;
  }
  spec.kernels = std::move(translation.kernels);
  return Status::success();
}

/// The plan module to an artifact file; `generated` holds the compiled
/// kernels of a GPU target (empty otherwise).
Status writeArtifactFile(mlir::ModuleOp module, const CompileOptions &options,
                         const frontends::ImportedModel *imported,
                         GeneratedKernels &generated) {
  auto start = std::chrono::steady_clock::now();
  llvm::Expected<artifact::PlanTranslation> translation =
      artifact::translatePlan(module, options.maxTokens);
  if (!translation)
    return Status::failure(llvm::toString(translation.takeError()));

  artifact::ArtifactSpec spec;
  spec.target = {options.target->name, options.target->architecture,
                 options.target->sm};
  if (imported)
    spec.config = toConfigSpec(imported->config);
  spec.config.maxBatchTokens = options.maxTokens;
  // Unset limits resolve here, so the artifact always states what the
  // runtime sizes its KV cache for: the model's context, one sequence.
  spec.config.maxSeqLen = options.maxSeqLen > 0
                              ? options.maxSeqLen
                              : spec.config.maxPositionEmbeddings;
  spec.config.maxBatch = options.maxBatch > 0 ? options.maxBatch : 1;
  spec.tensors = std::move(translation->tensors);
  spec.plans = std::move(translation->plans);
  if (Status status = addKernelModules(options, generated, *translation, spec);
      !status.ok())
    return status;

  if (translation->kvCacheDType)
    spec.config.kvCacheDType = *translation->kvCacheDType;

  if (imported && imported->tokenizer) {
    if (imported->tokenizer->vectors)
      spec.tokenizer = *imported->tokenizer->vectors;
    else
      spec.hfTokenizer = artifact::HuggingFaceTokenizerSpec{
          imported->tokenizer->tokenizerJson,
          imported->tokenizer->tokenizerConfigJson};
  }

  weights::WeightStore emptyStore;
  const weights::WeightStore &store =
      imported ? *imported->weights : emptyStore;
  std::map<std::string, size_t> precisions;
  for (artifact::TensorSpec &tensor : spec.tensors) {
    const weights::WeightDesc &planned = *tensor.desc;
    precisions[precisionName(planned.dtype)] += 1;
    if (options.syntheticWeights) {
      // The seed depends on the name only, so two compiles agree.
      tensor.syntheticSeed =
          artifact::xxhash64(tensor.name.data(), tensor.name.size());
      continue;
    }
    llvm::Expected<weights::WeightDesc> stored = store.describe(tensor.weight);
    if (!stored)
      return Status::failure("weight '" + tensor.name + "' of the plan: " +
                             llvm::toString(stored.takeError()));
    if (stored->dtype != planned.dtype ||
        llvm::ArrayRef<int64_t>(stored->shape) !=
            llvm::ArrayRef<int64_t>(planned.shape))
      return Status::failure(
          "internal error: weight '" + tensor.name + "' is " +
          weights::getDTypeName(stored->dtype).str() + " " +
          weights::formatShape(stored->shape) + " in the store but " +
          weights::getDTypeName(planned.dtype).str() + " " +
          weights::formatShape(planned.shape) + " in the plan");
  }

  // The mode asked for, and how the weights really ended up stored (the
  // LM head and embeddings stay in a float type by default).
  std::string stored;
  for (const auto &[name, count] : precisions)
    stored += (stored.empty() ? "" : "+") + name;
  spec.quantization = std::string(quantModeName(options.quant)) + " (weights " +
                      (stored.empty() ? "none" : stored) + ")";
  if (options.kvCache != KVCacheMode::None)
    spec.quantization +=
        ", kv cache " + std::string(kvCacheModeName(options.kvCache));

  artifact::WriteOptions writeOptions;
  llvm::Expected<artifact::WriteStats> stats =
      artifact::writeArtifact(options.outputPath, spec, store, writeOptions);
  if (!stats)
    return Status::failure(llvm::toString(stats.takeError()));
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (options.verbose)
    llvm::errs() << "llmc: wrote '" << options.outputPath
                 << "': " << stats->fileBytes << " bytes, "
                 << stats->tensorCount << " tensors ("
                 << stats->syntheticTensorCount << " synthetic), "
                 << spec.plans.size() << " rank plan(s), "
                 << llvm::format("%.2f", seconds) << " s (weights "
                 << llvm::format("%.2f", stats->materializeSeconds)
                 << " s, hashing " << llvm::format("%.2f", stats->hashSeconds)
                 << " s, writing " << llvm::format("%.2f", stats->writeSeconds)
                 << " s)\n";
  return Status::success();
}

} // namespace

Status compileModel(const CompileOptions &options) {
  const std::string &modelPath = options.modelPath;
  if (options.verbose)
    llvm::errs() << "llmc: target " << options.target->describe()
                 << ", --quant=" << quantModeName(options.quant)
                 << (options.quantIsTargetDefault ? " (target default)" : "")
                 << "\n";

  llvm::sys::fs::file_status modelStatus;
  if (std::error_code error = llvm::sys::fs::status(modelPath, modelStatus);
      error || !llvm::sys::fs::exists(modelStatus))
    return Status::failure(
        "cannot open model '" + modelPath + "': " +
        (error ? error.message() : std::string("no such file or directory")));
  ModelFormat format =
      classifyModel(modelPath, llvm::sys::fs::is_directory(modelStatus));
  if (format != ModelFormat::Mlir &&
      format != ModelFormat::HuggingFaceDirectory &&
      format != ModelFormat::Gguf)
    return unsupportedModel(modelPath, format);
  if (format == ModelFormat::Mlir && options.emit == EmitKind::Artifact &&
      !options.syntheticWeights)
    return Status::failure("model '" + modelPath +
                           "' is an llm-dialect module, which holds no "
                           "weights; compile the checkpoint it came from, or "
                           "pass --synthetic-weights");
  if (options.emit == EmitKind::Artifact && options.outputPath == "-")
    return Status::usageError("an artifact cannot be written to standard "
                              "output; pass -o FILE.llmc");

  mlir::DialectRegistry registry;
  registerAllLlmcDialects(registry);
  mlir::MLIRContext context(registry);
  llvm::SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context,
                                               llvm::errs());
  mlir::OwningOpRef<mlir::ModuleOp> module;
  // Checkpoints come with a WeightStore that the artifact writer will stream
  // from; it must outlive the pipeline.
  std::optional<frontends::ImportedModel> imported;
  if (format == ModelFormat::Mlir) {
    Status status;
    module = parseMlirModel(modelPath, context, sourceMgr, status);
    if (!module)
      return status;
    if (options.verbose)
      llvm::errs() << "llmc: parsed and verified '" << modelPath << "'\n";
  } else {
    frontends::ImportOptions importOptions;
    // The 16-bit modes and f32 convert the weights while they stream; the
    // quantized modes quantize from the imported precision.
    if (options.quant == QuantMode::Fp16)
      importOptions.activationType = mlir::Float16Type::get(&context);
    else if (options.quant == QuantMode::Bf16)
      importOptions.activationType = mlir::BFloat16Type::get(&context);
    else if (options.quant == QuantMode::F32)
      importOptions.activationType = mlir::Float32Type::get(&context);
    importOptions.allowMissingWeights = options.syntheticWeights;
    llvm::Expected<frontends::ImportedModel> result =
        frontends::importModel(context, modelPath, importOptions);
    if (!result)
      return importFailure(llvm::toString(result.takeError()));
    imported = std::move(*result);
    module = std::move(imported->module);
    if (options.verbose)
      llvm::errs() << "llmc: imported '" << modelPath << "' ("
                   << imported->config.architecture << ", "
                   << imported->config.numLayers << " layers)\n";
  }

  // Calibration runs the model, so it comes first; the quantization passes
  // read its maxima from a file.
  std::optional<llvm::FileRemover> removeCalibration, removeGrams;
  std::string calibrationFile = options.calibrationCachePath;
  if (!options.calibrationTextPath.empty() ||
      !options.calibrationCachePath.empty()) {
    if (calibrationFile.empty()) {
      llvm::SmallString<128> temporary;
      if (std::error_code error = llvm::sys::fs::createTemporaryFile(
              "llmc-calibration", "json", temporary))
        return Status::failure("cannot create a temporary calibration "
                               "file: " +
                               error.message());
      calibrationFile = temporary.str().str();
      removeCalibration.emplace(calibrationFile);
      removeGrams.emplace(gramFileFor(calibrationFile));
    }
    if (Status status = calibrate(options, calibrationFile); !status.ok())
      return status;
  }

  mlir::PassManager pipeline(&context);
  pipeline.addPass(mlir::createCanonicalizerPass());
  addQuantizationPasses(pipeline,
                        quantizationOptions(options, calibrationFile));
  // Linears that read one activation (Q/K/V, gate/up) share its dynamic
  // quantization.
  pipeline.addPass(mlir::createCSEPass());
  if (mlir::failed(pipeline.run(*module)))
    return Status::failure("the compiler pipeline failed on '" + modelPath +
                           "'");
  if (options.verbose)
    llvm::errs() << "llmc: ran canonicalize, llm-quantize{scheme="
                 << quantModeName(options.quant) << "}, cse\n";
  // The passes recorded what the weights must become; the store applies it
  // lazily while the artifact streams.
  if (imported && !options.syntheticWeights)
    if (llvm::Error error = applyWeightAnnotations(*module, *imported->weights))
      return Status::failure("quantizing the weights of '" + modelPath +
                             "': " + llvm::toString(std::move(error)));

  // --stats compares the plan of the unfused module with the fused one.
  std::optional<PlanStats> unfusedStats;
  if (options.stats) {
    mlir::OwningOpRef<mlir::ModuleOp> unfused = module->clone();
    if (Status status = lowerToPlan(*unfused, options, context); !status.ok())
      return status;
    unfusedStats = computePlanStats(*unfused);
  }
  if (options.fuse) {
    mlir::PassManager fusion(&context);
    fusion.addPass(createFusePass(fuseOptions(options)));
    if (mlir::failed(fusion.run(*module)))
      return Status::failure("llm-fuse failed on '" + modelPath + "'");
    // The merged QKV and gate/up weights exist only as llm.concat
    // annotations until the store declares them (synthetic weights are
    // seeded by name and never read from the store).
    if (imported && !options.syntheticWeights)
      if (llvm::Error error = applyWeightConcats(*module, *imported->weights))
        return Status::failure("'" + modelPath +
                               "': " + llvm::toString(std::move(error)));
    if (options.verbose)
      llvm::errs() << "llmc: ran llm-fuse\n";
  }
  if (unfusedStats) {
    mlir::OwningOpRef<mlir::ModuleOp> fused = module->clone();
    if (Status status = lowerToPlan(*fused, options, context); !status.ok())
      return status;
    std::string report =
        formatFusionStats(*unfusedStats, computePlanStats(*fused));
    // The report goes where the output does not.
    (options.outputPath == "-" ? llvm::errs() : llvm::outs()) << report;
  }

  if (options.emit == EmitKind::Mlir)
    return writeMlir(*module, options.outputPath);

  if (Status status = lowerToPlan(*module, options, context); !status.ok())
    return status;
  if (options.verbose)
    llvm::errs() << "llmc: ran llm-lower-to-plan{max-tokens="
                 << options.maxTokens << "}, plan-memory\n";
  // A GPU artifact carries each step's kernel launches beside the step (the
  // CPU backend still runs the step). Without NVRTC there are no kernels to
  // launch: the artifact is still written, for the CPU backend only, with a
  // warning (a clear error would break every GPU-target compile of such a
  // build, including the ones that only inspect or run on the CPU).
  GeneratedKernels generated;
  bool generateKernels =
      options.target->isGpu() &&
      (options.emit == EmitKind::Plan || options.emit == EmitKind::Artifact);
  if (generateKernels && options.emit == EmitKind::Artifact &&
      !codegen::cuda::haveNvrtc()) {
    llvm::errs() << "llmc: warning: this llmc was built without the CUDA "
                    "toolkit (NVRTC), so the artifact for "
                 << options.target->describe()
                 << " holds no kernels and runs on the CPU backend only; "
                    "rebuild llmc with CUDA to run it on the GPU\n";
    generateKernels = false;
  }
  if (generateKernels) {
    if (Status status =
            attachGeneratedLaunches(*module, options, generated.kernels);
        !status.ok())
      return status;
    if (options.verbose)
      llvm::errs() << "llmc: attached the launches of "
                   << generated.kernels.size() << " generated kernels\n";
  }
  if (options.emit == EmitKind::Plan)
    return writeMlir(*module, options.outputPath);
  if (options.emit == EmitKind::Cuda || options.emit == EmitKind::Ptx) {
    if (llvm::Error error = codegen::cuda::emitCudaKernels(
            *module, *options.target,
            options.emit == EmitKind::Cuda ? codegen::cuda::EmitFormat::Cuda
                                           : codegen::cuda::EmitFormat::Ptx,
            options.outputPath, kernelCompilerOptions(options)))
      return Status::failure(llvm::toString(std::move(error)));
    return Status::success();
  }
  if (generateKernels)
    if (Status status = compileGeneratedKernels(options, generated);
        !status.ok())
      return status;
  return writeArtifactFile(*module, options, imported ? &*imported : nullptr,
                           generated);
}

} // namespace llmc
