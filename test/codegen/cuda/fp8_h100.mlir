// The FP8 W8A8 path on h100 (sm_90a): the per-token activation quantization
// uses the satfinite x2 conversion and the generated GEMM the FP8
// tensor-core MMA with the scale epilogue; every PTX assembles for sm_90a.
// The PTX targets plain sm_90 (JIT-able by newer GPUs, which sm_90a PTX is
// not); the cubin is built for sm_90a.
// REQUIRES: cuda
// RUN: llmc-codegen %s --target=h100 --emit=ptx -o - --cache-dir=%t.cache | FileCheck %s
// RUN: rm -rf %t && llmc-codegen %s --target=h100 --emit=ptx -o %t --cache-dir=%t.cache
// RUN: bash -c 'ls %t/*.ptx | wc -l; for f in %t/*.ptx; do %ptxas -arch=sm_90a "$f" -o /dev/null || exit 1; done' | FileCheck %s --check-prefix=ASSEMBLED
// The other FP8 chips: Ada (sm_89) and Blackwell (sm_100a) run the same MMA.
// RUN: llmc-codegen %s --target=rtx4090 --emit=ptx -o %t/ada --cache-dir=%t.cache
// RUN: llmc-codegen %s --target=b200 --emit=ptx -o %t/blackwell --cache-dir=%t.cache
// RUN: bash -c 'set -e; for pair in ada:89 blackwell:100a; do for f in %t/${pair%%:*}/*.ptx; do %ptxas -arch=sm_${pair#*:} "$f" -o /dev/null; done; grep -l "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32" %t/${pair%%:*}/*.ptx | wc -l; done' | FileCheck %s --check-prefix=OTHERS

// CHECK: kernel [[NORM:llmc_rms_norm_512_[0-9a-f]+]] kind=rms_norm
// CHECK: kernel [[QUANT:llmc_quantize_dynamic_512_[0-9a-f]+]] kind=quantize_dynamic
// CHECK: kernel [[GEMM:llmc_gemm_f8e4m3_1024x512_[0-9a-f]+]] kind=gemm_fp8
// CHECK: // ----- [[NORM]].ptx
// CHECK: .target sm_90{{$}}
// CHECK: .entry [[NORM]](
// CHECK-NOT: e4m3
// CHECK: // ----- [[QUANT]].ptx
// CHECK: .target sm_90{{$}}
// CHECK: .entry [[QUANT]](
// CHECK: cvt.rn.satfinite.e4m3x2.f32
// CHECK: // ----- [[GEMM]].ptx
// CHECK: .entry [[GEMM]](
// CHECK-COUNT-4: mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32
// ASSEMBLED: 3
// OTHERS: 1
// OTHERS-NEXT: 1

module {
  plan.arena @activations kind = activations size = 16777216 alignment = 256
  plan.arena @weights kind = weights size = 16777216 alignment = 4096
  plan.rank 0 {
    %h = plan.slice @activations[0] {plan.token_rows} : memref<64x512xbf16>
    %ln = plan.slice @weights[0] {plan.weight = "ln"} : memref<512xbf16>
    %x = plan.slice @activations[65536] {plan.token_rows} : memref<64x512xbf16>
    plan.compute "rms_norm"(%h, %ln : memref<64x512xbf16>, memref<512xbf16> -> %x : memref<64x512xbf16>) {epsilon = 1.000000e-05 : f64}
    %xq = plan.slice @activations[131072] {plan.token_rows} : memref<64x512xf8E4M3FN>
    %xs = plan.slice @activations[196608] {plan.token_rows} : memref<64x1xf32>
    plan.compute "quantize_dynamic"(%x : memref<64x512xbf16> -> %xq, %xs : memref<64x512xf8E4M3FN>, memref<64x1xf32>)
    %w = plan.slice @weights[4096] {plan.weight = "w"} : memref<1024x512xf8E4M3FN>
    %ws = plan.slice @weights[1052672] {plan.weight = "w.scale"} : memref<1024x1xf32>
    %y = plan.slice @activations[262144] {plan.token_rows} : memref<64x1024xbf16>
    plan.gemm generated %xq, %w into %y transpose_b scale_a(%xs : memref<64x1xf32>) scale_b(%ws : memref<1024x1xf32>) : memref<64x512xf8E4M3FN>, memref<1024x512xf8E4M3FN>, memref<64x1024xbf16>
  }
}
