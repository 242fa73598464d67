// --lower-launches: every step with a generated kernel becomes a plan.launch
// of the kernel's first entry (one plan.kernel per kernel), grid and block
// for max-tokens (64 here), with the T rules as plan.grid_token_scale and
// plan.token_args; GEMM buffers go in the kernel's parameter order (a, b,
// scale_a, scale_b, c); steps without a kernel stay. Needs no CUDA toolkit.
// RUN: llmc-codegen %s --target=t4 --lower-launches | FileCheck %s
// RUN: llmc-codegen %llmc_src_root/test/Inputs/tiny_llama.mlir --target=h100 --lower-launches | FileCheck %s --check-prefix=TINY

// CHECK-DAG: plan.kernel @[[$QUANT:llmc_quantize_dynamic_4096_[0-9a-f]+]] entry = "[[$QUANT]]" kind = "quantize_dynamic" source_hash = "{{[0-9a-f]+}}"
// CHECK-DAG: plan.kernel @[[$GEMM:llmc_gemm_i8_2048x4096_[0-9a-f]+]] entry = "[[$GEMM]]" kind = "gemm_int8"
// CHECK-DAG: plan.kernel @[[$ADD:llmc_add_[0-9a-f]+]] entry
// CHECK-LABEL: plan.rank 0
// CHECK: %[[X:.+]] = plan.slice @activations[0]
// CHECK: %[[XQ:.+]] = plan.slice @activations[524288]
// CHECK: %[[XS:.+]] = plan.slice @activations[786432]
// CHECK: plan.launch @[[$QUANT]] grid = [64, 1, 1] block = [512, 1, 1] args(%[[X]], %[[XQ]], %[[XS]] : {{.*}}) {plan.grid_token_scale = array<i64: 1, 1, 0, 1, 0, 1>, plan.token_args = array<i64: 1>}
// CHECK: %[[W:.+]] = plan.slice @weights[0]
// CHECK: %[[WS:.+]] = plan.slice @weights[8388608]
// CHECK: %[[Y:.+]] = plan.slice @activations[1048576]
// CHECK: plan.launch @[[$GEMM]] grid = [32, 1, 1] block = [256, 1, 1] args(%[[XQ]], %[[W]], %[[XS]], %[[WS]], %[[Y]] : {{.*}}) {plan.grid_token_scale = array<i64: 0, 1, 1, 64, 0, 1>, plan.token_args = array<i64: 1>}
// Flat kernels: ceil(64 * 2048 / 256) blocks at max-tokens, T * 2048 elements.
// CHECK: plan.launch @[[$ADD]] grid = [512, 1, 1] block = [256, 1, 1] args({{.*}}) {plan.grid_token_scale = array<i64: 2048, 256, 0, 1, 0, 1>, plan.token_args = array<i64: 2048>}
// CHECK: plan.compute "attention"
// CHECK-NOT: plan.compute "add"

// TINY-COUNT-8: plan.kernel @llmc_
// TINY-NOT: plan.kernel
// TINY: plan.launch @llmc_embedding_64_{{[0-9a-f]+}} grid = [512, 1, 1] block = [256, 1, 1]
// TINY: plan.gemm cublaslt
// TINY: plan.compute "attention"
// TINY-NOT: plan.compute "{{rms_norm|rope|add|silu|mul|convert|embedding}}"

module {
  plan.arena @activations kind = activations size = 16777216 alignment = 256
  plan.arena @weights kind = weights size = 16777216 alignment = 4096
  plan.rank 0 {
    %x = plan.slice @activations[0] {plan.token_rows} : memref<64x4096xbf16>
    %xq = plan.slice @activations[524288] {plan.token_rows} : memref<64x4096xi8>
    %xs = plan.slice @activations[786432] {plan.token_rows} : memref<64x1xf32>
    plan.compute "quantize_dynamic"(%x : memref<64x4096xbf16> -> %xq, %xs : memref<64x4096xi8>, memref<64x1xf32>)
    %w = plan.slice @weights[0] {plan.weight = "w"} : memref<2048x4096xi8>
    %ws = plan.slice @weights[8388608] {plan.weight = "w.scale"} : memref<2048x1xf32>
    %y = plan.slice @activations[1048576] {plan.token_rows} : memref<64x2048xbf16>
    plan.gemm generated %xq, %w into %y transpose_b scale_a(%xs : memref<64x1xf32>) scale_b(%ws : memref<2048x1xf32>) : memref<64x4096xi8>, memref<2048x4096xi8>, memref<64x2048xbf16>
    %r = plan.slice @activations[1310720] {plan.token_rows} : memref<64x2048xbf16>
    plan.compute "add"(%y, %y : memref<64x2048xbf16>, memref<64x2048xbf16> -> %r : memref<64x2048xbf16>)
    %q = plan.slice @activations[1572864] {plan.token_rows} : memref<64x16x128xbf16>
    %k = plan.slice @activations[1835008] {plan.token_rows} : memref<64x16x128xbf16>
    %o = plan.slice @activations[2097152] {plan.token_rows} : memref<64x16x128xbf16>
    plan.compute "attention"(%q, %k, %k : memref<64x16x128xbf16>, memref<64x16x128xbf16>, memref<64x16x128xbf16> -> %o : memref<64x16x128xbf16>) {layer = 0 : i64, scale = 0.088 : f64}
  }
}
