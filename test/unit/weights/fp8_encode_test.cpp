// Unit tests of the vectorized FP8 quantization helpers in
// compiler/weights/Fp8Encode.h against the reference scalar conversion,
// numeric::floatToFp8Saturate (runtime/support/Float8.h, itself checked
// against ml_dtypes over every f32 bit pattern), and of the hand-derived
// E4M3FN codes below (1.0 = 0.0111.000, 448 = 0.1111.110, 2^-9 = 0.0000.001).

#include "compiler/weights/DType.h"
#include "compiler/weights/Fp8Encode.h"

#include "runtime/support/Float8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace {

using namespace llmc::weights;
using llmc::numeric::floatToFp8Saturate;
using llmc::numeric::Fp8Format;

float floatOf(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

uint8_t reference(float value) {
  return floatToFp8Saturate(value, Fp8Format::E4M3FN);
}

/// Encodes `values` / `scale` with the vector path (and its scalar tail) and
/// counts the codes that differ from the reference, reporting the first.
::testing::AssertionResult sameAsReference(const std::vector<float> &values,
                                           float scale) {
  std::vector<uint8_t> fast(values.size());
  encodeFp8E4M3SaturateDivided(values.data(), scale, fast.data(),
                               values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    uint8_t expected = reference(values[i] / scale);
    if (fast[i] != expected) {
      uint32_t bits;
      std::memcpy(&bits, &values[i], sizeof bits);
      return ::testing::AssertionFailure()
             << "value bits 0x" << std::hex << bits << " / " << scale
             << ": fast 0x" << int(fast[i]) << ", reference 0x"
             << int(expected);
    }
    if (encodeFp8E4M3Saturate(values[i] / scale) != expected)
      return ::testing::AssertionFailure()
             << "scalar twin differs at index " << i;
  }
  return ::testing::AssertionSuccess();
}

/// Every f32 bit pattern in [first, last), in batches, through the vector
/// path with scale 1 (division by 1 is exact, NaNs included).
::testing::AssertionResult sameOverBitRange(uint32_t first, uint32_t last,
                                            uint32_t stride = 1) {
  std::vector<float> batch;
  batch.reserve(1 << 16);
  for (uint64_t bits = first; bits < last; bits += stride) {
    batch.push_back(floatOf(static_cast<uint32_t>(bits)));
    if (batch.size() == batch.capacity() || bits + stride >= last) {
      if (auto result = sameAsReference(batch, 1.0f); !result)
        return result;
      batch.clear();
    }
  }
  return ::testing::AssertionSuccess();
}

// Hand-derived codes: normals, the largest finite value, ties to even at the
// top (464 lies halfway between 448 and the NaN code: even keeps 448) and in
// the subnormal range, infinities saturating, NaN with its sign.
TEST(WeightsFp8Encode, HandDerivedCodes) {
  EXPECT_EQ(encodeFp8E4M3Saturate(1.0f), 0x38);
  EXPECT_EQ(encodeFp8E4M3Saturate(-1.0f), 0xB8);
  EXPECT_EQ(encodeFp8E4M3Saturate(448.0f), 0x7E);
  EXPECT_EQ(encodeFp8E4M3Saturate(464.0f), 0x7E);
  EXPECT_EQ(encodeFp8E4M3Saturate(1e6f), 0x7E);
  EXPECT_EQ(encodeFp8E4M3Saturate(INFINITY), 0x7E);
  EXPECT_EQ(encodeFp8E4M3Saturate(-INFINITY), 0xFE);
  EXPECT_EQ(encodeFp8E4M3Saturate(std::nanf("")), 0x7F);
  EXPECT_EQ(encodeFp8E4M3Saturate(-std::nanf("")), 0xFF);
  EXPECT_EQ(encodeFp8E4M3Saturate(0x1p-6f), 0x08);        // smallest normal
  EXPECT_EQ(encodeFp8E4M3Saturate(0x1p-9f), 0x01);        // smallest subnormal
  EXPECT_EQ(encodeFp8E4M3Saturate(0x1p-10f), 0x00);       // tie: even is 0
  EXPECT_EQ(encodeFp8E4M3Saturate(3 * 0x1p-10f), 0x02);   // tie: even is 2
  EXPECT_EQ(encodeFp8E4M3Saturate(15 * 0x1p-10f), 0x08);  // tie into normal
  EXPECT_EQ(encodeFp8E4M3Saturate(1.0f + 0x1p-4f), 0x38); // tie: even below
  EXPECT_EQ(encodeFp8E4M3Saturate(1.0f + 3 * 0x1p-4f), 0x3A); // even above
  EXPECT_EQ(encodeFp8E4M3Saturate(-0.0f), 0x80);
  EXPECT_EQ(encodeFp8E4M3Saturate(1e-45f), 0x00); // f32 subnormal
}

// Every magnitude from f32 subnormals through the whole E4M3 range to 2^9,
// both signs: all ties, the subnormal/normal boundary and saturation.
TEST(WeightsFp8Encode, EqualsReferenceOverE4M3Range) {
  EXPECT_TRUE(sameOverBitRange(0x00000000u, 0x00010000u));
  EXPECT_TRUE(sameOverBitRange(0x3A000000u, 0x44400000u));
  EXPECT_TRUE(sameOverBitRange(0xBA000000u, 0xC4400000u));
}

// A sweep over every exponent (including infinities and NaN payloads) with a
// stride prime to the mantissa.
TEST(WeightsFp8Encode, EqualsReferenceOverAllExponents) {
  EXPECT_TRUE(sameOverBitRange(0u, 0xFFFFFFFFu, 4099));
  EXPECT_TRUE(sameOverBitRange(0x7F800000u, 0x7F810000u)); // inf, NaNs
  EXPECT_TRUE(sameOverBitRange(0xFF800000u, 0xFF810000u));
}

// The division happens before the encoding, exactly as x / scale does, for
// scales that make the quotient inexact; odd lengths exercise the tail.
TEST(WeightsFp8Encode, DividesLikeScalarCode) {
  std::vector<float> values;
  uint32_t state = 12345;
  for (int i = 0; i < 100003; ++i) {
    state = state * 1664525u + 1013904223u;
    values.push_back((static_cast<int32_t>(state) >> 8) * 0x1p-15f);
  }
  values.push_back(NAN);
  values.push_back(-INFINITY);
  for (float scale : {0.37f, 1.0f / 448.0f, 3.0f, 0x1p-20f, 1e-30f})
    EXPECT_TRUE(sameAsReference(values, scale)) << "scale " << scale;
}

// min/max with std::min/std::max semantics: NaNs never win, zero start.
TEST(WeightsFp8Encode, MinMaxMatchesStdMinMax) {
  std::vector<float> values;
  uint32_t state = 99;
  for (int i = 0; i < 1037; ++i) {
    state = state * 1664525u + 1013904223u;
    values.push_back((static_cast<int32_t>(state) >> 8) * 0x1p-10f);
  }
  values[5] = NAN;
  values[700] = -NAN;
  for (size_t count : {size_t(0), size_t(3), size_t(8), size_t(1037)}) {
    float lo = 0.0f, hi = 0.0f, expectedLo = 0.0f, expectedHi = 0.0f;
    accumulateMinMax(values.data(), count, lo, hi);
    for (size_t i = 0; i < count; ++i) {
      expectedLo = std::min(expectedLo, values[i]);
      expectedHi = std::max(expectedHi, values[i]);
    }
    EXPECT_EQ(lo, expectedLo) << count;
    EXPECT_EQ(hi, expectedHi) << count;
  }
}

// BF16 decoding is bitwise bfloat16ToFloat for every one of the 65536 codes.
TEST(WeightsFp8Encode, DecodeBFloat16MatchesScalar) {
  std::vector<uint8_t> bytes;
  for (uint32_t code = 0; code < 65536; ++code) {
    bytes.push_back(code & 0xFF);
    bytes.push_back(code >> 8);
  }
  std::vector<float> decoded(65536);
  decodeBFloat16(bytes.data(), decoded.data(), decoded.size());
  for (uint32_t code = 0; code < 65536; ++code) {
    float expected = bfloat16ToFloat(static_cast<uint16_t>(code));
    ASSERT_EQ(std::memcmp(&decoded[code], &expected, 4), 0) << code;
  }
}

} // namespace
