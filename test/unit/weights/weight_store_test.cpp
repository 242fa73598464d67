// Unit tests of the WeightStore (compiler/weights/WeightStore.h): recorded
// transforms, their descriptions, and the bytes `materialize` streams out.
//
// Goldens (store_*.f32 / *.bin) are numpy computations in
// make_test_data.py over gguf-py's dequantization of data/model.gguf and
// the arrays behind data/mixed.safetensors; the Q/K un-permutation golden
// is the Hugging Face-order original that the script permuted with its own
// implementation of convert_hf_to_gguf.py's `permute`.

#include "compiler/weights/Gguf.h"
#include "compiler/weights/Safetensors.h"
#include "compiler/weights/WeightStore.h"

#include "TestSupport.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

using namespace llmc::weights;
using namespace llmc::weights::testing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class WeightStoreTest : public ::testing::Test {
protected:
  void SetUp() override {
    auto gguf = GgufFile::open(dataPath("model.gguf"));
    ASSERT_TRUE(!!gguf) << llvm::toString(gguf.takeError());
    ASSERT_FALSE(!!ggufStore.addSource(std::move(*gguf)));
    ggufStore.addAllSourceTensors();
    auto checkpoint =
        SafetensorsCheckpoint::open(dataPath("mixed.safetensors"));
    ASSERT_TRUE(!!checkpoint) << llvm::toString(checkpoint.takeError());
    ASSERT_FALSE(!!stStore.addSource(std::move(*checkpoint)));
    stStore.addAllSourceTensors();
  }

  static std::vector<uint8_t> materialize(const WeightStore &store,
                                          llvm::StringRef name) {
    auto desc = store.describe(name);
    if (!desc) {
      ADD_FAILURE() << llvm::toString(desc.takeError());
      return {};
    }
    std::vector<uint8_t> bytes(desc->getBytes());
    if (llvm::Error error = store.materialize(name, bytes))
      ADD_FAILURE() << llvm::toString(std::move(error));
    return bytes;
  }
  static std::vector<float> materializeF32(const WeightStore &store,
                                           llvm::StringRef name) {
    std::vector<uint8_t> bytes = materialize(store, name);
    std::vector<float> values(bytes.size() / 4);
    std::memcpy(values.data(), bytes.data(), bytes.size());
    return values;
  }
  static void expectDesc(const WeightStore &store, llvm::StringRef name,
                         DType dtype, std::vector<int64_t> shape) {
    auto desc = store.describe(name);
    ASSERT_TRUE(!!desc) << llvm::toString(desc.takeError());
    EXPECT_EQ(getDTypeName(desc->dtype), getDTypeName(dtype)) << name.str();
    EXPECT_EQ(std::vector<int64_t>(desc->shape.begin(), desc->shape.end()),
              shape)
        << name.str();
  }

  WeightStore ggufStore;
  WeightStore stStore;
};

// Untransformed weights describe and materialize as the source tensor.
TEST_F(WeightStoreTest, UntransformedIsTheSource) {
  expectDesc(ggufStore, "q4_k", DType::Q4_K, {3, 512});
  std::vector<uint8_t> bytes = materialize(ggufStore, "q4_k");
  const TensorView *source = ggufStore.lookupSourceTensor("q4_k");
  ASSERT_TRUE(source);
  EXPECT_TRUE(llvm::ArrayRef<uint8_t>(bytes) == source->bytes);
  EXPECT_EQ(ggufStore.getWeightNames().size(), 18u);
}

// transpose of a 2-D F32 weight.
TEST_F(WeightStoreTest, Transpose) {
  ASSERT_FALSE(!!ggufStore.transpose("f32"));
  expectDesc(ggufStore, "f32", DType::F32, {64, 3});
  EXPECT_TRUE(sameFloats(materializeF32(ggufStore, "f32"),
                         readGolden("store_transpose_f32")));
}

// Row slices of a block-quantized weight stay quantized until converted.
TEST_F(WeightStoreTest, SliceRowsOfQuantized) {
  ASSERT_FALSE(!!ggufStore.slice("q4_0", 0, 1, 3));
  expectDesc(ggufStore, "q4_0", DType::Q4_0, {2, 64});
  ASSERT_FALSE(!!ggufStore.convert("q4_0", DType::F32));
  expectDesc(ggufStore, "q4_0", DType::F32, {2, 64});
  EXPECT_TRUE(sameFloats(materializeF32(ggufStore, "q4_0"),
                         readGolden("store_slice_rows_q4_0")));
}

