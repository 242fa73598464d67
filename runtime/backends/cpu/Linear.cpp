//===- Linear.cpp - llm.linear and llm.matmul: GEMV and blocked GEMM ------===//
//
// Both are written as dot products of activation rows with weight rows
// ([out, in] layout), computed by a small register-tiled micro-kernel:
// RX activation rows times RW weight rows, each output a vector accumulator
// reduced once at the end. Weights are widened to f32 in registers
// (bf16 by a shift, f16 by F16C), so the math is f32 FMA whatever the
// storage type and the weight bytes are read exactly once.
//
// Decode (one row) is memory-bound: threads split the weight's rows into
// contiguous ranges and stream them, 8 rows at a time so 8 independent FMA
// chains hide latency. Prefill (many rows) walks weight blocks of kBlockRows
// rows in K chunks, so a chunk stays in L2 while every activation tile
// passes over it.
//
//===----------------------------------------------------------------------===//

#include "runtime/backends/cpu/CpuFeatures.h"
#include "runtime/backends/cpu/DecodedLinear.h"
#include "runtime/backends/cpu/Kernels.h"

#include <algorithm>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#define LLMC_X86 1
#endif

namespace llmc::cpu {
namespace {

// acc[i * accStride + j] += dot(x row i, w row j) over k elements, for
// rx <= 4 activation rows (f32, xStride apart) and rw <= 8 weight rows
// (wStride elements apart, storage type WT).
using TileFn = void (*)(int rx, int rw, const float *x, int64_t xStride,
                        const void *w, int64_t wStride, int64_t k, float *acc,
                        int64_t accStride);

//===----------------------------------------------------------------------===//
// Portable micro-kernel
//===----------------------------------------------------------------------===//

template <DType WT> inline float loadWeight(const void *w, int64_t i) {
  if constexpr (WT == DType::F32)
    return static_cast<const float *>(w)[i];
  else if constexpr (WT == DType::BF16)
    return bf16ToF32(static_cast<const uint16_t *>(w)[i]);
  else
    return f16ToF32(static_cast<const uint16_t *>(w)[i]);
}

template <DType WT>
void tileGeneric(int rx, int rw, const float *x, int64_t xStride, const void *w,
                 int64_t wStride, int64_t k, float *acc, int64_t accStride) {
  // Eight lanes per output: the compiler vectorizes the lane loop without
  // reassociating, so the result does not depend on compiler flags.
  constexpr int kLanes = 8;
  const size_t wBytes = dtypeBytes(WT);
  for (int j = 0; j < rw; ++j) {
    const void *wRow = static_cast<const uint8_t *>(w) + j * wStride * wBytes;
    for (int i = 0; i < rx; ++i) {
      const float *xRow = x + i * xStride;
      float lanes[kLanes] = {};
      int64_t kk = 0;
      for (; kk + kLanes <= k; kk += kLanes)
        for (int l = 0; l < kLanes; ++l)
          lanes[l] += xRow[kk + l] * loadWeight<WT>(wRow, kk + l);
      float sum = 0.0f;
      for (; kk < k; ++kk)
        sum += xRow[kk] * loadWeight<WT>(wRow, kk);
      for (int l = 0; l < kLanes; ++l)
        sum += lanes[l];
      acc[i * accStride + j] += sum;
    }
  }
}

#ifdef LLMC_X86
//===----------------------------------------------------------------------===//
// AVX2 + FMA + F16C micro-kernel
//===----------------------------------------------------------------------===//

#define LLMC_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))

template <DType WT>
LLMC_TARGET_AVX2 inline __m256 loadWeight8(const void *w, int64_t i) {
  if constexpr (WT == DType::F32) {
    return _mm256_loadu_ps(static_cast<const float *>(w) + i);
  } else {
    __m128i half = _mm_loadu_si128(reinterpret_cast<const __m128i *>(
        static_cast<const uint16_t *>(w) + i));
    if constexpr (WT == DType::BF16)
      return _mm256_castsi256_ps(
          _mm256_slli_epi32(_mm256_cvtepu16_epi32(half), 16));
    else
      return _mm256_cvtph_ps(half);
  }
}

LLMC_TARGET_AVX2 inline float reduce8(__m256 v) {
  __m128 sum =
      _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
  return _mm_cvtss_f32(sum);
}

template <DType WT, int RX, int RW>
LLMC_TARGET_AVX2 void tileAvx2Fixed(const float *x, int64_t xStride,
                                    const void *w, int64_t wStride, int64_t k,
                                    float *acc, int64_t accStride) {
  const size_t wBytes = dtypeBytes(WT);
  const void *wRows[RW];
  for (int j = 0; j < RW; ++j)
    wRows[j] = static_cast<const uint8_t *>(w) + j * wStride * wBytes;
  __m256 sums[RX][RW];
  for (int i = 0; i < RX; ++i)
    for (int j = 0; j < RW; ++j)
      sums[i][j] = _mm256_setzero_ps();
  int64_t kk = 0;
  for (; kk + 8 <= k; kk += 8) {
    __m256 xv[RX];
    for (int i = 0; i < RX; ++i)
      xv[i] = _mm256_loadu_ps(x + i * xStride + kk);
    for (int j = 0; j < RW; ++j) {
      __m256 wv = loadWeight8<WT>(wRows[j], kk);
      for (int i = 0; i < RX; ++i)
        sums[i][j] = _mm256_fmadd_ps(xv[i], wv, sums[i][j]);
    }
  }
  for (int i = 0; i < RX; ++i)
    for (int j = 0; j < RW; ++j) {
      float tail = 0.0f;
      for (int64_t t = kk; t < k; ++t)
        tail += x[i * xStride + t] * loadWeight<WT>(wRows[j], t);
      acc[i * accStride + j] += reduce8(sums[i][j]) + tail;
    }
}

template <DType WT>
LLMC_TARGET_AVX2 void tileAvx2(int rx, int rw, const float *x, int64_t xStride,
                               const void *w, int64_t wStride, int64_t k,
                               float *acc, int64_t accStride) {
  if (rx == 1 && rw == 8)
    return tileAvx2Fixed<WT, 1, 8>(x, xStride, w, wStride, k, acc, accStride);
  if (rx == 2 && rw == 4)
    return tileAvx2Fixed<WT, 2, 4>(x, xStride, w, wStride, k, acc, accStride);
  // Edges: one output at a time.
  const size_t wBytes = dtypeBytes(WT);
  for (int i = 0; i < rx; ++i)
    for (int j = 0; j < rw; ++j)
      tileAvx2Fixed<WT, 1, 1>(x + i * xStride, xStride,
                              static_cast<const uint8_t *>(w) +
                                  j * wStride * wBytes,
                              wStride, k, acc + i * accStride + j, accStride);
}

//===----------------------------------------------------------------------===//
// AVX-512 micro-kernel
//===----------------------------------------------------------------------===//

#define LLMC_TARGET_AVX512                                                     \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))

template <DType WT>
LLMC_TARGET_AVX512 inline __m512 loadWeight16(const void *w, int64_t i,
                                              __mmask16 mask) {
  if constexpr (WT == DType::F32) {
    return _mm512_maskz_loadu_ps(mask, static_cast<const float *>(w) + i);
  } else {
    __m256i half =
        _mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t *>(w) + i);
    if constexpr (WT == DType::BF16)
      return _mm512_castsi512_ps(
          _mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 16));
    else
      return _mm512_cvtph_ps(half);
  }
}

