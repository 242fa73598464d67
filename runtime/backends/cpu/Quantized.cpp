//===- Quantized.cpp - W8A8 and weight-only GEMMs, quantize, dequantize ---===//
//
// INT8 x INT8 is computed exactly in int32, so every ISA path returns the
// scalar reference's bits:
//  - AVX-512 VNNI: VPDPBUSD multiplies unsigned by signed bytes. The
//    activation is made unsigned by flipping its sign bit (a + 128, a XOR
//    0x80) and the excess 128 * sum(b) is taken back out with a second
//    VPDPBUSD of the weight against ones. VPDPBUSD does not saturate (it
//    wraps mod 2^32) and the correction is applied mod 2^32 too, so the
//    result is exact whenever the true dot fits int32 (K <=
//    kMaxExactInt8Depth).
//  - AVX-512BW and AVX2: both operands are sign-extended to int16 and
//    multiplied with VPMADDWD (pairs summed into int32: |sum| <= 2 * 2^14,
//    no overflow). VPMADDUBSW with the sign trick was avoided on purpose:
//    its int16 pair sums saturate (2 * 255 * 128 > 32767, and -128 has no
//    positive counterpart for the sign transfer), which is not exact.
//  - portable: an int32 loop.
// FP8 and weight-only GEMMs decode the weight to f32 a block at a time
// (DecodedLinear.h) and run the f32 micro-kernels of Linear.cpp; for one
// activation row on AVX2/AVX-512 the decode is fused into the GEMV instead
// (in registers, no scratch). FP8 codes decode through a 256-entry table, or
// exactly through F16C in the vector paths.
//
//===----------------------------------------------------------------------===//

#include "runtime/backends/cpu/CpuFeatures.h"
#include "runtime/backends/cpu/DecodedLinear.h"
#include "runtime/backends/cpu/Kernels.h"
#include "runtime/support/Quantize.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#define LLMC_X86 1
#endif

namespace llmc::cpu {

const char *quantDTypeName(QuantDType dtype) {
  switch (dtype) {
  case QuantDType::I8:
    return "i8";
  case QuantDType::I4:
    return "i4";
  case QuantDType::F8E4M3FN:
    return "f8E4M3FN";
  case QuantDType::F8E5M2:
    return "f8E5M2";
  }
  return "?";
}

namespace {

using numeric::Fp8Format;

bool isFp8(QuantDType dtype) {
  return dtype == QuantDType::F8E4M3FN || dtype == QuantDType::F8E5M2;
}

Fp8Format fp8FormatOf(QuantDType dtype) {
  return dtype == QuantDType::F8E5M2 ? Fp8Format::E5M2 : Fp8Format::E4M3FN;
}

using Fp8Table = std::array<float, 256>;

const Fp8Table &fp8Table(QuantDType dtype) {
  static const auto build = [](Fp8Format format) {
    Fp8Table table;
    for (int code = 0; code < 256; ++code)
      table[code] = numeric::fp8ToFloat(static_cast<uint8_t>(code), format);
    return table;
  };
  static const Fp8Table e4m3 = build(Fp8Format::E4M3FN);
  static const Fp8Table e5m2 = build(Fp8Format::E5M2);
  return dtype == QuantDType::F8E5M2 ? e5m2 : e4m3;
}

/// Bytes from the start of the matrix to element (row, col).
int64_t elementByteOffset(const QuantMatrixView &view, int64_t row,
                          int64_t col) {
  int64_t element = row * view.rowStride + col;
  return view.dtype == QuantDType::I4 ? element / 2 : element;
}

// One run of elements sharing a scale and zero point, decoded to f32:
// (q - zero) * scale, or the plain value when !scaled. Every path is exact
// (small integers and FP8 values are exact in f32, and the multiply rounds
// once), so the ISA changes the speed only. The body is instantiated under
// each ISA's target attributes so the integer loops vectorize; FP8 has
// explicit AVX2/AVX-512 paths through F16C (below).
struct Run {
  const uint8_t *row; // the row's first byte
  int64_t begin, count;
  float scale, zero;
  bool scaled;
  float *out;
};

#define LLMC_ALWAYS_INLINE inline __attribute__((always_inline))

LLMC_ALWAYS_INLINE void decodeI8Run(const Run &run) {
  const int8_t *q = reinterpret_cast<const int8_t *>(run.row) + run.begin;
  float *out = run.out;
  const float zero = run.zero, scale = run.scale;
  if (run.scaled)
    for (int64_t i = 0; i < run.count; ++i)
      out[i] = (static_cast<float>(q[i]) - zero) * scale;
  else
    for (int64_t i = 0; i < run.count; ++i)
      out[i] = static_cast<float>(q[i]);
}

LLMC_ALWAYS_INLINE void decodeI4Run(const Run &run) {
  const float zero = run.scaled ? run.zero : 0.0f;
  const float scale = run.scaled ? run.scale : 1.0f;
  int64_t i = 0;
  auto one = [&](int64_t index) {
    return (static_cast<float>(numeric::unpackInt4(run.row, index)) - zero) *
           scale;
  };
  if (run.begin & 1) {
    run.out[0] = one(run.begin);
    i = 1;
  }
  // Whole bytes: low nibble, then high nibble.
  const uint8_t *bytes = run.row + (run.begin + i) / 2;
  const int64_t pairs = (run.count - i) / 2;
  float *out = run.out + i;
  for (int64_t p = 0; p < pairs; ++p) {
    const int8_t byte = static_cast<int8_t>(bytes[p]);
    const int8_t low = static_cast<int8_t>(static_cast<int8_t>(byte << 4) >> 4);
    const int8_t high = static_cast<int8_t>(byte >> 4);
    out[2 * p] = (static_cast<float>(low) - zero) * scale;
    out[2 * p + 1] = (static_cast<float>(high) - zero) * scale;
  }
  i += 2 * pairs;
  if (i < run.count)
    run.out[i] = one(run.begin + i);
}

LLMC_ALWAYS_INLINE void decodeFp8RunTable(const Run &run, QuantDType dtype) {
  const Fp8Table &table = fp8Table(dtype);
  const uint8_t *q = run.row + run.begin;
  if (run.scaled)
    for (int64_t i = 0; i < run.count; ++i)
      run.out[i] = table[q[i]] * run.scale;
  else
    for (int64_t i = 0; i < run.count; ++i)
      run.out[i] = table[q[i]];
}

using RunFn = void (*)(const Run &run, QuantDType dtype);

void decodeRunGeneric(const Run &run, QuantDType dtype) {
  switch (dtype) {
  case QuantDType::I8:
    return decodeI8Run(run);
  case QuantDType::I4:
    return decodeI4Run(run);
  case QuantDType::F8E4M3FN:
  case QuantDType::F8E5M2:
    return decodeFp8RunTable(run, dtype);
  }
}

#ifdef LLMC_X86
#define LLMC_DECODE_AVX2 __attribute__((target("avx2,fma,f16c")))
#define LLMC_DECODE_AVX512                                                     \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))

// FP8 through f16: an E5M2 code is the top byte of the f16 with the same
// value; an E4M3FN code c becomes the f16 bits (c & 0x80) << 8 | (c & 0x7f)
// << 7, whose value is exactly 2^-8 times c's (normal and subnormal alike:
// the exponent field moves from bias 7 to bias 15), and code 0x7f (NaN) is
// patched. VCVTPH2PS widens f16 exactly, subnormals included.
LLMC_DECODE_AVX2 inline __m256 fp8x8ToF32Avx2(const uint8_t *q,
                                              QuantDType dtype) {
  __m128i codes =
      _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(q)));
  if (dtype == QuantDType::F8E5M2)
    return _mm256_cvtph_ps(_mm_slli_epi16(codes, 8));
  __m128i magnitude = _mm_and_si128(codes, _mm_set1_epi16(0x7f));
  __m128i sign = _mm_slli_epi16(_mm_and_si128(codes, _mm_set1_epi16(0x80)), 8);
  __m128i half = _mm_or_si128(sign, _mm_slli_epi16(magnitude, 7));
  __m256 value = _mm256_mul_ps(_mm256_cvtph_ps(half), _mm256_set1_ps(256.0f));
  __m256 isNan = _mm256_castsi256_ps(
      _mm256_cvtepi16_epi32(_mm_cmpeq_epi16(magnitude, _mm_set1_epi16(0x7f))));
  // The sign moved to bit 15 of the f16; as an f32 it belongs at bit 31.
  __m256 nan = _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_slli_epi32(_mm256_cvtepu16_epi32(sign), 16),
                      _mm256_set1_epi32(0x7fc00000)));
  return _mm256_blendv_ps(value, nan, isNan);
}

