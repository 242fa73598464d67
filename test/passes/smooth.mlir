// RUN: llmc-opt %s --split-input-file --verify-diagnostics --llm-smooth="calib-file=%S/Inputs/calib.json" | FileCheck %s
// RUN: llmc-opt %s --split-input-file --verify-diagnostics --llm-smooth="calib-file=%S/Inputs/calib.json alpha=0.8 min-factor=0.001" | FileCheck %s --check-prefix=ALPHA
// RUN: llmc-opt %s --split-input-file --llm-smooth="calib-file=%S/Inputs/calib.json" --llm-quantize="scheme=fp8 activations=static static-fallback=true calib-file=%S/Inputs/calib.json" 2>/dev/null | FileCheck %s --check-prefix=STATIC
// RUN: llmc-opt %s --split-input-file --llm-smooth="calib-file=%S/Inputs/calib.json keep-fp=" 2>/dev/null | FileCheck %s --check-prefix=NOKEEP
// RUN: llmc-opt %s --split-input-file --llm-smooth="calib-file=%S/Inputs/calib.json linear-pairs=false" 2>/dev/null | FileCheck %s --check-prefix=NOPAIRS
// RUN: not llmc-opt %s --llm-smooth="calib-file=%S/Inputs/calib.json keep-fp=[z-a]" 2>&1 | FileCheck %s --check-prefix=BADKEEP
// RUN: not llmc-opt %s --llm-smooth 2>&1 | FileCheck %s --check-prefix=NOCALIB
// RUN: not llmc-opt %s --llm-smooth="calib-file=%S/Inputs/calib.json alpha=1.5" 2>&1 | FileCheck %s --check-prefix=BADALPHA
// RUN: not llmc-opt %s --llm-smooth="calib-file=%S/Inputs/calib.json min-factor=0" 2>&1 | FileCheck %s --check-prefix=BADMIN

// NOCALIB: llm-smooth needs calib-file: SmoothQuant's factors come from the calibrated activation maxima
// BADALPHA: llm-smooth option 'alpha' must be in [0, 1], got 1.5
// BADMIN: llm-smooth option 'min-factor' must be in (0, 1), got 0
// BADKEEP: llm-smooth option 'keep-fp': bad glob '[z-a]'

// The input norm feeds Q, K and V: the norm weight records the smoothing
// (alpha, the calibrated channel maxima of their input, the linears) and
// each linear weight the norm it is smoothed by. The model is unchanged.
// CHECK-LABEL: func.func @attention_input
// CHECK: llm.weight @layers.0.input_layernorm.weight {llm.smooth = {activation_absmax = dense<[5.000000e-01, 1.250000e+01, 1.000000e+00, 2.000000e+00, 2.500000e-01, 3.000000e+00, 4.000000e+00, 0.000000e+00]> : tensor<8xf32>, alpha = 5.000000e-01 : f64, linears = ["layers.0.q_proj.weight", "layers.0.k_proj.weight", "layers.0.v_proj.weight"], min_factor = 1.000000e-05 : f64}} : tensor<8xf32>
// CHECK: llm.weight @layers.0.q_proj.weight {llm.smoothed_by = "layers.0.input_layernorm.weight"} : tensor<16x8xf32>
// CHECK: llm.weight @layers.0.k_proj.weight {llm.smoothed_by = "layers.0.input_layernorm.weight"} : tensor<8x8xf32>
// CHECK: llm.weight @layers.0.v_proj.weight {llm.smoothed_by = "layers.0.input_layernorm.weight"} : tensor<8x8xf32>
// ALPHA-LABEL: func.func @attention_input
// ALPHA: alpha = 8.000000e-01 : f64{{.*}}min_factor = 1.000000e-03 : f64
// Static FP8 scales of smoothed linears come from the smoothed maxima.
// STATIC-LABEL: func.func @attention_input
// STATIC: llm.weight @layers.0.q_proj.weight.input_scale {llm.activation_scale = {absmax = 1.250000e+01 : f64, qmax = 4.480000e+02 : f64, smoothed_by = "layers.0.input_layernorm.weight"}} : tensor<f32>
func.func @attention_input(%x: tensor<?x8xf32>) -> (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>) {
  %g = llm.weight @layers.0.input_layernorm.weight : tensor<8xf32>
  %n = llm.rms_norm %x, %g epsilon = 1.0e-05 : tensor<?x8xf32>, tensor<8xf32>
  %wq = llm.weight @layers.0.q_proj.weight : tensor<16x8xf32>
  %q = llm.linear %n, %wq : tensor<?x8xf32>, tensor<16x8xf32> -> tensor<?x16xf32>
  %wk = llm.weight @layers.0.k_proj.weight : tensor<8x8xf32>
  %k = llm.linear %n, %wk : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wv = llm.weight @layers.0.v_proj.weight : tensor<8x8xf32>
  %v = llm.linear %n, %wv : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  return %q, %k, %v : tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>
}