template <DType WT, int RX, int RW>
LLMC_TARGET_AVX512 void
tileAvx512Fixed(const float *x, int64_t xStride, const void *w, int64_t wStride,
                int64_t k, float *acc, int64_t accStride) {
  const size_t wBytes = dtypeBytes(WT);
  const void *wRows[RW];
  for (int j = 0; j < RW; ++j)
    wRows[j] = static_cast<const uint8_t *>(w) + j * wStride * wBytes;
  __m512 sums[RX][RW];
  for (int i = 0; i < RX; ++i)
    for (int j = 0; j < RW; ++j)
      sums[i][j] = _mm512_setzero_ps();
  // Full vectors without masks; the masked tail (k % 16) runs once.
  auto step = [&](int64_t kk, __mmask16 mask) LLMC_TARGET_AVX512 {
    __m512 xv[RX];
    for (int i = 0; i < RX; ++i)
      xv[i] = _mm512_maskz_loadu_ps(mask, x + i * xStride + kk);
    for (int j = 0; j < RW; ++j) {
      __m512 wv = loadWeight16<WT>(wRows[j], kk, mask);
      for (int i = 0; i < RX; ++i)
        sums[i][j] = _mm512_fmadd_ps(xv[i], wv, sums[i][j]);
    }
  };
  int64_t kk = 0;
  for (; kk + 16 <= k; kk += 16)
    step(kk, static_cast<__mmask16>(0xffff));
  if (kk < k)
    step(kk, static_cast<__mmask16>((1u << (k - kk)) - 1));
  for (int i = 0; i < RX; ++i)
    for (int j = 0; j < RW; ++j)
      acc[i * accStride + j] += _mm512_reduce_add_ps(sums[i][j]);
}

