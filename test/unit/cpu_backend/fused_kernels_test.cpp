//===- fused_kernels_test.cpp - fused kernels vs the unfused compositions -===//
//
// Each kernel of FusedKernels.h against the unfused kernels it replaces, run
// one after another with every intermediate stored in its type, as an
// unfused plan runs them: bitwise equal where the fused kernel rounds where
// the unfused steps do, within one rounding where a GEMM epilogue keeps the
// f32 accumulator. Quantization is checked against a direct reference
// (round half to even, saturate) and hand-computed codes.
//
//===----------------------------------------------------------------------===//

#include "runtime/backends/cpu/FusedKernels.h"
#include "runtime/kv_cache/KVCache.h"
#include "runtime/support/Float8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace {

using namespace llmc;
using cpu::DType;

/// Deterministic values in [-2, 2) stored as `dtype` (2 or 4 bytes each).
std::vector<uint8_t> randomValues(int64_t count, DType dtype, uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  std::vector<float> values(static_cast<size_t>(count));
  for (float &v : values)
    v = uniform(generator);
  std::vector<uint8_t> stored(count * cpu::dtypeBytes(dtype));
  cpu::convertFromF32(values.data(), stored.data(), dtype, count);
  return stored;
}

std::vector<float> toF32(const std::vector<uint8_t> &stored, DType dtype) {
  int64_t count = stored.size() / cpu::dtypeBytes(dtype);
  std::vector<float> values(static_cast<size_t>(count));
  cpu::convertToF32(stored.data(), dtype, values.data(), count);
  return values;
}

class FusedKernelsTest : public ::testing::TestWithParam<DType> {};

// add_rms_norm: the sum and the norm are bitwise what add then rmsNorm store.
TEST_P(FusedKernelsTest, AddRmsNormEqualsAddThenRmsNorm) {
  DType t = GetParam();
  const int64_t rows = 5, cols = 37;
  auto a = randomValues(rows * cols, t, 1), b = randomValues(rows * cols, t, 2);
  auto w = randomValues(cols, t, 3);
  std::vector<uint8_t> sum(a.size()), norm(a.size());
  cpu::addRmsNorm(cpu::constMatrix(a.data(), t, rows, cols),
                  cpu::constMatrix(b.data(), t, rows, cols), w.data(), t, 1e-5f,
                  cpu::matrix(sum.data(), t, rows, cols),
                  cpu::matrix(norm.data(), t, rows, cols), 0.5f);
  std::vector<uint8_t> wantSum(a.size()), wantNorm(a.size());
  cpu::add(a.data(), b.data(), t, wantSum.data(), t, rows * cols);
  cpu::rmsNorm(cpu::constMatrix(wantSum.data(), t, rows, cols), w.data(), t,
               1e-5f, cpu::matrix(wantNorm.data(), t, rows, cols), 0.5f);
  EXPECT_EQ(sum, wantSum);
  EXPECT_EQ(norm, wantNorm);
}

// rms_norm_add_rms_norm (Gemma's sandwich): bitwise what rmsNorm of the
// branch, add to the residual and rmsNorm of the sum store.
TEST_P(FusedKernelsTest, SandwichNormEqualsNormAddNorm) {
  DType t = GetParam();
  const int64_t rows = 3, cols = 29;
  auto branch = randomValues(rows * cols, t, 21);
  auto residual = randomValues(rows * cols, t, 22);
  auto w1 = randomValues(cols, t, 23), w2 = randomValues(cols, t, 24);
  std::vector<uint8_t> sum(branch.size()), norm(branch.size());
  cpu::rmsNormAddRmsNorm(
      cpu::constMatrix(branch.data(), t, rows, cols), w1.data(), 1e-6f,
      cpu::constMatrix(residual.data(), t, rows, cols), w2.data(), t, 1e-5f,
      cpu::matrix(sum.data(), t, rows, cols),
      cpu::matrix(norm.data(), t, rows, cols));
  std::vector<uint8_t> branchNorm(branch.size()), wantSum(branch.size()),
      wantNorm(branch.size());
  cpu::rmsNorm(cpu::constMatrix(branch.data(), t, rows, cols), w1.data(), t,
               1e-6f, cpu::matrix(branchNorm.data(), t, rows, cols));
  cpu::add(residual.data(), branchNorm.data(), t, wantSum.data(), t,
           rows * cols);
  cpu::rmsNorm(cpu::constMatrix(wantSum.data(), t, rows, cols), w2.data(), t,
               1e-5f, cpu::matrix(wantNorm.data(), t, rows, cols));
  EXPECT_EQ(sum, wantSum);
  EXPECT_EQ(norm, wantNorm);
}

