// Unit tests of the safetensors reader (compiler/weights/Safetensors.h).
//
// data/mixed.safetensors and data/sharded/ were written by Hugging Face's
// `safetensors` package (make_test_data.py); the st_<tensor>.f32 goldens
// are numpy casts of the arrays it was given (bf16 as bits << 16, float8
// from the OCP FP8 formulas written out in the script). Corrupt headers are
// built below following the format description in the safetensors README.

#include "compiler/weights/Safetensors.h"

#include "TestSupport.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

namespace {

using namespace llmc::weights;
using namespace llmc::weights::testing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<float> decode(const TensorView &tensor) {
  std::vector<float> values(tensor.getNumElements());
  if (llvm::Error error = readTensorAsF32(tensor, values))
    ADD_FAILURE() << llvm::toString(std::move(error));
  return values;
}

// Every dtype decodes to the value numpy (or the FP8 formula) gives, and
// shapes and metadata read back as written.
TEST(Safetensors, EveryDTypeMatchesGoldens) {
  auto file = SafetensorsFile::open(dataPath("mixed.safetensors"));
  ASSERT_TRUE(!!file) << llvm::toString(file.takeError());
  struct Case {
    const char *name;
    DType dtype;
  } cases[] = {{"f64", DType::F64},        {"f32", DType::F32},
               {"f16", DType::F16},        {"bf16", DType::BF16},
               {"f8_e4m3", DType::F8E4M3}, {"f8_e5m2", DType::F8E5M2},
               {"i64", DType::I64},        {"i32", DType::I32},
               {"i16", DType::I16},        {"i8", DType::I8},
               {"u8", DType::U8},          {"bool", DType::Bool},
               {"scalar", DType::F32},     {"empty", DType::F32}};
  for (const Case &c : cases) {
    SCOPED_TRACE(c.name);
    const TensorView *tensor = (*file)->lookup(c.name);
    ASSERT_TRUE(tensor);
    EXPECT_EQ(tensor->dtype, c.dtype);
    EXPECT_TRUE(
        sameFloats(decode(*tensor), readGolden(std::string("st_") + c.name)));
  }
  EXPECT_THAT((*file)->lookup("f16")->shape, ElementsAre(2, 16));
  // The package writes a 0-d numpy array with shape [1].
  EXPECT_THAT((*file)->lookup("scalar")->shape, ElementsAre(1));
  EXPECT_THAT((*file)->lookup("empty")->shape, ElementsAre(0, 4));
  EXPECT_EQ((*file)->getTensors().size(), 14u);
  EXPECT_EQ((*file)->getMetadata().lookup("format"), "pt");
  EXPECT_EQ((*file)->getMetadata().lookup("note"), "llmc test");
  EXPECT_EQ((*file)->lookup("nope"), nullptr);
}

// Float8 decoding, spot-checked against values from the OCP FP8 spec table
// (independent of the script): e4m3fn max 448, min subnormal 2^-9, NaN at
// S.1111.111; e5m2 max 57344 and infinity.
TEST(Safetensors, Float8SpecValues) {
  EXPECT_EQ(float8E4M3ToFloat(0x7E), 448.0f);
  EXPECT_EQ(float8E4M3ToFloat(0x01), 0x1p-9f);
  EXPECT_EQ(float8E4M3ToFloat(0xB8), -1.0f);
  EXPECT_TRUE(std::isnan(float8E4M3ToFloat(0x7F)));
  EXPECT_TRUE(std::isnan(float8E4M3ToFloat(0xFF)));
  EXPECT_EQ(float8E5M2ToFloat(0x7B), 57344.0f);
  EXPECT_EQ(float8E5M2ToFloat(0x7C), INFINITY);
  EXPECT_EQ(float8E5M2ToFloat(0x01), 0x1p-16f);
}

// A sharded checkpoint opens from its directory or its index; every tensor
// is found in the shard the index names.
TEST(Safetensors, ShardedCheckpoint) {
  for (std::string path : {dataPath("sharded"),
                           dataPath("sharded/model.safetensors.index.json")}) {
    SCOPED_TRACE(path);
    auto checkpoint = SafetensorsCheckpoint::open(path);
    ASSERT_TRUE(!!checkpoint) << llvm::toString(checkpoint.takeError());
    EXPECT_EQ((*checkpoint)->getShards().size(), 2u);
    std::vector<std::string> names;
    for (const TensorView *tensor : (*checkpoint)->getTensors())
      names.push_back(tensor->name);
    EXPECT_THAT(names, ElementsAre("embed.weight", "layers.0.w", "layers.1.w",
                                   "lm_head.weight"));
    const TensorView *head = (*checkpoint)->lookup("lm_head.weight");
    ASSERT_TRUE(head);
    EXPECT_THAT(head->path, HasSubstr("model-00002-of-00002.safetensors"));
    EXPECT_THAT(decode(*head), ElementsAre(-0.0f, -1, -2, -3, -4, -5, -6, -7));
    EXPECT_THAT(decode(*(*checkpoint)->lookup("layers.0.w")),
                ElementsAre(7, 7, 7, 7));
    EXPECT_THAT((*checkpoint)->lookup("embed.weight")->path,
                HasSubstr("model-00001-of-00002.safetensors"));
  }
  auto single = SafetensorsCheckpoint::open(dataPath("mixed.safetensors"));
  ASSERT_TRUE(!!single);
  EXPECT_TRUE((*single)->lookup("bf16"));
}

//===----------------------------------------------------------------------===//
// Corrupt files.
//===----------------------------------------------------------------------===//

std::string makeFile(llvm::StringRef header, size_t dataBytes) {
  std::string bytes;
  appendU64(bytes, header.size());
  bytes += header.str();
  bytes.append(dataBytes, '\x01');
  return bytes;
}

std::string parseError(llvm::StringRef header, size_t dataBytes) {
  return errorOf(
      SafetensorsFile::parse(bufferOf(makeFile(header, dataBytes), "bad.st")));
}

// A hand-built header that follows the format parses, so each corruption
// below fails for the reason it tests.
TEST(SafetensorsCorrupt, BuilderBaselineParses) {
  auto file = SafetensorsFile::parse(bufferOf(
      makeFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
               R"("b":{"dtype":"I8","shape":[4],"data_offsets":[8,12]},)"
               R"("scalar":{"dtype":"F32","shape":[],"data_offsets":[12,16]}})",
               16),
      "good.st"));
  ASSERT_TRUE(!!file) << llvm::toString(file.takeError());
  EXPECT_EQ((*file)->getTensors().size(), 3u);
  // A 0-d tensor has an empty shape and one element.
  EXPECT_TRUE((*file)->lookup("scalar")->shape.empty());
  EXPECT_EQ((*file)->lookup("scalar")->getNumElements(), 1u);
}

