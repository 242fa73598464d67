// RUN: llmc-opt %s --split-input-file --verify-diagnostics --llm-fuse --llm-lower-to-plan="max-tokens=4" | FileCheck %s
// RUN: llmc-opt %S/../Inputs/tiny_llama.mlir --llm-fuse --llm-lower-to-plan="max-tokens=8" --plan-memory --plan-verify-memory | FileCheck %s --check-prefix=LAYER

// The tiny llama's decoder layer as 8 steps: the residual (the embedding's
// buffer) takes both GEMM epilogues in place (beta = 1), and the positions
// still reach the runtime through the fused RoPE.
// LAYER: %[[POS:.+]] = plan.slice @activations[{{[0-9]+}}] {plan.input = "positions", plan.token_rows} : memref<8xi32>
// LAYER: %[[H:.+]] = plan.slice @activations[{{[0-9]+}}] {plan.token_rows} : memref<8x64xbf16>
// LAYER-NEXT: plan.compute "embedding"
// LAYER: plan.compute "rms_norm"(%[[H]], {{.+}} -> %[[X:.+]] : memref<8x64xbf16>)
// LAYER: %[[W:.+]] = plan.slice @weights[{{[0-9]+}}] {plan.weight = "model.layers.0.self_attn.qkv_proj.weight"} : memref<128x64xbf16>
// LAYER-NEXT: %[[QKV:.+]] = plan.slice @activations[{{[0-9]+}}] {plan.token_rows} : memref<8x128xbf16>
// LAYER-NEXT: plan.gemm cpu %[[X]], %[[W]] into %[[QKV]] transpose_b : memref<8x64xbf16>, memref<128x64xbf16>, memref<8x128xbf16>
// LAYER-NEXT: %[[Q:.+]] = plan.slice
// LAYER-NEXT: plan.compute "rope_kv_write"(%[[QKV]], %[[POS]] : memref<8x128xbf16>, memref<8xi32> -> %[[Q]] : memref<8x4x16xbf16>) {head_dim = 16 : i64, layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, style = "half", theta = 1.000000e+04 : f64}
// LAYER-NEXT: %[[O:.+]] = plan.slice
// LAYER-NEXT: plan.compute "cached_attention"(%[[Q]] : memref<8x4x16xbf16> -> %[[O]] : memref<8x4x16xbf16>) {layer = 0 : i64, scale = 2.500000e-01 : f64}
// LAYER-NEXT: %[[O2:.+]] = plan.slice {{.+}} view(%[[O]]
// LAYER-NEXT: %[[WO:.+]] = plan.slice @weights
// LAYER-NEXT: plan.gemm cpu %[[O2]], %[[WO]] into %[[H]] transpose_b beta = 1.000000e+00 : memref<8x64xbf16>, memref<64x64xbf16>, memref<8x64xbf16>
// LAYER: plan.compute "rms_norm"(%[[H]], {{.+}} -> %[[X2:.+]] : memref<8x64xbf16>)
// LAYER: %[[WGU:.+]] = plan.slice @weights[{{[0-9]+}}] {plan.weight = "model.layers.0.mlp.gate_up_proj.weight"} : memref<256x64xbf16>
// LAYER-NEXT: %[[A:.+]] = plan.slice
// LAYER-NEXT: plan.compute "linear_gated_activation"(%[[X2]], %[[WGU]] : memref<8x64xbf16>, memref<256x64xbf16> -> %[[A]] : memref<8x128xbf16>) {activation = "silu", approximation = "none"}
// LAYER-NEXT: plan.gemm cpu %[[A]], %{{.+}} into %[[H]] transpose_b beta = 1.000000e+00 : memref<8x128xbf16>, memref<64x128xbf16>, memref<8x64xbf16>
// LAYER: plan.compute "rms_norm"(%[[H]]

