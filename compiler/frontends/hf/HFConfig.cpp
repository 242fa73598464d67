//===- HFConfig.cpp - Hugging Face config.json to ModelConfig -------------===//
//
// Follows the semantics of transformers' config classes, read field by field
// (LlamaConfig, MistralConfig, Qwen2Config, Qwen3Config, Gemma3TextConfig,
// Gemma3Config and modeling_rope_utils): which fields default to what, which
// ones may be null, and how `rope_scaling`, `layer_types` and
// `sliding_window_pattern` are interpreted.
//
//===----------------------------------------------------------------------===//

#include "compiler/frontends/hf/HFConfig.h"

#include "dialects/common/VerifierUtils.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <memory>
#include <string>

using namespace llvm;

namespace llmc::frontends::hf {

ArrayRef<StringRef> supportedModelTypes() {
  static const StringRef types[] = {"llama", "mistral", "qwen2", "qwen3",
                                    "gemma3_text"};
  return types;
}

namespace {

std::string describeJson(const json::Value &value) {
  std::string text;
  raw_string_ostream os(text);
  os << value;
  if (text.size() > 40)
    text = text.substr(0, 37) + "...";
  return text;
}

/// Reads typed fields from one JSON object. The first problem is kept and
/// reported by takeError(), so parsing code reads straight through instead of
/// checking every field; later fields then read as their defaults.
class FieldReader {
public:
  FieldReader(const json::Object &object, StringRef source,
              StringRef pathPrefix = "")
      : object(object), source(source.str()), pathPrefix(pathPrefix.str()),
        firstError(std::make_shared<std::optional<std::string>>()) {}

  /// A reader of the object `key` names inside this one; it reports into
  /// this reader's error.
  FieldReader nested(const json::Object &inner, StringRef key) const {
    FieldReader reader(inner, source, pathPrefix + key.str() + ".");
    reader.firstError = firstError;
    return reader;
  }

  /// True when `key` is written as JSON null, which some fields use to turn
  /// a feature off (`sliding_window: null`, `bos_token_id: null`).
  bool isExplicitNull(StringRef key) const {
    const json::Value *value = object.get(key);
    return value && value->kind() == json::Value::Null;
  }

  /// The value of `key`, or null when it is absent or JSON null (transformers
  /// treats both as "use the default").
  const json::Value *get(StringRef key) const {
    const json::Value *value = object.get(key);
    if (!value || value->kind() == json::Value::Null)
      return nullptr;
    return value;
  }
  bool has(StringRef key) const { return get(key) != nullptr; }

  std::optional<int64_t> optionalInt(StringRef key) {
    const json::Value *value = get(key);
    if (!value)
      return std::nullopt;
    if (std::optional<int64_t> number = value->getAsInteger())
      return number;
    fail(key, "must be an integer, got " + describeJson(*value));
    return std::nullopt;
  }
  int64_t requiredInt(StringRef key) {
    if (!has(key)) {
      failMessage("missing required field '" + pathPrefix + key.str() + "'");
      return 0;
    }
    return optionalInt(key).value_or(0);
  }
  int64_t intOr(StringRef key, int64_t fallback) {
    return optionalInt(key).value_or(fallback);
  }

  std::optional<double> optionalNumber(StringRef key) {
    const json::Value *value = get(key);
    if (!value)
      return std::nullopt;
    if (std::optional<double> number = value->getAsNumber())
      return number;
    fail(key, "must be a number, got " + describeJson(*value));
    return std::nullopt;
  }
  double numberOr(StringRef key, double fallback) {
    return optionalNumber(key).value_or(fallback);
  }

  bool boolOr(StringRef key, bool fallback) {
    const json::Value *value = get(key);
    if (!value)
      return fallback;
    if (std::optional<bool> flag = value->getAsBoolean())
      return *flag;
    fail(key, "must be true or false, got " + describeJson(*value));
    return fallback;
  }

  std::optional<std::string> optionalString(StringRef key) {
    const json::Value *value = get(key);
    if (!value)
      return std::nullopt;
    if (std::optional<StringRef> text = value->getAsString())
      return text->str();
    fail(key, "must be a string, got " + describeJson(*value));
    return std::nullopt;
  }

