//===- llmc.cpp - the llmc command: subcommands over the driver libraries -===//
//
// Exit codes: 0 success, 2 usage or validation errors (nothing was read),
// 1 any other failure.
//
//===----------------------------------------------------------------------===//

#include "compiler/driver/Compile.h"
#include "compiler/driver/CompileOptions.h"
#include "compiler/driver/Import.h"
#include "compiler/targets/Target.h"
#include "runtime/commands/Bench.h"
#include "runtime/commands/Eval.h"
#include "runtime/commands/Run.h"
#include "runtime/inspect/Inspect.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace {

constexpr int kExitUsage = static_cast<int>(llmc::StatusCode::UsageError);

void printHelp(llvm::raw_ostream &os) {
  os << "llmc: an ahead-of-time compiler for large language models\n"
        "\n"
        "usage: llmc COMMAND [ARGS...]\n"
        "\n"
        "commands:\n"
        "  compile   compile a model for one target: llmc compile MODEL "
        "--target=T [--quant=Q] -o OUT\n"
        "  import    read a Hugging Face directory or .gguf file and print its "
        "llm-dialect module: llmc import MODEL [-o OUT]\n"
        "  inspect   verify a .llmc artifact and print what it holds: llmc "
        "inspect ART [--json]\n"
        "  run       generate text from a .llmc artifact on the cpu: llmc run "
        "ART --prompt TEXT [--chat]\n"
        "  bench     prefill / decode tokens/s of a .llmc artifact on the cpu: "
        "llmc bench ART [-p N] [-n N] [-r N]\n"
        "  eval      perplexity of a text file on the cpu: llmc eval ART "
        "--perplexity FILE [--ctx N]\n"
        "  targets   list the targets, what their tensor cores support and "
        "their default --quant\n"
        "  help      print this help, or 'llmc help compile' for a command's\n"
        "\n"
        "options: --help, --version\n";
}

int reportStatus(const llmc::Status &status) {
  if (!status.ok())
    llvm::errs() << "error: " << status.message << "\n";
  return status.exitCode();
}

int runCompile(const std::vector<std::string> &args) {
  llmc::CompileOptions options;
  if (llmc::Status status = llmc::parseCompileOptions(args, options);
      !status.ok()) {
    if (args.empty())
      llvm::errs() << llmc::compileUsage() << "\n";
    return reportStatus(status);
  }
  if (options.helpRequested) {
    llvm::outs() << llmc::compileUsage();
    return 0;
  }
  return reportStatus(llmc::compileModel(options));
}

int runImport(const std::vector<std::string> &args) {
  llmc::ImportCommandOptions options;
  if (llmc::Status status = llmc::parseImportOptions(args, options);
      !status.ok()) {
    if (args.empty())
      llvm::errs() << llmc::importUsage() << "\n";
    return reportStatus(status);
  }
  if (options.helpRequested) {
    llvm::outs() << llmc::importUsage();
    return 0;
  }
  return reportStatus(llmc::importModelToMlir(options));
}

int runTargets(const std::vector<std::string> &args) {
  if (!args.empty()) {
    llvm::errs() << "error: 'llmc targets' takes no arguments, got '"
                 << args.front() << "'\n";
    return kExitUsage;
  }
  llvm::outs() << llmc::formatTargetTable();
  return 0;
}

int runHelp(const std::vector<std::string> &args) {
  if (args.empty()) {
    printHelp(llvm::outs());
    return 0;
  }
  if (args.front() == "compile") {
    llvm::outs() << llmc::compileUsage();
    return 0;
  }
  if (args.front() == "import") {
    llvm::outs() << llmc::importUsage();
    return 0;
  }
  if (args.front() == "targets") {
    llvm::outs() << "usage: llmc targets\n\nPrints the target table.\n";
    return 0;
  }
  llvm::errs() << "error: unknown command '" << args.front()
               << "'; see 'llmc --help'\n";
  return kExitUsage;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  if (argc < 2) {
    printHelp(llvm::errs());
    return kExitUsage;
  }
  std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "compile")
    return runCompile(args);
  if (command == "import")
    return runImport(args);
  if (command == "targets")
    return runTargets(args);
  // The same report as `llmc-runtime inspect`, from the runtime's loader.
  if (command == "inspect")
    return llmc::inspect::runInspectCommand(argc - 2, argv + 2, "llmc");
  if (command == "run")
    return llmc::commands::runRunCommand(argc - 2, argv + 2, "llmc");
  if (command == "bench")
    return llmc::commands::runBenchCommand(argc - 2, argv + 2, "llmc");
  if (command == "eval")
    return llmc::commands::runEvalCommand(argc - 2, argv + 2, "llmc");
  if (command == "help" || command == "--help" || command == "-h")
    return runHelp(args);
  if (command == "--version" || command == "version") {
    llvm::outs() << "llmc " << LLMC_VERSION << " (MLIR " << LLVM_VERSION_STRING
                 << ")\n";
    return 0;
  }
  llvm::errs() << "error: unknown command '" << command
               << "'; see 'llmc --help'\n";
  return kExitUsage;
}
