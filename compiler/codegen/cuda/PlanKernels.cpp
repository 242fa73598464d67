//===- PlanKernels.cpp - instantiating kernel templates for plan steps ----===//

#include "compiler/codegen/cuda/PlanKernels.h"
#include "compiler/codegen/cuda/KernelSources.h"
#include "dialects/plan/PlanOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "runtime/backends/cpu/FusedKernels.h"
#include "runtime/backends/cpu/Kernels.h"
#include "runtime/schema/Checksum.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <tuple>
#include <variant>

using namespace mlir;

namespace llmc::codegen::cuda {

std::string describeGridRule(GridRule rule) {
  switch (rule) {
  case GridRule::TokenRows:
    return "grid = [T, 1, 1]";
  case GridRule::FlatElements:
    return "grid = [min(ceil(T * extent / block), 65535), 1, 1]";
  case GridRule::Int8GemmTiles:
    return "grid = [ceil(N / 64), ceil(T / 64), 1]";
  case GridRule::Int8GemvColumns:
    return "grid = [ceil(N / (block / 32)), 1, 1]";
  case GridRule::Fp8GemmTiles:
    return "grid = [ceil(N / 32), ceil(T / 64), 1]";
  case GridRule::AttentionSplits:
    return "grid = [T * heads, splits, 1]";
  case GridRule::AttentionQueryTiles:
    return "grid = [ceil(T / " + std::to_string(kAttentionQueryTile) +
           "), heads, 1]";
  }
  return "?";
}

std::string describeTokenRange(const KernelEntry &entry) {
  std::string bound = entry.maxTokens > 0
                          ? "T <= " + std::to_string(entry.maxTokens)
                          : std::string();
  if (entry.minTokens <= 1)
    return bound.empty() ? "always" : bound;
  std::string lower = "T > " + std::to_string(entry.minTokens - 1);
  if (bound.empty())
    return lower;
  return std::to_string(entry.minTokens) + " <= " + bound;
}

static int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

std::array<int64_t, 3> launchGrid(const KernelEntry &entry, int64_t tokens) {
  switch (entry.grid) {
  case GridRule::TokenRows:
    return {tokens * entry.tokenMultiple, 1, 1};
  case GridRule::FlatElements:
    return {
        std::min<int64_t>(
            ceilDiv(tokens * entry.tokenMultiple, entry.blockThreads), 65535),
        1, 1};
  case GridRule::Int8GemmTiles:
    return {ceilDiv(entry.gridExtent, 64), ceilDiv(tokens, 64), 1};
  case GridRule::Int8GemvColumns:
    return {ceilDiv(entry.gridExtent, entry.blockThreads / 32), 1, 1};
  case GridRule::Fp8GemmTiles:
    return {ceilDiv(entry.gridExtent, 32), ceilDiv(tokens, 64), 1};
  case GridRule::AttentionSplits:
    return {tokens * entry.tokenMultiple, entry.gridExtent, 1};
  case GridRule::AttentionQueryTiles:
    return {ceilDiv(tokens, kAttentionQueryTile), entry.gridExtent, 1};
  }
  return {1, 1, 1};
}

std::array<int64_t, 6> gridTokenScale(const KernelEntry &entry) {
  switch (entry.grid) {
  case GridRule::TokenRows:
    return {entry.tokenMultiple, 1, 0, 1, 0, 1};
  case GridRule::FlatElements:
    return {entry.tokenMultiple, entry.blockThreads, 0, 1, 0, 1};
  case GridRule::Int8GemmTiles:
  case GridRule::Fp8GemmTiles:
    return {0, 1, 1, 64, 0, 1};
  case GridRule::Int8GemvColumns:
    return {0, 1, 0, 1, 0, 1};
  case GridRule::AttentionSplits:
    return {entry.tokenMultiple, 1, 0, 1, 0, 1};
  case GridRule::AttentionQueryTiles:
    return {1, kAttentionQueryTile, 0, 1, 0, 1};
  }
  return {0, 1, 0, 1, 0, 1};
}

namespace {

/// One instance before naming: entry names are the placeholders @ENTRY0@,
/// @ENTRY1@, ... so that the name can include the hash of the text.
struct Instance {
  std::string kind;
  /// Readable part of the entry names: "rms_norm_4096".
  std::string stem;
  std::vector<llvm::StringRef> headers;
  std::string code;
  std::vector<KernelEntry> entries;
  /// Entry name suffixes ("", "_gemv"), one per entry.
  std::vector<std::string> suffixes;
  /// The step's buffers in the order of the kernel's parameters; empty
  /// means the step's inputs, then its outputs.
  SmallVector<Value> arguments;

