// A Gemma 3 decoder layer: embedding scaling by sqrt(hidden), QK-norm, norms
// before and after attention and MLP, GeGLU (tanh GELU), a sliding-window local
// layer; the global layers differ only in RoPE base and window.
// RUN: llmc-opt %s | llmc-opt --canonicalize --cse | FileCheck %s

// CHECK-LABEL: func.func @gemma3_local_layer
func.func @gemma3_local_layer(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %batch: !llm.batch) -> tensor<?x640xbf16> {
  %embed = llm.weight @model.embed_tokens.weight : tensor<1024x640xbf16>
  %e = llm.embedding %embed[%ids] : tensor<1024x640xbf16>, tensor<?xi32> -> tensor<?x640xbf16>
  // CHECK: llm.scale %{{.+}} by 2.530000e+01 : tensor<?x640xbf16>
  %h = llm.scale %e by 25.3 : tensor<?x640xbf16>

  %w_in = llm.weight @model.layers.0.input_layernorm.weight : tensor<640xbf16>
  %x = llm.rms_norm %h, %w_in epsilon = 1.0e-6 : tensor<?x640xbf16>, tensor<640xbf16>
  %wq = llm.weight @model.layers.0.self_attn.q_proj.weight : tensor<1024x640xbf16>
  %wk = llm.weight @model.layers.0.self_attn.k_proj.weight : tensor<256x640xbf16>
  %wv = llm.weight @model.layers.0.self_attn.v_proj.weight : tensor<256x640xbf16>
  %q = llm.linear %x, %wq : tensor<?x640xbf16>, tensor<1024x640xbf16> -> tensor<?x1024xbf16>
  %k = llm.linear %x, %wk : tensor<?x640xbf16>, tensor<256x640xbf16> -> tensor<?x256xbf16>
  %v = llm.linear %x, %wv : tensor<?x640xbf16>, tensor<256x640xbf16> -> tensor<?x256xbf16>
  %q3 = llm.reshape %q : tensor<?x1024xbf16> -> tensor<?x4x256xbf16>
  %k3 = llm.reshape %k : tensor<?x256xbf16> -> tensor<?x1x256xbf16>
  %v3 = llm.reshape %v : tensor<?x256xbf16> -> tensor<?x1x256xbf16>
  // QK-norm: RMSNorm over each head's 256 elements.
  // CHECK: llm.rms_norm %{{.+}}, %{{.+}} epsilon = {{.+}} : tensor<?x4x256xbf16>, tensor<256xbf16>
  // CHECK: llm.rms_norm %{{.+}}, %{{.+}} epsilon = {{.+}} : tensor<?x1x256xbf16>, tensor<256xbf16>
  %wqn = llm.weight @model.layers.0.self_attn.q_norm.weight : tensor<256xbf16>
  %wkn = llm.weight @model.layers.0.self_attn.k_norm.weight : tensor<256xbf16>
  %qn = llm.rms_norm %q3, %wqn epsilon = 1.0e-6 : tensor<?x4x256xbf16>, tensor<256xbf16>
  %kn = llm.rms_norm %k3, %wkn epsilon = 1.0e-6 : tensor<?x1x256xbf16>, tensor<256xbf16>
  // Local layers use RoPE base 10000 and a 512-token window.
  // CHECK-COUNT-2: llm.rope {{.+}} {theta = 1.000000e+04 : f64}
  %qr = llm.rope %qn, %pos {theta = 10000.0 : f64} : tensor<?x4x256xbf16>, tensor<?xi32>
  %kr = llm.rope %kn, %pos {theta = 10000.0 : f64} : tensor<?x1x256xbf16>, tensor<?xi32>
  // CHECK: llm.attention {{.+}} {layer = 0 : i64, scale = 6.250000e-02 : f64, sliding_window = 512 : i64}
  %o3 = llm.attention %qr, %kr, %v3, %batch {layer = 0 : i64, scale = 0.0625 : f64, sliding_window = 512 : i64}
      : tensor<?x4x256xbf16>, tensor<?x1x256xbf16>, tensor<?x1x256xbf16> -> tensor<?x4x256xbf16>
  %o = llm.reshape %o3 : tensor<?x4x256xbf16> -> tensor<?x1024xbf16>
  %wo = llm.weight @model.layers.0.self_attn.o_proj.weight : tensor<640x1024xbf16>
  %attn = llm.linear %o, %wo : tensor<?x1024xbf16>, tensor<640x1024xbf16> -> tensor<?x640xbf16>
  %w_post = llm.weight @model.layers.0.post_attention_layernorm.weight : tensor<640xbf16>
  %attn_n = llm.rms_norm %attn, %w_post epsilon = 1.0e-6 : tensor<?x640xbf16>, tensor<640xbf16>
  %h1 = llm.add %h, %attn_n : tensor<?x640xbf16>

  %w_pre_ff = llm.weight @model.layers.0.pre_feedforward_layernorm.weight : tensor<640xbf16>
  %x2 = llm.rms_norm %h1, %w_pre_ff epsilon = 1.0e-6 : tensor<?x640xbf16>, tensor<640xbf16>
  %wg = llm.weight @model.layers.0.mlp.gate_proj.weight : tensor<2048x640xbf16>
  %wu = llm.weight @model.layers.0.mlp.up_proj.weight : tensor<2048x640xbf16>
  %wd = llm.weight @model.layers.0.mlp.down_proj.weight : tensor<640x2048xbf16>
  %gate = llm.linear %x2, %wg : tensor<?x640xbf16>, tensor<2048x640xbf16> -> tensor<?x2048xbf16>
  %up = llm.linear %x2, %wu : tensor<?x640xbf16>, tensor<2048x640xbf16> -> tensor<?x2048xbf16>
  // GeGLU: tanh-approximated GELU of the gate times up.
  // CHECK: llm.gelu %{{.+}} approximation = tanh
  %act = llm.gelu %gate approximation = tanh : tensor<?x2048xbf16>
  %prod = llm.mul %act, %up : tensor<?x2048xbf16>
  %mlp = llm.linear %prod, %wd : tensor<?x2048xbf16>, tensor<640x2048xbf16> -> tensor<?x640xbf16>
  %w_post_ff = llm.weight @model.layers.0.post_feedforward_layernorm.weight : tensor<640xbf16>
  %mlp_n = llm.rms_norm %mlp, %w_post_ff epsilon = 1.0e-6 : tensor<?x640xbf16>, tensor<640xbf16>
  // CHECK: %[[OUT:.+]] = llm.add
  // CHECK-NEXT: return %[[OUT]]
  %h2 = llm.add %h1, %mlp_n : tensor<?x640xbf16>
  return %h2 : tensor<?x640xbf16>
}