// The quantized norms give the codes of quantizing the unfused norm's f32
// result: x / scale rounded half to even, saturated to [-128, 127].
TEST_P(FusedKernelsTest, NormQuantizeEqualsNormThenQuantize) {
  DType t = GetParam();
  const int64_t rows = 4, cols = 24;
  auto a = randomValues(rows * cols, t, 4), b = randomValues(rows * cols, t, 5);
  auto w = randomValues(cols, t, 6);
  std::vector<float> perRowScales = {0.01f, 0.02f, 0.005f, 0.03f};
  std::vector<uint8_t> sum(a.size()), codes(rows * cols),
      codesNoAdd(rows * cols);
  cpu::QuantizedMatrixView view{
      codes.data(),        cpu::QuantDType::I8, rows, cols, cols,
      perRowScales.data(),
      /*scalePerRow=*/true};
  cpu::addRmsNormQuantized(cpu::constMatrix(a.data(), t, rows, cols),
                           cpu::constMatrix(b.data(), t, rows, cols), w.data(),
                           t, 1e-6f, cpu::matrix(sum.data(), t, rows, cols),
                           view);
  cpu::QuantizedMatrixView plain = view;
  plain.data = codesNoAdd.data();
  cpu::rmsNormQuantized(cpu::constMatrix(a.data(), t, rows, cols), w.data(), t,
                        1e-6f, plain);

  std::vector<uint8_t> wantSum(a.size());
  cpu::add(a.data(), b.data(), t, wantSum.data(), t, rows * cols);
  EXPECT_EQ(sum, wantSum);
  for (auto [input, got] :
       {std::pair(&wantSum, &codes), std::pair(&a, &codesNoAdd)}) {
    std::vector<float> normalized(rows * cols);
    cpu::rmsNorm(cpu::constMatrix(input->data(), t, rows, cols), w.data(), t,
                 1e-6f, cpu::matrix(normalized.data(), DType::F32, rows, cols));
    int saturated = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        float q = std::nearbyint(normalized[r * cols + c] / perRowScales[r]);
        saturated += std::fabs(q) > 127;
        q = std::min(127.0f, std::max(-128.0f, q));
        ASSERT_EQ(static_cast<int8_t>((*got)[r * cols + c]),
                  static_cast<int8_t>(q))
            << "row " << r << " column " << c;
      }
    EXPECT_GT(saturated, 0) << "the case should exercise saturation";
  }
}

