//===- quantized_engine_test.cpp - the engine runs the quantized plan steps
//===//
//
// Plans are written by hand (PlanArtifact.h) as `llmc compile` will emit them
// under the quantization contract (docs/quantization.md), and the logits are
// compared with scalar references computed here from the contract's formulas
// over Quantize.h / Float8.h: bit for bit where the contract makes the result
// exact (int8 GEMM, quantize, dequantize), within the f32 accumulation bound
// otherwise. Each plan starts with an embedding of the token ids, so the
// activations are table rows the test knows.
//
//===----------------------------------------------------------------------===//

#include "runtime/engine/Engine.h"
#include "runtime/kv_cache/KVCache.h"
#include "runtime/support/Quantize.h"
#include "test/unit/engine/PlanArtifact.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iostream>
#include <random>

namespace llmc {
namespace {

using numeric::Fp8Format;
using test::BufferSpec;
using test::PlanArtifact;
namespace fb = ::llmc::artifact;

constexpr uint32_t kMaxTokens = 8;
const std::vector<int32_t> kTokens = {3, 0, 5, 5, 1};

/// A [vocab, k] f32 table of varied magnitudes (per-token scales differ),
/// or of unit normal values when not `varied`.
std::vector<float> makeTable(int64_t vocab, int64_t k, uint32_t seed,
                             bool varied = true) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> table(vocab * k);
  for (int64_t r = 0; r < vocab; ++r)
    for (int64_t c = 0; c < k; ++c)
      table[r * k + c] = normal(rng) * (varied ? 0.25f + r : 1.0f);
  return table;
}

/// Embeds kTokens into x ([maxTokens, k] token rows of `dtype`).
BufferSpec embed(PlanArtifact &plan, const std::vector<float> &table,
                 int64_t vocab, int64_t k, fb::DType dtype = fb::DType::F32) {
  BufferSpec tableBuf =
      plan.weight("embed.weight", fb::DType::F32, {vocab, k}, table);
  BufferSpec x =
      plan.activation({kMaxTokens, k}, dtype,
                      kMaxTokens * k * (dtype == fb::DType::F32 ? 4 : 2));
  plan.compute("embedding", {tableBuf, plan.tokenIds()}, {x});
  return x;
}

::testing::AssertionResult run(const PlanArtifact &plan,
                               std::vector<float> &logits,
                               engine::EngineOptions options = {1, 1, 16},
                               const std::vector<int32_t> &tokens = kTokens) {
  std::unique_ptr<loader::Artifact> artifact;
  if (runtime::Status s = plan.open(artifact); !s)
    return ::testing::AssertionFailure() << s.message();
  std::unique_ptr<engine::Engine> engine;
  if (runtime::Status s = engine::Engine::create(*artifact, options, engine);
      !s)
    return ::testing::AssertionFailure() << s.message();
  engine::ForwardBatch batch;
  batch.tokenIds = tokens;
  for (size_t i = 0; i < tokens.size(); ++i)
    batch.positions.push_back(static_cast<int32_t>(i));
  batch.sequences = {{0, static_cast<int64_t>(tokens.size())}};
  if (runtime::Status s = engine->forward(batch, logits); !s)
    return ::testing::AssertionFailure() << s.message();
  return ::testing::AssertionSuccess();
}

/// The message of Engine::create's failure on `plan` ("" if it succeeds).
std::string createError(const PlanArtifact &plan) {
  std::unique_ptr<loader::Artifact> artifact;
  if (runtime::Status s = plan.open(artifact); !s)
    return "open: " + s.message();
  std::unique_ptr<engine::Engine> engine;
  runtime::Status s = engine::Engine::create(
      *artifact, engine::EngineOptions{1, 1, 16}, engine);
  return s.ok() ? "" : s.message();
}

std::vector<int8_t> randomInt8(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(-127, 127);
  std::vector<int8_t> values(count);
  for (int8_t &v : values)
    v = static_cast<int8_t>(dist(rng));
  return values;
}

// --quant=int8: quantize_dynamic (per token) feeding an int8 gemm with
// per-token scale_a and per-channel scale_b equals the contract's formula
// bit for bit: q = rhe(x / (amax / 127)), exact int32 dot,
// ((alpha * scale_a[m]) * scale_b[n]) * dot.
TEST(QuantizedEngine, Int8GemmWithDynamicPerTokenScales) {
  const int64_t vocab = 6, k = 70, n = 9;
  PlanArtifact plan(kMaxTokens);
  auto table = makeTable(vocab, k, 1);
  BufferSpec x = embed(plan, table, vocab, k);
  BufferSpec q =
      plan.activation({kMaxTokens, k}, fb::DType::I8, kMaxTokens * k);
  BufferSpec scale =
      plan.activation({kMaxTokens, 1}, fb::DType::F32, kMaxTokens * 4);
  plan.compute("quantize_dynamic", {x}, {q, scale});
  auto weight = randomInt8(n * k, 2);
  std::vector<float> weightScale(n);
  for (int64_t j = 0; j < n; ++j)
    weightScale[j] = 0.01f + 0.003f * j;
  BufferSpec w = plan.weight("w.weight", fb::DType::I8, {n, k}, weight);
  BufferSpec ws =
      plan.weight("w.weight.scale", fb::DType::F32, {n, 1}, weightScale);
  BufferSpec logits =
      plan.activation({kMaxTokens, n}, fb::DType::F32, kMaxTokens * n * 4);
  plan.gemm({q, w, logits, scale, ws, std::nullopt, true, 0.5f});
  plan.setLogits(logits);
  std::vector<float> out;
  ASSERT_TRUE(run(plan, out));
  ASSERT_EQ(out.size(), kTokens.size() * n);
  for (size_t t = 0; t < kTokens.size(); ++t) {
    const float *row = table.data() + kTokens[t] * k;
    float s = numeric::symmetricScale(numeric::absMax(row, k), 127.0f);
    for (int64_t j = 0; j < n; ++j) {
      int64_t dot = 0;
      for (int64_t c = 0; c < k; ++c)
        dot += int64_t{numeric::quantizeInt8(row[c], s)} * weight[j * k + c];
      float expected = ((0.5f * s) * weightScale[j]) * static_cast<float>(dot);
      ASSERT_EQ(out[t * n + j], expected) << t << "," << j;
    }
  }
}

// The residual-add epilogue of fused linear_residual groups on quantized
// GEMMs: beta = 1 accumulates the W8A8 (int8, per-token scale_a) or
// weight-only (int4 groups with zero points) product into C, which holds
// the residual. Expected: the same GEMM with beta = 0 (its own plan) plus
// the residual, added in f32 as the unfused add does: bitwise equal.
TEST(QuantizedEngine, QuantizedGemmsAccumulateWithBetaOne) {
  const int64_t vocab = 6, k = 64, group = 16;
  auto table = makeTable(vocab, k, 7);
  auto int8Weight = randomInt8(k * k, 8);
  std::vector<float> int8Scale(k);
  for (int64_t j = 0; j < k; ++j)
    int8Scale[j] = 0.01f + 0.002f * j;
  auto wf = makeTable(k, k, 9);
  std::vector<uint8_t> int4Codes(k * k / 2);
  std::vector<float> int4Scales(k * k / group);
  std::vector<int8_t> int4Zeros(int4Scales.size());
  numeric::quantizeWeightGroupwise(wf.data(), k, k, group,
                                   numeric::IntFormat::Int4, int4Codes.data(),
                                   int4Scales.data(), int4Zeros.data());
  for (bool weightOnly : {false, true}) {
    // accumulate: C is a second embedding of the tokens (the residual, a
    // buffer of its own as the lowering requires); else a fresh buffer.
    auto build = [&](bool accumulate, PlanArtifact &plan) {
      BufferSpec x = embed(plan, table, vocab, k);
      BufferSpec c =
          plan.activation({kMaxTokens, k}, fb::DType::F32, kMaxTokens * k * 4);
      if (accumulate) {
        BufferSpec residualTable = plan.weight(
            "residual_embed.weight", fb::DType::F32, {vocab, k}, table);
        plan.compute("embedding", {residualTable, plan.tokenIds()}, {c});
      }
      if (weightOnly) {
        BufferSpec w =
            plan.weight("w.weight", fb::DType::I4, {k, k}, int4Codes);
        BufferSpec ws = plan.weight("w.weight.scale", fb::DType::F32,
                                    {k, k / group}, int4Scales);
        BufferSpec wz = plan.weight("w.weight.zero_point", fb::DType::I8,
                                    {k, k / group}, int4Zeros);
        plan.gemm({x, w, c, std::nullopt, ws, wz, true, 1.0f,
                   accumulate ? 1.0f : 0.0f});
      } else {
        BufferSpec q =
            plan.activation({kMaxTokens, k}, fb::DType::I8, kMaxTokens * k);
        BufferSpec scale =
            plan.activation({kMaxTokens, 1}, fb::DType::F32, kMaxTokens * 4);
        plan.compute("quantize_dynamic", {x}, {q, scale});
        BufferSpec w =
            plan.weight("w.weight", fb::DType::I8, {k, k}, int8Weight);
        BufferSpec ws =
            plan.weight("w.weight.scale", fb::DType::F32, {k, 1}, int8Scale);
        plan.gemm({q, w, c, scale, ws, std::nullopt, true, 1.0f,
                   accumulate ? 1.0f : 0.0f});
      }
      plan.setLogits(c);
    };
    PlanArtifact productPlan(kMaxTokens), accumulatePlan(kMaxTokens);
    build(false, productPlan);
    build(true, accumulatePlan);
    std::vector<float> product, sum;
    ASSERT_TRUE(run(productPlan, product));
    ASSERT_TRUE(run(accumulatePlan, sum));
    ASSERT_EQ(sum.size(), kTokens.size() * k);
    for (size_t t = 0; t < kTokens.size(); ++t)
      for (int64_t j = 0; j < k; ++j) {
        float residual = table[kTokens[t] * k + j];
        ASSERT_NE(product[t * k + j], 0.0f);
        ASSERT_EQ(sum[t * k + j], residual + product[t * k + j])
            << (weightOnly ? "weight-only " : "int8 ") << t << "," << j;
      }
  }
}

// --quant=fp8 with a static (calibrated) activation scale: "quantize" with
// the `<W>.input_scale` weight ([]) to f8E4M3FN, then an fp8 gemm with
// per-tensor scales; f32 accumulation of exact products.
TEST(QuantizedEngine, Fp8GemmWithStaticPerTensorScales) {
  const int64_t vocab = 6, k = 48, n = 7;
  PlanArtifact plan(kMaxTokens);
  auto table = makeTable(vocab, k, 3);
  BufferSpec x = embed(plan, table, vocab, k, fb::DType::BF16);
  const float inputScale = 0.02f, weightScale = 0.004f;
  BufferSpec is = plan.weight("w.weight.input_scale", fb::DType::F32, {},
                              std::vector<float>{inputScale});
  BufferSpec q =
      plan.activation({kMaxTokens, k}, fb::DType::F8E4M3, kMaxTokens * k);
  plan.compute("quantize", {x, is}, {q});
  std::mt19937 rng(4);
  std::normal_distribution<float> normal(0.0f, 100.0f);
  std::vector<uint8_t> weight(n * k);
  for (uint8_t &code : weight)
    code = numeric::floatToFp8Saturate(normal(rng), Fp8Format::E4M3FN);
  BufferSpec w = plan.weight("w.weight", fb::DType::F8E4M3, {n, k}, weight);
  BufferSpec ws = plan.weight("w.weight.scale", fb::DType::F32, {},
                              std::vector<float>{weightScale});
  BufferSpec logits =
      plan.activation({kMaxTokens, n}, fb::DType::F32, kMaxTokens * n * 4);
  plan.gemm({q, w, logits, is, ws});
  plan.setLogits(logits);
  std::vector<float> out;
  ASSERT_TRUE(run(plan, out));
  for (size_t t = 0; t < kTokens.size(); ++t)
    for (int64_t j = 0; j < n; ++j) {
      double exact = 0, magnitude = 0;
      for (int64_t c = 0; c < k; ++c) {
        // The embedding rounded x to bf16 first.
        float xb = cpu::bf16ToF32(cpu::f32ToBf16(table[kTokens[t] * k + c]));
        double p = double(numeric::fp8ToFloat(
                       numeric::quantizeFp8(xb, inputScale, Fp8Format::E4M3FN),
                       Fp8Format::E4M3FN)) *
                   numeric::fp8ToFloat(weight[j * k + c], Fp8Format::E4M3FN);
        exact += p;
        magnitude += std::fabs(p);
      }
      double factor = double(inputScale * weightScale);
      ASSERT_NEAR(out[t * n + j], factor * exact,
                  factor * k * magnitude * std::ldexp(1.0, -24) +
                      std::fabs(factor * exact) * std::ldexp(1.0, -23))
          << t << "," << j;
    }
}

// --quant=w4a16: bf16 activations times packed int4 weights with group-wise
// scale_b [N, K/G] and zero_b; and the calibration hook sees the weight's
// name and the activation rows as f32.
TEST(QuantizedEngine, WeightOnlyInt4GroupwiseWithZeroPoints) {
  const int64_t vocab = 6, k = 64, n = 10, group = 16;
  PlanArtifact plan(kMaxTokens);
  auto table = makeTable(vocab, k, 5);
  BufferSpec x = embed(plan, table, vocab, k, fb::DType::BF16);
  auto wf = makeTable(n, k, 6);
  std::vector<uint8_t> codes(n * k / 2);
  std::vector<float> scales(n * k / group);
  std::vector<int8_t> zeros(scales.size());
  numeric::quantizeWeightGroupwise(wf.data(), n, k, group,
                                   numeric::IntFormat::Int4, codes.data(),
                                   scales.data(), zeros.data());
  BufferSpec w = plan.weight("mlp.weight", fb::DType::I4, {n, k}, codes);
  BufferSpec ws =
      plan.weight("mlp.weight.scale", fb::DType::F32, {n, k / group}, scales);
  BufferSpec wz = plan.weight("mlp.weight.zero_point", fb::DType::I8,
                              {n, k / group}, zeros);
  BufferSpec logits =
      plan.activation({kMaxTokens, n}, fb::DType::F32, kMaxTokens * n * 4);
  plan.gemm({x, w, logits, std::nullopt, ws, wz});
  plan.setLogits(logits);
  engine::EngineOptions options{1, 1, 16};
  std::vector<std::string> names;
  std::vector<float> seenRows;
  options.gemmInputObserver = [&](const std::string &name, const float *rows,
                                  int64_t m, int64_t kk) {
    names.push_back(name);
    seenRows.assign(rows, rows + m * kk);
  };
  std::vector<float> out;
  ASSERT_TRUE(run(plan, out, options));
  ASSERT_EQ(names, std::vector<std::string>{"mlp.weight"});
  ASSERT_EQ(seenRows.size(), kTokens.size() * k);
  for (size_t t = 0; t < kTokens.size(); ++t)
    for (int64_t c = 0; c < k; ++c) {
      float xb = cpu::bf16ToF32(cpu::f32ToBf16(table[kTokens[t] * k + c]));
      ASSERT_EQ(seenRows[t * k + c], xb);
    }
  for (size_t t = 0; t < kTokens.size(); ++t)
    for (int64_t j = 0; j < n; ++j) {
      double exact = 0, magnitude = 0;
      for (int64_t c = 0; c < k; ++c) {
        int64_t g = j * (k / group) + c / group;
        double p =
            double(seenRows[t * k + c]) *
            numeric::dequantizeInt(numeric::unpackInt4(codes.data(), j * k + c),
                                   scales[g], zeros[g]);
        exact += p;
        magnitude += std::fabs(p);
      }
      ASSERT_NEAR(out[t * n + j], exact,
                  k * magnitude * std::ldexp(1.0, -24) + 1e-30)
          << t << "," << j;
    }
}

// quantize then dequantize (static per-tensor scale with a zero point, to
// i8, and group-wise [1, K/G] scales to i4) round-trips exactly as
// Quantize.h defines; the output is the f32 logits.
TEST(QuantizedEngine, QuantizeDequantizeSteps) {
  const int64_t vocab = 6, k = 12;
  for (fb::DType qType : {fb::DType::I8, fb::DType::I4}) {
    PlanArtifact plan(kMaxTokens);
    auto table = makeTable(vocab, k, 7);
    BufferSpec x = embed(plan, table, vocab, k, fb::DType::F16);
    bool int8 = qType == fb::DType::I8;
    std::vector<float> scales =
        int8 ? std::vector<float>{0.03f} : std::vector<float>{0.4f, 0.9f, 2.0f};
    std::vector<int8_t> zeros =
        int8 ? std::vector<int8_t>{-3} : std::vector<int8_t>{1, 0, -2};
    std::vector<int64_t> scaleShape =
        int8 ? std::vector<int64_t>{} : std::vector<int64_t>{1, 3};
    BufferSpec s = plan.weight("x.scale", fb::DType::F32, scaleShape, scales);
    BufferSpec z = plan.weight("x.zero", fb::DType::I8, scaleShape, zeros);
    BufferSpec q = plan.activation({kMaxTokens, k}, qType, kMaxTokens * k);
    plan.compute("quantize", {x, s, z}, {q});
    BufferSpec logits =
        plan.activation({kMaxTokens, k}, fb::DType::F32, kMaxTokens * k * 4);
    plan.compute("dequantize", {q, s, z}, {logits});
    plan.setLogits(logits);
    std::vector<float> out;
    ASSERT_TRUE(run(plan, out));
    for (size_t t = 0; t < kTokens.size(); ++t)
      for (int64_t c = 0; c < k; ++c) {
        float xh = cpu::f16ToF32(cpu::f32ToF16(table[kTokens[t] * k + c]));
        size_t g = int8 ? 0 : c / 4;
        numeric::IntFormat format =
            int8 ? numeric::IntFormat::Int8 : numeric::IntFormat::Int4;
        int32_t code = numeric::quantizeInt(xh, scales[g], zeros[g], format);
        ASSERT_EQ(out[t * k + c],
                  numeric::dequantizeInt(code, scales[g], zeros[g]))
            << int(qType) << " " << t << "," << c;
      }
  }
}

// The calibration hook: called for GEMMs whose B is a weight (with the
// weight's name, m = tokens rows of k), not for GEMMs of two activations.
TEST(QuantizedEngine, CalibrationObserverSeesWeightGemmsOnly) {
  const int64_t vocab = 6, k = 8, n = 4;
  PlanArtifact plan(kMaxTokens);
  auto table = makeTable(vocab, k, 8);
  BufferSpec x = embed(plan, table, vocab, k);
  auto wf = makeTable(n, k, 9);
  BufferSpec w = plan.weight("proj.weight", fb::DType::F32, {n, k}, wf);
  BufferSpec y =
      plan.activation({kMaxTokens, n}, fb::DType::F32, kMaxTokens * n * 4);
  plan.gemm({x, w, y});
  // y x y^T over activations only ([T, n] x [T, n]^T is not a weight).
  BufferSpec square = plan.activation({kMaxTokens, kMaxTokens}, fb::DType::F32,
                                      kMaxTokens * kMaxTokens * 4);
  BufferSpec yAsB = y.view({kMaxTokens, n});
  yAsB.tokenRows = true;
  plan.gemm({y, yAsB, square});
  plan.setLogits(y);
  engine::EngineOptions options{1, 1, 16};
  std::vector<std::tuple<std::string, int64_t, int64_t>> calls;
  std::vector<float> firstRows;
  options.gemmInputObserver = [&](const std::string &name, const float *rows,
                                  int64_t m, int64_t kk) {
    calls.emplace_back(name, m, kk);
    firstRows.assign(rows, rows + kk);
  };
  std::vector<float> out;
  ASSERT_TRUE(run(plan, out, options));
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(std::get<0>(calls[0]), "proj.weight");
  EXPECT_EQ(std::get<1>(calls[0]), int64_t(kTokens.size()));
  EXPECT_EQ(std::get<2>(calls[0]), k);
  for (int64_t c = 0; c < k; ++c)
    EXPECT_EQ(firstRows[c], table[kTokens[0] * k + c]);
}

/// One attention layer over x ([tokens, 1 head, d]) as q, k and v, with the
/// KV cache in `kvDType` ("" : not set, f32 cache).
PlanArtifact attentionPlan(const std::vector<float> &table, int64_t vocab,
                           int64_t d, const std::string &kvDType,
                           fb::DType configDType) {
  PlanArtifact plan(kMaxTokens);
  BufferSpec x = embed(plan, table, vocab, d);
  BufferSpec heads = x.view({kMaxTokens, 1, d});
  BufferSpec o =
      plan.activation({kMaxTokens, d}, fb::DType::F32, kMaxTokens * d * 4);
  std::vector<test::ParamSpec> params = {
      test::intParam("layer", 0),
      test::floatParam("scale", 1.0 / std::sqrt(double(d)))};
  if (!kvDType.empty())
    params.push_back(test::stringParam("kv_cache_dtype", kvDType));
  plan.compute("attention", {heads, heads, heads}, {o.view({kMaxTokens, 1, d})},
               params);
  plan.setLogits(o);
  plan.kvCacheDType = configDType;
  return plan;
}

// --kv-cache=int8|fp8: the attention step's kv_cache_dtype makes the engine
// keep a quantized cache; its output stays within the stated tolerance of the
// f32 cache's (5e-2 abs for i8, 2e-1 for f8E4M3FN, on unit-normal inputs)
// and differs from it (the cache really is quantized).
TEST(QuantizedEngine, QuantizedKVCacheFromTheAttentionStep) {
  const int64_t vocab = 6, d = 16;
  auto table = makeTable(vocab, d, 10, /*varied=*/false);
  std::vector<float> reference;
  ASSERT_TRUE(
      run(attentionPlan(table, vocab, d, "", fb::DType::F32), reference));
  for (auto [name, configDType, tolerance] :
       {std::tuple<const char *, fb::DType, double>{"i8", fb::DType::I8, 5e-2},
        {"f8E4M3FN", fb::DType::F8E4M3, 2e-1}}) {
    PlanArtifact plan = attentionPlan(table, vocab, d, name, configDType);
    std::unique_ptr<loader::Artifact> artifact;
    ASSERT_TRUE(plan.open(artifact));
    std::unique_ptr<engine::Engine> engine;
    ASSERT_TRUE(engine::Engine::create(*artifact, {1, 1, 16}, engine));
    EXPECT_EQ(engine->kvCache().config().quantization,
              std::string(name) == "i8" ? kv::KVQuantization::Int8
                                        : kv::KVQuantization::Fp8E4M3);
    std::vector<float> out;
    ASSERT_TRUE(run(plan, out));
    ASSERT_EQ(out.size(), reference.size());
    double worst = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      EXPECT_NEAR(out[i], reference[i], tolerance) << name << " " << i;
      worst = std::max(worst, std::fabs(double(out[i]) - reference[i]));
    }
    EXPECT_GT(worst, 0.0) << name;
    std::cout << name << " KV cache: max |error| vs f32 cache " << worst
              << "\n";
  }
}

