//===- Float8Exports.cpp - Float8.h behind a C ABI, for ml_dtypes checks --===//
//
// float8_vs_ml_dtypes.py loads this shared library with ctypes and compares
// llmc's FP8 conversions with ml_dtypes (an independent implementation) over
// arrays of f32 bit patterns, so the sweep runs at numpy speed.
//
//===----------------------------------------------------------------------===//

#include "runtime/support/Float8.h"

#include <cstddef>
#include <cstdint>

using llmc::numeric::Fp8Format;

namespace {
Fp8Format formatOf(int format) {
  return format == 0 ? Fp8Format::E4M3FN : Fp8Format::E5M2;
}
} // namespace

extern "C" {

/// codes[i] = floatToFp8(values[i]); format 0 = E4M3FN, 1 = E5M2.
void llmc_floats_to_fp8(const float *values, uint8_t *codes, size_t count,
                        int format, int saturate) {
  const Fp8Format fp8 = formatOf(format);
  for (size_t i = 0; i < count; ++i)
    codes[i] = llmc::numeric::floatToFp8(values[i], fp8, saturate != 0);
}

/// values[i] = fp8ToFloat(codes[i]).
void llmc_fp8_to_floats(const uint8_t *codes, float *values, size_t count,
                        int format) {
  const Fp8Format fp8 = formatOf(format);
  for (size_t i = 0; i < count; ++i)
    values[i] = llmc::numeric::fp8ToFloat(codes[i], fp8);
}

} // extern "C"
