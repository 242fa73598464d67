//===- CudaPlanArtifact.h - hand-made GPU-target artifacts for tests ------===//
//
// Builds a complete `.llmc` file in memory, like test/unit/engine/
// PlanArtifact.h, with what the CUDA backend reads and that one does not
// write: a GPU target, cuBLASLt GEMMs, weights loaded into any arena, kernel
// modules in a kernels section and format-1.1 launches on steps. The same
// plan built with `gpu = false` is a CPU artifact (target cpu, CPU GEMMs), the
// reference the CUDA backend's results are compared with.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_UNIT_CUDA_BACKEND_CUDAPLANARTIFACT_H
#define LLMC_TEST_UNIT_CUDA_BACKEND_CUDAPLANARTIFACT_H

#include "runtime/loader/Artifact.h"
#include "runtime/schema/ArtifactHeader.h"
#include "runtime/schema/Checksum.h"
#include "runtime/schema/artifact_generated.h"

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmc::test {

namespace fb = ::llmc::artifact;

struct CudaBufferSpec {
  uint32_t arena = 0;
  uint64_t offset = 0;
  std::vector<int64_t> shape;
  fb::DType dtype = fb::DType::F32;
  bool tokenRows = false;
};

struct CudaLaunchSpec {
  uint32_t kernel = 0;
  std::vector<uint32_t> grid{1, 1, 1}, block{1, 1, 1};
  uint32_t sharedBytes = 0;
  std::vector<CudaBufferSpec> args;
  std::vector<uint32_t> gridTokenScale;
  std::vector<int64_t> tokenArgs;
  std::vector<fb::LaunchArg> extraArgs;
  int64_t layer = 0;
  uint64_t scratchBytes = 0;
  uint32_t minTokens = 0, maxTokens = 0;
};

class CudaPlanArtifact {
public:
  /// `gpu`: target `target` (sm `sm`) with cuBLASLt GEMMs; else target cpu
  /// with CPU GEMMs.
  CudaPlanArtifact(uint32_t maxTokens, bool gpu, std::string target = "h100",
                   std::string sm = "90a")
      : maxTokens_(maxTokens), gpu_(gpu), target_(std::move(target)),
        sm_(std::move(sm)) {}

  uint32_t maxTokens() const { return maxTokens_; }

  /// A buffer of `bytes` in arena 0 (activations) or 1 (weights).
  CudaBufferSpec buffer(uint32_t arena, std::vector<int64_t> shape,
                        fb::DType dtype, size_t bytes, bool tokenRows) {
    uint64_t &used = arena == 0 ? activationBytes_ : weightBytes_;
    CudaBufferSpec spec{arena, used, std::move(shape), dtype, tokenRows};
    used += (bytes + 255) / 256 * 256;
    return spec;
  }
  /// A tensor whose bytes are loaded into `where` at load time.
  void load(const std::string &name, const CudaBufferSpec &where,
            const void *data, size_t bytes) {
    tensors_.push_back(
        {name, where.dtype, where.shape,
         std::vector<uint8_t>(static_cast<const uint8_t *>(data),
                              static_cast<const uint8_t *>(data) + bytes),
         where.arena, where.offset});
  }
  CudaBufferSpec tokenIds() {
    if (!tokenIds_)
      tokenIds_ = buffer(0, {int64_t(maxTokens_)}, fb::DType::I32,
                         4 * maxTokens_, true);
    return *tokenIds_;
  }
  void setLogits(const CudaBufferSpec &logits) { logits_ = logits; }

  uint32_t kernelModule(std::vector<uint8_t> cubin, std::vector<uint8_t> ptx,
                        std::vector<std::string> entries) {
    modules_.push_back({std::move(cubin), std::move(ptx), std::move(entries)});
    return static_cast<uint32_t>(modules_.size() - 1);
  }
  uint32_t kernel(const std::string &entry, uint32_t module) {
    kernels_.push_back({entry, module});
    return static_cast<uint32_t>(kernels_.size() - 1);
  }

  struct GemmOperands {
    CudaBufferSpec a, b, c;
    std::optional<CudaBufferSpec> scaleA, scaleB;
    bool transposeB = true;
    float alpha = 1.0f, beta = 0.0f;
    /// Overrides the backend `gpu` implies.
    std::optional<fb::GemmBackend> backend;
  };
  void gemm(const GemmOperands &operands,
            std::vector<CudaLaunchSpec> launches = {}) {
    Step step;
    step.kind = Step::Gemm;
    step.gemm = operands;
    step.launches = std::move(launches);
    steps_.push_back(std::move(step));
  }
  /// A compute step (what the CPU runs) with the launches a GPU runs.
  void compute(const std::string &name, std::vector<CudaBufferSpec> inputs,
               std::vector<CudaBufferSpec> outputs,
               std::vector<CudaLaunchSpec> launches = {},
               std::vector<std::pair<std::string, int64_t>> intParams = {}) {
    Step step;
    step.intParams = std::move(intParams);
    step.kind = Step::Compute;
    step.name = name;
    step.inputs = std::move(inputs);
    step.outputs = std::move(outputs);
    step.launches = std::move(launches);
    steps_.push_back(std::move(step));
  }
  void host(const std::string &name) {
    Step step;
    step.kind = Step::Host;
    step.name = name;
    steps_.push_back(std::move(step));
  }

  int64_t maxSeqLen = 32;
  int32_t kvBlockTokens = 4;

  runtime::Status open(std::unique_ptr<loader::Artifact> &out,
                       const std::string &name = "cuda_plan.llmc") const {
    std::vector<uint8_t> file = serialize();
    return loader::Artifact::fromMemory(file.data(), file.size(), name,
                                        loader::OpenOptions{}, out);
  }

private:
  struct Tensor {
    std::string name;
    fb::DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
    uint32_t arena;
    uint64_t offset;
  };
  struct Module {
    std::vector<uint8_t> cubin, ptx;
    std::vector<std::string> entries;
  };
  struct KernelSpec {
    std::string entry;
    uint32_t module;
  };
  struct Step {
    enum Kind { Gemm, Compute, Host } kind = Compute;
    std::string name;
    std::vector<CudaBufferSpec> inputs, outputs;
    GemmOperands gemm;
    std::vector<CudaLaunchSpec> launches;
    std::vector<std::pair<std::string, int64_t>> intParams;
  };
  /// Where each blob goes: section index and offset.
  struct Layout {
    uint64_t weightsOffset = 0, weightsBytes = 0, kernelsOffset = 0,
             kernelsBytes = 0;
    std::vector<uint64_t> tensorOffsets;
    std::vector<std::pair<uint64_t, uint64_t>> moduleOffsets; // cubin, ptx
  };

  static flatbuffers::Offset<fb::Buffer>
  buffer(flatbuffers::FlatBufferBuilder &fbb, const CudaBufferSpec &spec) {
    return fb::CreateBufferDirect(fbb, spec.arena, spec.offset, &spec.shape,
                                  spec.dtype, spec.tokenRows);
  }

  flatbuffers::Offset<fb::LaunchStep>
  launch(flatbuffers::FlatBufferBuilder &fbb, const CudaLaunchSpec &l) const {
    std::vector<flatbuffers::Offset<fb::Buffer>> args;
    for (const CudaBufferSpec &b : l.args)
      args.push_back(buffer(fbb, b));
    std::vector<uint8_t> extras;
    for (fb::LaunchArg a : l.extraArgs)
      extras.push_back(static_cast<uint8_t>(a));
    auto extraVector = fbb.CreateVector(extras);
    auto grid = fbb.CreateVector(l.grid), block = fbb.CreateVector(l.block),
         scale = fbb.CreateVector(l.gridTokenScale);
    auto tokenArgs = fbb.CreateVector(l.tokenArgs);
    auto argVector = fbb.CreateVector(args);
    fb::LaunchStepBuilder builder(fbb);
    builder.add_kernel(l.kernel);
    builder.add_grid(grid);
    builder.add_block(block);
    builder.add_shared_bytes(l.sharedBytes);
    builder.add_args(argVector);
    if (!l.gridTokenScale.empty()) // absent: a static grid
      builder.add_grid_token_scale(scale);
    builder.add_token_args(tokenArgs);
    builder.add_extra_args(
        flatbuffers::Offset<flatbuffers::Vector<fb::LaunchArg>>(extraVector.o));
    builder.add_layer(l.layer);
    builder.add_scratch_bytes(l.scratchBytes);
    builder.add_min_tokens(l.minTokens);
    builder.add_max_tokens(l.maxTokens);
    return builder.Finish();
  }

  std::vector<uint8_t> flatbuffer(const Layout &layout) const {
    flatbuffers::FlatBufferBuilder fbb;
    fbb.ForceDefaults(true);
    std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const Tensor &t = tensors_[i];
      fb::BlobRef blob(0, layout.tensorOffsets[i], t.bytes.size(),
                       artifact::xxhash64(t.bytes.data(), t.bytes.size()));
      tensors.push_back(fb::CreateTensorDirect(fbb, t.name.c_str(), t.dtype,
                                               &t.shape, &blob));
    }
    std::vector<flatbuffers::Offset<fb::Section>> sections = {
        fb::CreateSection(fbb, fb::SectionKind::Weights, layout.weightsOffset,
                          layout.weightsBytes)};
    if (!modules_.empty())
      sections.push_back(fb::CreateSection(fbb, fb::SectionKind::Kernels,
                                           layout.kernelsOffset,
                                           layout.kernelsBytes));
    std::vector<flatbuffers::Offset<fb::KernelModule>> modules;
    for (size_t i = 0; i < modules_.size(); ++i) {
      const Module &m = modules_[i];
      std::vector<flatbuffers::Offset<flatbuffers::String>> entries;
      for (const std::string &e : m.entries)
        entries.push_back(fbb.CreateString(e));
      auto entryVector = fbb.CreateVector(entries);
      auto smString = fbb.CreateString(sm_);
      fb::BlobRef cubin(1, layout.moduleOffsets[i].first, m.cubin.size(),
                        artifact::xxhash64(m.cubin.data(), m.cubin.size()));
      fb::BlobRef ptx(1, layout.moduleOffsets[i].second, m.ptx.size(),
                      artifact::xxhash64(m.ptx.data(), m.ptx.size()));
      fb::KernelModuleBuilder builder(fbb);
      builder.add_sm(smString);
      if (!m.cubin.empty())
        builder.add_cubin(&cubin);
      if (!m.ptx.empty())
        builder.add_ptx(&ptx);
      builder.add_entries(entryVector);
      modules.push_back(builder.Finish());
    }
    std::vector<flatbuffers::Offset<fb::Kernel>> kernels;
    for (const KernelSpec &k : kernels_)
      kernels.push_back(fb::CreateKernelDirect(
          fbb, k.entry.c_str(), k.entry.c_str(), k.module, "test", "0"));
    std::vector<flatbuffers::Offset<fb::Arena>> arenas = {
        fb::CreateArenaDirect(fbb, "activations", fb::ArenaKind::Activations,
                              std::max<uint64_t>(activationBytes_, 256), 256),
        fb::CreateArenaDirect(fbb, "weights", fb::ArenaKind::Weights,
                              std::max<uint64_t>(weightBytes_, 256), 256)};
    std::vector<flatbuffers::Offset<fb::WeightLoad>> loads;
    for (size_t i = 0; i < tensors_.size(); ++i)
      loads.push_back(fb::CreateWeightLoad(fbb, static_cast<uint32_t>(i),
                                           tensors_[i].arena,
                                           tensors_[i].offset));
    std::vector<flatbuffers::Offset<fb::Step>> steps;
    for (const Step &step : steps_) {
      std::vector<flatbuffers::Offset<fb::LaunchStep>> launches;
      if (gpu_)
        for (const CudaLaunchSpec &l : step.launches)
          launches.push_back(launch(fbb, l));
      auto launchVector = fbb.CreateVector(launches);
      if (step.kind == Step::Gemm) {
        const GemmOperands &g = step.gemm;
        auto a = buffer(fbb, g.a), b = buffer(fbb, g.b), c = buffer(fbb, g.c);
        auto sa = g.scaleA ? buffer(fbb, *g.scaleA) : 0;
        auto sb = g.scaleB ? buffer(fbb, *g.scaleB) : 0;
        fb::GemmBackend backend = g.backend ? *g.backend
                                            : (gpu_ ? fb::GemmBackend::CublasLt
                                                    : fb::GemmBackend::Cpu);
        auto op = fb::CreateGemmStep(fbb, backend, a, b, c, sa, sb,
                                     g.transposeB, g.alpha, g.beta, 0);
        steps.push_back(fb::CreateStep(fbb, fb::StepOp::GemmStep, op.Union(),
                                       launchVector));
        continue;
      }
      if (step.kind == Step::Host) {
        auto op = fb::CreateHostStepDirect(fbb, step.name.c_str());
        steps.push_back(fb::CreateStep(fbb, fb::StepOp::HostStep, op.Union(),
                                       launchVector));
        continue;
      }
      std::vector<flatbuffers::Offset<fb::Buffer>> inputs, outputs;
      for (const CudaBufferSpec &b : step.inputs)
        inputs.push_back(buffer(fbb, b));
      for (const CudaBufferSpec &b : step.outputs)
        outputs.push_back(buffer(fbb, b));
      std::vector<flatbuffers::Offset<fb::Param>> params;
      for (const auto &[key, value] : step.intParams)
        params.push_back(fb::CreateParamDirect(
            fbb, key.c_str(), flatbuffers::Optional<int64_t>(value)));
      auto op = fb::CreateComputeStepDirect(fbb, step.name.c_str(), &inputs,
                                            &outputs, &params);
      steps.push_back(fb::CreateStep(fbb, fb::StepOp::ComputeStep, op.Union(),
                                     launchVector));
    }
    std::vector<flatbuffers::Offset<fb::NamedBuffer>> inputs, outputs;
    if (tokenIds_)
      inputs.push_back(fb::CreateNamedBufferDirect(fbb, "token_ids",
                                                   buffer(fbb, *tokenIds_)));
    if (logits_)
      outputs.push_back(
          fb::CreateNamedBufferDirect(fbb, "logits", buffer(fbb, *logits_)));
    std::vector<flatbuffers::Offset<fb::RankPlan>> plans = {
        fb::CreateRankPlanDirect(fbb, 0, &arenas, &loads, &steps, maxTokens_,
                                 &inputs, &outputs)};
    auto target =
        gpu_ ? fb::CreateTargetDirect(fbb, target_.c_str(), "GPU", sm_.c_str())
             : fb::CreateTargetDirect(fbb, "cpu", "x86-64", "");
    fb::ModelConfigBuilder config(fbb);
    config.add_vocab_size(logits_ ? logits_->shape.back() : 1);
    config.add_max_position_embeddings(maxSeqLen);
    config.add_max_seq_len(maxSeqLen);
    config.add_max_batch(1);
    config.add_kv_cache_dtype(fb::DType::F32);
    config.add_kv_block_tokens(kvBlockTokens);
    config.add_max_batch_tokens(maxTokens_);
    auto configOffset = config.Finish();
    auto root = fb::CreateArtifactDirect(
        fbb, artifact::kFormatMajor, artifact::kFormatMinor, "cuda_plan",
        target, "test", configOffset, 0, &sections, &tensors, &modules,
        &kernels, 1, &plans);
    fb::FinishArtifactBuffer(fbb, root);
    return std::vector<uint8_t>(fbb.GetBufferPointer(),
                                fbb.GetBufferPointer() + fbb.GetSize());
  }

  std::vector<uint8_t> serialize() const {
    using artifact::alignUp;
    using artifact::kHeaderBytes;
    using artifact::kSectionAlignment;
    Layout layout;
    for (const Tensor &t : tensors_) {
      layout.tensorOffsets.push_back(layout.weightsBytes);
      layout.weightsBytes =
          alignUp(layout.weightsBytes + std::max<size_t>(t.bytes.size(), 1),
                  kSectionAlignment);
    }
    layout.weightsBytes =
        std::max<uint64_t>(layout.weightsBytes, kSectionAlignment);
    for (const Module &m : modules_) {
      uint64_t cubin = layout.kernelsBytes;
      layout.kernelsBytes =
          alignUp(layout.kernelsBytes + std::max<size_t>(m.cubin.size(), 1),
                  kSectionAlignment);
      uint64_t ptx = layout.kernelsBytes;
      layout.kernelsBytes =
          alignUp(layout.kernelsBytes + std::max<size_t>(m.ptx.size(), 1),
                  kSectionAlignment);
      layout.moduleOffsets.push_back({cubin, ptx});
    }
    // The FlatBuffer's size (forced defaults) does not depend on the section
    // offsets, so one sizing pass finds where the sections go.
    layout.weightsOffset = kSectionAlignment;
    std::vector<uint8_t> table;
    for (;;) {
      layout.kernelsOffset = layout.weightsOffset + layout.weightsBytes;
      table = flatbuffer(layout);
      uint64_t needed = alignUp(kHeaderBytes + table.size(), kSectionAlignment);
      if (needed == layout.weightsOffset)
        break;
      layout.weightsOffset = needed;
    }
    std::vector<uint8_t> file(
        layout.kernelsOffset + (modules_.empty() ? 0 : layout.kernelsBytes), 0);
    std::memcpy(file.data() + kHeaderBytes, table.data(), table.size());
    for (size_t i = 0; i < tensors_.size(); ++i)
      std::memcpy(file.data() + layout.weightsOffset + layout.tensorOffsets[i],
                  tensors_[i].bytes.data(), tensors_[i].bytes.size());
    for (size_t i = 0; i < modules_.size(); ++i) {
      const Module &m = modules_[i];
      if (!m.cubin.empty())
        std::memcpy(file.data() + layout.kernelsOffset +
                        layout.moduleOffsets[i].first,
                    m.cubin.data(), m.cubin.size());
      if (!m.ptx.empty())
        std::memcpy(file.data() + layout.kernelsOffset +
                        layout.moduleOffsets[i].second,
                    m.ptx.data(), m.ptx.size());
    }
    artifact::FixedHeader header;
    header.flatbufferOffset = kHeaderBytes;
    header.flatbufferBytes = table.size();
    header.flatbufferXxhash64 = artifact::xxhash64(table.data(), table.size());
    header.fileBytes = file.size();
    artifact::encodeHeader(header, file.data());
    artifact::storeHeaderChecksum(
        file.data(),
        artifact::xxhash64(file.data(),
                           artifact::header_offset::kHeaderXxhash64));
    return file;
  }

  uint32_t maxTokens_;
  bool gpu_;
  std::string target_, sm_;
  uint64_t weightBytes_ = 0, activationBytes_ = 0;
  std::vector<Tensor> tensors_;
  std::vector<Module> modules_;
  std::vector<KernelSpec> kernels_;
  std::vector<Step> steps_;
  std::optional<CudaBufferSpec> tokenIds_, logits_;
};

} // namespace llmc::test

#endif // LLMC_TEST_UNIT_CUDA_BACKEND_CUDAPLANARTIFACT_H
