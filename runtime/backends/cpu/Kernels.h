//===- Kernels.h - the CPU backend's kernels over explicit shapes ---------===//
//
// Every `llm` dialect op the CPU backend executes, as a function over views
// with explicit shapes and row strides (in elements; the innermost dimension
// is contiguous). Storage is f32, f16 or bf16; computation and accumulation
// are f32, and results are rounded to the output's storage type once, at the
// end. Hot kernels have AVX2 (FMA + F16C) and AVX-512 (+BF16) paths chosen at
// run time from cpuid; see CpuFeatures.h.
//
// Kernels with inputs that come from a request (token ids, positions) return
// a Status; the others assume shapes the plan has already verified.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_BACKENDS_CPU_KERNELS_H
#define LLMC_RUNTIME_BACKENDS_CPU_KERNELS_H

#include "runtime/backends/cpu/Numeric.h"
#include "runtime/backends/cpu/ThreadPool.h"
#include "runtime/support/Status.h"

#include <cstdint>
#include <vector>

namespace llmc::kv {
class PagedKVCache;
} // namespace llmc::kv

namespace llmc::cpu {

using Status = ::llmc::runtime::Status;

/// A [rows, cols] matrix; row r starts at element r * rowStride.
struct MatrixView {
  void *data = nullptr;
  DType dtype = DType::F32;
  int64_t rows = 0, cols = 0, rowStride = 0;
};

struct ConstMatrixView {
  const void *data = nullptr;
  DType dtype = DType::F32;
  int64_t rows = 0, cols = 0, rowStride = 0;
  ConstMatrixView() = default;
  ConstMatrixView(const void *data, DType dtype, int64_t rows, int64_t cols,
                  int64_t rowStride)
      : data(data), dtype(dtype), rows(rows), cols(cols), rowStride(rowStride) {
  }
  ConstMatrixView(const MatrixView &view)
      : ConstMatrixView(view.data, view.dtype, view.rows, view.cols,
                        view.rowStride) {}
};

/// A [tokens, heads, headDim] tensor of attention heads: head h of token t
/// starts at element t * tokenStride + h * headStride.
struct HeadsView {
  void *data = nullptr;
  DType dtype = DType::F32;
  int64_t tokens = 0, heads = 0, headDim = 0;
  int64_t tokenStride = 0, headStride = 0;
};

/// A contiguous row-major matrix view over `data`.
inline MatrixView matrix(void *data, DType dtype, int64_t rows, int64_t cols) {
  return MatrixView{data, dtype, rows, cols, cols};
}
inline ConstMatrixView constMatrix(const void *data, DType dtype, int64_t rows,
                                   int64_t cols) {
  return ConstMatrixView(data, dtype, rows, cols, cols);
}
/// A contiguous [tokens, heads, headDim] view over `data`.
inline HeadsView heads(void *data, DType dtype, int64_t tokens,
                       int64_t numHeads, int64_t headDim) {
  return HeadsView{data,   dtype, tokens, numHeads, headDim, numHeads * headDim,
                   headDim};
}

//===----------------------------------------------------------------------===//
// Conversions and reductions
//===----------------------------------------------------------------------===//

/// Widens `count` elements of `dtype` to f32.
void convertToF32(const void *input, DType dtype, float *output, int64_t count);
/// Rounds `count` f32 values to `dtype` (nearest even).
void convertFromF32(const float *input, void *output, DType dtype,
                    int64_t count);

/// Index of the largest element; the first one on ties (like torch.argmax).
/// NaNs are never chosen unless every element is NaN. Returns -1 if count<=0.
int64_t argmax(const float *values, int64_t count);

//===----------------------------------------------------------------------===//
// llm.embedding
//===----------------------------------------------------------------------===//

/// output[i, :] = table[ids[i], :]. An id outside [0, table.rows) is an error
/// that names it; nothing is written past the failing row.
Status embedding(const ConstMatrixView &table, const int32_t *ids,
                 int64_t numIds, const MatrixView &output);

//===----------------------------------------------------------------------===//
// llm.rms_norm, llm.layer_norm
//===----------------------------------------------------------------------===//

/// RMSNorm of one f32 row in place with f32 gains: the arithmetic every
/// norm kernel shares, fused or not (so their results agree bitwise).
void rmsNormalizeRow(float *row, int64_t cols, const float *gain,
                     float epsilon);

/// output = input / sqrt(mean(input^2) + epsilon) * (weight + weightOffset),
/// per row, with the mean of squares in f32. weightOffset is 1 for Gemma's
/// `(1 + weight)` convention when the weight is stored unshifted.
void rmsNorm(const ConstMatrixView &input, const void *weight,
             DType weightDType, float epsilon, const MatrixView &output,
             float weightOffset = 0.0f);

/// output = (input - mean) / sqrt(var + epsilon) * weight + bias, per row
/// (biased variance, as torch.nn.LayerNorm). `bias` may be null.
void layerNorm(const ConstMatrixView &input, const void *weight,
               const void *bias, DType paramDType, float epsilon,
               const MatrixView &output);

//===----------------------------------------------------------------------===//
// llm.linear, llm.matmul
//===----------------------------------------------------------------------===//

/// output[n, m] = sum_k input[n, k] * weight[m, k] (+ bias[m]): PyTorch's
/// nn.Linear with weight as [out_features, in_features] rows. One input row
/// is a GEMV that streams the weight once across all threads; several rows
/// are blocked so each weight block is reused from cache. `bias` may be null
/// (its dtype is `biasDType`). Any mix of storage types.
void linear(const ConstMatrixView &input, const ConstMatrixView &weight,
            const void *bias, DType biasDType, const MatrixView &output,
            ThreadPool *pool);

/// A batch of `batch` matrix products: output[b] = lhs[b] x rhs[b], or
/// lhs[b] x rhs[b]^T with `transposeRhs` (rhs[b] is then [N, K]).
/// `*BatchStride` is in elements between consecutive matrices.
void matmul(const ConstMatrixView &lhs, int64_t lhsBatchStride,
            const ConstMatrixView &rhs, int64_t rhsBatchStride,
            bool transposeRhs, const MatrixView &output,
            int64_t outputBatchStride, int64_t batch, ThreadPool *pool);

//===----------------------------------------------------------------------===//
// llm.rope
//===----------------------------------------------------------------------===//

enum class RopeStyle : uint8_t {
  Half,        // element i pairs with i + rotaryDim/2 (HF rotate_half, NeoX)
  Interleaved, // element 2i pairs with 2i+1 (GPT-J, Meta's original Llama)
};

enum class RopeScaling : uint8_t { None, Linear, Llama3, Yarn };

struct RopeParams {
  double theta = 10000.0;
  int64_t rotaryDim = 0; // 0: the whole head
  RopeStyle style = RopeStyle::Half;
  RopeScaling scaling = RopeScaling::None;
  double factor = 1.0;             // linear, llama3, yarn
  double lowFreqFactor = 1.0;      // llama3
  double highFreqFactor = 4.0;     // llama3
  int64_t originalMaxPosition = 0; // llama3, yarn
  double yarnBetaFast = 32.0, yarnBetaSlow = 1.0;
};

/// The rotaryDim/2 inverse frequencies, as Hugging Face transformers'
/// ROPE_INIT_FUNCTIONS compute them (f32 arithmetic included), and the factor
/// that multiplies cos and sin (1 except for yarn).
struct RopeFrequencies {
  std::vector<float> inverseFrequencies;
  float attentionFactor = 1.0f;
};
Status computeRopeFrequencies(const RopeParams &params, int64_t headDim,
                              RopeFrequencies &frequencies);

/// Rotates the first rotaryDim elements of every head of token t by angles
/// positions[t] * inverseFrequencies (the rest are copied). `output` may
/// alias `input`. Angles are f32(position) * f32(inverse frequency) rounded
/// to f32, then cos/sin, matching transformers' f32 computation.
void rope(const HeadsView &input, const int32_t *positions,
          const RopeFrequencies &frequencies, RopeStyle style,
          const HeadsView &output);

//===----------------------------------------------------------------------===//
// llm.attention
//===----------------------------------------------------------------------===//

/// The ragged batch of one step, flattened: sequence s owns query tokens
/// [queryStart[s], queryStart[s + 1]) and KV-cache sequence sequenceIds[s].
/// positions[t] is token t's absolute position; its keys are the cached
/// positions [0, positions[t]] (causal), or the last slidingWindow of them.
struct AttentionBatch {
  int64_t numSequences = 0;
  const int64_t *queryStart = nullptr; // numSequences + 1 entries
  const int64_t *sequenceIds = nullptr;
  const int32_t *positions = nullptr; // one per query token
};

struct AttentionParams {
  float scale = 1.0f;        // multiplies q.k (usually headDim^-0.5)
  int64_t slidingWindow = 0; // 0: none; else keys with p - k < window
  float softcap = 0.0f;      // 0: none; else softcap * tanh(logit/softcap)
};

/// Attention of `query` ([tokens, qHeads, headDim]) over layer `layer` of
/// the paged KV cache, whose rows for these tokens were appended already.
/// Query head h reads KV head h / (qHeads / kvHeads) (GQA; MQA with one KV
/// head). Softmax is the online (streaming) form in f32. Errors: a position
/// beyond what the cache holds for its sequence, unknown sequences, shape
/// mismatches.
Status pagedAttention(const AttentionParams &params, const HeadsView &query,
                      const kv::PagedKVCache &cache, int64_t layer,
                      const AttentionBatch &batch, const HeadsView &output,
                      ThreadPool *pool);

//===----------------------------------------------------------------------===//
// Elementwise and softmax (llm.silu, gelu, mul, add, scale, softmax)
//===----------------------------------------------------------------------===//

enum class GeluApproximation : uint8_t { None, Tanh };

/// Unary ops over `count` contiguous elements; output may alias input.
void silu(const void *input, DType inputDType, void *output, DType outputDType,
          int64_t count);
void gelu(const void *input, DType inputDType, void *output, DType outputDType,
          int64_t count, GeluApproximation approximation);
void scale(const void *input, DType inputDType, float factor, void *output,
           DType outputDType, int64_t count);

/// Binary ops; all three buffers have `count` elements and may alias.
void add(const void *lhs, const void *rhs, DType inputDType, void *output,
         DType outputDType, int64_t count);
void mul(const void *lhs, const void *rhs, DType inputDType, void *output,
         DType outputDType, int64_t count);

/// output = silu(gate) * up, the SwiGLU MLP's fused elementwise step.
void siluMul(const void *gate, const void *up, DType inputDType, void *output,
             DType outputDType, int64_t count);

/// Softmax of each row, max-subtracted, in f32.
void softmax(const ConstMatrixView &input, const MatrixView &output);

//===----------------------------------------------------------------------===//
// Quantization: quantized GEMMs, quantize, dequantize (docs/quantization.md)
//===----------------------------------------------------------------------===//

/// Element types of quantized operands (1 byte each, I4 two per byte with
/// element 2i in the low nibble).
enum class QuantDType : uint8_t { I8, I4, F8E4M3FN, F8E5M2 };

const char *quantDTypeName(QuantDType dtype);

/// A [rows, cols] matrix of quantized elements; row r starts at element
/// r * rowStride (I4: rowStride and cols even, so rows start on a byte).
struct QuantMatrixView {
  const void *data = nullptr;
  QuantDType dtype = QuantDType::I8;
  int64_t rows = 0, cols = 0, rowStride = 0;
};

inline QuantMatrixView quantMatrix(const void *data, QuantDType dtype,
                                   int64_t rows, int64_t cols) {
  return QuantMatrixView{data, dtype, rows, cols, cols};
}

/// Block-wise scales (and optional zero points) of a [rows, cols] matrix, as
/// llm.quantize's scale shapes: element (r, c) uses entry
/// (r / blockRows) * stride + c / blockCols of `scales` and of `zeroPoints`
/// (null: symmetric). Per tensor: everything in one block.
struct BlockScales {
  const float *scales = nullptr;
  const int8_t *zeroPoints = nullptr;
  int64_t blockRows = INT64_MAX, blockCols = INT64_MAX;
  /// Entries per block row.
  int64_t stride = 0;

