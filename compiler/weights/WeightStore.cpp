//===- WeightStore.cpp - recording transforms and applying them on demand
//--===//

#include "compiler/weights/WeightStore.h"
#include "compiler/weights/Fp8Encode.h"
#include "compiler/weights/Gguf.h"
#include "compiler/weights/Safetensors.h"
#include "compiler/weights/Support.h"

#include "runtime/support/Float8.h"
#include "runtime/support/Quantize.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Endian.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>

namespace llmc::weights {

using detail::makeError;

namespace {

enum class TransformKind {
  Convert,
  Transpose,
  Slice,
  UnpermuteQK,
  AddConstant,
  Quantize,
  ScaleColumns,
  DivideVector,
  DivideRows
};

struct QuantState;

struct Transform {
  TransformKind kind;
  DType target = DType::F32;
  int64_t axis = 0;
  int64_t begin = 0;
  int64_t end = 0;
  int64_t numHeads = 0;
  float constant = 0.0f;
  /// Quantize: the scheme, the input snapshot and the cached scales.
  std::shared_ptr<QuantState> quant;
  /// ScaleColumns / DivideVector / DivideRows: the factors' group.
  std::shared_ptr<WeightStore::SmoothGroup> smooth;
};

uint64_t product(llvm::ArrayRef<int64_t> dims) {
  uint64_t count = 1;
  for (int64_t dim : dims)
    count *= static_cast<uint64_t>(dim);
  return count;
}

/// Bytes one index of `axis` spans (the sub-tensor below it), or nullopt when
/// that would split a quantized block (the innermost axis of a block type).
std::optional<uint64_t> getAxisStrideBytes(const WeightDesc &desc,
                                           int64_t axis) {
  return getStorageBytes(
      desc.dtype, product(llvm::ArrayRef(desc.shape).drop_front(axis + 1)));
}

/// A tensor during materialization: its description and bytes, which either
/// view the mapped file or live in `storage`.
struct Value {
  WeightDesc desc;
  llvm::ArrayRef<uint8_t> bytes;
  std::vector<uint8_t> storage;
};

void setOwned(Value &value, std::vector<uint8_t> storage) {
  value.storage = std::move(storage);
  value.bytes = value.storage;
}

// Elements decoded per step when converting to 16-bit floats: a multiple of
// every block size, small enough to stay in cache.
constexpr uint64_t kConvertChunkElements = 16384;

void encodeFromF32(DType target, const float *src, uint8_t *dst,
                   uint64_t count) {
  using namespace llvm::support::endian;
  for (uint64_t i = 0; i < count; ++i) {
    uint16_t bits =
        target == DType::F16 ? floatToHalf(src[i]) : floatToBFloat16(src[i]);
    write16le(dst + 2 * i, bits);
  }
}

/// Decodes a whole float tensor to f32.
std::vector<float> decodeAll(const Value &in) {
  std::vector<float> values(in.desc.getNumElements());
  decodeToF32(in.desc.dtype, in.bytes, values.data(), values.size());
  return values;
}

/// Writes f32 values back as F32, F16 or BF16 (rounding to nearest even).
void encodeFloats(DType target, const std::vector<float> &values,
                  uint8_t *out) {
  if (target == DType::F32) {
    std::memcpy(out, values.data(), values.size() * sizeof(float));
    return;
  }
  encodeFromF32(target, values.data(), out, values.size());
}

// Values decoded per step by the quantization and smoothing transforms: the
// f32 scratch stays around a megabyte however large the weight.
constexpr uint64_t kRowChunkElements = uint64_t(1) << 18;

/// Calls `fn(firstRow, rowCount, values)` over the `rows` x `columns` values
/// stored as `dtype` in `bytes`, decoding a few rows at a time (all of them
/// at once when a row does not end on a block boundary).
void forEachRowChunk(
    DType dtype, llvm::ArrayRef<uint8_t> bytes, uint64_t rows, uint64_t columns,
    llvm::function_ref<void(uint64_t, uint64_t, const float *)> fn) {
  if (rows == 0 || columns == 0)
    return;
  std::optional<uint64_t> rowBytes = getStorageBytes(dtype, columns);
  uint64_t chunkRows =
      rowBytes ? std::max<uint64_t>(1, kRowChunkElements / columns) : rows;
  chunkRows = std::min(chunkRows, rows);
  std::vector<float> chunk(chunkRows * columns);
  for (uint64_t first = 0; first < rows; first += chunkRows) {
    uint64_t count = std::min(chunkRows, rows - first);
    decodeToF32(dtype,
                rowBytes ? bytes.slice(first * *rowBytes, count * *rowBytes)
                         : bytes,
                chunk.data(), count * columns);
    fn(first, count, chunk.data());
  }
}

/// Writes `count` f32 values as F32, F16 or BF16 at `out`.
void encodeFloatsAt(DType target, const float *values, uint64_t count,
                    uint8_t *out) {
  if (target == DType::F32) {
    std::memcpy(out, values, count * sizeof(float));
    return;
  }
  encodeFromF32(target, values, out, count);
}

void applyConvert(const Value &in, DType target, uint8_t *out) {
  uint64_t count = in.desc.getNumElements();
  if (target == DType::F32) {
    decodeToF32(in.desc.dtype, in.bytes, reinterpret_cast<float *>(out), count);
    return;
  }
  const DTypeInfo &info = getDTypeInfo(in.desc.dtype);
  std::vector<float> chunk(std::min<uint64_t>(count, kConvertChunkElements));
  for (uint64_t first = 0; first < count; first += kConvertChunkElements) {
    uint64_t n = std::min<uint64_t>(count - first, kConvertChunkElements);
    uint64_t srcOffset = first / info.blockElements * info.blockBytes;
    decodeToF32(
        in.desc.dtype,
        in.bytes.slice(srcOffset, n / info.blockElements * info.blockBytes),
        chunk.data(), n);
    encodeFromF32(target, chunk.data(), out + 2 * first, n);
  }
}

void applyTranspose(const Value &in, uint8_t *out) {
  const uint64_t rows = in.desc.shape[0], cols = in.desc.shape[1];
  const unsigned elementBytes = getDTypeInfo(in.desc.dtype).blockBytes;
  const uint8_t *src = in.bytes.data();
  // Tiles keep both the reads and the writes within a few cache lines.
  constexpr uint64_t kTile = 32;
  for (uint64_t r0 = 0; r0 < rows; r0 += kTile)
    for (uint64_t c0 = 0; c0 < cols; c0 += kTile)
      for (uint64_t r = r0; r < std::min(rows, r0 + kTile); ++r)
        for (uint64_t c = c0; c < std::min(cols, c0 + kTile); ++c)
          std::memcpy(out + (c * rows + r) * elementBytes,
                      src + (r * cols + c) * elementBytes, elementBytes);
}

void applySlice(const Value &in, const Transform &t, uint8_t *out) {
  uint64_t stride = *getAxisStrideBytes(in.desc, t.axis);
  uint64_t outer = product(llvm::ArrayRef(in.desc.shape).take_front(t.axis));
  uint64_t axisLength = in.desc.shape[t.axis];
  uint64_t keptBytes = (t.end - t.begin) * stride;
  for (uint64_t o = 0; o < outer; ++o)
    std::memcpy(out + o * keptBytes,
                in.bytes.data() + (o * axisLength + t.begin) * stride,
                keptBytes);
}

// convert_hf_to_gguf.py's permute(w, n_head) reshapes the rows of each head
// as [2, headDim/2] and swaps the two axes, so GGUF row h*headDim + 2*i + j
// holds Hugging Face row h*headDim + j*headDim/2 + i. Reading it back swaps
// the other way.
void applyUnpermuteQK(const Value &in, int64_t numHeads, uint8_t *out) {
  uint64_t stride = *getAxisStrideBytes(in.desc, 0);
  uint64_t headDim = in.desc.shape[0] / numHeads, half = headDim / 2;
  for (int64_t h = 0; h < numHeads; ++h)
    for (uint64_t j = 0; j < 2; ++j)
      for (uint64_t i = 0; i < half; ++i)
        std::memcpy(out + (h * headDim + j * half + i) * stride,
                    in.bytes.data() + (h * headDim + 2 * i + j) * stride,
                    stride);
}

void applyAddConstant(const Value &in, float constant, uint8_t *out) {
  using namespace llvm::support::endian;
  uint64_t count = in.desc.getNumElements();
  const uint8_t *src = in.bytes.data();
  for (uint64_t i = 0; i < count; ++i) {
    switch (in.desc.dtype) {
    case DType::F32: {
      float sum = llvm::bit_cast<float>(read32le(src + 4 * i)) + constant;
      write32le(out + 4 * i, llvm::bit_cast<uint32_t>(sum));
      break;
    }
    case DType::F16:
      write16le(out + 2 * i,
                floatToHalf(halfToFloat(read16le(src + 2 * i)) + constant));
      break;
    default: // BF16; the transform was checked when recorded.
      write16le(
          out + 2 * i,
          floatToBFloat16(bfloat16ToFloat(read16le(src + 2 * i)) + constant));
      break;
    }
  }
}

} // namespace

/// A weight: where its values come from and what happens to them.
struct WeightStore::Node {
  std::string name;
  /// Either a source tensor...
  const TensorView *source = nullptr;
  /// ...or a concatenation of snapshots of other weights.
  std::vector<Node> parts;
  int64_t concatAxis = 0;
  /// ...or derived from other weights: quantization scales or zero points
  /// (`quantOf`), or a calibrated activation scale.
  enum class Derived { None, QuantScales, QuantZeroPoints, ActivationScale };
  Derived derived = Derived::None;
  std::shared_ptr<QuantState> quantOf;
  float activationAbsMax = 0.0f;
  float activationQuantMax = 1.0f;
  std::shared_ptr<SmoothGroup> activationSmoothedBy;
  /// Before and after the transforms.
  WeightDesc baseDesc;
  WeightDesc desc;
  std::vector<Transform> transforms;
};

/// The factors of one SmoothQuant norm and the linears it feeds, computed
/// from snapshots of those linears the first time a member is read.
struct WeightStore::SmoothGroup {
  std::vector<Node> linears;
  /// Per factor: the calibrated max |x_j| of the activation it divides.
  std::vector<float> activationAbsMax;
  /// The factor of each column of the linears; empty: column j has factor j.
  /// Several columns share a factor when one V channel feeds the attention
  /// outputs of several query heads (GQA).
  std::vector<uint32_t> columnFactor;
  float alpha = 0.5f;
  float minFactor = 1e-5f;
  // `materialize` is const and may one day run on several threads: the
  // factors are computed once, under the lock.
  mutable std::mutex mutex;
  mutable bool computed = false;
  mutable std::vector<float> factors;