  /// Appends entry `entries.size()`: its definition (`body` under the
  /// entry's parameter list) and its launch rule.
  void addEntry(KernelEntry entry, llvm::StringRef body,
                llvm::StringRef suffix = "");
};

/// Why a step gets no kernel; not an error.
struct NotGenerated {
  std::string reason;
};

using InstanceOrSkip = std::variant<Instance, NotGenerated>;

/// The C++ storage type of a buffer element, as the templates spell it.
FailureOr<std::string> storageType(Type type) {
  if (type.isF32())
    return std::string("float");
  if (type.isBF16())
    return std::string("llmc_kernels::bf16_t");
  if (type.isF16())
    return std::string("llmc_kernels::f16_t");
  if (isa<Float8E4M3FNType>(type))
    return std::string("llmc_kernels::e4m3_t");
  if (isa<Float8E5M2Type>(type))
    return std::string("llmc_kernels::e5m2_t");
  if (type.isSignlessInteger(8))
    return std::string("signed char");
  if (type.isSignlessInteger(32))
    return std::string("int");
  return failure();
}

bool isFloatStorage(Type type) {
  return type.isF32() || type.isBF16() || type.isF16();
}

/// Exact C++ spelling of an f32 constant (hexadecimal float literal).
std::string floatLiteral(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%af", static_cast<float>(value));
  return buffer;
}

/// Threads for a one-block-per-row kernel: about four column pairs per
/// thread, whole warps, at most 1024.
int64_t rowBlockThreads(int64_t columns) {
  int64_t pairs = (columns / 2 + 3) / 4;
  int64_t threads = (pairs + 31) / 32 * 32;
  return std::clamp<int64_t>(threads, 32, 1024);
}

constexpr int64_t kFlatBlockThreads = 256;
/// Generated GEMMs run as one warp per output column up to this many tokens
/// (decode), as tiles above.
constexpr int64_t kGemvMaxTokens = 4;

/// Step operands with their memref types.
struct StepBuffers {
  SmallVector<Value> inputs, outputs;
  MemRefType input(unsigned i) const {
    return cast<MemRefType>(inputs[i].getType());
  }
  MemRefType output(unsigned i) const {
    return cast<MemRefType>(outputs[i].getType());
  }
};

int64_t lastDim(MemRefType type) {
  return type.getRank() == 0 ? 1 : type.getShape().back();
}
int64_t elementsPerRow(MemRefType type) {
  return type.getRank() == 0 ? 1 : type.getNumElements() / type.getShape()[0];
}

std::string entryDefinition(unsigned index, int64_t blockThreads,
                            llvm::StringRef parameters, llvm::StringRef body) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "extern \"C\" __global__ void __launch_bounds__(" << blockThreads
     << ") @ENTRY" << index << "@(" << parameters << ") {\n"
     << body << "}\n";
  return text;
}

void Instance::addEntry(KernelEntry entry, llvm::StringRef body,
                        llvm::StringRef suffix) {
  code += entryDefinition(entries.size(), entry.blockThreads, entry.parameters,
                          body);
  entries.push_back(std::move(entry));
  suffixes.push_back(suffix.str());
}

/// A single-entry instance.
/// `rowsPerToken` matters for TokenRows kernels only (FlatElements kernels
/// have `extent` elements per token).
Instance singleEntry(llvm::StringRef kind, std::string stem,
                     std::vector<llvm::StringRef> headers, GridRule grid,
                     int64_t blockThreads, int64_t extent,
                     llvm::StringRef parameters, llvm::StringRef body,
                     llvm::StringRef prelude = "", int64_t rowsPerToken = 1) {
  Instance instance;
  instance.kind = kind.str();
  instance.stem = std::move(stem);
  instance.headers = std::move(headers);
  instance.code = prelude.str();
  KernelEntry entry;
  entry.grid = grid;
  entry.blockThreads = blockThreads;
  entry.gridExtent = extent;
  entry.tokenMultiple = grid == GridRule::FlatElements ? extent : rowsPerToken;
  entry.tokenArguments = {entry.tokenMultiple};
  entry.parameters = parameters.str();
  instance.addEntry(std::move(entry), body);
  return instance;
}

std::string typeStem(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

//===----------------------------------------------------------------------===//
// Step instantiators: one per plan.compute name (later: per fused pattern)
//===----------------------------------------------------------------------===//

using Instantiator = std::function<FailureOr<InstanceOrSkip>(
    plan::ComputeOp, const StepBuffers &, const Target &)>;

FailureOr<std::string> typeOf(plan::ComputeOp step, Type type) {
  FailureOr<std::string> spelled = storageType(type);
  if (failed(spelled))
    return step.emitError("CUDA code generation has no storage type for ")
           << type;
  return spelled;
}

double numberParameter(plan::ComputeOp step, llvm::StringRef name,
                       double fallback) {
  if (auto value = step->getAttrOfType<FloatAttr>(name))
    return value.getValueAsDouble();
  if (auto value = step->getAttrOfType<IntegerAttr>(name))
    return static_cast<double>(value.getInt());
  return fallback;
}

std::string stringParameter(plan::ComputeOp step, llvm::StringRef name,
                            llvm::StringRef fallback) {
  if (auto value = step->getAttrOfType<StringAttr>(name))
    return value.getValue().str();
  return fallback.str();
}

FailureOr<InstanceOrSkip> instantiateNorm(plan::ComputeOp step,
                                          const StepBuffers &buffers,
                                          const Target &) {
  bool layer = step.getName() == "layer_norm";
  MemRefType input = buffers.input(0), output = buffers.output(0);
  int64_t columns = lastDim(input);
  if (columns % 2 != 0)
    return InstanceOrSkip(NotGenerated{"odd row width"});
  auto in = typeOf(step, input.getElementType());
  auto weight = typeOf(step, buffers.input(1).getElementType());
  auto out = typeOf(step, output.getElementType());
  if (failed(in) || failed(weight) || failed(out))
    return failure();
  bool hasBias = layer && buffers.inputs.size() > 2;
  int64_t threads = rowBlockThreads(columns);
  std::string epsilon =
      floatLiteral(numberParameter(step, "epsilon", /*fallback=*/1e-5));
  std::string parameters = "const " + *in + " *input, const " + *weight +
                           " *weight, " +
                           (hasBias ? "const " + *weight + " *bias, " : "") +
                           *out + " *output, long long rows";
  std::string body;
  llvm::raw_string_ostream os(body);
  if (layer)
    os << "  llmc_kernels::layerNormRows<" << *in << ", " << *weight << ", "
       << *out << ", signed char, " << columns << ", " << threads
       << ", false, llmc_kernels::kNoQuant>(input, nullptr, nullptr, weight, "
       << (hasBias ? "bias" : "nullptr") << ", " << epsilon
       << ", output, nullptr, nullptr, nullptr, static_cast<int>(rows));\n";
  else
    os << "  llmc_kernels::rmsNormRows<" << *in << ", " << *weight << ", "
       << *out << ", signed char, " << columns << ", " << threads
       << ", false, llmc_kernels::kNoQuant>(input, nullptr, nullptr, weight, "
       << epsilon << ", "
       << floatLiteral(numberParameter(step, "weight_offset", 0.0))
       << ", output, nullptr, nullptr, nullptr, static_cast<int>(rows));\n";
  return InstanceOrSkip(singleEntry(
      step.getName(), (step.getName() + "_" + llvm::Twine(columns)).str(),
      {"Norm.cuh"}, GridRule::TokenRows, threads, columns, parameters, body));
}

/// The rotation of a `rope` or `rope_kv_write` step: its style and the
/// runtime's own frequency tables, so compile-time tables equal the CPU
/// backend's bit for bit (llama3/yarn scaling included).
struct RopeTables {
  std::string style;
  cpu::RopeFrequencies frequencies;
  int64_t rotaryDim = 0;
  /// The entry's `kInverseFrequencies` definition.
  std::string prelude;
  std::string styleConstant() const {
    return style == "half" ? "llmc_kernels::kRopeHalf"
                           : "llmc_kernels::kRopeInterleaved";
  }
};

FailureOr<RopeTables> ropeTables(plan::ComputeOp step, int64_t headDim) {
  RopeTables tables;
  cpu::RopeParams params;
  params.theta = numberParameter(step, "theta", 10000.0);
  params.rotaryDim =
      static_cast<int64_t>(numberParameter(step, "rotary_dim", 0.0));
  tables.style = stringParameter(step, "style", "half");
  if (tables.style != "half" && tables.style != "interleaved")
    return step.emitError("rope style '")
           << tables.style << "' is not half or interleaved";
  params.style = tables.style == "half" ? cpu::RopeStyle::Half
                                        : cpu::RopeStyle::Interleaved;
  std::string scaling = stringParameter(step, "scaling", "none");
  if (scaling == "linear")
    params.scaling = cpu::RopeScaling::Linear;
  else if (scaling == "llama3")
    params.scaling = cpu::RopeScaling::Llama3;
  else if (scaling == "yarn")
    params.scaling = cpu::RopeScaling::Yarn;
  else if (scaling != "none")
    return step.emitError("unknown rope scaling '") << scaling << "'";
  params.factor = numberParameter(step, "scaling_factor", 1.0);
  params.lowFreqFactor = numberParameter(step, "scaling_low_freq_factor", 1.0);
  params.highFreqFactor =
      numberParameter(step, "scaling_high_freq_factor", 4.0);
  params.originalMaxPosition = static_cast<int64_t>(
      numberParameter(step, "scaling_original_max_position", 0.0));
  params.yarnBetaFast = numberParameter(step, "scaling_beta_fast", 32.0);
  params.yarnBetaSlow = numberParameter(step, "scaling_beta_slow", 1.0);
  cpu::Status status =
      cpu::computeRopeFrequencies(params, headDim, tables.frequencies);
  if (!status.ok())
    return step.emitError(status.message());
  tables.rotaryDim =
      2 * static_cast<int64_t>(tables.frequencies.inverseFrequencies.size());
  llvm::raw_string_ostream os(tables.prelude);
  os << "__device__ const float kInverseFrequencies[" << tables.rotaryDim / 2
     << "] = {";
  for (auto [i, f] : llvm::enumerate(tables.frequencies.inverseFrequencies))
    os << (i % 6 == 0 ? "\n    " : " ") << floatLiteral(f) << ",";
  os << "};\n";
  return tables;
}

FailureOr<InstanceOrSkip> instantiateRope(plan::ComputeOp step,
                                          const StepBuffers &buffers,
                                          const Target &) {
  MemRefType input = buffers.input(0);
  if (input.getRank() != 3)
    return InstanceOrSkip(NotGenerated{"rope input is not [T, heads, dim]"});
  int64_t heads = input.getShape()[1], headDim = input.getShape()[2];
  FailureOr<RopeTables> tables = ropeTables(step, headDim);
  if (failed(tables))
    return failure();
  int64_t rotary = tables->rotaryDim;
  auto in = typeOf(step, input.getElementType());
  auto out = typeOf(step, buffers.output(0).getElementType());
  if (failed(in) || failed(out))
    return failure();
  int64_t threads = 128;
  std::string body;
  llvm::raw_string_ostream bodyStream(body);
  bodyStream << "  llmc_kernels::ropeRows<" << *in << ", " << *out << ", "
             << *out << ", " << heads << ", " << headDim << ", " << rotary
             << ", " << tables->styleConstant() << ", " << threads
             << ", false, 1>(input, positions, kInverseFrequencies, "
             << floatLiteral(tables->frequencies.attentionFactor)
             << ", output, nullptr, nullptr, nullptr, nullptr, "
                "static_cast<int>(rows));\n";
  return InstanceOrSkip(singleEntry(
      "rope", ("rope_" + llvm::Twine(heads) + "x" + llvm::Twine(headDim)).str(),
      {"Rope.cuh"}, GridRule::TokenRows, threads, heads * headDim,
      "const " + *in + " *input, const int *positions, " + *out +
          " *output, long long rows",
      body, tables->prelude));
}

FailureOr<InstanceOrSkip> instantiateSoftmax(plan::ComputeOp step,
                                             const StepBuffers &buffers,
                                             const Target &) {
  MemRefType input = buffers.input(0);
  int64_t axis = static_cast<int64_t>(numberParameter(step, "axis", -1));
  if (axis != -1 && axis != input.getRank() - 1)
    return InstanceOrSkip(NotGenerated{"softmax over a non-last axis"});
  auto in = typeOf(step, input.getElementType());
  auto out = typeOf(step, buffers.output(0).getElementType());
  if (failed(in) || failed(out))
    return failure();
  int64_t columns = lastDim(input), threads = 256;
  int64_t rowsPerToken = elementsPerRow(input) / columns;
  std::string body = "  llmc_kernels::softmaxRows<" + *in + ", " + *out + ", " +
                     std::to_string(columns) + ", " + std::to_string(threads) +
                     ">(input, output, static_cast<int>(rows));\n";
  return InstanceOrSkip(singleEntry(
      "softmax", "softmax_" + std::to_string(columns), {"Softmax.cuh"},
      GridRule::TokenRows, threads, columns,
      "const " + *in + " *input, " + *out + " *output, long long rows", body,
      "", rowsPerToken));
}

FailureOr<InstanceOrSkip> instantiateUnary(plan::ComputeOp step,
                                           const StepBuffers &buffers,
                                           const Target &) {
  llvm::StringRef name = step.getName();
  std::string op = "llmc_kernels::kConvert";
  std::string factor = "1.0f";
  if (name == "silu") {
    op = "llmc_kernels::kSilu";
  } else if (name == "gelu") {
    std::string approximation = stringParameter(step, "approximation", "none");
    op = approximation == "tanh" ? "llmc_kernels::kGeluTanh"
                                 : "llmc_kernels::kGeluErf";
  } else if (name == "scale") {
    op = "llmc_kernels::kScale";
    factor = floatLiteral(numberParameter(step, "factor", 1.0));
  }
  auto in = typeOf(step, buffers.input(0).getElementType());
  auto out = typeOf(step, buffers.output(0).getElementType());
  if (failed(in) || failed(out))
    return failure();
  std::string body = "  llmc_kernels::unaryElements<" + *in + ", " + *out +
                     ", " + op + ">(input, output, " + factor + ", count);\n";
  // Flat kernels do not depend on the shape: one instance per types.
  return InstanceOrSkip(singleEntry(
      name, name.str(), {"Elementwise.cuh"}, GridRule::FlatElements,
      kFlatBlockThreads, elementsPerRow(buffers.input(0)),
      "const " + *in + " *input, " + *out + " *output, long long count", body));
}

FailureOr<InstanceOrSkip> instantiateBinary(plan::ComputeOp step,
                                            const StepBuffers &buffers,
                                            const Target &) {
  if (buffers.input(0).getElementType() != buffers.input(1).getElementType() ||
      buffers.input(0).getNumElements() != buffers.input(1).getNumElements())
    return InstanceOrSkip(NotGenerated{"broadcasting or mixed-type operands"});
  auto in = typeOf(step, buffers.input(0).getElementType());
  auto out = typeOf(step, buffers.output(0).getElementType());
  if (failed(in) || failed(out))
    return failure();
  std::string op =
      step.getName() == "add" ? "llmc_kernels::kAdd" : "llmc_kernels::kMul";
  std::string body = "  llmc_kernels::binaryElements<" + *in + ", " + *out +
                     ", " + op + ">(lhs, rhs, output, count);\n";
  return InstanceOrSkip(
      singleEntry(step.getName(), step.getName().str(), {"Elementwise.cuh"},
                  GridRule::FlatElements, kFlatBlockThreads,
                  elementsPerRow(buffers.input(0)),
                  "const " + *in + " *lhs, const " + *in + " *rhs, " + *out +
                      " *output, long long count",
                  body));
}

FailureOr<InstanceOrSkip> instantiateBiasAdd(plan::ComputeOp step,
                                             const StepBuffers &buffers,
                                             const Target &) {
  auto data = typeOf(step, buffers.input(0).getElementType());
  auto bias = typeOf(step, buffers.input(1).getElementType());
  if (failed(data) || failed(bias))
    return failure();
  int64_t columns = lastDim(buffers.input(0));
  std::string body = "  llmc_kernels::biasAddElements<" + *data + ", " + *bias +
                     ", " + std::to_string(columns) +
                     ">(output, bias, count);\n";
  Instance instance = singleEntry(
      "bias_add", "bias_add_" + std::to_string(columns), {"Elementwise.cuh"},
      GridRule::FlatElements, kFlatBlockThreads,
      elementsPerRow(buffers.input(0)),
      *data + " *output, const " + *bias + " *bias, long long count", body);
  // In place: the output is the first input.
  instance.arguments = buffers.inputs;
  return InstanceOrSkip(instance);
}

FailureOr<InstanceOrSkip> instantiateEmbedding(plan::ComputeOp step,
                                               const StepBuffers &buffers,
                                               const Target &) {
  MemRefType table = buffers.input(0);
  if (table.getRank() != 2)
    return InstanceOrSkip(NotGenerated{"embedding table is not 2-D"});
  auto element = typeOf(step, table.getElementType());
  auto out = typeOf(step, buffers.output(0).getElementType());
  if (failed(element) || failed(out))
    return failure();
  int64_t vocab = table.getShape()[0], columns = table.getShape()[1];
  int64_t threads = 256;
  std::string body = "  llmc_kernels::embeddingRows<" + *element + ", " + *out +
                     ", " + std::to_string(vocab) + ", " +
                     std::to_string(columns) + ", " + std::to_string(threads) +
                     ">(table, ids, output, static_cast<int>(rows));\n";
  return InstanceOrSkip(
      singleEntry("embedding", "embedding_" + std::to_string(columns),
                  {"Embedding.cuh"}, GridRule::TokenRows, threads, columns,
                  "const " + *element + " *table, const int *ids, " + *out +
                      " *output, long long rows",
                  body));
}

bool isQuantized(Type type) {
  return type.isSignlessInteger(8) ||
         isa<Float8E4M3FNType, Float8E5M2Type>(type);
}

FailureOr<InstanceOrSkip> instantiateQuantize(plan::ComputeOp step,
                                              const StepBuffers &buffers,
                                              const Target &) {
  bool dynamic = step.getName() == "quantize_dynamic";
  MemRefType input = buffers.input(0);
  Type quantType = buffers.output(0).getElementType();
  if (!isQuantized(quantType) || !isFloatStorage(input.getElementType()))
    return InstanceOrSkip(NotGenerated{"not a float to i8/f8 quantization"});
  int64_t columns = lastDim(input);
  int64_t rows = input.getRank() == 0 ? 1 : input.getNumElements() / columns;
  std::string mode = "llmc_kernels::kDynamicScale";
  if (!dynamic) {
    int64_t scales = buffers.input(1).getNumElements();
    if (scales == 1)
      mode = "llmc_kernels::kStaticScale";
    else if (scales == rows && lastDim(buffers.input(1)) == 1)
      mode = "llmc_kernels::kTokenScaleInput";
    else
      return InstanceOrSkip(NotGenerated{
          "block-wise activation scales (weights are quantized at compile "
          "time)"});
  }
  if (columns % 2 != 0)
    return InstanceOrSkip(NotGenerated{"odd row width"});
  auto in = typeOf(step, input.getElementType());
  auto quant = typeOf(step, quantType);
  if (failed(in) || failed(quant))
    return failure();
  int64_t threads = rowBlockThreads(columns);
  std::string parameters =
      dynamic ? "const " + *in + " *input, " + *quant +
                    " *quantized, float *scales, long long rows"
              : "const " + *in + " *input, const float *scale, " + *quant +
                    " *quantized, long long rows";
  std::string body =
      "  llmc_kernels::quantizeRows<" + *in + ", " + *quant + ", " +
      std::to_string(columns) + ", " + std::to_string(threads) + ", " + mode +
      ">(input, " +
      (dynamic ? "nullptr, quantized, scales" : "scale, quantized, nullptr") +
      ", static_cast<int>(rows));\n";
  return InstanceOrSkip(singleEntry(
      step.getName(), (step.getName() + "_" + llvm::Twine(columns)).str(),
      {"Quantize.cuh"}, GridRule::TokenRows, threads, columns, parameters,
      body));
}

FailureOr<InstanceOrSkip> instantiateDequantize(plan::ComputeOp step,
                                                const StepBuffers &buffers,
                                                const Target &) {
  MemRefType input = buffers.input(0), scale = buffers.input(1);
  if (!isQuantized(input.getElementType()) || !scale.getElementType().isF32())
    return InstanceOrSkip(
        NotGenerated{"dequantize of i32 accumulators or non-f32 scales"});
  int64_t columns = lastDim(input);
  int64_t scaleColumns = 0;
  if (scale.getNumElements() != 1) {
    scaleColumns = lastDim(scale);
    if (input.getRank() != scale.getRank() || columns % scaleColumns != 0 ||
        input.getNumElements() / columns !=
            scale.getNumElements() / scaleColumns)
      return InstanceOrSkip(NotGenerated{"scale blocks over several rows"});
  }
  bool zero = buffers.inputs.size() > 2;
  auto quant = typeOf(step, input.getElementType());
  auto out = typeOf(step, buffers.output(0).getElementType());
  if (failed(quant) || failed(out))
    return failure();
  std::string body = "  llmc_kernels::dequantizeElements<" + *quant + ", " +
                     *out + ", " + std::to_string(columns) + ", " +
                     std::to_string(scaleColumns) + ">(quantized, scale, " +
                     (zero ? "zero_points" : "nullptr") + ", output, count);\n";
  return InstanceOrSkip(singleEntry(
      "dequantize", "dequantize_" + std::to_string(columns), {"Quantize.cuh"},
      GridRule::FlatElements, kFlatBlockThreads, elementsPerRow(input),
      "const " + *quant + " *quantized, const float *scale, " +
          (zero ? "const signed char *zero_points, " : "") + *out +
          " *output, long long count",
      body));
}

//===----------------------------------------------------------------------===//
// Fused groups (llm-fuse lowers each group to one compute step named after
// its kind; the CPU backend's FusedKernels.h defines them)
//===----------------------------------------------------------------------===//

/// The quantized output's scale mode from the scale buffer: one value is
/// static, one per row ([rows, 1]) is per token.
FailureOr<std::string> staticScaleMode(MemRefType scale, int64_t rows) {
  if (scale.getNumElements() == 1)
    return std::string("llmc_kernels::kStaticScale");
  if (scale.getNumElements() == rows && lastDim(scale) == 1)
    return std::string("llmc_kernels::kTokenScaleInput");
  return failure();
}

/// add_rms_norm (a, b, weight -> sum, y), add_rms_norm_quantize (a, b,
/// weight, scale -> sum, q), rms_norm_quantize (x, weight, scale -> q) and
/// the _quantize_dynamic forms (no scale input; codes and per-token scales
/// [rows, 1] out): the sum rounds to its type and the normalized row to the
/// norm's (the input's) type before quantization, as the unfused steps
/// store them.
FailureOr<InstanceOrSkip> instantiateFusedNorm(plan::ComputeOp step,
                                               const StepBuffers &buffers,
                                               const Target &) {
  llvm::StringRef name = step.getName();
  bool hasAdd = name.starts_with("add_");
  bool quantized = name.ends_with("_quantize");
  bool dynamic = name.ends_with("_quantize_dynamic");
  unsigned weightIndex = hasAdd ? 2 : 1;
  unsigned numOutputs = (hasAdd ? 1 : 0) + (dynamic ? 2 : 1);
  if (buffers.inputs.size() != weightIndex + 1 + (quantized ? 1 : 0) ||
      buffers.outputs.size() != numOutputs)
    return step.emitError("'")
           << name << "' expects " << weightIndex + 1 + (quantized ? 1 : 0)
           << " inputs and " << numOutputs << " outputs";
  MemRefType input = buffers.input(0);
  Type inType = input.getElementType();
  if (hasAdd && (buffers.input(1).getElementType() != inType ||
                 buffers.output(0).getElementType() != inType))
    return InstanceOrSkip(NotGenerated{"mixed types in the residual add"});
  auto result = buffers.output(numOutputs - (dynamic ? 2 : 1));
  int64_t columns = lastDim(input);
  int64_t rows = input.getNumElements() / columns;
  if (columns % 2 != 0)
    return InstanceOrSkip(NotGenerated{"odd row width"});
  auto in = typeOf(step, inType);
  auto weight = typeOf(step, buffers.input(weightIndex).getElementType());
  auto out = typeOf(step, result.getElementType());
  if (failed(in) || failed(weight) || failed(out))
    return failure();
  std::string mode = "llmc_kernels::kNoQuant";
  std::string outType = *out, quantType = "signed char";
  if (quantized) {
    FailureOr<std::string> scaleMode =
        staticScaleMode(buffers.input(weightIndex + 1), rows);
    if (failed(scaleMode))
      return InstanceOrSkip(NotGenerated{"block-wise activation scales"});
    mode = *scaleMode;
    outType = *in; // the norm's own result type, rounded through
    quantType = *out;
  } else if (dynamic) {
    mode = "llmc_kernels::kDynamicScale";
    outType = *in;
    quantType = *out;
  }
  int64_t threads = rowBlockThreads(columns);
  std::string parameters = "const " + *in + " *input, ";
  if (hasAdd)
    parameters += "const " + *in + " *residual, ";
  parameters += "const " + *weight + " *weight, ";
  if (quantized)
    parameters += "const float *scale, ";
  if (hasAdd)
    parameters += *in + " *sum, ";
  parameters += *out + (quantized || dynamic ? " *quantized" : " *output");
  if (dynamic)
    parameters += ", float *scales";
  parameters += ", long long rows";
  std::string body;
  llvm::raw_string_ostream os(body);
  os << "  llmc_kernels::rmsNormRows<" << *in << ", " << *weight << ", "
     << outType << ", " << quantType << ", " << columns << ", " << threads
     << ", " << (hasAdd ? "true" : "false") << ", " << mode << ">(input, "
     << (hasAdd ? "residual, sum" : "nullptr, nullptr") << ", weight, "
     << floatLiteral(numberParameter(step, "epsilon", 1e-5)) << ", "
     << floatLiteral(numberParameter(step, "weight_offset", 0.0)) << ", "
     << (quantized || dynamic
             ? "static_cast<" + outType + " *>(nullptr), quantized, " +
                   (dynamic ? "nullptr, scales" : "scale, nullptr")
             : std::string("output, nullptr, nullptr, nullptr"))
     << ", static_cast<int>(rows));\n";
  return InstanceOrSkip(
      singleEntry(name, (name + "_" + llvm::Twine(columns)).str(), {"Norm.cuh"},
                  GridRule::TokenRows, threads, columns, parameters, body));
}

/// gated_activation (packed [rows, 2 * cols] = [gate | up] -> y) and
/// gated_activation_quantize (packed, scale -> q): act(gate) rounds to the
/// packed type, the product to the mul's (the packed) type before
/// quantization.
FailureOr<InstanceOrSkip> instantiateGatedActivation(plan::ComputeOp step,
                                                     const StepBuffers &buffers,
                                                     const Target &) {
  llvm::StringRef name = step.getName();
  bool quantized = name.ends_with("_quantize");
  if (buffers.inputs.size() != (quantized ? 2u : 1u) ||
      buffers.outputs.size() != 1)
    return step.emitError("'") << name << "' expects " << (quantized ? 2 : 1)
                               << " inputs and 1 output";
  MemRefType packed = buffers.input(0), result = buffers.output(0);
  int64_t columns = lastDim(result);
  int64_t rows = result.getNumElements() / columns;
  if (lastDim(packed) != 2 * columns || columns % 2 != 0)
    return InstanceOrSkip(NotGenerated{"packed input is not [rows, 2 * cols]"});
  std::string activation = stringParameter(step, "activation", "silu");
  std::string approximation = stringParameter(step, "approximation", "none");
  std::string op;
  if (activation == "silu")
    op = "llmc_kernels::kSilu";
  else if (activation == "gelu")
    op = approximation == "tanh" ? "llmc_kernels::kGeluTanh"
                                 : "llmc_kernels::kGeluErf";
  else
    return step.emitError("unknown activation '") << activation << "'";
  auto in = typeOf(step, packed.getElementType());
  auto out = typeOf(step, result.getElementType());
  if (failed(in) || failed(out))
    return failure();
  std::string mode = "llmc_kernels::kNoQuant";
  std::string outType = *out, quantType = "signed char";
  if (quantized) {
    FailureOr<std::string> scaleMode = staticScaleMode(buffers.input(1), rows);
    if (failed(scaleMode))
      return InstanceOrSkip(NotGenerated{"block-wise activation scales"});
    mode = *scaleMode;
    outType = *in;
    quantType = *out;
  }
  int64_t threads = rowBlockThreads(columns);
  std::string parameters =
      "const " + *in + " *packed, " +
      (quantized ? "const float *scale, " + *out + " *quantized"
                 : *out + " *output") +
      ", long long rows";
  std::string stride = std::to_string(2 * columns);
  std::string body =
      "  llmc_kernels::gatedRows<" + *in + ", " + *in + ", " + outType + ", " +
      quantType + ", " + std::to_string(columns) + ", " +
      std::to_string(threads) + ", " + op + ", " + mode + ">(packed, " +
      stride + ", packed + " + std::to_string(columns) + ", " + stride + ", " +
      (quantized ? "static_cast<" + outType + " *>(nullptr), quantized, scale"
                 : std::string("output, nullptr, nullptr")) +
      ", nullptr, static_cast<int>(rows));\n";
  return InstanceOrSkip(singleEntry(
      name, (name + "_" + llvm::Twine(columns)).str(), {"Elementwise.cuh"},
      GridRule::TokenRows, threads, columns, parameters, body));
}

//===----------------------------------------------------------------------===//
// Fused kinds without a GEMM: the norm and gated forms with dynamic
// quantization, Gemma's sandwich norm, rope_kv_write, cached attention and
// elementwise programs
//===----------------------------------------------------------------------===//

/// gated_activation_quantize_dynamic (packed -> codes, scales [rows, 1]):
/// act(gate) rounds to the packed type, the product to `product_dtype`
/// (where the unfused mul stores it), then per-token quantization.
FailureOr<InstanceOrSkip>
instantiateGatedActivationDynamic(plan::ComputeOp step,
                                  const StepBuffers &buffers, const Target &) {
  if (buffers.inputs.size() != 1 || buffers.outputs.size() != 2)
    return step.emitError("'gated_activation_quantize_dynamic' expects 1 "
                          "input and 2 outputs");
  MemRefType packed = buffers.input(0), codes = buffers.output(0);
  int64_t columns = lastDim(codes);
  if (lastDim(packed) != 2 * columns || columns % 2 != 0)
    return InstanceOrSkip(NotGenerated{"packed input is not [rows, 2 * cols]"});
  std::string activation = stringParameter(step, "activation", "silu");
  std::string approximation = stringParameter(step, "approximation", "none");
  std::string op = activation == "silu"      ? "llmc_kernels::kSilu"
                   : approximation == "tanh" ? "llmc_kernels::kGeluTanh"
                                             : "llmc_kernels::kGeluErf";
  if (activation != "silu" && activation != "gelu")
    return step.emitError("unknown activation '") << activation << "'";
  std::string productName = stringParameter(step, "product_dtype", "");
  std::string product = productName == "f32"    ? "float"
                        : productName == "bf16" ? "llmc_kernels::bf16_t"
                        : productName == "f16"  ? "llmc_kernels::f16_t"
                                                : "";
  if (product.empty())
    return step.emitError("product_dtype '")
           << productName << "' is not f32, f16 or bf16";
  auto in = typeOf(step, packed.getElementType());
  auto quant = typeOf(step, codes.getElementType());
  if (failed(in) || failed(quant))
    return failure();
  int64_t threads = rowBlockThreads(columns);
  std::string stride = std::to_string(2 * columns);
  std::string body =
      "  llmc_kernels::gatedRows<" + *in + ", " + *in + ", " + product + ", " +
      *quant + ", " + std::to_string(columns) + ", " + std::to_string(threads) +
      ", " + op + ", llmc_kernels::kDynamicScale>(packed, " + stride +
      ", packed + " + std::to_string(columns) + ", " + stride +
      ", static_cast<" + product +
      " *>(nullptr), quantized, nullptr, scales, static_cast<int>(rows));\n";
  return InstanceOrSkip(singleEntry(
      step.getName(), (step.getName() + "_" + llvm::Twine(columns)).str(),
      {"Elementwise.cuh"}, GridRule::TokenRows, threads, columns,
      "const " + *in + " *packed, " + *quant +
          " *quantized, float *scales, long long rows",
      body));
}

/// rms_norm_add_rms_norm (branch, branch_weight, residual, weight -> sum,
/// y): Gemma's branch norm, residual add and next norm in one pass.
FailureOr<InstanceOrSkip> instantiateNormAddNorm(plan::ComputeOp step,
                                                 const StepBuffers &buffers,
                                                 const Target &) {
  if (buffers.inputs.size() != 4 || buffers.outputs.size() != 2)
    return step.emitError(
        "'rms_norm_add_rms_norm' expects 4 inputs and 2 outputs");
  int64_t columns = lastDim(buffers.input(0));
  if (columns % 2 != 0)
    return InstanceOrSkip(NotGenerated{"odd row width"});
  if (buffers.input(1).getElementType() != buffers.input(3).getElementType())
    return InstanceOrSkip(NotGenerated{"norm weights of different types"});
  auto branch = typeOf(step, buffers.input(0).getElementType());
  auto weight = typeOf(step, buffers.input(1).getElementType());
  auto residual = typeOf(step, buffers.input(2).getElementType());
  auto sum = typeOf(step, buffers.output(0).getElementType());
  auto out = typeOf(step, buffers.output(1).getElementType());
  if (failed(branch) || failed(weight) || failed(residual) || failed(sum) ||
      failed(out))
    return failure();
  int64_t threads = rowBlockThreads(columns);
  std::string body =
      "  llmc_kernels::rmsNormAddRmsNormRows<" + *branch + ", " + *residual +
      ", " + *weight + ", " + *sum + ", " + *out + ", " +
      std::to_string(columns) + ", " + std::to_string(threads) +
      ">(branch, branch_weight, " +
      floatLiteral(numberParameter(step, "branch_epsilon", 1e-6)) +
      ", residual, weight, " +
      floatLiteral(numberParameter(step, "epsilon", 1e-6)) +
      ", sum, output, static_cast<int>(rows));\n";
  return InstanceOrSkip(
      singleEntry("rms_norm_add_rms_norm",
                  "rms_norm_add_rms_norm_" + std::to_string(columns),
                  {"Norm.cuh"}, GridRule::TokenRows, threads, columns,
                  "const " + *branch + " *branch, const " + *weight +
                      " *branch_weight, const " + *residual +
                      " *residual, const " + *weight + " *weight, " + *sum +
                      " *sum, " + *out + " *output, long long rows",
                  body));
}

/// What the kernels that touch the KV cache bake in: its shape and its
/// storage, from the step's `kv_cache_dtype` or the packed rows of the
/// layer's rope_kv_write step (the engine and PlanToSpec type the cache the
/// same way).
struct KVCacheShape {
  int64_t kvHeads = 0, headDim = 0;
  std::string storage;
};

/// The rope_kv_write step of `layer` in the rank holding `step` (itself
/// when it is one).
plan::ComputeOp ropeKVWriteOfLayer(plan::ComputeOp step, int64_t layer) {
  if (step.getName() == "rope_kv_write")
    return step;
  plan::ComputeOp found;
  step->getParentOp()->walk([&](plan::ComputeOp other) {
    if (!found && other.getName() == "rope_kv_write" &&
        static_cast<int64_t>(numberParameter(other, "layer", -1)) == layer)
      found = other;
  });
  return found;
}

FailureOr<std::variant<KVCacheShape, NotGenerated>>
kvCacheShape(plan::ComputeOp step) {
  using Result = std::variant<KVCacheShape, NotGenerated>;
  int64_t layer = static_cast<int64_t>(numberParameter(step, "layer", -1));
  plan::ComputeOp write = ropeKVWriteOfLayer(step, layer);
  if (!write)
    return Result(NotGenerated{"no rope_kv_write step of layer " +
                               std::to_string(layer) +
                               " describes its KV cache"});
  KVCacheShape shape;
  shape.kvHeads =
      static_cast<int64_t>(numberParameter(write, "num_kv_heads", 0));
  shape.headDim = static_cast<int64_t>(numberParameter(write, "head_dim", 0));
  std::string quantized = stringParameter(step, "kv_cache_dtype", "");
  if (quantized.empty())
    quantized = stringParameter(write, "kv_cache_dtype", "");
  if (quantized == "i8") {
    shape.storage = "signed char";
  } else if (quantized == "f8E4M3FN") {
    shape.storage = "llmc_kernels::e4m3_t";
  } else if (!quantized.empty()) {
    return step.emitError("kv_cache_dtype '")
           << quantized << "' is not i8 or f8E4M3FN";
  } else {
    Type packed =
        cast<MemRefType>(write.getInputs()[0].getType()).getElementType();
    if (!isFloatStorage(packed))
      return Result(NotGenerated{"a KV cache of non-float packed rows"});
    shape.storage = *storageType(packed);
  }
  if (shape.kvHeads <= 0 || shape.headDim <= 0)
    return write.emitError("rope_kv_write needs positive num_kv_heads and "
                           "head_dim parameters");
  return Result(shape);
}

/// rope_kv_write (packed QKV [T, (H + 2 KV) * D], positions [, q_norm,
/// k_norm] -> q [T, H, D]), with the forward call's batch and the step's
/// layer as runtime arguments: one instance serves every layer.
FailureOr<InstanceOrSkip> instantiateRopeKVWrite(plan::ComputeOp step,
                                                 const StepBuffers &buffers,
                                                 const Target &) {
  if ((buffers.inputs.size() != 2 && buffers.inputs.size() != 4) ||
      buffers.outputs.size() != 1)
    return step.emitError("'rope_kv_write' expects the packed QKV rows, the "
                          "positions, optionally the q and k norm weights, "
                          "and the query out");
  bool headNorm = buffers.inputs.size() == 4;
  int64_t heads = static_cast<int64_t>(numberParameter(step, "num_heads", 0));
  FailureOr<std::variant<KVCacheShape, NotGenerated>> cache =
      kvCacheShape(step);
  if (failed(cache))
    return failure();
  if (auto *skip = std::get_if<NotGenerated>(&*cache))
    return InstanceOrSkip(*skip);
  const KVCacheShape &shape = std::get<KVCacheShape>(*cache);
  int64_t kvHeads = shape.kvHeads, headDim = shape.headDim;
  MemRefType packed = buffers.input(0), query = buffers.output(0);
  if (lastDim(packed) != (heads + 2 * kvHeads) * headDim ||
      query.getRank() != 3 || query.getShape()[1] != heads ||
      query.getShape()[2] != headDim)
    return step.emitError("rope_kv_write: the packed rows are not [q heads | "
                          "k heads | v heads] of the query's head size");
  FailureOr<RopeTables> tables = ropeTables(step, headDim);
  if (failed(tables))
    return failure();
  auto in = typeOf(step, packed.getElementType());
  auto out = typeOf(step, query.getElementType());
  if (failed(in) || failed(out))
    return failure();
  std::string norm = "float";
  if (headNorm) {
    FailureOr<std::string> spelled =
        typeOf(step, buffers.input(2).getElementType());
    if (failed(spelled))
      return failure();
    norm = *spelled;
  }
  int64_t threads = std::clamp<int64_t>(32 * (heads + 2 * kvHeads), 32, 256);
  std::string parameters = "const " + *in + " *packed, const int *positions, ";
  if (headNorm)
    parameters +=
        "const " + norm + " *query_norm, const " + norm + " *key_norm, ";
  parameters += *out + " *query, long long rows, const LlmcDeviceBatch "
                       "*batch, long long layer";
  std::string body;
  llvm::raw_string_ostream os(body);
  os << "  llmc_kernels::ropeKVWriteRows<" << *in << ", " << norm << ", "
     << *out << ", " << shape.storage << ", " << heads << ", " << kvHeads
     << ", " << headDim << ", " << tables->rotaryDim << ", "
     << tables->styleConstant() << ", " << kKVCacheBlockTokens << ", "
     << threads << ", " << (headNorm ? "true" : "false")
     << ">(packed, positions, "
     << (headNorm ? "query_norm, key_norm, " : "nullptr, nullptr, ")
     << floatLiteral(numberParameter(step, "epsilon", 1e-6))
     << ", kInverseFrequencies, "
     << floatLiteral(tables->frequencies.attentionFactor)
     << ", query, batch, layer, static_cast<int>(rows));\n";
  Instance instance = singleEntry(
      "rope_kv_write",
      "rope_kv_write_" + std::to_string(heads) + "x" + std::to_string(headDim),
      {"device_batch.h", "Rope.cuh", "KVCache.cuh", "RopeKVWrite.cuh"},
      GridRule::TokenRows, threads, heads * headDim, parameters, body,
      tables->prelude);
  instance.entries[0].extraArguments = {ExtraArgument::Batch,
                                        ExtraArgument::Layer};
  return InstanceOrSkip(instance);
}

/// Decode (T at most this) runs split-K; prefill runs query tiles.
constexpr int64_t kAttentionDecodeMaxTokens = 16;
/// Key ranges split this many ways in decode.
constexpr int64_t kAttentionSplits = 16;
constexpr int64_t kAttentionBlockThreads = 128;

/// cached_attention (q [T, H, D] -> o [T, H, D]) and
/// cached_attention_quantize_dynamic (q -> codes [T, H * D], scales [T, 1]):
/// entries `_decode` (partials into scratch) and `_combine` for T <= 16,
/// `_prefill` above (for the quantized form writing rows of q's type into
/// scratch, which `_quantize` quantizes per token).
FailureOr<InstanceOrSkip> instantiateCachedAttention(plan::ComputeOp step,
                                                     const StepBuffers &buffers,
                                                     const Target &) {
  bool quantized = step.getName() == "cached_attention_quantize_dynamic";
  if (buffers.inputs.size() != 1 ||
      buffers.outputs.size() != (quantized ? 2u : 1u))
    return step.emitError("'")
           << step.getName() << "' expects the query and "
           << (quantized ? "codes and scales" : "the output") << " out";
  FailureOr<std::variant<KVCacheShape, NotGenerated>> cache =
      kvCacheShape(step);
  if (failed(cache))
    return failure();
  if (auto *skip = std::get_if<NotGenerated>(&*cache))
    return InstanceOrSkip(*skip);
  const KVCacheShape &shape = std::get<KVCacheShape>(*cache);
  MemRefType query = buffers.input(0);
  if (query.getRank() != 3 || query.getShape()[2] != shape.headDim ||
      query.getShape()[1] % shape.kvHeads != 0)
    return step.emitError("cached attention: the query is not [tokens, heads, ")
           << shape.headDim << "] with heads a multiple of " << shape.kvHeads;
  int64_t maxTokens = query.getShape()[0], heads = query.getShape()[1];
  int64_t headDim = shape.headDim, width = heads * headDim;
  if (!step->hasAttr("scale"))
    return step.emitError("cached attention needs a 'scale' parameter");
  auto q = typeOf(step, query.getElementType());
  auto result = typeOf(step, buffers.output(0).getElementType());
  if (failed(q) || failed(result))
    return failure();
  if (quantized && (width % 2 != 0 || lastDim(buffers.output(0)) != width))
    return InstanceOrSkip(NotGenerated{"codes are not [tokens, heads * dim]"});
  int64_t window =
      static_cast<int64_t>(numberParameter(step, "sliding_window", 0));
  double softcap = numberParameter(step, "softcap", 0.0);
  std::string scale = floatLiteral(numberParameter(step, "scale", 1.0));
  std::string softcapArgs = scale + ", " + floatLiteral(softcap);
  std::string shapeArgs =
      std::to_string(heads) + ", " + std::to_string(shape.kvHeads) + ", " +
      std::to_string(headDim) + ", " + std::to_string(kKVCacheBlockTokens);
  std::string flags =
      std::to_string(window) + ", " + (softcap > 0.0 ? "true" : "false");
  // What the attention itself stores: the output, or rows of q's type
  // (where the unfused attention stores them) for the quantization.
  std::string rowType = quantized ? *q : *result;
  std::string buffersList = "const " + *q + " *query, " +
                            (quantized ? *result + " *quantized, float *scales"
                                       : *result + " *output");
  std::string quantArgs = quantized ? "quantized, scales" : "nullptr, nullptr";

  Instance instance;
  instance.kind = step.getName().str();
  instance.stem =
      (step.getName() + "_" + llvm::Twine(heads) + "x" + llvm::Twine(headDim))
          .str();
  instance.headers = {"device_batch.h", "KVCache.cuh", "Attention.cuh"};
  if (quantized)
    instance.headers.push_back("Quantize.cuh");
  int64_t decodeTokens = std::min(maxTokens, kAttentionDecodeMaxTokens);
  int64_t partialBytes = decodeTokens * heads * kAttentionSplits *
                         (headDim + 2) * static_cast<int64_t>(sizeof(float));
  auto addEntry = [&](llvm::StringRef suffix, GridRule grid, int64_t threads,
                      int64_t extent, int64_t tokenMultiple,
                      std::vector<ExtraArgument> extras, int64_t scratchBytes,
                      int64_t minTokens, int64_t maxTokensOfEntry,
                      llvm::StringRef body) {
    std::string parameters = buffersList + ", long long tokens";
    for (ExtraArgument extra : extras)
      parameters += extra == ExtraArgument::Batch
                        ? ", const LlmcDeviceBatch *batch"
                    : extra == ExtraArgument::Layer ? ", long long layer"
                                                    : ", void *scratch";
    KernelEntry entry;
    entry.grid = grid;
    entry.blockThreads = threads;
    entry.gridExtent = extent;
    entry.tokenMultiple = tokenMultiple;
    entry.tokenArguments = {1};
    entry.parameters = parameters;
    entry.minTokens = minTokens;
    entry.maxTokens = maxTokensOfEntry;
    entry.extraArguments = std::move(extras);
    entry.scratchBytes = scratchBytes;
    instance.addEntry(std::move(entry), body, suffix);
  };
  std::string splits = std::to_string(kAttentionSplits);
  std::string threads = std::to_string(kAttentionBlockThreads);
  addEntry("_decode", GridRule::AttentionSplits, kAttentionBlockThreads,
           kAttentionSplits, heads,
           {ExtraArgument::Batch, ExtraArgument::Layer, ExtraArgument::Scratch},
           partialBytes, 0, kAttentionDecodeMaxTokens,
           "  llmc_kernels::attentionDecodePartials<" + *q + ", " +
               shape.storage + ", " + shapeArgs + ", " + splits + ", " +
               threads + ", " + flags + ">(query, " + softcapArgs +
               ", batch, layer, static_cast<float *>(scratch), "
               "static_cast<int>(tokens));\n");
  addEntry("_combine", GridRule::TokenRows, kAttentionBlockThreads, width, 1,
           {ExtraArgument::Scratch}, partialBytes, 0, kAttentionDecodeMaxTokens,
           "  llmc_kernels::attentionCombineRows<" + rowType + ", " +
               (quantized ? *result : std::string("signed char")) + ", " +
               (quantized ? "llmc_kernels::kDynamicScale"
                          : "llmc_kernels::kNoQuant") +
               ", " + std::to_string(heads) + ", " + std::to_string(headDim) +
               ", " + splits + ", " + threads +
               ">(static_cast<const float *>(scratch), " +
               (quantized ? "static_cast<" + rowType + " *>(nullptr)"
                          : std::string("output")) +
               ", " + quantArgs + ", static_cast<int>(tokens));\n");
  std::vector<ExtraArgument> prefillExtras = {ExtraArgument::Batch,
                                              ExtraArgument::Layer};
  int64_t rowBytes = maxTokens * width * query.getElementTypeBitWidth() / 8;
  if (quantized)
    prefillExtras.push_back(ExtraArgument::Scratch);
  addEntry("_prefill", GridRule::AttentionQueryTiles, kAttentionBlockThreads,
           heads, 1, prefillExtras, quantized ? rowBytes : 0,
           kAttentionDecodeMaxTokens + 1, 0,
           "  llmc_kernels::attentionPrefillTiles<" + *q + ", " + rowType +
               ", " + shape.storage + ", " + shapeArgs + ", " +
               std::to_string(kAttentionQueryTile) + ", " + threads + ", " +
               flags + ">(query, " + softcapArgs + ", batch, layer, " +
               (quantized ? "static_cast<" + rowType + " *>(scratch)"
                          : std::string("output")) +
               ", static_cast<int>(tokens));\n");
  if (quantized) {
    int64_t rowThreads = rowBlockThreads(width);
    addEntry("_quantize", GridRule::TokenRows, rowThreads, width, 1,
             {ExtraArgument::Scratch}, rowBytes, kAttentionDecodeMaxTokens + 1,
             0,
             "  llmc_kernels::quantizeRows<" + *q + ", " + *result + ", " +
                 std::to_string(width) + ", " + std::to_string(rowThreads) +
                 ", llmc_kernels::kDynamicScale>(static_cast<const " + *q +
                 " *>(scratch), nullptr, quantized, scales, "
                 "static_cast<int>(tokens));\n");
  }
  return InstanceOrSkip(instance);
}

/// elementwise (inputs -> output): the step's `program`, parsed by the CPU
/// backend's own parser, as a constant table the kernel runs per element.
FailureOr<InstanceOrSkip> instantiateElementwise(plan::ComputeOp step,
                                                 const StepBuffers &buffers,
                                                 const Target &) {
  if (buffers.inputs.empty() || buffers.outputs.size() != 1)
    return step.emitError("'elementwise' expects inputs and one output");
  std::string text = stringParameter(step, "program", "");
  std::vector<cpu::ElementwiseInstruction> program;
  std::string message;
  if (!cpu::parseElementwiseProgram(
          text, static_cast<int64_t>(buffers.inputs.size()), program, message))
    return step.emitError("elementwise: ") << message;
  auto typeCode = [](Type type) -> int {
    if (type.isF32())
      return 0;
    if (type.isBF16())
      return 1;
    if (type.isF16())
      return 2;
    return -1;
  };
  MemRefType output = buffers.output(0);
  auto out = typeOf(step, output.getElementType());
  if (failed(out))
    return failure();
  if (typeCode(output.getElementType()) < 0)
    return InstanceOrSkip(NotGenerated{"a non-float elementwise output"});
  std::string prelude, parameters, inputs, types;
  llvm::raw_string_ostream os(prelude);
  for (auto [index, value] : llvm::enumerate(buffers.inputs)) {
    Type element = cast<MemRefType>(value.getType()).getElementType();
    auto spelled = typeOf(step, element);
    if (failed(spelled))
      return failure();
    if (typeCode(element) < 0 ||
        cast<MemRefType>(value.getType()).getNumElements() !=
            output.getNumElements())
      return InstanceOrSkip(
          NotGenerated{"non-float or broadcast elementwise inputs"});
    std::string name = "i" + std::to_string(index);
    parameters += "const " + *spelled + " *" + name + ", ";
    inputs += (index ? ", " : "") + name;
    types += (index ? ", " : "") + std::to_string(typeCode(element));
  }
  os << "__device__ const int kInputTypes[" << buffers.inputs.size() << "] = {"
     << types << "};\n";
  os << "__device__ const llmc_kernels::ElementwiseStep kProgram["
     << program.size() << "] = {\n";
  for (const cpu::ElementwiseInstruction &instruction : program) {
    int code = static_cast<int>(instruction.op);
    int resultType = instruction.resultDType == cpu::DType::BF16  ? 1
                     : instruction.resultDType == cpu::DType::F16 ? 2
                                                                  : 0;
    os << "    {" << code << ", {" << instruction.operands[0] << ", "
       << (instruction.numOperands > 1 ? instruction.operands[1] : 0) << "}, "
       << resultType << ", " << floatLiteral(instruction.constant) << "},\n";
  }
  os << "};\n";
  // The table's op codes are cpu::ElementwiseInstruction::Op's order.
  static_assert(
      static_cast<int>(cpu::ElementwiseInstruction::Op::Convert) == 6,
      "ElementwiseOp in Elementwise.cuh follows cpu::ElementwiseInstruction");
  std::string body = "  const void *const inputs[] = {" + inputs +
                     "};\n  llmc_kernels::elementwiseProgram<" + *out + ", " +
                     std::to_string(buffers.inputs.size()) + ", " +
                     std::to_string(program.size()) +
                     ">(inputs, kInputTypes, kProgram, output, count);\n";
  return InstanceOrSkip(singleEntry(
      "elementwise", "elementwise", {"Elementwise.cuh"}, GridRule::FlatElements,
      kFlatBlockThreads, elementsPerRow(output),
      parameters + *out + " *output, long long count", body, prelude));
}

// The fused steps that hold a GEMM (defined with the generated GEMMs below).
FailureOr<InstanceOrSkip>
instantiateLinearBias(plan::ComputeOp, const StepBuffers &, const Target &);
FailureOr<InstanceOrSkip> instantiateLinearGatedActivation(plan::ComputeOp,
                                                           const StepBuffers &,
                                                           const Target &);

const llvm::StringMap<Instantiator> &computeInstantiators() {
  static const llvm::StringMap<Instantiator> table = {
      {"rms_norm", instantiateNorm},
      {"layer_norm", instantiateNorm},
      {"rope", instantiateRope},
      {"softmax", instantiateSoftmax},
      {"silu", instantiateUnary},
      {"gelu", instantiateUnary},
      {"scale", instantiateUnary},
      {"convert", instantiateUnary},
      {"add", instantiateBinary},
      {"mul", instantiateBinary},
      {"bias_add", instantiateBiasAdd},
      {"embedding", instantiateEmbedding},
      {"quantize", instantiateQuantize},
      {"quantize_dynamic", instantiateQuantize},
      {"dequantize", instantiateDequantize},
      {"add_rms_norm", instantiateFusedNorm},
      {"add_rms_norm_quantize", instantiateFusedNorm},
      {"rms_norm_quantize", instantiateFusedNorm},
      {"gated_activation", instantiateGatedActivation},
      {"gated_activation_quantize", instantiateGatedActivation},
      // Fused kinds without a GEMM.
      {"rms_norm_quantize_dynamic", instantiateFusedNorm},
      {"add_rms_norm_quantize_dynamic", instantiateFusedNorm},
      {"rms_norm_add_rms_norm", instantiateNormAddNorm},
      {"gated_activation_quantize_dynamic", instantiateGatedActivationDynamic},
      {"rope_kv_write", instantiateRopeKVWrite},
      {"cached_attention", instantiateCachedAttention},
      {"cached_attention_quantize_dynamic", instantiateCachedAttention},
      {"elementwise", instantiateElementwise},
      // Fused steps with a GEMM: generated GEMMs with an epilogue.
      {"linear_bias", instantiateLinearBias},
      {"linear_gated_activation", instantiateLinearGatedActivation},
      {"linear_gated_activation_quantize", instantiateLinearGatedActivation},
      {"linear_gated_activation_quantize_dynamic",
       instantiateLinearGatedActivation},
  };
  return table;
}

/// Why the CPU-style steps without a template get none.
std::string notGeneratedReason(llvm::StringRef name) {
  if (name == "attention")
    return "paged attention is a hand-written kernel of the CUDA backend";
  if (name == "matmul")
    return "batched matmul goes to cuBLASLt";
  return "no CUDA template for this step yet";
}

//===----------------------------------------------------------------------===//
// Generated GEMMs: plan.gemm with backend = generated, and the fused steps
// that hold a GEMM (linear_bias, linear_gated_activation*), one template per
// mode (GemmInt8, GemmFp8, GemmWeightOnly) with the step's epilogue
//===----------------------------------------------------------------------===//

/// A GEMM's buffers (null when absent) and alpha. B is [N, K].
struct GemmOperands {
  Value a, b, scaleA, scaleB, zeroB;
  float alpha = 1.0f;
};

/// What the kernel does with the GEMM's f32 values (GemmEpilogue.cuh).
struct GemmEpilogueSpec {
  /// The C++ type and brace initializer of the epilogue object, written in
  /// the entry's parameter names.
  std::string type, initializer;
  /// The epilogue's buffers: their C parameters (each ending in ", ") and
  /// values, after the GEMM's.
  std::string parameters;
  SmallVector<Value> buffers;
  bool gated = false;
  /// With a dynamically quantized gated product: the stage that quantizes
  /// the rows the GEMM left in scratch, and the scratch it needs.
  std::string quantizeStage;
  int64_t scratchBytes = 0;
};

/// The i4 weight's storage as GemmWeightOnly.cuh spells it.
FailureOr<std::string> weightStorageType(Type type) {
  if (type.isSignlessInteger(4))
    return std::string("llmc_kernels::i4x2_t");
  return storageType(type);
}

FailureOr<InstanceOrSkip>
instantiateGemmKernel(Operation *step, const GemmOperands &gemm,
                      const GemmEpilogueSpec &epilogue, const Target &target) {
  auto aType = cast<MemRefType>(gemm.a.getType());
  auto bType = cast<MemRefType>(gemm.b.getType());
  Type aElement = aType.getElementType(), bElement = bType.getElementType();
  bool int8 = aElement.isSignlessInteger(8) && bElement == aElement;
  bool fp8 = isa<Float8E4M3FNType>(aElement) && bElement == aElement;
  bool floatA = isFloatStorage(aElement);
  bool weightOnly = floatA && (bElement.isSignlessInteger(8) ||
                               bElement.isSignlessInteger(4));
  bool floatGemm = floatA && isFloatStorage(bElement);
  if (!int8 && !fp8 && !weightOnly && !floatGemm)
    return InstanceOrSkip(NotGenerated{
        "no generated GEMM for these operand types (fp8 weights with float "
        "activations, mixed W8A8)"});
  if (fp8 && target.fp8 != UnitSupport::Native)
    return step->emitError() << target.describe()
                             << " has no FP8 tensor cores for this f8E4M3FN "
                                "GEMM; use --quant=int8";
  if (aType.getRank() != 2 || bType.getRank() != 2)
    return InstanceOrSkip(NotGenerated{"GEMM operands are not matrices"});
  int64_t k = aType.getShape()[1], n = bType.getShape()[0];
  if (bType.getShape()[1] != k)
    return step->emitError("GEMM weight is ")
           << bType << " but the input rows hold " << k << " elements";
  if (k % 32 != 0)
    return InstanceOrSkip(NotGenerated{"K is not a multiple of 32"});
  if (epilogue.gated && n % 2 != 0)
    return InstanceOrSkip(NotGenerated{"odd packed gate/up weight"});
  auto a = weightStorageType(aElement);
  auto b = weightStorageType(bElement);
  if (failed(a) || failed(b))
    return step->emitError("CUDA code generation has no storage type for "
                           "the GEMM's operands");
  auto elementsOf = [](Value value) {
    return value ? cast<MemRefType>(value.getType()).getNumElements() : 0;
  };

  // The scale arguments and the template flags of each mode.
  std::string flags;
  std::string prelude;
  int64_t group = 0; // weight elements per scale; 0: float weights
  if (int8 || fp8) {
    if (!gemm.scaleA || !gemm.scaleB || gemm.zeroB)
      return InstanceOrSkip(NotGenerated{"W8A8 GEMM without scale_a/scale_b"});
    flags = std::string(elementsOf(gemm.scaleA) > 1 ? "true" : "false") + ", " +
            (elementsOf(gemm.scaleB) > 1 ? "true" : "false");
  } else if (weightOnly) {
    if (!gemm.scaleB || gemm.scaleA)
      return InstanceOrSkip(NotGenerated{"weight-only GEMM without scale_b"});
    auto scaleType = cast<MemRefType>(gemm.scaleB.getType());
    group = k;
    bool perRow = false;
    if (scaleType.getNumElements() > 1) {
      int64_t scaleColumns = lastDim(scaleType);
      if (scaleType.getRank() != 2 || scaleType.getShape()[0] != n ||
          k % scaleColumns != 0)
        return InstanceOrSkip(NotGenerated{"scale_b is not [N, K/G]"});
      group = k / scaleColumns;
      perRow = true;
    }
    if (gemm.zeroB && elementsOf(gemm.zeroB) != scaleType.getNumElements())
      return InstanceOrSkip(NotGenerated{"zero_b differs from scale_b"});
    flags = std::to_string(group) + ", " + (perRow ? "true" : "false") + ", " +
            (gemm.zeroB ? "true" : "false");
  } else {
    if (gemm.scaleA || gemm.scaleB || gemm.zeroB)
      return InstanceOrSkip(NotGenerated{"scales on a float GEMM"});
    flags = "0, false, false";
    // Float weights take the weight-only template's unscaled path.
    prelude = "__device__ const float kNoScale = 1.0f;\n";
  }

  // Parameters: the GEMM's buffers, the epilogue's, m, [scratch].
  std::string parameters = "const " + *a + " *a, const " + *b + " *b, ";
  SmallVector<Value> arguments = {gemm.a, gemm.b};
  for (auto [value, name, type] :
       {std::make_tuple(gemm.scaleA, "scale_a", "const float *"),
        std::make_tuple(gemm.scaleB, "scale_b", "const float *"),
        std::make_tuple(gemm.zeroB, "zero_b", "const signed char *")}) {
    if (!value)
      continue;
    parameters += std::string(type) + name + ", ";
    arguments.push_back(value);
  }
  parameters += epilogue.parameters + "long long m";
  llvm::append_range(arguments, epilogue.buffers);
  bool staged = !epilogue.quantizeStage.empty();
  if (staged)
    parameters += ", void *scratch";

  std::string shape = std::to_string(n) + ", " + std::to_string(k);
  std::string alpha = floatLiteral(gemm.alpha);
  std::string declareEpilogue =
      "  const " + epilogue.type + " epilogue{" + epilogue.initializer + "};\n";
  std::string gemmArguments;
  if (int8 || fp8)
    gemmArguments = "a, b, scale_a, scale_b, " + alpha + ", epilogue";
  else if (weightOnly)
    gemmArguments = std::string("a, b, scale_b, ") +
                    (gemm.zeroB ? "zero_b" : "nullptr") + ", " + alpha +
                    ", epilogue";
  else
    gemmArguments = "a, b, &kNoScale, nullptr, " + alpha + ", epilogue";
  gemmArguments += ", static_cast<int>(m)";

  Instance instance;
  instance.headers = {"Elementwise.cuh", "GemmEpilogue.cuh"};
  if (staged)
    instance.headers.push_back("Quantize.cuh");
  std::string typeName = int8 ? "i8" : fp8 ? "f8e4m3" : typeStem(bElement);
  instance.stem =
      "gemm_" + typeName + "_" + std::to_string(n) + "x" + std::to_string(k);
  instance.code = prelude;
  instance.arguments = arguments;
  auto addEntry = [&](GridRule grid, int64_t threads, int64_t extent,
                      const std::string &body, llvm::StringRef suffix,
                      int64_t minTokens, int64_t maxTokens) {
    KernelEntry entry;
    entry.grid = grid;
    entry.blockThreads = threads;
    entry.gridExtent = extent;
    entry.tokenArguments = {1};
    entry.parameters = parameters;
    entry.minTokens = minTokens;
    entry.maxTokens = maxTokens;
    if (staged) {
      entry.extraArguments = {ExtraArgument::Scratch};
      entry.scratchBytes = epilogue.scratchBytes;
    }
    instance.addEntry(std::move(entry), body, suffix);
  };
  // A GEMV's grid counts output columns, a tile grid weight rows.
  int64_t outputColumns = epilogue.gated ? n / 2 : n;
  if (int8) {
    instance.kind = "gemm_int8";
    instance.headers.push_back("GemmInt8.cuh");
    // The INT8 tensor cores (m16n8k32 s8) from sm_80 on; dp4a before.
    if (std::atoi(target.sm.c_str()) >= 80)
      addEntry(GridRule::Fp8GemmTiles, 128, n,
               declareEpilogue + "  llmc_kernels::gemmInt8TilesMma<" + shape +
                   ", " + flags + ">(" + gemmArguments + ");\n",
               "", kGemvMaxTokens + 1, 0);
    else
      addEntry(GridRule::Int8GemmTiles, 256, n,
               declareEpilogue + "  llmc_kernels::gemmInt8Tiles<" + shape +
                   ", " + flags + ">(" + gemmArguments + ");\n",
               "", kGemvMaxTokens + 1, 0);
    addEntry(GridRule::Int8GemvColumns, 128, outputColumns,
             declareEpilogue + "  llmc_kernels::gemvInt8Rows<" + shape +
                 ", 128, " + flags + ">(" + gemmArguments + ");\n",
             "_gemv", 0, kGemvMaxTokens);
  } else if (fp8) {
    instance.kind = "gemm_fp8";
    instance.headers.push_back("GemmInt8.cuh");
    instance.headers.push_back("GemmFp8.cuh");
    addEntry(GridRule::Fp8GemmTiles, 128, n,
             declareEpilogue + "  llmc_kernels::gemmFp8Tiles<" + shape + ", " +
                 flags + ">(" + gemmArguments + ");\n",
             "", 0, 0);
  } else {
    instance.kind = weightOnly ? "gemm_weight_only" : "gemm_float";
    instance.headers.push_back("GemmWeightOnly.cuh");
    // The widest lane load (16, 8 or 4 bytes) that stays in one scale group.
    int64_t perWord = bElement.isSignlessInteger(4)   ? 8
                      : bElement.isSignlessInteger(8) ? 4
                      : bElement.isF32()              ? 1
                                                      : 2;
    int64_t loadWords = 4;
    while (loadWords > 1 &&
           (k % (perWord * loadWords) != 0 ||
            (group != 0 && group % (perWord * loadWords) != 0)))
      loadWords /= 2;
    if (group != 0 && group % (perWord * loadWords) != 0)
      return InstanceOrSkip(
          NotGenerated{"scale groups of " + std::to_string(group) +
                       " elements split a 4-byte weight word"});
    std::string types = *a + ", " + *b + ", " + shape + ", " + flags;
    // f16/bf16 activations take the m16n8k16 tensor cores from sm_80 on
    // (codes q - zero are exact in 16 bits; float weights must be A's type).
    bool tensorCores = (aElement.isF16() || aElement.isBF16()) &&
                       std::atoi(target.sm.c_str()) >= 80 &&
                       (weightOnly ? group % 32 == 0 : bElement == aElement);
    if (tensorCores)
      addEntry(GridRule::Fp8GemmTiles, 128, n,
               declareEpilogue + "  llmc_kernels::gemmWeightTilesMma<" + types +
                   ">(" + gemmArguments + ");\n",
               "", kGemvMaxTokens + 1, 0);
    else
      addEntry(GridRule::Int8GemmTiles, 256, n,
               declareEpilogue + "  llmc_kernels::gemmWeightTiles<" + types +
                   ">(" + gemmArguments + ");\n",
               "", kGemvMaxTokens + 1, 0);
    addEntry(GridRule::Int8GemvColumns, 128, outputColumns,
             declareEpilogue + "  llmc_kernels::gemvWeightRows<" + types +
                 ", " + std::to_string(loadWords) + ", 128>(" + gemmArguments +
                 ");\n",
             "_gemv", 0, kGemvMaxTokens);
  }
  if (staged) {
    int64_t threads = rowBlockThreads(outputColumns);
    addEntry(GridRule::TokenRows, threads, outputColumns,
             epilogue.quantizeStage, "_quantize", 0, 0);
    // One block per token row (TokenRows), unlike the GEMM entries.
    instance.entries.back().tokenMultiple = 1;
  }
  return InstanceOrSkip(instance);
}

FailureOr<InstanceOrSkip> instantiateGemm(plan::GemmOp gemm,
                                          const Target &target) {
  auto cType = cast<MemRefType>(gemm.getC().getType());
  auto bType = cast<MemRefType>(gemm.getB().getType());
  if (isFloatStorage(bType.getElementType()))
    return InstanceOrSkip(
        NotGenerated{"float GEMMs go to cuBLASLt (or a fused step's kernel)"});
  if (!gemm.getTransposeB())
    return InstanceOrSkip(NotGenerated{"B is not [N, K]"});
  if (!isFloatStorage(cType.getElementType()))
    return InstanceOrSkip(NotGenerated{"the raw i32 accumulator output"});
  auto out = storageType(cType.getElementType());
  float beta = gemm.getBeta().convertToFloat();
  int64_t n = bType.getShape()[0];
  GemmEpilogueSpec epilogue;
  // beta != 0: C holds the residual (linear_residual) and is read back.
  epilogue.type = "llmc_kernels::StoreEpilogue<" + *out + ", " +
                  std::to_string(n) + ", " + (beta != 0.0f ? "true" : "false") +
                  ">";
  epilogue.initializer = "c, " + floatLiteral(beta);
  epilogue.parameters = *out + " *c, ";
  epilogue.buffers = {gemm.getC()};
  GemmOperands operands{gemm.getA(),      gemm.getB(),
                        gemm.getScaleA(), gemm.getScaleB(),
                        gemm.getZeroB(),  gemm.getAlpha().convertToFloat()};
  return instantiateGemmKernel(gemm, operands, epilogue, target);
}

/// x, w and the GEMM's scales of a fused step, from its inputs: W8A8
/// brings (scale_a, scale_b), weight-only (scale_b [, zero_b]) after x and
/// w; `trailing` inputs after them belong to the epilogue.
FailureOr<GemmOperands> fusedGemmOperands(plan::ComputeOp step,
                                          const StepBuffers &buffers,
                                          unsigned trailing) {
  if (buffers.inputs.size() < 2 + trailing)
    return step.emitError("'") << step.getName() << "' expects x, w"
                               << (trailing ? " and its epilogue inputs" : "");
  GemmOperands gemm;
  gemm.a = buffers.inputs[0];
  gemm.b = buffers.inputs[1];
  ArrayRef<Value> scales =
      ArrayRef<Value>(buffers.inputs).drop_front(2).drop_back(trailing);
  bool w8a8 = !isFloatStorage(buffers.input(0).getElementType());
  if (w8a8 ? scales.size() != 2 : scales.size() > 2)
    return step.emitError("'")
           << step.getName() << "' has " << scales.size()
           << " GEMM scale inputs; expected "
           << (w8a8 ? "scale_a and scale_b" : "scale_b [and zero_b]");
  if (w8a8) {
    gemm.scaleA = scales[0];
    gemm.scaleB = scales[1];
  } else if (!scales.empty()) {
    gemm.scaleB = scales[0];
    if (scales.size() == 2)
      gemm.zeroB = scales[1];
  }
  return gemm;
}

/// linear_bias (x, w, bias -> y): y = x * w^T + bias, one rounding.
FailureOr<InstanceOrSkip> instantiateLinearBias(plan::ComputeOp step,
                                                const StepBuffers &buffers,
                                                const Target &target) {
  if (buffers.outputs.size() != 1)
    return step.emitError("'linear_bias' expects 1 output");
  FailureOr<GemmOperands> gemm = fusedGemmOperands(step, buffers, 1);
  if (failed(gemm))
    return failure();
  MemRefType bias = cast<MemRefType>(buffers.inputs.back().getType());
  MemRefType result = buffers.output(0);
  int64_t columns = lastDim(result);
  if (bias.getNumElements() != columns)
    return step.emitError("'linear_bias' bias has ")
           << bias.getNumElements() << " elements for " << columns
           << " output columns";
  auto biasType = typeOf(step, bias.getElementType());
  auto out = typeOf(step, result.getElementType());
  if (failed(biasType) || failed(out))
    return failure();
  GemmEpilogueSpec epilogue;
  epilogue.type = "llmc_kernels::BiasEpilogue<" + *out + ", " + *biasType +
                  ", " + std::to_string(columns) + ">";
  epilogue.initializer = "y, bias";
  epilogue.parameters = "const " + *biasType + " *bias, " + *out + " *y, ";
  epilogue.buffers = {buffers.inputs.back(), buffers.outputs[0]};
  FailureOr<InstanceOrSkip> instance =
      instantiateGemmKernel(step, *gemm, epilogue, target);
  if (succeeded(instance))
    if (auto *made = std::get_if<Instance>(&*instance)) {
      made->kind = "linear_bias";
      made->stem = "linear_bias_" + made->stem.substr(5);
    }
  return instance;
}

/// linear_gated_activation (x, w [, GEMM scales] -> y), _quantize (..., scale
/// -> q) and _quantize_dynamic (... -> q, per-token scales): act(gate) * up
/// of the packed [gate | up] GEMM in its epilogue, the product kept in f32
/// as the CPU fused kernel keeps it; the dynamic form rounds it to
/// `product_dtype` and quantizes the rows in a second stage.
FailureOr<InstanceOrSkip> instantiateLinearGatedActivation(
    plan::ComputeOp step, const StepBuffers &buffers, const Target &target) {
  llvm::StringRef name = step.getName();
  bool dynamic = name.ends_with("_quantize_dynamic");
  bool quantized = !dynamic && name.ends_with("_quantize");
  if (buffers.outputs.size() != (dynamic ? 2u : 1u))
    return step.emitError("'")
           << name << "' expects " << (dynamic ? 2 : 1) << " outputs";
  FailureOr<GemmOperands> gemm =
      fusedGemmOperands(step, buffers, quantized ? 1 : 0);
  if (failed(gemm))
    return failure();
  MemRefType result = buffers.output(0);
  int64_t columns = lastDim(result);
  int64_t rows = result.getNumElements() / columns;
  if (cast<MemRefType>(gemm->b.getType()).getShape()[0] != 2 * columns)
    return step.emitError("'")
           << name << "' weight is not the packed [gate | up] of " << columns
           << " output columns";
  std::string activation = stringParameter(step, "activation", "silu");
  std::string approximation = stringParameter(step, "approximation", "none");
  std::string op;
  if (activation == "silu")
    op = "llmc_kernels::kSilu";
  else if (activation == "gelu")
    op = approximation == "tanh" ? "llmc_kernels::kGeluTanh"
                                 : "llmc_kernels::kGeluErf";
  else
    return step.emitError("unknown activation '") << activation << "'";
  auto out = typeOf(step, result.getElementType());
  if (failed(out))
    return failure();
  GemmEpilogueSpec epilogue;
  epilogue.gated = true;
  std::string cols = std::to_string(columns);
  if (!quantized && !dynamic) {
    epilogue.type = "llmc_kernels::GatedEpilogue<" + *out + ", signed char, " +
                    cols + ", " + op + ", llmc_kernels::kNoQuant>";
    epilogue.initializer = "y, nullptr, nullptr";
    epilogue.parameters = *out + " *y, ";
    epilogue.buffers = {buffers.outputs[0]};
  } else if (quantized) {
    MemRefType scale = cast<MemRefType>(buffers.inputs.back().getType());
    FailureOr<std::string> mode = staticScaleMode(scale, rows);
    if (failed(mode))
      return InstanceOrSkip(NotGenerated{"block-wise activation scales"});
    epilogue.type = "llmc_kernels::GatedEpilogue<float, " + *out + ", " + cols +
                    ", " + op + ", " + *mode + ">";
    epilogue.initializer = "nullptr, q, scale";
    epilogue.parameters = "const float *scale, " + *out + " *q, ";
    epilogue.buffers = {buffers.inputs.back(), buffers.outputs[0]};
  } else {
    std::string productName = stringParameter(step, "product_dtype", "");
    Type productType;
    MLIRContext *context = step.getContext();
    if (productName == "f32")
      productType = Float32Type::get(context);
    else if (productName == "f16")
      productType = Float16Type::get(context);
    else if (productName == "bf16")
      productType = BFloat16Type::get(context);
    else
      return step.emitError("'")
             << name << "' needs product_dtype f32, f16 or bf16, got '"
             << productName << "'";
    if (columns % 2 != 0)
      return InstanceOrSkip(NotGenerated{"odd row width"});
    auto product = typeOf(step, productType);
    if (failed(product))
      return failure();
    epilogue.type = "llmc_kernels::GatedEpilogue<" + *product + ", " + *out +
                    ", " + cols + ", " + op + ", llmc_kernels::kDynamicScale>";
    epilogue.initializer =
        "static_cast<" + *product + " *>(scratch), nullptr, nullptr";
    epilogue.parameters = *out + " *q, float *scales, ";
    epilogue.buffers = {buffers.outputs[0], buffers.outputs[1]};
    epilogue.scratchBytes =
        rows * columns * (productType.getIntOrFloatBitWidth() / 8);
    epilogue.quantizeStage =
        "  llmc_kernels::quantizeRows<" + *product + ", " + *out + ", " + cols +
        ", " + std::to_string(rowBlockThreads(columns)) +
        ", llmc_kernels::kDynamicScale>(static_cast<const " + *product +
        " *>(scratch), nullptr, q, scales, static_cast<int>(m));\n";
  }
  FailureOr<InstanceOrSkip> instance =
      instantiateGemmKernel(step, *gemm, epilogue, target);
  if (succeeded(instance))
    if (auto *made = std::get_if<Instance>(&*instance)) {
      made->kind = name.str();
      made->stem = name.str() + "_" + made->stem.substr(5);
    }
  return instance;
}

std::string describeOrigin(Operation *op, llvm::StringRef what) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << what << " at " << op->getLoc();
  return text;
}

std::string hex64(uint64_t value) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx",
                static_cast<unsigned long long>(value));
  return buffer;
}

} // namespace

