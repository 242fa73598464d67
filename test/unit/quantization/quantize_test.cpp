//===- quantize_test.cpp - runtime/support/Quantize.h: integer quantization
//-===//
//
// Expected codes are worked out by hand from the definitions in
// docs/quantization.md (round half to even, saturation, (q - zero) * scale);
// the FP8 conversions are checked against ml_dtypes by float8_vs_ml_dtypes.py.
//
//===----------------------------------------------------------------------===//

#include "runtime/support/Quantize.h"

#include <gtest/gtest.h>

#include <cfenv>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace {

using namespace llmc::numeric;

// Ties go to the even neighbour, everything else to the nearest integer.
TEST(Quantize, RoundHalfEvenTiesToEven) {
  EXPECT_EQ(roundHalfEven(0.5f), 0.0f);
  EXPECT_EQ(roundHalfEven(1.5f), 2.0f);
  EXPECT_EQ(roundHalfEven(2.5f), 2.0f);
  EXPECT_EQ(roundHalfEven(-0.5f), 0.0f);
  EXPECT_EQ(roundHalfEven(-1.5f), -2.0f);
  EXPECT_EQ(roundHalfEven(-2.5f), -2.0f);
  EXPECT_EQ(roundHalfEven(126.5f), 126.0f);
  EXPECT_EQ(roundHalfEven(127.5f), 128.0f);
  EXPECT_EQ(roundHalfEven(0.49999997f), 0.0f);
  EXPECT_EQ(roundHalfEven(0.50000006f), 1.0f);
  EXPECT_EQ(roundHalfEven(-2.4f), -2.0f);
  EXPECT_EQ(roundHalfEven(8388607.5f), 8388608.0f);
  EXPECT_EQ(roundHalfEven(16777216.0f), 16777216.0f);
  EXPECT_TRUE(std::isinf(roundHalfEven(INFINITY)));
  EXPECT_TRUE(std::isnan(roundHalfEven(NAN)));
}

// The result does not depend on the FP environment's rounding mode.
TEST(Quantize, RoundHalfEvenIgnoresRoundingMode) {
  const float samples[] = {0.5f, 1.5f, 2.5f, -2.5f, 3.7f, -3.7f, 1e6f + 0.5f};
  std::vector<float> expected;
  for (float s : samples)
    expected.push_back(roundHalfEven(s));
  for (int mode : {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO}) {
    std::fesetround(mode);
    for (size_t i = 0; i < std::size(samples); ++i)
      EXPECT_EQ(roundHalfEven(samples[i]), expected[i]) << mode;
  }
  std::fesetround(FE_TONEAREST);
}

// It agrees with std::nearbyint (round to nearest even mode) everywhere.
TEST(Quantize, RoundHalfEvenMatchesNearbyint) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-300.0f, 300.0f);
  for (int i = 0; i < 200000; ++i) {
    float v = uniform(rng);
    if (i % 3 == 0)
      v = std::floor(v) + 0.5f; // many exact ties
    ASSERT_EQ(roundHalfEven(v), std::nearbyint(v)) << v;
  }
}

// INT8: division by the scale, ties to even, saturation at -128 and 127.
TEST(Quantize, Int8SaturatesAndRoundsHalfEven) {
  EXPECT_EQ(quantizeInt8(0.25f, 0.5f), 0); // 0.5 -> 0
  EXPECT_EQ(quantizeInt8(0.75f, 0.5f), 2); // 1.5 -> 2
  EXPECT_EQ(quantizeInt8(1.25f, 0.5f), 2); // 2.5 -> 2
  EXPECT_EQ(quantizeInt8(-1.25f, 0.5f), -2);
  EXPECT_EQ(quantizeInt8(63.5f, 0.5f), 127);
  EXPECT_EQ(quantizeInt8(63.75f, 0.5f), 127); // 127.5 -> 128 -> 127
  EXPECT_EQ(quantizeInt8(-64.0f, 0.5f), -128);
  EXPECT_EQ(quantizeInt8(-64.25f, 0.5f), -128); // -128.5 -> -128
  EXPECT_EQ(quantizeInt8(-1e30f, 0.5f), -128);
  EXPECT_EQ(quantizeInt8(INFINITY, 1.0f), 127);
  EXPECT_EQ(quantizeInt8(-INFINITY, 1.0f), -128);
  EXPECT_EQ(quantizeInt8(NAN, 1.0f), 0);
  EXPECT_EQ(quantizeInt8(NAN, 1.0f, 5), 5);
  // Zero point added after rounding, then saturation.
  EXPECT_EQ(quantizeInt8(2.5f, 1.0f, 10), 12);
  EXPECT_EQ(quantizeInt8(120.0f, 1.0f, 10), 127);
}