  const std::vector<float> &getFactors() const;
};

namespace {

/// Rounds half to even (the default floating-point rounding mode of
/// std::nearbyint) and saturates to [lowest, highest]; NaN gives 0.
int32_t roundHalfEvenSaturate(float value, int32_t lowest, int32_t highest) {
  if (std::isnan(value))
    return 0;
  float rounded = std::nearbyint(value);
  if (rounded <= static_cast<float>(lowest))
    return lowest;
  if (rounded >= static_cast<float>(highest))
    return highest;
  return static_cast<int32_t>(rounded);
}

/// The integer quantization of one value, q = saturate(round_half_even(x /
/// scale) + zero): division, not multiplication by a reciprocal, as the
/// contract says. Kept in one place so that it can become the shared
/// runtime/support version the runtime's kernels use.
int32_t quantizeInteger(float x, float scale, int32_t zero, int32_t lowest,
                        int32_t highest) {
  float q = x / scale;
  if (std::isnan(q))
    return std::clamp(zero, lowest, highest);
  return roundHalfEvenSaturate(std::nearbyint(q) + static_cast<float>(zero),
                               lowest, highest);
}

int32_t getQuantMin(DType dtype) { return dtype == DType::I4 ? -8 : -128; }

/// One weight's quantization: the scheme, a snapshot of the weight just
/// before it (to compute the scales from when they are read first), and the
/// scales and zero points once computed.
struct QuantState {
  QuantScheme scheme;
  int64_t rows = 0, columns = 0;
  WeightStore::Node input;
  // Computed once, under the lock (see SmoothGroup).
  std::mutex mutex;
  bool computed = false;
  std::vector<float> scales;
  std::vector<int8_t> zeroPoints;
  /// GPTQ: the column scalings recorded on the weight before this
  /// quantization (its inputs are x_j / s_j), and the quantized weight when
  /// the scales were read first (GPTQ computes both at once).
  std::vector<std::shared_ptr<WeightStore::SmoothGroup>> inputScalings;
  std::vector<uint8_t> pendingOutput;

  int64_t getBlockColumns() const {
    switch (scheme.granularity) {
    case QuantGranularity::PerTensor:
      return rows * columns;
    case QuantGranularity::PerChannel:
      return columns;
    case QuantGranularity::Group:
      return scheme.groupSize;
    }
    return columns;
  }
  /// The block of element (row, column).
  int64_t getBlock(int64_t row, int64_t column) const {
    switch (scheme.granularity) {
    case QuantGranularity::PerTensor:
      return 0;
    case QuantGranularity::PerChannel:
      return row;
    case QuantGranularity::Group:
      return row * (columns / scheme.groupSize) + column / scheme.groupSize;
    }
    return 0;
  }
  int64_t getNumBlocks() const {
    return scheme.granularity == QuantGranularity::PerTensor
               ? 1
               : rows * columns / getBlockColumns();
  }

