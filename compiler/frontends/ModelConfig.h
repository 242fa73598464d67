//===- ModelConfig.h - what a decoder-only transformer looks like ---------===//
//
// Every frontend (Hugging Face config.json, GGUF metadata, ...) fills one
// ModelConfig; ModelBuilder turns it into the `llm` dialect. The struct says
// what the network computes, not where the numbers came from, so the builder
// never looks at a file format.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_FRONTENDS_MODELCONFIG_H
#define LLMC_COMPILER_FRONTENDS_MODELCONFIG_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llvm {
class raw_ostream;
} // namespace llvm

namespace llmc::frontends {

/// How RoPE frequencies are rescaled for long context; mirrors
/// `#llm.rope_scaling`.
enum class RopeScalingType { None, Linear, Llama3, Yarn };

struct RopeScaling {
  RopeScalingType type = RopeScalingType::None;
  double factor = 1.0;
  /// llama3 only.
  double lowFreqFactor = 1.0;
  double highFreqFactor = 4.0;
  /// llama3 and yarn: the context length the model was pretrained with.
  int64_t originalMaxPosition = 0;

  bool operator==(const RopeScaling &other) const {
    return type == other.type && factor == other.factor &&
           lowFreqFactor == other.lowFreqFactor &&
           highFreqFactor == other.highFreqFactor &&
           originalMaxPosition == other.originalMaxPosition;
  }
};

/// The gate activation of the gated MLP: act(gate(x)) * up(x).
enum class MLPActivation {
  Silu,     // SwiGLU: Llama, Mistral, Qwen.
  GeluTanh, // GeGLU with PyTorch's tanh approximation: Gemma.
  Gelu,     // GeGLU with the exact erf GELU.
};

llvm::StringRef stringifyRopeScalingType(RopeScalingType type);
llvm::StringRef stringifyMLPActivation(MLPActivation activation);

/// The names a frontend uses for the fields that validation talks about, so
/// that a message points at the key the user wrote. The defaults are the
/// Hugging Face config.json keys.
struct ConfigFieldNames {
  std::string vocabSize = "vocab_size";
  std::string hiddenSize = "hidden_size";
  std::string intermediateSize = "intermediate_size";
  std::string numLayers = "num_hidden_layers";
  std::string numHeads = "num_attention_heads";
  std::string numKVHeads = "num_key_value_heads";
  std::string headDim = "head_dim";
  std::string rotaryDim = "partial_rotary_factor";
  std::string rmsNormEps = "rms_norm_eps";
  std::string ropeTheta = "rope_theta";
  std::string localRopeTheta = "rope_local_base_freq";
  std::string ropeScaling = "rope_scaling";
  std::string slidingWindow = "sliding_window";
  std::string layerTypes = "layer_types";
  std::string queryPreAttnScalar = "query_pre_attn_scalar";
  std::string attnLogitSoftcap = "attn_logit_softcapping";
  std::string finalLogitSoftcap = "final_logit_softcapping";
  std::string maxPositionEmbeddings = "max_position_embeddings";
};

/// The architecture-independent description of a decoder-only transformer
/// with pre-norm residual blocks, grouped-query attention with RoPE, and a
/// gated MLP.
struct ModelConfig {
  /// The family as the source names it (`llama`, `qwen3`, `gemma3_text`, ...).
  std::string architecture;
  /// Where the config came from, for diagnostics (a file path).
  std::string source;

  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKVHeads = 0;
  int64_t headDim = 0;
  /// Leading elements of each head that RoPE rotates (partial rotary);
  /// equals headDim for full rotary.
  int64_t rotaryDim = 0;
  double rmsNormEps = 1e-6;

  /// RoPE base of global (full-attention) layers, and their scaling.
  double ropeTheta = 10000.0;
  RopeScaling ropeScaling;
  /// RoPE base of sliding-window layers when it differs (Gemma 3's
  /// `rope_local_base_freq`); local layers never get `ropeScaling` then.
  std::optional<double> localRopeTheta;

  int64_t maxPositionEmbeddings = 0;
  bool tieWordEmbeddings = false;

  /// Biases of the q/k/v projections (Qwen2; Llama's `attention_bias`), of
  /// the output projection (Llama's `attention_bias`) and of the MLP.
  bool qkvBias = false;
  bool outputBias = false;
  bool mlpBias = false;
  /// RMSNorm over each head's head_dim of queries and keys before RoPE
  /// (`q_norm`, `k_norm`: Qwen3, Gemma 3).
  bool qkNorm = false;

  MLPActivation mlpActivation = MLPActivation::Silu;

  // --- Gemma.
  /// Norm weights are stored as w and applied as (1 + w).
  bool normAddsOne = false;
  /// Norms after attention and after the MLP as well as before each
  /// (`pre_feedforward_layernorm`, `post_feedforward_layernorm`).
  bool sandwichNorms = false;
  /// Embeddings are multiplied by sqrt(hidden_size) in the activation dtype.
  bool scaleEmbeddings = false;
  /// Attention logits scale is queryPreAttnScalar^-0.5 instead of
  /// headDim^-0.5.
  std::optional<double> queryPreAttnScalar;
  std::optional<double> attnLogitSoftcap;
  std::optional<double> finalLogitSoftcap;

  /// The window of sliding-window layers, in tokens.
  std::optional<int64_t> slidingWindow;
  /// One entry per layer: true where the layer attends only over the last
  /// `slidingWindow` tokens (local), false for global layers. Empty means
  /// every layer is global.
  std::vector<bool> slidingLayers;

  std::optional<int64_t> bosTokenId;
  std::vector<int64_t> eosTokenIds;

  /// The text decoder of a multimodal checkpoint (Gemma 3's `gemma3`): its
  /// weights live under another prefix and the vision tower is not used.
  bool isTextPartOfMultimodal = false;

  bool isSlidingLayer(int64_t layer) const {
    return layer >= 0 && static_cast<size_t>(layer) < slidingLayers.size() &&
           slidingLayers[layer];
  }
  /// The RoPE base a layer uses.
  double ropeThetaForLayer(int64_t layer) const;
  /// The RoPE scaling a layer uses (none on Gemma 3's local layers).
  RopeScaling ropeScalingForLayer(int64_t layer) const;
  /// The factor attention logits are multiplied by.
  double attentionScale() const;

  /// Checks that the numbers describe a network that can exist: positive
  /// sizes, query heads a multiple of KV heads, an even head_dim for RoPE,
  /// one layer type per layer, ... Messages start with `source` and name
  /// the offending field as `names` spells it.
  llvm::Error validate(const ConfigFieldNames &names = {}) const;

  /// A readable dump, one `key: value` per line (tests and `--print-config`).
  void print(llvm::raw_ostream &os) const;
};

} // namespace llmc::frontends

#endif // LLMC_COMPILER_FRONTENDS_MODELCONFIG_H
