//===- FusedKernels.cpp - the CPU kernels of llm-fuse's groups ------------===//

#include "runtime/backends/cpu/FusedKernels.h"

#include "runtime/support/Quantize.h"

#include "runtime/kv_cache/KVCache.h"
#include "runtime/support/Float8.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace llmc::cpu {

namespace {

const uint8_t *rowOf(const ConstMatrixView &view, int64_t row) {
  return static_cast<const uint8_t *>(view.data) +
         row * view.rowStride * dtypeBytes(view.dtype);
}
uint8_t *rowOf(const MatrixView &view, int64_t row) {
  return static_cast<uint8_t *>(view.data) +
         row * view.rowStride * dtypeBytes(view.dtype);
}

/// Rounds f32 values to `dtype` and back: the value an unfused step would
/// have stored and its successor read.
void roundThrough(float *values, int64_t count, DType dtype) {
  if (dtype == DType::F32)
    return;
  uint16_t stored[512];
  for (int64_t offset = 0; offset < count; offset += 512) {
    int64_t n = std::min<int64_t>(512, count - offset);
    convertFromF32(values + offset, stored, dtype, n);
    convertToF32(stored, dtype, values + offset, n);
  }
}

std::vector<float> gainOf(const void *weight, DType weightDType, int64_t cols,
                          float weightOffset) {
  std::vector<float> gain(static_cast<size_t>(cols));
  convertToF32(weight, weightDType, gain.data(), cols);
  for (float &g : gain)
    g += weightOffset;
  return gain;
}

uint8_t *rowOf(const QuantizedMatrixView &view, int64_t row) {
  return static_cast<uint8_t *>(view.data) + row * view.rowStride;
}
float scaleOf(const QuantizedMatrixView &view, int64_t row) {
  return view.scalePerRow ? view.scales[row] : view.scales[0];
}

/// Shared body of the norm kernels: `b` and `sum` are null without the add;
/// `store` writes one normalized f32 row.
template <typename Store>
void addRmsNormRows(const ConstMatrixView &a, const ConstMatrixView *b,
                    const void *weight, DType weightDType, float epsilon,
                    const MatrixView *sum, float weightOffset, Store store) {
  const int64_t cols = a.cols;
  std::vector<float> gain = gainOf(weight, weightDType, cols, weightOffset);
  std::vector<float> row(static_cast<size_t>(cols)), other(row.size());
  for (int64_t r = 0; r < a.rows; ++r) {
    convertToF32(rowOf(a, r), a.dtype, row.data(), cols);
    if (b) {
      convertToF32(rowOf(*b, r), b->dtype, other.data(), cols);
      for (int64_t c = 0; c < cols; ++c)
        row[c] += other[c];
      convertFromF32(row.data(), rowOf(*sum, r), sum->dtype, cols);
      roundThrough(row.data(), cols, sum->dtype);
    }
    rmsNormalizeRow(row.data(), cols, gain.data(), epsilon);
    store(r, row.data());
  }
}

/// act(gate) in place on a f32 chunk, through the unfused kernels so that
/// the math is theirs.
void activateChunk(float *values, int64_t count, GatedActivation activation) {
  switch (activation) {
  case GatedActivation::Silu:
    silu(values, DType::F32, values, DType::F32, count);
    return;
  case GatedActivation::Gelu:
    gelu(values, DType::F32, values, DType::F32, count,
         GeluApproximation::None);
    return;
  case GatedActivation::GeluTanh:
    gelu(values, DType::F32, values, DType::F32, count,
         GeluApproximation::Tanh);
    return;
  }
}

/// Gated rows: `store(r, row)` receives act(gate) * up in f32.
template <typename Store>
void gatedRows(const ConstMatrixView &packed, int64_t cols,
               GatedActivation activation, Store store) {
  std::vector<float> gate(static_cast<size_t>(cols)), up(gate.size());
  const size_t bytes = dtypeBytes(packed.dtype);
  for (int64_t r = 0; r < packed.rows; ++r) {
    const uint8_t *row = rowOf(packed, r);
    convertToF32(row, packed.dtype, gate.data(), cols);
    convertToF32(row + cols * bytes, packed.dtype, up.data(), cols);
    activateChunk(gate.data(), cols, activation);
    roundThrough(gate.data(), cols, packed.dtype);
    for (int64_t c = 0; c < cols; ++c)
      gate[c] *= up[c];
    store(r, gate.data());
  }
}

} // namespace

