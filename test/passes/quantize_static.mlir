// RUN: llmc-opt %s --split-input-file --verify-diagnostics --llm-quantize="scheme=int8 activations=static static-fallback=true calib-file=%S/Inputs/calib.json" | FileCheck %s
// RUN: not llmc-opt %s --split-input-file --llm-quantize="scheme=int8 activations=static calib-file=%S/Inputs/calib.json" 2>&1 | FileCheck %s --check-prefix=STRICT

// Static INT8: a calibrated linear reads its <W>.input_scale = absmax / 127.
// CHECK-LABEL: func.func @calibrated
// CHECK: %[[IS:.+]] = llm.weight @layers.0.o_proj.weight.input_scale {llm.activation_scale = {absmax = 2.000000e+00 : f64, qmax = 1.270000e+02 : f64}} : tensor<f32>
// CHECK: llm.quantize %{{.+}}, %[[IS]] : tensor<?x16xbf16>, tensor<f32> -> tensor<?x16xi8>
func.func @calibrated(%x: tensor<?x16xbf16>) -> tensor<?x8xbf16> {
  %w = llm.weight @layers.0.o_proj.weight : tensor<8x16xbf16>
  %y = llm.linear %x, %w : tensor<?x16xbf16>, tensor<8x16xbf16> -> tensor<?x8xbf16>
  return %y : tensor<?x8xbf16>
}

// -----
// A linear without a calibration entry: with static-fallback its input is
// quantized per token at run time (a remark says so); without, it is an
// error naming the weight.
// CHECK-LABEL: func.func @uncalibrated
// CHECK: llm.quantize_dynamic %{{.+}} : tensor<?x8xbf16> -> tensor<?x8xi8>, tensor<?x1xf32>
// STRICT: error: llm-quantize: no calibration entry for weight @mlp.up.weight in '{{.+}}calib.json'; static activation scales need one for every quantized linear (recalibrate, keep it in high precision with keep-fp, or pass static-fallback to quantize its input dynamically)
func.func @uncalibrated(%x: tensor<?x8xbf16>) -> tensor<?x4xbf16> {
  %wu = llm.weight @mlp.up.weight : tensor<4x8xbf16>
  // expected-remark @+1 {{llm-quantize: no calibration entry for weight @mlp.up.weight; its input is quantized dynamically (static-fallback)}}
  %u = llm.linear %x, %wu : tensor<?x8xbf16>, tensor<4x8xbf16> -> tensor<?x4xbf16>
  return %u : tensor<?x4xbf16>
}
