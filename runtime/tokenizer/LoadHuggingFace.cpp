//===- LoadHuggingFace.cpp - a tokenizer from tokenizer.json --------------===//
//
// Reads the parts of Hugging Face's tokenizer.json that LLM tokenizers use and
// refuses the rest by name, so that an unsupported tokenizer fails at load
// time instead of encoding differently. Errors name the JSON path at fault
// ("tokenizer.json: model.merges[12]: ...").
//
//===----------------------------------------------------------------------===//

#include "runtime/tokenizer/Tokenizer.h"
#include "runtime/tokenizer/TokenizerImpl.h"
#include "runtime/tokenizer/Unicode.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace llmc::tokenizer {

namespace {
using Json = nlohmann::json;

/// A load error; caught at the public entry points and turned into a Status.
struct LoadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string &path, const std::string &message) {
  throw LoadError("tokenizer.json: " + path + ": " + message);
}

const char *typeName(const Json &value) { return value.type_name(); }

const Json &member(const Json &object, const std::string &path,
                   const char *key) {
  if (!object.is_object())
    fail(path, std::string("expected an object, got ") + typeName(object));
  auto it = object.find(key);
  if (it == object.end())
    fail(path.empty() ? key : path + "." + key, "missing");
  return *it;
}

std::string join(const std::string &path, const char *key) {
  return path.empty() ? key : path + "." + key;
}

std::string getString(const Json &object, const std::string &path,
                      const char *key) {
  const Json &value = member(object, path, key);
  if (!value.is_string())
    fail(join(path, key),
         std::string("expected a string, got ") + typeName(value));
  return value.get<std::string>();
}

// An optional field: absent or null gives the fallback.
bool getBool(const Json &object, const std::string &path, const char *key,
             bool fallback) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null())
    return fallback;
  if (!it->is_boolean())
    fail(join(path, key),
         std::string("expected true or false, got ") + typeName(*it));
  return it->get<bool>();
}

std::string getOptionalString(const Json &object, const std::string &path,
                              const char *key, const std::string &fallback) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null())
    return fallback;
  if (!it->is_string())
    fail(join(path, key),
         std::string("expected a string, got ") + typeName(*it));
  return it->get<std::string>();
}

size_t getCount(const Json &object, const std::string &path, const char *key,
                size_t fallback) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null())
    return fallback;
  if (!it->is_number_unsigned())
    fail(join(path, key),
         std::string("expected a non-negative integer, got ") + typeName(*it));
  return it->get<size_t>();
}

const Json &getArray(const Json &object, const std::string &path,
                     const char *key) {
  const Json &value = member(object, path, key);
  if (!value.is_array())
    fail(join(path, key),
         std::string("expected an array, got ") + typeName(value));
  return value;
}

std::string typeOf(const Json &object, const std::string &path) {
  return getString(object, path, "type");
}

// {"String": "x"} or {"Regex": "..."}: a literal or a compiled regex.
void readPattern(const Json &object, const std::string &path,
                 std::string &literal, std::shared_ptr<Regex> &regex) {
  const Json &pattern = member(object, path, "pattern");
  std::string patternPath = join(path, "pattern");
  if (pattern.is_object() && pattern.contains("String")) {
    literal = getString(pattern, patternPath, "String");
  } else if (pattern.is_object() && pattern.contains("Regex")) {
    std::string error;
    regex = Regex::compile(getString(pattern, patternPath, "Regex"), error);
    if (!regex)
      fail(patternPath + ".Regex", error);
  } else {
    fail(patternPath, "expected {\"String\": ...} or {\"Regex\": ...}");
  }
}

PrependScheme readPrependScheme(const Json &object, const std::string &path) {
  auto it = object.find("prepend_scheme");
  if (it == object.end() || it->is_null())
    // Older files: add_prefix_space true meant "always".
    return getBool(object, path, "add_prefix_space", true)
               ? PrependScheme::Always
               : PrependScheme::Never;
  std::string scheme = getString(object, path, "prepend_scheme");
  if (scheme == "always")
    return PrependScheme::Always;
  if (scheme == "never")
    return PrependScheme::Never;
  if (scheme == "first")
    return PrependScheme::First;
  fail(join(path, "prepend_scheme"),
       "expected 'always', 'never' or 'first', got '" + scheme + "'");
}

