//===- Run.cpp - `run`: generate text from a .llmc artifact ---------------===//

#include "runtime/commands/Run.h"

#include "runtime/commands/Common.h"

#include "runtime/backends/cuda/DeviceCheck.h"

#include "runtime/engine/Engine.h"
#include "runtime/loader/Artifact.h"
#include "runtime/sampler/Sampler.h"
#include "runtime/tokenizer/ChatTemplate.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmc::commands {
namespace {

using runtime::Status;

struct RunOptions {
  std::string artifactPath;
  std::string prompt;
  bool chat = false;
  int64_t maxNewTokens = 128;
  sampler::SamplingParams sampling;
  int threads = 0;
  std::string device = "cpu";
};

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

const char *kUsage =
    "usage: %s run ARTIFACT --prompt TEXT [--chat] [--max-tokens N]\n"
    "         [--temperature T] [--top-k K] [--top-p P] [--repeat-penalty R]\n"
    "         [--seed S] [--threads N] [--device cpu|cuda[:N]]\n";

/// Fills `options` from the arguments; on a usage error returns the message.
std::optional<std::string> parseRunOptions(int argc, const char *const *argv,
                                           RunOptions &options) {
  std::string error;
  detail::ArgumentCursor args(argc, argv);
  while (args.next()) {
    const std::string &arg = args.name();
    if (arg == "--chat") {
      options.chat = true;
      continue;
    }
    if (!args.isOption()) {
      if (!options.artifactPath.empty())
        return "unexpected argument '" + arg + "'";
      options.artifactPath = arg;
      continue;
    }
    const char *text = args.value();
    if (!text)
      return arg + " needs a value";
    bool ok = true;
    if (arg == "--prompt")
      options.prompt = text;
    else if (arg == "--max-tokens")
      ok = detail::parseNumber("--max-tokens", text, options.maxNewTokens,
                               error);
    else if (arg == "--temperature")
      ok = detail::parseNumber("--temperature", text,
                               options.sampling.temperature, error);
    else if (arg == "--top-k")
      ok = detail::parseNumber("--top-k", text, options.sampling.topK, error);
    else if (arg == "--top-p")
      ok = detail::parseNumber("--top-p", text, options.sampling.topP, error);
    else if (arg == "--repeat-penalty")
      ok = detail::parseNumber("--repeat-penalty", text,
                               options.sampling.repetitionPenalty, error);
    else if (arg == "--seed")
      ok = detail::parseNumber("--seed", text, options.sampling.seed, error);
    else if (arg == "--threads")
      ok = detail::parseNumber("--threads", text, options.threads, error);
    else if (arg == "--device") {
      cuda::DeviceSpec device;
      if (!cuda::parseDeviceSpec(text, device, error))
        return error;
      options.device = text;
    } else
      return "unknown option '" + arg + "'";
    if (!ok)
      return error;
  }
  if (options.artifactPath.empty())
    return std::string("missing ARTIFACT");
  if (options.prompt.empty())
    return std::string("missing --prompt TEXT");
  if (options.maxNewTokens <= 0)
    return std::string("--max-tokens must be positive");
  if (options.threads < 0)
    return std::string("--threads must be >= 0");
  if (Status status = sampler::validate(options.sampling); !status.ok())
    return status.message();
  return std::nullopt;
}

int fail(const char *programName, const Status &status) {
  std::cerr << programName << ": error: " << status.message() << "\n";
  return kExitFailure;
}

} // namespace

