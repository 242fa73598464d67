//===- tokenize_main.cpp - llmc-tokenize: the tokenizer from a shell ------===//
//
//   llmc-tokenize (--tokenizer-json F [--tokenizer-config F] | --vectors-json
//   F)
//                 [--add-special-tokens] [--no-parse-special] [--skip-special]
//                 encode | decode | batch | chat
//
//   encode  stdin text -> ids, space separated, one line
//   decode  stdin ids (whitespace separated) -> text
//   batch   stdin: one JSON string per line; stdout: one JSON object per line,
//           {"ids": [...], "decoded": "...", "streamed": "..."} (streamed is
//           the concatenation of StreamDecoder pieces); the parity test's
//           driver
//   chat    stdin: {"messages": [{"role", "content"}...],
//           "add_generation_prompt": bool}; stdout: the rendered prompt
//
// --vectors-json reads the GGUF tokenizer keys ("tokenizer.ggml.tokens", ...)
// from a JSON object, as test/unit/tokenizer/dump_gguf_tokenizer.py writes it.
//
//===----------------------------------------------------------------------===//

#include "runtime/tokenizer/ChatTemplate.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

using namespace llmc::tokenizer;
using Json = nlohmann::json;

namespace {
int usage() {
  std::cerr
      << "usage: llmc-tokenize (--tokenizer-json FILE [--tokenizer-config "
         "FILE] | --vectors-json FILE) [--add-special-tokens] "
         "[--no-parse-special] [--skip-special] "
         "encode|decode|batch|chat\n";
  return 2;
}

Status loadVectors(const std::string &path, TokenizerVectors &vectors) {
  std::ifstream file(path);
  if (!file)
    return Status::error("cannot open '" + path + "'");
  try {
    Json root = Json::parse(file);
    auto get = [&](const char *key) -> const Json * {
      auto it = root.find(key);
      return it == root.end() ? nullptr : &*it;
    };
    std::string model = root.at("tokenizer.ggml.model").get<std::string>();
    if (model == "gpt2")
      vectors.model = ModelKind::ByteLevelBpe;
    else if (model == "llama")
      vectors.model = ModelKind::SentencePieceBpe;
    else
      return Status::error("tokenizer.ggml.model '" + model +
                           "' is not supported (gpt2, llama)");
    if (auto *pre = get("tokenizer.ggml.pre"))
      vectors.preTokenizer = pre->get<std::string>();
    vectors.tokens =
        root.at("tokenizer.ggml.tokens").get<std::vector<std::string>>();
    if (auto *merges = get("tokenizer.ggml.merges"))
      vectors.merges = merges->get<std::vector<std::string>>();
    if (auto *scores = get("tokenizer.ggml.scores"))
      vectors.scores = scores->get<std::vector<float>>();
    if (auto *types = get("tokenizer.ggml.token_type"))
      for (int type : types->get<std::vector<int>>())
        vectors.tokenTypes.push_back(static_cast<TokenType>(type));
    auto readId = [&](const char *key, int32_t &id) {
      if (auto *value = get(key))
        id = value->get<int32_t>();
    };
    readId("tokenizer.ggml.bos_token_id", vectors.bosId);
    readId("tokenizer.ggml.eos_token_id", vectors.eosId);
    readId("tokenizer.ggml.unknown_token_id", vectors.unknownId);
    readId("tokenizer.ggml.padding_token_id", vectors.paddingId);
    auto readFlag = [&](const char *key, bool &flag) {
      if (auto *value = get(key))
        flag = value->get<bool>();
    };
    // llama.cpp's defaults when the keys are absent.
    vectors.addBos = vectors.model == ModelKind::SentencePieceBpe;
    vectors.addSpacePrefix = vectors.model == ModelKind::SentencePieceBpe;
    readFlag("tokenizer.ggml.add_bos_token", vectors.addBos);
    readFlag("tokenizer.ggml.add_eos_token", vectors.addEos);
    readFlag("tokenizer.ggml.add_space_prefix", vectors.addSpacePrefix);
    if (auto *chat = get("tokenizer.chat_template"))
      vectors.chatTemplate = chat->get<std::string>();
  } catch (const std::exception &error) {
    return Status::error(path + ": " + error.what());
  }
  return Status::success();
}

std::string readStdin() {
  return std::string(std::istreambuf_iterator<char>(std::cin),
                     std::istreambuf_iterator<char>());
}
} // namespace