  /// Computes the scales (and zero points) from the weight's values stored
  /// as `dtype` in `bytes`, unless they are known already.
  void computeScales(DType dtype, llvm::ArrayRef<uint8_t> bytes);
  void computeScalesLocked(DType dtype, llvm::ArrayRef<uint8_t> bytes);
  /// GPTQ: computes the scales and the quantized weight into
  /// `pendingOutput` (under the lock), unless known already.
  void roundWithGptqLocked(DType dtype, llvm::ArrayRef<uint8_t> bytes);
  /// computeScales from the snapshot, for a scale entry read first.
  void ensureScales();
  /// Sets block b's scale (and zero point) for the range [lo, hi] of its
  /// values narrowed by `ratio`.
  void setBlockRange(int64_t b, float lo, float hi, float ratio);
  /// QuantScheme::searchClipping over the blocks of rows [firstRow,
  /// firstRow + count), whose values are `x` and ranges `lo`/`hi`.
  void searchClipping(uint64_t firstRow, uint64_t count, const float *x,
                      const std::vector<float> &lo,
                      const std::vector<float> &hi);
  /// The clipping search for block b, whose values are `values`.
  void searchClippingBlock(int64_t b, const float *values, float lo, float hi);
  bool searchesClipping() const {
    return scheme.searchClipping && scheme.dtype != DType::F8E4M3 &&
           scheme.granularity != QuantGranularity::PerTensor;
  }
  /// Quantizes element `i` of the output, value `v` of block `b`.
  void quantizeElement(float v, int64_t b, uint64_t i, uint8_t *out) const;
  /// The value element `i` (of block `b`) of the output stands for.
  float dequantizeElement(int64_t b, uint64_t i, const uint8_t *out) const;
  /// Quantizes rows [firstRow, firstRow + count) into the whole output.
  void quantizeRows(uint64_t firstRow, uint64_t count, const float *x,
                    uint8_t *out) const;
};

void QuantState::computeScales(DType dtype, llvm::ArrayRef<uint8_t> bytes) {
  std::lock_guard<std::mutex> lock(mutex);
  if (scheme.gptq)
    return roundWithGptqLocked(dtype, bytes);
  computeScalesLocked(dtype, bytes);
}

void QuantState::computeScalesLocked(DType dtype,
                                     llvm::ArrayRef<uint8_t> bytes) {
  if (computed)
    return;
  int64_t blocks = getNumBlocks();
  std::vector<float> lo(blocks, 0.0f), hi(blocks, 0.0f);
  forEachRowChunk(dtype, bytes, rows, columns,
                  [&](uint64_t firstRow, uint64_t count, const float *x) {
                    for (uint64_t r = 0; r < count; ++r)
                      for (int64_t c = 0; c < columns; ++c) {
                        float v = x[r * columns + c];
                        int64_t b = getBlock(firstRow + r, c);
                        lo[b] = std::min(lo[b], v);
                        hi[b] = std::max(hi[b], v);
                      }
                  });
  scales.assign(blocks, 1.0f);
  if (!scheme.symmetric)
    zeroPoints.assign(blocks, 0);
  for (int64_t b = 0; b < blocks; ++b)
    setBlockRange(b, lo[b], hi[b], 1.0f);
  if (searchesClipping())
    forEachRowChunk(dtype, bytes, rows, columns,
                    [&](uint64_t firstRow, uint64_t count, const float *x) {
                      searchClipping(firstRow, count, x, lo, hi);
                    });
  computed = true;
}

void QuantState::setBlockRange(int64_t b, float lo, float hi, float ratio) {
  float qmax = getQuantMax(scheme.dtype);
  if (scheme.symmetric) {
    float amax = std::max(-lo, hi) * ratio;
    scales[b] = amax > 0.0f ? amax / qmax : 1.0f;
    return;
  }
  int32_t qmin = getQuantMin(scheme.dtype);
  lo *= ratio;
  hi *= ratio;
  float scale = (hi - lo) / (qmax - static_cast<float>(qmin));
  if (!(scale > 0.0f))
    scale = 1.0f;
  scales[b] = scale;
  zeroPoints[b] = static_cast<int8_t>(roundHalfEvenSaturate(
      static_cast<float>(qmin) - lo / scale, qmin, static_cast<int32_t>(qmax)));
}

void QuantState::searchClipping(uint64_t firstRow, uint64_t count,
                                const float *x, const std::vector<float> &lo,
                                const std::vector<float> &hi) {
  int64_t blockColumns = getBlockColumns();
  for (uint64_t r = 0; r < count; ++r)
    for (int64_t first = 0; first < columns; first += blockColumns) {
      int64_t b = getBlock(firstRow + r, first);
      searchClippingBlock(b, x + r * columns + first, lo[b], hi[b]);
    }
}

void QuantState::searchClippingBlock(int64_t b, const float *values, float lo,
                                     float hi) {
  int32_t qmin = getQuantMin(scheme.dtype);
  auto qmax = static_cast<int32_t>(getQuantMax(scheme.dtype));
  int64_t blockColumns = getBlockColumns();
  double bestError = 0.0;
  float bestScale = 1.0f;
  int8_t bestZero = 0;
  for (int i = 0; i < QuantScheme::kClipCandidates; ++i) {
    float ratio = 1.0f - 0.5f * static_cast<float>(i) /
                             static_cast<float>(QuantScheme::kClipCandidates - 1);
    setBlockRange(b, lo, hi, ratio);
    float scale = scales[b];
    int32_t zero = zeroPoints.empty() ? 0 : zeroPoints[b];
    double error = 0.0;
    for (int64_t k = 0; k < blockColumns; ++k) {
      int32_t q = quantizeInteger(values[k], scale, zero, qmin, qmax);
      double d = static_cast<double>(values[k]) -
                 static_cast<double>(q - zero) * static_cast<double>(scale);
      // Weighted by x^2 (llama.cpp's make_qx_quants): the large weights
      // matter most, and plain MSE clipped them too eagerly.
      double weight = static_cast<double>(values[k]) * values[k];
      error += weight * d * d;
    }
    if (i == 0 || error < bestError) {
      bestError = error;
      bestScale = scale;
      bestZero = static_cast<int8_t>(zero);
    }
  }
  scales[b] = bestScale;
  if (!zeroPoints.empty())
    zeroPoints[b] = bestZero;
}

void materializeNode(const WeightStore::Node &node,
                     llvm::MutableArrayRef<uint8_t> out);

void QuantState::ensureScales() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (computed)
      return;
  }
  std::vector<uint8_t> bytes(input.desc.getBytes());
  materializeNode(input, bytes);
  computeScales(input.desc.dtype, bytes);
}

void QuantState::quantizeElement(float v, int64_t b, uint64_t i,
                                 uint8_t *out) const {
  if (scheme.dtype == DType::F8E4M3) {
    out[i] =
        numeric::floatToFp8Saturate(v / scales[b], numeric::Fp8Format::E4M3FN);
    return;
  }
  int32_t zero = zeroPoints.empty() ? 0 : zeroPoints[b];
  int32_t q = quantizeInteger(v, scales[b], zero, getQuantMin(scheme.dtype),
                              static_cast<int32_t>(getQuantMax(scheme.dtype)));
  if (scheme.dtype == DType::I8)
    out[i] = static_cast<uint8_t>(static_cast<int8_t>(q));
  else // I4: the even column in the low nibble.
    out[i / 2] |= static_cast<uint8_t>((q & 0xF) << (4 * (i % 2)));
}

float QuantState::dequantizeElement(int64_t b, uint64_t i,
                                    const uint8_t *out) const {
  if (scheme.dtype == DType::F8E4M3)
    return numeric::fp8ToFloat(out[i], numeric::Fp8Format::E4M3FN) *
           scales[b];
  int32_t q = scheme.dtype == DType::I8
                  ? static_cast<int8_t>(out[i])
                  : numeric::unpackInt4(out, static_cast<int64_t>(i));
  int32_t zero = zeroPoints.empty() ? 0 : zeroPoints[b];
  return static_cast<float>(q - zero) * scales[b];
}

void QuantState::quantizeRows(uint64_t firstRow, uint64_t count, const float *x,
                              uint8_t *out) const {
  for (uint64_t r = 0; r < count; ++r)
    for (int64_t c = 0; c < columns; ++c)
      quantizeElement(x[r * columns + c], getBlock(firstRow + r, c),
                      (firstRow + r) * columns + c, out);
}

/// Splits rows [0, rows) into one contiguous range per worker and runs
/// `fn(firstRow, endRow)` on each, the last range on the calling thread.
void parallelForRows(uint64_t rows,
                     llvm::function_ref<void(uint64_t, uint64_t)> fn) {
  // Below this a thread costs more than it saves.
  constexpr uint64_t kMinRowsPerWorker = 64;
  unsigned workers = std::max(1u, std::thread::hardware_concurrency());
  workers = static_cast<unsigned>(std::min<uint64_t>(
      workers, std::max<uint64_t>(1, rows / kMinRowsPerWorker)));
  std::vector<std::thread> threads;
  for (unsigned w = 0; w + 1 < workers; ++w)
    threads.emplace_back(fn, rows * w / workers, rows * (w + 1) / workers);
  fn(rows * (workers - 1) / workers, rows);
  for (std::thread &thread : threads)
    thread.join();
}

/// Per-channel FP8 in one read of the weight: each row's scale is computed
/// from the decoded row and used at once, on every core. The scales are
/// exactly those computeScales gives (the same min/max over the same values,
/// in the same order within a row; a row is its own block), and each value is
/// encoded by the vectorizable twin of numeric::floatToFp8Saturate.
void applyQuantizeFp8PerChannel(const Value &in, QuantState &state,
                                uint8_t *out) {
  std::lock_guard<std::mutex> lock(state.mutex);
  const uint64_t rows = state.rows, columns = state.columns;
  const bool haveScales = state.computed;
  if (!haveScales)
    state.scales.assign(rows, 1.0f);
  const float qmax = getQuantMax(DType::F8E4M3);
  const uint64_t rowBytes = *getStorageBytes(in.desc.dtype, columns);
  parallelForRows(rows, [&](uint64_t firstRow, uint64_t endRow) {
    uint64_t chunkRows = std::max<uint64_t>(1, kRowChunkElements / columns);
    std::vector<float> chunk(std::min(chunkRows, endRow - firstRow) * columns);
    for (uint64_t first = firstRow; first < endRow; first += chunkRows) {
      uint64_t count = std::min(chunkRows, endRow - first);
      llvm::ArrayRef<uint8_t> src =
          in.bytes.slice(first * rowBytes, count * rowBytes);
      if (in.desc.dtype == DType::BF16)
        decodeBFloat16(src.data(), chunk.data(), count * columns);
      else
        decodeToF32(in.desc.dtype, src, chunk.data(), count * columns);
      for (uint64_t r = 0; r < count; ++r) {
        const float *x = chunk.data() + r * columns;
        float &scale = state.scales[first + r];
        if (!haveScales) {
          float lo = 0.0f, hi = 0.0f;
          accumulateMinMax(x, columns, lo, hi);
          float amax = std::max(-lo, hi);
          if (amax > 0.0f)
            scale = amax / qmax;
        }
        encodeFp8E4M3SaturateDivided(x, scale, out + (first + r) * columns,
                                     columns);
      }
    }
  });
  state.computed = true;
}

