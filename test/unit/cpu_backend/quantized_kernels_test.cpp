//===- quantized_kernels_test.cpp - W8A8, FP8, weight-only GEMMs, quantize ===//
//
// References are scalar loops written here from the plan contract
// (docs/quantization.md) over Quantize.h / Float8.h: int8 GEMMs must match
// them bit for bit on every ISA level (the int32 sum is exact), f32-accumulated
// GEMMs within a bound on the f32 rounding of the sum, quantize kernels
// exactly.
//
//===----------------------------------------------------------------------===//

#include "runtime/backends/cpu/CpuFeatures.h"
#include "runtime/backends/cpu/Kernels.h"
#include "runtime/support/Quantize.h"
#include "test/unit/cpu_backend/TestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace {

using namespace llmc;
using namespace llmc::cpu;
using numeric::Fp8Format;

/// Every (ISA, VNNI allowed) combination this machine runs; the int8 GEMM
/// has a separate path for each.
struct IsaVariant {
  Isa isa;
  bool vnni;
};
std::vector<IsaVariant> isaVariants() {
  std::vector<IsaVariant> variants;
  for (Isa isa : test::availableIsas()) {
    variants.push_back({isa, false});
    if (isa == Isa::Avx512 && hasAvx512Vnni())
      variants.push_back({isa, true});
  }
  return variants;
}

struct VariantScope {
  test::IsaScope isa;
  explicit VariantScope(IsaVariant v) : isa(v.isa) {
    setAvx512VnniAllowed(v.vnni);
  }
  ~VariantScope() { setAvx512VnniAllowed(true); }
};

std::string describe(IsaVariant v) {
  return std::string(isaName(v.isa)) + (v.vnni ? "+vnni" : "");
}

std::vector<int8_t> randomInt8(size_t count, std::mt19937 &rng) {
  std::uniform_int_distribution<int> dist(-128, 127);
  std::vector<int8_t> values(count);
  for (int8_t &v : values)
    v = static_cast<int8_t>(dist(rng));
  return values;
}

std::vector<float> randomScales(size_t count, std::mt19937 &rng) {
  std::uniform_real_distribution<float> dist(0.001f, 0.1f);
  std::vector<float> values(count);
  for (float &v : values)
    v = dist(rng);
  return values;
}

// W8A8 int8 equals the contract's formula bit for bit: the exact int32 sum,
// then ((alpha * scale_a[m]) * scale_b[n]) * float(sum), on every ISA path,
// for shapes that exercise every tile edge and vector tail.
TEST(QuantizedKernels, Int8GemmIsExactOnEveryIsa) {
  std::mt19937 rng(11);
  ThreadPool pool(2);
  const int64_t shapes[][3] = {{1, 1, 1},    {1, 37, 100}, {1, 64, 4096},
                               {3, 5, 7},    {5, 17, 33},  {4, 16, 64},
                               {17, 9, 257}, {2, 70, 1000}};
  for (auto [m, n, k] : shapes)
    for (bool perTokenA : {false, true})
      for (bool perChannelB : {false, true}) {
        auto a = randomInt8(m * k, rng), b = randomInt8(n * k, rng);
        auto sa = randomScales(perTokenA ? m : 1, rng);
        auto sb = randomScales(perChannelB ? n : 1, rng);
        const float alpha = 0.75f;
        std::vector<float> expected(m * n);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            int64_t sum = 0;
            for (int64_t t = 0; t < k; ++t)
              sum += int64_t{a[i * k + t]} * b[j * k + t];
            float factor = alpha * sa[perTokenA ? i : 0];
            factor = factor * sb[perChannelB ? j : 0];
            expected[i * n + j] = factor * static_cast<float>(sum);
          }
        BlockScales scaleA = perTokenA ? BlockScales::perRow(sa.data())
                                       : BlockScales::perTensor(sa.data());
        BlockScales scaleB = perChannelB ? BlockScales::perRow(sb.data())
                                         : BlockScales::perTensor(sb.data());
        for (IsaVariant v : isaVariants()) {
          VariantScope scope(v);
          for (ThreadPool *p : {static_cast<ThreadPool *>(nullptr), &pool}) {
            std::vector<float> out(m * n, -1.0f);
            gemmW8A8(quantMatrix(a.data(), QuantDType::I8, m, k),
                     quantMatrix(b.data(), QuantDType::I8, n, k), scaleA,
                     scaleB, alpha, matrix(out.data(), DType::F32, m, n), p);
            ASSERT_EQ(0, std::memcmp(out.data(), expected.data(),
                                     out.size() * sizeof(float)))
                << describe(v) << " m=" << m << " n=" << n << " k=" << k;
          }
        }
      }
}