LLMC_DECODE_AVX2 void decodeRunAvx2(const Run &run, QuantDType dtype) {
  switch (dtype) {
  case QuantDType::I8:
    return decodeI8Run(run);
  case QuantDType::I4:
    return decodeI4Run(run);
  case QuantDType::F8E4M3FN:
  case QuantDType::F8E5M2: {
    const uint8_t *q = run.row + run.begin;
    const __m256 scale = _mm256_set1_ps(run.scale);
    int64_t i = 0;
    for (; i + 8 <= run.count; i += 8) {
      __m256 v = fp8x8ToF32Avx2(q + i, dtype);
      _mm256_storeu_ps(run.out + i, run.scaled ? _mm256_mul_ps(v, scale) : v);
    }
    Run tail = run;
    tail.begin += i;
    tail.count -= i;
    tail.out += i;
    return decodeFp8RunTable(tail, dtype);
  }
  }
}

LLMC_DECODE_AVX512 inline __m512 fp8x16ToF32Avx512(const uint8_t *q,
                                                   QuantDType dtype) {
  __m256i codes = _mm256_cvtepu8_epi16(
      _mm_loadu_si128(reinterpret_cast<const __m128i *>(q)));
  if (dtype == QuantDType::F8E5M2)
    return _mm512_cvtph_ps(_mm256_slli_epi16(codes, 8));
  __m256i magnitude = _mm256_and_si256(codes, _mm256_set1_epi16(0x7f));
  __m256i sign =
      _mm256_slli_epi16(_mm256_and_si256(codes, _mm256_set1_epi16(0x80)), 8);
  __m256i half = _mm256_or_si256(sign, _mm256_slli_epi16(magnitude, 7));
  __m512 value = _mm512_mul_ps(_mm512_cvtph_ps(half), _mm512_set1_ps(256.0f));
  __mmask16 isNan = _mm256_cmpeq_epi16_mask(magnitude, _mm256_set1_epi16(0x7f));
  __m512 nan = _mm512_castsi512_ps(
      _mm512_or_si512(_mm512_slli_epi32(_mm512_cvtepu16_epi32(sign), 16),
                      _mm512_set1_epi32(0x7fc00000)));
  return _mm512_mask_mov_ps(value, isNan, nan);
}

