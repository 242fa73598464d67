// Unit tests of the GGUF reader (compiler/weights/Gguf.h) and the ggml
// dequantizers.
//
// data/model.gguf was written by gguf-py's GGUFWriter (make_test_data.py);
// the gguf_<tensor>.f32 goldens are gguf-py's GGUFReader + quants.dequantize
// output for the same file. Those are the same float operations as ggml's
// C dequantizers, so llmc must match them bitwise. Corrupt files are built
// byte by byte below, following the GGUF spec (ggml docs/gguf.md).

#include "compiler/weights/Gguf.h"

#include "TestSupport.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

namespace {

using namespace llmc::weights;
using namespace llmc::weights::testing;
using ::testing::HasSubstr;

std::unique_ptr<GgufFile> openModel() {
  auto file = GgufFile::open(dataPath("model.gguf"));
  if (!file) {
    ADD_FAILURE() << llvm::toString(file.takeError());
    return nullptr;
  }
  return std::move(*file);
}

// Scalar metadata of every GGUF value type reads back with the value
// gguf-py wrote.
TEST(Gguf, ScalarMetadataOfEveryType) {
  auto file = openModel();
  ASSERT_TRUE(file);
  EXPECT_EQ(file->getVersion(), 3u);
  EXPECT_EQ(*file->getString("general.architecture"), "llama");
  EXPECT_EQ(*file->getU32("test.u8"), 200u);
  EXPECT_EQ(*file->getI32("test.i8"), -100);
  EXPECT_EQ(*file->getU32("test.u16"), 60000u);
  EXPECT_EQ(*file->getI32("test.i16"), -30000);
  EXPECT_EQ(*file->getU32("test.u32"), 4000000000u);
  EXPECT_EQ(*file->getI32("test.i32"), -2000000000);
  EXPECT_EQ(*file->getF32("test.f32"), 0.1f);
  EXPECT_EQ(*file->getBool("test.bool"), true);
  EXPECT_EQ(*file->getString("test.string"), "h\xC3\xA9llo w\xC3\xB6rld");
  EXPECT_EQ(*file->getU64("test.u64"), (uint64_t{1} << 63) + 5);
  EXPECT_EQ(file->lookup("test.i64")->getAsSigned(), -(int64_t{1} << 62));
  EXPECT_EQ(*file->lookup("test.f64")->getAsFloat(), 2.5e300);
  EXPECT_EQ(file->lookup("test.f64")->getType(), GgufValueType::F64);
  // Written as u64; a count getter accepts any integer type that fits.
  EXPECT_EQ(*file->getU32("llama.context_length"), 4096u);
  EXPECT_EQ(*file->getF32("llama.attention.layer_norm_rms_epsilon"), 1e-5f);
}

// Array metadata: the tokenizer arrays, arrays of other scalar types, and a
// nested array of arrays of strings.
TEST(Gguf, ArrayMetadata) {
  auto file = openModel();
  ASSERT_TRUE(file);
  auto tokens = file->getStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(!!tokens) << llvm::toString(tokens.takeError());
  EXPECT_THAT(*tokens, ::testing::ElementsAre("<s>", "</s>", "hello",
                                              "\xE2\x96\x81w\xC3\xB6rld", ""));
  EXPECT_THAT(*file->getF32Array("tokenizer.ggml.scores"),
              ::testing::ElementsAre(0.0f, -1.5f, -2.25f, -1e9f, 3.0f));
  EXPECT_THAT(*file->getI32Array("tokenizer.ggml.token_type"),
              ::testing::ElementsAre(3, 3, 1, 1, 6));
  EXPECT_THAT(*file->getI32Array("test.u8_array"),
              ::testing::ElementsAre(1, 2, 255));
  EXPECT_THAT(*file->getF32Array("test.f64_array"),
              ::testing::ElementsAre(0.5f, -0.25f));
  std::vector<GgufValue> flags =
      file->lookup("test.bool_array")->getArrayElements();
  ASSERT_EQ(flags.size(), 3u);
  EXPECT_EQ(*flags[0].getAsBool(), true);
  EXPECT_EQ(*flags[1].getAsBool(), false);

  const GgufValue *nested = file->lookup("test.nested");
  ASSERT_TRUE(nested);
  EXPECT_EQ(nested->getElementType(), GgufValueType::Array);
  std::vector<GgufValue> outer = nested->getArrayElements();
  ASSERT_EQ(outer.size(), 2u);
  std::vector<GgufValue> first = outer[0].getArrayElements();
  std::vector<GgufValue> second = outer[1].getArrayElements();
  ASSERT_EQ(first.size(), 2u);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(*first[0].getAsString(), "a");
  EXPECT_EQ(*first[1].getAsString(), "bc");
  EXPECT_EQ(*second[0].getAsString(), "def");
}

// Typed getters refuse a missing key, a wrong type and a value out of range,
// naming the file and key.
TEST(Gguf, AccessorErrorsNameFileAndKey) {
  auto file = openModel();
  ASSERT_TRUE(file);
  std::string missing = errorOf(file->getU32("llama.nope"));
  EXPECT_THAT(missing,
              HasSubstr("model.gguf: metadata 'llama.nope' is missing"));
  EXPECT_THAT(errorOf(file->getString("test.u8")),
              HasSubstr("metadata 'test.u8' is u8, expected string"));
  EXPECT_THAT(errorOf(file->getU32("test.i8")), HasSubstr("'test.i8'"));
  EXPECT_THAT(errorOf(file->getU32("test.u64")), HasSubstr("u32 range"));
  EXPECT_THAT(errorOf(file->getStringArray("tokenizer.ggml.scores")),
              HasSubstr("is array of f32, expected array of string"));
  EXPECT_THAT(errorOf(file->getI32Array("test.i64_array")),
              HasSubstr("element 1 (1099511627776) is out of i32 range"));
}

// Tensor infos: names, ggml dims innermost first, row-major shapes
// outermost first, aligned data.
TEST(Gguf, TensorInfos) {
  auto file = openModel();
  ASSERT_TRUE(file);
  EXPECT_EQ(file->getAlignment(), 32u);
  EXPECT_EQ(file->getDataOffset() % 32, 0u);
  EXPECT_EQ(file->getTensorInfos().size(), 18u);
  const GgufTensorInfo *f32 = file->lookupTensor("f32");
  ASSERT_TRUE(f32);
  EXPECT_THAT(f32->ggmlDims, ::testing::ElementsAre(64u, 3u));
  EXPECT_THAT(f32->view.shape, ::testing::ElementsAre(3, 64));
  EXPECT_EQ(f32->view.dtype, DType::F32);
  const GgufTensorInfo *q4k = file->lookupTensor("q4_k");
  ASSERT_TRUE(q4k);
  EXPECT_EQ(q4k->ggmlType, 12u);
  EXPECT_EQ(q4k->view.dtype, DType::Q4_K);
  EXPECT_THAT(q4k->view.shape, ::testing::ElementsAre(3, 512));
  EXPECT_EQ(q4k->view.bytes.size(), 6u * 144);
  for (const GgufTensorInfo &info : file->getTensorInfos())
    EXPECT_EQ(info.offset % 32, 0u) << info.view.name;
  EXPECT_EQ(file->lookupTensor("nope"), nullptr);
}

// Every supported ggml type decodes bitwise like gguf-py's dequantizers.
TEST(Gguf, DequantizeMatchesGgufPyBitwise) {
  auto file = openModel();
  ASSERT_TRUE(file);
  for (const char *name :
       {"f32", "f16", "bf16", "f64", "i8", "i16", "i32", "i64", "q8_0", "q4_0",
        "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k", "blk.0.attn_q.weight",
        "blk.0.attn_q.q8"}) {
    SCOPED_TRACE(name);
    const GgufTensorInfo *info = file->lookupTensor(name);
    ASSERT_TRUE(info);
    std::vector<float> values(info->view.getNumElements());
    ASSERT_FALSE(!!readTensorAsF32(info->view, values));
    EXPECT_TRUE(sameFloats(values, readGolden(std::string("gguf_") + name)));
  }
}

// `general.alignment` moves the data section and the offsets; versions 2
// and 3 share the layout.
TEST(Gguf, CustomAlignmentAndVersion2) {
  for (const char *name : {"align64.gguf", "align64_v2.gguf"}) {
    SCOPED_TRACE(name);
    auto file = GgufFile::open(dataPath(name));
    ASSERT_TRUE(!!file) << llvm::toString(file.takeError());
    EXPECT_EQ((*file)->getAlignment(), 64u);
    EXPECT_EQ((*file)->getDataOffset() % 64, 0u);
    const GgufTensorInfo *b = (*file)->lookupTensor("b");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->offset, 64u);
    std::vector<float> values(3);
    ASSERT_FALSE(!!readTensorAsF32(b->view, values));
    EXPECT_THAT(values, ::testing::ElementsAre(100.0f, 101.0f, 102.0f));
  }
  EXPECT_EQ((*GgufFile::open(dataPath("align64_v2.gguf")))->getVersion(), 2u);
}