  int64_t index(int64_t row, int64_t col) const {
    return (row / blockRows) * stride + col / blockCols;
  }
  /// One scale for the whole matrix (shape []).
  static BlockScales perTensor(const float *scales,
                               const int8_t *zeroPoints = nullptr) {
    return BlockScales{scales, zeroPoints, INT64_MAX, INT64_MAX, 0};
  }
  /// One scale per row (shape [rows, 1]).
  static BlockScales perRow(const float *scales,
                            const int8_t *zeroPoints = nullptr) {
    return BlockScales{scales, zeroPoints, 1, INT64_MAX, 1};
  }
  /// A [rows, cols] matrix split by a [scaleRows, scaleCols] scale tensor
  /// (each divides its dimension).
  static BlockScales blocks(const float *scales, const int8_t *zeroPoints,
                            int64_t rows, int64_t cols, int64_t scaleRows,
                            int64_t scaleCols) {
    return BlockScales{scales, zeroPoints, rows / scaleRows, cols / scaleCols,
                       scaleCols};
  }
};

/// Contraction depth up to which the int8 GEMM's int32 sum is exact for any
/// operands: 128 * 128 * K < 2^31.
constexpr int64_t kMaxExactInt8Depth = 131071;

/// W8A8 GEMM (plan contract item 1): a [M, K] and b [N, K] (nn.Linear
/// layout) both I8, or both FP8 (E4M3FN / E5M2, either mix):
///   output[m][n] = ((alpha * scaleA[m]) * scaleB[n]) * dot(a[m], b[n])
/// evaluated in that order in f32. For I8 the dot is the exact int32 sum
/// (K <= kMaxExactInt8Depth), converted to f32 once, identical on every ISA
/// (AVX-512 VNNI, AVX-512BW, AVX2, portable). For FP8 every product is exact
/// in f32 (table-decoded operands) and the sum is f32. scaleA is per tensor
/// or per row of a, scaleB per tensor or per row of b; zero points ignored.
void gemmW8A8(const QuantMatrixView &a, const QuantMatrixView &b,
              const BlockScales &scaleA, const BlockScales &scaleB, float alpha,
              const MatrixView &output, ThreadPool *pool);

/// Weight-only GEMM (plan contract item 2): a float [M, K] (f32/f16/bf16),
/// b [N, K] I8, I4 (or FP8) with block-wise scales and optional zero points:
///   output[m][n] = alpha * sum_k a[m][k] * ((b[n][k] - zero) * scale)
/// in f32. The weight is decoded to f32 one block (rows x K chunk) at a time
/// in each thread's scratch, never as a whole (one row on AVX2/AVX-512 with
/// scale groups of a multiple of 16 columns: decoded in registers inside the
/// GEMV).
void gemmWeightOnly(const ConstMatrixView &a, const QuantMatrixView &b,
                    const BlockScales &scaleB, float alpha,
                    const MatrixView &output, ThreadPool *pool);

/// "quantize" (item 3): output = saturate(round_half_even(x / scale) + zero)
/// for I8/I4 (I4 packed), the satfinite FP8 conversion of x / scale for FP8
/// (zero points must be null). `output` is [rows, cols] contiguous.
void quantize(const ConstMatrixView &input, const BlockScales &scales,
              void *output, QuantDType outputDType);

/// "quantize_dynamic" (item 4): per row, scale = amax / qmax (127 for I8, 7
/// for I4, the format's max for FP8), or 1 when amax == 0; then quantize.
/// `scales` receives one f32 per row.
void quantizeDynamic(const ConstMatrixView &input, void *output,
                     QuantDType outputDType, float *scales);

/// "dequantize" (item 5): output = (q - zero) * scale, rounded once to the
/// output's storage type.
void dequantize(const QuantMatrixView &input, const BlockScales &scales,
                const MatrixView &output);

} // namespace llmc::cpu

#endif // LLMC_RUNTIME_BACKENDS_CPU_KERNELS_H