void QuantState::roundWithGptqLocked(DType dtype,
                                     llvm::ArrayRef<uint8_t> bytes) {
  if (!pendingOutput.empty())
    return;
  std::vector<double> inputMultiplier(columns, 1.0);
  for (const auto &group : inputScalings) {
    const std::vector<float> &factors = group->getFactors();
    for (int64_t c = 0; c < columns; ++c)
      inputMultiplier[c] /= factors[group->columnFactor.empty()
                                        ? c
                                        : group->columnFactor[c]];
  }
  const std::vector<double> u =
      computeGptqInverseFactor(*scheme.gptq, inputMultiplier);

  const bool grouped = scheme.granularity == QuantGranularity::Group;
  if (grouped) {
    scales.assign(getNumBlocks(), 1.0f);
    if (!scheme.symmetric)
      zeroPoints.assign(getNumBlocks(), 0);
  } else {
    // The weight's own range, as rounding to nearest (kept from an earlier
    // read of this weight).
    computeScalesLocked(dtype, bytes);
  }
  std::vector<float> x(rows * columns);
  decodeToF32(dtype, bytes, x.data(), x.size());
  pendingOutput.assign(
      *getStorageBytes(scheme.dtype, static_cast<uint64_t>(rows * columns)),
      0);
  parallelForRows(rows, [&](uint64_t firstRow, uint64_t endRow) {
    std::vector<double> w(columns);
    std::vector<float> group(grouped ? scheme.groupSize : 0);
    for (uint64_t r = firstRow; r < endRow; ++r) {
      std::copy_n(x.data() + r * columns, columns, w.begin());
      for (int64_t j = 0; j < columns; ++j) {
        int64_t b = getBlock(r, j);
        if (grouped && j % scheme.groupSize == 0) {
          // The group's range as the earlier columns' errors left it.
          float lo = 0.0f, hi = 0.0f;
          for (int64_t k = 0; k < scheme.groupSize; ++k) {
            group[k] = static_cast<float>(w[j + k]);
            lo = std::min(lo, group[k]);
            hi = std::max(hi, group[k]);
          }
          setBlockRange(b, lo, hi, 1.0f);
          if (searchesClipping())
            searchClippingBlock(b, group.data(), lo, hi);
        }
        float value = static_cast<float>(w[j]);
        quantizeElement(value, b, r * columns + j, pendingOutput.data());
        float rounded = dequantizeElement(b, r * columns + j,
                                          pendingOutput.data());
        const double *uRow = &u[j * columns];
        double error = (static_cast<double>(value) - rounded) / uRow[j];
        for (int64_t k = j + 1; k < columns; ++k)
          w[k] -= error * uRow[k];
      }
    }
  });
  computed = true;
}

void applyQuantize(const Value &in, const Transform &t, uint8_t *out) {
  QuantState &state = *t.quant;
  if (state.scheme.gptq) {
    std::lock_guard<std::mutex> lock(state.mutex);
    state.roundWithGptqLocked(in.desc.dtype, in.bytes);
    std::memcpy(out, state.pendingOutput.data(), state.pendingOutput.size());
    // The scales stay; a second read of the weight rounds it again.
    state.pendingOutput = {};
    return;
  }
  if (state.scheme.dtype == DType::F8E4M3 &&
      state.scheme.granularity == QuantGranularity::PerChannel &&
      state.scheme.symmetric && state.columns > 0 &&
      getStorageBytes(in.desc.dtype, state.columns))
    return applyQuantizeFp8PerChannel(in, state, out);
  state.computeScales(in.desc.dtype, in.bytes);
  if (state.scheme.dtype == DType::I4)
    std::memset(out, 0, (state.rows * state.columns + 1) / 2);
  forEachRowChunk(in.desc.dtype, in.bytes, state.rows, state.columns,
                  [&](uint64_t firstRow, uint64_t count, const float *x) {
                    state.quantizeRows(firstRow, count, x, out);
                  });
}

void applyScaleColumns(const Value &in, const Transform &t, uint8_t *out) {
  const std::vector<float> &factors = t.smooth->getFactors();
  const std::vector<uint32_t> &columnFactor = t.smooth->columnFactor;
  uint64_t columns =
      columnFactor.empty() ? factors.size() : columnFactor.size();
  uint64_t elementBytes = getDTypeInfo(in.desc.dtype).blockBytes;
  std::vector<float> scaled;
  forEachRowChunk(
      in.desc.dtype, in.bytes, in.desc.getNumElements() / columns, columns,
      [&](uint64_t firstRow, uint64_t count, const float *x) {
        scaled.assign(x, x + count * columns);
        for (uint64_t i = 0; i < scaled.size(); ++i)
          scaled[i] *=
              factors[columnFactor.empty() ? i % columns
                                           : columnFactor[i % columns]];
        encodeFloatsAt(in.desc.dtype, scaled.data(), scaled.size(),
                       out + firstRow * columns * elementBytes);
      });
}

void applyDivideVector(const Value &in, const Transform &t, uint8_t *out) {
  const std::vector<float> &factors = t.smooth->getFactors();
  std::vector<float> x = decodeAll(in);
  for (uint64_t i = 0; i < x.size(); ++i)
    x[i] /= factors[i];
  encodeFloats(in.desc.dtype, x, out);
}

/// Row j of a 2-D weight divided by factor j: the producer side of a
/// smoothing between two linears.
void applyDivideRows(const Value &in, const Transform &t, uint8_t *out) {
  const std::vector<float> &factors = t.smooth->getFactors();
  uint64_t rows = factors.size();
  uint64_t columns = in.desc.getNumElements() / rows;
  uint64_t elementBytes = getDTypeInfo(in.desc.dtype).blockBytes;
  std::vector<float> divided;
  forEachRowChunk(in.desc.dtype, in.bytes, rows, columns,
                  [&](uint64_t firstRow, uint64_t count, const float *x) {
                    divided.assign(x, x + count * columns);
                    for (uint64_t i = 0; i < divided.size(); ++i)
                      divided[i] /= factors[firstRow + i / columns];
                    encodeFloatsAt(in.desc.dtype, divided.data(),
                                   divided.size(),
                                   out + firstRow * columns * elementBytes);
                  });
}

void materializeDerived(const WeightStore::Node &node, uint8_t *out) {
  using namespace llvm::support::endian;
  switch (node.derived) {
  case WeightStore::Node::Derived::QuantScales:
    node.quantOf->ensureScales();
    for (size_t i = 0; i < node.quantOf->scales.size(); ++i)
      write32le(out + 4 * i, llvm::bit_cast<uint32_t>(node.quantOf->scales[i]));
    return;
  case WeightStore::Node::Derived::QuantZeroPoints:
    node.quantOf->ensureScales();
    std::memcpy(out, node.quantOf->zeroPoints.data(),
                node.quantOf->zeroPoints.size());
    return;
  case WeightStore::Node::Derived::ActivationScale: {
    float absMax = node.activationAbsMax;
    if (const auto &group = node.activationSmoothedBy) {
      const std::vector<float> &factors = group->getFactors();
      absMax = 0.0f;
      for (size_t j = 0; j < factors.size(); ++j)
        absMax = std::max(absMax, group->activationAbsMax[j] / factors[j]);
    }
    float scale = absMax > 0.0f ? absMax / node.activationQuantMax : 1.0f;
    write32le(out, llvm::bit_cast<uint32_t>(scale));
    return;
  }
  case WeightStore::Node::Derived::None:
    return;
  }
}

} // namespace