int runRunCommand(int argc, const char *const *argv, const char *programName) {
  RunOptions options;
  if (std::optional<std::string> usage = parseRunOptions(argc, argv, options)) {
    std::cerr << programName << " run: error: " << *usage << "\n";
    std::fprintf(stderr, kUsage, programName);
    return kExitUsage;
  }

  std::unique_ptr<loader::Artifact> artifact;
  if (Status status =
          loader::Artifact::open(options.artifactPath, {}, artifact);
      !status.ok())
    return fail(programName, status);
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  if (Status status = artifact->loadTokenizer(tokenizer); !status.ok())
    return fail(programName, status);
  std::vector<int32_t> promptIds;
  if (Status status = tokenizer::encodePrompt(*tokenizer, options.prompt,
                                              options.chat, promptIds);
      !status.ok())
    return fail(programName, status);
  if (promptIds.empty())
    return fail(programName, Status::error("the prompt encodes to no tokens"));

  engine::EngineOptions engineOptions;
  engineOptions.threads = options.threads;
  engineOptions.maxSequences = 1;
  engineOptions.device = options.device;
  std::unique_ptr<engine::Engine> engine;
  if (Status status = engine::Engine::create(*artifact, engineOptions, engine);
      !status.ok())
    return fail(programName, status);
  std::cerr << programName << ": " << artifact->describeTarget()
            << " artifact on the " << engine->deviceDescription()
            << " backend\n";

  sampler::Sampler sampler;
  if (Status status = sampler::Sampler::create(options.sampling, sampler);
      !status.ok())
    return fail(programName, status);
  std::vector<int32_t> stopIds = tokenizer->stopIds();
  auto isStop = [&](int32_t id) {
    return std::find(stopIds.begin(), stopIds.end(), id) != stopIds.end();
  };

  // Prefill in chunks the plan can hold; the last chunk's last row gives the
  // first generated token.
  std::vector<int32_t> tokens = promptIds;
  std::vector<float> logits;
  const int64_t vocab = engine->vocabSize();
  auto promptStart = std::chrono::steady_clock::now();
  for (size_t begin = 0; begin < promptIds.size();) {
    size_t count = std::min<size_t>(promptIds.size() - begin,
                                    static_cast<size_t>(engine->maxTokens()));
    engine::ForwardBatch batch;
    batch.tokenIds.assign(promptIds.begin() + begin,
                          promptIds.begin() + begin + count);
    for (size_t i = 0; i < count; ++i)
      batch.positions.push_back(static_cast<int32_t>(begin + i));
    batch.sequences.push_back({0, static_cast<int64_t>(count)});
    if (Status status = engine->forward(batch, logits); !status.ok())
      return fail(programName, status);
    begin += count;
  }
  double promptSeconds = detail::secondsSince(promptStart);

  tokenizer::StreamDecoder decoder(*tokenizer, {/*skipSpecialTokens=*/true});
  auto generationStart = std::chrono::steady_clock::now();
  int64_t generated = 0;
  const float *lastRow = logits.data() + (logits.size() - vocab);
  while (generated < options.maxNewTokens) {
    int32_t next = 0;
    if (Status status =
            sampler.sample(lastRow, vocab, tokens.data(),
                           static_cast<int64_t>(tokens.size()), next);
        !status.ok())
      return fail(programName, status);
    ++generated;
    if (isStop(next))
      break;
    std::string piece;
    if (Status status = decoder.push(next, piece); !status.ok())
      return fail(programName, status);
    std::cout << piece << std::flush;
    if (generated == options.maxNewTokens)
      break;
    engine::ForwardBatch batch;
    batch.tokenIds = {next};
    batch.positions = {static_cast<int32_t>(tokens.size())};
    batch.sequences = {{0, 1}};
    tokens.push_back(next);
    if (Status status = engine->forward(batch, logits); !status.ok())
      return fail(programName, status);
    lastRow = logits.data();
  }
  std::string rest;
  if (Status status = decoder.finish(rest); status.ok())
    std::cout << rest;
  std::cout << "\n" << std::flush;
  double generationSeconds = detail::secondsSince(generationStart);

  std::fprintf(stderr,
               "prompt: %zu tokens in %.2f s (%.1f tokens/s); generation: "
               "%lld tokens in %.2f s (%.1f tokens/s)\n",
               promptIds.size(), promptSeconds,
               promptIds.size() / std::max(promptSeconds, 1e-9),
               static_cast<long long>(generated), generationSeconds,
               generated / std::max(generationSeconds, 1e-9));
  return 0;
}

} // namespace llmc::commands
