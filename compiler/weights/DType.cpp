//===- DType.cpp - dtype tables, scalar conversions and ggml dequantizers
//--===//

#include "compiler/weights/DType.h"
#include "compiler/weights/Support.h"

#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#endif

// The dequantizers must round exactly like ggml's reference C code and
// gguf-py's numpy code: `d * q - m` is two roundings there, so a fused
// multiply-add (which compilers may form from it when FMA is enabled) would
// change the last bit. CMakeLists.txt compiles this file with
// -ffp-contract=off; the pragma says so to clang, whatever the flags.
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

namespace llmc::weights {

namespace {

// Indexed by DType; the order must match the enum.
const DTypeInfo kDTypeInfos[] = {
    {"F64", 1, 8},      {"F32", 1, 4},      {"F16", 1, 2},
    {"BF16", 1, 2},     {"F8_E4M3", 1, 1},  {"F8_E5M2", 1, 1},
    {"I64", 1, 8},      {"I32", 1, 4},      {"I16", 1, 2},
    {"I8", 1, 1},       {"U8", 1, 1},       {"BOOL", 1, 1},
    {"Q4_0", 32, 18},   {"Q4_1", 32, 20},   {"Q5_0", 32, 22},
    {"Q5_1", 32, 24},   {"Q8_0", 32, 34},   {"Q4_K", 256, 144},
    {"Q5_K", 256, 176}, {"Q6_K", 256, 210}, {"I4", 2, 1},
};
static_assert(sizeof(kDTypeInfos) / sizeof(kDTypeInfos[0]) ==
                  static_cast<size_t>(DType::I4) + 1,
              "kDTypeInfos must have one row per DType");

// ggml's type numbers (ggml.h `enum ggml_type`); holes are types ggml
// removed. Names are for messages about types llmc cannot decode.
struct GgmlTypeRow {
  uint32_t number;
  llvm::StringRef name;
  std::optional<DType> dtype;
};
const GgmlTypeRow kGgmlTypes[] = {
    {0, "F32", DType::F32},        {1, "F16", DType::F16},
    {2, "Q4_0", DType::Q4_0},      {3, "Q4_1", DType::Q4_1},
    {6, "Q5_0", DType::Q5_0},      {7, "Q5_1", DType::Q5_1},
    {8, "Q8_0", DType::Q8_0},      {9, "Q8_1", std::nullopt},
    {10, "Q2_K", std::nullopt},    {11, "Q3_K", std::nullopt},
    {12, "Q4_K", DType::Q4_K},     {13, "Q5_K", DType::Q5_K},
    {14, "Q6_K", DType::Q6_K},     {15, "Q8_K", std::nullopt},
    {16, "IQ2_XXS", std::nullopt}, {17, "IQ2_XS", std::nullopt},
    {18, "IQ3_XXS", std::nullopt}, {19, "IQ1_S", std::nullopt},
    {20, "IQ4_NL", std::nullopt},  {21, "IQ3_S", std::nullopt},
    {22, "IQ2_S", std::nullopt},   {23, "IQ4_XS", std::nullopt},
    {24, "I8", DType::I8},         {25, "I16", DType::I16},
    {26, "I32", DType::I32},       {27, "I64", DType::I64},
    {28, "F64", DType::F64},       {29, "IQ1_M", std::nullopt},
    {30, "BF16", DType::BF16},     {34, "TQ1_0", std::nullopt},
    {35, "TQ2_0", std::nullopt},   {39, "MXFP4", std::nullopt},
};

uint16_t readU16(const uint8_t *p) {
  return llvm::support::endian::read16le(p);
}
float readHalf(const uint8_t *p) { return halfToFloat(readU16(p)); }

// Q4_K and Q5_K pack eight 6-bit scales and eight 6-bit mins into 12 bytes:
// bytes 0-3 hold scales 0-3 (low 6 bits) and the top 2 bits of scales 4-7,
// bytes 4-7 the same for mins, bytes 8-11 the low 4 bits of scales 4-7 (low
// nibble) and mins 4-7 (high nibble).
void unpackScaleMinK4(unsigned index, const uint8_t *packed, uint8_t &scale,
                      uint8_t &min) {
  if (index < 4) {
    scale = packed[index] & 63;
    min = packed[index + 4] & 63;
    return;
  }
  scale = (packed[index + 4] & 0x0F) | ((packed[index - 4] >> 6) << 4);
  min = (packed[index + 4] >> 4) | ((packed[index] >> 6) << 4);
}

// Legacy blocks: 32 values, the first 16 in the low nibbles of the 16 packed
// bytes and the last 16 in the high nibbles.
void decodeQ4_0Block(const uint8_t *block, float *out) {
  const float d = readHalf(block);
  const uint8_t *quants = block + 2;
  for (unsigned j = 0; j < 16; ++j) {
    out[j] = static_cast<float>((quants[j] & 0x0F) - 8) * d;
    out[j + 16] = static_cast<float>((quants[j] >> 4) - 8) * d;
  }
}

void decodeQ4_1Block(const uint8_t *block, float *out) {
  const float d = readHalf(block);
  const float m = readHalf(block + 2);
  const uint8_t *quants = block + 4;
  for (unsigned j = 0; j < 16; ++j) {
    out[j] = static_cast<float>(quants[j] & 0x0F) * d + m;
    out[j + 16] = static_cast<float>(quants[j] >> 4) * d + m;
  }
}

// Q5: bit j of the 32-bit `high` word is the fifth bit of value j.
void decodeQ5_0Block(const uint8_t *block, float *out) {
  const float d = readHalf(block);
  const uint32_t high = llvm::support::endian::read32le(block + 2);
  const uint8_t *quants = block + 6;
  for (unsigned j = 0; j < 16; ++j) {
    int low = (quants[j] & 0x0F) | (((high >> j) & 1) << 4);
    int upper = (quants[j] >> 4) | (((high >> (j + 16)) & 1) << 4);
    out[j] = static_cast<float>(low - 16) * d;
    out[j + 16] = static_cast<float>(upper - 16) * d;
  }
}

void decodeQ5_1Block(const uint8_t *block, float *out) {
  const float d = readHalf(block);
  const float m = readHalf(block + 2);
  const uint32_t high = llvm::support::endian::read32le(block + 4);
  const uint8_t *quants = block + 8;
  for (unsigned j = 0; j < 16; ++j) {
    int low = (quants[j] & 0x0F) | (((high >> j) & 1) << 4);
    int upper = (quants[j] >> 4) | (((high >> (j + 16)) & 1) << 4);
    out[j] = static_cast<float>(low) * d + m;
    out[j + 16] = static_cast<float>(upper) * d + m;
  }
}

void decodeQ8_0Block(const uint8_t *block, float *out) {
  const float d = readHalf(block);
  for (unsigned j = 0; j < 32; ++j)
    out[j] = static_cast<float>(static_cast<int8_t>(block[2 + j])) * d;
}

// Q4_K: 256 values in 8 sub-blocks of 32, each with a 6-bit scale and min
// scaled by the block's f16 `d` and `dmin`. 32 bytes of nibbles serve two
// sub-blocks: low nibbles the first, high nibbles the second.
void decodeQ4_KBlock(const uint8_t *block, float *out) {
  const float d = readHalf(block);
  const float dmin = readHalf(block + 2);
  const uint8_t *scales = block + 4;
  const uint8_t *quants = block + 16;
  for (unsigned pair = 0; pair < 4; ++pair) {
    uint8_t scale0, min0, scale1, min1;
    unpackScaleMinK4(2 * pair, scales, scale0, min0);
    unpackScaleMinK4(2 * pair + 1, scales, scale1, min1);
    const float d0 = d * static_cast<float>(scale0);
    const float m0 = dmin * static_cast<float>(min0);
    const float d1 = d * static_cast<float>(scale1);
    const float m1 = dmin * static_cast<float>(min1);
    const uint8_t *q = quants + 32 * pair;
    float *y = out + 64 * pair;
    for (unsigned l = 0; l < 32; ++l) {
      y[l] = d0 * static_cast<float>(q[l] & 0x0F) - m0;
      y[l + 32] = d1 * static_cast<float>(q[l] >> 4) - m1;
    }
  }
}

// Q5_K: Q4_K plus a fifth bit per value; bit (2*pair) of high[l] belongs to
// value l of the pair's first sub-block, bit (2*pair+1) to the second.
void decodeQ5_KBlock(const uint8_t *block, float *out) {
  const float d = readHalf(block);
  const float dmin = readHalf(block + 2);
  const uint8_t *scales = block + 4;
  const uint8_t *high = block + 16;
  const uint8_t *quants = block + 48;
  for (unsigned pair = 0; pair < 4; ++pair) {
    uint8_t scale0, min0, scale1, min1;
    unpackScaleMinK4(2 * pair, scales, scale0, min0);
    unpackScaleMinK4(2 * pair + 1, scales, scale1, min1);
    const float d0 = d * static_cast<float>(scale0);
    const float m0 = dmin * static_cast<float>(min0);
    const float d1 = d * static_cast<float>(scale1);
    const float m1 = dmin * static_cast<float>(min1);
    const uint8_t *q = quants + 32 * pair;
    float *y = out + 64 * pair;
    for (unsigned l = 0; l < 32; ++l) {
      int v0 = (q[l] & 0x0F) | (((high[l] >> (2 * pair)) & 1) << 4);
      int v1 = (q[l] >> 4) | (((high[l] >> (2 * pair + 1)) & 1) << 4);
      y[l] = d0 * static_cast<float>(v0) - m0;
      y[l + 32] = d1 * static_cast<float>(v1) - m1;
    }
  }
}

// Q6_K: 256 values in 16 sub-blocks of 16 with signed 8-bit scales. Each
// half of 128 values takes 64 bytes of low nibbles and 32 bytes of 2-bit
// high parts: value l+32k of the half combines nibble (l + 32*(k%2), low or
// high by k/2) with bits 2k..2k+1 of high[l].
void decodeQ6_KBlock(const uint8_t *block, float *out) {
  const uint8_t *lowBits = block;
  const uint8_t *highBits = block + 128;
  const int8_t *scales = reinterpret_cast<const int8_t *>(block + 192);
  const float d = readHalf(block + 208);
  for (unsigned half = 0; half < 2; ++half) {
    const uint8_t *ql = lowBits + 64 * half;
    const uint8_t *qh = highBits + 32 * half;
    const int8_t *sc = scales + 8 * half;
    float *y = out + 128 * half;
    for (unsigned l = 0; l < 32; ++l) {
      unsigned sub = l / 16;
      int q0 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
      int q1 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
      int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = (d * static_cast<float>(sc[sub])) * static_cast<float>(q0);
      y[l + 32] =
          (d * static_cast<float>(sc[sub + 2])) * static_cast<float>(q1);
      y[l + 64] =
          (d * static_cast<float>(sc[sub + 4])) * static_cast<float>(q2);
      y[l + 96] =
          (d * static_cast<float>(sc[sub + 6])) * static_cast<float>(q3);
    }
  }
}

template <typename BlockFn>
void decodeBlocks(llvm::ArrayRef<uint8_t> src, float *dst, uint64_t numElements,
                  unsigned blockElements, unsigned blockBytes,
                  BlockFn decodeBlock) {
  uint64_t numBlocks = numElements / blockElements;
  const uint8_t *block = src.data();
  for (uint64_t b = 0; b < numBlocks; ++b) {
    decodeBlock(block, dst);
    block += blockBytes;
    dst += blockElements;
  }
}

// Builds the f16 -> f32 table once: F16 tensors are common and the table
// makes decoding them a load per value.
const float *getHalfTable() {
  static const float *table = [] {
    static float values[65536];
    for (uint32_t i = 0; i < 65536; ++i)
      values[i] = halfToFloat(static_cast<uint16_t>(i));
    return values;
  }();
  return table;
}

} // namespace

const DTypeInfo &getDTypeInfo(DType type) {
  return kDTypeInfos[static_cast<size_t>(type)];
}

bool isFloatingPoint(DType type) {
  switch (type) {
  case DType::F64:
  case DType::F32:
  case DType::F16:
  case DType::BF16:
  case DType::F8E4M3:
  case DType::F8E5M2:
    return true;
  default:
    return false;
  }
}

std::optional<DType> parseSafetensorsDType(llvm::StringRef name) {
  for (size_t i = 0; i <= static_cast<size_t>(DType::Bool); ++i)
    if (kDTypeInfos[i].name == name)
      return static_cast<DType>(i);
  return std::nullopt;
}

std::optional<DType> dtypeFromGgmlType(uint32_t ggmlType) {
  for (const GgmlTypeRow &row : kGgmlTypes)
    if (row.number == ggmlType)
      return row.dtype;
  return std::nullopt;
}

std::optional<llvm::StringRef> getGgmlTypeName(uint32_t ggmlType) {
  for (const GgmlTypeRow &row : kGgmlTypes)
    if (row.number == ggmlType)
      return row.name;
  return std::nullopt;
}

std::optional<uint32_t> getGgmlType(DType type) {
  for (const GgmlTypeRow &row : kGgmlTypes)
    if (row.dtype == type)
      return row.number;
  return std::nullopt;
}

std::optional<uint64_t> getStorageBytes(DType type, uint64_t numElements) {
  const DTypeInfo &info = getDTypeInfo(type);
  if (numElements % info.blockElements != 0)
    return std::nullopt;
  uint64_t bytes = 0;
  if (detail::multiplyOverflows(numElements / info.blockElements,
                                info.blockBytes, bytes))
    return std::nullopt;
  return bytes;
}

float halfToFloat(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1F;
  uint32_t mantissa = bits & 0x3FF;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31)
    return llvm::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  return llvm::bit_cast<float>(sign | ((exponent + 112) << 23) |
                               (mantissa << 13));
}