void readNormalizer(const Json &node, const std::string &path,
                    std::vector<NormalizerStep> &steps) {
  if (node.is_null())
    return;
  std::string type = typeOf(node, path);
  if (type == "Sequence") {
    const Json &list = getArray(node, path, "normalizers");
    for (size_t i = 0; i < list.size(); ++i)
      readNormalizer(list[i], path + ".normalizers[" + std::to_string(i) + "]",
                     steps);
  } else if (type == "Replace") {
    NormalizerStep step{NormalizerStep::Kind::Replace};
    readPattern(node, path, step.pattern, step.regex);
    step.content = getString(node, path, "content");
    steps.push_back(step);
  } else if (type == "Prepend") {
    NormalizerStep step{NormalizerStep::Kind::Prepend};
    step.content = getString(node, path, "prepend");
    steps.push_back(step);
  } else if (type == "NFC") {
    steps.push_back({NormalizerStep::Kind::Nfc});
  } else {
    fail(join(path, "type"),
         "normalizer '" + type +
             "' is not supported (supported: Sequence, Replace, Prepend, NFC)");
  }
}

SplitBehavior readBehavior(const Json &node, const std::string &path) {
  std::string behavior = getString(node, path, "behavior");
  if (behavior == "Removed")
    return SplitBehavior::Removed;
  if (behavior == "Isolated")
    return SplitBehavior::Isolated;
  if (behavior == "MergedWithPrevious")
    return SplitBehavior::MergedWithPrevious;
  if (behavior == "MergedWithNext")
    return SplitBehavior::MergedWithNext;
  if (behavior == "Contiguous")
    return SplitBehavior::Contiguous;
  fail(join(path, "behavior"), "unknown split behavior '" + behavior + "'");
}

void readPreTokenizer(const Json &node, const std::string &path,
                      std::vector<PreTokenizerStep> &steps) {
  if (node.is_null())
    return;
  std::string type = typeOf(node, path);
  if (type == "Sequence") {
    const Json &list = getArray(node, path, "pretokenizers");
    for (size_t i = 0; i < list.size(); ++i)
      readPreTokenizer(
          list[i], path + ".pretokenizers[" + std::to_string(i) + "]", steps);
  } else if (type == "Split") {
    PreTokenizerStep step{PreTokenizerStep::Kind::Split};
    readPattern(node, path, step.pattern, step.regex);
    step.behavior = readBehavior(node, path);
    step.invert = getBool(node, path, "invert", false);
    steps.push_back(step);
  } else if (type == "ByteLevel") {
    PreTokenizerStep step{PreTokenizerStep::Kind::ByteLevel};
    step.addPrefixSpace = getBool(node, path, "add_prefix_space", true);
    step.useRegex = getBool(node, path, "use_regex", true);
    steps.push_back(step);
  } else if (type == "Digits") {
    PreTokenizerStep step{PreTokenizerStep::Kind::Digits};
    step.individualDigits = getBool(node, path, "individual_digits", false);
    steps.push_back(step);
  } else if (type == "Metaspace") {
    PreTokenizerStep step{PreTokenizerStep::Kind::Metaspace};
    step.replacement = getString(node, path, "replacement");
    step.prependScheme = readPrependScheme(node, path);
    step.split = getBool(node, path, "split", true);
    steps.push_back(step);
  } else {
    fail(join(path, "type"),
         "pre-tokenizer '" + type +
             "' is not supported (supported: Sequence, Split, ByteLevel, "
             "Digits, Metaspace)");
  }
}

void readDecoder(const Json &node, const std::string &path,
                 std::vector<DecoderStep> &steps) {
  std::string type = typeOf(node, path);
  if (type == "Sequence") {
    const Json &list = getArray(node, path, "decoders");
    for (size_t i = 0; i < list.size(); ++i)
      readDecoder(list[i], path + ".decoders[" + std::to_string(i) + "]",
                  steps);
  } else if (type == "ByteLevel") {
    steps.push_back({DecoderStep::Kind::ByteLevel});
  } else if (type == "Replace") {
    DecoderStep step{DecoderStep::Kind::Replace};
    std::shared_ptr<Regex> regex;
    readPattern(node, path, step.pattern, regex);
    if (regex)
      fail(join(path, "pattern"), "a Regex pattern in a Replace decoder is "
                                  "not supported");
    step.content = getString(node, path, "content");
    steps.push_back(step);
  } else if (type == "ByteFallback") {
    steps.push_back({DecoderStep::Kind::ByteFallback});
  } else if (type == "Fuse") {
    steps.push_back({DecoderStep::Kind::Fuse});
  } else if (type == "Strip") {
    DecoderStep step{DecoderStep::Kind::Strip};
    step.content = getString(node, path, "content");
    step.start = getCount(node, path, "start", 0);
    step.stop = getCount(node, path, "stop", 0);
    steps.push_back(step);
  } else if (type == "Metaspace") {
    DecoderStep step{DecoderStep::Kind::Metaspace};
    step.replacement = getString(node, path, "replacement");
    step.prependScheme = readPrependScheme(node, path);
    steps.push_back(step);
  } else {
    fail(join(path, "type"),
         "decoder '" + type +
             "' is not supported (supported: Sequence, ByteLevel, Replace, "
             "ByteFallback, Fuse, Strip, Metaspace)");
  }
}

