//===- LaunchAbiPlan.h - a plan that runs the launch-ABI test kernel ------===//
//
// One `rope_kv_write` step (so that the plan has a KV cache of 4 layers)
// whose launch is test/gpu/LaunchAbiKernel.cu over [T, 32] token rows, with
// every kind of argument of the 1.1 ABI: two buffers, T, the batch, layer 3
// and scratch. Used on a GPU (test/gpu) and with the fake driver
// (fake_driver_test.cpp), which runs the same kernel on the host.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_UNIT_CUDA_BACKEND_LAUNCHABIPLAN_H
#define LLMC_TEST_UNIT_CUDA_BACKEND_LAUNCHABIPLAN_H

#include "CudaPlanArtifact.h"

namespace llmc::test {

constexpr int64_t kLaunchAbiColumns = 32;
constexpr int64_t kLaunchAbiLayer = 3;

/// `cubin` or `ptx` may be empty (a PTX-only or cubin-only module).
inline std::unique_ptr<loader::Artifact>
buildLaunchAbiPlan(const std::string &target, const std::string &sm,
                   std::vector<uint8_t> cubin, std::vector<uint8_t> ptx,
                   std::vector<float> &xValues, runtime::Status &status) {
  constexpr uint32_t kMaxTokens = 8;
  CudaPlanArtifact plan(kMaxTokens, true, target, sm);
  plan.tokenIds();
  CudaBufferSpec x =
      plan.buffer(0, {kMaxTokens, kLaunchAbiColumns}, fb::DType::F32,
                  4 * kMaxTokens * kLaunchAbiColumns, true);
  CudaBufferSpec y =
      plan.buffer(0, {kMaxTokens, kLaunchAbiColumns}, fb::DType::F32,
                  4 * kMaxTokens * kLaunchAbiColumns, true);
  xValues.resize(kMaxTokens * kLaunchAbiColumns);
  for (size_t i = 0; i < xValues.size(); ++i)
    xValues[i] = 0.25f * float(i % 17);
  plan.load("x", x, xValues.data(), 4 * xValues.size());
  uint32_t module = plan.kernelModule(std::move(cubin), std::move(ptx),
                                      {"llmcTestLaunchAbi"});
  CudaLaunchSpec launch;
  launch.kernel = plan.kernel("llmcTestLaunchAbi", module);
  launch.grid = {kMaxTokens, 1, 1};
  launch.block = {uint32_t(kLaunchAbiColumns), 1, 1};
  launch.args = {x, y};
  launch.gridTokenScale = {1, 1, 0, 0, 0, 0};
  launch.tokenArgs = {1};
  launch.extraArgs = {fb::LaunchArg::Batch, fb::LaunchArg::Layer,
                      fb::LaunchArg::Scratch};
  launch.layer = kLaunchAbiLayer;
  launch.scratchBytes = 4 * kMaxTokens * kLaunchAbiColumns;
  plan.compute("rope_kv_write", {x}, {y}, {launch},
               {{"layer", kLaunchAbiLayer},
                {"num_heads", 1},
                {"num_kv_heads", 1},
                {"head_dim", 8}});
  plan.setLogits(y);
  std::unique_ptr<loader::Artifact> artifact;
  status = plan.open(artifact, "launch.llmc");
  return artifact;
}

/// What the kernel writes for token row `row` of a call (the formula in
/// LaunchAbiKernel.cu).
inline float expectedLaunchAbi(const std::vector<float> &x, int64_t row,
                               int64_t column, int32_t position, int sequence,
                               int firstBlock) {
  return 2.0f * x[row * kLaunchAbiColumns + column] + float(position) +
         100.0f * sequence + 1000.0f * kLaunchAbiLayer +
         10000.0f * float(firstBlock + 1) + 100000.0f;
}

} // namespace llmc::test

#endif // LLMC_TEST_UNIT_CUDA_BACKEND_LAUNCHABIPLAN_H
