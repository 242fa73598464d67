//===- Runtime.cpp - the C API over the engine and its parts --------------===//
//
// Implements llmc/runtime.h with the same building blocks as `llmc-runtime
// run` (runtime/commands/Run.cpp): Artifact::open, the artifact's tokenizer,
// the chat template, Engine (chunked prefill, one decode step per token),
// Sampler and StreamDecoder. Every entry point catches everything: no C++
// exception crosses the C boundary.
//
//===----------------------------------------------------------------------===//

#include "llmc/runtime.h"

#include "runtime/engine/Engine.h"
#include "runtime/loader/Artifact.h"
#include "runtime/sampler/Sampler.h"
#include "runtime/tokenizer/ChatTemplate.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

using llmc::runtime::Status;
namespace loader = llmc::loader;
namespace engine = llmc::engine;
namespace sampler = llmc::sampler;
namespace tokenizer = llmc::tokenizer;

namespace {

thread_local std::string threadLastError;

/// First member of every handle, so llmc_last_error can read any of them.
struct HandleBase {
  std::string lastError;
};

/// What an artifact handle owns; shared with engines and requests.
struct ArtifactState {
  std::unique_ptr<loader::Artifact> artifact;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
};

struct EngineState {
  std::shared_ptr<ArtifactState> artifact;
  std::unique_ptr<engine::Engine> engine;
  std::mutex mutex; // guards engine and freeSequences
  std::vector<int64_t> freeSequences;
  ~EngineState() { engine.reset(); } // before the artifact it reads
};

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

} // namespace

struct llmc_artifact {
  HandleBase base;
  std::shared_ptr<ArtifactState> state;
};

struct llmc_engine {
  HandleBase base;
  std::shared_ptr<EngineState> state;
};

struct llmc_request {
  HandleBase base;
  std::shared_ptr<EngineState> engine;
  int64_t sequenceId = 0;
  bool holdsSequence = false;
  sampler::Sampler sampler;
  std::unique_ptr<tokenizer::StreamDecoder> decoder;
  std::vector<int32_t> promptIds;
  std::vector<int32_t> tokens; // prompt + generated tokens fed so far
  std::vector<int32_t> stopIds;
  std::vector<float> logits;
  int64_t maxTokens = 0;
  bool prefilled = false;
  bool pendingForward = false; // tokens.back() sampled but not yet fed
  std::string pending;         // text not yet returned
  std::atomic<bool> cancelled{false};
  llmc_stats stats{};

  void releaseSequence() {
    if (!holdsSequence)
      return;
    std::lock_guard<std::mutex> lock(engine->mutex);
    engine->engine->freeSequence(sequenceId);
    engine->freeSequences.push_back(sequenceId);
    holdsSequence = false;
  }
  ~llmc_request() { releaseSequence(); }
};