LLMC_DECODE_AVX512 void decodeRunAvx512(const Run &run, QuantDType dtype) {
  switch (dtype) {
  case QuantDType::I8:
    return decodeI8Run(run);
  case QuantDType::I4:
    return decodeI4Run(run);
  case QuantDType::F8E4M3FN:
  case QuantDType::F8E5M2: {
    const uint8_t *q = run.row + run.begin;
    const __m512 scale = _mm512_set1_ps(run.scale);
    int64_t i = 0;
    for (; i + 16 <= run.count; i += 16) {
      __m512 v = fp8x16ToF32Avx512(q + i, dtype);
      _mm512_storeu_ps(run.out + i, run.scaled ? _mm512_mul_ps(v, scale) : v);
    }
    Run tail = run;
    tail.begin += i;
    tail.count -= i;
    tail.out += i;
    return decodeFp8RunTable(tail, dtype);
  }
  }
}
#endif // LLMC_X86

RunFn selectRunFn() {
#ifdef LLMC_X86
  switch (activeIsa()) {
  case Isa::Avx512:
    return &decodeRunAvx512;
  case Isa::Avx2:
    return &decodeRunAvx2;
  case Isa::Generic:
    break;
  }
#endif
  return &decodeRunGeneric;
}

/// Decodes `count` elements of row `row` from column `col0` to f32:
/// (q - zero) * scale with `scales`, or the plain values (q, or the exact
/// FP8 value) when `scales` is null.
void decodeRow(const QuantMatrixView &view, const BlockScales *scales,
               int64_t row, int64_t col0, int64_t count, float *dst,
               RunFn decodeRun) {
  const uint8_t *base =
      static_cast<const uint8_t *>(view.data) + elementByteOffset(view, row, 0);
  const int64_t end = col0 + count;
  for (int64_t c = col0; c < end;) {
    // A run of columns sharing one scale (the whole range without scales).
    int64_t runEnd = end;
    Run run{base, c, 0, 1.0f, 0.0f, scales != nullptr, dst + (c - col0)};
    if (scales) {
      if (scales->blockCols < end)
        runEnd = std::min(end, (c / scales->blockCols + 1) * scales->blockCols);
      int64_t index = scales->index(row, c);
      run.scale = scales->scales[index];
      if (scales->zeroPoints)
        run.zero = static_cast<float>(scales->zeroPoints[index]);
    }
    run.count = runEnd - c;
    decodeRun(run, view.dtype);
    c = runEnd;
  }
}

struct QuantWeightSource {
  QuantMatrixView view;
  const BlockScales *scales; // null: raw values
  RunFn decodeRun;
};

void decodeQuantBlock(const void *context, int64_t row0, int64_t numRows,
                      int64_t col0, int64_t numCols, float *dst,
                      int64_t dstStride) {
  const auto &source = *static_cast<const QuantWeightSource *>(context);
  for (int64_t r = 0; r < numRows; ++r)
    decodeRow(source.view, source.scales, row0 + r, col0, numCols,
              dst + r * dstStride, source.decodeRun);
}

/// Stores ((alpha * scaleA[m]) * scaleB[n]) * dot, the contract's order.
struct ScaledStore {
  const BlockScales *scaleA, *scaleB;
  float alpha;
  MatrixView output;

  void store(int64_t row, int64_t col0, const float *dots,
             int64_t count) const {
    const float rowFactor =
        alpha * (scaleA ? scaleA->scales[scaleA->index(row, 0)] : 1.0f);
    void *out = static_cast<uint8_t *>(output.data) +
                row * output.rowStride * dtypeBytes(output.dtype);
    for (int64_t j = 0; j < count; ++j) {
      const int64_t col = col0 + j;
      const float factor =
          scaleB ? rowFactor * scaleB->scales[scaleB->index(col, 0)]
                 : rowFactor;
      storeFromF32(out, output.dtype, col, factor * dots[j]);
    }
  }
  static void trampoline(const void *context, int64_t row, int64_t col0,
                         const float *dots, int64_t count) {
    static_cast<const ScaledStore *>(context)->store(row, col0, dots, count);
  }
};

//===----------------------------------------------------------------------===//
// Fused quantized-weight GEMV (one activation row): weights are decoded in
// registers right before the FMA, so each weight byte is read once and no
// scratch round trip is paid. Used when every scale group is a whole number
// of 16-element vectors (or covers the row); otherwise the decoded path.
//===----------------------------------------------------------------------===//

/// The f32 value of one weight element: (q - zero) * scale, or raw.
float scalarWeight(const uint8_t *row, QuantDType dtype, int64_t col,
                   float scale, float zero, bool scaled) {
  float value;
  switch (dtype) {
  case QuantDType::I8:
    value = static_cast<float>(static_cast<int8_t>(row[col]));
    break;
  case QuantDType::I4:
    value = static_cast<float>(numeric::unpackInt4(row, col));
    break;
  default:
    value = fp8Table(dtype)[row[col]];
    if (scaled)
      return value * scale;
    return value;
  }
  return scaled ? (value - zero) * scale : value;
}