// rms_norm(_add)_quantize_dynamic: the sum, the codes and the per-token
// scales are bitwise what add, rmsNorm (stored in its type) and
// quantizeDynamic give, for i8 and fp8 codes; a zero row gets scale 1.
TEST_P(FusedKernelsTest, NormQuantizeDynamicEqualsNormThenQuantizeDynamic) {
  DType t = GetParam();
  const int64_t rows = 4, cols = 40;
  auto a = randomValues(rows * cols, t, 31),
       b = randomValues(rows * cols, t, 32);
  auto w = randomValues(cols, t, 33);
  // Row 2 of a + b (and of a alone) is zero.
  std::vector<uint8_t> zero(cols * cpu::dtypeBytes(t), 0);
  std::memcpy(a.data() + 2 * zero.size(), zero.data(), zero.size());
  std::memcpy(b.data() + 2 * zero.size(), zero.data(), zero.size());
  for (cpu::QuantDType q : {cpu::QuantDType::I8, cpu::QuantDType::F8E4M3FN})
    for (bool withAdd : {true, false}) {
      std::vector<uint8_t> sum(a.size()), codes(rows * cols);
      std::vector<float> scales(rows, -1.0f);
      auto av = cpu::constMatrix(a.data(), t, rows, cols);
      auto bv = cpu::constMatrix(b.data(), t, rows, cols);
      auto sv = cpu::matrix(sum.data(), t, rows, cols);
      cpu::addRmsNormQuantizeDynamic(av, withAdd ? &bv : nullptr, w.data(), t,
                                     1e-5f, withAdd ? &sv : nullptr, t,
                                     codes.data(), q, scales.data(), 0.25f);
      std::vector<uint8_t> wantSum = a, norm(a.size()), wantCodes(rows * cols);
      std::vector<float> wantScales(rows);
      if (withAdd)
        cpu::add(a.data(), b.data(), t, wantSum.data(), t, rows * cols);
      cpu::rmsNorm(cpu::constMatrix(wantSum.data(), t, rows, cols), w.data(), t,
                   1e-5f, cpu::matrix(norm.data(), t, rows, cols), 0.25f);
      cpu::quantizeDynamic(cpu::constMatrix(norm.data(), t, rows, cols),
                           wantCodes.data(), q, wantScales.data());
      if (withAdd)
        EXPECT_EQ(sum, wantSum);
      EXPECT_EQ(codes, wantCodes) << (withAdd ? "add " : "") << int(q);
      EXPECT_EQ(scales, wantScales) << (withAdd ? "add " : "") << int(q);
      EXPECT_EQ(scales[2], 1.0f);
      EXPECT_NE(scales[0], 1.0f);
    }
}

// accumulateProduct (beta epilogue of quantized GEMMs): product + beta * C
// in f32, rounded once to C's type.
TEST_P(FusedKernelsTest, AccumulateProductAddsInF32) {
  DType t = GetParam();
  const int64_t rows = 3, cols = 17;
  auto residual = randomValues(rows * cols, t, 41);
  auto productStored = randomValues(rows * cols, DType::F32, 42);
  std::vector<float> product = toF32(productStored, DType::F32);
  for (float beta : {1.0f, 0.5f}) {
    std::vector<uint8_t> got = residual;
    cpu::accumulateProduct(product.data(), beta,
                           cpu::matrix(got.data(), t, rows, cols));
    std::vector<float> residualF = toF32(residual, t), want(rows * cols);
    for (size_t i = 0; i < want.size(); ++i)
      want[i] = product[i] + beta * residualF[i];
    std::vector<uint8_t> wantStored(residual.size());
    cpu::convertFromF32(want.data(), wantStored.data(), t, rows * cols);
    EXPECT_EQ(got, wantStored) << "beta " << beta;
  }
}

// gated_activation: silu(gate) stored, times up, stored: what silu then mul
// give; GELU (tanh) likewise.
TEST_P(FusedKernelsTest, GatedActivationEqualsActivationThenMul) {
  DType t = GetParam();
  const int64_t rows = 3, cols = 40;
  auto packed = randomValues(rows * 2 * cols, t, 7);
  const size_t bytes = cpu::dtypeBytes(t);
  for (auto [activation, isSilu] :
       {std::pair(cpu::GatedActivation::Silu, true),
        std::pair(cpu::GatedActivation::GeluTanh, false)}) {
    std::vector<uint8_t> got(rows * cols * bytes), want(got.size());
    cpu::gatedActivation(cpu::constMatrix(packed.data(), t, rows, 2 * cols),
                         activation, cpu::matrix(got.data(), t, rows, cols));
    std::vector<uint8_t> act(cols * bytes);
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t *gate = packed.data() + r * 2 * cols * bytes;
      if (isSilu)
        cpu::silu(gate, t, act.data(), t, cols);
      else
        cpu::gelu(gate, t, act.data(), t, cols, cpu::GeluApproximation::Tanh);
      cpu::mul(act.data(), gate + cols * bytes, t,
               want.data() + r * cols * bytes, t, cols);
    }
    EXPECT_EQ(got, want) << (isSilu ? "silu" : "gelu_tanh");
  }
}

