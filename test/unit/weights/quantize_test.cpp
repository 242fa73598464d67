// Unit tests of the WeightStore's quantization and SmoothQuant transforms
// against goldens that make_quant_data.py computes independently with numpy
// and ml_dtypes (float32 arithmetic, round half to even, FP8 satfinite);
// see that script for the formulas. Inputs: data/quant/quant.safetensors.

#include "compiler/weights/Safetensors.h"
#include "compiler/weights/WeightStore.h"

#include "TestSupport.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace {

using namespace llmc::weights;
using namespace llmc::weights::testing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class QuantizeTest : public ::testing::Test {
protected:
  void SetUp() override {
    auto checkpoint =
        SafetensorsCheckpoint::open(dataPath("quant/quant.safetensors"));
    ASSERT_TRUE(!!checkpoint) << llvm::toString(checkpoint.takeError());
    ASSERT_FALSE(!!store.addSource(std::move(*checkpoint)));
    store.addAllSourceTensors();
  }

  std::vector<uint8_t> materialize(llvm::StringRef name) {
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
  std::vector<float> materializeF32(llvm::StringRef name) {
    std::vector<uint8_t> bytes = materialize(name);
    std::vector<float> values(bytes.size() / 4);
    std::memcpy(values.data(), bytes.data(), values.size() * 4);
    return values;
  }
  static std::vector<uint8_t> goldenBytes(llvm::StringRef name) {
    std::string bytes = readDataFile("quant/" + name.str());
    return std::vector<uint8_t>(bytes.begin(), bytes.end());
  }
  static std::vector<float> goldenF32(llvm::StringRef name) {
    return readGolden("quant/" + name.str());
  }

  /// Quantizes `w` with `scheme`, reading the weight first or the scales
  /// first, and compares bytes, scales and zero points with the goldens.
  void checkScheme(const QuantScheme &scheme, bool scalesFirst) {
    std::string name =
        scheme.getName() + (scheme.searchClipping ? "_clip" : "");
    ASSERT_FALSE(!!store.quantize("w", scheme));
    ASSERT_FALSE(!!store.addQuantScales("w.scale", "w"));
    if (!scheme.symmetric)
      ASSERT_FALSE(!!store.addQuantZeroPoints("w.zero_point", "w"));
    std::vector<float> scales;
    if (scalesFirst)
      scales = materializeF32("w.scale");
    EXPECT_EQ(materialize("w"), goldenBytes(name + ".bin")) << name;
    if (!scalesFirst)
      scales = materializeF32("w.scale");
    EXPECT_TRUE(sameFloats(scales, goldenF32(name + ".scale"))) << name;
    if (!scheme.symmetric)
      EXPECT_EQ(materialize("w.zero_point"), goldenBytes(name + ".zero.bin"))
          << name;
  }

  WeightStore store;
};

QuantScheme scheme(DType dtype, QuantGranularity granularity,
                   int64_t groupSize = 0, bool symmetric = true) {
  QuantScheme result;
  result.dtype = dtype;
  result.granularity = granularity;
  result.groupSize = groupSize;
  result.symmetric = symmetric;
  return result;
}

// INT8 per channel: bytes and scales equal numpy's, ties rounded to even.
TEST_F(QuantizeTest, Int8PerChannelMatchesNumpy) {
  checkScheme(scheme(DType::I8, QuantGranularity::PerChannel), false);
}

// INT8 per tensor: one scale of shape [].
TEST_F(QuantizeTest, Int8PerTensorMatchesNumpy) {
  checkScheme(scheme(DType::I8, QuantGranularity::PerTensor), false);
  auto desc = store.describe("w.scale");
  ASSERT_TRUE(!!desc);
  EXPECT_TRUE(desc->shape.empty());
}

// FP8 E4M3 per channel equals ml_dtypes' round-to-nearest-even cast.
TEST_F(QuantizeTest, Fp8PerChannelMatchesMlDtypes) {
  checkScheme(scheme(DType::F8E4M3, QuantGranularity::PerChannel), false);
}

// FP8 per tensor, with the scales read before the weight (they are computed
// from the same values either way).
TEST_F(QuantizeTest, Fp8PerTensorScalesFirst) {
  checkScheme(scheme(DType::F8E4M3, QuantGranularity::PerTensor), true);
}

// Asymmetric INT8 groups of 64: zero points as numpy computes them.
TEST_F(QuantizeTest, Int8GroupAsymmetricZeroPoints) {
  checkScheme(scheme(DType::I8, QuantGranularity::Group, 64, false), false);
}

// Asymmetric INT4 groups of 128, packed two a byte, low nibble first.
TEST_F(QuantizeTest, Int4Group128AsymmetricPacking) {
  checkScheme(scheme(DType::I4, QuantGranularity::Group, 128, false), true);
  auto desc = store.describe("w");
  ASSERT_TRUE(!!desc);
  EXPECT_EQ(desc->dtype, DType::I4);
  EXPECT_EQ(desc->getBytes(), 6u * 256u / 2u);
  auto zeros = store.describe("w.zero_point");
  ASSERT_TRUE(!!zeros);
  EXPECT_EQ(zeros->dtype, DType::I8);
  EXPECT_THAT(zeros->shape, ElementsAre(6, 2));
}

// Symmetric INT4 groups of 64.
TEST_F(QuantizeTest, Int4Group64Symmetric) {
  checkScheme(scheme(DType::I4, QuantGranularity::Group, 64), false);
}

/// `base` with the clipping search on.
QuantScheme clipped(QuantScheme base) {
  base.searchClipping = true;
  return base;
}

// The clipping search picks numpy's ratio per block (goldens computed by
// make_quant_data.py's own search): symmetric INT4 groups of 64, read
// weight first and scales first.
TEST_F(QuantizeTest, Int4Group64ClipSearch) {
  checkScheme(clipped(scheme(DType::I4, QuantGranularity::Group, 64)), false);
}
TEST_F(QuantizeTest, Int4Group64ClipSearchScalesFirst) {
  checkScheme(clipped(scheme(DType::I4, QuantGranularity::Group, 64)), true);
}

// Asymmetric INT4 (both ends clipped) and INT8 per channel.
TEST_F(QuantizeTest, ClipSearchAsymmetricAndPerChannel) {
  checkScheme(clipped(scheme(DType::I4, QuantGranularity::Group, 128, false)),
              false);
}
TEST_F(QuantizeTest, Int8PerChannelClipSearch) {
  checkScheme(clipped(scheme(DType::I8, QuantGranularity::PerChannel)), false);
}

// The search never does worse than max scaling: on every group of `w`, the
// x^2-weighted squared reconstruction error with the searched scales is at
// most the error of the plain ones, and below it on some group.
TEST_F(QuantizeTest, ClipSearchLowersError) {
  WeightStore plain;
  auto checkpoint =
      SafetensorsCheckpoint::open(dataPath("quant/quant.safetensors"));
  ASSERT_TRUE(!!checkpoint);
  ASSERT_FALSE(!!plain.addSource(std::move(*checkpoint)));
  plain.addAllSourceTensors();
  std::vector<uint8_t> sourceBytes(6 * 256 * 4);
  ASSERT_FALSE(!!plain.materialize("w", sourceBytes));
  std::vector<float> w(6 * 256);
  std::memcpy(w.data(), sourceBytes.data(), sourceBytes.size());
  auto groupErrors = [&](WeightStore &target, bool search) {
    QuantScheme s = scheme(DType::I4, QuantGranularity::Group, 32);
    s.searchClipping = search;
    EXPECT_FALSE(!!target.quantize("w", s));
    EXPECT_FALSE(!!target.addQuantScales("w.scale", "w"));
    auto bytesOf = [&](llvm::StringRef name) {
      auto desc = target.describe(name);
      std::vector<uint8_t> bytes(desc ? desc->getBytes() : 0);
      EXPECT_FALSE(!!target.materialize(name, bytes));
      return bytes;
    };
    std::vector<uint8_t> q = bytesOf("w");
    std::vector<uint8_t> scaleBytes = bytesOf("w.scale");
    std::vector<float> scales(scaleBytes.size() / 4);
    std::memcpy(scales.data(), scaleBytes.data(), scaleBytes.size());
    std::vector<double> errors(scales.size(), 0.0);
    for (size_t i = 0; i < w.size(); ++i) {
      int code = (q[i / 2] >> (4 * (i % 2))) & 0xF;
      code = code >= 8 ? code - 16 : code;
      double d = w[i] - double(code) * scales[i / 32];
      errors[i / 32] += double(w[i]) * w[i] * d * d;
    }
    return errors;
  };
  std::vector<double> before = groupErrors(plain, false);
  std::vector<double> after = groupErrors(store, true);
  ASSERT_EQ(before.size(), 48u);
  bool lower = false;
  for (size_t g = 0; g < before.size(); ++g) {
    EXPECT_LE(after[g], before[g] * (1 + 1e-12)) << g;
    lower = lower || after[g] < before[g] * 0.99;
  }
  EXPECT_TRUE(lower);
}

// The packing order on its own: element 2i is the low nibble of byte i, and
// decoding I4 sign-extends each nibble.
TEST_F(QuantizeTest, Int4NibbleOrder) {
  const uint8_t packed[] = {0x8F, 0x17}; // -1, -8, 7, 1
  float values[4];
  decodeToF32(DType::I4, packed, values, 4);
  EXPECT_THAT(values, ElementsAre(-1.0f, -8.0f, 7.0f, 1.0f));
}

// A weight larger than the transform's decoding chunk (the golden rows
// repeated 400 times: 614400 values) quantizes to the goldens repeated, so
// chunked decoding neither drops nor shifts rows; per-tensor scales see the
// whole tensor.
TEST_F(QuantizeTest, LargeWeightQuantizesInChunks) {
  std::vector<uint8_t> rowsBytes = materialize("w");
  ASSERT_EQ(rowsBytes.size(), 6u * 256u * 4u);
  constexpr int kRepeats = 400;
  std::string header = R"({"big":{"dtype":"F32","shape":[2400,256],)"
                       R"("data_offsets":[0,)" +
                       std::to_string(rowsBytes.size() * kRepeats) + "]}}";
  header.resize((header.size() + 7) / 8 * 8, ' ');
  llvm::SmallString<128> path;
  int fd;
  ASSERT_FALSE(
      llvm::sys::fs::createTemporaryFile("big", "safetensors", fd, path));
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    uint64_t length = header.size();
    os.write(reinterpret_cast<const char *>(&length), 8);
    os << header;
    for (int i = 0; i < kRepeats; ++i)
      os.write(reinterpret_cast<const char *>(rowsBytes.data()),
               rowsBytes.size());
  }
  auto checkpoint = SafetensorsCheckpoint::open(path);
  llvm::sys::fs::remove(path);
  ASSERT_TRUE(!!checkpoint) << llvm::toString(checkpoint.takeError());
  WeightStore big;
  ASSERT_FALSE(!!big.addSource(std::move(*checkpoint)));
  big.addAllSourceTensors();

  auto repeated = [&](const std::vector<uint8_t> &bytes) {
    std::vector<uint8_t> result;
    for (int i = 0; i < kRepeats; ++i)
      result.insert(result.end(), bytes.begin(), bytes.end());
    return result;
  };
  auto materializeBig = [&](llvm::StringRef name) {
    auto desc = big.describe(name);
    EXPECT_TRUE(!!desc);
    std::vector<uint8_t> bytes(desc ? desc->getBytes() : 0);
    if (llvm::Error error = big.materialize(name, bytes))
      ADD_FAILURE() << llvm::toString(std::move(error));
    return bytes;
  };
  struct {
    QuantScheme scheme;
    bool perTensor;
  } cases[] = {{scheme(DType::I8, QuantGranularity::PerChannel), false},
               {scheme(DType::F8E4M3, QuantGranularity::PerTensor), true},
               {scheme(DType::I4, QuantGranularity::Group, 128, false), false}};
  for (auto &c : cases) {
    // A fresh entry per scheme: "big" is declared once, so alias it.
    std::string name = "big." + c.scheme.getName();
    ASSERT_FALSE(!!big.addWeight(name, "big"));
    ASSERT_FALSE(!!big.quantize(name, c.scheme));
    ASSERT_FALSE(!!big.addQuantScales(name + ".scale", name));
    std::string golden = c.scheme.getName();
    EXPECT_EQ(materializeBig(name), repeated(goldenBytes(golden + ".bin")))
        << golden;
    std::vector<uint8_t> scales = goldenBytes(golden + ".scale.f32");
    EXPECT_EQ(materializeBig(name + ".scale"),
              c.perTensor ? scales : repeated(scales))
        << golden;
  }
}

