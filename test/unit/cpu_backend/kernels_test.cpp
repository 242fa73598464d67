//===- kernels_test.cpp - CPU kernels against PyTorch/transformers goldens ===//
//
// Goldens come from make_goldens.py (PyTorch CPU and Hugging Face
// transformers; see its docstring for how each was made). Tolerances:
// f32 results within about 1e-5 relative (of the result, or of sum |x*w| for
// dot products, whose summation order differs from PyTorch's); results
// stored as bf16/f16 within one rounding of that type (2^-8 / 2^-11
// relative). Every vector path this CPU has (generic, AVX2, AVX-512) runs.
//
//===----------------------------------------------------------------------===//

#include "runtime/backends/cpu/Kernels.h"
#include "test/unit/cpu_backend/TestUtil.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <random>

namespace llmc::cpu {
namespace {

using test::availableIsas;
using test::expectClose;
using test::golden;
using test::goldenF32;
using test::IsaScope;

std::vector<float> widen(const std::vector<uint16_t> &bits, DType dtype) {
  std::vector<float> out(bits.size());
  convertToF32(bits.data(), dtype, out.data(),
               static_cast<int64_t>(out.size()));
  return out;
}

//===----------------------------------------------------------------------===//
// Conversions
//===----------------------------------------------------------------------===//

// bf16 rounding is to nearest even, keeps NaN a NaN and overflows to inf.
TEST(Numeric, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32ToBf16(1.0f), 0x3f80);
  EXPECT_EQ(f32ToBf16(bitsToFloat(0x3f808000u)), 0x3f80); // tie, even stays
  EXPECT_EQ(f32ToBf16(bitsToFloat(0x3f818000u)), 0x3f82); // tie, odd rounds up
  EXPECT_EQ(f32ToBf16(bitsToFloat(0x3f808001u)), 0x3f81);
  EXPECT_EQ(f32ToBf16(bitsToFloat(0x7f7fffffu)), 0x7f80); // max f32 -> inf
  EXPECT_TRUE(std::isnan(bf16ToF32(f32ToBf16(NAN))));
  EXPECT_EQ(bf16ToF32(0xc040), -3.0f);
}

// f16 conversions handle normals, subnormals, overflow and NaN like IEEE.
TEST(Numeric, F16RoundTripAndEdges) {
  EXPECT_EQ(f32ToF16(1.0f), 0x3c00);
  EXPECT_EQ(f32ToF16(65504.0f), 0x7bff);
  EXPECT_EQ(f32ToF16(65519.0f), 0x7bff);
  EXPECT_EQ(f32ToF16(65520.0f), 0x7c00); // tie at max rounds to inf
  EXPECT_EQ(f32ToF16(5.9604644775390625e-8f), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32ToF16(2.98023223876953125e-8f), 0x0000); // half of it: even
  EXPECT_EQ(f32ToF16(-0.0f), 0x8000);
  EXPECT_EQ(f16ToF32(0x0001), 5.9604644775390625e-8f);
  EXPECT_EQ(f16ToF32(0xfc00), -INFINITY);
  EXPECT_TRUE(std::isnan(f16ToF32(f32ToF16(NAN))));
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    float value = f16ToF32(static_cast<uint16_t>(bits));
    if (!std::isnan(value))
      ASSERT_EQ(f32ToF16(value), bits) << "f16 bits " << bits;
  }
}

// The F16C conversion paths agree bit for bit with the portable ones.
TEST(Numeric, VectorConversionsMatchPortable) {
  std::vector<uint16_t> all(0x10000);
  for (uint32_t i = 0; i < all.size(); ++i)
    all[i] = static_cast<uint16_t>(i);
  std::mt19937 rng(7);
  std::vector<float> values(4099);
  for (float &v : values)
    v = bitsToFloat(rng());
  for (Isa isa : availableIsas()) {
    IsaScope scope(isa);
    std::vector<float> widened(all.size());
    convertToF32(all.data(), DType::F16, widened.data(), all.size());
    for (uint32_t i = 0; i < all.size(); ++i)
      ASSERT_EQ(floatBits(widened[i]), floatBits(f16ToF32(all[i])))
          << isaName(isa) << " f16 " << i;
    std::vector<uint16_t> narrowed(values.size());
    convertFromF32(values.data(), narrowed.data(), DType::F16, values.size());
    for (size_t i = 0; i < values.size(); ++i)
      if (!std::isnan(values[i]))
        ASSERT_EQ(narrowed[i], f32ToF16(values[i]))
            << isaName(isa) << " f32 bits " << floatBits(values[i]);
  }
}