namespace {

llmc_status fail(HandleBase *handle, llmc_status code, std::string message) {
  threadLastError = message;
  if (handle)
    handle->lastError = std::move(message);
  return code;
}

/// Runs `body` (returning llmc_status), turning exceptions into statuses.
template <typename Body> llmc_status guarded(HandleBase *handle, Body &&body) {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return fail(handle, LLMC_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception &e) {
    return fail(handle, LLMC_ERROR_INTERNAL,
                std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(handle, LLMC_ERROR_INTERNAL, "internal error");
  }
}

/// One step of a request: prefill or feed the last token, then sample one.
llmc_status step(llmc_request *r) {
  HandleBase *h = &r->base;
  engine::Engine &eng = *r->engine->engine;
  const int64_t vocab = eng.vocabSize();
  const int32_t seq = static_cast<int32_t>(r->sequenceId);
  if (!r->prefilled) {
    auto start = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(r->engine->mutex);
    for (size_t begin = 0; begin < r->promptIds.size();) {
      size_t count = std::min<size_t>(r->promptIds.size() - begin,
                                      static_cast<size_t>(eng.maxTokens()));
      engine::ForwardBatch batch;
      batch.tokenIds.assign(r->promptIds.begin() + begin,
                            r->promptIds.begin() + begin + count);
      for (size_t i = 0; i < count; ++i)
        batch.positions.push_back(static_cast<int32_t>(begin + i));
      batch.sequences.push_back({seq, static_cast<int64_t>(count)});
      if (Status status = eng.forward(batch, r->logits); !status.ok())
        return fail(h, LLMC_ERROR_RUNTIME, status.message());
      begin += count;
    }
    r->prefilled = true;
    r->stats.prompt_seconds = secondsSince(start);
  }
  auto start = std::chrono::steady_clock::now();
  if (r->pendingForward) {
    std::lock_guard<std::mutex> lock(r->engine->mutex);
    engine::ForwardBatch batch;
    batch.tokenIds = {r->tokens.back()};
    batch.positions = {static_cast<int32_t>(r->tokens.size() - 1)};
    batch.sequences = {{seq, 1}};
    if (Status status = eng.forward(batch, r->logits); !status.ok())
      return fail(h, LLMC_ERROR_RUNTIME, status.message());
    r->pendingForward = false;
  }
  const float *lastRow = r->logits.data() + (r->logits.size() - vocab);
  int32_t next = 0;
  if (Status status =
          r->sampler.sample(lastRow, vocab, r->tokens.data(),
                            static_cast<int64_t>(r->tokens.size()), next);
      !status.ok())
    return fail(h, LLMC_ERROR_RUNTIME, status.message());
  ++r->stats.generated_tokens;
  bool stop =
      std::find(r->stopIds.begin(), r->stopIds.end(), next) != r->stopIds.end();
  if (!stop) {
    if (Status status = r->decoder->push(next, r->pending); !status.ok())
      return fail(h, LLMC_ERROR_RUNTIME, status.message());
    r->tokens.push_back(next);
    r->pendingForward = true;
  }
  if (stop || r->stats.generated_tokens >= r->maxTokens) {
    r->stats.finish_reason = stop ? LLMC_FINISH_STOP : LLMC_FINISH_LENGTH;
    std::string rest;
    if (Status status = r->decoder->finish(rest); status.ok())
      r->pending += rest;
  }
  r->stats.generation_seconds += secondsSince(start);
  return LLMC_OK;
}

} // namespace

extern "C" {

void llmc_engine_options_init(llmc_engine_options *options) {
  if (!options)
    return;
  options->device = "cpu";
  options->threads = 0;
  options->max_sequences = 0;
}

void llmc_request_params_init(llmc_request_params *params) {
  if (!params)
    return;
  sampler::SamplingParams defaults;
  params->prompt = nullptr;
  params->chat = 0;
  params->max_tokens = 128;
  params->temperature = defaults.temperature;
  params->top_k = defaults.topK;
  params->top_p = defaults.topP;
  params->repetition_penalty = defaults.repetitionPenalty;
  params->seed = defaults.seed;
}

const char *llmc_status_string(llmc_status status) {
  switch (status) {
  case LLMC_OK:
    return "ok";
  case LLMC_ERROR_INVALID_ARGUMENT:
    return "invalid argument";
  case LLMC_ERROR_LOAD:
    return "load error";
  case LLMC_ERROR_UNSUPPORTED:
    return "unsupported";
  case LLMC_ERROR_BUSY:
    return "busy";
  case LLMC_ERROR_RUNTIME:
    return "runtime error";
  case LLMC_ERROR_OUT_OF_MEMORY:
    return "out of memory";
  case LLMC_ERROR_INTERNAL:
    return "internal error";
  }
  return "unknown status";
}

const char *llmc_last_error(const void *handle) {
  if (!handle)
    return threadLastError.c_str();
  return static_cast<const HandleBase *>(handle)->lastError.c_str();
}

llmc_status llmc_artifact_open(const char *path, llmc_artifact **artifact) {
  if (artifact)
    *artifact = nullptr;
  return guarded(nullptr, [&]() -> llmc_status {
    if (!path || !artifact)
      return fail(nullptr, LLMC_ERROR_INVALID_ARGUMENT,
                  "llmc_artifact_open: path and artifact must not be NULL");
    auto state = std::make_shared<ArtifactState>();
    if (Status status = loader::Artifact::open(path, {}, state->artifact);
        !status.ok()) {
      std::string message = status.message();
      if (message.find(path) == std::string::npos)
        message = std::string(path) + ": " + message;
      return fail(nullptr, LLMC_ERROR_LOAD, message);
    }
    if (Status status = state->artifact->loadTokenizer(state->tokenizer);
        !status.ok())
      return fail(nullptr, LLMC_ERROR_LOAD, status.message());
    auto handle = std::make_unique<llmc_artifact>();
    handle->state = std::move(state);
    *artifact = handle.release();
    return LLMC_OK;
  });
}

void llmc_artifact_close(llmc_artifact *artifact) { delete artifact; }

llmc_status llmc_engine_create(llmc_artifact *artifact,
                               const llmc_engine_options *options,
                               llmc_engine **engine) {
  if (engine)
    *engine = nullptr;
  HandleBase *h = artifact ? &artifact->base : nullptr;
  return guarded(h, [&]() -> llmc_status {
    if (!artifact || !engine)
      return fail(h, LLMC_ERROR_INVALID_ARGUMENT,
                  "llmc_engine_create: artifact and engine must not be NULL");
    llmc_engine_options opts;
    llmc_engine_options_init(&opts);
    if (options)
      opts = *options;
    if (opts.threads < 0 || opts.max_sequences < 0)
      return fail(h, LLMC_ERROR_INVALID_ARGUMENT,
                  "llmc_engine_create: threads and max_sequences must be >= 0");
    auto state = std::make_shared<EngineState>();
    state->artifact = artifact->state;
    engine::EngineOptions engineOptions;
    engineOptions.threads = opts.threads;
    engineOptions.maxSequences =
        opts.max_sequences > 0 ? opts.max_sequences : 1;
    engineOptions.device = opts.device ? opts.device : "cpu";
    if (Status status = engine::Engine::create(*state->artifact->artifact,
                                               engineOptions, state->engine);
        !status.ok())
      // "--device=...: ..." is a device this machine or build lacks.
      return fail(h,
                  status.message().rfind("--device=", 0) == 0
                      ? LLMC_ERROR_UNSUPPORTED
                      : LLMC_ERROR_RUNTIME,
                  status.message());
    for (int64_t s = engineOptions.maxSequences - 1; s >= 0; --s)
      state->freeSequences.push_back(s);
    auto handle = std::make_unique<llmc_engine>();
    handle->state = std::move(state);
    *engine = handle.release();
    return LLMC_OK;
  });
}

void llmc_engine_destroy(llmc_engine *engine) { delete engine; }

llmc_status llmc_request_submit(llmc_engine *engine,
                                const llmc_request_params *params,
                                llmc_request **request) {
  if (request)
    *request = nullptr;
  HandleBase *h = engine ? &engine->base : nullptr;
  return guarded(h, [&]() -> llmc_status {
    if (!engine || !params || !request)
      return fail(h, LLMC_ERROR_INVALID_ARGUMENT,
                  "llmc_request_submit: engine, params and request must not "
                  "be NULL");
    if (!params->prompt || !*params->prompt)
      return fail(h, LLMC_ERROR_INVALID_ARGUMENT,
                  "llmc_request_submit: the prompt is NULL or empty");
    if (params->max_tokens <= 0)
      return fail(h, LLMC_ERROR_INVALID_ARGUMENT,
                  "llmc_request_submit: max_tokens must be positive");
    sampler::SamplingParams sampling;
    sampling.temperature = params->temperature;
    sampling.topK = params->top_k;
    sampling.topP = params->top_p;
    sampling.repetitionPenalty = params->repetition_penalty;
    sampling.seed = params->seed;
    auto r = std::make_unique<llmc_request>();
    if (Status status = sampler::Sampler::create(sampling, r->sampler);
        !status.ok())
      return fail(h, LLMC_ERROR_INVALID_ARGUMENT, status.message());
    const tokenizer::Tokenizer &tok = *engine->state->artifact->tokenizer;
    if (Status status = tokenizer::encodePrompt(
            tok, params->prompt, params->chat != 0, r->promptIds);
        !status.ok())
      return fail(h, LLMC_ERROR_INVALID_ARGUMENT, status.message());
    if (r->promptIds.empty())
      return fail(h, LLMC_ERROR_INVALID_ARGUMENT,
                  "the prompt encodes to no tokens");
    r->engine = engine->state;
    {
      std::lock_guard<std::mutex> lock(r->engine->mutex);
      if (r->engine->freeSequences.empty())
        return fail(h, LLMC_ERROR_BUSY,
                    "llmc_request_submit: the engine already holds "
                    "max_sequences live requests; free one first");
      r->sequenceId = r->engine->freeSequences.back();
      r->engine->freeSequences.pop_back();
      r->holdsSequence = true;
    }
    r->tokens = r->promptIds;
    r->stopIds = tok.stopIds();
    r->maxTokens = params->max_tokens;
    r->decoder = std::make_unique<tokenizer::StreamDecoder>(
        tok, tokenizer::DecodeOptions{/*skipSpecialTokens=*/true});
    r->stats.prompt_tokens = static_cast<int64_t>(r->promptIds.size());
    *request = r.release();
    return LLMC_OK;
  });
}

llmc_status llmc_request_next(llmc_request *request, char *buffer,
                              size_t capacity, size_t *written, int *finished) {
  if (written)
    *written = 0;
  if (finished)
    *finished = 0;
  HandleBase *h = request ? &request->base : nullptr;
  return guarded(h, [&]() -> llmc_status {
    if (!request || !buffer || !written || !finished)
      return fail(h, LLMC_ERROR_INVALID_ARGUMENT,
                  "llmc_request_next: request, buffer, written and finished "
                  "must not be NULL");
    if (capacity < 2)
      return fail(h, LLMC_ERROR_INVALID_ARGUMENT,
                  "llmc_request_next: capacity must be at least 2");
    llmc_request *r = request;
    if (r->cancelled.load() && r->stats.finish_reason == LLMC_FINISH_NONE) {
      r->stats.finish_reason = LLMC_FINISH_CANCELLED;
      r->pending.clear();
    }
    if (r->stats.finish_reason == LLMC_FINISH_CANCELLED)
      r->pending.clear();
    if (r->pending.empty() && r->stats.finish_reason == LLMC_FINISH_NONE) {
      llmc_status status = step(r);
      if (status != LLMC_OK) {
        r->stats.finish_reason = LLMC_FINISH_ERROR;
        r->pending.clear();
        r->releaseSequence();
        *finished = 1;
        buffer[0] = '\0';
        return status;
      }
    }
    size_t n = std::min(r->pending.size(), capacity - 1);
    std::memcpy(buffer, r->pending.data(), n);
    buffer[n] = '\0';
    r->pending.erase(0, n);
    *written = n;
    if (r->stats.finish_reason != LLMC_FINISH_NONE && r->pending.empty()) {
      *finished = 1;
      r->releaseSequence();
    }
    return LLMC_OK;
  });
}

llmc_status llmc_request_cancel(llmc_request *request) {
  if (!request)
    return fail(nullptr, LLMC_ERROR_INVALID_ARGUMENT,
                "llmc_request_cancel: request must not be NULL");
  request->cancelled.store(true);
  return LLMC_OK;
}

llmc_status llmc_request_stats(const llmc_request *request, llmc_stats *stats) {
  if (!request || !stats)
    return fail(nullptr, LLMC_ERROR_INVALID_ARGUMENT,
                "llmc_request_stats: request and stats must not be NULL");
  *stats = request->stats;
  return LLMC_OK;
}

void llmc_request_free(llmc_request *request) {
  try {
    delete request;
  } catch (...) {
  }
}

} // extern "C"
