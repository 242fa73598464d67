//===- Bench.cpp - `bench`: prefill and decode throughput -----------------===//

#include "runtime/commands/Bench.h"

#include "runtime/backends/cuda/DeviceCheck.h"
#include "runtime/commands/Common.h"
#if LLMC_HAVE_CUDA_BACKEND
#include "runtime/backends/cuda/CudaEngine.h"
#endif
#include "runtime/engine/Engine.h"
#include "runtime/kv_cache/KVCache.h"
#include "runtime/loader/Artifact.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace llmc::commands {
namespace {

using runtime::Status;

struct BenchOptions {
  std::string artifactPath;
  int64_t promptTokens = 512;
  int64_t generateTokens = 128;
  int64_t repetitions = 5;
  int threads = 0;
  uint64_t seed = 1234;
  std::string device = "cpu";
  /// Also measure the GPU's device-to-device copy bandwidth and print the
  /// batch-1 decode roofline it implies (cuda only).
  bool bandwidth = false;
};

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

const char *kUsage = "usage: %s bench ARTIFACT [-p N] [-n N] [-r N] "
                     "[--threads N] [--seed S] [--device cpu|cuda[:N]] "
                     "[--bandwidth]\n";

std::optional<std::string> parseBenchOptions(int argc, const char *const *argv,
                                             BenchOptions &options) {
  std::string error;
  detail::ArgumentCursor args(argc, argv);
  while (args.next()) {
    const std::string &arg = args.name();
    if (!args.isOption()) {
      if (!options.artifactPath.empty())
        return "unexpected argument '" + arg + "'";
      options.artifactPath = arg;
      continue;
    }
    if (arg == "--bandwidth") {
      options.bandwidth = true;
      continue;
    }
    bool known = arg == "-p" || arg == "-n" || arg == "-r" ||
                 arg == "--threads" || arg == "--seed" || arg == "--device";
    if (!known)
      return "unknown option '" + arg + "'";
    const char *text = args.value();
    if (!text)
      return arg + " needs a value";
    bool ok = true;
    if (arg == "-p")
      ok = detail::parseNumber(arg, text, options.promptTokens, error);
    else if (arg == "-n")
      ok = detail::parseNumber(arg, text, options.generateTokens, error);
    else if (arg == "-r")
      ok = detail::parseNumber(arg, text, options.repetitions, error);
    else if (arg == "--threads")
      ok = detail::parseNumber(arg, text, options.threads, error);
    else if (arg == "--device") {
      cuda::DeviceSpec device;
      ok = cuda::parseDeviceSpec(text, device, error);
      options.device = text;
    } else
      ok = detail::parseNumber(arg, text, options.seed, error);
    if (!ok)
      return error;
  }
  if (options.artifactPath.empty())
    return std::string("missing ARTIFACT");
  if (options.promptTokens <= 0)
    return std::string("-p must be positive");
  if (options.generateTokens <= 0)
    return std::string("-n must be positive");
  if (options.repetitions <= 0)
    return std::string("-r must be positive");
  if (options.threads < 0)
    return std::string("--threads must be >= 0");
  if (options.bandwidth && options.device.rfind("cuda", 0) != 0)
    return std::string("--bandwidth measures a GPU; use --device=cuda");
  return std::nullopt;
}

int fail(const char *programName, const Status &status) {
  std::cerr << programName << ": error: " << status.message() << "\n";
  return kExitFailure;
}

struct Stats {
  double mean = 0, sd = 0;
};

/// Mean and sample standard deviation (0 for one sample).
Stats summarize(const std::vector<double> &values) {
  Stats stats;
  for (double v : values)
    stats.mean += v;
  stats.mean /= static_cast<double>(values.size());
  if (values.size() > 1) {
    double squares = 0;
    for (double v : values)
      squares += (v - stats.mean) * (v - stats.mean);
    stats.sd = std::sqrt(squares / static_cast<double>(values.size() - 1));
  }
  return stats;
}

std::string formatBytes(uint64_t bytes) {
  char buffer[64];
  if (bytes >= (1ull << 30))
    std::snprintf(buffer, sizeof(buffer), "%.2f GiB",
                  bytes / double(1ull << 30));
  else
    std::snprintf(buffer, sizeof(buffer), "%.2f MiB",
                  bytes / double(1ull << 20));
  return buffer;
}

/// Runs p prefill tokens in plan-sized chunks, then n decode steps, on a
/// fresh sequence 0; returns the two durations.
Status runOnce(engine::Engine &engine, const std::vector<int32_t> &prompt,
               const std::vector<int32_t> &decode, double &prefillSeconds,
               double &decodeSeconds) {
  std::vector<float> logits;
  engine.freeSequence(0);
  const size_t chunk = static_cast<size_t>(engine.maxTokens());
  auto start = std::chrono::steady_clock::now();
  for (size_t begin = 0; begin < prompt.size();) {
    size_t count = std::min(prompt.size() - begin, chunk);
    engine::ForwardBatch batch;
    batch.tokenIds.assign(prompt.begin() + begin,
                          prompt.begin() + begin + count);
    for (size_t i = 0; i < count; ++i)
      batch.positions.push_back(static_cast<int32_t>(begin + i));
    batch.sequences.push_back({0, static_cast<int64_t>(count)});
    if (Status status = engine.forward(batch, logits); !status.ok())
      return status;
    begin += count;
  }
  prefillSeconds = detail::secondsSince(start);
  start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < decode.size(); ++i) {
    engine::ForwardBatch batch;
    batch.tokenIds = {decode[i]};
    batch.positions = {static_cast<int32_t>(prompt.size() + i)};
    batch.sequences = {{0, 1}};
    if (Status status = engine.forward(batch, logits); !status.ok())
      return status;
  }
  decodeSeconds = detail::secondsSince(start);
  engine.freeSequence(0);
  return Status::success();
}

