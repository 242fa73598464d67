//===- TokenizerImport.cpp - a checkpoint's tokenizer, loaded -------------===//

#include "compiler/frontends/TokenizerImport.h"

#include "compiler/frontends/ModelConfig.h"
#include "compiler/weights/Gguf.h"
#include "runtime/tokenizer/ChatTemplate.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace llvm;

namespace llmc::frontends {

namespace {

constexpr StringLiteral kModelKey = "tokenizer.ggml.model";
constexpr StringLiteral kPreKey = "tokenizer.ggml.pre";
constexpr StringLiteral kTokensKey = "tokenizer.ggml.tokens";
constexpr StringLiteral kMergesKey = "tokenizer.ggml.merges";
constexpr StringLiteral kScoresKey = "tokenizer.ggml.scores";
constexpr StringLiteral kTokenTypeKey = "tokenizer.ggml.token_type";
constexpr StringLiteral kBosKey = "tokenizer.ggml.bos_token_id";
constexpr StringLiteral kEosKey = "tokenizer.ggml.eos_token_id";
constexpr StringLiteral kUnknownKey = "tokenizer.ggml.unknown_token_id";
constexpr StringLiteral kPaddingKey = "tokenizer.ggml.padding_token_id";
constexpr StringLiteral kAddBosKey = "tokenizer.ggml.add_bos_token";
constexpr StringLiteral kAddEosKey = "tokenizer.ggml.add_eos_token";
constexpr StringLiteral kAddSpacePrefixKey = "tokenizer.ggml.add_space_prefix";
constexpr StringLiteral kChatTemplateKey = "tokenizer.chat_template";

/// llama.cpp (llama-vocab.cpp) turns add_bos on for these byte-level
/// pre-tokenizers when the file does not say.
bool preTokenizerAddsBos(StringRef pre) {
  return pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" ||
         pre == "falcon3" || pre == "tekken" || pre == "chameleon";
}

Expected<std::string> readFile(StringRef path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(path, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return createStringError(path +
                             ": cannot read: " + buffer.getError().message());
  return (*buffer)->getBuffer().str();
}

std::string existingFile(StringRef directory, StringRef name) {
  SmallString<256> path(directory);
  sys::path::append(path, name);
  return sys::fs::exists(path) ? std::string(path) : std::string();
}

/// True when a pre_tokenizer / decoder object of tokenizer.json is, or
/// contains, a ByteLevel step.
bool hasByteLevelStep(const json::Value *value) {
  if (!value)
    return false;
  if (const json::Object *object = value->getAsObject()) {
    if (std::optional<StringRef> type = object->getString("type");
        type && *type == "ByteLevel")
      return true;
    for (StringRef key : {"pretokenizers", "decoders"})
      if (const json::Array *steps = object->getArray(key))
        for (const json::Value &step : *steps)
          if (hasByteLevelStep(&step))
            return true;
  }
  return false;
}

std::string quoteToken(const tokenizer::Tokenizer &tok, int32_t id) {
  if (id < 0 || id >= tok.vocabSize())
    return "none";
  return formatv("{0} '{1}'", id, tok.idToToken(id)).str();
}

} // namespace

Expected<tokenizer::TokenizerVectors>
readGgufTokenizerVectors(const weights::GgufFile &file) {
  StringRef path = file.getPath();
  tokenizer::TokenizerVectors vectors;
  auto keyError = [&](StringRef key, const Twine &message) {
    return createStringError(path + ": " + key + ": " + message);
  };

  Expected<StringRef> model = file.getString(kModelKey);
  if (!model)
    return model.takeError();
  bool sentencePiece;
  if (*model == "gpt2")
    sentencePiece = false;
  else if (*model == "llama")
    sentencePiece = true;
  else
    return keyError(kModelKey, "'" + *model +
                                   "' is not supported; llmc reads 'gpt2' "
                                   "(byte-level BPE) and 'llama' "
                                   "(SentencePiece BPE) tokenizers");
  vectors.model = sentencePiece ? tokenizer::ModelKind::SentencePieceBpe
                                : tokenizer::ModelKind::ByteLevelBpe;

  if (file.has(kPreKey)) {
    Expected<StringRef> pre = file.getString(kPreKey);
    if (!pre)
      return pre.takeError();
    // llama.cpp's "default" is the GPT-2 split.
    vectors.preTokenizer = *pre == "default" ? "gpt-2" : pre->str();
    std::vector<std::string> known = tokenizer::knownPreTokenizerNames();
    if (!sentencePiece && !llvm::is_contained(known, vectors.preTokenizer))
      return keyError(kPreKey, "'" + *pre +
                                   "' is not a pre-tokenizer llmc knows; "
                                   "known: " +
                                   llvm::join(known, ", "));
  }

  Expected<std::vector<StringRef>> tokens = file.getStringArray(kTokensKey);
  if (!tokens)
    return tokens.takeError();
  if (tokens->empty())
    return keyError(kTokensKey, "the vocabulary is empty");
  vectors.tokens.reserve(tokens->size());
  for (StringRef token : *tokens)
    vectors.tokens.push_back(token.str());
  size_t vocabSize = vectors.tokens.size();

  if (file.has(kMergesKey)) {
    Expected<std::vector<StringRef>> merges = file.getStringArray(kMergesKey);
    if (!merges)
      return merges.takeError();
    for (StringRef merge : *merges)
      vectors.merges.push_back(merge.str());
  }
  if (file.has(kScoresKey)) {
    Expected<std::vector<float>> scores = file.getF32Array(kScoresKey);
    if (!scores)
      return scores.takeError();
    if (scores->size() != vocabSize)
      return keyError(kScoresKey, formatv("has {0} entries for {1} tokens",
                                          scores->size(), vocabSize));
    vectors.scores = std::move(*scores);
  }
  if (!sentencePiece && vectors.merges.empty())
    return createStringError(path + ": " + kMergesKey +
                             " is missing; a 'gpt2' tokenizer needs merges");
  if (sentencePiece && vectors.merges.empty() && vectors.scores.empty())
    return createStringError(path + ": " + kScoresKey +
                             " is missing; a 'llama' tokenizer without "
                             "merges needs scores");
  if (file.has(kTokenTypeKey)) {
    Expected<std::vector<int32_t>> types = file.getI32Array(kTokenTypeKey);
    if (!types)
      return types.takeError();
    if (types->size() != vocabSize)
      return keyError(kTokenTypeKey, formatv("has {0} entries for {1} tokens",
                                             types->size(), vocabSize));
    for (auto [index, type] : llvm::enumerate(*types)) {
      if (type < 0 || type > static_cast<int32_t>(tokenizer::TokenType::Byte))
        return keyError(
            kTokenTypeKey,
            formatv("entry {0} is {1}; expected 0 to 6", index, type));
      vectors.tokenTypes.push_back(static_cast<tokenizer::TokenType>(type));
    }
  }

  // Special ids: llama.cpp's defaults when absent, checked when present.
  auto readId = [&](StringRef key, int32_t fallback, int32_t &id) -> Error {
    if (!file.has(key)) {
      id = fallback >= 0 && static_cast<size_t>(fallback) < vocabSize ? fallback
                                                                      : -1;
      return Error::success();
    }
    Expected<uint32_t> value = file.getU32(key);
    if (!value)
      return value.takeError();
    if (*value >= vocabSize)
      return keyError(key, formatv("{0} is outside the vocabulary of {1}",
                                   *value, vocabSize));
    id = static_cast<int32_t>(*value);
    return Error::success();
  };
  if (Error error = readId(kBosKey, sentencePiece ? 1 : 11, vectors.bosId))
    return std::move(error);
  if (Error error = readId(kEosKey, sentencePiece ? 2 : 11, vectors.eosId))
    return std::move(error);
  if (Error error =
          readId(kUnknownKey, sentencePiece ? 0 : -1, vectors.unknownId))
    return std::move(error);
  if (Error error = readId(kPaddingKey, -1, vectors.paddingId))
    return std::move(error);

  auto readFlag = [&](StringRef key, bool fallback, bool &flag) -> Error {
    flag = fallback;
    if (!file.has(key))
      return Error::success();
    Expected<bool> value = file.getBool(key);
    if (!value)
      return value.takeError();
    flag = *value;
    return Error::success();
  };
  if (Error error =
          readFlag(kAddBosKey,
                   sentencePiece || preTokenizerAddsBos(vectors.preTokenizer),
                   vectors.addBos))
    return std::move(error);
  if (Error error = readFlag(kAddEosKey, false, vectors.addEos))
    return std::move(error);
  if (Error error =
          readFlag(kAddSpacePrefixKey, sentencePiece, vectors.addSpacePrefix))
    return std::move(error);

  if (file.has(kChatTemplateKey)) {
    Expected<StringRef> chat = file.getString(kChatTemplateKey);
    if (!chat)
      return chat.takeError();
    vectors.chatTemplate = chat->str();
  }
  return vectors;
}

Expected<std::optional<ImportedTokenizer>>
importGgufTokenizer(const weights::GgufFile &file) {
  if (!file.has(kTokensKey))
    return std::nullopt;
  Expected<tokenizer::TokenizerVectors> vectors =
      readGgufTokenizerVectors(file);
  if (!vectors)
    return vectors.takeError();
  std::unique_ptr<tokenizer::Tokenizer> tok;
  tokenizer::Status status = tokenizer::Tokenizer::fromVectors(*vectors, tok);
  if (!status)
    return createStringError(file.getPath() +
                             ": tokenizer.*: " + status.message());
  ImportedTokenizer imported;
  imported.format = TokenizerFormat::GgufMetadata;
  imported.path = file.getPath().str();
  imported.vectors = std::move(*vectors);
  imported.tokenizer = std::move(tok);
  return std::optional<ImportedTokenizer>(std::move(imported));
}

Expected<std::optional<ImportedTokenizer>>
importHuggingFaceTokenizer(StringRef directory) {
  std::string jsonPath = existingFile(directory, "tokenizer.json");
  if (jsonPath.empty())
    return std::nullopt;
  ImportedTokenizer imported;
  imported.format = TokenizerFormat::HuggingFace;
  imported.path = jsonPath;
  imported.configPath = existingFile(directory, "tokenizer_config.json");
  Expected<std::string> text = readFile(jsonPath);
  if (!text)
    return text.takeError();
  imported.tokenizerJson = std::move(*text);
  if (!imported.configPath.empty()) {
    Expected<std::string> config = readFile(imported.configPath);
    if (!config)
      return config.takeError();
    imported.tokenizerConfigJson = std::move(*config);
  }
  std::unique_ptr<tokenizer::Tokenizer> tok;
  tokenizer::Status status = tokenizer::Tokenizer::fromHuggingFaceJson(
      imported.tokenizerJson, imported.tokenizerConfigJson, tok);
  if (!status) {
    // The loader reads both texts; name the file the message is about.
    StringRef message = status.message();
    std::string file = jsonPath;
    if (message.consume_front("tokenizer_config.json: ") ||
        (message.contains("tokenizer_config") &&
         !message.starts_with("tokenizer.json"))) {
      if (!imported.configPath.empty())
        file = imported.configPath;
    } else {
      message.consume_front("tokenizer.json: ");
    }
    return createStringError(file + ": " + message);
  }
  imported.tokenizer = std::move(tok);
  return std::optional<ImportedTokenizer>(std::move(imported));
}

std::string ImportedTokenizer::getKindName() const {
  bool byteLevel;
  if (vectors) {
    byteLevel = vectors->model == tokenizer::ModelKind::ByteLevelBpe;
  } else {
    byteLevel = false;
    if (Expected<json::Value> root = json::parse(tokenizerJson)) {
      if (const json::Object *object = root->getAsObject())
        byteLevel = hasByteLevelStep(object->get("pre_tokenizer")) ||
                    hasByteLevelStep(object->get("decoder"));
    } else {
      consumeError(root.takeError());
    }
  }
  return byteLevel ? "byte-level BPE" : "SentencePiece BPE";
}

std::string ImportedTokenizer::summarize() const {
  std::string line = getKindName();
  if (vectors && vectors->model == tokenizer::ModelKind::ByteLevelBpe)
    line += " (pre-tokenizer " + vectors->preTokenizer + ")";
  line += formatv(" from {0}, {1} tokens, bos {2}, eos {3}",
                  format == TokenizerFormat::GgufMetadata ? "GGUF metadata"
                                                          : "tokenizer.json",
                  tokenizer->vocabSize(),
                  quoteToken(*tokenizer, tokenizer->bosId()),
                  quoteToken(*tokenizer, tokenizer->eosId()))
              .str();
  std::vector<int32_t> stops = tokenizer->stopIds();
  if (stops.size() > 1) {
    line += " (stops:";
    for (int32_t id : stops)
      line += " " + std::to_string(id);
    line += ")";
  }
  const std::string &chat = tokenizer->chatTemplate();
  if (chat.empty()) {
    line += ", no chat template";
  } else {
    tokenizer::ChatTemplate detected;
    if (tokenizer::ChatTemplate::detect(chat, detected))
      line += std::string(", chat template ") +
              tokenizer::chatFamilyName(detected.family());
    else
      line += ", chat template not recognised";
  }
  return line;
}

Error readGenerationConfig(StringRef directory, ModelConfig &config) {
  std::string path = existingFile(directory, "generation_config.json");
  if (path.empty())
    return Error::success();
  Expected<std::string> text = readFile(path);
  if (!text)
    return text.takeError();
  Expected<json::Value> root = json::parse(*text);
  if (!root)
    return createStringError(path +
                             ": invalid JSON: " + toString(root.takeError()));
  const json::Object *object = root->getAsObject();
  if (!object)
    return createStringError(path + ": expected a JSON object");
  auto fail = [&](StringRef key, const Twine &message) {
    return createStringError(path + ": " + key + ": " + message);
  };
  if (const json::Value *eos = object->get("eos_token_id")) {
    std::vector<int64_t> ids;
    if (std::optional<int64_t> id = eos->getAsInteger()) {
      ids.push_back(*id);
    } else if (const json::Array *list = eos->getAsArray()) {
      for (const json::Value &entry : *list) {
        std::optional<int64_t> id = entry.getAsInteger();
        if (!id)
          return fail("eos_token_id",
                      "expected an integer or a list of integers");
        ids.push_back(*id);
      }
    } else if (eos->kind() != json::Value::Null) {
      return fail("eos_token_id", "expected an integer or a list of integers");
    }
    for (int64_t id : ids)
      if (id < 0 || (config.vocabSize > 0 && id >= config.vocabSize))
        return fail("eos_token_id",
                    formatv("{0} is outside the vocabulary of {1}", id,
                            config.vocabSize));
    if (!ids.empty())
      config.eosTokenIds = std::move(ids);
  }
  if (const json::Value *bos = object->get("bos_token_id")) {
    if (std::optional<int64_t> id = bos->getAsInteger()) {
      if (*id < 0 || (config.vocabSize > 0 && *id >= config.vocabSize))
        return fail("bos_token_id",
                    formatv("{0} is outside the vocabulary of {1}", *id,
                            config.vocabSize));
      config.bosTokenId = *id;
    } else if (bos->kind() != json::Value::Null) {
      return fail("bos_token_id", "expected an integer");
    }
  }
  return Error::success();
}

} // namespace llmc::frontends