// Scheme names are what QuantParams.scheme stores.
TEST_F(QuantizeTest, SchemeNames) {
  EXPECT_EQ(scheme(DType::F8E4M3, QuantGranularity::PerChannel).getName(),
            "fp8_per_channel");
  EXPECT_EQ(scheme(DType::I4, QuantGranularity::Group, 128, false).getName(),
            "int4_group128_asym");
  EXPECT_EQ(scheme(DType::I8, QuantGranularity::PerTensor).getName(),
            "int8_per_tensor");
}

// Impossible requests are refused when recorded, naming the weight.
TEST_F(QuantizeTest, RejectsBadSchemes) {
  llvm::Error group =
      store.quantize("w", scheme(DType::I8, QuantGranularity::Group, 100));
  EXPECT_THAT(llvm::toString(std::move(group)),
              HasSubstr("weight 'w': cannot quantize F32 [6, 256] to "
                        "int8_group100: the group size 100 does not divide"));
  llvm::Error fp8Asym = store.quantize(
      "w", scheme(DType::F8E4M3, QuantGranularity::PerChannel, 0, false));
  EXPECT_THAT(llvm::toString(std::move(fp8Asym)),
              HasSubstr("FP8 has no zero points"));
  llvm::Error vector =
      store.quantize("norm", scheme(DType::I8, QuantGranularity::PerChannel));
  EXPECT_THAT(llvm::toString(std::move(vector)), HasSubstr("only 2-D"));
  ASSERT_FALSE(
      !!store.quantize("w", scheme(DType::I8, QuantGranularity::PerChannel)));
  EXPECT_THAT(llvm::toString(store.addQuantZeroPoints("w.zero_point", "w")),
              HasSubstr("symmetric and has no zero points"));
  EXPECT_THAT(llvm::toString(store.addQuantScales("up.scale", "up")),
              HasSubstr("has no quantization recorded"));
}