const std::vector<float> &WeightStore::SmoothGroup::getFactors() const {
  std::lock_guard<std::mutex> lock(mutex);
  if (computed)
    return factors;
  size_t numFactors = activationAbsMax.size();
  size_t columns = columnFactor.empty() ? numFactors : columnFactor.size();
  std::vector<float> weightAbsMax(numFactors, 0.0f);
  for (const Node &linear : linears) {
    std::vector<uint8_t> bytes(linear.desc.getBytes());
    materializeNode(linear, bytes);
    forEachRowChunk(
        linear.desc.dtype, bytes, linear.desc.getNumElements() / columns,
        columns, [&](uint64_t, uint64_t count, const float *w) {
          for (uint64_t i = 0; i < count * columns; ++i) {
            size_t j =
                columnFactor.empty() ? i % columns : columnFactor[i % columns];
            weightAbsMax[j] = std::max(weightAbsMax[j], std::fabs(w[i]));
          }
        });
  }
  factors.assign(numFactors, 1.0f);
  for (size_t j = 0; j < numFactors; ++j) {
    float x = activationAbsMax[j], w = weightAbsMax[j];
    if (!(x > 0.0f) || !(w > 0.0f))
      continue;
    float s = std::pow(x, alpha) / std::pow(w, 1.0f - alpha);
    factors[j] = std::clamp(s, minFactor, 1.0f / minFactor);
  }
  computed = true;
  return factors;
}

namespace {

void applyTransform(const Value &in, const Transform &t, uint8_t *out) {
  switch (t.kind) {
  case TransformKind::Convert:
    return applyConvert(in, t.target, out);
  case TransformKind::Transpose:
    return applyTranspose(in, out);
  case TransformKind::Slice:
    return applySlice(in, t, out);
  case TransformKind::UnpermuteQK:
    return applyUnpermuteQK(in, t.numHeads, out);
  case TransformKind::AddConstant:
    return applyAddConstant(in, t.constant, out);
  case TransformKind::Quantize:
    return applyQuantize(in, t, out);
  case TransformKind::ScaleColumns:
    return applyScaleColumns(in, t, out);
  case TransformKind::DivideVector:
    return applyDivideVector(in, t, out);
  case TransformKind::DivideRows:
    return applyDivideRows(in, t, out);
  }
}

/// The description after `t`; recording already checked that it applies.
WeightDesc describeAfter(const WeightDesc &in, const Transform &t) {
  WeightDesc out = in;
  switch (t.kind) {
  case TransformKind::Convert:
    out.dtype = t.target;
    break;
  case TransformKind::Transpose:
    std::swap(out.shape[0], out.shape[1]);
    break;
  case TransformKind::Slice:
    out.shape[t.axis] = t.end - t.begin;
    break;
  case TransformKind::Quantize:
    out.dtype = t.target;
    break;
  case TransformKind::UnpermuteQK:
  case TransformKind::AddConstant:
  case TransformKind::ScaleColumns:
  case TransformKind::DivideVector:
  case TransformKind::DivideRows:
    break;
  }
  return out;
}

void concatenateInto(const WeightStore::Node &node, uint8_t *out) {
  const WeightDesc &desc = node.baseDesc;
  uint64_t stride = *getAxisStrideBytes(desc, node.concatAxis);
  uint64_t outer =
      product(llvm::ArrayRef(desc.shape).take_front(node.concatAxis));
  uint64_t outRowBytes = desc.shape[node.concatAxis] * stride;
  uint64_t columnOffset = 0;
  std::vector<uint8_t> scratch;
  for (const WeightStore::Node &part : node.parts) {
    // Parts are materialized one at a time, each in its own scratch.
    scratch.resize(part.desc.getBytes());
    materializeNode(part, scratch);
    uint64_t partRowBytes = part.desc.shape[node.concatAxis] * stride;
    for (uint64_t o = 0; o < outer; ++o)
      std::memcpy(out + o * outRowBytes + columnOffset,
                  scratch.data() + o * partRowBytes, partRowBytes);
    columnOffset += partRowBytes;
  }
}

void materializeNode(const WeightStore::Node &node,
                     llvm::MutableArrayRef<uint8_t> out) {
  if (node.derived != WeightStore::Node::Derived::None) {
    materializeDerived(node, out.data());
    return;
  }
  Value current;
  current.desc = node.baseDesc;
  if (node.source) {
    current.bytes = node.source->bytes;
    if (node.transforms.empty()) {
      if (!out.empty())
        std::memcpy(out.data(), current.bytes.data(), current.bytes.size());
      return;
    }
  } else if (node.transforms.empty()) {
    concatenateInto(node, out.data());
    return;
  } else {
    std::vector<uint8_t> storage(node.baseDesc.getBytes());
    concatenateInto(node, storage.data());
    setOwned(current, std::move(storage));
  }
  // The last transform writes straight into `out`; earlier ones into
  // scratch that replaces the previous value.
  for (size_t i = 0; i < node.transforms.size(); ++i) {
    const Transform &t = node.transforms[i];
    WeightDesc next = describeAfter(current.desc, t);
    if (i + 1 == node.transforms.size()) {
      applyTransform(current, t, out.data());
      return;
    }
    std::vector<uint8_t> storage(next.getBytes());
    applyTransform(current, t, storage.data());
    current.desc = next;
    setOwned(current, std::move(storage));
  }
}

} // namespace

//===----------------------------------------------------------------------===//
// WeightDesc
//===----------------------------------------------------------------------===//

uint64_t WeightDesc::getNumElements() const { return product(shape); }

uint64_t WeightDesc::getBytes() const {
  return getStorageBytes(dtype, getNumElements()).value_or(0);
}

//===----------------------------------------------------------------------===//
// WeightStore
//===----------------------------------------------------------------------===//

WeightStore::WeightStore() = default;
WeightStore::~WeightStore() = default;

llvm::Error WeightStore::addSourceTensor(const TensorView &tensor) {
  auto [it, inserted] = sourceTensors.try_emplace(tensor.name, &tensor);
  if (!inserted)
    return makeError(tensor.path + ": tensor '" + tensor.name +
                     "' is already provided by " + it->second->path);
  return llvm::Error::success();
}

llvm::Error
WeightStore::addSource(std::unique_ptr<SafetensorsCheckpoint> checkpoint) {
  for (const TensorView *tensor : checkpoint->getTensors())
    if (llvm::Error error = addSourceTensor(*tensor))
      return error;
  checkpoints.push_back(std::move(checkpoint));
  return llvm::Error::success();
}

llvm::Error WeightStore::addSource(std::unique_ptr<GgufFile> file) {
  for (const GgufTensorInfo &info : file->getTensorInfos())
    if (llvm::Error error = addSourceTensor(info.view))
      return error;
  ggufFiles.push_back(std::move(file));
  return llvm::Error::success();
}

const TensorView *WeightStore::lookupSourceTensor(llvm::StringRef name) const {
  auto it = sourceTensors.find(name);
  return it == sourceTensors.end() ? nullptr : it->second;
}

llvm::Error WeightStore::addWeight(llvm::StringRef name,
                                   llvm::StringRef sourceTensor) {
  if (sourceTensor.empty())
    sourceTensor = name;
  if (weights.count(name))
    return makeError("weight '" + name + "' is already declared");
  const TensorView *tensor = lookupSourceTensor(sourceTensor);
  if (!tensor)
    return makeError("weight '" + name + "': no source holds tensor '" +
                     sourceTensor + "'");
  auto node = std::make_unique<Node>();
  node->name = name.str();
  node->source = tensor;
  node->baseDesc.dtype = tensor->dtype;
  node->baseDesc.shape = tensor->shape;
  node->desc = node->baseDesc;
  weights[name] = std::move(node);
  return llvm::Error::success();
}

void WeightStore::addAllSourceTensors() {
  std::vector<llvm::StringRef> names;
  for (const auto &entry : sourceTensors)
    names.push_back(entry.first());
  llvm::sort(names);
  for (llvm::StringRef name : names)
    if (!contains(name))
      llvm::consumeError(addWeight(name));
}

