//===- WeightStore.h - named weights: a source tensor plus lazy transforms
//--===//
//
// `llm.weight @name` in the IR refers to an entry here. An entry is a tensor
// in an opened checkpoint (or a concatenation of other entries) followed by
// an ordered list of transforms that passes record instead of touching data:
// dtype conversion, transpose, slice, un-permuting llama.cpp's Q/K rows,
// adding a constant, SmoothQuant's column scaling and norm division, and
// quantization (FP8/INT8/INT4). Entries may also be derived: the scales and
// zero points a quantization computes, or calibrated activation scales. Nothing
// is read until `materialize` streams one weight into a caller's buffer, so
// compiling a 70B model holds a few tensors, not the model.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_WEIGHTS_WEIGHTSTORE_H
#define LLMC_COMPILER_WEIGHTS_WEIGHTSTORE_H

#include "compiler/weights/DType.h"
#include "compiler/weights/Gptq.h"

#include "llvm/ADT/StringMap.h"

#include <memory>
#include <string>
#include <vector>

namespace llmc::weights {

class GgufFile;
class SafetensorsCheckpoint;

/// How `quantize` splits a weight into blocks that share a scale.
enum class QuantGranularity { PerTensor, PerChannel, Group };

/// A weight quantization scheme (docs/quantization.md): real value =
/// (q - zero) * scale, with one scale (and zero point) per block.
struct QuantScheme {
  /// I8, I4 or F8E4M3.
  DType dtype = DType::I8;
  QuantGranularity granularity = QuantGranularity::PerChannel;
  /// Columns per block for `Group`.
  int64_t groupSize = 0;
  /// Asymmetric (I8/I4 only): min/max mapped onto the full integer range
  /// with an i8 zero point per block.
  bool symmetric = true;
  /// Integer per-channel or group schemes: choose each block's range among
  /// kClipCandidates fractions r_i = 1 - 0.5 * i / (kClipCandidates - 1) of
  /// its maximum (asymmetric: both ends scaled by r_i), keeping the one with
  /// the smallest weighted squared error sum_k x_k^2 (x_k - (q_k - zero) *
  /// scale)^2 (in double; ties: the larger r), as llama.cpp's
  /// make_qx_quants weighs it. r_0 = 1 is the plain scheme, so that error
  /// never grows. Outlier-dominated blocks gain resolution for the rest.
  bool searchClipping = false;
  static constexpr int kClipCandidates = 20;
  /// GPTQ rounding (compiler/weights/Gptq.h) against these statistics of
  /// the K inputs, as measured before any smoothing recorded on the weight
  /// (the smoothing's column factors are divided out of them); null: round
  /// to nearest. Per-tensor and per-channel scales come from the weight as
  /// given, group scales from each group as GPTQ has updated it.
  std::shared_ptr<const InputGram> gptq;

  /// The scales' shape for an [N, K] weight: [], [N, 1] or [N, K / group].
  llvm::SmallVector<int64_t, 2> getScaleShape(int64_t rows,
                                              int64_t columns) const;
  /// "fp8_per_channel", "int8_per_tensor", "int4_group128_asym", ...
  std::string getName() const;
};

/// The largest magnitude of `dtype`'s quantized values (127, 7, 448).
float getQuantMax(DType dtype);

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

  /// Quantizes a 2-D [N, K] float weight (any dtype `convert` reads) to
  /// `scheme`. Per block: symmetric scale = amax / qmax (1 when amax is 0),
  /// q = saturate(round_half_even(x / scale)), FP8 by the satfinite
  /// conversion of x / scale; asymmetric (integers only) scale = (max(hi,
  /// 0) - min(lo, 0)) / (qmax - qmin), zero = saturate(round(qmin - lo /
  /// scale)), q = saturate(round(x / scale) + zero); `searchClipping` may
  /// narrow the range first (see QuantScheme). I4 packs two values a
  /// byte, the even column in the low nibble. The scales are computed once,
  /// with whichever of the weight and its scale entries is read first.
  llvm::Error quantize(llvm::StringRef name, const QuantScheme &scheme);
  /// Declares `name` as the f32 scales (or i8 zero points) of the
  /// quantization last recorded on weight `of`.
  llvm::Error addQuantScales(llvm::StringRef name, llvm::StringRef of);
  llvm::Error addQuantZeroPoints(llvm::StringRef name, llvm::StringRef of);

