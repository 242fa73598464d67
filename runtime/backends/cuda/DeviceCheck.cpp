//===- DeviceCheck.cpp - kernel image choice and --device parsing ---------===//

#include "runtime/backends/cuda/DeviceCheck.h"

#include "compiler/targets/Target.h"

#include <cctype>
#include <cstdlib>

namespace llmc::cuda {

using ::llmc::allTargets;
using ::llmc::Target;

std::string SmVersion::name() const {
  return "sm_" + std::to_string(number()) + (archSpecific ? "a" : "");
}

bool parseSm(const std::string &text, SmVersion &out) {
  std::string s = text.rfind("sm_", 0) == 0 ? text.substr(3) : text;
  size_t digits = 0;
  while (digits < s.size() &&
         std::isdigit(static_cast<unsigned char>(s[digits])))
    ++digits;
  if (digits < 2 || digits > 3)
    return false;
  std::string suffix = s.substr(digits);
  if (!suffix.empty() && suffix != "a" && suffix != "f")
    return false;
  int number = std::atoi(s.substr(0, digits).c_str());
  out.major = number / 10;
  out.minor = number % 10;
  out.archSpecific = !suffix.empty();
  return true;
}

std::string targetForComputeCapability(int major, int minor) {
  // The compiler's target table (plain C++, shared with the runtime): the
  // first usable target of that compute capability.
  for (const Target &target : allTargets()) {
    SmVersion sm;
    if (target.isGpu() && !target.isRefused() && parseSm(target.sm, sm) &&
        sm.major == major && sm.minor == minor)
      return target.name;
  }
  return "";
}

KernelImageChoice chooseKernelImage(const std::string &targetName,
                                    const std::string &artifactSm,
                                    const GpuDescription &gpu, bool hasCubin,
                                    bool hasPtx) {
  KernelImageChoice choice;
  const std::string gpuText =
      gpu.name + " (sm_" + std::to_string(gpu.major * 10 + gpu.minor) + ")";
  SmVersion sm;
  if (!parseSm(artifactSm, sm)) {
    choice.message = "artifact targets " + targetName + " (sm '" + artifactSm +
                     "'), which is not a CUDA architecture; this GPU is " +
                     gpuText;
    return choice;
  }
  const std::string artifactText =
      "artifact targets " + targetName + " (" + sm.name() + ")";
  const int gpuNumber = gpu.major * 10 + gpu.minor;
  const std::string own = targetForComputeCapability(gpu.major, gpu.minor);
  const std::string recompile =
      "; recompile with llmc compile --target=" +
      (own.empty() ? std::string("<this GPU's target>") : own);

  const bool exact = gpuNumber == sm.number();
  // CUDA runs a cubin on later minor revisions of its major, except
  // arch-specific ones ("a"), which run on exactly their architecture.
  const bool cubinRuns = exact || (!sm.archSpecific && gpu.major == sm.major &&
                                   gpu.minor > sm.minor);
  if (cubinRuns && hasCubin) {
    choice.image = KernelImage::Cubin;
    return choice;
  }
  if (gpuNumber > sm.number() || (exact && !hasCubin)) {
    if (!hasPtx) {
      choice.message = artifactText + "; this GPU is " + gpuText +
                       " and the artifact keeps no PTX to JIT-compile for it" +
                       recompile;
      return choice;
    }
    choice.image = KernelImage::PtxJit;
    choice.message =
        artifactText + "; this GPU is " + gpuText +
        (exact ? ": the artifact has no cubin, the driver JIT-compiles its PTX"
               : ", newer: the driver JIT-compiles the artifact's PTX (slower "
                 "first load; " +
                     (own.empty() ? std::string("recompile for this GPU")
                                  : "llmc compile --target=" + own) +
                     " for a tuned build)");
    return choice;
  }
  choice.message = artifactText + "; this GPU is " + gpuText + recompile;
  return choice;
}

bool parseDeviceSpec(const std::string &text, DeviceSpec &out,
                     std::string &error) {
  out = DeviceSpec();
  if (text == "cpu")
    return true;
  if (text == "cuda") {
    out.cuda = true;
    return true;
  }
  if (text.rfind("cuda:", 0) == 0) {
    std::string number = text.substr(5);
    bool digits = !number.empty() && number.size() <= 4;
    for (char c : number)
      digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (digits) {
      out.cuda = true;
      out.index = std::atoi(number.c_str());
      return true;
    }
  }
  error = "--device=" + text +
          ": expected cpu, cuda or cuda:N (N a CUDA device number)";
  return false;
}

} // namespace llmc::cuda