struct FusedGemv {
  const float *x;
  QuantMatrixView weight;
  const BlockScales *scales; // null: raw weights
  int64_t group;             // columns per scale (a multiple of 16, or >= K)
  const ScaledStore *epilogue;
};

#ifdef LLMC_X86
template <QuantDType T>
LLMC_DECODE_AVX512 inline __m512 loadWeights16(const uint8_t *row,
                                               int64_t col) {
  if constexpr (T == QuantDType::I8) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
        _mm_loadu_si128(reinterpret_cast<const __m128i *>(row + col))));
  } else if constexpr (T == QuantDType::I4) {
    // 8 bytes -> 16 nibbles in element order (low, high), sign-extended
    // by (n ^ 8) - 8.
    __m128i bytes =
        _mm_loadl_epi64(reinterpret_cast<const __m128i *>(row + col / 2));
    const __m128i low4 = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
    __m128i nibbles =
        _mm_unpacklo_epi8(_mm_and_si128(bytes, low4),
                          _mm_and_si128(_mm_srli_epi16(bytes, 4), low4));
    nibbles = _mm_sub_epi8(_mm_xor_si128(nibbles, eight), eight);
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(nibbles));
  } else {
    return fp8x16ToF32Avx512(row + col, T);
  }
}

template <QuantDType T, int RW>
LLMC_DECODE_AVX512 void fusedRowsAvx512(const FusedGemv &g, int64_t row0,
                                        float *dots) {
  const int64_t k = g.weight.cols;
  const uint8_t *rows[RW];
  for (int r = 0; r < RW; ++r)
    rows[r] = static_cast<const uint8_t *>(g.weight.data) +
              elementByteOffset(g.weight, row0 + r, 0);
  __m512 acc[RW];
  float tail[RW];
  for (int r = 0; r < RW; ++r) {
    acc[r] = _mm512_setzero_ps();
    tail[r] = 0.0f;
  }
  for (int64_t g0 = 0; g0 < k; g0 += g.group) {
    const int64_t g1 = std::min(k, g0 + g.group);
    float scale[RW], zero[RW];
    __m512 scaleV[RW], zeroV[RW];
    for (int r = 0; r < RW; ++r) {
      scale[r] = 1.0f;
      zero[r] = 0.0f;
      if (g.scales) {
        int64_t index = g.scales->index(row0 + r, g0);
        scale[r] = g.scales->scales[index];
        if (g.scales->zeroPoints)
          zero[r] = static_cast<float>(g.scales->zeroPoints[index]);
      }
      scaleV[r] = _mm512_set1_ps(scale[r]);
      zeroV[r] = _mm512_set1_ps(zero[r]);
    }
    int64_t kk = g0;
    for (; kk + 16 <= g1; kk += 16) {
      const __m512 xv = _mm512_loadu_ps(g.x + kk);
      for (int r = 0; r < RW; ++r) {
        __m512 w = loadWeights16<T>(rows[r], kk);
        if (g.scales)
          w = T == QuantDType::I8 || T == QuantDType::I4
                  ? _mm512_mul_ps(_mm512_sub_ps(w, zeroV[r]), scaleV[r])
                  : _mm512_mul_ps(w, scaleV[r]);
        acc[r] = _mm512_fmadd_ps(xv, w, acc[r]);
      }
    }
    for (; kk < g1; ++kk)
      for (int r = 0; r < RW; ++r)
        tail[r] += g.x[kk] * scalarWeight(rows[r], T, kk, scale[r], zero[r],
                                          g.scales != nullptr);
  }
  for (int r = 0; r < RW; ++r)
    dots[r] = _mm512_reduce_add_ps(acc[r]) + tail[r];
}

template <QuantDType T>
void fusedGemvAvx512(const FusedGemv &g, int64_t begin, int64_t end) {
  float dots[4];
  int64_t row = begin;
  for (; row + 4 <= end; row += 4) {
    fusedRowsAvx512<T, 4>(g, row, dots);
    g.epilogue->store(0, row, dots, 4);
  }
  for (; row < end; ++row) {
    fusedRowsAvx512<T, 1>(g, row, dots);
    g.epilogue->store(0, row, dots, 1);
  }
}

template <QuantDType T>
LLMC_DECODE_AVX2 inline __m256 loadWeights8(const uint8_t *row, int64_t col) {
  if constexpr (T == QuantDType::I8) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(
        _mm_loadl_epi64(reinterpret_cast<const __m128i *>(row + col))));
  } else if constexpr (T == QuantDType::I4) {
    int32_t packed;
    std::memcpy(&packed, row + col / 2, sizeof packed);
    __m128i bytes = _mm_cvtsi32_si128(packed);
    const __m128i low4 = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
    __m128i nibbles =
        _mm_unpacklo_epi8(_mm_and_si128(bytes, low4),
                          _mm_and_si128(_mm_srli_epi16(bytes, 4), low4));
    nibbles = _mm_sub_epi8(_mm_xor_si128(nibbles, eight), eight);
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(nibbles));
  } else {
    return fp8x8ToF32Avx2(row + col, T);
  }
}

LLMC_DECODE_AVX2 inline float reduceF32x8(__m256 v) {
  __m128 sum =
      _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
  return _mm_cvtss_f32(sum);
}

