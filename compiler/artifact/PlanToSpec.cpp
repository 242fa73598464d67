//===- PlanToSpec.cpp - a memory-planned plan module to ArtifactSpec plans ===//

#include "compiler/artifact/PlanToSpec.h"

#include "dialects/plan/PlanOps.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

namespace llmc::artifact {

namespace {

using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
using llvm::Twine;
using mlir::Operation;

/// "error at model.gguf:3:5: 'plan.launch' ...": the op by name and place.
Error opError(Operation *op, const Twine &message) {
  std::string location;
  llvm::raw_string_ostream os(location);
  op->getLoc().print(os);
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "cannot write '" +
                                     op->getName().getStringRef() + "' at " +
                                     location + " to the artifact: " + message);
}

std::optional<DType> toDType(mlir::Type type) {
  if (type.isF32())
    return DType::F32;
  if (type.isF16())
    return DType::F16;
  if (type.isBF16())
    return DType::BF16;
  if (type.isF64())
    return DType::F64;
  if (llvm::isa<mlir::Float8E4M3FNType>(type))
    return DType::F8E4M3;
  if (llvm::isa<mlir::Float8E5M2Type>(type))
    return DType::F8E5M2;
  if (type.isSignlessInteger(64))
    return DType::I64;
  if (type.isSignlessInteger(32))
    return DType::I32;
  if (type.isSignlessInteger(16))
    return DType::I16;
  if (type.isSignlessInteger(8))
    return DType::I8;
  if (type.isSignlessInteger(4))
    return DType::I4;
  if (type.isSignlessInteger(1))
    return DType::Bool;
  return std::nullopt;
}

std::optional<weights::DType> toWeightsDType(DType dtype) {
  switch (dtype) {
  case DType::F64:
    return weights::DType::F64;
  case DType::F32:
    return weights::DType::F32;
  case DType::F16:
    return weights::DType::F16;
  case DType::BF16:
    return weights::DType::BF16;
  case DType::F8E4M3:
    return weights::DType::F8E4M3;
  case DType::F8E5M2:
    return weights::DType::F8E5M2;
  case DType::I64:
    return weights::DType::I64;
  case DType::I32:
    return weights::DType::I32;
  case DType::I16:
    return weights::DType::I16;
  case DType::I8:
    return weights::DType::I8;
  case DType::U8:
    return weights::DType::U8;
  case DType::Bool:
    return weights::DType::Bool;
  case DType::I4:
    return weights::DType::I4;
  default:
    return std::nullopt;
  }
}

class RankTranslator {
public:
  RankTranslator(mlir::ModuleOp module, plan::RankOp rank, int64_t maxTokens,
                 const llvm::StringMap<uint32_t> &kernelIndex,
                 PlanTranslation &result)
      : module(module), rank(rank), maxTokens(maxTokens),
        kernelIndex(kernelIndex), result(result) {}

  Error run();

private:
  Expected<BufferSpec> buffer(Operation *user, mlir::Value value);
  Expected<std::vector<BufferSpec>> buffers(Operation *user,
                                            mlir::ValueRange values);
  Expected<std::vector<ParamSpec>> params(Operation *op,
                                          llvm::ArrayRef<StringRef> skip);
  Error slice(plan::SliceOp op);
  Error step(Operation *op);
  Expected<std::vector<LaunchSpec>> launches(Operation *op);

