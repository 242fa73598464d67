//===- PlanKernels.cpp - instantiating kernel templates for plan steps ----===//

#include "compiler/codegen/cuda/PlanKernels.h"
#include "compiler/codegen/cuda/KernelSources.h"
#include "dialects/plan/PlanOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "runtime/backends/cpu/Kernels.h"
#include "runtime/schema/Checksum.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstdio>
#include <functional>
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
  instance.code =
      prelude.str() + entryDefinition(0, blockThreads, parameters, body);
  KernelEntry entry;
  entry.grid = grid;
  entry.blockThreads = blockThreads;
  entry.gridExtent = extent;
  entry.tokenMultiple = grid == GridRule::FlatElements ? extent : rowsPerToken;
  entry.tokenArguments = {entry.tokenMultiple};
  entry.parameters = parameters.str();
  instance.entries.push_back(entry);
  instance.suffixes.push_back("");
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

FailureOr<InstanceOrSkip> instantiateRope(plan::ComputeOp step,
                                          const StepBuffers &buffers,
                                          const Target &) {
  MemRefType input = buffers.input(0);
  if (input.getRank() != 3)
    return InstanceOrSkip(NotGenerated{"rope input is not [T, heads, dim]"});
  int64_t heads = input.getShape()[1], headDim = input.getShape()[2];
  cpu::RopeParams params;
  params.theta = numberParameter(step, "theta", 10000.0);
  params.rotaryDim =
      static_cast<int64_t>(numberParameter(step, "rotary_dim", 0.0));
  std::string style = stringParameter(step, "style", "half");
  if (style != "half" && style != "interleaved")
    return step.emitError("rope style '") << style
                                          << "' is not half or "
                                             "interleaved";
  params.style =
      style == "half" ? cpu::RopeStyle::Half : cpu::RopeStyle::Interleaved;
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
  // The runtime's own frequency code: compile-time tables equal the CPU
  // backend's bit for bit.
  cpu::RopeFrequencies frequencies;
  cpu::Status status =
      cpu::computeRopeFrequencies(params, headDim, frequencies);
  if (!status.ok())
    return step.emitError(status.message());
  int64_t rotary =
      2 * static_cast<int64_t>(frequencies.inverseFrequencies.size());
  auto in = typeOf(step, input.getElementType());
  auto out = typeOf(step, buffers.output(0).getElementType());
  if (failed(in) || failed(out))
    return failure();
  std::string prelude;
  llvm::raw_string_ostream os(prelude);
  os << "__device__ const float kInverseFrequencies[" << rotary / 2 << "] = {";
  for (auto [i, f] : llvm::enumerate(frequencies.inverseFrequencies))
    os << (i % 6 == 0 ? "\n    " : " ") << floatLiteral(f) << ",";
  os << "};\n";
  int64_t threads = 128;
  std::string body;
  llvm::raw_string_ostream bodyStream(body);
  bodyStream << "  llmc_kernels::ropeRows<" << *in << ", " << *out << ", "
             << *out << ", " << heads << ", " << headDim << ", " << rotary
             << ", "
             << (style == "half" ? "llmc_kernels::kRopeHalf"
                                 : "llmc_kernels::kRopeInterleaved")
             << ", " << threads
             << ", false, 1>(input, positions, kInverseFrequencies, "
             << floatLiteral(frequencies.attentionFactor)
             << ", output, nullptr, nullptr, nullptr, nullptr, "
                "static_cast<int>(rows));\n";
  return InstanceOrSkip(singleEntry(
      "rope", ("rope_" + llvm::Twine(heads) + "x" + llvm::Twine(headDim)).str(),
      {"Rope.cuh"}, GridRule::TokenRows, threads, heads * headDim,
      "const " + *in + " *input, const int *positions, " + *out +
          " *output, long long rows",
      body, prelude));
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
/// weight, scale -> sum, q) and rms_norm_quantize (x, weight, scale -> q):
/// the sum rounds to its type and the normalized row to the norm's (the
/// input's) type before quantization, as the unfused steps store them.
FailureOr<InstanceOrSkip> instantiateFusedNorm(plan::ComputeOp step,
                                               const StepBuffers &buffers,
                                               const Target &) {
  llvm::StringRef name = step.getName();
  bool hasAdd = name.starts_with("add_");
  bool quantized = name.ends_with("_quantize");
  unsigned weightIndex = hasAdd ? 2 : 1;
  if (buffers.inputs.size() != weightIndex + 1 + (quantized ? 1 : 0) ||
      buffers.outputs.size() != (hasAdd ? 2u : 1u))
    return step.emitError("'")
           << name << "' expects " << weightIndex + 1 + (quantized ? 1 : 0)
           << " inputs and " << (hasAdd ? 2 : 1) << " outputs";
  MemRefType input = buffers.input(0);
  Type inType = input.getElementType();
  if (hasAdd && (buffers.input(1).getElementType() != inType ||
                 buffers.output(0).getElementType() != inType))
    return InstanceOrSkip(NotGenerated{"mixed types in the residual add"});
  auto result = cast<MemRefType>(buffers.outputs.back().getType());
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
  parameters += *out + (quantized ? " *quantized" : " *output");
  parameters += ", long long rows";
  std::string body;
  llvm::raw_string_ostream os(body);
  os << "  llmc_kernels::rmsNormRows<" << *in << ", " << *weight << ", "
     << outType << ", " << quantType << ", " << columns << ", " << threads
     << ", " << (hasAdd ? "true" : "false") << ", " << mode << ">(input, "
     << (hasAdd ? "residual, sum" : "nullptr, nullptr") << ", weight, "
     << floatLiteral(numberParameter(step, "epsilon", 1e-5)) << ", "
     << floatLiteral(numberParameter(step, "weight_offset", 0.0)) << ", "
     << (quantized ? "static_cast<" + outType + " *>(nullptr), quantized, scale"
                   : std::string("output, nullptr, nullptr"))
     << ", nullptr, static_cast<int>(rows));\n";
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
// plan.gemm with backend = generated
//===----------------------------------------------------------------------===//

FailureOr<InstanceOrSkip> instantiateGemm(plan::GemmOp gemm,
                                          const Target &target) {
  auto aType = cast<MemRefType>(gemm.getA().getType());
  auto bType = cast<MemRefType>(gemm.getB().getType());
  auto cType = cast<MemRefType>(gemm.getC().getType());
  Type element = aType.getElementType();
  bool int8 = element.isSignlessInteger(8);
  bool fp8 = isa<Float8E4M3FNType>(element);
  if ((!int8 && !fp8) || bType.getElementType() != element)
    return InstanceOrSkip(NotGenerated{
        "16-bit and mixed-type GEMMs go to cuBLASLt or the weight-only path"});
  if (fp8 && target.fp8 != UnitSupport::Native)
    return gemm.emitError() << target.describe()
                            << " has no FP8 tensor cores for this f8E4M3FN "
                               "GEMM; use --quant=int8";
  if (!gemm.getTransposeB())
    return InstanceOrSkip(NotGenerated{"B is not [N, K]"});
  if (gemm.getBeta().convertToFloat() != 0.0f)
    return InstanceOrSkip(NotGenerated{"beta != 0"});
  if (!isFloatStorage(cType.getElementType()))
    return InstanceOrSkip(NotGenerated{"the raw i32 accumulator output"});
  int64_t k = aType.getShape()[1], n = bType.getShape()[0];
  if (k % 32 != 0)
    return InstanceOrSkip(NotGenerated{"K is not a multiple of 32"});
  auto out = storageType(cType.getElementType());
  bool perRowA =
      gemm.getScaleA() &&
      cast<MemRefType>(gemm.getScaleA().getType()).getNumElements() > 1;
  bool perColumnB =
      gemm.getScaleB() &&
      cast<MemRefType>(gemm.getScaleB().getType()).getNumElements() > 1;
  std::string element8 = int8 ? "signed char" : "llmc_kernels::e4m3_t";
  // Absent scales are 1: a device constant instead of a null check.
  std::string prelude = gemm.getScaleA() && gemm.getScaleB()
                            ? ""
                            : "__device__ const float kUnitScale = 1.0f;\n";
  std::string parameters = "const " + element8 + " *a, const " + element8 +
                           " *b, " +
                           (gemm.getScaleA() ? "const float *scale_a, " : "") +
                           (gemm.getScaleB() ? "const float *scale_b, " : "") +
                           *out + " *c, long long m";
  std::string arguments =
      std::string("a, b, ") + (gemm.getScaleA() ? "scale_a" : "&kUnitScale") +
      ", " + (gemm.getScaleB() ? "scale_b" : "&kUnitScale") + ", " +
      floatLiteral(gemm.getAlpha().convertToFloat()) +
      ", c, static_cast<int>(m)";
  std::string flags = std::string(perRowA ? "true" : "false") + ", " +
                      (perColumnB ? "true" : "false");
  std::string shape = std::to_string(n) + ", " + std::to_string(k);
  Instance instance;
  instance.headers = {"GemmInt8.cuh"};
  instance.stem = std::string(int8 ? "gemm_i8_" : "gemm_f8e4m3_") +
                  std::to_string(n) + "x" + std::to_string(k);
  instance.code = prelude;
  instance.arguments = {gemm.getA(), gemm.getB()};
  if (gemm.getScaleA())
    instance.arguments.push_back(gemm.getScaleA());
  if (gemm.getScaleB())
    instance.arguments.push_back(gemm.getScaleB());
  instance.arguments.push_back(gemm.getC());
  auto addEntry = [&](GridRule grid, int64_t threads, llvm::StringRef body,
                      llvm::StringRef suffix, int64_t minTokens,
                      int64_t maxTokens) {
    instance.code +=
        entryDefinition(instance.entries.size(), threads, parameters, body);
    KernelEntry entry;
    entry.grid = grid;
    entry.blockThreads = threads;
    entry.gridExtent = n;
    entry.tokenArguments = {1};
    entry.parameters = parameters;
    entry.minTokens = minTokens;
    entry.maxTokens = maxTokens;
    instance.entries.push_back(entry);
    instance.suffixes.push_back(suffix.str());
  };
  if (int8) {
    instance.kind = "gemm_int8";
    addEntry(GridRule::Int8GemmTiles, 256,
             "  llmc_kernels::gemmInt8Tiles<" + *out + ", " + shape + ", " +
                 flags + ">(" + arguments + ");\n",
             "", kGemvMaxTokens + 1, 0);
    addEntry(GridRule::Int8GemvColumns, 128,
             "  llmc_kernels::gemvInt8Rows<" + *out + ", " + shape + ", 128, " +
                 flags + ">(" + arguments + ");\n",
             "_gemv", 0, kGemvMaxTokens);
  } else {
    instance.kind = "gemm_fp8";
    instance.headers.push_back("GemmFp8.cuh");
    addEntry(GridRule::Fp8GemmTiles, 128,
             "  llmc_kernels::gemmFp8Tiles<" + *out + ", " + shape + ", " +
                 flags + ">(" + arguments + ");\n",
             "", 0, 0);
  }
  return InstanceOrSkip(instance);
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