float bfloat16ToFloat(uint16_t bits) {
  return llvm::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

float float8E4M3ToFloat(uint8_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x80u) << 24;
  uint32_t exponent = (bits >> 3) & 0x0F;
  uint32_t mantissa = bits & 0x07;
  if (exponent == 15 && mantissa == 7)
    return llvm::bit_cast<float>(sign | 0x7FC00000u);
  if (exponent == 0) {
    float magnitude = static_cast<float>(mantissa) * 0x1p-9f;
    return sign ? -magnitude : magnitude;
  }
  return llvm::bit_cast<float>(sign | ((exponent + 120) << 23) |
                               (mantissa << 20));
}

float float8E5M2ToFloat(uint8_t bits) {
  return halfToFloat(static_cast<uint16_t>(bits) << 8);
}

uint16_t floatToHalf(float value) {
  uint32_t bits = llvm::bit_cast<uint32_t>(value);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) // NaN: keep the top payload bits, make quiet.
    return sign | 0x7E00u | ((magnitude >> 13) & 0x3FFu);
  if (magnitude >= 0x477FF000u) // Rounds to at least 65536: infinity.
    return sign | 0x7C00u;
  if (magnitude < 0x38800000u) {
    // Below 2^-14: a half subnormal, round(value * 2^24) ties to even.
    if (magnitude <= 0x33000000u) // At most 2^-25: rounds to zero.
      return sign;
    uint32_t exponent = magnitude >> 23;
    uint32_t mantissa = (magnitude & 0x7FFFFFu) | 0x800000u;
    unsigned shift = 126 - exponent;
    uint32_t result = mantissa >> shift;
    uint32_t remainder = mantissa & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (remainder > halfway || (remainder == halfway && (result & 1)))
      ++result;
    return sign | static_cast<uint16_t>(result);
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped bits.
  uint32_t rebiased = magnitude - 0x38000000u;
  uint32_t rounded = rebiased + 0xFFFu + ((rebiased >> 13) & 1);
  return sign | static_cast<uint16_t>(rounded >> 13);
}