llvm::Error WeightStore::addConcat(llvm::StringRef name,
                                   llvm::ArrayRef<std::string> parts,
                                   int64_t axis) {
  if (weights.count(name))
    return makeError("weight '" + name + "' is already declared");
  if (parts.empty())
    return makeError("weight '" + name + "': concat of no weights");
  auto node = std::make_unique<Node>();
  node->name = name.str();
  node->concatAxis = axis;
  for (const std::string &partName : parts) {
    auto it = weights.find(partName);
    if (it == weights.end())
      return makeError("weight '" + name + "': concat part '" + partName +
                       "' is not declared");
    const Node &part = *it->second;
    if (!node->parts.empty()) {
      const WeightDesc &first = node->parts.front().desc;
      bool sameOtherDims = first.shape.size() == part.desc.shape.size();
      for (size_t d = 0; sameOtherDims && d < first.shape.size(); ++d)
        if (static_cast<int64_t>(d) != axis &&
            first.shape[d] != part.desc.shape[d])
          sameOtherDims = false;
      if (first.dtype != part.desc.dtype || !sameOtherDims)
        return makeError(
            "weight '" + name + "': concat part '" + partName + "' is " +
            getDTypeName(part.desc.dtype) + " " + formatShape(part.desc.shape) +
            " but '" + node->parts.front().name + "' is " +
            getDTypeName(first.dtype) + " " + formatShape(first.shape) +
            " (axis " + llvm::Twine(axis) + " may differ)");
    }
    node->parts.push_back(part);
  }
  WeightDesc &desc = node->baseDesc;
  desc = node->parts.front().desc;
  int64_t rank = desc.shape.size();
  if (axis < 0 || axis >= rank)
    return makeError("weight '" + name + "': concat axis " + llvm::Twine(axis) +
                     " is out of range for rank " + llvm::Twine(rank));
  desc.shape[axis] = 0;
  for (const Node &part : node->parts)
    desc.shape[axis] += part.desc.shape[axis];
  if (!getAxisStrideBytes(desc, axis))
    return makeError("weight '" + name + "': cannot concatenate " +
                     getDTypeName(desc.dtype) +
                     " blocks along the innermost axis; convert first");
  node->desc = desc;
  weights[name] = std::move(node);
  return llvm::Error::success();
}

bool WeightStore::contains(llvm::StringRef name) const {
  return weights.count(name) != 0;
}

std::vector<std::string> WeightStore::getWeightNames() const {
  std::vector<std::string> names;
  for (const auto &entry : weights)
    names.push_back(entry.first().str());
  llvm::sort(names);
  return names;
}

llvm::Expected<WeightStore::Node *>
WeightStore::findWeight(llvm::StringRef name, llvm::StringRef action) {
  auto it = weights.find(name);
  if (it == weights.end())
    return makeError("weight '" + name + "': cannot " + action +
                     ": not declared");
  return it->second.get();
}

llvm::Error WeightStore::convert(llvm::StringRef name, DType target) {
  llvm::Expected<Node *> node = findWeight(name, "convert");
  if (!node)
    return node.takeError();
  if (target != DType::F32 && target != DType::F16 && target != DType::BF16)
    return makeError("weight '" + name + "': cannot convert to " +
                     getDTypeName(target) + "; only F32, F16 and BF16");
  Transform t{TransformKind::Convert};
  t.target = target;
  (*node)->transforms.push_back(t);
  (*node)->desc = describeAfter((*node)->desc, t);
  return llvm::Error::success();
}

llvm::Error WeightStore::transpose(llvm::StringRef name) {
  llvm::Expected<Node *> node = findWeight(name, "transpose");
  if (!node)
    return node.takeError();
  const WeightDesc &desc = (*node)->desc;
  if (desc.shape.size() != 2)
    return makeError("weight '" + name +
                     "': transpose needs a 2-D weight, "
                     "not " +
                     formatShape(desc.shape));
  if (isBlockQuantized(desc.dtype))
    return makeError("weight '" + name + "': cannot transpose " +
                     getDTypeName(desc.dtype) +
                     " blocks; convert to F32, F16 or BF16 first");
  Transform t{TransformKind::Transpose};
  (*node)->transforms.push_back(t);
  (*node)->desc = describeAfter(desc, t);
  return llvm::Error::success();
}

llvm::Error WeightStore::slice(llvm::StringRef name, int64_t axis,
                               int64_t begin, int64_t end) {
  llvm::Expected<Node *> node = findWeight(name, "slice");
  if (!node)
    return node.takeError();
  const WeightDesc &desc = (*node)->desc;
  int64_t rank = desc.shape.size();
  if (axis < 0 || axis >= rank)
    return makeError("weight '" + name + "': slice axis " + llvm::Twine(axis) +
                     " is out of range for shape " + formatShape(desc.shape));
  if (begin < 0 || begin > end || end > desc.shape[axis])
    return makeError("weight '" + name + "': slice [" + llvm::Twine(begin) +
                     ", " + llvm::Twine(end) + ") of axis " +
                     llvm::Twine(axis) + " is outside shape " +
                     formatShape(desc.shape));
  if (!getAxisStrideBytes(desc, axis))
    return makeError("weight '" + name + "': cannot slice " +
                     getDTypeName(desc.dtype) +
                     " blocks along the innermost axis; convert first");
  Transform t{TransformKind::Slice};
  t.axis = axis;
  t.begin = begin;
  t.end = end;
  (*node)->transforms.push_back(t);
  (*node)->desc = describeAfter(desc, t);
  return llvm::Error::success();
}

llvm::Error WeightStore::unpermuteQK(llvm::StringRef name, int64_t numHeads) {
  llvm::Expected<Node *> node = findWeight(name, "unpermute");
  if (!node)
    return node.takeError();
  const WeightDesc &desc = (*node)->desc;
  if (desc.shape.empty() || numHeads <= 0 ||
      desc.shape[0] % (2 * numHeads) != 0)
    return makeError("weight '" + name + "': cannot unpermute " +
                     formatShape(desc.shape) + " for " + llvm::Twine(numHeads) +
                     " heads: rows must be heads x an even head size");
  Transform t{TransformKind::UnpermuteQK};
  t.numHeads = numHeads;
  // A 1-D weight (a bias) permutes single elements, which a block type
  // cannot do.
  if (!getAxisStrideBytes(desc, 0))
    return makeError("weight '" + name + "': cannot unpermute " +
                     getDTypeName(desc.dtype) +
                     " blocks of a 1-D weight; convert first");
  (*node)->transforms.push_back(t);
  return llvm::Error::success();
}

llvm::Error WeightStore::addConstant(llvm::StringRef name, float constant) {
  llvm::Expected<Node *> node = findWeight(name, "add a constant");
  if (!node)
    return node.takeError();
  DType dtype = (*node)->desc.dtype;
  if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16)
    return makeError("weight '" + name + "': cannot add a constant to " +
                     getDTypeName(dtype) +
                     "; convert to F32, F16 or BF16 first");
  Transform t{TransformKind::AddConstant};
  t.constant = constant;
  (*node)->transforms.push_back(t);
  return llvm::Error::success();
}

llvm::Expected<WeightDesc> WeightStore::describe(llvm::StringRef name) const {
  auto it = weights.find(name);
  if (it == weights.end())
    return makeError("weight '" + name + "' is not declared");
  return it->second->desc;
}

llvm::Error
WeightStore::materialize(llvm::StringRef name,
                         llvm::MutableArrayRef<uint8_t> destination) const {
  auto it = weights.find(name);
  if (it == weights.end())
    return makeError("weight '" + name + "' is not declared");
  const Node &node = *it->second;
  if (destination.size() != node.desc.getBytes())
    return makeError(
        "weight '" + name + "' is " + getDTypeName(node.desc.dtype) + " " +
        formatShape(node.desc.shape) + " = " +
        llvm::Twine(node.desc.getBytes()) +
        " bytes, but the destination holds " + llvm::Twine(destination.size()));
  if (!destination.empty())
    materializeNode(node, destination);
  return llvm::Error::success();
}

/// The source tensors `node` reads: its own, its parts', and the snapshot a
/// derived scale entry computes from.
static void collectSources(const WeightStore::Node &node,
                           std::vector<const TensorView *> &sources) {
  if (node.source)
    sources.push_back(node.source);
  for (const WeightStore::Node &part : node.parts)
    collectSources(part, sources);
  if (node.quantOf)
    collectSources(node.quantOf->input, sources);
}