// SmoothQuant: factors, divided norm and scaled columns equal numpy's (pow
// may differ in the last bit between libm and numpy, hence the tolerance),
// and the calibrated scale of the smoothed activation is max(x / s) / 448.
TEST_F(QuantizeTest, SmoothMatchesNumpy) {
  std::vector<float> act = readGolden("quant/act_absmax");
  ASSERT_EQ(act.size(), 256u);
  ASSERT_FALSE(!!store.smooth("norm", "", {"up", "gate"}, act, 0.5f));
  ASSERT_FALSE(
      !!store.addActivationScale("up.input_scale", 20.0f, 448.0f, "norm"));
  auto near = [](const std::vector<float> &actual,
                 const std::vector<float> &expected) {
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < actual.size(); ++i)
      EXPECT_NEAR(actual[i], expected[i], 2e-6f * std::fabs(expected[i]))
          << "at " << i;
  };
  auto factors = store.getSmoothingFactors("norm");
  ASSERT_TRUE(!!factors);
  near(*factors, goldenF32("smooth.factors"));
  EXPECT_EQ((*factors)[3], 1.0f); // inactive channel
  EXPECT_EQ((*factors)[9] > 0.0f, true);
  near(materializeF32("norm"), goldenF32("smooth.norm"));
  near(materializeF32("up"), goldenF32("smooth.up"));
  near(materializeF32("up.input_scale"), goldenF32("smooth.act_scale"));
}