// -----
// A LayerNorm's bias is divided too; its maxima come from any consuming
// linear's entry.
// CHECK-LABEL: func.func @layer_norm
// CHECK: llm.weight @ln.weight {llm.smooth = {{{.+}}bias = "ln.bias"{{.+}}linears = ["ln.up.weight"]{{.+}}}} : tensor<8xf16>
// CHECK: llm.weight @ln.up.weight {llm.smoothed_by = "ln.weight"} : tensor<4x8xf16>
func.func @layer_norm(%x: tensor<?x8xf16>) -> tensor<?x4xf16> {
  %g = llm.weight @ln.weight : tensor<8xf16>
  %b = llm.weight @ln.bias : tensor<8xf16>
  %n = llm.layer_norm %x, %g, %b epsilon = 1.0e-05 : tensor<?x8xf16>, tensor<8xf16>, tensor<8xf16>
  %w = llm.weight @ln.up.weight : tensor<4x8xf16>
  %u = llm.linear %n, %w : tensor<?x8xf16>, tensor<4x8xf16> -> tensor<?x4xf16>
  return %u : tensor<?x4xf16>
}

// -----
// Norms that cannot be smoothed are left alone with a remark: a result also
// read by a non-linear, no calibration entry, a shared weight. A norm that
// feeds no linear is not mentioned.
// CHECK-LABEL: func.func @skipped
// CHECK-NOT: llm.smooth
func.func @skipped(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x8xf32>) {
  %g = llm.weight @layers.0.input_layernorm.weight : tensor<8xf32>
  // expected-remark @+1 {{llm-smooth: not smoothed: its result also feeds 'llm.add', which cannot absorb the factors}}
  %n = llm.rms_norm %x, %g epsilon = 1.0e-05 : tensor<?x8xf32>, tensor<8xf32>
  %wq = llm.weight @layers.0.q_proj.weight : tensor<8x8xf32>
  %q = llm.linear %n, %wq : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %r = llm.add %n, %x : tensor<?x8xf32>
  %g2 = llm.weight @post.norm : tensor<8xf32>
  // expected-remark @+1 {{llm-smooth: not smoothed: '}}
  %n2 = llm.rms_norm %r, %g2 epsilon = 1.0e-05 : tensor<?x8xf32>, tensor<8xf32>
  %wu = llm.weight @mlp.up.weight : tensor<4x8xf32>
  %u = llm.linear %n2, %wu : tensor<?x8xf32>, tensor<4x8xf32> -> tensor<?x4xf32>
  %g3 = llm.weight @shared.norm : tensor<8xf32>
  // expected-remark @+1 {{llm-smooth: not smoothed: its scale is not a weight that only this norm reads}}
  %n3 = llm.rms_norm %r, %g3 epsilon = 1.0e-05 : tensor<?x8xf32>, tensor<8xf32>
  %wg = llm.weight @mlp.gate.weight : tensor<4x8xf32>
  %u3 = llm.linear %n3, %wg : tensor<?x8xf32>, tensor<4x8xf32> -> tensor<?x4xf32>
  %g4 = llm.weight @shared.norm : tensor<8xf32>
  %n4 = llm.rms_norm %r, %g4 epsilon = 1.0e-05 : tensor<?x8xf32>, tensor<8xf32>
  return %q, %u, %u3, %n4 : tensor<?x8xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x8xf32>
}