//===----------------------------------------------------------------------===//
// Corrupt files, built from the spec.
//===----------------------------------------------------------------------===//

/// Writes GGUF by hand so each test can break exactly one field.
struct GgufBuilder {
  std::string bytes;

  GgufBuilder &header(uint64_t tensors, uint64_t keys, uint32_t version = 3) {
    bytes += "GGUF";
    appendU32(bytes, version);
    appendU64(bytes, tensors);
    appendU64(bytes, keys);
    return *this;
  }
  GgufBuilder &string(llvm::StringRef text) {
    appendU64(bytes, text.size());
    bytes += text.str();
    return *this;
  }
  GgufBuilder &u32(uint32_t value) {
    appendU32(bytes, value);
    return *this;
  }
  GgufBuilder &u64(uint64_t value) {
    appendU64(bytes, value);
    return *this;
  }
  GgufBuilder &keyU32(llvm::StringRef key, uint32_t value) {
    return string(key).u32(4).u32(value);
  }
  GgufBuilder &tensor(llvm::StringRef name, std::vector<uint64_t> dims,
                      uint32_t type, uint64_t offset) {
    string(name).u32(dims.size());
    for (uint64_t dim : dims)
      u64(dim);
    return u32(type).u64(offset);
  }
  /// Pads to the data section (alignment 32) and appends `dataBytes` zeros.
  GgufBuilder &data(size_t dataBytes, size_t alignment = 32) {
    bytes.resize((bytes.size() + alignment - 1) / alignment * alignment, '\0');
    bytes.append(dataBytes, '\0');
    return *this;
  }
  std::string parseError() const {
    return errorOf(GgufFile::parse(bufferOf(bytes, "bad.gguf")));
  }
};

