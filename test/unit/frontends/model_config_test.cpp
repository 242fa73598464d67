//===- model_config_test.cpp - config.json parsing and ModelBuilder edges -===//

#include "compiler/frontends/ModelBuilder.h"
#include "compiler/frontends/ModelConfig.h"
#include "compiler/frontends/hf/HFConfig.h"
#include "compiler/frontends/hf/HFImporter.h"
#include "compiler/registration/Registration.h"
#include "dialects/llm/LLMOps.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringMap.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

using namespace llmc::frontends;
using llmc::frontends::hf::parseHFConfig;

namespace {

/// The message of a failed Expected, or "" when it succeeded.
template <typename T> std::string errorOf(llvm::Expected<T> &value) {
  if (value)
    return "";
  return llvm::toString(value.takeError());
}

constexpr const char *kLlamaSizes =
    R"("vocab_size": 32, "hidden_size": 64, "intermediate_size": 128,
       "num_hidden_layers": 2, "num_attention_heads": 8)";

std::string llamaWith(const std::string &extra) {
  return std::string(R"({"model_type": "llama", )") + kLlamaSizes +
         (extra.empty() ? "" : ", " + extra) + "}";
}

// head_dim is hidden/heads when absent, and KV heads default to the heads.
TEST(HFConfig, LlamaDerivesHeadDimAndKVHeads) {
  auto config = parseHFConfig(llamaWith(""), "config.json");
  ASSERT_TRUE(static_cast<bool>(config)) << errorOf(config);
  EXPECT_EQ(config->headDim, 8);
  EXPECT_EQ(config->rotaryDim, 8);
  EXPECT_EQ(config->numKVHeads, 8);
  EXPECT_FALSE(config->tieWordEmbeddings);
  EXPECT_TRUE(config->slidingLayers.empty());
}

// An explicit head_dim wins even when heads * head_dim != hidden (Qwen3,
// Mistral Nemo, Gemma).
TEST(HFConfig, ExplicitHeadDimIsKept) {
  auto config = parseHFConfig(llamaWith(R"("head_dim": 32)"), "config.json");
  ASSERT_TRUE(static_cast<bool>(config)) << errorOf(config);
  EXPECT_EQ(config->headDim, 32);
}

// Integral numbers written as floats (rope_theta: 1000000) and floats for
// integer fields that are whole (as some exporters write) both parse.
TEST(HFConfig, NumbersAcceptEitherJsonSpelling) {
  auto config = parseHFConfig(
      llamaWith(R"("rope_theta": 1000000, "max_position_embeddings": 4096.0)"),
      "config.json");
  ASSERT_TRUE(static_cast<bool>(config)) << errorOf(config);
  EXPECT_EQ(config->ropeTheta, 1000000.0);
  EXPECT_EQ(config->maxPositionEmbeddings, 4096);
}

// eos_token_id may be a list (Llama 3) and bos_token_id null (Qwen).
TEST(HFConfig, TokenIdListsAndNulls) {
  auto config = parseHFConfig(
      llamaWith(R"("eos_token_id": [3, 4, 5], "bos_token_id": null)"),
      "config.json");
  ASSERT_TRUE(static_cast<bool>(config)) << errorOf(config);
  EXPECT_EQ(config->eosTokenIds, (std::vector<int64_t>{3, 4, 5}));
  EXPECT_FALSE(config->bosTokenId.has_value());
}

// An EOS id outside the vocabulary is a config error naming the id.
TEST(HFConfig, TokenIdOutsideVocabulary) {
  auto config = parseHFConfig(llamaWith(R"("eos_token_id": 32)"), "c.json");
  EXPECT_EQ(errorOf(config),
            "c.json: eos_token_id 32 is outside the vocabulary of 32");
}

// rope_scaling "default" (either key spelling) means no scaling.
TEST(HFConfig, DefaultRopeTypeIsNoScaling) {
  for (const char *scaling : {R"("rope_scaling": {"rope_type": "default"})",
                              R"("rope_scaling": {"type": "default"})"}) {
    auto config = parseHFConfig(llamaWith(scaling), "config.json");
    ASSERT_TRUE(static_cast<bool>(config)) << errorOf(config);
    EXPECT_EQ(config->ropeScaling.type, RopeScalingType::None) << scaling;
  }
}

