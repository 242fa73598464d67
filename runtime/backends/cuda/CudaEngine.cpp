//===- CudaEngine.cpp - runs a GPU-target plan through the CUDA driver ----===//

#include "runtime/backends/cuda/CudaEngine.h"

#include "llmc/device_batch.h"
#include "runtime/backends/cpu/Kernels.h"
#include "runtime/backends/cuda/CublasLt.h"
#include "runtime/backends/cuda/CudaDriver.h"
#include "runtime/backends/cuda/DeviceCheck.h"
#include "runtime/backends/cuda/GemmConfig.h"
#include "runtime/backends/cuda/LaunchPlan.h"
#include "runtime/engine/PlanBuffer.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <unordered_map>

#if LLMC_HAVE_INT32_EPILOGUE
namespace {
// The fatbin of kernels/Int32Epilogue.cu (cubins for sm_75..sm_120 and
// compute_75 PTX), generated at build time by nvcc.
#include "runtime/backends/cuda/Int32EpilogueFatbin.inc"
} // namespace
#endif

namespace llmc::cuda {

namespace fb = ::llmc::artifact;
using engine::ForwardBatch;
using engine::SequenceSpan;

int64_t kvTileBytes(const kv::KVCacheConfig &config) {
  const bool quantized = config.quantization != kv::KVQuantization::None;
  if (quantized)
    return (config.blockTokens * config.headDim + 3) / 4 * 4 +
           config.blockTokens * 4;
  return config.blockTokens * config.headDim *
         static_cast<int64_t>(cpu::dtypeBytes(config.dtype));
}

namespace {

constexpr uint64_t kCublasWorkspaceBytes = 32ull << 20;
constexpr uint32_t kEpilogueThreads = 256;

uint64_t elementBits(fb::DType dtype) {
  switch (dtype) {
  case fb::DType::F64:
  case fb::DType::I64:
    return 64;
  case fb::DType::F32:
  case fb::DType::I32:
    return 32;
  case fb::DType::F16:
  case fb::DType::BF16:
  case fb::DType::I16:
    return 16;
  case fb::DType::I4:
    return 4;
  default:
    return 8;
  }
}

/// A plan buffer in device memory.
struct DeviceBuffer : engine::PlanBuffer<CUdeviceptr> {
  uint64_t bytes(int64_t tokens) const {
    return (static_cast<uint64_t>(elements(tokens)) * elementBits(dtype) + 7) /
           8;
  }
};

/// One thing enqueued on the stream per forward call.
struct DeviceOp {
  size_t step = 0;
  std::function<Status(int64_t tokens)> enqueue;
};

struct PreparedLaunch {
  CUfunction function = nullptr;
  Grid grid{};
  std::vector<uint32_t> gridTokenScale;
  uint32_t block[3] = {1, 1, 1};
  uint32_t sharedBytes = 0;
  uint32_t minTokens = 0, maxTokens = 0;
  KernelParams params;
};

struct PreparedGemm {
  DeviceBuffer a, b, c, scaleA, scaleB;
  bool transposeB = false;
  int64_t n = 0, k = 0, maxM = 0;
  LtGemmTypes types;
  float alpha = 1, beta = 0;
  int32_t intAlpha = 1, intBeta = 0;
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t layoutA = nullptr; // cuBLASLt's A: our B
  /// cuBLASLt's B (our A) and C per row count, made on first use.
  std::map<int64_t, std::pair<cublasLtMatrixLayout_t, cublasLtMatrixLayout_t>>
      layouts;
  /// The algorithm per M bucket (gemmBuckets), chosen at load.
  std::map<int64_t, cublasLtMatmulAlgo_t> algorithms;
  std::string what; // "step 7 (gemm 16x4096x4096 BF16)"
};

std::string stepName(const fb::Step &step);
Status checkPlan(const loader::Artifact &artifact);

class CudaBackend : public engine::EngineBackend {
public:
  ~CudaBackend() override;

  Status create(const loader::Artifact &artifact,
                const engine::EngineOptions &options, int deviceIndex);

  Status forward(const ForwardBatch &batch,
                 std::vector<float> &logits) override;
  void freeSequence(int64_t sequenceId) override;
  int64_t maxTokens() const override { return maxTokens_; }
  int64_t vocabSize() const override { return vocab_; }
  int64_t kvCapacityTokens() const override {
    return kv_.numLayers > 0 ? kv_.numBlocks * kv_.blockTokens : 0;
  }
  std::string description() const override { return description_; }

private:
  Status fail(const std::string &message) const {
    return Status::error(artifact_->name() + ": " + message);
  }
  Status stepError(size_t index, const std::string &name,
                   const std::string &message) const {
    return fail("step " + std::to_string(index) + " (" + name +
                "): " + message);
  }
  Status allocateDevice(uint64_t bytes, const std::string &what,
                        CUdeviceptr &out);
  Status allocatePinned(uint64_t bytes, const std::string &what, void *&out);
  Status resolve(const fb::Buffer *buffer, DeviceBuffer &out) const;
  Status openDevice(int deviceIndex);
  Status loadModules();
  std::string driverHint(CUresult result) const;
  Status function(uint32_t kernelIndex, CUfunction &out);
  Status setUpKVCacheAndBatch(const engine::EngineOptions &options);
  Status prepareSteps();
  Status prepareLaunch(size_t index, const std::string &name,
                       const fb::LaunchStep &launch);
  Status prepareGemm(size_t index, const fb::GemmStep &gemm);
  Status enqueueGemm(PreparedGemm &gemm, int64_t tokens);
  Status runSteps(int64_t tokens);
  Status reserveBlocks(int64_t sequenceId, int64_t positions);

  const loader::Artifact *artifact_ = nullptr;
  const fb::RankPlan *plan_ = nullptr;
  const CudaDriver *cu_ = nullptr;
  const CublasLt *lt_ = nullptr;
  std::string description_;
  int deviceIndex_ = 0;
  CUdevice device_ = 0;
  CUcontext context_ = nullptr;
  CUstream stream_ = nullptr;
  GpuDescription gpu_;
  KernelImage image_ = KernelImage::Cubin;
  int64_t maxTokens_ = 0, vocab_ = 0;

  std::vector<CUdeviceptr> deviceAllocations_;
  std::vector<void *> pinnedAllocations_;
  std::vector<CUdeviceptr> arenas_;
  std::vector<uint64_t> arenaBytes_;
  std::vector<CUmodule> modules_;
  std::vector<CUfunction> functions_; // per Artifact.kernels index
  CUmodule epilogueModule_ = nullptr;
  CUfunction epilogue_ = nullptr;

  cublasLtHandle_t ltHandle_ = nullptr;
  cublasLtMatmulPreference_t ltPreference_ = nullptr;
  CUdeviceptr ltWorkspace_ = 0;
  CUdeviceptr int32Product_ = 0;
  uint64_t int32ProductBytes_ = 0;
  std::vector<std::unique_ptr<PreparedGemm>> gemms_;

  CUdeviceptr scratch_ = 0;
  uint64_t scratchBytes_ = 0;

  // KV cache: the CPU layout, block bookkeeping on the host.
  kv::KVCacheConfig kv_;
  int64_t blockTableStride_ = 0; // blocks per sequence
  int64_t maxSequences_ = 1;
  std::vector<int32_t> freeBlocks_;
  std::unordered_map<int64_t, std::vector<int32_t>> sequences_;

