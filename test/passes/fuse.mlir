// RUN: llmc-opt %s --split-input-file --llm-fuse | FileCheck %s
// RUN: llmc-opt %s --split-input-file --llm-fuse="horizontal=false" | FileCheck %s --check-prefix=NOHORIZ
// RUN: llmc-opt %s --split-input-file --llm-fuse="gemm-epilogues=false" | FileCheck %s --check-prefix=NOEPI
// RUN: llmc-opt %s --split-input-file --llm-fuse="rope-kv-write=false gated-activations=false norms=false elementwise=false" | FileCheck %s --check-prefix=ONLYGEMM
// RUN: llmc-opt %s --split-input-file --llm-fuse="quantize=false" | FileCheck %s --check-prefix=NOQUANT
// RUN: llmc-opt %s --split-input-file --llm-fuse | llmc-opt --split-input-file | FileCheck %s --check-prefix=ROUNDTRIP
// A second run finds nothing more to fuse.
// RUN: llmc-opt %s --split-input-file --llm-fuse > %t.once
// RUN: llmc-opt %s --split-input-file --llm-fuse --llm-fuse > %t.twice
// RUN: diff %t.once %t.twice

// ROUNDTRIP-COUNT-10: llm.fused

// A decoder layer (the tiny llama): Q/K/V and gate/up merge into packed
// GEMMs over concatenated weights; RoPE + KV write read the packed QKV; the
// residual adds become GEMM epilogues; SiLU * up joins the gate/up GEMM.
// Eight launches: rms_norm, QKV GEMM, rope_kv_write, cached_attention,
// linear_residual, rms_norm, linear_gated_activation, linear_residual.
// CHECK-LABEL: func.func @decoder_layer
// CHECK: %[[H0:.+]] = llm.embedding
// CHECK: %[[X:.+]] = llm.rms_norm %[[H0]], %{{.+}} epsilon
// CHECK: %[[WQKV:.+]] = llm.weight @model.layers.0.self_attn.qkv_proj.weight {llm.concat = {axis = 0 : i64, parts = ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.v_proj.weight"]}} : tensor<128x64xbf16>
// CHECK-NEXT: %[[QKV:.+]] = llm.linear %[[X]], %[[WQKV]] : tensor<?x64xbf16>, tensor<128x64xbf16> -> tensor<?x128xbf16>
// CHECK-NEXT: %[[Q:.+]] = llm.fused ins(%[[QKV]], %[[POS:.+]], %[[BATCH:.+]] : tensor<?x128xbf16>, tensor<?xi32>, !llm.batch) attributes {kind = "rope_kv_write"} {
// CHECK-NEXT: ^bb0(%[[P:.+]]: tensor<?x128xbf16>, %[[PP:.+]]: tensor<?xi32>, %[[B:.+]]: !llm.batch):
// CHECK-NEXT: %[[S:.+]]:3 = llm.split %[[P]] : tensor<?x128xbf16> -> tensor<?x64xbf16>, tensor<?x32xbf16>, tensor<?x32xbf16>
// CHECK-NEXT: %[[Q3:.+]] = llm.reshape %[[S]]#0
// CHECK-NEXT: %[[K3:.+]] = llm.reshape %[[S]]#1
// CHECK-NEXT: %[[V3:.+]] = llm.reshape %[[S]]#2
// CHECK-NEXT: %[[QR:.+]] = llm.rope %[[Q3]], %[[PP]] {theta = 1.000000e+04 : f64}
// CHECK-NEXT: %[[KR:.+]] = llm.rope %[[K3]], %[[PP]] {theta = 1.000000e+04 : f64}
// CHECK-NEXT: llm.kv_cache_write %[[KR]], %[[V3]], %[[B]] {layer = 0 : i64} : tensor<?x2x16xbf16>, tensor<?x2x16xbf16>
// CHECK-NEXT: llm.yield %[[QR]] : tensor<?x4x16xbf16>
// CHECK-NEXT: } -> tensor<?x4x16xbf16>
// CHECK-NEXT: %[[O3:.+]] = llm.cached_attention %[[Q]], %[[BATCH]] {layer = 0 : i64, scale = 2.500000e-01 : f64} : tensor<?x4x16xbf16> -> tensor<?x4x16xbf16>
// CHECK: %[[H1:.+]] = llm.fused ins(%{{.+}}, %{{.+}}, %[[H0]] : tensor<?x64xbf16>, tensor<64x64xbf16>, tensor<?x64xbf16>) attributes {kind = "linear_residual"}
// CHECK: llm.linear
// CHECK-NEXT: llm.add
// CHECK: %[[X2:.+]] = llm.rms_norm %[[H1]]
// CHECK: %[[WGU:.+]] = llm.weight @model.layers.0.mlp.gate_up_proj.weight {llm.concat = {axis = 0 : i64, parts = ["model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight"]}} : tensor<256x64xbf16>
// CHECK: %[[ACT:.+]] = llm.fused ins(%[[X2]], %[[WGU]] : tensor<?x64xbf16>, tensor<256x64xbf16>) attributes {kind = "linear_gated_activation"} {
// CHECK: llm.linear
// CHECK-NEXT: llm.split {{.+}} -> tensor<?x128xbf16>, tensor<?x128xbf16>
// CHECK-NEXT: llm.silu
// CHECK-NEXT: llm.mul
// CHECK: llm.fused ins(%[[ACT]], %{{.+}}, %[[H1]] : tensor<?x128xbf16>, tensor<64x128xbf16>, tensor<?x64xbf16>) attributes {kind = "linear_residual"}
// CHECK-NOT: llm.weight @model.layers.0.self_attn.q_proj.weight
// CHECK-NOT: llm.attention
// CHECK: return
// Without horizontal merges nothing is packed: no rope_kv_write and no
// gated activation, only the GEMM epilogues.
// NOHORIZ-LABEL: func.func @decoder_layer
// NOHORIZ-NOT: llm.split
// NOHORIZ-NOT: kind = "rope_kv_write"
// NOHORIZ: llm.attention
// NOHORIZ: kind = "linear_residual"
// NOHORIZ: llm.silu
// NOHORIZ: kind = "linear_residual"
// Without GEMM epilogues the adds stay for add_rms_norm, and SiLU * up is
// its own group after the packed GEMM.
// NOEPI-LABEL: func.func @decoder_layer
// NOEPI: kind = "rope_kv_write"
// NOEPI: llm.linear %{{.+}} : tensor<?x64xbf16>, tensor<64x64xbf16> -> tensor<?x64xbf16>
// NOEPI: %[[SUM:.+]]:2 = llm.fused ins({{.+}}) attributes {kind = "add_rms_norm"} {
// NOEPI: llm.add
// NOEPI-NEXT: llm.rms_norm
// NOEPI: llm.linear %[[SUM]]#1, {{.+}} -> tensor<?x256xbf16>
// NOEPI-NEXT: llm.fused ins({{.+}} : tensor<?x256xbf16>) attributes {kind = "gated_activation"}
// NOEPI: llm.linear
// NOEPI-NEXT: llm.add %[[SUM]]#0
// ONLYGEMM-LABEL: func.func @decoder_layer
// ONLYGEMM: llm.split
// ONLYGEMM: llm.attention
// ONLYGEMM: kind = "linear_residual"
// ONLYGEMM: llm.split
// ONLYGEMM: llm.silu
module attributes {test.case = "layer"} {
  func.func @decoder_layer(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %batch: !llm.batch) -> tensor<?x64xbf16> {
    %table = llm.weight @model.embed_tokens.weight : tensor<256x64xbf16>
    %h0 = llm.embedding %table[%ids] : tensor<256x64xbf16>, tensor<?xi32> -> tensor<?x64xbf16>
    %ln1 = llm.weight @model.layers.0.input_layernorm.weight : tensor<64xbf16>
    %x1 = llm.rms_norm %h0, %ln1 epsilon = 1.0e-05 : tensor<?x64xbf16>, tensor<64xbf16>
    %wq = llm.weight @model.layers.0.self_attn.q_proj.weight : tensor<64x64xbf16>
    %q = llm.linear %x1, %wq : tensor<?x64xbf16>, tensor<64x64xbf16> -> tensor<?x64xbf16>
    %wk = llm.weight @model.layers.0.self_attn.k_proj.weight : tensor<32x64xbf16>
    %k = llm.linear %x1, %wk : tensor<?x64xbf16>, tensor<32x64xbf16> -> tensor<?x32xbf16>
    %wv = llm.weight @model.layers.0.self_attn.v_proj.weight : tensor<32x64xbf16>
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
    %ln2 = llm.weight @model.layers.0.post_attention_layernorm.weight : tensor<64xbf16>
    %x2 = llm.rms_norm %h1, %ln2 epsilon = 1.0e-05 : tensor<?x64xbf16>, tensor<64xbf16>
    %wg = llm.weight @model.layers.0.mlp.gate_proj.weight : tensor<128x64xbf16>
    %gate = llm.linear %x2, %wg : tensor<?x64xbf16>, tensor<128x64xbf16> -> tensor<?x128xbf16>
    %wu = llm.weight @model.layers.0.mlp.up_proj.weight : tensor<128x64xbf16>
    %up = llm.linear %x2, %wu : tensor<?x64xbf16>, tensor<128x64xbf16> -> tensor<?x128xbf16>
    %act = llm.silu %gate : tensor<?x128xbf16>
    %prod = llm.mul %act, %up : tensor<?x128xbf16>
    %wd = llm.weight @model.layers.0.mlp.down_proj.weight : tensor<64x128xbf16>
    %mlp = llm.linear %prod, %wd : tensor<?x128xbf16>, tensor<64x128xbf16> -> tensor<?x64xbf16>
    %h2 = llm.add %h1, %mlp : tensor<?x64xbf16>
    return %h2 : tensor<?x64xbf16>
  }
}