const TensorView *WeightStore::getUnchangedSource(llvm::StringRef name) const {
  auto it = weights.find(name);
  if (it == weights.end())
    return nullptr;
  const Node &node = *it->second;
  if (node.derived != Node::Derived::None || !node.source ||
      !node.transforms.empty())
    return nullptr;
  return node.source;
}

void WeightStore::prefetch(llvm::StringRef name) const {
  auto it = weights.find(name);
  if (it == weights.end())
    return;
  std::vector<const TensorView *> sources;
  collectSources(*it->second, sources);
  for (const TensorView *source : sources)
    adviseWillNeed(*source);
}

void WeightStore::releaseSourcePages(llvm::StringRef name) const {
  auto it = weights.find(name);
  if (it == weights.end())
    return;
  std::vector<const TensorView *> sources;
  collectSources(*it->second, sources);
  for (const TensorView *source : sources)
    releasePages(*source);
}

//===----------------------------------------------------------------------===//
// Quantization and smoothing
//===----------------------------------------------------------------------===//

float getQuantMax(DType dtype) {
  switch (dtype) {
  case DType::I4:
    return 7.0f;
  case DType::F8E4M3:
    return numeric::kE4M3Max;
  default:
    return 127.0f;
  }
}

llvm::SmallVector<int64_t, 2>
QuantScheme::getScaleShape(int64_t rows, int64_t columns) const {
  switch (granularity) {
  case QuantGranularity::PerTensor:
    return {};
  case QuantGranularity::PerChannel:
    return {rows, 1};
  case QuantGranularity::Group:
    return {rows, groupSize > 0 ? columns / groupSize : 0};
  }
  return {};
}

std::string QuantScheme::getName() const {
  std::string name = dtype == DType::F8E4M3 ? "fp8"
                     : dtype == DType::I4   ? "int4"
                                            : "int8";
  switch (granularity) {
  case QuantGranularity::PerTensor:
    name += "_per_tensor";
    break;
  case QuantGranularity::PerChannel:
    name += "_per_channel";
    break;
  case QuantGranularity::Group:
    name += "_group" + std::to_string(groupSize);
    break;
  }
  if (!symmetric)
    name += "_asym";
  // The scheme's name is what the runtime reads; how the scales were
  // chosen (searchClipping) does not change what they mean.
  return name;
}

llvm::Error WeightStore::quantize(llvm::StringRef name,
                                  const QuantScheme &scheme) {
  llvm::Expected<Node *> node = findWeight(name, "quantize");
  if (!node)
    return node.takeError();
  const WeightDesc &desc = (*node)->desc;
  auto fail = [&](const llvm::Twine &why) {
    return makeError("weight '" + name + "': cannot quantize " +
                     getDTypeName(desc.dtype) + " " + formatShape(desc.shape) +
                     " to " + scheme.getName() + ": " + why);
  };
  if (scheme.dtype != DType::I8 && scheme.dtype != DType::I4 &&
      scheme.dtype != DType::F8E4M3)
    return fail("the quantized dtype must be I8, I4 or F8_E4M3");
  if (desc.shape.size() != 2)
    return fail("only 2-D [out_features, in_features] weights quantize");
  if (!isFloatingPoint(desc.dtype) && !isBlockQuantized(desc.dtype))
    return fail("the weight is not a float tensor");
  if (desc.dtype == DType::I4)
    return fail("the weight is already quantized");
  int64_t rows = desc.shape[0], columns = desc.shape[1];
  if (scheme.granularity == QuantGranularity::Group &&
      (scheme.groupSize <= 0 || columns % scheme.groupSize != 0))
    return fail("the group size " + llvm::Twine(scheme.groupSize) +
                " does not divide the " + llvm::Twine(columns) + " columns");
  if (!scheme.symmetric && scheme.dtype == DType::F8E4M3)
    return fail("FP8 has no zero points; use a symmetric scheme");
  if (scheme.dtype == DType::I4 && columns % 2 != 0)
    return fail("I4 packs two columns a byte, so the column count must be "
                "even");
  if (scheme.gptq && scheme.gptq->channels != columns)
    return fail("the GPTQ input statistics are " +
                llvm::Twine(scheme.gptq->channels) + " x " +
                llvm::Twine(scheme.gptq->channels) + ", not " +
                llvm::Twine(columns) + " x " + llvm::Twine(columns));
  auto state = std::make_shared<QuantState>();
  state->scheme = scheme;
  state->rows = rows;
  state->columns = columns;
  state->input = **node;
  if (scheme.gptq)
    for (const Transform &recorded : (*node)->transforms)
      if (recorded.kind == TransformKind::ScaleColumns)
        state->inputScalings.push_back(recorded.smooth);
  Transform t{TransformKind::Quantize};
  t.target = scheme.dtype;
  t.quant = state;
  (*node)->transforms.push_back(t);
  (*node)->desc = describeAfter(desc, t);
  return llvm::Error::success();
}

/// The quantization last recorded on `of`, for its derived entries.
static std::shared_ptr<QuantState>
findQuantization(const WeightStore::Node &node) {
  for (auto it = node.transforms.rbegin(); it != node.transforms.rend(); ++it)
    if (it->kind == TransformKind::Quantize)
      return it->quant;
  return nullptr;
}

static llvm::Error
addQuantDerived(llvm::StringMap<std::unique_ptr<WeightStore::Node>> &weights,
                llvm::StringRef name, llvm::StringRef of, bool zeroPoints) {
  llvm::StringRef what = zeroPoints ? "zero points" : "scales";
  if (weights.count(name))
    return makeError("weight '" + name + "' is already declared");
  auto it = weights.find(of);
  if (it == weights.end())
    return makeError("weight '" + name + "': " + what + " of '" + of +
                     "', which is not declared");
  std::shared_ptr<QuantState> state = findQuantization(*it->second);
  if (!state)
    return makeError("weight '" + name + "': " + what + " of '" + of +
                     "', which has no quantization recorded");
  if (zeroPoints && state->scheme.symmetric)
    return makeError("weight '" + name + "': '" + of + "' is quantized " +
                     state->scheme.getName() +
                     ", which is symmetric and has no zero points");
  auto node = std::make_unique<WeightStore::Node>();
  node->name = name.str();
  node->derived = zeroPoints ? WeightStore::Node::Derived::QuantZeroPoints
                             : WeightStore::Node::Derived::QuantScales;
  node->quantOf = state;
  node->baseDesc.dtype = zeroPoints ? DType::I8 : DType::F32;
  node->baseDesc.shape =
      state->scheme.getScaleShape(state->rows, state->columns);
  node->desc = node->baseDesc;
  weights[name] = std::move(node);
  return llvm::Error::success();
}

llvm::Error WeightStore::addQuantScales(llvm::StringRef name,
                                        llvm::StringRef of) {
  return addQuantDerived(weights, name, of, /*zeroPoints=*/false);
}

llvm::Error WeightStore::addQuantZeroPoints(llvm::StringRef name,
                                            llvm::StringRef of) {
  return addQuantDerived(weights, name, of, /*zeroPoints=*/true);
}

/// Checks that weight `name` is an F32, F16 or BF16 tensor of `shape`.
static bool isFloatOfShape(const WeightDesc &desc,
                           llvm::ArrayRef<int64_t> shape) {
  return llvm::ArrayRef<int64_t>(desc.shape) == shape &&
         (desc.dtype == DType::F32 || desc.dtype == DType::F16 ||
          desc.dtype == DType::BF16);
}

llvm::Error WeightStore::checkSmoothRequest(const llvm::Twine &what,
                                            llvm::StringRef anchor,
                                            size_t consumers, float alpha,
                                            float minFactor) {
  auto fail = [&](const llvm::Twine &why) {
    return makeError(what + ": " + why);
  };
  if (!(alpha >= 0.0f && alpha <= 1.0f))
    return fail("alpha must be in [0, 1], got " +
                llvm::Twine(std::to_string(alpha)));
  if (!(minFactor > 0.0f && minFactor < 1.0f))
    return fail("the smallest factor must be in (0, 1)");
  if (smoothGroups.count(anchor))
    return fail("it is already smoothed");
  if (consumers == 0)
    return fail("it feeds no linear weights");
  return llvm::Error::success();
}