template <QuantDType T, int RW>
LLMC_DECODE_AVX2 void fusedRowsAvx2(const FusedGemv &g, int64_t row0,
                                    float *dots) {
  const int64_t k = g.weight.cols;
  const uint8_t *rows[RW];
  for (int r = 0; r < RW; ++r)
    rows[r] = static_cast<const uint8_t *>(g.weight.data) +
              elementByteOffset(g.weight, row0 + r, 0);
  __m256 acc[RW];
  float tail[RW];
  for (int r = 0; r < RW; ++r) {
    acc[r] = _mm256_setzero_ps();
    tail[r] = 0.0f;
  }
  for (int64_t g0 = 0; g0 < k; g0 += g.group) {
    const int64_t g1 = std::min(k, g0 + g.group);
    float scale[RW], zero[RW];
    __m256 scaleV[RW], zeroV[RW];
    for (int r = 0; r < RW; ++r) {
      scale[r] = 1.0f;
      zero[r] = 0.0f;
      if (g.scales) {
        int64_t index = g.scales->index(row0 + r, g0);
        scale[r] = g.scales->scales[index];
        if (g.scales->zeroPoints)
          zero[r] = static_cast<float>(g.scales->zeroPoints[index]);
      }
      scaleV[r] = _mm256_set1_ps(scale[r]);
      zeroV[r] = _mm256_set1_ps(zero[r]);
    }
    int64_t kk = g0;
    for (; kk + 8 <= g1; kk += 8) {
      const __m256 xv = _mm256_loadu_ps(g.x + kk);
      for (int r = 0; r < RW; ++r) {
        __m256 w = loadWeights8<T>(rows[r], kk);
        if (g.scales)
          w = T == QuantDType::I8 || T == QuantDType::I4
                  ? _mm256_mul_ps(_mm256_sub_ps(w, zeroV[r]), scaleV[r])
                  : _mm256_mul_ps(w, scaleV[r]);
        acc[r] = _mm256_fmadd_ps(xv, w, acc[r]);
      }
    }
    for (; kk < g1; ++kk)
      for (int r = 0; r < RW; ++r)
        tail[r] += g.x[kk] * scalarWeight(rows[r], T, kk, scale[r], zero[r],
                                          g.scales != nullptr);
  }
  for (int r = 0; r < RW; ++r)
    dots[r] = reduceF32x8(acc[r]) + tail[r];
}

template <QuantDType T>
void fusedGemvAvx2(const FusedGemv &g, int64_t begin, int64_t end) {
  float dots[4];
  int64_t row = begin;
  for (; row + 4 <= end; row += 4) {
    fusedRowsAvx2<T, 4>(g, row, dots);
    g.epilogue->store(0, row, dots, 4);
  }
  for (; row < end; ++row) {
    fusedRowsAvx2<T, 1>(g, row, dots);
    g.epilogue->store(0, row, dots, 1);
  }
}

using FusedGemvFn = void (*)(const FusedGemv &, int64_t, int64_t);

FusedGemvFn fusedFor(QuantDType dtype, bool avx512) {
  switch (dtype) {
  case QuantDType::I8:
    return avx512 ? &fusedGemvAvx512<QuantDType::I8>
                  : &fusedGemvAvx2<QuantDType::I8>;
  case QuantDType::I4:
    return avx512 ? &fusedGemvAvx512<QuantDType::I4>
                  : &fusedGemvAvx2<QuantDType::I4>;
  case QuantDType::F8E4M3FN:
    return avx512 ? &fusedGemvAvx512<QuantDType::F8E4M3FN>
                  : &fusedGemvAvx2<QuantDType::F8E4M3FN>;
  case QuantDType::F8E5M2:
    return avx512 ? &fusedGemvAvx512<QuantDType::F8E5M2>
                  : &fusedGemvAvx2<QuantDType::F8E5M2>;
  }
  return nullptr;
}

FusedGemvFn selectFusedGemv(QuantDType dtype) {
  switch (activeIsa()) {
  case Isa::Avx512:
    return fusedFor(dtype, true);
  case Isa::Avx2:
    return fusedFor(dtype, false);
  case Isa::Generic:
    break;
  }
  return nullptr;
}
#else
using FusedGemvFn = void (*)(const FusedGemv &, int64_t, int64_t);
FusedGemvFn selectFusedGemv(QuantDType) { return nullptr; }
#endif // LLMC_X86

/// Runs the fused GEMV when this CPU and these scales allow it; false
/// otherwise (the caller takes the decoded path).
bool tryFusedGemv(const float *x, const QuantMatrixView &weight,
                  const BlockScales *scales, const ScaledStore &epilogue,
                  ThreadPool *pool) {
  FusedGemvFn fn = selectFusedGemv(weight.dtype);
  if (!fn)
    return false;
  const int64_t k = weight.cols;
  int64_t group = k;
  if (scales && scales->blockCols < k) {
    if (scales->blockCols % 16 != 0)
      return false;
    group = scales->blockCols;
  }
  FusedGemv g{x, weight, scales, group, &epilogue};
  const int64_t n = weight.rows;
  if (pool && pool->numThreads() > 1 && n >= 64) {
    // Contiguous ranges of 4-row steps, one per thread, as the f32 GEMV.
    const int64_t steps = (n + 3) / 4;
    pool->parallelFor(steps, 0, [&](int64_t begin, int64_t end, int) {
      fn(g, begin * 4, std::min(n, end * 4));
    });
  } else {
    fn(g, 0, n);
  }
  return true;
}