// Column slices after conversion; a chain of convert, transpose, slice.
TEST_F(WeightStoreTest, SliceColumnsAndChains) {
  ASSERT_FALSE(!!ggufStore.convert("f16", DType::F32));
  ASSERT_FALSE(!!ggufStore.slice("f16", 1, 16, 48));
  expectDesc(ggufStore, "f16", DType::F32, {2, 32});
  EXPECT_TRUE(sameFloats(materializeF32(ggufStore, "f16"),
                         readGolden("store_slice_cols_f16")));

  ASSERT_FALSE(!!ggufStore.convert("q4_k", DType::F32));
  ASSERT_FALSE(!!ggufStore.transpose("q4_k"));
  ASSERT_FALSE(!!ggufStore.slice("q4_k", 0, 100, 300));
  expectDesc(ggufStore, "q4_k", DType::F32, {200, 3});
  EXPECT_TRUE(sameFloats(materializeF32(ggufStore, "q4_k"),
                         readGolden("store_transpose_slice_q4_k")));
}

// Concatenation along rows of parts with their own chains, and along
// columns; later transforms on a part do not reach the concatenation.
TEST_F(WeightStoreTest, Concat) {
  ASSERT_FALSE(!!ggufStore.convert("q8_0", DType::F32));
  ASSERT_FALSE(!!ggufStore.convert("q4_0", DType::F32));
  ASSERT_FALSE(!!ggufStore.addConcat("qkv", {"f32", "q8_0", "q4_0"}, 0));
  ASSERT_FALSE(!!ggufStore.transpose("f32"));
  expectDesc(ggufStore, "qkv", DType::F32, {11, 64});
  EXPECT_TRUE(sameFloats(materializeF32(ggufStore, "qkv"),
                         readGolden("store_concat_rows")));

  ASSERT_FALSE(!!stStore.addWeight("f32.first2", "f32"));
  ASSERT_FALSE(!!stStore.slice("f32.first2", 1, 0, 2));
  ASSERT_FALSE(!!stStore.addConcat("wide", {"f32", "f32.first2"}, 1));
  expectDesc(stStore, "wide", DType::F32, {4, 7});
  EXPECT_TRUE(sameFloats(materializeF32(stStore, "wide"),
                         readGolden("store_concat_cols")));
  // A concatenation can itself be transformed.
  ASSERT_FALSE(!!stStore.transpose("wide"));
  expectDesc(stStore, "wide", DType::F32, {7, 4});
}

// unpermuteQK restores Hugging Face row order from llama.cpp's Q layout, on
// F32 and directly on Q8_0 rows.
TEST_F(WeightStoreTest, UnpermuteQK) {
  ASSERT_FALSE(!!ggufStore.unpermuteQK("blk.0.attn_q.weight", 2));
  expectDesc(ggufStore, "blk.0.attn_q.weight", DType::F32, {16, 32});
  EXPECT_TRUE(sameFloats(materializeF32(ggufStore, "blk.0.attn_q.weight"),
                         readGolden("store_unpermute_f32")));
  ASSERT_FALSE(!!ggufStore.unpermuteQK("blk.0.attn_q.q8", 2));
  ASSERT_FALSE(!!ggufStore.convert("blk.0.attn_q.q8", DType::F32));
  EXPECT_TRUE(sameFloats(materializeF32(ggufStore, "blk.0.attn_q.q8"),
                         readGolden("store_unpermute_q8")));
}

// Gemma's `1 + w`: in F32 after conversion, and kept in BF16 (the sum
// rounded to nearest even like gguf-py's BF16 quantizer).
TEST_F(WeightStoreTest, AddConstant) {
  ASSERT_FALSE(!!stStore.addWeight("norm.f32", "bf16"));
  ASSERT_FALSE(!!stStore.convert("norm.f32", DType::F32));
  ASSERT_FALSE(!!stStore.addConstant("norm.f32", 1.0f));
  EXPECT_TRUE(sameFloats(materializeF32(stStore, "norm.f32"),
                         readGolden("store_add_one_f32")));
  ASSERT_FALSE(!!stStore.addConstant("bf16", 1.0f));
  expectDesc(stStore, "bf16", DType::BF16, {3, 8});
  std::vector<uint8_t> bytes = materialize(stStore, "bf16");
  std::string golden = readDataFile("store_add_one_bf16.bin");
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), golden);
}

