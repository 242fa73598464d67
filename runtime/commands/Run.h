//===- Run.h - `run`: generate text from a .llmc artifact -----------------===//
//
// Shared by `llmc-runtime run` and `llmc run`. Plain C++17, no MLIR/LLVM.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_COMMANDS_RUN_H
#define LLMC_RUNTIME_COMMANDS_RUN_H

namespace llmc::commands {

/// `run ART --prompt TEXT [--chat] [--max-tokens N] [--temperature T]
/// [--top-k K] [--top-p P] [--repeat-penalty R] [--seed S] [--threads N]
/// [--device cpu]` with its arguments after the subcommand: streams the
/// generated text to stdout, then prints prompt and generation tokens/s to
/// stderr. Returns the exit code: 0, 1 for a bad artifact or a failed step,
/// 2 for a usage error.
int runRunCommand(int argc, const char *const *argv, const char *programName);

} // namespace llmc::commands

#endif // LLMC_RUNTIME_COMMANDS_RUN_H
