//===- ArtifactWriter.cpp - streams a compiled model into one .llmc file --===//

#include "compiler/artifact/ArtifactWriter.h"

#include "compiler/weights/WeightStore.h"
#include "runtime/schema/ArtifactHeader.h"
#include "runtime/schema/Checksum.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <future>
#include <limits>

namespace llmc::artifact {

namespace {

using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
using llvm::Twine;

Error makeError(const Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// Bytes a buffer or tensor of `dtype` with `numElements` values occupies.
std::optional<uint64_t> getArtifactStorageBytes(DType dtype,
                                                uint64_t numElements) {
  if (dtype == DType::I4)
    return numElements / 2 + numElements % 2;
  static const weights::DType kWeightTypes[] = {
      weights::DType::F64,  weights::DType::F32,    weights::DType::F16,
      weights::DType::BF16, weights::DType::F8E4M3, weights::DType::F8E5M2,
      weights::DType::I64,  weights::DType::I32,    weights::DType::I16,
      weights::DType::I8,   weights::DType::U8,     weights::DType::Bool,
      weights::DType::Q4_0, weights::DType::Q4_1,   weights::DType::Q5_0,
      weights::DType::Q5_1, weights::DType::Q8_0,   weights::DType::Q4_K,
      weights::DType::Q5_K, weights::DType::Q6_K};
  auto index = static_cast<size_t>(dtype);
  if (index >= std::size(kWeightTypes))
    return std::nullopt;
  return weights::getStorageBytes(kWeightTypes[index], numElements);
}

std::optional<uint64_t> getBufferBytes(const BufferSpec &buffer) {
  uint64_t elements = 1;
  for (int64_t dim : buffer.shape) {
    if (dim < 0)
      return std::nullopt;
    if (dim != 0 &&
        elements > std::numeric_limits<uint64_t>::max() / uint64_t(dim))
      return std::nullopt;
    elements *= uint64_t(dim);
  }
  return getArtifactStorageBytes(buffer.dtype, elements);
}

/// Where each blob goes, decided before anything is written. Offsets are
/// relative to their section.
struct Layout {
  std::vector<weights::WeightDesc> tensorDescs;
  std::vector<uint64_t> tensorOffsets;
  std::vector<uint64_t> tensorChecksums;
  std::vector<bool> tensorSynthetic;
  size_t syntheticCount = 0;
  uint64_t weightsSectionBytes = 0;
  uint64_t largestTensorBytes = 0;
  uint64_t tensorBytes = 0;

  struct ModuleBlobs {
    uint64_t cubinOffset = 0, cubinChecksum = 0;
    uint64_t ptxOffset = 0, ptxChecksum = 0;
  };
  std::vector<ModuleBlobs> modules;
  uint64_t kernelsSectionBytes = 0;

  /// Absolute offset of the first section: the FlatBuffer's end, aligned.
  uint64_t dataStart = 0;
  llvm::StringMap<uint32_t> tensorIndex;

  uint64_t weightsSectionOffset() const { return dataStart; }
  uint64_t kernelsSectionOffset() const {
    return dataStart + weightsSectionBytes;
  }
  bool hasKernelsSection() const { return !modules.empty(); }
};

StringRef weightName(const TensorSpec &tensor) {
  return tensor.weight.empty() ? StringRef(tensor.name)
                               : StringRef(tensor.weight);
}

std::string describeBuffer(uint32_t rank, size_t step, StringRef what) {
  return ("plan of rank " + Twine(rank) + ", step " + Twine(step) + ", " + what)
      .str();
}

Error checkBuffer(const RankPlanSpec &plan, const BufferSpec &buffer,
                  const std::string &where) {
  if (buffer.arena >= plan.arenas.size())
    return makeError(where + ": arena index " + Twine(buffer.arena) +
                     " out of range (the rank has " +
                     Twine(plan.arenas.size()) + " arenas)");
  std::optional<uint64_t> bytes = getBufferBytes(buffer);
  if (!bytes)
    return makeError(where + ": invalid shape or dtype");
  const ArenaSpec &arena = plan.arenas[buffer.arena];
  if (buffer.offset > arena.bytes || *bytes > arena.bytes - buffer.offset)
    return makeError(where + ": " + Twine(*bytes) + " bytes at offset " +
                     Twine(buffer.offset) + " do not fit arena '" + arena.name +
                     "' (" + Twine(arena.bytes) + " bytes)");
  return Error::success();
}

/// Checks every reference in `spec` and lays the blobs out.
Expected<Layout> planLayout(const ArtifactSpec &spec,
                            const weights::WeightStore &store) {
  Layout layout;
  for (const TensorSpec &tensor : spec.tensors) {
    if (tensor.name.empty())
      return makeError("artifact tensor with an empty name");
    if (!layout.tensorIndex
             .try_emplace(tensor.name, uint32_t(layout.tensorDescs.size()))
             .second)
      return makeError("artifact tensor '" + tensor.name + "' is listed twice");
    Expected<weights::WeightDesc> desc =
        tensor.desc ? Expected<weights::WeightDesc>(*tensor.desc)
                    : store.describe(weightName(tensor));
    if (!desc)
      return makeError("artifact tensor '" + tensor.name +
                       "': " + llvm::toString(desc.takeError()));
    uint64_t bytes = desc->getBytes();
    layout.tensorSynthetic.push_back(tensor.syntheticSeed.has_value());
    if (tensor.syntheticSeed) {
      // Only the seed is stored: no bytes, no place in the section.
      layout.tensorOffsets.push_back(0);
      ++layout.syntheticCount;
      layout.tensorDescs.push_back(std::move(*desc));
      continue;
    }
    layout.tensorOffsets.push_back(layout.weightsSectionBytes);
    layout.weightsSectionBytes +=
        alignUp(std::max<uint64_t>(bytes, 1), kSectionAlignment);
    layout.largestTensorBytes = std::max(layout.largestTensorBytes, bytes);
    layout.tensorBytes += bytes;
    layout.tensorDescs.push_back(std::move(*desc));
  }
  layout.tensorChecksums.assign(spec.tensors.size(), 0);
  for (const TensorSpec &tensor : spec.tensors) {
    if (!tensor.quant)
      continue;
    for (const std::string *ref :
         {&tensor.quant->scaleTensor, &tensor.quant->zeroPointTensor})
      if (!ref->empty() && !layout.tensorIndex.count(*ref))
        return makeError("artifact tensor '" + tensor.name +
                         "': quantization refers to unknown tensor '" + *ref +
                         "'");
  }

  for (const KernelModuleSpec &module : spec.kernelModules) {
    Layout::ModuleBlobs blobs;
    if (!module.cubin.empty()) {
      blobs.cubinOffset = layout.kernelsSectionBytes;
      blobs.cubinChecksum = xxhash64(module.cubin.data(), module.cubin.size());
      layout.kernelsSectionBytes +=
          alignUp(module.cubin.size(), kSectionAlignment);
    }
    if (!module.ptx.empty()) {
      blobs.ptxOffset = layout.kernelsSectionBytes;
      blobs.ptxChecksum = xxhash64(module.ptx.data(), module.ptx.size());
      layout.kernelsSectionBytes +=
          alignUp(module.ptx.size(), kSectionAlignment);
    }
    layout.modules.push_back(blobs);
  }
  for (const KernelSpec &kernel : spec.kernels)
    if (kernel.module >= spec.kernelModules.size())
      return makeError("kernel '" + kernel.name + "': module index " +
                       Twine(kernel.module) + " out of range (" +
                       Twine(spec.kernelModules.size()) + " modules)");

  for (const RankPlanSpec &plan : spec.plans) {
    for (const WeightLoadSpec &load : plan.weightLoads) {
      auto it = layout.tensorIndex.find(load.tensor);
      if (it == layout.tensorIndex.end())
        return makeError("plan of rank " + Twine(plan.rank) +
                         ": weight load of unknown tensor '" + load.tensor +
                         "'");
      if (load.arena >= plan.arenas.size())
        return makeError("plan of rank " + Twine(plan.rank) +
                         ": weight load of '" + load.tensor +
                         "' into arena index " + Twine(load.arena) +
                         " out of range");
      uint64_t bytes = layout.tensorDescs[it->second].getBytes();
      const ArenaSpec &arena = plan.arenas[load.arena];
      if (load.offset > arena.bytes || bytes > arena.bytes - load.offset)
        return makeError("plan of rank " + Twine(plan.rank) + ": tensor '" +
                         load.tensor + "' (" + Twine(bytes) +
                         " bytes) at offset " + Twine(load.offset) +
                         " does not fit arena '" + arena.name + "'");
    }
    for (size_t i = 0; i < plan.steps.size(); ++i) {
      const StepOpSpec &step = plan.steps[i].op;
      std::vector<std::pair<const BufferSpec *, const char *>> buffers;
      auto checkLaunch = [&](const LaunchSpec &launch) -> Error {
        std::string where = describeBuffer(plan.rank, i, "launch");
        if (launch.kernel >= spec.kernels.size())
          return makeError(where + ": kernel index " + Twine(launch.kernel) +
                           " out of range (" + Twine(spec.kernels.size()) +
                           " kernels)");
        // n = 0 leaves a dimension static, whatever d is.
        const std::vector<uint32_t> &scale = launch.gridTokenScale;
        bool scaleValid = scale.empty() || scale.size() == 6;
        for (size_t n = 0; scaleValid && !scale.empty() && n < 6; n += 2)
          scaleValid = scale[n] == 0 || scale[n + 1] > 0;
        if (!scaleValid)
          return makeError(where + ": grid_token_scale must be 3 pairs (n, d) "
                                   "with d > 0 where n > 0");
        if (launch.maxTokens && launch.minTokens > launch.maxTokens)
          return makeError(where + ": empty token range [" +
                           Twine(launch.minTokens) + ", " +
                           Twine(launch.maxTokens) + "]");
        for (const BufferSpec &arg : launch.args)
          buffers.push_back({&arg, "launch argument"});
        return Error::success();
      };
      for (const LaunchSpec &launch : plan.steps[i].launches)
        if (Error error = checkLaunch(launch))
          return std::move(error);
      if (const auto *launch = std::get_if<LaunchSpec>(&step)) {
        if (Error error = checkLaunch(*launch))
          return std::move(error);
      } else if (const auto *gemm = std::get_if<GemmSpec>(&step)) {
        buffers.push_back({&gemm->a, "gemm A"});
        buffers.push_back({&gemm->b, "gemm B"});
        buffers.push_back({&gemm->c, "gemm C"});
        if (gemm->scaleA)
          buffers.push_back({&*gemm->scaleA, "gemm scale_a"});
        if (gemm->scaleB)
          buffers.push_back({&*gemm->scaleB, "gemm scale_b"});
        if (gemm->zeroB)
          buffers.push_back({&*gemm->zeroB, "gemm zero_b"});
      } else if (const auto *collective = std::get_if<CollectiveSpec>(&step)) {
        buffers.push_back({&collective->buffer, "collective buffer"});
        if (collective->output)
          buffers.push_back({&*collective->output, "collective output"});
      } else if (const auto *host = std::get_if<HostSpec>(&step)) {
        for (const BufferSpec &arg : host->args)
          buffers.push_back({&arg, "host argument"});
      } else if (const auto *compute = std::get_if<ComputeSpec>(&step)) {
        for (const BufferSpec &input : compute->inputs)
          buffers.push_back({&input, "compute input"});
        for (const BufferSpec &output : compute->outputs)
          buffers.push_back({&output, "compute output"});
      }
      for (auto [buffer, what] : buffers)
        if (Error error =
                checkBuffer(plan, *buffer, describeBuffer(plan.rank, i, what)))
          return std::move(error);
    }
    for (const auto *list : {&plan.inputs, &plan.outputs})
      for (const NamedBufferSpec &named : *list)
        if (Error error =
                checkBuffer(plan, named.buffer,
                            ("plan of rank " + Twine(plan.rank) + ", " +
                             (list == &plan.inputs ? "input '" : "output '") +
                             named.name + "'")
                                .str()))
          return std::move(error);
  }
  return std::move(layout);
}

flatbuffers::Offset<Buffer> buildBuffer(flatbuffers::FlatBufferBuilder &fbb,
                                        const BufferSpec &buffer) {
  auto shape = fbb.CreateVector(buffer.shape);
  return CreateBuffer(fbb, buffer.arena, buffer.offset, shape, buffer.dtype,
                      buffer.tokenRows);
}

flatbuffers::Offset<Buffer>
buildOptionalBuffer(flatbuffers::FlatBufferBuilder &fbb,
                    const std::optional<BufferSpec> &buffer) {
  return buffer ? buildBuffer(fbb, *buffer) : flatbuffers::Offset<Buffer>();
}

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<Param>>>
buildParams(flatbuffers::FlatBufferBuilder &fbb,
            const std::vector<ParamSpec> &params) {
  std::vector<flatbuffers::Offset<Param>> offsets;
  for (const ParamSpec &param : params) {
    auto key = fbb.CreateString(param.key);
    flatbuffers::Offset<flatbuffers::String> text;
    if (const auto *value = std::get_if<std::string>(&param.value))
      text = fbb.CreateString(*value);
    ParamBuilder builder(fbb);
    builder.add_key(key);
    if (const auto *value = std::get_if<int64_t>(&param.value))
      builder.add_int_value(*value);
    else if (const auto *value = std::get_if<double>(&param.value))
      builder.add_float_value(*value);
    else
      builder.add_string_value(text);
    offsets.push_back(builder.Finish());
  }
  return fbb.CreateVector(offsets);
}

flatbuffers::Offset<LaunchStep> buildLaunch(flatbuffers::FlatBufferBuilder &fbb,
                                            const LaunchSpec &launch) {
  auto grid = fbb.CreateVector(launch.grid.data(), 3);
  auto block = fbb.CreateVector(launch.block.data(), 3);
  std::vector<flatbuffers::Offset<Buffer>> argOffsets;
  for (const BufferSpec &buffer : launch.args)
    argOffsets.push_back(buildBuffer(fbb, buffer));
  auto args = fbb.CreateVector(argOffsets);
  auto scale = launch.gridTokenScale.empty()
                   ? flatbuffers::Offset<flatbuffers::Vector<uint32_t>>()
                   : fbb.CreateVector(launch.gridTokenScale);
  auto tokenArgs = fbb.CreateVector(launch.tokenArgs);
  auto extraArgs = fbb.CreateVector(launch.extraArgs);
  return CreateLaunchStep(fbb, launch.kernel, grid, block, launch.sharedBytes,
                          args, scale, tokenArgs, extraArgs, launch.layer,
                          launch.scratchBytes, launch.minTokens,
                          launch.maxTokens);
}

flatbuffers::Offset<void> buildStep(flatbuffers::FlatBufferBuilder &fbb,
                                    const StepOpSpec &step, StepOp &type) {
  auto buildBuffers = [&](const std::vector<BufferSpec> &buffers) {
    std::vector<flatbuffers::Offset<Buffer>> offsets;
    for (const BufferSpec &buffer : buffers)
      offsets.push_back(buildBuffer(fbb, buffer));
    return fbb.CreateVector(offsets);
  };
  if (const auto *launch = std::get_if<LaunchSpec>(&step)) {
    type = StepOp::LaunchStep;
    return buildLaunch(fbb, *launch).Union();
  }
  if (const auto *gemm = std::get_if<GemmSpec>(&step)) {
    type = StepOp::GemmStep;
    auto a = buildBuffer(fbb, gemm->a);
    auto b = buildBuffer(fbb, gemm->b);
    auto c = buildBuffer(fbb, gemm->c);
    auto scaleA = buildOptionalBuffer(fbb, gemm->scaleA);
    auto scaleB = buildOptionalBuffer(fbb, gemm->scaleB);
    auto zeroB = buildOptionalBuffer(fbb, gemm->zeroB);
    return CreateGemmStep(fbb, gemm->backend, a, b, c, scaleA, scaleB,
                          gemm->transposeB, gemm->alpha, gemm->beta, zeroB)
        .Union();
  }
  if (const auto *collective = std::get_if<CollectiveSpec>(&step)) {
    type = StepOp::CollectiveStep;
    auto buffer = buildBuffer(fbb, collective->buffer);
    auto output = buildOptionalBuffer(fbb, collective->output);
    auto group = fbb.CreateVector(collective->group);
    return CreateCollectiveStep(fbb, collective->kind, collective->reduction,
                                buffer, output, collective->axis,
                                collective->peer, group)
        .Union();
  }
  if (const auto *compute = std::get_if<ComputeSpec>(&step)) {
    type = StepOp::ComputeStep;
    auto name = fbb.CreateString(compute->name);
    auto inputs = buildBuffers(compute->inputs);
    auto outputs = buildBuffers(compute->outputs);
    auto params = buildParams(fbb, compute->params);
    return CreateComputeStep(fbb, name, inputs, outputs, params).Union();
  }
  const auto &host = std::get<HostSpec>(step);
  type = StepOp::HostStep;
  auto name = fbb.CreateString(host.name);
  auto args = buildBuffers(host.args);
  auto params = buildParams(fbb, host.params);
  return CreateHostStep(fbb, name, args, params).Union();
}

flatbuffers::Offset<ModelConfig>
buildConfig(flatbuffers::FlatBufferBuilder &fbb,
            const ModelConfigSpec &config) {
  auto architecture = fbb.CreateString(config.architecture);
  auto slidingLayers = fbb.CreateVector(config.slidingLayers);
  auto stopIds = fbb.CreateVector(config.stopTokenIds);
  ModelConfigBuilder builder(fbb);
  builder.add_architecture(architecture);
  builder.add_vocab_size(config.vocabSize);
  builder.add_hidden_size(config.hiddenSize);
  builder.add_intermediate_size(config.intermediateSize);
  builder.add_num_layers(config.numLayers);
  builder.add_num_heads(config.numHeads);
  builder.add_num_kv_heads(config.numKVHeads);
  builder.add_head_dim(config.headDim);
  builder.add_rotary_dim(config.rotaryDim);
  builder.add_max_position_embeddings(config.maxPositionEmbeddings);
  builder.add_rms_norm_eps(config.rmsNormEps);
  builder.add_rope_theta(config.ropeTheta);
  if (config.localRopeTheta)
    builder.add_local_rope_theta(*config.localRopeTheta);
  builder.add_rope_scaling_type(config.ropeScalingType);
  builder.add_rope_scaling_factor(config.ropeScalingFactor);
  builder.add_rope_low_freq_factor(config.ropeLowFreqFactor);
  builder.add_rope_high_freq_factor(config.ropeHighFreqFactor);
  builder.add_rope_original_max_position(config.ropeOriginalMaxPosition);
  if (config.slidingWindow)
    builder.add_sliding_window(*config.slidingWindow);
  builder.add_sliding_layers(slidingLayers);
  builder.add_tie_word_embeddings(config.tieWordEmbeddings);
  builder.add_mlp_activation(config.mlpActivation);
  if (config.queryPreAttnScalar)
    builder.add_query_pre_attn_scalar(*config.queryPreAttnScalar);
  if (config.attnLogitSoftcap)
    builder.add_attn_logit_softcap(*config.attnLogitSoftcap);
  if (config.finalLogitSoftcap)
    builder.add_final_logit_softcap(*config.finalLogitSoftcap);
  builder.add_bos_token_id(config.bosTokenId);
  builder.add_eos_token_id(config.eosTokenId);
  builder.add_stop_token_ids(stopIds);
  builder.add_kv_cache_dtype(config.kvCacheDType);
  builder.add_kv_block_tokens(config.kvBlockTokens);
  builder.add_max_batch_tokens(config.maxBatchTokens);
  builder.add_max_seq_len(config.maxSeqLen);
  builder.add_max_batch(config.maxBatch);
  return builder.Finish();
}

flatbuffers::Offset<Tokenizer>
buildTokenizer(flatbuffers::FlatBufferBuilder &fbb,
               const tokenizer::TokenizerVectors &vectors) {
  auto pre = fbb.CreateString(vectors.preTokenizer);
  auto tokens = fbb.CreateVectorOfStrings(vectors.tokens);
  auto merges = fbb.CreateVectorOfStrings(vectors.merges);
  auto scores = fbb.CreateVector(vectors.scores);
  std::vector<int32_t> types;
  types.reserve(vectors.tokenTypes.size());
  for (tokenizer::TokenType type : vectors.tokenTypes)
    types.push_back(static_cast<int32_t>(type));
  auto tokenTypes = fbb.CreateVector(types);
  auto chatTemplate = fbb.CreateString(vectors.chatTemplate);
  TokenizerBuilder builder(fbb);
  builder.add_kind(vectors.model == tokenizer::ModelKind::SentencePieceBpe
                       ? TokenizerKind::Llama
                       : TokenizerKind::Gpt2);
  builder.add_pre_tokenizer(pre);
  builder.add_tokens(tokens);
  builder.add_merges(merges);
  builder.add_scores(scores);
  builder.add_token_types(tokenTypes);
  builder.add_bos_id(vectors.bosId);
  builder.add_eos_id(vectors.eosId);
  builder.add_unknown_id(vectors.unknownId);
  builder.add_padding_id(vectors.paddingId);
  builder.add_add_bos(vectors.addBos);
  builder.add_add_eos(vectors.addEos);
  builder.add_add_space_prefix(vectors.addSpacePrefix);
  builder.add_chat_template(chatTemplate);
  return builder.Finish();
}

/// Builds the whole table. Every scalar is written even when it equals its
/// default (ForceDefaults), so the size does not depend on the values: the
/// first build, with placeholder offsets and checksums, fixes where the
/// sections start; the second, after streaming, has the same size.
void buildFlatBuffer(flatbuffers::FlatBufferBuilder &fbb,
                     const ArtifactSpec &spec, const Layout &layout) {
  fbb.Clear();
  fbb.ForceDefaults(true);
  auto producer =
      fbb.CreateString(spec.producer.empty() ? std::string("llmc " LLMC_VERSION)
                                             : spec.producer);
  auto target = CreateTarget(fbb, fbb.CreateString(spec.target.name),
                             fbb.CreateString(spec.target.architecture),
                             fbb.CreateString(spec.target.sm));
  auto quantization = fbb.CreateString(spec.quantization);
  auto config = buildConfig(fbb, spec.config);
  flatbuffers::Offset<Tokenizer> tokenizer;
  if (spec.tokenizer) {
    tokenizer = buildTokenizer(fbb, *spec.tokenizer);
  } else if (spec.hfTokenizer) {
    auto json = fbb.CreateString(spec.hfTokenizer->tokenizerJson);
    auto configJson = fbb.CreateString(spec.hfTokenizer->tokenizerConfigJson);
    TokenizerBuilder builder(fbb);
    builder.add_hf_tokenizer_json(json);
    builder.add_hf_tokenizer_config_json(configJson);
    tokenizer = builder.Finish();
  }

  std::vector<flatbuffers::Offset<Section>> sections;
  sections.push_back(
      CreateSection(fbb, SectionKind::Weights, layout.weightsSectionOffset(),
                    layout.weightsSectionBytes, kSectionAlignment));
  const uint32_t kernelsSection = 1;
  if (layout.hasKernelsSection())
    sections.push_back(
        CreateSection(fbb, SectionKind::Kernels, layout.kernelsSectionOffset(),
                      layout.kernelsSectionBytes, kSectionAlignment));
  auto sectionVector = fbb.CreateVector(sections);

  std::vector<flatbuffers::Offset<Tensor>> tensors;
  for (size_t i = 0; i < spec.tensors.size(); ++i) {
    const TensorSpec &tensor = spec.tensors[i];
    const weights::WeightDesc &desc = layout.tensorDescs[i];
    auto name = fbb.CreateString(tensor.name);
    auto shape = fbb.CreateVector(desc.shape.data(), desc.shape.size());
    flatbuffers::Offset<QuantParams> quant;
    if (tensor.quant) {
      auto lookup = [&](const std::string &ref) -> int32_t {
        return ref.empty() ? -1 : int32_t(layout.tensorIndex.lookup(ref));
      };
      quant = CreateQuantParams(fbb, fbb.CreateString(tensor.quant->scheme),
                                lookup(tensor.quant->scaleTensor),
                                lookup(tensor.quant->zeroPointTensor),
                                fbb.CreateVector(tensor.quant->blockShape));
    }
    BlobRef data(0, layout.tensorOffsets[i], desc.getBytes(),
                 layout.tensorChecksums[i]);
    bool synthetic = layout.tensorSynthetic[i];
    tensors.push_back(CreateTensor(
        fbb, name, toArtifactDType(desc.dtype), shape,
        synthetic ? nullptr : &data, quant,
        synthetic ? flatbuffers::Optional<uint64_t>(*tensor.syntheticSeed)
                  : flatbuffers::nullopt));
  }
  auto tensorVector = fbb.CreateVector(tensors);

  std::vector<flatbuffers::Offset<KernelModule>> modules;
  for (size_t i = 0; i < spec.kernelModules.size(); ++i) {
    const KernelModuleSpec &module = spec.kernelModules[i];
    const Layout::ModuleBlobs &blobs = layout.modules[i];
    auto sm = fbb.CreateString(module.sm);
    auto entries = fbb.CreateVectorOfStrings(module.entries);
    BlobRef cubin(kernelsSection, blobs.cubinOffset, module.cubin.size(),
                  blobs.cubinChecksum);
    BlobRef ptx(kernelsSection, blobs.ptxOffset, module.ptx.size(),
                blobs.ptxChecksum);
    modules.push_back(
        CreateKernelModule(fbb, sm, module.cubin.empty() ? nullptr : &cubin,
                           module.ptx.empty() ? nullptr : &ptx, entries));
  }
  auto moduleVector = fbb.CreateVector(modules);

  std::vector<flatbuffers::Offset<Kernel>> kernels;
  for (const KernelSpec &kernel : spec.kernels)
    kernels.push_back(CreateKernel(fbb, fbb.CreateString(kernel.name),
                                   fbb.CreateString(kernel.entry),
                                   kernel.module, fbb.CreateString(kernel.kind),
                                   fbb.CreateString(kernel.sourceHash)));
  auto kernelVector = fbb.CreateVector(kernels);

  std::vector<flatbuffers::Offset<RankPlan>> plans;
  for (const RankPlanSpec &plan : spec.plans) {
    std::vector<flatbuffers::Offset<Arena>> arenas;
    for (const ArenaSpec &arena : plan.arenas)
      arenas.push_back(CreateArena(fbb, fbb.CreateString(arena.name),
                                   arena.kind, arena.bytes, arena.alignment));
    auto arenaVector = fbb.CreateVector(arenas);
    std::vector<flatbuffers::Offset<WeightLoad>> loads;
    for (const WeightLoadSpec &load : plan.weightLoads)
      loads.push_back(CreateWeightLoad(fbb,
                                       layout.tensorIndex.lookup(load.tensor),
                                       load.arena, load.offset));
    auto loadVector = fbb.CreateVector(loads);
    std::vector<flatbuffers::Offset<Step>> steps;
    for (const StepSpec &step : plan.steps) {
      StepOp type = StepOp::NONE;
      auto op = buildStep(fbb, step.op, type);
      std::vector<flatbuffers::Offset<LaunchStep>> launches;
      for (const LaunchSpec &launch : step.launches)
        launches.push_back(buildLaunch(fbb, launch));
      auto launchVector =
          launches.empty()
              ? flatbuffers::Offset<
                    flatbuffers::Vector<flatbuffers::Offset<LaunchStep>>>()
              : fbb.CreateVector(launches);
      steps.push_back(CreateStep(fbb, type, op, launchVector));
    }
    auto stepVector = fbb.CreateVector(steps);
    auto buildNamed = [&](const std::vector<NamedBufferSpec> &list) {
      std::vector<flatbuffers::Offset<NamedBuffer>> offsets;
      for (const NamedBufferSpec &named : list) {
        auto name = fbb.CreateString(named.name);
        offsets.push_back(
            CreateNamedBuffer(fbb, name, buildBuffer(fbb, named.buffer)));
      }
      return fbb.CreateVector(offsets);
    };
    auto inputs = buildNamed(plan.inputs);
    auto outputs = buildNamed(plan.outputs);
    plans.push_back(CreateRankPlan(fbb, plan.rank, arenaVector, loadVector,
                                   stepVector, plan.maxTokens, inputs,
                                   outputs));
  }
  auto planVector = fbb.CreateVector(plans);

  ArtifactBuilder root(fbb);
  root.add_format_major(kFormatMajor);
  root.add_format_minor(kFormatMinor);
  root.add_producer(producer);
  root.add_target(target);
  root.add_quantization(quantization);
  root.add_config(config);
  if (spec.tokenizer || spec.hfTokenizer)
    root.add_tokenizer(tokenizer);
  root.add_sections(sectionVector);
  root.add_tensors(tensorVector);
  root.add_kernel_modules(moduleVector);
  root.add_kernels(kernelVector);
  root.add_world_size(spec.worldSize);
  root.add_plans(planVector);
  FinishArtifactBuffer(fbb, root.Finish());
}

/// "writing model.llmc  42% [########            ] 1.2/2.9 GB  850 MB/s",
/// redrawn in place at most once per percent.
class ProgressBar {
public:
  ProgressBar(bool enabled, StringRef path, uint64_t totalBytes)
      : enabled(enabled), path(path.str()), totalBytes(totalBytes),
        start(std::chrono::steady_clock::now()) {}

  void update(uint64_t bytesWritten) {
    if (!enabled)
      return;
    int percent = totalBytes == 0 ? 100 : int(bytesWritten * 100 / totalBytes);
    if (percent == lastPercent)
      return;
    lastPercent = percent;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    constexpr int kWidth = 30;
    std::string bar(kWidth, ' ');
    std::fill_n(bar.begin(), percent * kWidth / 100, '#');
    llvm::errs() << "\rwriting " << path << " "
                 << llvm::format("%3d%% [%s] %.2f/%.2f GB", percent,
                                 bar.c_str(), bytesWritten / 1e9,
                                 totalBytes / 1e9);
    if (seconds > 0)
      llvm::errs() << llvm::format("  %.0f MB/s", bytesWritten / 1e6 / seconds);
    llvm::errs().flush();
  }

  void finish() {
    if (enabled && lastPercent >= 0)
      llvm::errs() << "\n";
  }

private:
  bool enabled;
  std::string path;
  uint64_t totalBytes;
  std::chrono::steady_clock::time_point start;
  int lastPercent = -1;
};

Error writeZeros(llvm::raw_fd_ostream &os, uint64_t bytes) {
  static const char kZeros[4096] = {};
  while (bytes > 0) {
    uint64_t chunk = std::min<uint64_t>(bytes, sizeof(kZeros));
    os.write(kZeros, chunk);
    bytes -= chunk;
  }
  return Error::success();
}

} // namespace

DType toArtifactDType(weights::DType type) {
  switch (type) {
  case weights::DType::F64:
    return DType::F64;
  case weights::DType::F32:
    return DType::F32;
  case weights::DType::F16:
    return DType::F16;
  case weights::DType::BF16:
    return DType::BF16;
  case weights::DType::F8E4M3:
    return DType::F8E4M3;
  case weights::DType::F8E5M2:
    return DType::F8E5M2;
  case weights::DType::I64:
    return DType::I64;
  case weights::DType::I32:
    return DType::I32;
  case weights::DType::I16:
    return DType::I16;
  case weights::DType::I8:
    return DType::I8;
  case weights::DType::U8:
    return DType::U8;
  case weights::DType::Bool:
    return DType::Bool;
  case weights::DType::Q4_0:
    return DType::Q4_0;
  case weights::DType::Q4_1:
    return DType::Q4_1;
  case weights::DType::Q5_0:
    return DType::Q5_0;
  case weights::DType::Q5_1:
    return DType::Q5_1;
  case weights::DType::Q8_0:
    return DType::Q8_0;
  case weights::DType::Q4_K:
    return DType::Q4_K;
  case weights::DType::Q5_K:
    return DType::Q5_K;
  case weights::DType::Q6_K:
    return DType::Q6_K;
  case weights::DType::I4:
    return DType::I4;
  }
  llvm_unreachable("unknown weights::DType");
}

Expected<WriteStats> writeArtifact(StringRef path, const ArtifactSpec &spec,
                                   const weights::WeightStore &store,
                                   const WriteOptions &options) {
  auto startTime = std::chrono::steady_clock::now();
  Expected<Layout> layoutOr = planLayout(spec, store);
  if (!layoutOr)
    return layoutOr.takeError();
  Layout &layout = *layoutOr;

  // First build: placeholder offsets and checksums, to learn the size.
  flatbuffers::FlatBufferBuilder fbb(1 << 16);
  buildFlatBuffer(fbb, spec, layout);
  uint64_t reservedFlatbufferBytes = fbb.GetSize();
  layout.dataStart =
      alignUp(kHeaderBytes + reservedFlatbufferBytes, kSectionAlignment);

  std::string tmpPath = (path + ".tmp").str();
  int fd = -1;
  if (std::error_code ec = llvm::sys::fs::openFileForWrite(
          tmpPath, fd, llvm::sys::fs::CD_CreateAlways))
    return makeError("cannot write '" + tmpPath + "': " + ec.message());
  // Removes the partial file on every early return; released after rename.
  llvm::FileRemover remover(tmpPath);
  llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
  auto ioError = [&](StringRef what) -> Error {
    std::string message = os.error().message();
    os.clear_error();
    return makeError("cannot write '" + tmpPath + "' (" + what +
                     "): " + message);
  };

  bool showProgress =
      options.progressBar == WriteOptions::ProgressBar::Always ||
      (options.progressBar == WriteOptions::ProgressBar::Auto &&
       llvm::errs().is_displayed());
  ProgressBar progress(showProgress, path, layout.tensorBytes);
  WriteProgress report;
  report.tensorCount = spec.tensors.size();
  report.bytesTotal = layout.tensorBytes;
  if (options.onProgress)
    options.onProgress(report);

  // Sections, streamed one tensor at a time through a two-stage pipeline:
  // while a writer thread hashes and writes tensor i, this thread (and the
  // store's workers) converts tensor i + 1 into the other of two buffers. A
  // weight stored as its source tensor needs no buffer: it is hashed and
  // written straight from the mapped checkpoint. The kernel reads the next
  // tensor's pages ahead (prefetch), and checkpoint pages leave the process
  // once consumed (releaseSourcePages), so memory holds a few tensors, not
  // the mapped checkpoint.
  os.seek(layout.dataStart);
  using Clock = std::chrono::steady_clock;
  Clock::duration materializeTime{}, hashTime{}, writeTime{};
  std::array<std::vector<uint8_t>, 2> buffers;
  size_t freeBuffer = 0;

  // Runs on the writer thread, the only user of `os` while it runs; returns
  // an error message, empty on success.
  auto writeTensor = [&](size_t i, llvm::ArrayRef<uint8_t> bytes,
                         const weights::TensorView *mappedSource) {
    uint64_t expectedOffset =
        layout.weightsSectionOffset() + layout.tensorOffsets[i];
    if (os.tell() != expectedOffset)
      return ("internal error: tensor '" + spec.tensors[i].name +
              "' would be written at offset " + Twine(os.tell()) +
              " instead of " + Twine(expectedOffset))
          .str();
    // Chunks keep the pages of a mapped source in the process one chunk at
    // a time (an embedding table is a gigabyte).
    constexpr uint64_t kChunkBytes = uint64_t(64) << 20;
    XXH64_state_t hashState;
    XXH64_reset(&hashState, /*seed=*/0);
    for (uint64_t offset = 0; offset < bytes.size(); offset += kChunkBytes) {
      llvm::ArrayRef<uint8_t> chunk = bytes.slice(
          offset, std::min<uint64_t>(kChunkBytes, bytes.size() - offset));
      auto hashStart = Clock::now();
      XXH64_update(&hashState, chunk.data(), chunk.size());
      auto writeStart = Clock::now();
      os.write(reinterpret_cast<const char *>(chunk.data()), chunk.size());
      if (mappedSource)
        weights::releasePages(*mappedSource, chunk);
      hashTime += writeStart - hashStart;
      writeTime += Clock::now() - writeStart;
    }
    layout.tensorChecksums[i] = XXH64_digest(&hashState);
    llvm::consumeError(writeZeros(
        os, alignUp(std::max<uint64_t>(bytes.size(), 1), kSectionAlignment) -
                bytes.size()));
    if (!os.has_error())
      return std::string();
    std::string message = "cannot write '" + tmpPath + "' (tensor '" +
                          spec.tensors[i].name + "'): " + os.error().message();
    os.clear_error();
    return message;
  };
  // Declared after everything `writeTensor` uses: on an early return its
  // destructor waits for the write in flight before those go away.
  std::future<std::string> pendingWrite;
  size_t pendingIndex = 0;
  auto finishPendingWrite = [&]() -> Error {
    if (!pendingWrite.valid())
      return Error::success();
    std::string message = pendingWrite.get();
    if (!message.empty())
      return makeError(message);
    report.tensorsWritten = pendingIndex + 1;
    report.bytesWritten += layout.tensorDescs[pendingIndex].getBytes();
    progress.update(report.bytesWritten);
    if (options.onProgress)
      options.onProgress(report);
    return Error::success();
  };

  auto nextStored = [&](size_t i) {
    while (i < spec.tensors.size() && layout.tensorSynthetic[i])
      ++i;
    return i;
  };
  if (size_t first = nextStored(0); first < spec.tensors.size())
    store.prefetch(weightName(spec.tensors[first]));
  for (size_t i = 0; i < spec.tensors.size(); ++i) {
    if (layout.tensorSynthetic[i])
      continue;
    if (size_t next = nextStored(i + 1); next < spec.tensors.size())
      store.prefetch(weightName(spec.tensors[next]));
    uint64_t bytes = layout.tensorDescs[i].getBytes();
    StringRef weight = weightName(spec.tensors[i]);
    llvm::ArrayRef<uint8_t> data;
    const weights::TensorView *source = store.getUnchangedSource(weight);
    if (source && source->bytes.size() == bytes) {
      data = source->bytes;
    } else {
      source = nullptr;
      // The write in flight reads the other buffer (or the mapping).
      auto materializeStart = Clock::now();
      std::vector<uint8_t> &buffer = buffers[freeBuffer];
      freeBuffer ^= 1;
      buffer.resize(bytes);
      if (Error error = store.materialize(weight, buffer))
        return makeError("artifact tensor '" + spec.tensors[i].name +
                         "': " + llvm::toString(std::move(error)));
      store.releaseSourcePages(weight);
      materializeTime += Clock::now() - materializeStart;
      data = buffer;
    }
    if (Error error = finishPendingWrite())
      return error;
    pendingIndex = i;
    pendingWrite = std::async(std::launch::async, writeTensor, i, data, source);
  }
  if (Error error = finishPendingWrite())
    return error;
  progress.finish();
  // Give the buffers back before the kernels and the FlatBuffer.
  buffers = {};

  for (const KernelModuleSpec &module : spec.kernelModules) {
    if (!module.cubin.empty()) {
      os.write(reinterpret_cast<const char *>(module.cubin.data()),
               module.cubin.size());
      if (Error error =
              writeZeros(os, alignUp(module.cubin.size(), kSectionAlignment) -
                                 module.cubin.size()))
        return std::move(error);
    }
    if (!module.ptx.empty()) {
      os << module.ptx;
      if (Error error =
              writeZeros(os, alignUp(module.ptx.size(), kSectionAlignment) -
                                 module.ptx.size()))
        return std::move(error);
    }
  }
  uint64_t fileBytes = os.tell();
  if (fileBytes != layout.kernelsSectionOffset() + layout.kernelsSectionBytes)
    return makeError(
        "internal error: sections end at " + Twine(fileBytes) + " instead of " +
        Twine(layout.kernelsSectionOffset() + layout.kernelsSectionBytes));

  // Second build, with the checksums; then the header and the table.
  buildFlatBuffer(fbb, spec, layout);
  if (fbb.GetSize() != reservedFlatbufferBytes)
    return makeError("internal error: the FlatBuffer grew from " +
                     Twine(reservedFlatbufferBytes) + " to " +
                     Twine(fbb.GetSize()) + " bytes between builds");
  FixedHeader header;
  header.flatbufferOffset = kHeaderBytes;
  header.flatbufferBytes = fbb.GetSize();
  header.flatbufferXxhash64 = xxhash64(fbb.GetBufferPointer(), fbb.GetSize());
  header.fileBytes = fileBytes;
  uint8_t headerBytes[kHeaderBytes];
  encodeHeader(header, headerBytes);
  storeHeaderChecksum(headerBytes,
                      xxhash64(headerBytes, header_offset::kHeaderXxhash64));
  os.seek(0);
  os.write(reinterpret_cast<const char *>(headerBytes), kHeaderBytes);
  os.write(reinterpret_cast<const char *>(fbb.GetBufferPointer()),
           fbb.GetSize());
  if (Error error =
          writeZeros(os, layout.dataStart - kHeaderBytes - fbb.GetSize()))
    return std::move(error);
  os.close();
  if (os.has_error())
    return ioError("metadata");

  if (std::error_code ec = llvm::sys::fs::rename(tmpPath, path))
    return makeError("cannot rename '" + tmpPath + "' to '" + path +
                     "': " + ec.message());
  remover.releaseFile();

  WriteStats stats;
  stats.fileBytes = fileBytes;
  stats.tensorBytes = layout.tensorBytes;
  stats.tensorCount = spec.tensors.size();
  stats.syntheticTensorCount = layout.syntheticCount;
  stats.largestTensorBytes = layout.largestTensorBytes;
  auto toSeconds = [](Clock::duration d) {
    return std::chrono::duration<double>(d).count();
  };
  stats.materializeSeconds = toSeconds(materializeTime);
  stats.hashSeconds = toSeconds(hashTime);
  stats.writeSeconds = toSeconds(writeTime);
  stats.seconds = std::chrono::duration<double>(
                      std::chrono::steady_clock::now() - startTime)
                      .count();
  return stats;
}

} // namespace llmc::artifact
