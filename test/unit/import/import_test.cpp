//===- import_test.cpp - checkpoints imported from safetensors and GGUF ---===//
//
// Goldens: scripts/make_tiny_model.py writes each tiny model as a Hugging
// Face directory and as GGUF files the way llama.cpp's converter does, plus
// `<arch>.expected.safetensors` (what each weight means, computed by numpy:
// Gemma norms as 1 + w in f32), `<arch>.f16.expected.safetensors` (that,
// rounded to f16 by numpy) and `<arch>.q8_0.expected.safetensors` (gguf-py's
// dequantization of the Q8_0 file, un-permuted by numpy). Every `llm.weight`
// of each imported module is materialized from its WeightStore and compared
// bit for bit.
//
//===----------------------------------------------------------------------===//

#include "compiler/frontends/Importer.h"
#include "compiler/registration/Registration.h"
#include "compiler/weights/Gguf.h"
#include "compiler/weights/Safetensors.h"
#include "compiler/weights/WeightStore.h"
#include "dialects/llm/LLMOps.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringMap.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace llmc;
using frontends::ImportedModel;

std::string tinyPath(llvm::StringRef name) {
  return std::string(LLMC_TINY_MODELS_DIR) + "/" + name.str();
}

class ImportTest : public ::testing::TestWithParam<std::string> {
protected:
  ImportTest() : context(makeRegistry()) {}
  static mlir::DialectRegistry makeRegistry() {
    mlir::DialectRegistry registry;
    registerAllLlmcDialects(registry);
    return registry;
  }

  /// Imports or fails the test.
  std::optional<ImportedModel>
  import(llvm::StringRef name, const frontends::ImportOptions &options = {}) {
    llvm::Expected<ImportedModel> imported =
        frontends::importModel(context, tinyPath(name), options);
    if (!imported) {
      ADD_FAILURE() << llvm::toString(imported.takeError());
      return std::nullopt;
    }
    return std::move(*imported);
  }

  mlir::MLIRContext context;
};

/// Every `llm.weight` of the module, materialized: name -> bytes. Checks
/// that the store describes each weight exactly as the op types it.
llvm::StringMap<std::vector<uint8_t>> materializeAll(ImportedModel &m) {
  llvm::StringMap<std::vector<uint8_t>> result;
  m.module->walk([&](llm::WeightOp op) {
    llvm::StringRef name = op.getName();
    if (result.count(name))
      return;
    auto type = mlir::cast<mlir::RankedTensorType>(op.getType());
    llvm::Expected<weights::WeightDesc> desc = m.weights->describe(name);
    if (!desc) {
      ADD_FAILURE() << llvm::toString(desc.takeError());
      return;
    }
    EXPECT_EQ(llvm::ArrayRef<int64_t>(desc->shape), type.getShape())
        << name.str();
    EXPECT_EQ(frontends::getElementType(*op.getContext(), desc->dtype),
              type.getElementType())
        << name.str();
    std::vector<uint8_t> bytes(desc->getBytes());
    if (llvm::Error error = m.weights->materialize(name, bytes))
      ADD_FAILURE() << llvm::toString(std::move(error));
    result[name] = std::move(bytes);
  });
  return result;
}

/// The tensors of a golden safetensors file, as stored: name -> bytes.
llvm::StringMap<std::vector<uint8_t>> readGolden(llvm::StringRef name) {
  llvm::StringMap<std::vector<uint8_t>> result;
  auto file = weights::SafetensorsFile::open(tinyPath(name));
  if (!file) {
    ADD_FAILURE() << llvm::toString(file.takeError());
    return result;
  }
  for (const weights::TensorView &tensor : (*file)->getTensors())
    result[tensor.name] =
        std::vector<uint8_t>(tensor.bytes.begin(), tensor.bytes.end());
  return result;
}

/// Same names, and bitwise the same bytes for each.
void expectSameWeights(const llvm::StringMap<std::vector<uint8_t>> &actual,
                       const llvm::StringMap<std::vector<uint8_t>> &expected,
                       llvm::StringRef what) {
  EXPECT_EQ(actual.size(), expected.size()) << what.str();
  for (const auto &entry : expected) {
    auto it = actual.find(entry.getKey());
    if (it == actual.end()) {
      ADD_FAILURE() << what.str() << ": no weight " << entry.getKey().str();
      continue;
    }
    EXPECT_TRUE(it->second == entry.getValue())
        << what.str() << ": weight " << entry.getKey().str() << " differs";
  }
}

// The Hugging Face directory imports to exactly the weights numpy wrote
// (Gemma's norms with the one added by the store).
TEST_P(ImportTest, HuggingFaceMatchesNumpy) {
  std::optional<ImportedModel> hf = import(GetParam());
  ASSERT_TRUE(hf);
  expectSameWeights(materializeAll(*hf),
                    readGolden(GetParam() + ".expected.safetensors"),
                    "safetensors");
}

// The F32 GGUF gives bit-identical weights: Q/K rows un-permuted for llama,
// Gemma's stored 1 + w taken as is.
TEST_P(ImportTest, GgufF32MatchesHuggingFace) {
  std::optional<ImportedModel> hf = import(GetParam());
  std::optional<ImportedModel> gguf = import(GetParam() + ".f32.gguf");
  ASSERT_TRUE(hf && gguf);
  auto fromGguf = materializeAll(*gguf);
  expectSameWeights(fromGguf, materializeAll(*hf), "GGUF F32 vs safetensors");
  expectSameWeights(fromGguf, readGolden(GetParam() + ".expected.safetensors"),
                    "GGUF F32 vs numpy");
}