template <DType WT>
LLMC_TARGET_AVX512 void
tileAvx512(int rx, int rw, const float *x, int64_t xStride, const void *w,
           int64_t wStride, int64_t k, float *acc, int64_t accStride) {
  if (rx == 1 && rw == 8)
    return tileAvx512Fixed<WT, 1, 8>(x, xStride, w, wStride, k, acc, accStride);
  if (rx == 4 && rw == 4)
    return tileAvx512Fixed<WT, 4, 4>(x, xStride, w, wStride, k, acc, accStride);
  const size_t wBytes = dtypeBytes(WT);
  for (int i = 0; i < rx; ++i)
    for (int j = 0; j < rw; ++j)
      tileAvx512Fixed<WT, 1, 1>(x + i * xStride, xStride,
                                static_cast<const uint8_t *>(w) +
                                    j * wStride * wBytes,
                                wStride, k, acc + i * accStride + j, accStride);
}
#endif // LLMC_X86

struct TileKernel {
  TileFn fn;
  int gemvRows;  // weight rows per GEMV step
  int gemmXRows; // activation rows per GEMM tile
  int gemmWRows; // weight rows per GEMM tile
};

template <DType WT> TileKernel selectTile() {
#ifdef LLMC_X86
  switch (activeIsa()) {
  case Isa::Avx512:
    return {&tileAvx512<WT>, 8, 4, 4};
  case Isa::Avx2:
    return {&tileAvx2<WT>, 8, 2, 4};
  case Isa::Generic:
    break;
  }
#endif
  return {&tileGeneric<WT>, 4, 2, 4};
}

TileKernel selectTile(DType weightDType) {
  switch (weightDType) {
  case DType::F32:
    return selectTile<DType::F32>();
  case DType::F16:
    return selectTile<DType::F16>();
  case DType::BF16:
    return selectTile<DType::BF16>();
  }
  return selectTile<DType::F32>();
}

// Activation rows as contiguous f32 (the micro-kernels read f32 x).
const float *activationsAsF32(const ConstMatrixView &input,
                              std::vector<float> &scratch) {
  if (input.dtype == DType::F32 && input.rowStride == input.cols)
    return static_cast<const float *>(input.data);
  scratch.resize(static_cast<size_t>(input.rows * input.cols));
  const size_t bytes = dtypeBytes(input.dtype);
  for (int64_t r = 0; r < input.rows; ++r)
    convertToF32(static_cast<const uint8_t *>(input.data) +
                     r * input.rowStride * bytes,
                 input.dtype, scratch.data() + r * input.cols, input.cols);
  return scratch.data();
}

void storeRow(const float *values, int64_t count, const void *bias,
              DType biasDType, int64_t biasOffset, void *out, DType outDType,
              int64_t outOffset) {
  for (int64_t j = 0; j < count; ++j) {
    float value = values[j];
    if (bias)
      value += loadAsF32(bias, biasDType, biasOffset + j);
    storeFromF32(out, outDType, outOffset + j, value);
  }
}

// Rows of the weight per GEMM block and the K chunk: a bf16 chunk of
// 64 x 512 is 64 KiB, which stays in L2 while activation tiles stream by.
constexpr int64_t kBlockRows = 64;
constexpr int64_t kChunkK = 512;

void gemv(const float *x, const ConstMatrixView &weight, const void *bias,
          DType biasDType, const MatrixView &output, ThreadPool *pool,
          const TileKernel &tile) {
  const int64_t n = weight.rows, k = weight.cols;
  const size_t wBytes = dtypeBytes(weight.dtype);
  auto body = [&](int64_t begin, int64_t end, int) {
    float sums[8];
    for (int64_t row = begin; row < end; row += tile.gemvRows) {
      int rw = static_cast<int>(std::min<int64_t>(tile.gemvRows, end - row));
      std::fill(sums, sums + rw, 0.0f);
      tile.fn(1, rw, x, k,
              static_cast<const uint8_t *>(weight.data) +
                  row * weight.rowStride * wBytes,
              weight.rowStride, k, sums, 0);
      storeRow(sums, rw, bias, biasDType, row, output.data, output.dtype, row);
    }
  };
  if (pool && pool->numThreads() > 1 && n >= 64) {
    // Contiguous ranges aligned to the GEMV step, one per thread.
    int64_t steps = (n + tile.gemvRows - 1) / tile.gemvRows;
    pool->parallelFor(steps, 0, [&](int64_t begin, int64_t end, int thread) {
      body(begin * tile.gemvRows, std::min(n, end * tile.gemvRows), thread);
    });
  } else {
    body(0, n, 0);
  }
}

