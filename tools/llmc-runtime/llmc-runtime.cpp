//===- llmc-runtime.cpp - the deploy binary: runs .llmc artifacts ---------===//
//
// Thin: each subcommand is a library call (inspect, run, bench, eval); serve
// follows.
//
//===----------------------------------------------------------------------===//

#include "runtime/commands/Bench.h"
#include "runtime/commands/Eval.h"
#include "runtime/commands/Run.h"
#include "runtime/inspect/Inspect.h"

#include <cstring>
#include <iostream>

namespace {

constexpr const char *kProgram = "llmc-runtime";

void printUsage(std::ostream &os) {
  os << "usage: llmc-runtime <command> [options]\n"
        "\n"
        "commands:\n"
        "  inspect ARTIFACT [--json] [--no-verify-checksums]\n"
        "      verify an .llmc artifact and print its target, quantization,\n"
        "      model config, tokenizer, tensors, kernels and plans\n"
        "  run ARTIFACT --prompt TEXT [--chat] [--max-tokens N] [--temperature "
        "T]\n"
        "      [--top-k K] [--top-p P] [--repeat-penalty R] [--seed S] "
        "[--threads N]\n"
        "      [--device cpu|cuda[:N]]\n"
        "      generate text on the cpu backend or a GPU; tokens/s on stderr\n"
        "  bench ARTIFACT [-p N] [-n N] [-r N] [--threads N] [--seed S]\n"
        "      [--device cpu|cuda[:N]] [--bandwidth]\n"
        "      prefill (pp) and decode (tg) tokens/s, mean +- sd over r runs;\n"
        "      --bandwidth adds the GPU's copy bandwidth and decode roofline\n"
        "  eval ARTIFACT --perplexity FILE [--ctx N] [--threads N]\n"
        "      [--dump-logits OUT.npy] [--device cpu|cuda[:N]]\n"
        "      perplexity of a text file, teacher-forced in chunks of N "
        "tokens\n"
        "  --version    print the version\n"
        "  --help       print this help\n";
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::cerr << kProgram << ": error: no command given\n";
    printUsage(std::cerr);
    return 2;
  }
  const char *command = argv[1];
  if (std::strcmp(command, "--help") == 0 || std::strcmp(command, "-h") == 0 ||
      std::strcmp(command, "help") == 0) {
    printUsage(std::cout);
    return 0;
  }
  if (std::strcmp(command, "--version") == 0) {
    std::cout << "llmc-runtime " << LLMC_VERSION << "\n";
    return 0;
  }
  if (std::strcmp(command, "inspect") == 0)
    return llmc::inspect::runInspectCommand(argc - 2, argv + 2, kProgram);
  if (std::strcmp(command, "run") == 0)
    return llmc::commands::runRunCommand(argc - 2, argv + 2, kProgram);
  if (std::strcmp(command, "bench") == 0)
    return llmc::commands::runBenchCommand(argc - 2, argv + 2, kProgram);
  if (std::strcmp(command, "eval") == 0)
    return llmc::commands::runEvalCommand(argc - 2, argv + 2, kProgram);
  for (const char *later : {"serve"})
    if (std::strcmp(command, later) == 0) {
      std::cerr
          << kProgram << ": error: '" << command
          << "' is not implemented yet; available: inspect, run, bench, eval\n";
      return 2;
    }
  std::cerr << kProgram << ": error: unknown command '" << command
            << "'; expected inspect, run, bench or eval\n";
  printUsage(std::cerr);
  return 2;
}