// quantize after the gated activation: the fp8 codes of x / scale (a value
// beyond ±448 saturates to the largest finite code).
TEST(FusedKernels, GatedActivationQuantizeFp8) {
  const int64_t cols = 2;
  // gate | up: silu(10) * 100 = 999.5 saturates, silu(0) * 5 = 0.
  std::vector<float> packed = {10.0f, 0.0f, 100.0f, 5.0f};
  std::vector<uint8_t> codes(cols);
  float scale = 1.0f;
  cpu::gatedActivationQuantized(
      cpu::constMatrix(packed.data(), DType::F32, 1, 2 * cols),
      cpu::GatedActivation::Silu,
      cpu::QuantizedMatrixView{codes.data(), cpu::QuantDType::F8E4M3FN, 1, cols,
                               cols, &scale, false});
  EXPECT_EQ(codes[0], 0x7e); // 448, E4M3FN's largest finite value
  EXPECT_EQ(codes[1], 0x00);
  std::vector<float> row = {1.5f, -3.0f, 0.3f};
  std::vector<uint8_t> direct(3);
  cpu::quantizeRow(row.data(), 3, 0.5f, cpu::QuantDType::F8E4M3FN,
                   direct.data());
  EXPECT_EQ(numeric::fp8ToFloat(direct[0], numeric::Fp8Format::E4M3FN), 3.0f);
  EXPECT_EQ(numeric::fp8ToFloat(direct[1], numeric::Fp8Format::E4M3FN), -6.0f);
  EXPECT_EQ(numeric::fp8ToFloat(direct[2], numeric::Fp8Format::E4M3FN), 0.625f);
  std::vector<uint8_t> i8(3);
  std::vector<float> halves = {2.5f, -0.5f, 1000.0f};
  cpu::quantizeRow(halves.data(), 3, 1.0f, cpu::QuantDType::I8, i8.data());
  EXPECT_EQ(static_cast<int8_t>(i8[0]), 2); // half to even
  EXPECT_EQ(static_cast<int8_t>(i8[1]), 0);
  EXPECT_EQ(static_cast<int8_t>(i8[2]), 127);
}

// linear_gated_activation: the packed GEMM with the activation as its
// epilogue equals linear into f32 followed by the f32 gated activation.
TEST_P(FusedKernelsTest, LinearGatedActivationEqualsLinearThenActivation) {
  DType t = GetParam();
  const int64_t rows = 3, k = 48, cols = 20;
  auto x = randomValues(rows * k, t, 8), w = randomValues(2 * cols * k, t, 9);
  cpu::ThreadPool pool(2);
  std::vector<float> scratch;
  std::vector<uint8_t> got(rows * cols * cpu::dtypeBytes(t)), want(got.size());
  cpu::linearGatedActivation(
      cpu::constMatrix(x.data(), t, rows, k),
      cpu::constMatrix(w.data(), t, 2 * cols, k), cpu::GatedActivation::Silu,
      cpu::matrix(got.data(), t, rows, cols), scratch, &pool);
  std::vector<float> packed(rows * 2 * cols);
  cpu::linear(cpu::constMatrix(x.data(), t, rows, k),
              cpu::constMatrix(w.data(), t, 2 * cols, k), nullptr, DType::F32,
              cpu::matrix(packed.data(), DType::F32, rows, 2 * cols), &pool);
  for (int64_t r = 0; r < rows; ++r)
    cpu::siluMul(packed.data() + r * 2 * cols,
                 packed.data() + r * 2 * cols + cols, DType::F32,
                 want.data() + r * cols * cpu::dtypeBytes(t), t, cols);
  EXPECT_EQ(got, want);
}