// argmax takes the first maximum and never a NaN.
TEST(Numeric, ArgmaxFirstOfTiesSkipsNan) {
  std::vector<float> values = {1.0f, NAN, 3.0f, 3.0f, -2.0f};
  EXPECT_EQ(argmax(values.data(), 5), 2);
  EXPECT_EQ(argmax(values.data(), 0), -1);
  float nans[2] = {NAN, NAN};
  EXPECT_EQ(argmax(nans, 2), 0);
}

//===----------------------------------------------------------------------===//
// Thread pool
//===----------------------------------------------------------------------===//

// Every index is visited exactly once, with static and dynamic splits.
TEST(ThreadPool, CoversEveryIndexOnce) {
  ThreadPool pool(3);
  for (int64_t count : {1, 2, 7, 64, 1000}) {
    for (int64_t grain : {0, 1, 5}) {
      std::vector<std::atomic<int>> hits(count);
      pool.parallelFor(count, grain, [&](int64_t begin, int64_t end, int) {
        for (int64_t i = begin; i < end; ++i)
          hits[i].fetch_add(1);
      });
      for (int64_t i = 0; i < count; ++i)
        ASSERT_EQ(hits[i].load(), 1) << count << " " << grain << " " << i;
    }
  }
}

//===----------------------------------------------------------------------===//
// llm.embedding
//===----------------------------------------------------------------------===//

// Rows are gathered (and converted); an id outside the vocabulary is an error.
TEST(Embedding, GathersRowsAndRejectsBadIds) {
  std::vector<float> table = {0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32};
  std::vector<int32_t> ids = {3, 0, 3};
  std::vector<uint16_t> out(9);
  ASSERT_TRUE(embedding(constMatrix(table.data(), DType::F32, 4, 3), ids.data(),
                        3, matrix(out.data(), DType::BF16, 3, 3)));
  EXPECT_EQ(widen(out, DType::BF16),
            (std::vector<float>{30, 31, 32, 0, 1, 2, 30, 31, 32}));
  ids[1] = 4;
  Status status =
      embedding(constMatrix(table.data(), DType::F32, 4, 3), ids.data(), 3,
                matrix(out.data(), DType::BF16, 3, 3));
  EXPECT_FALSE(status);
  EXPECT_NE(status.message().find("token id 4"), std::string::npos);
}

//===----------------------------------------------------------------------===//
// Norms
//===----------------------------------------------------------------------===//

// rms_norm in f32 equals transformers' LlamaRMSNorm.
TEST(Norms, RmsNormF32MatchesLlamaRMSNorm) {
  auto x = goldenF32("rms_norm_x"), w = goldenF32("rms_norm_w");
  std::vector<float> y(x.size());
  rmsNorm(constMatrix(x.data(), DType::F32, 5, 96), w.data(), DType::F32, 1e-6f,
          matrix(y.data(), DType::F32, 5, 96));
  expectClose(y, goldenF32("rms_norm_y"), 1e-6, 1e-5, "rms_norm f32");
}

// bf16 in and out: one bf16 rounding of the f32 result.
TEST(Norms, RmsNormBf16WithinOneRounding) {
  auto x = golden("rms_norm_bf16_x").as<uint16_t>();
  auto w = golden("rms_norm_bf16_w").as<uint16_t>();
  std::vector<uint16_t> y(x.size());
  rmsNorm(constMatrix(x.data(), DType::BF16, 5, 96), w.data(), DType::BF16,
          1e-6f, matrix(y.data(), DType::BF16, 5, 96));
  expectClose(widen(y, DType::BF16), goldenF32("rms_norm_bf16_y"), 1e-6,
              1.0 / 256, "rms_norm bf16");
}

// Gemma's (1 + weight) form equals a weight shifted by one.
TEST(Norms, RmsNormWeightOffset) {
  auto x = goldenF32("rms_norm_x"), w = goldenF32("rms_norm_w");
  std::vector<float> shifted(w), y1(x.size()), y2(x.size());
  for (float &v : shifted)
    v -= 1.0f;
  rmsNorm(constMatrix(x.data(), DType::F32, 5, 96), w.data(), DType::F32, 1e-6f,
          matrix(y1.data(), DType::F32, 5, 96));
  rmsNorm(constMatrix(x.data(), DType::F32, 5, 96), shifted.data(), DType::F32,
          1e-6f, matrix(y2.data(), DType::F32, 5, 96), 1.0f);
  expectClose(y2, y1, 1e-6, 1e-6, "rms_norm offset");
}