void quantizeRow(const float *row, int64_t cols, float scale, QuantDType dtype,
                 void *output) {
  auto *out = static_cast<uint8_t *>(output);
  switch (dtype) {
  case QuantDType::I8:
    for (int64_t c = 0; c < cols; ++c)
      out[c] = static_cast<uint8_t>(numeric::quantizeInt8(row[c], scale));
    return;
  case QuantDType::I4:
    for (int64_t c = 0; c + 1 < cols; c += 2)
      out[c / 2] =
          numeric::packInt4Pair(numeric::quantizeInt4(row[c], scale),
                                numeric::quantizeInt4(row[c + 1], scale));
    if (cols % 2)
      out[cols / 2] =
          numeric::packInt4Pair(numeric::quantizeInt4(row[cols - 1], scale), 0);
    return;
  case QuantDType::F8E4M3FN:
  case QuantDType::F8E5M2:
    for (int64_t c = 0; c < cols; ++c)
      out[c] = numeric::quantizeFp8(row[c], scale,
                                    dtype == QuantDType::F8E4M3FN
                                        ? numeric::Fp8Format::E4M3FN
                                        : numeric::Fp8Format::E5M2);
    return;
  }
}

void addRmsNorm(const ConstMatrixView &a, const ConstMatrixView &b,
                const void *weight, DType weightDType, float epsilon,
                const MatrixView &sum, const MatrixView &output,
                float weightOffset) {
  addRmsNormRows(a, &b, weight, weightDType, epsilon, &sum, weightOffset,
                 [&](int64_t r, const float *row) {
                   convertFromF32(row, rowOf(output, r), output.dtype, a.cols);
                 });
}

void addRmsNormQuantized(const ConstMatrixView &a, const ConstMatrixView &b,
                         const void *weight, DType weightDType, float epsilon,
                         const MatrixView &sum,
                         const QuantizedMatrixView &output,
                         float weightOffset) {
  addRmsNormRows(a, &b, weight, weightDType, epsilon, &sum, weightOffset,
                 [&](int64_t r, const float *row) {
                   quantizeRow(row, a.cols, scaleOf(output, r), output.dtype,
                               rowOf(output, r));
                 });
}

void rmsNormAddRmsNorm(const ConstMatrixView &branch, const void *branchWeight,
                       float branchEpsilon, const ConstMatrixView &residual,
                       const void *weight, DType weightDType, float epsilon,
                       const MatrixView &sum, const MatrixView &output) {
  const int64_t cols = branch.cols;
  std::vector<float> branchGain = gainOf(branchWeight, weightDType, cols, 0);
  std::vector<float> gain = gainOf(weight, weightDType, cols, 0);
  std::vector<float> row(static_cast<size_t>(cols)), other(row.size());
  for (int64_t r = 0; r < branch.rows; ++r) {
    convertToF32(rowOf(branch, r), branch.dtype, row.data(), cols);
    rmsNormalizeRow(row.data(), cols, branchGain.data(), branchEpsilon);
    roundThrough(row.data(), cols, branch.dtype);
    convertToF32(rowOf(residual, r), residual.dtype, other.data(), cols);
    for (int64_t c = 0; c < cols; ++c)
      row[c] = other[c] + row[c];
    convertFromF32(row.data(), rowOf(sum, r), sum.dtype, cols);
    roundThrough(row.data(), cols, sum.dtype);
    rmsNormalizeRow(row.data(), cols, gain.data(), epsilon);
    convertFromF32(row.data(), rowOf(output, r), output.dtype, cols);
  }
}

void addRmsNormQuantizeDynamic(const ConstMatrixView &a,
                               const ConstMatrixView *b, const void *weight,
                               DType weightDType, float epsilon,
                               const MatrixView *sum, DType normDType,
                               void *output, QuantDType outputDType,
                               float *scales, float weightOffset) {
  const int64_t cols = a.cols;
  const size_t rowBytes = outputDType == QuantDType::I4
                              ? (cols + 1) / 2
                              : static_cast<size_t>(cols);
  addRmsNormRows(a, b, weight, weightDType, epsilon, sum, weightOffset,
                 [&](int64_t r, float *row) {
                   roundThrough(row, cols, normDType);
                   // One row through the unfused kernel: the same amax,
                   // scale and codes.
                   quantizeDynamic(constMatrix(row, DType::F32, 1, cols),
                                   static_cast<uint8_t *>(output) +
                                       r * rowBytes,
                                   outputDType, scales + r);
                 });
}