  const json::Object *optionalObject(StringRef key) {
    const json::Value *value = get(key);
    if (!value)
      return nullptr;
    if (const json::Object *nested = value->getAsObject())
      return nested;
    fail(key, "must be an object, got " + describeJson(*value));
    return nullptr;
  }

  const json::Array *optionalArray(StringRef key) {
    const json::Value *value = get(key);
    if (!value)
      return nullptr;
    if (const json::Array *array = value->getAsArray())
      return array;
    fail(key, "must be a list, got " + describeJson(*value));
    return nullptr;
  }

  /// Token ids may be one integer or a list of them (Llama 3, Gemma 3).
  std::vector<int64_t> intOrIntList(StringRef key) {
    const json::Value *value = get(key);
    if (!value)
      return {};
    if (std::optional<int64_t> id = value->getAsInteger())
      return {*id};
    std::vector<int64_t> ids;
    if (const json::Array *array = value->getAsArray()) {
      for (const json::Value &element : *array) {
        std::optional<int64_t> id = element.getAsInteger();
        if (!id) {
          fail(key, "must be an integer or a list of integers, got " +
                        describeJson(*value));
          return {};
        }
        ids.push_back(*id);
      }
      return ids;
    }
    fail(key, "must be an integer or a list of integers, got " +
                  describeJson(*value));
    return {};
  }

  /// Records a problem with field `key`.
  void fail(StringRef key, const Twine &message) {
    failMessage("field '" + pathPrefix + key.str() + "' " + message.str());
  }
  void failMessage(const Twine &message) {
    if (!*firstError)
      *firstError = source + ": " + message.str();
  }
  bool failed() const { return firstError->has_value(); }
  Error takeError() {
    if (!*firstError)
      return Error::success();
    Error error = createStringError(inconvertibleErrorCode(), **firstError);
    firstError->reset();
    return error;
  }

