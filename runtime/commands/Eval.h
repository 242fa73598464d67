//===- Eval.h - `eval`: perplexity of a text file -------------------------===//
//
// Shared by `llmc-runtime eval` and `llmc eval`. Plain C++17, no MLIR/LLVM.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_COMMANDS_EVAL_H
#define LLMC_RUNTIME_COMMANDS_EVAL_H

namespace llmc::commands {

/// `eval ART --perplexity FILE [--ctx N] [--threads N] [--dump-logits OUT]`:
/// tokenizes FILE (with BOS where the model adds it, special-token text not
/// parsed), splits the ids into consecutive chunks of N tokens (default
/// min(512, the KV capacity of one sequence); the last chunk may be shorter
/// and is scored when it holds at least 2 tokens), runs each chunk
/// teacher-forced from a fresh KV sequence in plan-sized forward calls and
/// accumulates -log p(token[t+1] | ..t) for t = 0..len-2 of each chunk
/// (log-softmax in double). Prints `PPL = x ± err` with err = PPL × the
/// standard error of the mean NLL (as llama-perplexity). --dump-logits
/// writes every evaluated position's logits as a float32 [tokens, vocab]
/// .npy. Returns 0, 1 for an unreadable / too short file, a bad artifact
/// or a failed step, 2 for a usage error.
int runEvalCommand(int argc, const char *const *argv, const char *programName);

} // namespace llmc::commands

#endif // LLMC_RUNTIME_COMMANDS_EVAL_H