// layer_norm equals torch.nn.functional.layer_norm with weight and bias.
TEST(Norms, LayerNormMatchesTorch) {
  auto x = goldenF32("layer_norm_x"), w = goldenF32("layer_norm_w"),
       b = goldenF32("layer_norm_b");
  std::vector<float> y(x.size());
  layerNorm(constMatrix(x.data(), DType::F32, 4, 80), w.data(), b.data(),
            DType::F32, 1e-5f, matrix(y.data(), DType::F32, 4, 80));
  expectClose(y, goldenF32("layer_norm_y"), 1e-5, 1e-5, "layer_norm");
}

//===----------------------------------------------------------------------===//
// llm.linear, llm.matmul
//===----------------------------------------------------------------------===//

struct LinearCase {
  const char *name;
  int64_t m, n, k;
};

// Bound for output (i, j): 1e-5 * sum_k |x w| + 1e-6 (summation order).
std::vector<float> dotBounds(const std::vector<float> &x,
                             const std::vector<float> &w, int64_t m, int64_t n,
                             int64_t k) {
  std::vector<float> bounds(m * n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t kk = 0; kk < k; ++kk)
        sum += std::fabs(x[i * k + kk] * w[j * k + kk]);
      bounds[i * n + j] = static_cast<float>(1e-5 * sum + 1e-6);
    }
  return bounds;
}

// linear equals torch.nn.functional.linear for f32, bf16 and f16 weights,
// GEMV and GEMM, on every ISA path, with 1 and 2 threads.
TEST(Linear, MatchesTorchForEveryWeightTypeAndPath) {
  ThreadPool one(1), two(2);
  for (LinearCase c :
       {LinearCase{"gemv", 1, 70, 200}, LinearCase{"gemm", 3, 70, 200},
        LinearCase{"big", 9, 130, 515}}) {
    std::string base = std::string("linear_") + c.name;
    auto x = goldenF32(base + "_x"), b = goldenF32(base + "_b");
    auto wF32 = goldenF32(base + "_w");
    auto wBf16 = golden(base + "_w_bf16").as<uint16_t>();
    auto wF16 = golden(base + "_w_f16").as<uint16_t>();
    struct Weights {
      DType dtype;
      const void *data;
      std::string golden;
      std::vector<float> widened;
    } weights[] = {
        {DType::F32, wF32.data(), base + "_y", wF32},
        {DType::BF16, wBf16.data(), base + "_y_bf16w",
         widen(wBf16, DType::BF16)},
        {DType::F16, wF16.data(), base + "_y_f16w", widen(wF16, DType::F16)}};
    for (const Weights &wt : weights) {
      auto expected = goldenF32(wt.golden);
      auto bounds = dotBounds(x, wt.widened, c.m, c.n, c.k);
      for (Isa isa : availableIsas()) {
        IsaScope scope(isa);
        for (ThreadPool *pool : {&one, &two}) {
          std::vector<float> y(c.m * c.n, NAN);
          linear(constMatrix(x.data(), DType::F32, c.m, c.k),
                 constMatrix(wt.data, wt.dtype, c.n, c.k), b.data(), DType::F32,
                 matrix(y.data(), DType::F32, c.m, c.n), pool);
          for (size_t i = 0; i < y.size(); ++i)
            ASSERT_NEAR(y[i], expected[i], bounds[i])
                << base << " " << dtypeName(wt.dtype) << " " << isaName(isa)
                << " threads " << pool->numThreads() << " element " << i;
        }
      }
    }
  }
}

// bf16 activations and output, strided rows: one bf16 rounding of the f32
// result computed from the same bf16 inputs.
TEST(Linear, Bf16ActivationsStridedOutput) {
  auto x = goldenF32("linear_big_x"), b = goldenF32("linear_big_b");
  auto w = golden("linear_big_w_bf16").as<uint16_t>();
  const int64_t m = 9, n = 130, k = 515, stride = 140;
  std::vector<uint16_t> xb(m * k);
  convertFromF32(x.data(), xb.data(), DType::BF16, m * k);
  auto xw = widen(xb, DType::BF16), ww = widen(w, DType::BF16);
  ThreadPool pool(2);
  for (Isa isa : availableIsas()) {
    IsaScope scope(isa);
    std::vector<uint16_t> y(m * stride, 0xffff);
    linear(constMatrix(xb.data(), DType::BF16, m, k),
           constMatrix(w.data(), DType::BF16, n, k), b.data(), DType::F32,
           MatrixView{y.data(), DType::BF16, m, n, stride}, &pool);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double ref = b[j];
        for (int64_t kk = 0; kk < k; ++kk)
          ref += double(xw[i * k + kk]) * ww[j * k + kk];
        ASSERT_NEAR(bf16ToF32(y[i * stride + j]), ref,
                    std::fabs(ref) / 256 + 1e-4)
            << isaName(isa) << " " << i << "," << j;
      }
      EXPECT_EQ(y[i * stride + n], 0xffff) << "wrote past the row";
    }
  }
}

