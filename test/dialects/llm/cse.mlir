// RUN: llmc-opt %s --split-input-file --cse | FileCheck %s

// Two references to one weight, and two equal pure computations, become one.
// CHECK-LABEL: func.func @pure_ops_merge
// CHECK-COUNT-1: llm.weight @model.norm.weight
// CHECK-COUNT-1: llm.rms_norm
// CHECK-NOT: llm.rms_norm
func.func @pure_ops_merge(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %w0 = llm.weight @model.norm.weight : tensor<64xf32>
  %w1 = llm.weight @model.norm.weight : tensor<64xf32>
  %a = llm.rms_norm %x, %w0 epsilon = 1.0e-5 : tensor<?x64xf32>, tensor<64xf32>
  %b = llm.rms_norm %x, %w1 epsilon = 1.0e-5 : tensor<?x64xf32>, tensor<64xf32>
  return %a, %b : tensor<?x64xf32>, tensor<?x64xf32>
}

// -----
// Different weights with the same type stay apart.
// CHECK-LABEL: func.func @different_weights
// CHECK: llm.weight @a
// CHECK: llm.weight @b
func.func @different_weights() -> (tensor<64xf32>, tensor<64xf32>) {
  %a = llm.weight @a : tensor<64xf32>
  %b = llm.weight @b : tensor<64xf32>
  return %a, %b : tensor<64xf32>, tensor<64xf32>
}

// -----
// Two identical attention steps each append to the KV cache: both stay.
// CHECK-LABEL: func.func @attention_not_merged
// CHECK-COUNT-2: llm.attention
func.func @attention_not_merged(%q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %b: !llm.batch) -> (tensor<?x4x16xf32>, tensor<?x4x16xf32>) {
  %0 = llm.attention %q, %k, %k, %b {layer = 0 : i64, scale = 0.25 : f64} : tensor<?x4x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32> -> tensor<?x4x16xf32>
  %1 = llm.attention %q, %k, %k, %b {layer = 0 : i64, scale = 0.25 : f64} : tensor<?x4x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32> -> tensor<?x4x16xf32>
  return %0, %1 : tensor<?x4x16xf32>, tensor<?x4x16xf32>
}

// -----
// Two identical all_reduces are two rounds of communication: both stay.
// CHECK-LABEL: func.func @collectives_not_merged
// CHECK-COUNT-2: llm.all_reduce
func.func @collectives_not_merged(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %0 = llm.all_reduce sum %x group = [0, 1] : tensor<?x64xf32>
  %1 = llm.all_reduce sum %x group = [0, 1] : tensor<?x64xf32>
  return %0, %1 : tensor<?x64xf32>, tensor<?x64xf32>
}

// -----
// Q, K and V quantized dynamically by llm-quantize read one activation: the
// per-token quantization is computed once for all three.
// CHECK-LABEL: func.func @quantize_dynamic_merges
// CHECK-COUNT-1: llm.quantize_dynamic
// CHECK-NOT: llm.quantize_dynamic
func.func @quantize_dynamic_merges(%x: tensor<?x64xbf16>) -> (tensor<?x64xi8>, tensor<?x1xf32>, tensor<?x64xi8>, tensor<?x1xf32>) {
  %q0, %s0 = llm.quantize_dynamic %x : tensor<?x64xbf16> -> tensor<?x64xi8>, tensor<?x1xf32>
  %q1, %s1 = llm.quantize_dynamic %x : tensor<?x64xbf16> -> tensor<?x64xi8>, tensor<?x1xf32>
  return %q0, %s0, %q1, %s1 : tensor<?x64xi8>, tensor<?x1xf32>, tensor<?x64xi8>, tensor<?x1xf32>
}
