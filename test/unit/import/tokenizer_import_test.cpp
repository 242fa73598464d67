//===- tokenizer_import_test.cpp - tokenizers imported with the model -----===//
//
// Goldens: scripts/make_tiny_model.py gives every tiny model a small BPE
// vocabulary learned on a fixed text, writes it as GGUF `tokenizer.*`
// metadata and as a Hugging Face tokenizer.json (built from the same vectors
// by test/unit/tokenizer/tokenizer_parity.py's reference construction), and
// records in `<arch>.tokenizer.expected.json` the ids and decodes Hugging
// Face `tokenizers` gives for a few texts. The tokenizer `importModel`
// returns must give exactly those, from either format.
//
//===----------------------------------------------------------------------===//

#include "compiler/frontends/Importer.h"
#include "compiler/registration/Registration.h"
#include "runtime/tokenizer/ChatTemplate.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace llmc;
using frontends::ImportedModel;

std::string tinyPath(llvm::StringRef name) {
  return std::string(LLMC_TINY_MODELS_DIR) + "/" + name.str();
}

struct Goldens {
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::vector<int32_t>> idsWithSpecialTokens;
  std::vector<std::string> decoded;
  int64_t vocabSize = 0;
  int64_t bosId = -1;
  int64_t eosId = -1;
};

std::vector<std::vector<int32_t>> readIdLists(const llvm::json::Array &lists) {
  std::vector<std::vector<int32_t>> result;
  for (const llvm::json::Value &list : lists) {
    result.emplace_back();
    for (const llvm::json::Value &id : *list.getAsArray())
      result.back().push_back(static_cast<int32_t>(*id.getAsInteger()));
  }
  return result;
}

Goldens readGoldens(llvm::StringRef arch) {
  Goldens goldens;
  std::string path = tinyPath(arch.str() + ".tokenizer.expected.json");
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    ADD_FAILURE() << path << ": " << buffer.getError().message();
    return goldens;
  }
  llvm::Expected<llvm::json::Value> root =
      llvm::json::parse((*buffer)->getBuffer());
  if (!root) {
    ADD_FAILURE() << path << ": " << llvm::toString(root.takeError());
    return goldens;
  }
  const llvm::json::Object &object = *root->getAsObject();
  for (const llvm::json::Value &text : *object.getArray("texts"))
    goldens.texts.push_back(text.getAsString()->str());
  for (const llvm::json::Value &text : *object.getArray("decoded"))
    goldens.decoded.push_back(text.getAsString()->str());
  goldens.ids = readIdLists(*object.getArray("ids"));
  goldens.idsWithSpecialTokens =
      readIdLists(*object.getArray("ids_with_special_tokens"));
  goldens.vocabSize = *object.getInteger("vocab_size");
  goldens.bosId = *object.getInteger("bos_token_id");
  goldens.eosId = *object.getInteger("eos_token_id");
  return goldens;
}

/// The chat family each tiny model's template belongs to.
tokenizer::ChatFamily expectedFamily(llvm::StringRef arch) {
  if (arch == "llama")
    return tokenizer::ChatFamily::Llama3;
  if (arch == "mistral")
    return tokenizer::ChatFamily::Mistral;
  if (arch == "gemma3")
    return tokenizer::ChatFamily::Gemma;
  return tokenizer::ChatFamily::ChatMl;
}

class TokenizerImportTest : public ::testing::TestWithParam<std::string> {
protected:
  TokenizerImportTest() : context(makeRegistry()) {}
  static mlir::DialectRegistry makeRegistry() {
    mlir::DialectRegistry registry;
    registerAllLlmcDialects(registry);
    return registry;
  }
  std::optional<ImportedModel> import(llvm::StringRef name) {
    llvm::Expected<ImportedModel> imported =
        frontends::importModel(context, tinyPath(name));
    if (!imported) {
      ADD_FAILURE() << llvm::toString(imported.takeError());
      return std::nullopt;
    }
    return std::move(*imported);
  }
  std::string importError(llvm::StringRef name) {
    llvm::Expected<ImportedModel> imported =
        frontends::importModel(context, tinyPath(name));
    if (imported) {
      ADD_FAILURE() << name.str() << " imported";
      return "";
    }
    return llvm::toString(imported.takeError());
  }

  mlir::MLIRContext context;
};