// -----
// Qwen2/Qwen3: biases concatenate like weights and the biased packed GEMM is
// one linear_bias step; a per-head RMSNorm of q and k (Qwen3) joins
// rope_kv_write, and sliding_window/softcap carry over to cached_attention.
// CHECK-LABEL: func.func @qk_norm_bias
// CHECK: %[[W:.+]] = llm.weight @l.attn.qkv_proj.weight {llm.concat = {axis = 0 : i64, parts = ["l.attn.q_proj.weight", "l.attn.k_proj.weight", "l.attn.v_proj.weight"]}} : tensor<96x32xf32>
// CHECK: %[[B:.+]] = llm.weight @l.attn.qkv_proj.bias {llm.concat = {axis = 0 : i64, parts = ["l.attn.q_proj.bias", "l.attn.k_proj.bias", "l.attn.v_proj.bias"]}} : tensor<96xf32>
// CHECK: %[[P:.+]] = llm.fused ins(%{{.+}}, %[[W]], %[[B]] : tensor<?x32xf32>, tensor<96x32xf32>, tensor<96xf32>) attributes {kind = "linear_bias"}
// CHECK: llm.linear %{{.+}}, %{{.+}}, %{{.+}} : tensor<?x32xf32>, tensor<96x32xf32>, tensor<96xf32> -> tensor<?x96xf32>
// CHECK: llm.fused ins(%[[P]], %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} : tensor<?x96xf32>, tensor<8xf32>, tensor<8xf32>, tensor<?xi32>, !llm.batch) attributes {kind = "rope_kv_write"}
// CHECK: llm.rms_norm {{.+}} epsilon = 9.9999999999999995E-7 : tensor<?x4x8xf32>, tensor<8xf32>
// CHECK: llm.rms_norm {{.+}} epsilon = 9.9999999999999995E-7 : tensor<?x4x8xf32>, tensor<8xf32>
// CHECK: llm.rope
// CHECK: llm.rope
// CHECK: llm.kv_cache_write
// CHECK: llm.cached_attention %{{.+}}, %{{.+}} {layer = 3 : i64, scale = 3.500000e-01 : f64, sliding_window = 4 : i64, softcap = 5.000000e+01 : f64}
module attributes {test.case = "qwen"} {
  func.func @qk_norm_bias(%x: tensor<?x32xf32>, %pos: tensor<?xi32>, %batch: !llm.batch) -> tensor<?x4x8xf32> {
    %wq = llm.weight @l.attn.q_proj.weight : tensor<32x32xf32>
    %bq = llm.weight @l.attn.q_proj.bias : tensor<32xf32>
    %wk = llm.weight @l.attn.k_proj.weight : tensor<32x32xf32>
    %bk = llm.weight @l.attn.k_proj.bias : tensor<32xf32>
    %wv = llm.weight @l.attn.v_proj.weight : tensor<32x32xf32>
    %bv = llm.weight @l.attn.v_proj.bias : tensor<32xf32>
    %q = llm.linear %x, %wq, %bq : tensor<?x32xf32>, tensor<32x32xf32>, tensor<32xf32> -> tensor<?x32xf32>
    %k = llm.linear %x, %wk, %bk : tensor<?x32xf32>, tensor<32x32xf32>, tensor<32xf32> -> tensor<?x32xf32>
    %v = llm.linear %x, %wv, %bv : tensor<?x32xf32>, tensor<32x32xf32>, tensor<32xf32> -> tensor<?x32xf32>
    %q3 = llm.reshape %q : tensor<?x32xf32> -> tensor<?x4x8xf32>
    %k3 = llm.reshape %k : tensor<?x32xf32> -> tensor<?x4x8xf32>
    %v3 = llm.reshape %v : tensor<?x32xf32> -> tensor<?x4x8xf32>
    %nq = llm.weight @l.attn.q_norm.weight : tensor<8xf32>
    %nk = llm.weight @l.attn.k_norm.weight : tensor<8xf32>
    %qn = llm.rms_norm %q3, %nq epsilon = 1.0e-06 : tensor<?x4x8xf32>, tensor<8xf32>
    %kn = llm.rms_norm %k3, %nk epsilon = 1.0e-06 : tensor<?x4x8xf32>, tensor<8xf32>
    %qr = llm.rope %qn, %pos {theta = 1000000.0 : f64} : tensor<?x4x8xf32>, tensor<?xi32>
    %kr = llm.rope %kn, %pos {theta = 1000000.0 : f64} : tensor<?x4x8xf32>, tensor<?xi32>
    %o = llm.attention %qr, %kr, %v3, %batch {layer = 3 : i64, scale = 0.35 : f64, sliding_window = 4 : i64, softcap = 50.0 : f64}
        : tensor<?x4x8xf32>, tensor<?x4x8xf32>, tensor<?x4x8xf32> -> tensor<?x4x8xf32>
    return %o : tensor<?x4x8xf32>
  }
}

