//===- gemm_kernels_test.cpp - generated GEMMs and epilogues on the host shim
//
// The weight-only and float GEMM templates (GemmWeightOnly.cuh: GEMV and
// tiles) and the epilogues every generated GEMM takes (GemmEpilogue.cuh:
// store with beta, bias, gated activation with static or dynamic
// quantization, also on the INT8 and FP8 GEMMs) run through HostShim.h on
// random inputs against the CPU backend (cpu::gemmWeightOnly, gemmW8A8,
// linear, gatedActivation, quantizeDynamic: the reference). Shapes have
// edge tiles in M and N; the GEMV runs a decode shape (3 rows) and a
// 6-row one (two passes over the weight). Tolerances:
// - float GEMM values: 1e-5 of sum |a * w| (f32 accumulation order) plus
//   one ulp of the output type (the rounding of values that differ by the
//   order can fall on either side);
// - gated products: the same bound carried through act(gate) * up
//   (|act'| <= 1.13 for SiLU and GELU, |act(g)| <= |g|);
// - INT8 W8A8 (exact int32 sums, same scale order, same formulas): equal;
// - quantized outputs: exactly the reference quantization of the kernel's
//   own unquantized product (checked with the bound above), since equal
//   inputs have one right answer (per-token scales: cpu::quantizeDynamic).
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/HostShim.h"

#include "compiler/codegen/cuda/kernels/Common.cuh"
#include "compiler/codegen/cuda/kernels/Elementwise.cuh"
#include "compiler/codegen/cuda/kernels/GemmEpilogue.cuh"
#include "compiler/codegen/cuda/kernels/GemmFp8.cuh"
#include "compiler/codegen/cuda/kernels/GemmInt8.cuh"
#include "compiler/codegen/cuda/kernels/GemmWeightOnly.cuh"
#include "compiler/codegen/cuda/kernels/Quantize.cuh"
#include "runtime/backends/cpu/FusedKernels.h"
#include "runtime/backends/cpu/Kernels.h"
#include "runtime/support/Float8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <type_traits>

namespace {

using namespace llmc_kernels;
using llmc::hostshim::launchOnHost;
namespace cpu = llmc::cpu;
using llmc::numeric::Fp8Format;

constexpr int kTileRows = 70, kGemvRows = 3, kGemvTwoPassRows = 6;
// The emulated MMA's shuffles are slow on the shim: its tiles run over 20
// rows (a partial 64-row block: warps 1..3 hold partial or no rows).
constexpr int kMmaRows = 20;

template <class T> cpu::DType dtypeOf() {
  if (std::is_same_v<T, float>)
    return cpu::DType::F32;
  if (std::is_same_v<T, bf16_t>)
    return cpu::DType::BF16;
  return cpu::DType::F16;
}

/// Relative size of one ulp of T (0 for f32: no rounding after the sum).
template <class T> float ulpOf() {
  if (std::is_same_v<T, float>)
    return 0.0f;
  return std::is_same_v<T, bf16_t> ? 1.0f / 128 : 1.0f / 1024;
}
/// The spacing of T's subnormals, where a relative ulp says too little
/// (f16's smallest step is 2^-24).
template <class T> float subnormalStepOf() {
  return std::is_same_v<T, f16_t> ? 0x1p-24f : 0.0f;
}

std::vector<float> randomValues(size_t count, float spread, unsigned seed) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, spread);
  std::vector<float> values(count);
  for (float &v : values)
    v = normal(generator);
  return values;
}

