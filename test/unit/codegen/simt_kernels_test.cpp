//===- simt_kernels_test.cpp - CUDA kernel templates on the host shim -----===//
//
// Every SIMT kernel family of compiler/codegen/cuda/kernels runs through
// HostShim.h on random inputs and is compared with the CPU backend
// (runtime/backends/cpu), the reference GPU results are held to, or, where
// the CPU backend has no such step yet (quantize, dequantize, quantized
// GEMMs), with a scalar transcription of docs/quantization.md written here.
// Tolerances:
// - f32 results: 2e-6 relative (block reductions sum in another order);
// - bf16 results: at most one bf16 ulp (the f32 values before rounding
//   differ by summation order or by expf/erff/tanhf's ulp, which can move a
//   rounding across a tie);
// - quantized results are exact against the reference quantization of the
//   kernel's own unquantized output (which is checked separately above),
//   since quantization of equal inputs has exactly one right answer;
// - integer GEMMs are exact (int32 accumulation); FP8 GEMMs 1e-5 relative
//   of sum |a*b| (f32 accumulation order).
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/HostShim.h"

#include "compiler/codegen/cuda/kernels/Common.cuh"
#include "compiler/codegen/cuda/kernels/Elementwise.cuh"
#include "compiler/codegen/cuda/kernels/Embedding.cuh"
#include "compiler/codegen/cuda/kernels/GemmFp8.cuh"
#include "compiler/codegen/cuda/kernels/GemmInt8.cuh"
#include "compiler/codegen/cuda/kernels/Norm.cuh"
#include "compiler/codegen/cuda/kernels/Quantize.cuh"
#include "compiler/codegen/cuda/kernels/Rope.cuh"
#include "compiler/codegen/cuda/kernels/Softmax.cuh"
#include "runtime/backends/cpu/Kernels.h"
#include "runtime/support/Float8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace {

using namespace llmc_kernels;
using llmc::hostshim::launchOnHost;
namespace cpu = llmc::cpu;
using llmc::numeric::Fp8Format;

std::vector<float> randomValues(size_t count, float spread, unsigned seed) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, spread);
  std::vector<float> values(count);
  for (float &v : values)
    v = normal(generator);
  return values;
}

std::vector<bf16_t> toBf16(const std::vector<float> &values) {
  std::vector<bf16_t> out(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    out[i] = fromF32<bf16_t>(values[i]);
  return out;
}

std::vector<float> widen(const std::vector<bf16_t> &values) {
  std::vector<float> out(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    out[i] = toF32(values[i]);
  return out;
}

/// Distance in bf16 codes; a sign change counts as far apart.
int bf16UlpDistance(uint16_t a, uint16_t b) {
  if ((a ^ b) & 0x8000)
    return (a & 0x7fff) == 0 && (b & 0x7fff) == 0 ? 0 : 1 << 16;
  return std::abs(static_cast<int>(a) - static_cast<int>(b));
}

void expectWithinOneBf16Ulp(const std::vector<bf16_t> &actual,
                            const std::vector<uint16_t> &expected) {
  ASSERT_EQ(actual.size(), expected.size());
  int worst = 0;
  size_t worstIndex = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    int distance = bf16UlpDistance(actual[i].bits, expected[i]);
    if (distance > worst) {
      worst = distance;
      worstIndex = i;
    }
  }
  EXPECT_LE(worst, 1) << "at " << worstIndex << ": "
                      << toF32(actual[worstIndex]) << " vs "
                      << cpu::bf16ToF32(expected[worstIndex]);
}

void expectCloseF32(const std::vector<float> &actual,
                    const std::vector<float> &expected, float relative) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i)
    ASSERT_NEAR(actual[i], expected[i],
                relative * std::max(1.0f, std::fabs(expected[i])))
        << "at " << i;
}