// -----
// Ropes that rotate differently, or a key read elsewhere, keep attention
// whole; linears of different inputs or bias-ness never merge.
// CHECK-LABEL: func.func @no_rope_kv_write
// CHECK: llm.split
// CHECK-NOT: rope_kv_write
// CHECK: llm.attention
// CHECK: llm.linear %arg3, %{{.+}} : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
// CHECK: llm.linear %{{.+}}, %{{.+}}, %{{.+}} : tensor<?x16xf32>, tensor<16x16xf32>, tensor<16xf32> -> tensor<?x16xf32>
module attributes {test.case = "no_rope_kv_write"} {
  func.func @no_rope_kv_write(%x: tensor<?x16xf32>, %pos: tensor<?xi32>, %batch: !llm.batch, %x2: tensor<?x16xf32>) -> (tensor<?x2x8xf32>, tensor<?x16xf32>, tensor<?x16xf32>) {
    %wq = llm.weight @a.q.weight : tensor<16x16xf32>
    %wk = llm.weight @a.k.weight : tensor<16x16xf32>
    %wv = llm.weight @a.v.weight : tensor<16x16xf32>
    %q = llm.linear %x, %wq : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
    %k = llm.linear %x, %wk : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
    %v = llm.linear %x, %wv : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
    %q3 = llm.reshape %q : tensor<?x16xf32> -> tensor<?x2x8xf32>
    %k3 = llm.reshape %k : tensor<?x16xf32> -> tensor<?x2x8xf32>
    %v3 = llm.reshape %v : tensor<?x16xf32> -> tensor<?x2x8xf32>
    %qr = llm.rope %q3, %pos {theta = 10000.0 : f64} : tensor<?x2x8xf32>, tensor<?xi32>
    %kr = llm.rope %k3, %pos {theta = 500000.0 : f64} : tensor<?x2x8xf32>, tensor<?xi32>
    %o = llm.attention %qr, %kr, %v3, %batch {layer = 0 : i64, scale = 0.35 : f64}
        : tensor<?x2x8xf32>, tensor<?x2x8xf32>, tensor<?x2x8xf32> -> tensor<?x2x8xf32>
    %w2 = llm.weight @b.weight : tensor<16x16xf32>
    %w3 = llm.weight @c.weight : tensor<16x16xf32>
    %b3 = llm.weight @c.bias : tensor<16xf32>
    %y2 = llm.linear %x2, %w2 : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
    %y3 = llm.linear %x, %w3, %b3 : tensor<?x16xf32>, tensor<16x16xf32>, tensor<16xf32> -> tensor<?x16xf32>
    return %o, %y2, %y3 : tensor<?x2x8xf32>, tensor<?x16xf32>, tensor<?x16xf32>
  }
}

