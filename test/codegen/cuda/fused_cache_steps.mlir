// The fused kinds without a GEMM: rope_kv_write and cached attention take
// the forward call's LlmcDeviceBatch (device_batch.h is embedded in the
// source) and the step's layer after their token count; the KV cache's
// shape and storage (here fp8 e4m3) and the 16-token cache blocks are baked
// in. Attention has split-K decode entries (partials into scratch, then a
// per-token combine) for T <= 16 and flash-style query tiles above; the
// quantized form quantizes per token in the combine, or in a fourth entry
// after prefill wrote rows of the query's type into scratch. Elementwise
// programs become a constant table of the CPU backend's parsed program.
// Every kernel compiles with NVRTC and assembles for sm_90a and sm_75.
// REQUIRES: cuda
// RUN: llmc-codegen %s --target=h100 --emit=cuda -o - | FileCheck %s
// RUN: rm -rf %t
// RUN: llmc-codegen %s --target=h100 --emit=ptx -o %t/h100 --cache-dir=%t/cache
// RUN: llmc-codegen %s --target=t4 --emit=ptx -o %t/t4 --cache-dir=%t/cache
// RUN: bash -c 'set -e; for pair in h100:90a t4:75; do dir=%t/${pair%%:*}; for f in $dir/*.ptx; do %ptxas -arch=sm_${pair#*:} "$f" -o /dev/null; done; echo "${pair%%:*} $(ls $dir/*.ptx | wc -l)"; done' | FileCheck %s --check-prefix=PTX
// PTX: h100 8
// PTX-NEXT: t4 8
// Every step keeps its op and gets one launch per entry; the KV-cache kinds
// pass the batch, the layer and (attention) scratch.
// RUN: llmc-codegen %s --target=h100 --attach-launches | FileCheck %s --check-prefix=LAUNCH
// LAUNCH: plan.compute "rope_kv_write"{{.*}}kernel = @llmc_rope_kv_write_{{.*}}extra_args = ["batch", "layer"]
// LAUNCH: plan.compute "cached_attention"{{.*}}_decode{{.*}}extra_args = ["batch", "layer", "scratch"]{{.*}}max_tokens = 16{{.*}}_combine{{.*}}extra_args = ["scratch"]{{.*}}_prefill{{.*}}extra_args = ["batch", "layer"]{{.*}}min_tokens = 17
// LAUNCH: plan.compute "elementwise"{{.*}}kernel = @llmc_elementwise_

// CHECK: 8 distinct kernels for 8 steps
// CHECK: kernel [[ROPE:llmc_rope_kv_write_4x32_[0-9a-f]+]] kind=rope_kv_write block=256 grid = [T, 1, 1] extent=128 when="always" uses=1 token_args=[1] ({{.*}}, long long rows, const LlmcDeviceBatch *batch, long long layer)
// CHECK: kernel [[ATT:llmc_cached_attention_4x32_[0-9a-f]+]]_decode kind=cached_attention block=128 grid = [T * heads, splits, 1] extent=16 when="T <= 16" {{.*}}(const llmc_kernels::bf16_t *query, llmc_kernels::bf16_t *output, long long tokens, const LlmcDeviceBatch *batch, long long layer, void *scratch)
// CHECK-NEXT: kernel [[ATT]]_combine kind=cached_attention block=128 grid = [T, 1, 1] extent=128 when="T <= 16" {{.*}}(const llmc_kernels::bf16_t *query, llmc_kernels::bf16_t *output, long long tokens, void *scratch)
// CHECK-NEXT: kernel [[ATT]]_prefill kind=cached_attention block=128 grid = [ceil(T / 16), heads, 1] extent=4 when="T > 16" {{.*}}(const llmc_kernels::bf16_t *query, llmc_kernels::bf16_t *output, long long tokens, const LlmcDeviceBatch *batch, long long layer)
// CHECK: kernel [[ATQ:llmc_cached_attention_quantize_dynamic_4x32_[0-9a-f]+]]_decode
// CHECK-NEXT: kernel [[ATQ]]_combine
// CHECK-NEXT: kernel [[ATQ]]_prefill {{.*}} when="T > 16" {{.*}}long long layer, void *scratch)
// CHECK-NEXT: kernel [[ATQ]]_quantize {{.*}} when="T > 16" {{.*}}(const llmc_kernels::bf16_t *query, signed char *quantized, float *scales, long long tokens, void *scratch)
// CHECK: kind=elementwise block=256 grid = [min(ceil(T * extent / block), 65535), 1, 1] extent=128
// CHECK: kind=rms_norm_quantize_dynamic {{.*}}(const llmc_kernels::bf16_t *input, const llmc_kernels::bf16_t *weight, signed char *quantized, float *scales, long long rows)
// CHECK: kind=add_rms_norm_quantize_dynamic
// CHECK: kind=rms_norm_add_rms_norm
// CHECK: kind=gated_activation_quantize_dynamic
// CHECK-NOT: not-generated

