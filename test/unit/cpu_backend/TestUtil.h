//===- TestUtil.h - goldens, ISA levels and tolerances for CPU tests ------===//

#ifndef LLMC_TEST_UNIT_CPU_BACKEND_TESTUTIL_H
#define LLMC_TEST_UNIT_CPU_BACKEND_TESTUTIL_H

#include "runtime/backends/cpu/CpuFeatures.h"
#include "test/unit/cpu_backend/Npy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace llmc::test {

inline NpyArray golden(const std::string &name) {
  NpyArray array;
  std::string error;
  if (!loadNpy(std::string(LLMC_CPU_TEST_DATA) + "/" + name + ".npy", array,
               error))
    ADD_FAILURE() << error << " (run make_goldens.py)";
  return array;
}

inline std::vector<float> goldenF32(const std::string &name) {
  return golden(name).as<float>();
}

/// Every ISA level this machine can run, lowest first; tests run each.
inline std::vector<cpu::Isa> availableIsas() {
  std::vector<cpu::Isa> isas = {cpu::Isa::Generic};
  if (cpu::detectedIsa() >= cpu::Isa::Avx2)
    isas.push_back(cpu::Isa::Avx2);
  if (cpu::detectedIsa() >= cpu::Isa::Avx512)
    isas.push_back(cpu::Isa::Avx512);
  return isas;
}

/// Restores the detected ISA when a test that forced one ends.
struct IsaScope {
  explicit IsaScope(cpu::Isa isa) { cpu::setIsa(isa); }
  ~IsaScope() { cpu::setIsa(cpu::detectedIsa()); }
};

/// Expects |actual - expected| <= abs + rel * |expected| elementwise.
inline void expectClose(const std::vector<float> &actual,
                        const std::vector<float> &expected, double abs,
                        double rel, const std::string &what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  int failures = 0;
  for (size_t i = 0; i < actual.size() && failures < 5; ++i) {
    double bound = abs + rel * std::fabs(expected[i]);
    if (!(std::fabs(actual[i] - expected[i]) <= bound)) {
      ADD_FAILURE() << what << ": element " << i << " is " << actual[i]
                    << ", expected " << expected[i] << " (bound " << bound
                    << ")";
      ++failures;
    }
  }
}

} // namespace llmc::test

#endif // LLMC_TEST_UNIT_CPU_BACKEND_TESTUTIL_H