// -----
// Gemma: GELU(tanh) gated activation; a residual still read after the add
// cannot be overwritten, so the add stays for add_rms_norm, which yields the
// sum and the norm; an llm.quantize after a norm joins it.
// CHECK-LABEL: func.func @norms
// CHECK: %[[G:.+]] = llm.fused ins(%{{.+}}, %{{.+}} : tensor<?x16xf32>, tensor<32x16xf32>) attributes {kind = "linear_gated_activation"}
// CHECK: llm.gelu %{{.+}} approximation = tanh
// CHECK: %[[N:.+]]:2 = llm.fused ins(%arg1, %{{.+}}, %{{.+}}, %{{.+}} : tensor<?x16xf32>, tensor<?x16xf32>, tensor<16xf32>, tensor<f32>) attributes {kind = "add_rms_norm_quantize"} {
// CHECK: llm.add
// CHECK-NEXT: llm.rms_norm
// CHECK-NEXT: llm.quantize
// CHECK-NEXT: llm.yield %{{.+}}, %{{.+}} : tensor<?x16xf32>, tensor<?x16xi8>
// CHECK: %[[Q:.+]] = llm.fused ins(%[[N]]#0, %{{.+}}, %{{.+}} : tensor<?x16xf32>, tensor<16xf32>, tensor<f32>) attributes {kind = "rms_norm_quantize"}
// CHECK: return %[[N]]#1, %[[Q]], %arg1
// NOQUANT-LABEL: func.func @norms
// NOQUANT: %[[N:.+]]:2 = llm.fused {{.+}} attributes {kind = "add_rms_norm"}
// NOQUANT: llm.quantize %[[N]]#1
// NOQUANT-NOT: rms_norm_quantize
module attributes {test.case = "norms"} {
  func.func @norms(%x: tensor<?x16xf32>, %r: tensor<?x16xf32>) -> (tensor<?x16xi8>, tensor<?x16xi8>, tensor<?x16xf32>) {
    %wg = llm.weight @m.gate_proj.weight : tensor<16x16xf32>
    %wu = llm.weight @m.up_proj.weight : tensor<16x16xf32>
    %wd = llm.weight @m.down_proj.weight : tensor<16x16xf32>
    %gate = llm.linear %x, %wg : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
    %up = llm.linear %x, %wu : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
    %act = llm.gelu %gate approximation = tanh : tensor<?x16xf32>
    %prod = llm.mul %up, %act : tensor<?x16xf32>
    %mlp = llm.linear %prod, %wd : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
    %h = llm.add %r, %mlp : tensor<?x16xf32>
    %w = llm.weight @n.weight : tensor<16xf32>
    %s = llm.weight @n.input_scale : tensor<f32>
    %n = llm.rms_norm %h, %w epsilon = 1.0e-05 : tensor<?x16xf32>, tensor<16xf32>
    %nq = llm.quantize %n, %s : tensor<?x16xf32>, tensor<f32> -> tensor<?x16xi8>
    %n2 = llm.rms_norm %h, %w epsilon = 1.0e-05 : tensor<?x16xf32>, tensor<16xf32>
    %nq2 = llm.quantize %n2, %s : tensor<?x16xf32>, tensor<f32> -> tensor<?x16xi8>
    return %nq, %nq2, %r : tensor<?x16xi8>, tensor<?x16xi8>, tensor<?x16xf32>
  }
}