// llama3 scaling keeps all four parameters.
TEST(HFConfig, Llama3RopeScaling) {
  auto config = parseHFConfig(
      llamaWith(R"("rope_scaling": {"rope_type": "llama3", "factor": 32.0,
         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
         "original_max_position_embeddings": 8192})"),
      "config.json");
  ASSERT_TRUE(static_cast<bool>(config)) << errorOf(config);
  RopeScaling expected;
  expected.type = RopeScalingType::Llama3;
  expected.factor = 32.0;
  expected.lowFreqFactor = 1.0;
  expected.highFreqFactor = 4.0;
  expected.originalMaxPosition = 8192;
  EXPECT_TRUE(config->ropeScaling == expected);
}

// llama3 with low >= high cannot interpolate; the message says why.
TEST(HFConfig, Llama3FactorsOutOfOrder) {
  auto config = parseHFConfig(
      llamaWith(R"("rope_scaling": {"rope_type": "llama3", "factor": 8.0,
         "low_freq_factor": 4.0, "high_freq_factor": 1.0,
         "original_max_position_embeddings": 8192})"),
      "c.json");
  EXPECT_EQ(errorOf(config), "c.json: rope_scaling: llama3 scaling needs 0 < "
                             "low_freq_factor < high_freq_factor, got 4 and 1");
}

// The unsupported model_type message lists what is supported.
TEST(HFConfig, UnknownModelType) {
  auto config = parseHFConfig(R"({"model_type": "phi3"})", "dir/config.json");
  EXPECT_EQ(errorOf(config),
            "dir/config.json: unsupported model_type 'phi3'; supported: "
            "llama, mistral, qwen2, qwen3, gemma3_text");
}

// A top-level value that is not an object is rejected, not crashed on.
TEST(HFConfig, TopLevelMustBeObject) {
  auto config = parseHFConfig("[1, 2]", "c.json");
  EXPECT_EQ(errorOf(config), "c.json: expected a JSON object at the top");
}

// Zero layers or a negative size is caught by validation with the field.
TEST(HFConfig, NonPositiveSizes) {
  auto config = parseHFConfig(
      R"({"model_type": "llama", "vocab_size": 32, "hidden_size": 64,
          "intermediate_size": 128, "num_hidden_layers": 0,
          "num_attention_heads": 8})",
      "c.json");
  EXPECT_EQ(errorOf(config), "c.json: num_hidden_layers must be positive, "
                             "got 0");
}

// An odd head_dim cannot be rotated in pairs.
TEST(HFConfig, OddHeadDim) {
  auto config = parseHFConfig(llamaWith(R"("head_dim": 7)"), "c.json");
  EXPECT_EQ(errorOf(config),
            "c.json: head_dim must be even for rotary embeddings, got 7");
}

// Only silu is a valid Llama activation; the field and value are named.
TEST(HFConfig, UnsupportedActivation) {
  auto config = parseHFConfig(llamaWith(R"("hidden_act": "relu")"), "c.json");
  EXPECT_EQ(errorOf(config), "c.json: field 'hidden_act' 'relu' is not "
                             "supported for llama (expected silu)");
}

// The first of several problems is the one reported.
TEST(HFConfig, FirstProblemWins) {
  auto config = parseHFConfig(
      R"({"model_type": "llama", "vocab_size": "many", "hidden_size": true,
          "intermediate_size": 128, "num_hidden_layers": 2,
          "num_attention_heads": 8})",
      "c.json");
  EXPECT_EQ(errorOf(config),
            "c.json: field 'vocab_size' must be an integer, got \"many\"");
}

// Gemma 3: layer i is global when (i + 1) % sliding_window_pattern == 0.
TEST(HFConfig, GemmaSlidingWindowPattern) {
  auto config = parseHFConfig(
      R"({"model_type": "gemma3_text", "vocab_size": 32, "hidden_size": 64,
          "intermediate_size": 128, "num_hidden_layers": 12,
          "num_attention_heads": 4, "num_key_value_heads": 1,
          "sliding_window_pattern": 6, "sliding_window": 512})",
      "config.json");
  ASSERT_TRUE(static_cast<bool>(config)) << errorOf(config);
  for (int64_t layer = 0; layer < 12; ++layer)
    EXPECT_EQ(config->isSlidingLayer(layer), layer != 5 && layer != 11)
        << "layer " << layer;
  EXPECT_EQ(config->ropeThetaForLayer(0), 10000.0);
  EXPECT_EQ(config->ropeThetaForLayer(5), 1000000.0);
  EXPECT_EQ(*config->slidingWindow, 512);
}

