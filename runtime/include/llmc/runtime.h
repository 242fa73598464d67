/*===- llmc/runtime.h - the llmc runtime's C API ---------------------------===
 *
 * Open a compiled `.llmc` artifact, create an engine on a device, submit
 * generation requests and stream their text.
 *
 *   llmc_artifact *artifact; llmc_engine *engine; llmc_request *request;
 *   llmc_artifact_open("model.llmc", &artifact);
 *   llmc_engine_options eo; llmc_engine_options_init(&eo);
 *   llmc_engine_create(artifact, &eo, &engine);
 *   llmc_request_params rp; llmc_request_params_init(&rp);
 *   rp.prompt = "Hello"; rp.max_tokens = 32;
 *   llmc_request_submit(engine, &rp, &request);
 *   char buf[256]; size_t n; int finished = 0;
 *   while (!finished && llmc_request_next(request, buf, sizeof buf, &n,
 *                                         &finished) == LLMC_OK)
 *     fwrite(buf, 1, n, stdout);
 *   llmc_request_free(request); llmc_engine_destroy(engine);
 *   llmc_artifact_close(artifact);
 *
 * Conventions:
 * - Every function returns an llmc_status; LLMC_OK (0) is success. No C++
 *   exception crosses this boundary (out of memory is
 * LLMC_ERROR_OUT_OF_MEMORY).
 * - On failure the message is stored (a) for the calling thread and (b) on
 *   the handle the call was made on (if any); read it with llmc_last_error.
 *   Successful calls leave both messages unchanged.
 * - NULL for a required pointer is LLMC_ERROR_INVALID_ARGUMENT, never a crash.
 * - Out-parameters are set to NULL/0 on failure.
 * - Handles are reference counted internally: an artifact or engine may be
 *   closed/destroyed while objects created from it are alive; it is freed
 *   when the last one goes.
 * - Generation is synchronous: llmc_request_next runs the model on the
 *   calling thread (the prompt's prefill on the first call, then one forward
 *   step per generated token). Calls on one engine (from its requests) are
 *   serialized by an internal lock; a single handle must not be used from
 *   two threads at once, except llmc_request_cancel, which may be called
 *   from any thread at any time.
 * - Backends: "cpu" only (the CUDA backend is not implemented yet).
 *
 *===----------------------------------------------------------------------===*/

#ifndef LLMC_RUNTIME_H
#define LLMC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum llmc_status {
  LLMC_OK = 0,
  /** A NULL pointer, an out-of-range parameter or an unknown option. */
  LLMC_ERROR_INVALID_ARGUMENT = 1,
  /** The artifact could not be read or verified (missing, corrupt, ...). */
  LLMC_ERROR_LOAD = 2,
  /** A device or feature this runtime does not have. */
  LLMC_ERROR_UNSUPPORTED = 3,
  /** The engine already holds max_sequences live requests. */
  LLMC_ERROR_BUSY = 4,
  /** Tokenizing, running the model or sampling failed. */
  LLMC_ERROR_RUNTIME = 5,
  LLMC_ERROR_OUT_OF_MEMORY = 6,
  /** A bug: an unexpected internal failure. */
  LLMC_ERROR_INTERNAL = 7
} llmc_status;

typedef struct llmc_artifact llmc_artifact;
typedef struct llmc_engine llmc_engine;
typedef struct llmc_request llmc_request;

typedef struct llmc_engine_options {
  /** Backend: NULL or "cpu" (default), "cuda" or "cuda:N" (the CUDA
   *  backend, docs/runtime-cuda.md). */
  const char *device;
  /** Kernel threads, the caller included; 0 (default): one per hardware
   *  thread. Must be >= 0. */
  int threads;
  /** Requests that may be live (submitted, not freed) at once; each holds a
   *  KV-cache sequence. 0 (default) means 1. Must be >= 0. */
  int max_sequences;
} llmc_engine_options;

typedef struct llmc_request_params {
  /** UTF-8 prompt, NUL-terminated, non-empty. Copied at submit. */
  const char *prompt;
  /** Nonzero: render the prompt as one user turn with the model's chat
   *  template (and the generation prompt). Zero (default): raw text with the
   *  tokenizer's special tokens (BOS). */
  int chat;
  /** Most tokens to generate, > 0. Default 128. */
  int64_t max_tokens;
  /** 0: greedy. Must be >= 0 and finite. Default 1. */
  float temperature;
  /** Keep the k most likely tokens; 0 (default) keeps all. >= 0. */
  int32_t top_k;
  /** Nucleus sampling threshold in (0, 1]; default 1 (off). */
  float top_p;
  /** > 0; default 1 (off). */
  float repetition_penalty;
  /** Seed of the request's random stream (same seed: same tokens). */
  uint64_t seed;
} llmc_request_params;