// The F16 GGUF imports as an f16 module whose weights are numpy's f16
// rounding of the originals (its F32 norms are converted by the store).
TEST_P(ImportTest, GgufF16MatchesNumpyRounding) {
  std::optional<ImportedModel> gguf = import(GetParam() + ".f16.gguf");
  ASSERT_TRUE(gguf);
  expectSameWeights(materializeAll(*gguf),
                    readGolden(GetParam() + ".f16.expected.safetensors"),
                    "GGUF F16");
}

// Q8_0 matrices are dequantized to f32 exactly as gguf-py dequantizes them.
TEST_P(ImportTest, GgufQ8MatchesGgufPy) {
  std::optional<ImportedModel> gguf = import(GetParam() + ".q8_0.gguf");
  ASSERT_TRUE(gguf);
  expectSameWeights(materializeAll(*gguf),
                    readGolden(GetParam() + ".q8_0.expected.safetensors"),
                    "GGUF Q8_0");
}

// --dtype=bf16 on a quantized file dequantizes straight to bf16.
TEST_P(ImportTest, GgufQ8ToBF16) {
  frontends::ImportOptions options;
  options.activationType = mlir::BFloat16Type::get(&context);
  std::optional<ImportedModel> gguf =
      import(GetParam() + ".q8_0.gguf", options);
  ASSERT_TRUE(gguf);
  auto all = materializeAll(*gguf);
  EXPECT_FALSE(all.empty());
  gguf->module->walk([&](llm::WeightOp op) {
    EXPECT_TRUE(mlir::cast<mlir::RankedTensorType>(op.getType())
                    .getElementType()
                    .isBF16());
  });
}

// Both formats describe the same network.
TEST_P(ImportTest, SameConfig) {
  std::optional<ImportedModel> hf = import(GetParam());
  std::optional<ImportedModel> gguf = import(GetParam() + ".q8_0.gguf");
  ASSERT_TRUE(hf && gguf);
  std::string hfText, ggufText;
  llvm::raw_string_ostream hfStream(hfText), ggufStream(ggufText);
  hf->config.source = gguf->config.source = "";
  // convert_hf_to_gguf.py writes Mistral as `llama`.
  if (GetParam() == "mistral") {
    EXPECT_EQ(gguf->config.architecture, "llama");
    gguf->config.architecture = "mistral";
  }
  hf->config.print(hfStream);
  gguf->config.print(ggufStream);
  EXPECT_EQ(hfText, ggufText);
  EXPECT_EQ(hf->format, frontends::CheckpointFormat::HuggingFace);
  EXPECT_EQ(gguf->format, frontends::CheckpointFormat::Gguf);
  ASSERT_TRUE(hf->tokenizer && gguf->tokenizer);
  EXPECT_EQ(hf->tokenizer->format, frontends::TokenizerFormat::HuggingFace);
  EXPECT_EQ(gguf->tokenizer->format, frontends::TokenizerFormat::GgufMetadata);
  EXPECT_TRUE(gguf->tokenizer->vectors.has_value());
}

INSTANTIATE_TEST_SUITE_P(TinyModels, ImportTest,
                         ::testing::Values("llama", "qwen2", "qwen3", "mistral",
                                           "gemma3"));

// Gemma: the `1 +` of its RMSNorm is added once. From safetensors the store
// adds it; from GGUF, whose converter already stored 1 + w, the store hands
// the tensor over untouched.
TEST(GemmaNormOffset, AddedOnlyForHuggingFace) {
  mlir::DialectRegistry registry;
  registerAllLlmcDialects(registry);
  mlir::MLIRContext context(registry);
  auto hf = frontends::importModel(context, tinyPath("gemma3"));
  auto gguf = frontends::importModel(context, tinyPath("gemma3.f32.gguf"));
  ASSERT_TRUE(static_cast<bool>(hf)) << llvm::toString(hf.takeError());
  ASSERT_TRUE(static_cast<bool>(gguf)) << llvm::toString(gguf.takeError());

  auto read = [](const weights::WeightStore &store, llvm::StringRef name) {
    std::vector<float> values(store.describe(name)->getNumElements());
    llvm::MutableArrayRef<uint8_t> bytes(
        reinterpret_cast<uint8_t *>(values.data()), values.size() * 4);
    EXPECT_FALSE(static_cast<bool>(store.materialize(name, bytes)));
    return values;
  };
  auto source = [](const weights::WeightStore &store, llvm::StringRef tensor) {
    const weights::TensorView *view = store.lookupSourceTensor(tensor);
    std::vector<float> values(view ? view->getNumElements() : 0);
    if (view)
      EXPECT_FALSE(static_cast<bool>(weights::readTensorAsF32(*view, values)));
    return values;
  };
  for (auto [hfName, ggufName] :
       {std::pair<llvm::StringRef, llvm::StringRef>{"model.norm.weight",
                                                    "output_norm.weight"},
        {"model.layers.0.self_attn.q_norm.weight", "blk.0.attn_q_norm.weight"},
        {"model.layers.3.post_feedforward_layernorm.weight",
         "blk.3.post_ffw_norm.weight"}}) {
    std::vector<float> stored = source(*hf->weights, hfName);
    std::vector<float> fromHF = read(*hf->weights, hfName);
    ASSERT_EQ(fromHF.size(), stored.size());
    for (size_t i = 0; i < stored.size(); ++i)
      EXPECT_EQ(fromHF[i], stored[i] + 1.0f) << hfName.str() << "[" << i << "]";
    EXPECT_EQ(read(*gguf->weights, hfName), source(*gguf->weights, ggufName))
        << hfName.str();
  }
}

} // namespace