// Norm, gated-activation, bias and elementwise groups are one compute step
// each, named by the kind, with the parameters their backends need.
// CHECK-LABEL: module attributes {test.case = "steps"}
// CHECK: plan.compute "add_rms_norm"(%{{.+}}, %{{.+}}, %{{.+}} : memref<4x16xf32>, memref<4x16xf32>, memref<16xf32> -> %[[SUM:.+]], %{{.+}} : memref<4x16xf32>, memref<4x16xf32>) {epsilon = 1.000000e-05 : f64}
// CHECK: plan.compute "rms_norm_quantize"(%[[SUM]], %{{.+}}, %{{.+}} : memref<4x16xf32>, memref<16xf32>, memref<f32> -> %{{.+}} : memref<4x16xi8>) {epsilon = 1.000000e-05 : f64}
// CHECK: plan.compute "gated_activation"(%{{.+}} : memref<4x32xbf16> -> %{{.+}} : memref<4x16xbf16>) {activation = "gelu", approximation = "none"}
// CHECK: plan.compute "gated_activation_quantize"(%{{.+}}, %{{.+}} : memref<4x32xbf16>, memref<4x1xf32> -> %{{.+}} : memref<4x16xi8>) {activation = "silu", approximation = "none"}
// CHECK: plan.compute "linear_bias"(%{{.+}}, %{{.+}}, %{{.+}} : memref<4x16xf32>, memref<16x16xf32>, memref<16xf32> -> %{{.+}} : memref<4x16xf32>)
// CHECK: plan.compute "elementwise"(%[[SUM]] : memref<4x16xf32> -> %{{.+}} : memref<4x16xbf16>) {program = "t0:f32=silu(i0);t1:f32=scale(t0,1.0000000000000001e-01);t2:bf16=convert(t1)"}
module attributes {test.case = "steps"} {
  func.func @forward(%x: tensor<?x16xf32>, %r0: tensor<?x16xf32>, %packed: tensor<?x32xbf16>, %s: tensor<f32>, %ss: tensor<?x1xf32>) -> (tensor<?x16xf32>, tensor<?x16xi8>, tensor<?x16xbf16>, tensor<?x16xi8>, tensor<?x16xf32>, tensor<?x16xbf16>) {
    %w = llm.weight @n.weight : tensor<16xf32>
    %wl = llm.weight @l.weight : tensor<16x16xf32>
    %bl = llm.weight @l.bias : tensor<16xf32>
    %r = llm.scale %r0 by 2.0 : tensor<?x16xf32>
    %h = llm.add %x, %r : tensor<?x16xf32>
    %n = llm.rms_norm %h, %w epsilon = 1.0e-05 : tensor<?x16xf32>, tensor<16xf32>
    %n2 = llm.rms_norm %h, %w epsilon = 1.0e-05 : tensor<?x16xf32>, tensor<16xf32>
    %q = llm.quantize %n2, %s : tensor<?x16xf32>, tensor<f32> -> tensor<?x16xi8>
    %g, %u = llm.split %packed : tensor<?x32xbf16> -> tensor<?x16xbf16>, tensor<?x16xbf16>
    %a = llm.gelu %g : tensor<?x16xbf16>
    %p = llm.mul %a, %u : tensor<?x16xbf16>
    %g2, %u2 = llm.split %packed : tensor<?x32xbf16> -> tensor<?x16xbf16>, tensor<?x16xbf16>
    %a2 = llm.silu %g2 : tensor<?x16xbf16>
    %p2 = llm.mul %a2, %u2 : tensor<?x16xbf16>
    %q2 = llm.quantize %p2, %ss : tensor<?x16xbf16>, tensor<?x1xf32> -> tensor<?x16xi8>
    %y = llm.linear %x, %wl, %bl : tensor<?x16xf32>, tensor<16x16xf32>, tensor<16xf32> -> tensor<?x16xf32>
    %e1 = llm.silu %h : tensor<?x16xf32>
    %e2 = llm.scale %e1 by 0.1 : tensor<?x16xf32>
    %e3 = arith.truncf %e2 : tensor<?x16xf32> to tensor<?x16xbf16>
    return %n, %q, %p, %q2, %y, %e3 : tensor<?x16xf32>, tensor<?x16xi8>, tensor<?x16xbf16>, tensor<?x16xi8>, tensor<?x16xf32>, tensor<?x16xbf16>
  }
}

