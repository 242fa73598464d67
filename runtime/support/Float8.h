//===- Float8.h - OCP FP8 (E4M3FN, E5M2) conversions and saturation -------===//
//
// The one implementation of FP8 rounding in llmc: the compiler quantizes
// weights with it and the CPU backend emulates FP8 GEMMs and the KV cache
// with it, so both agree bit for bit. Conversions from f32 round to nearest
// even like ml_dtypes (checked over every f32 bit pattern); the `Saturate`
// variants first clamp to the largest finite value (±448 E4M3FN, ±57344
// E5M2), as the hardware's `cvt.rn.satfinite` does. Header-only, plain C++17.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SUPPORT_FLOAT8_H
#define LLMC_RUNTIME_SUPPORT_FLOAT8_H

#include <cstdint>
#include <cstring>

namespace llmc::numeric {

enum class Fp8Format { E4M3FN, E5M2 };

/// Largest finite magnitude of each format.
constexpr float kE4M3Max = 448.0f;
constexpr float kE5M2Max = 57344.0f;

constexpr float fp8Max(Fp8Format format) {
  return format == Fp8Format::E4M3FN ? kE4M3Max : kE5M2Max;
}

namespace detail {

struct Fp8Layout {
  int mantissaBits;
  int bias;
  /// Code of the largest finite magnitude.
  uint8_t maxCode;
  /// Code an overflow becomes without saturation: NaN for E4M3FN (it has no
  /// infinity), +infinity for E5M2.
  uint8_t overflowCode;
  /// Code of a quiet NaN.
  uint8_t nanCode;
};

constexpr Fp8Layout layoutOf(Fp8Format format) {
  return format == Fp8Format::E4M3FN ? Fp8Layout{3, 7, 0x7e, 0x7f, 0x7f}
                                     : Fp8Layout{2, 15, 0x7b, 0x7c, 0x7e};
}

inline uint32_t bitsOf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

inline float floatOf(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

} // namespace detail

/// f32 to FP8, round to nearest even. Without `saturate`, magnitudes that
/// round past the largest finite value (and infinities) become NaN in E4M3FN
/// and infinity in E5M2; with it they become the largest finite value. NaN
/// stays NaN (sign kept) either way.
inline uint8_t floatToFp8(float value, Fp8Format format, bool saturate) {
  const detail::Fp8Layout layout = detail::layoutOf(format);
  uint32_t bits = detail::bitsOf(value);
  uint8_t sign = static_cast<uint8_t>((bits >> 24) & 0x80);
  uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u)
    return sign | layout.nanCode;
  if (magnitude == 0x7f800000u)
    return sign | (saturate ? layout.maxCode : layout.overflowCode);

  int exponent = static_cast<int>(magnitude >> 23) - 127;
  int minNormalExponent = 1 - layout.bias;
  uint32_t code;
  if (exponent < minNormalExponent) {
    // Subnormal in FP8 (or zero): count units of the smallest subnormal,
    // 2^(minNormalExponent - mantissaBits), rounding half to even. The
    // magnitude is below 2^minNormalExponent, so the units fit in 24 bits.
    int shift = 23 - layout.mantissaBits + (minNormalExponent - exponent);
    uint32_t significand = magnitude == 0 ? 0 : ((magnitude & 0x7fffffu) |
                                                 (exponent > -127 ? 0x800000u
                                                                  : 0u));
    if (exponent == -127) // f32 subnormal: far below any FP8 subnormal
      return sign;
    if (shift > 31)
      return sign;
    uint32_t units = significand >> shift;
    uint32_t remainder = significand & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (remainder > half || (remainder == half && (units & 1)))
      ++units;
    // units == 2^mantissaBits is the smallest normal: the encoding is
    // continuous, so the count is the code.
    code = units;
  } else {
    // Round the f32 mantissa to `mantissaBits`, half to even; a carry moves
    // into the exponent as it should.
    int shift = 23 - layout.mantissaBits;
    uint32_t rounded =
        (magnitude + ((1u << (shift - 1)) - 1) + ((magnitude >> shift) & 1)) >>
        shift;
    uint32_t rebias = static_cast<uint32_t>(127 - layout.bias)
                      << layout.mantissaBits;
    code = rounded - rebias;
  }
  if (code > layout.maxCode)
    return sign | (saturate ? layout.maxCode : layout.overflowCode);
  return sign | static_cast<uint8_t>(code);
}

/// FP8 to f32, exact.
inline float fp8ToFloat(uint8_t code, Fp8Format format) {
  const detail::Fp8Layout layout = detail::layoutOf(format);
  uint32_t sign = static_cast<uint32_t>(code & 0x80) << 24;
  uint32_t magnitude = code & 0x7f;
  int exponentBits = 7 - layout.mantissaBits;
  uint32_t exponentField = magnitude >> layout.mantissaBits;
  uint32_t mantissa = magnitude & ((1u << layout.mantissaBits) - 1);
  if (format == Fp8Format::E4M3FN && magnitude == 0x7f)
    return detail::floatOf(sign | 0x7fc00000u);
  if (format == Fp8Format::E5M2 &&
      exponentField == (1u << exponentBits) - 1) // inf or NaN
    return detail::floatOf(sign | 0x7f800000u |
                           (mantissa ? 0x400000u | (mantissa << 21) : 0u));
  if (exponentField == 0) {
    // Subnormal: mantissa * 2^(1 - bias - mantissaBits), exact in f32.
    float value = static_cast<float>(mantissa) *
                  detail::floatOf(static_cast<uint32_t>(
                                      127 + 1 - layout.bias -
                                      layout.mantissaBits)
                                  << 23);
    return detail::floatOf(sign | detail::bitsOf(value));
  }
  uint32_t exponent = exponentField - layout.bias + 127;
  return detail::floatOf(sign | (exponent << 23) |
                         (mantissa << (23 - layout.mantissaBits)));
}

/// `cvt.rn.satfinite`: clamp to ±max, then round; NaN stays NaN.
inline uint8_t floatToFp8Saturate(float value, Fp8Format format) {
  return floatToFp8(value, format, /*saturate=*/true);
}

} // namespace llmc::numeric

#endif // LLMC_RUNTIME_SUPPORT_FLOAT8_H
