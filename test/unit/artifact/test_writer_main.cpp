//===- test_writer_main.cpp - llmc-artifact-test-writer: small artifacts for
// lit tests and the write-throughput measurement
//===//
//
// Until `llmc compile` writes artifacts, this tool makes them: the sample
// spec (SampleSpec.h) over the tensors of a safetensors or GGUF file, or
// over a generated safetensors file of --synthetic-mb megabytes, for which
// it prints the write throughput and peak memory.
//
//===----------------------------------------------------------------------===//

#include "PatchArtifact.h"
#include "SampleSpec.h"
#include "SyntheticCheckpoint.h"

#include "compiler/weights/Gguf.h"
#include "compiler/weights/Safetensors.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <fstream>
#include <string>

using namespace llvm;
using namespace llmc;

static cl::opt<std::string> weightsPath(cl::Positional,
                                        cl::desc("<safetensors|gguf>"));
static cl::opt<std::string> outputPath("o", cl::desc("output artifact"),
                                       cl::Required);
static cl::opt<std::string> targetName("target", cl::init("h100"),
                                       cl::desc("h100, t4 or cpu"));
static cl::opt<unsigned>
    syntheticMB("synthetic-mb", cl::init(0),
                cl::desc("generate a safetensors file of about N MB in "
                         "--scratch and write it (prints MB/s, peak RSS)"));
static cl::opt<std::string> scratchDir("scratch", cl::init("/tmp"),
                                       cl::desc("where --synthetic-mb goes"));

static cl::opt<int> corruptLaunchKernel(
    "corrupt-launch-kernel", cl::init(-1),
    cl::desc("afterwards, point the first step launch at kernel N (checksums "
             "forged): a file only the loader's semantic checks refuse"));

/// Rewrites `path` with its first step launch naming kernel `kernel`.
static bool corruptFirstLaunch(const std::string &path, uint32_t kernel) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  const artifact::LaunchStep *launch =
      artifact::testing::firstStepLaunch(bytes);
  if (!launch)
    return false;
  size_t offset = artifact::testing::fieldOffset(
      reinterpret_cast<const uint8_t *>(bytes.data()), launch,
      artifact::LaunchStep::VT_KERNEL);
  std::string patched = artifact::testing::patchMetadata(bytes, offset, kernel);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << patched;
  return bool(out);
}

static uint64_t readStatusKB(const char *key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(key, 0) == 0)
      return std::stoull(line.substr(std::strlen(key)));
  return 0;
}

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(argc, argv, "writes test .llmc artifacts\n");
  std::string source = weightsPath;
  if (syntheticMB) {
    source = scratchDir + "/llmc-synthetic-" + std::to_string(syntheticMB) +
             "mb.safetensors";
    auto made = artifact::testing::writeSyntheticSafetensors(
        source, uint64_t(syntheticMB) << 20);
    if (!made) {
      errs() << "error: " << toString(made.takeError()) << "\n";
      return 1;
    }
  }
  if (source.empty()) {
    errs() << "error: give a weights file or --synthetic-mb\n";
    return 2;
  }
  weights::WeightStore store;
  Error added = Error::success();
  if (StringRef(source).ends_with(".gguf")) {
    auto file = weights::GgufFile::open(source);
    added = file ? store.addSource(std::move(*file)) : file.takeError();
  } else {
    auto checkpoint = weights::SafetensorsCheckpoint::open(source);
    added = checkpoint ? store.addSource(std::move(*checkpoint))
                       : checkpoint.takeError();
  }
  if (added) {
    errs() << "error: " << toString(std::move(added)) << "\n";
    return 1;
  }
  store.addAllSourceTensors();
  uint64_t rssBeforeKB = readStatusKB("VmRSS:");
  uint64_t peakAnonKB = 0;
  artifact::WriteOptions options;
  options.onProgress = [&](const artifact::WriteProgress &) {
    peakAnonKB = std::max(peakAnonKB, readStatusKB("RssAnon:"));
  };
  artifact::ArtifactSpec spec =
      artifact::testing::makeSampleSpec(store, targetName);
  auto stats = artifact::writeArtifact(outputPath, spec, store, options);
  if (!stats) {
    errs() << "error: " << toString(stats.takeError()) << "\n";
    return 1;
  }
  if (corruptLaunchKernel >= 0 &&
      !corruptFirstLaunch(outputPath,
                          uint32_t(corruptLaunchKernel.getValue()))) {
    errs() << "error: cannot corrupt the first launch of " << outputPath
           << "\n";
    return 1;
  }
  if (syntheticMB) {
    outs() << format("wrote %zu tensors, %.1f MB (largest %.1f MB) in %.3f s: "
                     "%.0f MB/s\n",
                     stats->tensorCount, stats->tensorBytes / 1e6,
                     stats->largestTensorBytes / 1e6, stats->seconds,
                     stats->tensorBytes / 1e6 / stats->seconds);
    outs() << format("RSS before %.1f MB, peak (VmHWM, includes mapped "
                     "source pages) %.1f MB, peak anonymous %.1f MB\n",
                     rssBeforeKB / 1024.0, readStatusKB("VmHWM:") / 1024.0,
                     peakAnonKB / 1024.0);
  }
  return 0;
}
