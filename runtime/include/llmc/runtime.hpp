//===- llmc/runtime.hpp - RAII C++ wrapper over llmc/runtime.h
//-------------===//
//
// Header only. Errors become llmc::Error exceptions (thrown on the C++ side
// of the boundary, carrying the status and llmc_last_error's message).
//
//   llmc::Artifact artifact("model.llmc");
//   llmc::Engine engine(artifact);            // cpu, default threads
//   llmc::RequestParams params("Hello");
//   params.max_tokens = 32;
//   llmc::Request request = engine.submit(params);
//   std::string piece;
//   while (request.next(piece)) std::cout << piece;
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_HPP
#define LLMC_RUNTIME_HPP

#include "llmc/runtime.h"

#include <stdexcept>
#include <string>
#include <utility>

namespace llmc {

/// A failed C API call.
class Error : public std::runtime_error {
public:
  Error(llmc_status status, const std::string &message)
      : std::runtime_error(message), status_(status) {}
  llmc_status status() const { return status_; }

private:
  llmc_status status_;
};

namespace detail {
inline void check(llmc_status status, const void *handle) {
  if (status != LLMC_OK) {
    const char *message = llmc_last_error(handle);
    if (!*message)
      message = llmc_last_error(nullptr);
    throw Error(status, message);
  }
}
} // namespace detail

/// llmc_engine_options with its defaults filled in.
struct EngineOptions : llmc_engine_options {
  EngineOptions() { llmc_engine_options_init(this); }
};

/// llmc_request_params with its defaults filled in. The prompt string is
/// kept in `prompt_text`; call prompt_ptr() only through Engine::submit.
struct RequestParams : llmc_request_params {
  RequestParams() { llmc_request_params_init(this); }
  explicit RequestParams(std::string text) : RequestParams() {
    prompt_text = std::move(text);
  }
  std::string prompt_text;
};

class Artifact {
public:
  explicit Artifact(const std::string &path) {
    detail::check(llmc_artifact_open(path.c_str(), &handle_), nullptr);
  }
  ~Artifact() { llmc_artifact_close(handle_); }
  Artifact(Artifact &&other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)) {}
  Artifact &operator=(Artifact &&other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }
  Artifact(const Artifact &) = delete;
  Artifact &operator=(const Artifact &) = delete;
  llmc_artifact *get() const { return handle_; }

private:
  llmc_artifact *handle_ = nullptr;
};

class Request {
public:
  explicit Request(llmc_request *handle) : handle_(handle) {}
  ~Request() { llmc_request_free(handle_); }
  Request(Request &&other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)) {}
  Request &operator=(Request &&other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }
  Request(const Request &) = delete;
  Request &operator=(const Request &) = delete;

  /// Replaces `piece` with the next text (possibly empty); false once the
  /// request is finished and `piece` holds its last text.
  bool next(std::string &piece) {
    char buffer[256];
    size_t written = 0;
    int finished = 0;
    detail::check(
        llmc_request_next(handle_, buffer, sizeof buffer, &written, &finished),
        handle_);
    piece.assign(buffer, written);
    return !finished;
  }
  /// Generates until finished and returns all the text.
  std::string readAll() {
    std::string text, piece;
    bool more = true;
    while (more) {
      more = next(piece);
      text += piece;
    }
    return text;
  }
  void cancel() { detail::check(llmc_request_cancel(handle_), handle_); }
  llmc_stats stats() const {
    llmc_stats s;
    detail::check(llmc_request_stats(handle_, &s), handle_);
    return s;
  }
  llmc_request *get() const { return handle_; }

private:
  llmc_request *handle_ = nullptr;
};

class Engine {
public:
  explicit Engine(const Artifact &artifact,
                  const EngineOptions &options = EngineOptions()) {
    detail::check(llmc_engine_create(artifact.get(), &options, &handle_),
                  artifact.get());
  }
  ~Engine() { llmc_engine_destroy(handle_); }
  Engine(Engine &&other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)) {}
  Engine &operator=(Engine &&other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }
  Engine(const Engine &) = delete;
  Engine &operator=(const Engine &) = delete;

  Request submit(const RequestParams &params) {
    llmc_request_params raw = params;
    raw.prompt = params.prompt_text.c_str();
    llmc_request *request = nullptr;
    detail::check(llmc_request_submit(handle_, &raw, &request), handle_);
    return Request(request);
  }
  llmc_engine *get() const { return handle_; }

private:
  llmc_engine *handle_ = nullptr;
};

} // namespace llmc

#endif // LLMC_RUNTIME_HPP