// The contract's quantization of one value (docs/quantization.md).
int8_t referenceInt8(float x, float scale) {
  float scaled = x / scale;
  if (std::isnan(scaled))
    return 0;
  float rounded = std::nearbyint(scaled); // default mode: half to even
  return static_cast<int8_t>(std::min(127.0f, std::max(-128.0f, rounded)));
}
uint8_t referenceE4m3(float x, float scale) {
  return llmc::numeric::floatToFp8Saturate(x / scale, Fp8Format::E4M3FN);
}

//===----------------------------------------------------------------------===//
// Norms
//===----------------------------------------------------------------------===//

constexpr int kRows = 5;

// rms_norm over bf16 rows whose width is not a multiple of the block's
// pairs (the last slot is partly idle) matches cpu::rmsNorm, Gemma's weight
// offset included.
TEST(SimtKernels, RmsNormMatchesCpu) {
  constexpr int kCols = 200, kBlock = 64;
  auto input = toBf16(randomValues(kRows * kCols, 2.0f, 1));
  auto weight = toBf16(randomValues(kCols, 1.0f, 2));
  std::vector<bf16_t> output(kRows * kCols);
  launchOnHost(kRows, kBlock, [&] {
    rmsNormRows<bf16_t, bf16_t, bf16_t, signed char, kCols, kBlock, false,
                kNoQuant>(input.data(), nullptr, nullptr, weight.data(), 1e-5f,
                          1.0f, output.data(), nullptr, nullptr, nullptr,
                          kRows);
  });
  std::vector<uint16_t> expected(kRows * kCols);
  cpu::rmsNorm(cpu::constMatrix(input.data(), cpu::DType::BF16, kRows, kCols),
               weight.data(), cpu::DType::BF16, 1e-5f,
               cpu::matrix(expected.data(), cpu::DType::BF16, kRows, kCols),
               1.0f);
  expectWithinOneBf16Ulp(output, expected);
}

// The fused [add + rms_norm + per-token FP8 quant] step: the residual sum
// equals cpu::add exactly, the normalized row is within one ulp of
// cpu::rmsNorm of that sum, and the E4M3 codes and per-token scales are
// exactly the contract's quantization of the kernel's own bf16 row.
TEST(SimtKernels, AddRmsNormDynamicFp8) {
  constexpr int kCols = 256, kBlock = 32;
  auto input = toBf16(randomValues(kRows * kCols, 1.0f, 3));
  auto residual = toBf16(randomValues(kRows * kCols, 3.0f, 4));
  auto weight = toBf16(randomValues(kCols, 1.0f, 5));
  std::vector<bf16_t> sum(kRows * kCols), output(kRows * kCols);
  std::vector<e4m3_t> quantized(kRows * kCols);
  std::vector<float> scales(kRows);
  launchOnHost(kRows, kBlock, [&] {
    rmsNormRows<bf16_t, bf16_t, bf16_t, e4m3_t, kCols, kBlock, true,
                kDynamicScale>(input.data(), residual.data(), sum.data(),
                               weight.data(), 1e-6f, 0.0f, output.data(),
                               quantized.data(), nullptr, scales.data(), kRows);
  });
  std::vector<uint16_t> expectedSum(kRows * kCols), expected(kRows * kCols);
  cpu::add(input.data(), residual.data(), cpu::DType::BF16, expectedSum.data(),
           cpu::DType::BF16, kRows * kCols);
  for (int i = 0; i < kRows * kCols; ++i)
    ASSERT_EQ(sum[i].bits, expectedSum[i]) << "at " << i;
  cpu::rmsNorm(
      cpu::constMatrix(expectedSum.data(), cpu::DType::BF16, kRows, kCols),
      weight.data(), cpu::DType::BF16, 1e-6f,
      cpu::matrix(expected.data(), cpu::DType::BF16, kRows, kCols));
  expectWithinOneBf16Ulp(output, expected);
  for (int r = 0; r < kRows; ++r) {
    float amax = 0.0f;
    for (int c = 0; c < kCols; ++c)
      amax = std::max(amax, std::fabs(toF32(output[r * kCols + c])));
    ASSERT_EQ(scales[r], amax / 448.0f) << "row " << r;
    for (int c = 0; c < kCols; ++c)
      ASSERT_EQ(quantized[r * kCols + c].bits,
                referenceE4m3(toF32(output[r * kCols + c]), scales[r]))
          << "row " << r << " column " << c;
  }
}