/// Bytes a batch-1 decode step reads: every weight once (the embedding
/// table only by rows, so it is left out unless it is also the LM head),
/// plus the KV cache of `contextTokens` positions.
Status decodeBytesPerToken(const loader::Artifact &artifact,
                           int64_t contextTokens, uint64_t &weightBytes,
                           uint64_t &kvBytes) {
  weightBytes = 0;
  const bool tied = artifact.config().tie_word_embeddings();
  for (size_t i = 0; i < artifact.tensorCount(); ++i) {
    loader::TensorRef tensor = artifact.tensor(i);
    if (!tied && tensor.name.find("embed_tokens") != std::string_view::npos)
      continue;
    weightBytes += artifact.tensorBytes(i);
  }
  kv::KVCacheConfig kv;
  engine::EngineOptions options;
  options.maxSequences = 1;
  if (Status s = engine::planKVCacheConfig(artifact, options, kv); !s.ok())
    return s;
  kvBytes = 0;
  if (kv.numLayers > 0) {
    const int64_t bytesPerElement = kv.quantization != kv::KVQuantization::None
                                        ? 1
                                        : (kv.dtype == cpu::DType::F32 ? 4 : 2);
    kvBytes = static_cast<uint64_t>(2 * kv.numLayers * kv.numKVHeads *
                                    kv.headDim * bytesPerElement) *
              contextTokens;
  }
  return Status::success();
}

Status printDecodeRoofline(const loader::Artifact &artifact,
                           const BenchOptions &options,
                           double measuredDecodeRate) {
#if LLMC_HAVE_CUDA_BACKEND
  cuda::DeviceSpec device;
  std::string error;
  if (!cuda::parseDeviceSpec(options.device, device, error))
    return Status::error(error);
  double bytesPerSecond = 0;
  std::string name;
  if (Status s = cuda::measureCopyBandwidth(device.index, 1ull << 30, 20,
                                            bytesPerSecond, name);
      !s.ok())
    return s;
  uint64_t weightBytes = 0, kvBytes = 0;
  // The mean context of the timed decode steps.
  const int64_t context = options.promptTokens + options.generateTokens / 2;
  if (Status s = decodeBytesPerToken(artifact, context, weightBytes, kvBytes);
      !s.ok())
    return s;
  const double roofline =
      bytesPerSecond / static_cast<double>(weightBytes + kvBytes);
  std::printf("%s (cuda:%d): device-to-device copy %.1f GB/s (read + "
              "write)\n",
              name.c_str(), device.index, bytesPerSecond / 1e9);
  std::printf("decode roofline at batch 1: %.1f tokens/s (%.3f GB weights + "
              "%.3f GB KV at context %lld per token); measured tg%lld %.1f "
              "tokens/s = %.0f%% of it\n",
              roofline, weightBytes / 1e9, kvBytes / 1e9,
              static_cast<long long>(context),
              static_cast<long long>(options.generateTokens),
              measuredDecodeRate, 100.0 * measuredDecodeRate / roofline);
  return Status::success();
#else
  (void)artifact;
  (void)options;
  (void)measuredDecodeRate;
  return Status::error("--bandwidth: this llmc-runtime was built without the "
                       "CUDA backend");
#endif
}

} // namespace

