//===- tokenizer_test.cpp - llmc_tokenizer against HF tokenizers goldens --===//
//
// Goldens: data/goldens.json, made by make_fixtures.py with Hugging Face
// `tokenizers` from the two fixture tokenizers it trains (data/*.json).
//
//===----------------------------------------------------------------------===//

#include "runtime/tokenizer/Tokenizer.h"
#include "runtime/tokenizer/Unicode.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace llmc::tokenizer;
using Json = nlohmann::json;
using ::testing::HasSubstr;

namespace {
std::string dataPath(const std::string &name) {
  return std::string(LLMC_TOKENIZER_TEST_DATA) + "/" + name;
}

std::string readData(const std::string &name) {
  std::ifstream file(dataPath(name), std::ios::binary);
  std::ostringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

std::unique_ptr<Tokenizer> loadFixture(const std::string &name) {
  std::unique_ptr<Tokenizer> tokenizer;
  Status status = Tokenizer::fromHuggingFaceFile(
      dataPath(name + ".tokenizer.json"), "", tokenizer);
  EXPECT_TRUE(status.ok()) << status.message();
  return tokenizer;
}

std::vector<int32_t> encode(const Tokenizer &tokenizer, const std::string &text,
                            EncodeOptions options = {}) {
  std::vector<int32_t> ids;
  Status status = tokenizer.encode(text, options, ids);
  EXPECT_TRUE(status.ok()) << status.message();
  return ids;
}

std::string decode(const Tokenizer &tokenizer, const std::vector<int32_t> &ids,
                   DecodeOptions options = {}) {
  std::string text;
  Status status = tokenizer.decode(ids, options, text);
  EXPECT_TRUE(status.ok()) << status.message();
  return text;
}

std::string streamDecode(const Tokenizer &tokenizer,
                         const std::vector<int32_t> &ids) {
  StreamDecoder stream(tokenizer);
  std::string text;
  for (int32_t id : ids)
    EXPECT_TRUE(stream.push(id, text).ok());
  EXPECT_TRUE(stream.finish(text).ok());
  return text;
}

void expectMatchesGoldens(const Tokenizer &tokenizer, const Json &goldens) {
  for (const Json &entry : goldens["encode"]) {
    std::string text = entry["text"];
    SCOPED_TRACE("text: " + text);
    EXPECT_EQ(encode(tokenizer, text),
              entry["ids"].get<std::vector<int32_t>>());
    EncodeOptions withSpecial;
    withSpecial.addSpecialTokens = true;
    EXPECT_EQ(encode(tokenizer, text, withSpecial),
              entry["ids_with_special"].get<std::vector<int32_t>>());
    EncodeOptions noParse;
    noParse.parseSpecialTokens = false;
    EXPECT_EQ(encode(tokenizer, text, noParse),
              entry["ids_no_parse_special"].get<std::vector<int32_t>>());
    std::vector<int32_t> ids = entry["ids"];
    EXPECT_EQ(decode(tokenizer, ids), entry["decoded"].get<std::string>());
    DecodeOptions skip;
    skip.skipSpecialTokens = true;
    EXPECT_EQ(decode(tokenizer, ids, skip),
              entry["decoded_skip_special"].get<std::string>());
    EXPECT_EQ(streamDecode(tokenizer, ids),
              entry["decoded"].get<std::string>());
  }
  for (const Json &entry : goldens["decode"]) {
    std::vector<int32_t> ids = entry["ids"];
    EXPECT_EQ(decode(tokenizer, ids), entry["decoded"].get<std::string>());
  }
}

Json goldens() { return Json::parse(readData("goldens.json")); }
} // namespace

// Byte-level BPE with a Split(Qwen2 regex) + ByteLevel pre-tokenizer, ChatML
// specials, an lstrip/rstrip token and a non-special added token: ids,
// decodes (incl. broken UTF-8 from lone byte tokens) and streaming equal HF.
TEST(TokenizerGoldens, ByteLevelMatchesHuggingFace) {
  auto tokenizer = loadFixture("byte_level");
  ASSERT_TRUE(tokenizer);
  expectMatchesGoldens(*tokenizer, goldens()["byte_level"]);
}

// SentencePiece-style BPE (Prepend/Replace U+2581, byte fallback, Strip
// decoder, BOS post-processor) equals HF, including <0xNN> re-assembly.
TEST(TokenizerGoldens, SentencePieceMatchesHuggingFace) {
  auto tokenizer = loadFixture("sentencepiece");
  ASSERT_TRUE(tokenizer);
  expectMatchesGoldens(*tokenizer, goldens()["sentencepiece"]);
}

// The newer Llama/Mistral layout: Metaspace pre-tokenizer (prepend at the
// input start only, split on U+2581) and Metaspace decoder equal HF.
TEST(TokenizerGoldens, MetaspaceMatchesHuggingFace) {
  auto tokenizer = loadFixture("metaspace");
  ASSERT_TRUE(tokenizer);
  expectMatchesGoldens(*tokenizer, goldens()["metaspace"]);
}

// The vectors loader (GGUF form) given the fixture's vocabulary and merges
// with `tokenizer.ggml.pre = qwen2` builds the same pipeline as the
// tokenizer.json: same ids for every golden without the lstrip token (which
// GGUF cannot express).
TEST(TokenizerVectors, ByteLevelVectorsMatchTokenizerJson) {
  Json doc = Json::parse(readData("byte_level.tokenizer.json"));
  TokenizerVectors vectors;
  vectors.model = ModelKind::ByteLevelBpe;
  vectors.preTokenizer = "qwen2";
  size_t size = doc["model"]["vocab"].size();
  for (const Json &added : doc["added_tokens"])
    size = std::max<size_t>(size, added["id"].get<size_t>() + 1);
  vectors.tokens.resize(size);
  vectors.tokenTypes.assign(size, TokenType::Normal);
  for (auto it = doc["model"]["vocab"].begin();
       it != doc["model"]["vocab"].end(); ++it)
    vectors.tokens[it.value().get<size_t>()] = it.key();
  for (const Json &added : doc["added_tokens"]) {
    vectors.tokens[added["id"]] = added["content"];
    vectors.tokenTypes[added["id"]] = added["special"].get<bool>()
                                          ? TokenType::Control
                                          : TokenType::UserDefined;
  }
  for (const Json &merge : doc["model"]["merges"])
    vectors.merges.push_back(merge.is_string()
                                 ? merge.get<std::string>()
                                 : merge[0].get<std::string>() + " " +
                                       merge[1].get<std::string>());
  std::unique_ptr<Tokenizer> tokenizer;
  Status status = Tokenizer::fromVectors(vectors, tokenizer);
  ASSERT_TRUE(status.ok()) << status.message();
  int compared = 0;
  const Json all = goldens();
  for (const Json &entry : all["byte_level"]["encode"]) {
    std::string text = entry["text"];
    if (text.find("<|tool|>") != std::string::npos)
      continue;
    SCOPED_TRACE("text: " + text);
    EXPECT_EQ(encode(*tokenizer, text),
              entry["ids"].get<std::vector<int32_t>>());
    EXPECT_EQ(decode(*tokenizer, entry["ids"].get<std::vector<int32_t>>()),
              entry["decoded"].get<std::string>());
    ++compared;
  }
  EXPECT_GT(compared, 20);
}

// GPT-2's byte-to-unicode table: printable bytes stand for themselves, the
// others map in order from U+0100 (space is 'Ġ' U+0120, 0xAD is 'Ń' U+0143).
TEST(TokenizerUnicode, ByteLevelTable) {
  EXPECT_EQ(unicode::byteLevelEncode("A~"), "A~");
  EXPECT_EQ(unicode::byteLevelEncode(" "), "\xC4\xA0");                  // Ġ
  EXPECT_EQ(unicode::byteLevelEncode(std::string(1, '\0')), "\xC4\x80"); // Ā
  EXPECT_EQ(unicode::byteLevelEncode("\xAD"), "\xC5\x83");               // Ń
  std::string all;
  for (int byte = 0; byte < 256; ++byte)
    all += static_cast<char>(byte);
  EXPECT_EQ(unicode::byteLevelDecode(unicode::byteLevelEncode(all)), all);
}

// Lossy UTF-8 as Rust's from_utf8_lossy: one U+FFFD per maximal invalid
// subpart (a truncated 3-byte sequence is one, a surrogate is three).
TEST(TokenizerUnicode, LossyUtf8LikeRust) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(unicode::toValidUtf8Lossy("a\xE2\x82"), "a" + fffd);
  EXPECT_EQ(unicode::toValidUtf8Lossy("\xE2\x82z"), fffd + "z");
  EXPECT_EQ(unicode::toValidUtf8Lossy("\xF0\x80"), fffd + fffd);
  EXPECT_EQ(unicode::toValidUtf8Lossy("\xED\xA0\x80"), fffd + fffd + fffd);
  EXPECT_EQ(unicode::toValidUtf8Lossy("\xFF\xC3\xA9"), fffd + "\xC3\xA9");
  EXPECT_EQ(unicode::toValidUtf8Lossy("ok \xF0\x9F\x98\x80"),
            "ok \xF0\x9F\x98\x80");
}

