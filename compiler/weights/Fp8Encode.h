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

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
  uint32_t rounded = (magnitude + 0x7ffffu + ((magnitude >> 20) & 1u)) >> 20;
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
  code = code > 0x7eu ? 0x7eu : code;            // saturate (infinity too)
  code = magnitude > 0x7f800000u ? 0x7fu : code; // NaN
  return static_cast<uint8_t>(sign | code);
}

#if defined(__SSE2__)
namespace detail {
/// encodeFp8E4M3Saturate on four lanes; the codes stay in 32-bit lanes.
inline __m128i encodeFp8E4M3SaturateSse2(__m128 value) {
  const __m128i bits = _mm_castps_si128(value);
  const __m128i sign =
      _mm_and_si128(_mm_srli_epi32(bits, 24), _mm_set1_epi32(0x80));
  const __m128i magnitude = _mm_and_si128(bits, _mm_set1_epi32(0x7fffffff));
  __m128i rounded = _mm_add_epi32(magnitude, _mm_set1_epi32(0x7ffff));
  rounded = _mm_add_epi32(
      rounded, _mm_and_si128(_mm_srli_epi32(magnitude, 20), _mm_set1_epi32(1)));
  const __m128i normalCode =
      _mm_sub_epi32(_mm_srli_epi32(rounded, 20), _mm_set1_epi32(120 << 3));
  const __m128 shifted =
      _mm_add_ps(_mm_mul_ps(_mm_castsi128_ps(magnitude), _mm_set1_ps(512.0f)),
                 _mm_set1_ps(8388608.0f));
  const __m128i subnormalCode =
      _mm_sub_epi32(_mm_castps_si128(shifted), _mm_set1_epi32(0x4b000000));
  // Magnitudes are below 2^31, so the signed compares are the unsigned ones.
  const __m128i isSubnormal =
      _mm_cmplt_epi32(magnitude, _mm_set1_epi32(0x3c800000));
  __m128i code = _mm_or_si128(_mm_and_si128(isSubnormal, subnormalCode),
                              _mm_andnot_si128(isSubnormal, normalCode));
  const __m128i overflow = _mm_cmpgt_epi32(code, _mm_set1_epi32(0x7e));
  code = _mm_or_si128(_mm_and_si128(overflow, _mm_set1_epi32(0x7e)),
                      _mm_andnot_si128(overflow, code));
  const __m128i isNaN = _mm_cmpgt_epi32(magnitude, _mm_set1_epi32(0x7f800000));
  code = _mm_or_si128(_mm_and_si128(isNaN, _mm_set1_epi32(0x7f)),
                      _mm_andnot_si128(isNaN, code));
  return _mm_or_si128(code, sign);
}
} // namespace detail
#endif

/// out[i] = encodeFp8E4M3Saturate(x[i] / scale): a division, as the
/// quantization contract says, not a multiplication by 1 / scale. GCC 12
/// does not vectorize the scalar loop, hence SSE2 (x86-64's baseline).
inline void encodeFp8E4M3SaturateDivided(const float *x, float scale,
                                         uint8_t *out, uint64_t count) {
  uint64_t i = 0;
#if defined(__SSE2__)
  const __m128 divisor = _mm_set1_ps(scale);
  for (; i + 16 <= count; i += 16) {
    __m128i c0 = detail::encodeFp8E4M3SaturateSse2(
        _mm_div_ps(_mm_loadu_ps(x + i), divisor));
    __m128i c1 = detail::encodeFp8E4M3SaturateSse2(
        _mm_div_ps(_mm_loadu_ps(x + i + 4), divisor));
    __m128i c2 = detail::encodeFp8E4M3SaturateSse2(
        _mm_div_ps(_mm_loadu_ps(x + i + 8), divisor));
    __m128i c3 = detail::encodeFp8E4M3SaturateSse2(
        _mm_div_ps(_mm_loadu_ps(x + i + 12), divisor));
    // Codes are 0..255: the saturating packs keep them as they are.
    __m128i packed =
        _mm_packus_epi16(_mm_packs_epi32(c0, c1), _mm_packs_epi32(c2, c3));
    _mm_storeu_si128(reinterpret_cast<__m128i *>(out + i), packed);
  }
#endif
  for (; i < count; ++i)
    out[i] = encodeFp8E4M3Saturate(x[i] / scale);
}

/// lo = min(lo, x[i]) and hi = max(hi, x[i]) over the row, with std::min /
/// std::max semantics (a NaN never replaces the running value). The lanes
/// are combined out of order, which can only change the sign of a zero.
inline void accumulateMinMax(const float *x, uint64_t count, float &lo,
                             float &hi) {
  uint64_t i = 0;
#if defined(__SSE2__)
  if (count >= 8) {
    // minps(a, b) is a < b ? a : b, i.e. std::min(b, a).
    __m128 lo0 = _mm_set1_ps(lo), lo1 = lo0;
    __m128 hi0 = _mm_set1_ps(hi), hi1 = hi0;
    for (; i + 8 <= count; i += 8) {
      __m128 a = _mm_loadu_ps(x + i), b = _mm_loadu_ps(x + i + 4);
      lo0 = _mm_min_ps(a, lo0);
      lo1 = _mm_min_ps(b, lo1);
      hi0 = _mm_max_ps(a, hi0);
      hi1 = _mm_max_ps(b, hi1);
    }
    alignas(16) float los[8], his[8];
    _mm_store_ps(los, lo0);
    _mm_store_ps(los + 4, lo1);
    _mm_store_ps(his, hi0);
    _mm_store_ps(his + 4, hi1);
    for (int lane = 0; lane < 8; ++lane) {
      lo = los[lane] < lo ? los[lane] : lo;
      hi = hi < his[lane] ? his[lane] : hi;
    }
  }
#endif
  for (; i < count; ++i) {
    lo = x[i] < lo ? x[i] : lo;
    hi = hi < x[i] ? x[i] : hi;
  }
}

/// BF16 (little-endian) to f32: exact, the bits moved up by 16.
inline void decodeBFloat16(const uint8_t *src, float *dst, uint64_t count) {
  uint64_t i = 0;
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128();
  for (; i + 8 <= count; i += 8) {
    __m128i halves =
        _mm_loadu_si128(reinterpret_cast<const __m128i *>(src + 2 * i));
    _mm_storeu_ps(dst + i, _mm_castsi128_ps(_mm_unpacklo_epi16(zero, halves)));
    _mm_storeu_ps(dst + i + 4,
                  _mm_castsi128_ps(_mm_unpackhi_epi16(zero, halves)));
  }
#endif
  for (; i < count; ++i) {
    uint32_t bits = (uint32_t(src[2 * i]) | uint32_t(src[2 * i + 1]) << 8)
                    << 16;
    std::memcpy(dst + i, &bits, sizeof bits);
  }
}

} // namespace llmc::weights

#endif // LLMC_COMPILER_WEIGHTS_FP8ENCODE_H
