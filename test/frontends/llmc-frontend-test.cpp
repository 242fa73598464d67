//===- llmc-frontend-test.cpp - config.json + weight manifest to llm IR ---===//
//
// Test-only driver for the lit tests in test/frontends/: imports a Hugging
// Face config.json with a JSON manifest of tensor names, dtypes and shapes
// (no tensor data) and prints the verified module, or the errors, one
// `error: ` line each. `llmc import` replaces it once the WeightStore reads
// real checkpoints.
//
//===----------------------------------------------------------------------===//

#include "compiler/frontends/ModelConfig.h"
#include "compiler/frontends/hf/HFConfig.h"
#include "compiler/frontends/hf/HFImporter.h"
#include "compiler/registration/Registration.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

static cl::opt<std::string> configPath(cl::Positional, cl::Required,
                                       cl::desc("<config.json | model dir>"));
static cl::opt<std::string> manifestPath(cl::Positional,
                                         cl::desc("<weight manifest.json>"));
static cl::opt<bool>
    printConfig("print-config",
                cl::desc("print the parsed ModelConfig and stop"));
static cl::opt<std::string>
    dtype("dtype", cl::desc("activation type: bf16, f16 or f32 (default: "
                            "the embedding table's)"));

static int reportErrors(Error error) {
  handleAllErrors(std::move(error), [](const ErrorInfoBase &info) {
    WithColor::error() << info.message() << "\n";
  });
  return 1;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv, "llmc frontend test driver\n");

  if (printConfig) {
    Expected<llmc::frontends::ModelConfig> config =
        llmc::frontends::hf::readHFConfig(configPath);
    if (!config)
      return reportErrors(config.takeError());
    config->print(outs());
    return 0;
  }
  if (manifestPath.empty()) {
    WithColor::error() << "a weight manifest is needed unless --print-config\n";
    return 1;
  }

  mlir::DialectRegistry registry;
  llmc::registerAllLlmcDialects(registry);
  mlir::MLIRContext context(registry);
  llmc::frontends::BuildOptions options;
  if (!dtype.empty()) {
    options.activationType = llmc::frontends::hf::parseDType(context, dtype);
    if (!options.activationType) {
      WithColor::error() << "unknown --dtype '" << dtype << "'\n";
      return 1;
    }
  }
  auto module = llmc::frontends::hf::importFromManifest(context, configPath,
                                                        manifestPath, options);
  if (!module)
    return reportErrors(module.takeError());
  (*module)->print(outs());
  outs() << "\n";
  return 0;
}