  /// SmoothQuant: for the norm weight `normWeight` (and its bias, when not
  /// empty) whose output feeds exactly the linears `linearWeights` ([N_i, K]
  /// each), with `activationAbsMax` the calibrated max |x_j| of the K
  /// channels entering them: s_j = max|x_j|^alpha / max_i,n |W_i[n, j]|^(1 -
  /// alpha), clamped to [minFactor, 1 / minFactor] (1 where either maximum
  /// is 0). Records division of the norm weight (and bias) by s and
  /// multiplication of every linear's column j by s_j, so the float network
  /// computes the same function. The weights are read once, when s is first
  /// needed.
  llvm::Error smooth(llvm::StringRef normWeight, llvm::StringRef normBias,
                     llvm::ArrayRef<std::string> linearWeights,
                     llvm::ArrayRef<float> activationAbsMax, float alpha,
                     float minFactor = 1e-5f);
  /// SmoothQuant between two linears whose connection is linear per channel
  /// in the producer's output: down_proj reading act(gate) * up (producer
  /// up_proj), o_proj reading attention over V (producer v_proj). The
  /// producer [R, K] (and its bias [R]) has row j divided by s_j and every
  /// consumer [N, C] has column c multiplied by s_{f(c)}, so the float
  /// network is unchanged. f is the identity (C = R) unless
  /// `queryHeadsPerKVHead` > 1: then C = R * queryHeadsPerKVHead and column
  /// c = h * headDim + d (query head h) reads V channel (h /
  /// queryHeadsPerKVHead) * headDim + d. `activationAbsMax` holds the
  /// calibrated maxima of the C consumer input channels; s_j is computed as
  /// in `smooth` from the largest of them and of the consumers' columns that
  /// map to j. Later calls name the group by `producerWeight`
  /// (getSmoothingFactors, addActivationScale).
  llvm::Error smoothLinearPair(llvm::StringRef producerWeight,
                               llvm::StringRef producerBias,
                               llvm::ArrayRef<std::string> consumerWeights,
                               llvm::ArrayRef<float> activationAbsMax,
                               float alpha, float minFactor = 1e-5f,
                               int64_t headDim = 0,
                               int64_t queryHeadsPerKVHead = 1);
  /// The factors s of the smoothing recorded on `normWeight` (or on the
  /// producer weight given to smoothLinearPair).
  llvm::Expected<std::vector<float>>
  getSmoothingFactors(llvm::StringRef normWeight) const;

  /// Declares `name` as a calibrated per-tensor activation scale, f32 []:
  /// absMax / qmax (1 when absMax is 0). With `smoothedBy` (a norm weight
  /// given to `smooth`), the activation is the smoothed x / s and its
  /// maximum is max_j activationAbsMax_j / s_j instead.
  llvm::Error addActivationScale(llvm::StringRef name, float absMax, float qmax,
                                 llvm::StringRef smoothedBy = "");

  /// The dtype and shape the weight has after its transforms.
  llvm::Expected<WeightDesc> describe(llvm::StringRef name) const;
  /// Reads the source and applies the chain, writing the result (row-major,
  /// little-endian) into `destination`, which must be exactly
  /// describe(name).getBytes() long. Scratch memory is at most a couple of
  /// copies of this one tensor.
  llvm::Error materialize(llvm::StringRef name,
                          llvm::MutableArrayRef<uint8_t> destination) const;

  /// The source tensor whose bytes are exactly what `materialize` would
  /// write (a declared source with no transforms), or nullptr. Writers stream
  /// such a weight straight from the mapped file instead of copying it.
  const TensorView *getUnchangedSource(llvm::StringRef name) const;
  /// Starts reading the mapped source tensors `name` is made from in the
  /// background (see adviseWillNeed), so the next `materialize` finds them
  /// in memory. Unknown names are ignored.
  void prefetch(llvm::StringRef name) const;
  /// Drops the mapped source pages `name` read from the process's memory
  /// (see releasePages); call it once the weight is materialized.
  void releaseSourcePages(llvm::StringRef name) const;

  struct Node;
  struct SmoothGroup;

private:
  llvm::Error addSourceTensor(const TensorView &tensor);
  llvm::Expected<Node *> findWeight(llvm::StringRef name,
                                    llvm::StringRef action);
  /// What smooth and smoothLinearPair share: the request is checked (error
  /// messages start with `what`), then every consumer must be a float
  /// [N, columns] weight; each joins `group` and gets its columns scaled.
  llvm::Error checkSmoothRequest(const llvm::Twine &what,
                                 llvm::StringRef anchor, size_t consumers,
                                 float alpha, float minFactor);
  llvm::Error scaleConsumerColumns(const llvm::Twine &what,
                                   llvm::ArrayRef<std::string> names,
                                   int64_t columns,
                                   const std::shared_ptr<SmoothGroup> &group);

  std::vector<std::unique_ptr<SafetensorsCheckpoint>> checkpoints;
  std::vector<std::unique_ptr<GgufFile>> ggufFiles;
  llvm::StringMap<const TensorView *> sourceTensors;
  llvm::StringMap<std::unique_ptr<Node>> weights;
  /// Smoothing groups by norm weight name (shared with the transforms).
  llvm::StringMap<std::shared_ptr<SmoothGroup>> smoothGroups;
};

} // namespace llmc::weights

#endif // LLMC_COMPILER_WEIGHTS_WEIGHTSTORE_H
