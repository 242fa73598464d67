// RUN: llmc-opt %s --split-input-file --verify-diagnostics --llm-lower-to-plan="max-tokens=8" | FileCheck %s

// W8A8 with dynamic per-token activation scales: quantize_dynamic is a step
// with two outputs, the scaled linear a GEMM with scale_a [M, 1] and
// scale_b [N, 1]; the weight slice carries its quantization for the
// artifact's Tensor.quant.
// CHECK-LABEL: module attributes {test.case = "w8a8_dynamic"}
// CHECK: %[[X:.+]] = plan.slice @activations[0] {plan.input = "arg0", plan.token_rows} : memref<8x64xbf16>
// CHECK: %[[W:.+]] = plan.slice @weights[0] {plan.quant = {scale = "w.scale", scheme = "int8_per_channel"}, plan.weight = "w"} : memref<32x64xi8>
// CHECK: %[[SW:.+]] = plan.slice @weights[4096] {plan.weight = "w.scale"} : memref<32x1xf32>
// CHECK: %[[XQ:.+]] = plan.slice @activations[{{[0-9]+}}] {plan.token_rows} : memref<8x64xi8>
// CHECK: %[[SX:.+]] = plan.slice @activations[{{[0-9]+}}] {plan.token_rows} : memref<8x1xf32>
// CHECK: plan.compute "quantize_dynamic"(%[[X]] : memref<8x64xbf16> -> %[[XQ]], %[[SX]] : memref<8x64xi8>, memref<8x1xf32>)
// CHECK: %[[Y:.+]] = plan.slice @activations[{{[0-9]+}}] {plan.output = "logits", plan.token_rows} : memref<8x32xbf16>
// CHECK: plan.gemm cpu %[[XQ]], %[[W]] into %[[Y]] transpose_b scale_a(%[[SX]] : memref<8x1xf32>) scale_b(%[[SW]] : memref<32x1xf32>) : memref<8x64xi8>, memref<32x64xi8>, memref<8x32xbf16>
module attributes {test.case = "w8a8_dynamic"} {
  func.func @forward(%x: tensor<?x64xbf16>) -> tensor<?x32xbf16> {
    %w = llm.weight @w {llm.quant = {scheme = "int8_per_channel", granularity = "channel", symmetric = true, scale = "w.scale"}} : tensor<32x64xi8>
    %sw = llm.weight @w.scale {llm.derived = {of = "w", kind = "scale"}} : tensor<32x1xf32>
    %xq, %sx = llm.quantize_dynamic %x : tensor<?x64xbf16> -> tensor<?x64xi8>, tensor<?x1xf32>
    %y = llm.linear %xq, %w scales(%sx, %sw : tensor<?x1xf32>, tensor<32x1xf32>) : tensor<?x64xi8>, tensor<32x64xi8> -> tensor<?x32xbf16>
    return %y : tensor<?x32xbf16>
  }
}

// -----
// A [tokens, 2, 16] input and its [tokens, 2, 1] per-token scales are
// multiplied through [rows, 16] / [rows, 1] views.
// CHECK-LABEL: module attributes {test.case = "w8a8_rank3"}
// CHECK: plan.compute "quantize_dynamic"(%{{.+}} : memref<8x2x16xbf16> -> %[[XQ:.+]], %[[SX:.+]] : memref<8x2x16xi8>, memref<8x2x1xf32>)
// CHECK: %[[XQ2:.+]] = plan.slice @activations[{{[0-9]+}}] view(%[[XQ]] : memref<8x2x16xi8>) {plan.token_rows} : memref<16x16xi8>
// CHECK: %[[SX2:.+]] = plan.slice @activations[{{[0-9]+}}] view(%[[SX]] : memref<8x2x1xf32>) {plan.token_rows} : memref<16x1xf32>
// CHECK: plan.gemm cpu %[[XQ2]], %{{.+}} into %{{.+}} transpose_b scale_a(%[[SX2]] : memref<16x1xf32>) scale_b(%{{.+}} : memref<8x1xf32>) : memref<16x16xi8>, memref<8x16xi8>, memref<16x8xbf16>
module attributes {test.case = "w8a8_rank3"} {
  func.func @forward(%x: tensor<?x2x16xbf16>) -> tensor<?x2x8xbf16> {
    %w = llm.weight @w : tensor<8x16xi8>
    %sw = llm.weight @w.scale : tensor<8x1xf32>
    %xq, %sx = llm.quantize_dynamic %x : tensor<?x2x16xbf16> -> tensor<?x2x16xi8>, tensor<?x2x1xf32>
    %y = llm.linear %xq, %w scales(%sx, %sw : tensor<?x2x1xf32>, tensor<8x1xf32>) : tensor<?x2x16xi8>, tensor<8x16xi8> -> tensor<?x2x8xbf16>
    return %y : tensor<?x2x8xbf16>
  }
}

