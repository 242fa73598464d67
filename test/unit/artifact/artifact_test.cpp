// Unit tests of the .llmc writer (compiler/artifact) and loader
// (runtime/loader): round trips against WeightStore::materialize, the file
// layout, and the loader's refusal of every kind of damaged file.

#include "PatchArtifact.h"
#include "SampleSpec.h"
#include "SyntheticCheckpoint.h"

#include "compiler/artifact/ArtifactWriter.h"
#include "compiler/weights/Gguf.h"
#include "compiler/weights/Safetensors.h"
#include "compiler/weights/WeightStore.h"
#include "runtime/loader/Artifact.h"
#include "runtime/schema/ArtifactHeader.h"
#include "runtime/schema/Checksum.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

namespace {

using namespace llmc;
using artifact::testing::makeSampleSpec;
using artifact::testing::patchMetadata;
using loader::Artifact;
using loader::ChecksumPolicy;
using loader::OpenOptions;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string dataPath(const std::string &name) {
  return std::string(LLMC_WEIGHTS_TEST_DATA) + "/" + name;
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), bytes.size());
}

class ArtifactTest : public ::testing::Test {
protected:
  void SetUp() override {
    llvm::SmallString<128> dir;
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("llmc-artifact", dir));
    tempDir = std::string(dir);
  }
  void TearDown() override { llvm::sys::fs::remove_directories(tempDir); }

  std::string path(const std::string &name) { return tempDir + "/" + name; }

  void openStore(weights::WeightStore &store, const std::string &file) {
    if (llvm::StringRef(file).ends_with(".gguf")) {
      auto gguf = weights::GgufFile::open(dataPath(file));
      ASSERT_TRUE(!!gguf) << llvm::toString(gguf.takeError());
      ASSERT_FALSE(!!store.addSource(std::move(*gguf)));
    } else {
      auto checkpoint = weights::SafetensorsCheckpoint::open(dataPath(file));
      ASSERT_TRUE(!!checkpoint) << llvm::toString(checkpoint.takeError());
      ASSERT_FALSE(!!store.addSource(std::move(*checkpoint)));
    }
    store.addAllSourceTensors();
  }

  /// Writes the sample artifact over `file`'s tensors; returns its path.
  std::string writeSample(const std::string &file,
                          const std::string &name = "model.llmc") {
    weights::WeightStore store;
    openStore(store, file);
    std::string out = path(name);
    auto stats = artifact::writeArtifact(out, makeSampleSpec(store), store);
    EXPECT_TRUE(!!stats) << llvm::toString(stats.takeError());
    return out;
  }

  /// The message of opening `bytes` from memory, "" when it opens.
  std::string openError(const std::string &bytes,
                        ChecksumPolicy policy = ChecksumPolicy::AtOpen) {
    std::unique_ptr<Artifact> artifact;
    loader::Status status = Artifact::fromMemory(
        reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size(),
        "model.llmc", OpenOptions{policy}, artifact);
    return status ? std::string() : status.message();
  }

  std::string tempDir;
};