// matmul (batched, plain and with transposed rhs) equals a double product.
TEST(Linear, BatchedMatmulBothLayouts) {
  const int64_t batch = 2, m = 5, k = 37, n = 11;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> lhs(batch * m * k), rhs(batch * k * n),
      rhsT(batch * n * k);
  for (float &v : lhs)
    v = normal(rng);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t kk = 0; kk < k; ++kk)
      for (int64_t j = 0; j < n; ++j)
        rhsT[b * n * k + j * k + kk] = rhs[b * k * n + kk * n + j] =
            normal(rng);
  ThreadPool pool(2);
  for (bool transposed : {false, true}) {
    std::vector<float> out(batch * m * n);
    if (transposed)
      matmul(constMatrix(lhs.data(), DType::F32, m, k), m * k,
             constMatrix(rhsT.data(), DType::F32, n, k), n * k, true,
             matrix(out.data(), DType::F32, m, n), m * n, batch, &pool);
    else
      matmul(constMatrix(lhs.data(), DType::F32, m, k), m * k,
             constMatrix(rhs.data(), DType::F32, k, n), k * n, false,
             matrix(out.data(), DType::F32, m, n), m * n, batch, &pool);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double ref = 0;
          for (int64_t kk = 0; kk < k; ++kk)
            ref += double(lhs[b * m * k + i * k + kk]) *
                   rhs[b * k * n + kk * n + j];
          ASSERT_NEAR(out[b * m * n + i * n + j], ref, 1e-4)
              << transposed << " " << b << " " << i << " " << j;
        }
  }
}

//===----------------------------------------------------------------------===//
// llm.rope
//===----------------------------------------------------------------------===//

void checkRope(const std::string &name, const RopeParams &params,
               int64_t headDim) {
  auto x = goldenF32("rope_" + name + "_x");
  auto positions = golden("rope_positions").as<int32_t>();
  const int64_t tokens = static_cast<int64_t>(positions.size());
  const int64_t numHeads = static_cast<int64_t>(x.size()) / tokens / headDim;
  RopeFrequencies frequencies;
  ASSERT_TRUE(computeRopeFrequencies(params, headDim, frequencies));
  std::vector<float> y(x.size());
  rope(heads(x.data(), DType::F32, tokens, numHeads, headDim), positions.data(),
       frequencies, params.style,
       heads(y.data(), DType::F32, tokens, numHeads, headDim));
  // cos/sin of an f32 angle (up to 2e4 rad) agree to 1-2 f32 ulps of 1.
  expectClose(y, goldenF32("rope_" + name + "_y"), 3e-6, 3e-6, "rope " + name);
  // In place gives the same.
  rope(heads(x.data(), DType::F32, tokens, numHeads, headDim), positions.data(),
       frequencies, params.style,
       heads(x.data(), DType::F32, tokens, numHeads, headDim));
  expectClose(x, y, 0, 0, "rope in place " + name);
}

// Default RoPE (theta 1e4), half style, equals LlamaRotaryEmbedding +
// apply_rotary_pos_emb, positions up to 20000.
TEST(Rope, DefaultMatchesTransformers) {
  RopeParams params;
  RopeFrequencies frequencies;
  ASSERT_TRUE(computeRopeFrequencies(params, 64, frequencies));
  expectClose(frequencies.inverseFrequencies,
              goldenF32("rope_default_inv_freq"), 0, 1e-7, "inv_freq default");
  checkRope("default", params, 64);
}

// Linear scaling (factor 4) equals transformers' "linear" rope_type.
TEST(Rope, LinearScalingMatchesTransformers) {
  RopeParams params;
  params.scaling = RopeScaling::Linear;
  params.factor = 4.0;
  checkRope("linear", params, 64);
}

// Llama 3.1 scaling equals transformers' _compute_llama3_parameters.
TEST(Rope, Llama3ScalingMatchesTransformers) {
  RopeParams params;
  params.theta = 500000.0;
  params.scaling = RopeScaling::Llama3;
  params.factor = 8.0;
  params.lowFreqFactor = 1.0;
  params.highFreqFactor = 4.0;
  params.originalMaxPosition = 8192;
  RopeFrequencies frequencies;
  ASSERT_TRUE(computeRopeFrequencies(params, 64, frequencies));
  expectClose(frequencies.inverseFrequencies, goldenF32("rope_llama3_inv_freq"),
              0, 1e-6, "inv_freq llama3");
  checkRope("llama3", params, 64);
}