// Streaming decode holds back a character whose bytes arrive in separate
// tokens and releases it whole; pieces concatenate to decode().
TEST(TokenizerStreaming, HoldsBackIncompleteUtf8) {
  auto tokenizer = loadFixture("sentencepiece");
  ASSERT_TRUE(tokenizer);
  // <0xE4> <0xB8> <0xAD> is "中".
  std::vector<int32_t> ids = {tokenizer->tokenToId("<0xE4>"),
                              tokenizer->tokenToId("<0xB8>"),
                              tokenizer->tokenToId("<0xAD>")};
  StreamDecoder stream(*tokenizer);
  std::string piece;
  ASSERT_TRUE(stream.push(ids[0], piece).ok());
  EXPECT_EQ(piece, "");
  ASSERT_TRUE(stream.push(ids[1], piece).ok());
  EXPECT_EQ(piece, "");
  ASSERT_TRUE(stream.push(ids[2], piece).ok());
  EXPECT_EQ(piece, "\xE4\xB8\xAD");
}

// Streaming a SentencePiece text keeps the spaces between words (the leading
// one of the first word only is stripped, as decode() does).
TEST(TokenizerStreaming, SentencePieceSpacesSurviveStreaming) {
  auto tokenizer = loadFixture("sentencepiece");
  ASSERT_TRUE(tokenizer);
  std::string text = "hello world tokenizer 中文 😀 naïve";
  std::vector<int32_t> ids = encode(*tokenizer, text);
  StreamDecoder stream(*tokenizer);
  std::string streamed, piece;
  for (int32_t id : ids) {
    piece.clear();
    ASSERT_TRUE(stream.push(id, piece).ok());
    EXPECT_TRUE(unicode::isValidUtf8(piece));
    streamed += piece;
  }
  ASSERT_TRUE(stream.finish(streamed).ok());
  EXPECT_EQ(streamed, text);
}