// Division, not multiplication by the reciprocal: 8.25f / 1.1f is exactly
// 7.5 (a tie, to 8) while 8.25f * (1 / 1.1f) is 7.4999995 (to 7).
TEST(Quantize, DividesByTheScale) {
  float scale = 1.1f;
  ASSERT_EQ(8.25f / scale, 7.5f);
  ASSERT_LT(8.25f * (1.0f / scale), 7.5f);
  EXPECT_EQ(quantizeInt8(8.25f, scale), 8);
}

// INT4: [-8, 7].
TEST(Quantize, Int4SaturatesAndRoundsHalfEven) {
  EXPECT_EQ(quantizeInt4(7.0f, 1.0f), 7);
  EXPECT_EQ(quantizeInt4(7.5f, 1.0f), 7); // 8 saturates
  EXPECT_EQ(quantizeInt4(6.5f, 1.0f), 6);
  EXPECT_EQ(quantizeInt4(-8.0f, 1.0f), -8);
  EXPECT_EQ(quantizeInt4(-8.5f, 1.0f), -8);
  EXPECT_EQ(quantizeInt4(-100.0f, 1.0f), -8);
  EXPECT_EQ(quantizeInt4(-0.5f, 1.0f), 0);
  EXPECT_EQ(quantizeInt4(3.0f, 1.0f, 6), 7);
}

// Every code dequantizes and requantizes to itself, with and without zero
// point, for both widths.
TEST(Quantize, IntegerRoundTripIsExact) {
  for (IntFormat format : {IntFormat::Int8, IntFormat::Int4})
    for (int32_t zero : {0, -3, 5})
      for (float scale : {1.0f, 0.037f, 3.0e-5f, 250.0f})
        for (int32_t q = intMin(format); q <= intMax(format); ++q) {
          float x = dequantizeInt(q, scale, zero);
          EXPECT_EQ(quantizeInt(x, scale, zero, format), q)
              << "q " << q << " scale " << scale << " zero " << zero;
        }
}

// Quantize then dequantize is within half a step inside the range.
TEST(Quantize, DequantizedErrorIsAtMostHalfAStep) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> row(4096);
  for (float &v : row)
    v = normal(rng);
  float scale = symmetricScale(absMax(row.data(), row.size()), kInt8QMax);
  for (float v : row) {
    float back = dequantizeInt(quantizeInt8(v, scale), scale);
    EXPECT_LE(std::fabs(back - v), 0.5f * scale * (1 + 1e-6f)) << v;
  }
}

// amax / qmax, 1 for an all-zero input; NaNs do not poison amax.
TEST(Quantize, SymmetricScale) {
  EXPECT_EQ(symmetricScale(0.0f, kInt8QMax), 1.0f);
  EXPECT_EQ(symmetricScale(254.0f, kInt8QMax), 2.0f);
  EXPECT_EQ(symmetricScale(14.0f, kInt4QMax), 2.0f);
  EXPECT_EQ(symmetricScale(896.0f, kE4M3Max), 2.0f);
  const float values[] = {1.0f, -7.5f, NAN, 3.0f};
  EXPECT_EQ(absMax(values, 4), 7.5f);
  EXPECT_EQ(absMax(values, 0), 0.0f);
}

// Asymmetric parameters cover [min, max] (widened to 0) with min -> qmin.
TEST(Quantize, AsymmetricParams) {
  AsymmetricParams p = asymmetricParams(-1.0f, 14.0f, IntFormat::Int4);
  EXPECT_EQ(p.scale, 1.0f);
  EXPECT_EQ(p.zeroPoint, -7); // -8 - round(-1 / 1)
  EXPECT_EQ(quantizeInt(-1.0f, p.scale, p.zeroPoint, IntFormat::Int4), -8);
  EXPECT_EQ(quantizeInt(14.0f, p.scale, p.zeroPoint, IntFormat::Int4), 7);
  EXPECT_EQ(quantizeInt(0.0f, p.scale, p.zeroPoint, IntFormat::Int4), -7);
  AsymmetricParams positive = asymmetricParams(2.0f, 5.1f, IntFormat::Int8);
  EXPECT_EQ(positive.zeroPoint, -128); // range widened to [0, 5.1]
  EXPECT_FLOAT_EQ(positive.scale, 5.1f / 255.0f);
  AsymmetricParams empty = asymmetricParams(0.0f, 0.0f, IntFormat::Int8);
  EXPECT_EQ(empty.scale, 1.0f);
  EXPECT_EQ(empty.zeroPoint, 0);
}