// Smoothing keeps the float network's function: up(rms_norm(x) * norm) is
// the same before and after, up to f32 rounding, on random activations.
TEST_F(QuantizeTest, SmoothKeepsFloatOutput) {
  std::vector<float> norm = materializeF32("norm");
  std::vector<float> up = materializeF32("up");
  std::vector<float> act = readGolden("quant/act_absmax");
  ASSERT_FALSE(!!store.smooth("norm", "", {"up", "gate"}, act, 0.8f));
  std::vector<float> smoothedNorm = materializeF32("norm");
  std::vector<float> smoothedUp = materializeF32("up");
  auto forward = [](const std::vector<float> &x, const std::vector<float> &g,
                    const std::vector<float> &w) {
    double meanSquare = 0;
    for (float v : x)
      meanSquare += double(v) * v;
    float inverseRms = 1.0f / std::sqrt(float(meanSquare / x.size()) + 1e-6f);
    std::vector<double> y(w.size() / x.size(), 0.0);
    for (size_t n = 0; n < y.size(); ++n)
      for (size_t k = 0; k < x.size(); ++k)
        y[n] += double(w[n * x.size() + k]) * (x[k] * inverseRms * g[k]);
    return y;
  };
  std::vector<float> x(256);
  for (size_t k = 0; k < x.size(); ++k)
    x[k] = std::sin(0.37f * k) * act[k];
  std::vector<double> before = forward(x, norm, up);
  std::vector<double> after = forward(x, smoothedNorm, smoothedUp);
  ASSERT_EQ(before.size(), 4u);
  for (size_t n = 0; n < before.size(); ++n)
    EXPECT_NEAR(after[n], before[n], 1e-5 * (1.0 + std::fabs(before[n])));
  // And it did change the weights.
  EXPECT_NE(smoothedUp, up);
}