/// Compares every tensor of `artifact` with what the store materializes,
/// and every metadata field with `spec`.
void expectMatches(const Artifact &artifact, const weights::WeightStore &store,
                   const artifact::ArtifactSpec &spec) {
  ASSERT_EQ(artifact.tensorCount(), spec.tensors.size());
  for (size_t i = 0; i < spec.tensors.size(); ++i) {
    loader::TensorRef ref;
    ASSERT_TRUE(artifact.findTensor(spec.tensors[i].name, ref));
    EXPECT_EQ(ref.index, i);
    auto desc = store.describe(spec.tensors[i].name);
    ASSERT_TRUE(!!desc);
    EXPECT_EQ(ref.dtype, artifact::toArtifactDType(desc->dtype));
    EXPECT_EQ(ref.shape,
              std::vector<int64_t>(desc->shape.begin(), desc->shape.end()));
    std::vector<uint8_t> expected(desc->getBytes());
    ASSERT_FALSE(!!store.materialize(spec.tensors[i].name, expected));
    ASSERT_EQ(ref.bytes, expected.size());
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), ref.data))
        << "tensor " << spec.tensors[i].name;
  }
  EXPECT_EQ(artifact.producer(), spec.producer);
  EXPECT_EQ(artifact.targetName(), spec.target.name);
  EXPECT_EQ(artifact.targetSm(), spec.target.sm);
  EXPECT_EQ(artifact.quantization(), spec.quantization);

  const auto &config = artifact.config();
  EXPECT_EQ(config.architecture()->str(), spec.config.architecture);
  EXPECT_EQ(config.vocab_size(), spec.config.vocabSize);
  EXPECT_EQ(config.num_kv_heads(), spec.config.numKVHeads);
  EXPECT_EQ(config.rope_theta(), spec.config.ropeTheta);
  EXPECT_EQ(config.rope_scaling_type(), spec.config.ropeScalingType);
  ASSERT_TRUE(config.sliding_window().has_value());
  EXPECT_EQ(*config.sliding_window(), *spec.config.slidingWindow);
  EXPECT_FALSE(config.attn_logit_softcap().has_value());
  ASSERT_TRUE(config.final_logit_softcap().has_value());
  EXPECT_EQ(*config.final_logit_softcap(), *spec.config.finalLogitSoftcap);
  EXPECT_EQ(config.sliding_layers()->size(), 2u);
  EXPECT_TRUE(config.sliding_layers()->Get(0));
  EXPECT_EQ(std::vector<int32_t>(config.stop_token_ids()->begin(),
                                 config.stop_token_ids()->end()),
            spec.config.stopTokenIds);
  EXPECT_EQ(config.kv_cache_dtype(), artifact::DType::F8E4M3);

  tokenizer::TokenizerVectors vectors;
  ASSERT_TRUE(artifact.tokenizerVectors(vectors));
  EXPECT_EQ(vectors.tokens, spec.tokenizer->tokens);
  EXPECT_EQ(vectors.merges, spec.tokenizer->merges);
  EXPECT_EQ(vectors.preTokenizer, spec.tokenizer->preTokenizer);
  EXPECT_EQ(vectors.tokenTypes, spec.tokenizer->tokenTypes);
  EXPECT_EQ(vectors.bosId, 0);
  EXPECT_TRUE(vectors.addBos);
  EXPECT_EQ(vectors.chatTemplate, spec.tokenizer->chatTemplate);

  const uint8_t *cubin, *ptx;
  uint64_t cubinBytes, ptxBytes;
  ASSERT_TRUE(artifact.kernelModuleBlobs(0, cubin, cubinBytes, ptx, ptxBytes));
  ASSERT_EQ(cubinBytes, spec.kernelModules[0].cubin.size());
  EXPECT_TRUE(std::equal(spec.kernelModules[0].cubin.begin(),
                         spec.kernelModules[0].cubin.end(), cubin));
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(ptx), ptxBytes),
            spec.kernelModules[0].ptx);
  EXPECT_EQ(artifact.root().kernels()->Get(1)->entry()->str(),
            "add_rms_norm_64");

  const artifact::RankPlan *plan = artifact.plan(0);
  ASSERT_NE(plan, nullptr);
  EXPECT_EQ(artifact.plan(1), nullptr);
  ASSERT_EQ(plan->steps()->size(), spec.plans[0].steps.size());
  EXPECT_EQ(plan->arenas()->Get(0)->bytes(), 1u << 20);
  EXPECT_EQ(plan->weight_loads()->size(), spec.tensors.size());
  const auto *launch = plan->steps()->Get(1)->op_as_LaunchStep();
  ASSERT_NE(launch, nullptr);
  EXPECT_EQ(launch->grid()->Get(0), 16u);
  EXPECT_EQ(launch->shared_bytes(), 1024u);
  EXPECT_EQ(launch->args()->Get(1)->offset(), 256u + 2048u);
  const auto *gemm = plan->steps()->Get(2)->op_as_GemmStep();
  ASSERT_NE(gemm, nullptr);
  EXPECT_TRUE(gemm->transpose_b());
  EXPECT_EQ(gemm->alpha(), 0.5f);
  EXPECT_EQ(gemm->scale_a(), nullptr);
  ASSERT_NE(gemm->scale_b(), nullptr);
  const auto *compute = plan->steps()->Get(4)->op_as_ComputeStep();
  ASSERT_NE(compute, nullptr);
  EXPECT_EQ(compute->name()->str(), "rms_norm");
  ASSERT_EQ(compute->inputs()->size(), 2u);
  ASSERT_EQ(compute->outputs()->size(), 1u);
  EXPECT_TRUE(compute->inputs()->Get(0)->token_rows());
  EXPECT_FALSE(compute->inputs()->Get(1)->token_rows());
  EXPECT_EQ(compute->params()->Get(0)->key()->str(), "epsilon");
  EXPECT_EQ(*compute->params()->Get(0)->float_value(), 1e-5);
  EXPECT_EQ(*compute->params()->Get(1)->int_value(), 0);
  EXPECT_EQ(compute->params()->Get(2)->string_value()->str(), "half");
  // The compute step's launches (Step.launches), every field.
  const artifact::Step &normStep = *plan->steps()->Get(4);
  ASSERT_EQ(Artifact::launchCount(normStep), 2u);
  const artifact::LaunchStep &small = Artifact::launch(normStep, 0);
  const artifact::LaunchStep &large = Artifact::launch(normStep, 1);
  EXPECT_EQ(small.kernel(), 1u);
  EXPECT_EQ(small.block()->Get(0), 128u);
  ASSERT_EQ(small.args()->size(), 3u);
  EXPECT_EQ(small.args()->Get(2)->offset(), 256u + 2048u);
  ASSERT_EQ(small.grid_token_scale()->size(), 6u);
  EXPECT_EQ(small.grid_token_scale()->Get(0), 1u);
  ASSERT_EQ(small.token_args()->size(), 1u);
  EXPECT_EQ(small.token_args()->Get(0), 1);
  EXPECT_EQ(small.max_tokens(), 4u);
  EXPECT_TRUE(Artifact::launchRunsFor(small, 4));
  EXPECT_FALSE(Artifact::launchRunsFor(small, 5));
  EXPECT_TRUE(Artifact::launchRunsFor(large, 5));
  EXPECT_FALSE(Artifact::launchRunsFor(large, 4));
  EXPECT_EQ(large.grid()->Get(0), 16u);
  ASSERT_EQ(large.extra_args()->size(), 3u);
  EXPECT_EQ(large.extra_args()->Get(1), artifact::LaunchArg::Layer);
  EXPECT_EQ(large.extra_args()->Get(2), artifact::LaunchArg::Scratch);
  EXPECT_EQ(large.scratch_bytes(), 4096u);
  EXPECT_EQ(large.min_tokens(), 5u);
  EXPECT_EQ(Artifact::launchCount(*plan->steps()->Get(2)), 0u);
  EXPECT_TRUE(Artifact::gpuBackendRuns(normStep));
  EXPECT_TRUE(Artifact::gpuBackendRuns(*plan->steps()->Get(2))); // cuBLASLt
  ASSERT_EQ(artifact.kernelModuleCount(), 1u);
  EXPECT_EQ(artifact.kernelModule(0).sm()->str(), "90a");
  ASSERT_EQ(artifact.kernelCount(), 2u);
  EXPECT_EQ(artifact.kernel(1).module_index(), 0u);
  EXPECT_EQ(plan->max_tokens(), 16u);
  ASSERT_EQ(plan->inputs()->size(), 1u);
  EXPECT_EQ(plan->inputs()->Get(0)->name()->str(), "token_ids");
  EXPECT_EQ(plan->inputs()->Get(0)->buffer()->dtype(), artifact::DType::I32);
  ASSERT_EQ(plan->outputs()->size(), 1u);
  EXPECT_EQ(plan->outputs()->Get(0)->name()->str(), "logits");
  const auto *host = plan->steps()->Get(5)->op_as_HostStep();
  ASSERT_NE(host, nullptr);
  EXPECT_EQ(host->name()->str(), "sample");
  EXPECT_EQ(*host->params()->Get(0)->int_value(), 40);
  EXPECT_EQ(*host->params()->Get(1)->float_value(), 0.7);
  EXPECT_EQ(host->params()->Get(2)->string_value()->str(), "greedy");
}

