//===- Quantize.h - integer quantization, int4 packing and scale rules ----===//
//
// The one implementation of llmc's integer quantization arithmetic, shared by
// the compiler (weight quantization) and the runtime (activation quantize
// steps, the quantized KV cache, weight-only GEMMs), so both produce the
// same codes bit for bit (docs/quantization.md, the plan contract):
//   q = saturate(round_half_even(x / scale) + zero)     (division, not x * 1/s)
//   x' = (q - zero) * scale
// with saturation to [-128, 127] (i8) or [-8, 7] (i4). Rounding is done with
// integer-exact float arithmetic, so it does not depend on the floating-point
// environment's rounding mode. FP8 codes come from Float8.h. Header-only,
// plain C++17.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SUPPORT_QUANTIZE_H
#define LLMC_RUNTIME_SUPPORT_QUANTIZE_H

#include "runtime/support/Float8.h"

#include <cmath>
#include <cstdint>

namespace llmc::numeric {

enum class IntFormat { Int8, Int4 };

constexpr int32_t intMin(IntFormat format) {
  return format == IntFormat::Int8 ? -128 : -8;
}
constexpr int32_t intMax(IntFormat format) {
  return format == IntFormat::Int8 ? 127 : 7;
}

/// The qmax of symmetric scales: scale = amax / qmax.
constexpr float kInt8QMax = 127.0f;
constexpr float kInt4QMax = 7.0f;
constexpr float symmetricQMax(IntFormat format) {
  return format == IntFormat::Int8 ? kInt8QMax : kInt4QMax;
}

/// Rounds to the nearest integer, ties to even, whatever the current
/// rounding mode. Infinities and NaN come back unchanged.
inline float roundHalfEven(float value) {
  // From 2^23 up every float is an integer; below, value - floor(value) is
  // exact, so the comparison with 0.5 decides the rounding exactly.
  if (!(std::fabs(value) < 8388608.0f))
    return value;
  float lower = std::floor(value);
  float fraction = value - lower;
  if (fraction > 0.5f)
    return lower + 1.0f;
  if (fraction < 0.5f)
    return lower;
  // |lower| < 2^23, so it converts to int32 exactly.
  return (static_cast<int32_t>(lower) & 1) == 0 ? lower : lower + 1.0f;
}

/// Clamps an integer-valued float to [lo, hi]; NaN becomes 0.
inline int32_t saturateToInt(float value, int32_t lo, int32_t hi) {
  if (std::isnan(value))
    return 0;
  if (value <= static_cast<float>(lo))
    return lo;
  if (value >= static_cast<float>(hi))
    return hi;
  return static_cast<int32_t>(value);
}

/// q = saturate(round_half_even(value / scale) + zeroPoint). A NaN input
/// quantizes to the zero point (0 when symmetric); +-inf saturate.
inline int32_t quantizeInt(float value, float scale, int32_t zeroPoint,
                           IntFormat format) {
  float scaled = roundHalfEven(value / scale);
  if (std::isnan(scaled))
    return saturateToInt(static_cast<float>(zeroPoint), intMin(format),
                         intMax(format));
  // The zero point is added after rounding (it is an integer), in float so
  // that huge magnitudes saturate instead of overflowing an int.
  return saturateToInt(scaled + static_cast<float>(zeroPoint), intMin(format),
                       intMax(format));
}

inline int8_t quantizeInt8(float value, float scale, int32_t zeroPoint = 0) {
  return static_cast<int8_t>(
      quantizeInt(value, scale, zeroPoint, IntFormat::Int8));
}
inline int8_t quantizeInt4(float value, float scale, int32_t zeroPoint = 0) {
  return static_cast<int8_t>(
      quantizeInt(value, scale, zeroPoint, IntFormat::Int4));
}

/// x' = (q - zeroPoint) * scale; q - zeroPoint is exact in f32.
inline float dequantizeInt(int32_t q, float scale, int32_t zeroPoint = 0) {
  return static_cast<float>(q - zeroPoint) * scale;
}

/// The FP8 code of value / scale, saturating to the format's largest finite
/// value (`cvt.rn.satfinite`, as the plan contract's quantize step says).
inline uint8_t quantizeFp8(float value, float scale, Fp8Format format) {
  return floatToFp8Saturate(value / scale, format);
}

inline float dequantizeFp8(uint8_t code, float scale, Fp8Format format) {
  return fp8ToFloat(code, format) * scale;
}

//===----------------------------------------------------------------------===//
// Scales
//===----------------------------------------------------------------------===//

/// max |values[i]|, ignoring NaNs (0 for an empty or all-NaN range).
inline float absMax(const float *values, int64_t count) {
  float amax = 0.0f;
  for (int64_t i = 0; i < count; ++i) {
    float magnitude = std::fabs(values[i]);
    if (magnitude > amax)
      amax = magnitude;
  }
  return amax;
}

/// The symmetric scale amax / qmax, or 1 when amax is 0 (an all-zero row
/// must still dequantize to zeros without a division by zero).
inline float symmetricScale(float amax, float qmax) {
  return amax == 0.0f ? 1.0f : amax / qmax;
}

/// An asymmetric (min/max) scale and zero point for values in [minValue,
/// maxValue]. The range is widened to include 0 so that 0 is exactly
/// representable (padding, ReLU zeros); scale = (max - min) / (qmax - qmin)
/// (1 when the range is empty) and zero = saturate(qmin -
/// round_half_even(min / scale)).
struct AsymmetricParams {
  float scale = 1.0f;
  int32_t zeroPoint = 0;
};
inline AsymmetricParams asymmetricParams(float minValue, float maxValue,
                                         IntFormat format) {
  minValue = std::fmin(minValue, 0.0f);
  maxValue = std::fmax(maxValue, 0.0f);
  AsymmetricParams params;
  float range = maxValue - minValue;
  if (range == 0.0f)
    return params;
  const int32_t lo = intMin(format), hi = intMax(format);
  params.scale = range / static_cast<float>(hi - lo);
  params.zeroPoint = saturateToInt(
      static_cast<float>(lo) - roundHalfEven(minValue / params.scale), lo, hi);
  return params;
}

//===----------------------------------------------------------------------===//
// INT4 packing: two per byte, element 2i in the low nibble, 2i+1 in the high
//===----------------------------------------------------------------------===//

inline uint8_t packInt4Pair(int32_t even, int32_t odd) {
  return static_cast<uint8_t>((static_cast<uint32_t>(even) & 0xfu) |
                              ((static_cast<uint32_t>(odd) & 0xfu) << 4));
}

/// Element `index` of a packed int4 array, sign-extended.
inline int8_t unpackInt4(const uint8_t *packed, int64_t index) {
  uint8_t byte = packed[index >> 1];
  uint8_t nibble = (index & 1) ? (byte >> 4) : (byte & 0xfu);
  return static_cast<int8_t>(static_cast<int8_t>(nibble << 4) >> 4);
}

/// Packs `count` values (each in [-8, 7]) into (count + 1) / 2 bytes; an odd
/// count leaves the last high nibble 0.
inline void packInt4(const int8_t *values, int64_t count, uint8_t *packed) {
  for (int64_t i = 0; i + 1 < count; i += 2)
    packed[i / 2] = packInt4Pair(values[i], values[i + 1]);
  if (count & 1)
    packed[count / 2] = packInt4Pair(values[count - 1], 0);
}

inline void unpackInt4(const uint8_t *packed, int64_t count, int8_t *values) {
  for (int64_t i = 0; i < count; ++i)
    values[i] = unpackInt4(packed, i);
}

//===----------------------------------------------------------------------===//
// Weight quantization (what the compiler's weight transforms call)
//===----------------------------------------------------------------------===//

/// Quantizes a row-major [rows, cols] f32 weight in groups of `groupSize`
/// columns (groupSize == cols: per output channel), the plan contract's
/// weight layout: codes [rows, cols] (int8: one per byte; int4: packed, so
/// cols must be even), scales [rows, cols / groupSize] f32 and, when
/// `zeroPoints` is non-null, asymmetric zero points of the scales' shape
/// (i8). Symmetric scales are amax / qmax (127 or 7). cols must be a
/// multiple of groupSize.
inline void quantizeWeightGroupwise(const float *weight, int64_t rows,
                                    int64_t cols, int64_t groupSize,
                                    IntFormat format, void *codes,
                                    float *scales, int8_t *zeroPoints) {
  const int64_t groups = cols / groupSize;
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = weight + r * cols;
    for (int64_t g = 0; g < groups; ++g) {
      const float *group = row + g * groupSize;
      float scale;
      int32_t zero = 0;
      if (zeroPoints) {
        float lo = 0.0f, hi = 0.0f;
        for (int64_t i = 0; i < groupSize; ++i) {
          lo = std::fmin(lo, group[i]);
          hi = std::fmax(hi, group[i]);
        }
        AsymmetricParams params = asymmetricParams(lo, hi, format);
        scale = params.scale;
        zero = params.zeroPoint;
        zeroPoints[r * groups + g] = static_cast<int8_t>(zero);
      } else {
        scale = symmetricScale(absMax(group, groupSize), symmetricQMax(format));
      }
      scales[r * groups + g] = scale;
      for (int64_t i = 0; i < groupSize; ++i) {
        int64_t column = g * groupSize + i;
        int32_t q = quantizeInt(group[i], scale, zero, format);
        if (format == IntFormat::Int8) {
          static_cast<int8_t *>(codes)[r * cols + column] =
              static_cast<int8_t>(q);
        } else {
          uint8_t &byte =
              static_cast<uint8_t *>(codes)[(r * cols + column) / 2];
          uint8_t nibble = static_cast<uint8_t>(q) & 0xfu;
          byte = (column & 1)
                     ? static_cast<uint8_t>((byte & 0x0fu) | (nibble << 4))
                     : static_cast<uint8_t>((byte & 0xf0u) | nibble);
        }
      }
    }
  }
}

/// Quantizes a row-major [rows, cols] f32 weight to FP8 with one scale per
/// row (amax / fp8 max, 1 for an all-zero row): codes [rows, cols], scales
/// [rows].
inline void quantizeWeightFp8PerChannel(const float *weight, int64_t rows,
                                        int64_t cols, Fp8Format format,
                                        uint8_t *codes, float *scales) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = weight + r * cols;
    float scale = symmetricScale(absMax(row, cols), fp8Max(format));
    scales[r] = scale;
    for (int64_t c = 0; c < cols; ++c)
      codes[r * cols + c] = quantizeFp8(row[c], scale, format);
  }
}

} // namespace llmc::numeric

#endif // LLMC_RUNTIME_SUPPORT_QUANTIZE_H