uint16_t floatToBFloat16(float value) {
  uint32_t bits = llvm::bit_cast<uint32_t>(value);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x40u);
  uint32_t rounded = bits + 0x7FFFu + ((bits >> 16) & 1);
  return static_cast<uint16_t>(rounded >> 16);
}

void decodeToF32(DType type, llvm::ArrayRef<uint8_t> src, float *dst,
                 uint64_t numElements) {
  using namespace llvm::support::endian;
  if (numElements == 0) // Empty tensors may have null pointers.
    return;
  const uint8_t *p = src.data();
  switch (type) {
  case DType::F64:
    for (uint64_t i = 0; i < numElements; ++i)
      dst[i] = static_cast<float>(llvm::bit_cast<double>(read64le(p + 8 * i)));
    return;
  case DType::F32:
    std::memcpy(dst, p, numElements * sizeof(float));
    return;
  case DType::F16: {
    const float *table = getHalfTable();
    for (uint64_t i = 0; i < numElements; ++i)
      dst[i] = table[read16le(p + 2 * i)];
    return;
  }
  case DType::BF16:
    for (uint64_t i = 0; i < numElements; ++i)
      dst[i] = bfloat16ToFloat(read16le(p + 2 * i));
    return;
  case DType::F8E4M3:
    for (uint64_t i = 0; i < numElements; ++i)
      dst[i] = float8E4M3ToFloat(p[i]);
    return;
  case DType::F8E5M2:
    for (uint64_t i = 0; i < numElements; ++i)
      dst[i] = float8E5M2ToFloat(p[i]);
    return;
  case DType::I64:
    for (uint64_t i = 0; i < numElements; ++i)
      dst[i] = static_cast<float>(static_cast<int64_t>(read64le(p + 8 * i)));
    return;
  case DType::I32:
    for (uint64_t i = 0; i < numElements; ++i)
      dst[i] = static_cast<float>(static_cast<int32_t>(read32le(p + 4 * i)));
    return;
  case DType::I16:
    for (uint64_t i = 0; i < numElements; ++i)
      dst[i] = static_cast<float>(static_cast<int16_t>(read16le(p + 2 * i)));
    return;
  case DType::I8:
    for (uint64_t i = 0; i < numElements; ++i)
      dst[i] = static_cast<float>(static_cast<int8_t>(p[i]));
    return;
  case DType::U8:
    for (uint64_t i = 0; i < numElements; ++i)
      dst[i] = static_cast<float>(p[i]);
    return;
  case DType::Bool:
    for (uint64_t i = 0; i < numElements; ++i)
      dst[i] = p[i] ? 1.0f : 0.0f;
    return;
  case DType::Q4_0:
    return decodeBlocks(src, dst, numElements, 32, 18, decodeQ4_0Block);
  case DType::Q4_1:
    return decodeBlocks(src, dst, numElements, 32, 20, decodeQ4_1Block);
  case DType::Q5_0:
    return decodeBlocks(src, dst, numElements, 32, 22, decodeQ5_0Block);
  case DType::Q5_1:
    return decodeBlocks(src, dst, numElements, 32, 24, decodeQ5_1Block);
  case DType::Q8_0:
    return decodeBlocks(src, dst, numElements, 32, 34, decodeQ8_0Block);
  case DType::Q4_K:
    return decodeBlocks(src, dst, numElements, 256, 144, decodeQ4_KBlock);
  case DType::Q5_K:
    return decodeBlocks(src, dst, numElements, 256, 176, decodeQ5_KBlock);
  case DType::Q6_K:
    return decodeBlocks(src, dst, numElements, 256, 210, decodeQ6_KBlock);
  case DType::I4:
    for (uint64_t i = 0; i < numElements; ++i) {
      uint8_t nibble = (p[i / 2] >> (4 * (i % 2))) & 0xF;
      dst[i] = static_cast<float>(static_cast<int8_t>(nibble << 4) >> 4);
    }
    return;
  }
}