// Every safetensors dtype (including an empty tensor) comes back byte for
// byte, with the metadata, through a mapped file.
TEST_F(ArtifactTest, RoundTripSafetensors) {
  weights::WeightStore store;
  openStore(store, "mixed.safetensors");
  artifact::ArtifactSpec spec = makeSampleSpec(store);
  std::string out = path("st.llmc");
  auto stats = artifact::writeArtifact(out, spec, store);
  ASSERT_TRUE(!!stats) << llvm::toString(stats.takeError());
  std::unique_ptr<Artifact> artifact;
  loader::Status status = Artifact::open(out, {}, artifact);
  ASSERT_TRUE(status) << status.message();
  expectMatches(*artifact, store, spec);
  EXPECT_EQ(artifact->fileBytes(), stats->fileBytes);
  EXPECT_FALSE(llvm::sys::fs::exists(out + ".tmp"));
}

// GGUF block-quantized tensors are stored as they are, and transforms
// recorded on the store (convert, transpose) are applied while streaming.
TEST_F(ArtifactTest, RoundTripGgufWithTransforms) {
  weights::WeightStore store;
  openStore(store, "model.gguf");
  ASSERT_FALSE(!!store.convert("q6_k", weights::DType::F16));
  ASSERT_FALSE(!!store.transpose("f32"));
  artifact::ArtifactSpec spec = makeSampleSpec(store);
  std::string out = path("gguf.llmc");
  auto stats = artifact::writeArtifact(out, spec, store);
  ASSERT_TRUE(!!stats) << llvm::toString(stats.takeError());
  std::unique_ptr<Artifact> artifact;
  loader::Status status =
      Artifact::open(out, OpenOptions{ChecksumPolicy::Lazy}, artifact);
  ASSERT_TRUE(status) << status.message();
  expectMatches(*artifact, store, spec);
  loader::TensorRef ref;
  ASSERT_TRUE(artifact->findTensor("q4_k", ref));
  EXPECT_EQ(ref.dtype, artifact::DType::Q4_K);
  ASSERT_TRUE(artifact->findTensor("q6_k", ref));
  EXPECT_EQ(ref.dtype, artifact::DType::F16);
  EXPECT_TRUE(artifact->verifyAllChecksums());
}

// The layout docs/artifact.md promises: header, FlatBuffer at 64, every
// section and every blob on a 4 KiB boundary.
TEST_F(ArtifactTest, LayoutIsAligned) {
  std::string bytes = readFile(writeSample("model.gguf"));
  ASSERT_GE(bytes.size(), 64u);
  const auto *data = reinterpret_cast<const uint8_t *>(bytes.data());
  artifact::FixedHeader header = artifact::decodeHeader(data);
  EXPECT_EQ(header.formatMajor, 1);
  EXPECT_EQ(header.flatbufferOffset, 64u);
  EXPECT_EQ(header.fileBytes, bytes.size());
  EXPECT_EQ(bytes.size() % 4096, 0u);
  std::unique_ptr<Artifact> artifact;
  ASSERT_TRUE(Artifact::fromMemory(data, bytes.size(), "m", {}, artifact));
  data = artifact->bytes();
  const auto &root = artifact->root();
  ASSERT_EQ(root.sections()->size(), 2u);
  EXPECT_GE(root.sections()->Get(0)->offset(),
            header.flatbufferOffset + header.flatbufferBytes);
  for (const artifact::Section *section : *root.sections())
    EXPECT_EQ(section->offset() % 4096, 0u);
  for (size_t i = 0; i < artifact->tensorCount(); ++i) {
    loader::TensorRef ref = artifact->tensor(i);
    EXPECT_EQ((ref.data - data) % 4096, 0) << ref.name;
  }
  EXPECT_EQ((artifact->blobData(*root.kernel_modules()->Get(0)->ptx()) - data) %
                4096,
            0);
}