// layer_types overrides the pattern; a bad entry names the field.
TEST(HFConfig, GemmaLayerTypes) {
  auto config = parseHFConfig(
      R"({"model_type": "gemma3_text", "vocab_size": 32, "hidden_size": 64,
          "intermediate_size": 128, "num_hidden_layers": 2,
          "num_attention_heads": 4, "sliding_window_pattern": 6,
          "layer_types": ["full_attention", "sliding_attention"]})",
      "config.json");
  ASSERT_TRUE(static_cast<bool>(config)) << errorOf(config);
  EXPECT_FALSE(config->isSlidingLayer(0));
  EXPECT_TRUE(config->isSlidingLayer(1));

  auto bad = parseHFConfig(
      R"({"model_type": "gemma3_text", "vocab_size": 32, "hidden_size": 64,
          "intermediate_size": 128, "num_hidden_layers": 2,
          "num_attention_heads": 4, "layer_types": ["global", "local"]})",
      "c.json");
  EXPECT_EQ(errorOf(bad),
            "c.json: field 'layer_types' entries must be "
            "\"sliding_attention\" or \"full_attention\", got \"global\"");
}

// Gemma 3's global layers get rope_scaling; its local layers never do.
TEST(HFConfig, GemmaScalingOnlyOnGlobalLayers) {
  auto config = parseHFConfig(
      R"({"model_type": "gemma3_text", "vocab_size": 32, "hidden_size": 64,
          "intermediate_size": 128, "num_hidden_layers": 6,
          "num_attention_heads": 4,
          "rope_scaling": {"rope_type": "linear", "factor": 8.0}})",
      "config.json");
  ASSERT_TRUE(static_cast<bool>(config)) << errorOf(config);
  EXPECT_EQ(config->ropeScalingForLayer(0).type, RopeScalingType::None);
  EXPECT_EQ(config->ropeScalingForLayer(5).type, RopeScalingType::Linear);
  EXPECT_EQ(config->ropeScalingForLayer(5).factor, 8.0);
}

// The attention scale comes from query_pre_attn_scalar, not head_dim.
TEST(HFConfig, GemmaAttentionScale) {
  auto config = parseHFConfig(
      R"({"model_type": "gemma3_text", "vocab_size": 32, "hidden_size": 64,
          "intermediate_size": 128, "num_hidden_layers": 1,
          "num_attention_heads": 4, "head_dim": 16,
          "query_pre_attn_scalar": 64})",
      "config.json");
  ASSERT_TRUE(static_cast<bool>(config)) << errorOf(config);
  EXPECT_DOUBLE_EQ(config->attentionScale(), 0.125);
}

// A sparse gemma-3-4b-style text_config takes Gemma3TextConfig defaults, and
// the wrapper's eos_token_id is used when the text config has none.
TEST(HFConfig, Gemma3MultimodalSparseTextConfig) {
  auto config = parseHFConfig(
      R"({"model_type": "gemma3", "eos_token_id": [1, 106],
          "text_config": {"hidden_size": 2560, "intermediate_size": 10240,
            "model_type": "gemma3_text", "num_hidden_layers": 34,
            "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
            "sliding_window": 1024}})",
      "config.json");
  ASSERT_TRUE(static_cast<bool>(config)) << errorOf(config);
  EXPECT_TRUE(config->isTextPartOfMultimodal);
  EXPECT_EQ(config->vocabSize, 262208);
  EXPECT_EQ(config->numHeads, 8);
  EXPECT_EQ(config->numKVHeads, 4);
  EXPECT_EQ(config->headDim, 256);
  EXPECT_EQ(config->numLayers, 34);
  EXPECT_TRUE(config->tieWordEmbeddings);
  EXPECT_EQ(config->eosTokenIds, (std::vector<int64_t>{1, 106}));
  EXPECT_EQ(config->ropeScaling.type, RopeScalingType::Linear);
  // 34 layers with pattern 6: globals at 5, 11, 17, 23, 29.
  EXPECT_EQ(llvm::count(config->slidingLayers, false), 5);
}

// A text_config of another family is refused.
TEST(HFConfig, Gemma3WrongTextModelType) {
  auto config = parseHFConfig(
      R"({"model_type": "gemma3", "text_config": {"model_type": "llama"}})",
      "c.json");
  EXPECT_EQ(errorOf(config),
            "c.json: text_config.model_type is 'llama', expected "
            "'gemma3_text'");
}

