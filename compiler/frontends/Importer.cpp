//===- Importer.cpp - a checkpoint on disk to an llm module + WeightStore -===//
//
// Both formats go the same way: open the checkpoint into a WeightStore, read
// the config, let ModelBuilder check every tensor and emit `@forward`, then
// declare each `llm.weight` the module uses in the store with the transforms
// that give it the op's type. The WeightStore is the one place transforms
// live, so the `llm.weight_transform` requests the builder leaves on ops are
// recorded there and removed from the IR; `llm.source_type` and
// `llm.source_quant` stay as notes on what the checkpoint held.
//
//===----------------------------------------------------------------------===//

#include "compiler/frontends/Importer.h"

#include "compiler/frontends/ModelBuilder.h"
#include "compiler/frontends/gguf/GGUFConfig.h"
#include "compiler/frontends/hf/HFConfig.h"
#include "compiler/weights/Gguf.h"
#include "compiler/weights/Safetensors.h"
#include "compiler/weights/WeightStore.h"
#include "dialects/llm/LLMOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

using namespace llvm;

namespace llmc::frontends {

ImportedModel::ImportedModel() = default;
ImportedModel::ImportedModel(ImportedModel &&) = default;
ImportedModel &ImportedModel::operator=(ImportedModel &&) = default;
ImportedModel::~ImportedModel() = default;

mlir::Type getElementType(mlir::MLIRContext &context, weights::DType dtype) {
  mlir::Builder builder(&context);
  switch (dtype) {
  case weights::DType::F32:
    return builder.getF32Type();
  case weights::DType::F16:
    return builder.getF16Type();
  case weights::DType::BF16:
    return builder.getBF16Type();
  case weights::DType::F8E4M3:
    return builder.getType<mlir::Float8E4M3FNType>();
  case weights::DType::F8E5M2:
    return builder.getType<mlir::Float8E5M2Type>();
  case weights::DType::I8:
    return builder.getI8Type();
  default:
    return mlir::Type();
  }
}

std::optional<weights::DType> getDType(mlir::Type elementType) {
  if (elementType.isF32())
    return weights::DType::F32;
  if (elementType.isF16())
    return weights::DType::F16;
  if (elementType.isBF16())
    return weights::DType::BF16;
  return std::nullopt;
}

bool isImportablePath(StringRef path) {
  return sys::fs::is_directory(path) ||
         sys::path::extension(path).lower() == ".gguf";
}

namespace {

/// Prefixes every message of `error` with `path` (unless it names a file
/// already) and lets `annotate` add to it, e.g. the GGUF name of a weight.
Error wrapErrors(Error error, StringRef path,
                 function_ref<std::string(StringRef)> annotate) {
  Error result = Error::success();
  handleAllErrors(std::move(error), [&](const ErrorInfoBase &info) {
    std::string message = info.message();
    if (!StringRef(message).starts_with(path))
      message = path.str() + ": " + message;
    if (annotate)
      message = annotate(message);
    result = joinErrors(std::move(result), createStringError(message));
  });
  return result;
}

/// Declares every weight the module uses in the store with the transforms
/// that give it the op's type, and drains the builder's transform requests
/// into the store.
Error bindWeights(mlir::ModuleOp module, weights::WeightStore &store,
                  StringRef path,
                  function_ref<StringRef(StringRef)> sourceTensorOf) {
  Error result = Error::success();
  StringSet<> seen;
  module.walk([&](llm::WeightOp op) {
    StringRef name = op.getName();
    auto fail = [&](Error error) {
      result = joinErrors(std::move(result),
                          wrapErrors(std::move(error), path, nullptr));
    };
    auto type = cast<mlir::RankedTensorType>(op.getType());
    std::optional<weights::DType> target = getDType(type.getElementType());
    if (!target)
      return fail(createStringError("weight " + name +
                                    ": the builder gave it a type the "
                                    "WeightStore cannot produce"));
    if (seen.insert(name).second) {
      if (!store.contains(name))
        if (Error error = store.addWeight(name, sourceTensorOf(name)))
          return fail(std::move(error));
      Expected<weights::WeightDesc> desc = store.describe(name);
      if (!desc)
        return fail(desc.takeError());
      if (desc->dtype != *target)
        if (Error error = store.convert(name, *target))
          return fail(std::move(error));
      if (auto transform =
              op->getAttrOfType<mlir::StringAttr>(kWeightTransformAttrName)) {
        if (transform.getValue() != kWeightTransformAddOne)
          return fail(createStringError("weight " + name +
                                        ": unknown transform '" +
                                        transform.getValue() + "'"));
        if (Error error = store.addConstant(name, 1.0f))
          return fail(std::move(error));
      }
      // The builder checked shapes against the checkpoint; this catches a
      // transform chain that disagrees with the op.
      Expected<weights::WeightDesc> bound = store.describe(name);
      if (!bound)
        return fail(bound.takeError());
      if (bound->dtype != *target ||
          ArrayRef<int64_t>(bound->shape) != type.getShape())
        return fail(createStringError(
            formatv("weight {0}: the store gives {1} {2}, the IR expects {3}",
                    name, weights::getDTypeName(bound->dtype),
                    weights::formatShape(bound->shape),
                    weights::formatShape(type.getShape()))));
    }
    op->removeAttr(kWeightTransformAttrName);
  });
  return result;
}

/// Whether `directory` holds a .safetensors file (shards or a single one).
bool hasSafetensorsFile(StringRef directory) {
  std::error_code error;
  for (llvm::sys::fs::directory_iterator it(directory, error), end;
       !error && it != end; it.increment(error))
    if (llvm::sys::path::extension(it->path()) == ".safetensors")
      return true;
  return false;
}

Expected<ImportedModel> importHuggingFace(mlir::MLIRContext &context,
                                          StringRef directory,
                                          const ImportOptions &options) {
  ImportedModel imported;
  imported.format = CheckpointFormat::HuggingFace;
  Expected<ModelConfig> config = hf::readHFConfig(directory);
  if (!config)
    return config.takeError();
  imported.config = std::move(*config);
  // generation_config.json says which ids stop generation (a list for
  // instruction-tuned models); it wins over config.json's eos_token_id.
  if (Error error = readGenerationConfig(directory, imported.config))
    return std::move(error);

  if (options.allowMissingWeights && !hasSafetensorsFile(directory)) {
    imported.weights = std::make_unique<weights::WeightStore>();
    BuildOptions buildOptions;
    buildOptions.activationType = options.activationType;
    buildOptions.modelName = options.modelName;
    buildOptions.allowMissingWeights = true;
    Expected<mlir::OwningOpRef<mlir::ModuleOp>> module = buildModel(
        context, imported.config, {},
        [](StringRef name) -> Expected<WeightDesc> {
          return createStringError("no tensor named " + name);
        },
        buildOptions);
    if (!module)
      return wrapErrors(module.takeError(), directory, nullptr);
    imported.module = std::move(*module);
    Expected<std::optional<ImportedTokenizer>> tokenizer =
        importHuggingFaceTokenizer(directory);
    if (!tokenizer)
      return tokenizer.takeError();
    imported.tokenizer = std::move(*tokenizer);
    return imported;
  }

  Expected<std::unique_ptr<weights::SafetensorsCheckpoint>> checkpoint =
      weights::SafetensorsCheckpoint::open(directory);
  if (!checkpoint)
    return checkpoint.takeError();
  imported.weights = std::make_unique<weights::WeightStore>();
  weights::WeightStore &store = *imported.weights;
  std::vector<std::string> names;
  for (const weights::TensorView *tensor : (*checkpoint)->getTensors())
    names.push_back(tensor->name);
  if (Error error = store.addSource(std::move(*checkpoint)))
    return std::move(error);

  auto describe = [&](StringRef name) -> Expected<WeightDesc> {
    const weights::TensorView *tensor = store.lookupSourceTensor(name);
    if (!tensor)
      return createStringError("no tensor named " + name);
    WeightDesc desc;
    desc.shape.assign(tensor->shape.begin(), tensor->shape.end());
    desc.elementType = getElementType(context, tensor->dtype);
    if (!desc.elementType)
      return createStringError(formatv("{0} holds {1} values, which llmc "
                                       "cannot import",
                                       tensor->path,
                                       weights::getDTypeName(tensor->dtype)));
    return desc;
  };
  BuildOptions buildOptions;
  buildOptions.activationType = options.activationType;
  buildOptions.modelName = options.modelName;
  Expected<mlir::OwningOpRef<mlir::ModuleOp>> module =
      buildModel(context, imported.config, names, describe, buildOptions);
  if (!module)
    return wrapErrors(module.takeError(), directory, nullptr);
  imported.module = std::move(*module);
  if (Error error = bindWeights(*imported.module, store, directory,
                                [](StringRef name) { return name; }))
    return std::move(error);

  Expected<std::optional<ImportedTokenizer>> tokenizer =
      importHuggingFaceTokenizer(directory);
  if (!tokenizer)
    return tokenizer.takeError();
  imported.tokenizer = std::move(*tokenizer);
  return imported;
}

Expected<ImportedModel> importGguf(mlir::MLIRContext &context, StringRef path,
                                   const ImportOptions &options) {
  ImportedModel imported;
  imported.format = CheckpointFormat::Gguf;
  Expected<std::unique_ptr<weights::GgufFile>> file =
      weights::GgufFile::open(path);
  if (!file)
    return file.takeError();
  const weights::GgufFile &gguf = **file;
  Expected<ModelConfig> config = gguf::readGgufConfig(gguf);
  if (!config)
    return config.takeError();
  imported.config = std::move(*config);
  const ModelConfig &modelConfig = imported.config;
  std::vector<gguf::TensorMapping> mappings =
      gguf::mapTensorNames(gguf, modelConfig);

  imported.weights = std::make_unique<weights::WeightStore>();
  weights::WeightStore &store = *imported.weights;
  Expected<std::optional<ImportedTokenizer>> tokenizer =
      importGgufTokenizer(gguf);
  if (!tokenizer)
    return tokenizer.takeError();
  imported.tokenizer = std::move(*tokenizer);
  if (Error error = store.addSource(std::move(*file)))
    return std::move(error);

  // Block-quantized tensors are decoded to the activation type, f32 unless
  // one is asked for.
  weights::DType dequantizedType = weights::DType::F32;
  if (options.activationType)
    if (std::optional<weights::DType> dtype = getDType(options.activationType))
      dequantizedType = *dtype;

  std::vector<std::string> names;
  StringMap<std::string> sourceQuant;
  StringMap<std::string> ggufNames;
  for (const gguf::TensorMapping &mapping : mappings) {
    auto fail = [&](Error error) {
      return wrapErrors(std::move(error), path, [&](StringRef message) {
        return message.str() + " (GGUF tensor '" + mapping.ggufName + "')";
      });
    };
    if (store.contains(mapping.name))
      return createStringError(path + ": tensors '" + ggufNames[mapping.name] +
                               "' and '" + mapping.ggufName + "' both map to " +
                               mapping.name);
    if (Error error = store.addWeight(mapping.name, mapping.ggufName))
      return fail(std::move(error));
    ggufNames[mapping.name] = mapping.ggufName;
    names.push_back(mapping.name);
    const weights::TensorView *tensor =
        store.lookupSourceTensor(mapping.ggufName);
    if (weights::isBlockQuantized(tensor->dtype)) {
      sourceQuant[mapping.name] = weights::getDTypeName(tensor->dtype).str();
      // Rows of whole blocks could be unpermuted first, but a 1-D tensor
      // cannot; decoding first works for both.
      if (Error error = store.convert(mapping.name, dequantizedType))
        return fail(std::move(error));
    }
    if (mapping.unpermuteHeads > 0)
      if (Error error = store.unpermuteQK(mapping.name, mapping.unpermuteHeads))
        return fail(std::move(error));
  }

  auto describe = [&](StringRef name) -> Expected<WeightDesc> {
    Expected<weights::WeightDesc> stored = store.describe(name);
    if (!stored)
      return stored.takeError();
    WeightDesc desc;
    desc.shape.assign(stored->shape.begin(), stored->shape.end());
    desc.elementType = getElementType(context, stored->dtype);
    if (!desc.elementType)
      return createStringError(formatv("GGUF tensor '{0}' holds {1} values, "
                                       "which llmc cannot import",
                                       ggufNames.lookup(name),
                                       weights::getDTypeName(stored->dtype)));
    return desc;
  };
  BuildOptions buildOptions;
  buildOptions.activationType = options.activationType;
  buildOptions.modelName = options.modelName;
  // convert_hf_to_gguf.py stored Gemma's norms as 1 + w: adding the one
  // again would double it. Only Hugging Face checkpoints get `add_one`.
  buildOptions.normWeightsIncludeOne =
      gguf::storesNormWeightsWithOneAdded(modelConfig);
  Expected<mlir::OwningOpRef<mlir::ModuleOp>> module =
      buildModel(context, modelConfig, names, describe, buildOptions);
  auto annotate = [&](StringRef message) {
    // Name the GGUF tensor next to the Hugging Face name the builder uses.
    for (StringRef prefix : {"model.", "lm_head."}) {
      size_t start = message.find(prefix);
      if (start == StringRef::npos)
        continue;
      size_t end = message.find_first_of(" :,)", start);
      if (end == StringRef::npos)
        end = message.size();
      StringRef hfName = message.slice(start, end);
      std::string ggufName = ggufNames.lookup(hfName);
      if (ggufName.empty())
        ggufName = gguf::getGgufTensorName(hfName, modelConfig);
      if (ggufName.empty())
        return message.str();
      return (message.take_front(end) + " (GGUF '" + ggufName + "')" +
              message.drop_front(end))
          .str();
    }
    return message.str();
  };
  if (!module)
    return wrapErrors(module.takeError(), path, annotate);
  imported.module = std::move(*module);

  mlir::Builder builder(&context);
  imported.module->walk([&](llm::WeightOp op) {
    auto it = sourceQuant.find(op.getName());
    if (it != sourceQuant.end())
      op->setAttr(kWeightSourceQuantAttrName,
                  builder.getStringAttr(it->second));
  });
  if (Error error = bindWeights(*imported.module, store, path,
                                [](StringRef name) { return name; }))
    return std::move(error);
  return imported;
}

} // namespace

Expected<ImportedModel> importModel(mlir::MLIRContext &context, StringRef path,
                                    const ImportOptions &options) {
  if (options.activationType && !getDType(options.activationType))
    return createStringError("the activation type must be bf16, f16 or f32");
  sys::fs::file_status status;
  if (std::error_code error = sys::fs::status(path, status);
      error || !sys::fs::exists(status))
    return createStringError(
        path + ": cannot open: " +
        (error ? error.message() : std::string("no such file or directory")));
  if (sys::fs::is_directory(status))
    return importHuggingFace(context, path, options);
  if (sys::path::extension(path).lower() == ".gguf")
    return importGguf(context, path, options);
  return createStringError(path + ": not a model llmc can import; expected a "
                                  "Hugging Face model directory or a .gguf "
                                  "file");
}

} // namespace llmc::frontends