// A flipped byte inside a tensor is a checksum error naming the tensor; with
// lazy verification only that tensor fails, when it is first used.
TEST_F(ArtifactTest, ChecksumDetectsFlippedTensorByte) {
  std::string bytes = readFile(writeSample("mixed.safetensors"));
  std::unique_ptr<Artifact> good;
  ASSERT_TRUE(
      Artifact::fromMemory(reinterpret_cast<const uint8_t *>(bytes.data()),
                           bytes.size(), "m", {}, good));
  loader::TensorRef f32;
  ASSERT_TRUE(good->findTensor("f32", f32));
  size_t offset = f32.data - good->bytes();
  bytes[offset + 5] ^= 0x01;
  EXPECT_THAT(
      openError(bytes),
      StartsWith(
          "model.llmc: checksum mismatch in tensor 'f32' "
          "(section 0, offset " +
          std::to_string(offset - good->root().sections()->Get(0)->offset()) +
          ", 80 bytes): expected xxhash64 0x"));
  EXPECT_THAT(openError(bytes), HasSubstr("; the file is corrupted"));

  std::unique_ptr<Artifact> lazy;
  ASSERT_TRUE(Artifact::fromMemory(
      reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size(),
      "model.llmc", OpenOptions{ChecksumPolicy::Lazy}, lazy));
  loader::TensorRef ref;
  EXPECT_TRUE(lazy->findTensor("i64", ref));
  loader::Status status = lazy->findTensor("f32", ref);
  ASSERT_FALSE(status);
  EXPECT_THAT(status.message(), HasSubstr("checksum mismatch in tensor 'f32'"));
  EXPECT_FALSE(lazy->verifyAllChecksums());
}

// A flipped byte in a kernel binary is caught too.
TEST_F(ArtifactTest, ChecksumDetectsFlippedKernelByte) {
  std::string bytes = readFile(writeSample("mixed.safetensors"));
  std::unique_ptr<Artifact> good;
  ASSERT_TRUE(
      Artifact::fromMemory(reinterpret_cast<const uint8_t *>(bytes.data()),
                           bytes.size(), "m", {}, good));
  const uint8_t *cubin =
      good->blobData(*good->root().kernel_modules()->Get(0)->cubin());
  bytes[cubin - good->bytes() + 100] ^= 0x80;
  EXPECT_THAT(openError(bytes),
              StartsWith("model.llmc: checksum mismatch in kernel module 0 "
                         "(sm_90a) cubin"));
}

// A newer major is refused with the versions on both sides; an older one
// too. The version is read before the header checksum, so a future header
// layout still gets this message.
TEST_F(ArtifactTest, RefusesOtherFormatMajor) {
  std::string bytes = readFile(writeSample("mixed.safetensors"));
  bytes[12] = 2;
  bytes[14] = 0;
  EXPECT_EQ(openError(bytes),
            "model.llmc: artifact format 2.0 is newer than this runtime "
            "supports (1.x); rebuild with llmc " LLMC_VERSION
            " or update llmc-runtime");
  bytes[12] = 0;
  bytes[14] = 3;
  EXPECT_EQ(openError(bytes),
            "model.llmc: artifact format 0.3 is older than this runtime "
            "supports (1.x); rebuild with llmc " LLMC_VERSION);
}

// A newer minor of the same major is read (the header checksum is
// recomputed: this is what a newer writer would produce, minus the
// FlatBuffer's copy of the version, which must then agree).
TEST_F(ArtifactTest, MinorMismatchBetweenHeaderAndMetadataIsCorrupt) {
  std::string bytes = readFile(writeSample("mixed.safetensors"));
  auto *data = reinterpret_cast<uint8_t *>(bytes.data());
  data[14] = artifact::kFormatMinor + 1;
  artifact::storeHeaderChecksum(data, artifact::xxhash64(data, 56));
  EXPECT_EQ(openError(bytes),
            "model.llmc: corrupt metadata: format 1." +
                std::to_string(artifact::kFormatMinor) +
                " in the metadata but 1." +
                std::to_string(artifact::kFormatMinor + 1) + " in the header");
}

