//===- DecodedLinear.h - GEMV/GEMM over weights decoded block by block ----===//
//
// Internal to the CPU backend: the quantized GEMMs (Quantized.cpp) reuse
// Linear.cpp's f32 micro-kernels by decoding the weight into a per-thread
// f32 scratch one [rows, K chunk] block at a time, so a quantized weight is
// never materialized whole.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_BACKENDS_CPU_DECODEDLINEAR_H
#define LLMC_RUNTIME_BACKENDS_CPU_DECODEDLINEAR_H

#include "runtime/backends/cpu/ThreadPool.h"

#include <cstdint>

namespace llmc::cpu::detail {

/// A weight of [rows, cols] whose f32 values `decode` writes on demand:
/// dst[r * dstStride + c] = W[row0 + r][col0 + c] for r < numRows, c <
/// numCols.
struct DecodedWeight {
  int64_t rows = 0, cols = 0;
  const void *context = nullptr;
  void (*decode)(const void *context, int64_t row0, int64_t numRows,
                 int64_t col0, int64_t numCols, float *dst,
                 int64_t dstStride) = nullptr;
};

/// Receives the f32 dot products of activation row `row` with weight rows
/// [col0, col0 + count) and stores them (scaling, rounding) into the output.
struct DotEpilogue {
  const void *context = nullptr;
  void (*store)(const void *context, int64_t row, int64_t col0,
                const float *dots, int64_t count) = nullptr;
};

/// dots[m][n] = sum_k x[m][k] * W[n][k] for x contiguous [m, weight.cols]
/// f32, through the ISA's f32 micro-kernels, handed to `epilogue`.
void linearDecoded(const float *x, int64_t m, const DecodedWeight &weight,
                   const DotEpilogue &epilogue, ThreadPool *pool);

} // namespace llmc::cpu::detail

#endif // LLMC_RUNTIME_BACKENDS_CPU_DECODEDLINEAR_H
