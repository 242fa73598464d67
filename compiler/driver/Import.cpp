//===- Import.cpp - `llmc import`: a checkpoint to llm-dialect text -------===//

#include "compiler/driver/Import.h"

#include "compiler/frontends/Importer.h"
#include "compiler/frontends/hf/HFImporter.h"
#include "compiler/registration/Registration.h"
#include "compiler/weights/WeightStore.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Timer.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

namespace llmc {

std::string importUsage() {
  return "usage: llmc import MODEL [-o OUT] [--dtype=bf16|f16|f32] "
         "[--verbose]\n"
         "\n"
         "  MODEL           a Hugging Face model directory (config.json + "
         "*.safetensors) or a .gguf file\n"
         "  -o OUT          where to write the llm-dialect module ('-', the "
         "default, is standard output)\n"
         "  --dtype=TYPE    activation type; default: the embedding table's "
         "(f32 for quantized GGUF)\n"
         "  --check-weights materialize every weight once (reads and decodes "
         "the whole checkpoint)\n"
         "  --verbose, -v   print what was read and how long it took to "
         "standard error\n";
}

Status parseImportOptions(const std::vector<std::string> &args,
                          ImportCommandOptions &options) {
  options = ImportCommandOptions();
  std::vector<std::string> models;
  bool optionsEnded = false;
  for (size_t index = 0; index < args.size(); ++index) {
    llvm::StringRef arg = args[index];
    if (optionsEnded || arg.size() < 2 || !arg.starts_with("-")) {
      models.push_back(arg.str());
      continue;
    }
    if (arg == "--") {
      optionsEnded = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      options.helpRequested = true;
      return Status::success();
    }
    if (arg == "-v" || arg == "--verbose") {
      options.verbose = true;
      continue;
    }
    if (arg == "--check-weights") {
      options.checkWeights = true;
      continue;
    }
    // `--name=value`, `--name value`, and `-oOUT`.
    auto takeValue = [&](llvm::StringRef name,
                         std::string &value) -> std::optional<Status> {
      if (!arg.starts_with(name))
        return std::nullopt;
      llvm::StringRef rest = arg.drop_front(name.size());
      if (rest.consume_front("=") || (name == "-o" && !rest.empty())) {
        value = rest.str();
      } else if (rest.empty()) {
        if (index + 1 >= args.size())
          return Status::usageError(name.str() + " needs a value");
        value = args[++index];
      } else {
        return std::nullopt;
      }
      if (value.empty())
        return Status::usageError(name.str() + " needs a value");
      return Status::success();
    };
    std::optional<Status> taken = takeValue("--dtype", options.dtype);
    if (!taken)
      taken = takeValue("--output", options.outputPath);
    if (!taken)
      taken = takeValue("-o", options.outputPath);
    if (taken) {
      if (!taken->ok())
        return *taken;
      continue;
    }
    return Status::usageError("unknown option '" + arg.str() +
                              "'; see 'llmc import --help'");
  }
  if (models.empty())
    return Status::usageError(
        "missing MODEL: pass a Hugging Face model directory or a .gguf file");
  if (models.size() > 1)
    return Status::usageError("expected one model, got '" + models[0] +
                              "' and '" + models[1] + "'");
  options.modelPath = models.front();
  if (!options.dtype.empty() && options.dtype != "bf16" &&
      options.dtype != "f16" && options.dtype != "f32")
    return Status::usageError("unknown --dtype '" + options.dtype +
                              "'; expected bf16, f16 or f32");
  return Status::success();
}

Status importFailure(std::string messages) {
  // llvm::toString joins the messages of an error list with newlines.
  std::string joined;
  llvm::StringRef rest = messages;
  while (!rest.empty()) {
    auto [line, tail] = rest.split('\n');
    if (!joined.empty())
      joined += "\nerror: ";
    joined += line.str();
    rest = tail;
  }
  return Status::failure(joined);
}

Status importModelToMlir(const ImportCommandOptions &options) {
  mlir::DialectRegistry registry;
  registerAllLlmcDialects(registry);
  mlir::MLIRContext context(registry);
  frontends::ImportOptions importOptions;
  if (!options.dtype.empty())
    importOptions.activationType =
        frontends::hf::parseDType(context, options.dtype);

  auto start = std::chrono::steady_clock::now();
  llvm::Expected<frontends::ImportedModel> imported =
      frontends::importModel(context, options.modelPath, importOptions);
  if (!imported)
    return importFailure(llvm::toString(imported.takeError()));
  if (options.verbose) {
    double ms = std::chrono::duration<double, std::milli>(
                    std::chrono::steady_clock::now() - start)
                    .count();
    llvm::errs() << "llmc: imported " << imported->config.architecture << " ("
                 << imported->config.numLayers << " layers, "
                 << imported->weights->getWeightNames().size()
                 << " weights) from '" << options.modelPath << "' in "
                 << llvm::format("%.1f", ms) << " ms\n";
    if (imported->tokenizer)
      llvm::errs() << "llmc: tokenizer: " << imported->tokenizer->summarize()
                   << "\n";
    else
      llvm::errs() << "llmc: tokenizer: none (the checkpoint has no "
                      "tokenizer.json or tokenizer.* metadata)\n";
  }

  if (options.checkWeights) {
    start = std::chrono::steady_clock::now();
    uint64_t totalBytes = 0;
    std::vector<uint8_t> buffer;
    std::vector<std::string> names = imported->weights->getWeightNames();
    for (const std::string &name : names) {
      llvm::Expected<weights::WeightDesc> desc =
          imported->weights->describe(name);
      if (!desc)
        return importFailure(llvm::toString(desc.takeError()));
      buffer.resize(desc->getBytes());
      if (llvm::Error error = imported->weights->materialize(name, buffer))
        return importFailure(llvm::toString(std::move(error)));
      totalBytes += buffer.size();
    }
    if (options.verbose)
      llvm::errs() << "llmc: materialized " << names.size() << " weights ("
                   << llvm::format("%.1f", totalBytes / 1048576.0)
                   << " MiB) in "
                   << llvm::format("%.1f",
                                   std::chrono::duration<double, std::milli>(
                                       std::chrono::steady_clock::now() - start)
                                       .count())
                   << " ms\n";
  }

  std::string errorMessage;
  std::unique_ptr<llvm::ToolOutputFile> output =
      mlir::openOutputFile(options.outputPath, &errorMessage);
  if (!output)
    return Status::failure(errorMessage);
  imported->module->print(output->os());
  output->os() << "\n";
  output->keep();
  return Status::success();
}

} // namespace llmc