// Truncation anywhere gives a "truncated" or "not an llmc artifact" error;
// inside a tensor the message names it, its place and the file size.
TEST_F(ArtifactTest, TruncationAtManyPoints) {
  std::string bytes = readFile(writeSample("mixed.safetensors"));
  std::unique_ptr<Artifact> good;
  ASSERT_TRUE(
      Artifact::fromMemory(reinterpret_cast<const uint8_t *>(bytes.data()),
                           bytes.size(), "m", {}, good));
  EXPECT_EQ(openError(""), "model.llmc: not an llmc artifact (empty file)");
  EXPECT_EQ(openError(bytes.substr(0, 5)),
            "model.llmc: truncated: the file is 5 bytes, shorter than the "
            "64-byte llmc header");
  EXPECT_EQ(openError(bytes.substr(0, 40)),
            "model.llmc: truncated: the file is 40 bytes, shorter than the "
            "64-byte llmc header");
  EXPECT_THAT(openError(bytes.substr(0, 100)),
              StartsWith("model.llmc: truncated: the metadata (offset 64, "));
  loader::TensorRef f32;
  ASSERT_TRUE(good->findTensor("f32", f32));
  size_t cut = f32.data - good->bytes() + 10;
  uint64_t relative =
      f32.data - good->bytes() - good->root().sections()->Get(0)->offset();
  EXPECT_EQ(openError(bytes.substr(0, cut)),
            "model.llmc: truncated: tensor 'f32' (section 0, offset " +
                std::to_string(relative) +
                ", 80 bytes) ends past the end of the file (size " +
                std::to_string(cut) + ")");
  EXPECT_THAT(openError(bytes.substr(0, bytes.size() - 1)),
              StartsWith("model.llmc: truncated: section 1"));
  for (size_t size = 0; size < bytes.size(); size += 97) {
    std::string message = openError(bytes.substr(0, size));
    EXPECT_THAT(message, StartsWith("model.llmc: ")) << "cut at " << size;
    EXPECT_TRUE(message.find("truncated") != std::string::npos ||
                message.find("not an llmc artifact") != std::string::npos)
        << "cut at " << size << ": " << message;
  }
  EXPECT_THAT(openError(bytes + "x"), HasSubstr("bytes appended"));
}

// Any flipped header byte is refused (bad magic, version or checksum).
TEST_F(ArtifactTest, FlippedHeaderBytes) {
  std::string bytes = readFile(writeSample("mixed.safetensors"));
  for (size_t i = 0; i < 64; ++i) {
    std::string damaged = bytes;
    damaged[i] ^= 0x04;
    std::string message = openError(damaged);
    EXPECT_THAT(message, StartsWith("model.llmc: ")) << "byte " << i;
    if (i < 8)
      EXPECT_EQ(message, "model.llmc: not an llmc artifact (bad magic)");
    else if (i >= 16)
      EXPECT_EQ(message, "model.llmc: corrupt header (checksum mismatch)");
  }
}

// Flipped metadata bytes fail the metadata checksum; with the checksums
// forged to match, the verifier and the semantic checks must still never
// crash (each case either opens or fails with a message).
TEST_F(ArtifactTest, FlippedMetadataBytes) {
  std::string bytes = readFile(writeSample("mixed.safetensors"));
  auto header =
      artifact::decodeHeader(reinterpret_cast<const uint8_t *>(bytes.data()));
  std::string flipped = bytes;
  flipped[64 + header.flatbufferBytes / 2] ^= 0x10;
  EXPECT_THAT(openError(flipped),
              StartsWith("model.llmc: checksum mismatch in the metadata "
                         "(FlatBuffer at offset 64, "));
  size_t refused = 0;
  for (size_t i = 0; i < header.flatbufferBytes; ++i) {
    for (uint8_t mask : {0x01, 0x80}) {
      std::string damaged = bytes;
      auto *data = reinterpret_cast<uint8_t *>(damaged.data());
      data[64 + i] ^= mask;
      artifact::FixedHeader forged = header;
      forged.flatbufferXxhash64 =
          artifact::xxhash64(data + 64, header.flatbufferBytes);
      artifact::encodeHeader(forged, data);
      artifact::storeHeaderChecksum(data, artifact::xxhash64(data, 56));
      std::string message = openError(damaged, ChecksumPolicy::Lazy);
      if (!message.empty()) {
        EXPECT_THAT(message, StartsWith("model.llmc: "));
        ++refused;
      }
    }
  }
  EXPECT_GT(refused, header.flatbufferBytes / 4);
}

// The file offset of a scalar field of a table of `artifact`.
size_t fieldOffset(const Artifact &artifact, const void *table,
                   flatbuffers::voffset_t field) {
  size_t offset =
      artifact::testing::fieldOffset(artifact.bytes(), table, field);
  EXPECT_NE(offset, SIZE_MAX);
  return offset;
}

