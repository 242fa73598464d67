//===- GemmPlan.h - one-GEMM plans for CUDA-vs-CPU comparisons ------------===//
//
// x [T, K] (loaded data) times W [N, K]^T into logits [T, N], with alpha
// 0.75, optional beta (C preloaded) and optional scales; built as a GPU
// artifact (cuBLASLt) or as the CPU reference of the same numbers. Used on a
// GPU (test/gpu) and with the fake driver and cuBLASLt (fake_driver_test.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_UNIT_CUDA_BACKEND_GEMMPLAN_H
#define LLMC_TEST_UNIT_CUDA_BACKEND_GEMMPLAN_H

#include "CudaPlanArtifact.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace llmc::test {

/// A one-GEMM plan, x [T, K] (loaded data) x W [N, K]^T -> logits [T, N].
struct GemmCase {
  fb::DType a = fb::DType::F32, b = fb::DType::F32, c = fb::DType::F32;
  bool scales = false, perRowScaleA = false;
  float beta = 0;
  int64_t k = 64, n = 48;
};

inline size_t bytesOf(fb::DType type) {
  return type == fb::DType::F32                              ? 4
         : type == fb::DType::F16 || type == fb::DType::BF16 ? 2
                                                             : 1;
}

inline std::vector<uint8_t> randomElements(fb::DType type, size_t count,
                                           std::mt19937 &rng) {
  std::vector<uint8_t> bytes(count * bytesOf(type));
  std::uniform_real_distribution<float> real(-1.0f, 1.0f);
  for (size_t i = 0; i < count; ++i) {
    float v = real(rng);
    switch (type) {
    case fb::DType::F32:
      std::memcpy(&bytes[4 * i], &v, 4);
      break;
    case fb::DType::BF16: {
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      uint16_t half = static_cast<uint16_t>(bits >> 16); // exact enough: data
      std::memcpy(&bytes[2 * i], &half, 2);
      break;
    }
    case fb::DType::I8:
      bytes[i] =
          static_cast<uint8_t>(static_cast<int8_t>(std::lround(v * 127)));
      break;
    case fb::DType::F8E4M3: {
      // Any code but NaN (0x7f / 0xff).
      uint8_t code = static_cast<uint8_t>(rng() & 0xff);
      bytes[i] = (code & 0x7f) == 0x7f ? 0x38 : code;
      break;
    }
    default:
      ADD_FAILURE() << "no generator for this type";
    }
  }
  return bytes;
}

inline std::unique_ptr<loader::Artifact>
buildGemmPlan(const GemmCase &g, bool gpu, const std::string &target,
              const std::string &sm) {
  constexpr uint32_t kMaxTokens = 8;
  CudaPlanArtifact plan(kMaxTokens, gpu, target, sm);
  plan.tokenIds();
  std::mt19937 rng(42);
  CudaBufferSpec x = plan.buffer(0, {kMaxTokens, g.k}, g.a,
                                 kMaxTokens * g.k * bytesOf(g.a), true);
  CudaBufferSpec w =
      plan.buffer(1, {g.n, g.k}, g.b, g.n * g.k * bytesOf(g.b), false);
  CudaBufferSpec logits = plan.buffer(0, {kMaxTokens, g.n}, g.c,
                                      kMaxTokens * g.n * bytesOf(g.c), true);
  std::vector<uint8_t> xs = randomElements(g.a, kMaxTokens * g.k, rng);
  std::vector<uint8_t> ws = randomElements(g.b, g.n * g.k, rng);
  plan.load("x", x, xs.data(), xs.size());
  plan.load("w", w, ws.data(), ws.size());
  if (g.beta != 0) {
    std::vector<uint8_t> cs = randomElements(g.c, kMaxTokens * g.n, rng);
    plan.load("c", logits, cs.data(), cs.size());
  }
  CudaPlanArtifact::GemmOperands operands{x, w, logits};
  operands.beta = g.beta;
  operands.alpha = 0.75f;
  if (g.scales) {
    CudaBufferSpec sa = g.perRowScaleA
                            ? plan.buffer(0, {kMaxTokens, 1}, fb::DType::F32,
                                          4 * kMaxTokens, true)
                            : plan.buffer(1, {}, fb::DType::F32, 4, false);
    CudaBufferSpec sb =
        plan.buffer(1, {g.n, 1}, fb::DType::F32, 4 * g.n, false);
    if (!g.perRowScaleA)
      sb = plan.buffer(1, {}, fb::DType::F32, 4, false);
    std::vector<float> saValues(g.perRowScaleA ? kMaxTokens : 1),
        sbValues(g.perRowScaleA ? g.n : 1);
    for (float &v : saValues)
      v = 0.01f + 0.001f * float(rng() % 100);
    for (float &v : sbValues)
      v = 0.02f + 0.001f * float(rng() % 100);
    plan.load("scale_a", sa, saValues.data(), 4 * saValues.size());
    plan.load("scale_b", sb, sbValues.data(), 4 * sbValues.size());
    operands.scaleA = sa;
    operands.scaleB = sb;
  }
  plan.gemm(operands);
  plan.setLogits(logits);
  std::unique_ptr<loader::Artifact> artifact;
  runtime::Status s = plan.open(artifact, gpu ? "gpu.llmc" : "cpu.llmc");
  EXPECT_TRUE(s.ok()) << s.message();
  return artifact;
}

} // namespace llmc::test

#endif // LLMC_TEST_UNIT_CUDA_BACKEND_GEMMPLAN_H
