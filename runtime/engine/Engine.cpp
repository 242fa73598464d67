//===- Engine.cpp - executes a CPU artifact's plan -----------------------===//

#include "runtime/engine/Engine.h"
#include "runtime/engine/PlanBuffer.h"

#include "runtime/backends/cpu/FusedKernels.h"
#include "runtime/backends/cuda/DeviceCheck.h"
#if LLMC_HAVE_CUDA_BACKEND
#include "runtime/backends/cuda/CudaEngine.h"
#endif
#include "runtime/backends/cpu/Kernels.h"
#include "runtime/kv_cache/KVCache.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <string>

namespace llmc::engine {

namespace fb = ::llmc::artifact;
using cpu::DType;

namespace {

struct ArenaDeleter {
  size_t alignment;
  void operator()(uint8_t *p) const {
    ::operator delete(p, std::align_val_t(alignment));
  }
};
using ArenaMemory = std::unique_ptr<uint8_t, ArenaDeleter>;

/// A plan buffer in host memory.
using Buf = PlanBuffer<uint8_t *>;

bool toCpuDType(fb::DType dtype, DType &out) {
  switch (dtype) {
  case fb::DType::F32:
    out = DType::F32;
    return true;
  case fb::DType::F16:
    out = DType::F16;
    return true;
  case fb::DType::BF16:
    out = DType::BF16;
    return true;
  default:
    return false;
  }
}

/// The element types of quantized operands (plan contract,
/// docs/quantization.md): i8, i4 (packed), f8E4M3FN, f8E5M2.
bool toQuantDType(fb::DType dtype, cpu::QuantDType &out) {
  switch (dtype) {
  case fb::DType::I8:
    out = cpu::QuantDType::I8;
    return true;
  case fb::DType::I4:
    out = cpu::QuantDType::I4;
    return true;
  case fb::DType::F8E4M3:
    out = cpu::QuantDType::F8E4M3FN;
    return true;
  case fb::DType::F8E5M2:
    out = cpu::QuantDType::F8E5M2;
    return true;
  default:
    return false;
  }
}

bool isFp8(cpu::QuantDType dtype) {
  return dtype == cpu::QuantDType::F8E4M3FN || dtype == cpu::QuantDType::F8E5M2;
}

/// Bytes `elements` elements of `dtype` occupy, for the element types the
/// engine moves (float, integer, fp8, packed i4).
uint64_t storageBytes(fb::DType dtype, int64_t elements) {
  switch (dtype) {
  case fb::DType::F64:
  case fb::DType::I64:
    return 8 * elements;
  case fb::DType::F32:
  case fb::DType::I32:
    return 4 * elements;
  case fb::DType::F16:
  case fb::DType::BF16:
  case fb::DType::I16:
    return 2 * elements;
  case fb::DType::I4:
    return (elements + 1) / 2;
  default:
    return elements;
  }
}

std::string formatShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

/// The step's parameters by key.
struct Params {
  const flatbuffers::Vector<flatbuffers::Offset<fb::Param>> *params = nullptr;

  const fb::Param *find(const char *key) const {
    if (!params)
      return nullptr;
    for (const fb::Param *p : *params)
      if (p->key() && p->key()->str() == key)
        return p;
    return nullptr;
  }
  bool has(const char *key) const { return find(key) != nullptr; }
  /// A number (integer or float).
  bool number(const char *key, double &out) const {
    const fb::Param *p = find(key);
    if (!p)
      return false;
    if (p->float_value().has_value()) {
      out = *p->float_value();
      return true;
    }
    if (p->int_value().has_value()) {
      out = static_cast<double>(*p->int_value());
      return true;
    }
    return false;
  }
  bool integer(const char *key, int64_t &out) const {
    const fb::Param *p = find(key);
    if (!p)
      return false;
    if (p->int_value().has_value()) {
      out = *p->int_value();
      return true;
    }
    if (p->float_value().has_value()) {
      double v = *p->float_value();
      if (v != std::floor(v))
        return false;
      out = static_cast<int64_t>(v);
      return true;
    }
    return false;
  }
  bool string(const char *key, std::string &out) const {
    const fb::Param *p = find(key);
    if (!p || !p->string_value())
      return false;
    out = p->string_value()->str();
    return true;
  }
};

/// The KV-cache layer and attention parameters as the `attention`,
/// `cached_attention` and `cached_attention_quantize_dynamic` steps spell
/// them; empty when complete, else what is missing.
std::string readAttentionParams(const Params &params, int64_t &layer,
                                cpu::AttentionParams &ap) {
  double scale;
  if (!params.integer("layer", layer))
    return "missing parameter 'layer'";
  if (!params.number("scale", scale))
    return "missing parameter 'scale'";
  ap.scale = static_cast<float>(scale);
  params.integer("sliding_window", ap.slidingWindow);
  double softcap = 0.0;
  params.number("softcap", softcap);
  ap.softcap = static_cast<float>(softcap);
  return "";
}

using StepFn = std::function<Status(int64_t tokens)>;

} // namespace

struct Engine::Impl {
  const loader::Artifact *artifact = nullptr;
  const fb::RankPlan *plan = nullptr;
  EngineOptions options;
  int64_t maxTokens = 0;
  int64_t vocab = 0;
  std::vector<ArenaMemory> arenas;
  std::vector<uint64_t> arenaBytes;
  std::unique_ptr<cpu::ThreadPool> pool;
  std::unique_ptr<kv::PagedKVCache> cache;
  Buf tokenIds, positions, logits;
  std::vector<StepFn> steps;
  /// The plan step each prepared step runs (for messages).
  std::vector<size_t> stepIndices;

  // Per-call batch description (what attention steps read).
  std::vector<int64_t> queryStart, sequenceIds;
  std::vector<int32_t> batchPositions;
  int64_t batchTokens = 0;

  /// The current call's batch as the attention kernels take it.
  cpu::AttentionBatch attentionBatch() const {
    cpu::AttentionBatch batch;
    batch.numSequences = static_cast<int64_t>(sequenceIds.size());
    batch.queryStart = queryStart.data();
    batch.sequenceIds = sequenceIds.data();
    batch.positions = batchPositions.data();
    return batch;
  }

  Status fail(const std::string &message) const {
    return Status::error(artifact->name() + ": " + message);
  }
  Status stepError(size_t index, const std::string &name,
                   const std::string &message) const {
    return fail("step " + std::to_string(index) + " (" + name +
                "): " + message);
  }

  /// The weight tensor loaded at (arena, offset), for the calibration hook.
  std::map<std::pair<uint32_t, uint64_t>, std::string> weightNames;

