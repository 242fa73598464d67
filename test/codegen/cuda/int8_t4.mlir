// The INT8 W8A8 path on t4 (sm_75): per-token int8 quantization and the
// dp4a GEMM (tiles) and GEMV; no FP8 instruction anywhere; every PTX
// assembles for sm_75. An FP8 GEMM for t4 is refused, naming the chip.
// REQUIRES: cuda
// RUN: llmc-codegen %s --target=t4 --emit=ptx -o - --cache-dir=%t.cache | FileCheck %s
// RUN: rm -rf %t && llmc-codegen %s --target=t4 --emit=ptx -o %t --cache-dir=%t.cache
// RUN: bash -c 'ls %t/*.ptx | wc -l; for f in %t/*.ptx; do %ptxas -arch=sm_75 "$f" -o /dev/null || exit 1; done' | FileCheck %s --check-prefix=ASSEMBLED
// RUN: sed -e 's/xi8>/xf8E4M3FN>/g' %s | not llmc-codegen - --target=t4 --emit=cuda -o - 2>&1 | FileCheck %s --check-prefix=NO-FP8

// CHECK: kernel [[QUANT:llmc_quantize_dynamic_4096_[0-9a-f]+]] kind=quantize_dynamic
// CHECK: kernel [[GEMM:llmc_gemm_i8_2048x4096_[0-9a-f]+]] kind=gemm_int8 block=256 grid = [ceil(N / 64), ceil(T / 64), 1] extent=2048 when="T > 4"
// CHECK-SAME: (const signed char *a, const signed char *b, const float *scale_a, const float *scale_b, llmc_kernels::bf16_t *c, long long m)
// CHECK: kernel [[GEMM]]_gemv kind=gemm_int8 block=128 grid = [ceil(N / (block / 32)), 1, 1] extent=2048 when="T <= 4"
// CHECK-NOT: e4m3
// CHECK: // ----- [[QUANT]].ptx
// CHECK: .target sm_75
// CHECK: cvt.rni.s32.f32
// CHECK: // ----- [[GEMM]].ptx
// CHECK: .target sm_75
// CHECK: .entry [[GEMM]](
// CHECK: dp4a.s32.s32
// CHECK: .entry [[GEMM]]_gemv(
// CHECK: dp4a.s32.s32
// CHECK-NOT: e4m3
// ASSEMBLED: 2
// NO-FP8: error: CUDA code generation for t4 (Turing, sm_75) failed: {{.*}}t4 (Turing, sm_75) has no FP8 tensor cores for this f8E4M3FN GEMM; use --quant=int8

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
  }
}
