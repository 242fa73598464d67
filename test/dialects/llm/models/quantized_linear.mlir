// W8A8 INT8 as the quantization pass will write it: per-token activation
// scales [?, 1], per-channel weight scales, i8 x i8 -> i32, then dequantization
// of the accumulator with the outer product of both scales [?, 32].
// Also an FP8 (E4M3) linear with a per-tensor activation scale.
// RUN: llmc-opt %s | llmc-opt --canonicalize | FileCheck %s

// CHECK-LABEL: func.func @w8a8
func.func @w8a8(%x: tensor<?x64xbf16>, %x_scale: tensor<?x1xf32>, %out_scale: tensor<?x32xf32>) -> tensor<?x32xbf16> {
  // CHECK: %[[XQ:.+]] = llm.quantize {{.+}} -> tensor<?x64xi8>
  // CHECK: %[[ACC:.+]] = llm.linear %[[XQ]], %{{.+}} : tensor<?x64xi8>, tensor<32x64xi8> -> tensor<?x32xi32>
  // CHECK: llm.dequantize %[[ACC]], %{{.+}} : tensor<?x32xi32>, tensor<?x32xf32> -> tensor<?x32xbf16>
  %w = llm.weight @layers.0.mlp.down_proj.weight.int8 : tensor<32x64xi8>
  %xq = llm.quantize %x, %x_scale : tensor<?x64xbf16>, tensor<?x1xf32> -> tensor<?x64xi8>
  %acc = llm.linear %xq, %w : tensor<?x64xi8>, tensor<32x64xi8> -> tensor<?x32xi32>
  %y = llm.dequantize %acc, %out_scale : tensor<?x32xi32>, tensor<?x32xf32> -> tensor<?x32xbf16>
  return %y : tensor<?x32xbf16>
}

// CHECK-LABEL: func.func @fp8
func.func @fp8(%x: tensor<?x64xbf16>, %x_scale: tensor<f32>) -> tensor<?x32xbf16> {
  // CHECK: llm.quantize {{.+}} : tensor<?x64xbf16>, tensor<f32> -> tensor<?x64xf8E4M3FN>
  // CHECK: llm.linear {{.+}} : tensor<?x64xf8E4M3FN>, tensor<32x64xf8E4M3FN> -> tensor<?x32xbf16>
  %w = llm.weight @layers.0.mlp.down_proj.weight.fp8 : tensor<32x64xf8E4M3FN>
  %xq = llm.quantize %x, %x_scale : tensor<?x64xbf16>, tensor<f32> -> tensor<?x64xf8E4M3FN>
  %y = llm.linear %xq, %w : tensor<?x64xf8E4M3FN>, tensor<32x64xf8E4M3FN> -> tensor<?x32xbf16>
  return %y : tensor<?x32xbf16>
}
