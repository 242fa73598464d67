// Generated GEMMs beyond W8A8 plan.gemm: weight-only plan.gemm (w4a16 with
// groups and zero points, w8a16 per channel with the residual add, f32
// activations) and the fused steps that hold a GEMM (linear_bias,
// linear_gated_activation and its static and dynamic quantized forms),
// each one kernel with the step's epilogue: a GEMV entry for T <= 4 and a
// tile entry above (tensor cores for f16/bf16 activations from sm_80, SIMT
// otherwise); the dynamic form adds its per-token quantization stage.
// gemm_epilogues_ptx.test compiles them for every architecture.
// RUN: llmc-codegen %s --target=a100 --emit=cuda -o - | FileCheck %s
// RUN: llmc-codegen %s --target=t4 --emit=cuda -o - | FileCheck %s --check-prefix=T4

// CHECK: 7 distinct kernels for 7 steps
// w4a16, bf16 activations: mma tiles (FP8's tile shape), the GEMV with
// 16-byte loads (32 codes, inside a group of 64).
// CHECK: kernel [[W4:llmc_gemm_i4_256x512_[0-9a-f]+]] kind=gemm_weight_only block=128 grid = [ceil(N / 32), ceil(T / 64), 1] extent=256 when="T > 4"{{.*}}(const llmc_kernels::bf16_t *a, const llmc_kernels::i4x2_t *b, const float *scale_b, const signed char *zero_b, llmc_kernels::bf16_t *c, long long m)
// CHECK: kernel [[W4]]_gemv kind=gemm_weight_only block=128 grid = [ceil(N / (block / 32)), 1, 1] extent=256 when="T <= 4"
// w8a16 with beta = 1 into the residual, per-channel scales.
// CHECK: kernel [[W8:llmc_gemm_i8_128x256_[0-9a-f]+]] kind=gemm_weight_only
// f32 activations: SIMT tiles.
// CHECK: kernel [[W4F:llmc_gemm_i4_128x256_[0-9a-f]+]] kind=gemm_weight_only block=256 grid = [ceil(N / 64), ceil(T / 64), 1]
// CHECK: kernel [[BIAS:llmc_linear_bias_bf16_384x256_[0-9a-f]+]] kind=linear_bias block=128
// CHECK-SAME: (const llmc_kernels::bf16_t *a, const llmc_kernels::bf16_t *b, const llmc_kernels::bf16_t *bias, llmc_kernels::bf16_t *y, long long m)
// The gated GEMV's grid counts output columns (512), its tiles weight rows.
// CHECK: kernel [[GATED:llmc_linear_gated_activation_i4_1024x256_[0-9a-f]+]] kind=linear_gated_activation block=128 grid = [ceil(N / 32), ceil(T / 64), 1] extent=1024 when="T > 4"
// CHECK: kernel [[GATED]]_gemv kind=linear_gated_activation block=128 grid = [ceil(N / (block / 32)), 1, 1] extent=512 when="T <= 4"
// CHECK: kernel [[GQ:llmc_linear_gated_activation_quantize_f32_1024x256_[0-9a-f]+]] kind=linear_gated_activation_quantize
// CHECK-SAME: (const float *a, const float *b, const float *scale, signed char *q, long long m)
// Dynamic: tiles or GEMV into scratch, then the quantization stage always.
// W8A8 INT8 on sm_80+: the s8 tensor-core tiles (FP8's tile shape).
// CHECK: kernel [[GD:llmc_linear_gated_activation_quantize_dynamic_i8_1024x256_[0-9a-f]+]] kind=linear_gated_activation_quantize_dynamic block=128 grid = [ceil(N / 32), ceil(T / 64), 1] extent=1024 when="T > 4"
// CHECK-SAME: (const signed char *a, const signed char *b, const float *scale_a, const float *scale_b, signed char *q, float *scales, long long m, void *scratch)
// CHECK: kernel [[GD]]_gemv {{.*}} when="T <= 4"
// CHECK: kernel [[GD]]_quantize kind=linear_gated_activation_quantize_dynamic block=64 grid = [T, 1, 1] extent=512 when="always"