int runBenchCommand(int argc, const char *const *argv,
                    const char *programName) {
  BenchOptions options;
  if (std::optional<std::string> usage =
          parseBenchOptions(argc, argv, options)) {
    std::cerr << programName << " bench: error: " << *usage << "\n";
    std::fprintf(stderr, kUsage, programName);
    return kExitUsage;
  }

  std::unique_ptr<loader::Artifact> artifact;
  if (Status status =
          loader::Artifact::open(options.artifactPath, {}, artifact);
      !status.ok())
    return fail(programName, status);
  engine::EngineOptions engineOptions;
  engineOptions.threads = options.threads;
  engineOptions.maxSequences = 1;
  engineOptions.device = options.device;
  std::unique_ptr<engine::Engine> engine;
  if (Status status = engine::Engine::create(*artifact, engineOptions, engine);
      !status.ok())
    return fail(programName, status);

  const int64_t capacity = engine->kvCapacityTokens();
  if (options.promptTokens + options.generateTokens > capacity) {
    std::cerr << programName << " bench: error: -p " << options.promptTokens
              << " + -n " << options.generateTokens << " = "
              << options.promptTokens + options.generateTokens
              << " tokens exceed the KV capacity of " << capacity
              << " positions per sequence\n";
    std::fprintf(stderr, kUsage, programName);
    return kExitUsage;
  }

  // Seeded random ids in [0, vocab): every one a valid token of the model.
  const int64_t vocab = engine->vocabSize();
  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<int32_t> pick(0,
                                              static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> prompt(options.promptTokens),
      decode(options.generateTokens);
  for (int32_t &id : prompt)
    id = pick(rng);
  for (int32_t &id : decode)
    id = pick(rng);

  const int threads =
      options.threads > 0
          ? options.threads
          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (options.device == "cpu")
    std::cerr << programName << ": " << artifact->describeTarget()
              << " artifact on the cpu backend, " << threads << " threads\n";
  else
    std::cerr << programName << ": " << artifact->describeTarget()
              << " artifact on " << engine->deviceDescription() << "\n";

  // One untimed warm-up: a prefill chunk and a decode step.
  {
    double unused1 = 0, unused2 = 0;
    std::vector<int32_t> warmPrompt(
        prompt.begin(),
        prompt.begin() + std::min<int64_t>(prompt.size(), engine->maxTokens()));
    if (Status status =
            runOnce(*engine, warmPrompt, {decode[0]}, unused1, unused2);
        !status.ok())
      return fail(programName, status);
  }

  std::vector<double> prefillRates, decodeRates;
  for (int64_t r = 0; r < options.repetitions; ++r) {
    double prefillSeconds = 0, decodeSeconds = 0;
    if (Status status =
            runOnce(*engine, prompt, decode, prefillSeconds, decodeSeconds);
        !status.ok())
      return fail(programName, status);
    prefillRates.push_back(options.promptTokens /
                           std::max(prefillSeconds, 1e-9));
    decodeRates.push_back(options.generateTokens /
                          std::max(decodeSeconds, 1e-9));
  }

  std::string target = artifact->describeTarget();
  std::string weights = formatBytes(artifact->totalTensorBytes());
  auto row = [&](const std::string &test, const std::vector<double> &rates) {
    Stats stats = summarize(rates);
    std::printf("| %-14s | %12s | %7d | %8s | %20s |\n", target.c_str(),
                weights.c_str(), threads, test.c_str(), [&] {
                  static char buffer[64];
                  std::snprintf(buffer, sizeof(buffer), "%.2f ± %.2f",
                                stats.mean, stats.sd);
                  return buffer;
                }());
  };
  std::printf("| %-14s | %12s | %7s | %8s | %20s |\n", "target", "weights",
              "threads", "test", "t/s");
  std::printf("| %-14s | %12s | %7s | %8s | %20s |\n", "--------------",
              "-----------:", "------:", "-------:", "------------------:");
  row("pp" + std::to_string(options.promptTokens), prefillRates);
  row("tg" + std::to_string(options.generateTokens), decodeRates);
  std::printf("(%lld repetitions, mean ± sample sd; weights %llu bytes)\n",
              static_cast<long long>(options.repetitions),
              static_cast<unsigned long long>(artifact->totalTensorBytes()));
  if (options.bandwidth) {
    engine.reset(); // its memory is not needed for the copy test
    if (Status status = printDecodeRoofline(*artifact, options,
                                            summarize(decodeRates).mean);
        !status.ok())
      return fail(programName, status);
  }
  std::fflush(stdout);
  return 0;
}

} // namespace llmc::commands