// The extremes: -128 * -128 over a deep K (the sign-flip/VNNI correction and
// the int16 pair sums of the madd paths are where exactness could break).
TEST(QuantizedKernels, Int8GemmExtremesAreExact) {
  const int64_t m = 2, n = 3, k = 8191;
  std::vector<int8_t> a(m * k, -128), b(n * k, -128);
  for (int64_t t = 0; t < k; t += 3)
    b[k + t] = 127; // row 1 mixes signs
  for (int64_t t = 0; t < k; ++t)
    b[2 * k + t] = (t & 1) ? 127 : -128;
  float one = 1.0f;
  for (IsaVariant v : isaVariants()) {
    VariantScope scope(v);
    std::vector<float> out(m * n);
    gemmW8A8(quantMatrix(a.data(), QuantDType::I8, m, k),
             quantMatrix(b.data(), QuantDType::I8, n, k),
             BlockScales::perTensor(&one), BlockScales::perTensor(&one), 1.0f,
             matrix(out.data(), DType::F32, m, n), nullptr);
    for (int64_t j = 0; j < n; ++j) {
      int64_t sum = 0;
      for (int64_t t = 0; t < k; ++t)
        sum += -128 * int64_t{b[j * k + t]};
      EXPECT_EQ(out[j], static_cast<float>(sum)) << describe(v) << " " << j;
      EXPECT_EQ(out[n + j], static_cast<float>(sum)) << describe(v);
    }
  }
}

// The output is rounded once to bf16/f16 storage.
TEST(QuantizedKernels, Int8GemmRoundsToTheOutputType) {
  std::mt19937 rng(5);
  const int64_t m = 3, n = 10, k = 50;
  auto a = randomInt8(m * k, rng), b = randomInt8(n * k, rng);
  auto sa = randomScales(m, rng), sb = randomScales(n, rng);
  std::vector<float> f32(m * n);
  gemmW8A8(quantMatrix(a.data(), QuantDType::I8, m, k),
           quantMatrix(b.data(), QuantDType::I8, n, k),
           BlockScales::perRow(sa.data()), BlockScales::perRow(sb.data()), 1.0f,
           matrix(f32.data(), DType::F32, m, n), nullptr);
  for (DType dtype : {DType::BF16, DType::F16}) {
    std::vector<uint16_t> out(m * n);
    gemmW8A8(quantMatrix(a.data(), QuantDType::I8, m, k),
             quantMatrix(b.data(), QuantDType::I8, n, k),
             BlockScales::perRow(sa.data()), BlockScales::perRow(sb.data()),
             1.0f, matrix(out.data(), dtype, m, n), nullptr);
    for (int64_t i = 0; i < m * n; ++i)
      EXPECT_EQ(out[i],
                dtype == DType::BF16 ? f32ToBf16(f32[i]) : f32ToF16(f32[i]));
  }
}

std::vector<uint8_t> randomFp8(size_t count, Fp8Format format,
                               std::mt19937 &rng) {
  std::normal_distribution<float> normal(0.0f, 30.0f);
  std::vector<uint8_t> codes(count);
  for (uint8_t &c : codes)
    c = numeric::floatToFp8Saturate(normal(rng), format);
  return codes;
}