// Two per byte, even index in the low nibble; sign extension on unpack.
TEST(Quantize, Int4PackingLayout) {
  const int8_t values[] = {1, -2, 7, -8, 0, -1, 5};
  uint8_t packed[4] = {0xaa, 0xaa, 0xaa, 0xaa};
  packInt4(values, 7, packed);
  EXPECT_EQ(packed[0], 0xe1); // low 1, high -2 (0xe)
  EXPECT_EQ(packed[1], 0x87); // low 7, high -8 (0x8)
  EXPECT_EQ(packed[2], 0xf0); // low 0, high -1
  EXPECT_EQ(packed[3], 0x05); // odd count: high nibble 0
  int8_t unpacked[7];
  unpackInt4(packed, 7, unpacked);
  for (int i = 0; i < 7; ++i)
    EXPECT_EQ(unpacked[i], values[i]) << i;
  // Every byte unpacks and repacks to itself.
  for (int byte = 0; byte < 256; ++byte) {
    uint8_t b = static_cast<uint8_t>(byte);
    int8_t pair[2];
    unpackInt4(&b, 2, pair);
    EXPECT_GE(pair[0], -8);
    EXPECT_LE(pair[1], 7);
    EXPECT_EQ(packInt4Pair(pair[0], pair[1]), b);
  }
}

// Group-wise weight quantization: per-group scales, packed int4, zero points.
TEST(Quantize, WeightGroupwiseInt4Asymmetric) {
  const int64_t rows = 2, cols = 8, group = 4;
  std::vector<float> w = {0.0f,  1.0f, 2.0f, 15.0f, -1.0f, -1.0f, 0.5f, 0.25f,
                          -3.0f, 3.0f, 1.5f, 0.0f,  0.0f,  0.0f,  0.0f, 0.0f};
  std::vector<uint8_t> codes(rows * cols / 2);
  std::vector<float> scales(rows * cols / group);
  std::vector<int8_t> zeros(scales.size());
  quantizeWeightGroupwise(w.data(), rows, cols, group, IntFormat::Int4,
                          codes.data(), scales.data(), zeros.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      int64_t g = r * (cols / group) + c / group;
      AsymmetricParams p;
      float lo = 0, hi = 0;
      for (int64_t i = 0; i < group; ++i) {
        lo = std::fmin(lo, w[r * cols + c / group * group + i]);
        hi = std::fmax(hi, w[r * cols + c / group * group + i]);
      }
      p = asymmetricParams(lo, hi, IntFormat::Int4);
      EXPECT_EQ(scales[g], p.scale);
      EXPECT_EQ(zeros[g], p.zeroPoint);
      int8_t q = unpackInt4(codes.data(), r * cols + c);
      EXPECT_EQ(q, quantizeInt(w[r * cols + c], p.scale, p.zeroPoint,
                               IntFormat::Int4));
      EXPECT_LE(
          std::fabs(dequantizeInt(q, p.scale, p.zeroPoint) - w[r * cols + c]),
          0.5f * p.scale + 1e-6f);
    }
  EXPECT_EQ(scales[3], 1.0f); // all-zero group
}

// Symmetric int8 per-channel (group = cols) and FP8 per-channel weights.
TEST(Quantize, WeightPerChannelInt8AndFp8) {
  std::vector<float> w = {0.5f, -127.0f, 3.0f, 0.0f, 0.0f, 0.0f};
  std::vector<int8_t> codes(6);
  std::vector<float> scales(2);
  quantizeWeightGroupwise(w.data(), 2, 3, 3, IntFormat::Int8, codes.data(),
                          scales.data(), nullptr);
  EXPECT_EQ(scales[0], 1.0f);
  EXPECT_EQ(scales[1], 1.0f); // all zero
  EXPECT_EQ(codes[0], 0);     // 0.5 ties to 0
  EXPECT_EQ(codes[1], -127);
  EXPECT_EQ(codes[2], 3);
  std::vector<uint8_t> fp8(6);
  quantizeWeightFp8PerChannel(w.data(), 2, 3, Fp8Format::E4M3FN, fp8.data(),
                              scales.data());
  EXPECT_EQ(scales[0], 127.0f / 448.0f);
  EXPECT_EQ(fp8[1], floatToFp8Saturate(-127.0f / scales[0], Fp8Format::E4M3FN));
  EXPECT_EQ(fp8ToFloat(fp8[1], Fp8Format::E4M3FN), -448.0f);
  EXPECT_EQ(quantizeFp8(1e9f, 1.0f, Fp8Format::E4M3FN), 0x7e); // satfinite
  EXPECT_EQ(dequantizeFp8(0x7e, 2.0f, Fp8Format::E4M3FN), 896.0f);
}

} // namespace