// rms_norm with a static int8 output scale: q = saturate(rne(y / s)) of
// the rounded bf16 row, saturating where |y / s| > 127.
TEST(SimtKernels, RmsNormStaticInt8) {
  constexpr int kCols = 128, kBlock = 32;
  auto input = toBf16(randomValues(kRows * kCols, 1.0f, 6));
  auto weight = toBf16(randomValues(kCols, 1.0f, 7));
  std::vector<bf16_t> output(kRows * kCols);
  std::vector<signed char> quantized(kRows * kCols);
  const float scale = 0.0125f; // |y| beyond 1.59 saturates
  launchOnHost(kRows, kBlock, [&] {
    rmsNormRows<bf16_t, bf16_t, bf16_t, signed char, kCols, kBlock, false,
                kStaticScale>(input.data(), nullptr, nullptr, weight.data(),
                              1e-5f, 0.0f, output.data(), quantized.data(),
                              &scale, nullptr, kRows);
  });
  int saturated = 0;
  for (int i = 0; i < kRows * kCols; ++i) {
    ASSERT_EQ(quantized[i], referenceInt8(toF32(output[i]), scale))
        << "at " << i;
    saturated += quantized[i] == 127 || quantized[i] == -128;
  }
  EXPECT_GT(saturated, 0) << "the test should exercise saturation";
}

// layer_norm with bias, f32 storage, against cpu::layerNorm.
TEST(SimtKernels, LayerNormMatchesCpu) {
  constexpr int kCols = 96, kBlock = 32;
  auto input = randomValues(kRows * kCols, 2.0f, 8);
  for (float &v : input)
    v += 3.0f; // a mean far from zero tests the two-pass variance
  auto weight = randomValues(kCols, 1.0f, 9);
  auto bias = randomValues(kCols, 1.0f, 10);
  std::vector<float> output(kRows * kCols), expected(kRows * kCols);
  launchOnHost(kRows, kBlock, [&] {
    layerNormRows<float, float, float, signed char, kCols, kBlock, false,
                  kNoQuant>(input.data(), nullptr, nullptr, weight.data(),
                            bias.data(), 1e-5f, output.data(), nullptr, nullptr,
                            nullptr, kRows);
  });
  cpu::layerNorm(cpu::constMatrix(input.data(), cpu::DType::F32, kRows, kCols),
                 weight.data(), bias.data(), cpu::DType::F32, 1e-5f,
                 cpu::matrix(expected.data(), cpu::DType::F32, kRows, kCols));
  expectCloseF32(output, expected, 2e-6f);
}

//===----------------------------------------------------------------------===//
// Softmax, elementwise, gated activations
//===----------------------------------------------------------------------===//

// Row softmax (f32) over a row wider than the block, against cpu::softmax.
TEST(SimtKernels, SoftmaxMatchesCpu) {
  constexpr int kCols = 300, kBlock = 64;
  auto input = randomValues(kRows * kCols, 4.0f, 11);
  std::vector<float> output(kRows * kCols), expected(kRows * kCols);
  launchOnHost(kRows, kBlock, [&] {
    softmaxRows<float, float, kCols, kBlock>(input.data(), output.data(),
                                             kRows);
  });
  cpu::softmax(cpu::constMatrix(input.data(), cpu::DType::F32, kRows, kCols),
               cpu::matrix(expected.data(), cpu::DType::F32, kRows, kCols));
  expectCloseF32(output, expected, 2e-6f);
}