// Conversion to 16-bit floats rounds like numpy (F16) and gguf-py (BF16).
TEST_F(WeightStoreTest, ConvertTo16Bit) {
  ASSERT_FALSE(!!ggufStore.convert("q6_k", DType::F16));
  expectDesc(ggufStore, "q6_k", DType::F16, {3, 512});
  std::vector<uint8_t> half = materialize(ggufStore, "q6_k");
  EXPECT_EQ(std::string(half.begin(), half.end()),
            readDataFile("store_q6_k_to_f16.bin"));
  ASSERT_FALSE(!!ggufStore.convert("f32", DType::BF16));
  std::vector<uint8_t> brain = materialize(ggufStore, "f32");
  EXPECT_EQ(std::string(brain.begin(), brain.end()),
            readDataFile("store_f32_to_bf16.bin"));
}

// Transforms that do not apply are refused when recorded, naming the weight
// and what to do instead.
TEST_F(WeightStoreTest, InvalidTransformsAreRefused) {
  EXPECT_THAT(errorOf(ggufStore.transpose("q4_k")),
              HasSubstr("weight 'q4_k': cannot transpose Q4_K blocks; "
                        "convert to F32, F16 or BF16 first"));
  EXPECT_THAT(errorOf(ggufStore.transpose("i8")),
              HasSubstr("transpose needs a 2-D weight, not [32]"));
  EXPECT_THAT(errorOf(ggufStore.slice("q4_k", 1, 0, 256)),
              HasSubstr("cannot slice Q4_K blocks along the innermost axis"));
  EXPECT_THAT(errorOf(ggufStore.slice("f32", 0, 2, 4)),
              HasSubstr("slice [2, 4) of axis 0 is outside shape [3, 64]"));
  EXPECT_THAT(errorOf(ggufStore.slice("f32", 2, 0, 1)),
              HasSubstr("slice axis 2 is out of range"));
  EXPECT_THAT(errorOf(ggufStore.unpermuteQK("f32", 2)),
              HasSubstr("cannot unpermute [3, 64] for 2 heads"));
  EXPECT_THAT(errorOf(ggufStore.addConstant("q8_0", 1.0f)),
              HasSubstr("cannot add a constant to Q8_0"));
  EXPECT_THAT(errorOf(ggufStore.convert("f32", DType::I8)),
              HasSubstr("cannot convert to I8"));
  EXPECT_THAT(errorOf(ggufStore.addConcat("x", {"f32", "q8_0"}, 0)),
              HasSubstr("concat part 'q8_0' is Q8_0 [4, 64] but 'f32' is F32 "
                        "[3, 64]"));
  EXPECT_THAT(errorOf(ggufStore.addConcat("x", {"f32", "nope"}, 0)),
              HasSubstr("concat part 'nope' is not declared"));
  EXPECT_THAT(errorOf(ggufStore.addConcat("x", {"q4_0", "q4_0"}, 1)),
              HasSubstr("cannot concatenate Q4_0 blocks along the innermost"));
  EXPECT_THAT(errorOf(ggufStore.addWeight("f32")),
              HasSubstr("weight 'f32' is already declared"));
  EXPECT_THAT(errorOf(ggufStore.addWeight("x", "missing.tensor")),
              HasSubstr("no source holds tensor 'missing.tensor'"));
  EXPECT_THAT(errorOf(ggufStore.transpose("nope")),
              HasSubstr("weight 'nope': cannot transpose: not declared"));
  EXPECT_THAT(errorOf(ggufStore.describe("nope")), HasSubstr("'nope'"));
  std::vector<uint8_t> tooSmall(10);
  EXPECT_THAT(errorOf(ggufStore.materialize("f32", tooSmall)),
              HasSubstr("weight 'f32' is F32 [3, 64] = 768 bytes, but the "
                        "destination holds 10"));
}

// Two sources providing the same tensor name are ambiguous.
TEST_F(WeightStoreTest, DuplicateSourceTensorsAreRefused) {
  auto checkpoint = SafetensorsCheckpoint::open(dataPath("mixed.safetensors"));
  ASSERT_TRUE(!!checkpoint);
  EXPECT_THAT(errorOf(ggufStore.addSource(std::move(*checkpoint))),
              HasSubstr("mixed.safetensors: tensor 'bf16' is already provided "
                        "by"));
}

} // namespace