// A hand-built file that follows the spec parses (so the corruptions below
// fail for the reason they test).
TEST(GgufCorrupt, BuilderBaselineParses) {
  GgufBuilder good;
  good.header(2, 1).keyU32("general.alignment", 32);
  good.tensor("a", {8, 2}, /*F32*/ 0, 0).tensor("b", {32}, /*Q8_0*/ 8, 64);
  good.data(64 + 34);
  auto file = GgufFile::parse(bufferOf(good.bytes, "good.gguf"));
  ASSERT_TRUE(!!file) << llvm::toString(file.takeError());
  EXPECT_EQ((*file)->getTensorInfos().size(), 2u);
}

// A wrong magic number or an unsupported version is refused up front.
TEST(GgufCorrupt, MagicAndVersion) {
  GgufBuilder notGguf;
  notGguf.bytes = "GGML";
  notGguf.u32(3).u64(0).u64(0);
  EXPECT_THAT(notGguf.parseError(), HasSubstr("bad.gguf: not a GGUF file"));
  EXPECT_THAT(GgufBuilder().header(0, 0, 1).parseError(),
              HasSubstr("bad.gguf: GGUF version 1 is not supported"));
  EXPECT_THAT(GgufBuilder().header(0, 0, 0x03000000).parseError(),
              HasSubstr("big-endian"));
}