uint64_t TensorView::getNumElements() const {
  uint64_t count = 1;
  for (int64_t dim : shape)
    count *= static_cast<uint64_t>(dim);
  return count;
}

llvm::Error readTensorAsF32(const TensorView &tensor,
                            llvm::MutableArrayRef<float> dst) {
  uint64_t numElements = tensor.getNumElements();
  std::optional<uint64_t> bytes = getStorageBytes(tensor.dtype, numElements);
  if (!bytes || *bytes != tensor.bytes.size())
    return detail::makeError(
        tensor.path + ": tensor '" + tensor.name + "' has " +
        llvm::Twine(tensor.bytes.size()) + " bytes, not the size of " +
        getDTypeName(tensor.dtype) + " " + formatShape(tensor.shape));
  if (dst.size() != numElements)
    return detail::makeError(tensor.path + ": tensor '" + tensor.name +
                             "' has " + llvm::Twine(numElements) +
                             " elements but the buffer holds " +
                             llvm::Twine(dst.size()) + " floats");
  decodeToF32(tensor.dtype, tensor.bytes, dst.data(), numElements);
  return llvm::Error::success();
}

std::string formatShape(llvm::ArrayRef<int64_t> shape) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << '[';
  llvm::interleaveComma(shape, os);
  os << ']';
  return text;
}

