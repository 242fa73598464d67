//===- Fp8Encode.h - branchless f32 -> FP8 E4M3FN that compilers vectorize ===//
//
// numeric::floatToFp8Saturate (runtime/support/Float8.h) is the reference:
// it branches on NaN, infinity, subnormal and overflow, so a loop over it
// stays scalar. This is the same function written with selects only, so
// that quantizing a row becomes SIMD code; weights_fp8_encode_test checks
// that both agree on every f32 bit pattern of interest.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_WEIGHTS_FP8ENCODE_H
#define LLMC_COMPILER_WEIGHTS_FP8ENCODE_H

#include <cstdint>
#include <cstring>

namespace llmc::weights {

/// f32 to E4M3FN, round to nearest even, saturating to +-448; NaN gives
/// S.1111.111. Bitwise numeric::floatToFp8Saturate(value, E4M3FN).
inline uint8_t encodeFp8E4M3Saturate(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  uint32_t sign = (bits >> 24) & 0x80u;
  uint32_t magnitude = bits & 0x7fffffffu;
  // Normal: round the mantissa to 3 bits (half to even) and rebias 127 -> 7;
  // a carry moves into the exponent. Magnitudes >= 2^-6 never underflow the
  // subtraction.
  uint32_t rounded =
      (magnitude + 0x7ffffu + ((magnitude >> 20) & 1u)) >> 20;
  uint32_t normalCode = rounded - (120u << 3);
  // Subnormal (below 2^-6): the code counts units of 2^-9. x * 2^9 is exact
  // and below 8; adding 2^23 rounds it to an integer, half to even, in the
  // low mantissa bits (8 is the smallest normal's code, as it should be).
  float magnitudeValue;
  std::memcpy(&magnitudeValue, &magnitude, sizeof magnitudeValue);
  float shifted = magnitudeValue * 512.0f + 8388608.0f;
  uint32_t shiftedBits;
  std::memcpy(&shiftedBits, &shifted, sizeof shiftedBits);
  uint32_t subnormalCode = shiftedBits - 0x4b000000u;
  uint32_t code = magnitude < 0x3c800000u ? subnormalCode : normalCode;
  code = code > 0x7eu ? 0x7eu : code;          // saturate (infinity too)
  code = magnitude > 0x7f800000u ? 0x7fu : code; // NaN
  return static_cast<uint8_t>(sign | code);
}

/// out[i] = encodeFp8E4M3Saturate(x[i] / scale): a division, as the
/// quantization contract says, not a multiplication by 1 / scale.
inline void encodeFp8E4M3SaturateDivided(const float *x, float scale,
                                         uint8_t *out, uint64_t count) {
  for (uint64_t i = 0; i < count; ++i)
    out[i] = encodeFp8E4M3Saturate(x[i] / scale);
}

} // namespace llmc::weights

#endif // LLMC_COMPILER_WEIGHTS_FP8ENCODE_H
