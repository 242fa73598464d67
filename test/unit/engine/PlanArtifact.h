//===- PlanArtifact.h - hand-made CPU artifacts for engine tests ----------===//
//
// Builds a complete `.llmc` file in memory (fixed header, FlatBuffer,
// 4 KiB-aligned weight section, checksums) from a plan written step by step,
// then opens it with the real loader. Engine tests use it for plan steps that
// `llmc compile` does not emit yet (the quantized ones), without linking the
// compiler. Arena 0 holds activations, arena 1 the weights.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_UNIT_ENGINE_PLANARTIFACT_H
#define LLMC_TEST_UNIT_ENGINE_PLANARTIFACT_H

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

struct BufferSpec {
  uint32_t arena = 0;
  uint64_t offset = 0;
  std::vector<int64_t> shape;
  fb::DType dtype = fb::DType::F32;
  bool tokenRows = false;

  /// The same memory seen with another shape (a view, as plan.slice).
  BufferSpec view(std::vector<int64_t> newShape) const {
    BufferSpec copy = *this;
    copy.shape = std::move(newShape);
    return copy;
  }
};

struct ParamSpec {
  std::string key;
  std::optional<int64_t> intValue;
  std::optional<double> floatValue;
  std::optional<std::string> stringValue;
};
inline ParamSpec intParam(std::string key, int64_t value) {
  return {std::move(key), value, std::nullopt, std::nullopt};
}
inline ParamSpec floatParam(std::string key, double value) {
  return {std::move(key), std::nullopt, value, std::nullopt};
}
inline ParamSpec stringParam(std::string key, std::string value) {
  return {std::move(key), std::nullopt, std::nullopt, std::move(value)};
}

class PlanArtifact {
public:
  explicit PlanArtifact(uint32_t maxTokens) : maxTokens_(maxTokens) {}

  uint32_t maxTokens() const { return maxTokens_; }

  /// A weight tensor (its bytes copied) loaded into arena 1.
  BufferSpec weight(const std::string &name, fb::DType dtype,
                    std::vector<int64_t> shape, const void *data,
                    size_t bytes) {
    Tensor tensor{
        name, dtype, shape,
        std::vector<uint8_t>(static_cast<const uint8_t *>(data),
                             static_cast<const uint8_t *>(data) + bytes),
        weightBytes_};
    tensors_.push_back(std::move(tensor));
    BufferSpec buffer{1, weightBytes_, std::move(shape), dtype, false};
    weightBytes_ += (bytes + 63) / 64 * 64;
    return buffer;
  }
  template <typename T>
  BufferSpec weight(const std::string &name, fb::DType dtype,
                    std::vector<int64_t> shape, const std::vector<T> &values) {
    return weight(name, dtype, std::move(shape), values.data(),
                  values.size() * sizeof(T));
  }

  /// An activation buffer in arena 0 (`bytes` of room; token rows when
  /// `tokenRows`, whose leading dimension must then be maxTokens * k).
  BufferSpec activation(std::vector<int64_t> shape, fb::DType dtype,
                        size_t bytes, bool tokenRows = true) {
    BufferSpec buffer{0, activationBytes_, std::move(shape), dtype, tokenRows};
    activationBytes_ += (bytes + 63) / 64 * 64;
    return buffer;
  }

  /// The i32 token-ids input, [maxTokens].
  BufferSpec tokenIds() {
    if (!tokenIds_)
      tokenIds_ =
          activation({int64_t(maxTokens_)}, fb::DType::I32, 4 * maxTokens_);
    return *tokenIds_;
  }
  void setLogits(const BufferSpec &logits) { logits_ = logits; }

  void compute(const std::string &name, std::vector<BufferSpec> inputs,
               std::vector<BufferSpec> outputs,
               std::vector<ParamSpec> params = {}) {
    Step step;
    step.isGemm = false;
    step.name = name;
    step.inputs = std::move(inputs);
    step.outputs = std::move(outputs);
    step.params = std::move(params);
    steps_.push_back(std::move(step));
  }

