//===- Artifact.h - opens, verifies and exposes a .llmc artifact ----------===//
//
// The runtime's only way into an artifact. `open` maps the file and checks,
// before anything else may look at it: the fixed header (magic, version,
// sizes, checksum), the FlatBuffer (checksum, then the generated verifier),
// the format version against the one this runtime reads, that every section
// and blob lies inside the file on its 4 KiB boundary, that every index
// (tensor, arena, kernel) points at something and every buffer fits its
// arena, and (by default) the XXH64 of every blob. After a successful open
// every accessor can be trusted; a bad file is a Status naming the file and
// the fault, never a crash.
//
// Plain C++17 with no MLIR or LLVM; exceptions never leave the library.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_LOADER_ARTIFACT_H
#define LLMC_RUNTIME_LOADER_ARTIFACT_H

#include "runtime/schema/artifact_generated.h"
#include "runtime/support/Status.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace llmc::loader {

namespace fb = ::llmc::artifact;

using Status = ::llmc::runtime::Status;

enum class ChecksumPolicy {
  /// Hash every blob during open (one pass over the file).
  AtOpen,
  /// Hash a tensor or kernel module the first time it is asked for.
  Lazy,
  /// Never (benchmarks of load time only).
  Never,
};

struct OpenOptions {
  ChecksumPolicy checksums = ChecksumPolicy::AtOpen;
};

/// A tensor of the artifact: where its bytes are and what they mean.
struct TensorRef {
  uint32_t index = 0;
  std::string_view name;
  fb::DType dtype = fb::DType::F32;
  std::vector<int64_t> shape;
  /// The bytes: in the mapped file, or (synthetic tensors) in memory the
  /// artifact owns, generated at first access.
  const uint8_t *data = nullptr;
  uint64_t bytes = 0;
  /// Generated from `Tensor.synthetic_seed`, not stored in the file.
  bool synthetic = false;
  /// The table, for quantization parameters.
  const fb::Tensor *table = nullptr;
};

class Artifact {
public:
  ~Artifact();
  Artifact(const Artifact &) = delete;
  Artifact &operator=(const Artifact &) = delete;

  /// Maps `path` read-only and verifies it.
  static Status open(const std::string &path, const OpenOptions &options,
                     std::unique_ptr<Artifact> &out);
  /// Verifies an artifact held in memory (copied, so `data` may go away);
  /// `name` is what messages call it. Fuzzers and tests use this.
  static Status fromMemory(const uint8_t *data, size_t size,
                           const std::string &name, const OpenOptions &options,
                           std::unique_ptr<Artifact> &out);

  /// The path or name messages use.
  const std::string &name() const { return name_; }
  uint64_t fileBytes() const { return size_; }
  /// The first byte of the mapped (or copied) file; data pointers minus this
  /// are file offsets.
  const uint8_t *bytes() const { return data_; }
  uint16_t formatMajor() const { return root_->format_major(); }
  uint16_t formatMinor() const { return root_->format_minor(); }
  /// The whole verified table, for what the accessors below do not cover.
  const fb::Artifact &root() const { return *root_; }

  std::string_view producer() const;
  std::string_view quantization() const;
  std::string_view targetName() const;
  std::string_view targetArchitecture() const;
  std::string_view targetSm() const;
  /// "h100 (Hopper, sm_90a)", "cpu (x86-64)".
  std::string describeTarget() const;
  /// Fails unless the artifact was compiled for target `name` (a canonical
  /// target name): "model.llmc: artifact targets h100 (Hopper, sm_90a) but
  /// this device is t4; recompile with llmc compile --target=t4".
  Status checkTarget(std::string_view name) const;

  /// Always present after open.
  const fb::ModelConfig &config() const { return *root_->config(); }

  bool hasTokenizer() const { return root_->tokenizer() != nullptr; }
  /// True when the tokenizer is stored as Hugging Face JSON texts (build it
  /// with `Tokenizer::fromHuggingFaceJson(hfTokenizerJson(),
  /// hfTokenizerConfigJson(), ...)`); false for the vectors form.
  bool hasHuggingFaceTokenizer() const;
  std::string_view hfTokenizerJson() const;
  std::string_view hfTokenizerConfigJson() const;
  /// The tokenizer in the form runtime/tokenizer builds from (the vectors
  /// form; fails for a Hugging Face tokenizer).
  Status tokenizerVectors(tokenizer::TokenizerVectors &out) const;
  /// The runtime tokenizer, from whichever form the artifact stores.
  Status loadTokenizer(std::unique_ptr<tokenizer::Tokenizer> &out) const;