// The KV cache's layout travels with the kernel, not as a copy.
// CHECK: // ----- [[ROPE]].cu
// CHECK: typedef struct LlmcDeviceBatch {
// CHECK: ropeKVWriteRows<llmc_kernels::bf16_t, llmc_kernels::bf16_t, llmc_kernels::bf16_t, llmc_kernels::e4m3_t, 4, 2, 32, 32, llmc_kernels::kRopeHalf, 16, 256, true>(packed, positions, query_norm, key_norm, 0x1.0c6f7ap-20f, kInverseFrequencies, 0x1p+0f, query, batch, layer, static_cast<int>(rows));
// Window 8 and softcap 50 are template arguments of both launch shapes.
// CHECK: attentionDecodePartials<llmc_kernels::bf16_t, llmc_kernels::e4m3_t, 4, 2, 32, 16, 16, 128, 8, true>(query, 0x1.6a09e6p-3f, 0x1.9p+5f, batch, layer, static_cast<float *>(scratch), static_cast<int>(tokens));
// CHECK: attentionCombineRows<llmc_kernels::bf16_t, signed char, llmc_kernels::kNoQuant, 4, 32, 16, 128>(static_cast<const float *>(scratch), output, nullptr, nullptr,
// CHECK: attentionPrefillTiles<llmc_kernels::bf16_t, llmc_kernels::bf16_t, llmc_kernels::e4m3_t, 4, 2, 32, 16, 16, 128, 8, true>(query, 0x1.6a09e6p-3f, 0x1.9p+5f, batch, layer, output,
// The quantized output rounds to the query's type (where the unfused
// attention stores it) before the per-token int8 quantization.
// CHECK: attentionCombineRows<llmc_kernels::bf16_t, signed char, llmc_kernels::kDynamicScale, 4, 32, 16, 128>(static_cast<const float *>(scratch), static_cast<llmc_kernels::bf16_t *>(nullptr), quantized, scales,
// CHECK: attentionPrefillTiles<{{.*}}, 0, false>(query, 0x1.6a09e6p-3f, 0x0p+0f, batch, layer, static_cast<llmc_kernels::bf16_t *>(scratch),
// CHECK: quantizeRows<llmc_kernels::bf16_t, signed char, 128, 32, llmc_kernels::kDynamicScale>(static_cast<const llmc_kernels::bf16_t *>(scratch), nullptr, quantized, scales,
// silu (bf16), scale by 0.5 (f32), mul by input 1 (bf16).
// CHECK: __device__ const int kInputTypes[2] = {1, 1};
// CHECK-NEXT: __device__ const llmc_kernels::ElementwiseStep kProgram[3] = {
// CHECK-NEXT: {2, {-1, 0}, 1, 0x1p+0f},
// CHECK-NEXT: {5, {0, 0}, 0, 0x1p-1f},
// CHECK-NEXT: {1, {1, -2}, 1, 0x1p+0f},
// CHECK: elementwiseProgram<llmc_kernels::bf16_t, 2, 3>(inputs, kInputTypes, kProgram, output, count);
// CHECK: rmsNormRows<{{.*}}, signed char, 128, 32, false, llmc_kernels::kDynamicScale>(input, nullptr, nullptr, weight, {{.*}}, static_cast<llmc_kernels::bf16_t *>(nullptr), quantized, nullptr, scales,
// CHECK: rmsNormRows<{{.*}}, signed char, 128, 32, true, llmc_kernels::kDynamicScale>(input, residual, sum, weight,
// CHECK: rmsNormAddRmsNormRows<llmc_kernels::bf16_t, llmc_kernels::bf16_t, llmc_kernels::bf16_t, llmc_kernels::bf16_t, llmc_kernels::bf16_t, 128, 32>(branch, branch_weight,
// The product rounds to product_dtype before quantization.
// CHECK: gatedRows<llmc_kernels::bf16_t, llmc_kernels::bf16_t, llmc_kernels::bf16_t, signed char, 128, 32, llmc_kernels::kSilu, llmc_kernels::kDynamicScale>(packed, 256, packed + 128, 256,