// Counts the rest of the file cannot hold fail before any allocation.
TEST(GgufCorrupt, HugeCounts) {
  EXPECT_THAT(GgufBuilder().header(1ull << 60, 0).parseError(),
              HasSubstr("bad.gguf: tensor count 1152921504606846976 is more "
                        "than"));
  EXPECT_THAT(GgufBuilder().header(0, ~0ull).parseError(),
              HasSubstr("metadata key/value count"));
  GgufBuilder hugeArray;
  hugeArray.header(0, 1)
      .string("tokenizer.ggml.tokens")
      .u32(9)
      .u32(8)
      .u64(1ull << 62);
  EXPECT_THAT(hugeArray.parseError(),
              HasSubstr("metadata 'tokenizer.ggml.tokens' array length "
                        "4611686018427387904 of string exceeds"));
  GgufBuilder hugeScalarArray;
  hugeScalarArray.header(0, 1).string("k").u32(9).u32(6).u64(~0ull >> 2);
  EXPECT_THAT(hugeScalarArray.parseError(), HasSubstr("array length"));
}

// String lengths that run past the end of the file name what was being read.
TEST(GgufCorrupt, StringLengthsBeyondFile) {
  GgufBuilder longKey;
  // Padding keeps the count check (13 bytes per key) from firing first.
  longKey.header(0, 1).u64(1000).bytes += std::string(40, 'x');
  EXPECT_THAT(longKey.parseError(),
              HasSubstr("metadata key #0 length 1000 at offset 24 exceeds"));
  GgufBuilder longValue;
  longValue.header(0, 1).string("general.name").u32(8).u64(1ull << 40);
  EXPECT_THAT(longValue.parseError(),
              HasSubstr("metadata 'general.name' length 1099511627776"));
  GgufBuilder longElement;
  longElement.header(0, 1).string("tokenizer.ggml.tokens").u32(9).u32(8).u64(2);
  longElement.string("ok").u64(99);
  EXPECT_THAT(longElement.parseError(),
              HasSubstr("metadata 'tokenizer.ggml.tokens'[1] length 99"));
  GgufBuilder longName;
  longName.header(1, 0).u64(77).bytes += std::string(40, 'x');
  EXPECT_THAT(longName.parseError(),
              HasSubstr("tensor info #0 name length 77"));
}

// Unknown value types, nesting deeper than any real file, duplicate keys
// and a malformed general.alignment.
TEST(GgufCorrupt, MetadataStructure) {
  GgufBuilder badType;
  badType.header(0, 1).string("k").u32(13).u32(0);
  EXPECT_THAT(badType.parseError(),
              HasSubstr("metadata 'k' has unknown value type 13"));
  GgufBuilder badElementType;
  badElementType.header(0, 1).string("k").u32(9).u32(77).u64(0);
  EXPECT_THAT(badElementType.parseError(),
              HasSubstr("unknown array element type 77"));
  GgufBuilder deep;
  deep.header(0, 1).string("k").u32(9);
  for (int i = 0; i < 100; ++i)
    deep.u32(9).u64(1);
  deep.u32(0).u64(0);
  EXPECT_THAT(deep.parseError(), HasSubstr("nests arrays more than 8 deep"));
  GgufBuilder duplicate;
  duplicate.header(0, 2).keyU32("a.b", 1).keyU32("a.b", 2);
  EXPECT_THAT(duplicate.parseError(),
              HasSubstr("metadata key 'a.b' appears twice"));
  GgufBuilder badAlignment;
  badAlignment.header(0, 1).keyU32("general.alignment", 48);
  EXPECT_THAT(badAlignment.parseError(),
              HasSubstr("'general.alignment' must be a u32 power of two"));
  GgufBuilder stringAlignment;
  stringAlignment.header(0, 1).string("general.alignment").u32(8).string("32");
  EXPECT_THAT(stringAlignment.parseError(), HasSubstr("general.alignment"));
}

// Unknown and unsupported ggml types name the tensor and the type.
TEST(GgufCorrupt, TensorTypes) {
  GgufBuilder unknown;
  unknown.header(1, 0).tensor("blk.0.ffn_up.weight", {32}, 99, 0).data(64);
  EXPECT_THAT(unknown.parseError(),
              HasSubstr("bad.gguf: tensor 'blk.0.ffn_up.weight' has unknown "
                        "ggml type 99"));
  GgufBuilder unsupported;
  unsupported.header(1, 0)
      .tensor("blk.0.attn_k.weight", {256}, 16, 0)
      .data(256);
  EXPECT_THAT(unsupported.parseError(),
              HasSubstr("tensor 'blk.0.attn_k.weight' has ggml type IQ2_XXS "
                        "(16), which llmc cannot decode"));
}

