//===- Bench.h - `bench`: prefill and decode throughput -------------------===//
//
// Shared by `llmc-runtime bench` and `llmc bench`. Plain C++17, no MLIR/LLVM.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_COMMANDS_BENCH_H
#define LLMC_RUNTIME_COMMANDS_BENCH_H

namespace llmc::commands {

/// `bench ART [-p N] [-n N] [-r N] [--threads N] [--seed S] [--device D]
/// [--bandwidth]`, like
/// llama-bench: per repetition (a fresh KV sequence each, after one untimed
/// warm-up), a prefill of p seeded random token ids in plan-sized chunks and
/// a decode of n tokens one at a time; prints a table of pp<p> and tg<n>
/// tokens/s, mean ± sample standard deviation, with the artifact's target,
/// weight bytes and threads. With --bandwidth (a CUDA device) it then
/// measures device-to-device copy bandwidth and prints the batch-1 decode
/// roofline (docs/runtime-cuda.md). Returns 0, 1 for a bad artifact or a failed
/// step, 2 for a usage error (including p + n beyond the KV capacity).
int runBenchCommand(int argc, const char *const *argv, const char *programName);

} // namespace llmc::commands

#endif // LLMC_RUNTIME_COMMANDS_BENCH_H