// A LayerNorm's bias is divided like its weight; activation scales without
// smoothing are absmax / qmax, and 1 for an activation that is always 0.
TEST_F(QuantizeTest, SmoothBiasAndPlainActivationScales) {
  std::vector<float> act = readGolden("quant/act_absmax");
  // `norm` doubles as the bias here: any F32 [256] vector will do.
  ASSERT_FALSE(!!store.smooth("norm", "norm", {"up"}, act, 0.5f));
  auto factors = store.getSmoothingFactors("norm");
  ASSERT_TRUE(!!factors);
  std::vector<float> twice = materializeF32("norm");
  WeightStore plain;
  auto checkpoint =
      SafetensorsCheckpoint::open(dataPath("quant/quant.safetensors"));
  ASSERT_TRUE(!!checkpoint);
  ASSERT_FALSE(!!plain.addSource(std::move(*checkpoint)));
  plain.addAllSourceTensors();
  std::vector<uint8_t> originalBytes(256 * 4);
  ASSERT_FALSE(!!plain.materialize("norm", originalBytes));
  std::vector<float> original(256);
  std::memcpy(original.data(), originalBytes.data(), 1024);
  for (size_t j = 0; j < 256; ++j)
    EXPECT_EQ(twice[j], original[j] / (*factors)[j] / (*factors)[j]) << j;

  ASSERT_FALSE(!!store.addActivationScale("a.input_scale", 12.7f, 127.0f));
  ASSERT_FALSE(!!store.addActivationScale("b.input_scale", 0.0f, 448.0f));
  EXPECT_THAT(materializeF32("a.input_scale"), ElementsAre(12.7f / 127.0f));
  EXPECT_THAT(materializeF32("b.input_scale"), ElementsAre(1.0f));
  EXPECT_THAT(
      llvm::toString(store.addActivationScale("c", 1.0f, 127.0f, "gate")),
      HasSubstr("weight 'c': smoothed by 'gate', which is not "
                "smoothed"));
}

// A smoothing whose weights do not fit is refused, naming them.
TEST_F(QuantizeTest, SmoothRejectsMismatchedChannels) {
  std::vector<float> act(128, 1.0f);
  EXPECT_THAT(llvm::toString(store.smooth("norm", "", {"up"}, act, 0.5f)),
              HasSubstr("cannot smooth norm weight 'norm': 'norm' is F32 "
                        "[256], expected an F32, F16 or BF16 [128] vector"));
}

/// s_j = max|x_j|^alpha / max|W_j|^(1 - alpha) over the columns c with
/// factor j (c / (headDim * r) * headDim + c % headDim, or c when r == 1),
/// in double: an independent reading of smoothLinearPair's formula.
std::vector<double> expectedPairFactors(const std::vector<float> &act,
                                        const std::vector<float> &consumer,
                                        size_t rows, int64_t headDim, int64_t r,
                                        double alpha) {
  size_t columns = act.size();
  std::vector<double> xMax(rows, 0.0), wMax(rows, 0.0);
  for (size_t c = 0; c < columns; ++c) {
    size_t j = r == 1 ? c : c / (headDim * r) * headDim + c % headDim;
    xMax[j] = std::max(xMax[j], double(act[c]));
    for (size_t n = 0; n < consumer.size() / columns; ++n)
      wMax[j] = std::max(wMax[j], std::fabs(double(consumer[n * columns + c])));
  }
  std::vector<double> factors(rows, 1.0);
  for (size_t j = 0; j < rows; ++j)
    if (xMax[j] > 0 && wMax[j] > 0)
      factors[j] = std::clamp(
          std::pow(xMax[j], alpha) / std::pow(wMax[j], 1.0 - alpha), 1e-5, 1e5);
  return factors;
}