//===----------------------------------------------------------------------===//
// INT8 dot-product tiles: out[i * outStride + j] = dot(a row i, b row j)
//===----------------------------------------------------------------------===//

using I8TileFn = void (*)(const int8_t *a, int64_t aStride, const int8_t *b,
                          int64_t bStride, int64_t k, int32_t *out,
                          int64_t outStride);
constexpr int kMaxTile = 4;
using I8TileTable = std::array<std::array<I8TileFn, kMaxTile>, kMaxTile>;

template <int RX, int RW> struct I8TileGeneric {
  static void run(const int8_t *a, int64_t aStride, const int8_t *b,
                  int64_t bStride, int64_t k, int32_t *out, int64_t outStride) {
    for (int i = 0; i < RX; ++i)
      for (int j = 0; j < RW; ++j) {
        const int8_t *x = a + i * aStride, *w = b + j * bStride;
        int32_t sum = 0;
        for (int64_t kk = 0; kk < k; ++kk)
          sum += static_cast<int32_t>(x[kk]) * static_cast<int32_t>(w[kk]);
        out[i * outStride + j] = sum;
      }
  }
};

#ifdef LLMC_X86
#define LLMC_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define LLMC_TARGET_AVX512                                                     \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define LLMC_TARGET_AVX512VNNI                                                 \
  __attribute__((                                                              \
      target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))

LLMC_TARGET_AVX2 inline int32_t reduceI32x8(__m256i v) {
  __m128i sum =
      _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0x4e));
  sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0xb1));
  return _mm_cvtsi128_si32(sum);
}

template <int RX, int RW> struct I8TileAvx2 {
  LLMC_TARGET_AVX2 static void run(const int8_t *a, int64_t aStride,
                                   const int8_t *b, int64_t bStride, int64_t k,
                                   int32_t *out, int64_t outStride) {
    __m256i acc[RX][RW];
    for (int i = 0; i < RX; ++i)
      for (int j = 0; j < RW; ++j)
        acc[i][j] = _mm256_setzero_si256();
    int64_t kk = 0;
    for (; kk + 16 <= k; kk += 16) {
      __m256i av[RX];
      for (int i = 0; i < RX; ++i)
        av[i] = _mm256_cvtepi8_epi16(_mm_loadu_si128(
            reinterpret_cast<const __m128i *>(a + i * aStride + kk)));
      for (int j = 0; j < RW; ++j) {
        __m256i bv = _mm256_cvtepi8_epi16(_mm_loadu_si128(
            reinterpret_cast<const __m128i *>(b + j * bStride + kk)));
        for (int i = 0; i < RX; ++i)
          acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(av[i], bv));
      }
    }
    for (int i = 0; i < RX; ++i)
      for (int j = 0; j < RW; ++j) {
        int32_t sum = reduceI32x8(acc[i][j]);
        for (int64_t t = kk; t < k; ++t)
          sum += static_cast<int32_t>(a[i * aStride + t]) *
                 static_cast<int32_t>(b[j * bStride + t]);
        out[i * outStride + j] = sum;
      }
  }
};

template <int RX, int RW> struct I8TileAvx512 {
  LLMC_TARGET_AVX512 static void run(const int8_t *a, int64_t aStride,
                                     const int8_t *b, int64_t bStride,
                                     int64_t k, int32_t *out,
                                     int64_t outStride) {
    __m512i acc[RX][RW];
    for (int i = 0; i < RX; ++i)
      for (int j = 0; j < RW; ++j)
        acc[i][j] = _mm512_setzero_si512();
    auto step = [&](int64_t kk, __mmask32 mask) LLMC_TARGET_AVX512 {
      __m512i av[RX];
      for (int i = 0; i < RX; ++i)
        av[i] = _mm512_cvtepi8_epi16(
            _mm256_maskz_loadu_epi8(mask, a + i * aStride + kk));
      for (int j = 0; j < RW; ++j) {
        __m512i bv = _mm512_cvtepi8_epi16(
            _mm256_maskz_loadu_epi8(mask, b + j * bStride + kk));
        for (int i = 0; i < RX; ++i)
          acc[i][j] = _mm512_add_epi32(acc[i][j], _mm512_madd_epi16(av[i], bv));
      }
    };
    int64_t kk = 0;
    for (; kk + 32 <= k; kk += 32)
      step(kk, ~static_cast<__mmask32>(0));
    if (kk < k)
      step(kk, static_cast<__mmask32>((1ull << (k - kk)) - 1));
    for (int i = 0; i < RX; ++i)
      for (int j = 0; j < RW; ++j)
        out[i * outStride + j] = _mm512_reduce_add_epi32(acc[i][j]);
  }
};