// -----
// FP8 with a static per-tensor activation scale: "quantize" divides by the
// calibrated <W>.input_scale, which is also the GEMM's scalar scale_a; a
// bias is added after the scaled product.
// CHECK-LABEL: module attributes {test.case = "fp8_static"}
// CHECK: %[[SX:.+]] = plan.slice @weights[{{[0-9]+}}] {plan.weight = "w.input_scale"} : memref<f32>
// CHECK: plan.compute "quantize"(%{{.+}}, %[[SX]] : memref<8x64xf32>, memref<f32> -> %[[XQ:.+]] : memref<8x64xf8E4M3FN>)
// CHECK: plan.gemm cpu %[[XQ]], %{{.+}} into %[[Y:.+]] transpose_b scale_a(%[[SX]] : memref<f32>) scale_b(%{{.+}} : memref<32x1xf32>) : memref<8x64xf8E4M3FN>, memref<32x64xf8E4M3FN>, memref<8x32xf32>
// CHECK: plan.compute "bias_add"(%[[Y]], %{{.+}} : memref<8x32xf32>, memref<32xf32> -> %[[Y]] : memref<8x32xf32>)
module attributes {test.case = "fp8_static"} {
  func.func @forward(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
    %w = llm.weight @w : tensor<32x64xf8E4M3FN>
    %sw = llm.weight @w.scale : tensor<32x1xf32>
    %sx = llm.weight @w.input_scale : tensor<f32>
    %b = llm.weight @b : tensor<32xf32>
    %xq = llm.quantize %x, %sx : tensor<?x64xf32>, tensor<f32> -> tensor<?x64xf8E4M3FN>
    %y = llm.linear %xq, %w, %b scales(%sx, %sw : tensor<f32>, tensor<32x1xf32>) : tensor<?x64xf8E4M3FN>, tensor<32x64xf8E4M3FN>, tensor<32xf32> -> tensor<?x32xf32>
    return %y : tensor<?x32xf32>
  }
}

