//===- device_check_test.cpp - kernel image choice and --device parsing ---===//

#include "runtime/backends/cuda/DeviceCheck.h"

#include <gtest/gtest.h>

namespace llmc::cuda {
namespace {

GpuDescription gpu(const char *name, int major, int minor) {
  return {name, major, minor};
}

// "90a", "sm_80", "100a" parse; other spellings do not.
TEST(DeviceCheck, ParsesArchitectures) {
  SmVersion sm;
  ASSERT_TRUE(parseSm("90a", sm));
  EXPECT_EQ(sm.major, 9);
  EXPECT_EQ(sm.minor, 0);
  EXPECT_TRUE(sm.archSpecific);
  EXPECT_EQ(sm.name(), "sm_90a");
  ASSERT_TRUE(parseSm("sm_86", sm));
  EXPECT_EQ(sm.number(), 86);
  EXPECT_FALSE(sm.archSpecific);
  ASSERT_TRUE(parseSm("100a", sm));
  EXPECT_EQ(sm.major, 10);
  EXPECT_EQ(sm.minor, 0);
  EXPECT_FALSE(parseSm("", sm));
  EXPECT_FALSE(parseSm("9", sm));
  EXPECT_FALSE(parseSm("90x", sm));
  EXPECT_FALSE(parseSm("compute_90", sm));
}

// The artifact's own architecture loads the cubin, silently.
TEST(DeviceCheck, ExactMatchLoadsCubin) {
  KernelImageChoice c = chooseKernelImage(
      "h100", "90a", gpu("NVIDIA H100 80GB HBM3", 9, 0), true, true);
  EXPECT_EQ(c.image, KernelImage::Cubin);
  EXPECT_TRUE(c.message.empty());
}

// A later minor revision of the same major runs a plain cubin (CUDA's binary
// compatibility), but not an arch-specific one, which goes through PTX.
TEST(DeviceCheck, SameMajorNewerMinor) {
  EXPECT_EQ(
      chooseKernelImage("a100", "80", gpu("NVIDIA RTX A6000", 8, 6), true, true)
          .image,
      KernelImage::Cubin);
  KernelImageChoice c =
      chooseKernelImage("h100", "90a", gpu("NVIDIA Future", 9, 5), true, true);
  EXPECT_EQ(c.image, KernelImage::PtxJit);
}

// A newer GPU JIT-compiles the PTX, and the note says so and names both.
TEST(DeviceCheck, NewerGpuJitsPtx) {
  KernelImageChoice c =
      chooseKernelImage("h100", "90a", gpu("NVIDIA B200", 10, 0), true, true);
  EXPECT_EQ(c.image, KernelImage::PtxJit);
  EXPECT_NE(c.message.find("artifact targets h100 (sm_90a)"), std::string::npos)
      << c.message;
  EXPECT_NE(c.message.find("NVIDIA B200 (sm_100)"), std::string::npos);
  EXPECT_NE(c.message.find("JIT-compiles"), std::string::npos);
  EXPECT_NE(c.message.find("--target=b200"), std::string::npos);
}

// Without PTX a newer GPU is refused rather than failing inside the driver.
TEST(DeviceCheck, NewerGpuWithoutPtxIsRefused) {
  KernelImageChoice c = chooseKernelImage(
      "t4", "75", gpu("NVIDIA A100-SXM4-80GB", 8, 0), true, false);
  EXPECT_EQ(c.image, KernelImage::Refuse);
  EXPECT_NE(c.message.find("no PTX"), std::string::npos) << c.message;
}

// An older GPU is refused with both names, in the words.
TEST(DeviceCheck, OlderGpuIsRefused) {
  KernelImageChoice c =
      chooseKernelImage("h100", "90a", gpu("NVIDIA A100", 8, 0), true, true);
  EXPECT_EQ(c.image, KernelImage::Refuse);
  EXPECT_EQ(c.message, "artifact targets h100 (sm_90a); this GPU is NVIDIA "
                       "A100 (sm_80); recompile with llmc compile "
                       "--target=a100");
  // sm_89 (Ada, FP8) cannot run on sm_86 (Ampere) either.
  EXPECT_EQ(
      chooseKernelImage("rtx4090", "89", gpu("RTX 3090", 8, 6), true, true)
          .image,
      KernelImage::Refuse);
}

// A PTX-only artifact on its own architecture JITs (no cubin to load).
TEST(DeviceCheck, PtxOnlyModuleOnItsArchitecture) {
  EXPECT_EQ(
      chooseKernelImage("a100", "80", gpu("A100", 8, 0), false, true).image,
      KernelImage::PtxJit);
}

TEST(DeviceCheck, NonCudaSmIsRefused) {
  KernelImageChoice c =
      chooseKernelImage("cpu", "", gpu("NVIDIA H100", 9, 0), true, true);
  EXPECT_EQ(c.image, KernelImage::Refuse);
  EXPECT_NE(c.message.find("not a CUDA architecture"), std::string::npos);
}

// Hints name the compiler's target for a compute capability.
TEST(DeviceCheck, TargetOfComputeCapability) {
  EXPECT_EQ(targetForComputeCapability(9, 0), "h100");
  EXPECT_EQ(targetForComputeCapability(8, 0), "a100");
  EXPECT_EQ(targetForComputeCapability(8, 9), "rtx4090");
  EXPECT_EQ(targetForComputeCapability(7, 5), "t4");
  EXPECT_EQ(targetForComputeCapability(7, 0), ""); // v100: refused (CUDA 13)
  EXPECT_EQ(targetForComputeCapability(6, 1), "");
}

// --device values: cpu, cuda, cuda:N; anything else names the value.
TEST(DeviceCheck, ParsesDeviceSpecs) {
  DeviceSpec spec;
  std::string error;
  ASSERT_TRUE(parseDeviceSpec("cpu", spec, error));
  EXPECT_FALSE(spec.cuda);
  ASSERT_TRUE(parseDeviceSpec("cuda", spec, error));
  EXPECT_TRUE(spec.cuda);
  EXPECT_EQ(spec.index, 0);
  ASSERT_TRUE(parseDeviceSpec("cuda:3", spec, error));
  EXPECT_EQ(spec.index, 3);
  for (const char *bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CUDA", ""}) {
    EXPECT_FALSE(parseDeviceSpec(bad, spec, error)) << bad;
    EXPECT_NE(error.find(std::string("--device=") + bad), std::string::npos);
  }
}

} // namespace
} // namespace llmc::cuda