// Corrupt launches and kernels are refused at open with a message naming the
// step and launch (or the kernel): a kernel index past the kernels, a module
// index past the modules, a grid divided by zero tokens, an empty token range,
// an entry the module does not export, a cubin past the end of the file.
TEST_F(ArtifactTest, CorruptLaunchesAndKernelsAreRefused) {
  std::string bytes = readFile(writeSample("mixed.safetensors"));
  std::unique_ptr<Artifact> artifact;
  ASSERT_TRUE(
      Artifact::fromMemory(reinterpret_cast<const uint8_t *>(bytes.data()),
                           bytes.size(), "model.llmc", {}, artifact));
  // fromMemory copies: offsets into the copy are offsets into `bytes`.
  auto offsetIn = [&](const void *table, flatbuffers::voffset_t field) {
    return fieldOffset(*artifact, table, field);
  };
  const artifact::Step &step = *artifact->plan(0)->steps()->Get(4);
  const artifact::LaunchStep &launch = Artifact::launch(step, 1);
  const artifact::Kernel &kernel = artifact->kernel(1);
  size_t kernelField = offsetIn(&launch, artifact::LaunchStep::VT_KERNEL);
  size_t minTokensField =
      offsetIn(&launch, artifact::LaunchStep::VT_MIN_TOKENS);
  size_t maxTokensField =
      offsetIn(&launch, artifact::LaunchStep::VT_MAX_TOKENS);
  size_t moduleField = offsetIn(&kernel, artifact::Kernel::VT_MODULE_INDEX);
  // The denominator of the x pair: the vector's second element.
  size_t scaleDenominator = size_t(
      reinterpret_cast<const uint8_t *>(launch.grid_token_scale()->data() + 1) -
      artifact->bytes());
  // The first character of kernel 1's entry name.
  size_t entryName =
      size_t(reinterpret_cast<const uint8_t *>(kernel.entry()->data()) -
             artifact->bytes());
  // BlobRef {section u32, pad u32, offset u64, ...}: the offset's low word.
  size_t cubinOffset = size_t(reinterpret_cast<const uint8_t *>(
                                  artifact->kernelModule(0).cubin()) -
                              artifact->bytes()) +
                       8;
  artifact.reset();

  EXPECT_THAT(openError(patchMetadata(bytes, kernelField, 9)),
              HasSubstr("plan of rank 0: step 4 launch 1 launches kernel 9 "
                        "of 2"));
  EXPECT_THAT(openError(patchMetadata(bytes, moduleField, 3)),
              HasSubstr("kernel 'add_rms_norm_64' refers to module 3 of 1"));
  EXPECT_THAT(openError(patchMetadata(bytes, scaleDenominator, 0)),
              HasSubstr("step 4 launch 1 divides the grid by 0 tokens"));
  std::string emptyRange = patchMetadata(bytes, minTokensField, 9);
  emptyRange = patchMetadata(emptyRange, maxTokensField, 8);
  EXPECT_THAT(openError(emptyRange),
              HasSubstr("step 4 launch 1 runs for no token count (min_tokens "
                        "9 > max_tokens 8)"));
  std::string renamed = bytes;
  renamed[entryName] = 'X';
  renamed = patchMetadata(renamed, moduleField, 0); // forges the checksums
  EXPECT_THAT(openError(renamed),
              HasSubstr("kernel 'add_rms_norm_64': module 0 has no entry "
                        "'Xdd_rms_norm_64'"));
  EXPECT_THAT(openError(patchMetadata(bytes, cubinOffset, 1u << 30)),
              HasSubstr("kernel module 0 (sm_90a) cubin"));
}

// Files that are not artifacts say so, with a hint for model files.
TEST_F(ArtifactTest, NotAnArtifact) {
  EXPECT_EQ(openError(readFile(dataPath("model.gguf"))),
            "model.llmc: not an llmc artifact (bad magic; it is a GGUF model: "
            "compile it with `llmc compile` first)");
  EXPECT_THAT(openError(readFile(dataPath("mixed.safetensors"))),
              HasSubstr("looks like a safetensors checkpoint"));
  std::unique_ptr<Artifact> artifact;
  loader::Status status = Artifact::open(path("missing.llmc"), {}, artifact);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.message(),
            path("missing.llmc") + ": cannot open: No such file or directory");
}

// The device check names both chips and the fix.
TEST_F(ArtifactTest, TargetCheck) {
  std::unique_ptr<Artifact> artifact;
  ASSERT_TRUE(Artifact::open(writeSample("mixed.safetensors"), {}, artifact));
  EXPECT_TRUE(artifact->checkTarget("h100"));
  loader::Status status = artifact->checkTarget("t4");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.message(),
            path("model.llmc") +
                ": artifact targets h100 (Hopper, sm_90a) but this device is "
                "t4; recompile with llmc compile --target=t4");
}

// Writer errors name the problem, write nothing, and leave an existing
// artifact at the output path untouched.
TEST_F(ArtifactTest, WriterErrorsLeaveNothingBehind) {
  weights::WeightStore store;
  openStore(store, "mixed.safetensors");
  std::string out = path("keep.llmc");
  writeFile(out, "previous artifact");
  artifact::ArtifactSpec spec = makeSampleSpec(store);
  spec.tensors.push_back({"lm_head.weight", "", std::nullopt});
  auto stats = artifact::writeArtifact(out, spec, store);
  ASSERT_FALSE(!!stats);
  EXPECT_THAT(llvm::toString(stats.takeError()),
              StartsWith("artifact tensor 'lm_head.weight': "));
  EXPECT_EQ(readFile(out), "previous artifact");
  EXPECT_FALSE(llvm::sys::fs::exists(out + ".tmp"));

  spec = makeSampleSpec(store);
  spec.plans[0].steps.push_back(artifact::LaunchSpec{7, {1, 1, 1}, {1, 1, 1}});
  stats = artifact::writeArtifact(out, spec, store);
  ASSERT_FALSE(!!stats);
  EXPECT_EQ(llvm::toString(stats.takeError()),
            "plan of rank 0, step 6, launch: kernel index 7 out of range (2 "
            "kernels)");

  spec = makeSampleSpec(store);
  spec.plans[0].steps.push_back(artifact::HostSpec{
      "copy_logits_out", {{0, (1 << 20) - 4, {4}, artifact::DType::F32}}, {}});
  stats = artifact::writeArtifact(out, spec, store);
  ASSERT_FALSE(!!stats);
  EXPECT_EQ(llvm::toString(stats.takeError()),
            "plan of rank 0, step 6, host argument: 16 bytes at offset "
            "1048572 do not fit arena 'act' (1048576 bytes)");

  stats = artifact::writeArtifact(path("no/such/dir/m.llmc"),
                                  makeSampleSpec(store), store);
  ASSERT_FALSE(!!stats);
  EXPECT_THAT(
      llvm::toString(stats.takeError()),
      StartsWith("cannot write '" + path("no/such/dir/m.llmc.tmp") + "': "));
  EXPECT_EQ(readFile(out), "previous artifact");
}