llvm::Error WeightStore::scaleConsumerColumns(
    const llvm::Twine &what, llvm::ArrayRef<std::string> names, int64_t columns,
    const std::shared_ptr<SmoothGroup> &group) {
  llvm::SmallVector<Node *> consumers;
  for (const std::string &name : names) {
    llvm::Expected<Node *> node = findWeight(name, "smooth");
    if (!node)
      return node.takeError();
    const WeightDesc &desc = (*node)->desc;
    if (desc.shape.size() != 2 ||
        !isFloatOfShape(desc, {desc.shape[0], columns}))
      return makeError(
          what + ": linear weight '" + name + "' is " +
          getDTypeName(desc.dtype) + " " + formatShape(desc.shape) +
          ", expected F32, F16 or BF16 [N, " + llvm::Twine(columns) + "]");
    group->linears.push_back(**node);
    consumers.push_back(*node);
  }
  for (Node *node : consumers) {
    Transform t{TransformKind::ScaleColumns};
    t.smooth = group;
    node->transforms.push_back(t);
  }
  return llvm::Error::success();
}

llvm::Error WeightStore::smooth(llvm::StringRef normWeight,
                                llvm::StringRef normBias,
                                llvm::ArrayRef<std::string> linearWeights,
                                llvm::ArrayRef<float> activationAbsMax,
                                float alpha, float minFactor) {
  const std::string what =
      ("cannot smooth norm weight '" + normWeight + "'").str();
  auto fail = [&](const llvm::Twine &why) {
    return makeError(what + ": " + why);
  };
  if (llvm::Error error = checkSmoothRequest(
          what, normWeight, linearWeights.size(), alpha, minFactor))
    return error;
  int64_t channels = static_cast<int64_t>(activationAbsMax.size());
  llvm::SmallVector<Node *> members;
  for (llvm::StringRef name : {normWeight, normBias}) {
    if (name.empty())
      continue;
    llvm::Expected<Node *> node = findWeight(name, "smooth");
    if (!node)
      return node.takeError();
    const WeightDesc &desc = (*node)->desc;
    if (!isFloatOfShape(desc, {channels}))
      return fail("'" + name + "' is " + getDTypeName(desc.dtype) + " " +
                  formatShape(desc.shape) + ", expected an F32, F16 or BF16 [" +
                  llvm::Twine(channels) + "] vector");
    members.push_back(*node);
  }
  auto group = std::make_shared<SmoothGroup>();
  group->activationAbsMax.assign(activationAbsMax.begin(),
                                 activationAbsMax.end());
  group->alpha = alpha;
  group->minFactor = minFactor;
  if (llvm::Error error =
          scaleConsumerColumns(what, linearWeights, channels, group))
    return error;
  for (Node *node : members) {
    Transform t{TransformKind::DivideVector};
    t.smooth = group;
    node->transforms.push_back(t);
  }
  smoothGroups[normWeight] = group;
  return llvm::Error::success();
}

llvm::Error WeightStore::smoothLinearPair(
    llvm::StringRef producerWeight, llvm::StringRef producerBias,
    llvm::ArrayRef<std::string> consumerWeights,
    llvm::ArrayRef<float> activationAbsMax, float alpha, float minFactor,
    int64_t headDim, int64_t queryHeadsPerKVHead) {
  const std::string what =
      ("cannot smooth the output of linear weight '" + producerWeight + "'")
          .str();
  auto fail = [&](const llvm::Twine &why) {
    return makeError(what + ": " + why);
  };
  if (llvm::Error error = checkSmoothRequest(
          what, producerWeight, consumerWeights.size(), alpha, minFactor))
    return error;
  if (queryHeadsPerKVHead < 1 || (queryHeadsPerKVHead > 1 && headDim < 1))
    return fail("a head grouping needs a head size and at least one query "
                "head per KV head");
  llvm::Expected<Node *> producer = findWeight(producerWeight, "smooth");
  if (!producer)
    return producer.takeError();
  const WeightDesc &producerDesc = (*producer)->desc;
  if (producerDesc.shape.size() != 2 ||
      !isFloatOfShape(producerDesc, producerDesc.shape))
    return fail("it is " + getDTypeName(producerDesc.dtype) + " " +
                formatShape(producerDesc.shape) +
                ", expected an F32, F16 or BF16 matrix");
  int64_t rows = producerDesc.shape[0];
  int64_t columns = rows * queryHeadsPerKVHead;
  if (queryHeadsPerKVHead > 1 && rows % headDim != 0)
    return fail("its " + llvm::Twine(rows) + " rows are not whole heads of " +
                llvm::Twine(headDim));
  if (static_cast<int64_t>(activationAbsMax.size()) != columns)
    return fail("expected " + llvm::Twine(columns) +
                " activation maxima (the consumers' input channels), got " +
                llvm::Twine(activationAbsMax.size()));
  Node *bias = nullptr;
  if (!producerBias.empty()) {
    llvm::Expected<Node *> node = findWeight(producerBias, "smooth");
    if (!node)
      return node.takeError();
    if (!isFloatOfShape((*node)->desc, {rows}))
      return fail("bias '" + producerBias + "' is " +
                  getDTypeName((*node)->desc.dtype) + " " +
                  formatShape((*node)->desc.shape) +
                  ", expected an F32, F16 or BF16 [" + llvm::Twine(rows) +
                  "] vector");
    bias = *node;
  }
  auto group = std::make_shared<SmoothGroup>();
  group->alpha = alpha;
  group->minFactor = minFactor;
  group->activationAbsMax.assign(rows, 0.0f);
  if (queryHeadsPerKVHead > 1)
    group->columnFactor.resize(columns);
  for (int64_t c = 0; c < columns; ++c) {
    // Column c = h * headDim + d reads KV head h / queryHeadsPerKVHead.
    int64_t j =
        queryHeadsPerKVHead > 1
            ? c / (headDim * queryHeadsPerKVHead) * headDim + c % headDim
            : c;
    if (queryHeadsPerKVHead > 1)
      group->columnFactor[c] = static_cast<uint32_t>(j);
    group->activationAbsMax[j] =
        std::max(group->activationAbsMax[j], activationAbsMax[c]);
  }
  if (llvm::Error error =
          scaleConsumerColumns(what, consumerWeights, columns, group))
    return error;
  Transform divideRows{TransformKind::DivideRows};
  divideRows.smooth = group;
  (*producer)->transforms.push_back(divideRows);
  if (bias) {
    Transform divide{TransformKind::DivideVector};
    divide.smooth = group;
    bias->transforms.push_back(divide);
  }
  smoothGroups[producerWeight] = group;
  return llvm::Error::success();
}

llvm::Expected<std::vector<float>>
WeightStore::getSmoothingFactors(llvm::StringRef normWeight) const {
  auto it = smoothGroups.find(normWeight);
  if (it == smoothGroups.end())
    return makeError("norm weight '" + normWeight + "' is not smoothed");
  return it->second->getFactors();
}

llvm::Error WeightStore::addActivationScale(llvm::StringRef name, float absMax,
                                            float qmax,
                                            llvm::StringRef smoothedBy) {
  if (weights.count(name))
    return makeError("weight '" + name + "' is already declared");
  if (!(absMax >= 0.0f) || !std::isfinite(absMax) || !(qmax > 0.0f))
    return makeError("weight '" + name +
                     "': the activation maximum must be finite and "
                     "non-negative, got " +
                     llvm::Twine(std::to_string(absMax)));
  auto node = std::make_unique<Node>();
  node->name = name.str();
  node->derived = Node::Derived::ActivationScale;
  node->activationAbsMax = absMax;
  node->activationQuantMax = qmax;
  if (!smoothedBy.empty()) {
    auto it = smoothGroups.find(smoothedBy);
    if (it == smoothGroups.end())
      return makeError("weight '" + name + "': smoothed by '" + smoothedBy +
                       "', which is not smoothed");
    node->activationSmoothedBy = it->second;
  }
  node->baseDesc.dtype = DType::F32;
  node->desc = node->baseDesc;
  weights[name] = std::move(node);
  return llvm::Error::success();
}

} // namespace llmc::weights