void gemm(const float *x, int64_t m, const ConstMatrixView &weight,
          const void *bias, DType biasDType, const MatrixView &output,
          ThreadPool *pool, const TileKernel &tile) {
  const int64_t n = weight.rows, k = weight.cols;
  const size_t wBytes = dtypeBytes(weight.dtype);
  const size_t outBytes = dtypeBytes(output.dtype);
  const int64_t numBlocks = (n + kBlockRows - 1) / kBlockRows;
  auto body = [&](int64_t blockBegin, int64_t blockEnd, int) {
    std::vector<float> acc(static_cast<size_t>(m * kBlockRows));
    for (int64_t block = blockBegin; block < blockEnd; ++block) {
      const int64_t row0 = block * kBlockRows;
      const int64_t rows = std::min(kBlockRows, n - row0);
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t k0 = 0; k0 < k; k0 += kChunkK) {
        const int64_t kc = std::min(kChunkK, k - k0);
        for (int64_t i = 0; i < m; i += tile.gemmXRows) {
          int rx = static_cast<int>(std::min<int64_t>(tile.gemmXRows, m - i));
          for (int64_t j = 0; j < rows; j += tile.gemmWRows) {
            int rw =
                static_cast<int>(std::min<int64_t>(tile.gemmWRows, rows - j));
            tile.fn(rx, rw, x + i * k + k0, k,
                    static_cast<const uint8_t *>(weight.data) +
                        ((row0 + j) * weight.rowStride + k0) * wBytes,
                    weight.rowStride, kc, acc.data() + i * kBlockRows + j,
                    kBlockRows);
          }
        }
      }
      for (int64_t i = 0; i < m; ++i)
        storeRow(acc.data() + i * kBlockRows, rows, bias, biasDType, row0,
                 static_cast<uint8_t *>(output.data) +
                     i * output.rowStride * outBytes,
                 output.dtype, row0);
    }
  };
  if (pool && pool->numThreads() > 1 && numBlocks > 1)
    pool->parallelFor(numBlocks, 1, body);
  else
    body(0, numBlocks, 0);
}

// The decoded-weight forms of gemv and gemm: the same loops, with each
// [rows, K chunk] weight block decoded to f32 scratch right before the
// micro-kernel reads it.
void gemvDecoded(const float *x, const detail::DecodedWeight &weight,
                 const detail::DotEpilogue &epilogue, ThreadPool *pool,
                 const TileKernel &tile) {
  const int64_t n = weight.rows, k = weight.cols;
  auto body = [&](int64_t begin, int64_t end, int) {
    std::vector<float> scratch(static_cast<size_t>(tile.gemvRows * kChunkK));
    float sums[8];
    for (int64_t row = begin; row < end; row += tile.gemvRows) {
      int rw = static_cast<int>(std::min<int64_t>(tile.gemvRows, end - row));
      std::fill(sums, sums + rw, 0.0f);
      for (int64_t k0 = 0; k0 < k; k0 += kChunkK) {
        const int64_t kc = std::min(kChunkK, k - k0);
        weight.decode(weight.context, row, rw, k0, kc, scratch.data(), kc);
        tile.fn(1, rw, x + k0, k, scratch.data(), kc, kc, sums, 0);
      }
      epilogue.store(epilogue.context, 0, row, sums, rw);
    }
  };
  if (pool && pool->numThreads() > 1 && n >= 64) {
    int64_t steps = (n + tile.gemvRows - 1) / tile.gemvRows;
    pool->parallelFor(steps, 0, [&](int64_t begin, int64_t end, int thread) {
      body(begin * tile.gemvRows, std::min(n, end * tile.gemvRows), thread);
    });
  } else {
    body(0, n, 0);
  }
}

