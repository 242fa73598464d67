/* Compiled as C99: the C API header must be plain C. Called from
 * runtime_api_test.cpp. Returns 0 on success, else the failing step. */
#include "llmc/runtime.h"

#include <string.h>

int llmc_api_c_smoke(const char *artifact_path, char *text, size_t capacity) {
  llmc_artifact *artifact = NULL;
  llmc_engine *engine = NULL;
  llmc_request *request = NULL;
  llmc_engine_options engine_options;
  llmc_request_params params;
  llmc_stats stats;
  size_t used = 0;
  int finished = 0;
  int result = 0;

  if (llmc_artifact_open(artifact_path, &artifact) != LLMC_OK)
    return 1;
  llmc_engine_options_init(&engine_options);
  engine_options.threads = 1;
  if (llmc_engine_create(artifact, &engine_options, &engine) != LLMC_OK) {
    result = 2;
    goto done;
  }
  llmc_request_params_init(&params);
  params.prompt = "Hello world";
  params.max_tokens = 8;
  params.temperature = 0.0f;
  if (llmc_request_submit(engine, &params, &request) != LLMC_OK) {
    result = 3;
    goto done;
  }
  text[0] = '\0';
  while (!finished) {
    char piece[16];
    size_t written = 0;
    if (llmc_request_next(request, piece, sizeof piece, &written, &finished) !=
        LLMC_OK) {
      result = 4;
      goto done;
    }
    if (used + written + 1 > capacity) {
      result = 5;
      goto done;
    }
    memcpy(text + used, piece, written);
    used += written;
    text[used] = '\0';
  }
  if (llmc_request_stats(request, &stats) != LLMC_OK ||
      stats.generated_tokens < 1 || stats.generated_tokens > 8)
    result = 6;
done:
  llmc_request_free(request);
  llmc_engine_destroy(engine);
  llmc_artifact_close(artifact);
  return result;
}