  // The forward call's batch: the same layout in pinned host memory and on
  // the device, uploaded in one copy (offsets into both).
  uint8_t *staging_ = nullptr;
  CUdeviceptr batchArea_ = 0;
  uint64_t positionsOffset_ = 0, tokenSequenceOffset_ = 0,
           queryStartOffset_ = 0, blockTablesOffset_ = 0, uploadBytes_ = 0,
           tokenIdsOffset_ = 0;
  DeviceBuffer tokenIds_, positions_, logits_;
  bool havePositions_ = false;
  void *logitsHost_ = nullptr;

  std::vector<DeviceOp> ops_;
  std::vector<std::shared_ptr<PreparedLaunch>> launches_;
  /// Captured graphs per decode token count (T <= maxSequences_).
  std::map<int64_t, CUgraphExec> graphs_;
  bool useGraphs_ = true;
};

CudaBackend::~CudaBackend() {
  if (!cu_)
    return;
  if (context_)
    cu_->cuCtxSetCurrent(context_);
  if (stream_)
    cu_->cuStreamSynchronize(stream_);
  for (auto &[tokens, exec] : graphs_)
    cu_->cuGraphExecDestroy(exec);
  if (lt_) {
    for (auto &gemm : gemms_) {
      for (auto &[m, layouts] : gemm->layouts) {
        lt_->cublasLtMatrixLayoutDestroy(layouts.first);
        lt_->cublasLtMatrixLayoutDestroy(layouts.second);
      }
      if (gemm->layoutA)
        lt_->cublasLtMatrixLayoutDestroy(gemm->layoutA);
      if (gemm->desc)
        lt_->cublasLtMatmulDescDestroy(gemm->desc);
    }
    if (ltPreference_)
      lt_->cublasLtMatmulPreferenceDestroy(ltPreference_);
    if (ltHandle_)
      lt_->cublasLtDestroy(ltHandle_);
  }
  for (CUmodule module : modules_)
    cu_->cuModuleUnload(module);
  if (epilogueModule_)
    cu_->cuModuleUnload(epilogueModule_);
  for (CUdeviceptr pointer : deviceAllocations_)
    cu_->cuMemFree(pointer);
  for (void *pointer : pinnedAllocations_)
    cu_->cuMemFreeHost(pointer);
  if (stream_)
    cu_->cuStreamDestroy(stream_);
  if (context_)
    cu_->cuDevicePrimaryCtxRelease(device_);
}

Status CudaBackend::allocateDevice(uint64_t bytes, const std::string &what,
                                   CUdeviceptr &out) {
  CUresult result = cu_->cuMemAlloc(&out, std::max<uint64_t>(bytes, 1));
  if (result == CUDA_SUCCESS) {
    deviceAllocations_.push_back(out);
    return Status::success();
  }
  std::string message = "cuMemAlloc failed: " + cu_->describe(result) +
                        " allocating " + what + " (" + std::to_string(bytes) +
                        " bytes)";
  size_t freeBytes = 0, totalBytes = 0;
  if (result == CUDA_ERROR_OUT_OF_MEMORY &&
      cu_->cuMemGetInfo(&freeBytes, &totalBytes) == CUDA_SUCCESS)
    message += "; the GPU has " + std::to_string(freeBytes) +
               " bytes free of " + std::to_string(totalBytes);
  return fail(message);
}

Status CudaBackend::allocatePinned(uint64_t bytes, const std::string &what,
                                   void *&out) {
  CUresult result = cu_->cuMemAllocHost(&out, std::max<uint64_t>(bytes, 1));
  if (result != CUDA_SUCCESS)
    return fail("cuMemAllocHost failed: " + cu_->describe(result) +
                " allocating " + what + " (" + std::to_string(bytes) +
                " bytes of pinned host memory)");
  pinnedAllocations_.push_back(out);
  std::memset(out, 0, std::max<uint64_t>(bytes, 1));
  return Status::success();
}

Status CudaBackend::resolve(const fb::Buffer *buffer, DeviceBuffer &out) const {
  if (!buffer)
    return fail("a step refers to a missing buffer");
  if (buffer->arena() >= arenas_.size())
    return fail("buffer refers to arena " + std::to_string(buffer->arena()) +
                " of " + std::to_string(arenas_.size()));
  if (std::string problem = engine::readPlanBuffer(
          *buffer, arenas_[buffer->arena()], maxTokens_, out);
      !problem.empty())
    return fail(problem);
  return Status::success();
}

Status CudaBackend::openDevice(int deviceIndex) {
  int count = 0;
  if (Status s = LLMC_CU(*cu_, cuDeviceGetCount(&count)); !s)
    return Status::error("--device=cuda: " + s.message());
  if (deviceIndex >= count)
    return Status::error("--device=cuda:" + std::to_string(deviceIndex) +
                         ": this machine has " + std::to_string(count) +
                         " CUDA device" + (count == 1 ? "" : "s") +
                         " (cuda:0.." + std::to_string(count - 1) + ")");
  if (Status s = LLMC_CU(*cu_, cuDeviceGet(&device_, deviceIndex)); !s)
    return s;
  char name[256] = {0};
  if (Status s = LLMC_CU(*cu_, cuDeviceGetName(name, sizeof(name), device_));
      !s)
    return s;
  gpu_.name = name;
  if (Status s = LLMC_CU(*cu_, cuDeviceGetAttribute(
                                   &gpu_.major,
                                   CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                                   device_));
      !s)
    return s;
  if (Status s = LLMC_CU(*cu_, cuDeviceGetAttribute(
                                   &gpu_.minor,
                                   CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                                   device_));
      !s)
    return s;
  if (Status s = LLMC_CU(*cu_, cuDevicePrimaryCtxRetain(&context_, device_));
      !s)
    return s;
  if (Status s = LLMC_CU(*cu_, cuCtxSetCurrent(context_)); !s)
    return s;
  if (Status s =
          LLMC_CU(*cu_, cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING));
      !s)
    return s;
  description_ = "cuda:" + std::to_string(deviceIndex) + " (" + gpu_.name +
                 ", sm_" + std::to_string(gpu_.major * 10 + gpu_.minor) + ")";
  return Status::success();
}

/// For module loads the driver rejects as too new for it: which CUDA the
/// driver speaks.
std::string CudaBackend::driverHint(CUresult result) const {
  if (result != CUDA_ERROR_UNSUPPORTED_PTX_VERSION &&
      result != CUDA_ERROR_NO_BINARY_FOR_GPU &&
      result != CUDA_ERROR_INVALID_IMAGE)
    return "";
  return "; this driver supports CUDA " +
         std::to_string(cu_->driverVersion / 1000) + "." +
         std::to_string(cu_->driverVersion % 1000 / 10) +
         " (code built by a newer CUDA toolkit needs a newer NVIDIA driver)";
}

Status CudaBackend::loadModules() {
  const fb::Artifact &root = artifact_->root();
  const size_t moduleCount =
      root.kernel_modules() ? root.kernel_modules()->size() : 0;
  bool allCubin = true, allPtx = true;
  for (size_t i = 0; i < moduleCount; ++i) {
    const fb::KernelModule *module = root.kernel_modules()->Get(i);
    allCubin = allCubin && module->cubin() && module->cubin()->bytes() > 0;
    allPtx = allPtx && module->ptx() && module->ptx()->bytes() > 0;
  }
  KernelImageChoice choice = chooseKernelImage(
      std::string(artifact_->targetName()), std::string(artifact_->targetSm()),
      gpu_, moduleCount == 0 || allCubin, moduleCount == 0 || allPtx);
  if (choice.image == KernelImage::Refuse)
    return fail(choice.message);
  image_ = choice.image;
  if (choice.image == KernelImage::PtxJit && moduleCount > 0)
    std::cerr << "llmc-runtime: note: " << choice.message << "\n";

  for (size_t i = 0; i < moduleCount; ++i) {
    const uint8_t *cubin = nullptr, *ptx = nullptr;
    uint64_t cubinBytes = 0, ptxBytes = 0;
    if (Status s =
            artifact_->kernelModuleBlobs(i, cubin, cubinBytes, ptx, ptxBytes);
        !s)
      return s;
    // The driver reads PTX as a NUL-terminated string.
    std::string ptxText;
    const void *image = cubin;
    if (image_ == KernelImage::PtxJit) {
      ptxText.assign(reinterpret_cast<const char *>(ptx), ptxBytes);
      image = ptxText.c_str();
    }
    char log[8192] = {0};
    CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER,
                              CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *values[] = {log, reinterpret_cast<void *>(sizeof(log))};
    CUmodule module = nullptr;
    CUresult result =
        cu_->cuModuleLoadDataEx(&module, image, 2, options, values);
    if (result != CUDA_SUCCESS)
      return fail("kernel module " + std::to_string(i) + " (" +
                  (image_ == KernelImage::PtxJit ? "PTX" : "cubin") +
                  " for sm_" +
                  (root.kernel_modules()->Get(i)->sm()
                       ? root.kernel_modules()->Get(i)->sm()->str()
                       : std::string("?")) +
                  "): cuModuleLoadDataEx failed: " + cu_->describe(result) +
                  (log[0] ? std::string("; JIT log: ") + log : "") +
                  driverHint(result));
    modules_.push_back(module);
  }
  functions_.assign(root.kernels() ? root.kernels()->size() : 0, nullptr);
  return Status::success();
}

Status CudaBackend::function(uint32_t kernelIndex, CUfunction &out) {
  const fb::Artifact &root = artifact_->root();
  if (kernelIndex >= functions_.size())
    return fail("a launch refers to kernel " + std::to_string(kernelIndex) +
                " of " + std::to_string(functions_.size()));
  if (!functions_[kernelIndex]) {
    const fb::Kernel *kernel = root.kernels()->Get(kernelIndex);
    if (kernel->module_index() >= modules_.size() || !kernel->entry())
      return fail("kernel " + std::to_string(kernelIndex) + " names module " +
                  std::to_string(kernel->module_index()) + " of " +
                  std::to_string(modules_.size()) + " or has no entry");
    CUresult result = cu_->cuModuleGetFunction(&functions_[kernelIndex],
                                               modules_[kernel->module_index()],
                                               kernel->entry()->c_str());
    if (result != CUDA_SUCCESS)
      return fail("kernel '" + kernel->entry()->str() + "' (module " +
                  std::to_string(kernel->module_index()) +
                  "): cuModuleGetFunction failed: " + cu_->describe(result));
  }
  out = functions_[kernelIndex];
  return Status::success();
}

Status CudaBackend::setUpKVCacheAndBatch(const engine::EngineOptions &options) {
  if (Status s = engine::planKVCacheConfig(*artifact_, options, kv_); !s)
    return fail(s.message());
  const fb::ModelConfig &config = artifact_->config();
  maxSequences_ = options.maxSequences > 0
                      ? options.maxSequences
                      : std::max<int64_t>(1, config.max_batch());
  std::vector<CUdeviceptr> keyCache, valueCache;
  if (kv_.numLayers > 0) {
    blockTableStride_ = kv_.numBlocks / maxSequences_;
    const uint64_t layerBytes = static_cast<uint64_t>(kv_.numBlocks) *
                                kv_.numKVHeads * kvTileBytes(kv_);
    for (int64_t layer = 0; layer < kv_.numLayers; ++layer)
      for (auto *side : {&keyCache, &valueCache}) {
        CUdeviceptr pointer = 0;
        if (Status s = allocateDevice(
                layerBytes,
                std::string(side == &keyCache ? "key" : "value") +
                    " cache of layer " + std::to_string(layer),
                pointer);
            !s)
          return s;
        if (Status s =
                LLMC_CU(*cu_, cuMemsetD8Async(pointer, 0, layerBytes, stream_));
            !s)
          return s;
        side->push_back(pointer);
      }
    // Like PagedKVCache: a stack whose top is block 0.
    for (int64_t block = kv_.numBlocks - 1; block >= 0; --block)
      freeBlocks_.push_back(static_cast<int32_t>(block));
  }

  // [LlmcDeviceBatch | positions | token_sequence | query_start |
  //  block_tables | token ids | key pointers | value pointers]
  auto align = [](uint64_t offset) { return (offset + 255) / 256 * 256; };
  uint64_t offset = align(sizeof(LlmcDeviceBatch));
  positionsOffset_ = offset;
  offset = align(offset + 4 * maxTokens_);
  tokenSequenceOffset_ = offset;
  offset = align(offset + 4 * maxTokens_);
  queryStartOffset_ = offset;
  offset = align(offset + 4 * (maxSequences_ + 1));
  blockTablesOffset_ = offset;
  offset = align(offset +
                 4 * maxSequences_ * std::max<int64_t>(blockTableStride_, 1));
  uploadBytes_ = offset;
  tokenIdsOffset_ = offset;
  offset = align(offset + 4 * maxTokens_);
  const uint64_t keyPointersOffset = offset;
  offset += 8 * keyCache.size();
  const uint64_t valuePointersOffset = offset;
  offset += 8 * valueCache.size();
  if (Status s = allocatePinned(offset, "the batch staging area",
                                reinterpret_cast<void *&>(staging_));
      !s)
    return s;
  if (Status s = allocateDevice(offset, "the batch description", batchArea_);
      !s)
    return s;
  std::memcpy(staging_ + keyPointersOffset, keyCache.data(),
              8 * keyCache.size());
  std::memcpy(staging_ + valuePointersOffset, valueCache.data(),
              8 * valueCache.size());
  LlmcDeviceBatch batch{};
  batch.positions =
      reinterpret_cast<const int *>(batchArea_ + positionsOffset_);
  batch.token_sequence =
      reinterpret_cast<const int *>(batchArea_ + tokenSequenceOffset_);
  batch.query_start =
      reinterpret_cast<const int *>(batchArea_ + queryStartOffset_);
  batch.block_tables =
      reinterpret_cast<const int *>(batchArea_ + blockTablesOffset_);
  batch.block_table_stride = blockTableStride_;
  batch.key_cache =
      reinterpret_cast<void *const *>(batchArea_ + keyPointersOffset);
  batch.value_cache =
      reinterpret_cast<void *const *>(batchArea_ + valuePointersOffset);
  std::memcpy(staging_, &batch, sizeof(batch));
  return LLMC_CU(*cu_, cuMemcpyHtoD(batchArea_, staging_, offset));
}

Status CudaBackend::create(const loader::Artifact &artifact,
                           const engine::EngineOptions &options,
                           int deviceIndex) {
  artifact_ = &artifact;
  deviceIndex_ = deviceIndex;
  // The driver first: without one nothing else can be said.
  if (Status s = CudaDriver::load(cu_); !s)
    return s;
  if (Status s = checkPlan(artifact); !s)
    return s;
  plan_ = artifact.plan(0);
  maxTokens_ = plan_->max_tokens();
  if (maxTokens_ <= 0)
    return fail("the plan's max_tokens is 0");
  vocab_ = artifact.config().vocab_size();
  if (const char *graphs = std::getenv("LLMC_CUDA_GRAPHS"))
    useGraphs_ = std::strcmp(graphs, "0") != 0;

  if (Status s = openDevice(deviceIndex); !s)
    return s;
  if (Status s = loadModules(); !s)
    return s;

  // Arenas: device memory, or pinned host memory for host arenas (mapped
  // into the device's address space by unified addressing).
  const fb::RankPlan &plan = *plan_;
  if (plan.arenas())
    for (const fb::Arena *arena : *plan.arenas()) {
      const std::string what =
          "arena '" + (arena->name() ? arena->name()->str() : "") + "'";
      if (arena->kind() == fb::ArenaKind::Host) {
        void *host = nullptr;
        if (Status s = allocatePinned(arena->bytes(), what, host); !s)
          return s;
        arenas_.push_back(reinterpret_cast<CUdeviceptr>(host));
      } else {
        CUdeviceptr pointer = 0;
        if (Status s = allocateDevice(arena->bytes(), what, pointer); !s)
          return s;
        if (Status s = LLMC_CU(
                *cu_, cuMemsetD8Async(pointer, 0, arena->bytes(), stream_));
            !s)
          return s;
        arenas_.push_back(pointer);
      }
      arenaBytes_.push_back(arena->bytes());
    }

  // Weights: the loader generates synthetic ones on the host; all are
  // copied up once.
  if (plan.weight_loads())
    for (const fb::WeightLoad *load : *plan.weight_loads()) {
      if (load->tensor() >= artifact.tensorCount() ||
          load->arena() >= arenas_.size())
        return fail("weight load refers to tensor " +
                    std::to_string(load->tensor()) + " / arena " +
                    std::to_string(load->arena()) + " out of range");
      loader::TensorRef tensor = artifact.tensor(load->tensor());
      if (!tensor.data)
        return fail("tensor '" + std::string(tensor.name) + "' has no data");
      if (load->offset() + tensor.bytes > arenaBytes_[load->arena()])
        return fail("tensor '" + std::string(tensor.name) +
                    "' does not fit its arena");
      if (Status s = LLMC_CU(*cu_, cuStreamSynchronize(stream_)); !s)
        return s;
      if (Status s = LLMC_CU(
              *cu_, cuMemcpyHtoD(arenas_[load->arena()] + load->offset(),
                                 tensor.data, tensor.bytes));
          !s)
        return fail("uploading tensor '" + std::string(tensor.name) +
                    "': " + s.message());
    }

  // Inputs and outputs.
  bool haveIds = false, haveLogits = false;
  if (plan.inputs())
    for (const fb::NamedBuffer *input : *plan.inputs()) {
      std::string name = input->name() ? input->name()->str() : "";
      if (name == "token_ids") {
        if (Status s = resolve(input->buffer(), tokenIds_); !s)
          return s;
        haveIds = true;
      } else if (name == "positions") {
        if (Status s = resolve(input->buffer(), positions_); !s)
          return s;
        havePositions_ = true;
      } else {
        return fail("the plan has an input '" + name +
                    "' this engine does not know how to fill");
      }
    }
  if (plan.outputs())
    for (const fb::NamedBuffer *output : *plan.outputs())
      if (output->name() && output->name()->str() == "logits") {
        if (Status s = resolve(output->buffer(), logits_); !s)
          return s;
        haveLogits = true;
      }
  if (!haveIds || !haveLogits)
    return fail("the plan lacks a 'token_ids' input or a 'logits' output");
  if (tokenIds_.dtype != fb::DType::I32 ||
      (havePositions_ && positions_.dtype != fb::DType::I32))
    return fail("token_ids and positions must be i32 buffers");
  if (!tokenIds_.tokenRows || (havePositions_ && !positions_.tokenRows) ||
      !logits_.tokenRows)
    return fail("token_ids, positions and logits must be token-rows buffers");
  if (logits_.dtype != fb::DType::F32 && logits_.dtype != fb::DType::F16 &&
      logits_.dtype != fb::DType::BF16)
    return fail("the logits buffer is " +
                std::string(loader::dtypeName(logits_.dtype)) +
                "; the engine reads f32, f16 or bf16");
  vocab_ = logits_.lastDim();
  if (Status s =
          allocatePinned(logits_.bytes(maxTokens_), "the logits", logitsHost_);
      !s)
    return s;

  if (Status s = setUpKVCacheAndBatch(options); !s)
    return s;
  if (Status s = prepareSteps(); !s)
    return s;
  return LLMC_CU(*cu_, cuStreamSynchronize(stream_));
}

std::string stepName(const fb::Step &step) {
  switch (step.op_type()) {
  case fb::StepOp::ComputeStep: {
    const fb::ComputeStep *compute = step.op_as_ComputeStep();
    return compute->name() ? compute->name()->str() : "compute";
  }
  case fb::StepOp::GemmStep:
    return "gemm";
  case fb::StepOp::HostStep: {
    const fb::HostStep *host = step.op_as_HostStep();
    return host->name() ? host->name()->str() : "host";
  }
  case fb::StepOp::CollectiveStep:
    return "collective";
  case fb::StepOp::LaunchStep:
    return "launch";
  default:
    return "?";
  }
}

/// What CUDA itself limits in a launch, on top of the loader's structural
/// checks (indices, grid rules, runtime arguments); "" or the fault.
std::string checkLaunch(const fb::LaunchStep &launch) {
  uint64_t threads = 1;
  for (uint32_t d : *launch.block())
    threads *= d;
  if (threads > 1024)
    return "kernel " + std::to_string(launch.kernel()) + ": a block of " +
           std::to_string(threads) + " threads (CUDA allows 1..1024)";
  return "";
}

Status checkPlan(const loader::Artifact &artifact) {
  auto fail = [&](const std::string &message) {
    return Status::error(artifact.name() + ": " + message);
  };
  if (artifact.targetSm().empty())
    return Status::error("--device=cuda: " + artifact.name() + " targets " +
                         artifact.describeTarget() +
                         "; the CUDA backend runs GPU-target artifacts: "
                         "recompile with llmc compile --target=<your GPU> "
                         "(e.g. h100) or use --device=cpu");
  const fb::RankPlan *plan = artifact.plan(0);
  if (!plan)
    return fail("the artifact has no plan for rank 0");
  if (!plan->steps())
    return Status::success();
  for (size_t i = 0; i < plan->steps()->size(); ++i) {
    const fb::Step *step = plan->steps()->Get(i);
    const std::string name = stepName(*step);
    auto stepError = [&](const std::string &message) {
      return fail("step " + std::to_string(i) + " (" + name + ") " + message);
    };
    if (!loader::Artifact::gpuBackendRuns(*step)) {
      if (step->op_type() == fb::StepOp::GemmStep)
        return stepError(
            std::string("has no CUDA kernel in this artifact (a ") +
            fb::EnumNameGemmBackend(step->op_as_GemmStep()->backend()) +
            " GEMM without launches)");
      if (step->op_type() == fb::StepOp::ComputeStep)
        return stepError("has no CUDA kernel in this artifact");
      return stepError("has a kind this runtime does not know (" +
                       std::to_string(static_cast<int>(step->op_type())) +
                       "); update llmc-runtime");
    }
    for (size_t l = 0; l < loader::Artifact::launchCount(*step); ++l)
      if (std::string problem =
              checkLaunch(loader::Artifact::launch(*step, l));
          !problem.empty())
        return stepError(problem);
    if (step->op_type() == fb::StepOp::LaunchStep)
      if (std::string problem = checkLaunch(*step->op_as_LaunchStep());
          !problem.empty())
        return stepError(problem);
    if (step->op_type() == fb::StepOp::HostStep &&
        // The engine itself copies the token ids and positions in before
        // the first step and the logits out after the last.
        name != "copy_tokens_in" && name != "copy_logits_out")
      return stepError("is a host routine the CUDA backend does not know");
    if (step->op_type() == fb::StepOp::CollectiveStep) {
      const fb::CollectiveStep *c = step->op_as_CollectiveStep();
      if (c->group() && c->group()->size() > 1)
        return stepError("is a collective across ranks; the CUDA backend "
                         "runs one rank");
    }
  }
  return Status::success();
}

Status CudaBackend::prepareSteps() {
  if (!plan_->steps())
    return Status::success();
  // One scratch buffer serves every launch (they run in order).
  for (const fb::Step *step : *plan_->steps()) {
    if (step->launches())
      for (const fb::LaunchStep *launch : *step->launches())
        scratchBytes_ =
            std::max<uint64_t>(scratchBytes_, launch->scratch_bytes());
    if (const fb::LaunchStep *launch = step->op_as_LaunchStep())
      scratchBytes_ =
          std::max<uint64_t>(scratchBytes_, launch->scratch_bytes());
  }
  if (scratchBytes_ > 0)
    if (Status s =
            allocateDevice(scratchBytes_, "the launch scratch", scratch_);
        !s)
      return s;

  for (size_t i = 0; i < plan_->steps()->size(); ++i) {
    const fb::Step *step = plan_->steps()->Get(i);
    const std::string name = stepName(*step);
    if (step->launches() && step->launches()->size() > 0) {
      for (const fb::LaunchStep *launch : *step->launches())
        if (Status s = prepareLaunch(i, name, *launch); !s)
          return s;
      continue;
    }
    // checkPlan has refused every step this backend cannot run.
    switch (step->op_type()) {
    case fb::StepOp::LaunchStep:
      if (Status s = prepareLaunch(i, name, *step->op_as_LaunchStep()); !s)
        return s;
      break;
    case fb::StepOp::GemmStep:
      if (Status s = prepareGemm(i, *step->op_as_GemmStep()); !s)
        return s;
      break;
    case fb::StepOp::CollectiveStep: {
      const fb::CollectiveStep *c = step->op_as_CollectiveStep();
      if (c->output()) {
        DeviceBuffer in, out;
        if (Status s = resolve(c->buffer(), in); !s)
          return s;
        if (Status s = resolve(c->output(), out); !s)
          return s;
        if (in.data != out.data)
          ops_.push_back({i, [this, in, out](int64_t tokens) {
                            return LLMC_CU(
                                *cu_,
                                cuMemcpyDtoDAsync(out.data, in.data,
                                                  in.bytes(tokens), stream_));
                          }});
      }
      break;
    }
    default: // host steps the engine's own copies perform
      break;
    }
  }
  return Status::success();
}

Status CudaBackend::prepareLaunch(size_t index, const std::string &name,
                                  const fb::LaunchStep &launch) {
  auto error = [&](const std::string &message) {
    return stepError(index, name,
                     "launch of kernel " + std::to_string(launch.kernel()) +
                         ": " + message);
  };
  auto prepared = std::make_shared<PreparedLaunch>();
  if (Status s = function(launch.kernel(), prepared->function); !s)
    return error(s.message());
  // The loader checked the shapes (3-D grid and block, the token scale's
  // pairs) and checkPlan the block size.
  std::copy(launch.grid()->begin(), launch.grid()->end(),
            prepared->grid.begin());
  if (launch.grid_token_scale())
    prepared->gridTokenScale.assign(launch.grid_token_scale()->begin(),
                                    launch.grid_token_scale()->end());
  std::copy(launch.block()->begin(), launch.block()->end(),
            prepared->block);
  prepared->sharedBytes = launch.shared_bytes();
  if (prepared->sharedBytes > 48 * 1024)
    if (Status s = LLMC_CU(
            *cu_,
            cuFuncSetAttribute(prepared->function,
                               CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                               static_cast<int>(prepared->sharedBytes)));
        !s)
      return error(s.message());
  prepared->minTokens = launch.min_tokens();
  prepared->maxTokens = launch.max_tokens();

  // Parameters: buffers, T * k per token argument, then the extras.
  if (launch.args())
    for (const fb::Buffer *arg : *launch.args()) {
      DeviceBuffer buffer;
      if (Status s = resolve(arg, buffer); !s)
        return error(s.message());
      prepared->params.addPointer(buffer.data);
    }
  if (launch.token_args())
    for (int64_t k : *launch.token_args())
      prepared->params.addTokenArg(k);
  if (launch.extra_args())
    for (auto extra : *launch.extra_args()) {
      switch (static_cast<fb::LaunchArg>(extra)) {
      case fb::LaunchArg::Batch:
        prepared->params.addPointer(batchArea_);
        break;
      case fb::LaunchArg::Layer:
        if (launch.layer() < 0 ||
            (kv_.numLayers > 0 && launch.layer() >= kv_.numLayers))
          return error("layer " + std::to_string(launch.layer()) +
                       " is outside the KV cache's " +
                       std::to_string(kv_.numLayers) + " layers");
        prepared->params.addInt64(launch.layer());
        break;
      case fb::LaunchArg::Scratch:
        prepared->params.addPointer(scratch_);
        break;
      default:
        return error("an extra argument this runtime does not know (" +
                     std::to_string(static_cast<int>(extra)) +
                     "); update llmc-runtime");
      }
    }
  prepared->params.finish();
  launches_.push_back(prepared);
  PreparedLaunch *l = prepared.get();
  ops_.push_back(
      {index, [this, l](int64_t tokens) {
         if (!launchRunsAt(l->minTokens, l->maxTokens, tokens))
           return Status::success();
         Grid grid = gridForTokens(l->grid, l->gridTokenScale, tokens);
         l->params.setTokens(tokens);
         return LLMC_CU(*cu_,
                        cuLaunchKernel(l->function, grid[0], grid[1], grid[2],
                                       l->block[0], l->block[1], l->block[2],
                                       l->sharedBytes, stream_,
                                       l->params.pointers(), nullptr));
       }});
  return Status::success();
}

Status CudaBackend::prepareGemm(size_t index, const fb::GemmStep &step) {
  auto error = [&](const std::string &message) {
    return stepError(index, "gemm", message);
  };
  if (!lt_) {
    if (Status s = CublasLt::load(lt_); !s)
      return error(s.message());
    if (Status s = LLMC_LT(*lt_, cublasLtCreate(&ltHandle_)); !s)
      return error(s.message());
    if (Status s =
            LLMC_LT(*lt_, cublasLtMatmulPreferenceCreate(&ltPreference_));
        !s)
      return error(s.message());
    uint64_t workspaceBytes = kCublasWorkspaceBytes;
    if (Status s = LLMC_LT(*lt_, cublasLtMatmulPreferenceSetAttribute(
                                     ltPreference_,
                                     CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                     &workspaceBytes, sizeof(workspaceBytes)));
        !s)
      return error(s.message());
    if (Status s = allocateDevice(kCublasWorkspaceBytes,
                                  "the cuBLASLt workspace", ltWorkspace_);
        !s)
      return s;
  }
  auto gemm = std::make_unique<PreparedGemm>();
  PreparedGemm &g = *gemm;
  if (Status s = resolve(step.a(), g.a); !s)
    return s;
  if (Status s = resolve(step.b(), g.b); !s)
    return s;
  if (Status s = resolve(step.c(), g.c); !s)
    return s;
  if (step.scale_a())
    if (Status s = resolve(step.scale_a(), g.scaleA); !s)
      return s;
  if (step.scale_b())
    if (Status s = resolve(step.scale_b(), g.scaleB); !s)
      return s;
  if (step.zero_b())
    return error("zero points (weight-only GEMMs) are not a cuBLASLt GEMM");
  if (g.a.shape.size() != 2 || g.b.shape.size() != 2 || g.c.shape.size() != 2)
    return error("operands must be matrices");
  if (g.b.tokenRows)
    return error("a cuBLASLt GEMM takes a fixed B, not token rows");
  g.transposeB = step.transpose_b();
  g.k = g.a.shape[1];
  g.n = g.transposeB ? g.b.shape[0] : g.b.shape[1];
  if ((g.transposeB ? g.b.shape[1] : g.b.shape[0]) != g.k ||
      g.c.shape[1] != g.n || g.c.tokenRows != g.a.tokenRows)
    return error("operand shapes do not agree");
  g.maxM = g.a.dim0(maxTokens_);
  auto scaleKind = [&](bool present, const DeviceBuffer &scale) {
    if (!present)
      return ScaleKind::None;
    return scale.elements(maxTokens_) == 1 && !scale.tokenRows
               ? ScaleKind::Tensor
               : ScaleKind::Vector;
  };
  const ScaleKind scaleA = scaleKind(step.scale_a(), g.scaleA),
                  scaleB = scaleKind(step.scale_b(), g.scaleB);
  const int sm = gpu_.major * 10 + gpu_.minor;
  if (std::string problem =
          chooseLtGemmTypes(g.a.dtype, g.b.dtype, g.c.dtype, sm, g.transposeB,
                            scaleA, scaleB, g.types);
      !problem.empty())
    return error(problem);
  if (scaleA == ScaleKind::Vector &&
      (!g.scaleA.tokenRows || g.scaleA.elements(maxTokens_) != g.maxM))
    return error("a per-row scale_a must hold one f32 per row of A");
  if (scaleB == ScaleKind::Vector && g.scaleB.elements(maxTokens_) != g.n)
    return error("a per-column scale_b must hold one f32 per column of C");
  g.alpha = step.alpha();
  g.beta = step.beta();
  g.what = "step " + std::to_string(index) + " (gemm " +
           std::to_string(g.maxM) + "x" + std::to_string(g.n) + "x" +
           std::to_string(g.k) + " " + fb::EnumNameDType(g.a.dtype) + ")";

  if (g.types.scaling == GemmScaling::Int32Epilogue) {
#if LLMC_HAVE_INT32_EPILOGUE
    if (!epilogue_) {
      CUresult loaded =
          cu_->cuModuleLoadData(&epilogueModule_, kInt32EpilogueFatbin);
      if (loaded != CUDA_SUCCESS)
        return error("loading the INT8 epilogue kernel: cuModuleLoadData "
                     "failed: " +
                     cu_->describe(loaded) + driverHint(loaded));
      if (Status s =
              LLMC_CU(*cu_, cuModuleGetFunction(&epilogue_, epilogueModule_,
                                                "llmcInt32Epilogue"));
          !s)
        return error(s.message());
    }
    uint64_t bytes = 4ull * g.maxM * g.n;
    if (bytes > int32ProductBytes_) {
      // Grown at load only: every INT8 GEMM shares the largest.
      if (Status s =
              allocateDevice(bytes, "the INT8 GEMM product", int32Product_);
          !s)
        return s;
      int32ProductBytes_ = bytes;
    }
#else
    return error("INT8 cuBLASLt GEMMs need the runtime's epilogue kernel, "
                 "and this llmc-runtime was built without nvcc");
#endif
  }

  const CublasLt &lt = *lt_;
  if (Status s =
          LLMC_LT(lt, cublasLtMatmulDescCreate(&g.desc, g.types.computeType,
                                               g.types.scaleType));
      !s)
    return error(s.message());
  const LtGemmShape shape0 = columnMajorShape(g.maxM, g.n, g.k, g.transposeB);
  cublasOperation_t opA = shape0.transposeA ? CUBLAS_OP_T : CUBLAS_OP_N,
                    opB = CUBLAS_OP_N;
  auto setDesc = [&](cublasLtMatmulDescAttributes_t attribute,
                     const void *value, size_t bytes) {
    return LLMC_LT(
        lt, cublasLtMatmulDescSetAttribute(g.desc, attribute, value, bytes));
  };
  if (Status s = setDesc(CUBLASLT_MATMUL_DESC_TRANSA, &opA, sizeof(opA)); !s)
    return error(s.message());
  if (Status s = setDesc(CUBLASLT_MATMUL_DESC_TRANSB, &opB, sizeof(opB)); !s)
    return error(s.message());
  if (g.types.scaling == GemmScaling::FP8TensorScales ||
      g.types.scaling == GemmScaling::FP8OuterVectorScales) {
    // cuBLASLt's A is our B: its scale is scale_b, and B's is scale_a.
    const void *scaleOfA = reinterpret_cast<const void *>(g.scaleB.data);
    const void *scaleOfB = reinterpret_cast<const void *>(g.scaleA.data);
    if (Status s = setDesc(CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &scaleOfA,
                           sizeof(scaleOfA));
        !s)
      return error(s.message());
    if (Status s = setDesc(CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &scaleOfB,
                           sizeof(scaleOfB));
        !s)
      return error(s.message());
    if (g.types.scaling == GemmScaling::FP8OuterVectorScales) {
      cublasLtMatmulMatrixScale_t mode =
          CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
      if (Status s =
              setDesc(CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &mode, sizeof(mode));
          !s)
        return error(s.message());
      if (Status s =
              setDesc(CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &mode, sizeof(mode));
          !s)
        return error(s.message());
    }
  }
  if (Status s = LLMC_LT(lt, cublasLtMatrixLayoutCreate(
                                 &g.layoutA, g.types.bType, shape0.aRows,
                                 shape0.aCols, shape0.lda));
      !s)
    return error(s.message());

  // An algorithm per M bucket, asked for once here.
  for (int64_t bucket : gemmBuckets(g.maxM)) {
    const LtGemmShape shape = columnMajorShape(bucket, g.n, g.k, g.transposeB);
    cublasLtMatrixLayout_t layoutB = nullptr, layoutC = nullptr;
    if (Status s = LLMC_LT(
            lt, cublasLtMatrixLayoutCreate(&layoutB, g.types.aType, shape.bRows,
                                           shape.bCols, shape.ldb));
        !s)
      return error(s.message());
    if (Status s = LLMC_LT(lt, cublasLtMatrixLayoutCreate(
                                   &layoutC, g.types.productType, shape.cRows,
                                   shape.cCols, shape.ldc));
        !s) {
      lt.cublasLtMatrixLayoutDestroy(layoutB);
      return error(s.message());
    }
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    Status s = LLMC_LT(lt, cublasLtMatmulAlgoGetHeuristic(
                               ltHandle_, g.desc, g.layoutA, layoutB, layoutC,
                               layoutC, ltPreference_, 1, &result, &found));
    g.layouts[bucket] = {layoutB, layoutC};
    if (!s)
      return error(s.message() + " (M = " + std::to_string(bucket) + ")");
    if (found == 0)
      return error(std::string("cuBLASLt has no algorithm for ") +
                   cudaDataTypeName(g.types.aType) + " x " +
                   cudaDataTypeName(g.types.bType) + " -> " +
                   cudaDataTypeName(g.types.productType) + " at M = " +
                   std::to_string(bucket) + ", N = " + std::to_string(g.n) +
                   ", K = " + std::to_string(g.k) + " on this GPU");
    g.algorithms[bucket] = result.algo;
  }
  PreparedGemm *pointer = gemm.get();
  gemms_.push_back(std::move(gemm));
  ops_.push_back({index, [this, pointer](int64_t tokens) {
                    return enqueueGemm(*pointer, tokens);
                  }});
  return Status::success();
}

Status CudaBackend::enqueueGemm(PreparedGemm &g, int64_t tokens) {
  const CublasLt &lt = *lt_;
  const int64_t m = g.a.dim0(tokens);
  auto found = g.layouts.find(m);
  if (found == g.layouts.end()) {
    const LtGemmShape shape = columnMajorShape(m, g.n, g.k, g.transposeB);
    cublasLtMatrixLayout_t layoutB = nullptr, layoutC = nullptr;
    if (Status s = LLMC_LT(
            lt, cublasLtMatrixLayoutCreate(&layoutB, g.types.aType, shape.bRows,
                                           shape.bCols, shape.ldb));
        !s)
      return Status::error(g.what + ": " + s.message());
    if (Status s = LLMC_LT(lt, cublasLtMatrixLayoutCreate(
                                   &layoutC, g.types.productType, shape.cRows,
                                   shape.cCols, shape.ldc));
        !s) {
      lt.cublasLtMatrixLayoutDestroy(layoutB);
      return Status::error(g.what + ": " + s.message());
    }
    found = g.layouts.emplace(m, std::make_pair(layoutB, layoutC)).first;
  }
  const cublasLtMatmulAlgo_t &algorithm =
      g.algorithms.at(gemmBucket(m, g.maxM));
  const bool int32Product = g.types.scaling == GemmScaling::Int32Epilogue;
  const void *alpha = int32Product ? static_cast<const void *>(&g.intAlpha)
                                   : static_cast<const void *>(&g.alpha);
  const void *beta = int32Product ? static_cast<const void *>(&g.intBeta)
                                  : static_cast<const void *>(&g.beta);
  void *product =
      reinterpret_cast<void *>(int32Product ? int32Product_ : g.c.data);
  if (Status s = LLMC_LT(
          lt, cublasLtMatmul(
                  ltHandle_, g.desc, alpha,
                  reinterpret_cast<const void *>(g.b.data), g.layoutA,
                  reinterpret_cast<const void *>(g.a.data),
                  found->second.first, beta, product, found->second.second,
                  product, found->second.second, &algorithm,
                  reinterpret_cast<void *>(ltWorkspace_), kCublasWorkspaceBytes,
                  reinterpret_cast<cudaStream_t>(stream_)));
      !s)
    return Status::error(g.what + ": " + s.message());
  if (!int32Product)
    return Status::success();
  // C = alpha * scale_a * scale_b * acc (+ beta * C), rounded once.
  CUdeviceptr acc = int32Product_, c = g.c.data, sa = g.scaleA.data,
              sb = g.scaleB.data;
  float alphaValue = g.alpha, betaValue = g.beta;
  long long rows = m, cols = g.n;
  int scaleAPerRow = g.scaleA.elements(maxTokens_) != 1 || g.scaleA.tokenRows;
  int scaleBPerColumn = g.scaleB.elements(maxTokens_) != 1;
  int outputType = g.c.dtype == fb::DType::F32   ? 0
                   : g.c.dtype == fb::DType::F16 ? 1
                                                 : 2;
  // The kernel's parameters (kernels/Int32Epilogue.cu), in order.
  void *params[] = {&acc,       &c,    &sa,   &sb,           &alphaValue,
                    &betaValue, &rows, &cols, &scaleAPerRow, &scaleBPerColumn,
                    &outputType};
  const uint64_t count = static_cast<uint64_t>(rows * cols);
  const uint32_t blocks = static_cast<uint32_t>(std::min<uint64_t>(
      (count + kEpilogueThreads - 1) / kEpilogueThreads, 65535));
  if (Status s = LLMC_CU(*cu_, cuLaunchKernel(epilogue_, blocks, 1, 1,
                                              kEpilogueThreads, 1, 1, 0,
                                              stream_, params, nullptr));
      !s)
    return Status::error(g.what + " (INT8 epilogue): " + s.message());
  return Status::success();
}

Status CudaBackend::reserveBlocks(int64_t sequenceId, int64_t positions) {
  std::vector<int32_t> &table = sequences_[sequenceId];
  const int64_t needed = (positions + kv_.blockTokens - 1) / kv_.blockTokens;
  if (needed > blockTableStride_)
    return fail("KV cache: sequence " + std::to_string(sequenceId) + " needs " +
                std::to_string(positions) +
                " positions; the CUDA backend holds " +
                std::to_string(blockTableStride_ * kv_.blockTokens) +
                " per sequence (EngineOptions::maxSeqLen)");
  const int64_t more = needed - static_cast<int64_t>(table.size());
  if (more <= 0)
    return Status::success();
  if (more > static_cast<int64_t>(freeBlocks_.size()))
    return fail("KV cache: sequence " + std::to_string(sequenceId) + " needs " +
                std::to_string(more) + " more blocks, " +
                std::to_string(freeBlocks_.size()) + " are free");
  for (int64_t i = 0; i < more; ++i) {
    table.push_back(freeBlocks_.back());
    freeBlocks_.pop_back();
  }
  return Status::success();
}

void CudaBackend::freeSequence(int64_t sequenceId) {
  auto it = sequences_.find(sequenceId);
  if (it == sequences_.end())
    return;
  for (auto block = it->second.rbegin(); block != it->second.rend(); ++block)
    freeBlocks_.push_back(*block);
  sequences_.erase(it);
}

Status CudaBackend::runSteps(int64_t tokens) {
  for (DeviceOp &op : ops_)
    if (Status s = op.enqueue(tokens); !s)
      return fail("step " + std::to_string(op.step) + ": " + s.message());
  return Status::success();
}

Status CudaBackend::forward(const ForwardBatch &batch,
                            std::vector<float> &logits) {
  if (std::string problem = engine::checkForwardBatch(batch, maxTokens_);
      !problem.empty())
    return fail(problem);
  if (Status s = LLMC_CU(*cu_, cuCtxSetCurrent(context_)); !s)
    return fail(s.message());
  const int64_t n = static_cast<int64_t>(batch.tokenIds.size());

  // The batch description, in the staging area's layout.
  auto *positions = reinterpret_cast<int32_t *>(staging_ + positionsOffset_);
  auto *tokenSequence =
      reinterpret_cast<int32_t *>(staging_ + tokenSequenceOffset_);
  auto *queryStart = reinterpret_cast<int32_t *>(staging_ + queryStartOffset_);
  auto *blockTables =
      reinterpret_cast<int32_t *>(staging_ + blockTablesOffset_);
  int64_t sequences = 0, begin = 0;
  queryStart[0] = 0;
  for (const SequenceSpan &span : batch.sequences) {
    if (span.numTokens == 0)
      continue;
    if (sequences == maxSequences_)
      return fail("a forward call carries at most " +
                  std::to_string(maxSequences_) +
                  " sequences on the CUDA backend (EngineOptions::"
                  "maxSequences)");
    if (kv_.numLayers > 0) {
      int32_t last =
          *std::max_element(batch.positions.begin() + begin,
                            batch.positions.begin() + begin + span.numTokens);
      if (Status s = reserveBlocks(span.sequenceId, int64_t(last) + 1); !s)
        return s;
      const std::vector<int32_t> &table = sequences_[span.sequenceId];
      int32_t *row = blockTables + sequences * blockTableStride_;
      std::fill(row, row + blockTableStride_, -1);
      std::copy(table.begin(), table.end(), row);
    }
    for (int64_t t = begin; t < begin + span.numTokens; ++t)
      tokenSequence[t] = static_cast<int32_t>(sequences);
    begin += span.numTokens;
    queryStart[++sequences] = static_cast<int32_t>(begin);
  }
  std::memcpy(positions, batch.positions.data(), 4 * n);
  auto *header = reinterpret_cast<LlmcDeviceBatch *>(staging_);
  header->num_tokens = n;
  header->num_sequences = sequences;
  std::memcpy(staging_ + tokenIdsOffset_, batch.tokenIds.data(), 4 * n);

  if (Status s = LLMC_CU(
          *cu_, cuMemcpyHtoDAsync(batchArea_, staging_, uploadBytes_, stream_));
      !s)
    return fail(s.message());
  if (Status s = LLMC_CU(*cu_, cuMemcpyHtoDAsync(tokenIds_.data,
                                                 staging_ + tokenIdsOffset_,
                                                 4 * n, stream_));
      !s)
    return fail(s.message());
  if (havePositions_)
    if (Status s = LLMC_CU(*cu_, cuMemcpyHtoDAsync(positions_.data,
                                                   positions, 4 * n, stream_));
        !s)
      return fail(s.message());

  // Decode-sized calls replay a graph captured for their token count: every
  // T-dependent value is fixed per T, the rest is read from device memory.
  if (useGraphs_ && n <= maxSequences_) {
    auto graph = graphs_.find(n);
    if (graph == graphs_.end()) {
      if (Status s =
              LLMC_CU(*cu_, cuStreamBeginCapture(
                                stream_, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
          !s)
        return fail(s.message());
      Status captured = runSteps(n);
      CUgraph captureGraph = nullptr;
      Status ended = LLMC_CU(*cu_, cuStreamEndCapture(stream_, &captureGraph));
      if (!captured) {
        if (captureGraph)
          cu_->cuGraphDestroy(captureGraph);
        return captured;
      }
      if (!ended)
        return fail("capturing the CUDA graph for " + std::to_string(n) +
                    " tokens: " + ended.message());
      CUgraphExec exec = nullptr;
      Status instantiated =
          LLMC_CU(*cu_, cuGraphInstantiateWithFlags(&exec, captureGraph, 0));
      cu_->cuGraphDestroy(captureGraph);
      if (!instantiated)
        return fail(instantiated.message());
      graph = graphs_.emplace(n, exec).first;
    }
    if (Status s = LLMC_CU(*cu_, cuGraphLaunch(graph->second, stream_)); !s)
      return fail(s.message());
  } else if (Status s = runSteps(n); !s) {
    return s;
  }

  const uint64_t logitsBytes = logits_.bytes(n);
  if (Status s = LLMC_CU(*cu_, cuMemcpyDtoHAsync(logitsHost_, logits_.data,
                                                 logitsBytes, stream_));
      !s)
    return fail(s.message());
  if (Status s = LLMC_CU(*cu_, cuStreamSynchronize(stream_)); !s)
    return fail("running the plan: " + s.message());
  const int64_t count = logits_.elements(n);
  logits.resize(static_cast<size_t>(count));
  cpu::DType type = logits_.dtype == fb::DType::F32   ? cpu::DType::F32
                    : logits_.dtype == fb::DType::F16 ? cpu::DType::F16
                                                      : cpu::DType::BF16;
  cpu::convertToF32(logitsHost_, type, logits.data(), count);
  return Status::success();
}

} // namespace

Status checkPlanRunsOnCuda(const loader::Artifact &artifact) {
  return checkPlan(artifact);
}

Status createCudaBackend(const loader::Artifact &artifact,
                         const engine::EngineOptions &options, int deviceIndex,
                         std::unique_ptr<engine::EngineBackend> &out) {
  auto backend = std::make_unique<CudaBackend>();
  if (Status s = backend->create(artifact, options, deviceIndex); !s)
    return s;
  out = std::move(backend);
  return Status::success();
}

Status measureCopyBandwidth(int deviceIndex, uint64_t bytes, int repetitions,
                            double &bytesPerSecond, std::string &deviceName) {
  const CudaDriver *cu = nullptr;
  if (Status s = CudaDriver::load(cu); !s)
    return s;
  CUdevice device = 0;
  CUcontext context = nullptr;
  if (Status s = LLMC_CU(*cu, cuDeviceGet(&device, deviceIndex)); !s)
    return s;
  char name[256] = {0};
  if (Status s = LLMC_CU(*cu, cuDeviceGetName(name, sizeof(name), device)); !s)
    return s;
  deviceName = name;
  if (Status s = LLMC_CU(*cu, cuDevicePrimaryCtxRetain(&context, device)); !s)
    return s;
  CUdeviceptr source = 0, target = 0;
  Status status = LLMC_CU(*cu, cuCtxSetCurrent(context));
  if (status)
    status = LLMC_CU(*cu, cuMemAlloc(&source, bytes));
  if (status)
    status = LLMC_CU(*cu, cuMemAlloc(&target, bytes));
  if (status) {
    // A warm-up, then the timed copies; each reads and writes `bytes`.
    status = LLMC_CU(*cu, cuMemcpyDtoDAsync(target, source, bytes, nullptr));
    if (status)
      status = LLMC_CU(*cu, cuCtxSynchronize());
    auto start = std::chrono::steady_clock::now();
    for (int r = 0; status && r < repetitions; ++r)
      status = LLMC_CU(*cu, cuMemcpyDtoDAsync(target, source, bytes, nullptr));
    if (status)
      status = LLMC_CU(*cu, cuCtxSynchronize());
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    bytesPerSecond = 2.0 * bytes * repetitions / std::max(seconds, 1e-9);
  }
  if (source)
    cu->cuMemFree(source);
  if (target)
    cu->cuMemFree(target);
  cu->cuDevicePrimaryCtxRelease(device);
  return status;
}

} // namespace llmc::cuda