void rmsNormQuantized(const ConstMatrixView &input, const void *weight,
                      DType weightDType, float epsilon,
                      const QuantizedMatrixView &output, float weightOffset) {
  addRmsNormRows(input, nullptr, weight, weightDType, epsilon, nullptr,
                 weightOffset, [&](int64_t r, const float *row) {
                   quantizeRow(row, input.cols, scaleOf(output, r),
                               output.dtype, rowOf(output, r));
                 });
}

void gatedActivation(const ConstMatrixView &packed, GatedActivation activation,
                     const MatrixView &output) {
  gatedRows(packed, output.cols, activation, [&](int64_t r, const float *row) {
    convertFromF32(row, rowOf(output, r), output.dtype, output.cols);
  });
}

void gatedActivationQuantized(const ConstMatrixView &packed,
                              GatedActivation activation,
                              const QuantizedMatrixView &output) {
  gatedRows(packed, output.cols, activation, [&](int64_t r, const float *row) {
    quantizeRow(row, output.cols, scaleOf(output, r), output.dtype,
                rowOf(output, r));
  });
}

namespace {

ConstMatrixView linearIntoScratch(const ConstMatrixView &input,
                                  const ConstMatrixView &weight,
                                  std::vector<float> &scratch,
                                  ThreadPool *pool) {
  scratch.resize(static_cast<size_t>(input.rows * weight.rows));
  MatrixView accumulators =
      matrix(scratch.data(), DType::F32, input.rows, weight.rows);
  linear(input, weight, nullptr, DType::F32, accumulators, pool);
  return accumulators;
}

} // namespace

void linearGatedActivation(const ConstMatrixView &input,
                           const ConstMatrixView &weight,
                           GatedActivation activation, const MatrixView &output,
                           std::vector<float> &scratch, ThreadPool *pool) {
  gatedActivation(linearIntoScratch(input, weight, scratch, pool), activation,
                  output);
}

void linearGatedActivationQuantized(const ConstMatrixView &input,
                                    const ConstMatrixView &weight,
                                    GatedActivation activation,
                                    const QuantizedMatrixView &output,
                                    std::vector<float> &scratch,
                                    ThreadPool *pool) {
  gatedActivationQuantized(linearIntoScratch(input, weight, scratch, pool),
                           activation, output);
}

void linearAccumulate(const ConstMatrixView &input,
                      const ConstMatrixView &weight, float alpha, float beta,
                      const MatrixView &output, std::vector<float> &scratch,
                      ThreadPool *pool) {
  linearIntoScratch(input, weight, scratch, pool);
  std::vector<float> previous(static_cast<size_t>(output.cols));
  for (int64_t r = 0; r < output.rows; ++r) {
    float *row = scratch.data() + r * output.cols;
    if (beta != 0.0f) {
      convertToF32(rowOf(output, r), output.dtype, previous.data(),
                   output.cols);
      for (int64_t c = 0; c < output.cols; ++c)
        row[c] = alpha * row[c] + beta * previous[c];
    } else if (alpha != 1.0f) {
      for (int64_t c = 0; c < output.cols; ++c)
        row[c] *= alpha;
    }
    convertFromF32(row, rowOf(output, r), output.dtype, output.cols);
  }
}

void accumulateProduct(const float *product, float beta,
                       const MatrixView &output) {
  std::vector<float> row(static_cast<size_t>(output.cols));
  for (int64_t r = 0; r < output.rows; ++r) {
    const float *products = product + r * output.cols;
    convertToF32(rowOf(output, r), output.dtype, row.data(), output.cols);
    // The same f32 sum the unfused add computes from the stored product
    // (in f32; one rounding fewer in f16/bf16).
    for (int64_t c = 0; c < output.cols; ++c)
      row[c] = products[c] + beta * row[c];
    convertFromF32(row.data(), rowOf(output, r), output.dtype, output.cols);
  }
}

