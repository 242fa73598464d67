// Runs a libFuzzer target once over every file of its committed corpus, so the
// normal (GCC, unsanitized) build checks that no known input crashes a parser.
// Real fuzzing uses clang's libFuzzer instead of this main: scripts/fuzz.sh.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace {

bool replayFile(const std::filesystem::path &path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    std::fprintf(stderr, "error: cannot read %s\n", path.c_str());
    return false;
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)),
                             std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  return true;
}

} // namespace

int main(int argc, char **argv) {
  size_t replayed = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path input(argv[i]);
    if (std::filesystem::is_directory(input)) {
      for (const auto &entry : std::filesystem::directory_iterator(input)) {
        if (!entry.is_regular_file())
          continue;
        if (!replayFile(entry.path()))
          return 1;
        ++replayed;
      }
    } else {
      if (!replayFile(input))
        return 1;
      ++replayed;
    }
  }
  std::printf("replayed %zu inputs\n", replayed);
  return replayed == 0 ? 1 : 0;
}
