// RUN: llmc-opt %s | llmc-opt | FileCheck %s

// Every plan op parsed, printed and re-parsed: a two-rank tensor-parallel
// decoder step with a pipeline hand-off.

// CHECK: plan.arena @act kind = activations size = 1048576 alignment = 256
plan.arena @act kind = activations size = 1048576 alignment = 256
// CHECK: plan.arena @kv kind = kv_cache size = 65536 alignment = 256
plan.arena @kv kind = kv_cache size = 65536 alignment = 256
// CHECK: plan.arena @weights kind = weights size = 16777216 alignment = 4096
plan.arena @weights kind = weights size = 16777216 alignment = 4096
// CHECK: plan.arena @io kind = host size = 4096 alignment = 64
plan.arena @io kind = host size = 4096 alignment = 64

// CHECK: plan.kernel @silu entry = "silu_576" kind = "silu" source_hash = "9f2c41d0"
plan.kernel @silu entry = "silu_576" kind = "silu" source_hash = "9f2c41d0"
// CHECK: plan.kernel @rope entry = "rope_kv_write_0"{{$}}
plan.kernel @rope entry = "rope_kv_write_0"

// CHECK-LABEL: plan.rank 0 {
plan.rank 0 {
  // CHECK: %[[IDS:.+]] = plan.slice @io[0] : memref<16xi32>
  %ids = plan.slice @io[0] : memref<16xi32>
  // CHECK: plan.host "copy_tokens_in"(%[[IDS]] : memref<16xi32>)
  plan.host "copy_tokens_in"(%ids : memref<16xi32>)
  // CHECK: %[[X:.+]] = plan.slice @act[0] : memref<16x576xbf16>
  %x = plan.slice @act[0] : memref<16x576xbf16>
  // CHECK: %[[Y:.+]] = plan.slice @act[18432] : memref<16x576xbf16>
  %y = plan.slice @act[18432] : memref<16x576xbf16>
  // CHECK: plan.launch @silu grid = [16, 1, 1] block = [256, 1, 1] args(%[[X]], %[[Y]] : memref<16x576xbf16>, memref<16x576xbf16>)
  plan.launch @silu grid = [16, 1, 1] block = [256, 1, 1]
      args(%x, %y : memref<16x576xbf16>, memref<16x576xbf16>)
  // The default shared_bytes = 0 is not printed; args are optional.
  // CHECK: plan.launch @rope grid = [4, 2, 1] block = [32, 4, 2] shared_bytes = 1024{{$}}
  plan.launch @rope grid = [4, 2, 1] block = [32, 4, 2] shared_bytes = 1024
  // CHECK: plan.launch @rope grid = [1, 1, 1] block = [1, 1, 1]{{$}}
  plan.launch @rope grid = [1, 1, 1] block = [1, 1, 1] shared_bytes = 0

  // FP8 GEMM with per-token and per-channel scales (nn.Linear layout).
  // CHECK: %[[A8:.+]] = plan.slice @act[65536] : memref<16x4096xf8E4M3FN>
  %a8 = plan.slice @act[65536] : memref<16x4096xf8E4M3FN>
  // CHECK: %[[W8:.+]] = plan.slice @weights[0] : memref<1024x4096xf8E4M3FN>
  %w8 = plan.slice @weights[0] : memref<1024x4096xf8E4M3FN>
  // CHECK: %[[C:.+]] = plan.slice @act[131072] : memref<16x1024xbf16>
  %c = plan.slice @act[131072] : memref<16x1024xbf16>
  // CHECK: %[[SA:.+]] = plan.slice @act[163840] : memref<16xf32>
  %sa = plan.slice @act[163840] : memref<16xf32>
  // CHECK: %[[SB:.+]] = plan.slice @act[163904] : memref<1024xf32>
  %sb = plan.slice @act[163904] : memref<1024xf32>
  // CHECK: plan.gemm cublaslt %[[A8]], %[[W8]] into %[[C]] transpose_b scale_a(%[[SA]] : memref<16xf32>) scale_b(%[[SB]] : memref<1024xf32>) : memref<16x4096xf8E4M3FN>, memref<1024x4096xf8E4M3FN>, memref<16x1024xbf16>
  plan.gemm cublaslt %a8, %w8 into %c transpose_b scale_a(%sa : memref<16xf32>)
      scale_b(%sb : memref<1024xf32>)
      : memref<16x4096xf8E4M3FN>, memref<1024x4096xf8E4M3FN>, memref<16x1024xbf16>

  // INT8 GEMM into the raw i32 accumulator; mixed f8 inputs; float GEMM with
  // alpha and beta in the [K, N] layout.
  // CHECK: %[[I8A:.+]] = plan.slice @act[180224] : memref<16x64xi8>
  %i8a = plan.slice @act[180224] : memref<16x64xi8>
  // CHECK: %[[I8B:.+]] = plan.slice @weights[4194304] : memref<32x64xi8>
  %i8b = plan.slice @weights[4194304] : memref<32x64xi8>
  // CHECK: %[[ACC:.+]] = plan.slice @act[181248] : memref<16x32xi32>
  %acc = plan.slice @act[181248] : memref<16x32xi32>
  // CHECK: plan.gemm generated %[[I8A]], %[[I8B]] into %[[ACC]] transpose_b : memref<16x64xi8>, memref<32x64xi8>, memref<16x32xi32>
  plan.gemm generated %i8a, %i8b into %acc transpose_b
      : memref<16x64xi8>, memref<32x64xi8>, memref<16x32xi32>
  // CHECK: %[[E5:.+]] = plan.slice @weights[4196352] : memref<4096x1024xf8E5M2>
  %e5 = plan.slice @weights[4196352] : memref<4096x1024xf8E5M2>
  // CHECK: plan.gemm cublaslt %[[A8]], %[[E5]] into %[[C]] : memref<16x4096xf8E4M3FN>, memref<4096x1024xf8E5M2>, memref<16x1024xbf16>
  plan.gemm cublaslt %a8, %e5 into %c
      : memref<16x4096xf8E4M3FN>, memref<4096x1024xf8E5M2>, memref<16x1024xbf16>
  // Weight-only INT4, group-wise scales and zero points; per-channel INT8
  // scales shaped [N, 1] and a per-token [M, 1] scale_a.
  // CHECK: %[[W4:.+]] = plan.slice @weights[8388608] : memref<32x576xi4>
  %wq4 = plan.slice @weights[8388608] : memref<32x576xi4>
  // CHECK: %[[S4:.+]] = plan.slice @weights[8400896] : memref<32x9xf32>
  %s4 = plan.slice @weights[8400896] : memref<32x9xf32>
  // CHECK: %[[Z4:.+]] = plan.slice @weights[8404992] : memref<32x9xi8>
  %z4 = plan.slice @weights[8404992] : memref<32x9xi8>
  // CHECK: %[[Y4:.+]] = plan.slice @act[229376] : memref<16x32xbf16>
  %y4 = plan.slice @act[229376] : memref<16x32xbf16>
  // CHECK: plan.gemm cpu %[[X]], %[[W4]] into %[[Y4]] transpose_b scale_b(%[[S4]] : memref<32x9xf32>) zero_b(%[[Z4]] : memref<32x9xi8>) : memref<16x576xbf16>, memref<32x576xi4>, memref<16x32xbf16>
  plan.gemm cpu %x, %wq4 into %y4 transpose_b scale_b(%s4 : memref<32x9xf32>)
      zero_b(%z4 : memref<32x9xi8>) : memref<16x576xbf16>, memref<32x576xi4>, memref<16x32xbf16>
  // CHECK: %[[SAT:.+]] = plan.slice @act[230400] : memref<16x1xf32>
  %sat = plan.slice @act[230400] : memref<16x1xf32>
  // CHECK: %[[SBC:.+]] = plan.slice @weights[8409088] : memref<32x1xf32>
  %sbc = plan.slice @weights[8409088] : memref<32x1xf32>
  // CHECK: plan.gemm cpu %[[I8A]], %[[I8B]] into %[[Y4]] transpose_b scale_a(%[[SAT]] : memref<16x1xf32>) scale_b(%[[SBC]] : memref<32x1xf32>) : memref<16x64xi8>, memref<32x64xi8>, memref<16x32xbf16>
  plan.gemm cpu %i8a, %i8b into %y4 transpose_b scale_a(%sat : memref<16x1xf32>)
      scale_b(%sbc : memref<32x1xf32>) : memref<16x64xi8>, memref<32x64xi8>, memref<16x32xbf16>
  // CHECK: %[[F:.+]] = plan.slice @act[186368] : memref<576x16xbf16>
  %f = plan.slice @act[186368] : memref<576x16xbf16>
  // CHECK: %[[G:.+]] = plan.slice @act[204800] : memref<16x16xf32>
  %g = plan.slice @act[204800] : memref<16x16xf32>
  // CHECK: plan.gemm cpu %[[X]], %[[F]] into %[[G]] alpha = 5.000000e-01 beta = 1.000000e+00 : memref<16x576xbf16>, memref<576x16xbf16>, memref<16x16xf32>
  plan.gemm cpu %x, %f into %g alpha = 0.5 beta = 1.0
      : memref<16x576xbf16>, memref<576x16xbf16>, memref<16x16xf32>

  // i4 buffers take half a byte per element and need no alignment.
  // CHECK: plan.slice @weights[4200449] : memref<7x3xi4>
  %w4 = plan.slice @weights[4200449] : memref<7x3xi4>

  // CHECK: plan.collective all_reduce %[[C]] reduction = sum group = [0, 1] : memref<16x1024xbf16>
  plan.collective all_reduce %c reduction = sum group = [0, 1] : memref<16x1024xbf16>
  // CHECK: plan.collective all_reduce %[[C]] into %[[C2:.+]] reduction = max group = [1, 0] : memref<16x1024xbf16>, memref<16x1024xbf16>
  %c2 = plan.slice @act[229376] : memref<16x1024xbf16>
  plan.collective all_reduce %c into %c2 reduction = max group = [1, 0]
      : memref<16x1024xbf16>, memref<16x1024xbf16>
  // CHECK: plan.collective all_reduce %[[C]] reduction = min group = [0] : memref<16x1024xbf16>
  plan.collective all_reduce %c reduction = min group = [0] : memref<16x1024xbf16>
  // CHECK: plan.collective all_gather %[[C]] into %[[FULL:.+]] axis = 1 group = [0, 1] : memref<16x1024xbf16>, memref<16x2048xbf16>
  %full = plan.slice @act[262144] : memref<16x2048xbf16>
  plan.collective all_gather %c into %full axis = 1 group = [0, 1]
      : memref<16x1024xbf16>, memref<16x2048xbf16>
  // CHECK: plan.collective all_gather %[[FULL]] axis = 0 group = [0, 1] : memref<16x2048xbf16>
  plan.collective all_gather %full axis = 0 group = [0, 1] : memref<16x2048xbf16>
  // CHECK: plan.collective send %[[Y]] peer = 1 group = [0, 1] : memref<16x576xbf16>
  plan.collective send %y peer = 1 group = [0, 1] : memref<16x576xbf16>

  // CHECK: plan.host "sample"(%[[G]], %[[IDS]] : memref<16x16xf32>, memref<16xi32>) {top_k = 40 : i64}
  plan.host "sample"(%g, %ids : memref<16x16xf32>, memref<16xi32>) {top_k = 40 : i64}
  // CHECK: plan.host "flush"(){{$}}
  plan.host "flush"()

  // A view: the same bytes under another shape, or a part of a buffer.
  // CHECK: %[[Y3:.+]] = plan.slice @act[18432] view(%[[Y]] : memref<16x576xbf16>) : memref<16x9x64xbf16>
  %y3 = plan.slice @act[18432] view(%y : memref<16x576xbf16>) : memref<16x9x64xbf16>
  // CHECK: plan.slice @act[19456] view(%[[Y3]] : memref<16x9x64xbf16>) : memref<64xbf16>
  %row = plan.slice @act[19456] view(%y3 : memref<16x9x64xbf16>) : memref<64xbf16>

  // Backend-neutral steps: parameters are integers, floats and strings;
  // dialect-prefixed annotations may be anything; inputs are optional.
  // CHECK: plan.compute "rms_norm"(%[[X]], %[[Y]] : memref<16x576xbf16>, memref<16x576xbf16> -> %[[Y3]] : memref<16x9x64xbf16>) {epsilon = 1.000000e-05 : f64, plan.note = [1, 2], style = "half"}
  plan.compute "rms_norm"(%x, %y : memref<16x576xbf16>, memref<16x576xbf16>
      -> %y3 : memref<16x9x64xbf16>) {epsilon = 1.0e-05 : f64, style = "half", plan.note = [1, 2]}
  // CHECK: plan.compute "fill"( -> %[[X]], %[[Y]] : memref<16x576xbf16>, memref<16x576xbf16>){{$}}
  plan.compute "fill"(-> %x, %y : memref<16x576xbf16>, memref<16x576xbf16>)
}

