//===- Kernels.cpp - conversions, embedding, norms, elementwise, softmax --===//
//
// These kernels are memory-bound and short, so they are written as plain
// loops the compiler vectorizes for the baseline ISA; only the f16
// conversions, which the baseline cannot vectorize, get an F16C path.
//
//===----------------------------------------------------------------------===//

#include "runtime/backends/cpu/Kernels.h"
#include "runtime/backends/cpu/CpuFeatures.h"

#include <algorithm>
#include <cmath>
#include <string>

#if defined(__x86_64__)
#include <immintrin.h>
#define LLMC_X86 1
#endif

namespace llmc::cpu {
namespace {

#ifdef LLMC_X86
__attribute__((target("avx2,fma,f16c"))) void
f16ToF32F16c(const uint16_t *input, float *output, int64_t count) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8)
    _mm256_storeu_ps(output + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(
                         reinterpret_cast<const __m128i *>(input + i))));
  for (; i < count; ++i)
    output[i] = f16ToF32(input[i]);
}

__attribute__((target("avx2,fma,f16c"))) void
f32ToF16F16c(const float *input, uint16_t *output, int64_t count) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8)
    _mm_storeu_si128(
        reinterpret_cast<__m128i *>(output + i),
        _mm256_cvtps_ph(_mm256_loadu_ps(input + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < count; ++i)
    output[i] = f32ToF16(input[i]);
}
#endif

// Runs `body(float *chunk, int64_t n, int64_t offset)` over the input widened
// to f32 in chunks that stay in L1, then stores the chunk to the output.
constexpr int64_t kChunk = 512;

template <typename Body>
void mapChunks(const void *input, DType inputDType, void *output,
               DType outputDType, int64_t count, Body &&body) {
  float chunk[kChunk];
  const size_t inBytes = dtypeBytes(inputDType);
  const size_t outBytes = dtypeBytes(outputDType);
  for (int64_t offset = 0; offset < count; offset += kChunk) {
    int64_t n = std::min(kChunk, count - offset);
    convertToF32(static_cast<const uint8_t *>(input) + offset * inBytes,
                 inputDType, chunk, n);
    body(chunk, n, offset);
    convertFromF32(chunk, static_cast<uint8_t *>(output) + offset * outBytes,
                   outputDType, n);
  }
}

template <typename Op>
void binaryOp(const void *lhs, const void *rhs, DType inputDType, void *output,
              DType outputDType, int64_t count, Op op) {
  float other[kChunk];
  const size_t inBytes = dtypeBytes(inputDType);
  mapChunks(lhs, inputDType, output, outputDType, count,
            [&](float *chunk, int64_t n, int64_t offset) {
              convertToF32(static_cast<const uint8_t *>(rhs) + offset * inBytes,
                           inputDType, other, n);
              for (int64_t i = 0; i < n; ++i)
                chunk[i] = op(chunk[i], other[i]);
            });
}

inline float siluScalar(float x) { return x / (1.0f + std::exp(-x)); }

} // namespace

void convertToF32(const void *input, DType dtype, float *output,
                  int64_t count) {
  switch (dtype) {
  case DType::F32:
    if (input != output)
      std::copy_n(static_cast<const float *>(input), count, output);
    return;
  case DType::BF16: {
    const uint16_t *in = static_cast<const uint16_t *>(input);
    for (int64_t i = 0; i < count; ++i)
      output[i] = bf16ToF32(in[i]);
    return;
  }
  case DType::F16: {
    const uint16_t *in = static_cast<const uint16_t *>(input);
#ifdef LLMC_X86
    if (activeIsa() != Isa::Generic)
      return f16ToF32F16c(in, output, count);
#endif
    for (int64_t i = 0; i < count; ++i)
      output[i] = f16ToF32(in[i]);
    return;
  }
  }
}

void convertFromF32(const float *input, void *output, DType dtype,
                    int64_t count) {
  switch (dtype) {
  case DType::F32:
    if (input != output)
      std::copy_n(input, count, static_cast<float *>(output));
    return;
  case DType::BF16: {
    uint16_t *out = static_cast<uint16_t *>(output);
    for (int64_t i = 0; i < count; ++i)
      out[i] = f32ToBf16(input[i]);
    return;
  }
  case DType::F16: {
    uint16_t *out = static_cast<uint16_t *>(output);
#ifdef LLMC_X86
    if (activeIsa() != Isa::Generic)
      return f32ToF16F16c(input, out, count);
#endif
    for (int64_t i = 0; i < count; ++i)
      out[i] = f32ToF16(input[i]);
    return;
  }
  }
}

