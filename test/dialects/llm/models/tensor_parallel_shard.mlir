// Rank 0 of a 2-way tensor-parallel Llama layer (Megatron style): Q/K/V and
// gate/up are column shards (half the heads, half the MLP), O and down are row
// shards followed by an all_reduce; the vocab-parallel LM head gathers logits.
// RUN: llmc-opt %s | llmc-opt --canonicalize | FileCheck %s

// CHECK-LABEL: func.func @forward_rank0
func.func @forward_rank0(%x: tensor<?x64xbf16>, %h: tensor<?x64xbf16>, %pos: tensor<?xi32>, %batch: !llm.batch) -> tensor<?x256xf32> {
  %wq = llm.weight @rank0.layers.0.q_proj : tensor<32x64xbf16>
  %wk = llm.weight @rank0.layers.0.k_proj : tensor<16x64xbf16>
  %wv = llm.weight @rank0.layers.0.v_proj : tensor<16x64xbf16>
  %q = llm.linear %x, %wq : tensor<?x64xbf16>, tensor<32x64xbf16> -> tensor<?x32xbf16>
  %k = llm.linear %x, %wk : tensor<?x64xbf16>, tensor<16x64xbf16> -> tensor<?x16xbf16>
  %v = llm.linear %x, %wv : tensor<?x64xbf16>, tensor<16x64xbf16> -> tensor<?x16xbf16>
  %q3 = llm.reshape %q : tensor<?x32xbf16> -> tensor<?x2x16xbf16>
  %k3 = llm.reshape %k : tensor<?x16xbf16> -> tensor<?x1x16xbf16>
  %v3 = llm.reshape %v : tensor<?x16xbf16> -> tensor<?x1x16xbf16>
  %qr = llm.rope %q3, %pos {theta = 10000.0 : f64} : tensor<?x2x16xbf16>, tensor<?xi32>
  %kr = llm.rope %k3, %pos {theta = 10000.0 : f64} : tensor<?x1x16xbf16>, tensor<?xi32>
  %o3 = llm.attention %qr, %kr, %v3, %batch {layer = 0 : i64, scale = 0.25 : f64}
      : tensor<?x2x16xbf16>, tensor<?x1x16xbf16>, tensor<?x1x16xbf16> -> tensor<?x2x16xbf16>
  %o = llm.reshape %o3 : tensor<?x2x16xbf16> -> tensor<?x32xbf16>
  // Row-parallel O projection: a partial sum per rank, then all_reduce.
  // CHECK: %[[PARTIAL:.+]] = llm.linear %{{.+}}, %{{.+}} : tensor<?x32xbf16>, tensor<64x32xbf16> -> tensor<?x64xbf16>
  // CHECK-NEXT: llm.all_reduce sum %[[PARTIAL]] group = [0, 1] : tensor<?x64xbf16>
  %wo = llm.weight @rank0.layers.0.o_proj : tensor<64x32xbf16>
  %partial = llm.linear %o, %wo : tensor<?x32xbf16>, tensor<64x32xbf16> -> tensor<?x64xbf16>
  %attn = llm.all_reduce sum %partial group = [0, 1] : tensor<?x64xbf16>
  %h1 = llm.add %h, %attn : tensor<?x64xbf16>
  // Vocab-parallel LM head: each rank has half the vocabulary.
  // CHECK: llm.all_gather %{{.+}} axis = 1 group = [0, 1] : tensor<?x128xf32> -> tensor<?x256xf32>
  %head = llm.weight @rank0.lm_head : tensor<128x64xbf16>
  %part16 = llm.linear %h1, %head : tensor<?x64xbf16>, tensor<128x64xbf16> -> tensor<?x128xbf16>
  %part = arith.extf %part16 : tensor<?x128xbf16> to tensor<?x128xf32>
  %logits = llm.all_gather %part axis = 1 group = [0, 1] : tensor<?x128xf32> -> tensor<?x256xf32>
  return %logits : tensor<?x256xf32>
}
