//===- Common.h - helpers shared by the runtime's commands ----------------===//
//
// Argument walking, option-value parsing and a wall clock, for `run`, `bench`
// and `eval`. Plain C++17, no MLIR/LLVM.
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

/// Walks a subcommand's arguments. An option's value may follow inline
/// (`--ctx=512`, `-p=8`) or as the next argument (`--ctx 512`).
class ArgumentCursor {
public:
  ArgumentCursor(int argc, const char *const *argv)
      : argc_(argc), argv_(argv) {}

  /// Moves to the next argument; false when there is none.
  bool next() {
    if (index_ >= argc_)
      return false;
    name_ = argv_[index_++];
    size_t equals = name_.find('=');
    hasInlineValue_ = isOption() && equals != std::string::npos;
    if (hasInlineValue_) {
      inlineValue_ = name_.substr(equals + 1);
      name_.resize(equals);
    }
    return true;
  }
  /// The argument, without an inline value.
  const std::string &name() const { return name_; }
  /// `-x` or `--xy`; a lone `-` and everything else are positional.
  bool isOption() const { return name_.size() > 1 && name_[0] == '-'; }
  /// The option's value: inline, else the next argument (consumed); null
  /// when there is none.
  const char *value() {
    if (hasInlineValue_)
      return inlineValue_.c_str();
    return index_ < argc_ ? argv_[index_++] : nullptr;
  }

private:
  int argc_;
  const char *const *argv_;
  int index_ = 0;
  std::string name_;
  std::string inlineValue_;
  bool hasInlineValue_ = false;
};

inline double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

} // namespace llmc::commands::detail

#endif // LLMC_RUNTIME_COMMANDS_COMMON_H