int32_t readTokenId(const Json &value, const std::string &path) {
  if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
      value.get<int64_t>() > INT32_MAX)
    fail(path, std::string("expected a token id, got ") + typeName(value));
  return value.get<int32_t>();
}

// TemplateProcessing's `single` template: special tokens around $A.
void readPostProcessor(const Json &node, const std::string &path,
                       TokenizerImpl &impl) {
  if (node.is_null())
    return;
  std::string type = typeOf(node, path);
  if (type == "Sequence") {
    const Json &list = getArray(node, path, "processors");
    for (size_t i = 0; i < list.size(); ++i)
      readPostProcessor(list[i],
                        path + ".processors[" + std::to_string(i) + "]", impl);
  } else if (type == "ByteLevel") {
    // Only adjusts offsets, which llmc does not report.
  } else if (type == "TemplateProcessing") {
    const Json &single = getArray(node, path, "single");
    const Json &specials = member(node, path, "special_tokens");
    bool afterSequence = false;
    for (size_t i = 0; i < single.size(); ++i) {
      std::string itemPath = path + ".single[" + std::to_string(i) + "]";
      const Json &item = single[i];
      if (item.is_object() && item.contains("Sequence")) {
        afterSequence = true;
        continue;
      }
      const Json &special = member(item, itemPath, "SpecialToken");
      std::string name = getString(special, itemPath + ".SpecialToken", "id");
      std::string specialPath = path + ".special_tokens." + name;
      const Json &entry =
          member(specials, path + ".special_tokens", name.c_str());
      const Json &ids = getArray(entry, specialPath, "ids");
      for (size_t j = 0; j < ids.size(); ++j) {
        int32_t id = readTokenId(ids[j], specialPath + ".ids[" +
                                             std::to_string(j) + "]");
        (afterSequence ? impl.suffixIds : impl.prefixIds).push_back(id);
      }
    }
  } else {
    fail(join(path, "type"),
         "post-processor '" + type +
             "' is not supported (supported: TemplateProcessing, ByteLevel, "
             "Sequence)");
  }
}