// Interleaved pairs (2i, 2i+1) equal Meta's torch.polar formulation.
TEST(Rope, InterleavedMatchesComplexRotation) {
  RopeParams params;
  params.style = RopeStyle::Interleaved;
  checkRope("interleaved", params, 64);
}

// Partial rotary (32 of 64) rotates the first half and copies the rest.
TEST(Rope, PartialRotaryDim) {
  RopeParams params;
  params.rotaryDim = 32;
  checkRope("partial", params, 64);
}

// YaRN inverse frequencies and attention factor equal transformers'.
TEST(Rope, YarnFrequenciesMatchTransformers) {
  RopeParams params;
  params.theta = 1000000.0;
  params.scaling = RopeScaling::Yarn;
  params.factor = 4.0;
  params.originalMaxPosition = 32768;
  RopeFrequencies frequencies;
  ASSERT_TRUE(computeRopeFrequencies(params, 128, frequencies));
  expectClose(frequencies.inverseFrequencies, goldenF32("rope_inv_freq_yarn"),
              0, 1e-6, "inv_freq yarn");
  EXPECT_NEAR(frequencies.attentionFactor,
              goldenF32("rope_yarn_attention_factor")[0], 1e-6);
}

// Impossible parameters are errors, not crashes.
TEST(Rope, RejectsBadParameters) {
  RopeFrequencies frequencies;
  RopeParams odd;
  odd.rotaryDim = 31;
  EXPECT_FALSE(computeRopeFrequencies(odd, 64, frequencies));
  RopeParams llama3;
  llama3.scaling = RopeScaling::Llama3;
  llama3.factor = 8.0;
  EXPECT_FALSE(computeRopeFrequencies(llama3, 64, frequencies));
}

//===----------------------------------------------------------------------===//
// Elementwise and softmax
//===----------------------------------------------------------------------===//

// gelu (exact erf and tanh forms) and silu equal torch.nn.functional.
TEST(Elementwise, ActivationsMatchTorch) {
  auto x = goldenF32("act_x");
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> y(n);
  gelu(x.data(), DType::F32, y.data(), DType::F32, n, GeluApproximation::None);
  expectClose(y, goldenF32("gelu_exact_y"), 1e-6, 1e-5, "gelu exact");
  gelu(x.data(), DType::F32, y.data(), DType::F32, n, GeluApproximation::Tanh);
  expectClose(y, goldenF32("gelu_tanh_y"), 1e-6, 1e-5, "gelu tanh");
  silu(x.data(), DType::F32, y.data(), DType::F32, n);
  expectClose(y, goldenF32("silu_y"), 1e-6, 1e-5, "silu");
  // bf16 output: one rounding.
  std::vector<uint16_t> yb(n);
  silu(x.data(), DType::F32, yb.data(), DType::BF16, n);
  expectClose(widen(yb, DType::BF16), goldenF32("silu_y"), 1e-6, 1.0 / 256,
              "silu bf16");
}

// add, mul, scale and the fused silu*up are exact f32 arithmetic.
TEST(Elementwise, BinaryOpsAndScale) {
  std::vector<float> a = {1.5f, -2.0f, 0.25f}, b = {2.0f, 3.0f, -4.0f};
  std::vector<float> out(3);
  add(a.data(), b.data(), DType::F32, out.data(), DType::F32, 3);
  EXPECT_EQ(out, (std::vector<float>{3.5f, 1.0f, -3.75f}));
  mul(a.data(), b.data(), DType::F32, out.data(), DType::F32, 3);
  EXPECT_EQ(out, (std::vector<float>{3.0f, -6.0f, -1.0f}));
  scale(a.data(), DType::F32, 2.0f, out.data(), DType::F32, 3);
  EXPECT_EQ(out, (std::vector<float>{3.0f, -4.0f, 0.5f}));
  siluMul(a.data(), b.data(), DType::F32, out.data(), DType::F32, 3);
  for (int i = 0; i < 3; ++i)
    EXPECT_NEAR(out[i], a[i] / (1 + std::exp(-a[i])) * b[i], 1e-6);
}

// softmax equals torch.softmax along the last axis.
TEST(Elementwise, SoftmaxMatchesTorch) {
  auto x = goldenF32("softmax_x");
  std::vector<float> y(x.size());
  softmax(constMatrix(x.data(), DType::F32, 4, 300),
          matrix(y.data(), DType::F32, 4, 300));
  expectClose(y, goldenF32("softmax_y"), 1e-8, 1e-5, "softmax");
}

} // namespace
} // namespace llmc::cpu
