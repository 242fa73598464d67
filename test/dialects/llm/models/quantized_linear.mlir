// W8A8 as the quantization pass writes it: INT8 with per-token dynamic
// activation scales and per-channel weight scales, the scales applied by the
// linear itself; FP8 (E4M3) with a static per-tensor activation scale; and
// weight-only INT4, a dequantized weight feeding a float linear.
// RUN: llmc-opt %s | llmc-opt --canonicalize | FileCheck %s

// CHECK-LABEL: func.func @w8a8
func.func @w8a8(%x: tensor<?x64xbf16>) -> tensor<?x32xbf16> {
  // CHECK: %[[XQ:.+]], %[[SX:.+]] = llm.quantize_dynamic %{{.+}} : tensor<?x64xbf16> -> tensor<?x64xi8>, tensor<?x1xf32>
  // CHECK: llm.linear %[[XQ]], %{{.+}} scales(%[[SX]], %{{.+}} : tensor<?x1xf32>, tensor<32x1xf32>) : tensor<?x64xi8>, tensor<32x64xi8> -> tensor<?x32xbf16>
  %w = llm.weight @layers.0.mlp.down_proj.weight : tensor<32x64xi8>
  %sw = llm.weight @layers.0.mlp.down_proj.weight.scale : tensor<32x1xf32>
  %xq, %sx = llm.quantize_dynamic %x : tensor<?x64xbf16> -> tensor<?x64xi8>, tensor<?x1xf32>
  %y = llm.linear %xq, %w scales(%sx, %sw : tensor<?x1xf32>, tensor<32x1xf32>) : tensor<?x64xi8>, tensor<32x64xi8> -> tensor<?x32xbf16>
  return %y : tensor<?x32xbf16>
}

// CHECK-LABEL: func.func @fp8
func.func @fp8(%x: tensor<?x64xbf16>) -> tensor<?x32xbf16> {
  // CHECK: llm.quantize {{.+}} : tensor<?x64xbf16>, tensor<f32> -> tensor<?x64xf8E4M3FN>
  // CHECK: llm.linear {{.+}} scales({{.+}} : tensor<f32>, tensor<32x1xf32>) : tensor<?x64xf8E4M3FN>, tensor<32x64xf8E4M3FN> -> tensor<?x32xbf16>
  %w = llm.weight @layers.0.mlp.down_proj.weight : tensor<32x64xf8E4M3FN>
  %sw = llm.weight @layers.0.mlp.down_proj.weight.scale : tensor<32x1xf32>
  %sx = llm.weight @layers.0.mlp.down_proj.weight.input_scale : tensor<f32>
  %xq = llm.quantize %x, %sx : tensor<?x64xbf16>, tensor<f32> -> tensor<?x64xf8E4M3FN>
  %y = llm.linear %xq, %w scales(%sx, %sw : tensor<f32>, tensor<32x1xf32>) : tensor<?x64xf8E4M3FN>, tensor<32x64xf8E4M3FN> -> tensor<?x32xbf16>
  return %y : tensor<?x32xbf16>
}

// CHECK-LABEL: func.func @w4a16
func.func @w4a16(%x: tensor<?x256xbf16>) -> tensor<?x32xbf16> {
  // CHECK: %[[W:.+]] = llm.dequantize {{.+}} : tensor<32x256xi4>, tensor<32x2xf32>, tensor<32x2xi8> -> tensor<32x256xbf16>
  // CHECK: llm.linear %{{.+}}, %[[W]] : tensor<?x256xbf16>, tensor<32x256xbf16> -> tensor<?x32xbf16>
  %q = llm.weight @layers.0.mlp.down_proj.weight : tensor<32x256xi4>
  %s = llm.weight @layers.0.mlp.down_proj.weight.scale : tensor<32x2xf32>
  %z = llm.weight @layers.0.mlp.down_proj.weight.zero_point : tensor<32x2xi8>
  %w = llm.dequantize %q, %s, %z : tensor<32x256xi4>, tensor<32x2xf32>, tensor<32x2xi8> -> tensor<32x256xbf16>
  %y = llm.linear %x, %w : tensor<?x256xbf16>, tensor<32x256xbf16> -> tensor<?x32xbf16>
  return %y : tensor<?x32xbf16>
}