FailureOr<PlanKernels> collectPlanKernels(ModuleOp plan, const Target &target) {
  PlanKernels result;
  if (!target.isGpu()) {
    plan.emitError("CUDA code generation needs a GPU target, got ")
        << target.describe();
    return failure();
  }
  llvm::StringMap<size_t> kernelBySource;
  llvm::StringMap<size_t> skippedIndex;
  auto recordSkip = [&](llvm::StringRef what, llvm::StringRef reason) {
    std::string line = (what + ": " + reason).str();
    if (skippedIndex.try_emplace(line, result.notGenerated.size()).second)
      result.notGenerated.push_back(line);
  };
  auto addInstance = [&](Instance instance, Operation *step,
                         std::string origin) {
    SmallVector<Value> arguments = instance.arguments;
    if (arguments.empty()) {
      auto compute = cast<plan::ComputeOp>(step);
      llvm::append_range(arguments, compute.getInputs());
      llvm::append_range(arguments, compute.getOutputs());
    }
    std::string source = "// Generated by llmc: " + instance.kind + " (" +
                         instance.stem +
                         ").\n#define LLMC_KERNELS_SINGLE_SOURCE 1\n" +
                         kernelHeader("Common.cuh").str();
    for (llvm::StringRef header : instance.headers)
      source += kernelHeader(header).str();
    source += "\n" + instance.code;
    // The name carries the hash of the text with placeholders: identical
    // instances get identical names, distinct ones distinct names.
    std::string hash =
        hex64(artifact::xxhash64(source.data(), source.size())).substr(0, 8);
    ++result.generatedSteps;
    auto [it, inserted] =
        kernelBySource.try_emplace(source, result.kernels.size());
    result.stepKernels.push_back({step, it->second, std::move(arguments)});
    if (!inserted) {
      ++result.kernels[it->second].uses;
      return;
    }
    CudaKernel kernel;
    kernel.kind = instance.kind;
    kernel.origin = std::move(origin);
    kernel.sourceHash = hash;
    kernel.entries = instance.entries;
    for (auto [index, entry] : llvm::enumerate(kernel.entries)) {
      entry.name =
          "llmc_" + instance.stem + "_" + hash + instance.suffixes[index];
      std::string placeholder = "@ENTRY" + std::to_string(index) + "@";
      for (size_t at = source.find(placeholder); at != std::string::npos;
           at = source.find(placeholder, at))
        source.replace(at, placeholder.size(), entry.name);
    }
    kernel.source = std::move(source);
    result.kernels.push_back(std::move(kernel));
  };

  for (plan::RankOp rank : plan.getOps<plan::RankOp>()) {
    for (Operation &op : rank.getBody().front()) {
      FailureOr<InstanceOrSkip> instance = InstanceOrSkip(NotGenerated{});
      std::string what;
      if (auto step = dyn_cast<plan::ComputeOp>(op)) {
        what = ("plan.compute \"" + step.getName() + "\"").str();
        auto it = computeInstantiators().find(step.getName());
        if (it == computeInstantiators().end()) {
          recordSkip(step.getName(), notGeneratedReason(step.getName()));
          continue;
        }
        StepBuffers buffers{SmallVector<Value>(step.getInputs()),
                            SmallVector<Value>(step.getOutputs())};
        instance = it->second(step, buffers, target);
      } else if (auto gemm = dyn_cast<plan::GemmOp>(op)) {
        what = "plan.gemm";
        if (gemm.getBackend() != plan::GemmBackend::Generated)
          continue;
        instance = instantiateGemm(gemm, target);
      } else {
        continue;
      }
      if (failed(instance))
        return failure();
      if (auto *skip = std::get_if<NotGenerated>(&*instance)) {
        recordSkip(what, skip->reason);
        continue;
      }
      addInstance(std::get<Instance>(std::move(*instance)), &op,
                  describeOrigin(&op, what));
    }
  }
  return result;
}

} // namespace llmc::codegen::cuda