// CHECK: // ----- [[W4]].cu
// CHECK: const llmc_kernels::StoreEpilogue<llmc_kernels::bf16_t, 256, false> epilogue{c, 0x0p+0f};
// CHECK-NEXT: llmc_kernels::gemmWeightTilesMma<llmc_kernels::bf16_t, llmc_kernels::i4x2_t, 256, 512, 64, true, true>(a, b, scale_b, zero_b, 0x1p+0f, epilogue, static_cast<int>(m));
// CHECK: llmc_kernels::gemvWeightRows<llmc_kernels::bf16_t, llmc_kernels::i4x2_t, 256, 512, 64, true, true, 4, 128>(a, b, scale_b, zero_b, 0x1p+0f, epilogue, static_cast<int>(m));
// CHECK: // ----- [[W8]].cu
// CHECK: StoreEpilogue<llmc_kernels::f16_t, 128, true> epilogue{c, 0x1p+0f};
// CHECK-NEXT: gemmWeightTilesMma<llmc_kernels::f16_t, signed char, 128, 256, 256, true, false>(a, b, scale_b, nullptr, 0x1p+0f, epilogue
// CHECK: // ----- [[W4F]].cu
// CHECK: gemmWeightTiles<float, llmc_kernels::i4x2_t, 128, 256, 32, true, false>(a, b, scale_b, nullptr, 0x1p-1f, epilogue
// CHECK: // ----- [[BIAS]].cu
// CHECK: BiasEpilogue<llmc_kernels::bf16_t, llmc_kernels::bf16_t, 384> epilogue{y, bias};
// CHECK-NEXT: gemmWeightTilesMma<llmc_kernels::bf16_t, llmc_kernels::bf16_t, 384, 256, 0, false, false>(a, b, &kNoScale, nullptr, 0x1p+0f, epilogue
// CHECK: // ----- [[GATED]].cu
// CHECK: GatedEpilogue<llmc_kernels::bf16_t, signed char, 512, llmc_kernels::kSilu, llmc_kernels::kNoQuant> epilogue{y, nullptr, nullptr};
// CHECK: // ----- [[GQ]].cu
// CHECK: GatedEpilogue<float, signed char, 512, llmc_kernels::kGeluTanh, llmc_kernels::kStaticScale> epilogue{nullptr, q, scale};
// CHECK-NEXT: gemmWeightTiles<float, float, 1024, 256, 0, false, false>
// CHECK: // ----- [[GD]].cu
// CHECK: GatedEpilogue<llmc_kernels::bf16_t, signed char, 512, llmc_kernels::kSilu, llmc_kernels::kDynamicScale> epilogue{static_cast<llmc_kernels::bf16_t *>(scratch), nullptr, nullptr};
// CHECK-NEXT: gemmInt8TilesMma<1024, 256, true, true>(a, b, scale_a, scale_b, 0x1p+0f, epilogue, static_cast<int>(m));
// CHECK: quantizeRows<llmc_kernels::bf16_t, signed char, 512, 64, llmc_kernels::kDynamicScale>(static_cast<const llmc_kernels::bf16_t *>(scratch), nullptr, q, scales, static_cast<int>(m));

// Turing has no m16n8k16 tensor cores for f16 (SIMT tiles) nor m16n8k32
// s8 (dp4a tiles).
// T4-NOT: TilesMma<
// T4: gemmWeightTiles<llmc_kernels::bf16_t, llmc_kernels::i4x2_t, 256, 512, 64, true, true>
// T4: gemmInt8Tiles<1024, 256, true, true>