void readModel(const Json &node, TokenizerImpl &impl) {
  const std::string path = "model";
  std::string type = getOptionalString(node, path, "type", "BPE");
  if (type != "BPE")
    fail("model.type", "model '" + type +
                           "' is not supported (llmc implements BPE, the "
                           "model of byte-level and SentencePiece-BPE LLMs)");
  if (!getOptionalString(node, path, "continuing_subword_prefix", "").empty())
    fail("model.continuing_subword_prefix", "is not supported");
  if (!getOptionalString(node, path, "end_of_word_suffix", "").empty())
    fail("model.end_of_word_suffix", "is not supported");
  if (auto it = node.find("dropout");
      it != node.end() && !it->is_null() && !(it->is_number() && *it == 0))
    fail("model.dropout", "BPE dropout is for training; it is not supported");
  BpeModel &model = impl.model;
  model.byteFallback = getBool(node, path, "byte_fallback", false);
  model.ignoreMerges = getBool(node, path, "ignore_merges", false);
  model.fuseUnknown = getBool(node, path, "fuse_unk", false);

  const Json &vocab = member(node, path, "vocab");
  if (!vocab.is_object())
    fail("model.vocab", std::string("expected an object of token: id, got ") +
                            typeName(vocab));
  size_t size = 0;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    int32_t id = readTokenId(it.value(), "model.vocab[\"" + it.key() + "\"]");
    size = std::max(size, static_cast<size_t>(id) + 1);
  }
  impl.idToToken.assign(size, "");
  std::vector<bool> seen(size, false);
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    int32_t id = it.value().get<int32_t>();
    if (seen[id])
      fail("model.vocab[\"" + it.key() + "\"]",
           "id " + std::to_string(id) + " is used twice");
    seen[id] = true;
    impl.idToToken[id] = it.key();
    model.tokenIds.emplace(it.key(), id);
    const std::string &token = it.key();
    if (token.size() == 6 && token.compare(0, 3, "<0x") == 0 &&
        token[5] == '>' &&
        std::isxdigit(static_cast<unsigned char>(token[3])) &&
        std::isxdigit(static_cast<unsigned char>(token[4])))
      model.byteTokenIds[std::stoi(token.substr(3, 2), nullptr, 16)] = id;
  }

  std::string unknown = getOptionalString(node, path, "unk_token", "");
  if (!unknown.empty()) {
    auto it = model.tokenIds.find(unknown);
    if (it == model.tokenIds.end())
      fail("model.unk_token", "'" + unknown + "' is not in model.vocab");
    model.unknownId = it->second;
  }

  const Json &merges = getArray(node, path, "merges");
  model.merges.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    std::string mergePath = "model.merges[" + std::to_string(rank) + "]";
    const Json &merge = merges[rank];
    std::string left, right;
    if (merge.is_string()) {
      // "left right"; HF splits at the first space.
      std::string text = merge.get<std::string>();
      size_t space = text.find(' ');
      if (space == std::string::npos)
        fail(mergePath,
             "'" + text + "' is not two tokens separated by a space");
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
               merge[1].is_string()) {
      left = merge[0].get<std::string>();
      right = merge[1].get<std::string>();
    } else {
      fail(mergePath, std::string("expected \"a b\" or [\"a\", \"b\"], got ") +
                          typeName(merge));
    }
    for (const std::string *token : {&left, &right})
      if (!model.tokenIds.count(*token))
        fail(mergePath,
             "refers to '" + *token + "', which is not in model.vocab");
    auto merged = model.tokenIds.find(left + right);
    if (merged == model.tokenIds.end())
      fail(mergePath,
           "merges into '" + left + right + "', which is not in model.vocab");
    uint64_t key =
        (static_cast<uint64_t>(static_cast<uint32_t>(model.tokenIds[left]))
         << 32) |
        static_cast<uint32_t>(model.tokenIds[right]);
    model.merges.emplace(
        key, std::make_pair(static_cast<int32_t>(rank), merged->second));
  }
}

void readAddedTokens(const Json &root, TokenizerImpl &impl) {
  auto it = root.find("added_tokens");
  if (it == root.end() || it->is_null())
    return;
  if (!it->is_array())
    fail("added_tokens",
         std::string("expected an array, got ") + typeName(*it));
  for (size_t i = 0; i < it->size(); ++i) {
    std::string path = "added_tokens[" + std::to_string(i) + "]";
    const Json &entry = (*it)[i];
    AddedToken token;
    token.id = readTokenId(member(entry, path, "id"), path + ".id");
    token.content = getString(entry, path, "content");
    token.special = getBool(entry, path, "special", false);
    token.lstrip = getBool(entry, path, "lstrip", false);
    token.rstrip = getBool(entry, path, "rstrip", false);
    token.singleWord = getBool(entry, path, "single_word", false);
    token.normalized = getBool(entry, path, "normalized", !token.special);
    if (static_cast<size_t>(token.id) >= impl.idToToken.size())
      impl.idToToken.resize(token.id + 1);
    impl.addedTokens.push_back(token);
  }
}

