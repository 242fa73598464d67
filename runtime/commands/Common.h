//===- Common.h - helpers shared by the runtime's commands ----------------===//
//
// Option-value parsing and a wall clock, for `run`, `bench` and `eval`.
// Plain C++17, no MLIR/LLVM.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_COMMANDS_COMMON_H
#define LLMC_RUNTIME_COMMANDS_COMMON_H

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>
#include <type_traits>

namespace llmc::commands::detail {

/// Parses a number option's value; false (with a message) when it is not one.
template <typename T>
bool parseNumber(const std::string &name, const char *text, T &value,
                 std::string &error) {
  char *end = nullptr;
  errno = 0;
  if constexpr (std::is_floating_point_v<T>)
    value = static_cast<T>(std::strtod(text, &end));
  else
    value = static_cast<T>(std::strtoll(text, &end, 10));
  if (end == text || *end != '\0' || errno != 0) {
    error = name + " expects a number, got '" + text + "'";
    return false;
  }
  return true;
}

inline double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

} // namespace llmc::commands::detail

#endif // LLMC_RUNTIME_COMMANDS_COMMON_H