/// Encodes and decodes every golden text as Hugging Face does.
void expectMatchesGoldens(const tokenizer::Tokenizer &tok,
                          const Goldens &goldens, const std::string &what) {
  EXPECT_EQ(tok.vocabSize(), goldens.vocabSize) << what;
  EXPECT_EQ(tok.bosId(), goldens.bosId) << what;
  EXPECT_EQ(tok.eosId(), goldens.eosId) << what;
  ASSERT_FALSE(goldens.texts.empty());
  for (size_t i = 0; i < goldens.texts.size(); ++i) {
    const std::string &text = goldens.texts[i];
    std::vector<int32_t> ids;
    tokenizer::EncodeOptions plain;
    ASSERT_TRUE(tok.encode(text, plain, ids).ok()) << what;
    EXPECT_EQ(ids, goldens.ids[i]) << what << ": '" << text << "'";
    tokenizer::EncodeOptions special;
    special.addSpecialTokens = true;
    std::vector<int32_t> withSpecial;
    ASSERT_TRUE(tok.encode(text, special, withSpecial).ok()) << what;
    EXPECT_EQ(withSpecial, goldens.idsWithSpecialTokens[i])
        << what << " (add_special_tokens): '" << text << "'";
    std::string decoded;
    ASSERT_TRUE(tok.decode(goldens.ids[i], {}, decoded).ok()) << what;
    EXPECT_EQ(decoded, goldens.decoded[i]) << what << ": '" << text << "'";
  }
}

// The tokenizer importModel returns from the Hugging Face directory and from
// each GGUF file gives Hugging Face's ids and decodes.
TEST_P(TokenizerImportTest, MatchesHuggingFace) {
  Goldens goldens = readGoldens(GetParam());
  for (std::string name :
       {GetParam(), GetParam() + ".f32.gguf", GetParam() + ".f16.gguf",
        GetParam() + ".q8_0.gguf"}) {
    std::optional<ImportedModel> model = import(name);
    ASSERT_TRUE(model);
    ASSERT_TRUE(model->tokenizer) << name;
    ASSERT_TRUE(model->tokenizer->tokenizer) << name;
    expectMatchesGoldens(*model->tokenizer->tokenizer, goldens, name);
  }
}

// The GGUF metadata comes back as the vectors make_tiny_model.py wrote (the
// same vocabulary and chat template as the Hugging Face files), and the
// vectors alone rebuild the same tokenizer: what the artifact stores is
// enough.
TEST_P(TokenizerImportTest, GgufVectorsRoundTrip) {
  std::optional<ImportedModel> hf = import(GetParam());
  std::optional<ImportedModel> gguf = import(GetParam() + ".f32.gguf");
  ASSERT_TRUE(hf && gguf && hf->tokenizer && gguf->tokenizer);
  ASSERT_TRUE(gguf->tokenizer->vectors);
  EXPECT_FALSE(hf->tokenizer->vectors);
  EXPECT_FALSE(hf->tokenizer->tokenizerJson.empty());
  EXPECT_FALSE(hf->tokenizer->tokenizerConfigJson.empty());
  const tokenizer::TokenizerVectors &vectors = *gguf->tokenizer->vectors;
  const tokenizer::Tokenizer &hfTok = *hf->tokenizer->tokenizer;
  ASSERT_EQ(static_cast<int32_t>(vectors.tokens.size()), hfTok.vocabSize());
  for (size_t id = 0; id < vectors.tokens.size(); ++id)
    EXPECT_EQ(vectors.tokens[id], hfTok.idToToken(static_cast<int32_t>(id)));
  bool sentencePiece = GetParam() == "mistral" || GetParam() == "gemma3";
  EXPECT_EQ(vectors.model, sentencePiece
                               ? tokenizer::ModelKind::SentencePieceBpe
                               : tokenizer::ModelKind::ByteLevelBpe);
  EXPECT_EQ(vectors.merges.empty(), sentencePiece);
  EXPECT_EQ(vectors.scores.empty(), !sentencePiece);
  EXPECT_EQ(vectors.tokenTypes.size(), vectors.tokens.size());
  EXPECT_EQ(vectors.bosId, hfTok.bosId());
  EXPECT_EQ(vectors.eosId, hfTok.eosId());
  EXPECT_EQ(vectors.unknownId, sentencePiece ? 0 : -1);
  EXPECT_EQ(vectors.addBos, GetParam() != "qwen2" && GetParam() != "qwen3");
  EXPECT_FALSE(vectors.addEos);
  EXPECT_EQ(vectors.addSpacePrefix, GetParam() == "mistral");
  EXPECT_EQ(vectors.chatTemplate, hfTok.chatTemplate());
  for (const ImportedModel *model : {&*hf, &*gguf}) {
    tokenizer::ChatTemplate chat;
    ASSERT_TRUE(tokenizer::ChatTemplate::detect(
                    model->tokenizer->tokenizer->chatTemplate(), chat)
                    .ok());
    EXPECT_EQ(chat.family(), expectedFamily(GetParam()));
  }

  std::unique_ptr<tokenizer::Tokenizer> rebuilt;
  ASSERT_TRUE(tokenizer::Tokenizer::fromVectors(vectors, rebuilt).ok());
  expectMatchesGoldens(*rebuilt, readGoldens(GetParam()), "fromVectors");

  std::string summary = gguf->tokenizer->summarize();
  EXPECT_NE(
      summary.find(sentencePiece ? "SentencePiece BPE" : "byte-level BPE"),
      std::string::npos)
      << summary;
  EXPECT_NE(summary.find("96 tokens"), std::string::npos) << summary;
  EXPECT_EQ(hf->tokenizer->getKindName(), gguf->tokenizer->getKindName());
}

