// RUN: llmc-opt %s --split-input-file --canonicalize | FileCheck %s

// x + 0 is x, whichever side the zero is on.
// CHECK-LABEL: func.func @add_zero
// CHECK-SAME: (%[[X:.+]]: tensor<8x64xbf16>)
// CHECK-NEXT: return %[[X]], %[[X]]
func.func @add_zero(%x: tensor<8x64xbf16>) -> (tensor<8x64xbf16>, tensor<8x64xbf16>) {
  %zero = arith.constant dense<0.0> : tensor<8x64xbf16>
  %0 = llm.add %x, %zero : tensor<8x64xbf16>
  %1 = llm.add %zero, %x : tensor<8x64xbf16>
  return %0, %1 : tensor<8x64xbf16>, tensor<8x64xbf16>
}

// -----
// Adding a non-zero constant stays.
// CHECK-LABEL: func.func @add_nonzero
// CHECK: %[[C:.+]] = arith.constant dense<5.000000e-01>
// CHECK: llm.add %{{.+}}, %[[C]]
func.func @add_nonzero(%x: tensor<4xf32>) -> tensor<4xf32> {
  %half = arith.constant dense<0.5> : tensor<4xf32>
  %0 = llm.add %x, %half : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----
// x * 1 is x.
// CHECK-LABEL: func.func @mul_one
// CHECK-SAME: (%[[X:.+]]: tensor<4x64xf16>)
// CHECK-NEXT: return %[[X]], %[[X]]
func.func @mul_one(%x: tensor<4x64xf16>) -> (tensor<4x64xf16>, tensor<4x64xf16>) {
  %one = arith.constant dense<1.0> : tensor<4x64xf16>
  %0 = llm.mul %x, %one : tensor<4x64xf16>
  %1 = llm.mul %one, %x : tensor<4x64xf16>
  return %0, %1 : tensor<4x64xf16>, tensor<4x64xf16>
}

// -----
// Multiplying by a non-splat or non-one constant stays (Gemma's sqrt(hidden) scaling).
// CHECK-LABEL: func.func @mul_scale
// CHECK-COUNT-2: llm.mul
func.func @mul_scale(%x: tensor<2xf32>) -> (tensor<2xf32>, tensor<2xf32>) {
  %scale = arith.constant dense<24.0> : tensor<2xf32>
  %mixed = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %0 = llm.mul %x, %scale : tensor<2xf32>
  %1 = llm.mul %x, %mixed : tensor<2xf32>
  return %0, %1 : tensor<2xf32>, tensor<2xf32>
}

// -----
// Requantizing a dequantized tensor with the same scale gives the original back.
// CHECK-LABEL: func.func @quantize_of_dequantize
// CHECK-SAME: (%[[Q:.+]]: tensor<32x64xf8E4M3FN>, %[[S:.+]]: tensor<32x1xf32>)
// CHECK-NEXT: return %[[Q]]
func.func @quantize_of_dequantize(%q: tensor<32x64xf8E4M3FN>, %s: tensor<32x1xf32>) -> tensor<32x64xf8E4M3FN> {
  %d = llm.dequantize %q, %s : tensor<32x64xf8E4M3FN>, tensor<32x1xf32> -> tensor<32x64xbf16>
  %r = llm.quantize %d, %s : tensor<32x64xbf16>, tensor<32x1xf32> -> tensor<32x64xf8E4M3FN>
  return %r : tensor<32x64xf8E4M3FN>
}

// -----
// The same with zero points (asymmetric int4).
// CHECK-LABEL: func.func @quantize_of_dequantize_zero_point
// CHECK-SAME: (%[[Q:.+]]: tensor<8x256xi4>
// CHECK-NEXT: return %[[Q]]
func.func @quantize_of_dequantize_zero_point(%q: tensor<8x256xi4>, %s: tensor<8x2xf16>, %z: tensor<8x2xi8>) -> tensor<8x256xi4> {
  %d = llm.dequantize %q, %s, %z : tensor<8x256xi4>, tensor<8x2xf16>, tensor<8x2xi8> -> tensor<8x256xf16>
  %r = llm.quantize %d, %s, %z : tensor<8x256xf16>, tensor<8x2xf16>, tensor<8x2xi8> -> tensor<8x256xi4>
  return %r : tensor<8x256xi4>
}

// -----
// A different scale, or a different target type, changes the values: no fold.
// CHECK-LABEL: func.func @quantize_of_dequantize_other_scale
// CHECK: llm.dequantize
// CHECK: llm.quantize
// CHECK: llm.quantize
func.func @quantize_of_dequantize_other_scale(%q: tensor<32x64xi8>, %s: tensor<32x1xf32>, %t: tensor<32x1xf32>) -> (tensor<32x64xi8>, tensor<32x64xf8E4M3FN>) {
  %d = llm.dequantize %q, %s : tensor<32x64xi8>, tensor<32x1xf32> -> tensor<32x64xf32>
  %r = llm.quantize %d, %t : tensor<32x64xf32>, tensor<32x1xf32> -> tensor<32x64xi8>
  %f = llm.quantize %d, %s : tensor<32x64xf32>, tensor<32x1xf32> -> tensor<32x64xf8E4M3FN>
  return %r, %f : tensor<32x64xi8>, tensor<32x64xf8E4M3FN>
}

// -----
// Reshaping to the same type is nothing; two reshapes are one.
// CHECK-LABEL: func.func @reshapes
// CHECK-SAME: (%[[X:.+]]: tensor<?x576xbf16>)
// CHECK-NEXT: %[[R:.+]] = llm.reshape %[[X]] : tensor<?x576xbf16> -> tensor<?x9x64xbf16>
// CHECK-NEXT: return %[[X]], %[[R]]
func.func @reshapes(%x: tensor<?x576xbf16>) -> (tensor<?x576xbf16>, tensor<?x9x64xbf16>) {
  %0 = llm.reshape %x : tensor<?x576xbf16> -> tensor<?x576xbf16>
  %1 = llm.reshape %0 : tensor<?x576xbf16> -> tensor<?x3x192xbf16>
  %2 = llm.reshape %1 : tensor<?x3x192xbf16> -> tensor<?x9x64xbf16>
  return %0, %2 : tensor<?x576xbf16>, tensor<?x9x64xbf16>
}

// -----
// Reshaping there and back is nothing.
// CHECK-LABEL: func.func @reshape_round_trip
// CHECK-SAME: (%[[X:.+]]: tensor<?x64xf32>)
// CHECK-NEXT: return %[[X]]
func.func @reshape_round_trip(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %0 = llm.reshape %x : tensor<?x64xf32> -> tensor<?x4x16xf32>
  %1 = llm.reshape %0 : tensor<?x4x16xf32> -> tensor<?x64xf32>
  return %1 : tensor<?x64xf32>
}

// -----
// Collectives over a single rank are identities.
// CHECK-LABEL: func.func @single_rank_collectives
// CHECK-SAME: (%[[X:.+]]: tensor<?x64xf32>)
// CHECK-NEXT: return %[[X]], %[[X]]
func.func @single_rank_collectives(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %0 = llm.all_reduce sum %x group = [0] : tensor<?x64xf32>
  %1 = llm.all_gather %x axis = 1 group = [3] : tensor<?x64xf32> -> tensor<?x64xf32>
  return %0, %1 : tensor<?x64xf32>, tensor<?x64xf32>
}

// -----
// Collectives over several ranks stay, even when their results are unused:
// every rank of the group must reach them.
// CHECK-LABEL: func.func @multi_rank_collectives
// CHECK: llm.all_reduce sum
// CHECK: llm.all_gather
// CHECK: llm.all_reduce max
func.func @multi_rank_collectives(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x128xf32>) {
  %0 = llm.all_reduce sum %x group = [0, 1] : tensor<?x64xf32>
  %1 = llm.all_gather %x axis = 1 group = [0, 1] : tensor<?x64xf32> -> tensor<?x128xf32>
  %2 = llm.all_reduce max %x group = [0, 1] : tensor<?x64xf32>
  return %0, %1 : tensor<?x64xf32>, tensor<?x128xf32>
}

// -----
// A fused group that only forwards its inputs is replaced by them.
// CHECK-LABEL: func.func @fused_forwarding
// CHECK-SAME: (%[[A:.+]]: tensor<4xf32>, %[[B:.+]]: tensor<4xf32>)
// CHECK-NEXT: return %[[B]], %[[A]]
func.func @fused_forwarding(%a: tensor<4xf32>, %b: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %0:2 = llm.fused ins(%a, %b : tensor<4xf32>, tensor<4xf32>) {
  ^bb0(%x: tensor<4xf32>, %y: tensor<4xf32>):
    llm.yield %y, %x : tensor<4xf32>, tensor<4xf32>
  } -> tensor<4xf32>, tensor<4xf32>
  return %0#0, %0#1 : tensor<4xf32>, tensor<4xf32>
}

// -----
// A fused group that computes something stays.
// CHECK-LABEL: func.func @fused_computing
// CHECK: llm.fused
// CHECK: llm.silu
func.func @fused_computing(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = llm.fused ins(%a : tensor<4xf32>) {
  ^bb0(%x: tensor<4xf32>):
    %s = llm.silu %x : tensor<4xf32>
    llm.yield %s : tensor<4xf32>
  } -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----
// Unused pure ops vanish; attention writes the KV cache and stays.
// CHECK-LABEL: func.func @dead_code
// CHECK-NOT: llm.weight
// CHECK-NOT: llm.silu
// CHECK: llm.attention
// CHECK-NEXT: return
func.func @dead_code(%q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %b: !llm.batch) {
  %w = llm.weight @unused : tensor<16xf32>
  %s = llm.silu %q : tensor<?x4x16xf32>
  %o = llm.attention %q, %k, %k, %b {layer = 0 : i64, scale = 0.25 : f64}
      : tensor<?x4x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32> -> tensor<?x4x16xf32>
  return
}

// -----
// Scaling by exactly one is nothing; any other factor stays.
// CHECK-LABEL: func.func @scale
// CHECK-SAME: (%[[X:.+]]: tensor<?x64xf32>)
// CHECK-NEXT: %[[S:.+]] = llm.scale %[[X]] by 8.000000e+00
// CHECK-NEXT: return %[[X]], %[[S]]
func.func @scale(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %0 = llm.scale %x by 1.0 : tensor<?x64xf32>
  %1 = llm.scale %x by 8.0 : tensor<?x64xf32>
  return %0, %1 : tensor<?x64xf32>, tensor<?x64xf32>
}