// FP8 x FP8: exact products summed in f32 are within K * 2^-24 * sum |a*b|
// of the exact (double) sum, then scaled in the contract's order; and when
// every partial sum is exactly representable the result is exact.
TEST(QuantizedKernels, Fp8GemmMatchesExactProducts) {
  std::mt19937 rng(9);
  ThreadPool pool(2);
  for (auto [m, n, k] : {std::array<int64_t, 3>{1, 33, 300},
                         std::array<int64_t, 3>{6, 70, 1030}})
    for (Fp8Format bFormat : {Fp8Format::E4M3FN, Fp8Format::E5M2}) {
      auto a = randomFp8(m * k, Fp8Format::E4M3FN, rng);
      auto b = randomFp8(n * k, bFormat, rng);
      auto sa = randomScales(m, rng), sb = randomScales(n, rng);
      QuantDType bType = bFormat == Fp8Format::E4M3FN ? QuantDType::F8E4M3FN
                                                      : QuantDType::F8E5M2;
      for (Isa isa : test::availableIsas()) {
        test::IsaScope scope(isa);
        std::vector<float> out(m * n);
        gemmW8A8(quantMatrix(a.data(), QuantDType::F8E4M3FN, m, k),
                 quantMatrix(b.data(), bType, n, k),
                 BlockScales::perRow(sa.data()), BlockScales::perRow(sb.data()),
                 2.0f, matrix(out.data(), DType::F32, m, n), &pool);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double exact = 0.0, magnitude = 0.0;
            for (int64_t t = 0; t < k; ++t) {
              double p =
                  double(numeric::fp8ToFloat(a[i * k + t], Fp8Format::E4M3FN)) *
                  numeric::fp8ToFloat(b[j * k + t], bFormat);
              exact += p;
              magnitude += std::fabs(p);
            }
            const double factor = double((2.0f * sa[i]) * sb[j]);
            const double bound =
                factor * (k * magnitude * std::ldexp(1.0, -24)) +
                std::fabs(factor * exact) * std::ldexp(1.0, -23);
            ASSERT_NEAR(out[i * n + j], factor * exact, bound)
                << isaName(isa) << " " << i << "," << j;
          }
      }
    }
  // Small integers: every partial sum is exact, so the result is too.
  const int64_t k = 40;
  std::vector<uint8_t> a(k), b(k);
  double exact = 0;
  for (int64_t t = 0; t < k; ++t) {
    float x = float(t % 7) - 3.0f, y = float(t % 5) - 2.0f;
    a[t] = numeric::floatToFp8Saturate(x, Fp8Format::E4M3FN);
    b[t] = numeric::floatToFp8Saturate(y, Fp8Format::E4M3FN);
    exact += double(x) * y;
  }
  float one = 1.0f, out = 0.0f;
  gemmW8A8(quantMatrix(a.data(), QuantDType::F8E4M3FN, 1, k),
           quantMatrix(b.data(), QuantDType::F8E4M3FN, 1, k),
           BlockScales::perTensor(&one), BlockScales::perTensor(&one), 1.0f,
           matrix(&out, DType::F32, 1, 1), nullptr);
  EXPECT_EQ(out, float(exact));
}

