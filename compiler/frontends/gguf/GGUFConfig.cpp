//===- GGUFConfig.cpp - GGUF metadata and tensor names to ModelConfig -----===//
//
// The key names, defaults and tensor names follow llama.cpp: gguf-py's
// constants (LLM_KV_*, MODEL_TENSOR names), its model loader
// (llama-model.cpp: load_hparams, which supplies what the converter leaves
// out, e.g. Gemma 3's sliding-window pattern and local RoPE base), and
// convert_hf_to_gguf.py (what each Hugging Face field became).
//
//===----------------------------------------------------------------------===//

#include "compiler/frontends/gguf/GGUFConfig.h"

#include "compiler/weights/Gguf.h"
#include "dialects/common/VerifierUtils.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

using namespace llvm;

namespace llmc::frontends::gguf {
namespace {

constexpr StringLiteral kLlama = "llama";
constexpr StringLiteral kQwen2 = "qwen2";
constexpr StringLiteral kQwen3 = "qwen3";
constexpr StringLiteral kGemma3 = "gemma3";

/// GGUF stores every float as f32, so config.json's `1e-05` comes back as
/// 9.99999974738e-06. The converter wrote a decimal from a JSON file; the
/// shortest decimal that reads back as the same f32 is that decimal, which
/// makes a model read from GGUF and from its Hugging Face directory agree.
double widenF32(float value) {
  char text[32];
  for (int digits = 1; digits <= 9; ++digits) {
    std::snprintf(text, sizeof(text), "%.*g", digits,
                  static_cast<double>(value));
    if (std::strtof(text, nullptr) == value)
      return std::strtod(text, nullptr);
  }
  return value;
}

/// Metadata reads for one file and architecture, collecting the first error.
class MetadataReader {
public:
  MetadataReader(const weights::GgufFile &file, StringRef arch)
      : file(file), arch(arch.str()) {}
  ~MetadataReader() { consumeError(std::move(firstError)); }

  std::string key(StringRef suffix) const { return arch + "." + suffix.str(); }
  bool has(StringRef suffix) const { return file.has(key(suffix)); }

  int64_t requiredInt(StringRef suffix) {
    Expected<uint64_t> value = file.getU64(key(suffix));
    if (!value) {
      record(value.takeError());
      return 0;
    }
    return static_cast<int64_t>(*value);
  }
  int64_t intOr(StringRef suffix, int64_t fallback) {
    return has(suffix) ? requiredInt(suffix) : fallback;
  }
  std::optional<int64_t> optionalInt(StringRef suffix) {
    if (!has(suffix))
      return std::nullopt;
    return requiredInt(suffix);
  }
  double requiredFloat(StringRef suffix) {
    Expected<float> value = file.getF32(key(suffix));
    if (!value) {
      record(value.takeError());
      return 0.0;
    }
    return widenF32(*value);
  }
  double floatOr(StringRef suffix, double fallback) {
    return has(suffix) ? requiredFloat(suffix) : fallback;
  }
  std::optional<double> optionalFloat(StringRef suffix) {
    if (!has(suffix))
      return std::nullopt;
    return requiredFloat(suffix);
  }
  std::optional<std::string> optionalString(StringRef suffix) {
    if (!has(suffix))
      return std::nullopt;
    Expected<StringRef> value = file.getString(key(suffix));
    if (!value) {
      record(value.takeError());
      return std::nullopt;
    }
    return value->str();
  }

