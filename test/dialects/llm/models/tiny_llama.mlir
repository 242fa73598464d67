// The tiny Llama layer used by the quick start verifies, round-trips, and
// survives canonicalize + cse unchanged in structure (nothing in it is dead).
// RUN: llmc-opt %S/../../../Inputs/tiny_llama.mlir --canonicalize --cse | llmc-opt | FileCheck %s

// CHECK-LABEL: func.func @forward
// CHECK-SAME: (%[[IDS:.+]]: tensor<?xi32>, %[[POS:.+]]: tensor<?xi32>, %[[BATCH:.+]]: !llm.batch) -> tensor<?x256xf32>
// CHECK: %[[EMB:.+]] = llm.weight @model.embed_tokens.weight : tensor<256x64xbf16>
// CHECK: llm.embedding %[[EMB]][%[[IDS]]]
// CHECK-COUNT-2: llm.rope {{.+}}, %[[POS]] {theta = 1.000000e+04 : f64}
// CHECK: llm.attention {{.+}}, %[[BATCH]] {layer = 0 : i64, scale = 2.500000e-01 : f64} : tensor<?x4x16xbf16>, tensor<?x2x16xbf16>, tensor<?x2x16xbf16> -> tensor<?x4x16xbf16>
// CHECK: llm.silu
// CHECK: llm.mul
// Tied embeddings: the LM head reads the embedding table.
// CHECK: llm.linear %{{.+}}, %[[EMB]] : tensor<?x64xbf16>, tensor<256x64xbf16> -> tensor<?x256xbf16>
// CHECK: arith.extf