int main(int argc, char **argv) {
  std::string tokenizerJson, tokenizerConfig, vectorsJson, mode;
  EncodeOptions encodeOptions;
  DecodeOptions decodeOptions;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string &out) {
      if (i + 1 >= argc)
        return false;
      out = argv[++i];
      return true;
    };
    if (arg == "--tokenizer-json") {
      if (!value(tokenizerJson))
        return usage();
    } else if (arg == "--tokenizer-config") {
      if (!value(tokenizerConfig))
        return usage();
    } else if (arg == "--vectors-json") {
      if (!value(vectorsJson))
        return usage();
    } else if (arg == "--add-special-tokens") {
      encodeOptions.addSpecialTokens = true;
    } else if (arg == "--no-parse-special") {
      encodeOptions.parseSpecialTokens = false;
    } else if (arg == "--skip-special") {
      decodeOptions.skipSpecialTokens = true;
    } else if (mode.empty() && arg[0] != '-') {
      mode = arg;
    } else {
      return usage();
    }
  }
  if (mode.empty() || tokenizerJson.empty() == vectorsJson.empty())
    return usage();

  std::unique_ptr<Tokenizer> tokenizer;
  Status status;
  if (!vectorsJson.empty()) {
    TokenizerVectors vectors;
    status = loadVectors(vectorsJson, vectors);
    if (status)
      status = Tokenizer::fromVectors(vectors, tokenizer);
  } else {
    status = Tokenizer::fromHuggingFaceFile(tokenizerJson, tokenizerConfig,
                                            tokenizer);
  }
  if (!status) {
    std::cerr << "llmc-tokenize: " << status.message() << "\n";
    return 1;
  }

  if (mode == "encode") {
    std::vector<int32_t> ids;
    status = tokenizer->encode(readStdin(), encodeOptions, ids);
    if (status) {
      for (size_t i = 0; i < ids.size(); ++i)
        std::cout << (i ? " " : "") << ids[i];
      std::cout << "\n";
    }
  } else if (mode == "decode") {
    std::vector<int32_t> ids;
    std::istringstream input(readStdin());
    for (long id; input >> id;)
      ids.push_back(static_cast<int32_t>(id));
    std::string text;
    status = tokenizer->decode(ids, decodeOptions, text);
    if (status)
      std::cout << text;
  } else if (mode == "batch") {
    std::string line;
    for (size_t lineNumber = 1; status && std::getline(std::cin, line);
         ++lineNumber) {
      std::string text;
      try {
        text = Json::parse(line).get<std::string>();
      } catch (const std::exception &error) {
        status = Status::error("stdin line " + std::to_string(lineNumber) +
                               ": " + error.what());
        break;
      }
      std::vector<int32_t> ids;
      std::string decoded, streamed;
      status = tokenizer->encode(text, encodeOptions, ids);
      if (status)
        status = tokenizer->decode(ids, decodeOptions, decoded);
      StreamDecoder stream(*tokenizer, decodeOptions);
      for (size_t i = 0; status && i < ids.size(); ++i)
        status = stream.push(ids[i], streamed);
      if (status)
        status = stream.finish(streamed);
      if (!status)
        break;
      Json out = {{"ids", ids}, {"decoded", decoded}, {"streamed", streamed}};
      std::cout << out.dump(-1, ' ', false, Json::error_handler_t::replace)
                << "\n";
    }
  } else if (mode == "chat") {
    try {
      Json request = Json::parse(readStdin());
      std::vector<ChatMessage> messages;
      for (const Json &message : request.at("messages"))
        messages.push_back({message.at("role").get<std::string>(),
                            message.at("content").get<std::string>()});
      ChatTemplate chat;
      status = ChatTemplate::detect(tokenizer->chatTemplate(), chat);
      std::string prompt;
      if (status)
        status =
            chat.render(messages, request.value("add_generation_prompt", false),
                        tokenizer->bosToken(), tokenizer->eosToken(), prompt);
      if (status)
        std::cout << prompt;
    } catch (const std::exception &error) {
      status = Status::error(std::string("chat request: ") + error.what());
    }
  } else {
    return usage();
  }
  if (!status) {
    std::cerr << "llmc-tokenize: " << status.message() << "\n";
    return 1;
  }
  return 0;
}
