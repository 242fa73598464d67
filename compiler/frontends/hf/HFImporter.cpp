//===- HFImporter.cpp - a Hugging Face model to the llm dialect -----------===//

#include "compiler/frontends/hf/HFImporter.h"

#include "compiler/frontends/hf/HFConfig.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace llvm;

namespace llmc::frontends::hf {

Expected<WeightDesc> WeightManifest::describe(StringRef name) const {
  auto it = tensors.find(name);
  if (it == tensors.end())
    return createStringError("no tensor named " + name);
  return it->second;
}

mlir::Type parseDType(mlir::MLIRContext &context, StringRef dtype) {
  mlir::Builder builder(&context);
  std::string upper = dtype.upper();
  return StringSwitch<mlir::Type>(upper)
      .Cases({"BF16", "BFLOAT16"}, builder.getBF16Type())
      .Cases({"F16", "FLOAT16"}, builder.getF16Type())
      .Cases({"F32", "FLOAT32"}, builder.getF32Type())
      .Cases({"F8_E4M3", "F8E4M3FN"}, builder.getType<mlir::Float8E4M3FNType>())
      .Cases({"F8_E5M2", "F8E5M2"}, builder.getType<mlir::Float8E5M2Type>())
      .Case("I8", builder.getI8Type())
      .Case("I32", builder.getI32Type())
      .Default(mlir::Type());
}

Expected<WeightManifest> parseWeightManifest(mlir::MLIRContext &context,
                                             StringRef jsonText,
                                             StringRef source) {
  auto fail = [&](const Twine &message) {
    return createStringError(source + ": " + message);
  };
  Expected<json::Value> parsed = json::parse(jsonText);
  if (!parsed)
    return fail("invalid JSON: " + toString(parsed.takeError()));
  const json::Object *root = parsed->getAsObject();
  if (!root)
    return fail("expected a JSON object of tensors");
  WeightManifest manifest;
  for (const auto &[key, value] : *root) {
    StringRef name = key;
    if (name == "__metadata__")
      continue;
    const json::Object *entry = value.getAsObject();
    if (!entry)
      return fail("tensor " + name + " must be an object");
    std::optional<StringRef> dtype = entry->getString("dtype");
    if (!dtype)
      return fail("tensor " + name + " has no \"dtype\"");
    mlir::Type type = parseDType(context, *dtype);
    if (!type)
      return fail("tensor " + name + " has unknown dtype '" + *dtype + "'");
    const json::Array *shape = entry->getArray("shape");
    if (!shape)
      return fail("tensor " + name + " has no \"shape\" list");
    WeightDesc desc;
    desc.elementType = type;
    for (const json::Value &dim : *shape) {
      std::optional<int64_t> size = dim.getAsInteger();
      if (!size || *size < 0)
        return fail("tensor " + name + " has a bad shape entry");
      desc.shape.push_back(*size);
    }
    manifest.names.push_back(name.str());
    manifest.tensors[name] = std::move(desc);
  }
  // json::Object is unordered; sort so that messages are stable.
  llvm::sort(manifest.names);
  return manifest;
}

Expected<mlir::OwningOpRef<mlir::ModuleOp>>
importFromManifest(mlir::MLIRContext &context, StringRef configPath,
                   StringRef manifestPath, const BuildOptions &options) {
  Expected<ModelConfig> config = readHFConfig(configPath);
  if (!config)
    return config.takeError();
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(manifestPath, /*IsText=*/true);
  if (!buffer)
    return createStringError(manifestPath +
                             ": cannot read: " + buffer.getError().message());
  Expected<WeightManifest> manifest =
      parseWeightManifest(context, (*buffer)->getBuffer(), manifestPath);
  if (!manifest)
    return manifest.takeError();
  return buildModel(
      context, *config, manifest->names,
      [&](StringRef name) { return manifest->describe(name); }, options);
}

} // namespace llmc::frontends::hf