// down_proj(act(gate) * up(x)) is the same after smoothing up_proj's rows
// into down_proj's columns, the factors follow the SmoothQuant formula, and
// a static scale of down_proj's input is max_j(absmax_j / s_j) / qmax.
TEST_F(QuantizeTest, SmoothLinearPairKeepsFloatOutput) {
  // up: the transposed `up` [256, 4]; down: `w` [6, 256].
  ASSERT_FALSE(!!store.transpose("up"));
  std::vector<float> up = materializeF32("up");
  std::vector<float> down = materializeF32("w");
  std::vector<float> act = readGolden("quant/act_absmax");
  ASSERT_FALSE(!!store.smoothLinearPair("up", "", {"w"}, act, 0.5f));
  ASSERT_FALSE(!!store.addActivationScale("w.input_scale", 1.0f, 448.0f, "up"));
  auto factors = store.getSmoothingFactors("up");
  ASSERT_TRUE(!!factors);
  std::vector<double> expected = expectedPairFactors(act, down, 256, 0, 1, 0.5);
  ASSERT_EQ(factors->size(), 256u);
  double smoothedMax = 0;
  for (size_t j = 0; j < 256; ++j) {
    EXPECT_NEAR((*factors)[j], expected[j], 1e-5 * expected[j]) << j;
    smoothedMax = std::max(smoothedMax, act[j] / double((*factors)[j]));
  }
  EXPECT_NEAR(materializeF32("w.input_scale")[0], smoothedMax / 448.0,
              1e-6 * smoothedMax);
  std::vector<float> smoothedUp = materializeF32("up");
  std::vector<float> smoothedDown = materializeF32("w");
  auto forward = [](const std::vector<float> &upWeight,
                    const std::vector<float> &downWeight) {
    std::vector<double> y(6, 0.0);
    for (size_t j = 0; j < 256; ++j) {
      double h = 0;
      for (size_t k = 0; k < 4; ++k)
        h += double(upWeight[j * 4 + k]) * std::cos(1.3 * k + 0.1);
      double gate = std::sin(0.37 * j) * (1 + j % 7); // act(gate), outliers
      for (size_t n = 0; n < 6; ++n)
        y[n] += double(downWeight[n * 256 + j]) * gate * h;
    }
    return y;
  };
  std::vector<double> before = forward(up, down);
  std::vector<double> after = forward(smoothedUp, smoothedDown);
  for (size_t n = 0; n < before.size(); ++n)
    EXPECT_NEAR(after[n], before[n], 1e-5 * (1.0 + std::fabs(before[n])));
  EXPECT_NE(smoothedDown, down);
}

// With GQA (4 KV heads of 32, 2 query heads each), o_proj's column of query
// head h, dim d gets the factor of V channel (h / 2) * 32 + d, so attention
// outputs computed from the smoothed V and o_proj are unchanged.
TEST_F(QuantizeTest, SmoothLinearPairGroupedQueryAttention) {
  // v_proj: rows [0, 128) of the transposed `up` ([128, 4]); o_proj: `w`
  // [6, 256] (8 query heads x 32).
  ASSERT_FALSE(!!store.transpose("up"));
  ASSERT_FALSE(!!store.slice("up", 0, 0, 128));
  std::vector<float> v = materializeF32("up");
  std::vector<float> o = materializeF32("w");
  std::vector<float> act = readGolden("quant/act_absmax");
  ASSERT_FALSE(!!store.smoothLinearPair("up", "", {"w"}, act, 0.5f, 1e-5f,
                                        /*headDim=*/32,
                                        /*queryHeadsPerKVHead=*/2));
  auto factors = store.getSmoothingFactors("up");
  ASSERT_TRUE(!!factors);
  std::vector<double> expected = expectedPairFactors(act, o, 128, 32, 2, 0.5);
  ASSERT_EQ(factors->size(), 128u);
  for (size_t j = 0; j < 128; ++j)
    EXPECT_NEAR((*factors)[j], expected[j], 1e-5 * expected[j]) << j;
  std::vector<float> smoothedV = materializeF32("up");
  std::vector<float> smoothedO = materializeF32("w");
  // Two tokens; query head h weighs them p_h and 1 - p_h.
  auto forward = [](const std::vector<float> &vWeight,
                    const std::vector<float> &oWeight) {
    std::vector<double> values[2] = {std::vector<double>(128),
                                     std::vector<double>(128)};
    for (size_t t = 0; t < 2; ++t)
      for (size_t j = 0; j < 128; ++j)
        for (size_t k = 0; k < 4; ++k)
          values[t][j] += double(vWeight[j * 4 + k]) * std::cos(1.3 * k + t);
    std::vector<double> y(6, 0.0);
    for (size_t c = 0; c < 256; ++c) {
      size_t h = c / 32, j = h / 2 * 32 + c % 32;
      double p = 0.1 + 0.1 * h;
      double attended = p * values[0][j] + (1 - p) * values[1][j];
      for (size_t n = 0; n < 6; ++n)
        y[n] += double(oWeight[n * 256 + c]) * attended;
    }
    return y;
  };
  std::vector<double> before = forward(v, o);
  std::vector<double> after = forward(smoothedV, smoothedO);
  for (size_t n = 0; n < before.size(); ++n)
    EXPECT_NEAR(after[n], before[n], 1e-5 * (1.0 + std::fabs(before[n])));
  EXPECT_NE(smoothedO, o);
  // The head grouping must match the shapes.
  EXPECT_THAT(llvm::toString(store.smoothLinearPair("gate", "", {"w"}, act,
                                                    0.5f, 1e-5f, 32, 2)),
              HasSubstr("rows are not whole heads of 32"));
}

} // namespace