  void fail(StringRef suffix, const Twine &message) {
    record(createStringError(file.getPath() + ": metadata '" + key(suffix) +
                             "' " + message));
  }
  void record(Error error) {
    if (hasError) {
      consumeError(std::move(error));
      return;
    }
    consumeError(std::move(firstError));
    firstError = std::move(error);
    hasError = true;
  }
  bool failed() const { return hasError; }
  Error takeError() {
    hasError = false;
    return std::move(firstError);
  }

private:
  const weights::GgufFile &file;
  std::string arch;
  Error firstError = Error::success();
  bool hasError = false;
};

/// llama.cpp writes Llama 3's RoPE scaling not as metadata but as a
/// `rope_freqs.weight` tensor holding, per rotary frequency, the factor its
/// wavelength is stretched by: 1 for short wavelengths, `factor` for long
/// ones and a smooth blend between. Recover the transformers parameters
/// (factor, low/high_freq_factor, original_max_position_embeddings) and check
/// that they reproduce the tensor.
Error readLlama3Scaling(const weights::GgufFile &file,
                        const weights::GgufTensorInfo &tensor,
                        MetadataReader &metadata, ModelConfig &config) {
  StringRef path = file.getPath();
  auto fail = [&](const Twine &message) {
    return createStringError(path + ": tensor '" + tensor.view.name + "' " +
                             message);
  };
  int64_t count = static_cast<int64_t>(tensor.view.getNumElements());
  if (tensor.view.shape.size() != 1 || count * 2 != config.rotaryDim)
    return fail(formatv("has shape {0}; expected [{1}] (rotary dimension / 2)",
                        weights::formatShape(tensor.view.shape),
                        config.rotaryDim / 2));
  std::vector<float> factors(count);
  if (Error error = weights::readTensorAsF32(tensor.view, factors))
    return error;
  double factor = *llvm::max_element(factors);
  if (std::abs(factor - 1.0) < 1e-6)
    return Error::success(); // All ones: no scaling.

  std::vector<double> wavelengths(count);
  for (int64_t i = 0; i < count; ++i)
    wavelengths[i] =
        2.0 * M_PI *
        std::pow(config.ropeTheta, static_cast<double>(2 * i) /
                                       static_cast<double>(config.rotaryDim));
  double original = static_cast<double>(
      metadata.intOr("rope.scaling.original_context_length", 8192));
  // In the blend, 1/f' = 1/factor + s (1 - 1/factor) with s linear in
  // original / wavelength: s = (original / wavelength - low) / (high - low).
  double low = 1.0, high = 4.0;                 // Llama 3.1's values.
  std::vector<std::pair<double, double>> blend; // (original / wavelength, s)
  for (int64_t i = 0; i < count; ++i) {
    double f = factors[i];
    if (f > 1.0 + 1e-5 && f < factor * (1.0 - 1e-5))
      blend.push_back({original / wavelengths[i],
                       (1.0 / f - 1.0 / factor) / (1.0 - 1.0 / factor)});
  }
  if (blend.size() >= 2) {
    auto [x0, s0] = blend.front();
    auto [x1, s1] = blend.back();
    double slope = (s1 - s0) / (x1 - x0);
    if (slope > 0) {
      low = x0 - s0 / slope;
      high = low + 1.0 / slope;
      // The fit carries f32 noise; configs use short decimals.
      low = std::round(low * 1e4) / 1e4;
      high = std::round(high * 1e4) / 1e4;
    }
  }
  for (int64_t i = 0; i < count; ++i) {
    double lowWavelength = original / low, highWavelength = original / high;
    double expected;
    if (wavelengths[i] < highWavelength) {
      expected = 1.0;
    } else if (wavelengths[i] > lowWavelength) {
      expected = factor;
    } else {
      double s = (original / wavelengths[i] - low) / (high - low);
      expected = 1.0 / ((1.0 - s) / factor + s);
    }
    if (std::abs(expected - factors[i]) > 1e-4 * expected)
      return fail(formatv("does not hold Llama 3 RoPE factors: entry {0} is "
                          "{1}, expected {2} for factor {3}, low_freq_factor "
                          "{4}, high_freq_factor {5} and original context {6}",
                          i, formatNumber(factors[i]), formatNumber(expected),
                          formatNumber(factor), formatNumber(low),
                          formatNumber(high), formatNumber(original)));
  }
  config.ropeScaling.type = RopeScalingType::Llama3;
  config.ropeScaling.factor = widenF32(static_cast<float>(factor));
  config.ropeScaling.lowFreqFactor = low;
  config.ropeScaling.highFreqFactor = high;
  config.ropeScaling.originalMaxPosition = static_cast<int64_t>(original);
  return Error::success();
}

void readRopeScaling(MetadataReader &metadata, ModelConfig &config) {
  std::optional<std::string> type =
      metadata.optionalString("rope.scaling.type");
  if (!type) {
    // Files from before `rope.scaling.type` existed.
    if (std::optional<double> linear =
            metadata.optionalFloat("rope.scale_linear");
        linear && *linear != 1.0) {
      config.ropeScaling.type = RopeScalingType::Linear;
      config.ropeScaling.factor = *linear;
    }
    return;
  }
  if (*type == "none")
    return;
  if (*type == "linear") {
    config.ropeScaling.type = RopeScalingType::Linear;
    config.ropeScaling.factor = metadata.requiredFloat("rope.scaling.factor");
    return;
  }
  if (*type == "yarn") {
    config.ropeScaling.type = RopeScalingType::Yarn;
    config.ropeScaling.factor = metadata.requiredFloat("rope.scaling.factor");
    config.ropeScaling.originalMaxPosition = metadata.intOr(
        "rope.scaling.original_context_length", config.maxPositionEmbeddings);
    return;
  }
  metadata.fail("rope.scaling.type", "= '" + *type +
                                         "' is not supported; supported: none, "
                                         "linear, yarn");
}

/// Gemma 3: which layers slide. llama.cpp's converter writes no pattern and
/// its loader fixes it at 6 (every sixth layer global); newer files may
/// carry `attention.sliding_window_pattern` as a period or a per-layer bool
/// array.
void readGemma3SlidingLayers(const weights::GgufFile &file,
                             MetadataReader &metadata, ModelConfig &config) {
  int64_t period = 6;
  std::string key = metadata.key("attention.sliding_window_pattern");
  if (const weights::GgufValue *value = file.lookup(key)) {
    if (value->getType() == weights::GgufValueType::Array &&
        value->getElementType() == weights::GgufValueType::Bool) {
      std::vector<weights::GgufValue> entries = value->getArrayElements();
      if (static_cast<int64_t>(entries.size()) != config.numLayers) {
        metadata.fail("attention.sliding_window_pattern",
                      formatv("has {0} entries but the model has {1} layers",
                              entries.size(), config.numLayers));
        return;
      }
      config.slidingLayers.clear();
      for (const weights::GgufValue &entry : entries)
        config.slidingLayers.push_back(entry.getAsBool().value_or(false));
      return;
    }
    std::optional<uint64_t> number = value->getAsUnsigned();
    if (!number || *number == 0) {
      metadata.fail("attention.sliding_window_pattern",
                    "must be a positive integer or an array of bool");
      return;
    }
    period = static_cast<int64_t>(*number);
  }
  config.slidingLayers.clear();
  for (int64_t layer = 0; layer < config.numLayers; ++layer)
    config.slidingLayers.push_back((layer + 1) % period != 0);
}

/// HF suffix within a layer for a GGUF `blk.N.` suffix, per architecture.
StringRef mapLayerTensor(StringRef ggufSuffix, bool gemma) {
  return StringSwitch<StringRef>(ggufSuffix)
      .Case("attn_norm", "input_layernorm")
      .Case("attn_q", "self_attn.q_proj")
      .Case("attn_k", "self_attn.k_proj")
      .Case("attn_v", "self_attn.v_proj")
      .Case("attn_output", "self_attn.o_proj")
      .Case("attn_q_norm", "self_attn.q_norm")
      .Case("attn_k_norm", "self_attn.k_norm")
      .Case("ffn_gate", "mlp.gate_proj")
      .Case("ffn_up", "mlp.up_proj")
      .Case("ffn_down", "mlp.down_proj")
      // Llama's norm before the MLP is `post_attention_layernorm`; Gemma
      // calls it `pre_feedforward_layernorm` and uses the former after
      // attention.
      .Case("ffn_norm",
            gemma ? "pre_feedforward_layernorm" : "post_attention_layernorm")
      .Case("post_attention_norm", gemma ? "post_attention_layernorm" : "")
      .Case("post_ffw_norm", gemma ? "post_feedforward_layernorm" : "")
      .Default("");
}

bool isGemma(const ModelConfig &config) {
  return config.architecture == "gemma3_text";
}

} // namespace

ArrayRef<StringRef> supportedArchitectures() {
  static const StringRef names[] = {kLlama, kQwen2, kQwen3, kGemma3};
  return names;
}

Expected<ModelConfig> readGgufConfig(const weights::GgufFile &file) {
  StringRef path = file.getPath();
  Expected<StringRef> archOrError = file.getString("general.architecture");
  if (!archOrError)
    return archOrError.takeError();
  StringRef arch = *archOrError;
  if (!llvm::is_contained(supportedArchitectures(), arch))
    return createStringError(
        path + ": unsupported architecture '" + arch +
        "'; supported: " + llvm::join(supportedArchitectures(), ", "));

  MetadataReader metadata(file, arch);
  ModelConfig config;
  config.architecture = arch == kGemma3 ? "gemma3_text" : arch.str();
  config.source = path.str();

  config.hiddenSize = metadata.requiredInt("embedding_length");
  config.numLayers = metadata.requiredInt("block_count");
  config.intermediateSize = metadata.requiredInt("feed_forward_length");
  config.numHeads = metadata.requiredInt("attention.head_count");
  config.numKVHeads =
      metadata.intOr("attention.head_count_kv", config.numHeads);
  config.maxPositionEmbeddings = metadata.requiredInt("context_length");
  config.rmsNormEps =
      metadata.requiredFloat("attention.layer_norm_rms_epsilon");
  if (metadata.failed())
    return metadata.takeError();

  if (std::optional<int64_t> keyLength =
          metadata.optionalInt("attention.key_length")) {
    config.headDim = *keyLength;
  } else if (config.numHeads > 0 && config.hiddenSize % config.numHeads == 0) {
    config.headDim = config.hiddenSize / config.numHeads;
  } else {
    metadata.fail("attention.head_count",
                  formatv("({0}) does not divide {1} ({2}) and {3} is absent",
                          config.numHeads, metadata.key("embedding_length"),
                          config.hiddenSize,
                          metadata.key("attention.key_length")));
  }
  if (std::optional<int64_t> valueLength =
          metadata.optionalInt("attention.value_length");
      valueLength && *valueLength != config.headDim)
    metadata.fail("attention.value_length",
                  formatv("({0}) differs from the key length ({1}); llmc "
                          "needs them equal",
                          *valueLength, config.headDim));
  config.rotaryDim = metadata.intOr("rope.dimension_count", config.headDim);
  config.ropeTheta =
      metadata.floatOr("rope.freq_base", arch == kGemma3 ? 1000000.0 : 10000.0);
  readRopeScaling(metadata, config);
  if (metadata.failed())
    return metadata.takeError();

  // The vocabulary: the metadata when the converter wrote it, else the
  // embedding table (llama.cpp takes the tokenizer's size; the builder checks
  // the table against whatever is chosen here).
  const weights::GgufTensorInfo *embedding =
      file.lookupTensor("token_embd.weight");
  if (std::optional<int64_t> vocab = metadata.optionalInt("vocab_size"))
    config.vocabSize = *vocab;
  else if (embedding && embedding->view.shape.size() == 2)
    config.vocabSize = embedding->view.shape[0];
  else if (const weights::GgufValue *tokens =
               file.lookup("tokenizer.ggml.tokens"))
    config.vocabSize = static_cast<int64_t>(tokens->getArraySize());
  // llama.cpp falls back to the embedding table when `output` is absent.
  config.tieWordEmbeddings = !file.lookupTensor("output.weight");

  // Biases: llama.cpp loads them when present (Qwen2 always has q/k/v ones).
  config.qkvBias = arch == kQwen2 || file.lookupTensor("blk.0.attn_q.bias");
  config.outputBias = file.lookupTensor("blk.0.attn_output.bias") != nullptr;
  config.mlpBias = file.lookupTensor("blk.0.ffn_up.bias") != nullptr;

  if (arch == kQwen3)
    config.qkNorm = true;

  if (arch == kGemma3) {
    config.mlpActivation = MLPActivation::GeluTanh;
    config.qkNorm = true;
    // The network computes (1 + w); storesNormWeightsWithOneAdded says the
    // file already holds 1 + w.
    config.normAddsOne = true;
    config.sandwichNorms = true;
    config.scaleEmbeddings = true;
    // llama.cpp: attention scale 1/sqrt(head_dim), except Gemma 3 27B (62
    // layers) whose query_pre_attn_scalar is hidden / heads.
    if (std::optional<double> scale = metadata.optionalFloat("attention.scale"))
      config.queryPreAttnScalar = 1.0 / (*scale * *scale);
    else if (config.numLayers == 62 && config.numHeads > 0)
      config.queryPreAttnScalar =
          static_cast<double>(config.hiddenSize / config.numHeads);
    else
      config.queryPreAttnScalar = static_cast<double>(config.headDim);
    config.attnLogitSoftcap = metadata.optionalFloat("attn_logit_softcapping");
    config.finalLogitSoftcap =
        metadata.optionalFloat("final_logit_softcapping");
    config.localRopeTheta = metadata.floatOr("rope.freq_base_swa", 10000.0);
    config.slidingWindow = metadata.requiredInt("attention.sliding_window");
    readGemma3SlidingLayers(file, metadata, config);
  }

  if (const weights::GgufValue *bos =
          file.lookup("tokenizer.ggml.bos_token_id"))
    if (std::optional<int64_t> id = bos->getAsSigned())
      config.bosTokenId = *id;
  if (const weights::GgufValue *eos =
          file.lookup("tokenizer.ggml.eos_token_id"))
    if (std::optional<int64_t> id = eos->getAsSigned())
      config.eosTokenIds = {*id};
  if (metadata.failed())
    return metadata.takeError();

  if (const weights::GgufTensorInfo *ropeFreqs =
          file.lookupTensor("rope_freqs.weight")) {
    if (config.ropeScaling.type != RopeScalingType::None)
      return createStringError(
          path + ": both " + metadata.key("rope.scaling.type") +
          " and tensor 'rope_freqs.weight' scale RoPE; expected one");
    if (Error error = readLlama3Scaling(file, *ropeFreqs, metadata, config))
      return std::move(error);
  }

  ConfigFieldNames names;
  names.vocabSize = metadata.key("vocab_size");
  names.hiddenSize = metadata.key("embedding_length");
  names.intermediateSize = metadata.key("feed_forward_length");
  names.numLayers = metadata.key("block_count");
  names.numHeads = metadata.key("attention.head_count");
  names.numKVHeads = metadata.key("attention.head_count_kv");
  names.headDim = metadata.key("attention.key_length");
  names.rotaryDim = metadata.key("rope.dimension_count");
  names.rmsNormEps = metadata.key("attention.layer_norm_rms_epsilon");
  names.ropeTheta = metadata.key("rope.freq_base");
  names.localRopeTheta = metadata.key("rope.freq_base_swa");
  names.ropeScaling = metadata.key("rope.scaling");
  names.slidingWindow = metadata.key("attention.sliding_window");
  names.layerTypes = metadata.key("attention.sliding_window_pattern");
  names.queryPreAttnScalar = metadata.key("attention.scale");
  names.attnLogitSoftcap = metadata.key("attn_logit_softcapping");
  names.finalLogitSoftcap = metadata.key("final_logit_softcapping");
  names.maxPositionEmbeddings = metadata.key("context_length");
  if (Error error = config.validate(names))
    return std::move(error);
  return config;
}

std::vector<TensorMapping> mapTensorNames(const weights::GgufFile &file,
                                          const ModelConfig &config) {
  // convert_hf_to_gguf.py permutes Q/K only for its LlamaModel family
  // (llama, and mistral which it writes as llama).
  bool permuted = config.architecture == kLlama;
  bool gemma = isGemma(config);
  std::vector<TensorMapping> mappings;
  for (const weights::GgufTensorInfo &info : file.getTensorInfos()) {
    StringRef name = info.view.name;
    TensorMapping mapping;
    mapping.ggufName = name.str();
    mapping.name = name.str();
    if (name == "rope_freqs.weight")
      continue; // Read into config.ropeScaling.
    if (name == "token_embd.weight") {
      mapping.name = "model.embed_tokens.weight";
    } else if (name == "output_norm.weight") {
      mapping.name = "model.norm.weight";
    } else if (name == "output.weight") {
      mapping.name = "lm_head.weight";
    } else if (name.starts_with("blk.")) {
      // blk.{layer}.{tensor}.{weight|bias}
      SmallVector<StringRef, 4> parts;
      name.split(parts, '.');
      int64_t layer = 0;
      if (parts.size() == 4 && !parts[1].getAsInteger(10, layer) &&
          (parts[3] == "weight" || parts[3] == "bias")) {
        StringRef hf = mapLayerTensor(parts[2], gemma);
        if (!hf.empty()) {
          mapping.name =
              formatv("model.layers.{0}.{1}.{2}", layer, hf, parts[3]).str();
          if (permuted && parts[2] == "attn_q")
            mapping.unpermuteHeads = config.numHeads;
          else if (permuted && parts[2] == "attn_k")
            mapping.unpermuteHeads = config.numKVHeads;
        }
      }
    }
    mappings.push_back(std::move(mapping));
  }
  return mappings;
}

std::string getGgufTensorName(StringRef hfName, const ModelConfig &config) {
  if (hfName == "model.embed_tokens.weight")
    return "token_embd.weight";
  if (hfName == "model.norm.weight")
    return "output_norm.weight";
  if (hfName == "lm_head.weight")
    return "output.weight";
  StringRef rest = hfName;
  if (!rest.consume_front("model.layers."))
    return "";
  auto [layer, tail] = rest.split('.');
  StringRef kind;
  if (tail.ends_with(".weight"))
    kind = "weight";
  else if (tail.ends_with(".bias"))
    kind = "bias";
  else
    return "";
  StringRef hf = tail.drop_back(kind.size() + 1);
  bool gemma = isGemma(config);
  for (StringRef gguf :
       {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "attn_q_norm",
        "attn_k_norm", "ffn_gate", "ffn_up", "ffn_down", "ffn_norm",
        "post_attention_norm", "post_ffw_norm"})
    if (mapLayerTensor(gguf, gemma) == hf)
      return formatv("blk.{0}.{1}.{2}", layer, gguf, kind).str();
  return "";
}

bool storesNormWeightsWithOneAdded(const ModelConfig &config) {
  return isGemma(config) && config.normAddsOne;
}

} // namespace llmc::frontends::gguf
