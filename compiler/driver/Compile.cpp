//===- Compile.cpp - runs `llmc compile` once its options are validated ---===//

#include "compiler/driver/Compile.h"

#include "compiler/driver/Import.h"
#include "compiler/frontends/Importer.h"
#include "compiler/weights/WeightStore.h"

#include "compiler/registration/Registration.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

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
    llvm::Expected<frontends::ImportedModel> result =
        frontends::importModel(context, modelPath);
    if (!result)
      return importFailure(llvm::toString(result.takeError()));
    imported = std::move(*result);
    module = std::move(imported->module);
    if (options.verbose)
      llvm::errs() << "llmc: imported '" << modelPath << "' ("
                   << imported->config.architecture << ", "
                   << imported->config.numLayers << " layers)\n";
  }

  // Only the target-independent cleanups exist yet; quantization for
  // `options.quant`, partitioning and fusion join this pipeline later.
  mlir::PassManager pipeline(&context);
  pipeline.addPass(mlir::createCanonicalizerPass());
  if (mlir::failed(pipeline.run(*module)))
    return Status::failure("the compiler pipeline failed on '" + modelPath +
                           "'");
  if (options.verbose)
    llvm::errs() << "llmc: ran canonicalize\n";

  switch (options.emit) {
  case EmitKind::Mlir:
    return writeMlir(*module, options.outputPath);
  case EmitKind::Artifact:
    return Status::failure(
        "writing .llmc artifacts is not supported yet; pass --emit=mlir to "
        "write the compiled llm-dialect module instead");
  }
  return Status::failure("unknown --emit kind");
}

} // namespace llmc
