// RUN: llmc-opt %s --split-input-file --llm-quantize="scheme=fp8" | FileCheck %s
// RUN: llmc-opt %s --split-input-file --llm-quantize="scheme=fp8 activations=static calib-file=%S/Inputs/calib.json" | FileCheck %s --check-prefix=STATIC
// RUN: llmc-opt %s --split-input-file --llm-quantize="scheme=fp8 weight-granularity=per-tensor" | FileCheck %s --check-prefix=TENSOR
// RUN: llmc-opt %s --split-input-file --llm-quantize="scheme=fp8 keep-fp=" | FileCheck %s --check-prefix=NOKEEP

// One attention block's projections and the LM head. Default: FP8 weights
// with per-channel scales, inputs quantized per token at run time; the LM
// head stays in high precision (keep-fp defaults to lm_head,embed_tokens).
// CHECK-LABEL: func.func @forward
// CHECK: %[[W:.+]] = llm.weight @layers.0.q_proj.weight {llm.quant = {granularity = "channel", scale = "layers.0.q_proj.weight.scale", scheme = "fp8_per_channel", symmetric = true}} : tensor<16x8xf8E4M3FN>
// CHECK: %[[S:.+]] = llm.weight @layers.0.q_proj.weight.scale {llm.derived = {kind = "scale", of = "layers.0.q_proj.weight"}} : tensor<16x1xf32>
// CHECK: %[[XQ:.+]], %[[XS:.+]] = llm.quantize_dynamic %{{.+}} : tensor<?x8xf32> -> tensor<?x8xf8E4M3FN>, tensor<?x1xf32>
// CHECK: llm.linear %[[XQ]], %[[W]], %{{.+}} scales(%[[XS]], %[[S]] : tensor<?x1xf32>, tensor<16x1xf32>) : tensor<?x8xf8E4M3FN>, tensor<16x8xf8E4M3FN>, tensor<16xf32> -> tensor<?x16xf32>
// CHECK: llm.weight @layers.0.o_proj.weight {llm.quant = {{.+}}} : tensor<8x16xf8E4M3FN>
// CHECK: llm.linear {{.+}} scales({{.+}}) : tensor<?x16xf8E4M3FN>, tensor<8x16xf8E4M3FN> -> tensor<?x8xf32>
// CHECK: %[[HEAD:.+]] = llm.weight @lm_head.weight : tensor<32x8xf32>
// CHECK: llm.linear %{{.+}}, %[[HEAD]] : tensor<?x8xf32>, tensor<32x8xf32> -> tensor<?x32xf32>

// Static: the calibrated input scale is a weight, absmax / 448, that both
// the quantize and the linear read.
// STATIC-LABEL: func.func @forward
// STATIC: %[[IS:.+]] = llm.weight @layers.0.q_proj.weight.input_scale {llm.activation_scale = {absmax = 1.250000e+01 : f64, qmax = 4.480000e+02 : f64}} : tensor<f32>
// STATIC: %[[XQ:.+]] = llm.quantize %{{.+}}, %[[IS]] : tensor<?x8xf32>, tensor<f32> -> tensor<?x8xf8E4M3FN>
// STATIC: llm.linear %[[XQ]], %{{.+}}, %{{.+}} scales(%[[IS]], %{{.+}} : tensor<f32>, tensor<16x1xf32>)
// STATIC: llm.weight @layers.0.o_proj.weight.input_scale {llm.activation_scale = {absmax = 2.000000e+00 : f64, qmax = 4.480000e+02 : f64}} : tensor<f32>

// Per-tensor weight scales are scalars.
// TENSOR: llm.weight @layers.0.q_proj.weight {llm.quant = {granularity = "tensor", scale = "layers.0.q_proj.weight.scale", scheme = "fp8_per_tensor", symmetric = true}} : tensor<16x8xf8E4M3FN>
// TENSOR: llm.weight @layers.0.q_proj.weight.scale {{.+}} : tensor<f32>
// TENSOR: scales(%{{.+}}, %{{.+}} : tensor<?x1xf32>, tensor<f32>)

// An empty keep-fp quantizes the LM head too.
// NOKEEP: llm.weight @lm_head.weight {llm.quant = {{.+}}} : tensor<32x8xf8E4M3FN>
func.func @forward(%x: tensor<?x8xf32>) -> tensor<?x32xf32> {
  %wq = llm.weight @layers.0.q_proj.weight : tensor<16x8xf32>
  %bq = llm.weight @layers.0.q_proj.bias : tensor<16xf32>
  %q = llm.linear %x, %wq, %bq : tensor<?x8xf32>, tensor<16x8xf32>, tensor<16xf32> -> tensor<?x16xf32>
  %wo = llm.weight @layers.0.o_proj.weight : tensor<8x16xf32>
  %o = llm.linear %q, %wo : tensor<?x16xf32>, tensor<8x16xf32> -> tensor<?x8xf32>
  %head = llm.weight @lm_head.weight : tensor<32x8xf32>
  %logits = llm.linear %o, %head : tensor<?x8xf32>, tensor<32x8xf32> -> tensor<?x32xf32>
  return %logits : tensor<?x32xf32>
}