template <int RX, int RW> struct I8TileVnni {
  LLMC_TARGET_AVX512VNNI static void run(const int8_t *a, int64_t aStride,
                                         const int8_t *b, int64_t bStride,
                                         int64_t k, int32_t *out,
                                         int64_t outStride) {
    const __m512i signFlip = _mm512_set1_epi8(static_cast<char>(0x80));
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i acc[RX][RW], weightSums[RW];
    for (int j = 0; j < RW; ++j) {
      weightSums[j] = _mm512_setzero_si512();
      for (int i = 0; i < RX; ++i)
        acc[i][j] = _mm512_setzero_si512();
    }
    // Masked-off lanes load 0 for both operands: the flipped activation is
    // then 128, times a zero weight, so they add nothing.
    auto step = [&](int64_t kk, __mmask64 mask) LLMC_TARGET_AVX512VNNI {
      __m512i av[RX];
      for (int i = 0; i < RX; ++i)
        av[i] = _mm512_xor_si512(
            _mm512_maskz_loadu_epi8(mask, a + i * aStride + kk), signFlip);
      for (int j = 0; j < RW; ++j) {
        __m512i bv = _mm512_maskz_loadu_epi8(mask, b + j * bStride + kk);
        weightSums[j] = _mm512_dpbusd_epi32(weightSums[j], ones, bv);
        for (int i = 0; i < RX; ++i)
          acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], av[i], bv);
      }
    };
    int64_t kk = 0;
    for (; kk + 64 <= k; kk += 64)
      step(kk, ~static_cast<__mmask64>(0));
    if (kk < k)
      step(kk, static_cast<__mmask64>((1ull << (k - kk)) - 1));
    for (int j = 0; j < RW; ++j) {
      const uint32_t correction =
          128u * static_cast<uint32_t>(_mm512_reduce_add_epi32(weightSums[j]));
      for (int i = 0; i < RX; ++i)
        out[i * outStride + j] = static_cast<int32_t>(
            static_cast<uint32_t>(_mm512_reduce_add_epi32(acc[i][j])) -
            correction);
    }
  }
};
#endif // LLMC_X86

template <template <int, int> class Tile> I8TileTable makeTileTable() {
  return I8TileTable{
      {{&Tile<1, 1>::run, &Tile<1, 2>::run, &Tile<1, 3>::run, &Tile<1, 4>::run},
       {&Tile<2, 1>::run, &Tile<2, 2>::run, &Tile<2, 3>::run, &Tile<2, 4>::run},
       {&Tile<3, 1>::run, &Tile<3, 2>::run, &Tile<3, 3>::run, &Tile<3, 4>::run},
       {&Tile<4, 1>::run, &Tile<4, 2>::run, &Tile<4, 3>::run,
        &Tile<4, 4>::run}}};
}

const I8TileTable &selectI8Tiles() {
#ifdef LLMC_X86
  static const I8TileTable vnni = makeTileTable<I8TileVnni>();
  static const I8TileTable avx512 = makeTileTable<I8TileAvx512>();
  static const I8TileTable avx2 = makeTileTable<I8TileAvx2>();
  if (useAvx512Vnni())
    return vnni;
  switch (activeIsa()) {
  case Isa::Avx512:
    return avx512;
  case Isa::Avx2:
    return avx2;
  case Isa::Generic:
    break;
  }
#endif
  static const I8TileTable generic = makeTileTable<I8TileGeneric>();
  return generic;
}

// Weight rows per work item: a multiple of the tile so that only the last
// block has edge tiles.
constexpr int64_t kI8BlockRows = 16;

void gemmInt8(const QuantMatrixView &a, const QuantMatrixView &b,
              const ScaledStore &epilogue, ThreadPool *pool) {
  const int64_t m = a.rows, n = b.rows, k = a.cols;
  const I8TileTable &tiles = selectI8Tiles();
  const auto *aData = static_cast<const int8_t *>(a.data);
  const auto *bData = static_cast<const int8_t *>(b.data);
  const int64_t numBlocks = (n + kI8BlockRows - 1) / kI8BlockRows;
  auto body = [&](int64_t blockBegin, int64_t blockEnd, int) {
    std::vector<int32_t> dots(static_cast<size_t>(m * kI8BlockRows));
    std::vector<float> row(kI8BlockRows);
    for (int64_t block = blockBegin; block < blockEnd; ++block) {
      const int64_t row0 = block * kI8BlockRows;
      const int64_t rows = std::min(kI8BlockRows, n - row0);
      for (int64_t i = 0; i < m; i += kMaxTile) {
        const int rx = static_cast<int>(std::min<int64_t>(kMaxTile, m - i));
        for (int64_t j = 0; j < rows; j += kMaxTile) {
          const int rw =
              static_cast<int>(std::min<int64_t>(kMaxTile, rows - j));
          tiles[rx - 1][rw - 1](aData + i * a.rowStride, a.rowStride,
                                bData + (row0 + j) * b.rowStride, b.rowStride,
                                k, dots.data() + i * kI8BlockRows + j,
                                kI8BlockRows);
        }
      }
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < rows; ++j)
          row[j] = static_cast<float>(dots[i * kI8BlockRows + j]);
        epilogue.store(i, row0, row.data(), rows);
      }
    }
  };
  if (pool && pool->numThreads() > 1 && numBlocks > 1)
    // One row (decode): contiguous ranges per thread, as the f32 GEMV.
    pool->parallelFor(numBlocks, m == 1 ? 0 : 1, body);
  else
    body(0, numBlocks, 0);
}

/// Activation rows of any quantized type as contiguous exact f32 values.
std::vector<float> decodeActivations(const QuantMatrixView &a) {
  std::vector<float> values(static_cast<size_t>(a.rows * a.cols));
  RunFn decodeRun = selectRunFn();
  for (int64_t r = 0; r < a.rows; ++r)
    decodeRow(a, nullptr, r, 0, a.cols, values.data() + r * a.cols, decodeRun);
  return values;
}

} // namespace

