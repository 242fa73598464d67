//===- Status.h - success or an error message, for the CPU backend --------===//

#ifndef LLMC_RUNTIME_BACKENDS_CPU_STATUS_H
#define LLMC_RUNTIME_BACKENDS_CPU_STATUS_H

#include <string>
#include <utility>

namespace llmc::cpu {

/// Success, or an error with a message a user can act on. The runtime never
/// crashes on a bad request; kernels that see request data return this.
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

} // namespace llmc::cpu

#endif // LLMC_RUNTIME_BACKENDS_CPU_STATUS_H