// The residual epilogue (beta = 1): C = A * B^T + C rounded once equals
// linear + add up to the product's rounding that the unfused path adds
// (bitwise in f32).
TEST_P(FusedKernelsTest, LinearAccumulateEqualsLinearThenAdd) {
  DType t = GetParam();
  const int64_t rows = 4, k = 32, n = 24;
  auto x = randomValues(rows * k, t, 10), w = randomValues(n * k, t, 11);
  auto residual = randomValues(rows * n, t, 12);
  cpu::ThreadPool pool(2);
  std::vector<float> scratch;
  std::vector<uint8_t> got = residual;
  cpu::linearAccumulate(cpu::constMatrix(x.data(), t, rows, k),
                        cpu::constMatrix(w.data(), t, n, k), 1.0f, 1.0f,
                        cpu::matrix(got.data(), t, rows, n), scratch, &pool);
  std::vector<uint8_t> product(residual.size()), want(residual.size());
  cpu::linear(cpu::constMatrix(x.data(), t, rows, k),
              cpu::constMatrix(w.data(), t, n, k), nullptr, DType::F32,
              cpu::matrix(product.data(), t, rows, n), &pool);
  cpu::add(residual.data(), product.data(), t, want.data(), t, rows * n);
  std::vector<float> gotF = toF32(got, t), wantF = toF32(want, t);
  std::vector<float> productF = toF32(product, t);
  // The unfused path rounds the product too: the two differ by at most that
  // rounding and the final one (none in f32).
  double ulp = t == DType::F32    ? 0.0
               : t == DType::BF16 ? 1.0 / 128
                                  : 1.0 / 1024;
  for (size_t i = 0; i < gotF.size(); ++i)
    ASSERT_LE(std::fabs(gotF[i] - wantF[i]),
              ulp * (std::fabs(productF[i]) + std::fabs(wantF[i])))
        << "element " << i;
  // alpha scales the product only; beta = 0 ignores what C held.
  std::vector<uint8_t> scaled(residual.size());
  cpu::linearAccumulate(cpu::constMatrix(x.data(), t, rows, k),
                        cpu::constMatrix(w.data(), t, n, k), 0.5f, 0.0f,
                        cpu::matrix(scaled.data(), t, rows, n), scratch, &pool);
  std::vector<float> scaledF = toF32(scaled, t);
  for (size_t i = 0; i < scaledF.size(); ++i)
    ASSERT_LE(std::fabs(scaledF[i] - 0.5f * productF[i]),
              ulp * std::fabs(productF[i]) + 1e-30);
}

std::unique_ptr<kv::PagedKVCache> makeCache(int64_t kvHeads, int64_t headDim,
                                            DType dtype) {
  kv::KVCacheConfig config;
  config.numLayers = 2;
  config.numKVHeads = kvHeads;
  config.headDim = headDim;
  config.blockTokens = 4;
  config.numBlocks = 16;
  config.dtype = dtype;
  std::unique_ptr<kv::PagedKVCache> cache;
  EXPECT_TRUE(kv::PagedKVCache::create(config, cache));
  return cache;
}

