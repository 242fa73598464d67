//===- ArtifactWriter.h - streams a compiled model into one .llmc file ----===//
//
// The writer takes everything but the weights as plain structs (a later
// lowering from the `plan` dialect fills them) and the weights as names in a
// WeightStore. It lays out the file (see docs/artifact.md), then streams one
// tensor at a time: `materialize` into one of two reusable buffers while a
// writer thread hashes (XXH64) and writes the previous tensor at its 4 KiB-
// aligned offset; a weight stored unchanged goes straight from the mapped
// checkpoint, whose pages are released as they are consumed. Peak memory is
// therefore bounded by the largest tensors, not the model. The file is
// written as OUT.tmp and renamed at the end, so a failed compile never leaves
// a truncated artifact behind.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_ARTIFACT_ARTIFACTWRITER_H
#define LLMC_COMPILER_ARTIFACT_ARTIFACTWRITER_H

#include "compiler/weights/DType.h"
#include "compiler/weights/WeightStore.h"
#include "runtime/schema/artifact_generated.h"
#include "runtime/tokenizer/Tokenizer.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace llmc::artifact {

// The enums (DType, ArenaKind, GemmBackend, ...) are the schema's own,
// generated from runtime/schema/artifact.fbs.

struct TargetSpec {
  std::string name;
  std::string architecture;
  /// After "sm_"; empty for the CPU.
  std::string sm;
};

/// Mirrors `ModelConfig` in artifact.fbs; see there for each field.
struct ModelConfigSpec {
  std::string architecture;
  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKVHeads = 0;
  int64_t headDim = 0;
  int64_t rotaryDim = 0;
  int64_t maxPositionEmbeddings = 0;
  double rmsNormEps = 1e-6;
  double ropeTheta = 10000.0;
  std::optional<double> localRopeTheta;
  RopeScalingType ropeScalingType = RopeScalingType::None;
  double ropeScalingFactor = 1.0;
  double ropeLowFreqFactor = 1.0;
  double ropeHighFreqFactor = 4.0;
  int64_t ropeOriginalMaxPosition = 0;
  std::optional<int64_t> slidingWindow;
  std::vector<bool> slidingLayers;
  bool tieWordEmbeddings = false;
  MLPActivation mlpActivation = MLPActivation::Silu;
  std::optional<double> queryPreAttnScalar;
  std::optional<double> attnLogitSoftcap;
  std::optional<double> finalLogitSoftcap;
  int32_t bosTokenId = -1;
  int32_t eosTokenId = -1;
  std::vector<int32_t> stopTokenIds;
  DType kvCacheDType = DType::BF16;
  int32_t kvBlockTokens = 16;
  int64_t maxBatchTokens = 0;
  int64_t maxSeqLen = 0;
  int64_t maxBatch = 0;
};

/// Scales and zero points are other tensors of the artifact, by name.
struct QuantSpec {
  std::string scheme;
  std::string scaleTensor;
  std::string zeroPointTensor;
  std::vector<int64_t> blockShape;
};

struct TensorSpec {
  /// The name in the artifact.
  std::string name;
  /// The WeightStore entry to stream; `name` when empty.
  std::string weight;
  std::optional<QuantSpec> quant;
  /// A synthetic tensor: no bytes are stored (nor read from the store); the
  /// loader generates them from this seed (docs/artifact.md).
  std::optional<uint64_t> syntheticSeed;
  /// The dtype and shape, when given: the store is not asked (a synthetic
  /// tensor of a model whose weights were never opened). Otherwise
  /// `WeightStore::describe`.
  std::optional<weights::WeightDesc> desc;
};

struct KernelModuleSpec {
  std::string sm;
  std::vector<uint8_t> cubin;
  std::string ptx;
  std::vector<std::string> entries;
};

struct KernelSpec {
  std::string name;
  std::string entry;
  uint32_t module = 0;
  std::string kind;
  std::string sourceHash;
};

struct ArenaSpec {
  std::string name;
  ArenaKind kind = ArenaKind::Activations;
  uint64_t bytes = 0;
  uint64_t alignment = 256;
};

struct BufferSpec {
  /// Index into the rank's arenas.
  uint32_t arena = 0;
  uint64_t offset = 0;
  std::vector<int64_t> shape;
  DType dtype = DType::F32;
  /// The leading dimension scales with the token count (Buffer.token_rows).
  bool tokenRows = false;
};

/// `LaunchStep`: as a step of its own, or one of a step's `launches`.
struct LaunchSpec {
  /// Index into ArtifactSpec::kernels.
  uint32_t kernel = 0;
  std::array<uint32_t, 3> grid = {1, 1, 1};
  std::array<uint32_t, 3> block = {1, 1, 1};
  uint32_t sharedBytes = 0;
  std::vector<BufferSpec> args;
  /// Empty (static grid) or 3 pairs (n, d), d > 0.
  std::vector<uint32_t> gridTokenScale;
  /// One 64-bit T * k argument per entry k.
  std::vector<int64_t> tokenArgs;
  std::vector<LaunchArg> extraArgs;
  int64_t layer = 0;
  uint64_t scratchBytes = 0;
  /// Runs when minTokens <= T and (maxTokens == 0 or T <= maxTokens).
  uint32_t minTokens = 0;
  uint32_t maxTokens = 0;
};