// A stream that ends inside a character flushes it as U+FFFD at finish().
TEST(TokenizerStreaming, FinishFlushesIncompleteTail) {
  auto tokenizer = loadFixture("sentencepiece");
  ASSERT_TRUE(tokenizer);
  StreamDecoder stream(*tokenizer);
  std::string text;
  ASSERT_TRUE(stream.push(tokenizer->tokenToId("<0xE4>"), text).ok());
  EXPECT_EQ(text, "");
  ASSERT_TRUE(stream.finish(text).ok());
  EXPECT_EQ(text, "\xEF\xBF\xBD");
}

// Special tokens: recognised in text only when parsing is on; flagged as
// special, skipped on request; the config's eos becomes a stop id.
TEST(TokenizerSpecialTokens, ParsingSkippingAndStopIds) {
  std::unique_ptr<Tokenizer> tokenizer;
  Status status = Tokenizer::fromHuggingFaceJson(
      readData("byte_level.tokenizer.json"),
      R"({"bos_token": null, "eos_token": {"content": "<|im_end|>"},
          "chat_template": "{{ '<|im_start|>' }}"})",
      tokenizer);
  ASSERT_TRUE(status.ok()) << status.message();
  int32_t imStart = tokenizer->tokenToId("<|im_start|>");
  int32_t imEnd = tokenizer->tokenToId("<|im_end|>");
  EXPECT_TRUE(tokenizer->isSpecial(imStart));
  EXPECT_FALSE(tokenizer->isSpecial(tokenizer->tokenToId("keyword")));
  EXPECT_EQ(tokenizer->eosId(), imEnd);
  EXPECT_EQ(tokenizer->bosId(), -1);
  EXPECT_THAT(tokenizer->stopIds(), ::testing::Contains(imEnd));
  EXPECT_EQ(tokenizer->chatTemplate(), "{{ '<|im_start|>' }}");

  std::vector<int32_t> parsed = encode(*tokenizer, "<|im_start|>user");
  EXPECT_EQ(parsed.front(), imStart);
  EncodeOptions literal;
  literal.parseSpecialTokens = false;
  std::vector<int32_t> unparsed =
      encode(*tokenizer, "<|im_start|>user", literal);
  EXPECT_THAT(unparsed, ::testing::Not(::testing::Contains(imStart)));
  EXPECT_EQ(decode(*tokenizer, unparsed), "<|im_start|>user");
  // A non-special added token is matched even with parsing off.
  EXPECT_EQ(encode(*tokenizer, "keyword", literal).front(),
            tokenizer->tokenToId("keyword"));
  DecodeOptions skip;
  skip.skipSpecialTokens = true;
  EXPECT_EQ(decode(*tokenizer, parsed, skip), "user");
}