template <class T> std::vector<T> stored(const std::vector<float> &values) {
  std::vector<T> out(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    out[i] = fromF32<T>(values[i]);
  return out;
}

template <class T> std::vector<float> widened(const std::vector<T> &values) {
  std::vector<float> out(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    out[i] = toF32(values[i]);
  return out;
}

std::vector<unsigned char> randomBytes(size_t count, unsigned seed) {
  std::mt19937 generator(seed);
  std::vector<unsigned char> out(count);
  for (auto &v : out)
    v = static_cast<unsigned char>(generator() % 256);
  return out;
}

std::vector<signed char> randomCodes(size_t count, int low, int high,
                                     unsigned seed) {
  std::mt19937 generator(seed);
  std::vector<signed char> out(count);
  for (auto &v : out)
    v = static_cast<signed char>(
        low + static_cast<int>(generator() % (high - low + 1)));
  return out;
}

std::vector<float> positiveScales(size_t count, unsigned seed) {
  std::vector<float> out = randomValues(count, 0.02f, seed);
  for (float &v : out)
    v = std::fabs(v) + 1e-3f;
  return out;
}

/// sum_k |a[m][k] * w[n][k]| for the accumulation-order bound.
std::vector<float> magnitudes(const std::vector<float> &a,
                              const std::vector<float> &w, int m, int n,
                              int k) {
  std::vector<float> out(static_cast<size_t>(m) * n);
  for (int r = 0; r < m; ++r)
    for (int c = 0; c < n; ++c) {
      double sum = 0.0;
      for (int i = 0; i < k; ++i)
        sum += std::fabs(static_cast<double>(a[r * k + i]) * w[c * k + i]);
      out[r * n + c] = static_cast<float>(sum);
    }
  return out;
}

/// |actual - expected| <= 1e-5 * magnitude + one ulp of Out.
template <class Out>
void expectGemmClose(const std::vector<Out> &actual,
                     const std::vector<float> &expected,
                     const std::vector<float> &magnitude, int rows, int n,
                     const char *what) {
  for (int i = 0; i < rows * n; ++i) {
    const float value = toF32(actual[i]);
    ASSERT_NEAR(value, expected[i],
                1e-5f * magnitude[i] + ulpOf<Out>() * std::fabs(expected[i]) +
                    subnormalStepOf<Out>() + 1e-30f)
        << what << " at row " << i / n << ", column " << i % n;
  }
}

/// A weight-only weight: codes, block scales [N, K/G] (or [] per tensor),
/// optional zero points, and the CPU's view and decoding of it.
struct QuantWeight {
  std::vector<unsigned char> codes; // i8 codes, or i4 pairs
  std::vector<float> scales;
  std::vector<signed char> zeros;
  cpu::QuantDType dtype;
  int n, k, group;
  bool perRow;

  cpu::BlockScales blockScales() const {
    const signed char *zero = zeros.empty() ? nullptr : zeros.data();
    auto *zeroPoints = reinterpret_cast<const int8_t *>(zero);
    return perRow ? cpu::BlockScales::blocks(scales.data(), zeroPoints, n, k, n,
                                             k / group)
                  : cpu::BlockScales::perTensor(scales.data(), zeroPoints);
  }
  cpu::QuantMatrixView view() const {
    return cpu::quantMatrix(codes.data(), dtype, n, k);
  }
  std::vector<float> decoded() const {
    std::vector<float> out(static_cast<size_t>(n) * k);
    cpu::dequantize(view(), blockScales(),
                    cpu::matrix(out.data(), cpu::DType::F32, n, k));
    return out;
  }
};

QuantWeight makeWeight(cpu::QuantDType dtype, int n, int k, int group,
                       bool perRow, bool zeroPoints, unsigned seed) {
  QuantWeight w{{}, {}, {}, dtype, n, k, group, perRow};
  w.codes = randomBytes(dtype == cpu::QuantDType::I4 ? n * k / 2 : n * k, seed);
  size_t blocks = perRow ? static_cast<size_t>(n) * (k / group) : 1;
  w.scales = positiveScales(blocks, seed + 1);
  if (zeroPoints)
    w.zeros = randomCodes(blocks, dtype == cpu::QuantDType::I4 ? -8 : -20,
                          dtype == cpu::QuantDType::I4 ? 7 : 20, seed + 2);
  return w;
}

template <class W> const W *codesAs(const QuantWeight &w) {
  return reinterpret_cast<const W *>(w.codes.data());
}
const signed char *zerosOf(const QuantWeight &w) {
  return w.zeros.empty() ? nullptr : w.zeros.data();
}

/// The tile entry over `m` rows, launched as PlanKernels describes it.
template <class A, class W, int N, int K, int Group, bool PerRow, bool HasZero,
          class Epilogue>
void runTiles(const A *a, const W *b, const float *scale,
              const signed char *zero, float alpha, const Epilogue &epilogue,
              int m) {
  launchOnHost(dim3((N + kWeightTileN - 1) / kWeightTileN,
                    (m + kWeightTileM - 1) / kWeightTileM),
               kWeightGemmThreads, [&] {
                 gemmWeightTiles<A, W, N, K, Group, PerRow, HasZero>(
                     a, b, scale, zero, alpha, epilogue, m);
               });
}

/// The tensor-core tile entry (f16/bf16 activations), MMA emulated from
/// its fragments.
template <class A, class W, int N, int K, int Group, bool PerRow, bool HasZero,
          class Epilogue>
void runMmaTiles(const A *a, const W *b, const float *scale,
                 const signed char *zero, float alpha, const Epilogue &epilogue,
                 int m) {
  launchOnHost(
      dim3((N + kMmaTileN - 1) / kMmaTileN, (m + kMmaTileM - 1) / kMmaTileM),
      kMmaWarps * kWarpSize, [&] {
        gemmWeightTilesMma<A, W, N, K, Group, PerRow, HasZero>(
            a, b, scale, zero, alpha, epilogue, m);
      });
}

/// The GEMV entry: one warp per output column, four warps per block.
template <class A, class W, int N, int K, int Group, bool PerRow, bool HasZero,
          int LoadWords, class Epilogue>
void runGemv(const A *a, const W *b, const float *scale,
             const signed char *zero, float alpha, const Epilogue &epilogue,
             int m) {
  constexpr int kOutputColumns = Epilogue::kGated ? N / 2 : N;
  launchOnHost((kOutputColumns + 3) / 4, 128, [&] {
    gemvWeightRows<A, W, N, K, Group, PerRow, HasZero, LoadWords, 128>(
        a, b, scale, zero, alpha, epilogue, m);
  });
}

//===----------------------------------------------------------------------===//
// Weight-only GEMMs (plan.gemm generated, StoreEpilogue)
//===----------------------------------------------------------------------===//

/// Tiles over kTileRows rows and the GEMV over kGemvRows and
/// kGemvTwoPassRows against cpu::gemmWeightOnly.
template <class A, class W, class Out, int N, int K, int Group, bool PerRow,
          bool HasZero, int LoadWords>
void checkWeightOnly(cpu::QuantDType dtype, float alpha, unsigned seed) {
  QuantWeight weight =
      makeWeight(dtype, N, K, PerRow ? Group : K, PerRow, HasZero, seed);
  std::vector<A> a = stored<A>(randomValues(kTileRows * K, 1.0f, seed + 10));
  std::vector<float> expected(kTileRows * N);
  cpu::gemmWeightOnly(
      cpu::constMatrix(a.data(), dtypeOf<A>(), kTileRows, K), weight.view(),
      weight.blockScales(), alpha,
      cpu::matrix(expected.data(), cpu::DType::F32, kTileRows, N), nullptr);
  std::vector<float> magnitude =
      magnitudes(widened(a), weight.decoded(), kTileRows, N, K);
  for (float &v : magnitude)
    v *= std::fabs(alpha);
  std::vector<Out> tiles(kTileRows * N), gemv(kTileRows * N);
  runTiles<A, W, N, K, Group, PerRow, HasZero>(
      a.data(), codesAs<W>(weight), weight.scales.data(), zerosOf(weight),
      alpha, StoreEpilogue<Out, N, false>{tiles.data(), 0.0f}, kTileRows);
  expectGemmClose(tiles, expected, magnitude, kTileRows, N, "tiles");
  if constexpr (!std::is_same_v<A, float> && Group % 32 == 0) {
    std::vector<Out> mma(kTileRows * N);
    runMmaTiles<A, W, N, K, Group, PerRow, HasZero>(
        a.data(), codesAs<W>(weight), weight.scales.data(), zerosOf(weight),
        alpha, StoreEpilogue<Out, N, false>{mma.data(), 0.0f}, kMmaRows);
    expectGemmClose(mma, expected, magnitude, kMmaRows, N, "mma tiles");
  }
  for (int rows : {kGemvRows, kGemvTwoPassRows}) {
    runGemv<A, W, N, K, Group, PerRow, HasZero, LoadWords>(
        a.data(), codesAs<W>(weight), weight.scales.data(), zerosOf(weight),
        alpha, StoreEpilogue<Out, N, false>{gemv.data(), 0.0f}, rows);
    expectGemmClose(gemv, expected, magnitude, rows, N, "gemv");
  }
}

// w8a16: INT8 groups of 32 with zero points, bf16 activations and output;
// 16-byte lane loads cover half a group.
TEST(GemmKernels, WeightOnlyInt8GroupsWithZeroPoints) {
  checkWeightOnly<bf16_t, signed char, bf16_t, 72, 128, 32, true, true, 4>(
      cpu::QuantDType::I8, 0.5f, 101);
}

// w4a16: INT4 groups of 64 (32 codes per 16-byte load), symmetric, f16
// activations, f32 output.
TEST(GemmKernels, WeightOnlyInt4GroupsSymmetric) {
  checkWeightOnly<f16_t, i4x2_t, float, 40, 128, 64, true, false, 4>(
      cpu::QuantDType::I4, 1.0f, 202);
}

// INT4 with per-channel asymmetric scales ([N, 1]) and f32 activations;
// then groups of 8, which a 16-byte load (32 codes) would split: 4-byte
// loads (8 codes), as the instantiator picks for them.
TEST(GemmKernels, WeightOnlyInt4PerChannelAsymmetric) {
  checkWeightOnly<float, i4x2_t, float, 36, 64, 64, true, true, 4>(
      cpu::QuantDType::I4, 1.0f, 303);
  checkWeightOnly<float, i4x2_t, bf16_t, 36, 64, 8, true, true, 1>(
      cpu::QuantDType::I4, 1.0f, 304);
}

// A model-sized K (2048, groups of 128) in a decode shape: every lane of
// the GEMV takes several 16-byte loads of the row (i4: 64 loads of 32
// codes for 32 lanes). (The tiles' k loop is the same at any depth; the
// shim's barriers make deep tiles slow, so the other tests cover them.)
TEST(GemmKernels, WeightOnlyDeepRows) {
  constexpr int N = 8, K = 2048, G = 128, M = 5;
  for (cpu::QuantDType dtype : {cpu::QuantDType::I4, cpu::QuantDType::I8}) {
    QuantWeight weight = makeWeight(dtype, N, K, G, true, true, 71);
    auto a = stored<bf16_t>(randomValues(M * K, 1.0f, 72));
    std::vector<float> expected(M * N);
    cpu::gemmWeightOnly(cpu::constMatrix(a.data(), cpu::DType::BF16, M, K),
                        weight.view(), weight.blockScales(), 1.0f,
                        cpu::matrix(expected.data(), cpu::DType::F32, M, N),
                        nullptr);
    std::vector<float> magnitude =
        magnitudes(widened(a), weight.decoded(), M, N, K);
    std::vector<float> gemv(M * N);
    StoreEpilogue<float, N, false> toGemv{gemv.data(), 0.0f};
    if (dtype == cpu::QuantDType::I4) {
      runGemv<bf16_t, i4x2_t, N, K, G, true, true, 4>(
          a.data(), codesAs<i4x2_t>(weight), weight.scales.data(),
          zerosOf(weight), 1.0f, toGemv, M);
    } else {
      runGemv<bf16_t, signed char, N, K, G, true, true, 4>(
          a.data(), codesAs<signed char>(weight), weight.scales.data(),
          zerosOf(weight), 1.0f, toGemv, M);
    }
    expectGemmClose(gemv, expected, magnitude, M, N, "gemv");
  }
}

// One scale for the whole INT8 weight ([]), as llm.dequantize allows.
TEST(GemmKernels, WeightOnlyInt8PerTensor) {
  checkWeightOnly<bf16_t, signed char, float, 20, 96, 96, false, false, 4>(
      cpu::QuantDType::I8, 1.0f, 404);
}

// beta = 1 (the O/down projection + residual): C = alpha * A * W^T + C in
// f32, rounded once, as the CPU's accumulateProduct.
TEST(GemmKernels, WeightOnlyResidualAccumulation) {
  constexpr int N = 48, K = 64, G = 32;
  QuantWeight weight = makeWeight(cpu::QuantDType::I4, N, K, G, true, true, 7);
  auto a = stored<bf16_t>(randomValues(kTileRows * K, 1.0f, 8));
  auto residual = stored<bf16_t>(randomValues(kTileRows * N, 1.0f, 9));
  std::vector<float> product(kTileRows * N);
  cpu::gemmWeightOnly(
      cpu::constMatrix(a.data(), cpu::DType::BF16, kTileRows, K), weight.view(),
      weight.blockScales(), 1.0f,
      cpu::matrix(product.data(), cpu::DType::F32, kTileRows, N), nullptr);
  std::vector<bf16_t> expected = residual;
  cpu::accumulateProduct(
      product.data(), 1.0f,
      cpu::matrix(expected.data(), cpu::DType::BF16, kTileRows, N));
  std::vector<float> magnitude =
      magnitudes(widened(a), weight.decoded(), kTileRows, N, K);
  for (bool tiles : {true, false}) {
    std::vector<bf16_t> c = residual;
    StoreEpilogue<bf16_t, N, true> epilogue{c.data(), 1.0f};
    int rows = tiles ? kTileRows : kGemvRows;
    if (tiles)
      runTiles<bf16_t, i4x2_t, N, K, G, true, true>(
          a.data(), codesAs<i4x2_t>(weight), weight.scales.data(),
          zerosOf(weight), 1.0f, epilogue, rows);
    else
      runGemv<bf16_t, i4x2_t, N, K, G, true, true, 4>(
          a.data(), codesAs<i4x2_t>(weight), weight.scales.data(),
          zerosOf(weight), 1.0f, epilogue, rows);
    expectGemmClose(c, widened(expected), magnitude, rows, N,
                    tiles ? "tiles" : "gemv");
    // Rows past m keep their residual.
    for (int i = rows * N; i < kTileRows * N; ++i)
      ASSERT_EQ(c[i].bits, residual[i].bits) << "at " << i;
  }
}

//===----------------------------------------------------------------------===//
// Float GEMMs with epilogues (linear_bias, linear_gated_activation)
//===----------------------------------------------------------------------===//

// linear_bias on bf16: y = x * w^T + bias in f32, one rounding, as
// cpu::linear with its bias.
TEST(GemmKernels, LinearBiasBf16) {
  constexpr int N = 72, K = 96;
  auto x = stored<bf16_t>(randomValues(kTileRows * K, 1.0f, 11));
  auto w = stored<bf16_t>(randomValues(N * K, 0.1f, 12));
  auto bias = stored<bf16_t>(randomValues(N, 1.0f, 13));
  std::vector<float> expected(kTileRows * N);
  cpu::linear(cpu::constMatrix(x.data(), cpu::DType::BF16, kTileRows, K),
              cpu::constMatrix(w.data(), cpu::DType::BF16, N, K), bias.data(),
              cpu::DType::BF16,
              cpu::matrix(expected.data(), cpu::DType::F32, kTileRows, N),
              nullptr);
  std::vector<float> magnitude =
      magnitudes(widened(x), widened(w), kTileRows, N, K);
  const float noScale = 1.0f;
  std::vector<bf16_t> tiles(kTileRows * N), gemv(kTileRows * N);
  runTiles<bf16_t, bf16_t, N, K, 0, false, false>(
      x.data(), w.data(), &noScale, nullptr, 1.0f,
      BiasEpilogue<bf16_t, bf16_t, N>{tiles.data(), bias.data()}, kTileRows);
  expectGemmClose(tiles, expected, magnitude, kTileRows, N, "tiles");
  std::vector<bf16_t> mma(kTileRows * N);
  runMmaTiles<bf16_t, bf16_t, N, K, 0, false, false>(
      x.data(), w.data(), &noScale, nullptr, 1.0f,
      BiasEpilogue<bf16_t, bf16_t, N>{mma.data(), bias.data()}, kMmaRows);
  expectGemmClose(mma, expected, magnitude, kMmaRows, N, "mma tiles");
  runGemv<bf16_t, bf16_t, N, K, 0, false, false, 4>(
      x.data(), w.data(), &noScale, nullptr, 1.0f,
      BiasEpilogue<bf16_t, bf16_t, N>{gemv.data(), bias.data()}, kGemvRows);
  expectGemmClose(gemv, expected, magnitude, kGemvRows, N, "gemv");
}

/// The packed [gate | up] GEMM's f32 values, their magnitudes, and the
/// reference product act(gate) * up with its bound.
struct GatedReference {
  std::vector<float> packed, packedMagnitude, product, bound;
};

GatedReference gatedReference(std::vector<float> packed,
                              std::vector<float> packedMagnitude, int rows,
                              int columns, cpu::GatedActivation activation,
                              float outputUlp, float outputStep = 0.0f) {
  GatedReference r{std::move(packed), std::move(packedMagnitude), {}, {}};
  r.product.resize(static_cast<size_t>(rows) * columns);
  cpu::gatedActivation(
      cpu::constMatrix(r.packed.data(), cpu::DType::F32, rows, 2 * columns),
      activation,
      cpu::matrix(r.product.data(), cpu::DType::F32, rows, columns));
  r.bound.resize(r.product.size());
  for (int row = 0; row < rows; ++row)
    for (int c = 0; c < columns; ++c) {
      const size_t g = static_cast<size_t>(row) * 2 * columns + c;
      const size_t u = g + columns;
      r.bound[row * columns + c] =
          1.2e-5f * (r.packedMagnitude[g] * std::fabs(r.packed[u]) +
                     std::fabs(r.packed[g]) * r.packedMagnitude[u]) +
          outputUlp * std::fabs(r.product[row * columns + c]) + outputStep +
          1e-30f;
    }
  return r;
}

template <class Out>
void expectProductClose(const std::vector<Out> &actual,
                        const GatedReference &reference, int rows, int columns,
                        const char *what) {
  for (int i = 0; i < rows * columns; ++i)
    ASSERT_NEAR(toF32(actual[i]), reference.product[i], reference.bound[i])
        << what << " at row " << i / columns << ", column " << i % columns;
}

// linear_gated_activation over f32 weights: SiLU(gate) * up in the GEMM
// epilogue equals cpu::linearGatedActivation (the fused CPU kernel); the
// tile's gate and up halves and the GEMV's two weight rows both pair
// column j with j + I. I = 40 leaves a partial tile.
TEST(GemmKernels, LinearGatedActivationFloat) {
  constexpr int I = 40, K = 64;
  auto x = randomValues(kTileRows * K, 1.0f, 21);
  auto w = randomValues(2 * I * K, 0.2f, 22);
  std::vector<float> expected(kTileRows * I);
  std::vector<float> scratch;
  cpu::linearGatedActivation(
      cpu::constMatrix(x.data(), cpu::DType::F32, kTileRows, K),
      cpu::constMatrix(w.data(), cpu::DType::F32, 2 * I, K),
      cpu::GatedActivation::Silu,
      cpu::matrix(expected.data(), cpu::DType::F32, kTileRows, I), scratch,
      nullptr);
  GatedReference reference =
      gatedReference(scratch, magnitudes(x, w, kTileRows, 2 * I, K), kTileRows,
                     I, cpu::GatedActivation::Silu, 0.0f);
  const float noScale = 1.0f;
  using Epilogue = GatedEpilogue<float, signed char, I, kSilu, kNoQuant>;
  std::vector<float> tiles(kTileRows * I), gemv(kTileRows * I);
  runTiles<float, float, 2 * I, K, 0, false, false>(
      x.data(), w.data(), &noScale, nullptr, 1.0f,
      Epilogue{tiles.data(), nullptr, nullptr}, kTileRows);
  expectProductClose(tiles, reference, kTileRows, I, "tiles");
  runGemv<float, float, 2 * I, K, 0, false, false, 4>(
      x.data(), w.data(), &noScale, nullptr, 1.0f,
      Epilogue{gemv.data(), nullptr, nullptr}, kGemvRows);
  expectProductClose(gemv, reference, kGemvRows, I, "gemv");
  // The CPU fused kernel is the reference the product bound is built on.
  for (int i = 0; i < kTileRows * I; ++i)
    ASSERT_EQ(expected[i], reference.product[i]);
}

//===----------------------------------------------------------------------===//
// Gated epilogues with quantized products
//===----------------------------------------------------------------------===//

int8_t referenceInt8(float x, float scale) {
  float scaled = x / scale;
  if (std::isnan(scaled))
    return 0;
  return static_cast<int8_t>(
      std::min(127.0f, std::max(-128.0f, std::nearbyint(scaled))));
}

// linear_gated_activation_quantize over a w4a16 GEMM: GELU(gate) * up
// quantized to int8 with a static scale in the epilogue. The product (the
// same kernel with a float epilogue) is within the bound of the CPU's, and
// the codes are exactly the contract's quantization of it.
TEST(GemmKernels, GatedStaticInt8OverInt4Weights) {
  constexpr int I = 36, K = 128, G = 64;
  QuantWeight weight =
      makeWeight(cpu::QuantDType::I4, 2 * I, K, G, true, true, 31);
  auto x = stored<f16_t>(randomValues(kTileRows * K, 1.0f, 32));
  std::vector<float> packed(kTileRows * 2 * I);
  cpu::gemmWeightOnly(
      cpu::constMatrix(x.data(), cpu::DType::F16, kTileRows, K), weight.view(),
      weight.blockScales(), 1.0f,
      cpu::matrix(packed.data(), cpu::DType::F32, kTileRows, 2 * I), nullptr);
  GatedReference reference = gatedReference(
      packed, magnitudes(widened(x), weight.decoded(), kTileRows, 2 * I, K),
      kTileRows, I, cpu::GatedActivation::Gelu, 0.0f);
  const float scale = 0.01f;
  enum Entry { kSimtTiles, kMmaTiles, kGemv };
  for (Entry entry : {kSimtTiles, kMmaTiles, kGemv}) {
    int rows = entry == kSimtTiles  ? kTileRows
               : entry == kMmaTiles ? kMmaRows
                                    : kGemvRows;
    std::vector<float> product(kTileRows * I);
    std::vector<signed char> codes(kTileRows * I);
    auto run = [&](const auto &epilogue) {
      if (entry == kSimtTiles)
        runTiles<f16_t, i4x2_t, 2 * I, K, G, true, true>(
            x.data(), codesAs<i4x2_t>(weight), weight.scales.data(),
            zerosOf(weight), 1.0f, epilogue, rows);
      else if (entry == kMmaTiles)
        runMmaTiles<f16_t, i4x2_t, 2 * I, K, G, true, true>(
            x.data(), codesAs<i4x2_t>(weight), weight.scales.data(),
            zerosOf(weight), 1.0f, epilogue, rows);
      else
        runGemv<f16_t, i4x2_t, 2 * I, K, G, true, true, 4>(
            x.data(), codesAs<i4x2_t>(weight), weight.scales.data(),
            zerosOf(weight), 1.0f, epilogue, rows);
    };
    run(GatedEpilogue<float, signed char, I, kGeluErf, kNoQuant>{
        product.data(), nullptr, nullptr});
    run(GatedEpilogue<float, signed char, I, kGeluErf, kStaticScale>{
        nullptr, codes.data(), &scale});
    expectProductClose(product, reference, rows, I,
                       entry == kSimtTiles  ? "tiles"
                       : entry == kMmaTiles ? "mma tiles"
                                            : "gemv");
    for (int i = 0; i < rows * I; ++i)
      ASSERT_EQ(codes[i], referenceInt8(product[i], scale)) << "at " << i;
  }
}

/// The dynamic form's second stage over the product the GEMM left in
/// scratch: one block per row, as PlanKernels' "_quantize" entry.
template <class Product, class Quant, int I>
void quantizeStage(const std::vector<Product> &scratch, Quant *codes,
                   float *scales, int rows) {
  constexpr int kThreads = 32;
  launchOnHost(rows, kThreads, [&] {
    quantizeRows<Product, Quant, I, kThreads, kDynamicScale>(
        scratch.data(), nullptr, codes, scales, rows);
  });
}

// linear_gated_activation_quantize_dynamic over a W8A8 INT8 GEMM (dp4a and
// tensor-core tiles, GEMV): exact int32 sums and the CPU's scale order make the
// packed values, the bf16 product, the per-token scales and the e4m3 codes
// equal to the CPU engine's (gemmW8A8, gatedActivation, rounding to
// product_dtype, quantizeDynamic).
TEST(GemmKernels, GatedDynamicFp8OverInt8Gemm) {
  constexpr int I = 40, K = 64, N = 2 * I;
  auto a = randomCodes(kTileRows * K, -128, 127, 41);
  auto b = randomCodes(N * K, -128, 127, 42);
  auto scaleA = positiveScales(kTileRows, 43);
  auto scaleB = positiveScales(N, 44);
  std::vector<float> packed(kTileRows * N);
  cpu::gemmW8A8(cpu::quantMatrix(a.data(), cpu::QuantDType::I8, kTileRows, K),
                cpu::quantMatrix(b.data(), cpu::QuantDType::I8, N, K),
                cpu::BlockScales::perRow(scaleA.data()),
                cpu::BlockScales::perRow(scaleB.data()), 1.0f,
                cpu::matrix(packed.data(), cpu::DType::F32, kTileRows, N),
                nullptr);
  std::vector<float> product(kTileRows * I);
  cpu::gatedActivation(
      cpu::constMatrix(packed.data(), cpu::DType::F32, kTileRows, N),
      cpu::GatedActivation::Silu,
      cpu::matrix(product.data(), cpu::DType::F32, kTileRows, I));
  std::vector<bf16_t> expectedProduct = stored<bf16_t>(product);
  std::vector<unsigned char> expectedCodes(kTileRows * I);
  std::vector<float> expectedScales(kTileRows);
  cpu::quantizeDynamic(
      cpu::constMatrix(expectedProduct.data(), cpu::DType::BF16, kTileRows, I),
      expectedCodes.data(), cpu::QuantDType::F8E4M3FN, expectedScales.data());
  using Epilogue = GatedEpilogue<bf16_t, e4m3_t, I, kSilu, kDynamicScale>;
  enum Entry { kDp4aTiles, kMmaTiles, kGemv };
  for (Entry entry : {kDp4aTiles, kMmaTiles, kGemv}) {
    int rows = entry == kDp4aTiles  ? kTileRows
               : entry == kMmaTiles ? kMmaRows
                                    : kGemvRows;
    std::vector<bf16_t> scratch(kTileRows * I);
    Epilogue epilogue{scratch.data(), nullptr, nullptr};
    if (entry == kDp4aTiles)
      launchOnHost(
          dim3((N + 63) / 64, (rows + 63) / 64), kInt8GemmThreads, [&] {
            gemmInt8Tiles<N, K, true, true>(a.data(), b.data(), scaleA.data(),
                                            scaleB.data(), 1.0f, epilogue,
                                            rows);
          });
    else if (entry == kMmaTiles)
      launchOnHost(dim3((N + kInt8MmaTileN - 1) / kInt8MmaTileN,
                        (rows + kInt8MmaTileM - 1) / kInt8MmaTileM),
                   kInt8MmaWarps * kWarpSize, [&] {
                     gemmInt8TilesMma<N, K, true, true>(
                         a.data(), b.data(), scaleA.data(), scaleB.data(), 1.0f,
                         epilogue, rows);
                   });
    else
      launchOnHost((I + 3) / 4, 128, [&] {
        gemvInt8Rows<N, K, 128, true, true>(a.data(), b.data(), scaleA.data(),
                                            scaleB.data(), 1.0f, epilogue,
                                            rows);
      });
    std::vector<e4m3_t> codes(kTileRows * I);
    std::vector<float> scales(kTileRows);
    quantizeStage<bf16_t, e4m3_t, I>(scratch, codes.data(), scales.data(),
                                     rows);
    const char *what = entry == kDp4aTiles  ? "dp4a tiles"
                       : entry == kMmaTiles ? "mma tiles"
                                            : "gemv";
    for (int i = 0; i < rows * I; ++i) {
      ASSERT_EQ(scratch[i].bits, expectedProduct[i].bits) << what << " " << i;
      ASSERT_EQ(codes[i].bits, expectedCodes[i]) << what << " " << i;
    }
    for (int r = 0; r < rows; ++r)
      ASSERT_EQ(scales[r], expectedScales[r]) << what << " row " << r;
  }
}

// The FP8 tensor-core GEMM with a gated epilogue (n8 tiles 0, 1 = gate,
// 2, 3 = up of the same 16 columns), MMA emulated from the fragments:
// within the bound of the CPU's gemmW8A8 + gatedActivation; the int8
// product's dynamic codes are the CPU quantization of the kernel's product.
TEST(GemmKernels, GatedDynamicInt8OverFp8Gemm) {
  constexpr int I = 24, K = 64, N = 2 * I, M = 20;
  std::vector<e4m3_t> a(M * K), b(N * K);
  auto aValues = randomValues(a.size(), 2.0f, 51);
  auto bValues = randomValues(b.size(), 2.0f, 52);
  for (size_t i = 0; i < a.size(); ++i)
    a[i].bits =
        llmc::numeric::floatToFp8Saturate(aValues[i], Fp8Format::E4M3FN);
  for (size_t i = 0; i < b.size(); ++i)
    b[i].bits =
        llmc::numeric::floatToFp8Saturate(bValues[i], Fp8Format::E4M3FN);
  auto scaleA = positiveScales(M, 53);
  std::vector<float> scaleB = {0.25f};
  std::vector<float> packed(M * N);
  cpu::gemmW8A8(cpu::quantMatrix(a.data(), cpu::QuantDType::F8E4M3FN, M, K),
                cpu::quantMatrix(b.data(), cpu::QuantDType::F8E4M3FN, N, K),
                cpu::BlockScales::perRow(scaleA.data()),
                cpu::BlockScales::perTensor(scaleB.data()), 1.0f,
                cpu::matrix(packed.data(), cpu::DType::F32, M, N), nullptr);
  std::vector<float> magnitude = magnitudes(widened(a), widened(b), M, N, K);
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c)
      magnitude[r * N + c] *= scaleA[r] * scaleB[0];
  GatedReference reference =
      gatedReference(packed, magnitude, M, I, cpu::GatedActivation::Silu,
                     ulpOf<f16_t>(), subnormalStepOf<f16_t>());
  std::vector<f16_t> scratch(M * I);
  GatedEpilogue<f16_t, signed char, I, kSilu, kDynamicScale> epilogue{
      scratch.data(), nullptr, nullptr};
  launchOnHost(dim3((N + kFp8WarpTileN - 1) / kFp8WarpTileN,
                    (M + kFp8TileM - 1) / kFp8TileM),
               kFp8Warps * kWarpSize, [&] {
                 gemmFp8Tiles<N, K, true, false>(a.data(), b.data(),
                                                 scaleA.data(), scaleB.data(),
                                                 1.0f, epilogue, M);
               });
  expectProductClose(scratch, reference, M, I, "fp8 tiles");
  std::vector<signed char> codes(M * I);
  std::vector<float> scales(M);
  quantizeStage<f16_t, signed char, I>(scratch, codes.data(), scales.data(), M);
  std::vector<unsigned char> expectedCodes(M * I);
  std::vector<float> expectedScales(M);
  cpu::quantizeDynamic(cpu::constMatrix(scratch.data(), cpu::DType::F16, M, I),
                       expectedCodes.data(), cpu::QuantDType::I8,
                       expectedScales.data());
  for (int i = 0; i < M * I; ++i)
    ASSERT_EQ(static_cast<unsigned char>(codes[i]), expectedCodes[i])
        << "at " << i;
  for (int r = 0; r < M; ++r)
    ASSERT_EQ(scales[r], expectedScales[r]) << "row " << r;
}

// The INT8 dp4a tiles, tensor-core tiles (m16n8k32 s8, emulated) and GEMV
// accumulate into C (beta = 1) exactly as the CPU engine's W8A8 GEMM
// followed by accumulateProduct.
TEST(GemmKernels, Int8ResidualAccumulation) {
  constexpr int N = 72, K = 64;
  auto a = randomCodes(kTileRows * K, -128, 127, 61);
  auto b = randomCodes(N * K, -128, 127, 62);
  auto scaleA = positiveScales(kTileRows, 63);
  auto scaleB = positiveScales(N, 64);
  auto residual = randomValues(kTileRows * N, 1.0f, 65);
  std::vector<float> product(kTileRows * N);
  cpu::gemmW8A8(cpu::quantMatrix(a.data(), cpu::QuantDType::I8, kTileRows, K),
                cpu::quantMatrix(b.data(), cpu::QuantDType::I8, N, K),
                cpu::BlockScales::perRow(scaleA.data()),
                cpu::BlockScales::perRow(scaleB.data()), 0.5f,
                cpu::matrix(product.data(), cpu::DType::F32, kTileRows, N),
                nullptr);
  std::vector<float> expected = residual;
  cpu::accumulateProduct(
      product.data(), 1.0f,
      cpu::matrix(expected.data(), cpu::DType::F32, kTileRows, N));
  std::vector<float> tiles = residual, gemv = residual;
  launchOnHost(
      dim3((N + 63) / 64, (kTileRows + 63) / 64), kInt8GemmThreads, [&] {
        gemmInt8Tiles<N, K, true, true>(
            a.data(), b.data(), scaleA.data(), scaleB.data(), 0.5f,
            StoreEpilogue<float, N, true>{tiles.data(), 1.0f}, kTileRows);
      });
  EXPECT_EQ(tiles, expected);
  std::vector<float> mma = residual;
  launchOnHost(dim3((N + kInt8MmaTileN - 1) / kInt8MmaTileN,
                    (kMmaRows + kInt8MmaTileM - 1) / kInt8MmaTileM),
               kInt8MmaWarps * kWarpSize, [&] {
                 gemmInt8TilesMma<N, K, true, true>(
                     a.data(), b.data(), scaleA.data(), scaleB.data(), 0.5f,
                     StoreEpilogue<float, N, true>{mma.data(), 1.0f}, kMmaRows);
               });
  for (int i = 0; i < kTileRows * N; ++i)
    ASSERT_EQ(mma[i], i < kMmaRows * N ? expected[i] : residual[i])
        << "mma tiles at " << i;
  launchOnHost((N + 3) / 4, 128, [&] {
    gemvInt8Rows<N, K, 128, true, true>(
        a.data(), b.data(), scaleA.data(), scaleB.data(), 0.5f,
        StoreEpilogue<float, N, true>{gemv.data(), 1.0f}, kGemvRows);
  });
  for (int i = 0; i < kTileRows * N; ++i)
    ASSERT_EQ(gemv[i], i < kGemvRows * N ? expected[i] : residual[i])
        << "at " << i;
}

} // namespace
