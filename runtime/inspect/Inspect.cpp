//===- Inspect.cpp - what `inspect` prints about a .llmc artifact ---------===//

#include "runtime/inspect/Inspect.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <sstream>

namespace llmc::inspect {

namespace {

namespace fb = ::llmc::artifact;
using loader::Artifact;

std::string str(const flatbuffers::String *text) {
  return text ? text->str() : std::string();
}

template <typename T> std::string joinVector(const flatbuffers::Vector<T> *v) {
  std::string text = "[";
  if (v)
    for (size_t i = 0; i < v->size(); ++i)
      text += (i ? ", " : "") + std::to_string(v->Get(i));
  return text + "]";
}

std::string hex64(uint64_t value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%016" PRIx64, value);
  return text;
}

std::string formatDouble(double value) {
  char text[64];
  std::snprintf(text, sizeof(text), "%g", value);
  return text;
}

const char *arenaKindName(fb::ArenaKind kind) {
  switch (kind) {
  case fb::ArenaKind::Activations:
    return "activations";
  case fb::ArenaKind::KVCache:
    return "kv_cache";
  case fb::ArenaKind::Weights:
    return "weights";
  case fb::ArenaKind::Host:
    return "host";
  }
  return "unknown";
}

const char *stepKindName(fb::StepOp op) {
  switch (op) {
  case fb::StepOp::LaunchStep:
    return "launch";
  case fb::StepOp::GemmStep:
    return "gemm";
  case fb::StepOp::CollectiveStep:
    return "collective";
  case fb::StepOp::HostStep:
    return "host";
  case fb::StepOp::ComputeStep:
    return "compute";
  default:
    return "unknown";
  }
}

const char *ropeScalingName(fb::RopeScalingType type) {
  switch (type) {
  case fb::RopeScalingType::None:
    return "none";
  case fb::RopeScalingType::Linear:
    return "linear";
  case fb::RopeScalingType::Llama3:
    return "llama3";
  case fb::RopeScalingType::Yarn:
    return "yarn";
  }
  return "unknown";
}

const char *activationName(fb::MLPActivation activation) {
  switch (activation) {
  case fb::MLPActivation::Silu:
    return "silu";
  case fb::MLPActivation::GeluTanh:
    return "gelu_tanh";
  case fb::MLPActivation::Gelu:
    return "gelu";
  }
  return "unknown";
}

/// The config as ordered (key, value) pairs, shared by text and JSON.
nlohmann::ordered_json configJson(const fb::ModelConfig &c) {
  nlohmann::ordered_json j;
  j["architecture"] = str(c.architecture());
  j["vocab_size"] = c.vocab_size();
  j["hidden_size"] = c.hidden_size();
  j["intermediate_size"] = c.intermediate_size();
  j["num_layers"] = c.num_layers();
  j["num_heads"] = c.num_heads();
  j["num_kv_heads"] = c.num_kv_heads();
  j["head_dim"] = c.head_dim();
  j["rotary_dim"] = c.rotary_dim();
  j["max_position_embeddings"] = c.max_position_embeddings();
  j["rms_norm_eps"] = c.rms_norm_eps();
  j["rope_theta"] = c.rope_theta();
  if (c.local_rope_theta())
    j["local_rope_theta"] = *c.local_rope_theta();
  j["rope_scaling"] = ropeScalingName(c.rope_scaling_type());
  if (c.rope_scaling_type() != fb::RopeScalingType::None) {
    j["rope_scaling_factor"] = c.rope_scaling_factor();
    j["rope_original_max_position"] = c.rope_original_max_position();
  }
  if (c.sliding_window())
    j["sliding_window"] = *c.sliding_window();
  j["tie_word_embeddings"] = c.tie_word_embeddings();
  j["mlp_activation"] = activationName(c.mlp_activation());
  if (c.attn_logit_softcap())
    j["attn_logit_softcap"] = *c.attn_logit_softcap();
  if (c.final_logit_softcap())
    j["final_logit_softcap"] = *c.final_logit_softcap();
  j["bos_token_id"] = c.bos_token_id();
  j["eos_token_id"] = c.eos_token_id();
  std::vector<int32_t> stops;
  if (c.stop_token_ids())
    stops.assign(c.stop_token_ids()->begin(), c.stop_token_ids()->end());
  j["stop_token_ids"] = stops;
  j["kv_cache_dtype"] = std::string(loader::dtypeName(c.kv_cache_dtype()));
  j["kv_block_tokens"] = c.kv_block_tokens();
  j["max_batch_tokens"] = c.max_batch_tokens();
  j["max_seq_len"] = c.max_seq_len();
  j["max_batch"] = c.max_batch();
  return j;
}

std::string jsonScalarText(const nlohmann::ordered_json &value) {
  if (value.is_string())
    return value.get<std::string>();
  if (value.is_number_float())
    return formatDouble(value.get<double>());
  return value.dump();
}

const char *gemmBackendName(fb::GemmBackend backend) {
  switch (backend) {
  case fb::GemmBackend::CublasLt:
    return "cublaslt";
  case fb::GemmBackend::Generated:
    return "generated";
  case fb::GemmBackend::Cpu:
    return "cpu";
  }
  return "unknown";
}

struct StepCounts {
  size_t launch = 0, gemm = 0, collective = 0, host = 0, compute = 0,
         unknown = 0, total = 0;
  /// Compute steps per name, in order of first appearance.
  std::vector<std::pair<std::string, size_t>> computeNames;
  /// GEMM steps per backend (cpu, cublaslt, generated).
  std::vector<std::pair<std::string, size_t>> gemmBackends;
};

void countName(std::vector<std::pair<std::string, size_t>> &counts,
               const std::string &name) {
  for (auto &entry : counts)
    if (entry.first == name) {
      ++entry.second;
      return;
    }
  counts.emplace_back(name, 1);
}

StepCounts countSteps(const fb::RankPlan &plan) {
  StepCounts counts;
  if (plan.steps())
    for (const fb::Step *step : *plan.steps()) {
      ++counts.total;
      switch (step->op_type()) {
      case fb::StepOp::LaunchStep:
        ++counts.launch;
        break;
      case fb::StepOp::GemmStep:
        ++counts.gemm;
        countName(counts.gemmBackends,
                  gemmBackendName(step->op_as_GemmStep()->backend()));
        break;
      case fb::StepOp::CollectiveStep:
        ++counts.collective;
        break;
      case fb::StepOp::HostStep:
        ++counts.host;
        break;
      case fb::StepOp::ComputeStep: {
        ++counts.compute;
        countName(counts.computeNames,
                  str(step->op_as_ComputeStep()->name()));
        break;
      }
      default:
        ++counts.unknown;
        break;
      }
    }
  return counts;
}

std::string dtypeText(fb::DType dtype) {
  return std::string(loader::dtypeName(dtype));
}

/// "arena 0 + 512: [512, 576] BF16, token rows".
std::string bufferText(const fb::Buffer *buffer) {
  if (!buffer)
    return "none";
  std::string text = "arena " + std::to_string(buffer->arena()) + " + " +
                     std::to_string(buffer->offset()) + ": " +
                     joinVector(buffer->shape()) + " " +
                     dtypeText(buffer->dtype());
  if (buffer->token_rows())
    text += ", token rows";
  return text;
}

nlohmann::ordered_json bufferJson(const fb::Buffer *buffer) {
  if (!buffer)
    return nullptr;
  std::vector<int64_t> shape;
  if (buffer->shape())
    shape.assign(buffer->shape()->begin(), buffer->shape()->end());
  return {{"arena", buffer->arena()},
          {"offset", buffer->offset()},
          {"shape", shape},
          {"dtype", dtypeText(buffer->dtype())},
          {"token_rows", buffer->token_rows()}};
}

nlohmann::ordered_json namedBuffersJson(
    const flatbuffers::Vector<flatbuffers::Offset<fb::NamedBuffer>> *list) {
  nlohmann::ordered_json result = nlohmann::ordered_json::array();
  if (list)
    for (const fb::NamedBuffer *named : *list) {
      nlohmann::ordered_json entry = {{"name", str(named->name())}};
      entry["buffer"] = bufferJson(named->buffer());
      result.push_back(std::move(entry));
    }
  return result;
}

/// One row of the per-layer quantization summary: a run of consecutive
/// layers whose linear weights are stored alike.
struct LayerSchemeRun {
  int64_t firstLayer = -1, lastLayer = -1; // -1: tensors outside the layers
  std::string description;
};

bool endsWith(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// "model.layers.12.mlp.up_proj.weight" -> 12 and "mlp.up_proj"; names
/// outside the decoder layers give -1 and the name without ".weight".
int64_t splitLayerName(const std::string &name, std::string &rest) {
  static const char *markers[] = {".layers.", "blk."};
  for (const char *marker : markers) {
    size_t at = name.find(marker);
    if (at == std::string::npos)
      continue;
    size_t digits = at + std::strlen(marker);
    size_t end = digits;
    while (end < name.size() && name[end] >= '0' && name[end] <= '9')
      ++end;
    if (end == digits || end >= name.size() || name[end] != '.')
      continue;
    rest = name.substr(end + 1);
    if (endsWith(rest, ".weight"))
      rest.resize(rest.size() - 7);
    return std::stoll(name.substr(digits, end - digits));
  }
  rest = name;
  return -1;
}

/// How each layer's matrices are stored: the scheme of every quantized
/// weight (with where its activation scales come from) and the matrices kept
/// in a float type, runs of identical layers merged.
std::vector<LayerSchemeRun> quantizationByLayer(const Artifact &artifact) {
  const fb::Artifact &root = artifact.root();
  std::map<std::string, size_t> byName;
  size_t count = artifact.tensorCount();
  for (size_t i = 0; i < count; ++i)
    byName[str(root.tensors()->Get(i)->name())] = i;
  // layer -> description pieces, ordered by layer.
  std::map<int64_t, std::map<std::string, std::vector<std::string>>> layers;
  for (size_t i = 0; i < count; ++i) {
    const fb::Tensor *tensor = root.tensors()->Get(i);
    std::string name = str(tensor->name());
    bool matrix = tensor->shape() && tensor->shape()->size() == 2 &&
                  tensor->shape()->Get(1) > 1;
    if (!matrix)
      continue;
    std::string scheme;
    if (const fb::QuantParams *quant = tensor->quant()) {
      scheme = str(quant->scheme());
      if (tensor->dtype() == fb::DType::F8E4M3 ||
          tensor->dtype() == fb::DType::F8E5M2 ||
          (tensor->dtype() == fb::DType::I8 &&
           scheme.find("group") == std::string::npos &&
           quant->zero_point_tensor() < 0))
        scheme += byName.count(name + ".input_scale")
                      ? ", activations static per tensor"
                      : ", activations dynamic per token";
    } else if (endsWith(name, ".scale") || endsWith(name, ".zero_point")) {
      continue; // the scales of a quantized weight, shown with it
    } else {
      scheme = "full precision " + std::string(loader::dtypeName(
                                       tensor->dtype()));
    }
    std::string shortName;
    int64_t layer = splitLayerName(name, shortName);
    layers[layer][scheme].push_back(shortName);
  }
  std::vector<LayerSchemeRun> runs;
  for (const auto &[layer, schemes] : layers) {
    std::string description;
    for (const auto &[scheme, names] : schemes) {
      if (!description.empty())
        description += "; ";
      description += scheme + ":";
      for (const std::string &each : names)
        description += " " + each;
    }
    if (!runs.empty() && layer >= 0 && runs.back().firstLayer >= 0 &&
        runs.back().lastLayer == layer - 1 &&
        runs.back().description == description) {
      runs.back().lastLayer = layer;
      continue;
    }
    runs.push_back({layer, layer, description});
  }
  return runs;
}

/// How a GPU backend runs one rank's plan (artifact.fbs `Step.launches`).
struct LaunchSummary {
  size_t launches = 0;
  size_t stepsWithLaunches = 0;
  /// Decoder layers seen and the kernel launches most of them take at
  /// decode (T = 1): a step's launches whose token range holds 1, or one
  /// for a step the backend runs itself (a cuBLASLt GEMM, a collective).
  size_t layers = 0;
  size_t launchesPerLayerAtDecode = 0;
  /// Steps a GPU backend cannot run (compute steps and non-cuBLASLt GEMMs
  /// without launches), by name, in order of first appearance.
  std::vector<std::pair<std::string, size_t>> notRunnable;
};

template <typename F> void forEachStepBuffer(const fb::Step &step, F visit) {
  auto list = [&](const auto *buffers) {
    if (buffers)
      for (const fb::Buffer *buffer : *buffers)
        visit(buffer);
  };
  switch (step.op_type()) {
  case fb::StepOp::LaunchStep:
    list(step.op_as_LaunchStep()->args());
    break;
  case fb::StepOp::GemmStep: {
    const fb::GemmStep *gemm = step.op_as_GemmStep();
    for (const fb::Buffer *buffer :
         {gemm->a(), gemm->b(), gemm->c(), gemm->scale_a(), gemm->scale_b(),
          gemm->zero_b()})
      if (buffer)
        visit(buffer);
    break;
  }
  case fb::StepOp::ComputeStep:
    list(step.op_as_ComputeStep()->inputs());
    list(step.op_as_ComputeStep()->outputs());
    break;
  case fb::StepOp::HostStep:
    list(step.op_as_HostStep()->args());
    break;
  default:
    break;
  }
}

/// A step belongs to the decoder layer whose weights it reads or whose KV
/// cache it names (`layer`), else to the layer of the step before it (as
/// `llmc compile --stats` counts, compiler/driver/Stats.h).
LaunchSummary summarizeLaunches(const Artifact &artifact,
                                const fb::RankPlan &plan) {
  LaunchSummary summary;
  std::map<std::pair<uint32_t, uint64_t>, int64_t> weightLayer;
  if (plan.weight_loads())
    for (const fb::WeightLoad *load : *plan.weight_loads()) {
      std::string rest;
      // The table's name: Artifact::tensor would generate a synthetic
      // tensor's bytes.
      weightLayer[{load->arena(), load->offset()}] = splitLayerName(
          str(artifact.root().tensors()->Get(load->tensor())->name()), rest);
    }
  std::map<int64_t, size_t> launchesByLayer;
  int64_t currentLayer = -1;
  if (plan.steps())
    for (const fb::Step *step : *plan.steps()) {
      size_t launches = Artifact::launchCount(*step);
      summary.launches += launches;
      summary.stepsWithLaunches += launches > 0;
      if (!Artifact::gpuBackendRuns(*step)) {
        std::string name =
            step->op_type() == fb::StepOp::ComputeStep
                ? str(step->op_as_ComputeStep()->name())
                : std::string("gemm ") +
                      gemmBackendName(step->op_as_GemmStep()->backend());
        countName(summary.notRunnable, name);
      }
      if (step->op_type() == fb::StepOp::HostStep)
        continue;
      int64_t layer = -2;
      forEachStepBuffer(*step, [&](const fb::Buffer *buffer) {
        auto it = weightLayer.find({buffer->arena(), buffer->offset()});
        if (it != weightLayer.end())
          layer = std::max(layer, it->second);
      });
      if (step->op_type() == fb::StepOp::ComputeStep &&
          step->op_as_ComputeStep()->params())
        for (const fb::Param *param : *step->op_as_ComputeStep()->params())
          if (str(param->key()) == "layer" && param->int_value())
            layer = *param->int_value();
      if (layer == -2)
        layer = currentLayer;
      currentLayer = layer;
      size_t atDecode = 0;
      for (size_t i = 0; i < launches; ++i)
        atDecode += Artifact::launchRunsFor(Artifact::launch(*step, i), 1);
      launchesByLayer[layer] += launches > 0 ? atDecode : 1;
    }
  // The count most layers have (the larger on a tie).
  std::map<size_t, size_t> layersByLaunches;
  for (auto [layer, launches] : launchesByLayer)
    if (layer >= 0) {
      ++summary.layers;
      ++layersByLaunches[launches];
    }
  size_t mostLayers = 0;
  for (auto [launches, layers] : layersByLaunches)
    if (layers >= mostLayers) {
      mostLayers = layers;
      summary.launchesPerLayerAtDecode = launches;
    }
  return summary;
}

std::string layerRange(const LayerSchemeRun &run) {
  if (run.firstLayer < 0)
    return "other";
  if (run.firstLayer == run.lastLayer)
    return "layer " + std::to_string(run.firstLayer);
  return "layers " + std::to_string(run.firstLayer) + "-" +
         std::to_string(run.lastLayer);
}

} // namespace

std::string formatArtifactText(const Artifact &artifact) {
  std::ostringstream os;
  const fb::Artifact &root = artifact.root();
  os << "artifact: " << artifact.name() << "\n";
  os << "  format: " << artifact.formatMajor() << "." << artifact.formatMinor()
     << "\n";
  os << "  producer: " << artifact.producer() << "\n";
  os << "  file bytes: " << artifact.fileBytes() << "\n";
  os << "target: " << artifact.describeTarget() << "\n";
  os << "quantization: " << artifact.quantization() << "\n";
  for (const LayerSchemeRun &run : quantizationByLayer(artifact))
    os << "  " << layerRange(run) << ": " << run.description << "\n";

  os << "config:\n";
  // Named, not a temporary: items() only refers to the object.
  nlohmann::ordered_json config = configJson(artifact.config());
  for (const auto &[key, value] : config.items())
    os << "  " << key << ": " << jsonScalarText(value) << "\n";

  if (artifact.hasHuggingFaceTokenizer()) {
    os << "tokenizer: huggingface\n";
    os << "  tokenizer.json: " << artifact.hfTokenizerJson().size()
       << " bytes\n";
    os << "  tokenizer_config.json: " << artifact.hfTokenizerConfigJson().size()
       << " bytes\n";
  } else if (const fb::Tokenizer *tok = root.tokenizer()) {
    os << "tokenizer: "
       << (tok->kind() == fb::TokenizerKind::Llama ? "llama" : "gpt2") << "\n";
    if (tok->kind() == fb::TokenizerKind::Gpt2)
      os << "  pre_tokenizer: " << str(tok->pre_tokenizer()) << "\n";
    os << "  tokens: " << (tok->tokens() ? tok->tokens()->size() : 0) << "\n";
    os << "  merges: " << (tok->merges() ? tok->merges()->size() : 0) << "\n";
    os << "  bos_id: " << tok->bos_id() << "\n";
    os << "  eos_id: " << tok->eos_id() << "\n";
    os << "  add_bos: " << (tok->add_bos() ? "true" : "false") << "\n";
    os << "  chat_template: "
       << (tok->chat_template() ? tok->chat_template()->size() : 0)
       << " bytes\n";
  } else {
    os << "tokenizer: none\n";
  }

  size_t count = artifact.tensorCount();
  size_t syntheticCount = artifact.syntheticTensorCount();
  os << "tensors: " << count << " (" << artifact.totalTensorBytes() << " bytes";
  if (syntheticCount)
    os << "; " << syntheticCount << " synthetic, generated at load; "
       << artifact.storedTensorBytes() << " bytes stored";
  os << ")\n";
  size_t nameWidth = 5, typeWidth = 5, shapeWidth = 5; // "total", "dtype"
  std::vector<std::string> shapes;
  for (size_t i = 0; i < count; ++i) {
    const fb::Tensor *tensor = root.tensors()->Get(i);
    shapes.push_back(joinVector(tensor->shape()));
    nameWidth = std::max(nameWidth, size_t(tensor->name()->size()));
    typeWidth = std::max(typeWidth, loader::dtypeName(tensor->dtype()).size());
    shapeWidth = std::max(shapeWidth, shapes.back().size());
  }
  auto pad = [](const std::string &text, size_t width) {
    return text +
           std::string(width > text.size() ? width - text.size() : 0, ' ');
  };
  auto row = [&](const std::string &name, const std::string &type,
                 const std::string &shape, const std::string &bytes) {
    os << "  " << pad(name, nameWidth) << "  " << pad(type, typeWidth) << "  "
       << pad(shape, shapeWidth) << "  " << bytes << "\n";
  };
  if (count) {
    row("name", "dtype", "shape", "bytes");
    for (size_t i = 0; i < count; ++i) {
      const fb::Tensor *tensor = root.tensors()->Get(i);
      row(tensor->name()->str(),
          std::string(loader::dtypeName(tensor->dtype())), shapes[i],
          std::to_string(artifact.tensorBytes(i)) +
              (artifact.isSynthetic(i) ? " synthetic" : ""));
    }
    row("total", "", "", std::to_string(artifact.totalTensorBytes()));
  }

  size_t moduleCount =
      root.kernel_modules() ? root.kernel_modules()->size() : 0;
  size_t kernelCount = root.kernels() ? root.kernels()->size() : 0;
  os << "kernels: " << kernelCount << " in " << moduleCount << " modules\n";
  for (size_t i = 0; i < moduleCount; ++i) {
    const fb::KernelModule *module = root.kernel_modules()->Get(i);
    os << "  module " << i << ": sm_" << str(module->sm()) << ", cubin "
       << (module->cubin() ? module->cubin()->bytes() : 0) << " bytes, ptx "
       << (module->ptx() ? module->ptx()->bytes() : 0) << " bytes, "
       << (module->entries() ? module->entries()->size() : 0) << " entries\n";
  }
  for (size_t i = 0; i < kernelCount; ++i) {
    const fb::Kernel *kernel = root.kernels()->Get(i);
    os << "  kernel " << i << ": " << str(kernel->name()) << " (entry "
       << str(kernel->entry()) << ", module " << kernel->module_index();
    if (kernel->kind() && kernel->kind()->size())
      os << ", kind " << str(kernel->kind());
    os << ")\n";
  }

  size_t planCount = root.plans() ? root.plans()->size() : 0;
  os << "plans: " << planCount << " (world size " << root.world_size() << ")\n";
  for (size_t p = 0; p < planCount; ++p) {
    const fb::RankPlan *plan = root.plans()->Get(p);
    StepCounts counts = countSteps(*plan);
    os << "  rank " << plan->rank() << ": " << counts.total << " steps ("
       << counts.launch << " launch, " << counts.gemm << " gemm, "
       << counts.collective << " collective, " << counts.host << " host, "
       << counts.compute << " compute";
    if (counts.unknown)
      os << ", " << counts.unknown << " unknown";
    os << "), " << (plan->weight_loads() ? plan->weight_loads()->size() : 0)
       << " weight loads, max_tokens " << plan->max_tokens() << "\n";
    if (!counts.computeNames.empty()) {
      os << "    compute:";
      for (size_t i = 0; i < counts.computeNames.size(); ++i)
        os << (i ? ", " : " ") << counts.computeNames[i].first << " x"
           << counts.computeNames[i].second;
      os << "\n";
    }
    if (!counts.gemmBackends.empty()) {
      os << "    gemm:";
      for (size_t i = 0; i < counts.gemmBackends.size(); ++i)
        os << (i ? ", " : " ") << counts.gemmBackends[i].first << " x"
           << counts.gemmBackends[i].second;
      os << "\n";
    }
    for (const auto *list : {plan->inputs(), plan->outputs()})
      if (list)
        for (const fb::NamedBuffer *named : *list)
          os << "    " << (list == plan->inputs() ? "input" : "output") << " "
             << str(named->name()) << ": " << bufferText(named->buffer())
             << "\n";
    uint64_t arenaTotal = 0;
    if (plan->arenas())
      for (const fb::Arena *arena : *plan->arenas()) {
        os << "    arena " << str(arena->name()) << ": "
           << arenaKindName(arena->kind()) << ", " << arena->bytes()
           << " bytes, alignment " << arena->alignment() << "\n";
        arenaTotal += arena->bytes();
      }
    os << "    arena total: " << arenaTotal << " bytes\n";
    // GPU artifacts only: the CPU backend runs every step itself.
    if (!artifact.targetSm().empty()) {
      LaunchSummary launches = summarizeLaunches(artifact, *plan);
      os << "    launches: " << launches.launches << " in "
         << launches.stepsWithLaunches << " steps; per decoder layer at "
         << "decode (T = 1): " << launches.launchesPerLayerAtDecode << " ("
         << launches.layers << " layers)\n";
      os << "    not runnable on the GPU:";
      if (launches.notRunnable.empty())
        os << " none";
      for (size_t i = 0; i < launches.notRunnable.size(); ++i)
        os << (i ? ", " : " ") << launches.notRunnable[i].first << " x"
           << launches.notRunnable[i].second;
      os << "\n";
    }
  }
  return os.str();
}

std::string formatArtifactJson(const Artifact &artifact) {
  const fb::Artifact &root = artifact.root();
  nlohmann::ordered_json j;
  j["path"] = artifact.name();
  j["format"] = std::to_string(artifact.formatMajor()) + "." +
                std::to_string(artifact.formatMinor());
  j["producer"] = std::string(artifact.producer());
  j["file_bytes"] = artifact.fileBytes();
  j["target"] = {{"name", std::string(artifact.targetName())},
                 {"architecture", std::string(artifact.targetArchitecture())},
                 {"sm", std::string(artifact.targetSm())}};
  j["quantization"] = std::string(artifact.quantization());
  nlohmann::ordered_json byLayer = nlohmann::ordered_json::array();
  for (const LayerSchemeRun &run : quantizationByLayer(artifact))
    byLayer.push_back({{"layers", layerRange(run)},
                       {"storage", run.description}});
  j["quantization_by_layer"] = std::move(byLayer);
  j["config"] = configJson(artifact.config());
  if (artifact.hasHuggingFaceTokenizer()) {
    j["tokenizer"] = {
        {"kind", "huggingface"},
        {"tokenizer_json_bytes", artifact.hfTokenizerJson().size()},
        {"tokenizer_config_json_bytes",
         artifact.hfTokenizerConfigJson().size()}};
  } else if (const fb::Tokenizer *tok = root.tokenizer()) {
    j["tokenizer"] = {
        {"kind", tok->kind() == fb::TokenizerKind::Llama ? "llama" : "gpt2"},
        {"pre_tokenizer", str(tok->pre_tokenizer())},
        {"tokens", tok->tokens() ? tok->tokens()->size() : 0},
        {"merges", tok->merges() ? tok->merges()->size() : 0},
        {"bos_id", tok->bos_id()},
        {"eos_id", tok->eos_id()},
        {"add_bos", tok->add_bos()},
        {"add_space_prefix", tok->add_space_prefix()},
        {"chat_template_bytes",
         tok->chat_template() ? tok->chat_template()->size() : 0}};
  } else {
    j["tokenizer"] = nullptr;
  }
  nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
  for (size_t i = 0; i < artifact.tensorCount(); ++i) {
    const fb::Tensor *tensor = root.tensors()->Get(i);
    std::vector<int64_t> shape;
    if (tensor->shape())
      shape.assign(tensor->shape()->begin(), tensor->shape()->end());
    nlohmann::ordered_json t = {
        {"name", tensor->name()->str()},
        {"dtype", std::string(loader::dtypeName(tensor->dtype()))},
        {"shape", shape},
        {"bytes", artifact.tensorBytes(i)}};
    if (const fb::BlobRef *data = tensor->data()) {
      t["section"] = data->section();
      t["offset"] = data->offset();
      t["xxhash64"] = hex64(data->xxhash64());
    } else if (tensor->synthetic_seed()) {
      t["synthetic_seed"] = *tensor->synthetic_seed();
    }
    if (const fb::QuantParams *quant = tensor->quant())
      t["quant"] = {{"scheme", str(quant->scheme())},
                    {"scale_tensor", quant->scale_tensor()},
                    {"zero_point_tensor", quant->zero_point_tensor()}};
    tensors.push_back(std::move(t));
  }
  j["tensors"] = std::move(tensors);
  j["total_tensor_bytes"] = artifact.totalTensorBytes();
  j["stored_tensor_bytes"] = artifact.storedTensorBytes();
  j["synthetic_tensors"] = artifact.syntheticTensorCount();
  nlohmann::ordered_json modules = nlohmann::ordered_json::array();
  if (root.kernel_modules())
    for (const fb::KernelModule *module : *root.kernel_modules()) {
      std::vector<std::string> entries;
      if (module->entries())
        for (const flatbuffers::String *entry : *module->entries())
          entries.push_back(entry->str());
      modules.push_back(
          {{"sm", str(module->sm())},
           {"cubin_bytes", module->cubin() ? module->cubin()->bytes() : 0},
           {"ptx_bytes", module->ptx() ? module->ptx()->bytes() : 0},
           {"entries", entries}});
    }
  j["kernel_modules"] = std::move(modules);
  nlohmann::ordered_json kernels = nlohmann::ordered_json::array();
  if (root.kernels())
    for (const fb::Kernel *kernel : *root.kernels())
      kernels.push_back({{"name", str(kernel->name())},
                         {"entry", str(kernel->entry())},
                         {"module", kernel->module_index()},
                         {"kind", str(kernel->kind())}});
  j["kernels"] = std::move(kernels);
  j["world_size"] = root.world_size();
  nlohmann::ordered_json plans = nlohmann::ordered_json::array();
  if (root.plans())
    for (const fb::RankPlan *plan : *root.plans()) {
      StepCounts counts = countSteps(*plan);
      nlohmann::ordered_json arenas = nlohmann::ordered_json::array();
      if (plan->arenas())
        for (const fb::Arena *arena : *plan->arenas())
          arenas.push_back({{"name", str(arena->name())},
                            {"kind", arenaKindName(arena->kind())},
                            {"bytes", arena->bytes()},
                            {"alignment", arena->alignment()}});
      std::vector<std::string> steps;
      if (plan->steps())
        for (const fb::Step *step : *plan->steps())
          steps.push_back(stepKindName(step->op_type()));
      nlohmann::ordered_json computeNames = nlohmann::ordered_json::object();
      for (const auto &[name, n] : counts.computeNames)
        computeNames[name] = n;
      nlohmann::ordered_json entry = {
          {"rank", plan->rank()},
          {"max_tokens", plan->max_tokens()},
          {"steps", counts.total},
          {"step_kinds",
           {{"launch", counts.launch},
            {"gemm", counts.gemm},
            {"collective", counts.collective},
            {"host", counts.host},
            {"compute", counts.compute}}},
          {"compute_steps", std::move(computeNames)},
          {"weight_loads",
           plan->weight_loads() ? plan->weight_loads()->size() : 0},
          {"arenas", std::move(arenas)}};
      entry["inputs"] = namedBuffersJson(plan->inputs());
      entry["outputs"] = namedBuffersJson(plan->outputs());
      entry["step_sequence"] = steps;
      if (!artifact.targetSm().empty()) {
        LaunchSummary launches = summarizeLaunches(artifact, *plan);
        nlohmann::ordered_json notRunnable = nlohmann::ordered_json::object();
        for (const auto &[name, n] : launches.notRunnable)
          notRunnable[name] = n;
        entry["launches"] = launches.launches;
        entry["steps_with_launches"] = launches.stepsWithLaunches;
        entry["decoder_layers"] = launches.layers;
        entry["launches_per_layer_at_decode"] =
            launches.launchesPerLayerAtDecode;
        entry["not_runnable_on_gpu"] = std::move(notRunnable);
      }
      plans.push_back(std::move(entry));
    }
  j["plans"] = std::move(plans);
  // Names come from the file: invalid UTF-8 becomes U+FFFD instead of an
  // exception.
  return j.dump(2, ' ', false,
                nlohmann::ordered_json::error_handler_t::replace) +
         "\n";
}

int runInspectCommand(int argc, const char *const *argv,
                      const char *programName) {
  const char *path = nullptr;
  bool json = false;
  bool lazy = false;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (std::strcmp(argv[i], "--no-verify-checksums") == 0) {
      lazy = true;
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      std::cerr << programName << ": error: unknown option '" << argv[i]
                << "' for inspect\n"
                << "usage: " << programName
                << " inspect ARTIFACT [--json] [--no-verify-checksums]\n";
      return 2;
    } else if (path) {
      std::cerr << programName << ": error: inspect takes one artifact, got '"
                << path << "' and '" << argv[i] << "'\n";
      return 2;
    } else {
      path = argv[i];
    }
  }
  if (!path) {
    std::cerr << programName << ": error: inspect needs an artifact\n"
              << "usage: " << programName
              << " inspect ARTIFACT [--json] [--no-verify-checksums]\n";
    return 2;
  }
  loader::OpenOptions options;
  if (lazy)
    options.checksums = loader::ChecksumPolicy::Lazy;
  std::unique_ptr<Artifact> artifact;
  if (loader::Status status = Artifact::open(path, options, artifact);
      !status) {
    std::cerr << programName << ": error: " << status.message() << "\n";
    return 1;
  }
  std::cout << (json ? formatArtifactJson(*artifact)
                     : formatArtifactText(*artifact));
  return 0;
}

} // namespace llmc::inspect
