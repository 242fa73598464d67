//===- DType.h - element encodings of checkpoint tensors and their decoding
//-===//
//
// One enum covers the dtypes of safetensors files and the ggml types of GGUF
// files that llmc reads, so readers, dequantizers and the WeightStore share
// one vocabulary. Block-quantized types (ggml's Q*_0/Q*_1/Q*_K) pack a run of
// `blockElements` values into `blockBytes`; plain types are blocks of one.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_WEIGHTS_DTYPE_H
#define LLMC_COMPILER_WEIGHTS_DTYPE_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>

namespace llmc::weights {

enum class DType : uint8_t {
  // Plain types (safetensors names them; GGUF has F64..I8 too).
  F64,
  F32,
  F16,
  BF16,
  F8E4M3, // OCP float8 e4m3fn: bias 7, no infinities, S.1111.111 is NaN.
  F8E5M2, // OCP float8 e5m2: the top byte of an IEEE half.
  I64,
  I32,
  I16,
  I8,
  U8,
  Bool,
  // ggml block-quantized types (legacy blocks of 32, K-quants of 256).
  Q4_0,
  Q4_1,
  Q5_0,
  Q5_1,
  Q8_0,
  Q4_K,
  Q5_K,
  Q6_K,
  // Packed signed 4-bit integers, two per byte, the low nibble first (the
  // even column): what weight-only INT4 quantization stores.
  I4,
};

struct DTypeInfo {
  /// How messages and `describe` spell it: safetensors names for plain types
  /// ("BF16", "F8_E4M3"), ggml names for quantized ones ("Q4_K").
  llvm::StringRef name;
  /// Values per block; 1 for plain types.
  uint32_t blockElements;
  /// Bytes per block; the element size for plain types.
  uint32_t blockBytes;
};

const DTypeInfo &getDTypeInfo(DType type);
inline llvm::StringRef getDTypeName(DType type) {
  return getDTypeInfo(type).name;
}
inline bool isBlockQuantized(DType type) {
  return getDTypeInfo(type).blockElements > 1;
}
/// F64, F32, F16, BF16, F8E4M3, F8E5M2.
bool isFloatingPoint(DType type);
/// Parses a safetensors dtype string ("F32", "BF16", "F8_E4M3", "BOOL", ...).
std::optional<DType> parseSafetensorsDType(llvm::StringRef name);
/// Maps a ggml type number to a DType; std::nullopt for types llmc cannot
/// decode. `getGgmlTypeName` names every type ggml defines (for messages).
std::optional<DType> dtypeFromGgmlType(uint32_t ggmlType);
std::optional<llvm::StringRef> getGgmlTypeName(uint32_t ggmlType);
/// The ggml type number of `type`, where GGUF has one (not F8/U8/Bool).
std::optional<uint32_t> getGgmlType(DType type);

/// Bytes that `numElements` values of `type` occupy, or std::nullopt when
/// `numElements` is not a whole number of blocks or the size overflows.
std::optional<uint64_t> getStorageBytes(DType type, uint64_t numElements);

/// Scalar conversions. Decoding is exact; encoding rounds to nearest even
/// (NaN stays NaN, overflow gives infinity) like ggml and PyTorch do.
float halfToFloat(uint16_t bits);
float bfloat16ToFloat(uint16_t bits);
float float8E4M3ToFloat(uint8_t bits);
float float8E5M2ToFloat(uint8_t bits);
uint16_t floatToHalf(float value);
uint16_t floatToBFloat16(float value);

/// Decodes `numElements` values of `type` stored in `src` (exactly
/// getStorageBytes(type, numElements) bytes, any alignment, little endian)
/// into `dst`. Integers and booleans convert to the nearest float. The
/// quantized formulas and their evaluation order follow ggml's reference
/// dequantizers, so results are bitwise those of ggml and gguf-py.
void decodeToF32(DType type, llvm::ArrayRef<uint8_t> src, float *dst,
                 uint64_t numElements);

/// A tensor stored in a checkpoint file: a view into the mapped file, valid
/// while the file object that produced it lives.
struct TensorView {
  std::string name;
  DType dtype;
  /// Row-major, outermost dimension first (GGUF's innermost-first dims are
  /// reversed on reading). A scalar has an empty shape.
  llvm::SmallVector<int64_t, 4> shape;
  llvm::ArrayRef<uint8_t> bytes;
  /// The file the bytes live in, for messages.
  std::string path;
  /// The bytes are a read-only mapping of `path` (not heap memory), so
  /// `adviseWillNeed` and `releasePages` may act on them.
  bool mapped = false;

  uint64_t getNumElements() const;
};

/// Asks the kernel to start reading a mapped tensor's pages in the background
/// (MADV_WILLNEED), so the disk works while the CPU converts another tensor.
/// Does nothing for tensors in heap memory or on systems without madvise.
void adviseWillNeed(const TensorView &tensor);
/// Drops the process's mappings of the pages that lie wholly inside a mapped
/// tensor (MADV_DONTNEED on a read-only file mapping: the page cache keeps the
/// data and a later read faults it back in). Reading a checkpoint through its
/// mapping otherwise leaves every page read in the process's RSS.
void releasePages(const TensorView &tensor);
/// The same for a byte range of a mapped tensor's bytes.
void releasePages(const TensorView &tensor, llvm::ArrayRef<uint8_t> range);

/// Decodes a whole tensor into `dst`, which must hold getNumElements() floats.
/// Errors (naming the file and tensor) when the sizes disagree.
llvm::Error readTensorAsF32(const TensorView &tensor,
                            llvm::MutableArrayRef<float> dst);

/// "[4096, 11008]".
std::string formatShape(llvm::ArrayRef<int64_t> shape);

} // namespace llmc::weights

#endif // LLMC_COMPILER_WEIGHTS_DTYPE_H