/// GPTQ's input statistics for `w`: data/quant/gram.f32 (make_quant_data.py).
std::shared_ptr<const InputGram> loadTestGram() {
  auto values = std::make_shared<std::vector<float>>(readGolden("quant/gram"));
  EXPECT_EQ(values->size(), 256u * 256u);
  auto gram = std::make_shared<InputGram>();
  gram->channels = 256;
  gram->values = values->data();
  gram->owner = values;
  return gram;
}

/// `w` quantized with `quant` in a fresh store, the scales read before or
/// after the weight.
struct QuantizedW {
  std::vector<uint8_t> codes, zeroPoints;
  std::vector<float> scales;
};
QuantizedW quantizeFreshW(const QuantScheme &quant, bool scalesFirst) {
  WeightStore target;
  auto checkpoint =
      SafetensorsCheckpoint::open(dataPath("quant/quant.safetensors"));
  EXPECT_TRUE(!!checkpoint);
  EXPECT_FALSE(!!target.addSource(std::move(*checkpoint)));
  target.addAllSourceTensors();
  EXPECT_FALSE(!!target.quantize("w", quant));
  EXPECT_FALSE(!!target.addQuantScales("w.scale", "w"));
  if (!quant.symmetric)
    EXPECT_FALSE(!!target.addQuantZeroPoints("w.zero", "w"));
  auto bytesOf = [&](llvm::StringRef name) {
    auto desc = target.describe(name);
    std::vector<uint8_t> bytes(desc ? desc->getBytes() : 0);
    EXPECT_FALSE(!!target.materialize(name, bytes));
    return bytes;
  };
  QuantizedW result;
  std::vector<uint8_t> scaleBytes;
  if (scalesFirst)
    scaleBytes = bytesOf("w.scale");
  result.codes = bytesOf("w");
  if (!scalesFirst)
    scaleBytes = bytesOf("w.scale");
  if (!quant.symmetric)
    result.zeroPoints = bytesOf("w.zero");
  result.scales.resize(scaleBytes.size() / 4);
  std::memcpy(result.scales.data(), scaleBytes.data(), scaleBytes.size());
  return result;
}