// The 8-byte length: missing, or larger than the file.
TEST(SafetensorsCorrupt, HeaderLength) {
  EXPECT_THAT(errorOf(SafetensorsFile::parse(bufferOf("abc", "bad.st"))),
              HasSubstr("bad.st: file is 3 bytes, too short"));
  std::string bytes = readDataFile("mixed.safetensors");
  std::string lie = bytes;
  llvm::support::endian::write64le(lie.data(), bytes.size());
  EXPECT_THAT(errorOf(SafetensorsFile::parse(bufferOf(lie, "lie.st"))),
              HasSubstr("lie.st: header length"));
  llvm::support::endian::write64le(lie.data(), ~0ull);
  EXPECT_THAT(errorOf(SafetensorsFile::parse(bufferOf(lie, "lie.st"))),
              HasSubstr("exceeds"));
}

// Malformed JSON and headers of the wrong shape.
TEST(SafetensorsCorrupt, MalformedHeader) {
  EXPECT_THAT(parseError(R"({"a": )", 0),
              HasSubstr("bad.st: header is not valid JSON"));
  EXPECT_THAT(parseError("[1, 2]", 0),
              HasSubstr("bad.st: header is not a JSON object"));
  EXPECT_THAT(parseError(R"({"w": 3})", 0),
              HasSubstr("tensor 'w' is not a JSON object"));
  EXPECT_THAT(parseError(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", 4),
              HasSubstr("tensor 'w': field 'dtype' is missing"));
  EXPECT_THAT(parseError(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4),
              HasSubstr("tensor 'w': field 'shape' is missing"));
  EXPECT_THAT(parseError(R"({"w":{"dtype":"F32","shape":[-1],)"
                         R"("data_offsets":[0,4]}})",
                         4),
              HasSubstr("tensor 'w': field 'shape' holds something other"));
  EXPECT_THAT(parseError(R"({"w":{"dtype":"F32","shape":[1],)"
                         R"("data_offsets":[0]}})",
                         4),
              HasSubstr("tensor 'w': field 'data_offsets' is not a pair"));
  EXPECT_THAT(parseError(R"({"__metadata__":{"format":1}})", 0),
              HasSubstr("field '__metadata__.format' is not a string"));
}

// Dtypes llmc does not know, and sizes that disagree with dtype x shape.
TEST(SafetensorsCorrupt, DTypeAndSize) {
  EXPECT_THAT(parseError(R"({"model.embed":{"dtype":"F4","shape":[2],)"
                         R"("data_offsets":[0,1]}})",
                         1),
              HasSubstr("bad.st: tensor 'model.embed': unknown dtype 'F4'"));
  EXPECT_THAT(parseError(R"({"w":{"dtype":"F32","shape":[3],)"
                         R"("data_offsets":[0,8]}})",
                         8),
              HasSubstr("tensor 'w': shape [3] of F32 needs 3 x 4 bytes but "
                        "data_offsets [0, 8) hold 8"));
  EXPECT_THAT(parseError(R"({"w":{"dtype":"F32","shape":[4294967296,)"
                         R"(4294967296],"data_offsets":[0,8]}})",
                         8),
              HasSubstr("tensor 'w': shape [4294967296]... has more "
                        "elements than fit in 64 bits"));
}

// Ranges: out of bounds, reversed, overlapping, leaving holes or trailing
// bytes, and a name listed twice.
TEST(SafetensorsCorrupt, Ranges) {
  EXPECT_THAT(parseError(R"({"w":{"dtype":"F32","shape":[2],)"
                         R"("data_offsets":[0,8]}})",
                         4),
              HasSubstr("tensor 'w': data_offsets [0, 8) run past the end of "
                        "the 4-byte data buffer"));
  EXPECT_THAT(parseError(R"({"w":{"dtype":"F32","shape":[1],)"
                         R"("data_offsets":[8,4]}})",
                         8),
              HasSubstr("tensor 'w': data_offsets [8, 4) end before they "
                        "begin"));
  EXPECT_THAT(parseError(R"({"a":{"dtype":"F32","shape":[2],)"
                         R"("data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F32","shape":[2],)"
                         R"("data_offsets":[4,12]}})",
                         12),
              HasSubstr("tensor 'b' bytes [4, 12) overlap tensor 'a' bytes "
                        "ending at 8"));
  EXPECT_THAT(parseError(R"({"a":{"dtype":"F32","shape":[1],)"
                         R"("data_offsets":[0,4]},)"
                         R"("b":{"dtype":"F32","shape":[1],)"
                         R"("data_offsets":[8,12]}})",
                         12),
              HasSubstr("data bytes [4, 8) before tensor 'b' belong to no "
                        "tensor"));
  EXPECT_THAT(parseError(R"({"a":{"dtype":"F32","shape":[1],)"
                         R"("data_offsets":[0,4]}})",
                         8),
              HasSubstr("data bytes [4, 8) at the end of the file belong to "
                        "no tensor"));
  EXPECT_THAT(parseError(R"({"a":{"dtype":"F32","shape":[1],)"
                         R"("data_offsets":[0,4]},)"
                         R"("a":{"dtype":"F32","shape":[1],)"
                         R"("data_offsets":[4,8]}})",
                         8),
              HasSubstr("bad.st: tensor 'a' is listed twice in the header"));
}

/// A scratch copy of data/sharded whose index the test rewrites.
struct ShardedCopy {
  llvm::SmallString<128> directory;

  ShardedCopy() {
    EXPECT_FALSE(
        llvm::sys::fs::createUniqueDirectory("llmc-shards", directory));
    for (const char *name : {"model-00001-of-00002.safetensors",
                             "model-00002-of-00002.safetensors"})
      EXPECT_FALSE(llvm::sys::fs::copy_file(
          dataPath(std::string("sharded/") + name), file(name)));
  }
  ~ShardedCopy() { llvm::sys::fs::remove_directories(directory); }

  std::string file(llvm::StringRef name) const {
    llvm::SmallString<128> path(directory);
    llvm::sys::path::append(path, name);
    return path.str().str();
  }
  std::string openWithIndex(llvm::StringRef weightMap) const {
    std::error_code error;
    llvm::raw_fd_ostream out(file("model.safetensors.index.json"), error);
    out << R"({"metadata": {}, "weight_map": )" << weightMap << "}";
    out.close();
    return errorOf(SafetensorsCheckpoint::open(directory));
  }
};

// Index errors: a tensor in a shard that lacks it, a tensor in two shards,
// a shard outside the directory, a missing shard, no weight map.
TEST(SafetensorsCorrupt, ShardIndex) {
  ShardedCopy copy;
  EXPECT_THAT(copy.openWithIndex(
                  R"({"layers.1.w": "model-00001-of-00002.safetensors"})"),
              HasSubstr("model.safetensors.index.json: tensor 'layers.1.w' "
                        "is mapped to shard"));
  EXPECT_FALSE(
      llvm::sys::fs::copy_file(copy.file("model-00001-of-00002.safetensors"),
                               copy.file("dup.safetensors")));
  EXPECT_THAT(copy.openWithIndex(
                  R"({"embed.weight": "model-00001-of-00002.safetensors",)"
                  R"( "layers.0.w": "dup.safetensors"})"),
              HasSubstr("is also in shard"));
  EXPECT_THAT(copy.openWithIndex(R"({"w": "../model.safetensors"})"),
              HasSubstr("weight_map entry for tensor 'w' names shard "
                        "'../model.safetensors' outside the checkpoint"));
  EXPECT_THAT(copy.openWithIndex(R"({"w": "missing.safetensors"})"),
              HasSubstr("missing.safetensors: cannot open"));
  EXPECT_THAT(copy.openWithIndex(R"(3)"),
              HasSubstr("field 'weight_map' is missing or not an object"));
  EXPECT_THAT(errorOf(SafetensorsCheckpoint::open(dataPath("."))),
              HasSubstr("neither model.safetensors.index.json nor"));
}

// Fuzz-style: every truncation and random byte flips of a real file give an
// error naming it, or views that decode inside the file.
TEST(SafetensorsCorrupt, EveryTruncationAndRandomFlips) {
  std::string bytes = readDataFile("mixed.safetensors");
  ASSERT_GT(bytes.size(), 1000u);
  for (size_t size = 0; size < bytes.size(); ++size) {
    auto file = SafetensorsFile::parse(
        bufferOf(llvm::StringRef(bytes).take_front(size), "cut.st"));
    ASSERT_FALSE(!!file) << "truncated at " << size;
    ASSERT_THAT(llvm::toString(file.takeError()), HasSubstr("cut.st"));
  }
  std::mt19937 random(7);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string mutated = bytes;
    int flips = 1 + random() % 3;
    for (int i = 0; i < flips; ++i)
      mutated[random() % mutated.size()] = static_cast<char>(random());
    auto file = SafetensorsFile::parse(bufferOf(mutated, "flipped.st"));
    if (!file) {
      ASSERT_THAT(llvm::toString(file.takeError()), HasSubstr("flipped.st"));
      continue;
    }
    for (const TensorView &tensor : (*file)->getTensors())
      (void)decode(tensor);
  }
}

} // namespace