// add, mul and scale round once from f32 like the CPU backend: bit-exact.
TEST(SimtKernels, BinaryAndScaleAreExact) {
  constexpr int kCount = 1000;
  auto lhs = toBf16(randomValues(kCount, 1.0f, 12));
  auto rhs = toBf16(randomValues(kCount, 1.0f, 13));
  std::vector<bf16_t> sum(kCount), product(kCount), scaled(kCount);
  // A grid smaller than the data exercises the grid-stride loop.
  launchOnHost(2, 64, [&] {
    binaryElements<bf16_t, bf16_t, kAdd>(lhs.data(), rhs.data(), sum.data(),
                                         kCount);
    binaryElements<bf16_t, bf16_t, kMul>(lhs.data(), rhs.data(), product.data(),
                                         kCount);
    unaryElements<bf16_t, bf16_t, kScale>(lhs.data(), scaled.data(), 0.37f,
                                          kCount);
  });
  std::vector<uint16_t> expectedSum(kCount), expectedProduct(kCount),
      expectedScaled(kCount);
  cpu::add(lhs.data(), rhs.data(), cpu::DType::BF16, expectedSum.data(),
           cpu::DType::BF16, kCount);
  cpu::mul(lhs.data(), rhs.data(), cpu::DType::BF16, expectedProduct.data(),
           cpu::DType::BF16, kCount);
  cpu::scale(lhs.data(), cpu::DType::BF16, 0.37f, expectedScaled.data(),
             cpu::DType::BF16, kCount);
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(sum[i].bits, expectedSum[i]) << i;
    ASSERT_EQ(product[i].bits, expectedProduct[i]) << i;
    ASSERT_EQ(scaled[i].bits, expectedScaled[i]) << i;
  }
}

// silu(gate) * up in f32 (the CPU backend's fused siluMul), reading gate
// and up from one merged [rows, 2 * cols] buffer.
TEST(SimtKernels, SiluMulFromMergedGateUp) {
  constexpr int kCols = 160, kBlock = 32;
  auto merged = toBf16(randomValues(kRows * 2 * kCols, 2.0f, 14));
  std::vector<bf16_t> output(kRows * kCols);
  launchOnHost(kRows, kBlock, [&] {
    gatedRows<bf16_t, float, bf16_t, signed char, kCols, kBlock, kSilu,
              kNoQuant>(merged.data(), 2 * kCols, merged.data() + kCols,
                        2 * kCols, output.data(), nullptr, nullptr, nullptr,
                        kRows);
  });
  std::vector<bf16_t> gate(kRows * kCols), up(kRows * kCols);
  for (int r = 0; r < kRows; ++r)
    for (int c = 0; c < kCols; ++c) {
      gate[r * kCols + c] = merged[r * 2 * kCols + c];
      up[r * kCols + c] = merged[r * 2 * kCols + kCols + c];
    }
  std::vector<uint16_t> expected(kRows * kCols);
  cpu::siluMul(gate.data(), up.data(), cpu::DType::BF16, expected.data(),
               cpu::DType::BF16, kRows * kCols);
  expectWithinOneBf16Ulp(output, expected);
}

// gelu(tanh)(gate) rounded to bf16 (a separate llm.gelu step), times up,
// then per-token int8: the bf16 row matches cpu::gelu + cpu::mul, and the
// codes are the contract's quantization of that row.
TEST(SimtKernels, GeluMulDynamicInt8) {
  constexpr int kCols = 128, kBlock = 64;
  auto gate = toBf16(randomValues(kRows * kCols, 2.0f, 15));
  auto up = toBf16(randomValues(kRows * kCols, 2.0f, 16));
  std::vector<bf16_t> output(kRows * kCols);
  std::vector<signed char> quantized(kRows * kCols);
  std::vector<float> scales(kRows);
  launchOnHost(kRows, kBlock, [&] {
    gatedRows<bf16_t, bf16_t, bf16_t, signed char, kCols, kBlock, kGeluTanh,
              kDynamicScale>(gate.data(), kCols, up.data(), kCols,
                             output.data(), quantized.data(), nullptr,
                             scales.data(), kRows);
  });
  std::vector<uint16_t> activated(kRows * kCols), expected(kRows * kCols);
  cpu::gelu(gate.data(), cpu::DType::BF16, activated.data(), cpu::DType::BF16,
            kRows * kCols, cpu::GeluApproximation::Tanh);
  cpu::mul(activated.data(), up.data(), cpu::DType::BF16, expected.data(),
           cpu::DType::BF16, kRows * kCols);
  expectWithinOneBf16Ulp(output, expected);
  for (int r = 0; r < kRows; ++r) {
    float amax = 0.0f;
    for (int c = 0; c < kCols; ++c)
      amax = std::max(amax, std::fabs(toF32(output[r * kCols + c])));
    ASSERT_EQ(scales[r], amax / 127.0f);
    for (int c = 0; c < kCols; ++c)
      ASSERT_EQ(quantized[r * kCols + c],
                referenceInt8(toF32(output[r * kCols + c]), scales[r]));
  }
}