int64_t argmax(const float *values, int64_t count) {
  if (count <= 0)
    return -1;
  int64_t best = -1;
  for (int64_t i = 0; i < count; ++i) {
    if (std::isnan(values[i]))
      continue;
    if (best < 0 || values[i] > values[best])
      best = i;
  }
  return best < 0 ? 0 : best;
}

//===----------------------------------------------------------------------===//
// llm.embedding
//===----------------------------------------------------------------------===//

Status embedding(const ConstMatrixView &table, const int32_t *ids,
                 int64_t numIds, const MatrixView &output) {
  if (output.cols != table.cols || output.rows < numIds)
    return Status::error(
        "embedding: output is [" + std::to_string(output.rows) + ", " +
        std::to_string(output.cols) + "] but expected [" +
        std::to_string(numIds) + ", " + std::to_string(table.cols) + "]");
  const size_t inBytes = dtypeBytes(table.dtype);
  const size_t outBytes = dtypeBytes(output.dtype);
  std::vector<float> row;
  for (int64_t i = 0; i < numIds; ++i) {
    int32_t id = ids[i];
    if (id < 0 || id >= table.rows)
      return Status::error("embedding: token id " + std::to_string(id) +
                           " at index " + std::to_string(i) +
                           " is outside the vocabulary [0, " +
                           std::to_string(table.rows) + ")");
    const uint8_t *src = static_cast<const uint8_t *>(table.data) +
                         id * table.rowStride * inBytes;
    uint8_t *dst =
        static_cast<uint8_t *>(output.data) + i * output.rowStride * outBytes;
    if (table.dtype == output.dtype) {
      std::copy_n(src, table.cols * inBytes, dst);
    } else {
      row.resize(static_cast<size_t>(table.cols));
      convertToF32(src, table.dtype, row.data(), table.cols);
      convertFromF32(row.data(), dst, output.dtype, table.cols);
    }
  }
  return Status::success();
}

//===----------------------------------------------------------------------===//
// llm.rms_norm, llm.layer_norm
//===----------------------------------------------------------------------===//

void rmsNormalizeRow(float *row, int64_t cols, const float *gain,
                     float epsilon) {
  // Eight partial sums: vectorizable without reassociation flags.
  float partial[8] = {};
  int64_t c = 0;
  for (; c + 8 <= cols; c += 8)
    for (int l = 0; l < 8; ++l)
      partial[l] += row[c + l] * row[c + l];
  float sumSquares = 0.0f;
  for (; c < cols; ++c)
    sumSquares += row[c] * row[c];
  for (float p : partial)
    sumSquares += p;
  float inverseRms =
      1.0f / std::sqrt(sumSquares / static_cast<float>(cols) + epsilon);
  for (int64_t i = 0; i < cols; ++i)
    row[i] = row[i] * inverseRms * gain[i];
}

void rmsNorm(const ConstMatrixView &input, const void *weight,
             DType weightDType, float epsilon, const MatrixView &output,
             float weightOffset) {
  const int64_t cols = input.cols;
  std::vector<float> row(static_cast<size_t>(cols)), gain(cols);
  convertToF32(weight, weightDType, gain.data(), cols);
  for (float &g : gain)
    g += weightOffset;
  const size_t inBytes = dtypeBytes(input.dtype);
  const size_t outBytes = dtypeBytes(output.dtype);
  for (int64_t r = 0; r < input.rows; ++r) {
    convertToF32(static_cast<const uint8_t *>(input.data) +
                     r * input.rowStride * inBytes,
                 input.dtype, row.data(), cols);
    rmsNormalizeRow(row.data(), cols, gain.data(), epsilon);
    convertFromF32(row.data(),
                   static_cast<uint8_t *>(output.data) +
                       r * output.rowStride * outBytes,
                   output.dtype, cols);
  }
}