  Status resolve(const fb::Buffer *buffer, Buf &out) const;
  /// The name of the weight tensor that starts where `buffer` does, or "".
  std::string weightNameAt(const fb::Buffer *buffer) const;
  /// Checks that `scale` (and `zero`, which may be null) can scale `data`
  /// block-wise as llm.quantize defines, in the [rows, last dim] view the
  /// kernels take; returns an error message or "".
  std::string checkBlockScales(const Buf &data, const Buf &scale,
                               const Buf *zero) const;
  Status prepare();
  Status prepareGemm(size_t index, const fb::GemmStep &gemm);
  Status prepareCompute(size_t index, const fb::ComputeStep &step);
  /// The GEMM of a fused linear step whose weight is quantized, as a
  /// callback that writes x * w^T for `tokens` into an f32 [rows, N]
  /// matrix: weight-only (float x, i8/i4 w, `scales` = scale_b [N, K/G]
  /// and optionally zero_b) or W8A8 (i8 or fp8 x and w, `scales` = scale_a
  /// [M, 1] or [], scale_b [N, 1] or []). Checks what prepareGemm checks.
  using QuantizedProduct =
      std::function<void(int64_t tokens, const cpu::MatrixView &product)>;
  Status
  prepareQuantizedProduct(const Buf &x, const Buf &w,
                          const std::vector<Buf> &scales,
                          QuantizedProduct &product,
                          const std::function<Status(std::string)> &error);
  /// The steps of llm-fuse's groups; false in `handled` for other names.
  Status prepareFusedCompute(size_t index, const std::string &name,
                             const Params &params, const std::vector<Buf> &in,
                             const std::vector<Buf> &out, bool &handled);
};

Status Engine::Impl::resolve(const fb::Buffer *buffer, Buf &out) const {
  if (!buffer)
    return fail("a step refers to a missing buffer");
  if (buffer->arena() >= arenas.size())
    return fail("buffer refers to arena " + std::to_string(buffer->arena()) +
                " of " + std::to_string(arenas.size()));
  if (std::string problem = readPlanBuffer(
          *buffer, arenas[buffer->arena()].get(), maxTokens, out);
      !problem.empty())
    return fail(problem);
  return Status::success();
}

std::string Engine::Impl::weightNameAt(const fb::Buffer *buffer) const {
  if (!buffer)
    return "";
  auto it = weightNames.find({buffer->arena(), buffer->offset()});
  return it == weightNames.end() ? "" : it->second;
}

std::string Engine::Impl::checkBlockScales(const Buf &data, const Buf &scale,
                                           const Buf *zero) const {
  if (scale.dtype != fb::DType::F32)
    return "the scale is " + std::string(loader::dtypeName(scale.dtype)) +
           "; scales are f32";
  if (zero) {
    if (zero->dtype != fb::DType::I8)
      return "the zero point is " +
             std::string(loader::dtypeName(zero->dtype)) +
             "; zero points are i8";
    if (zero->shape != scale.shape || zero->tokenRows != scale.tokenRows)
      return "the zero point's shape " + formatShape(zero->shape) +
             " differs from the scale's " + formatShape(scale.shape);
  }
  if (scale.elements(maxTokens) == 1 && !scale.tokenRows)
    return ""; // per tensor
  const size_t rank = data.shape.size();
  if (scale.shape.size() != rank || rank == 0)
    return "a scale of shape " + formatShape(scale.shape) +
           " for data of shape " + formatShape(data.shape) +
           " (it must be a scalar or have the data's rank)";
  // Over token rows a scale is shared (leading dimension 1) or per token
  // (token rows too), as llm.quantize allows for a dynamic dimension.
  if (scale.tokenRows
          ? !data.tokenRows || scale.rowsPerToken != data.rowsPerToken
          : data.tokenRows && scale.shape[0] != 1)
    return "a scale of shape " + formatShape(scale.shape) +
           " over token rows must have leading dimension 1 or be token rows "
           "like the data (" +
           formatShape(data.shape) + ")";
  // The kernels see [rows, last dim]; flattening the leading dimensions
  // keeps the blocks only if the scale's leading dimensions equal the
  // data's up to one that splits it, and are 1 after it.
  bool split = false;
  for (size_t i = 0; i < rank; ++i) {
    int64_t d = data.shape[i], sd = scale.shape[i];
    if (sd <= 0 || d % sd != 0)
      return "a scale of shape " + formatShape(scale.shape) +
             " does not split data of shape " + formatShape(data.shape) +
             " into blocks";
    if (i + 1 == rank)
      break;
    if (split && sd != 1)
      return "a block-wise scale of shape " + formatShape(scale.shape) +
             " over data of shape " + formatShape(data.shape) +
             " is not supported (the leading blocks must be contiguous rows)";
    if (sd != d)
      split = true;
  }
  return "";
}

namespace {
/// The kernels' view of a scale checked by checkBlockScales, for a call over
/// `tokens` tokens.
cpu::BlockScales blockScalesAt(const Buf &data, const Buf &scale,
                               const Buf *zero, int64_t tokens,
                               int64_t maxTokens) {
  const float *scales = reinterpret_cast<const float *>(scale.data);
  const int8_t *zeros =
      zero ? reinterpret_cast<const int8_t *>(zero->data) : nullptr;
  if (scale.elements(maxTokens) == 1 && !scale.tokenRows)
    return cpu::BlockScales::perTensor(scales, zeros);
  return cpu::BlockScales::blocks(scales, zeros, data.matrixRows(tokens),
                                  data.lastDim(), scale.matrixRows(tokens),
                                  scale.lastDim());
}
} // namespace

Status planKVCacheConfig(const loader::Artifact &artifact,
                         const EngineOptions &options, kv::KVCacheConfig &out) {
  out = kv::KVCacheConfig();
  out.numLayers = 0;
  const fb::RankPlan *planPointer = artifact.plan(0);
  if (!planPointer)
    return Status::error("the artifact has no plan for rank 0");
  const fb::RankPlan &plan = *planPointer;
  // The KV cache: one layer per distinct attention `layer`, heads and head
  // size from the attention steps' key buffers.
  int64_t numLayers = 0, kvHeads = -1, headDim = -1;
  std::string kvCacheDType; // the steps' `kv_cache_dtype`, "" when absent
  // attention, rope_kv_write and cached_attention all name the cache's type.
  auto noteKVCacheDType = [&](const Params &params) {
    std::string stepKVDType;
    if (!params.string("kv_cache_dtype", stepKVDType))
      return true;
    if (!kvCacheDType.empty() && kvCacheDType != stepKVDType)
      return false;
    kvCacheDType = stepKVDType;
    return true;
  };
  auto fail = [](const std::string &message) { return Status::error(message); };
  auto disagree = [&]() {
    return fail("the KV-cache steps disagree on kv_cache_dtype; the KV "
                "cache has one type");
  };
  if (plan.steps())
    for (const fb::Step *step : *plan.steps()) {
      const fb::ComputeStep *compute = step->op_as_ComputeStep();
      if (compute && compute->name() &&
          compute->name()->str() == "cached_attention" &&
          !noteKVCacheDType(Params{compute->params()}))
        return disagree();
      if (compute && compute->name() &&
          compute->name()->str() == "rope_kv_write") {
        Params params{compute->params()};
        if (!noteKVCacheDType(params))
          return disagree();
        int64_t layer = 0, h = 0, d = 0;
        if (!params.integer("layer", layer) || layer < 0 ||
            !params.integer("num_kv_heads", h) ||
            !params.integer("head_dim", d))
          continue; // reported when the step is prepared
        if ((kvHeads >= 0 && kvHeads != h) || (headDim >= 0 && headDim != d))
          return fail("attention steps disagree on the KV heads or "
                      "head size; the KV cache needs one shape");
        numLayers = std::max(numLayers, layer + 1);
        kvHeads = h;
        headDim = d;
        continue;
      }
      if (!compute || !compute->name() || compute->name()->str() != "attention")
        continue;
      Params params{compute->params()};
      if (!noteKVCacheDType(params))
        return disagree();
      int64_t layer = 0;
      if (!params.integer("layer", layer) || layer < 0)
        continue; // reported when the step is prepared
      numLayers = std::max(numLayers, layer + 1);
      if (compute->inputs() && compute->inputs()->size() >= 2) {
        const fb::Buffer *key = compute->inputs()->Get(1);
        if (key && key->shape() && key->shape()->size() == 3) {
          int64_t h = key->shape()->Get(1), d = key->shape()->Get(2);
          if ((kvHeads >= 0 && kvHeads != h) || (headDim >= 0 && headDim != d))
            return fail("attention steps disagree on the KV heads or "
                        "head size; the KV cache needs one shape");
          kvHeads = h;
          headDim = d;
        }
      }
    }
  if (numLayers > 0) {
    if (kvHeads <= 0 || headDim <= 0)
      return fail("cannot size the KV cache: the attention steps' key "
                  "buffers are not [tokens, kv_heads, head_dim]");
    const fb::ModelConfig &config = artifact.config();
    kv::KVCacheConfig kvConfig;
    kvConfig.numLayers = numLayers;
    kvConfig.numKVHeads = kvHeads;
    kvConfig.headDim = headDim;
    kvConfig.blockTokens =
        config.kv_block_tokens() > 0 ? config.kv_block_tokens() : 16;
    // A quantized cache (contract item 6) is named by the attention steps'
    // `kv_cache_dtype`, and the config must say the same.
    const std::string configKVDType(loader::dtypeName(config.kv_cache_dtype()));
    if (kvCacheDType == "i8" || kvCacheDType == "f8E4M3FN") {
      bool int8 = kvCacheDType == "i8";
      fb::DType expected = int8 ? fb::DType::I8 : fb::DType::F8E4M3;
      if (config.kv_cache_dtype() != expected)
        return fail("the attention steps' kv_cache_dtype is '" + kvCacheDType +
                    "' but ModelConfig.kv_cache_dtype is " + configKVDType +
                    "; they must agree");
      kvConfig.quantization =
          int8 ? kv::KVQuantization::Int8 : kv::KVQuantization::Fp8E4M3;
      kvConfig.dtype = DType::F32; // unused when quantized
    } else if (!kvCacheDType.empty()) {
      return fail("unsupported kv_cache_dtype '" + kvCacheDType +
                  "' on the attention steps (the CPU engine's quantized "
                  "KV caches are i8 and f8E4M3FN)");
    } else if (config.kv_cache_dtype() == fb::DType::I8 ||
               config.kv_cache_dtype() == fb::DType::F8E4M3) {
      kvConfig.quantization = config.kv_cache_dtype() == fb::DType::I8
                                  ? kv::KVQuantization::Int8
                                  : kv::KVQuantization::Fp8E4M3;
    } else if (!toCpuDType(config.kv_cache_dtype(), kvConfig.dtype)) {
      return fail("KV-cache dtype " + configKVDType +
                  " is not supported by the CPU engine (f32, f16, bf16, "
                  "i8, f8E4M3FN)");
    }
    int64_t sequences = options.maxSequences > 0
                            ? options.maxSequences
                            : std::max<int64_t>(1, config.max_batch());
    int64_t seqLen = options.maxSeqLen > 0 ? options.maxSeqLen
                     : config.max_seq_len() > 0
                         ? config.max_seq_len()
                         : config.max_position_embeddings();
    if (seqLen <= 0)
      return fail("cannot size the KV cache: no maximum sequence length "
                  "(pass EngineOptions::maxSeqLen)");
    kvConfig.numBlocks = sequences * ((seqLen + kvConfig.blockTokens - 1) /
                                      kvConfig.blockTokens);
    out = kvConfig;
  }

  return Status::success();
}

Status Engine::create(const loader::Artifact &artifact,
                      const EngineOptions &options,
                      std::unique_ptr<Engine> &out) {
  std::unique_ptr<Engine> engine(new Engine());
  if (options.device != "cpu") {
    cuda::DeviceSpec device;
    std::string problem;
    if (!cuda::parseDeviceSpec(options.device, device, problem))
      return Status::error(problem);
#if LLMC_HAVE_CUDA_BACKEND
    if (Status s = cuda::createCudaBackend(artifact, options, device.index,
                                           engine->backend_);
        !s)
      return s;
    out = std::move(engine);
    return Status::success();
#else
    return Status::error("--device=" + options.device +
                         ": this llmc-runtime was built without the CUDA "
                         "backend (no CUDA headers at build time); use "
                         "--device=cpu");
#endif
  }
  Impl &impl = *engine->impl_;
  impl.artifact = &artifact;
  impl.options = options;
  impl.plan = artifact.plan(0);
  if (!impl.plan)
    return impl.fail("the artifact has no plan for rank 0");
  // Every artifact runs here, whatever its target: a GPU artifact's steps
  // keep their ops beside the kernel launches a GPU backend runs instead
  // (artifact.fbs `Step.launches`), and this engine is the reference the
  // GPU backend is compared with.
  impl.maxTokens = impl.plan->max_tokens();
  if (impl.maxTokens <= 0)
    return impl.fail("the plan's max_tokens is 0");
  impl.vocab = artifact.config().vocab_size();

  // Arenas.
  const fb::RankPlan &plan = *impl.plan;
  if (plan.arenas())
    for (const fb::Arena *arena : *plan.arenas()) {
      size_t alignment = std::max<size_t>(64, arena->alignment());
      size_t bytes = std::max<uint64_t>(arena->bytes(), 1);
      bytes = (bytes + alignment - 1) / alignment * alignment;
      uint8_t *memory = static_cast<uint8_t *>(
          ::operator new(bytes, std::align_val_t(alignment), std::nothrow));
      if (!memory)
        return impl.fail("cannot allocate arena '" +
                         (arena->name() ? arena->name()->str() : "") + "' (" +
                         std::to_string(arena->bytes()) + " bytes)");
      std::memset(memory, 0, bytes);
      impl.arenas.emplace_back(memory, ArenaDeleter{alignment});
      impl.arenaBytes.push_back(arena->bytes());
    }

  // Weights.
  if (plan.weight_loads())
    for (const fb::WeightLoad *load : *plan.weight_loads()) {
      if (load->tensor() >= artifact.tensorCount() ||
          load->arena() >= impl.arenas.size())
        return impl.fail("weight load refers to tensor " +
                         std::to_string(load->tensor()) + " / arena " +
                         std::to_string(load->arena()) + " out of range");
      loader::TensorRef tensor = artifact.tensor(load->tensor());
      if (!tensor.data)
        return impl.fail("tensor '" + std::string(tensor.name) +
                         "' has no data");
      if (load->offset() + tensor.bytes > impl.arenaBytes[load->arena()])
        return impl.fail("tensor '" + std::string(tensor.name) +
                         "' does not fit its arena");
      std::memcpy(impl.arenas[load->arena()].get() + load->offset(),
                  tensor.data, tensor.bytes);
      impl.weightNames[{load->arena(), load->offset()}] =
          std::string(tensor.name);
    }

  // Named inputs and outputs.
  bool haveIds = false, havePositions = false, haveLogits = false;
  if (plan.inputs())
    for (const fb::NamedBuffer *input : *plan.inputs()) {
      std::string name = input->name() ? input->name()->str() : "";
      if (name == "token_ids") {
        if (Status s = impl.resolve(input->buffer(), impl.tokenIds); !s)
          return s;
        haveIds = true;
      } else if (name == "positions") {
        if (Status s = impl.resolve(input->buffer(), impl.positions); !s)
          return s;
        havePositions = true;
      } else {
        return impl.fail("the plan has an input '" + name +
                         "' this engine does not know how to fill");
      }
    }
  if (plan.outputs())
    for (const fb::NamedBuffer *output : *plan.outputs())
      if (output->name() && output->name()->str() == "logits") {
        if (Status s = impl.resolve(output->buffer(), impl.logits); !s)
          return s;
        haveLogits = true;
      }
  if (!haveIds || !haveLogits)
    return impl.fail("the plan lacks a 'token_ids' input or a 'logits' "
                     "output");
  if (impl.tokenIds.dtype != fb::DType::I32 ||
      (havePositions && impl.positions.dtype != fb::DType::I32))
    return impl.fail("token_ids and positions must be i32 buffers");
  if (!impl.tokenIds.tokenRows ||
      (havePositions && !impl.positions.tokenRows) || !impl.logits.tokenRows)
    return impl.fail("token_ids, positions and logits must be token-rows "
                     "buffers");
  if (impl.logits.lastDim() != impl.vocab)
    impl.vocab = impl.logits.lastDim();
  DType logitsType;
  if (!toCpuDType(impl.logits.dtype, logitsType))
    return impl.fail("the logits buffer is " +
                     std::string(loader::dtypeName(impl.logits.dtype)) +
                     "; the engine reads f32, f16 or bf16");

  // The KV cache (planKVCacheConfig: the layout every backend shares).
  kv::KVCacheConfig kvConfig;
  if (Status s = planKVCacheConfig(artifact, options, kvConfig); !s)
    return impl.fail(s.message());
  if (kvConfig.numLayers > 0)
    if (Status s = kv::PagedKVCache::create(kvConfig, impl.cache); !s)
      return impl.fail("KV cache: " + s.message());

  impl.pool = std::make_unique<cpu::ThreadPool>(options.threads);
  if (Status s = impl.prepare(); !s)
    return s;
  out = std::move(engine);
  return Status::success();
}

Status Engine::Impl::prepare() {
  if (!plan->steps())
    return Status::success();
  for (size_t i = 0; i < plan->steps()->size(); ++i) {
    const fb::Step *step = plan->steps()->Get(i);
    switch (step->op_type()) {
    case fb::StepOp::GemmStep:
      if (Status s = prepareGemm(i, *step->op_as_GemmStep()); !s)
        return s;
      break;
    case fb::StepOp::ComputeStep:
      if (Status s = prepareCompute(i, *step->op_as_ComputeStep()); !s)
        return s;
      break;
    case fb::StepOp::CollectiveStep: {
      // One rank: a collective over a group of one is the identity.
      const fb::CollectiveStep *c = step->op_as_CollectiveStep();
      if (c->group() && c->group()->size() > 1)
        return stepError(i, "collective",
                         "collectives across ranks are not supported by the "
                         "single-rank CPU engine");
      if (c->output()) {
        Buf in, outBuf;
        if (Status s = resolve(c->buffer(), in); !s)
          return s;
        if (Status s = resolve(c->output(), outBuf); !s)
          return s;
        steps.push_back([in, outBuf](int64_t tokens) {
          size_t bytes = storageBytes(in.dtype, in.elements(tokens));
          if (in.data != outBuf.data)
            std::memmove(outBuf.data, in.data, bytes);
          return Status::success();
        });
      }
      break;
    }
    case fb::StepOp::HostStep:
      return stepError(i,
                       step->op_as_HostStep()->name()
                           ? step->op_as_HostStep()->name()->str()
                           : "host",
                       "host steps are not supported by the CPU engine");
    case fb::StepOp::LaunchStep:
      return stepError(i, "launch",
                       "kernel launches need a GPU runtime; this is the CPU "
                       "engine");
    default:
      return stepError(i, "?",
                       "a step kind this runtime does not know (" +
                           std::to_string(static_cast<int>(step->op_type())) +
                           "); update llmc-runtime");
    }
    stepIndices.resize(steps.size(), i);
  }
  return Status::success();
}

Status Engine::Impl::prepareGemm(size_t index, const fb::GemmStep &gemm) {
  auto error = [&](const std::string &message) {
    return stepError(index, "gemm", message);
  };
  Buf a, b, c, scaleA, scaleB, zeroB;
  if (Status s = resolve(gemm.a(), a); !s)
    return s;
  if (Status s = resolve(gemm.b(), b); !s)
    return s;
  if (Status s = resolve(gemm.c(), c); !s)
    return s;
  const bool hasScaleA = gemm.scale_a(), hasScaleB = gemm.scale_b(),
             hasZeroB = gemm.zero_b();
  if (hasScaleA)
    if (Status s = resolve(gemm.scale_a(), scaleA); !s)
      return s;
  if (hasScaleB)
    if (Status s = resolve(gemm.scale_b(), scaleB); !s)
      return s;
  if (hasZeroB)
    if (Status s = resolve(gemm.zero_b(), zeroB); !s)
      return s;
  if (a.shape.size() != 2 || b.shape.size() != 2 || c.shape.size() != 2)
    return error("operands must be matrices");
  bool transposeB = gemm.transpose_b();
  int64_t k = a.shape[1];
  int64_t n = transposeB ? b.shape[0] : b.shape[1];
  if ((transposeB ? b.shape[1] : b.shape[0]) != k || c.shape[1] != n)
    return error("operand shapes do not agree");
  const std::string types = std::string(loader::dtypeName(a.dtype)) + " x " +
                            std::string(loader::dtypeName(b.dtype)) + " -> " +
                            std::string(loader::dtypeName(c.dtype));
  DType ta, tb, tc;
  cpu::QuantDType qa, qb;
  const bool floatA = toCpuDType(a.dtype, ta), floatB = toCpuDType(b.dtype, tb);
  const bool quantA = toQuantDType(a.dtype, qa),
             quantB = toQuantDType(b.dtype, qb);
  if (!toCpuDType(c.dtype, tc))
    return error("C must be f32, f16 or bf16 (" + types + ")");
  float alpha = gemm.alpha();
  cpu::ThreadPool *threads = pool.get();

  // The calibration hook sees the float A of every GEMM on a weight.
  std::function<void(int64_t)> observe;
  const std::string weightName = weightNameAt(gemm.b());
  if (floatA && !weightName.empty() && options.gemmInputObserver) {
    auto observer = options.gemmInputObserver;
    observe = [observer, weightName, a, ta, k](int64_t tokens) {
      int64_t m = a.dim0(tokens);
      if (ta == DType::F32) {
        observer(weightName, reinterpret_cast<const float *>(a.data), m, k);
        return;
      }
      std::vector<float> rows(static_cast<size_t>(m * k));
      cpu::convertToF32(a.data, ta, rows.data(), m * k);
      observer(weightName, rows.data(), m, k);
    };
  }

  if (floatA && floatB) {
    if (hasScaleA || hasScaleB || hasZeroB)
      return error("scale_a/scale_b/zero_b on a float GEMM (" + types +
                   "); only quantized operands take scales");
    if (float beta = gemm.beta(); beta != 0.0f) {
      // C = alpha * A * B^T + beta * C: the residual-add epilogue of
      // linear_residual groups (C holds the residual).
      if (!transposeB)
        return error("beta != 0 needs transpose_b");
      auto scratch = std::make_shared<std::vector<float>>();
      steps.push_back([=](int64_t tokens) {
        if (observe)
          observe(tokens);
        int64_t m = a.dim0(tokens);
        cpu::linearAccumulate(cpu::constMatrix(a.data, ta, m, k),
                              cpu::constMatrix(b.data, tb, b.dim0(tokens), k),
                              alpha, beta, cpu::matrix(c.data, tc, m, n),
                              *scratch, threads);
        return Status::success();
      });
      return Status::success();
    }
    steps.push_back([=](int64_t tokens) {
      if (observe)
        observe(tokens);
      int64_t m = a.dim0(tokens);
      cpu::ConstMatrixView av = cpu::constMatrix(a.data, ta, m, k);
      cpu::MatrixView cv = cpu::matrix(c.data, tc, m, n);
      if (transposeB) {
        cpu::ConstMatrixView bv =
            cpu::constMatrix(b.data, tb, b.dim0(tokens), k);
        cpu::linear(av, bv, nullptr, DType::F32, cv, threads);
      } else {
        cpu::ConstMatrixView bv =
            cpu::constMatrix(b.data, tb, b.dim0(tokens), n);
        cpu::matmul(av, 0, bv, 0, false, cv, 0, 1, threads);
      }
      if (alpha != 1.0f)
        cpu::scale(c.data, tc, alpha, c.data, tc, m * n);
      return Status::success();
    });
    return Status::success();
  }

  // beta != 0 (the residual-add epilogue): the quantized GEMM computes into
  // an f32 scratch and the product is added to C.
  const float beta = gemm.beta();
  auto scratch = std::make_shared<std::vector<float>>();
  auto productOf = [=](int64_t m) {
    if (beta == 0.0f)
      return cpu::matrix(c.data, tc, m, n);
    scratch->resize(static_cast<size_t>(m * n));
    return cpu::matrix(scratch->data(), DType::F32, m, n);
  };
  auto accumulate = [=](int64_t m) {
    if (beta != 0.0f)
      cpu::accumulateProduct(scratch->data(), beta,
                             cpu::matrix(c.data, tc, m, n));
  };

  if (!(quantA && quantB) && !(floatA && quantB))
    return error("unsupported operand types " + types +
                 " (the CPU engine runs float GEMMs, W8A8 GEMMs of i8 x i8 "
                 "or fp8 x fp8, and weight-only GEMMs of float x i8/i4/fp8)");
  if (!transposeB)
    return error("a quantized GEMM needs B as [N, K] (transpose_b)");
  if (b.tokenRows)
    return error("a quantized B must be a weight, not token rows");
  if (qb == cpu::QuantDType::I4 && k % 2 != 0)
    return error("an i4 B needs an even K (two per byte), got K = " +
                 std::to_string(k));
  if (!hasScaleB)
    return error("a quantized GEMM (" + types + ") needs scale_b");

  if (quantA) {
    // W8A8 (contract item 1).
    bool bothInt8 = qa == cpu::QuantDType::I8 && qb == cpu::QuantDType::I8;
    if (!bothInt8 && !(isFp8(qa) && isFp8(qb)))
      return error("W8A8 operands must both be i8 or both fp8, got " + types);
    if (!hasScaleA)
      return error("a W8A8 GEMM (" + types + ") needs scale_a");
    if (hasZeroB)
      return error("zero_b is for weight-only GEMMs (float A), not " + types);
    if (bothInt8 && k > cpu::kMaxExactInt8Depth)
      return error("K = " + std::to_string(k) +
                   " is too deep for an exact int32 accumulation (at most " +
                   std::to_string(cpu::kMaxExactInt8Depth) + ")");
    if (scaleA.dtype != fb::DType::F32 || scaleB.dtype != fb::DType::F32)
      return error("scale_a and scale_b must be f32");
    bool perTensorA = scaleA.elements(maxTokens) == 1 && !scaleA.tokenRows;
    bool perTokenA = scaleA.shape.size() == 2 && scaleA.lastDim() == 1 &&
                     scaleA.tokenRows == a.tokenRows &&
                     scaleA.dim0(maxTokens) == a.dim0(maxTokens);
    if (!perTensorA && !perTokenA)
      return error("scale_a of shape " + formatShape(scaleA.shape) +
                   " for A of shape " + formatShape(a.shape) +
                   " (expected [] or [M, 1])");
    bool perTensorB = scaleB.elements(maxTokens) == 1 && !scaleB.tokenRows;
    bool perChannelB = scaleB.shape.size() == 2 && scaleB.lastDim() == 1 &&
                       !scaleB.tokenRows && scaleB.shape[0] == n;
    if (!perTensorB && !perChannelB)
      return error("scale_b of shape " + formatShape(scaleB.shape) +
                   " for B of shape " + formatShape(b.shape) +
                   " (expected [] or [N, 1])");
    steps.push_back([=](int64_t tokens) {
      int64_t m = a.dim0(tokens);
      const float *sa = reinterpret_cast<const float *>(scaleA.data);
      const float *sb = reinterpret_cast<const float *>(scaleB.data);
      cpu::gemmW8A8(cpu::quantMatrix(a.data, qa, m, k),
                    cpu::quantMatrix(b.data, qb, n, k),
                    perTensorA ? cpu::BlockScales::perTensor(sa)
                               : cpu::BlockScales::perRow(sa),
                    perTensorB ? cpu::BlockScales::perTensor(sb)
                               : cpu::BlockScales::perRow(sb),
                    alpha, productOf(m), threads);
      accumulate(m);
      return Status::success();
    });
    return Status::success();
  }

  // Weight-only (contract item 2): float A, quantized B, block-wise scale_b
  // ([N, K/G], [N, 1] or []) and optional zero_b.
  if (hasScaleA)
    return error("a weight-only GEMM (" + types + ") takes no scale_a");
  if (hasZeroB && isFp8(qb))
    return error("zero_b with an fp8 B (" + types +
                 "); zero points are for integer weights");
  if (std::string problem =
          checkBlockScales(b, scaleB, hasZeroB ? &zeroB : nullptr);
      !problem.empty())
    return error("scale_b: " + problem);
  steps.push_back([=](int64_t tokens) {
    if (observe)
      observe(tokens);
    int64_t m = a.dim0(tokens);
    cpu::gemmWeightOnly(cpu::constMatrix(a.data, ta, m, k),
                        cpu::quantMatrix(b.data, qb, n, k),
                        blockScalesAt(b, scaleB, hasZeroB ? &zeroB : nullptr,
                                      tokens, maxTokens),
                        alpha, productOf(m), threads);
    accumulate(m);
    return Status::success();
  });
  return Status::success();
}

Status Engine::Impl::prepareCompute(size_t index, const fb::ComputeStep &step) {
  std::string name = step.name() ? step.name()->str() : "";
  Params params{step.params()};
  std::vector<Buf> in, out;
  if (step.inputs())
    for (const fb::Buffer *buffer : *step.inputs()) {
      in.emplace_back();
      if (Status s = resolve(buffer, in.back()); !s)
        return s;
    }
  if (step.outputs())
    for (const fb::Buffer *buffer : *step.outputs()) {
      out.emplace_back();
      if (Status s = resolve(buffer, out.back()); !s)
        return s;
    }
  auto error = [&](const std::string &message) {
    return stepError(index, name, message);
  };
  auto arity = [&](size_t inputs, size_t outputs) {
    if (in.size() < inputs || out.size() != outputs)
      return error("expects " + std::to_string(inputs) + " inputs and " +
                   std::to_string(outputs) + " outputs, got " +
                   std::to_string(in.size()) + " and " +
                   std::to_string(out.size()));
    return Status::success();
  };
  auto floatDType = [&](const Buf &b, DType &t) {
    if (!toCpuDType(b.dtype, t))
      return error("buffer of " + std::string(loader::dtypeName(b.dtype)) +
                   "; the CPU kernels take f32, f16 or bf16");
    return Status::success();
  };
  auto missing = [&](const char *key) {
    return error("missing parameter '" + std::string(key) + "'");
  };
  cpu::ThreadPool *threads = pool.get();

  if (name == "embedding") {
    if (Status s = arity(2, 1); !s)
      return s;
    Buf table = in[0], ids = in[1], o = out[0];
    DType tt, to;
    if (Status s = floatDType(table, tt); !s)
      return s;
    if (Status s = floatDType(o, to); !s)
      return s;
    if (ids.dtype != fb::DType::I32)
      return error("ids must be i32");
    if (table.shape.size() != 2)
      return error("the table must be a matrix");
    int64_t cols = table.shape[1];
    steps.push_back([=](int64_t tokens) {
      Status s = cpu::embedding(
          cpu::constMatrix(table.data, tt, table.shape[0], cols),
          reinterpret_cast<const int32_t *>(ids.data), ids.elements(tokens),
          cpu::matrix(o.data, to, ids.elements(tokens), cols));
      if (!s)
        return Status::error(name + ": " + s.message());
      return Status::success();
    });
    return Status::success();
  }

  if (name == "rms_norm" || name == "layer_norm") {
    bool layerNorm = name == "layer_norm";
    if (Status s = arity(2, 1); !s)
      return s;
    double epsilon;
    if (!params.number("epsilon", epsilon))
      return missing("epsilon");
    double offset = 0.0;
    params.number("weight_offset", offset);
    Buf x = in[0], w = in[1], o = out[0];
    Buf bias;
    bool hasBias = layerNorm && in.size() >= 3;
    if (hasBias)
      bias = in[2];
    DType tx, tw, to;
    if (Status s = floatDType(x, tx); !s)
      return s;
    if (Status s = floatDType(w, tw); !s)
      return s;
    if (Status s = floatDType(o, to); !s)
      return s;
    if (w.elements(maxTokens) != x.lastDim())
      return error("the weight has " + std::to_string(w.elements(maxTokens)) +
                   " elements, the rows " + std::to_string(x.lastDim()));
    int64_t cols = x.lastDim();
    steps.push_back([=](int64_t tokens) {
      int64_t rows = x.matrixRows(tokens);
      if (layerNorm)
        cpu::layerNorm(cpu::constMatrix(x.data, tx, rows, cols), w.data,
                       hasBias ? bias.data : nullptr, tw,
                       static_cast<float>(epsilon),
                       cpu::matrix(o.data, to, rows, cols));
      else
        cpu::rmsNorm(cpu::constMatrix(x.data, tx, rows, cols), w.data, tw,
                     static_cast<float>(epsilon),
                     cpu::matrix(o.data, to, rows, cols),
                     static_cast<float>(offset));
      return Status::success();
    });
    return Status::success();
  }

  if (name == "rope") {
    if (Status s = arity(2, 1); !s)
      return s;
    Buf x = in[0], pos = in[1], o = out[0];
    DType tx, to;
    if (Status s = floatDType(x, tx); !s)
      return s;
    if (Status s = floatDType(o, to); !s)
      return s;
    if (pos.dtype != fb::DType::I32)
      return error("positions must be i32");
    if (x.shape.size() != 3 || o.shape != x.shape)
      return error("input and output must be [tokens, heads, head_dim] of "
                   "one shape");
    cpu::RopeParams rp;
    if (!params.number("theta", rp.theta))
      return missing("theta");
    std::string style = "half";
    params.string("style", style);
    if (style == "half")
      rp.style = cpu::RopeStyle::Half;
    else if (style == "interleaved")
      rp.style = cpu::RopeStyle::Interleaved;
    else
      return error("unknown style '" + style + "'");
    params.integer("rotary_dim", rp.rotaryDim);
    std::string scaling = "none";
    params.string("scaling", scaling);
    if (scaling == "none")
      rp.scaling = cpu::RopeScaling::None;
    else if (scaling == "linear")
      rp.scaling = cpu::RopeScaling::Linear;
    else if (scaling == "llama3")
      rp.scaling = cpu::RopeScaling::Llama3;
    else if (scaling == "yarn")
      rp.scaling = cpu::RopeScaling::Yarn;
    else
      return error("unknown scaling '" + scaling + "'");
    if (rp.scaling != cpu::RopeScaling::None) {
      if (!params.number("scaling_factor", rp.factor))
        return missing("scaling_factor");
      params.number("scaling_low_freq_factor", rp.lowFreqFactor);
      params.number("scaling_high_freq_factor", rp.highFreqFactor);
      params.integer("scaling_original_max_position", rp.originalMaxPosition);
      params.number("scaling_beta_fast", rp.yarnBetaFast);
      params.number("scaling_beta_slow", rp.yarnBetaSlow);
    }
    auto frequencies = std::make_shared<cpu::RopeFrequencies>();
    if (Status s = cpu::computeRopeFrequencies(rp, x.shape[2], *frequencies);
        !s)
      return error(s.message());
    cpu::RopeStyle ropeStyle = rp.style;
    steps.push_back([=](int64_t tokens) {
      int64_t t = x.dim0(tokens);
      cpu::rope(cpu::heads(x.data, tx, t, x.shape[1], x.shape[2]),
                reinterpret_cast<const int32_t *>(pos.data), *frequencies,
                ropeStyle, cpu::heads(o.data, to, t, o.shape[1], o.shape[2]));
      return Status::success();
    });
    return Status::success();
  }

  if (name == "attention") {
    if (Status s = arity(3, 1); !s)
      return s;
    if (!cache)
      return error("no KV cache");
    int64_t layer;
    cpu::AttentionParams ap;
    if (std::string problem = readAttentionParams(params, layer, ap);
        !problem.empty())
      return error(problem);
    Buf q = in[0], k = in[1], v = in[2], o = out[0];
    DType tq, tk, tv, to;
    for (auto [b, t] : {std::pair<const Buf *, DType *>{&q, &tq},
                        {&k, &tk},
                        {&v, &tv},
                        {&o, &to}})
      if (Status s = floatDType(*b, *t); !s)
        return s;
    if (q.shape.size() != 3 || k.shape.size() != 3 || v.shape != k.shape ||
        o.shape != q.shape || tk != tv)
      return error("query/output must be [tokens, heads, head_dim], key and "
                   "value one [tokens, kv_heads, head_dim] shape and type");
    if (k.shape[1] != cache->config().numKVHeads ||
        k.shape[2] != cache->config().headDim)
      return error("key shape does not match the KV cache");
    steps.push_back([=](int64_t tokens) {
      int64_t stride = k.shape[1] * k.shape[2];
      size_t bytes = cpu::dtypeBytes(tk);
      for (size_t s = 0; s + 1 < queryStart.size(); ++s) {
        int64_t begin = queryStart[s], count = queryStart[s + 1] - begin;
        if (count == 0)
          continue;
        Status st =
            cache->append(layer, sequenceIds[s], batchPositions.data() + begin,
                          count, k.data + begin * stride * bytes,
                          v.data + begin * stride * bytes, tk, stride);
        if (!st)
          return Status::error("attention (layer " + std::to_string(layer) +
                               "): " + st.message());
      }
      cpu::AttentionBatch batch = attentionBatch();
      int64_t t = q.dim0(tokens);
      Status st = cpu::pagedAttention(
          ap, cpu::heads(q.data, tq, t, q.shape[1], q.shape[2]), *cache, layer,
          batch, cpu::heads(o.data, to, t, o.shape[1], o.shape[2]), threads);
      if (!st)
        return Status::error("attention (layer " + std::to_string(layer) +
                             "): " + st.message());
      return Status::success();
    });
    return Status::success();
  }

  if (name == "silu" || name == "gelu" || name == "scale" ||
      name == "convert") {
    if (Status s = arity(1, 1); !s)
      return s;
    Buf x = in[0], o = out[0];
    DType tx, to;
    if (Status s = floatDType(x, tx); !s)
      return s;
    if (Status s = floatDType(o, to); !s)
      return s;
    if (x.elements(maxTokens) != o.elements(maxTokens))
      return error("input and output sizes differ");
    std::function<void(int64_t)> body;
    if (name == "silu") {
      body = [=](int64_t n) { cpu::silu(x.data, tx, o.data, to, n); };
    } else if (name == "gelu") {
      std::string approximation = "none";
      params.string("approximation", approximation);
      cpu::GeluApproximation ga;
      if (approximation == "none")
        ga = cpu::GeluApproximation::None;
      else if (approximation == "tanh")
        ga = cpu::GeluApproximation::Tanh;
      else
        return error("unknown approximation '" + approximation + "'");
      body = [=](int64_t n) { cpu::gelu(x.data, tx, o.data, to, n, ga); };
    } else if (name == "scale") {
      double factor;
      if (!params.number("factor", factor))
        return missing("factor");
      body = [=](int64_t n) {
        cpu::scale(x.data, tx, static_cast<float>(factor), o.data, to, n);
      };
    } else {
      body = [=](int64_t n) { cpu::scale(x.data, tx, 1.0f, o.data, to, n); };
    }
    steps.push_back([=](int64_t tokens) {
      body(x.elements(tokens));
      return Status::success();
    });
    return Status::success();
  }

  if (name == "add" || name == "mul") {
    if (Status s = arity(2, 1); !s)
      return s;
    Buf a = in[0], b = in[1], o = out[0];
    DType ta, tb, to;
    if (Status s = floatDType(a, ta); !s)
      return s;
    if (Status s = floatDType(b, tb); !s)
      return s;
    if (Status s = floatDType(o, to); !s)
      return s;
    if (ta != tb)
      return error("inputs of different types (" +
                   std::string(cpu::dtypeName(ta)) + ", " + cpu::dtypeName(tb) +
                   ") are not supported");
    if (a.elements(maxTokens) != b.elements(maxTokens) ||
        a.elements(maxTokens) != o.elements(maxTokens))
      return error("operands of different sizes (broadcasting is not "
                   "supported)");
    bool isAdd = name == "add";
    steps.push_back([=](int64_t tokens) {
      int64_t n = a.elements(tokens);
      if (isAdd)
        cpu::add(a.data, b.data, ta, o.data, to, n);
      else
        cpu::mul(a.data, b.data, ta, o.data, to, n);
      return Status::success();
    });
    return Status::success();
  }

  if (name == "bias_add") {
    if (Status s = arity(2, 1); !s)
      return s;
    Buf x = in[0], bias = in[1], o = out[0];
    DType tx, tb, to;
    if (Status s = floatDType(x, tx); !s)
      return s;
    if (Status s = floatDType(bias, tb); !s)
      return s;
    if (Status s = floatDType(o, to); !s)
      return s;
    int64_t cols = x.lastDim();
    if (bias.elements(maxTokens) != cols)
      return error("the bias has " + std::to_string(bias.elements(maxTokens)) +
                   " elements, the rows " + std::to_string(cols));
    steps.push_back([=](int64_t tokens) {
      int64_t rows = x.matrixRows(tokens);
      std::vector<float> b(static_cast<size_t>(cols)), row(b.size());
      cpu::convertToF32(bias.data, tb, b.data(), cols);
      size_t xb = cpu::dtypeBytes(tx), ob = cpu::dtypeBytes(to);
      for (int64_t r = 0; r < rows; ++r) {
        cpu::convertToF32(x.data + r * cols * xb, tx, row.data(), cols);
        for (int64_t c = 0; c < cols; ++c)
          row[c] += b[c];
        cpu::convertFromF32(row.data(), o.data + r * cols * ob, to, cols);
      }
      return Status::success();
    });
    return Status::success();
  }

  if (name == "softmax") {
    if (Status s = arity(1, 1); !s)
      return s;
    int64_t axis = -1;
    params.integer("axis", axis);
    Buf x = in[0], o = out[0];
    if (axis != -1 && axis != static_cast<int64_t>(x.shape.size()) - 1)
      return error("softmax over axis " + std::to_string(axis) +
                   " (only the last axis is supported)");
    DType tx, to;
    if (Status s = floatDType(x, tx); !s)
      return s;
    if (Status s = floatDType(o, to); !s)
      return s;
    int64_t cols = x.lastDim();
    steps.push_back([=](int64_t tokens) {
      int64_t rows = x.matrixRows(tokens);
      cpu::softmax(cpu::constMatrix(x.data, tx, rows, cols),
                   cpu::matrix(o.data, to, rows, cols));
      return Status::success();
    });
    return Status::success();
  }

  if (name == "matmul") {
    if (Status s = arity(2, 1); !s)
      return s;
    int64_t transposeRhs = 0;
    if (!params.integer("transpose_rhs", transposeRhs))
      return missing("transpose_rhs");
    Buf l = in[0], r = in[1], o = out[0];
    DType tl, tr, to;
    if (Status s = floatDType(l, tl); !s)
      return s;
    if (Status s = floatDType(r, tr); !s)
      return s;
    if (Status s = floatDType(o, to); !s)
      return s;
    if (l.shape.size() < 2 || r.shape.size() != l.shape.size() ||
        o.shape.size() != l.shape.size())
      return error("operands must be batched matrices of one rank");
    size_t rank = l.shape.size();
    int64_t m = l.shape[rank - 2], k = l.shape[rank - 1];
    int64_t rRows = r.shape[rank - 2], rCols = r.shape[rank - 1];
    int64_t n = transposeRhs ? rRows : rCols;
    if ((transposeRhs ? rCols : rRows) != k || o.shape[rank - 2] != m ||
        o.shape[rank - 1] != n)
      return error("operand shapes do not agree");
    steps.push_back([=](int64_t tokens) {
      int64_t batch = l.elements(tokens) / (m * k);
      int64_t rBatch = r.elements(tokens) / (rRows * rCols);
      cpu::matmul(cpu::constMatrix(l.data, tl, m, k), m * k,
                  cpu::constMatrix(r.data, tr, rRows, rCols),
                  rBatch == 1 ? 0 : rRows * rCols, transposeRhs != 0,
                  cpu::matrix(o.data, to, m, n), m * n, batch, threads);
      return Status::success();
    });
    return Status::success();
  }

  // Quantization steps (docs/quantization.md, contract items 3-5).
  auto quantDType = [&](const Buf &b, cpu::QuantDType &t, const char *what) {
    if (!toQuantDType(b.dtype, t))
      return error(std::string(what) + " is " +
                   std::string(loader::dtypeName(b.dtype)) +
                   "; quantized buffers are i8, i4, f8E4M3FN or f8E5M2");
    return Status::success();
  };
  auto sameElements = [&](const Buf &x, const Buf &y) {
    if (x.shape != y.shape || x.tokenRows != y.tokenRows)
      return error("input of shape " + formatShape(x.shape) +
                   " and output of shape " + formatShape(y.shape) + " differ");
    return Status::success();
  };

  if (name == "quantize") {
    if (in.size() != 2 && in.size() != 3)
      return error("expects inputs [x, scale] or [x, scale, zero_point], got " +
                   std::to_string(in.size()));
    if (Status s = arity(2, 1); !s)
      return s;
    Buf x = in[0], scale = in[1], q = out[0];
    bool hasZero = in.size() == 3;
    Buf zero = hasZero ? in[2] : Buf();
    DType tx;
    cpu::QuantDType tq;
    if (Status s = floatDType(x, tx); !s)
      return s;
    if (Status s = quantDType(q, tq, "the output"); !s)
      return s;
    if (Status s = sameElements(x, q); !s)
      return s;
    if (hasZero && isFp8(tq))
      return error("a zero point with an fp8 output; zero points are for "
                   "integer types");
    if (std::string problem =
            checkBlockScales(x, scale, hasZero ? &zero : nullptr);
        !problem.empty())
      return error(problem);
    int64_t mt = maxTokens;
    steps.push_back([=](int64_t tokens) {
      int64_t rows = x.matrixRows(tokens), cols = x.lastDim();
      cpu::quantize(
          cpu::constMatrix(x.data, tx, rows, cols),
          blockScalesAt(x, scale, hasZero ? &zero : nullptr, tokens, mt),
          q.data, tq);
      return Status::success();
    });
    return Status::success();
  }

  if (name == "quantize_dynamic") {
    if (Status s = arity(1, 2); !s)
      return s;
    Buf x = in[0], q = out[0], scale = out[1];
    DType tx;
    cpu::QuantDType tq;
    if (Status s = floatDType(x, tx); !s)
      return s;
    if (Status s = quantDType(q, tq, "the output"); !s)
      return s;
    if (Status s = sameElements(x, q); !s)
      return s;
    if (scale.dtype != fb::DType::F32 || scale.tokenRows != x.tokenRows ||
        scale.lastDim() != 1 ||
        scale.matrixRows(maxTokens) != x.matrixRows(maxTokens))
      return error("the scale output must be f32 [M, 1] for input of shape " +
                   formatShape(x.shape) + ", got " +
                   std::string(loader::dtypeName(scale.dtype)) + " " +
                   formatShape(scale.shape));
    steps.push_back([=](int64_t tokens) {
      int64_t rows = x.matrixRows(tokens), cols = x.lastDim();
      cpu::quantizeDynamic(cpu::constMatrix(x.data, tx, rows, cols), q.data, tq,
                           reinterpret_cast<float *>(scale.data));
      return Status::success();
    });
    return Status::success();
  }

  if (name == "dequantize") {
    if (in.size() != 2 && in.size() != 3)
      return error("expects inputs [q, scale] or [q, scale, zero_point], got " +
                   std::to_string(in.size()));
    if (Status s = arity(2, 1); !s)
      return s;
    Buf q = in[0], scale = in[1], o = out[0];
    bool hasZero = in.size() == 3;
    Buf zero = hasZero ? in[2] : Buf();
    cpu::QuantDType tq;
    DType to;
    if (Status s = quantDType(q, tq, "the input"); !s)
      return s;
    if (Status s = floatDType(o, to); !s)
      return s;
    if (Status s = sameElements(q, o); !s)
      return s;
    if (hasZero && isFp8(tq))
      return error("a zero point with an fp8 input; zero points are for "
                   "integer types");
    if (tq == cpu::QuantDType::I4 && q.lastDim() % 2 != 0)
      return error("an i4 input needs an even last dimension, got " +
                   formatShape(q.shape));
    if (std::string problem =
            checkBlockScales(q, scale, hasZero ? &zero : nullptr);
        !problem.empty())
      return error(problem);
    int64_t mt = maxTokens;
    steps.push_back([=](int64_t tokens) {
      int64_t rows = q.matrixRows(tokens), cols = q.lastDim();
      cpu::dequantize(
          cpu::quantMatrix(q.data, tq, rows, cols),
          blockScalesAt(q, scale, hasZero ? &zero : nullptr, tokens, mt),
          cpu::matrix(o.data, to, rows, cols));
      return Status::success();
    });
    return Status::success();
  }
  bool handled = false;
  if (Status s = prepareFusedCompute(index, name, params, in, out, handled);
      !s || handled)
    return s;

  return error(name.empty() ? "a compute step without a name"
                            : "unknown compute step '" + name +
                                  "' (the CPU engine runs embedding, "
                                  "rms_norm, layer_norm, rope, attention, "
                                  "silu, gelu, scale, convert, add, mul, "
                                  "bias_add, softmax, matmul, quantize, "
                                  "quantize_dynamic, dequantize and the fused "
                                  "steps of llm-fuse)");
}

namespace {

/// RoPE parameters as the `rope` and `rope_kv_write` steps spell them.
Status readRopeParams(const Params &params, cpu::RopeParams &rp) {
  if (!params.number("theta", rp.theta))
    return Status::error("missing parameter 'theta'");
  std::string style = "half";
  params.string("style", style);
  if (style == "half")
    rp.style = cpu::RopeStyle::Half;
  else if (style == "interleaved")
    rp.style = cpu::RopeStyle::Interleaved;
  else
    return Status::error("unknown style '" + style + "'");
  params.integer("rotary_dim", rp.rotaryDim);
  std::string scaling = "none";
  params.string("scaling", scaling);
  if (scaling == "none")
    rp.scaling = cpu::RopeScaling::None;
  else if (scaling == "linear")
    rp.scaling = cpu::RopeScaling::Linear;
  else if (scaling == "llama3")
    rp.scaling = cpu::RopeScaling::Llama3;
  else if (scaling == "yarn")
    rp.scaling = cpu::RopeScaling::Yarn;
  else
    return Status::error("unknown scaling '" + scaling + "'");
  if (rp.scaling != cpu::RopeScaling::None) {
    if (!params.number("scaling_factor", rp.factor))
      return Status::error("missing parameter 'scaling_factor'");
    params.number("scaling_low_freq_factor", rp.lowFreqFactor);
    params.number("scaling_high_freq_factor", rp.highFreqFactor);
    params.integer("scaling_original_max_position", rp.originalMaxPosition);
    params.number("scaling_beta_fast", rp.yarnBetaFast);
    params.number("scaling_beta_slow", rp.yarnBetaSlow);
  }
  return Status::success();
}

} // namespace

Status Engine::Impl::prepareQuantizedProduct(
    const Buf &x, const Buf &w, const std::vector<Buf> &scales,
    QuantizedProduct &product,
    const std::function<Status(std::string)> &error) {
  cpu::QuantDType qx, qw;
  DType tx;
  const bool quantX = toQuantDType(x.dtype, qx);
  if (!toQuantDType(w.dtype, qw) || w.shape.size() != 2 || w.tokenRows)
    return error("the quantized weight must be an i8, i4 or fp8 [N, K] "
                 "weight");
  const int64_t n = w.shape[0], k = w.shape[1];
  if (x.lastDim() != k)
    return error("the input rows are not the weight's K");
  for (const Buf &scale : scales)
    if (scale.dtype != fb::DType::F32 && scale.dtype != fb::DType::I8)
      return error("GEMM scales must be f32 (zero points i8)");
  cpu::ThreadPool *threads = pool.get();
  const int64_t tokensMax = maxTokens;
  if (quantX) {
    if (scales.size() != 2)
      return error("a W8A8 GEMM takes scale_a and scale_b");
    bool bothInt8 = qx == cpu::QuantDType::I8 && qw == cpu::QuantDType::I8;
    if (!bothInt8 && !(isFp8(qx) && isFp8(qw)))
      return error("W8A8 operands must both be i8 or both fp8");
    if (bothInt8 && k > cpu::kMaxExactInt8Depth)
      return error("K = " + std::to_string(k) +
                   " is too deep for an exact int32 accumulation");
    Buf scaleA = scales[0], scaleB = scales[1];
    bool perTensorA = scaleA.elements(tokensMax) == 1 && !scaleA.tokenRows;
    bool perTokenA = scaleA.lastDim() == 1 && scaleA.tokenRows == x.tokenRows &&
                     scaleA.dim0(tokensMax) == x.dim0(tokensMax);
    bool perTensorB = scaleB.elements(tokensMax) == 1 && !scaleB.tokenRows;
    bool perChannelB = scaleB.shape.size() == 2 && scaleB.lastDim() == 1 &&
                       !scaleB.tokenRows && scaleB.shape[0] == n;
    if (scaleA.dtype != fb::DType::F32 || scaleB.dtype != fb::DType::F32 ||
        (!perTensorA && !perTokenA) || (!perTensorB && !perChannelB))
      return error("scale_a must be f32 [] or [M, 1] and scale_b f32 [] or "
                   "[N, 1]");
    product = [=](int64_t tokens, const cpu::MatrixView &out) {
      const float *sa = reinterpret_cast<const float *>(scaleA.data);
      const float *sb = reinterpret_cast<const float *>(scaleB.data);
      cpu::gemmW8A8(cpu::quantMatrix(x.data, qx, x.matrixRows(tokens), k),
                    cpu::quantMatrix(w.data, qw, n, k),
                    perTensorA ? cpu::BlockScales::perTensor(sa)
                               : cpu::BlockScales::perRow(sa),
                    perTensorB ? cpu::BlockScales::perTensor(sb)
                               : cpu::BlockScales::perRow(sb),
                    1.0f, out, threads);
    };
    return Status::success();
  }
  if (!toCpuDType(x.dtype, tx))
    return error("the input must be f32, f16, bf16, i8 or fp8");
  if (scales.empty() || scales.size() > 2)
    return error("a weight-only GEMM takes scale_b and optionally zero_b");
  if (qw == cpu::QuantDType::I4 && k % 2 != 0)
    return error("an i4 weight needs an even K");
  Buf scaleB = scales[0];
  std::optional<Buf> zeroB;
  if (scales.size() == 2)
    zeroB = scales[1];
  if (zeroB && isFp8(qw))
    return error("zero points are for integer weights");
  if (std::string problem =
          checkBlockScales(w, scaleB, zeroB ? &*zeroB : nullptr);
      !problem.empty())
    return error("scale_b: " + problem);
  product = [=](int64_t tokens, const cpu::MatrixView &out) {
    cpu::gemmWeightOnly(
        cpu::constMatrix(x.data, tx, x.matrixRows(tokens), k),
        cpu::quantMatrix(w.data, qw, n, k),
        blockScalesAt(w, scaleB, zeroB ? &*zeroB : nullptr, tokens, tokensMax),
        1.0f, out, threads);
  };
  return Status::success();
}

Status Engine::Impl::prepareFusedCompute(size_t index, const std::string &name,
                                         const Params &params,
                                         const std::vector<Buf> &in,
                                         const std::vector<Buf> &out,
                                         bool &handled) {
  static const char *const kFusedSteps[] = {
      "add_rms_norm",
      "rms_norm_add_rms_norm",
      "add_rms_norm_quantize",
      "rms_norm_quantize",
      "add_rms_norm_quantize_dynamic",
      "rms_norm_quantize_dynamic",
      "gated_activation",
      "gated_activation_quantize",
      "linear_gated_activation",
      "linear_gated_activation_quantize",
      "gated_activation_quantize_dynamic",
      "linear_gated_activation_quantize_dynamic",
      "cached_attention_quantize_dynamic",
      "linear_bias",
      "rope_kv_write",
      "cached_attention",
      "elementwise",
      "split"};
  handled = std::find(std::begin(kFusedSteps), std::end(kFusedSteps), name) !=
            std::end(kFusedSteps);
  if (!handled)
    return Status::success();
  auto error = [&](const std::string &message) {
    return stepError(index, name, message);
  };
  auto arity = [&](size_t inputs, size_t outputs) {
    if (in.size() != inputs || out.size() != outputs)
      return error("expects " + std::to_string(inputs) + " inputs and " +
                   std::to_string(outputs) + " outputs, got " +
                   std::to_string(in.size()) + " and " +
                   std::to_string(out.size()));
    return Status::success();
  };
  auto floatDType = [&](const Buf &b, DType &t) {
    if (!toCpuDType(b.dtype, t))
      return error("buffer of " + std::string(loader::dtypeName(b.dtype)) +
                   "; the CPU kernels take f32, f16 or bf16");
    return Status::success();
  };
  cpu::ThreadPool *threads = pool.get();
  bool quantized =
      name.size() > 9 && name.compare(name.size() - 9, 9, "_quantize") == 0;

  // A quantized output and its scale (the last input): i8 or f8E4M3FN codes,
  // one f32 scale per tensor or per token row.
  struct QuantOut {
    Buf codes, scale;
    cpu::QuantDType dtype = cpu::QuantDType::I8;
    bool perRow = false;
    cpu::QuantizedMatrixView view(int64_t tokens) const {
      int64_t rows = codes.matrixRows(tokens), cols = codes.lastDim();
      return cpu::QuantizedMatrixView{
          codes.data, dtype, rows,
          cols,       cols,  reinterpret_cast<const float *>(scale.data),
          perRow};
    }
  };
  auto quantOut = [&](const Buf &codes, const Buf &scale, QuantOut &q) {
    q.codes = codes;
    q.scale = scale;
    if (codes.dtype == fb::DType::I8)
      q.dtype = cpu::QuantDType::I8;
    else if (codes.dtype == fb::DType::F8E4M3)
      q.dtype = cpu::QuantDType::F8E4M3FN;
    else
      return error("quantized output of " +
                   std::string(loader::dtypeName(codes.dtype)) +
                   "; the CPU kernels write i8 or f8E4M3FN");
    if (scale.dtype != fb::DType::F32)
      return error("the quantization scale must be f32");
    int64_t scales = scale.elements(maxTokens);
    q.perRow = scales != 1;
    if (q.perRow && (!scale.tokenRows ||
                     scale.elements(maxTokens) != codes.matrixRows(maxTokens)))
      return error("the quantization scale must be one value or one per row");
    return Status::success();
  };

  if (name == "rms_norm_add_rms_norm") {
    if (Status s = arity(4, 2); !s)
      return s;
    double epsilon, branchEpsilon;
    if (!params.number("epsilon", epsilon) ||
        !params.number("branch_epsilon", branchEpsilon))
      return error("missing parameter 'epsilon' or 'branch_epsilon'");
    Buf branch = in[0], branchWeight = in[1], residual = in[2], w = in[3];
    Buf sum = out[0], y = out[1];
    DType tb, tbw, tr, tw, ts, ty;
    for (auto [buffer, type] : {std::pair<const Buf *, DType *>{&branch, &tb},
                                {&branchWeight, &tbw},
                                {&residual, &tr},
                                {&w, &tw},
                                {&sum, &ts},
                                {&y, &ty}})
      if (Status s = floatDType(*buffer, *type); !s)
        return s;
    int64_t cols = branch.lastDim();
    if (tbw != tw || branchWeight.elements(maxTokens) != cols ||
        w.elements(maxTokens) != cols || residual.lastDim() != cols ||
        sum.lastDim() != cols || y.lastDim() != cols)
      return error("the operands and the weights disagree on the row size "
                   "or the weights' type");
    steps.push_back([=](int64_t tokens) {
      int64_t rows = branch.matrixRows(tokens);
      cpu::rmsNormAddRmsNorm(
          cpu::constMatrix(branch.data, tb, rows, cols), branchWeight.data,
          static_cast<float>(branchEpsilon),
          cpu::constMatrix(residual.data, tr, rows, cols), w.data, tw,
          static_cast<float>(epsilon), cpu::matrix(sum.data, ts, rows, cols),
          cpu::matrix(y.data, ty, rows, cols));
      return Status::success();
    });
    return Status::success();
  }

  if (name == "add_rms_norm_quantize_dynamic" ||
      name == "rms_norm_quantize_dynamic") {
    // (a, b, w -> sum, q, scale) or (x, w -> q, scale): the norm quantized
    // per token as "quantize_dynamic" does it.
    bool hasAdd = name == "add_rms_norm_quantize_dynamic";
    if (Status s = arity(hasAdd ? 3 : 2, hasAdd ? 3 : 2); !s)
      return s;
    double epsilon;
    if (!params.number("epsilon", epsilon))
      return error("missing parameter 'epsilon'");
    double offset = 0.0;
    params.number("weight_offset", offset);
    Buf a = in[0], b = hasAdd ? in[1] : in[0], w = in.back();
    Buf sum = out[0];
    Buf codes = out[out.size() - 2], scale = out.back();
    DType ta, tb, tw, ts = DType::F32;
    for (auto [buffer, type] :
         {std::pair<const Buf *, DType *>{&a, &ta}, {&b, &tb}, {&w, &tw}})
      if (Status s = floatDType(*buffer, *type); !s)
        return s;
    if (hasAdd)
      if (Status s = floatDType(sum, ts); !s)
        return s;
    cpu::QuantDType tq;
    if (!toQuantDType(codes.dtype, tq) || tq == cpu::QuantDType::I4)
      return error("quantized output of " +
                   std::string(loader::dtypeName(codes.dtype)) +
                   "; the CPU kernels write i8 or fp8");
    int64_t cols = a.lastDim();
    if (w.elements(maxTokens) != cols || b.lastDim() != cols ||
        codes.lastDim() != cols || (hasAdd && sum.lastDim() != cols))
      return error("the operands and the weight disagree on the row size");
    if (scale.dtype != fb::DType::F32 || scale.tokenRows != a.tokenRows ||
        scale.lastDim() != 1 ||
        scale.matrixRows(maxTokens) != a.matrixRows(maxTokens))
      return error("the scale output must be f32 [M, 1]");
    // The unfused norm stores its result in the sum's type (the add's) or
    // the input's.
    DType normDType = hasAdd ? ts : ta;
    float eps = static_cast<float>(epsilon), off = static_cast<float>(offset);
    steps.push_back([=](int64_t tokens) {
      int64_t rows = a.matrixRows(tokens);
      auto av = cpu::constMatrix(a.data, ta, rows, cols);
      auto bv = cpu::constMatrix(b.data, tb, rows, cols);
      auto sv = cpu::matrix(sum.data, ts, rows, cols);
      cpu::addRmsNormQuantizeDynamic(
          av, hasAdd ? &bv : nullptr, w.data, tw, eps, hasAdd ? &sv : nullptr,
          normDType, codes.data, tq, reinterpret_cast<float *>(scale.data),
          off);
      return Status::success();
    });
    return Status::success();
  }

  if (name == "add_rms_norm" || name == "add_rms_norm_quantize" ||
      name == "rms_norm_quantize") {
    bool hasAdd = name != "rms_norm_quantize";
    size_t inputs = (hasAdd ? 3 : 2) + (quantized ? 1 : 0);
    size_t outputs = hasAdd ? 2 : 1;
    if (Status s = arity(inputs, outputs); !s)
      return s;
    double epsilon;
    if (!params.number("epsilon", epsilon))
      return error("missing parameter 'epsilon'");
    double offset = 0.0;
    params.number("weight_offset", offset);
    Buf a = in[0], b = hasAdd ? in[1] : in[0], w = in[hasAdd ? 2 : 1];
    Buf sum = out[0], y = out.back();
    DType ta, tb, tw, ts = DType::F32, ty = DType::F32;
    for (auto [buffer, type] :
         {std::pair<const Buf *, DType *>{&a, &ta}, {&b, &tb}, {&w, &tw}})
      if (Status s = floatDType(*buffer, *type); !s)
        return s;
    if (hasAdd)
      if (Status s = floatDType(sum, ts); !s)
        return s;
    QuantOut q;
    if (quantized) {
      if (Status s = quantOut(y, in.back(), q); !s)
        return s;
    } else if (Status s = floatDType(y, ty); !s) {
      return s;
    }
    int64_t cols = a.lastDim();
    if (w.elements(maxTokens) != cols || b.lastDim() != cols ||
        y.lastDim() != cols)
      return error("the operands and the weight disagree on the row size");
    float eps = static_cast<float>(epsilon), off = static_cast<float>(offset);
    steps.push_back([=](int64_t tokens) {
      int64_t rows = a.matrixRows(tokens);
      auto av = cpu::constMatrix(a.data, ta, rows, cols);
      if (!hasAdd) {
        cpu::rmsNormQuantized(av, w.data, tw, eps, q.view(tokens), off);
        return Status::success();
      }
      auto bv = cpu::constMatrix(b.data, tb, rows, cols);
      auto sv = cpu::matrix(sum.data, ts, rows, cols);
      if (quantized)
        cpu::addRmsNormQuantized(av, bv, w.data, tw, eps, sv, q.view(tokens),
                                 off);
      else
        cpu::addRmsNorm(av, bv, w.data, tw, eps, sv,
                        cpu::matrix(y.data, ty, rows, cols), off);
      return Status::success();
    });
    return Status::success();
  }

  if (name == "gated_activation" || name == "gated_activation_quantize" ||
      name == "linear_gated_activation" ||
      name == "linear_gated_activation_quantize" ||
      name == "gated_activation_quantize_dynamic" ||
      name == "linear_gated_activation_quantize_dynamic") {
    bool withGemm = name.compare(0, 7, "linear_") == 0;
    // _quantize_dynamic: (codes, per-token scales) out, as "quantize_dynamic"
    // of the product the unfused mul stores in `product_dtype`.
    const bool dynamic =
        name.size() > 17 &&
        name.compare(name.size() - 17, 17, "_quantize_dynamic") == 0;
    DType productDType = DType::F32;
    cpu::QuantDType dynamicDType = cpu::QuantDType::I8;
    if (dynamic) {
      std::string spelled;
      if (!params.string("product_dtype", spelled))
        return error("missing parameter 'product_dtype'");
      if (spelled == "f32")
        productDType = DType::F32;
      else if (spelled == "bf16")
        productDType = DType::BF16;
      else if (spelled == "f16")
        productDType = DType::F16;
      else
        return error("product_dtype '" + spelled + "' is not f32, f16 or bf16");
      if (out.size() != 2 || !toQuantDType(out[0].dtype, dynamicDType) ||
          dynamicDType == cpu::QuantDType::I4 ||
          out[1].dtype != fb::DType::F32 || out[1].lastDim() != 1 ||
          out[1].matrixRows(maxTokens) != out[0].matrixRows(maxTokens))
        return error("expects i8 or fp8 codes and f32 [M, 1] scales out");
    }
    // A quantized GEMM brings its scales (and zero points) after x and w.
    cpu::QuantDType weightQuant;
    bool quantizedGemm =
        withGemm && in.size() >= 2 && toQuantDType(in[1].dtype, weightQuant);
    size_t gemmScales = quantizedGemm ? in.size() - 2 - (quantized ? 1 : 0) : 0;
    if (Status s = arity((withGemm ? 2 : 1) + gemmScales + (quantized ? 1 : 0),
                         dynamic ? 2 : 1);
        !s)
      return s;
    std::string activationName, approximation = "none";
    if (!params.string("activation", activationName))
      return error("missing parameter 'activation'");
    params.string("approximation", approximation);
    cpu::GatedActivation activation;
    if (activationName == "silu")
      activation = cpu::GatedActivation::Silu;
    else if (activationName == "gelu" && approximation == "none")
      activation = cpu::GatedActivation::Gelu;
    else if (activationName == "gelu" && approximation == "tanh")
      activation = cpu::GatedActivation::GeluTanh;
    else
      return error("unknown activation '" + activationName + "' (" +
                   approximation + ")");
    Buf x = in[0], y = out[0];
    DType tx = DType::F32, tw = DType::F32, ty = DType::F32;
    Buf w = withGemm ? in[1] : in[0];
    QuantizedProduct quantizedProduct;
    if (quantizedGemm) {
      if (Status s = prepareQuantizedProduct(
              x, w,
              std::vector<Buf>(in.begin() + 2, in.begin() + 2 + gemmScales),
              quantizedProduct, error);
          !s)
        return s;
    } else {
      if (Status s = floatDType(x, tx); !s)
        return s;
      if (withGemm)
        if (Status s = floatDType(w, tw); !s)
          return s;
    }
    QuantOut q;
    if (quantized) {
      if (Status s = quantOut(y, in.back(), q); !s)
        return s;
    } else if (dynamic) {
      // checked above
    } else if (Status s = floatDType(y, ty); !s) {
      return s;
    }
    Buf dynamicScale = dynamic ? out[1] : Buf();
    // Each product row rounded to product_dtype, then quantized per token.
    auto quantizeRows = [=](const cpu::ConstMatrixView &packed, int64_t rows,
                            int64_t cols) {
      std::vector<float> product(static_cast<size_t>(rows * cols));
      cpu::gatedActivation(packed, activation,
                           cpu::matrix(product.data(), DType::F32, rows, cols));
      std::vector<uint8_t> stored(static_cast<size_t>(rows * cols) *
                                  cpu::dtypeBytes(productDType));
      cpu::convertFromF32(product.data(), stored.data(), productDType,
                          rows * cols);
      cpu::quantizeDynamic(
          cpu::constMatrix(stored.data(), productDType, rows, cols), y.data,
          dynamicDType, reinterpret_cast<float *>(dynamicScale.data));
    };
    int64_t cols = y.lastDim();
    int64_t k = x.lastDim();
    if (withGemm
            ? (w.shape.size() != 2 || w.shape[0] != 2 * cols || w.shape[1] != k)
            : k != 2 * cols)
      return error("the packed gate/up rows must be twice the output's");
    auto scratch = std::make_shared<std::vector<float>>();
    steps.push_back([=](int64_t tokens) {
      int64_t rows = x.matrixRows(tokens);
      if (quantizedGemm) {
        // The product in f32, then the gated rows as the float path has
        // them after its GEMM.
        scratch->resize(static_cast<size_t>(rows * 2 * cols));
        quantizedProduct(
            tokens, cpu::matrix(scratch->data(), DType::F32, rows, 2 * cols));
        auto packed =
            cpu::constMatrix(scratch->data(), DType::F32, rows, 2 * cols);
        if (dynamic)
          quantizeRows(packed, rows, cols);
        else if (quantized)
          cpu::gatedActivationQuantized(packed, activation, q.view(tokens));
        else
          cpu::gatedActivation(packed, activation,
                               cpu::matrix(y.data, ty, rows, cols));
        return Status::success();
      }
      auto xv = cpu::constMatrix(x.data, tx, rows, k);
      if (dynamic) {
        if (!withGemm) {
          quantizeRows(xv, rows, cols);
          return Status::success();
        }
        scratch->resize(static_cast<size_t>(rows * 2 * cols));
        cpu::linear(
            xv, cpu::constMatrix(w.data, tw, 2 * cols, k), nullptr, DType::F32,
            cpu::matrix(scratch->data(), DType::F32, rows, 2 * cols), threads);
        quantizeRows(
            cpu::constMatrix(scratch->data(), DType::F32, rows, 2 * cols), rows,
            cols);
        return Status::success();
      }
      if (withGemm) {
        auto wv = cpu::constMatrix(w.data, tw, 2 * cols, k);
        if (quantized)
          cpu::linearGatedActivationQuantized(
              xv, wv, activation, q.view(tokens), *scratch, threads);
        else
          cpu::linearGatedActivation(xv, wv, activation,
                                     cpu::matrix(y.data, ty, rows, cols),
                                     *scratch, threads);
      } else if (quantized) {
        cpu::gatedActivationQuantized(xv, activation, q.view(tokens));
      } else {
        cpu::gatedActivation(xv, activation,
                             cpu::matrix(y.data, ty, rows, cols));
      }
      return Status::success();
    });
    return Status::success();
  }

  if (name == "linear_bias") {
    // A quantized GEMM (W8A8: scale_a, scale_b; weight-only: scale_b [,
    // zero_b]) brings its scales between w and the bias: the product in
    // f32, plus the bias, rounded once, as the float path's cpu::linear.
    cpu::QuantDType weightQuant;
    if (in.size() > 3 && toQuantDType(in[1].dtype, weightQuant)) {
      if (Status s = arity(in.size(), 1); !s)
        return s;
      Buf x = in[0], w = in[1], bias = in.back(), y = out[0];
      DType tb, ty;
      if (Status s = floatDType(bias, tb); !s)
        return s;
      if (Status s = floatDType(y, ty); !s)
        return s;
      QuantizedProduct product;
      if (Status s = prepareQuantizedProduct(
              x, w, std::vector<Buf>(in.begin() + 2, in.end() - 1), product,
              error);
          !s)
        return s;
      const int64_t n = w.shape[0];
      if (y.lastDim() != n || bias.elements(maxTokens) != n)
        return error("input, weight, bias and output shapes do not agree");
      auto scratch = std::make_shared<std::vector<float>>();
      auto biasRow = std::make_shared<std::vector<float>>(n);
      steps.push_back([=](int64_t tokens) {
        int64_t rows = x.matrixRows(tokens);
        cpu::convertToF32(bias.data, tb, biasRow->data(), n);
        scratch->resize(static_cast<size_t>(rows * n));
        product(tokens, cpu::matrix(scratch->data(), DType::F32, rows, n));
        for (int64_t r = 0; r < rows; ++r) {
          float *row = scratch->data() + r * n;
          for (int64_t c = 0; c < n; ++c)
            row[c] += (*biasRow)[c];
        }
        cpu::convertFromF32(scratch->data(), y.data, ty, rows * n);
        return Status::success();
      });
      return Status::success();
    }
    if (Status s = arity(3, 1); !s)
      return s;
    Buf x = in[0], w = in[1], bias = in[2], y = out[0];
    DType tx, tw, tb, ty;
    for (auto [buffer, type] : {std::pair<const Buf *, DType *>{&x, &tx},
                                {&w, &tw},
                                {&bias, &tb},
                                {&y, &ty}})
      if (Status s = floatDType(*buffer, *type); !s)
        return s;
    if (w.shape.size() != 2 || w.shape[1] != x.lastDim() ||
        w.shape[0] != y.lastDim() || bias.elements(maxTokens) != w.shape[0])
      return error("input, weight, bias and output shapes do not agree");
    steps.push_back([=](int64_t tokens) {
      int64_t rows = x.matrixRows(tokens);
      cpu::linear(cpu::constMatrix(x.data, tx, rows, w.shape[1]),
                  cpu::constMatrix(w.data, tw, w.shape[0], w.shape[1]),
                  bias.data, tb, cpu::matrix(y.data, ty, rows, w.shape[0]),
                  threads);
      return Status::success();
    });
    return Status::success();
  }

  if (name == "rope_kv_write") {
    if (in.size() != 2 && in.size() != 4)
      return error("expects the packed QKV rows, the positions and optionally "
                   "the q and k norm weights; got " +
                   std::to_string(in.size()) + " inputs");
    if (Status s = arity(in.size(), 1); !s)
      return s;
    if (!cache)
      return error("no KV cache");
    int64_t layer, numHeads, numKVHeads, headDim;
    if (!params.integer("layer", layer) ||
        !params.integer("num_heads", numHeads) ||
        !params.integer("num_kv_heads", numKVHeads) ||
        !params.integer("head_dim", headDim))
      return error("missing parameter 'layer', 'num_heads', 'num_kv_heads' "
                   "or 'head_dim'");
    Buf qkv = in[0], pos = in[1], q = out[0];
    DType tqkv, tq;
    if (Status s = floatDType(qkv, tqkv); !s)
      return s;
    if (Status s = floatDType(q, tq); !s)
      return s;
    if (pos.dtype != fb::DType::I32)
      return error("positions must be i32");
    if (qkv.lastDim() != (numHeads + 2 * numKVHeads) * headDim ||
        q.shape.size() != 3 || q.shape[1] != numHeads || q.shape[2] != headDim)
      return error("the packed rows are not [q heads | k heads | v heads] of "
                   "the query's head size");
    if (numKVHeads != cache->config().numKVHeads ||
        headDim != cache->config().headDim)
      return error("the KV heads do not match the KV cache");
    cpu::QKNorm norm;
    Buf queryNorm, keyNorm;
    if (in.size() == 4) {
      queryNorm = in[2];
      keyNorm = in[3];
      double epsilon;
      if (!params.number("epsilon", epsilon))
        return error("missing parameter 'epsilon'");
      norm.epsilon = static_cast<float>(epsilon);
      DType tkn;
      if (Status s = floatDType(queryNorm, norm.dtype); !s)
        return s;
      if (Status s = floatDType(keyNorm, tkn); !s)
        return s;
      if (tkn != norm.dtype || queryNorm.elements(maxTokens) != headDim ||
          keyNorm.elements(maxTokens) != headDim)
        return error("the q and k norm weights must be [head_dim] of one "
                     "type");
    }
    cpu::RopeParams rp;
    if (Status s = readRopeParams(params, rp); !s)
      return error(s.message());
    auto frequencies = std::make_shared<cpu::RopeFrequencies>();
    if (Status s = cpu::computeRopeFrequencies(rp, headDim, *frequencies); !s)
      return error(s.message());
    auto scratch = std::make_shared<std::vector<uint8_t>>();
    cpu::RopeStyle style = rp.style;
    steps.push_back([=](int64_t tokens) {
      int64_t t = qkv.dim0(tokens);
      cpu::PackedQKV packed{qkv.data, tqkv,       t,      qkv.lastDim(),
                            numHeads, numKVHeads, headDim};
      cpu::QKNorm withWeights = norm;
      withWeights.queryWeight = queryNorm.data;
      withWeights.keyWeight = keyNorm.data;
      cpu::AttentionBatch batch = attentionBatch();
      Status st = cpu::ropeKVWrite(
          packed, reinterpret_cast<const int32_t *>(pos.data), *frequencies,
          style, withWeights, *cache, layer, batch,
          cpu::heads(q.data, tq, t, numHeads, headDim), *scratch);
      if (!st)
        return Status::error("rope_kv_write (layer " + std::to_string(layer) +
                             "): " + st.message());
      return Status::success();
    });
    return Status::success();
  }

  if (name == "cached_attention_quantize_dynamic") {
    // cached_attention into a scratch of the query's type (where the unfused
    // step stores it), then "quantize_dynamic" of its token rows.
    if (Status s = arity(1, 2); !s)
      return s;
    if (!cache)
      return error("no KV cache");
    int64_t layer;
    cpu::AttentionParams ap;
    if (std::string problem = readAttentionParams(params, layer, ap);
        !problem.empty())
      return error(problem);
    Buf q = in[0], codes = out[0], scales = out[1];
    DType tq;
    cpu::QuantDType tc;
    if (Status s = floatDType(q, tq); !s)
      return s;
    if (q.shape.size() != 3 || q.shape[2] != cache->config().headDim)
      return error("the query must be [tokens, heads, head_dim] of the KV "
                   "cache's head size");
    const int64_t width = q.shape[1] * q.shape[2];
    if (!toQuantDType(codes.dtype, tc) || tc == cpu::QuantDType::I4 ||
        codes.lastDim() != width || scales.dtype != fb::DType::F32 ||
        scales.lastDim() != 1 ||
        scales.matrixRows(maxTokens) != codes.matrixRows(maxTokens))
      return error("expects i8 or fp8 codes [tokens, heads * head_dim] and "
                   "f32 [tokens, 1] scales out");
    auto scratch = std::make_shared<std::vector<uint8_t>>();
    steps.push_back([=](int64_t tokens) {
      cpu::AttentionBatch batch = attentionBatch();
      int64_t t = q.dim0(tokens);
      scratch->resize(static_cast<size_t>(t * width) * cpu::dtypeBytes(tq));
      Status st = cpu::pagedAttention(
          ap, cpu::heads(q.data, tq, t, q.shape[1], q.shape[2]), *cache, layer,
          batch, cpu::heads(scratch->data(), tq, t, q.shape[1], q.shape[2]),
          threads);
      if (!st)
        return Status::error("cached_attention_quantize_dynamic (layer " +
                             std::to_string(layer) + "): " + st.message());
      cpu::quantizeDynamic(cpu::constMatrix(scratch->data(), tq, t, width),
                           codes.data, tc,
                           reinterpret_cast<float *>(scales.data));
      return Status::success();
    });
    return Status::success();
  }

  if (name == "cached_attention") {
    if (Status s = arity(1, 1); !s)
      return s;
    if (!cache)
      return error("no KV cache");
    int64_t layer;
    cpu::AttentionParams ap;
    if (std::string problem = readAttentionParams(params, layer, ap);
        !problem.empty())
      return error(problem);
    Buf q = in[0], o = out[0];
    DType tq, to;
    if (Status s = floatDType(q, tq); !s)
      return s;
    if (Status s = floatDType(o, to); !s)
      return s;
    if (q.shape.size() != 3 || o.shape != q.shape ||
        q.shape[2] != cache->config().headDim)
      return error("query and output must be [tokens, heads, head_dim] of "
                   "the KV cache's head size");
    steps.push_back([=](int64_t tokens) {
      cpu::AttentionBatch batch = attentionBatch();
      int64_t t = q.dim0(tokens);
      Status st = cpu::pagedAttention(
          ap, cpu::heads(q.data, tq, t, q.shape[1], q.shape[2]), *cache, layer,
          batch, cpu::heads(o.data, to, t, o.shape[1], o.shape[2]), threads);
      if (!st)
        return Status::error("cached_attention (layer " +
                             std::to_string(layer) + "): " + st.message());
      return Status::success();
    });
    return Status::success();
  }

  if (name == "elementwise") {
    if (in.empty() || out.size() != 1)
      return error("expects inputs and one output");
    std::string text, message;
    if (!params.string("program", text))
      return error("missing parameter 'program'");
    auto program = std::make_shared<std::vector<cpu::ElementwiseInstruction>>();
    if (!cpu::parseElementwiseProgram(text, static_cast<int64_t>(in.size()),
                                      *program, message))
      return error(message);
    std::vector<DType> types(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      if (Status s = floatDType(in[i], types[i]); !s)
        return s;
      if (in[i].elements(maxTokens) != out[0].elements(maxTokens))
        return error("inputs and output of different sizes");
    }
    Buf o = out[0];
    DType to;
    if (Status s = floatDType(o, to); !s)
      return s;
    if (program->back().resultDType != to)
      return error("the program's result type is not the output's");
    std::vector<Buf> inputs = in;
    steps.push_back([=](int64_t tokens) {
      std::vector<const void *> data;
      for (const Buf &b : inputs)
        data.push_back(b.data);
      cpu::elementwise(*program, data, types, o.data, to, o.elements(tokens));
      return Status::success();
    });
    return Status::success();
  }

  // split: copies each part's columns out of the packed rows.
  if (in.size() != 1 || out.empty())
    return error("expects one input and its parts as outputs");
  Buf x = in[0];
  DType tx;
  if (Status s = floatDType(x, tx); !s)
    return s;
  int64_t total = 0;
  for (const Buf &part : out) {
    DType tp;
    if (Status s = floatDType(part, tp); !s)
      return s;
    if (tp != tx)
      return error("parts must have the input's type");
    total += part.lastDim();
  }
  if (total != x.lastDim())
    return error("the parts do not cover the input's rows");
  std::vector<Buf> parts = out;
  steps.push_back([=](int64_t tokens) {
    int64_t rows = x.matrixRows(tokens);
    size_t bytes = cpu::dtypeBytes(tx);
    int64_t column = 0;
    for (const Buf &part : parts) {
      int64_t width = part.lastDim();
      for (int64_t r = 0; r < rows; ++r)
        std::memcpy(part.data + r * width * bytes,
                    x.data + (r * x.lastDim() + column) * bytes, width * bytes);
      column += width;
    }
    return Status::success();
  });
  return Status::success();
}

Engine::Engine() : impl_(std::make_unique<Impl>()) {}
Engine::~Engine() = default;

int64_t Engine::maxTokens() const {
  return backend_ ? backend_->maxTokens() : impl_->maxTokens;
}
int64_t Engine::vocabSize() const {
  return backend_ ? backend_->vocabSize() : impl_->vocab;
}
const kv::PagedKVCache &Engine::kvCache() const { return *impl_->cache; }
int64_t Engine::kvCapacityTokens() const {
  if (backend_)
    return backend_->kvCapacityTokens();
  if (!impl_->cache)
    return 0;
  const kv::KVCacheConfig &config = impl_->cache->config();
  return config.numBlocks * config.blockTokens;
}
std::string Engine::deviceDescription() const {
  return backend_ ? backend_->description() : "cpu";
}

void Engine::freeSequence(int64_t sequenceId) {
  if (backend_) {
    backend_->freeSequence(sequenceId);
    return;
  }
  if (impl_->cache)
    impl_->cache->freeSequence(sequenceId);
}

std::string checkForwardBatch(const ForwardBatch &batch, int64_t maxTokens) {
  int64_t n = static_cast<int64_t>(batch.tokenIds.size());
  if (n <= 0 || n > maxTokens)
    return "a forward call carries 1.." + std::to_string(maxTokens) +
           " tokens, got " + std::to_string(n);
  if (static_cast<int64_t>(batch.positions.size()) != n)
    return "forward: " + std::to_string(n) + " token ids but " +
           std::to_string(batch.positions.size()) + " positions";
  int64_t total = 0;
  for (const SequenceSpan &span : batch.sequences) {
    if (span.numTokens < 0)
      return "forward: a sequence with a negative token count";
    total += span.numTokens;
  }
  if (total != n)
    return "forward: the sequences hold " + std::to_string(total) +
           " tokens, the batch " + std::to_string(n);
  for (int32_t p : batch.positions)
    if (p < 0)
      return "forward: negative position " + std::to_string(p);
  return "";
}

Status Engine::forward(const ForwardBatch &batch, std::vector<float> &logits) {
  Impl &impl = *impl_;
  if (backend_)
    return backend_->forward(batch, logits);
  int64_t n = static_cast<int64_t>(batch.tokenIds.size());
  if (std::string problem = checkForwardBatch(batch, impl.maxTokens);
      !problem.empty())
    return impl.fail(problem);

  // The batch the attention steps read, and room in the KV cache.
  impl.queryStart.assign(1, 0);
  impl.sequenceIds.clear();
  for (const SequenceSpan &span : batch.sequences) {
    if (span.numTokens == 0)
      continue; // nothing to attend for
    int64_t begin = impl.queryStart.back();
    impl.queryStart.push_back(begin + span.numTokens);
    impl.sequenceIds.push_back(span.sequenceId);
    if (impl.cache && span.numTokens > 0) {
      int32_t last =
          *std::max_element(batch.positions.begin() + begin,
                            batch.positions.begin() + begin + span.numTokens);
      if (Status s = impl.cache->reserve(span.sequenceId,
                                         static_cast<int64_t>(last) + 1);
          !s)
        return impl.fail("KV cache: " + s.message());
    }
  }
  impl.batchPositions = batch.positions;
  impl.batchTokens = n;

  std::memcpy(impl.tokenIds.data, batch.tokenIds.data(), n * sizeof(int32_t));
  if (impl.positions.data)
    std::memcpy(impl.positions.data, batch.positions.data(),
                n * sizeof(int32_t));

  for (size_t i = 0; i < impl.steps.size(); ++i)
    if (Status s = impl.steps[i](n); !s)
      return impl.fail("step " + std::to_string(impl.stepIndices[i]) + ": " +
                       s.message());

  DType logitsType;
  toCpuDType(impl.logits.dtype, logitsType);
  int64_t count = impl.logits.elements(n);
  logits.resize(static_cast<size_t>(count));
  cpu::convertToF32(impl.logits.data, logitsType, logits.data(), count);
  return Status::success();
}

} // namespace llmc::engine
