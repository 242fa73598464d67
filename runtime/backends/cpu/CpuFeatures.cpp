//===- CpuFeatures.cpp - cpuid-based ISA selection ------------------------===//

#include "runtime/backends/cpu/CpuFeatures.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace llmc::cpu {

namespace {

Isa detect() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  // F16C has no __builtin_cpu_supports name in older compilers; every CPU
  // with AVX2 and FMA has it.
  if (avx2 && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return Isa::Avx512;
  if (avx2)
    return Isa::Avx2;
#endif
  return Isa::Generic;
}

Isa fromEnvironment(Isa detected) {
  const char *value = std::getenv("LLMC_CPU_ISA");
  if (!value)
    return detected;
  Isa wanted = detected;
  if (!std::strcmp(value, "generic"))
    wanted = Isa::Generic;
  else if (!std::strcmp(value, "avx2"))
    wanted = Isa::Avx2;
  else if (!std::strcmp(value, "avx512"))
    wanted = Isa::Avx512;
  return wanted < detected ? wanted : detected;
}

std::atomic<int> &activeLevel() {
  static std::atomic<int> level{static_cast<int>(fromEnvironment(detect()))};
  return level;
}

} // namespace

const char *isaName(Isa isa) {
  switch (isa) {
  case Isa::Generic:
    return "generic";
  case Isa::Avx2:
    return "avx2";
  case Isa::Avx512:
    return "avx512";
  }
  return "?";
}

Isa detectedIsa() {
  static const Isa detected = detect();
  return detected;
}

Isa activeIsa() {
  return static_cast<Isa>(activeLevel().load(std::memory_order_relaxed));
}

Isa setIsa(Isa isa) {
  Isa level = isa < detectedIsa() ? isa : detectedIsa();
  activeLevel().store(static_cast<int>(level), std::memory_order_relaxed);
  return level;
}

bool hasAvx512Bf16() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool has =
      detectedIsa() == Isa::Avx512 && __builtin_cpu_supports("avx512bf16");
  return has;
#else
  return false;
#endif
}

bool hasAvx512Vnni() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool has =
      detectedIsa() == Isa::Avx512 && __builtin_cpu_supports("avx512vnni");
  return has;
#else
  return false;
#endif
}

namespace {
std::atomic<bool> &vnniAllowed() {
  static std::atomic<bool> allowed{[] {
    const char *value = std::getenv("LLMC_CPU_VNNI");
    return !(value && !std::strcmp(value, "0"));
  }()};
  return allowed;
}
} // namespace

bool useAvx512Vnni() {
  return activeIsa() == Isa::Avx512 && hasAvx512Vnni() &&
         vnniAllowed().load(std::memory_order_relaxed);
}

void setAvx512VnniAllowed(bool allowed) {
  vnniAllowed().store(allowed, std::memory_order_relaxed);
}

} // namespace llmc::cpu