// Synthetic tensors store a seed, not bytes: the file holds no data for
// them, the loader generates the documented SplitMix64 values at first
// access (the same every time), and checksums skip them.
TEST_F(ArtifactTest, SyntheticTensorsAreGeneratedAtLoad) {
  weights::WeightStore store;
  openStore(store, "mixed.safetensors");
  artifact::ArtifactSpec spec = makeSampleSpec(store);
  spec.tensors.front().quant.reset();
  // A synthetic tensor the store does not even have, described by hand.
  artifact::TensorSpec extra;
  extra.name = "synthetic.weight";
  extra.syntheticSeed = 42;
  extra.desc = weights::WeightDesc{weights::DType::BF16, {64, 256}};
  spec.tensors.push_back(extra);
  artifact::TensorSpec extraF32 = extra;
  extraF32.name = "synthetic.f32";
  extraF32.syntheticSeed = 7;
  extraF32.desc = weights::WeightDesc{weights::DType::F32, {3, 16}};
  spec.tensors.push_back(extraF32);
  std::string out = path("synthetic.llmc");
  auto stats = artifact::writeArtifact(out, spec, store);
  ASSERT_TRUE(!!stats) << llvm::toString(stats.takeError());
  EXPECT_EQ(stats->syntheticTensorCount, 2u);
  std::unique_ptr<Artifact> artifact;
  loader::Status status = Artifact::open(out, {}, artifact);
  ASSERT_TRUE(status) << status.message();
  EXPECT_EQ(artifact->syntheticTensorCount(), 2u);
  EXPECT_EQ(artifact->totalTensorBytes() - artifact->storedTensorBytes(),
            64u * 256u * 2u + 3u * 16u * 4u);

  loader::TensorRef ref;
  ASSERT_TRUE(artifact->findTensor("synthetic.f32", ref));
  EXPECT_TRUE(ref.synthetic);
  ASSERT_EQ(ref.bytes, 3u * 16u * 4u);
  std::vector<float> values(3 * 16);
  std::memcpy(values.data(), ref.data, ref.bytes);
  // SplitMix64 from seed 7, top 24 bits, (2u - 1) / sqrt(16).
  uint64_t state = 7;
  for (float value : values) {
    state += 0x9e3779b97f4a7c15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    float unit = float(z >> 40) / 16777216.0f;
    EXPECT_EQ(value, (2.0f * unit - 1.0f) * 0.25f);
  }
  // Stable: the second access returns the same bytes.
  loader::TensorRef again;
  ASSERT_TRUE(artifact->findTensor("synthetic.f32", again));
  EXPECT_EQ(again.data, ref.data);

  ASSERT_TRUE(artifact->findTensor("synthetic.weight", ref));
  ASSERT_EQ(ref.bytes, 64u * 256u * 2u);
  std::vector<uint8_t> expected(ref.bytes);
  ASSERT_TRUE(loader::fillSyntheticTensor(artifact::DType::BF16, {64, 256}, 42,
                                          expected.data(), expected.size()));
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), ref.data));
  float bound = 1.0f / 16.0f;
  for (size_t i = 0; i < expected.size(); i += 2) {
    uint32_t bits = uint32_t(ref.data[i] | (ref.data[i + 1] << 8)) << 16;
    float value;
    std::memcpy(&value, &bits, 4);
    EXPECT_LE(std::fabs(value), bound * 1.01f);
  }
  EXPECT_TRUE(artifact->verifyAllChecksums());
  // The real tensors are still byte for byte what the store gives.
  for (size_t i = 0; i + 2 < spec.tensors.size(); ++i) {
    loader::TensorRef real;
    ASSERT_TRUE(artifact->findTensor(spec.tensors[i].name, real));
    EXPECT_FALSE(real.synthetic);
    std::vector<uint8_t> bytes(real.bytes);
    ASSERT_FALSE(!!store.materialize(spec.tensors[i].name, bytes));
    EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), real.data));
  }
}

// A Hugging Face tokenizer is stored as its JSON texts.
TEST_F(ArtifactTest, HuggingFaceTokenizerTexts) {
  weights::WeightStore store;
  openStore(store, "mixed.safetensors");
  artifact::ArtifactSpec spec = makeSampleSpec(store);
  spec.tokenizer.reset();
  spec.hfTokenizer = artifact::HuggingFaceTokenizerSpec{
      "{\"model\": {\"type\": \"BPE\"}}", "{\"bos_token\": \"<s>\"}"};
  std::string out = path("hf.llmc");
  auto stats = artifact::writeArtifact(out, spec, store);
  ASSERT_TRUE(!!stats) << llvm::toString(stats.takeError());
  std::unique_ptr<Artifact> artifact;
  loader::Status status = Artifact::open(out, {}, artifact);
  ASSERT_TRUE(status) << status.message();
  ASSERT_TRUE(artifact->hasTokenizer());
  ASSERT_TRUE(artifact->hasHuggingFaceTokenizer());
  EXPECT_EQ(artifact->hfTokenizerJson(), spec.hfTokenizer->tokenizerJson);
  EXPECT_EQ(artifact->hfTokenizerConfigJson(),
            spec.hfTokenizer->tokenizerConfigJson);
  tokenizer::TokenizerVectors vectors;
  EXPECT_FALSE(artifact->tokenizerVectors(vectors));
}

