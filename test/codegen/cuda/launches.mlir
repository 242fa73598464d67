// --attach-launches: every step with a generated kernel keeps its op (the CPU
// backend runs it) and gains plan.launches, one #plan.launch per kernel entry
// (each entry declared once by a plan.kernel): grid and block for max-tokens
// (64 here), the T rules as grid_token_scale and token_args, the token range
// of each variant, and the kernel's buffers as operand indices of the step
// (a GEMM's in parameter order a, b, scale_a, scale_b, c). Steps without a
// kernel keep no launches. Needs no CUDA toolkit.
// RUN: llmc-codegen %s --target=t4 --attach-launches | FileCheck %s
// RUN: llmc-codegen %llmc_src_root/test/Inputs/tiny_llama.mlir --target=h100 --attach-launches | FileCheck %s --check-prefix=TINY

// CHECK-DAG: plan.kernel @[[$QUANT:llmc_quantize_dynamic_4096_[0-9a-f]+]] entry = "[[$QUANT]]" kind = "quantize_dynamic" source_hash = "{{[0-9a-f]+}}"
// CHECK-DAG: plan.kernel @[[$GEMM:llmc_gemm_i8_2048x4096_[0-9a-f]+]] entry = "[[$GEMM]]" kind = "gemm_int8"
// CHECK-DAG: plan.kernel @[[$GEMM]]_gemv entry = "[[$GEMM]]_gemv" kind = "gemm_int8"
// CHECK-DAG: plan.kernel @[[$ADD:llmc_add_[0-9a-f]+]] entry
// CHECK-LABEL: plan.rank 0
// CHECK: plan.compute "quantize_dynamic"({{.*}}) {plan.launches = [#plan.launch<kernel = @[[$QUANT]], grid = [64, 1, 1], block = [512, 1, 1], args = [0, 1, 2], grid_token_scale = [1, 1, 0, 1, 0, 1], token_args = [1]>]}
// The tiled GEMM from 5 tokens, the GEMV (one warp per column) up to 4.
// CHECK: plan.gemm generated {{.*}} {plan.launches = [#plan.launch<kernel = @[[$GEMM]], grid = [32, 1, 1], block = [256, 1, 1], args = [0, 1, 3, 4, 2], grid_token_scale = [0, 1, 1, 64, 0, 1], token_args = [1], min_tokens = 5>, #plan.launch<kernel = @[[$GEMM]]_gemv, grid = [512, 1, 1], block = [128, 1, 1], args = [0, 1, 3, 4, 2], grid_token_scale = [0, 1, 0, 1, 0, 1], token_args = [1], max_tokens = 4>]}
// Flat kernels: ceil(64 * 2048 / 256) blocks at max-tokens, T * 2048 elements;
// the same buffer twice is operand 0 twice.
// CHECK: plan.compute "add"({{.*}}) {plan.launches = [#plan.launch<kernel = @[[$ADD]], grid = [512, 1, 1], block = [256, 1, 1], args = [0, 0, 2], grid_token_scale = [2048, 256, 0, 1, 0, 1], token_args = [2048]>]}
// CHECK: plan.compute "attention"
// CHECK-NOT: plan.launches
// CHECK-SAME: {layer = 0 : i64, scale = {{.*}} : f64}{{$}}

// TINY-COUNT-8: plan.kernel @llmc_
// TINY-NOT: plan.kernel
// TINY: plan.compute "embedding"({{.*}}) {plan.launches = [#plan.launch<kernel = @llmc_embedding_64_{{[0-9a-f]+}}, grid = [512, 1, 1], block = [256, 1, 1]
// TINY: plan.gemm cublaslt
// TINY-NOT: plan.launches
// TINY-SAME: : memref
// TINY: plan.compute "attention"
// TINY-NOT: plan.launches
// TINY-SAME: {layer = 0 : i64

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
