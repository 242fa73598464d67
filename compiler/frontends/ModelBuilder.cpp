//===- ModelBuilder.cpp - ModelConfig + weight shapes to an llm @forward --===//
//
// One decoder layer, as transformers computes it for Llama, Mistral, Qwen2/3
// and Gemma 3:
//
//   x = norm(h)                                  input_layernorm
//   q, k, v = x Wq (+bq), x Wk (+bk), x Wv (+bv)
//   q, k = qk_norm(q), qk_norm(k)                Qwen3, Gemma 3 (per head)
//   q, k = rope(q), rope(k)                      local theta on Gemma 3's
//                                                sliding layers
//   a = attention(q, k, v) Wo (+bo)              GQA, window on local layers
//   a = norm(a)                                  Gemma 3
//   h = h + a
//   x = norm(h)                                  post_attention_layernorm
//                                                (pre_feedforward_layernorm
//                                                on Gemma 3)
//   m = (act(x Wg) * x Wu) Wd                    SwiGLU or GeGLU (tanh)
//   m = norm(m)                                  Gemma 3
//   h = h + m
//
// then the final norm and the LM head (the embedding table when tied).
//
//===----------------------------------------------------------------------===//

#include "compiler/frontends/ModelBuilder.h"

#include "dialects/common/VerifierUtils.h"
#include "dialects/llm/LLMDialect.h"
#include "dialects/llm/LLMOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace mlir;
using llvm::Error;
using llvm::Expected;
using llvm::formatv;
using llvm::StringRef;
using llvm::Twine;

namespace llmc::frontends {
namespace {

/// Where a checkpoint keeps the decoder's tensors.
struct WeightLayout {
  /// Prefix of `embed_tokens`, `layers.{i}`, `norm`.
  std::string decoderPrefix;
  std::string lmHeadName;
};

/// Tensors a checkpoint may carry that the forward pass does not read.
bool isHarmlessExtra(StringRef name, const ModelConfig &config,
                     const WeightLayout &layout) {
  // Precomputed RoPE frequencies that old transformers versions saved.
  if (name.ends_with("rotary_emb.inv_freq"))
    return true;
  // A tied model's LM head is the embedding table; a saved copy is unused.
  if (config.tieWordEmbeddings && name == layout.lmHeadName)
    return true;
  if (config.isTextPartOfMultimodal)
    for (StringRef prefix :
         {"vision_tower.", "multi_modal_projector.", "model.vision_tower.",
          "model.multi_modal_projector."})
      if (name.starts_with(prefix))
        return true;
  return false;
}

/// At most this many names per kind of problem; the rest are counted.
constexpr size_t kMaxListedProblems = 16;

class ForwardBuilder {
public:
  ForwardBuilder(MLIRContext &context, const ModelConfig &config,
                 llvm::ArrayRef<std::string> weightNames,
                 const WeightDescriber &describeWeight,
                 const BuildOptions &options)
      : context(context), config(config), describeWeight(describeWeight),
        options(options), builder(&context),
        loc(NameLoc::get(StringAttr::get(&context, config.source))) {
    for (const std::string &name : weightNames)
      available.insert(name);
    layout = chooseLayout();
  }

  Expected<OwningOpRef<ModuleOp>> build();

private:
  WeightLayout chooseLayout() const;
  Type chooseActivationType();
  void report(const Twine &message) { problems.push_back(message.str()); }

  RankedTensorType tokens(llvm::ArrayRef<int64_t> dims) const {
    llvm::SmallVector<int64_t> shape = {ShapedType::kDynamic};
    shape.append(dims.begin(), dims.end());
    return RankedTensorType::get(shape, activationType);
  }

  /// `llm.weight @name` of the expected shape, after checking the checkpoint
  /// has it with that shape. On a problem it is recorded and the weight is
  /// built anyway so that every problem is found in one run.
  Value weight(const std::string &name, llvm::ArrayRef<int64_t> shape,
               bool addsOne = false);
  Value rmsNorm(Value input, const std::string &weightName, int64_t size);
  Value linear(Value input, const std::string &prefix, int64_t outFeatures,
               int64_t inFeatures, bool hasBias);
  Value reshape(Value input, llvm::ArrayRef<int64_t> dims);
  Value rope(Value input, Value positions, int64_t layer);
  Value decoderLayer(Value hidden, Value positions, Value batch, int64_t layer);