// -----
// A consuming linear whose weight something else also reads, and a
// LayerNorm bias shared with another norm, block smoothing.
// CHECK-LABEL: func.func @shared
// CHECK-NOT: llm.smooth
func.func @shared(%x: tensor<?x8xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x8xf32>, tensor<8xf32>) {
  %g = llm.weight @n1.weight : tensor<8xf32>
  // expected-remark @+1 {{llm-smooth: not smoothed: a consuming linear's weight is shared or not a weight}}
  %n = llm.rms_norm %x, %g epsilon = 1.0e-05 : tensor<?x8xf32>, tensor<8xf32>
  %w = llm.weight @layers.0.q_proj.weight : tensor<4x8xf32>
  %a = llm.linear %n, %w : tensor<?x8xf32>, tensor<4x8xf32> -> tensor<?x4xf32>
  %b = llm.linear %x, %w : tensor<?x8xf32>, tensor<4x8xf32> -> tensor<?x4xf32>
  %lg = llm.weight @ln.weight : tensor<8xf32>
  %lb = llm.weight @ln.bias : tensor<8xf32>
  // expected-remark @+1 {{llm-smooth: not smoothed: its bias is not a weight that only this norm reads}}
  %l = llm.layer_norm %x, %lg, %lb epsilon = 1.0e-05 : tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>
  %wk = llm.weight @layers.0.k_proj.weight : tensor<8x8xf32>
  %k = llm.linear %l, %wk : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %lb2 = llm.weight @ln.bias : tensor<8xf32>
  return %a, %b, %k, %lb2 : tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x8xf32>, tensor<8xf32>
}

// -----
// The final norm feeds the LM head, which keep-fp keeps in high precision
// (by default): not smoothed, silently. With keep-fp empty it is.
// CHECK-LABEL: func.func @lm_head
// CHECK-NOT: llm.smooth
// NOKEEP-LABEL: func.func @lm_head
// NOKEEP: llm.weight @model.norm.weight {llm.smooth = {{{.+}}linears = ["lm_head.weight"]
func.func @lm_head(%x: tensor<?x8xf32>) -> tensor<?x4xf32> {
  %g = llm.weight @model.norm.weight : tensor<8xf32>
  %n = llm.rms_norm %x, %g epsilon = 1.0e-05 : tensor<?x8xf32>, tensor<8xf32>
  %w = llm.weight @lm_head.weight : tensor<4x8xf32>
  %l = llm.linear %n, %w : tensor<?x8xf32>, tensor<4x8xf32> -> tensor<?x4xf32>
  return %l : tensor<?x4xf32>
}

// -----
// down_proj reads silu(gate) * up: up_proj's rows absorb the division
// (`rows`), down_proj's columns the factors, with down_proj's maxima. The
// norm in front of gate/up is smoothed after, with up_proj among its linears.
// CHECK-LABEL: func.func @mlp
// CHECK: llm.weight @layers.0.post_attention_layernorm.weight {llm.smooth = {{{.+}}linears = ["layers.0.mlp.gate_proj.weight", "layers.0.mlp.up_proj.weight"]
// CHECK: llm.weight @layers.0.mlp.gate_proj.weight {llm.smoothed_by = "layers.0.post_attention_layernorm.weight"}
// CHECK: llm.weight @layers.0.mlp.up_proj.weight {llm.smooth = {activation_absmax = dense<[1.000000e+00, 4.000000e+01, 2.000000e+00, 5.000000e-01, 3.000000e+00, 1.000000e+00, 0.000000e+00, 8.000000e+00]> : tensor<8xf32>, alpha = 5.000000e-01 : f64, linears = ["layers.0.mlp.down_proj.weight"], min_factor = 1.000000e-05 : f64, rows}, llm.smoothed_by = "layers.0.post_attention_layernorm.weight"}
// CHECK: llm.weight @layers.0.mlp.down_proj.weight {llm.smoothed_by = "layers.0.mlp.up_proj.weight"}
// Static FP8 scales of down_proj come from the maxima divided by up_proj's factors.
// STATIC-LABEL: func.func @mlp
// STATIC: llm.weight @layers.0.mlp.down_proj.weight.input_scale {llm.activation_scale = {absmax = 4.000000e+01 : f64, qmax = 4.480000e+02 : f64, smoothed_by = "layers.0.mlp.up_proj.weight"}}
func.func @mlp(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %g = llm.weight @layers.0.post_attention_layernorm.weight : tensor<8xf32>
  %n = llm.rms_norm %x, %g epsilon = 1.0e-05 : tensor<?x8xf32>, tensor<8xf32>
  %wg = llm.weight @layers.0.mlp.gate_proj.weight : tensor<8x8xf32>
  %gate = llm.linear %n, %wg : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wu = llm.weight @layers.0.mlp.up_proj.weight : tensor<8x8xf32>
  %up = llm.linear %n, %wu : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %a = llm.silu %gate : tensor<?x8xf32>
  %h = llm.mul %a, %up : tensor<?x8xf32>
  %wd = llm.weight @layers.0.mlp.down_proj.weight : tensor<8x8xf32>
  %d = llm.linear %h, %wd : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  return %d : tensor<?x8xf32>
}