// rope_kv_write: q equals splitting the packed rows and roping q; the cache
// holds what appending the roped k and the v rows gives, for two sequences
// of a ragged batch; with a per-head RMSNorm first (Qwen3) as well.
TEST_P(FusedKernelsTest, RopeKVWriteEqualsSplitRopeAppend) {
  DType t = GetParam();
  const int64_t tokens = 7, heads = 4, kvHeads = 2, headDim = 8;
  const int64_t width = (heads + 2 * kvHeads) * headDim;
  const size_t bytes = cpu::dtypeBytes(t);
  auto packed = randomValues(tokens * width, t, 13);
  auto normQ = randomValues(headDim, t, 14),
       normK = randomValues(headDim, t, 15);
  std::vector<int32_t> positions = {0, 1, 2, 0, 1, 2, 3};
  std::vector<int64_t> queryStart = {0, 3, 7}, sequenceIds = {5, 9};
  cpu::AttentionBatch batch{2, queryStart.data(), sequenceIds.data(),
                            positions.data()};
  cpu::RopeParams ropeParams;
  ropeParams.theta = 10000.0;
  cpu::RopeFrequencies frequencies;
  ASSERT_TRUE(cpu::computeRopeFrequencies(ropeParams, headDim, frequencies));

  for (bool withNorm : {false, true}) {
    auto cache = makeCache(kvHeads, headDim, t);
    auto wantCache = makeCache(kvHeads, headDim, t);
    for (int64_t id : sequenceIds) {
      ASSERT_TRUE(cache->reserve(id, 4));
      ASSERT_TRUE(wantCache->reserve(id, 4));
    }
    std::vector<uint8_t> query(tokens * heads * headDim * bytes), scratch;
    cpu::QKNorm norm;
    if (withNorm)
      norm = cpu::QKNorm{normQ.data(), normK.data(), t, 1e-6f};
    ASSERT_TRUE(cpu::ropeKVWrite(
        cpu::PackedQKV{packed.data(), t, tokens, width, heads, kvHeads,
                       headDim},
        positions.data(), frequencies, cpu::RopeStyle::Half, norm, *cache, 1,
        batch, cpu::heads(query.data(), t, tokens, heads, headDim), scratch));

    // Unfused: copy the parts out, [norm,] rope, append.
    auto partOf = [&](int64_t first, int64_t count) {
      std::vector<uint8_t> part(tokens * count * headDim * bytes);
      for (int64_t r = 0; r < tokens; ++r)
        std::memcpy(part.data() + r * count * headDim * bytes,
                    packed.data() + (r * width + first * headDim) * bytes,
                    count * headDim * bytes);
      return part;
    };
    auto q = partOf(0, heads), k = partOf(heads, kvHeads),
         v = partOf(heads + kvHeads, kvHeads);
    if (withNorm) {
      cpu::rmsNorm(cpu::constMatrix(q.data(), t, tokens * heads, headDim),
                   normQ.data(), t, 1e-6f,
                   cpu::matrix(q.data(), t, tokens * heads, headDim));
      cpu::rmsNorm(cpu::constMatrix(k.data(), t, tokens * kvHeads, headDim),
                   normK.data(), t, 1e-6f,
                   cpu::matrix(k.data(), t, tokens * kvHeads, headDim));
    }
    cpu::rope(cpu::heads(q.data(), t, tokens, heads, headDim), positions.data(),
              frequencies, cpu::RopeStyle::Half,
              cpu::heads(q.data(), t, tokens, heads, headDim));
    cpu::rope(cpu::heads(k.data(), t, tokens, kvHeads, headDim),
              positions.data(), frequencies, cpu::RopeStyle::Half,
              cpu::heads(k.data(), t, tokens, kvHeads, headDim));
    for (int s = 0; s < 2; ++s) {
      int64_t begin = queryStart[s], count = queryStart[s + 1] - begin;
      ASSERT_TRUE(wantCache->append(
          1, sequenceIds[s], positions.data() + begin, count,
          k.data() + begin * kvHeads * headDim * bytes,
          v.data() + begin * kvHeads * headDim * bytes, t, kvHeads * headDim));
    }
    EXPECT_EQ(query, q) << (withNorm ? "with" : "without") << " qk norm";
    for (int64_t id : sequenceIds) {
      const std::vector<int32_t> &blocks = *cache->blockTable(id);
      const std::vector<int32_t> &wantBlocks = *wantCache->blockTable(id);
      ASSERT_EQ(blocks.size(), wantBlocks.size());
      size_t tileBytes = 4 * headDim * bytes;
      for (size_t b = 0; b < blocks.size(); ++b)
        for (int64_t h = 0; h < kvHeads; ++h) {
          EXPECT_EQ(std::memcmp(cache->keyTile(1, blocks[b], h),
                                wantCache->keyTile(1, wantBlocks[b], h),
                                tileBytes),
                    0)
              << "key tile of sequence " << id << " block " << b;
          EXPECT_EQ(std::memcmp(cache->valueTile(1, blocks[b], h),
                                wantCache->valueTile(1, wantBlocks[b], h),
                                tileBytes),
                    0)
              << "value tile of sequence " << id << " block " << b;
        }
    }
  }
}

