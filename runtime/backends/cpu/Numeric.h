//===- Numeric.h - storage element types and portable f16/bf16 conversions ===//
//
// The CPU backend computes and accumulates in f32; tensors may be stored as
// f32, f16 or bf16. These conversions are the portable reference: kernels with
// F16C/AVX-512 paths must agree with them bit for bit. Header-only so that the
// KV cache can use them without linking the backend.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_BACKENDS_CPU_NUMERIC_H
#define LLMC_RUNTIME_BACKENDS_CPU_NUMERIC_H

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace llmc::cpu {

/// How a tensor's elements are stored.
enum class DType : uint8_t { F32, F16, BF16 };

inline size_t dtypeBytes(DType dtype) { return dtype == DType::F32 ? 4 : 2; }

inline const char *dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "f32";
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  }
  return "?";
}

inline uint32_t floatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

inline float bitsToFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

/// bf16 is the top half of an f32, so widening is exact.
inline float bf16ToF32(uint16_t value) {
  return bitsToFloat(static_cast<uint32_t>(value) << 16);
}

/// Round to nearest even, as PyTorch and the AVX-512 BF16 instructions do; a
/// NaN stays a (quiet) NaN instead of rounding into an infinity.
inline uint16_t f32ToBf16(float value) {
  uint32_t bits = floatBits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

/// IEEE binary16 to f32, exact (subnormals included).
inline float f16ToF32(uint16_t value) {
  uint32_t sign = static_cast<uint32_t>(value & 0x8000u) << 16;
  uint32_t exponent = (value >> 10) & 0x1fu;
  uint32_t mantissa = value & 0x3ffu;
  if (exponent == 0x1f) // inf, or NaN made quiet as F16C's VCVTPH2PS does
    return bitsToFloat(sign | 0x7f800000u | (mantissa << 13) |
                       (mantissa ? 0x00400000u : 0u));
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in f32.
    float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign ? -magnitude : magnitude;
  }
  return bitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

/// f32 to IEEE binary16 with round to nearest even; overflow gives an
/// infinity, like F16C's VCVTPS2PH with rounding mode 0.
inline uint16_t f32ToF16(float value) {
  uint32_t bits = floatBits(value);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) // inf or NaN
    return sign | (magnitude > 0x7f800000u ? 0x7e00u : 0x7c00u);
  if (magnitude >= 0x477ff000u) // rounds to >= 65520: overflow
    return sign | 0x7c00u;
  if (magnitude < 0x38800000u) {
    // Result is subnormal (or zero): scale so that the f32 adder rounds
    // to the 2^-24 grid with round-to-nearest-even.
    float scaled = bitsToFloat(magnitude) + 0.5f; // 0.5 = 2^-1: ulp 2^-24
    return sign | static_cast<uint16_t>(floatBits(scaled) - 0x3f000000u);
  }
  uint32_t rounded = magnitude + 0xfffu + ((magnitude >> 13) & 1u);
  return sign | static_cast<uint16_t>((rounded - 0x38000000u) >> 13);
}

/// Element `index` of a buffer of `dtype`, widened to f32.
inline float loadAsF32(const void *data, DType dtype, int64_t index) {
  switch (dtype) {
  case DType::F32:
    return static_cast<const float *>(data)[index];
  case DType::F16:
    return f16ToF32(static_cast<const uint16_t *>(data)[index]);
  case DType::BF16:
    return bf16ToF32(static_cast<const uint16_t *>(data)[index]);
  }
  return 0.0f;
}

/// Stores f32 `value` as element `index` of a buffer of `dtype`, rounding to
/// nearest even.
inline void storeFromF32(void *data, DType dtype, int64_t index, float value) {
  switch (dtype) {
  case DType::F32:
    static_cast<float *>(data)[index] = value;
    return;
  case DType::F16:
    static_cast<uint16_t *>(data)[index] = f32ToF16(value);
    return;
  case DType::BF16:
    static_cast<uint16_t *>(data)[index] = f32ToBf16(value);
    return;
  }
}

} // namespace llmc::cpu

#endif // LLMC_RUNTIME_BACKENDS_CPU_NUMERIC_H