// -----
// A gated activation whose packed input is not a single-use linear stays
// its own group, with the quantize that follows.
// CHECK-LABEL: func.func @gated_quantize
// CHECK: llm.fused ins(%{{.+}}, %{{.+}} : tensor<?x32xbf16>, tensor<?x1xf32>) attributes {kind = "gated_activation_quantize"}
// CHECK: llm.split
// CHECK-NEXT: llm.silu
// CHECK-NEXT: llm.mul
// CHECK-NEXT: llm.quantize
module attributes {test.case = "gated_quantize"} {
  func.func @gated_quantize(%packed: tensor<?x32xbf16>, %scale: tensor<?x1xf32>) -> tensor<?x16xi8> {
    %g, %u = llm.split %packed : tensor<?x32xbf16> -> tensor<?x16xbf16>, tensor<?x16xbf16>
    %a = llm.silu %g : tensor<?x16xbf16>
    %p = llm.mul %a, %u : tensor<?x16xbf16>
    %q = llm.quantize %p, %scale : tensor<?x16xbf16>, tensor<?x1xf32> -> tensor<?x16xi8>
    return %q : tensor<?x16xi8>
  }
}

// -----
// Elementwise chains: each op used only by the next, of one shape, become
// one group (an op with a second user ends its chain); a lone op stays.
// CHECK-LABEL: func.func @elementwise
// CHECK: %[[E:.+]] = llm.fused ins(%arg0, %arg1 : tensor<?x8xbf16>, tensor<?x8xbf16>) attributes {kind = "elementwise"} {
// CHECK-NEXT: ^bb0(%[[A:.+]]: tensor<?x8xbf16>, %[[B:.+]]: tensor<?x8xbf16>):
// CHECK-NEXT: %[[S:.+]] = llm.silu %[[A]]
// CHECK-NEXT: %[[M:.+]] = llm.mul %[[S]], %[[B]]
// CHECK-NEXT: %[[C:.+]] = llm.scale %[[M]] by 5.000000e-01
// CHECK-NEXT: %[[F:.+]] = arith.extf %[[C]] : tensor<?x8xbf16> to tensor<?x8xf32>
// CHECK-NEXT: llm.yield %[[F]] : tensor<?x8xf32>
// CHECK: %[[L:.+]] = llm.gelu %arg0
// CHECK: return %[[E]], %[[L]], %[[L]]
// NOEPI-LABEL: func.func @elementwise
// NOEPI: kind = "elementwise"
module attributes {test.case = "elementwise"} {
  func.func @elementwise(%a: tensor<?x8xbf16>, %b: tensor<?x8xbf16>) -> (tensor<?x8xf32>, tensor<?x8xbf16>, tensor<?x8xbf16>) {
    %s = llm.silu %a : tensor<?x8xbf16>
    %m = llm.mul %s, %b : tensor<?x8xbf16>
    %c = llm.scale %m by 0.5 : tensor<?x8xbf16>
    %f = arith.extf %c : tensor<?x8xbf16> to tensor<?x8xf32>
    %l = llm.gelu %a : tensor<?x8xbf16>
    return %f, %l, %l : tensor<?x8xf32>, tensor<?x8xbf16>, tensor<?x8xbf16>
  }
}