typedef enum llmc_finish_reason {
  LLMC_FINISH_NONE = 0,      /**< still generating */
  LLMC_FINISH_STOP = 1,      /**< the model produced a stop token */
  LLMC_FINISH_LENGTH = 2,    /**< max_tokens reached */
  LLMC_FINISH_CANCELLED = 3, /**< llmc_request_cancel */
  LLMC_FINISH_ERROR = 4      /**< a call failed; the request is over */
} llmc_finish_reason;

typedef struct llmc_stats {
  /** Tokens of the encoded prompt (known after submit). */
  int64_t prompt_tokens;
  /** Tokens sampled so far, a final stop token included. */
  int64_t generated_tokens;
  /** Wall time of the prompt's prefill (0 before the first next call). */
  double prompt_seconds;
  /** Wall time of sampling, decoding and decode steps so far. */
  double generation_seconds;
  llmc_finish_reason finish_reason;
} llmc_stats;

/** Fills `options` with the defaults documented above. */
void llmc_engine_options_init(llmc_engine_options *options);
/** Fills `params` with the defaults documented above (prompt NULL). */
void llmc_request_params_init(llmc_request_params *params);

/** Human-readable name of a status ("ok", "invalid argument", ...); never
 *  NULL. */
const char *llmc_status_string(llmc_status status);

/** The last error message: with `handle` NULL, that of the calling thread's
 *  last failed call; with an llmc_artifact*, llmc_engine* or llmc_request*,
 *  that of the last failed call made on that handle ("" if none). Valid
 *  until the next failing call on the same thread / handle. Never NULL. */
const char *llmc_last_error(const void *handle);

/** Opens and verifies the artifact at `path` and loads its tokenizer.
 *  Errors: INVALID_ARGUMENT (NULL path/out), LOAD (missing or bad file; the
 *  message names the path; or the artifact has no tokenizer). */
llmc_status llmc_artifact_open(const char *path, llmc_artifact **artifact);

/** Releases the caller's reference; NULL is a no-op. */
void llmc_artifact_close(llmc_artifact *artifact);

/** Creates an engine running `artifact`'s plan. `options` may be NULL
 *  (defaults). Errors: INVALID_ARGUMENT, UNSUPPORTED (device), RUNTIME. */
llmc_status llmc_engine_create(llmc_artifact *artifact,
                               const llmc_engine_options *options,
                               llmc_engine **engine);

/** Releases the caller's reference; NULL is a no-op. */
void llmc_engine_destroy(llmc_engine *engine);

/** Validates `params`, encodes the prompt and reserves a KV-cache sequence.
 *  No model step runs here (the prefill runs in the first next call).
 *  Errors: INVALID_ARGUMENT (NULL, empty prompt, bad sampling parameters,
 *  max_tokens <= 0, prompt encodes to no tokens), BUSY, RUNTIME. */
llmc_status llmc_request_submit(llmc_engine *engine,
                                const llmc_request_params *params,
                                llmc_request **request);

/** Streams the next piece of text. Generates at most one token per call
 *  (the first call also runs the prefill) unless text from an earlier token
 *  is still pending. Writes up to `capacity - 1` bytes of UTF-8 and a NUL to
 *  `buffer` (capacity must be >= 2; text that does not fit is returned by
 *  the following calls) and sets `*written` to the bytes written (0 is
 *  possible: a token may be an incomplete UTF-8 sequence or a special
 *  token). Sets `*finished` to 1 when no more text will come (the bytes of
 *  this call are still valid); further calls return LLMC_OK, 0 bytes,
 *  finished 1. On an error the request is finished (finish reason ERROR). */
llmc_status llmc_request_next(llmc_request *request, char *buffer,
                              size_t capacity, size_t *written, int *finished);

/** Asks the request to stop: the next llmc_request_next returns no text and
 *  finished 1 (pending text is dropped). Safe from any thread. Idempotent;
 *  no effect on a finished request. */
llmc_status llmc_request_cancel(llmc_request *request);

/** Copies the request's counters and timings into `*stats`. */
llmc_status llmc_request_stats(const llmc_request *request, llmc_stats *stats);

/** Frees the request and its KV-cache sequence; NULL is a no-op. */
void llmc_request_free(llmc_request *request);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LLMC_RUNTIME_H */