//===----------------------------------------------------------------------===//
// Quantize, dequantize
//===----------------------------------------------------------------------===//

// quantize_dynamic to E4M3 and int8 per token, an all-zero row included
// (its scale is 1): codes and scales exact.
TEST(SimtKernels, QuantizeDynamicIsExact) {
  constexpr int kCols = 64, kBlock = 32;
  auto values = randomValues(kRows * kCols, 5.0f, 17);
  for (int c = 0; c < kCols; ++c)
    values[2 * kCols + c] = 0.0f;
  auto input = toBf16(values);
  std::vector<e4m3_t> fp8(kRows * kCols);
  std::vector<signed char> int8(kRows * kCols);
  std::vector<float> fp8Scales(kRows), int8Scales(kRows);
  launchOnHost(kRows, kBlock, [&] {
    quantizeRows<bf16_t, e4m3_t, kCols, kBlock, kDynamicScale>(
        input.data(), nullptr, fp8.data(), fp8Scales.data(), kRows);
    quantizeRows<bf16_t, signed char, kCols, kBlock, kDynamicScale>(
        input.data(), nullptr, int8.data(), int8Scales.data(), kRows);
  });
  EXPECT_EQ(fp8Scales[2], 1.0f);
  EXPECT_EQ(int8Scales[2], 1.0f);
  for (int r = 0; r < kRows; ++r) {
    float amax = 0.0f;
    for (int c = 0; c < kCols; ++c)
      amax = std::max(amax, std::fabs(toF32(input[r * kCols + c])));
    float fp8Scale = amax == 0.0f ? 1.0f : amax / 448.0f;
    float int8Scale = amax == 0.0f ? 1.0f : amax / 127.0f;
    ASSERT_EQ(fp8Scales[r], fp8Scale);
    ASSERT_EQ(int8Scales[r], int8Scale);
    for (int c = 0; c < kCols; ++c) {
      float x = toF32(input[r * kCols + c]);
      ASSERT_EQ(fp8[r * kCols + c].bits, referenceE4m3(x, fp8Scale));
      ASSERT_EQ(int8[r * kCols + c], referenceInt8(x, int8Scale));
    }
  }
}

// Static quantize with per-token input scales, including exact ties
// (x / s = k + 0.5 rounds to even) and NaN (becomes 0).
TEST(SimtKernels, QuantizeStaticRoundsHalfToEven) {
  constexpr int kCols = 8, kBlock = 32;
  std::vector<float> input = {0.5f,    1.5f, 2.5f, -0.5f, -2.5f, 300.0f,
                              -300.0f, NAN,  1.0f, 2.0f,  3.0f,  4.0f,
                              5.0f,    6.0f, 7.0f, 8.0f};
  std::vector<float> scales = {1.0f, 0.5f};
  std::vector<signed char> quantized(16);
  launchOnHost(2, kBlock, [&] {
    quantizeRows<float, signed char, kCols, kBlock, kTokenScaleInput>(
        input.data(), scales.data(), quantized.data(), nullptr, 2);
  });
  const std::vector<signed char> expected = {0, 2, 2, 0, -2, 127, -128, 0,
                                             2, 4, 6, 8, 10, 12,  14,   16};
  EXPECT_EQ(quantized, expected);
}

