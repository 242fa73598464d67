//===- FusedKernels.h - the CPU kernels of llm-fuse's groups --------------===//
//
// One function per fused plan step (see `llm.fused` for the kinds). Each
// makes one sweep over the data the group's unfused steps would read and
// write several times, and rounds every intermediate to the type the unfused
// step would have stored it in, so a fused plan gives the unfused plan's
// numbers: bitwise for the norm, activation, RoPE/KV and elementwise
// kernels; the GEMM epilogues keep the f32 accumulator (one rounding fewer).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_BACKENDS_CPU_FUSEDKERNELS_H
#define LLMC_RUNTIME_BACKENDS_CPU_FUSEDKERNELS_H

#include "runtime/backends/cpu/Kernels.h"

#include <string>
#include <vector>

namespace llmc::cpu {

//===----------------------------------------------------------------------===//
// Quantized outputs (a norm or gated activation followed by llm.quantize)
//===----------------------------------------------------------------------===//

/// A [rows, cols] destination of 1-byte codes: q = saturate(round half to
/// even(x / scale)), with one f32 scale for the tensor (`scales[0]`) or one
/// per row (`scales[r]`).
struct QuantizedMatrixView {
  void *data = nullptr;
  QuantDType dtype = QuantDType::I8;
  int64_t rows = 0, cols = 0, rowStride = 0;
  const float *scales = nullptr;
  bool scalePerRow = false;
};

/// Quantizes one row of `cols` f32 values with `scale` into `output`.
void quantizeRow(const float *row, int64_t cols, float scale, QuantDType dtype,
                 void *output);

//===----------------------------------------------------------------------===//
// add_rms_norm, add_rms_norm_quantize, rms_norm_quantize
//===----------------------------------------------------------------------===//

/// sum = a + b (stored in sum's type), output = rmsNorm(sum) per row, each
/// row read once: bitwise what `add` then `rmsNorm` give.
void addRmsNorm(const ConstMatrixView &a, const ConstMatrixView &b,
                const void *weight, DType weightDType, float epsilon,
                const MatrixView &sum, const MatrixView &output,
                float weightOffset = 0.0f);
/// The same with the normalized rows quantized instead of stored.
void addRmsNormQuantized(const ConstMatrixView &a, const ConstMatrixView &b,
                         const void *weight, DType weightDType, float epsilon,
                         const MatrixView &sum,
                         const QuantizedMatrixView &output,
                         float weightOffset = 0.0f);
/// Gemma's sandwich: sum = residual + rmsNorm(branch, branchWeight) (the
/// branch norm stored in the branch's type, the sum in sum's), output =
/// rmsNorm(sum, weight), per row in one sweep. Both weights have
/// `weightDType`.
void rmsNormAddRmsNorm(const ConstMatrixView &branch, const void *branchWeight,
                       float branchEpsilon, const ConstMatrixView &residual,
                       const void *weight, DType weightDType, float epsilon,
                       const MatrixView &sum, const MatrixView &output);
/// rms_norm of a + b (`b` and `sum` null: of a alone), then
/// "quantize_dynamic" of the normalized rows: each row is rounded to
/// `normDType` (where the unfused rms_norm stores it) and quantized with its
/// own scale amax / qmax (1 when amax == 0), written to `scales`; codes and
/// scales are bitwise the unfused quantizeDynamic's.
void addRmsNormQuantizeDynamic(const ConstMatrixView &a,
                               const ConstMatrixView *b, const void *weight,
                               DType weightDType, float epsilon,
                               const MatrixView *sum, DType normDType,
                               void *output, QuantDType outputDType,
                               float *scales, float weightOffset = 0.0f);
/// rmsNorm(input) quantized.
void rmsNormQuantized(const ConstMatrixView &input, const void *weight,
                      DType weightDType, float epsilon,
                      const QuantizedMatrixView &output,
                      float weightOffset = 0.0f);

//===----------------------------------------------------------------------===//
// gated_activation(_quantize), linear_gated_activation(_quantize)
//===----------------------------------------------------------------------===//

enum class GatedActivation : uint8_t { Silu, Gelu, GeluTanh };

/// output = act(gate) * up over packed [rows, 2 * cols] = [gate | up] rows;
/// act(gate) is rounded to the packed type, as the unfused step stores it.
void gatedActivation(const ConstMatrixView &packed, GatedActivation activation,
                     const MatrixView &output);
void gatedActivationQuantized(const ConstMatrixView &packed,
                              GatedActivation activation,
                              const QuantizedMatrixView &output);

/// The packed gate/up GEMM (`weight` is [2 * cols, K]) with the gated
/// activation as its epilogue, applied to the f32 accumulators in
/// `scratch` (resized to rows x 2 * cols).
void linearGatedActivation(const ConstMatrixView &input,
                           const ConstMatrixView &weight,
                           GatedActivation activation, const MatrixView &output,
                           std::vector<float> &scratch, ThreadPool *pool);
void linearGatedActivationQuantized(const ConstMatrixView &input,
                                    const ConstMatrixView &weight,
                                    GatedActivation activation,
                                    const QuantizedMatrixView &output,
                                    std::vector<float> &scratch,
                                    ThreadPool *pool);

//===----------------------------------------------------------------------===//
// GEMM epilogues: C = alpha * A * B^T + beta * C
//===----------------------------------------------------------------------===//

/// `output` = alpha * input * weight^T + beta * output, rounded once from
/// the f32 accumulators in `scratch` (the residual-add epilogue at beta = 1).
void linearAccumulate(const ConstMatrixView &input,
                      const ConstMatrixView &weight, float alpha, float beta,
                      const MatrixView &output, std::vector<float> &scratch,
                      ThreadPool *pool);

/// `output` = product + beta * output, in f32 and rounded once per element:
/// the accumulating epilogue of a GEMM (W8A8 or weight-only) that computed
/// alpha * A * B^T into the f32 [output.rows, output.cols] `product`.
void accumulateProduct(const float *product, float beta,
                       const MatrixView &output);

//===----------------------------------------------------------------------===//
// rope_kv_write
//===----------------------------------------------------------------------===//

/// Packed projection rows [tokens, (numHeads + 2 * numKVHeads) * headDim]:
/// q heads, then k heads, then v heads, `rowStride` elements apart.
struct PackedQKV {
  const void *data = nullptr;
  DType dtype = DType::F32;
  int64_t tokens = 0, rowStride = 0;
  int64_t numHeads = 0, numKVHeads = 0, headDim = 0;
};

/// Optional per-head RMSNorm of q and k before RoPE (Qwen3); null weights:
/// none.
struct QKNorm {
  const void *queryWeight = nullptr, *keyWeight = nullptr;
  DType dtype = DType::F32;
  float epsilon = 0.0f;
};

/// RoPE of the q and k heads read in place from the packed rows; the roped
/// q goes to `query` ([tokens, numHeads, headDim]), the roped k and the v
/// heads are appended to layer `layer` of `cache` for the batch's sequences
/// (through `scratch`, k and v as [tokens, numKVHeads, headDim]).
Status ropeKVWrite(const PackedQKV &qkv, const int32_t *positions,
                   const RopeFrequencies &frequencies, RopeStyle style,
                   const QKNorm &norm, kv::PagedKVCache &cache, int64_t layer,
                   const AttentionBatch &batch, const HeadsView &query,
                   std::vector<uint8_t> &scratch);

//===----------------------------------------------------------------------===//
// elementwise
//===----------------------------------------------------------------------===//

/// One instruction of an `elementwise` step's program: its result is
/// `op(operands)` rounded to `resultDType`. An operand >= 0 is an earlier
/// instruction's result; operand -1 - n is step input n.
struct ElementwiseInstruction {
  enum class Op : uint8_t { Add, Mul, Silu, Gelu, GeluTanh, Scale, Convert };
  Op op = Op::Convert;
  int operands[2] = {0, 0};
  int numOperands = 1;
  float constant = 1.0f; // Scale's factor
  DType resultDType = DType::F32;
};

/// Parses the program text `llm-lower-to-plan` writes
/// (`t0:bf16=silu(i0);t1:bf16=mul(t0,i1)`); false with `error` set when it
/// is malformed or names an input >= numInputs.
bool parseElementwiseProgram(const std::string &text, int64_t numInputs,
                             std::vector<ElementwiseInstruction> &program,
                             std::string &error);

/// Runs `program` over `count` elements of every input, chunk by chunk,
/// writing the last instruction's result to `output`.
void elementwise(const std::vector<ElementwiseInstruction> &program,
                 const std::vector<const void *> &inputs,
                 const std::vector<DType> &inputDTypes, void *output,
                 DType outputDType, int64_t count);

} // namespace llmc::cpu

#endif // LLMC_RUNTIME_BACKENDS_CPU_FUSEDKERNELS_H