Status ropeKVWrite(const PackedQKV &qkv, const int32_t *positions,
                   const RopeFrequencies &frequencies, RopeStyle style,
                   const QKNorm &norm, kv::PagedKVCache &cache, int64_t layer,
                   const AttentionBatch &batch, const HeadsView &query,
                   std::vector<uint8_t> &scratch) {
  const int64_t tokens = qkv.tokens, headDim = qkv.headDim;
  const int64_t kvWidth = qkv.numKVHeads * headDim;
  const size_t bytes = dtypeBytes(qkv.dtype);
  scratch.resize(static_cast<size_t>(2 * tokens * kvWidth) * bytes);
  uint8_t *keys = scratch.data();
  uint8_t *values = keys + tokens * kvWidth * bytes;
  const auto *packed = static_cast<const uint8_t *>(qkv.data);
  auto part = [&](int64_t firstHead, int64_t numHeads) {
    return HeadsView{const_cast<uint8_t *>(packed) +
                         firstHead * headDim * bytes,
                     qkv.dtype,
                     tokens,
                     numHeads,
                     headDim,
                     qkv.rowStride,
                     headDim};
  };
  HeadsView keyView = heads(keys, qkv.dtype, tokens, qkv.numKVHeads, headDim);
  HeadsView queryPart = part(0, qkv.numHeads);
  HeadsView keyPart = part(qkv.numHeads, qkv.numKVHeads);
  if (norm.queryWeight) {
    // Per-head RMSNorm first, stored as the unfused rms_norm step stores it;
    // RoPE then rotates in place.
    auto normalizeHeads = [&](const HeadsView &from, const void *weight,
                              const HeadsView &to) {
      for (int64_t t = 0; t < tokens; ++t)
        rmsNorm(ConstMatrixView(static_cast<const uint8_t *>(from.data) +
                                    t * from.tokenStride * bytes,
                                from.dtype, from.heads, headDim,
                                from.headStride),
                weight, norm.dtype, norm.epsilon,
                MatrixView{static_cast<uint8_t *>(to.data) +
                               t * to.tokenStride * dtypeBytes(to.dtype),
                           to.dtype, to.heads, headDim, to.headStride});
    };
    normalizeHeads(queryPart, norm.queryWeight, query);
    normalizeHeads(keyPart, norm.keyWeight, keyView);
    rope(query, positions, frequencies, style, query);
    rope(keyView, positions, frequencies, style, keyView);
  } else {
    rope(queryPart, positions, frequencies, style, query);
    rope(keyPart, positions, frequencies, style, keyView);
  }
  const uint8_t *valuePart =
      packed + (qkv.numHeads + qkv.numKVHeads) * headDim * bytes;
  for (int64_t t = 0; t < tokens; ++t)
    std::memcpy(values + t * kvWidth * bytes,
                valuePart + t * qkv.rowStride * bytes, kvWidth * bytes);
  for (int64_t s = 0; s < batch.numSequences; ++s) {
    int64_t begin = batch.queryStart[s];
    int64_t count = batch.queryStart[s + 1] - begin;
    if (count == 0)
      continue;
    if (Status status =
            cache.append(layer, batch.sequenceIds[s], batch.positions + begin,
                         count, keys + begin * kvWidth * bytes,
                         values + begin * kvWidth * bytes, qkv.dtype, kvWidth);
        !status)
      return status;
  }
  return Status::success();
}

