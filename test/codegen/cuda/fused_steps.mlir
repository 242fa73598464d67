// The compute steps llm-fuse's groups lower to (add_rms_norm, the
// quantized norms, gated activations over a packed [gate | up] buffer)
// instantiate the fused templates: the residual sum and the norm's own
// type are rounded through before quantizing, a scalar scale is static and
// a [T, 1] one per token. all_steps_ptx.test compiles them with NVRTC.
// RUN: llmc-codegen %s --target=h100 --emit=cuda -o - | FileCheck %s

// CHECK: 5 distinct kernels for 5 steps
// CHECK: // ----- [[ARN:llmc_add_rms_norm_1024_[0-9a-f]+]].cu
// CHECK: void __launch_bounds__(128) [[ARN]](const llmc_kernels::bf16_t *input, const llmc_kernels::bf16_t *residual, const llmc_kernels::bf16_t *weight, llmc_kernels::bf16_t *sum, llmc_kernels::bf16_t *output, long long rows) {
// CHECK-NEXT: rmsNormRows<llmc_kernels::bf16_t, llmc_kernels::bf16_t, llmc_kernels::bf16_t, signed char, 1024, 128, true, llmc_kernels::kNoQuant>(input, residual, sum, weight, 0x1.4f8b58p-17f, 0x0p+0f, output, nullptr, nullptr, nullptr, static_cast<int>(rows));
// CHECK: (const llmc_kernels::bf16_t *input, const llmc_kernels::bf16_t *residual, const llmc_kernels::bf16_t *weight, const float *scale, llmc_kernels::bf16_t *sum, llmc_kernels::e4m3_t *quantized, long long rows) {
// CHECK-NEXT: rmsNormRows<llmc_kernels::bf16_t, llmc_kernels::bf16_t, llmc_kernels::bf16_t, llmc_kernels::e4m3_t, 1024, 128, true, llmc_kernels::kStaticScale>(input, residual, sum, weight, 0x1.4f8b58p-17f, 0x0p+0f, static_cast<llmc_kernels::bf16_t *>(nullptr), quantized, scale, nullptr, static_cast<int>(rows));
// Gemma's weight offset and a per-token input scale.
// CHECK: rmsNormRows<llmc_kernels::bf16_t, llmc_kernels::bf16_t, llmc_kernels::bf16_t, signed char, 1024, 128, false, llmc_kernels::kTokenScaleInput>(input, nullptr, nullptr, weight, 0x1.0c6f7ap-20f, 0x1p+0f,
// act(gate) rounds to the packed type (Mid = bf16); up is the second half.
// CHECK: gatedRows<llmc_kernels::bf16_t, llmc_kernels::bf16_t, llmc_kernels::bf16_t, signed char, 1024, 128, llmc_kernels::kSilu, llmc_kernels::kNoQuant>(packed, 2048, packed + 1024, 2048, output,
// CHECK: gatedRows<llmc_kernels::bf16_t, llmc_kernels::bf16_t, llmc_kernels::bf16_t, llmc_kernels::e4m3_t, 1024, 128, llmc_kernels::kGeluTanh, llmc_kernels::kStaticScale>(packed, 2048, packed + 1024, 2048, static_cast<llmc_kernels::bf16_t *>(nullptr), quantized, scale,

module {
  plan.arena @activations kind = activations size = 16777216 alignment = 256
  plan.arena @weights kind = weights size = 16777216 alignment = 4096
  plan.rank 0 {
    %a = plan.slice @activations[0] {plan.token_rows} : memref<32x1024xbf16>
    %b = plan.slice @activations[65536] {plan.token_rows} : memref<32x1024xbf16>
    %w = plan.slice @weights[0] {plan.weight = "ln"} : memref<1024xbf16>
    %sum = plan.slice @activations[131072] {plan.token_rows} : memref<32x1024xbf16>
    %y = plan.slice @activations[196608] {plan.token_rows} : memref<32x1024xbf16>
    plan.compute "add_rms_norm"(%a, %b, %w : memref<32x1024xbf16>, memref<32x1024xbf16>, memref<1024xbf16> -> %sum, %y : memref<32x1024xbf16>, memref<32x1024xbf16>) {epsilon = 1.000000e-05 : f64}
    %s = plan.slice @weights[4096] {plan.weight = "s"} : memref<f32>
    %q = plan.slice @activations[262144] {plan.token_rows} : memref<32x1024xf8E4M3FN>
    plan.compute "add_rms_norm_quantize"(%a, %b, %w, %s : memref<32x1024xbf16>, memref<32x1024xbf16>, memref<1024xbf16>, memref<f32> -> %sum, %q : memref<32x1024xbf16>, memref<32x1024xf8E4M3FN>) {epsilon = 1.000000e-05 : f64}
    %ts = plan.slice @activations[294912] {plan.token_rows} : memref<32x1xf32>
    %q8 = plan.slice @activations[327680] {plan.token_rows} : memref<32x1024xi8>
    plan.compute "rms_norm_quantize"(%a, %w, %ts : memref<32x1024xbf16>, memref<1024xbf16>, memref<32x1xf32> -> %q8 : memref<32x1024xi8>) {epsilon = 1.000000e-06 : f64, weight_offset = 1.0 : f64}
    %p = plan.slice @activations[393216] {plan.token_rows} : memref<32x2048xbf16>
    %g = plan.slice @activations[524288] {plan.token_rows} : memref<32x1024xbf16>
    plan.compute "gated_activation"(%p : memref<32x2048xbf16> -> %g : memref<32x1024xbf16>) {activation = "silu", approximation = "none"}
    plan.compute "gated_activation_quantize"(%p, %s : memref<32x2048xbf16>, memref<f32> -> %q : memref<32x1024xf8E4M3FN>) {activation = "gelu", approximation = "tanh"}
  }
}