// dequantize with group-wise scales and zero points ([rows, cols / 32]).
TEST(SimtKernels, DequantizeGroupwise) {
  constexpr int kCols = 64, kGroups = 2;
  std::vector<signed char> quantized(kRows * kCols);
  std::mt19937 generator(18);
  for (auto &q : quantized)
    q = static_cast<signed char>(generator() % 256 - 128);
  auto scales = randomValues(kRows * kGroups, 0.1f, 19);
  std::vector<signed char> zeros(kRows * kGroups);
  for (auto &z : zeros)
    z = static_cast<signed char>(generator() % 16 - 8);
  std::vector<float> output(kRows * kCols);
  launchOnHost(3, 32, [&] {
    dequantizeElements<signed char, float, kCols, kGroups>(
        quantized.data(), scales.data(), zeros.data(), output.data(),
        kRows * kCols);
  });
  for (int r = 0; r < kRows; ++r)
    for (int c = 0; c < kCols; ++c) {
      int g = r * kGroups + c / (kCols / kGroups);
      ASSERT_EQ(output[r * kCols + c],
                (static_cast<float>(quantized[r * kCols + c]) - zeros[g]) *
                    scales[g]);
    }
}

//===----------------------------------------------------------------------===//
// RoPE, embedding
//===----------------------------------------------------------------------===//

void checkRope(cpu::RopeStyle style, int styleTemplate) {
  constexpr int kHeads = 3, kHeadDim = 32, kRotary = 24, kBlockTokens = 4;
  cpu::RopeParams params;
  params.theta = 500000.0;
  params.rotaryDim = kRotary;
  params.style = style;
  params.scaling = cpu::RopeScaling::Llama3;
  params.factor = 8.0;
  params.originalMaxPosition = 8192;
  cpu::RopeFrequencies frequencies;
  ASSERT_TRUE(cpu::computeRopeFrequencies(params, kHeadDim, frequencies).ok());
  auto input = toBf16(randomValues(kRows * kHeads * kHeadDim, 1.0f, 20));
  auto values = toBf16(randomValues(kRows * kHeads * kHeadDim, 1.0f, 21));
  std::vector<int> positions = {0, 7, 1000, 33000, 5};
  std::vector<long long> slots = {9, 2, -1, 4, 0}; // -1: a padding token
  std::vector<bf16_t> output(input.size());
  std::vector<bf16_t> keyCache(3 * kHeads * kBlockTokens * kHeadDim, {0});
  std::vector<bf16_t> valueCache(keyCache.size(), {0});
  auto run = [&](auto styleConstant) {
    launchOnHost(kRows, 64, [&] {
      ropeRows<bf16_t, bf16_t, bf16_t, kHeads, kHeadDim, kRotary,
               decltype(styleConstant)::value, 64, true, kBlockTokens>(
          input.data(), positions.data(), frequencies.inverseFrequencies.data(),
          frequencies.attentionFactor, output.data(), values.data(),
          slots.data(), keyCache.data(), valueCache.data(), kRows);
    });
  };
  if (styleTemplate == kRopeHalf)
    run(std::integral_constant<int, kRopeHalf>());
  else
    run(std::integral_constant<int, kRopeInterleaved>());
  std::vector<uint16_t> expected(input.size());
  cpu::rope(
      cpu::heads(input.data(), cpu::DType::BF16, kRows, kHeads, kHeadDim),
      positions.data(), frequencies, style,
      cpu::heads(expected.data(), cpu::DType::BF16, kRows, kHeads, kHeadDim));
  // Same f32 formula, cos/sin through double on both sides: bit-exact.
  for (size_t i = 0; i < expected.size(); ++i)
    ASSERT_EQ(output[i].bits, expected[i]) << "at " << i;
  for (int t = 0; t < kRows; ++t) {
    if (slots[t] < 0)
      continue;
    for (int h = 0; h < kHeads; ++h)
      for (int d = 0; d < kHeadDim; ++d) {
        long long offset =
            cacheOffset<kHeads, kHeadDim, kBlockTokens>(slots[t], h, d);
        int index = (t * kHeads + h) * kHeadDim + d;
        ASSERT_EQ(keyCache[offset].bits, expected[index]);
        ASSERT_EQ(valueCache[offset].bits, values[index].bits);
      }
  }
  // Block 2 of the cache holds slots 8..11; only slot 9 was written, and the
  // padding token wrote nothing anywhere else.
  int written = 0;
  for (const bf16_t &v : valueCache)
    written += v.bits != 0;
  EXPECT_EQ(written, 4 * kHeads * kHeadDim);
}