//===----------------------------------------------------------------------===//
// Page advice for mapped tensors
//===----------------------------------------------------------------------===//

namespace {
/// Calls madvise on the pages wholly inside `range` (partial pages at either
/// end may hold a neighbouring tensor that is still in use).
void advisePagesInside(llvm::ArrayRef<uint8_t> range, int advice) {
#if defined(__unix__) || defined(__APPLE__)
  static const uintptr_t pageBytes = sysconf(_SC_PAGESIZE);
  auto begin = reinterpret_cast<uintptr_t>(range.data());
  uintptr_t end = begin + range.size();
  uintptr_t first = (begin + pageBytes - 1) / pageBytes * pageBytes;
  uintptr_t last = end / pageBytes * pageBytes;
  if (range.empty() || first >= last)
    return;
  // Advice only: a failure changes speed or RSS, never the bytes.
  (void)madvise(reinterpret_cast<void *>(first), last - first, advice);
#else
  (void)range;
  (void)advice;
#endif
}
} // namespace

void adviseWillNeed(const TensorView &tensor) {
#if defined(__unix__) || defined(__APPLE__)
  if (tensor.mapped) {
    // WILLNEED must cover the partial pages too; it never discards anything.
    static const uintptr_t pageBytes = sysconf(_SC_PAGESIZE);
    auto begin = reinterpret_cast<uintptr_t>(tensor.bytes.data());
    uintptr_t first = begin / pageBytes * pageBytes;
    uintptr_t end = begin + tensor.bytes.size();
    if (!tensor.bytes.empty())
      (void)madvise(reinterpret_cast<void *>(first), end - first,
                    MADV_WILLNEED);
  }
#else
  (void)tensor;
#endif
}

void releasePages(const TensorView &tensor) {
  releasePages(tensor, tensor.bytes);
}

void releasePages(const TensorView &tensor, llvm::ArrayRef<uint8_t> range) {
#if defined(__unix__) || defined(__APPLE__)
  // MADV_DONTNEED on heap memory would zero it: only mappings qualify.
  if (tensor.mapped)
    advisePagesInside(range, MADV_DONTNEED);
#else
  (void)tensor;
  (void)range;
#endif
}

} // namespace llmc::weights