  struct GemmOperands {
    BufferSpec a, b, c;
    std::optional<BufferSpec> scaleA, scaleB, zeroB;
    bool transposeB = true;
    float alpha = 1.0f;
    float beta = 0.0f; // C = alpha * A * B^T + beta * C
  };
  void gemm(const GemmOperands &operands) {
    Step step;
    step.isGemm = true;
    step.gemm = operands;
    steps_.push_back(std::move(step));
  }

  // ModelConfig knobs.
  fb::DType kvCacheDType = fb::DType::F32;
  int32_t kvBlockTokens = 4;
  int64_t maxSeqLen = 32;

  /// Writes the artifact and opens it with the loader (checksums verified).
  runtime::Status open(std::unique_ptr<loader::Artifact> &out) const {
    std::vector<uint8_t> file = serialize();
    return loader::Artifact::fromMemory(file.data(), file.size(),
                                        "plan_artifact.llmc",
                                        loader::OpenOptions{}, out);
  }

private:
  struct Tensor {
    std::string name;
    fb::DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
    uint64_t arenaOffset;
  };
  struct Step {
    bool isGemm = false;
    std::string name;
    std::vector<BufferSpec> inputs, outputs;
    std::vector<ParamSpec> params;
    GemmOperands gemm;
  };

  static flatbuffers::Offset<fb::Buffer>
  buffer(flatbuffers::FlatBufferBuilder &fbb, const BufferSpec &spec) {
    return fb::CreateBufferDirect(fbb, spec.arena, spec.offset, &spec.shape,
                                  spec.dtype, spec.tokenRows);
  }
  static flatbuffers::Offset<fb::Buffer>
  optionalBuffer(flatbuffers::FlatBufferBuilder &fbb,
                 const std::optional<BufferSpec> &spec) {
    return spec ? buffer(fbb, *spec) : 0;
  }

