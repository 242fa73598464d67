// RUN: llmc-opt %s --split-input-file --verify-diagnostics --llm-quantize="scheme=int8" | FileCheck %s

// INT8 W8A8: i8 weights with per-channel scales, i8 activations per token.
// CHECK-LABEL: func.func @w8a8
// CHECK: %[[W:.+]] = llm.weight @layers.0.o_proj.weight {llm.quant = {granularity = "channel", scale = "layers.0.o_proj.weight.scale", scheme = "int8_per_channel", symmetric = true}} : tensor<8x16xi8>
// CHECK: %[[S:.+]] = llm.weight @layers.0.o_proj.weight.scale {{.+}} : tensor<8x1xf32>
// CHECK: %[[XQ:.+]], %[[XS:.+]] = llm.quantize_dynamic %{{.+}} : tensor<?x2x16xbf16> -> tensor<?x2x16xi8>, tensor<?x2x1xf32>
// CHECK: llm.linear %[[XQ]], %[[W]] scales(%[[XS]], %[[S]] : tensor<?x2x1xf32>, tensor<8x1xf32>) : tensor<?x2x16xi8>, tensor<8x16xi8> -> tensor<?x2x8xbf16>
func.func @w8a8(%x: tensor<?x2x16xbf16>) -> tensor<?x2x8xbf16> {
  %w = llm.weight @layers.0.o_proj.weight : tensor<8x16xbf16>
  %y = llm.linear %x, %w : tensor<?x2x16xbf16>, tensor<8x16xbf16> -> tensor<?x2x8xbf16>
  return %y : tensor<?x2x8xbf16>
}

// -----
// A weight read twice (a tied LM head over the embedding table) stays float;
// the other linear is quantized.
// CHECK-LABEL: func.func @kept
// CHECK: llm.embedding
// CHECK: llm.linear %{{.+}}, %{{.+}} : tensor<?x8xbf16>, tensor<32x8xbf16> -> tensor<?x32xbf16>
// CHECK: %[[WU:.+]] = llm.weight @mlp.up.weight {{.+}} : tensor<4x8xi8>
func.func @kept(%ids: tensor<?xi32>, %x: tensor<?x8xbf16>) -> (tensor<?x32xbf16>, tensor<?x4xbf16>) {
  %table = llm.weight @model.table : tensor<32x8xbf16>
  %e = llm.embedding %table[%ids] : tensor<32x8xbf16>, tensor<?xi32> -> tensor<?x8xbf16>
  // expected-remark @+1 {{llm-quantize: weight @model.table is read by more than this linear; it stays in high precision}}
  %l = llm.linear %e, %table : tensor<?x8xbf16>, tensor<32x8xbf16> -> tensor<?x32xbf16>
  %wu = llm.weight @mlp.up.weight : tensor<4x8xbf16>
  %u = llm.linear %x, %wu : tensor<?x8xbf16>, tensor<4x8xbf16> -> tensor<?x4xbf16>
  return %l, %u : tensor<?x32xbf16>, tensor<?x4xbf16>
}