// Bad requests are errors, not crashes: ids outside the vocabulary, input
// text that is not UTF-8.
TEST(TokenizerErrors, BadRequests) {
  auto tokenizer = loadFixture("byte_level");
  ASSERT_TRUE(tokenizer);
  std::string text;
  Status status = tokenizer->decode({0, 99999}, {}, text);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("99999"));
  status = tokenizer->decode({-1}, {}, text);
  EXPECT_FALSE(status.ok());
  std::vector<int32_t> ids;
  status = tokenizer->encode("ok \xC3(", {}, ids);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("UTF-8"));
}

namespace {
// The byte-level fixture with one JSON pointer replaced (or removed).
std::string mutated(const std::string &pointer, const Json *value) {
  Json doc = Json::parse(readData("byte_level.tokenizer.json"));
  if (value)
    doc[Json::json_pointer(pointer)] = *value;
  else
    doc.erase(pointer.substr(1));
  return doc.dump();
}

std::string loadError(const std::string &json) {
  std::unique_ptr<Tokenizer> tokenizer;
  Status status = Tokenizer::fromHuggingFaceJson(json, "", tokenizer);
  EXPECT_FALSE(status.ok());
  EXPECT_FALSE(tokenizer);
  return status.message();
}
} // namespace

// Malformed tokenizer.json files fail to load with a message naming the
// field at fault.
TEST(TokenizerErrors, MalformedTokenizerJsonNamesTheField) {
  EXPECT_THAT(loadError("{not json"), HasSubstr("not valid JSON"));
  EXPECT_THAT(loadError("[]"), HasSubstr("expected a JSON object"));
  EXPECT_THAT(loadError(mutated("/model", nullptr)),
              HasSubstr("model: missing"));
  Json wordPiece = "WordPiece";
  EXPECT_THAT(loadError(mutated("/model/type", &wordPiece)),
              HasSubstr("model.type"));
  Json badMerges = Json::array({"Ġ nosuchtoken"});
  std::string message = loadError(mutated("/model/merges", &badMerges));
  EXPECT_THAT(message, HasSubstr("model.merges[0]"));
  EXPECT_THAT(message, HasSubstr("nosuchtoken"));
  Json mergeNumber = Json::array({42});
  EXPECT_THAT(loadError(mutated("/model/merges", &mergeNumber)),
              HasSubstr("model.merges[0]"));
  Json vocabArray = Json::array({"a", "b"});
  EXPECT_THAT(loadError(mutated("/model/vocab", &vocabArray)),
              HasSubstr("model.vocab"));
  Json vocabString = Json::object({{"a", "zero"}});
  EXPECT_THAT(loadError(mutated("/model/vocab", &vocabString)),
              HasSubstr("model.vocab[\"a\"]"));
  Json yes = "yes";
  EXPECT_THAT(loadError(mutated("/model/byte_fallback", &yes)),
              HasSubstr("model.byte_fallback"));
  Json badRegex = {{"Regex", "(unclosed"}};
  EXPECT_THAT(
      loadError(mutated("/pre_tokenizer/pretokenizers/0/pattern", &badRegex)),
      HasSubstr("pre_tokenizer.pretokenizers[0].pattern.Regex"));
  Json unknownPre = {{"type", "BertPreTokenizer"}};
  EXPECT_THAT(loadError(mutated("/pre_tokenizer", &unknownPre)),
              HasSubstr("BertPreTokenizer"));
  Json nfkc = {{"type", "NFKC"}};
  EXPECT_THAT(loadError(mutated("/normalizer", &nfkc)),
              HasSubstr("normalizer.type"));
  Json idString = "three";
  EXPECT_THAT(loadError(mutated("/added_tokens/0/id", &idString)),
              HasSubstr("added_tokens[0].id"));
  Json noType = Json::object();
  EXPECT_THAT(loadError(mutated("/decoder", &noType)),
              HasSubstr("decoder.type: missing"));
  Json unknownUnk = "<nope>";
  EXPECT_THAT(loadError(mutated("/model/unk_token", &unknownUnk)),
              HasSubstr("model.unk_token"));
}

