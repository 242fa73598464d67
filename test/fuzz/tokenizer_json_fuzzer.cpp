// libFuzzer target: a tokenizer.json loaded from arbitrary bytes, then, when
// it loads, a fixed mixed-script text encoded and decoded with it.

#include "runtime/tokenizer/Tokenizer.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string json(reinterpret_cast<const char *>(data), size);
  std::unique_ptr<llmc::tokenizer::Tokenizer> tokenizer;
  if (!llmc::tokenizer::Tokenizer::fromHuggingFaceJson(json, "", tokenizer)
           .ok())
    return 0;
  static const std::string text =
      "Hello, world!  12345 <|im_start|>user\n\tcode(); 你好 🙂 naïve\xff";
  std::vector<int32_t> ids;
  if (!tokenizer->encode(text, {}, ids).ok())
    return 0;
  std::string decoded;
  (void)tokenizer->decode(ids, {}, decoded);
  return 0;
}
