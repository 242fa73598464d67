//===- ModelConfig.cpp - checks and prints a ModelConfig ------------------===//

#include "compiler/frontends/ModelConfig.h"

#include "dialects/common/VerifierUtils.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace llvm;

namespace llmc::frontends {

StringRef stringifyRopeScalingType(RopeScalingType type) {
  switch (type) {
  case RopeScalingType::None:
    return "none";
  case RopeScalingType::Linear:
    return "linear";
  case RopeScalingType::Llama3:
    return "llama3";
  case RopeScalingType::Yarn:
    return "yarn";
  }
  llvm_unreachable("unknown RopeScalingType");
}

StringRef stringifyMLPActivation(MLPActivation activation) {
  switch (activation) {
  case MLPActivation::Silu:
    return "silu";
  case MLPActivation::GeluTanh:
    return "gelu_tanh";
  case MLPActivation::Gelu:
    return "gelu";
  }
  llvm_unreachable("unknown MLPActivation");
}

double ModelConfig::ropeThetaForLayer(int64_t layer) const {
  if (localRopeTheta && isSlidingLayer(layer))
    return *localRopeTheta;
  return ropeTheta;
}

RopeScaling ModelConfig::ropeScalingForLayer(int64_t layer) const {
  // Gemma 3 computes local layers' RoPE with the default (unscaled) variant
  // and its own base; only global layers are stretched for long context.
  if (localRopeTheta && isSlidingLayer(layer))
    return RopeScaling();
  return ropeScaling;
}

double ModelConfig::attentionScale() const {
  return 1.0 / std::sqrt(queryPreAttnScalar ? *queryPreAttnScalar
                                            : static_cast<double>(headDim));
}

Error ModelConfig::validate(const ConfigFieldNames &names) const {
  auto fail = [&](const Twine &message) {
    return createStringError(inconvertibleErrorCode(), source + ": " + message);
  };
  for (auto [value, name] :
       {std::pair<int64_t, StringRef>{vocabSize, names.vocabSize},
        {hiddenSize, names.hiddenSize},
        {intermediateSize, names.intermediateSize},
        {numLayers, names.numLayers},
        {numHeads, names.numHeads},
        {numKVHeads, names.numKVHeads},
        {headDim, names.headDim}})
    if (value <= 0)
      return fail(formatv("{0} must be positive, got {1}", name, value));
  if (numHeads % numKVHeads != 0)
    return fail(formatv("{0} ({1}) must be a multiple of {2} ({3}) for "
                        "grouped-query attention",
                        names.numHeads, numHeads, names.numKVHeads,
                        numKVHeads));
  if (headDim % 2 != 0)
    return fail(formatv("{0} must be even for rotary embeddings, got {1}",
                        names.headDim, headDim));
  if (rotaryDim <= 0 || rotaryDim % 2 != 0 || rotaryDim > headDim)
    return fail(formatv("{0} gives a rotary dimension of {1}; it must be "
                        "even and in (0, head_dim = {2}]",
                        names.rotaryDim, rotaryDim, headDim));
  if (!(rmsNormEps > 0.0) || !std::isfinite(rmsNormEps))
    return fail(formatv("{0} must be a positive number, got {1}",
                        names.rmsNormEps, formatNumber(rmsNormEps)));
  if (!(ropeTheta > 0.0) || !std::isfinite(ropeTheta))
    return fail(formatv("{0} must be a positive number, got {1}",
                        names.ropeTheta, formatNumber(ropeTheta)));
  if (localRopeTheta &&
      (!(*localRopeTheta > 0.0) || !std::isfinite(*localRopeTheta)))
    return fail(formatv("{0} must be a positive number, got {1}",
                        names.localRopeTheta, formatNumber(*localRopeTheta)));
  if (ropeScaling.type != RopeScalingType::None) {
    if (!(ropeScaling.factor > 0.0) || !std::isfinite(ropeScaling.factor))
      return fail(formatv("{0}.factor must be a positive number, got {1}",
                          names.ropeScaling, formatNumber(ropeScaling.factor)));
    if (ropeScaling.type != RopeScalingType::Linear &&
        ropeScaling.originalMaxPosition <= 0)
      return fail(formatv("{0}.original_max_position_embeddings must be "
                          "positive for {1} scaling, got {2}",
                          names.ropeScaling,
                          stringifyRopeScalingType(ropeScaling.type),
                          ropeScaling.originalMaxPosition));
    if (ropeScaling.type == RopeScalingType::Llama3 &&
        !(ropeScaling.lowFreqFactor > 0.0 &&
          ropeScaling.highFreqFactor > ropeScaling.lowFreqFactor))
      return fail(formatv("{0}: llama3 scaling needs 0 < low_freq_factor < "
                          "high_freq_factor, got {1} and {2}",
                          names.ropeScaling,
                          formatNumber(ropeScaling.lowFreqFactor),
                          formatNumber(ropeScaling.highFreqFactor)));
  }
  if (!slidingLayers.empty() &&
      slidingLayers.size() != static_cast<size_t>(numLayers))
    return fail(formatv("{0} has {1} entries but the model has {2} layers",
                        names.layerTypes, slidingLayers.size(), numLayers));
  bool anySliding = llvm::is_contained(slidingLayers, true);
  if (anySliding && !slidingWindow)
    return fail(formatv("{0} has sliding-window layers but {1} is not set",
                        names.layerTypes, names.slidingWindow));
  if (slidingWindow && *slidingWindow <= 0)
    return fail(formatv("{0} must be positive, got {1}", names.slidingWindow,
                        *slidingWindow));
  if (queryPreAttnScalar && !(*queryPreAttnScalar > 0.0))
    return fail(formatv("{0} must be positive, got {1}",
                        names.queryPreAttnScalar,
                        formatNumber(*queryPreAttnScalar)));
  if (attnLogitSoftcap && !(*attnLogitSoftcap > 0.0))
    return fail(formatv("{0} must be positive or null, got {1}",
                        names.attnLogitSoftcap,
                        formatNumber(*attnLogitSoftcap)));
  if (finalLogitSoftcap && !(*finalLogitSoftcap > 0.0))
    return fail(formatv("{0} must be positive or null, got {1}",
                        names.finalLogitSoftcap,
                        formatNumber(*finalLogitSoftcap)));
  if (maxPositionEmbeddings < 0)
    return fail(formatv("{0} must not be negative, got {1}",
                        names.maxPositionEmbeddings, maxPositionEmbeddings));
  for (int64_t id : eosTokenIds)
    if (id < 0 || id >= vocabSize)
      return fail(formatv("eos_token_id {0} is outside the vocabulary of {1}",
                          id, vocabSize));
  if (bosTokenId && (*bosTokenId < 0 || *bosTokenId >= vocabSize))
    return fail(formatv("bos_token_id {0} is outside the vocabulary of {1}",
                        *bosTokenId, vocabSize));
  return Error::success();
}

void ModelConfig::print(raw_ostream &os) const {
  auto flag = [](bool value) { return value ? "true" : "false"; };
  os << "architecture: " << architecture << "\n";
  os << "vocab_size: " << vocabSize << "\n";
  os << "hidden_size: " << hiddenSize << "\n";
  os << "intermediate_size: " << intermediateSize << "\n";
  os << "num_layers: " << numLayers << "\n";
  os << "num_heads: " << numHeads << "\n";
  os << "num_kv_heads: " << numKVHeads << "\n";
  os << "head_dim: " << headDim << "\n";
  os << "rotary_dim: " << rotaryDim << "\n";
  os << "rms_norm_eps: " << formatNumber(rmsNormEps) << "\n";
  os << "rope_theta: " << formatNumber(ropeTheta) << "\n";
  if (localRopeTheta)
    os << "local_rope_theta: " << formatNumber(*localRopeTheta) << "\n";
  os << "rope_scaling: " << stringifyRopeScalingType(ropeScaling.type);
  if (ropeScaling.type != RopeScalingType::None)
    os << " factor=" << formatNumber(ropeScaling.factor);
  if (ropeScaling.type == RopeScalingType::Llama3)
    os << " low_freq_factor=" << formatNumber(ropeScaling.lowFreqFactor)
       << " high_freq_factor=" << formatNumber(ropeScaling.highFreqFactor);
  if (ropeScaling.type == RopeScalingType::Llama3 ||
      ropeScaling.type == RopeScalingType::Yarn)
    os << " original_max_position=" << ropeScaling.originalMaxPosition;
  os << "\n";
  os << "max_position_embeddings: " << maxPositionEmbeddings << "\n";
  os << "tie_word_embeddings: " << flag(tieWordEmbeddings) << "\n";
  os << "qkv_bias: " << flag(qkvBias) << "\n";
  os << "output_bias: " << flag(outputBias) << "\n";
  os << "mlp_bias: " << flag(mlpBias) << "\n";
  os << "qk_norm: " << flag(qkNorm) << "\n";
  os << "mlp_activation: " << stringifyMLPActivation(mlpActivation) << "\n";
  os << "norm_adds_one: " << flag(normAddsOne) << "\n";
  os << "sandwich_norms: " << flag(sandwichNorms) << "\n";
  os << "scale_embeddings: " << flag(scaleEmbeddings) << "\n";
  os << "attention_scale: " << formatNumber(attentionScale()) << "\n";
  if (attnLogitSoftcap)
    os << "attn_logit_softcap: " << formatNumber(*attnLogitSoftcap) << "\n";
  if (finalLogitSoftcap)
    os << "final_logit_softcap: " << formatNumber(*finalLogitSoftcap) << "\n";
  if (slidingWindow)
    os << "sliding_window: " << *slidingWindow << "\n";
  os << "layer_types:";
  for (int64_t layer = 0; layer < numLayers; ++layer)
    os << (isSlidingLayer(layer) ? " local" : " global");
  os << "\n";
  if (bosTokenId)
    os << "bos_token_id: " << *bosTokenId << "\n";
  os << "eos_token_ids:";
  for (int64_t id : eosTokenIds)
    os << " " << id;
  os << "\n";
}

} // namespace llmc::frontends
