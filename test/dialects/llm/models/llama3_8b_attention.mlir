// The attention half of a Llama-3-8B layer at its real shapes: hidden 4096,
// 32 query heads over 8 KV heads of dim 128, RoPE base 500000 with llama3
// scaling. Verifies, and a head-count mistake (24 KV heads) is caught.
// RUN: llmc-opt %s --split-input-file --verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @llama3_8b_attention
// CHECK: llm.attention {{.+}} : tensor<?x32x128xbf16>, tensor<?x8x128xbf16>, tensor<?x8x128xbf16> -> tensor<?x32x128xbf16>
func.func @llama3_8b_attention(%x: tensor<?x4096xbf16>, %pos: tensor<?xi32>, %batch: !llm.batch) -> tensor<?x4096xbf16> {
  %wq = llm.weight @model.layers.0.self_attn.q_proj.weight : tensor<4096x4096xbf16>
  %wk = llm.weight @model.layers.0.self_attn.k_proj.weight : tensor<1024x4096xbf16>
  %wv = llm.weight @model.layers.0.self_attn.v_proj.weight : tensor<1024x4096xbf16>
  %wo = llm.weight @model.layers.0.self_attn.o_proj.weight : tensor<4096x4096xbf16>
  %q = llm.linear %x, %wq : tensor<?x4096xbf16>, tensor<4096x4096xbf16> -> tensor<?x4096xbf16>
  %k = llm.linear %x, %wk : tensor<?x4096xbf16>, tensor<1024x4096xbf16> -> tensor<?x1024xbf16>
  %v = llm.linear %x, %wv : tensor<?x4096xbf16>, tensor<1024x4096xbf16> -> tensor<?x1024xbf16>
  %q3 = llm.reshape %q : tensor<?x4096xbf16> -> tensor<?x32x128xbf16>
  %k3 = llm.reshape %k : tensor<?x1024xbf16> -> tensor<?x8x128xbf16>
  %v3 = llm.reshape %v : tensor<?x1024xbf16> -> tensor<?x8x128xbf16>
  %qr = llm.rope %q3, %pos {theta = 500000.0 : f64, scaling = #llm.rope_scaling<llama3, factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position = 8192>} : tensor<?x32x128xbf16>, tensor<?xi32>
  %kr = llm.rope %k3, %pos {theta = 500000.0 : f64, scaling = #llm.rope_scaling<llama3, factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position = 8192>} : tensor<?x8x128xbf16>, tensor<?xi32>
  %o3 = llm.attention %qr, %kr, %v3, %batch {layer = 0 : i64, scale = 0.08838834764831845 : f64}
      : tensor<?x32x128xbf16>, tensor<?x8x128xbf16>, tensor<?x8x128xbf16> -> tensor<?x32x128xbf16>
  %o = llm.reshape %o3 : tensor<?x32x128xbf16> -> tensor<?x4096xbf16>
  %y = llm.linear %o, %wo : tensor<?x4096xbf16>, tensor<4096x4096xbf16> -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

// -----
// A K projection of 3072 rows gives 24 KV heads, which 32 query heads cannot share.
func.func @wrong_kv_heads(%q: tensor<?x32x128xbf16>, %x: tensor<?x4096xbf16>, %batch: !llm.batch) {
  %wk = llm.weight @model.layers.0.self_attn.k_proj.weight : tensor<3072x4096xbf16>
  %k = llm.linear %x, %wk : tensor<?x4096xbf16>, tensor<3072x4096xbf16> -> tensor<?x3072xbf16>
  %k3 = llm.reshape %k : tensor<?x3072xbf16> -> tensor<?x24x128xbf16>
  // expected-error @+1 {{query heads (32) must be a multiple of KV heads (24) for grouped-query attention}}
  %o = llm.attention %q, %k3, %k3, %batch {layer = 0 : i64, scale = 0.088 : f64}
      : tensor<?x32x128xbf16>, tensor<?x24x128xbf16>, tensor<?x24x128xbf16> -> tensor<?x32x128xbf16>
  return
}
