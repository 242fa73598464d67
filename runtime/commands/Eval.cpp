//===- Eval.cpp - `eval`: perplexity of a text file -----------------------===//

#include "runtime/commands/Eval.h"

#include "runtime/commands/Common.h"
#include "runtime/engine/Engine.h"
#include "runtime/kv_cache/KVCache.h"
#include "runtime/loader/Artifact.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace llmc::commands {
namespace {

using runtime::Status;

struct EvalOptions {
  std::string artifactPath;
  std::string perplexityPath;
  int64_t ctx = 0; // 0: min(512, the KV capacity of one sequence)
  int threads = 0;
  std::string dumpLogitsPath;
  /// A full-precision artifact of the same model to compare against, as
  /// llama-perplexity's --kl-divergence does.
  std::string referencePath;
};

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int64_t kDefaultCtx = 512;

const char *kUsage = "usage: %s eval ARTIFACT --perplexity FILE [--ctx N] "
                     "[--threads N] [--dump-logits OUT.npy] "
                     "[--reference FULL.llmc]\n";

std::optional<std::string> parseEvalOptions(int argc, const char *const *argv,
                                            EvalOptions &options) {
  std::string error;
  bool ctxGiven = false;
  detail::ArgumentCursor args(argc, argv);
  while (args.next()) {
    const std::string &arg = args.name();
    if (!args.isOption()) {
      if (!options.artifactPath.empty())
        return "unexpected argument '" + arg + "'";
      options.artifactPath = arg;
      continue;
    }
    if (arg != "--perplexity" && arg != "--ctx" && arg != "--threads" &&
        arg != "--dump-logits" && arg != "--reference")
      return "unknown option '" + arg + "'";
    const char *text = args.value();
    if (!text)
      return arg + " needs a value";
    bool ok = true;
    if (arg == "--perplexity")
      options.perplexityPath = text;
    else if (arg == "--dump-logits")
      options.dumpLogitsPath = text;
    else if (arg == "--reference")
      options.referencePath = text;
    else if (arg == "--ctx") {
      ok = detail::parseNumber(arg, text, options.ctx, error);
      ctxGiven = true;
    } else
      ok = detail::parseNumber(arg, text, options.threads, error);
    if (!ok)
      return error;
  }
  if (options.artifactPath.empty())
    return std::string("missing ARTIFACT");
  if (options.perplexityPath.empty())
    return std::string("missing --perplexity FILE");
  if (ctxGiven && options.ctx < 2)
    return std::string("--ctx must be at least 2");
  if (options.threads < 0)
    return std::string("--threads must be >= 0");
  return std::nullopt;
}

int fail(const char *programName, const std::string &message) {
  std::cerr << programName << ": error: " << message << "\n";
  return kExitFailure;
}

/// Writes the header of a version 1.0 .npy of '<f4' [rows, cols], C order.
void writeNpyHeader(std::ostream &out, int64_t rows, int64_t cols) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                     std::to_string(rows) + ", " + std::to_string(cols) +
                     "), }";
  // magic (6) + version (2) + length (2) + dict + padding + '\n' is a
  // multiple of 64.
  size_t total = 10 + dict.size() + 1;
  size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict.push_back('\n');
  uint16_t length = static_cast<uint16_t>(dict.size());
  out.write("\x93NUMPY\x01\x00", 8);
  char le[2] = {static_cast<char>(length & 0xff),
                static_cast<char>(length >> 8)};
  out.write(le, 2);
  out.write(dict.data(), static_cast<std::streamsize>(dict.size()));
}

/// Positions one sequence of the engine's KV cache holds.
int64_t kvCapacity(const engine::Engine &engine) {
  const kv::KVCacheConfig &kv = engine.kvCache().config();
  return kv.numBlocks * kv.blockTokens;
}

/// log(sum_v exp(row[v])), computed stably in double.
double logSumExp(const float *row, int64_t vocab) {
  double maxLogit = row[0];
  for (int64_t v = 1; v < vocab; ++v)
    maxLogit = std::max(maxLogit, static_cast<double>(row[v]));
  double sum = 0;
  for (int64_t v = 0; v < vocab; ++v)
    sum += std::exp(static_cast<double>(row[v]) - maxLogit);
  return maxLogit + std::log(sum);
}

int64_t argmax(const float *row, int64_t vocab) {
  return std::max_element(row, row + vocab) - row;
}

/// A running mean with its standard error, sqrt((E[x²] − E[x]²) / (n − 1)),
/// as llama-perplexity reports its figures.
struct MeanAndError {
  double sum = 0, sumOfSquares = 0;
  int64_t count = 0;

  void add(double value) {
    sum += value;
    sumOfSquares += value * value;
    ++count;
  }
  double mean() const { return count ? sum / count : 0.0; }
  double standardError() const {
    double m = mean();
    double variance = count ? sumOfSquares / count - m * m : 0.0;
    return count > 1 && variance > 0 ? std::sqrt(variance / (count - 1)) : 0.0;
  }
};

} // namespace