void gemmW8A8(const QuantMatrixView &a, const QuantMatrixView &b,
              const BlockScales &scaleA, const BlockScales &scaleB, float alpha,
              const MatrixView &output, ThreadPool *pool) {
  ScaledStore epilogue{&scaleA, &scaleB, alpha, output};
  if (a.dtype == QuantDType::I8 && b.dtype == QuantDType::I8) {
    gemmInt8(a, b, epilogue, pool);
    return;
  }
  // FP8 (or any other mix): exact decoded values, f32 products and sums.
  std::vector<float> x = decodeActivations(a);
  if (a.rows == 1 && tryFusedGemv(x.data(), b, nullptr, epilogue, pool))
    return;
  QuantWeightSource source{b, nullptr, selectRunFn()};
  detail::DecodedWeight weight{b.rows, b.cols, &source, &decodeQuantBlock};
  detail::linearDecoded(x.data(), a.rows, weight,
                        {&epilogue, &ScaledStore::trampoline}, pool);
}

void gemmWeightOnly(const ConstMatrixView &a, const QuantMatrixView &b,
                    const BlockScales &scaleB, float alpha,
                    const MatrixView &output, ThreadPool *pool) {
  std::vector<float> x(static_cast<size_t>(a.rows * a.cols));
  const size_t aBytes = dtypeBytes(a.dtype);
  for (int64_t r = 0; r < a.rows; ++r)
    convertToF32(static_cast<const uint8_t *>(a.data) +
                     r * a.rowStride * aBytes,
                 a.dtype, x.data() + r * a.cols, a.cols);
  ScaledStore epilogue{nullptr, nullptr, alpha, output};
  if (a.rows == 1 && tryFusedGemv(x.data(), b, &scaleB, epilogue, pool))
    return;
  QuantWeightSource source{b, &scaleB, selectRunFn()};
  detail::DecodedWeight weight{b.rows, b.cols, &source, &decodeQuantBlock};
  detail::linearDecoded(x.data(), a.rows, weight,
                        {&epilogue, &ScaledStore::trampoline}, pool);
}

void quantize(const ConstMatrixView &input, const BlockScales &scales,
              void *output, QuantDType outputDType) {
  std::vector<float> row(static_cast<size_t>(input.cols));
  const size_t inBytes = dtypeBytes(input.dtype);
  const int64_t cols = input.cols;
  for (int64_t r = 0; r < input.rows; ++r) {
    convertToF32(static_cast<const uint8_t *>(input.data) +
                     r * input.rowStride * inBytes,
                 input.dtype, row.data(), cols);
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t index = scales.index(r, c);
      const float scale = scales.scales[index];
      const int32_t zero = scales.zeroPoints ? scales.zeroPoints[index] : 0;
      const int64_t at = r * cols + c;
      switch (outputDType) {
      case QuantDType::I8:
        static_cast<int8_t *>(output)[at] =
            numeric::quantizeInt8(row[c], scale, zero);
        break;
      case QuantDType::I4: {
        uint8_t &byte = static_cast<uint8_t *>(output)[at / 2];
        uint8_t nibble =
            static_cast<uint8_t>(numeric::quantizeInt4(row[c], scale, zero)) &
            0xfu;
        byte = (at & 1) ? static_cast<uint8_t>((byte & 0x0fu) | (nibble << 4))
                        : static_cast<uint8_t>((byte & 0xf0u) | nibble);
        break;
      }
      case QuantDType::F8E4M3FN:
      case QuantDType::F8E5M2:
        static_cast<uint8_t *>(output)[at] =
            numeric::quantizeFp8(row[c], scale, fp8FormatOf(outputDType));
        break;
      }
    }
  }
}

void quantizeDynamic(const ConstMatrixView &input, void *output,
                     QuantDType outputDType, float *scales) {
  float qmax = numeric::kInt8QMax;
  if (outputDType == QuantDType::I4)
    qmax = numeric::kInt4QMax;
  else if (isFp8(outputDType))
    qmax = numeric::fp8Max(fp8FormatOf(outputDType));
  std::vector<float> row(static_cast<size_t>(input.cols));
  const size_t inBytes = dtypeBytes(input.dtype);
  for (int64_t r = 0; r < input.rows; ++r) {
    convertToF32(static_cast<const uint8_t *>(input.data) +
                     r * input.rowStride * inBytes,
                 input.dtype, row.data(), input.cols);
    scales[r] =
        numeric::symmetricScale(numeric::absMax(row.data(), input.cols), qmax);
  }
  quantize(input, BlockScales::perRow(scales), output, outputDType);
}

void dequantize(const QuantMatrixView &input, const BlockScales &scales,
                const MatrixView &output) {
  std::vector<float> row(static_cast<size_t>(input.cols));
  const size_t outBytes = dtypeBytes(output.dtype);
  RunFn decodeRun = selectRunFn();
  for (int64_t r = 0; r < input.rows; ++r) {
    decodeRow(input, &scales, r, 0, input.cols, row.data(), decodeRun);
    convertFromF32(row.data(),
                   static_cast<uint8_t *>(output.data) +
                       r * output.rowStride * outBytes,
                   output.dtype, input.cols);
  }
}

} // namespace llmc::cpu