  std::vector<uint8_t>
  flatbuffer(uint64_t sectionOffset, uint64_t sectionBytes,
             const std::vector<uint64_t> &blobOffsets) const {
    flatbuffers::FlatBufferBuilder fbb;
    fbb.ForceDefaults(true);
    std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const Tensor &t = tensors_[i];
      fb::BlobRef blob(0, blobOffsets[i], t.bytes.size(),
                       artifact::xxhash64(t.bytes.data(), t.bytes.size()));
      tensors.push_back(fb::CreateTensorDirect(fbb, t.name.c_str(), t.dtype,
                                               &t.shape, &blob));
    }
    std::vector<flatbuffers::Offset<fb::Section>> sections = {fb::CreateSection(
        fbb, fb::SectionKind::Weights, sectionOffset, sectionBytes)};
    std::vector<flatbuffers::Offset<fb::Arena>> arenas = {
        fb::CreateArenaDirect(fbb, "activations", fb::ArenaKind::Activations,
                              std::max<uint64_t>(activationBytes_, 64), 64),
        fb::CreateArenaDirect(fbb, "weights", fb::ArenaKind::Weights,
                              std::max<uint64_t>(weightBytes_, 64), 64)};
    std::vector<flatbuffers::Offset<fb::WeightLoad>> loads;
    for (size_t i = 0; i < tensors_.size(); ++i)
      loads.push_back(fb::CreateWeightLoad(fbb, static_cast<uint32_t>(i), 1,
                                           tensors_[i].arenaOffset));
    std::vector<flatbuffers::Offset<fb::Step>> steps;
    for (const Step &step : steps_) {
      if (step.isGemm) {
        const GemmOperands &g = step.gemm;
        auto a = buffer(fbb, g.a), b = buffer(fbb, g.b), c = buffer(fbb, g.c);
        auto sa = optionalBuffer(fbb, g.scaleA);
        auto sb = optionalBuffer(fbb, g.scaleB);
        auto zb = optionalBuffer(fbb, g.zeroB);
        auto op = fb::CreateGemmStep(fbb, fb::GemmBackend::Cpu, a, b, c, sa, sb,
                                     g.transposeB, g.alpha, g.beta, zb);
        steps.push_back(fb::CreateStep(fbb, fb::StepOp::GemmStep, op.Union()));
        continue;
      }
      std::vector<flatbuffers::Offset<fb::Buffer>> inputs, outputs;
      for (const BufferSpec &b : step.inputs)
        inputs.push_back(buffer(fbb, b));
      for (const BufferSpec &b : step.outputs)
        outputs.push_back(buffer(fbb, b));
      std::vector<flatbuffers::Offset<fb::Param>> params;
      for (const ParamSpec &p : step.params)
        params.push_back(fb::CreateParamDirect(
            fbb, p.key.c_str(),
            p.intValue ? flatbuffers::Optional<int64_t>(*p.intValue)
                       : flatbuffers::nullopt,
            p.floatValue ? flatbuffers::Optional<double>(*p.floatValue)
                         : flatbuffers::nullopt,
            p.stringValue ? p.stringValue->c_str() : nullptr));
      auto op = fb::CreateComputeStepDirect(fbb, step.name.c_str(), &inputs,
                                            &outputs, &params);
      steps.push_back(fb::CreateStep(fbb, fb::StepOp::ComputeStep, op.Union()));
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
    auto target = fb::CreateTargetDirect(fbb, "cpu", "x86-64", "");
    fb::ModelConfigBuilder config(fbb);
    config.add_vocab_size(logits_ ? logits_->shape.back() : 1);
    config.add_max_position_embeddings(maxSeqLen);
    config.add_max_seq_len(maxSeqLen);
    config.add_max_batch(1);
    config.add_kv_cache_dtype(kvCacheDType);
    config.add_kv_block_tokens(kvBlockTokens);
    config.add_max_batch_tokens(maxTokens_);
    auto configOffset = config.Finish();
    auto root = fb::CreateArtifactDirect(
        fbb, artifact::kFormatMajor, artifact::kFormatMinor, "plan_artifact",
        target, "test", configOffset, 0, &sections, &tensors, nullptr, nullptr,
        1, &plans);
    fb::FinishArtifactBuffer(fbb, root);
    return std::vector<uint8_t>(fbb.GetBufferPointer(),
                                fbb.GetBufferPointer() + fbb.GetSize());
  }

  std::vector<uint8_t> serialize() const {
    using artifact::alignUp;
    using artifact::kHeaderBytes;
    using artifact::kSectionAlignment;
    std::vector<uint64_t> blobOffsets;
    uint64_t sectionBytes = 0;
    for (const Tensor &t : tensors_) {
      blobOffsets.push_back(sectionBytes);
      sectionBytes = alignUp(sectionBytes + t.bytes.size(), kSectionAlignment);
    }
    // The FlatBuffer's size (with forced defaults) does not depend on the
    // section offset, so one sizing pass finds where the section goes.
    uint64_t sectionOffset = kSectionAlignment;
    std::vector<uint8_t> table;
    for (;;) {
      table = flatbuffer(sectionOffset, sectionBytes, blobOffsets);
      uint64_t needed = alignUp(kHeaderBytes + table.size(), kSectionAlignment);
      if (needed == sectionOffset)
        break;
      sectionOffset = needed;
    }
    std::vector<uint8_t> file(sectionOffset + sectionBytes, 0);
    std::memcpy(file.data() + kHeaderBytes, table.data(), table.size());
    for (size_t i = 0; i < tensors_.size(); ++i)
      std::memcpy(file.data() + sectionOffset + blobOffsets[i],
                  tensors_[i].bytes.data(), tensors_[i].bytes.size());
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
  uint64_t weightBytes_ = 0, activationBytes_ = 0;
  std::vector<Tensor> tensors_;
  std::vector<Step> steps_;
  std::optional<BufferSpec> tokenIds_, logits_;
};

} // namespace llmc::test

#endif // LLMC_TEST_UNIT_ENGINE_PLANARTIFACT_H