// elementwise: the program runs the chain in one sweep, rounding each
// result to its type: bitwise what silu, mul, scale and convert steps give.
TEST_P(FusedKernelsTest, ElementwiseProgramEqualsSteps) {
  DType t = GetParam();
  const int64_t count = 1000; // several chunks
  auto a = randomValues(count, t, 16), b = randomValues(count, t, 17);
  std::string type = t == DType::F32 ? "f32" : t == DType::F16 ? "f16" : "bf16";
  std::vector<cpu::ElementwiseInstruction> program;
  std::string error;
  ASSERT_TRUE(cpu::parseElementwiseProgram(
      "t0:" + type + "=silu(i0);t1:" + type + "=mul(t0,i1);t2:" + type +
          "=scale(t1,2.5000000000000000e-01);t3:" + type +
          "=add(t2,i0);t4:f32=convert(t3)",
      2, program, error))
      << error;
  std::vector<float> got(count);
  cpu::elementwise(program, {a.data(), b.data()}, {t, t}, got.data(),
                   DType::F32, count);
  size_t bytes = cpu::dtypeBytes(t);
  std::vector<uint8_t> s(count * bytes), m(s.size()), c(s.size()), d(s.size());
  cpu::silu(a.data(), t, s.data(), t, count);
  cpu::mul(s.data(), b.data(), t, m.data(), t, count);
  cpu::scale(m.data(), t, 0.25f, c.data(), t, count);
  cpu::add(c.data(), a.data(), t, d.data(), t, count);
  EXPECT_EQ(got, toF32(d, t));
}

INSTANTIATE_TEST_SUITE_P(Types, FusedKernelsTest,
                         ::testing::Values(DType::F32, DType::BF16, DType::F16),
                         [](const auto &info) {
                           return std::string(cpu::dtypeName(info.param));
                         });

// Malformed programs are refused with a message naming the problem.
TEST(FusedKernels, ElementwiseProgramErrors) {
  std::vector<cpu::ElementwiseInstruction> program;
  std::string error;
  EXPECT_FALSE(
      cpu::parseElementwiseProgram("t0:f32=tanh(i0)", 1, program, error));
  EXPECT_NE(error.find("unknown op 'tanh'"), std::string::npos) << error;
  EXPECT_FALSE(
      cpu::parseElementwiseProgram("t0:f32=add(i0,i1)", 1, program, error));
  EXPECT_NE(error.find("operand 'i1'"), std::string::npos) << error;
  EXPECT_FALSE(
      cpu::parseElementwiseProgram("t0:f32=silu(t0)", 1, program, error));
  EXPECT_FALSE(
      cpu::parseElementwiseProgram("t1:f32=silu(i0)", 1, program, error));
  EXPECT_NE(error.find("out of order"), std::string::npos) << error;
  EXPECT_FALSE(
      cpu::parseElementwiseProgram("t0:i8=silu(i0)", 1, program, error));
  EXPECT_FALSE(cpu::parseElementwiseProgram("", 1, program, error));
}

} // namespace
