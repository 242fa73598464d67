//===- FusedWeights.cpp - llm.concat annotations to WeightStore concats ---===//

#include "passes/FusedWeights.h"

#include "compiler/weights/WeightStore.h"
#include "dialects/llm/LLMOps.h"

#include "llvm/ADT/StringSet.h"

using namespace mlir;

namespace llmc {

namespace {

llvm::Error concatError(StringRef weight, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "weight '" + weight + "': " + message);
}

/// The store's type of a weight the IR holds as `type`: a float weight, a
/// quantized one (f8E4M3FN, i8, i4 packed two per byte) or its scales and
/// zero points.
std::optional<weights::DType> storeDType(Type type) {
  if (type.isF32())
    return weights::DType::F32;
  if (type.isF16())
    return weights::DType::F16;
  if (type.isBF16())
    return weights::DType::BF16;
  if (isa<Float8E4M3FNType>(type))
    return weights::DType::F8E4M3;
  if (type.isSignlessInteger(8))
    return weights::DType::I8;
  if (type.isSignlessInteger(4))
    return weights::DType::I4;
  return std::nullopt;
}

} // namespace

llvm::Error applyWeightConcats(ModuleOp module, weights::WeightStore &store) {
  llvm::Error result = llvm::Error::success();
  llvm::StringSet<> done;
  module.walk([&](llm::WeightOp op) -> WalkResult {
    auto concat = op->getAttrOfType<DictionaryAttr>(kWeightConcatAttrName);
    StringRef name = op.getName();
    if (!concat || !done.insert(name).second || store.contains(name))
      return WalkResult::advance();
    auto parts = concat.getAs<ArrayAttr>("parts");
    auto axis = concat.getAs<IntegerAttr>("axis");
    if (!parts || !axis) {
      result = concatError(name, "llm.concat needs `parts` and `axis`");
      return WalkResult::interrupt();
    }
    std::vector<std::string> partNames;
    for (Attribute part : parts) {
      auto partName = dyn_cast<StringAttr>(part);
      if (!partName) {
        result = concatError(name, "llm.concat parts must be strings");
        return WalkResult::interrupt();
      }
      partNames.push_back(partName.getValue().str());
    }
    if (llvm::Error error = store.addConcat(name, partNames, axis.getInt())) {
      result = std::move(error);
      return WalkResult::interrupt();
    }
    llvm::Expected<weights::WeightDesc> desc = store.describe(name);
    if (!desc) {
      result = desc.takeError();
      return WalkResult::interrupt();
    }
    auto type = cast<RankedTensorType>(op.getType());
    if (storeDType(type.getElementType()) != desc->dtype ||
        ArrayRef<int64_t>(desc->shape) != type.getShape()) {
      result = concatError(name, "the concatenation is " +
                                     weights::getDTypeName(desc->dtype) + " " +
                                     weights::formatShape(desc->shape) +
                                     " but the IR expects " +
                                     weights::formatShape(type.getShape()));
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return result;
}

} // namespace llmc