// RoPE (llama3 scaling, partial rotary dim) in both styles equals cpu::rope,
// and the KV-cache write puts keys and values at their slots.
TEST(SimtKernels, RopeHalfWithCacheWrite) {
  checkRope(cpu::RopeStyle::Half, kRopeHalf);
}
TEST(SimtKernels, RopeInterleavedWithCacheWrite) {
  checkRope(cpu::RopeStyle::Interleaved, kRopeInterleaved);
}

// Embedding gather (bf16 table to f32 rows) equals cpu::embedding.
TEST(SimtKernels, EmbeddingMatchesCpu) {
  constexpr int kVocab = 50, kCols = 40;
  auto table = toBf16(randomValues(kVocab * kCols, 1.0f, 22));
  std::vector<int> ids = {3, 49, 0, 17, 3};
  std::vector<float> output(kRows * kCols), expected(kRows * kCols);
  launchOnHost(kRows, 32, [&] {
    embeddingRows<bf16_t, float, kVocab, kCols, 32>(table.data(), ids.data(),
                                                    output.data(), kRows);
  });
  ASSERT_TRUE(
      cpu::embedding(
          cpu::constMatrix(table.data(), cpu::DType::BF16, kVocab, kCols),
          ids.data(), kRows,
          cpu::matrix(expected.data(), cpu::DType::F32, kRows, kCols))
          .ok());
  EXPECT_EQ(output, expected);
}

//===----------------------------------------------------------------------===//
// GEMMs
//===----------------------------------------------------------------------===//

// Edge tiles in M and N on purpose. The shim's shuffles and barriers are
// slow, so the FP8 case and the GEMV (a decode shape) use fewer rows.
struct GemmShape {
  int m, n, k;
};

std::vector<signed char> randomInt8(size_t count, unsigned seed) {
  std::mt19937 generator(seed);
  std::vector<signed char> out(count);
  for (auto &v : out)
    v = static_cast<signed char>(static_cast<int>(generator() % 256) - 128);
  return out;
}

/// c = alpha * sa[m] * sb[n] * sum_k a*b, evaluated as the contract writes it.
template <class Element, class Widen>
std::vector<float> referenceGemm(GemmShape shape, const std::vector<Element> &a,
                                 const std::vector<Element> &b,
                                 const std::vector<float> &scaleA,
                                 const std::vector<float> &scaleB, float alpha,
                                 Widen widen, std::vector<float> *magnitudes) {
  const int kGemmN = shape.n, kGemmK = shape.k;
  std::vector<float> c(shape.m * kGemmN);
  for (int m = 0; m < shape.m; ++m)
    for (int n = 0; n < kGemmN; ++n) {
      double sum = 0.0, magnitude = 0.0;
      for (int k = 0; k < kGemmK; ++k) {
        double product = static_cast<double>(widen(a[m * kGemmK + k])) *
                         widen(b[n * kGemmK + k]);
        sum += product;
        magnitude += std::fabs(product);
      }
      float factor = alpha * scaleA[m] * scaleB[n];
      c[m * kGemmN + n] = factor * static_cast<float>(sum);
      if (magnitudes)
        (*magnitudes)[m * kGemmN + n] = std::fabs(factor) * magnitude;
    }
  return c;
}