void gemmDecoded(const float *x, int64_t m, const detail::DecodedWeight &weight,
                 const detail::DotEpilogue &epilogue, ThreadPool *pool,
                 const TileKernel &tile) {
  const int64_t n = weight.rows, k = weight.cols;
  const int64_t numBlocks = (n + kBlockRows - 1) / kBlockRows;
  auto body = [&](int64_t blockBegin, int64_t blockEnd, int) {
    std::vector<float> acc(static_cast<size_t>(m * kBlockRows));
    std::vector<float> scratch(static_cast<size_t>(kBlockRows * kChunkK));
    for (int64_t block = blockBegin; block < blockEnd; ++block) {
      const int64_t row0 = block * kBlockRows;
      const int64_t rows = std::min(kBlockRows, n - row0);
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t k0 = 0; k0 < k; k0 += kChunkK) {
        const int64_t kc = std::min(kChunkK, k - k0);
        weight.decode(weight.context, row0, rows, k0, kc, scratch.data(), kc);
        for (int64_t i = 0; i < m; i += tile.gemmXRows) {
          int rx = static_cast<int>(std::min<int64_t>(tile.gemmXRows, m - i));
          for (int64_t j = 0; j < rows; j += tile.gemmWRows) {
            int rw =
                static_cast<int>(std::min<int64_t>(tile.gemmWRows, rows - j));
            tile.fn(rx, rw, x + i * k + k0, k, scratch.data() + j * kc, kc, kc,
                    acc.data() + i * kBlockRows + j, kBlockRows);
          }
        }
      }
      for (int64_t i = 0; i < m; ++i)
        epilogue.store(epilogue.context, i, row0, acc.data() + i * kBlockRows,
                       rows);
    }
  };
  if (pool && pool->numThreads() > 1 && numBlocks > 1)
    pool->parallelFor(numBlocks, 1, body);
  else
    body(0, numBlocks, 0);
}

} // namespace

void linear(const ConstMatrixView &input, const ConstMatrixView &weight,
            const void *bias, DType biasDType, const MatrixView &output,
            ThreadPool *pool) {
  std::vector<float> scratch;
  const float *x = activationsAsF32(input, scratch);
  TileKernel tile = selectTile(weight.dtype);
  if (input.rows == 1)
    gemv(x, weight, bias, biasDType, output, pool, tile);
  else
    gemm(x, input.rows, weight, bias, biasDType, output, pool, tile);
}

namespace detail {
void linearDecoded(const float *x, int64_t m, const DecodedWeight &weight,
                   const DotEpilogue &epilogue, ThreadPool *pool) {
  TileKernel tile = selectTile(DType::F32);
  if (m == 1)
    gemvDecoded(x, weight, epilogue, pool, tile);
  else
    gemmDecoded(x, m, weight, epilogue, pool, tile);
}
} // namespace detail

void matmul(const ConstMatrixView &lhs, int64_t lhsBatchStride,
            const ConstMatrixView &rhs, int64_t rhsBatchStride,
            bool transposeRhs, const MatrixView &output,
            int64_t outputBatchStride, int64_t batch, ThreadPool *pool) {
  const size_t lhsBytes = dtypeBytes(lhs.dtype);
  const size_t rhsBytes = dtypeBytes(rhs.dtype);
  const size_t outBytes = dtypeBytes(output.dtype);
  std::vector<float> transposed;
  for (int64_t b = 0; b < batch; ++b) {
    ConstMatrixView lhsB = lhs;
    lhsB.data =
        static_cast<const uint8_t *>(lhs.data) + b * lhsBatchStride * lhsBytes;
    MatrixView outB = output;
    outB.data =
        static_cast<uint8_t *>(output.data) + b * outputBatchStride * outBytes;
    const void *rhsData =
        static_cast<const uint8_t *>(rhs.data) + b * rhsBatchStride * rhsBytes;
    if (transposeRhs) {
      // rhs is [N, K]: exactly the weight layout linear() takes.
      linear(lhsB,
             ConstMatrixView(rhsData, rhs.dtype, rhs.rows, rhs.cols,
                             rhs.rowStride),
             nullptr, DType::F32, outB, pool);
      continue;
    }
    // rhs is [K, N]: transpose it to [N, K] rows in f32 first.
    transposed.resize(static_cast<size_t>(rhs.rows * rhs.cols));
    for (int64_t kk = 0; kk < rhs.rows; ++kk)
      for (int64_t nn = 0; nn < rhs.cols; ++nn)
        transposed[nn * rhs.rows + kk] =
            loadAsF32(rhsData, rhs.dtype, kk * rhs.rowStride + nn);
    linear(lhsB, constMatrix(transposed.data(), DType::F32, rhs.cols, rhs.rows),
           nullptr, DType::F32, outB, pool);
  }
}

} // namespace llmc::cpu