INSTANTIATE_TEST_SUITE_P(TinyModels, TokenizerImportTest,
                         ::testing::Values("llama", "qwen2", "qwen3", "mistral",
                                           "gemma3"));

// Optional keys left out take llama.cpp's defaults for a SentencePiece
// vocabulary: bos 1, eos 2, unknown 0, add_bos and the space prefix on.
TEST_F(TokenizerImportTest, GgufDefaults) {
  std::optional<ImportedModel> model =
      import("mistral_tokenizer_defaults.gguf");
  ASSERT_TRUE(model && model->tokenizer && model->tokenizer->vectors);
  const tokenizer::TokenizerVectors &vectors = *model->tokenizer->vectors;
  EXPECT_EQ(vectors.bosId, 1);
  EXPECT_EQ(vectors.eosId, 2);
  EXPECT_EQ(vectors.unknownId, 0);
  EXPECT_EQ(vectors.paddingId, -1);
  EXPECT_TRUE(vectors.addBos);
  EXPECT_FALSE(vectors.addEos);
  EXPECT_TRUE(vectors.addSpacePrefix);
  EXPECT_TRUE(vectors.tokenTypes.empty());
  EXPECT_TRUE(vectors.chatTemplate.empty());
  // Plain text encodes as with the keys written (they hold the defaults).
  Goldens goldens = readGoldens("mistral");
  for (size_t i = 0; i < 4; ++i) {
    std::vector<int32_t> ids;
    ASSERT_TRUE(
        model->tokenizer->tokenizer->encode(goldens.texts[i], {}, ids).ok());
    EXPECT_EQ(ids, goldens.ids[i]) << goldens.texts[i];
  }
  EXPECT_NE(model->tokenizer->summarize().find("no chat template"),
            std::string::npos);
}

// Broken metadata fails the import, naming the file and the key.
TEST_F(TokenizerImportTest, GgufErrorsNameFileAndKey) {
  for (auto [name, key] :
       {std::pair<const char *, const char *>{
            "bad/tokenizer_model.gguf",
            "tokenizer.ggml.model: 'bert' is not supported"},
        {"bad/tokenizer_scores.gguf",
         "tokenizer.ggml.scores: has 95 entries for 96 "
         "tokens"},
        {"bad/tokenizer_pre.gguf", "tokenizer.ggml.pre: 'no-such-pre' is not a "
                                   "pre-tokenizer llmc knows"}}) {
    std::string message = importError(name);
    EXPECT_NE(message.find(tinyPath(name) + ": " + key), std::string::npos)
        << message;
  }
}

// generation_config.json's eos_token_id list replaces config.json's as the
// stop ids, and reaches the module's llm.config.
TEST_F(TokenizerImportTest, GenerationConfigStopIds) {
  std::optional<ImportedModel> model = import("qwen2_stops");
  ASSERT_TRUE(model);
  EXPECT_EQ(model->config.eosTokenIds, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(model->config.bosTokenId, 1);
  std::string text;
  llvm::raw_string_ostream os(text);
  model->module->print(os);
  EXPECT_NE(text.find("eos_token_ids = array<i64: 2, 1>"), std::string::npos);

  std::string message = importError("bad/hf_generation_config");
  EXPECT_NE(message.find(tinyPath("bad/hf_generation_config") +
                         "/generation_config.json: eos_token_id: expected an "
                         "integer or a list of integers"),
            std::string::npos)
      << message;
}

TEST_F(TokenizerImportTest, HuggingFaceErrorsNameFile) {
  std::string message = importError("bad/hf_tokenizer_json");
  EXPECT_NE(
      message.find(tinyPath("bad/hf_tokenizer_json") + "/tokenizer.json: "),
      std::string::npos)
      << message;
}

// A checkpoint without a tokenizer still imports; it has none.
TEST_F(TokenizerImportTest, NoTokenizer) {
  std::optional<ImportedModel> model = import("llama_no_tokenizer");
  ASSERT_TRUE(model);
  EXPECT_FALSE(model->tokenizer);
}

} // namespace