// -----
// Weight-only INT4: the dequantize of the weight is folded into the GEMM
// (no step), which reads the packed weight with scale_b and zero_b; two
// linears share one dequantized weight.
// CHECK-LABEL: module attributes {test.case = "w4a16"}
// CHECK: %[[W:.+]] = plan.slice @weights[0] {plan.quant = {scale = "w.scale", scheme = "int4_group128_asym", zero_point = "w.zero_point"}, plan.weight = "w"} : memref<32x256xi4>
// CHECK: %[[S:.+]] = plan.slice @weights[4096] {plan.weight = "w.scale"} : memref<32x2xf32>
// CHECK: %[[Z:.+]] = plan.slice @weights[8192] {plan.weight = "w.zero_point"} : memref<32x2xi8>
// CHECK-NOT: "dequantize"
// CHECK: plan.gemm cpu %{{.+}}, %[[W]] into %{{.+}} transpose_b scale_b(%[[S]] : memref<32x2xf32>) zero_b(%[[Z]] : memref<32x2xi8>) : memref<8x256xbf16>, memref<32x256xi4>, memref<8x32xbf16>
// CHECK: plan.gemm cpu %{{.+}}, %[[W]] into %{{.+}} transpose_b scale_b(%[[S]] : memref<32x2xf32>) zero_b(%[[Z]] : memref<32x2xi8>) : memref<8x256xbf16>, memref<32x256xi4>, memref<8x32xbf16>
module attributes {test.case = "w4a16"} {
  func.func @forward(%x: tensor<?x256xbf16>) -> (tensor<?x32xbf16>, tensor<?x32xbf16>) {
    %q = llm.weight @w {llm.quant = {scheme = "int4_group128_asym", granularity = "group", group_size = 128 : i64, symmetric = false, scale = "w.scale", zero_point = "w.zero_point"}} : tensor<32x256xi4>
    %s = llm.weight @w.scale : tensor<32x2xf32>
    %z = llm.weight @w.zero_point : tensor<32x2xi8>
    %w = llm.dequantize %q, %s, %z : tensor<32x256xi4>, tensor<32x2xf32>, tensor<32x2xi8> -> tensor<32x256xbf16>
    %y = llm.linear %x, %w : tensor<?x256xbf16>, tensor<32x256xbf16> -> tensor<?x32xbf16>
    %y2 = llm.linear %x, %w : tensor<?x256xbf16>, tensor<32x256xbf16> -> tensor<?x32xbf16>
    return %y, %y2 : tensor<?x32xbf16>, tensor<?x32xbf16>
  }
}

// -----
// A dequantized weight that something other than a linear reads stays a
// "dequantize" step (inputs q, scale, zero point), and the linear a float GEMM.
// CHECK-LABEL: module attributes {test.case = "dequantize_step"}
// CHECK: plan.compute "dequantize"(%{{.+}}, %{{.+}} : memref<32x64xi8>, memref<32x1xf32> -> %[[W:.+]] : memref<32x64xf32>)
// CHECK: plan.gemm cpu %{{.+}}, %[[W]] into %{{.+}} transpose_b : memref<8x64xf32>, memref<32x64xf32>, memref<8x32xf32>
module attributes {test.case = "dequantize_step"} {
  func.func @forward(%x: tensor<?x64xf32>) -> (tensor<?x32xf32>, tensor<32x64xf32>) {
    %q = llm.weight @w : tensor<32x64xi8>
    %s = llm.weight @w.scale : tensor<32x1xf32>
    %w = llm.dequantize %q, %s : tensor<32x64xi8>, tensor<32x1xf32> -> tensor<32x64xf32>
    %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
    return %y, %w : tensor<?x32xf32>, tensor<32x64xf32>
  }
}

// -----
// A quantized KV cache is the attention step's string parameter.
// CHECK-LABEL: module attributes {test.case = "kv_cache"}
// CHECK: plan.compute "attention"({{.+}}) {kv_cache_dtype = "f8E4M3FN", layer = 0 : i64, scale = 2.500000e-01 : f64}
// CHECK: plan.compute "attention"({{.+}}) {kv_cache_dtype = "i8", layer = 1 : i64, scale = 2.500000e-01 : f64}
module attributes {test.case = "kv_cache"} {
  func.func @forward(%q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>, %b: !llm.batch) -> tensor<?x4x16xf32> {
    %o = llm.attention %q, %k, %v, %b {layer = 0 : i64, scale = 0.25 : f64, kv_cache_dtype = f8E4M3FN} : tensor<?x4x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32> -> tensor<?x4x16xf32>
    %o2 = llm.attention %o, %k, %v, %b {layer = 1 : i64, scale = 0.25 : f64, kv_cache_dtype = i8} : tensor<?x4x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32> -> tensor<?x4x16xf32>
    return %o2 : tensor<?x4x16xf32>
  }
}