module {
  plan.arena @activations kind = activations size = 16777216 alignment = 256
  plan.arena @weights kind = weights size = 16777216 alignment = 4096
  plan.rank 0 {
    %qkv = plan.slice @activations[0] {plan.token_rows} : memref<32x256xbf16>
    %pos = plan.slice @activations[16384] {plan.token_rows} : memref<32xi32>
    %qn = plan.slice @weights[0] {plan.weight = "q_norm"} : memref<32xbf16>
    %kn = plan.slice @weights[256] {plan.weight = "k_norm"} : memref<32xbf16>
    %q = plan.slice @activations[20480] {plan.token_rows} : memref<32x4x32xbf16>
    plan.compute "rope_kv_write"(%qkv, %pos, %qn, %kn : memref<32x256xbf16>, memref<32xi32>, memref<32xbf16>, memref<32xbf16> -> %q : memref<32x4x32xbf16>) {epsilon = 1.000000e-06 : f64, head_dim = 32 : i64, kv_cache_dtype = "f8E4M3FN", layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, style = "half", theta = 1.000000e+06 : f64}
    %o = plan.slice @activations[28672] {plan.token_rows} : memref<32x4x32xbf16>
    plan.compute "cached_attention"(%q : memref<32x4x32xbf16> -> %o : memref<32x4x32xbf16>) {kv_cache_dtype = "f8E4M3FN", layer = 0 : i64, scale = 0.17677669529663687 : f64, sliding_window = 8 : i64, softcap = 5.000000e+01 : f64}
    %codes = plan.slice @activations[36864] {plan.token_rows} : memref<32x128xi8>
    %scales = plan.slice @activations[40960] {plan.token_rows} : memref<32x1xf32>
    plan.compute "cached_attention_quantize_dynamic"(%q : memref<32x4x32xbf16> -> %codes, %scales : memref<32x128xi8>, memref<32x1xf32>) {kv_cache_dtype = "f8E4M3FN", layer = 0 : i64, scale = 0.17677669529663687 : f64}
    %a = plan.slice @activations[41472] {plan.token_rows} : memref<32x128xbf16>
    %b = plan.slice @activations[49664] {plan.token_rows} : memref<32x128xbf16>
    %e = plan.slice @activations[57856] {plan.token_rows} : memref<32x128xbf16>
    plan.compute "elementwise"(%a, %b : memref<32x128xbf16>, memref<32x128xbf16> -> %e : memref<32x128xbf16>) {program = "t0:bf16=silu(i0);t1:f32=scale(t0,5.0e-01);t2:bf16=mul(t1,i1)"}
    %w = plan.slice @weights[512] {plan.weight = "norm"} : memref<128xbf16>
    plan.compute "rms_norm_quantize_dynamic"(%a, %w : memref<32x128xbf16>, memref<128xbf16> -> %codes, %scales : memref<32x128xi8>, memref<32x1xf32>) {epsilon = 1.000000e-06 : f64}
    %sum = plan.slice @activations[66048] {plan.token_rows} : memref<32x128xbf16>
    plan.compute "add_rms_norm_quantize_dynamic"(%a, %b, %w : memref<32x128xbf16>, memref<32x128xbf16>, memref<128xbf16> -> %sum, %codes, %scales : memref<32x128xbf16>, memref<32x128xi8>, memref<32x1xf32>) {epsilon = 1.000000e-06 : f64}
    plan.compute "rms_norm_add_rms_norm"(%a, %w, %b, %w : memref<32x128xbf16>, memref<128xbf16>, memref<32x128xbf16>, memref<128xbf16> -> %sum, %e : memref<32x128xbf16>, memref<32x128xbf16>) {branch_epsilon = 1.000000e-06 : f64, epsilon = 1.000000e-06 : f64}
    %p = plan.slice @activations[74240] {plan.token_rows} : memref<32x256xbf16>
    plan.compute "gated_activation_quantize_dynamic"(%p : memref<32x256xbf16> -> %codes, %scales : memref<32x128xi8>, memref<32x1xf32>) {activation = "silu", approximation = "none", product_dtype = "bf16"}
  }
}