struct GemmSpec {
  GemmBackend backend = GemmBackend::Cpu;
  BufferSpec a, b, c;
  std::optional<BufferSpec> scaleA, scaleB, zeroB;
  bool transposeB = false;
  float alpha = 1.0f;
  float beta = 0.0f;
};

struct CollectiveSpec {
  CollectiveKind kind = CollectiveKind::AllReduce;
  ReductionKind reduction = ReductionKind::Sum;
  BufferSpec buffer;
  std::optional<BufferSpec> output;
  int64_t axis = 0;
  int64_t peer = -1;
  std::vector<int64_t> group;
};

/// A parameter of a host or compute step (`Param` in artifact.fbs).
struct ParamSpec {
  std::string key;
  std::variant<int64_t, double, std::string> value;
};
using HostParamSpec = ParamSpec;

struct HostSpec {
  std::string name;
  std::vector<BufferSpec> args;
  std::vector<ParamSpec> params;
};

/// `plan.compute`.
struct ComputeSpec {
  std::string name;
  std::vector<BufferSpec> inputs;
  std::vector<BufferSpec> outputs;
  std::vector<ParamSpec> params;
};

using StepOpSpec =
    std::variant<LaunchSpec, GemmSpec, CollectiveSpec, HostSpec, ComputeSpec>;

/// `Step`: what it does, and how a GPU backend runs it (empty: by `op`).
struct StepSpec {
  StepOpSpec op;
  std::vector<LaunchSpec> launches;

  StepSpec() = default;
  /// From any op spec, so that `steps.push_back(GemmSpec{...})` reads as the
  /// step it is.
  template <typename Op, typename = std::enable_if_t<
                             std::is_constructible_v<StepOpSpec, Op &&>>>
  StepSpec(Op &&op, std::vector<LaunchSpec> launches = {})
      : op(std::forward<Op>(op)), launches(std::move(launches)) {}
};

/// A `plan.input` / `plan.output` buffer.
struct NamedBufferSpec {
  std::string name;
  BufferSpec buffer;
};

struct WeightLoadSpec {
  /// A TensorSpec name.
  std::string tensor;
  uint32_t arena = 0;
  uint64_t offset = 0;
};

struct RankPlanSpec {
  uint32_t rank = 0;
  std::vector<ArenaSpec> arenas;
  std::vector<WeightLoadSpec> weightLoads;
  std::vector<StepSpec> steps;
  /// The token capacity the plan's buffers are sized for.
  uint32_t maxTokens = 0;
  std::vector<NamedBufferSpec> inputs;
  std::vector<NamedBufferSpec> outputs;
};

/// A Hugging Face tokenizer stored as its JSON texts.
struct HuggingFaceTokenizerSpec {
  std::string tokenizerJson;
  /// May be empty.
  std::string tokenizerConfigJson;
};

/// Everything an artifact holds besides the weight bytes.
struct ArtifactSpec {
  /// "llmc <version>" when empty.
  std::string producer;
  TargetSpec target;
  std::string quantization;
  ModelConfigSpec config;
  /// At most one of `tokenizer` and `hfTokenizer`.
  std::optional<tokenizer::TokenizerVectors> tokenizer;
  std::optional<HuggingFaceTokenizerSpec> hfTokenizer;
  /// Stored in this order.
  std::vector<TensorSpec> tensors;
  std::vector<KernelModuleSpec> kernelModules;
  std::vector<KernelSpec> kernels;
  uint32_t worldSize = 1;
  std::vector<RankPlanSpec> plans;
};

/// Reported after each tensor is written (and once at the start, with
/// `tensorsWritten` 0).
struct WriteProgress {
  size_t tensorsWritten = 0;
  size_t tensorCount = 0;
  uint64_t bytesWritten = 0;
  uint64_t bytesTotal = 0;
};

struct WriteOptions {
  enum class ProgressBar { Auto, Always, Never };
  /// Auto: a bar on stderr when stderr is a terminal, nothing otherwise.
  ProgressBar progressBar = ProgressBar::Auto;
  /// Called after every tensor (tests sample memory here).
  std::function<void(const WriteProgress &)> onProgress;
};

struct WriteStats {
  uint64_t fileBytes = 0;
  /// Tensor bytes without padding.
  uint64_t tensorBytes = 0;
  size_t tensorCount = 0;
  /// Tensors stored as a seed only (counted in tensorCount, not tensorBytes).
  size_t syntheticTensorCount = 0;
  /// The largest tensor: the bound on each of the two reusable buffers.
  uint64_t largestTensorBytes = 0;
  double seconds = 0;
  /// Of `seconds`: converting weights (`materialize`), hashing, and writing
  /// sections (copies from the mapped checkpoint count as writing).
  double materializeSeconds = 0;
  double hashSeconds = 0;
  double writeSeconds = 0;
};

/// Writes the artifact to `path` (through `path`.tmp, renamed at the end).
/// Every error names what is wrong: an unknown weight, a dangling reference,
/// an I/O failure with the path.
llvm::Expected<WriteStats> writeArtifact(llvm::StringRef path,
                                         const ArtifactSpec &spec,
                                         const weights::WeightStore &store,
                                         const WriteOptions &options = {});

/// The schema's DType for a weights::DType (every one has one).
DType toArtifactDType(weights::DType type);

} // namespace llmc::artifact

#endif // LLMC_COMPILER_ARTIFACT_ARTIFACTWRITER_H