// -----
// Qwen3-style rope_kv_write: the q and k norm weights follow the positions
// and the norm's epsilon joins the rotation's parameters (llama3 scaling
// flattened as on the rope step).
// CHECK-LABEL: module attributes {test.case = "qk_norm"}
// CHECK: plan.compute "rope_kv_write"(%{{.+}}, %{{.+}}, %[[NQ:.+]], %[[NK:.+]] : memref<4x96xf32>, memref<4xi32>, memref<8xf32>, memref<8xf32> -> %{{.+}} : memref<4x4x8xf32>) {epsilon = 9.9999999999999995E-7 : f64, head_dim = 8 : i64, layer = 1 : i64, num_heads = 4 : i64, num_kv_heads = 4 : i64, rotary_dim = 4 : i64, scaling = "llama3", scaling_factor = 8.000000e+00 : f64, scaling_high_freq_factor = 4.000000e+00 : f64, scaling_low_freq_factor = 1.000000e+00 : f64, scaling_original_max_position = 8192 : i64, style = "interleaved", theta = 5.000000e+05 : f64}
// CHECK: plan.compute "cached_attention"
module attributes {test.case = "qk_norm"} {
  func.func @forward(%x: tensor<?x32xf32>, %pos: tensor<?xi32>, %batch: !llm.batch) -> tensor<?x4x8xf32> {
    %wq = llm.weight @q_proj.weight : tensor<32x32xf32>
    %wk = llm.weight @k_proj.weight : tensor<32x32xf32>
    %wv = llm.weight @v_proj.weight : tensor<32x32xf32>
    %q = llm.linear %x, %wq : tensor<?x32xf32>, tensor<32x32xf32> -> tensor<?x32xf32>
    %k = llm.linear %x, %wk : tensor<?x32xf32>, tensor<32x32xf32> -> tensor<?x32xf32>
    %v = llm.linear %x, %wv : tensor<?x32xf32>, tensor<32x32xf32> -> tensor<?x32xf32>
    %q3 = llm.reshape %q : tensor<?x32xf32> -> tensor<?x4x8xf32>
    %k3 = llm.reshape %k : tensor<?x32xf32> -> tensor<?x4x8xf32>
    %v3 = llm.reshape %v : tensor<?x32xf32> -> tensor<?x4x8xf32>
    %nq = llm.weight @q_norm.weight : tensor<8xf32>
    %nk = llm.weight @k_norm.weight : tensor<8xf32>
    %qn = llm.rms_norm %q3, %nq epsilon = 1.0e-06 : tensor<?x4x8xf32>, tensor<8xf32>
    %kn = llm.rms_norm %k3, %nk epsilon = 1.0e-06 : tensor<?x4x8xf32>, tensor<8xf32>
    %qr = llm.rope %qn, %pos {theta = 500000.0 : f64, rotary_dim = 4 : i64, style = #llm<rope_style interleaved>,
        scaling = #llm.rope_scaling<llama3, factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position = 8192>} : tensor<?x4x8xf32>, tensor<?xi32>
    %kr = llm.rope %kn, %pos {theta = 500000.0 : f64, rotary_dim = 4 : i64, style = #llm<rope_style interleaved>,
        scaling = #llm.rope_scaling<llama3, factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position = 8192>} : tensor<?x4x8xf32>, tensor<?xi32>
    %o = llm.attention %qr, %kr, %v3, %batch {layer = 1 : i64, scale = 0.35 : f64}
        : tensor<?x4x8xf32>, tensor<?x4x8xf32>, tensor<?x4x8xf32> -> tensor<?x4x8xf32>
    return %o : tensor<?x4x8xf32>
  }
}

// -----
// Gemma's sandwich norms: (branch, branch norm weight, residual, weight) ->
// (sum, norm), each norm with its epsilon.
// CHECK-LABEL: module attributes {test.case = "sandwich"}
// CHECK: plan.compute "rms_norm_add_rms_norm"(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} : memref<4x16xf32>, memref<16xf32>, memref<4x16xf32>, memref<16xf32> -> %{{.+}}, %{{.+}} : memref<4x16xf32>, memref<4x16xf32>) {branch_epsilon = 9.9999999999999995E-7 : f64, epsilon = 1.000000e-05 : f64}
module attributes {test.case = "sandwich"} {
  func.func @forward(%branch: tensor<?x16xf32>, %r: tensor<?x16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>) {
    %w1 = llm.weight @a.weight : tensor<16xf32>
    %w2 = llm.weight @b.weight : tensor<16xf32>
    %n1 = llm.rms_norm %branch, %w1 epsilon = 1.0e-06 : tensor<?x16xf32>, tensor<16xf32>
    %s = llm.add %r, %n1 : tensor<?x16xf32>
    %n2 = llm.rms_norm %s, %w2 epsilon = 1.0e-05 : tensor<?x16xf32>, tensor<16xf32>
    return %s, %n2 : tensor<?x16xf32>, tensor<?x16xf32>
  }
}

// -----
// An add_rms_norm group that yields only the norm (as llm.fused's example)
// still writes the sum, into a buffer of its own.
// CHECK-LABEL: module attributes {test.case = "norm_only"}
// CHECK: %[[SUM:.+]] = plan.slice @activations[{{[0-9]+}}] {plan.token_rows} : memref<4x16xf32>
// CHECK-NEXT: plan.compute "add_rms_norm"(%{{.+}}, %{{.+}}, %{{.+}} : memref<4x16xf32>, memref<4x16xf32>, memref<16xf32> -> %[[SUM]], %{{.+}} : memref<4x16xf32>, memref<4x16xf32>)
module attributes {test.case = "norm_only"} {
  func.func @forward(%h: tensor<?x16xf32>, %r: tensor<?x16xf32>) -> tensor<?x16xf32> {
    %w = llm.weight @norm.weight : tensor<16xf32>
    %0 = llm.fused ins(%h, %r, %w : tensor<?x16xf32>, tensor<?x16xf32>, tensor<16xf32>) attributes {kind = "add_rms_norm"} {
    ^bb0(%a: tensor<?x16xf32>, %b: tensor<?x16xf32>, %g: tensor<16xf32>):
      %s = llm.add %a, %b : tensor<?x16xf32>
      %y = llm.rms_norm %s, %g epsilon = 1.0e-05 : tensor<?x16xf32>, tensor<16xf32>
      llm.yield %y : tensor<?x16xf32>
    } -> tensor<?x16xf32>
    return %0 : tensor<?x16xf32>
  }
}

// -----
// A split outside any group copies each part out of the packed rows.
// CHECK-LABEL: module attributes {test.case = "split"}
// CHECK: plan.compute "split"(%{{.+}} : memref<4x48xf32> -> %{{.+}}, %{{.+}} : memref<4x16xf32>, memref<4x32xf32>)
module attributes {test.case = "split"} {
  func.func @forward(%x: tensor<?x48xf32>) -> (tensor<?x16xf32>, tensor<?x32xf32>) {
    %a, %b = llm.split %x : tensor<?x48xf32> -> tensor<?x16xf32>, tensor<?x32xf32>
    return %a, %b : tensor<?x16xf32>, tensor<?x32xf32>
  }
}

// -----
// Groups the lowering cannot run as one step are errors that say why.
module attributes {test.case = "unknown_kind"} {
  func.func @forward(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
    // expected-error @+1 {{cannot lower fused groups of kind 'softmax_chain'}}
    %y = llm.fused ins(%x : tensor<?x16xf32>) attributes {kind = "softmax_chain"} {
    ^bb0(%a: tensor<?x16xf32>):
      %s = llm.softmax %a axis = -1 : tensor<?x16xf32>
      llm.yield %s : tensor<?x16xf32>
    } -> tensor<?x16xf32>
    return %y : tensor<?x16xf32>
  }
}

// -----
module attributes {test.case = "residual_read_later"} {
  func.func @forward(%x: tensor<?x16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>) {
    %w = llm.weight @w : tensor<16x16xf32>
    %r = llm.scale %x by 2.0 : tensor<?x16xf32>
    // expected-error @+1 {{linear_residual accumulates into its residual's buffer, but the residual is read after the group, is the GEMM's input or is not an activation of its own}}
    %y = llm.fused ins(%x, %w, %r : tensor<?x16xf32>, tensor<16x16xf32>, tensor<?x16xf32>) attributes {kind = "linear_residual"} {
    ^bb0(%a: tensor<?x16xf32>, %b: tensor<16x16xf32>, %c: tensor<?x16xf32>):
      %p = llm.linear %a, %b : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
      %s = llm.add %c, %p : tensor<?x16xf32>
      llm.yield %s : tensor<?x16xf32>
    } -> tensor<?x16xf32>
    return %y, %r : tensor<?x16xf32>, tensor<?x16xf32>
  }
}

// -----
module attributes {test.case = "lone_kv_write"} {
  func.func @forward(%k: tensor<?x2x8xf32>, %batch: !llm.batch) -> tensor<?x2x8xf32> {
    // expected-error @+1 {{lowers llm.kv_cache_write only inside a rope_kv_write group}}
    llm.kv_cache_write %k, %k, %batch {layer = 0 : i64} : tensor<?x2x8xf32>, tensor<?x2x8xf32>
    return %k : tensor<?x2x8xf32>
  }
}