// Another frontend's field names show up in validation messages (GGUF).
TEST(ModelConfig, ValidateUsesTheFrontendsFieldNames) {
  ModelConfig config;
  config.source = "model.gguf";
  config.vocabSize = 32;
  config.hiddenSize = 64;
  config.intermediateSize = 128;
  config.numLayers = 1;
  config.numHeads = 6;
  config.numKVHeads = 4;
  config.headDim = 16;
  config.rotaryDim = 16;
  ConfigFieldNames names;
  names.numHeads = "llama.attention.head_count";
  names.numKVHeads = "llama.attention.head_count_kv";
  llvm::Error error = config.validate(names);
  EXPECT_EQ(llvm::toString(std::move(error)),
            "model.gguf: llama.attention.head_count (6) must be a multiple of "
            "llama.attention.head_count_kv (4) for grouped-query attention");
}

// A sliding layer without a window size is inconsistent.
TEST(ModelConfig, SlidingLayersNeedAWindow) {
  ModelConfig config;
  config.source = "x";
  config.vocabSize = 32;
  config.hiddenSize = 64;
  config.intermediateSize = 128;
  config.numLayers = 1;
  config.numHeads = 4;
  config.numKVHeads = 4;
  config.headDim = 16;
  config.rotaryDim = 16;
  config.slidingLayers = {true};
  EXPECT_EQ(llvm::toString(config.validate()),
            "x: layer_types has sliding-window layers but sliding_window is "
            "not set");
}

//===----------------------------------------------------------------------===//
// ModelBuilder
//===----------------------------------------------------------------------===//

class ModelBuilderTest : public ::testing::Test {
protected:
  ModelBuilderTest() {
    mlir::DialectRegistry registry;
    llmc::registerAllLlmcDialects(registry);
    context.appendDialectRegistry(registry);
  }

  /// The tensors a Hugging Face checkpoint of `config` holds, all `type`.
  void addCheckpoint(const ModelConfig &config, mlir::Type type) {
    auto add = [&](const std::string &name, std::vector<int64_t> shape) {
      tensors[name] = WeightDesc{std::move(shape), type};
    };
    int64_t h = config.hiddenSize, d = config.headDim;
    add("model.embed_tokens.weight", {config.vocabSize, h});
    add("model.norm.weight", {h});
    for (int64_t i = 0; i < config.numLayers; ++i) {
      std::string p = "model.layers." + std::to_string(i) + ".";
      add(p + "input_layernorm.weight", {h});
      add(p + "post_attention_layernorm.weight", {h});
      add(p + "self_attn.q_proj.weight", {config.numHeads * d, h});
      add(p + "self_attn.k_proj.weight", {config.numKVHeads * d, h});
      add(p + "self_attn.v_proj.weight", {config.numKVHeads * d, h});
      add(p + "self_attn.o_proj.weight", {h, config.numHeads * d});
      add(p + "mlp.gate_proj.weight", {config.intermediateSize, h});
      add(p + "mlp.up_proj.weight", {config.intermediateSize, h});
      add(p + "mlp.down_proj.weight", {h, config.intermediateSize});
      if (config.qkNorm) {
        add(p + "self_attn.q_norm.weight", {d});
        add(p + "self_attn.k_norm.weight", {d});
      }
      if (config.sandwichNorms) {
        add(p + "pre_feedforward_layernorm.weight", {h});
        add(p + "post_feedforward_layernorm.weight", {h});
      }
    }
    if (!config.tieWordEmbeddings)
      add("lm_head.weight", {config.vocabSize, h});
  }

  llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
  build(const ModelConfig &config, const BuildOptions &options = {}) {
    std::vector<std::string> names;
    for (const auto &[name, desc] : tensors)
      names.push_back(name);
    return buildModel(
        context, config, names,
        [&](llvm::StringRef name) -> llvm::Expected<WeightDesc> {
          if (failingWeight == name)
            return llvm::createStringError("I/O error reading " + name);
          return tensors.at(name.str());
        },
        options);
  }

  ModelConfig parse(const std::string &json) {
    auto config = parseHFConfig(json, "config.json");
    EXPECT_TRUE(static_cast<bool>(config)) << errorOf(config);
    return config ? *config : ModelConfig();
  }

  template <typename Op> std::vector<Op> collect(mlir::ModuleOp module) {
    std::vector<Op> ops;
    module.walk([&](Op op) { ops.push_back(op); });
    return ops;
  }

