//===- Status.h - success or an error message, across the runtime ---------===//
//
// The runtime never crashes or throws on a bad file or request: every
// component returns this. Each component's namespace aliases it
// (`tokenizer::Status`, `cpu::Status`, ...), so there is one type to pass
// between them.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SUPPORT_STATUS_H
#define LLMC_RUNTIME_SUPPORT_STATUS_H

#include <string>
#include <utility>

namespace llmc::runtime {

/// Success, or an error with a message a user can act on.
class Status {
public:
  static Status success() { return Status(); }
  static Status error(std::string message) {
    Status status;
    status.failed_ = true;
    status.message_ = std::move(message);
    return status;
  }
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const std::string &message() const { return message_; }

private:
  bool failed_ = false;
  std::string message_;
};

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_SUPPORT_STATUS_H