// Weight-only int8 / int4 (packed), group-wise scales with and without zero
// points, f32/bf16 activations: within the f32 accumulation bound of the
// double-precision sum over the exactly dequantized weight.
TEST(QuantizedKernels, WeightOnlyGemmMatchesDequantizedReference) {
  std::mt19937 rng(21);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  ThreadPool pool(2);
  for (QuantDType wType : {QuantDType::I8, QuantDType::I4})
    for (bool asymmetric : {false, true})
      // One-row cases take the fused GEMV on AVX2/AVX-512 (group a multiple of
      // 16, or the whole row with a vector tail) or fall back to the
      // decoded path (group 24).
      for (auto [m, n, k, group] : {std::array<int64_t, 4>{1, 70, 1024, 128},
                                    std::array<int64_t, 4>{1, 37, 1000, 1000},
                                    std::array<int64_t, 4>{1, 20, 96, 24},
                                    std::array<int64_t, 4>{5, 33, 256, 256},
                                    std::array<int64_t, 4>{9, 130, 640, 64}}) {
        numeric::IntFormat format = wType == QuantDType::I8
                                        ? numeric::IntFormat::Int8
                                        : numeric::IntFormat::Int4;
        std::vector<float> w(n * k), x(m * k);
        for (float &v : w)
          v = normal(rng) + (asymmetric ? 0.7f : 0.0f);
        for (float &v : x)
          v = normal(rng);
        std::vector<uint8_t> codes(wType == QuantDType::I8 ? n * k : n * k / 2);
        std::vector<float> scales(n * (k / group));
        std::vector<int8_t> zeros(scales.size());
        numeric::quantizeWeightGroupwise(w.data(), n, k, group, format,
                                         codes.data(), scales.data(),
                                         asymmetric ? zeros.data() : nullptr);
        BlockScales blockScales = BlockScales::blocks(
            scales.data(), asymmetric ? zeros.data() : nullptr, n, k, n,
            k / group);
        std::vector<double> expected(m * n), magnitude(m * n);
        for (int64_t j = 0; j < n; ++j)
          for (int64_t t = 0; t < k; ++t) {
            int64_t g = j * (k / group) + t / group;
            int32_t q = wType == QuantDType::I8
                            ? static_cast<int8_t>(codes[j * k + t])
                            : numeric::unpackInt4(codes.data(), j * k + t);
            float wq =
                numeric::dequantizeInt(q, scales[g], asymmetric ? zeros[g] : 0);
            for (int64_t i = 0; i < m; ++i) {
              expected[i * n + j] += double(x[i * k + t]) * wq;
              magnitude[i * n + j] += std::fabs(double(x[i * k + t]) * wq);
            }
          }
        for (Isa isa : test::availableIsas()) {
          test::IsaScope scope(isa);
          std::vector<float> out(m * n);
          gemmWeightOnly(constMatrix(x.data(), DType::F32, m, k),
                         quantMatrix(codes.data(), wType, n, k), blockScales,
                         1.0f, matrix(out.data(), DType::F32, m, n), &pool);
          for (int64_t i = 0; i < m * n; ++i)
            ASSERT_NEAR(out[i], expected[i],
                        k * magnitude[i] * std::ldexp(1.0, -24) + 1e-30)
                << isaName(isa) << " " << quantDTypeName(wType)
                << " asym=" << asymmetric << " m=" << m << " i=" << i;
        }
        // bf16 activations and alpha: the same up to bf16 input rounding,
        // which the reference applies too.
        std::vector<uint16_t> xb(m * k);
        for (int64_t i = 0; i < m * k; ++i)
          xb[i] = f32ToBf16(x[i]);
        std::vector<float> outB(m * n), outF(m * n), xr(m * k);
        for (int64_t i = 0; i < m * k; ++i)
          xr[i] = bf16ToF32(xb[i]);
        gemmWeightOnly(constMatrix(xb.data(), DType::BF16, m, k),
                       quantMatrix(codes.data(), wType, n, k), blockScales,
                       0.5f, matrix(outB.data(), DType::F32, m, n), nullptr);
        gemmWeightOnly(constMatrix(xr.data(), DType::F32, m, k),
                       quantMatrix(codes.data(), wType, n, k), blockScales,
                       0.5f, matrix(outF.data(), DType::F32, m, n), nullptr);
        ASSERT_EQ(0, std::memcmp(outB.data(), outF.data(),
                                 outB.size() * sizeof(float)));
      }
}