  size_t tensorCount() const;
  /// Tensor `index` < tensorCount(), without a checksum check. A synthetic
  /// tensor is generated on first access (thread-safe) and kept.
  TensorRef tensor(size_t index) const;
  /// Bytes tensor `index` occupies (in the file, or generated).
  uint64_t tensorBytes(size_t index) const;
  bool isSynthetic(size_t index) const;
  size_t syntheticTensorCount() const;
  /// Looks a tensor up by name; with ChecksumPolicy::Lazy its checksum is
  /// verified on first access.
  Status findTensor(std::string_view name, TensorRef &out) const;
  /// Verifies one tensor's checksum now (cached when it passes).
  Status verifyTensor(size_t index) const;
  /// Verifies every blob's checksum (what open does by default).
  Status verifyAllChecksums() const;
  /// Sum of every tensor's bytes (synthetic ones included).
  uint64_t totalTensorBytes() const;
  /// Sum of the bytes stored in the file (synthetic tensors excluded).
  uint64_t storedTensorBytes() const;

  /// The bytes a blob reference points at (validated at open).
  const uint8_t *blobData(const fb::BlobRef &blob) const;
  /// The cubin / PTX of kernel module `index`; nullptr/0 when absent.
  /// With ChecksumPolicy::Lazy the module's blobs are verified first.
  Status kernelModuleBlobs(size_t index, const uint8_t *&cubin,
                           uint64_t &cubinBytes, const uint8_t *&ptx,
                           uint64_t &ptxBytes) const;

  /// Compiled kernels (GPU targets; none for cpu), verified at open: every
  /// kernel's module exists and exports its entry, every blob is in bounds.
  size_t kernelModuleCount() const;
  const fb::KernelModule &kernelModule(size_t index) const;
  size_t kernelCount() const;
  const fb::Kernel &kernel(size_t index) const;

  /// How a GPU backend runs a step (`Step.launches`, verified at open: each
  /// kernel index in range, 3-D grid and block, buffers in their arenas):
  /// its launches in order, those whose token range holds T.
  static size_t launchCount(const fb::Step &step);
  static const fb::LaunchStep &launch(const fb::Step &step, size_t index);
  /// min_tokens <= tokens and (max_tokens == 0 or tokens <= max_tokens).
  static bool launchRunsFor(const fb::LaunchStep &launch, uint32_t tokens);
  /// Whether a GPU backend can run the step: it has launches, or its op is
  /// one the backend runs itself (a cuBLASLt GEMM, a host step, a
  /// collective, a standalone launch). A compute step or a generated GEMM
  /// without launches needs code generation the artifact lacks.
  static bool gpuBackendRuns(const fb::Step &step);

  /// The plan of rank `rank`, or nullptr.
  const fb::RankPlan *plan(uint32_t rank) const;

private:
  Artifact() = default;
  static Status finishOpen(std::unique_ptr<Artifact> artifact,
                           const OpenOptions &options,
                           std::unique_ptr<Artifact> &out);
  Status verifyHeader();
  Status verifyContents();
  Status verifyBlob(const fb::BlobRef &blob, const std::string &what) const;
  Status checkBlobChecksum(const fb::BlobRef &blob,
                           const std::string &what) const;
  std::string describeTensor(size_t index) const;
  Status fail(const std::string &message) const;

  std::string name_;
  const uint8_t *data_ = nullptr;
  uint64_t size_ = 0;
  void *mapping_ = nullptr;
  std::vector<uint64_t> ownedBytes_;
  const fb::Artifact *root_ = nullptr;
  uint64_t fileBytesInHeader_ = 0;
  OpenOptions options_;
  /// 1 once a tensor's checksum is known good (Lazy).
  std::unique_ptr<std::atomic<uint8_t>[]> tensorVerified_;
  std::vector<std::pair<std::string_view, uint32_t>> sortedNames_;
  /// Synthetic tensors' bytes, generated on first access.
  struct SyntheticSlot {
    std::once_flag once;
    std::unique_ptr<uint64_t[]> bytes;
  };
  std::unique_ptr<SyntheticSlot[]> synthetic_;
};

/// Fills `out` (exactly `bytes` long) with the synthetic values of a tensor
/// of `dtype` (F32, F16 or BF16) and `shape` from `seed`: element i is
/// (2u - 1) / sqrt(fan_in) with u the top 24 bits of the i-th SplitMix64
/// output from `seed` scaled to [0, 1), and fan_in the innermost dimension
/// (1 for a scalar); F16 and BF16 round to nearest even. Returns false for
/// any other dtype.
bool fillSyntheticTensor(fb::DType dtype, const std::vector<int64_t> &shape,
                         uint64_t seed, uint8_t *out, uint64_t bytes);

/// "BF16", "Q4_K", ... as the schema names them.
std::string_view dtypeName(fb::DType dtype);
/// Bytes `elements` values of `dtype` occupy; false when `elements` is not
/// a whole number of blocks or the size overflows.
bool storageBytes(fb::DType dtype, uint64_t elements, uint64_t &bytes);

} // namespace llmc::loader

#endif // LLMC_RUNTIME_LOADER_ARTIFACT_H
