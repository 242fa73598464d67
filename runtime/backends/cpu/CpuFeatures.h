//===- CpuFeatures.h - which vector ISA the CPU kernels use ---------------===//
//
// The build assumes only baseline x86-64 (or any other architecture): AVX2
// and AVX-512 paths are compiled with function target attributes and picked
// at run time from cpuid, because the machines that run the artifact are
// not the one that built it. LLMC_CPU_ISA=generic|avx2|avx512 in the
// environment (or setIsa, for tests) forces a lower level.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_BACKENDS_CPU_CPUFEATURES_H
#define LLMC_RUNTIME_BACKENDS_CPU_CPUFEATURES_H

namespace llmc::cpu {

enum class Isa {
  Generic, // portable C++ (auto-vectorized for the baseline)
  Avx2,    // AVX2 + FMA + F16C
  Avx512,  // AVX-512 F/BW/VL/DQ + FMA + F16C
};

const char *isaName(Isa isa);
/// The best level this CPU supports.
Isa detectedIsa();
/// The level kernels use now: detectedIsa(), lowered by LLMC_CPU_ISA.
Isa activeIsa();
/// Forces a level for the whole process (clamped to detectedIsa()); returns
/// the level now in use. Not thread-safe against running kernels.
Isa setIsa(Isa isa);
/// Whether AVX512_BF16 (VDPBF16PS) is there too.
bool hasAvx512Bf16();
/// Whether AVX512_VNNI (VPDPBUSD) is there too.
bool hasAvx512Vnni();
/// Whether the int8 GEMM uses VNNI now: the active level is AVX-512, the CPU
/// has VNNI and neither LLMC_CPU_VNNI=0 nor setAvx512VnniAllowed(false)
/// turned it off (so tests can run the AVX-512BW path on a VNNI machine).
bool useAvx512Vnni();
void setAvx512VnniAllowed(bool allowed);

} // namespace llmc::cpu

#endif // LLMC_RUNTIME_BACKENDS_CPU_CPUFEATURES_H
