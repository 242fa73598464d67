// One decoder layer of a tiny Llama-shaped model written in the llm dialect:
// vocab 256, hidden 64, 4 query heads over 2 KV heads (GQA) of dim 16, MLP 128,
// tied embeddings. Used by the README's quick start and by tool tests.
module attributes {llm.model = "tiny-llama"} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %batch: !llm.batch) -> tensor<?x256xf32> {
    %embed = llm.weight @model.embed_tokens.weight : tensor<256x64xbf16>
    %h0 = llm.embedding %embed[%ids] : tensor<256x64xbf16>, tensor<?xi32> -> tensor<?x64xbf16>

    // Attention block.
    %ln1 = llm.weight @model.layers.0.input_layernorm.weight : tensor<64xbf16>
    %x1 = llm.rms_norm %h0, %ln1 epsilon = 1.0e-05 : tensor<?x64xbf16>, tensor<64xbf16>
    %wq = llm.weight @model.layers.0.self_attn.q_proj.weight : tensor<64x64xbf16>
    %wk = llm.weight @model.layers.0.self_attn.k_proj.weight : tensor<32x64xbf16>
    %wv = llm.weight @model.layers.0.self_attn.v_proj.weight : tensor<32x64xbf16>
    %q = llm.linear %x1, %wq : tensor<?x64xbf16>, tensor<64x64xbf16> -> tensor<?x64xbf16>
    %k = llm.linear %x1, %wk : tensor<?x64xbf16>, tensor<32x64xbf16> -> tensor<?x32xbf16>
    %v = llm.linear %x1, %wv : tensor<?x64xbf16>, tensor<32x64xbf16> -> tensor<?x32xbf16>
    %q3 = llm.reshape %q : tensor<?x64xbf16> -> tensor<?x4x16xbf16>
    %k3 = llm.reshape %k : tensor<?x32xbf16> -> tensor<?x2x16xbf16>
    %v3 = llm.reshape %v : tensor<?x32xbf16> -> tensor<?x2x16xbf16>
    %qr = llm.rope %q3, %pos {theta = 10000.0 : f64} : tensor<?x4x16xbf16>, tensor<?xi32>
    %kr = llm.rope %k3, %pos {theta = 10000.0 : f64} : tensor<?x2x16xbf16>, tensor<?xi32>
    %o3 = llm.attention %qr, %kr, %v3, %batch {layer = 0 : i64, scale = 0.25 : f64}
        : tensor<?x4x16xbf16>, tensor<?x2x16xbf16>, tensor<?x2x16xbf16> -> tensor<?x4x16xbf16>
    %o = llm.reshape %o3 : tensor<?x4x16xbf16> -> tensor<?x64xbf16>
    %wo = llm.weight @model.layers.0.self_attn.o_proj.weight : tensor<64x64xbf16>
    %attn = llm.linear %o, %wo : tensor<?x64xbf16>, tensor<64x64xbf16> -> tensor<?x64xbf16>
    %h1 = llm.add %h0, %attn : tensor<?x64xbf16>

    // MLP block: SwiGLU.
    %ln2 = llm.weight @model.layers.0.post_attention_layernorm.weight : tensor<64xbf16>
    %x2 = llm.rms_norm %h1, %ln2 epsilon = 1.0e-05 : tensor<?x64xbf16>, tensor<64xbf16>
    %wg = llm.weight @model.layers.0.mlp.gate_proj.weight : tensor<128x64xbf16>
    %wu = llm.weight @model.layers.0.mlp.up_proj.weight : tensor<128x64xbf16>
    %wd = llm.weight @model.layers.0.mlp.down_proj.weight : tensor<64x128xbf16>
    %gate = llm.linear %x2, %wg : tensor<?x64xbf16>, tensor<128x64xbf16> -> tensor<?x128xbf16>
    %up = llm.linear %x2, %wu : tensor<?x64xbf16>, tensor<128x64xbf16> -> tensor<?x128xbf16>
    %act = llm.silu %gate : tensor<?x128xbf16>
    %prod = llm.mul %act, %up : tensor<?x128xbf16>
    %mlp = llm.linear %prod, %wd : tensor<?x128xbf16>, tensor<64x128xbf16> -> tensor<?x64xbf16>
    %h2 = llm.add %h1, %mlp : tensor<?x64xbf16>

    // Final norm and the LM head tied to the embedding table.
    %lnf = llm.weight @model.norm.weight : tensor<64xbf16>
    %xf = llm.rms_norm %h2, %lnf epsilon = 1.0e-05 : tensor<?x64xbf16>, tensor<64xbf16>
    %logits16 = llm.linear %xf, %embed : tensor<?x64xbf16>, tensor<256x64xbf16> -> tensor<?x256xbf16>
    %logits = arith.extf %logits16 : tensor<?x256xbf16> to tensor<?x256xf32>
    return %logits : tensor<?x256xf32>
  }
}