int runEvalCommand(int argc, const char *const *argv, const char *programName) {
  EvalOptions options;
  if (std::optional<std::string> usage =
          parseEvalOptions(argc, argv, options)) {
    std::cerr << programName << " eval: error: " << *usage << "\n";
    std::fprintf(stderr, kUsage, programName);
    return kExitUsage;
  }

  std::string text;
  {
    std::ifstream file(options.perplexityPath, std::ios::binary);
    if (!file)
      return fail(programName, "cannot read '" + options.perplexityPath + "'");
    std::ostringstream contents;
    contents << file.rdbuf();
    if (file.bad())
      return fail(programName, "cannot read '" + options.perplexityPath + "'");
    text = contents.str();
  }
  if (text.empty())
    return fail(programName, "'" + options.perplexityPath + "' is empty");

  std::unique_ptr<loader::Artifact> artifact;
  if (Status status =
          loader::Artifact::open(options.artifactPath, {}, artifact);
      !status.ok())
    return fail(programName, status.message());
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  if (Status status = artifact->loadTokenizer(tokenizer); !status.ok())
    return fail(programName, status.message());
  std::vector<int32_t> ids;
  tokenizer::EncodeOptions encode;
  encode.addSpecialTokens = true;    // BOS where the model adds it
  encode.parseSpecialTokens = false; // the file is plain text
  if (Status status = tokenizer->encode(text, encode, ids); !status.ok())
    return fail(programName, status.message());
  if (ids.size() < 2)
    return fail(programName, "'" + options.perplexityPath + "' holds " +
                                 std::to_string(ids.size()) +
                                 " token(s); perplexity needs at least 2");

  engine::EngineOptions engineOptions;
  engineOptions.threads = options.threads;
  engineOptions.maxSequences = 1;
  std::unique_ptr<engine::Engine> engine;
  if (Status status = engine::Engine::create(*artifact, engineOptions, engine);
      !status.ok())
    return fail(programName, status.message());
  const int64_t vocab = engine->vocabSize();
  int64_t capacity = kvCapacity(*engine);

  // The reference runs over the same token ids: the tokenizer is part of the
  // model, so both artifacts must come from one checkpoint.
  std::unique_ptr<loader::Artifact> referenceArtifact;
  std::unique_ptr<engine::Engine> reference;
  if (!options.referencePath.empty()) {
    if (Status status = loader::Artifact::open(options.referencePath, {},
                                               referenceArtifact);
        !status.ok())
      return fail(programName, status.message());
    if (Status status = engine::Engine::create(*referenceArtifact,
                                               engineOptions, reference);
        !status.ok())
      return fail(programName, status.message());
    if (reference->vocabSize() != vocab)
      return fail(programName,
                  "reference '" + options.referencePath + "' has " +
                      std::to_string(reference->vocabSize()) +
                      " logits per token, '" + options.artifactPath +
                      "' has " + std::to_string(vocab) +
                      "; compare artifacts of the same model");
    std::unique_ptr<tokenizer::Tokenizer> referenceTokenizer;
    std::vector<int32_t> referenceIds;
    if (Status status = referenceArtifact->loadTokenizer(referenceTokenizer);
        !status.ok())
      return fail(programName, status.message());
    if (Status status = referenceTokenizer->encode(text, encode, referenceIds);
        !status.ok())
      return fail(programName, status.message());
    if (referenceIds != ids)
      return fail(programName, "reference '" + options.referencePath +
                                   "' tokenizes '" + options.perplexityPath +
                                   "' differently from '" +
                                   options.artifactPath +
                                   "'; compare artifacts of the same model");
    capacity = std::min(capacity, kvCapacity(*reference));
  }

  int64_t ctx =
      options.ctx > 0 ? options.ctx : std::min<int64_t>(kDefaultCtx, capacity);
  if (ctx > capacity) {
    std::cerr << programName << " eval: error: --ctx " << ctx
              << " exceeds the KV capacity of " << capacity
              << " positions per sequence\n";
    std::fprintf(stderr, kUsage, programName);
    return kExitUsage;
  }

  const int64_t total = static_cast<int64_t>(ids.size());
  // Positions evaluated: every chunk of at least 2 tokens.
  int64_t evaluated = 0;
  for (int64_t begin = 0; begin < total; begin += ctx) {
    int64_t length = std::min(ctx, total - begin);
    if (length >= 2)
      evaluated += length;
  }

  std::ofstream dump;
  if (!options.dumpLogitsPath.empty()) {
    dump.open(options.dumpLogitsPath, std::ios::binary | std::ios::trunc);
    if (!dump)
      return fail(programName, "cannot write '" + options.dumpLogitsPath + "'");
    writeNpyHeader(dump, evaluated, vocab);
  }

  std::cerr << programName << ": " << artifact->describeTarget()
            << " artifact on the cpu backend; " << total << " tokens, ctx "
            << ctx << "\n";

  MeanAndError nll, referenceNll, nllDifference, klDivergence, sameTop1;
  int64_t chunks = 0;
  std::vector<float> logits, referenceLogits;
  auto start = std::chrono::steady_clock::now();
  int64_t step = engine->maxTokens();
  if (reference)
    step = std::min(step, reference->maxTokens());
  for (int64_t chunkBegin = 0; chunkBegin < total; chunkBegin += ctx) {
    const int64_t length = std::min(ctx, total - chunkBegin);
    if (length < 2)
      break;
    ++chunks;
    engine->freeSequence(0);
    if (reference)
      reference->freeSequence(0);
    for (int64_t begin = 0; begin < length; begin += step) {
      const int64_t count = std::min(step, length - begin);
      engine::ForwardBatch batch;
      for (int64_t i = 0; i < count; ++i) {
        batch.tokenIds.push_back(ids[chunkBegin + begin + i]);
        batch.positions.push_back(static_cast<int32_t>(begin + i));
      }
      batch.sequences.push_back({0, count});
      if (Status status = engine->forward(batch, logits); !status.ok())
        return fail(programName, status.message());
      if (reference)
        if (Status status = reference->forward(batch, referenceLogits);
            !status.ok())
          return fail(programName, status.message());
      if (dump.is_open())
        dump.write(reinterpret_cast<const char *>(logits.data()),
                   static_cast<std::streamsize>(count * vocab * sizeof(float)));
      // Row i predicts the chunk's token begin + i + 1.
      for (int64_t i = 0; i < count; ++i) {
        const int64_t position = begin + i;
        if (position + 1 >= length)
          break;
        const int32_t target = ids[chunkBegin + position + 1];
        const float *row = logits.data() + i * vocab;
        const double logZ = logSumExp(row, vocab);
        const double tokenNll = logZ - static_cast<double>(row[target]);
        nll.add(tokenNll);
        if (!reference)
          continue;
        const float *referenceRow = referenceLogits.data() + i * vocab;
        const double referenceLogZ = logSumExp(referenceRow, vocab);
        const double referenceTokenNll =
            referenceLogZ - static_cast<double>(referenceRow[target]);
        referenceNll.add(referenceTokenNll);
        nllDifference.add(tokenNll - referenceTokenNll);
        // KL(reference || evaluated) = sum_v p_ref(v) (log p_ref(v) -
        // log p(v)).
        double kl = 0;
        for (int64_t v = 0; v < vocab; ++v) {
          double referenceLogP = referenceRow[v] - referenceLogZ;
          double logP = row[v] - logZ;
          kl += std::exp(referenceLogP) * (referenceLogP - logP);
        }
        klDivergence.add(std::max(kl, 0.0));
        sameTop1.add(argmax(row, vocab) == argmax(referenceRow, vocab) ? 1.0
                                                                      : 0.0);
      }
    }
    engine->freeSequence(0);
    if (reference)
      reference->freeSequence(0);
  }
  double seconds = detail::secondsSince(start);
  if (dump.is_open()) {
    dump.close();
    if (!dump)
      return fail(programName, "cannot write '" + options.dumpLogitsPath + "'");
  }

  // As llama-perplexity: err(PPL) = PPL × stderr(NLL).
  const double ppl = std::exp(nll.mean());
  std::printf("PPL = %.4f ± %.4f\n", ppl, ppl * nll.standardError());
  std::printf("mean NLL = %.6f over %lld scored tokens (%lld tokens, %lld "
              "chunk(s) of ctx %lld)\n",
              nll.mean(), static_cast<long long>(nll.count),
              static_cast<long long>(evaluated), static_cast<long long>(chunks),
              static_cast<long long>(ctx));
  if (reference) {
    const double referencePpl = std::exp(referenceNll.mean());
    const double ratio = std::exp(nllDifference.mean());
    std::printf("reference PPL = %.4f ± %.4f (%s)\n", referencePpl,
                referencePpl * referenceNll.standardError(),
                options.referencePath.c_str());
    std::printf("PPL ratio = %.6f ± %.6f (ΔPPL %+.3f %%)\n", ratio,
                ratio * nllDifference.standardError(), (ratio - 1.0) * 100.0);
    std::printf("mean KL divergence = %.6f ± %.6f\n", klDivergence.mean(),
                klDivergence.standardError());
    // The error of a proportion: sqrt(p (1 - p) / (n - 1)).
    const double p = sameTop1.mean();
    const double pError =
        sameTop1.count > 1 ? std::sqrt(p * (1 - p) / (sameTop1.count - 1)) : 0;
    std::printf("same top-1 = %.3f ± %.3f %%\n", p * 100.0, pError * 100.0);
  }
  std::fflush(stdout);
  std::fprintf(stderr, "%lld tokens in %.2f s (%.1f tokens/s)\n",
               static_cast<long long>(evaluated), seconds,
               evaluated / std::max(seconds, 1e-9));
  if (!options.dumpLogitsPath.empty())
    std::fprintf(stderr, "logits [%lld, %lld] written to %s\n",
                 static_cast<long long>(evaluated),
                 static_cast<long long>(vocab), options.dumpLogitsPath.c_str());
  return 0;
}

} // namespace llmc::commands