// -----
// Gemma's sandwich norms: the branch's own norm, the residual add and the
// next norm are one rms_norm_add_rms_norm group (sum and norm as results);
// a branch norm read twice stays out, leaving add_rms_norm.
// CHECK-LABEL: func.func @sandwich
// CHECK: %[[S:.+]]:2 = llm.fused ins(%arg0, %{{.+}}, %arg1, %{{.+}} : tensor<?x16xf32>, tensor<16xf32>, tensor<?x16xf32>, tensor<16xf32>) attributes {kind = "rms_norm_add_rms_norm"} {
// CHECK-NEXT: ^bb0(%[[B:.+]]: tensor<?x16xf32>, %[[W1:.+]]: tensor<16xf32>, %[[R:.+]]: tensor<?x16xf32>, %[[W2:.+]]: tensor<16xf32>):
// CHECK-NEXT: %[[N1:.+]] = llm.rms_norm %[[B]], %[[W1]] epsilon = 9.9999999999999995E-7
// CHECK-NEXT: %[[SUM:.+]] = llm.add %[[R]], %[[N1]]
// CHECK-NEXT: %[[N2:.+]] = llm.rms_norm %[[SUM]], %[[W2]] epsilon = 1.000000e-05
// CHECK-NEXT: llm.yield %[[SUM]], %[[N2]]
// CHECK: llm.rms_norm %arg2
// CHECK: kind = "add_rms_norm"
// CHECK: return %[[S]]#1
// NOEPI-LABEL: func.func @sandwich
// NOEPI: kind = "rms_norm_add_rms_norm"
module attributes {test.case = "sandwich"} {
  func.func @sandwich(%branch: tensor<?x16xf32>, %r: tensor<?x16xf32>, %branch2: tensor<?x16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>) {
    %w1 = llm.weight @post_attention_layernorm.weight : tensor<16xf32>
    %w2 = llm.weight @pre_feedforward_layernorm.weight : tensor<16xf32>
    %n1 = llm.rms_norm %branch, %w1 epsilon = 1.0e-06 : tensor<?x16xf32>, tensor<16xf32>
    %s = llm.add %r, %n1 : tensor<?x16xf32>
    %n2 = llm.rms_norm %s, %w2 epsilon = 1.0e-05 : tensor<?x16xf32>, tensor<16xf32>
    %m1 = llm.rms_norm %branch2, %w1 epsilon = 1.0e-06 : tensor<?x16xf32>, tensor<16xf32>
    %s2 = llm.add %s, %m1 : tensor<?x16xf32>
    %m2 = llm.rms_norm %s2, %w2 epsilon = 1.0e-05 : tensor<?x16xf32>, tensor<16xf32>
    return %n2, %m1, %m2, %s2 : tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>
  }
}

// -----
// The residual epilogue writes C in place, so C may not also be the GEMM's
// input (x + x * W^T stays a linear and an add, which add_rms_norm takes).
// CHECK-LABEL: func.func @residual_is_input
// CHECK-NOT: linear_residual
// CHECK: llm.linear
// CHECK: kind = "add_rms_norm"
module attributes {test.case = "residual_is_input"} {
  func.func @residual_is_input(%ids: tensor<?xi32>) -> tensor<?x16xf32> {
    %t = llm.weight @embed.weight : tensor<8x16xf32>
    %x = llm.embedding %t[%ids] : tensor<8x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
    %w = llm.weight @w.weight : tensor<16x16xf32>
    %y = llm.linear %x, %w : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
    %s = llm.add %x, %y : tensor<?x16xf32>
    %n = llm.weight @n.weight : tensor<16xf32>
    %r = llm.rms_norm %s, %n epsilon = 1.0e-05 : tensor<?x16xf32>, tensor<16xf32>
    return %r : tensor<?x16xf32>
  }
}