// The loader checks GemmStep.zero_b like the other operands: one past its
// arena is a corrupt-metadata error naming it.
TEST(QuantizedEngine, LoaderChecksZeroBBounds) {
  const int64_t vocab = 6, k = 8, n = 4;
  PlanArtifact plan(kMaxTokens);
  auto table = makeTable(vocab, k, 14);
  BufferSpec x = embed(plan, table, vocab, k);
  BufferSpec w = plan.weight("w", fb::DType::I8, {n, k}, randomInt8(n * k, 15));
  BufferSpec s =
      plan.weight("s", fb::DType::F32, {n, 1}, std::vector<float>(n, 0.5f));
  BufferSpec z = s;
  z.dtype = fb::DType::I8;
  z.offset = 1 << 20; // far past the weights arena
  BufferSpec logits =
      plan.activation({kMaxTokens, n}, fb::DType::F32, kMaxTokens * n * 4);
  plan.gemm({x, w, logits, std::nullopt, s, z});
  plan.setLogits(logits);
  std::unique_ptr<loader::Artifact> artifact;
  runtime::Status status = plan.open(artifact);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("step 1 zero_b"), std::string::npos)
      << status.message();
}

// Unsupported combinations are errors naming the step, never crashes.
TEST(QuantizedEngine, UnsupportedCombinationsAreStepErrors) {
  const int64_t vocab = 6, k = 8, n = 4;
  auto table = makeTable(vocab, k, 11);
  auto floatWeight = makeTable(n, k, 12);
  auto int8Weight = randomInt8(n * k, 13);
  std::vector<float> one = {1.0f};
  auto expectError = [&](const PlanArtifact &plan, const std::string &needle) {
    std::string message = createError(plan);
    EXPECT_NE(message.find(needle), std::string::npos)
        << "expected '" << needle << "' in: " << message;
  };
  auto logitsOf = [&](PlanArtifact &plan) {
    BufferSpec logits =
        plan.activation({kMaxTokens, n}, fb::DType::F32, kMaxTokens * n * 4);
    plan.setLogits(logits);
    return logits;
  };
  {
    // Scales on a float GEMM.
    PlanArtifact plan(kMaxTokens);
    BufferSpec x = embed(plan, table, vocab, k);
    BufferSpec w = plan.weight("w", fb::DType::F32, {n, k}, floatWeight);
    BufferSpec s = plan.weight("s", fb::DType::F32, {}, one);
    plan.gemm({x, w, logitsOf(plan), std::nullopt, s});
    expectError(plan, "step 1 (gemm): scale_a/scale_b/zero_b on a float GEMM");
  }
  {
    // i8 activations with an fp8 weight.
    PlanArtifact plan(kMaxTokens);
    BufferSpec x = embed(plan, table, vocab, k);
    BufferSpec q = plan.activation({kMaxTokens, k}, fb::DType::I8, 64);
    BufferSpec sq = plan.activation({kMaxTokens, 1}, fb::DType::F32, 32);
    plan.compute("quantize_dynamic", {x}, {q, sq});
    BufferSpec w = plan.weight("w", fb::DType::F8E4M3, {n, k}, int8Weight);
    BufferSpec s = plan.weight("s", fb::DType::F32, {}, one);
    plan.gemm({q, w, logitsOf(plan), sq, s});
    expectError(plan, "step 2 (gemm): W8A8 operands must both be i8 or both "
                      "fp8, got I8 x F8_E4M3");
  }
  {
    // A weight-only GEMM without scale_b.
    PlanArtifact plan(kMaxTokens);
    BufferSpec x = embed(plan, table, vocab, k);
    BufferSpec w = plan.weight("w", fb::DType::I8, {n, k}, int8Weight);
    plan.gemm({x, w, logitsOf(plan)});
    expectError(plan, "needs scale_b");
  }
  {
    // A W8A8 GEMM without scale_a; and scale_b of a wrong shape.
    PlanArtifact plan(kMaxTokens);
    BufferSpec x = embed(plan, table, vocab, k);
    BufferSpec q = plan.activation({kMaxTokens, k}, fb::DType::I8, 64);
    BufferSpec sq = plan.activation({kMaxTokens, 1}, fb::DType::F32, 32);
    plan.compute("quantize_dynamic", {x}, {q, sq});
    BufferSpec w = plan.weight("w", fb::DType::I8, {n, k}, int8Weight);
    BufferSpec s =
        plan.weight("s", fb::DType::F32, {1, 2}, std::vector<float>{1, 1});
    plan.gemm({q, w, logitsOf(plan), std::nullopt, s});
    expectError(plan, "needs scale_a");
    PlanArtifact plan2(kMaxTokens);
    x = embed(plan2, table, vocab, k);
    q = plan2.activation({kMaxTokens, k}, fb::DType::I8, 64);
    sq = plan2.activation({kMaxTokens, 1}, fb::DType::F32, 32);
    plan2.compute("quantize_dynamic", {x}, {q, sq});
    w = plan2.weight("w", fb::DType::I8, {n, k}, int8Weight);
    s = plan2.weight("s", fb::DType::F32, {1, 2}, std::vector<float>{1, 1});
    plan2.gemm({q, w, logitsOf(plan2), sq, s});
    expectError(plan2, "scale_b of shape [1, 2]");
  }
  {
    // A zero point with an fp8 quantize; a scale that does not split x.
    PlanArtifact plan(kMaxTokens);
    BufferSpec x = embed(plan, table, vocab, k);
    BufferSpec s = plan.weight("s", fb::DType::F32, {}, one);
    BufferSpec z = plan.weight("z", fb::DType::I8, {}, std::vector<int8_t>{1});
    BufferSpec q = plan.activation({kMaxTokens, k}, fb::DType::F8E4M3, 64);
    plan.compute("quantize", {x, s, z}, {q});
    plan.setLogits(x);
    expectError(plan, "step 1 (quantize): a zero point with an fp8 output");
    PlanArtifact plan2(kMaxTokens);
    x = embed(plan2, table, vocab, k);
    BufferSpec s3 =
        plan2.weight("s", fb::DType::F32, {1, 3}, std::vector<float>{1, 1, 1});
    q = plan2.activation({kMaxTokens, k}, fb::DType::I8, 64);
    plan2.compute("quantize", {x, s3}, {q});
    plan2.setLogits(x);
    expectError(plan2, "does not split data of shape [8, 8]");
  }
  // KV cache types: unknown, and disagreeing with the config.
  EXPECT_NE(createError(attentionPlan(table, vocab, k, "i4", fb::DType::I4))
                .find("unsupported kv_cache_dtype 'i4'"),
            std::string::npos);
  EXPECT_NE(createError(attentionPlan(table, vocab, k, "i8", fb::DType::BF16))
                .find("kv_cache_dtype is 'i8' but ModelConfig.kv_cache_dtype"),
            std::string::npos);
}

} // namespace
} // namespace llmc