// quantize: per tensor, per row and group-wise scales, with zero points, to
// i8 / i4 (packed) / fp8, from f32, f16 and bf16 inputs: exactly Quantize.h.
TEST(QuantizedKernels, QuantizeMatchesScalarDefinition) {
  std::mt19937 rng(2);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  const int64_t rows = 4, cols = 12;
  std::vector<float> x(rows * cols);
  for (float &v : x)
    v = normal(rng);
  x[0] = 1e9f;
  x[1] = -1e9f;
  x[2] = 0.0f;
  std::vector<float> scales = randomScales(rows * 3, rng);
  std::vector<int8_t> zeros = {1, -2, 3, 0, 4, -5, 1, 2, -1, 0, 3, 2};
  BlockScales blocks =
      BlockScales::blocks(scales.data(), zeros.data(), rows, cols, rows, 3);
  for (DType inType : {DType::F32, DType::F16, DType::BF16}) {
    std::vector<uint8_t> input(rows * cols * dtypeBytes(inType));
    convertFromF32(x.data(), input.data(), inType, rows * cols);
    std::vector<float> xr(rows * cols);
    convertToF32(input.data(), inType, xr.data(), rows * cols);
    for (QuantDType outType : {QuantDType::I8, QuantDType::I4,
                               QuantDType::F8E4M3FN, QuantDType::F8E5M2}) {
      bool fp8 =
          outType == QuantDType::F8E4M3FN || outType == QuantDType::F8E5M2;
      BlockScales s = blocks;
      if (fp8)
        s.zeroPoints = nullptr;
      std::vector<uint8_t> out(rows * cols, 0xcd);
      quantize(constMatrix(input.data(), inType, rows, cols), s, out.data(),
               outType);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
          int64_t g = r * 3 + c / 4, at = r * cols + c;
          int32_t zero = fp8 ? 0 : zeros[g];
          switch (outType) {
          case QuantDType::I8:
            ASSERT_EQ(static_cast<int8_t>(out[at]),
                      numeric::quantizeInt8(xr[at], scales[g], zero));
            break;
          case QuantDType::I4:
            ASSERT_EQ(numeric::unpackInt4(out.data(), at),
                      numeric::quantizeInt4(xr[at], scales[g], zero));
            break;
          default:
            ASSERT_EQ(out[at],
                      numeric::quantizeFp8(xr[at], scales[g],
                                           outType == QuantDType::F8E4M3FN
                                               ? Fp8Format::E4M3FN
                                               : Fp8Format::E5M2));
          }
        }
    }
  }
}

// quantize_dynamic: scale = amax / qmax per row (1 for an all-zero row),
// then quantize; the row's largest magnitude maps to +-qmax.
TEST(QuantizedKernels, QuantizeDynamicPerToken) {
  const int64_t rows = 3, cols = 5;
  std::vector<float> x = {1.0f, -254.0f, 3.0f,  0.5f, 127.0f, //
                          0.0f, 0.0f,    0.0f,  0.0f, 0.0f,   //
                          0.3f, 0.1f,    -0.2f, 0.4f, 0.25f};
  std::vector<int8_t> q(rows * cols);
  std::vector<float> scales(rows);
  quantizeDynamic(constMatrix(x.data(), DType::F32, rows, cols), q.data(),
                  QuantDType::I8, scales.data());
  EXPECT_EQ(scales[0], 2.0f);
  EXPECT_EQ(scales[1], 1.0f);
  EXPECT_EQ(scales[2], 0.4f / 127.0f);
  EXPECT_EQ(q[1], -127);
  EXPECT_EQ(q[0], 0);  // 0.5 ties to even
  EXPECT_EQ(q[4], 64); // 63.5 -> 64
  EXPECT_EQ(q[5], 0);
  EXPECT_EQ(q[13], 127);
  for (int64_t i = 0; i < rows * cols; ++i)
    EXPECT_EQ(q[i], numeric::quantizeInt8(x[i], scales[i / cols]));
  std::vector<uint8_t> f8(rows * cols);
  quantizeDynamic(constMatrix(x.data(), DType::F32, rows, cols), f8.data(),
                  QuantDType::F8E4M3FN, scales.data());
  EXPECT_EQ(scales[0], 254.0f / 448.0f);
  EXPECT_EQ(numeric::fp8ToFloat(f8[1], Fp8Format::E4M3FN), -448.0f);
  for (int64_t i = 0; i < rows * cols; ++i)
    EXPECT_EQ(f8[i],
              numeric::quantizeFp8(x[i], scales[i / cols], Fp8Format::E4M3FN));
}