// GPTQ's codes and scales against make_quant_data.py's numpy implementation
// of the paper's algorithm (the same float32 rounding steps, float64 error
// propagation through numpy's inverse and Cholesky factor). The two
// factorizations of H differ in the last bits, which could flip a code
// whose value lands within that of a rounding boundary: none may differ
// by more than one step, and at most 1 in 200.
TEST_F(QuantizeTest, GptqMatchesNumpy) {
  std::shared_ptr<const InputGram> gram = loadTestGram();
  struct Case {
    QuantScheme scheme;
    const char *golden;
  } cases[] = {
      {scheme(DType::I4, QuantGranularity::Group, 64), "gptq_int4_group64"},
      {scheme(DType::I4, QuantGranularity::Group, 128, false),
       "gptq_int4_group128_asym"},
      {scheme(DType::I8, QuantGranularity::PerChannel),
       "gptq_int8_per_channel"},
      {scheme(DType::F8E4M3, QuantGranularity::PerChannel),
       "gptq_fp8_per_channel"},
      {scheme(DType::F8E4M3, QuantGranularity::PerTensor),
       "gptq_fp8_per_tensor"},
  };
  for (const Case &c : cases)
    for (bool scalesFirst : {false, true}) {
      SCOPED_TRACE(std::string(c.golden) + (scalesFirst ? ", scales first" : ""));
      QuantScheme quant = c.scheme;
      quant.gptq = gram;
      QuantizedW result = quantizeFreshW(quant, scalesFirst);
      const std::vector<uint8_t> &codes = result.codes;
      std::vector<float> values(6 * 256), expected(6 * 256);
      decodeToF32(quant.dtype, codes, values.data(), values.size());
      std::vector<uint8_t> golden = goldenBytes(std::string(c.golden) + ".bin");
      ASSERT_EQ(golden.size(), codes.size());
      decodeToF32(quant.dtype, golden, expected.data(), expected.size());
      int differing = 0;
      for (size_t i = 0; i < values.size(); ++i) {
        if (values[i] == expected[i])
          continue;
        ++differing;
        // One step: an integer apart, or neighbouring E4M3 codes.
        if (quant.dtype == DType::F8E4M3)
          EXPECT_EQ(std::abs(int(codes[i]) - int(golden[i])), 1) << i;
        else
          EXPECT_EQ(std::fabs(values[i] - expected[i]), 1.0f) << i;
      }
      EXPECT_LE(differing, int(values.size()) / 200);
      const std::vector<float> &scales = result.scales;
      std::vector<float> goldenScales =
          goldenF32(std::string(c.golden) + ".scale");
      ASSERT_EQ(scales.size(), goldenScales.size());
      for (size_t b = 0; b < scales.size(); ++b)
        EXPECT_NEAR(scales[b], goldenScales[b], 1e-6f * goldenScales[b]) << b;
      if (!quant.symmetric) {
        const std::vector<uint8_t> &zeros = result.zeroPoints;
        std::vector<uint8_t> goldenZeros =
            goldenBytes(std::string(c.golden) + ".zero.bin");
        ASSERT_EQ(zeros.size(), goldenZeros.size());
        for (size_t b = 0; b < zeros.size(); ++b)
          EXPECT_LE(std::abs(int(int8_t(zeros[b])) - int(int8_t(goldenZeros[b]))), 1) << b;
      }
    }
}

// What GPTQ is for: the layer's output error on its calibration inputs,
// sum over rows of (w - q) H (w - q)ᵀ, is well below round to nearest's on
// the same grid, for every scheme.
TEST_F(QuantizeTest, GptqLowersOutputError) {
  std::vector<float> w = materializeF32("w");
  const int64_t rows = 6, columns = 256;
  ASSERT_EQ(w.size(), size_t(rows * columns));
  std::shared_ptr<const InputGram> input = loadTestGram();
  const float *gram = input->values;
  auto outputError = [&](const QuantScheme &quant, bool gptq,
                         bool scalesFirst) {
    QuantScheme s = quant;
    if (gptq)
      s.gptq = input;
    QuantizedW result = quantizeFreshW(s, scalesFirst);
    const std::vector<uint8_t> &q = result.codes, &zeros = result.zeroPoints;
    const std::vector<float> &scales = result.scales;
    std::vector<float> values(rows * columns);
    decodeToF32(s.dtype, q, values.data(), values.size());
    const int64_t perRow = int64_t(scales.size()) / rows;
    std::vector<double> e(rows * columns);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < columns; ++c) {
        int64_t block = s.granularity == QuantGranularity::PerTensor
                            ? 0
                            : r * perRow + c / (columns / perRow);
        double zero = zeros.empty() ? 0 : double(int8_t(zeros[block]));
        e[r * columns + c] =
            w[r * columns + c] - (values[r * columns + c] - zero) * scales[block];
      }
    double error = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < columns; ++i)
        for (int64_t j = 0; j < columns; ++j)
          error += e[r * columns + i] * gram[i * columns + j] *
                   e[r * columns + j];
    return error;
  };
  for (const QuantScheme &quant :
       {scheme(DType::I4, QuantGranularity::Group, 64),
        scheme(DType::I4, QuantGranularity::Group, 32, /*symmetric=*/false),
        scheme(DType::I8, QuantGranularity::PerChannel),
        scheme(DType::F8E4M3, QuantGranularity::PerChannel),
        scheme(DType::F8E4M3, QuantGranularity::PerTensor)})
    for (bool scalesFirst : {false, true}) {
      double nearest = outputError(quant, false, scalesFirst);
      double gptq = outputError(quant, true, scalesFirst);
      EXPECT_LT(gptq, 0.8 * nearest)
          << quant.getName() << (scalesFirst ? " scales first" : "")
          << ": nearest " << nearest << ", GPTQ " << gptq;
    }
}
