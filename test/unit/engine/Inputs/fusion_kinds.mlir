// A small f32 model shaped so that llm-fuse forms the kinds the tiny
// checkpoints do not: add_rms_norm (the residual is read after the add),
// gated_activation without its GEMM (the packed gate/up GEMM has a bias:
// linear_bias + gated_activation), a lone split, and an elementwise chain;
// plus rope_kv_write and cached_attention. The projections are packed in the
// model itself (as Phi-3 stores them), so no weight is concatenated and the
// synthetic weights (seeded by name) are the same fused and unfused;
// engine_test.cpp runs both.
module attributes {llm.model = "fusion-kinds"} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %batch: !llm.batch) -> tensor<?x64xf32> {
    %table = llm.weight @model.embed_tokens.weight : tensor<64x32xf32>
    %h0 = llm.embedding %table[%ids] : tensor<64x32xf32>, tensor<?xi32> -> tensor<?x32xf32>
    %ln1 = llm.weight @model.layers.0.input_layernorm.weight : tensor<32xf32>
    %x1 = llm.rms_norm %h0, %ln1 epsilon = 1.0e-05 : tensor<?x32xf32>, tensor<32xf32>
    %wqkv = llm.weight @model.layers.0.self_attn.qkv_proj.weight : tensor<64x32xf32>
    %qkv = llm.linear %x1, %wqkv : tensor<?x32xf32>, tensor<64x32xf32> -> tensor<?x64xf32>
    %q, %k, %v = llm.split %qkv : tensor<?x64xf32> -> tensor<?x32xf32>, tensor<?x16xf32>, tensor<?x16xf32>
    %q3 = llm.reshape %q : tensor<?x32xf32> -> tensor<?x4x8xf32>
    %k3 = llm.reshape %k : tensor<?x16xf32> -> tensor<?x2x8xf32>
    %v3 = llm.reshape %v : tensor<?x16xf32> -> tensor<?x2x8xf32>
    %qr = llm.rope %q3, %pos {theta = 10000.0 : f64} : tensor<?x4x8xf32>, tensor<?xi32>
    %kr = llm.rope %k3, %pos {theta = 10000.0 : f64} : tensor<?x2x8xf32>, tensor<?xi32>
    %o3 = llm.attention %qr, %kr, %v3, %batch {layer = 0 : i64, scale = 0.35 : f64}
        : tensor<?x4x8xf32>, tensor<?x2x8xf32>, tensor<?x2x8xf32> -> tensor<?x4x8xf32>
    %o = llm.reshape %o3 : tensor<?x4x8xf32> -> tensor<?x32xf32>
    %wo = llm.weight @model.layers.0.self_attn.o_proj.weight : tensor<32x32xf32>
    %attn = llm.linear %o, %wo : tensor<?x32xf32>, tensor<32x32xf32> -> tensor<?x32xf32>
    %h1 = llm.add %h0, %attn : tensor<?x32xf32>
    %ln2 = llm.weight @model.layers.0.post_attention_layernorm.weight : tensor<32xf32>
    %x2 = llm.rms_norm %h1, %ln2 epsilon = 1.0e-05 : tensor<?x32xf32>, tensor<32xf32>
    %wgu = llm.weight @model.layers.0.mlp.gate_up_proj.weight : tensor<96x32xf32>
    %bgu = llm.weight @model.layers.0.mlp.gate_up_proj.bias : tensor<96xf32>
    %gu = llm.linear %x2, %wgu, %bgu : tensor<?x32xf32>, tensor<96x32xf32>, tensor<96xf32> -> tensor<?x96xf32>
    %gate, %up = llm.split %gu : tensor<?x96xf32> -> tensor<?x48xf32>, tensor<?x48xf32>
    %act = llm.gelu %gate approximation = tanh : tensor<?x48xf32>
    %prod = llm.mul %act, %up : tensor<?x48xf32>
    %wd = llm.weight @model.layers.0.mlp.down_proj.weight : tensor<32x48xf32>
    %mlp = llm.linear %prod, %wd : tensor<?x48xf32>, tensor<32x48xf32> -> tensor<?x32xf32>
    %h2 = llm.add %h1, %mlp : tensor<?x32xf32>
    // A lone split of a packed projection, its halves summed.
    %wab = llm.weight @model.extra.weight : tensor<64x32xf32>
    %yab = llm.linear %h2, %wab : tensor<?x32xf32>, tensor<64x32xf32> -> tensor<?x64xf32>
    %ya, %yb = llm.split %yab : tensor<?x64xf32> -> tensor<?x32xf32>, tensor<?x32xf32>
    %y = llm.add %ya, %yb : tensor<?x32xf32>
    // h0 is read again: the attention residual cannot be overwritten in
    // place, so its add joins the norm after it (add_rms_norm).
    %h3 = llm.add %y, %h0 : tensor<?x32xf32>
    %lnf = llm.weight @model.norm.weight : tensor<32xf32>
    %xf = llm.rms_norm %h3, %lnf epsilon = 1.0e-05 : tensor<?x32xf32>, tensor<32xf32>
    %head = llm.weight @lm_head.weight : tensor<64x32xf32>
    %logits = llm.linear %xf, %head : tensor<?x32xf32>, tensor<64x32xf32> -> tensor<?x64xf32>
    // An elementwise chain on the logits.
    %s1 = llm.scale %logits by 0.5 : tensor<?x64xf32>
    %s2 = llm.silu %s1 : tensor<?x64xf32>
    return %s2 : tensor<?x64xf32>
  }
}