// dequantize: (q - zero) * scale, rounded once to the output type, for
// block-wise scales; dequantize(quantize(x)) is x to within half a step.
TEST(QuantizedKernels, DequantizeIsTheExactInverse) {
  const int64_t rows = 2, cols = 8;
  std::vector<int8_t> q = {-128, -1, 0, 1, 127, 5, -5, 64,
                           7,    -8, 3, 0, -3,  2, 1,  -1};
  std::vector<uint8_t> packed(rows * cols / 2);
  numeric::packInt4(q.data() + cols, cols, packed.data());
  std::vector<float> scales = {0.5f, 0.25f, 3.0f, 0.125f};
  std::vector<int8_t> zeros = {0, 2, -1, 1};
  BlockScales s =
      BlockScales::blocks(scales.data(), zeros.data(), rows, cols, rows, 2);
  std::vector<float> out(rows * cols);
  dequantize(quantMatrix(q.data(), QuantDType::I8, rows, cols), s,
             matrix(out.data(), DType::F32, rows, cols));
  for (int64_t i = 0; i < rows * cols; ++i) {
    int64_t g = (i / cols) * 2 + (i % cols) / 4;
    EXPECT_EQ(out[i], float(q[i] - zeros[g]) * scales[g]) << i;
  }
  // One int4 row (the second), per-tensor scale, bf16 output.
  std::vector<uint16_t> outB(cols);
  float scale = 0.3f;
  dequantize(quantMatrix(packed.data(), QuantDType::I4, 1, cols),
             BlockScales::perTensor(&scale),
             matrix(outB.data(), DType::BF16, 1, cols));
  for (int64_t c = 0; c < cols; ++c)
    EXPECT_EQ(outB[c], f32ToBf16(float(q[cols + c]) * scale));
}

// Every ISA's decoder (the vector FP8 paths go through F16C) returns exactly
// Float8.h's value for all 256 codes of both formats (NaNs bit for bit),
// with and without a scale, and the int8/int4 decoders exactly (q - z) * s,
// at every alignment of the run (vector bodies and scalar tails).
TEST(QuantizedKernels, DecodersAreExactOnEveryIsa) {
  std::vector<uint8_t> codes(256 + 37);
  for (size_t i = 0; i < codes.size(); ++i)
    codes[i] = static_cast<uint8_t>(i);
  for (Isa isa : test::availableIsas()) {
    test::IsaScope scope(isa);
    for (auto [type, format] :
         {std::pair{QuantDType::F8E4M3FN, Fp8Format::E4M3FN},
          std::pair{QuantDType::F8E5M2, Fp8Format::E5M2}})
      for (int64_t offset : {0, 3}) {
        const int64_t cols = 256 + 37 - offset;
        std::vector<float> values(cols);
        float scale = 0.375f;
        dequantize(quantMatrix(codes.data() + offset, type, 1, cols),
                   BlockScales::perTensor(&scale),
                   matrix(values.data(), DType::F32, 1, cols));
        for (int64_t i = 0; i < cols; ++i) {
          float expected =
              numeric::fp8ToFloat(codes[offset + i], format) * scale;
          uint32_t got, want;
          std::memcpy(&got, &values[i], 4);
          std::memcpy(&want, &expected, 4);
          ASSERT_EQ(got, want)
              << isaName(isa) << " code " << int(codes[offset + i])
              << " offset " << offset;
        }
      }
    // Integers: 90 columns in groups of 3 (and one group of 90), so int4
    // runs start at odd columns too.
    std::vector<int8_t> q(90);
    for (size_t i = 0; i < q.size(); ++i)
      q[i] = static_cast<int8_t>((int(i) * 37) % 16 - 8);
    std::vector<uint8_t> packed(45);
    numeric::packInt4(q.data(), 90, packed.data());
    std::vector<float> scales(30);
    std::vector<int8_t> zeros(30);
    for (int g = 0; g < 30; ++g) {
      scales[g] = 0.1f + 0.05f * g;
      zeros[g] = static_cast<int8_t>(g % 5 - 2);
    }
    for (int64_t group : {3, 90}) {
      BlockScales blocks = BlockScales::blocks(scales.data(), zeros.data(), 1,
                                               90, 1, 90 / group);
      std::vector<float> i8(90), i4(90);
      dequantize(quantMatrix(q.data(), QuantDType::I8, 1, 90), blocks,
                 matrix(i8.data(), DType::F32, 1, 90));
      dequantize(quantMatrix(packed.data(), QuantDType::I4, 1, 90), blocks,
                 matrix(i4.data(), DType::F32, 1, 90));
      for (int i = 0; i < 90; ++i) {
        float expected =
            numeric::dequantizeInt(q[i], scales[i / group], zeros[i / group]);
        EXPECT_EQ(i8[i], expected) << isaName(isa) << " " << i;
        EXPECT_EQ(i4[i], expected) << isaName(isa) << " " << i;
      }
    }
  }
}

} // namespace