  mlir::MLIRContext context;
  std::map<std::string, WeightDesc> tensors;
  std::string failingWeight;
};

// Partial rotary (partial_rotary_factor) puts rotary_dim on every llm.rope.
TEST_F(ModelBuilderTest, PartialRotaryDim) {
  ModelConfig config = parse(llamaWith(R"("partial_rotary_factor": 0.5)"));
  addCheckpoint(config, mlir::BFloat16Type::get(&context));
  auto module = build(config);
  ASSERT_TRUE(static_cast<bool>(module)) << errorOf(module);
  auto ropes = collect<llmc::llm::RopeOp>(**module);
  ASSERT_EQ(ropes.size(), 4u);
  for (llmc::llm::RopeOp rope : ropes)
    EXPECT_EQ(rope.getRotaryDim(), std::optional<uint64_t>(4));
}

// Gemma's embedding factor sqrt(hidden) is rounded to the activation type:
// bf16(sqrt(1152)) = 34 and f16(sqrt(1152)) = 33.9375, computed with
// Python's struct 'e' (IEEE half) and round-to-nearest-even of the f32 bits
// to 16 (bf16), as torch.tensor(1152**0.5, dtype=...) does; f32 with
// struct 'f'.
TEST_F(ModelBuilderTest, GemmaEmbeddingScaleRoundsToActivationType) {
  ModelConfig config = parse(
      R"({"model_type": "gemma3_text", "vocab_size": 32, "hidden_size": 1152,
          "intermediate_size": 64, "num_hidden_layers": 1,
          "num_attention_heads": 4, "num_key_value_heads": 1,
          "head_dim": 16})");
  for (auto [type, expected] :
       {std::pair<mlir::Type, double>{mlir::BFloat16Type::get(&context), 34.0},
        {mlir::Float16Type::get(&context), 33.9375},
        {mlir::Float32Type::get(&context), 33.941123962402344}}) {
    tensors.clear();
    addCheckpoint(config, type);
    auto module = build(config);
    ASSERT_TRUE(static_cast<bool>(module)) << errorOf(module);
    auto scales = collect<llmc::llm::ScaleOp>(**module);
    ASSERT_EQ(scales.size(), 1u);
    EXPECT_EQ(scales[0].getFactor().convertToDouble(), expected);
  }
}

// A describer failure (an unreadable shard) is reported with the weight.
TEST_F(ModelBuilderTest, DescriberErrorsAreReported) {
  ModelConfig config = parse(llamaWith(""));
  addCheckpoint(config, mlir::BFloat16Type::get(&context));
  failingWeight = "model.layers.1.mlp.up_proj.weight";
  auto module = build(config);
  EXPECT_EQ(errorOf(module), "weight model.layers.1.mlp.up_proj.weight: I/O "
                             "error reading "
                             "model.layers.1.mlp.up_proj.weight");
}

// Many missing tensors are listed up to a limit and then counted.
TEST_F(ModelBuilderTest, LongListsAreCut) {
  ModelConfig config = parse(llamaWith(""));
  config.numLayers = 4;
  // An empty checkpoint: 2 + 4 * 9 + 1 (untied lm_head) = 39 missing.
  auto module = build(config);
  std::string message = errorOf(module);
  EXPECT_NE(message.find("missing weight model.embed_tokens.weight"),
            std::string::npos);
  EXPECT_NE(message.find("... and 23 more missing weights"), std::string::npos)
      << message;
}

// The graph is the same for every layer type except the attention window,
// and the function returns f32 logits of the vocabulary size.
TEST_F(ModelBuilderTest, MistralWindowOnEveryLayer) {
  ModelConfig config = parse(
      R"({"model_type": "mistral", "vocab_size": 32, "hidden_size": 64,
          "intermediate_size": 128, "num_hidden_layers": 3,
          "num_attention_heads": 8, "num_key_value_heads": 2,
          "sliding_window": 4096})");
  addCheckpoint(config, mlir::Float16Type::get(&context));
  auto module = build(config);
  ASSERT_TRUE(static_cast<bool>(module)) << errorOf(module);
  auto attentions = collect<llmc::llm::AttentionOp>(**module);
  ASSERT_EQ(attentions.size(), 3u);
  for (auto [index, attention] : llvm::enumerate(attentions)) {
    EXPECT_EQ(attention.getLayer(), index);
    EXPECT_EQ(attention.getSlidingWindow(), std::optional<uint64_t>(4096));
  }
}

} // namespace