void layerNorm(const ConstMatrixView &input, const void *weight,
               const void *bias, DType paramDType, float epsilon,
               const MatrixView &output) {
  const int64_t cols = input.cols;
  std::vector<float> row(static_cast<size_t>(cols)), gain(cols), shift(cols);
  convertToF32(weight, paramDType, gain.data(), cols);
  if (bias)
    convertToF32(bias, paramDType, shift.data(), cols);
  const size_t inBytes = dtypeBytes(input.dtype);
  const size_t outBytes = dtypeBytes(output.dtype);
  for (int64_t r = 0; r < input.rows; ++r) {
    convertToF32(static_cast<const uint8_t *>(input.data) +
                     r * input.rowStride * inBytes,
                 input.dtype, row.data(), cols);
    // Two passes (mean, then squared deviations): no cancellation.
    float sum = 0.0f;
    for (int64_t i = 0; i < cols; ++i)
      sum += row[i];
    float mean = sum / static_cast<float>(cols);
    float squares = 0.0f;
    for (int64_t i = 0; i < cols; ++i)
      squares += (row[i] - mean) * (row[i] - mean);
    float inverseStd =
        1.0f / std::sqrt(squares / static_cast<float>(cols) + epsilon);
    for (int64_t i = 0; i < cols; ++i)
      row[i] = (row[i] - mean) * inverseStd * gain[i] + shift[i];
    convertFromF32(row.data(),
                   static_cast<uint8_t *>(output.data) +
                       r * output.rowStride * outBytes,
                   output.dtype, cols);
  }
}

//===----------------------------------------------------------------------===//
// Elementwise and softmax
//===----------------------------------------------------------------------===//

void silu(const void *input, DType inputDType, void *output, DType outputDType,
          int64_t count) {
  mapChunks(input, inputDType, output, outputDType, count,
            [](float *chunk, int64_t n, int64_t) {
              for (int64_t i = 0; i < n; ++i)
                chunk[i] = siluScalar(chunk[i]);
            });
}

void gelu(const void *input, DType inputDType, void *output, DType outputDType,
          int64_t count, GeluApproximation approximation) {
  if (approximation == GeluApproximation::Tanh) {
    mapChunks(input, inputDType, output, outputDType, count,
              [](float *chunk, int64_t n, int64_t) {
                const float kSqrt2OverPi = 0.7978845608028654f;
                for (int64_t i = 0; i < n; ++i) {
                  float x = chunk[i];
                  float inner = kSqrt2OverPi * (x + 0.044715f * x * x * x);
                  chunk[i] = 0.5f * x * (1.0f + std::tanh(inner));
                }
              });
    return;
  }
  mapChunks(input, inputDType, output, outputDType, count,
            [](float *chunk, int64_t n, int64_t) {
              const float kInvSqrt2 = 0.7071067811865476f;
              for (int64_t i = 0; i < n; ++i)
                chunk[i] =
                    0.5f * chunk[i] * (1.0f + std::erf(chunk[i] * kInvSqrt2));
            });
}

void scale(const void *input, DType inputDType, float factor, void *output,
           DType outputDType, int64_t count) {
  mapChunks(input, inputDType, output, outputDType, count,
            [factor](float *chunk, int64_t n, int64_t) {
              for (int64_t i = 0; i < n; ++i)
                chunk[i] *= factor;
            });
}

void add(const void *lhs, const void *rhs, DType inputDType, void *output,
         DType outputDType, int64_t count) {
  binaryOp(lhs, rhs, inputDType, output, outputDType, count,
           [](float a, float b) { return a + b; });
}

void mul(const void *lhs, const void *rhs, DType inputDType, void *output,
         DType outputDType, int64_t count) {
  binaryOp(lhs, rhs, inputDType, output, outputDType, count,
           [](float a, float b) { return a * b; });
}

void siluMul(const void *gate, const void *up, DType inputDType, void *output,
             DType outputDType, int64_t count) {
  binaryOp(gate, up, inputDType, output, outputDType, count,
           [](float g, float u) { return siluScalar(g) * u; });
}

void softmax(const ConstMatrixView &input, const MatrixView &output) {
  const int64_t cols = input.cols;
  std::vector<float> row(static_cast<size_t>(cols));
  const size_t inBytes = dtypeBytes(input.dtype);
  const size_t outBytes = dtypeBytes(output.dtype);
  for (int64_t r = 0; r < input.rows; ++r) {
    convertToF32(static_cast<const uint8_t *>(input.data) +
                     r * input.rowStride * inBytes,
                 input.dtype, row.data(), cols);
    float maximum = -INFINITY;
    for (float v : row)
      maximum = std::max(maximum, v);
    float sum = 0.0f;
    for (float &v : row) {
      v = std::exp(v - maximum);
      sum += v;
    }
    float inverse = 1.0f / sum;
    for (float &v : row)
      v *= inverse;
    convertFromF32(row.data(),
                   static_cast<uint8_t *>(output.data) +
                       r * output.rowStride * outBytes,
                   output.dtype, cols);
  }
}

} // namespace llmc::cpu