// CHECK-LABEL: plan.rank 1 {
plan.rank 1 {
  // CHECK: %[[H:.+]] = plan.slice @act[0] : memref<16x576xbf16>
  %h = plan.slice @act[0] : memref<16x576xbf16>
  // CHECK: plan.collective recv %[[H]] peer = 0 group = [0, 1] : memref<16x576xbf16>
  plan.collective recv %h peer = 0 group = [0, 1] : memref<16x576xbf16>
}

// An idle rank has an empty plan.
// CHECK-LABEL: plan.rank 2 {
// CHECK-NEXT: }
plan.rank 2 {
}

// Attributes of a rank are kept.
// CHECK-LABEL: plan.rank 3 attributes {stage = 1 : i64} {
plan.rank 3 attributes {stage = 1 : i64} {
}

// A step with the launches a GPU backend runs instead (#plan.launch): every
// field, and defaulted fields left out.
// CHECK-LABEL: plan.rank 4 {
plan.rank 4 {
  %x = plan.slice @act[0] : memref<16x576xbf16>
  %w = plan.slice @weights[0] : memref<576xbf16>
  %y = plan.slice @act[18432] : memref<16x576xbf16>
  // CHECK: plan.compute "rms_norm"
  // CHECK-SAME: plan.launches = [#plan.launch<kernel = @silu, grid = [16, 1, 1], block = [256, 1, 1], args = [0, 1, 2], grid_token_scale = [1, 1, 0, 1, 0, 1], token_args = [1], max_tokens = 4>, #plan.launch<kernel = @rope, grid = [16, 1, 1], block = [32, 1, 1], args = [2], extra_args = ["batch", "layer", "scratch"], shared_bytes = 128, scratch_bytes = 4096, min_tokens = 5>]
  plan.compute "rms_norm"(%x, %w : memref<16x576xbf16>, memref<576xbf16>
      -> %y : memref<16x576xbf16>) {epsilon = 1.0e-05 : f64, layer = 3 : i64,
      plan.launches = [
        #plan.launch<kernel = @silu, grid = [16, 1, 1],
                     block = [256, 1, 1], args = [0, 1, 2],
                     grid_token_scale = [1, 1, 0, 1, 0, 1],
                     token_args = [1], max_tokens = 4>,
        #plan.launch<kernel = @rope, grid = [16, 1, 1],
                     block = [32, 1, 1], args = [2],
                     extra_args = ["batch", "layer", "scratch"],
                     shared_bytes = 128, scratch_bytes = 4096, min_tokens = 5>]}
}