// A token-rows buffer whose leading dimension is not a multiple of the
// plan's max_tokens is refused by the loader.
TEST_F(ArtifactTest, TokenRowsMustMatchMaxTokens) {
  weights::WeightStore store;
  openStore(store, "mixed.safetensors");
  artifact::ArtifactSpec spec = makeSampleSpec(store);
  spec.plans[0].maxTokens = 5;
  std::string out = path("rows.llmc");
  auto stats = artifact::writeArtifact(out, spec, store);
  ASSERT_TRUE(!!stats) << llvm::toString(stats.takeError());
  std::unique_ptr<Artifact> artifact;
  loader::Status status = Artifact::open(out, {}, artifact);
  ASSERT_FALSE(status);
  EXPECT_THAT(status.message(),
              HasSubstr("has token rows but its leading dimension is not a "
                        "multiple of max_tokens (5)"));
}

uint64_t readStatusKB(const char *key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(key, 0) == 0)
      return std::stoull(line.substr(std::strlen(key)));
  return 0;
}

// Streaming: writing ~200 MB of tensors keeps anonymous memory (the reusable
// buffer and materialize's scratch) under twice the largest tensor. Mapped
// source pages are file-backed and reclaimable, so RssAnon, sampled after
// every tensor, is what is bounded; VmHWM is printed for information.
TEST_F(ArtifactTest, PeakMemoryIsBoundedByTheLargestTensor) {
  std::string source = path("synthetic.safetensors");
  auto made =
      artifact::testing::writeSyntheticSafetensors(source, 200ull << 20);
  ASSERT_TRUE(!!made) << llvm::toString(made.takeError());
  weights::WeightStore store;
  auto checkpoint = weights::SafetensorsCheckpoint::open(source);
  ASSERT_TRUE(!!checkpoint);
  ASSERT_FALSE(!!store.addSource(std::move(*checkpoint)));
  store.addAllSourceTensors();
  artifact::ArtifactSpec spec = makeSampleSpec(store);
  uint64_t baselineKB = readStatusKB("RssAnon:");
  uint64_t peakKB = baselineKB;
  artifact::WriteOptions options;
  options.onProgress = [&](const artifact::WriteProgress &) {
    peakKB = std::max(peakKB, readStatusKB("RssAnon:"));
  };
  std::string out = path("synthetic.llmc");
  auto stats = artifact::writeArtifact(out, spec, store, options);
  ASSERT_TRUE(!!stats) << llvm::toString(stats.takeError());
  EXPECT_EQ(stats->largestTensorBytes, made->largestTensorBytes);
  double growthMB = (peakKB - baselineKB) / 1024.0;
  std::printf("wrote %.1f MB in %.3f s (%.0f MB/s); anonymous memory growth "
              "%.1f MB, largest tensor %.1f MB, VmHWM %.1f MB\n",
              stats->tensorBytes / 1e6, stats->seconds,
              stats->tensorBytes / 1e6 / stats->seconds, growthMB,
              stats->largestTensorBytes / 1048576.0,
              readStatusKB("VmHWM:") / 1024.0);
  EXPECT_LT(peakKB - baselineKB, 2 * stats->largestTensorBytes / 1024);
  std::unique_ptr<Artifact> artifact;
  loader::Status status = Artifact::open(out, {}, artifact);
  ASSERT_TRUE(status) << status.message();
  EXPECT_EQ(artifact->tensorCount(), made->tensorCount);
}

// Mapped checkpoint pages leave the process once their tensor is written:
// the file-backed RSS (RssFile, sampled after every tensor) grows by a few
// chunks, not by the ~200 MB read, although every byte went through the
// mapping. Before, it grew by everything read (13 GB for Llama-3-8B).
TEST_F(ArtifactTest, MappedSourcePagesAreReleased) {
  std::string source = path("synthetic.safetensors");
  auto made =
      artifact::testing::writeSyntheticSafetensors(source, 200ull << 20);
  ASSERT_TRUE(!!made) << llvm::toString(made.takeError());
  weights::WeightStore store;
  auto checkpoint = weights::SafetensorsCheckpoint::open(source);
  ASSERT_TRUE(!!checkpoint);
  ASSERT_FALSE(!!store.addSource(std::move(*checkpoint)));
  store.addAllSourceTensors();
  artifact::ArtifactSpec spec = makeSampleSpec(store);
  uint64_t baselineKB = readStatusKB("RssFile:");
  uint64_t peakKB = baselineKB;
  artifact::WriteOptions options;
  options.onProgress = [&](const artifact::WriteProgress &) {
    peakKB = std::max(peakKB, readStatusKB("RssFile:"));
  };
  auto stats =
      artifact::writeArtifact(path("synthetic.llmc"), spec, store, options);
  ASSERT_TRUE(!!stats) << llvm::toString(stats.takeError());
  ASSERT_GT(stats->tensorBytes, 150ull << 20);
  // Two 64 MiB chunks and one tensor's pages at most; the file is ~200 MB.
  EXPECT_LT(peakKB - baselineKB, (100ull << 20) / 1024);
}

} // namespace
