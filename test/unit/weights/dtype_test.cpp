// Unit tests of the scalar float conversions in compiler/weights/DType.h.
//
// Expected bit patterns are IEEE 754 binary16 / bfloat16 facts worked out by
// hand (largest finite value, halfway cases, subnormal boundaries), not
// outputs of the code under test.

#include "compiler/weights/DType.h"

#include <gtest/gtest.h>

#include <cmath>

namespace {

using namespace llmc::weights;

// f32 -> f16 rounds to nearest even at every boundary: overflow, subnormal
// range, ties.
TEST(DType, FloatToHalfRounding) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(floatToHalf(-2.0f), 0xC000);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(floatToHalf(65519.0f), 0x7BFF);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7C00); // halfway to 2^16: even is inf
  EXPECT_EQ(floatToHalf(INFINITY), 0x7C00);
  EXPECT_EQ(floatToHalf(-INFINITY), 0xFC00);
  EXPECT_EQ(floatToHalf(std::nanf("")) & 0x7E00, 0x7E00);
  EXPECT_EQ(floatToHalf(1.0f + 0x1p-11f), 0x3C00);     // tie, even below
  EXPECT_EQ(floatToHalf(1.0f + 3 * 0x1p-11f), 0x3C02); // tie, even above
  EXPECT_EQ(floatToHalf(0x1p-14f), 0x0400);            // smallest normal
  EXPECT_EQ(floatToHalf(0x1p-24f), 0x0001);            // smallest subnormal
  EXPECT_EQ(floatToHalf(0x1p-25f), 0x0000);            // tie to even zero
  EXPECT_EQ(floatToHalf(0x1.8p-25f), 0x0001);
  EXPECT_EQ(floatToHalf(3 * 0x1p-25f), 0x0002); // 1.5 ulp: tie to even 2
  EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
}

// Every non-NaN half survives f16 -> f32 -> f16 unchanged.
TEST(DType, HalfRoundTripsThroughFloat) {
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    if ((bits & 0x7C00) == 0x7C00 && (bits & 0x3FF))
      continue;
    ASSERT_EQ(floatToHalf(halfToFloat(static_cast<uint16_t>(bits))), bits);
  }
  EXPECT_EQ(halfToFloat(0x0001), 0x1p-24f);
  EXPECT_EQ(halfToFloat(0x7BFF), 65504.0f);
}

// f32 -> bf16 rounds to nearest even and keeps NaN a (quiet) NaN.
TEST(DType, FloatToBFloat16Rounding) {
  EXPECT_EQ(floatToBFloat16(1.0f), 0x3F80);
  EXPECT_EQ(floatToBFloat16(1.0f + 0x1p-8f), 0x3F80);     // tie, even below
  EXPECT_EQ(floatToBFloat16(1.0f + 3 * 0x1p-8f), 0x3F82); // tie, even above
  EXPECT_EQ(floatToBFloat16(INFINITY), 0x7F80);
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(floatToBFloat16(std::nanf("")))));
  EXPECT_EQ(bfloat16ToFloat(0x3F80), 1.0f);
}

// Storage sizes refuse partial blocks and overflow.
TEST(DType, StorageBytes) {
  EXPECT_EQ(getStorageBytes(DType::Q4_K, 512), 288u);
  EXPECT_EQ(getStorageBytes(DType::Q8_0, 64), 68u);
  EXPECT_EQ(getStorageBytes(DType::Q4_0, 48), std::nullopt);
  EXPECT_EQ(getStorageBytes(DType::F64, 1ull << 62), std::nullopt);
  EXPECT_EQ(parseSafetensorsDType("F8_E4M3"), DType::F8E4M3);
  EXPECT_EQ(parseSafetensorsDType("Q4_K"), std::nullopt);
  EXPECT_EQ(dtypeFromGgmlType(12), DType::Q4_K);
  EXPECT_EQ(dtypeFromGgmlType(16), std::nullopt);
  EXPECT_EQ(getGgmlTypeName(16), "IQ2_XXS");
}

} // namespace