// tokenizer_config.json's bos_token / eos_token: a string or an AddedToken
// object with "content".
std::string configToken(const Json &config, const char *key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null())
    return "";
  if (it->is_string())
    return it->get<std::string>();
  if (it->is_object() && it->contains("content") &&
      (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  throw LoadError(std::string("tokenizer_config.json: ") + key +
                  ": expected a string or an object with \"content\"");
}

void readConfig(const std::string &configJson, TokenizerImpl &impl) {
  if (configJson.empty())
    return;
  Json config;
  try {
    config = Json::parse(configJson);
  } catch (const Json::parse_error &error) {
    throw LoadError(std::string("tokenizer_config.json: ") + error.what());
  }
  if (!config.is_object())
    throw LoadError("tokenizer_config.json: expected an object");
  impl.bosToken = configToken(config, "bos_token");
  impl.eosToken = configToken(config, "eos_token");
  auto templateIt = config.find("chat_template");
  if (templateIt != config.end() && templateIt->is_string()) {
    impl.chatTemplate = templateIt->get<std::string>();
  } else if (templateIt != config.end() && templateIt->is_array()) {
    // Named templates: the runtime uses "default".
    for (const Json &entry : *templateIt)
      if (entry.is_object() && entry.value("name", "") == "default" &&
          entry.contains("template") && entry["template"].is_string())
        impl.chatTemplate = entry["template"].get<std::string>();
  }
}

int32_t findId(const TokenizerImpl &impl, const std::string &token) {
  for (const AddedToken &added : impl.addedTokens)
    if (added.content == token)
      return added.id;
  auto it = impl.model.tokenIds.find(token);
  return it == impl.model.tokenIds.end() ? -1 : it->second;
}

void build(const std::string &tokenizerJson, const std::string &configJson,
           TokenizerImpl &impl) {
  Json root;
  try {
    root = Json::parse(tokenizerJson);
  } catch (const Json::parse_error &error) {
    throw LoadError(std::string("tokenizer.json: not valid JSON: ") +
                    error.what());
  }
  if (!root.is_object())
    throw LoadError("tokenizer.json: expected a JSON object at the top");
  readModel(member(root, "", "model"), impl);
  readAddedTokens(root, impl);
  if (auto it = root.find("normalizer"); it != root.end())
    readNormalizer(*it, "normalizer", impl.normalizer);
  if (auto it = root.find("pre_tokenizer"); it != root.end())
    readPreTokenizer(*it, "pre_tokenizer", impl.preTokenizer);
  if (auto it = root.find("decoder"); it != root.end() && !it->is_null()) {
    readDecoder(*it, "decoder", impl.decoder);
    impl.hasDecoder = true;
  }
  if (auto it = root.find("post_processor"); it != root.end())
    readPostProcessor(*it, "post_processor", impl);
  for (int32_t id : impl.prefixIds)
    if (static_cast<size_t>(id) >= impl.idToToken.size())
      fail("post_processor",
           "token id " + std::to_string(id) + " is outside the vocabulary");
  for (int32_t id : impl.suffixIds)
    if (static_cast<size_t>(id) >= impl.idToToken.size())
      fail("post_processor",
           "token id " + std::to_string(id) + " is outside the vocabulary");

  Status status = impl.finalizeAddedTokens();
  if (!status)
    throw LoadError("tokenizer.json: added_tokens: " + status.message());
  readConfig(configJson, impl);
  // Without a config, BOS is what the post-processor puts first.
  if (impl.bosToken.empty() && !impl.prefixIds.empty())
    impl.bosToken = impl.idToToken[impl.prefixIds.front()];
  impl.bosId = impl.bosToken.empty() ? -1 : findId(impl, impl.bosToken);
  impl.eosId = impl.eosToken.empty() ? -1 : findId(impl, impl.eosToken);
  impl.computeStopIds();
}

Status readFile(const std::string &path, std::string &contents) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    return Status::error("cannot open '" + path + "'");
  std::ostringstream buffer;
  buffer << file.rdbuf();
  if (file.bad())
    return Status::error("cannot read '" + path + "'");
  contents = buffer.str();
  return Status::success();
}
} // namespace

Status Tokenizer::fromHuggingFaceJson(const std::string &tokenizerJson,
                                      const std::string &configJson,
                                      std::unique_ptr<Tokenizer> &out) {
  try {
    auto impl = std::make_unique<TokenizerImpl>();
    build(tokenizerJson, configJson, *impl);
    out.reset(new Tokenizer(std::move(impl)));
    return Status::success();
  } catch (const LoadError &error) {
    return Status::error(error.what());
  } catch (const std::exception &error) {
    return Status::error(std::string("tokenizer.json: ") + error.what());
  }
}

Status Tokenizer::fromHuggingFaceFile(const std::string &tokenizerJsonPath,
                                      const std::string &configPath,
                                      std::unique_ptr<Tokenizer> &out) {
  std::string tokenizerJson, configJson;
  if (Status status = readFile(tokenizerJsonPath, tokenizerJson); !status)
    return status;
  if (!configPath.empty())
    if (Status status = readFile(configPath, configJson); !status)
      return status;
  Status status = fromHuggingFaceJson(tokenizerJson, configJson, out);
  if (!status)
    return Status::error(tokenizerJsonPath + ": " + status.message());
  return status;
}

} // namespace llmc::tokenizer
