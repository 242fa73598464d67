//===- SampleSpec.h - a complete ArtifactSpec over any WeightStore, for tests
//===//
//
// Every part of the schema gets a value (config with optional fields,
// tokenizer, quantization references, a kernel module with cubin and PTX, a
// plan with each kind of step), so round-trip tests and the lit artifact
// exercise all of it. The plan is shaped like a real one but is not meant to
// run.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_UNIT_ARTIFACT_SAMPLESPEC_H
#define LLMC_TEST_UNIT_ARTIFACT_SAMPLESPEC_H

#include "compiler/artifact/ArtifactWriter.h"
#include "compiler/weights/WeightStore.h"
#include "runtime/schema/ArtifactHeader.h"

#include <string>

namespace llmc::artifact::testing {

inline TargetSpec sampleTarget(const std::string &name) {
  if (name == "t4")
    return {"t4", "Turing", "75"};
  if (name == "cpu")
    return {"cpu", "x86-64", ""};
  return {"h100", "Hopper", "90a"};
}

inline ArtifactSpec makeSampleSpec(const weights::WeightStore &store,
                                   const std::string &target = "h100") {
  ArtifactSpec spec;
  spec.producer = "llmc test";
  spec.target = sampleTarget(target);
  spec.quantization = "fp8";

  ModelConfigSpec &config = spec.config;
  config.architecture = "llama";
  config.vocabSize = 6;
  config.hiddenSize = 64;
  config.intermediateSize = 256;
  config.numLayers = 2;
  config.numHeads = 4;
  config.numKVHeads = 2;
  config.headDim = 16;
  config.rotaryDim = 16;
  config.maxPositionEmbeddings = 2048;
  config.rmsNormEps = 1e-5;
  config.ropeTheta = 500000;
  config.ropeScalingType = RopeScalingType::Llama3;
  config.ropeScalingFactor = 8;
  config.ropeOriginalMaxPosition = 8192;
  config.slidingWindow = 512;
  config.slidingLayers = {true, false};
  config.finalLogitSoftcap = 30.0;
  config.bosTokenId = 0;
  config.eosTokenId = 1;
  config.stopTokenIds = {1, 5};
  config.kvCacheDType = DType::F8E4M3;
  config.maxBatchTokens = 16;

  tokenizer::TokenizerVectors vectors;
  vectors.model = tokenizer::ModelKind::ByteLevelBpe;
  vectors.preTokenizer = "llama-bpe";
  vectors.tokens = {"<s>", "</s>", "a", "b", "ab", "<|eot_id|>"};
  vectors.merges = {"a b"};
  vectors.tokenTypes = {
      tokenizer::TokenType::Control, tokenizer::TokenType::Control,
      tokenizer::TokenType::Normal,  tokenizer::TokenType::Normal,
      tokenizer::TokenType::Normal,  tokenizer::TokenType::Control};
  vectors.bosId = 0;
  vectors.eosId = 1;
  vectors.addBos = true;
  vectors.chatTemplate = "{% for m in messages %}{{ m.content }}{% endfor %}";
  spec.tokenizer = vectors;

  std::vector<std::string> names = store.getWeightNames();
  for (const std::string &name : names)
    spec.tensors.push_back({name, name, std::nullopt});
  // The first tensor is quantized with the last one as its scales.
  if (names.size() >= 2)
    spec.tensors.front().quant =
        QuantSpec{"fp8_per_tensor", names.back(), "", {}};

  KernelModuleSpec module;
  module.sm = spec.target.sm;
  for (int i = 0; i < 5000; ++i)
    module.cubin.push_back(uint8_t(i * 7));
  module.ptx = ".version 8.0\n.target sm_90a\n.visible .entry silu_64() {}\n";
  module.entries = {"silu_64", "add_rms_norm_64"};
  spec.kernelModules.push_back(module);
  spec.kernels.push_back({"silu_64", "silu_64", 0, "silu", "9f2c41d0"});
  spec.kernels.push_back(
      {"add_rms_norm_64", "add_rms_norm_64", 0, "add_rms_norm", ""});

  RankPlanSpec plan;
  plan.rank = 0;
  uint64_t weightBytes = 0;
  for (const std::string &name : names) {
    plan.weightLoads.push_back({name, 1, weightBytes});
    weightBytes += alignUp(cantFail(store.describe(name)).getBytes(), 256);
  }
  plan.arenas = {{"act", ArenaKind::Activations, 1 << 20, 256},
                 {"weights", ArenaKind::Weights,
                  std::max<uint64_t>(weightBytes, 256), 4096},
                 {"kv", ArenaKind::KVCache, 1 << 16, 256}};
  plan.maxTokens = 16;
  BufferSpec ids{0, 0, {16}, DType::I32, /*tokenRows=*/true};
  BufferSpec x{0, 256, {16, 64}, DType::BF16, /*tokenRows=*/true};
  BufferSpec y{0, 256 + 2048, {16, 64}, DType::BF16, /*tokenRows=*/true};
  BufferSpec norm{1, 0, {64}, DType::BF16};
  BufferSpec a{0, 8192, {16, 64}, DType::F32};
  BufferSpec b{0, 16384, {32, 64}, DType::F32};
  BufferSpec c{0, 32768, {16, 32}, DType::F32};
  BufferSpec scale{0, 40960, {1}, DType::F32};
  plan.steps.push_back(HostSpec{"copy_tokens_in", {ids}, {}});
  plan.steps.push_back(LaunchSpec{0, {16, 1, 1}, {256, 1, 1}, 1024, {x, y}});
  GemmSpec gemm;
  gemm.backend = GemmBackend::CublasLt;
  gemm.a = a;
  gemm.b = b;
  gemm.c = c;
  gemm.scaleB = scale;
  gemm.transposeB = true;
  gemm.alpha = 0.5f;
  plan.steps.push_back(gemm);
  CollectiveSpec collective;
  collective.kind = CollectiveKind::AllReduce;
  collective.buffer = c;
  collective.group = {0};
  plan.steps.push_back(collective);
  plan.steps.push_back(ComputeSpec{"rms_norm",
                                   {x, norm},
                                   {y},
                                   {{"epsilon", 1e-5},
                                    {"layer", int64_t(0)},
                                    {"style", std::string("half")}}});
  // How a GPU backend runs the norm: one variant up to 4 tokens, another
  // from 5, with every 1.1 launch field set.
  LaunchSpec small{1, {4, 1, 1}, {128, 1, 1}, 0, {x, norm, y}};
  small.gridTokenScale = {1, 1, 0, 1, 0, 1};
  small.tokenArgs = {1};
  small.maxTokens = 4;
  LaunchSpec large = small;
  large.grid = {16, 1, 1};
  large.extraArgs = {LaunchArg::Batch, LaunchArg::Layer, LaunchArg::Scratch};
  large.layer = 0;
  large.scratchBytes = 4096;
  large.minTokens = 5;
  large.maxTokens = 0;
  plan.steps.back().launches = {small, large};
  plan.steps.push_back(HostSpec{"sample",
                                {c, ids},
                                {{"top_k", int64_t(40)},
                                 {"temperature", 0.7},
                                 {"mode", std::string("greedy")}}});
  plan.inputs = {{"token_ids", ids}};
  plan.outputs = {{"logits", c}};
  spec.plans.push_back(std::move(plan));
  return spec;
}

} // namespace llmc::artifact::testing

#endif // LLMC_TEST_UNIT_ARTIFACT_SAMPLESPEC_H