bool parseElementwiseProgram(const std::string &text, int64_t numInputs,
                             std::vector<ElementwiseInstruction> &program,
                             std::string &error) {
  program.clear();
  size_t at = 0;
  auto fail = [&](const std::string &message) {
    error = "program '" + text + "': " + message;
    return false;
  };
  while (at < text.size()) {
    size_t end = text.find(';', at);
    if (end == std::string::npos)
      end = text.size();
    std::string instruction = text.substr(at, end - at);
    at = end + 1;
    // t<j>:<type>=<op>(<operands>)
    size_t colon = instruction.find(':'), equals = instruction.find('=');
    size_t open = instruction.find('('), close = instruction.rfind(')');
    if (colon == std::string::npos || equals == std::string::npos ||
        open == std::string::npos || close == std::string::npos ||
        !(colon < equals && equals < open && open < close))
      return fail("malformed instruction '" + instruction + "'");
    if (instruction.substr(0, colon) != "t" + std::to_string(program.size()))
      return fail("instruction '" + instruction + "' is out of order");
    ElementwiseInstruction parsed;
    std::string type = instruction.substr(colon + 1, equals - colon - 1);
    if (type == "f32")
      parsed.resultDType = DType::F32;
    else if (type == "f16")
      parsed.resultDType = DType::F16;
    else if (type == "bf16")
      parsed.resultDType = DType::BF16;
    else
      return fail("unknown type '" + type + "'");
    std::string op = instruction.substr(equals + 1, open - equals - 1);
    using Op = ElementwiseInstruction::Op;
    int arity = 1;
    bool constant = false;
    if (op == "add")
      parsed.op = Op::Add, arity = 2;
    else if (op == "mul")
      parsed.op = Op::Mul, arity = 2;
    else if (op == "silu")
      parsed.op = Op::Silu;
    else if (op == "gelu")
      parsed.op = Op::Gelu;
    else if (op == "gelu_tanh")
      parsed.op = Op::GeluTanh;
    else if (op == "scale")
      parsed.op = Op::Scale, constant = true;
    else if (op == "convert")
      parsed.op = Op::Convert;
    else
      return fail("unknown op '" + op + "'");
    std::vector<std::string> operands;
    std::string list = instruction.substr(open + 1, close - open - 1);
    for (size_t from = 0; from <= list.size();) {
      size_t comma = list.find(',', from);
      if (comma == std::string::npos)
        comma = list.size();
      operands.push_back(list.substr(from, comma - from));
      from = comma + 1;
    }
    if (static_cast<int>(operands.size()) != arity + (constant ? 1 : 0))
      return fail("'" + op + "' takes " + std::to_string(arity) +
                  " operand(s)");
    for (int i = 0; i < arity; ++i) {
      const std::string &name = operands[i];
      char *stop = nullptr;
      long index =
          name.size() > 1 ? std::strtol(name.c_str() + 1, &stop, 10) : -1;
      if (index < 0 || !stop || *stop)
        return fail("bad operand '" + name + "'");
      if (name[0] == 'i' && index < numInputs)
        parsed.operands[i] = -1 - static_cast<int>(index);
      else if (name[0] == 't' && index < static_cast<long>(program.size()))
        parsed.operands[i] = static_cast<int>(index);
      else
        return fail("operand '" + name + "' names nothing defined");
    }
    parsed.numOperands = arity;
    if (constant) {
      char *stop = nullptr;
      // As the unfused step: the double parameter, then f32.
      parsed.constant =
          static_cast<float>(std::strtod(operands[arity].c_str(), &stop));
      if (!stop || *stop)
        return fail("bad constant '" + operands[arity] + "'");
    }
    program.push_back(parsed);
  }
  if (program.empty())
    return fail("no instructions");
  return true;
}

void elementwise(const std::vector<ElementwiseInstruction> &program,
                 const std::vector<const void *> &inputs,
                 const std::vector<DType> &inputDTypes, void *output,
                 DType outputDType, int64_t count) {
  constexpr int64_t kChunk = 256;
  std::vector<float> loaded(inputs.size() * kChunk);
  std::vector<float> results(program.size() * kChunk);
  for (int64_t offset = 0; offset < count; offset += kChunk) {
    int64_t n = std::min(kChunk, count - offset);
    for (size_t i = 0; i < inputs.size(); ++i)
      convertToF32(static_cast<const uint8_t *>(inputs[i]) +
                       offset * dtypeBytes(inputDTypes[i]),
                   inputDTypes[i], loaded.data() + i * kChunk, n);
    auto operand = [&](int index) {
      return index < 0 ? loaded.data() + (-1 - index) * kChunk
                       : results.data() + index * kChunk;
    };
    for (size_t j = 0; j < program.size(); ++j) {
      const ElementwiseInstruction &instruction = program[j];
      float *out = results.data() + j * kChunk;
      const float *x = operand(instruction.operands[0]);
      using Op = ElementwiseInstruction::Op;
      switch (instruction.op) {
      case Op::Add:
        add(x, operand(instruction.operands[1]), DType::F32, out, DType::F32,
            n);
        break;
      case Op::Mul:
        mul(x, operand(instruction.operands[1]), DType::F32, out, DType::F32,
            n);
        break;
      case Op::Silu:
        silu(x, DType::F32, out, DType::F32, n);
        break;
      case Op::Gelu:
        gelu(x, DType::F32, out, DType::F32, n, GeluApproximation::None);
        break;
      case Op::GeluTanh:
        gelu(x, DType::F32, out, DType::F32, n, GeluApproximation::Tanh);
        break;
      case Op::Scale:
        scale(x, DType::F32, instruction.constant, out, DType::F32, n);
        break;
      case Op::Convert:
        std::memcpy(out, x, n * sizeof(float));
        break;
      }
      roundThrough(out, n, instruction.resultDType);
    }
    convertFromF32(results.data() + (program.size() - 1) * kChunk,
                   static_cast<uint8_t *>(output) +
                       offset * dtypeBytes(outputDType),
                   outputDType, n);
  }
}

} // namespace llmc::cpu
