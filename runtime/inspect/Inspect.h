//===- Inspect.h - what `inspect` prints about a .llmc artifact -----------===//
//
// Shared by `llmc-runtime inspect` and `llmc inspect`, so both print the same
// thing: target, quantization, model config, tokenizer, tensors (with bytes
// and a total), kernels and per-rank plans (steps, arenas). Plain C++17.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_INSPECT_INSPECT_H
#define LLMC_RUNTIME_INSPECT_INSPECT_H

#include "runtime/loader/Artifact.h"

#include <string>

namespace llmc::inspect {

/// The human-readable report, one fact per line.
std::string formatArtifactText(const loader::Artifact &artifact);
/// The same facts as a JSON document (2-space indent, trailing newline).
std::string formatArtifactJson(const loader::Artifact &artifact);

/// `inspect ART [--json]` with its arguments after the subcommand: prints
/// the report to stdout, errors to stderr. Returns the exit code: 0, 1 for a
/// bad artifact, 2 for a usage error.
int runInspectCommand(int argc, const char *const *argv,
                      const char *programName);

} // namespace llmc::inspect

#endif // LLMC_RUNTIME_INSPECT_INSPECT_H
