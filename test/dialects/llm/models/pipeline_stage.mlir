// The middle stage of a 3-stage pipeline: it receives the hidden state from
// rank 0, runs its layers, and sends the result on to rank 2. Sends have no
// results but are never erased.
// RUN: llmc-opt %s | llmc-opt --canonicalize --cse | FileCheck %s

// CHECK-LABEL: func.func @forward_stage1
// CHECK: %[[H:.+]] = llm.recv from 0 : tensor<?x64xbf16>
// CHECK: %[[Y:.+]] = llm.rms_norm %[[H]]
// CHECK: llm.send %[[Y]] to 2 : tensor<?x64xbf16>
// CHECK-NEXT: return
func.func @forward_stage1(%pos: tensor<?xi32>, %batch: !llm.batch) {
  %h = llm.recv from 0 : tensor<?x64xbf16>
  %w = llm.weight @model.layers.8.input_layernorm.weight : tensor<64xbf16>
  %y = llm.rms_norm %h, %w epsilon = 1.0e-5 : tensor<?x64xbf16>, tensor<64xbf16>
  llm.send %y to 2 : tensor<?x64xbf16>
  return
}
