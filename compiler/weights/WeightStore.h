//===- WeightStore.h - named weights: a source tensor plus lazy transforms
//--===//
//
// `llm.weight @name` in the IR refers to an entry here. An entry is a tensor
// in an opened checkpoint (or a concatenation of other entries) followed by
// an ordered list of transforms that passes record instead of touching data:
// dtype conversion, transpose, slice, un-permuting llama.cpp's Q/K rows,
// adding a constant. Nothing is read until `materialize` streams one weight
// into a caller's buffer, so compiling a 70B model holds a few tensors, not
// the model.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_WEIGHTS_WEIGHTSTORE_H
#define LLMC_COMPILER_WEIGHTS_WEIGHTSTORE_H

#include "compiler/weights/DType.h"

#include "llvm/ADT/StringMap.h"

#include <memory>
#include <string>
#include <vector>

namespace llmc::weights {

class GgufFile;
class SafetensorsCheckpoint;

/// What a weight is after its transforms: enough to type `llm.weight`.
struct WeightDesc {
  DType dtype = DType::F32;
  llvm::SmallVector<int64_t, 4> shape;

  uint64_t getNumElements() const;
  /// Bytes `materialize` writes.
  uint64_t getBytes() const;
};

class WeightStore {
public:
  WeightStore();
  ~WeightStore();
  WeightStore(const WeightStore &) = delete;
  WeightStore &operator=(const WeightStore &) = delete;

  /// Takes ownership of an opened checkpoint. Its tensors become source
  /// tensors; a name already provided by another source is an error.
  llvm::Error addSource(std::unique_ptr<SafetensorsCheckpoint> checkpoint);
  llvm::Error addSource(std::unique_ptr<GgufFile> file);
  const TensorView *lookupSourceTensor(llvm::StringRef name) const;

  /// Declares weight `name` as source tensor `sourceTensor` (the same name
  /// when empty), with no transforms yet.
  llvm::Error addWeight(llvm::StringRef name,
                        llvm::StringRef sourceTensor = "");
  /// Declares every source tensor as a weight of the same name, in name
  /// order; names already declared are left alone.
  void addAllSourceTensors();
  /// Declares `name` as the concatenation along `axis` of the weights
  /// `parts` as they are now (transforms recorded on a part later do not
  /// reach the concatenation). Parts must agree in dtype and in every other
  /// dimension, e.g. Q, K and V projections fused into one QKV weight.
  llvm::Error addConcat(llvm::StringRef name, llvm::ArrayRef<std::string> parts,
                        int64_t axis);
  bool contains(llvm::StringRef name) const;
  /// Declared weights, sorted.
  std::vector<std::string> getWeightNames() const;

  // Transforms, appended to a weight's chain. Each checks at once that it
  // applies to the weight's dtype and shape at that point of the chain, so
  // `materialize` cannot fail on a recorded chain except for I/O.

  /// Converts to F32, F16 or BF16 (decoding any block-quantized source;
  /// narrowing rounds to nearest even).
  llvm::Error convert(llvm::StringRef name, DType target);
  /// Swaps the two dimensions of a 2-D weight (not block-quantized).
  llvm::Error transpose(llvm::StringRef name);
  /// Keeps indices [begin, end) of `axis`: rows (axis 0) or columns (axis
  /// 1) of a matrix, for tensor-parallel shards. Block-quantized weights can
  /// be sliced on every axis but the innermost.
  llvm::Error slice(llvm::StringRef name, int64_t axis, int64_t begin,
                    int64_t end);
  /// Undoes the per-head row interleave convert_hf_to_gguf.py applies to
  /// llama/mistral Q and K projections (`permute(w, n_head)`), giving the
  /// Hugging Face row order back. `numHeads` is n_head for Q and n_head_kv
  /// for K; rows must be numHeads x an even head size.
  llvm::Error unpermuteQK(llvm::StringRef name, int64_t numHeads);
  /// Adds `constant` to every element (Gemma stores norm weights as w with
  /// `1 + w` applied at run time). F32, F16 or BF16 only; the sum is taken
  /// in f32 and rounded back.
  llvm::Error addConstant(llvm::StringRef name, float constant);

  /// The dtype and shape the weight has after its transforms.
  llvm::Expected<WeightDesc> describe(llvm::StringRef name) const;
  /// Reads the source and applies the chain, writing the result (row-major,
  /// little-endian) into `destination`, which must be exactly
  /// describe(name).getBytes() long. Scratch memory is at most a couple of
  /// copies of this one tensor.
  llvm::Error materialize(llvm::StringRef name,
                          llvm::MutableArrayRef<uint8_t> destination) const;

  struct Node;

private:
  llvm::Error addSourceTensor(const TensorView &tensor);
  llvm::Expected<Node *> findWeight(llvm::StringRef name,
                                    llvm::StringRef action);

  std::vector<std::unique_ptr<SafetensorsCheckpoint>> checkpoints;
  std::vector<std::unique_ptr<GgufFile>> ggufFiles;
  llvm::StringMap<const TensorView *> sourceTensors;
  llvm::StringMap<std::unique_ptr<Node>> weights;
};

} // namespace llmc::weights

#endif // LLMC_COMPILER_WEIGHTS_WEIGHTSTORE_H