  mlir::ModuleOp module;
  plan::RankOp rank;
  int64_t maxTokens;
  /// plan.kernel symbol -> index into PlanTranslation::kernels.
  const llvm::StringMap<uint32_t> &kernelIndex;
  PlanTranslation &result;
  RankPlanSpec spec;
  llvm::StringMap<uint32_t> arenaIndex;
  llvm::DenseMap<mlir::Value, BufferSpec> slices;
};

Expected<BufferSpec> RankTranslator::buffer(Operation *user,
                                            mlir::Value value) {
  auto it = slices.find(value);
  if (it == slices.end())
    return opError(user, "an operand is not a plan.slice of this rank");
  return it->second;
}

Expected<std::vector<BufferSpec>>
RankTranslator::buffers(Operation *user, mlir::ValueRange values) {
  std::vector<BufferSpec> list;
  for (mlir::Value value : values) {
    Expected<BufferSpec> spec = buffer(user, value);
    if (!spec)
      return spec.takeError();
    list.push_back(std::move(*spec));
  }
  return list;
}

/// The op's attributes except `skip` and annotations (names with a '.'),
/// as the integers, floats and strings the artifact stores.
Expected<std::vector<ParamSpec>>
RankTranslator::params(Operation *op, llvm::ArrayRef<StringRef> skip) {
  std::vector<ParamSpec> list;
  for (mlir::NamedAttribute attr : op->getAttrs()) {
    StringRef name = attr.getName().strref();
    if (name.contains('.') || llvm::is_contained(skip, name))
      continue;
    mlir::Attribute value = attr.getValue();
    if (auto integer = llvm::dyn_cast<mlir::IntegerAttr>(value))
      list.push_back({name.str(), integer.getValue().getSExtValue()});
    else if (auto real = llvm::dyn_cast<mlir::FloatAttr>(value))
      list.push_back({name.str(), real.getValueAsDouble()});
    else if (auto text = llvm::dyn_cast<mlir::StringAttr>(value))
      list.push_back({name.str(), text.getValue().str()});
    else if (llvm::isa<mlir::UnitAttr>(value))
      list.push_back({name.str(), int64_t(1)});
    else {
      std::string printed;
      llvm::raw_string_ostream os(printed);
      value.print(os);
      return opError(op, "parameter '" + name + "' (" + printed +
                             ") is not an integer, float or string");
    }
  }
  return list;
}

/// The step's `plan.launches` (verified by the plan dialect) as LaunchSpecs;
/// empty without the attribute.
Expected<std::vector<LaunchSpec>> RankTranslator::launches(Operation *op) {
  std::vector<LaunchSpec> list;
  auto attribute = op->getAttrOfType<mlir::ArrayAttr>(
      plan::PlanDialect::getLaunchesAttrName());
  if (!attribute)
    return list;
  auto toUnsigned = [&](llvm::ArrayRef<int64_t> values,
                        llvm::MutableArrayRef<uint32_t> out) {
    for (auto [value, slot] : llvm::zip(values, out))
      slot = uint32_t(value);
  };
  for (mlir::Attribute element : attribute) {
    auto launch = llvm::dyn_cast<plan::LaunchAttr>(element);
    if (!launch)
      return opError(op, "plan.launches holds something other than "
                         "#plan.launch");
    LaunchSpec spec;
    auto kernel = kernelIndex.find(launch.getKernel().getValue());
    if (kernel == kernelIndex.end())
      return opError(op, "launch of @" + launch.getKernel().getValue() +
                             ", which no plan.kernel declares");
    spec.kernel = kernel->second;
    if (launch.getGrid().size() != 3 || launch.getBlock().size() != 3)
      return opError(op, "a launch needs a 3-D grid and block");
    toUnsigned(launch.getGrid().asArrayRef(), spec.grid);
    toUnsigned(launch.getBlock().asArrayRef(), spec.block);
    spec.sharedBytes = uint32_t(launch.getSharedBytes());
    for (int64_t index : launch.getArgs().asArrayRef()) {
      if (index < 0 || index >= int64_t(op->getNumOperands()))
        return opError(op, "launch argument " + Twine(index) +
                               " is not an operand of the step");
      Expected<BufferSpec> buffer = this->buffer(op, op->getOperand(index));
      if (!buffer)
        return buffer.takeError();
      spec.args.push_back(std::move(*buffer));
    }
    if (auto scale = launch.getGridTokenScale())
      for (int64_t value : scale.asArrayRef())
        spec.gridTokenScale.push_back(uint32_t(value));
    if (auto tokenArgs = launch.getTokenArgs())
      spec.tokenArgs.assign(tokenArgs.asArrayRef().begin(),
                            tokenArgs.asArrayRef().end());
    if (mlir::ArrayAttr extra = launch.getExtraArgs())
      for (mlir::Attribute name : extra) {
        StringRef text = llvm::cast<mlir::StringAttr>(name).getValue();
        if (text == "batch")
          spec.extraArgs.push_back(LaunchArg::Batch);
        else if (text == "scratch")
          spec.extraArgs.push_back(LaunchArg::Scratch);
        else if (text == "layer") {
          auto layer = op->getAttrOfType<mlir::IntegerAttr>("layer");
          if (!layer)
            return opError(op, "a launch passes the layer, but the step has "
                               "no integer 'layer' attribute");
          spec.extraArgs.push_back(LaunchArg::Layer);
          spec.layer = layer.getInt();
        } else {
          return opError(op, "unknown launch argument '" + text + "'");
        }
      }
    spec.scratchBytes = uint64_t(launch.getScratchBytes());
    spec.minTokens = uint32_t(launch.getMinTokens());
    spec.maxTokens = uint32_t(launch.getMaxTokens());
    list.push_back(std::move(spec));
  }
  return list;
}

Error RankTranslator::slice(plan::SliceOp op) {
  auto type = op.getResult().getType();
  auto memref = llvm::dyn_cast<mlir::MemRefType>(type);
  if (!memref)
    return opError(op, "the buffer is not a memref");
  auto arena = arenaIndex.find(op.getArena());
  if (arena == arenaIndex.end())
    return opError(op, "arena @" + op.getArena() + " is not declared");
  std::optional<DType> dtype = toDType(memref.getElementType());
  if (!dtype) {
    std::string printed;
    llvm::raw_string_ostream os(printed);
    memref.getElementType().print(os);
    return opError(op, "no artifact dtype for element type " + printed);
  }
  BufferSpec spec;
  spec.arena = arena->second;
  spec.offset = uint64_t(op.getOffset());
  spec.shape.assign(memref.getShape().begin(), memref.getShape().end());
  spec.dtype = *dtype;
  spec.tokenRows = op->hasAttr("plan.token_rows");
  if (spec.tokenRows && (spec.shape.empty() || spec.shape[0] % maxTokens != 0))
    return opError(op, "a token-rows buffer's leading dimension is not a "
                       "multiple of max-tokens (" +
                           Twine(maxTokens) + ")");
  slices[op.getResult()] = spec;

  if (auto weight = op->getAttrOfType<mlir::StringAttr>("plan.weight")) {
    if (op.getBase())
      return opError(op, "a weight slice cannot be a view");
    std::string name = weight.getValue().str();
    auto existing = std::find_if(
        result.tensors.begin(), result.tensors.end(),
        [&](const TensorSpec &tensor) { return tensor.name == name; });
    if (existing == result.tensors.end()) {
      TensorSpec tensor;
      tensor.name = name;
      tensor.weight = name;
      std::optional<weights::DType> stored = toWeightsDType(spec.dtype);
      if (!stored)
        return opError(op, "weight '" + name + "' has dtype " +
                               EnumNameDType(spec.dtype) +
                               ", which no weight is stored in");
      weights::WeightDesc desc;
      desc.dtype = *stored;
      desc.shape.assign(spec.shape.begin(), spec.shape.end());
      tensor.desc = std::move(desc);
      // Quantized weights name their scheme and scale / zero-point tensors
      // (llm-lower-to-plan copies them from the quantization pass).
      if (auto quant = op->getAttrOfType<mlir::DictionaryAttr>("plan.quant")) {
        QuantSpec quantSpec;
        auto text = [&](StringRef key) {
          auto value = quant.getAs<mlir::StringAttr>(key);
          return value ? value.getValue().str() : std::string();
        };
        quantSpec.scheme = text("scheme");
        quantSpec.scaleTensor = text("scale");
        quantSpec.zeroPointTensor = text("zero_point");
        tensor.quant = std::move(quantSpec);
      }
      result.tensors.push_back(std::move(tensor));
    }
    for (const WeightLoadSpec &load : this->spec.weightLoads)
      if (load.tensor == name)
        return Error::success(); // Another rank-local use of the same bytes.
    this->spec.weightLoads.push_back({name, arena->second, spec.offset});
  }
  for (StringRef role : {"plan.input", "plan.output"})
    if (auto name = op->getAttrOfType<mlir::StringAttr>(role))
      (role == "plan.input" ? this->spec.inputs : this->spec.outputs)
          .push_back({name.getValue().str(), spec});
  return Error::success();
}

Error RankTranslator::step(Operation *op) {
  return llvm::TypeSwitch<Operation *, Error>(op)
      .Case([&](plan::SliceOp slice) { return this->slice(slice); })
      .Case([&](plan::GemmOp gemm) -> Error {
        GemmSpec step;
        switch (gemm.getBackend()) {
        case plan::GemmBackend::CublasLt:
          step.backend = GemmBackend::CublasLt;
          break;
        case plan::GemmBackend::Generated:
          step.backend = GemmBackend::Generated;
          break;
        case plan::GemmBackend::Cpu:
          step.backend = GemmBackend::Cpu;
          break;
        }
        Expected<std::vector<BufferSpec>> abc =
            buffers(op, {gemm.getA(), gemm.getB(), gemm.getC()});
        if (!abc)
          return abc.takeError();
        step.a = (*abc)[0];
        step.b = (*abc)[1];
        step.c = (*abc)[2];
        for (auto [value, scale] : {std::pair{gemm.getScaleA(), &step.scaleA},
                                    {gemm.getScaleB(), &step.scaleB},
                                    {gemm.getZeroB(), &step.zeroB}}) {
          if (!value)
            continue;
          Expected<BufferSpec> spec = buffer(op, value);
          if (!spec)
            return spec.takeError();
          *scale = std::move(*spec);
        }
        step.transposeB = gemm.getTransposeB();
        step.alpha = gemm.getAlpha().convertToFloat();
        step.beta = gemm.getBeta().convertToFloat();
        Expected<std::vector<LaunchSpec>> list = launches(op);
        if (!list)
          return list.takeError();
        spec.steps.push_back(StepSpec(std::move(step), std::move(*list)));
        return Error::success();
      })
      .Case([&](plan::CollectiveOp collective) -> Error {
        CollectiveSpec step;
        step.kind = static_cast<CollectiveKind>(
            static_cast<uint32_t>(collective.getKind()));
        if (std::optional<plan::ReductionKind> reduction =
                collective.getReduction())
          step.reduction =
              static_cast<ReductionKind>(static_cast<uint32_t>(*reduction));
        Expected<BufferSpec> main = buffer(op, collective.getBuffer());
        if (!main)
          return main.takeError();
        step.buffer = std::move(*main);
        if (mlir::Value output = collective.getOutput()) {
          Expected<BufferSpec> spec = buffer(op, output);
          if (!spec)
            return spec.takeError();
          step.output = std::move(*spec);
        }
        if (auto axis = collective.getAxisAttr())
          step.axis = axis.getInt();
        if (auto peer = collective.getPeerAttr())
          step.peer = peer.getInt();
        step.group.assign(collective.getGroup().begin(),
                          collective.getGroup().end());
        spec.steps.push_back(std::move(step));
        return Error::success();
      })
      .Case([&](plan::ComputeOp compute) -> Error {
        ComputeSpec step;
        step.name = compute.getName().str();
        Expected<std::vector<BufferSpec>> inputs =
            buffers(op, compute.getInputs());
        if (!inputs)
          return inputs.takeError();
        Expected<std::vector<BufferSpec>> outputs =
            buffers(op, compute.getOutputs());
        if (!outputs)
          return outputs.takeError();
        Expected<std::vector<ParamSpec>> list =
            params(op, {"name", "operandSegmentSizes"});
        if (!list)
          return list.takeError();
        step.inputs = std::move(*inputs);
        step.outputs = std::move(*outputs);
        step.params = std::move(*list);
        Expected<std::vector<LaunchSpec>> stepLaunches = launches(op);
        if (!stepLaunches)
          return stepLaunches.takeError();
        spec.steps.push_back(
            StepSpec(std::move(step), std::move(*stepLaunches)));
        return Error::success();
      })
      .Case([&](plan::HostOp host) -> Error {
        HostSpec step;
        step.name = host.getName().str();
        Expected<std::vector<BufferSpec>> args = buffers(op, host.getArgs());
        if (!args)
          return args.takeError();
        Expected<std::vector<ParamSpec>> list = params(op, {"name"});
        if (!list)
          return list.takeError();
        step.args = std::move(*args);
        step.params = std::move(*list);
        spec.steps.push_back(std::move(step));
        return Error::success();
      })
      .Case([&](plan::LaunchOp) -> Error {
        // The CPU backend runs every artifact as the reference, so a kernel
        // launch rides on the step it implements (plan.launches).
        return opError(op, "a plan.launch step would not run on the CPU "
                           "backend; attach launches to the step they "
                           "implement (plan.launches)");
      })
      .Default([&](Operation *) -> Error {
        return opError(op, "the artifact has no step for this op");
      });
}

Error RankTranslator::run() {
  spec.rank = uint32_t(rank.getRank());
  spec.maxTokens = uint32_t(maxTokens);
  for (plan::ArenaOp arena : module.getOps<plan::ArenaOp>()) {
    ArenaSpec arenaSpec;
    arenaSpec.name = arena.getSymName().str();
    arenaSpec.kind =
        static_cast<ArenaKind>(static_cast<uint32_t>(arena.getKind()));
    arenaSpec.bytes = arena.getSize();
    arenaSpec.alignment = arena.getAlignment();
    arenaIndex[arenaSpec.name] = uint32_t(spec.arenas.size());
    spec.arenas.push_back(std::move(arenaSpec));
  }
  for (Operation &op : rank.getBody().front())
    if (Error error = step(&op))
      return error;
  result.plans.push_back(std::move(spec));
  return Error::success();
}

} // namespace