// A tokenizer.json that cannot be opened names the path.
TEST(TokenizerErrors, MissingFile) {
  std::unique_ptr<Tokenizer> tokenizer;
  Status status = Tokenizer::fromHuggingFaceFile("/nonexistent/tokenizer.json",
                                                 "", tokenizer);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("/nonexistent/tokenizer.json"));
}

namespace {
TokenizerVectors tinyVectors() {
  TokenizerVectors vectors;
  vectors.model = ModelKind::ByteLevelBpe;
  vectors.preTokenizer = "gpt-2";
  vectors.tokens = {"a", "b", "ab", "<|end|>"};
  vectors.merges = {"a b"};
  vectors.tokenTypes = {TokenType::Normal, TokenType::Normal, TokenType::Normal,
                        TokenType::Control};
  vectors.eosId = 3;
  return vectors;
}

std::string vectorsError(const TokenizerVectors &vectors) {
  std::unique_ptr<Tokenizer> tokenizer;
  Status status = Tokenizer::fromVectors(vectors, tokenizer);
  EXPECT_FALSE(status.ok());
  return status.message();
}
} // namespace

// The vectors form: a tiny valid vocabulary works end to end, and each kind
// of inconsistency is an error naming the GGUF key.
TEST(TokenizerVectors, ValidationNamesTheKey) {
  std::unique_ptr<Tokenizer> tokenizer;
  ASSERT_TRUE(Tokenizer::fromVectors(tinyVectors(), tokenizer).ok());
  EXPECT_EQ(encode(*tokenizer, "ab<|end|>"), (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(tokenizer->eosId(), 3);

  TokenizerVectors vectors = tinyVectors();
  vectors.preTokenizer = "no-such-pre";
  std::string message = vectorsError(vectors);
  EXPECT_THAT(message, HasSubstr("tokenizer.ggml.pre 'no-such-pre'"));
  EXPECT_THAT(message, HasSubstr("'llama-bpe'"));

  vectors = tinyVectors();
  vectors.merges = {"a zz"};
  EXPECT_THAT(vectorsError(vectors), HasSubstr("tokenizer.ggml.merges[0]"));
  vectors.merges = {"ab"};
  EXPECT_THAT(vectorsError(vectors), HasSubstr("tokenizer.ggml.merges[0]"));

  vectors = tinyVectors();
  vectors.scores = {1.0f};
  EXPECT_THAT(vectorsError(vectors), HasSubstr("tokenizer.ggml.scores"));
  vectors = tinyVectors();
  vectors.tokenTypes.pop_back();
  EXPECT_THAT(vectorsError(vectors), HasSubstr("tokenizer.ggml.token_type"));
  vectors = tinyVectors();
  vectors.bosId = 17;
  EXPECT_THAT(vectorsError(vectors), HasSubstr("tokenizer.ggml.bos_token_id"));
  vectors = tinyVectors();
  vectors.tokens.clear();
  EXPECT_THAT(vectorsError(vectors), HasSubstr("tokenizer.ggml.tokens"));
  vectors = tinyVectors();
  vectors.model = ModelKind::SentencePieceBpe;
  vectors.merges.clear();
  EXPECT_THAT(vectorsError(vectors), HasSubstr("tokenizer.ggml.scores"));
}

// SentencePiece from scores (GGUF 'llama' without merges): the best-scoring
// piece merges first, unknown characters fall back to <0xNN>, and the space
// prefix is added and stripped again on decode.
TEST(TokenizerVectors, SentencePieceScoresAndByteFallback) {
  TokenizerVectors vectors;
  vectors.model = ModelKind::SentencePieceBpe;
  vectors.tokens = {"<unk>", "<s>",           "</s>", "\xE2\x96\x81",  "h",
                    "i",     "\xE2\x96\x81h", "hi",   "\xE2\x96\x81hi"};
  vectors.scores = {0, 0, 0, -1, -2, -3, -10, -4, -5};
  vectors.tokenTypes = {
      TokenType::Unknown, TokenType::Control, TokenType::Control,
      TokenType::Normal,  TokenType::Normal,  TokenType::Normal,
      TokenType::Normal,  TokenType::Normal,  TokenType::Normal};
  for (int byte = 0; byte < 256; ++byte) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", byte);
    vectors.tokens.push_back(name);
    vectors.scores.push_back(0);
    vectors.tokenTypes.push_back(TokenType::Byte);
  }
  vectors.unknownId = 0;
  vectors.bosId = 1;
  vectors.eosId = 2;
  vectors.addBos = true;
  vectors.addSpacePrefix = true;
  std::unique_ptr<Tokenizer> tokenizer;
  Status status = Tokenizer::fromVectors(vectors, tokenizer);
  ASSERT_TRUE(status.ok()) << status.message();
  // "▁hi": "hi" (score -4) merges before "▁h" (-10), then "▁" + "hi".
  EXPECT_EQ(encode(*tokenizer, "hi"), (std::vector<int32_t>{8}));
  EncodeOptions withBos;
  withBos.addSpecialTokens = true;
  EXPECT_EQ(encode(*tokenizer, "hi", withBos), (std::vector<int32_t>{1, 8}));
  // "é" is not in the vocabulary: bytes C3 A9.
  int32_t c3 = 9 + 0xC3, a9 = 9 + 0xA9;
  EXPECT_EQ(encode(*tokenizer, "hi é"), (std::vector<int32_t>{8, 3, c3, a9}));
  EXPECT_EQ(decode(*tokenizer, {8, 3, c3, a9}), "hi é");
}

// An NFC normalizer composes before tokenizing: decomposed "e" + U+0301 and
// "a" + U+0308 encode as the precomposed characters do. The ids are those of
// Hugging Face `tokenizers` 0.23.3 with normalizers.NFC() set on the
// byte_level fixture (Tokenizer.from_file(...); t.normalizer = NFC();
// t.encode(text, add_special_tokens=False).ids).
TEST(TokenizerNormalizer, NfcComposesLikeHuggingFace) {
  std::string json = readData("byte_level.tokenizer.json");
  Json spec = Json::parse(json);
  spec["normalizer"] = {{"type", "NFC"}};
  std::unique_ptr<Tokenizer> tokenizer;
  Status status = Tokenizer::fromHuggingFaceJson(spec.dump(), "", tokenizer);
  ASSERT_TRUE(status.ok()) << status.message();
  EncodeOptions noSpecials;
  noSpecials.addSpecialTokens = false;
  EXPECT_EQ(encode(*tokenizer, "Cafe\xcc\x81 na\xcc\x88ive", noSpecials),
            (std::vector<int32_t>{37, 310, 279, 223, 80, 130, 100, 75, 344}));
  EXPECT_EQ(encode(*tokenizer, "Caf\xc3\xa9", noSpecials),
            encode(*tokenizer, "Cafe\xcc\x81", noSpecials));
  // Without the normalizer the decomposed form tokenizes differently.
  EXPECT_NE(encode(*loadFixture("byte_level"), "Cafe\xcc\x81", noSpecials),
            encode(*tokenizer, "Cafe\xcc\x81", noSpecials));
}