  const std::string &getSource() const { return source; }
  const std::string &getPathPrefix() const { return pathPrefix; }

private:
  const json::Object &object;
  std::string source;
  /// Prepended to field names in messages (`text_config.`).
  std::string pathPrefix;
  /// Shared with nested readers so that one error covers the whole file.
  std::shared_ptr<std::optional<std::string>> firstError;
};

/// Reads a `rope_scaling` dict (or one entry of transformers 5's
/// `rope_parameters`) through `fields`. The type may be spelled `rope_type`
/// or, in older configs, `type`.
RopeScaling readRopeScaling(FieldReader fields, int64_t maxPositionEmbeddings) {
  RopeScaling scaling;
  std::optional<std::string> type = fields.optionalString("rope_type");
  if (!type)
    type = fields.optionalString("type");
  if (!type || *type == "default")
    return scaling;
  auto requireNumber = [&](StringRef field) {
    std::optional<double> value = fields.optionalNumber(field);
    if (!value && !fields.failed())
      fields.failMessage("missing required field '" + fields.getPathPrefix() +
                         field.str() + "' for " + *type + " scaling");
    return value.value_or(1.0);
  };
  if (*type == "linear") {
    scaling.type = RopeScalingType::Linear;
    scaling.factor = requireNumber("factor");
  } else if (*type == "llama3") {
    scaling.type = RopeScalingType::Llama3;
    scaling.factor = requireNumber("factor");
    scaling.lowFreqFactor = requireNumber("low_freq_factor");
    scaling.highFreqFactor = requireNumber("high_freq_factor");
    scaling.originalMaxPosition =
        static_cast<int64_t>(requireNumber("original_max_position_embeddings"));
  } else if (*type == "yarn") {
    scaling.type = RopeScalingType::Yarn;
    scaling.factor = requireNumber("factor");
    // transformers falls back to max_position_embeddings.
    scaling.originalMaxPosition =
        fields.intOr("original_max_position_embeddings", maxPositionEmbeddings);
    // #llm.rope_scaling<yarn> carries only the factor and the original
    // length; the other knobs must be at their defaults for the IR to mean
    // what the checkpoint was trained with.
    double defaultAttentionFactor =
        scaling.factor > 1.0 ? 0.1 * std::log(scaling.factor) + 1.0 : 1.0;
    for (auto [field, fallback] :
         {std::pair<StringRef, double>{"beta_fast", 32.0},
          {"beta_slow", 1.0},
          {"attention_factor", defaultAttentionFactor}}) {
      std::optional<double> value = fields.optionalNumber(field);
      if (value && std::abs(*value - fallback) > 1e-9 * std::abs(fallback))
        fields.fail(field,
                    formatv("= {0} is not supported yet (only the "
                            "default {1} is)",
                            formatNumber(*value), formatNumber(fallback)));
    }
    for (StringRef field : {"mscale", "mscale_all_dim"})
      if (fields.has(field))
        fields.fail(field, "(DeepSeek-style yarn) is not supported yet");
  } else {
    fields.failMessage(formatv("unsupported {0}type '{1}'; supported: "
                               "default, linear, llama3, yarn",
                               fields.getPathPrefix(), *type));
  }
  return scaling;
}

/// What differs between the families before any field is read: the defaults
/// of their transformers config classes.
struct FamilyDefaults {
  bool tieWordEmbeddings = false;
  /// Qwen3Config defaults head_dim to 128; the others derive it.
  std::optional<int64_t> headDim;
  double rmsNormEps = 1e-6;
  double ropeTheta = 10000.0;
  int64_t maxPositionEmbeddings = 2048;
  std::optional<int64_t> bosTokenId = 1;
  std::optional<int64_t> eosTokenId = 2;
};

/// Size fields: required at the top level, defaulted (as Gemma3TextConfig
/// does) inside a multimodal `text_config`, which real Gemma 3 checkpoints
/// write sparsely.
struct SizeDefaults {
  int64_t vocabSize, hiddenSize, intermediateSize, numLayers, numHeads;
};

/// Reads the fields every family shares.
void readCommon(FieldReader &fields, ModelConfig &config,
                const FamilyDefaults &defaults,
                const std::optional<SizeDefaults> &sizeDefaults) {
  auto size = [&](StringRef key, int64_t SizeDefaults::*member) {
    return sizeDefaults ? fields.intOr(key, (*sizeDefaults).*member)
                        : fields.requiredInt(key);
  };
  config.vocabSize = size("vocab_size", &SizeDefaults::vocabSize);
  config.hiddenSize = size("hidden_size", &SizeDefaults::hiddenSize);
  config.intermediateSize =
      size("intermediate_size", &SizeDefaults::intermediateSize);
  config.numLayers = size("num_hidden_layers", &SizeDefaults::numLayers);
  config.numHeads = size("num_attention_heads", &SizeDefaults::numHeads);
  config.numKVHeads = fields.intOr("num_key_value_heads", config.numHeads);

  if (std::optional<int64_t> headDim = fields.optionalInt("head_dim")) {
    config.headDim = *headDim;
  } else if (defaults.headDim) {
    config.headDim = *defaults.headDim;
  } else if (!fields.failed() && config.numHeads > 0) {
    if (config.hiddenSize % config.numHeads != 0)
      fields.failMessage(formatv("hidden_size ({0}) is not a multiple of "
                                 "num_attention_heads ({1}) and head_dim is "
                                 "not given",
                                 config.hiddenSize, config.numHeads)
                             .str());
    config.headDim = config.hiddenSize / config.numHeads;
  }
  double partialRotaryFactor = fields.numberOr("partial_rotary_factor", 1.0);
  if (!(partialRotaryFactor > 0.0 && partialRotaryFactor <= 1.0))
    fields.fail("partial_rotary_factor",
                formatv("must be in (0, 1], got {0}",
                        formatNumber(partialRotaryFactor)));
  // transformers truncates: int(head_dim * partial_rotary_factor).
  config.rotaryDim = static_cast<int64_t>(config.headDim * partialRotaryFactor);

  config.rmsNormEps = fields.numberOr("rms_norm_eps", defaults.rmsNormEps);
  config.maxPositionEmbeddings =
      fields.intOr("max_position_embeddings", defaults.maxPositionEmbeddings);
  config.tieWordEmbeddings =
      fields.boolOr("tie_word_embeddings", defaults.tieWordEmbeddings);

  // RoPE: transformers 5 nests everything in `rope_parameters`, per layer
  // type for Gemma 3; before that it is `rope_theta` + `rope_scaling`.
  config.ropeTheta = fields.numberOr("rope_theta", defaults.ropeTheta);
  if (const json::Object *parameters =
          fields.optionalObject("rope_parameters")) {
    FieldReader rope = fields.nested(*parameters, "rope_parameters");
    if (const json::Object *full = rope.optionalObject("full_attention")) {
      FieldReader global = rope.nested(*full, "full_attention");
      config.ropeTheta = global.numberOr("rope_theta", config.ropeTheta);
      config.ropeScaling =
          readRopeScaling(global, config.maxPositionEmbeddings);
      if (const json::Object *sliding =
              rope.optionalObject("sliding_attention")) {
        FieldReader local = rope.nested(*sliding, "sliding_attention");
        if (std::optional<double> theta = local.optionalNumber("rope_theta"))
          config.localRopeTheta = theta;
        if (readRopeScaling(local, config.maxPositionEmbeddings).type !=
            RopeScalingType::None)
          local.fail("rope_type",
                     "is not supported: sliding-window layers use unscaled "
                     "RoPE");
      }
    } else {
      config.ropeTheta = rope.numberOr("rope_theta", config.ropeTheta);
      config.ropeScaling = readRopeScaling(rope, config.maxPositionEmbeddings);
    }
  } else if (const json::Object *scaling =
                 fields.optionalObject("rope_scaling")) {
    config.ropeScaling = readRopeScaling(
        fields.nested(*scaling, "rope_scaling"), config.maxPositionEmbeddings);
  }

  // An explicit null means "no BOS token" (Qwen writes that).
  config.bosTokenId = fields.isExplicitNull("bos_token_id")
                          ? std::nullopt
                          : fields.optionalInt("bos_token_id");
  if (!config.bosTokenId && !fields.isExplicitNull("bos_token_id"))
    config.bosTokenId = defaults.bosTokenId;
  std::vector<int64_t> eos = fields.intOrIntList("eos_token_id");
  if (eos.empty() && defaults.eosTokenId)
    eos.push_back(*defaults.eosTokenId);
  config.eosTokenIds = std::move(eos);
}

/// Which layers use sliding-window attention: `layer_types` when given,
/// otherwise the family's rule.
void readLayerTypes(FieldReader &fields, ModelConfig &config) {
  const json::Array *layerTypes = fields.optionalArray("layer_types");
  if (!layerTypes)
    return;
  config.slidingLayers.clear();
  for (const json::Value &entry : *layerTypes) {
    std::optional<StringRef> type = entry.getAsString();
    if (type && *type == "sliding_attention") {
      config.slidingLayers.push_back(true);
    } else if (type && *type == "full_attention") {
      config.slidingLayers.push_back(false);
    } else {
      fields.fail("layer_types", "entries must be \"sliding_attention\" or "
                                 "\"full_attention\", got " +
                                     describeJson(entry));
      return;
    }
  }
}

void readLlamaFamily(FieldReader &fields, ModelConfig &config,
                     StringRef modelType) {
  FamilyDefaults defaults;
  if (modelType == "mistral")
    defaults.maxPositionEmbeddings = 4096 * 32;
  readCommon(fields, config, defaults, std::nullopt);
  std::string activation = fields.optionalString("hidden_act").value_or("silu");
  if (activation == "silu" || activation == "swish")
    config.mlpActivation = MLPActivation::Silu;
  else
    fields.fail("hidden_act", "'" + activation + "' is not supported for " +
                                  modelType.str() + " (expected silu)");
  if (modelType == "llama") {
    // LlamaConfig: attention_bias adds biases to q, k, v and o.
    bool attentionBias = fields.boolOr("attention_bias", false);
    config.qkvBias = config.outputBias = attentionBias;
    config.mlpBias = fields.boolOr("mlp_bias", false);
    return;
  }
  // MistralConfig defaults sliding_window to 4096 and applies it on every
  // layer; null (Mistral v0.2 on) turns it off.
  config.slidingWindow =
      fields.isExplicitNull("sliding_window")
          ? std::nullopt
          : std::optional<int64_t>(fields.intOr("sliding_window", 4096));
  if (config.slidingWindow)
    config.slidingLayers.assign(config.numLayers, true);
  readLayerTypes(fields, config);
}

void readQwenFamily(FieldReader &fields, ModelConfig &config,
                    StringRef modelType) {
  FamilyDefaults defaults;
  defaults.maxPositionEmbeddings = 32768;
  defaults.bosTokenId = std::nullopt;
  defaults.eosTokenId = std::nullopt;
  if (modelType == "qwen3")
    defaults.headDim = 128;
  readCommon(fields, config, defaults, std::nullopt);
  std::string activation = fields.optionalString("hidden_act").value_or("silu");
  if (activation == "silu" || activation == "swish")
    config.mlpActivation = MLPActivation::Silu;
  else
    fields.fail("hidden_act", "'" + activation + "' is not supported for " +
                                  modelType.str() + " (expected silu)");
  if (modelType == "qwen2") {
    // Qwen2Attention always has q/k/v biases and no o bias.
    config.qkvBias = true;
  } else {
    bool attentionBias = fields.boolOr("attention_bias", false);
    config.qkvBias = config.outputBias = attentionBias;
    config.qkNorm = true;
  }
  // Sliding windows only with use_sliding_window, on layers from
  // max_window_layers on (Qwen2Config / Qwen3Config layer_types default).
  bool useSlidingWindow = fields.boolOr("use_sliding_window", false);
  if (useSlidingWindow) {
    config.slidingWindow = fields.intOr("sliding_window", 4096);
    int64_t maxWindowLayers = fields.intOr("max_window_layers", 28);
    config.slidingLayers.clear();
    for (int64_t layer = 0; layer < config.numLayers; ++layer)
      config.slidingLayers.push_back(layer >= maxWindowLayers);
  }
  if (fields.has("layer_types")) {
    readLayerTypes(fields, config);
    if (llvm::is_contained(config.slidingLayers, true) && !config.slidingWindow)
      config.slidingWindow = fields.intOr("sliding_window", 4096);
  }
}

/// Gemma3TextConfig; `sizeDefaults` is set inside a multimodal `gemma3`.
void readGemma3Text(FieldReader &fields, ModelConfig &config,
                    const std::optional<SizeDefaults> &sizeDefaults) {
  FamilyDefaults defaults;
  defaults.tieWordEmbeddings = true;
  defaults.headDim = 256;
  defaults.ropeTheta = 1000000.0;
  defaults.maxPositionEmbeddings = 131072;
  defaults.bosTokenId = 2;
  defaults.eosTokenId = 1;
  readCommon(fields, config, defaults, sizeDefaults);
  // Gemma3TextConfig defaults num_key_value_heads to 4, not to the head count.
  if (!fields.has("num_key_value_heads"))
    config.numKVHeads = 4;

  std::optional<std::string> activation =
      fields.optionalString("hidden_activation");
  if (!activation)
    activation = fields.optionalString("hidden_act");
  StringRef act = activation ? StringRef(*activation) : "gelu_pytorch_tanh";
  if (act == "gelu_pytorch_tanh" || act == "gelu_new" || act == "gelu_fast")
    config.mlpActivation = MLPActivation::GeluTanh;
  else if (act == "gelu")
    config.mlpActivation = MLPActivation::Gelu;
  else
    fields.fail("hidden_activation",
                "'" + act.str() +
                    "' is not supported (expected gelu_pytorch_tanh)");

  bool attentionBias = fields.boolOr("attention_bias", false);
  config.qkvBias = config.outputBias = attentionBias;
  config.qkNorm = true;
  config.normAddsOne = true;
  config.sandwichNorms = true;
  config.scaleEmbeddings = true;
  config.queryPreAttnScalar = fields.numberOr("query_pre_attn_scalar", 256);
  config.attnLogitSoftcap = fields.optionalNumber("attn_logit_softcapping");
  config.finalLogitSoftcap = fields.optionalNumber("final_logit_softcapping");
  if (!config.localRopeTheta)
    config.localRopeTheta = fields.numberOr("rope_local_base_freq", 10000.0);

  config.slidingWindow = fields.intOr("sliding_window", 4096);
  if (fields.has("layer_types")) {
    readLayerTypes(fields, config);
    return;
  }
  // Before `layer_types`: every `sliding_window_pattern`-th layer is global
  // (layer i is local when (i + 1) % pattern != 0).
  int64_t pattern = fields.intOr("sliding_window_pattern", 6);
  if (pattern <= 0) {
    fields.fail("sliding_window_pattern",
                formatv("must be positive, got {0}", pattern));
    return;
  }
  config.slidingLayers.clear();
  for (int64_t layer = 0; layer < config.numLayers; ++layer)
    config.slidingLayers.push_back((layer + 1) % pattern != 0);
}

std::string supportedList() { return llvm::join(supportedModelTypes(), ", "); }

} // namespace

Expected<ModelConfig> parseHFConfig(StringRef jsonText, StringRef source) {
  Expected<json::Value> parsed = json::parse(jsonText);
  if (!parsed)
    return createStringError(
        inconvertibleErrorCode(),
        source + ": invalid JSON: " + toString(parsed.takeError()));
  const json::Object *root = parsed->getAsObject();
  if (!root)
    return createStringError(inconvertibleErrorCode(),
                             source + ": expected a JSON object at the top");

  FieldReader fields(*root, source);
  std::optional<std::string> modelType = fields.optionalString("model_type");
  if (fields.failed())
    return fields.takeError();
  if (!modelType)
    return createStringError(inconvertibleErrorCode(),
                             source + ": missing required field 'model_type'");

  if (const json::Object *quantization =
          fields.optionalObject("quantization_config")) {
    std::string method = FieldReader(*quantization, source)
                             .optionalString("quant_method")
                             .value_or("unknown");
    return createStringError(
        inconvertibleErrorCode(),
        source + ": pre-quantized checkpoints (quantization_config." +
            "quant_method = '" + method +
            "') are not supported; import the unquantized model and use "
            "--quant");
  }

  ModelConfig config;
  config.architecture = *modelType;
  config.source = source.str();
  if (*modelType == "llama" || *modelType == "mistral") {
    readLlamaFamily(fields, config, *modelType);
  } else if (*modelType == "qwen2" || *modelType == "qwen3") {
    readQwenFamily(fields, config, *modelType);
  } else if (*modelType == "gemma3_text") {
    readGemma3Text(fields, config, std::nullopt);
  } else if (*modelType == "gemma3") {
    // Gemma3Config wraps a Gemma3TextConfig in `text_config`; fields the
    // text config leaves out take Gemma3TextConfig's defaults.
    const json::Object *textConfig = fields.optionalObject("text_config");
    if (fields.failed())
      return fields.takeError();
    static const json::Object empty;
    FieldReader text(textConfig ? *textConfig : empty, source, "text_config.");
    std::optional<std::string> textType = text.optionalString("model_type");
    if (textType && *textType != "gemma3_text")
      return createStringError(inconvertibleErrorCode(),
                               source + ": text_config.model_type is '" +
                                   *textType + "', expected 'gemma3_text'");
    readGemma3Text(text, config,
                   SizeDefaults{/*vocabSize=*/262208, /*hiddenSize=*/2304,
                                /*intermediateSize=*/9216, /*numLayers=*/26,
                                /*numHeads=*/8});
    if (text.failed())
      return text.takeError();
    // Token ids and tying are often written on the wrapper only.
    if (!text.has("eos_token_id") && fields.has("eos_token_id"))
      config.eosTokenIds = fields.intOrIntList("eos_token_id");
    if (!text.has("bos_token_id") && fields.has("bos_token_id"))
      config.bosTokenId = fields.optionalInt("bos_token_id");
    if (!text.has("tie_word_embeddings"))
      config.tieWordEmbeddings = fields.boolOr("tie_word_embeddings", true);
    config.isTextPartOfMultimodal = true;
  } else {
    return createStringError(inconvertibleErrorCode(),
                             source + ": unsupported model_type '" +
                                 *modelType +
                                 "'; supported: " + supportedList());
  }
  if (fields.failed())
    return fields.takeError();
  if (Error error = config.validate())
    return std::move(error);
  return config;
}

Expected<ModelConfig> readHFConfig(StringRef path) {
  SmallString<256> file(path);
  if (sys::fs::is_directory(file))
    sys::path::append(file, "config.json");
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(file, /*IsText=*/true);
  if (!buffer)
    return createStringError(buffer.getError(), "%s: cannot read: %s",
                             file.c_str(), buffer.getError().message().c_str());
  return parseHFConfig((*buffer)->getBuffer(), file);
}

} // namespace llmc::frontends::hf