Expected<PlanTranslation> translatePlan(mlir::ModuleOp module,
                                        int64_t maxTokens) {
  if (maxTokens <= 0 || maxTokens > int64_t(UINT32_MAX))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "max-tokens must be in [1, 2^32)");
  PlanTranslation result;
  llvm::StringMap<uint32_t> kernelIndex;
  for (Operation &op : module.getBody()->getOperations()) {
    if (llvm::isa<plan::ArenaOp>(op))
      continue;
    if (auto kernel = llvm::dyn_cast<plan::KernelOp>(op)) {
      KernelSpec spec;
      spec.name = kernel.getSymName().str();
      spec.entry = kernel.getEntry().str();
      spec.kind = kernel.getKind().value_or("").str();
      spec.sourceHash = kernel.getSourceHash().value_or("").str();
      kernelIndex[spec.name] = uint32_t(result.kernels.size());
      result.kernels.push_back(std::move(spec));
      continue;
    }
    if (!llvm::isa<plan::RankOp>(op))
      return opError(&op, "only plan.arena and plan.rank may remain at the "
                          "top of a lowered module");
  }
  std::vector<plan::RankOp> ranks(module.getOps<plan::RankOp>().begin(),
                                  module.getOps<plan::RankOp>().end());
  if (ranks.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the module has no plan.rank to write");
  std::sort(ranks.begin(), ranks.end(), [](plan::RankOp a, plan::RankOp b) {
    return a.getRank() < b.getRank();
  });
  for (plan::RankOp rank : ranks)
    if (Error error =
            RankTranslator(module, rank, maxTokens, kernelIndex, result).run())
      return std::move(error);

  for (const RankPlanSpec &plan : result.plans)
    for (const StepSpec &step : plan.steps) {
      const auto *compute = std::get_if<ComputeSpec>(&step.op);
      bool attention = compute && compute->name == "attention";
      // Fused: k and v come packed in the QKV rows the step reads first.
      bool fusedWrite = compute && compute->name == "rope_kv_write";
      if ((!attention && !fusedWrite) || result.kvCacheDType)
        continue;
      if (attention && compute->inputs.size() >= 2)
        result.kvCacheDType = compute->inputs[1].dtype;
      if (fusedWrite && !compute->inputs.empty())
        result.kvCacheDType = compute->inputs[0].dtype;
      for (const ParamSpec &param : compute->params) {
        const auto *text = std::get_if<std::string>(&param.value);
        if (param.key != "kv_cache_dtype" || !text)
          continue;
        if (*text == "f8E4M3FN")
          result.kvCacheDType = DType::F8E4M3;
        else if (*text == "i8")
          result.kvCacheDType = DType::I8;
        else
          return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                         "attention kv_cache_dtype '" + *text +
                                             "' is not f8E4M3FN or i8");
      }
    }

  // Tensors in the order the lowering placed them in the weights arena.
  llvm::StringMap<uint64_t> offsets;
  for (const RankPlanSpec &plan : result.plans)
    for (const WeightLoadSpec &load : plan.weightLoads)
      offsets.try_emplace(load.tensor, load.offset);
  std::stable_sort(result.tensors.begin(), result.tensors.end(),
                   [&](const TensorSpec &a, const TensorSpec &b) {
                     return offsets.lookup(a.name) < offsets.lookup(b.name);
                   });
  return result;
}

} // namespace llmc::artifact