// -----
// o_proj reads attention over V (2 query heads share 1 KV head of 4): v_proj's
// rows absorb the division, with the head grouping recorded; v_proj's bias
// is divided too.
// CHECK-LABEL: func.func @attention_output
// CHECK: llm.weight @layers.0.self_attn.v_proj.weight {llm.smooth = {activation_absmax = dense<[1.000000e+00, 6.000000e+00, 2.000000e+00, 5.000000e-01, 3.000000e+00, 1.000000e+00, 2.500000e-01, 4.000000e+00]> : tensor<8xf32>, alpha = 5.000000e-01 : f64, bias = "layers.0.self_attn.v_proj.bias", head_dim = 4 : i64, linears = ["layers.0.self_attn.o_proj.weight"], min_factor = 1.000000e-05 : f64, query_heads_per_kv_head = 2 : i64, rows}}
// CHECK: llm.weight @layers.0.self_attn.o_proj.weight {llm.smoothed_by = "layers.0.self_attn.v_proj.weight"}
// NOPAIRS-LABEL: func.func @attention_output
// NOPAIRS-NOT: llm.smooth
func.func @attention_output(%q: tensor<?x2x4xf32>, %k: tensor<?x1x4xf32>, %x: tensor<?x8xf32>, %batch: !llm.batch) -> tensor<?x8xf32> {
  %wv = llm.weight @layers.0.self_attn.v_proj.weight : tensor<4x8xf32>
  %bv = llm.weight @layers.0.self_attn.v_proj.bias : tensor<4xf32>
  %v = llm.linear %x, %wv, %bv : tensor<?x8xf32>, tensor<4x8xf32>, tensor<4xf32> -> tensor<?x4xf32>
  %v3 = llm.reshape %v : tensor<?x4xf32> -> tensor<?x1x4xf32>
  %o = llm.attention %q, %k, %v3, %batch {layer = 0 : i64, scale = 0.5 : f64} : tensor<?x2x4xf32>, tensor<?x1x4xf32>, tensor<?x1x4xf32> -> tensor<?x2x4xf32>
  %o2 = llm.reshape %o : tensor<?x2x4xf32> -> tensor<?x8xf32>
  %wo = llm.weight @layers.0.self_attn.o_proj.weight : tensor<8x8xf32>
  %y = llm.linear %o2, %wo : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----
// A producer output read by something else, and a consumer without a
// calibration entry, are left alone (the latter with a remark).
// CHECK-LABEL: func.func @pairs_skipped
// CHECK-NOT: llm.smooth
func.func @pairs_skipped(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) {
  %wu = llm.weight @layers.0.mlp.up_proj.weight : tensor<8x8xf32>
  %up = llm.linear %x, %wu : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %a = llm.silu %x : tensor<?x8xf32>
  %h = llm.mul %a, %up : tensor<?x8xf32>
  %wd = llm.weight @layers.0.mlp.down_proj.weight : tensor<8x8xf32>
  %d = llm.linear %h, %wd : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wu2 = llm.weight @layers.1.mlp.up_proj.weight : tensor<8x8xf32>
  %up2 = llm.linear %x, %wu2 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %h2 = llm.mul %a, %up2 : tensor<?x8xf32>
  %wd2 = llm.weight @layers.1.mlp.down_proj.weight : tensor<8x8xf32>
  // expected-remark @+1 {{llm-smooth: input not smoothed: '}}
  %d2 = llm.linear %h2, %wd2 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  return %d, %up, %d2 : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
}