  MLIRContext &context;
  const ModelConfig &config;
  const WeightDescriber &describeWeight;
  const BuildOptions &options;
  OpBuilder builder;
  Location loc;
  WeightLayout layout;
  Type activationType;

  llvm::StringSet<> available;
  llvm::StringMap<Value> weights;
  std::vector<std::string> problems;
  std::vector<std::string> missing;
};

WeightLayout ForwardBuilder::chooseLayout() const {
  std::vector<WeightLayout> candidates = {{"model.", "lm_head.weight"}};
  if (config.isTextPartOfMultimodal) {
    // Gemma 3 multimodal checkpoints: transformers < 4.52 saved the text
    // model as `language_model.model.*`, later ones as
    // `model.language_model.*` with a top-level `lm_head`.
    candidates.push_back(
        {"language_model.model.", "language_model.lm_head.weight"});
    candidates.push_back({"model.language_model.", "lm_head.weight"});
  }
  for (const WeightLayout &candidate : candidates)
    if (available.contains(candidate.decoderPrefix + "embed_tokens.weight"))
      return candidate;
  return candidates.front();
}

Type ForwardBuilder::chooseActivationType() {
  if (options.activationType)
    return options.activationType;
  std::string embedName = layout.decoderPrefix + "embed_tokens.weight";
  if (available.contains(embedName)) {
    Expected<WeightDesc> desc = describeWeight(embedName);
    if (!desc) {
      llvm::consumeError(desc.takeError()); // weight() reports it again.
    } else if (desc->elementType &&
               isa<BFloat16Type, Float16Type, Float32Type>(desc->elementType)) {
      return desc->elementType;
    }
  }
  return BFloat16Type::get(&context);
}

Value ForwardBuilder::weight(const std::string &name,
                             llvm::ArrayRef<int64_t> shape, bool addsOne) {
  if (Value cached = weights.lookup(name))
    return cached;
  auto type = RankedTensorType::get(shape, activationType);
  auto op = llm::WeightOp::create(builder, loc, type,
                                  FlatSymbolRefAttr::get(&context, name));
  weights[name] = op;
  if (addsOne)
    op->setAttr(kWeightTransformAttrName,
                builder.getStringAttr(kWeightTransformAddOne));

  if (!available.contains(name)) {
    if (!options.allowMissingWeights)
      missing.push_back(name);
    return op;
  }
  Expected<WeightDesc> desc = describeWeight(name);
  if (!desc) {
    report("weight " + name + ": " + llvm::toString(desc.takeError()));
    return op;
  }
  if (llvm::ArrayRef<int64_t>(desc->shape) != shape) {
    report(formatv("weight {0}: expected {1} but got {2}", name,
                   formatShape(shape), formatShape(desc->shape)));
    return op;
  }
  if (!desc->elementType ||
      !isa<BFloat16Type, Float16Type, Float32Type>(desc->elementType)) {
    std::string typeName = "unknown";
    if (desc->elementType) {
      llvm::raw_string_ostream os(typeName);
      typeName.clear();
      desc->elementType.print(os);
    }
    report(formatv("weight {0}: element type {1} is not supported; "
                   "expected bf16, f16 or f32 (pre-quantized checkpoints "
                   "are not supported yet)",
                   name, typeName));
    return op;
  }
  if (desc->elementType != activationType)
    op->setAttr(kWeightSourceTypeAttrName, TypeAttr::get(desc->elementType));
  return op;
}

Value ForwardBuilder::rmsNorm(Value input, const std::string &weightName,
                              int64_t size) {
  // Gemma's RMSNorm multiplies by (1 + w); the store adds the one.
  Value scale = weight(weightName, {size},
                       config.normAddsOne && !options.normWeightsIncludeOne);
  return llm::RMSNormOp::create(builder, loc, input.getType(), input, scale,
                                builder.getF64FloatAttr(config.rmsNormEps));
}

Value ForwardBuilder::linear(Value input, const std::string &prefix,
                             int64_t outFeatures, int64_t inFeatures,
                             bool hasBias) {
  Value matrix = weight(prefix + ".weight", {outFeatures, inFeatures});
  Value bias = hasBias ? weight(prefix + ".bias", {outFeatures}) : Value();
  auto inputType = cast<RankedTensorType>(input.getType());
  llvm::SmallVector<int64_t> shape(inputType.getShape());
  shape.back() = outFeatures;
  return llm::LinearOp::create(builder, loc,
                               RankedTensorType::get(shape, activationType),
                               input, matrix, bias);
}

Value ForwardBuilder::reshape(Value input, llvm::ArrayRef<int64_t> dims) {
  return llm::ReshapeOp::create(builder, loc, tokens(dims), input);
}

Value ForwardBuilder::rope(Value input, Value positions, int64_t layer) {
  RopeScaling scaling = config.ropeScalingForLayer(layer);
  llm::RopeScalingAttr scalingAttr;
  if (scaling.type != RopeScalingType::None) {
    llm::RopeScalingKind kind = llm::RopeScalingKind::Linear;
    if (scaling.type == RopeScalingType::Llama3)
      kind = llm::RopeScalingKind::Llama3;
    else if (scaling.type == RopeScalingType::Yarn)
      kind = llm::RopeScalingKind::Yarn;
    scalingAttr = llm::RopeScalingAttr::get(
        &context, kind, scaling.factor, scaling.lowFreqFactor,
        scaling.highFreqFactor, scaling.originalMaxPosition);
  }
  IntegerAttr rotaryDim;
  if (config.rotaryDim != config.headDim)
    rotaryDim = builder.getI64IntegerAttr(config.rotaryDim);
  return llm::RopeOp::create(
      builder, loc, input.getType(), input, positions,
      builder.getF64FloatAttr(config.ropeThetaForLayer(layer)), rotaryDim,
      llm::RopeStyleAttr(), scalingAttr);
}

Value ForwardBuilder::decoderLayer(Value hidden, Value positions, Value batch,
                                   int64_t layer) {
  const int64_t hiddenSize = config.hiddenSize;
  const int64_t headDim = config.headDim;
  const int64_t queryWidth = config.numHeads * headDim;
  const int64_t kvWidth = config.numKVHeads * headDim;
  std::string prefix = formatv("{0}layers.{1}.", layout.decoderPrefix, layer);
  std::string attn = prefix + "self_attn.";
  std::string mlp = prefix + "mlp.";
  loc = NameLoc::get(builder.getStringAttr(prefix + "self_attn"));

  Value x = rmsNorm(hidden, prefix + "input_layernorm.weight", hiddenSize);
  Value q = linear(x, attn + "q_proj", queryWidth, hiddenSize, config.qkvBias);
  Value k = linear(x, attn + "k_proj", kvWidth, hiddenSize, config.qkvBias);
  Value v = linear(x, attn + "v_proj", kvWidth, hiddenSize, config.qkvBias);
  q = reshape(q, {config.numHeads, headDim});
  k = reshape(k, {config.numKVHeads, headDim});
  v = reshape(v, {config.numKVHeads, headDim});
  if (config.qkNorm) {
    q = rmsNorm(q, attn + "q_norm.weight", headDim);
    k = rmsNorm(k, attn + "k_norm.weight", headDim);
  }
  q = rope(q, positions, layer);
  k = rope(k, positions, layer);

  IntegerAttr window;
  if (config.isSlidingLayer(layer))
    window = builder.getI64IntegerAttr(*config.slidingWindow);
  FloatAttr softcap;
  if (config.attnLogitSoftcap)
    softcap = builder.getF64FloatAttr(*config.attnLogitSoftcap);
  Value o = llm::AttentionOp::create(
      builder, loc, q.getType(), q, k, v, batch,
      builder.getI64IntegerAttr(layer),
      builder.getF64FloatAttr(config.attentionScale()), window, softcap);
  o = reshape(o, {queryWidth});
  Value a =
      linear(o, attn + "o_proj", hiddenSize, queryWidth, config.outputBias);
  if (config.sandwichNorms)
    a = rmsNorm(a, prefix + "post_attention_layernorm.weight", hiddenSize);
  hidden = llm::AddOp::create(builder, loc, hidden.getType(), hidden, a);

  loc = NameLoc::get(builder.getStringAttr(prefix + "mlp"));
  // Llama's `post_attention_layernorm` is the norm before the MLP; Gemma 3
  // names that one `pre_feedforward_layernorm` and uses the former after
  // attention (above).
  x = rmsNorm(hidden,
              prefix +
                  (config.sandwichNorms ? "pre_feedforward_layernorm"
                                        : "post_attention_layernorm") +
                  ".weight",
              hiddenSize);
  Value gate = linear(x, mlp + "gate_proj", config.intermediateSize, hiddenSize,
                      config.mlpBias);
  Value up = linear(x, mlp + "up_proj", config.intermediateSize, hiddenSize,
                    config.mlpBias);
  Value activated;
  switch (config.mlpActivation) {
  case MLPActivation::Silu:
    activated = llm::SiluOp::create(builder, loc, gate.getType(), gate);
    break;
  case MLPActivation::GeluTanh:
  case MLPActivation::Gelu:
    activated = llm::GeluOp::create(
        builder, loc, gate.getType(), gate,
        llm::GeluApproximationAttr::get(
            &context, config.mlpActivation == MLPActivation::GeluTanh
                          ? llm::GeluApproximation::Tanh
                          : llm::GeluApproximation::None));
    break;
  }
  Value product =
      llm::MulOp::create(builder, loc, gate.getType(), activated, up);
  Value m = linear(product, mlp + "down_proj", hiddenSize,
                   config.intermediateSize, config.mlpBias);
  if (config.sandwichNorms)
    m = rmsNorm(m, prefix + "post_feedforward_layernorm.weight", hiddenSize);
  return llm::AddOp::create(builder, loc, hidden.getType(), hidden, m);
}

Expected<OwningOpRef<ModuleOp>> ForwardBuilder::build() {
  context
      .loadDialect<llm::LLMDialect, func::FuncDialect, arith::ArithDialect>();
  activationType = chooseActivationType();
  if (!isa<BFloat16Type, Float16Type, Float32Type>(activationType))
    return llvm::createStringError("activation type must be bf16, f16 or f32");

  // Gemma 2-style logit capping needs a tanh the dialect does not have;
  // dropping it would change the sampled distribution silently.
  if (config.finalLogitSoftcap)
    return llvm::createStringError(
        formatv("{0}: final_logit_softcapping = {1} is not supported yet "
                "(the llm dialect has no tanh to cap the logits with)",
                config.source, formatNumber(*config.finalLogitSoftcap)));

  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  module->getOperation()->setAttr(
      "llm.model",
      builder.getStringAttr(options.modelName.empty() ? config.architecture
                                                      : options.modelName));
  // The facts the runtime and the artifact need beyond the graph.
  llvm::SmallVector<NamedAttribute> facts = {
      builder.getNamedAttr("architecture",
                           builder.getStringAttr(config.architecture)),
      builder.getNamedAttr("vocab_size",
                           builder.getI64IntegerAttr(config.vocabSize)),
      builder.getNamedAttr("hidden_size",
                           builder.getI64IntegerAttr(config.hiddenSize)),
      builder.getNamedAttr("num_layers",
                           builder.getI64IntegerAttr(config.numLayers)),
      builder.getNamedAttr("num_heads",
                           builder.getI64IntegerAttr(config.numHeads)),
      builder.getNamedAttr("num_kv_heads",
                           builder.getI64IntegerAttr(config.numKVHeads)),
      builder.getNamedAttr("head_dim",
                           builder.getI64IntegerAttr(config.headDim)),
      builder.getNamedAttr(
          "max_position_embeddings",
          builder.getI64IntegerAttr(config.maxPositionEmbeddings)),
      builder.getNamedAttr("eos_token_ids",
                           builder.getDenseI64ArrayAttr(config.eosTokenIds)),
  };
  if (config.bosTokenId)
    facts.push_back(builder.getNamedAttr(
        "bos_token_id", builder.getI64IntegerAttr(*config.bosTokenId)));
  module->getOperation()->setAttr("llm.config",
                                  builder.getDictionaryAttr(facts));

  builder.setInsertionPointToEnd(module->getBody());
  auto idsType =
      RankedTensorType::get({ShapedType::kDynamic}, builder.getI32Type());
  auto logitsType = RankedTensorType::get(
      {ShapedType::kDynamic, config.vocabSize}, builder.getF32Type());
  auto function = func::FuncOp::create(
      builder, loc, "forward",
      builder.getFunctionType({idsType, idsType, llm::BatchType::get(&context)},
                              {logitsType}));
  Block *entry = function.addEntryBlock();
  builder.setInsertionPointToEnd(entry);
  Value ids = entry->getArgument(0);
  Value positions = entry->getArgument(1);
  Value batch = entry->getArgument(2);

  loc = NameLoc::get(
      builder.getStringAttr(layout.decoderPrefix + "embed_tokens"));
  Value table = weight(layout.decoderPrefix + "embed_tokens.weight",
                       {config.vocabSize, config.hiddenSize});
  Value hidden = llm::EmbeddingOp::create(
      builder, loc, tokens({config.hiddenSize}), table, ids);
  if (config.scaleEmbeddings) {
    // Gemma multiplies by sqrt(hidden) rounded to the activation dtype
    // (torch.tensor(hidden**0.5, dtype=hidden_states.dtype)).
    llvm::APFloat factor(std::sqrt(static_cast<double>(config.hiddenSize)));
    bool losesInfo = false;
    factor.convert(cast<FloatType>(activationType).getFloatSemantics(),
                   llvm::APFloat::rmNearestTiesToEven, &losesInfo);
    factor.convert(llvm::APFloat::IEEEdouble(),
                   llvm::APFloat::rmNearestTiesToEven, &losesInfo);
    hidden =
        llm::ScaleOp::create(builder, loc, hidden.getType(), hidden,
                             builder.getF64FloatAttr(factor.convertToDouble()));
  }

  for (int64_t layer = 0; layer < config.numLayers; ++layer)
    hidden = decoderLayer(hidden, positions, batch, layer);

  loc = NameLoc::get(builder.getStringAttr(layout.decoderPrefix + "norm"));
  hidden =
      rmsNorm(hidden, layout.decoderPrefix + "norm.weight", config.hiddenSize);
  loc = NameLoc::get(builder.getStringAttr("lm_head"));
  Value head =
      config.tieWordEmbeddings
          ? table
          : weight(layout.lmHeadName, {config.vocabSize, config.hiddenSize});
  Value logits = llm::LinearOp::create(builder, loc, tokens({config.vocabSize}),
                                       hidden, head, Value());
  if (activationType != logitsType.getElementType())
    logits = arith::ExtFOp::create(builder, loc, logitsType, logits);
  func::ReturnOp::create(builder, loc, logits);

  // Leftover tensors: a layer count or architecture that does not match the
  // checkpoint shows up here.
  std::vector<std::string> unused;
  for (const auto &entry : available)
    if (!weights.count(entry.getKey()) &&
        !isHarmlessExtra(entry.getKey(), config, layout))
      unused.push_back(entry.getKey().str());
  llvm::sort(unused);

  Error errors = Error::success();
  auto add = [&](const Twine &message) {
    errors =
        llvm::joinErrors(std::move(errors), llvm::createStringError(message));
  };
  auto addList = [&](llvm::ArrayRef<std::string> names, StringRef what) {
    for (size_t i = 0; i < names.size() && i < kMaxListedProblems; ++i)
      add(what + " " + names[i]);
    if (names.size() > kMaxListedProblems)
      add(formatv("... and {0} more {1}s", names.size() - kMaxListedProblems,
                  what));
  };
  addList(missing, "missing weight");
  for (const std::string &problem : problems)
    add(problem);
  std::string unusedWhat = formatv(
      "unused weight (not part of a {0}-layer {1} model):", config.numLayers,
      config.architecture);
  addList(unused, unusedWhat);
  if (errors)
    return std::move(errors);

  // The builder is the only producer of this IR, so a verifier failure is a
  // bug here; still return it as an error instead of crashing the importer.
  std::string diagnostics;
  {
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      diagnostics += diag.str() + "\n";
      return success();
    });
    if (failed(verify(*module)))
      return llvm::createStringError("internal error: the built module does "
                                     "not verify:\n" +
                                     diagnostics);
  }
  return module;
}

} // namespace

Expected<OwningOpRef<ModuleOp>>
buildModel(MLIRContext &context, const ModelConfig &config,
           llvm::ArrayRef<std::string> weightNames,
           const WeightDescriber &describeWeight, const BuildOptions &options) {
  if (Error error = config.validate())
    return std::move(error);
  return ForwardBuilder(context, config, weightNames, describeWeight, options)
      .build();
}

} // namespace llmc::frontends