module {
  plan.arena @activations kind = activations size = 16777216 alignment = 256
  plan.arena @weights kind = weights size = 16777216 alignment = 4096
  plan.rank 0 {
    %x = plan.slice @activations[0] {plan.token_rows} : memref<32x512xbf16>
    %w4 = plan.slice @weights[0] {plan.weight = "w4"} : memref<256x512xi4>
    %s4 = plan.slice @weights[65536] {plan.weight = "w4.scale"} : memref<256x8xf32>
    %z4 = plan.slice @weights[73728] {plan.weight = "w4.zero_point"} : memref<256x8xi8>
    %y4 = plan.slice @activations[32768] {plan.token_rows} : memref<32x256xbf16>
    plan.gemm generated %x, %w4 into %y4 transpose_b scale_b(%s4 : memref<256x8xf32>) zero_b(%z4 : memref<256x8xi8>) : memref<32x512xbf16>, memref<256x512xi4>, memref<32x256xbf16>
    %xh = plan.slice @activations[65536] {plan.token_rows} : memref<32x256xf16>
    %w8 = plan.slice @weights[77824] {plan.weight = "w8"} : memref<128x256xi8>
    %s8 = plan.slice @weights[110592] {plan.weight = "w8.scale"} : memref<128x1xf32>
    %res = plan.slice @activations[81920] {plan.token_rows} : memref<32x128xf16>
    plan.gemm generated %xh, %w8 into %res transpose_b scale_b(%s8 : memref<128x1xf32>) beta = 1.0 : memref<32x256xf16>, memref<128x256xi8>, memref<32x128xf16>
    %xf = plan.slice @activations[90112] {plan.token_rows} : memref<32x256xf32>
    %s4f = plan.slice @weights[114688] {plan.weight = "w4f.scale"} : memref<128x8xf32>
    %w4f = plan.slice @weights[118784] {plan.weight = "w4f"} : memref<128x256xi4>
    %yf = plan.slice @activations[122880] {plan.token_rows} : memref<32x128xf32>
    plan.gemm generated %xf, %w4f into %yf transpose_b scale_b(%s4f : memref<128x8xf32>) alpha = 0.5 : memref<32x256xf32>, memref<128x256xi4>, memref<32x128xf32>
    %xb = plan.slice @activations[139264] {plan.token_rows} : memref<32x256xbf16>
    %wb = plan.slice @weights[135168] {plan.weight = "qkv"} : memref<384x256xbf16>
    %bb = plan.slice @weights[331776] {plan.weight = "qkv.bias"} : memref<384xbf16>
    %yb = plan.slice @activations[155648] {plan.token_rows} : memref<32x384xbf16>
    plan.compute "linear_bias"(%xb, %wb, %bb : memref<32x256xbf16>, memref<384x256xbf16>, memref<384xbf16> -> %yb : memref<32x384xbf16>)
    %wg = plan.slice @weights[335872] {plan.weight = "gate_up"} : memref<1024x256xi4>
    %sg = plan.slice @weights[466944] {plan.weight = "gate_up.scale"} : memref<1024x4xf32>
    %yg = plan.slice @activations[180224] {plan.token_rows} : memref<32x512xbf16>
    plan.compute "linear_gated_activation"(%xb, %wg, %sg : memref<32x256xbf16>, memref<1024x256xi4>, memref<1024x4xf32> -> %yg : memref<32x512xbf16>) {activation = "silu", approximation = "none"}
    %wff = plan.slice @weights[483328] {plan.weight = "gate_up_f32"} : memref<1024x256xf32>
    %qs = plan.slice @weights[1531904] {plan.weight = "down.input_scale"} : memref<f32>
    %qg = plan.slice @activations[212992] {plan.token_rows} : memref<32x512xi8>
    plan.compute "linear_gated_activation_quantize"(%xf, %wff, %qs : memref<32x256xf32>, memref<1024x256xf32>, memref<f32> -> %qg : memref<32x512xi8>) {activation = "gelu", approximation = "tanh"}
    %xq = plan.slice @activations[229376] {plan.token_rows} : memref<32x256xi8>
    %xs = plan.slice @activations[237568] {plan.token_rows} : memref<32x1xf32>
    %wq = plan.slice @weights[1536000] {plan.weight = "gate_up_i8"} : memref<1024x256xi8>
    %wqs = plan.slice @weights[1798144] {plan.weight = "gate_up_i8.scale"} : memref<1024x1xf32>
    %qd = plan.slice @activations[241664] {plan.token_rows} : memref<32x512xi8>
    %qds = plan.slice @activations[258048] {plan.token_rows} : memref<32x1xf32>
    plan.compute "linear_gated_activation_quantize_dynamic"(%xq, %wq, %xs, %wqs : memref<32x256xi8>, memref<1024x256xi8>, memref<32x1xf32>, memref<1024x1xf32> -> %qd, %qds : memref<32x512xi8>, memref<32x1xf32>) {activation = "silu", approximation = "none", product_dtype = "bf16"}
  }
}