// Tensor shapes: more than four dims, element counts that overflow, and
// rows that are not a whole number of quant blocks.
TEST(GgufCorrupt, TensorShapes) {
  GgufBuilder fiveDims;
  fiveDims.header(1, 0).tensor("t", {1, 1, 1, 1, 1}, 0, 0).data(4);
  EXPECT_THAT(fiveDims.parseError(), HasSubstr("tensor 't' has 5 dimensions"));
  GgufBuilder overflow;
  overflow.header(1, 0).tensor("t", {1ull << 40, 1ull << 40}, 0, 0).data(4);
  EXPECT_THAT(overflow.parseError(),
              HasSubstr("tensor 't' has more elements than fit in 64 bits"));
  GgufBuilder partialBlock;
  partialBlock.header(1, 0).tensor("tok_embd", {48, 2}, /*Q4_0*/ 2, 0).data(64);
  EXPECT_THAT(partialBlock.parseError(),
              HasSubstr("tensor 'tok_embd' rows of 48 values are not a whole "
                        "number of Q4_0 blocks of 32"));
}

// Tensor data: misaligned, past the end, overlapping; duplicate names.
TEST(GgufCorrupt, TensorData) {
  GgufBuilder misaligned;
  misaligned.header(1, 0).tensor("t", {4}, 0, 16).data(64);
  EXPECT_THAT(misaligned.parseError(),
              HasSubstr("tensor 't' data offset 16 is not a multiple of the "
                        "alignment 32"));
  GgufBuilder pastEnd;
  pastEnd.header(1, 0).tensor("t", {64}, 0, 0).data(100);
  EXPECT_THAT(pastEnd.parseError(),
              HasSubstr("tensor 't' data [0, 256) runs past the end of the "
                        "100-byte data section"));
  GgufBuilder hugeOffset;
  hugeOffset.header(1, 0).tensor("t", {4}, 0, ~0ull << 5).data(64);
  EXPECT_THAT(hugeOffset.parseError(), HasSubstr("tensor 't' data ["));
  GgufBuilder overlap;
  overlap.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {8}, 0, 32).data(96);
  EXPECT_THAT(overlap.parseError(),
              HasSubstr("tensor 'b' data at 32 overlaps tensor 'a' data [0, "
                        "64)"));
  GgufBuilder duplicate;
  duplicate.header(2, 0)
      .tensor("a", {8}, 0, 0)
      .tensor("a", {8}, 0, 32)
      .data(64);
  EXPECT_THAT(duplicate.parseError(), HasSubstr("tensor 'a' appears twice"));
}

/// The file offset of tensor info `name` in a GGUF written by gguf-py (its
/// u64 name length, then the name, then n_dims).
size_t findTensorInfo(const std::string &bytes, llvm::StringRef name,
                      uint32_t numDims) {
  std::string pattern;
  appendU64(pattern, name.size());
  pattern += name.str();
  appendU32(pattern, numDims);
  size_t position = bytes.find(pattern);
  EXPECT_NE(position, std::string::npos) << name.str();
  return position;
}

