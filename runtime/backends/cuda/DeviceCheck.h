//===- DeviceCheck.h - may this GPU run this artifact's kernels, and how --===//
//
// Pure decisions the CUDA backend makes at load, kept free of the driver so
// that they are unit-tested on machines without a GPU:
//  - which form of a kernel module to load: the cubin when the GPU runs it
//    (the artifact's exact architecture, or a later minor revision of the
//    same major for a non-arch-specific cubin, which CUDA guarantees binary
//    compatible), the PTX for the driver to JIT on a newer GPU, else refuse
//    naming both ("artifact targets h100 (sm_90a); this GPU is NVIDIA A100
//    (sm_80)");
//  - parsing `--device=cuda[:N]`.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_BACKENDS_CUDA_DEVICECHECK_H
#define LLMC_RUNTIME_BACKENDS_CUDA_DEVICECHECK_H

#include <string>

namespace llmc::cuda {

/// A compute capability as the artifact spells it after "sm_": "90a" is
/// {9, 0, archSpecific}.
struct SmVersion {
  int major = 0;
  int minor = 0;
  /// "a" (or "f") suffix: arch-specific instructions (wgmma, ...); such a
  /// cubin or PTX runs only on exactly that architecture.
  bool archSpecific = false;

  int number() const { return major * 10 + minor; }
  /// "sm_90a".
  std::string name() const;
};

/// Parses "90a", "89", "100a", "sm_80"; false for anything else.
bool parseSm(const std::string &text, SmVersion &out);

/// The GPU a check is made for.
struct GpuDescription {
  std::string name; // "NVIDIA H100 80GB HBM3"
  int major = 0;    // compute capability
  int minor = 0;
};

enum class KernelImage { Cubin, PtxJit, Refuse };

struct KernelImageChoice {
  KernelImage image = KernelImage::Refuse;
  /// For PtxJit a note for the user ("... JIT-compiling its PTX"); for
  /// Refuse the error. Empty for a cubin.
  std::string message;
};

/// Chooses how the artifact's kernels (compiled for `artifactSm` of target
/// `targetName`) run on `gpu`; `hasCubin` / `hasPtx` say which forms the
/// artifact's modules carry (a module without launches needs neither: pass
/// true for both).
KernelImageChoice chooseKernelImage(const std::string &targetName,
                                    const std::string &artifactSm,
                                    const GpuDescription &gpu, bool hasCubin,
                                    bool hasPtx);

/// The llmc target of a compute capability (compiler/targets, the first
/// usable one: "a100" for 8.0, "h100" for 9.0), for hints;
/// empty when there is none.
std::string targetForComputeCapability(int major, int minor);

/// `--device` values: "cpu", "cuda", "cuda:N".
struct DeviceSpec {
  bool cuda = false;
  int index = 0;
};
/// False with a message for anything else ("--device=cuda:x: expected cpu,
/// cuda or cuda:N with N a device number").
bool parseDeviceSpec(const std::string &text, DeviceSpec &out,
                     std::string &error);

} // namespace llmc::cuda

#endif // LLMC_RUNTIME_BACKENDS_CUDA_DEVICECHECK_H