// The dp4a tile GEMM (partial edge tiles in M and N) and the GEMV are
// bit-exact: int32 sums, then the scale product in the contract's order.
TEST(SimtKernels, Int8GemmAndGemvAreExact) {
  constexpr int kGemmM = 70, kGemmN = 72, kGemmK = 96, kGemvM = 3;
  auto a = randomInt8(kGemmM * kGemmK, 23);
  auto b = randomInt8(kGemmN * kGemmK, 24);
  auto scaleA = randomValues(kGemmM, 0.01f, 25);
  auto scaleB = randomValues(kGemmN, 0.01f, 26);
  std::vector<float> tiles(kGemmM * kGemmN), gemv(kGemmM * kGemmN);
  launchOnHost(
      dim3((kGemmN + 63) / 64, (kGemmM + 63) / 64), kInt8GemmThreads, [&] {
        gemmInt8Tiles<kGemmN, kGemmK, true, true>(
            a.data(), b.data(), scaleA.data(), scaleB.data(), 0.5f,
            StoreEpilogue<float, kGemmN, false>{tiles.data(), 0.0f}, kGemmM);
      });
  constexpr int kGemvBlock = 128;
  launchOnHost((kGemmN + 3) / 4, kGemvBlock, [&] {
    gemvInt8Rows<kGemmN, kGemmK, kGemvBlock, true, true>(
        a.data(), b.data(), scaleA.data(), scaleB.data(), 0.5f,
        StoreEpilogue<float, kGemmN, false>{gemv.data(), 0.0f}, kGemvM);
  });
  auto expected = referenceGemm(
      {kGemmM, kGemmN, kGemmK}, a, b, scaleA, scaleB, 0.5f,
      [](signed char v) { return float(v); }, nullptr);
  EXPECT_EQ(tiles, expected);
  gemv.resize(kGemvM * kGemmN);
  expected.resize(kGemvM * kGemmN);
  EXPECT_EQ(gemv, expected);
}

// The FP8 GEMM's tiling, fragment addressing and scale epilogue, with the
// MMA emulated by shuffles from the same fragments (sm_89+ runs the real
// mma.sync): within f32 accumulation-order error of the exact sum.
TEST(SimtKernels, Fp8GemmTilingAndEpilogue) {
  constexpr int kGemmM = 20, kGemmN = 40, kGemmK = 64;
  std::vector<e4m3_t> a(kGemmM * kGemmK), b(kGemmN * kGemmK);
  auto aValues = randomValues(a.size(), 2.0f, 27);
  auto bValues = randomValues(b.size(), 2.0f, 28);
  for (size_t i = 0; i < a.size(); ++i)
    a[i].bits =
        llmc::numeric::floatToFp8Saturate(aValues[i], Fp8Format::E4M3FN);
  for (size_t i = 0; i < b.size(); ++i)
    b[i].bits =
        llmc::numeric::floatToFp8Saturate(bValues[i], Fp8Format::E4M3FN);
  auto scaleA = randomValues(kGemmM, 0.1f, 29);
  std::vector<float> scaleB = {0.25f}; // per tensor
  std::vector<float> output(kGemmM * kGemmN);
  launchOnHost(dim3((kGemmN + kFp8WarpTileN - 1) / kFp8WarpTileN,
                    (kGemmM + kFp8TileM - 1) / kFp8TileM),
               kFp8Warps * kWarpSize, [&] {
                 gemmFp8Tiles<kGemmN, kGemmK, true, false>(
                     a.data(), b.data(), scaleA.data(), scaleB.data(), 1.0f,
                     StoreEpilogue<float, kGemmN, false>{output.data(), 0.0f},
                     kGemmM);
               });
  std::vector<float> magnitudes(kGemmM * kGemmN);
  std::vector<float> fullScaleB(kGemmN, 0.25f);
  auto expected = referenceGemm(
      {kGemmM, kGemmN, kGemmK}, a, b, scaleA, fullScaleB, 1.0f,
      [](e4m3_t v) { return toF32(v); }, &magnitudes);
  for (int i = 0; i < kGemmM * kGemmN; ++i)
    ASSERT_NEAR(output[i], expected[i], 1e-5f * magnitudes[i] + 1e-30f)
        << "at " << i;
}

} // namespace