// Corrupting single fields of a copy of the real file: the magic, the
// counts, a tensor's type and its offset (misaligned, then overlapping).
TEST(GgufCorrupt, CorruptedCopiesOfRealFile) {
  const std::string good = readDataFile("model.gguf");
  auto parseCopy = [](const std::string &bytes) {
    return errorOf(GgufFile::parse(bufferOf(bytes, "copy.gguf")));
  };
  std::string copy = good;
  copy[0] = 'X';
  EXPECT_THAT(parseCopy(copy), HasSubstr("copy.gguf: not a GGUF file"));
  copy = good;
  llvm::support::endian::write64le(copy.data() + 8, 1ull << 50);
  EXPECT_THAT(parseCopy(copy), HasSubstr("copy.gguf: tensor count"));
  copy = good;
  llvm::support::endian::write64le(copy.data() + 16, 1000);
  EXPECT_THAT(parseCopy(copy), HasSubstr("copy.gguf: "));

  // "f32" has 2 dims: name length (8) + name (3) + n_dims (4) + dims (16).
  size_t f32Info = findTensorInfo(good, "f32", 2);
  size_t typeOffset = f32Info + 8 + 3 + 4 + 16;
  copy = good;
  llvm::support::endian::write32le(copy.data() + typeOffset, 99);
  EXPECT_THAT(parseCopy(copy),
              HasSubstr("tensor 'f32' has unknown ggml type 99"));
  copy = good;
  llvm::support::endian::write32le(copy.data() + typeOffset, 23);
  EXPECT_THAT(parseCopy(copy), HasSubstr("tensor 'f32' has ggml type IQ4_XS"));
  copy = good;
  llvm::support::endian::write64le(copy.data() + typeOffset + 4, 8);
  EXPECT_THAT(parseCopy(copy),
              HasSubstr("tensor 'f32' data offset 8 is not a multiple"));
  // "f16" follows "f32" in the data; moving it onto "f32" overlaps them.
  size_t f16Offset = findTensorInfo(good, "f16", 2) + 8 + 3 + 4 + 16 + 4;
  copy = good;
  llvm::support::endian::write64le(copy.data() + f16Offset, 0);
  EXPECT_THAT(parseCopy(copy),
              HasSubstr("tensor 'f16' data at 0 overlaps tensor 'f32' data "
                        "[0, 768)"));
}

// Cutting the real file short anywhere gives an error that names the file
// and, where the cut is inside one, the field or tensor.
TEST(GgufCorrupt, TruncatedAtSeveralPoints) {
  std::string bytes = readDataFile("model.gguf");
  ASSERT_GT(bytes.size(), 10000u);
  EXPECT_THAT(
      errorOf(GgufFile::parse(bufferOf(bytes.substr(0, 6), "cut.gguf"))),
      HasSubstr("cut.gguf: file ends inside the version"));
  EXPECT_THAT(
      errorOf(GgufFile::parse(bufferOf(bytes.substr(0, 30), "cut.gguf"))),
      HasSubstr("cut.gguf: "));
  EXPECT_THAT(
      errorOf(GgufFile::parse(bufferOf(bytes.substr(0, 900), "cut.gguf"))),
      HasSubstr("cut.gguf: "));
  // Cut inside the last tensor's data.
  EXPECT_THAT(errorOf(GgufFile::parse(
                  bufferOf(bytes.substr(0, bytes.size() - 10), "cut.gguf"))),
              HasSubstr("tensor 'blk.0.attn_q.q8' data"));
}

// Fuzz-style: every truncation and a few thousand random byte flips of the
// real file parse to an error or to views that stay inside the file (which
// decoding every tensor would expose under a sanitizer).
TEST(GgufCorrupt, EveryTruncationAndRandomFlips) {
  std::string bytes = readDataFile("model.gguf");
  for (size_t size = 0; size < bytes.size(); ++size) {
    auto file = GgufFile::parse(
        bufferOf(llvm::StringRef(bytes).take_front(size), "cut.gguf"));
    ASSERT_FALSE(!!file) << "truncated at " << size;
    std::string message = llvm::toString(file.takeError());
    ASSERT_THAT(message, HasSubstr("cut.gguf")) << "truncated at " << size;
  }
  std::mt19937 random(42);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string mutated = bytes;
    int flips = 1 + random() % 4;
    for (int i = 0; i < flips; ++i)
      mutated[random() % mutated.size()] = static_cast<char>(random());
    auto file = GgufFile::parse(bufferOf(mutated, "flipped.gguf"));
    if (!file) {
      ASSERT_THAT(llvm::toString(file.takeError()), HasSubstr("flipped.gguf"));
      continue;
    }
    for (const GgufTensorInfo &info : (*file)->getTensorInfos()) {
      std::vector<float> values(info.view.getNumElements());
      ASSERT_FALSE(!!readTensorAsF32(info.view, values));
    }
    for (const GgufMetadataEntry &entry : (*file)->getMetadata())
      (void)entry.value.getArrayElements();
  }
}

} // namespace
