// RUN: llmc-opt %s --split-input-file --verify-diagnostics --llm-lower-to-plan="max-tokens=8 backend=cpu" | FileCheck %s
// RUN: llmc-opt %s --split-input-file --verify-diagnostics --llm-lower-to-plan="max-tokens=32 rank=1 backend=cublaslt" | FileCheck %s --check-prefix=OPTS
// RUN: not llmc-opt %s --split-input-file --llm-lower-to-plan="max-tokens=0" 2>&1 | FileCheck %s --check-prefix=ZERO
// RUN: not llmc-opt %s --llm-lower-to-plan="backend=tpu" 2>&1 | FileCheck %s --check-prefix=BACKEND

// ZERO: error: max-tokens must be positive, got 0
// BACKEND: for the --backend option: Cannot find option named 'tpu'!

// Arguments and the result become marked I/O slices (an argument no llm.rope
// reads is not "positions"); a tied embedding table is one weight slice;
// max-tokens sizes the token dimension; buffers are laid out one after
// another, 256-byte aligned: 256 + 256 + 1024 + 4096 + 8192 = 13824 bytes.
// Every buffer whose leading dimension was the dynamic token dimension is
// marked plan.token_rows (weights are not).
// CHECK-LABEL: module attributes {test.case = "io"}
// CHECK-NEXT: plan.arena @activations kind = activations size = 13824 alignment = 256
// CHECK-NEXT: plan.arena @weights kind = weights size = 32768 alignment = 4096
// CHECK-NEXT: plan.rank 0 {
// CHECK-NEXT: %[[IDS:.+]] = plan.slice @activations[0] {plan.input = "token_ids", plan.token_rows} : memref<8xi32>
// CHECK-NEXT: plan.slice @activations[256] {plan.input = "arg1", plan.token_rows} : memref<8xi32>
// CHECK-NEXT: %[[TABLE:.+]] = plan.slice @weights[0] {plan.weight = "model.embed_tokens.weight"} : memref<256x64xbf16>
// CHECK-NEXT: %[[H:.+]] = plan.slice @activations[512] {plan.token_rows} : memref<8x64xbf16>
// CHECK-NEXT: plan.compute "embedding"(%[[TABLE]], %[[IDS]] : memref<256x64xbf16>, memref<8xi32> -> %[[H]] : memref<8x64xbf16>)
// CHECK-NEXT: %[[L16:.+]] = plan.slice @activations[1536] {plan.token_rows} : memref<8x256xbf16>
// CHECK-NEXT: plan.gemm cpu %[[H]], %[[TABLE]] into %[[L16]] transpose_b : memref<8x64xbf16>, memref<256x64xbf16>, memref<8x256xbf16>
// CHECK-NEXT: %[[L:.+]] = plan.slice @activations[5632] {plan.output = "logits", plan.token_rows} : memref<8x256xf32>
// CHECK-NEXT: plan.compute "convert"(%[[L16]] : memref<8x256xbf16> -> %[[L]] : memref<8x256xf32>)
// CHECK-NEXT: }
// CHECK-NOT: func.func
// OPTS-LABEL: module attributes {test.case = "io"}
// OPTS: plan.rank 1 {
// OPTS: plan.slice @activations[0] {plan.input = "token_ids", plan.token_rows} : memref<32xi32>
// OPTS: plan.gemm cublaslt {{.+}} : memref<32x64xbf16>, memref<256x64xbf16>, memref<32x256xbf16>
module attributes {test.case = "io"} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %batch: !llm.batch) -> tensor<?x256xf32> {
    %table = llm.weight @model.embed_tokens.weight : tensor<256x64xbf16>
    %h = llm.embedding %table[%ids] : tensor<256x64xbf16>, tensor<?xi32> -> tensor<?x64xbf16>
    %table2 = llm.weight @model.embed_tokens.weight : tensor<256x64xbf16>
    %l16 = llm.linear %h, %table2 : tensor<?x64xbf16>, tensor<256x64xbf16> -> tensor<?x256xbf16>
    %l = arith.extf %l16 : tensor<?x256xbf16> to tensor<?x256xf32>
    return %l : tensor<?x256xf32>
  }
}

// -----
// Weights: one slice per name in order of first use, each on a 4 KiB page,
// even when the previous one is tiny.
// CHECK-LABEL: module attributes {test.case = "weights"}
// CHECK: plan.arena @weights kind = weights size = 12288 alignment = 4096
// CHECK: plan.slice @weights[0] {plan.weight = "a.weight"} : memref<64xbf16>
// CHECK: plan.slice @weights[4096] {plan.weight = "b.weight"} : memref<64xbf16>
// CHECK: plan.slice @weights[8192] {plan.weight = "c.weight"} : memref<64x32xi4>
module attributes {test.case = "weights"} {
  func.func @forward(%x: tensor<?x64xbf16>) -> tensor<?x64xbf16> {
    %a = llm.weight @a.weight : tensor<64xbf16>
    %b = llm.weight @b.weight : tensor<64xbf16>
    %c = llm.weight @c.weight : tensor<64x32xi4>
    %y = llm.rms_norm %x, %a epsilon = 1.0e-05 : tensor<?x64xbf16>, tensor<64xbf16>
    %z = llm.rms_norm %y, %b epsilon = 1.0e-05 : tensor<?x64xbf16>, tensor<64xbf16>
    return %z : tensor<?x64xbf16>
  }
}

// -----
// Norms: the epsilon is a step parameter; layer_norm's bias is an input.
// CHECK-LABEL: module attributes {test.case = "norms"}
// CHECK: %[[X:.+]] = plan.slice @activations[0] {plan.input = "arg0", plan.token_rows} : memref<8x64xf16>
// CHECK: %[[W:.+]] = plan.slice @weights[0] {plan.weight = "w"} : memref<64xf16>
// CHECK: %[[B:.+]] = plan.slice @weights[4096] {plan.weight = "b"} : memref<64xf16>
// CHECK: %[[Y:.+]] = plan.slice @activations[1024] {plan.token_rows} : memref<8x64xf16>
// CHECK: plan.compute "rms_norm"(%[[X]], %[[W]] : memref<8x64xf16>, memref<64xf16> -> %[[Y]] : memref<8x64xf16>) {epsilon = 2.500000e-01 : f64}
// CHECK: %[[Z:.+]] = plan.slice @activations[2048] {plan.output = "logits", plan.token_rows} : memref<8x64xf16>
// CHECK: plan.compute "layer_norm"(%[[Y]], %[[W]], %[[B]] : memref<8x64xf16>, memref<64xf16>, memref<64xf16> -> %[[Z]] : memref<8x64xf16>) {epsilon = 1.000000e-05 : f64}
module attributes {test.case = "norms"} {
  func.func @forward(%x: tensor<?x64xf16>) -> tensor<?x64xf16> {
    %w = llm.weight @w : tensor<64xf16>
    %b = llm.weight @b : tensor<64xf16>
    %y = llm.rms_norm %x, %w epsilon = 0.25 : tensor<?x64xf16>, tensor<64xf16>
    %z = llm.layer_norm %y, %w, %b epsilon = 1.0e-05 : tensor<?x64xf16>, tensor<64xf16>, tensor<64xf16>
    return %z : tensor<?x64xf16>
  }
}

// -----
// Linear layers: a GEMM with B in nn.Linear's [N, K] layout; a bias is added
// in place; a 3-D input is multiplied through 2-D views. (Quantized linears:
// lower_to_plan_quant.mlir.)
// CHECK-LABEL: module attributes {test.case = "linear"}
// CHECK: %[[X:.+]] = plan.slice @activations[0] {plan.input = "arg0", plan.token_rows} : memref<8x2x64xbf16>
// CHECK: %[[W:.+]] = plan.slice @weights[0] {plan.weight = "w"} : memref<32x64xbf16>
// CHECK: %[[B:.+]] = plan.slice @weights[4096] {plan.weight = "bias"} : memref<32xbf16>
// CHECK: %[[Y:.+]] = plan.slice @activations[2048] {plan.output = "logits", plan.token_rows} : memref<8x2x32xbf16>
// CHECK: %[[X2:.+]] = plan.slice @activations[0] view(%[[X]] : memref<8x2x64xbf16>) {plan.token_rows} : memref<16x64xbf16>
// CHECK: %[[Y2:.+]] = plan.slice @activations[2048] view(%[[Y]] : memref<8x2x32xbf16>) {plan.token_rows} : memref<16x32xbf16>
// CHECK: plan.gemm cpu %[[X2]], %[[W]] into %[[Y2]] transpose_b : memref<16x64xbf16>, memref<32x64xbf16>, memref<16x32xbf16>
// CHECK: plan.compute "bias_add"(%[[Y]], %[[B]] : memref<8x2x32xbf16>, memref<32xbf16> -> %[[Y]] : memref<8x2x32xbf16>)
module attributes {test.case = "linear"} {
  func.func @forward(%x: tensor<?x2x64xbf16>) -> tensor<?x2x32xbf16> {
    %w = llm.weight @w : tensor<32x64xbf16>
    %b = llm.weight @bias : tensor<32xbf16>
    %y = llm.linear %x, %w, %b : tensor<?x2x64xbf16>, tensor<32x64xbf16>, tensor<32xbf16> -> tensor<?x2x32xbf16>
    return %y : tensor<?x2x32xbf16>
  }
}

// -----
// Matmul: a matrix product is a GEMM ([K, N] unless transposed); a batched
// one is a step that says whether its right operand is transposed.
// CHECK-LABEL: module attributes {test.case = "matmul"}
// Static shapes have no token dimension: no buffer is marked.
// CHECK-NOT: plan.token_rows
// CHECK: plan.gemm cpu %{{.+}}, %{{.+}} into %{{.+}} transpose_b : memref<8x16xf32>, memref<8x16xf32>, memref<8x8xf32>
// CHECK: plan.gemm cpu %{{.+}}, %{{.+}} into %{{.+}} : memref<8x8xf32>, memref<8x16xf32>, memref<8x16xf32>
// CHECK: plan.compute "matmul"(%{{.+}}, %{{.+}} : memref<4x8x16xf32>, memref<4x8x16xf32> -> %{{.+}} : memref<4x8x8xf32>) {transpose_rhs = 1 : i64}
module attributes {test.case = "matmul"} {
  func.func @forward(%a: tensor<8x16xf32>, %b: tensor<4x8x16xf32>) -> (tensor<8x16xf32>, tensor<4x8x8xf32>) {
    %s = llm.matmul %a, %a {transpose_rhs} : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x8xf32>
    %o = llm.matmul %s, %a : tensor<8x8xf32>, tensor<8x16xf32> -> tensor<8x16xf32>
    %bs = llm.matmul %b, %b {transpose_rhs} : tensor<4x8x16xf32>, tensor<4x8x16xf32> -> tensor<4x8x8xf32>
    return %o, %bs : tensor<8x16xf32>, tensor<4x8x8xf32>
  }
}

// -----
// Reshape: a view of the same bytes, no step; a view of a view keeps the root.
// CHECK-LABEL: module attributes {test.case = "reshape"}
// CHECK: %[[X:.+]] = plan.slice @activations[0] {plan.input = "arg0", plan.token_rows} : memref<8x64xbf16>
// CHECK-NEXT: %[[X3:.+]] = plan.slice @activations[0] view(%[[X]] : memref<8x64xbf16>) {plan.token_rows} : memref<8x4x16xbf16>
// CHECK-NEXT: %[[Y:.+]] = plan.slice @activations[1024] {plan.token_rows} : memref<8x4x16xbf16>
// CHECK-NEXT: plan.compute "silu"(%[[X3]] : memref<8x4x16xbf16> -> %[[Y]] : memref<8x4x16xbf16>)
// CHECK-NEXT: %[[Y2:.+]] = plan.slice @activations[1024] view(%[[Y]] : memref<8x4x16xbf16>) {plan.output = "logits", plan.token_rows} : memref<8x64xbf16>
// CHECK-NEXT: }
module attributes {test.case = "reshape"} {
  func.func @forward(%x: tensor<?x64xbf16>) -> tensor<?x64xbf16> {
    %x3 = llm.reshape %x : tensor<?x64xbf16> -> tensor<?x4x16xbf16>
    %y = llm.silu %x3 : tensor<?x4x16xbf16>
    %y2 = llm.reshape %y : tensor<?x4x16xbf16> -> tensor<?x64xbf16>
    return %y2 : tensor<?x64xbf16>
  }
}

// -----
// RoPE: positions are an input; the style default is spelled out; scaling is
// flattened into plain parameters.
// CHECK-LABEL: module attributes {test.case = "rope"}
// CHECK: %[[POS:.+]] = plan.slice @activations[{{[0-9]+}}] {plan.input = "positions", plan.token_rows} : memref<8xi32>
// CHECK: plan.compute "rope"(%{{.+}}, %[[POS]] : memref<8x4x16xbf16>, memref<8xi32> -> %{{.+}} : memref<8x4x16xbf16>) {scaling = "llama3", scaling_factor = 8.000000e+00 : f64, scaling_high_freq_factor = 4.000000e+00 : f64, scaling_low_freq_factor = 1.000000e+00 : f64, scaling_original_max_position = 8192 : i64, style = "half", theta = 5.000000e+05 : f64}
// CHECK: plan.compute "rope"({{.+}}) {rotary_dim = 8 : i64, style = "interleaved", theta = 1.000000e+04 : f64}
module attributes {test.case = "rope"} {
  func.func @forward(%q: tensor<?x4x16xbf16>, %pos: tensor<?xi32>) -> (tensor<?x4x16xbf16>, tensor<?x4x16xbf16>) {
    %r = llm.rope %q, %pos {theta = 500000.0 : f64, scaling = #llm.rope_scaling<llama3, factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position = 8192>} : tensor<?x4x16xbf16>, tensor<?xi32>
    %i = llm.rope %q, %pos {theta = 10000.0 : f64, rotary_dim = 8 : i64, style = #llm<rope_style interleaved>} : tensor<?x4x16xbf16>, tensor<?xi32>
    return %r, %i : tensor<?x4x16xbf16>, tensor<?x4x16xbf16>
  }
}

// -----
// Attention: names its KV-cache layer and keeps window and soft-cap; the
// batch metadata is the runtime's and takes no buffer.
// CHECK-LABEL: module attributes {test.case = "attention"}
// CHECK: %[[Q:.+]] = plan.slice @activations[0] {plan.input = "arg0", plan.token_rows} : memref<8x4x16xbf16>
// CHECK: %[[K:.+]] = plan.slice @activations[1024] {plan.input = "arg1", plan.token_rows} : memref<8x2x16xbf16>
// CHECK: %[[V:.+]] = plan.slice @activations[1536] {plan.input = "arg2", plan.token_rows} : memref<8x2x16xbf16>
// CHECK: %[[O:.+]] = plan.slice @activations[2048] {plan.output = "logits", plan.token_rows} : memref<8x4x16xbf16>
// CHECK: plan.compute "attention"(%[[Q]], %[[K]], %[[V]] : memref<8x4x16xbf16>, memref<8x2x16xbf16>, memref<8x2x16xbf16> -> %[[O]] : memref<8x4x16xbf16>) {layer = 3 : i64, scale = 2.500000e-01 : f64, sliding_window = 512 : i64, softcap = 5.000000e+01 : f64}
module attributes {test.case = "attention"} {
  func.func @forward(%q: tensor<?x4x16xbf16>, %k: tensor<?x2x16xbf16>, %v: tensor<?x2x16xbf16>, %batch: !llm.batch) -> tensor<?x4x16xbf16> {
    %o = llm.attention %q, %k, %v, %batch {layer = 3 : i64, scale = 0.25 : f64, sliding_window = 512 : i64, softcap = 50.0 : f64}
        : tensor<?x4x16xbf16>, tensor<?x2x16xbf16>, tensor<?x2x16xbf16> -> tensor<?x4x16xbf16>
    return %o : tensor<?x4x16xbf16>
  }
}

// -----
// Elementwise ops and softmax: one step each, defaults spelled out.
// CHECK-LABEL: module attributes {test.case = "elementwise"}
// CHECK: plan.compute "silu"(%{{.+}} : memref<8x32xf32> -> %{{.+}} : memref<8x32xf32>){{$}}
// CHECK: plan.compute "gelu"({{.+}}) {approximation = "tanh"}
// CHECK: plan.compute "gelu"({{.+}}) {approximation = "none"}
// CHECK: plan.compute "add"(%{{.+}}, %{{.+}} : memref<8x32xf32>, memref<8x32xf32> -> %{{.+}} : memref<8x32xf32>){{$}}
// CHECK: plan.compute "mul"({{.+}}){{$}}
// CHECK: plan.compute "scale"({{.+}}) {factor = 2.500000e+01 : f64}
// CHECK: plan.compute "softmax"({{.+}}) {axis = -1 : i64}
// CHECK: plan.compute "softmax"({{.+}}) {axis = 0 : i64}
// CHECK: plan.compute "convert"(%{{.+}} : memref<8x32xf32> -> %{{.+}} : memref<8x32xbf16>)
module attributes {test.case = "elementwise"} {
  func.func @forward(%x: tensor<?x32xf32>) -> tensor<?x32xbf16> {
    %a = llm.silu %x : tensor<?x32xf32>
    %b = llm.gelu %a approximation = tanh : tensor<?x32xf32>
    %c = llm.gelu %b : tensor<?x32xf32>
    %d = llm.add %c, %x : tensor<?x32xf32>
    %e = llm.mul %d, %x : tensor<?x32xf32>
    %f = llm.scale %e by 25.0 : tensor<?x32xf32>
    %g = llm.softmax %f axis = -1 : tensor<?x32xf32>
    %h = llm.softmax %g axis = 0 : tensor<?x32xf32>
    %i = arith.truncf %h : tensor<?x32xf32> to tensor<?x32xbf16>
    return %i : tensor<?x32xbf16>
  }
}

// -----
// Quantization: scales and zero points are ordinary input buffers.
// CHECK-LABEL: module attributes {test.case = "quant"}
// CHECK: plan.compute "quantize"(%{{.+}}, %{{.+}} : memref<8x64xbf16>, memref<8x1xf32> -> %{{.+}} : memref<8x64xi8>)
// CHECK: plan.compute "dequantize"(%{{.+}}, %{{.+}}, %{{.+}} : memref<32x64xi4>, memref<32x1xf16>, memref<32x1xi8> -> %{{.+}} : memref<32x64xf16>)
module attributes {test.case = "quant"} {
  func.func @forward(%x: tensor<?x64xbf16>, %s: tensor<?x1xf32>) -> (tensor<?x64xi8>, tensor<32x64xf16>) {
    %q = llm.quantize %x, %s : tensor<?x64xbf16>, tensor<?x1xf32> -> tensor<?x64xi8>
    %w4 = llm.weight @w4 : tensor<32x64xi4>
    %ws = llm.weight @w4.scale : tensor<32x1xf16>
    %wz = llm.weight @w4.zero : tensor<32x1xi8>
    %w = llm.dequantize %w4, %ws, %wz : tensor<32x64xi4>, tensor<32x1xf16>, tensor<32x1xi8> -> tensor<32x64xf16>
    return %q, %w : tensor<?x64xi8>, tensor<32x64xf16>
  }
}

// -----
// Collectives: all_reduce and all_gather out of place; send and recv over the
// pair's group.
// CHECK-LABEL: module attributes {test.case = "collectives"}
// CHECK: %[[X:.+]] = plan.slice @activations[0] {plan.input = "arg0", plan.token_rows} : memref<8x64xbf16>
// CHECK: %[[R:.+]] = plan.slice @activations[1024] {plan.token_rows} : memref<8x64xbf16>
// CHECK: plan.collective all_reduce %[[X]] into %[[R]] reduction = sum group = [0, 1] : memref<8x64xbf16>, memref<8x64xbf16>
// CHECK: %[[G:.+]] = plan.slice @activations[2048] {plan.token_rows} : memref<8x128xbf16>
// CHECK: plan.collective all_gather %[[R]] into %[[G]] axis = 1 group = [0, 1] : memref<8x64xbf16>, memref<8x128xbf16>
// CHECK: plan.collective send %[[R]] peer = 2 group = [0, 2] : memref<8x64xbf16>
// CHECK: %[[H:.+]] = plan.slice @activations[4096] {plan.output = "logits", plan.token_rows} : memref<8x64xbf16>
// CHECK: plan.collective recv %[[H]] peer = 3 group = [0, 3] : memref<8x64xbf16>
// OPTS-LABEL: module attributes {test.case = "collectives"}
// OPTS: plan.collective send %{{.+}} peer = 2 group = [1, 2]
// OPTS: plan.collective recv %{{.+}} peer = 3 group = [1, 3]
module attributes {test.case = "collectives"} {
  func.func @forward(%x: tensor<?x64xbf16>) -> tensor<?x64xbf16> {
    %r = llm.all_reduce sum %x group = [0, 1] : tensor<?x64xbf16>
    %g = llm.all_gather %r axis = 1 group = [0, 1] : tensor<?x64xbf16> -> tensor<?x128xbf16>
    llm.send %r to 2 : tensor<?x64xbf16>
    %h = llm.recv from 3 : tensor<?x64xbf16>
    return %h : tensor<?x64xbf16>
  }
}

// -----
// A module without @forward has nothing to lower.
// expected-error @+1 {{llm-lower-to-plan needs a func.func @forward to lower; the module has none}}
module attributes {test.case = "no_forward"} {
  func.func @forward_rank0(%x: tensor<?x64xbf16>) -> tensor<?x64xbf16> {
    return %x : tensor<?x64xbf16>
  }
}

// -----
// An op without a lowering is named.
module attributes {test.case = "unknown_op"} {
  func.func @forward(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
    // expected-error @+1 {{llm-lower-to-plan cannot lower 'arith.negf'; it lowers the llm dialect's model ops, arith.extf and arith.truncf}}
    %y = arith.negf %x : tensor<?x64xf32>
    return %y : tensor<?x64xf32>
  }
}

// -----
// Fused groups of a kind the lowering does not know are refused by kind
// (lower_to_plan_fused.mlir has the kinds llm-fuse creates).
module attributes {test.case = "fused"} {
  func.func @forward(%x: tensor<?x64xbf16>) -> tensor<?x64xbf16> {
    // expected-error @+1 {{llm-lower-to-plan cannot lower fused groups of kind 'silu'}}
    %y = llm.fused ins(%x : tensor<?x64xbf16>) attributes {kind = "silu"} {
    ^bb0(%a: tensor<?x64xbf16>):
      %s = llm.silu %a : tensor<?x64xbf16>
      llm.yield %s : tensor<?x64xbf16>
    } -> tensor<?x64xbf16>
    return %y : tensor<?x64xbf16>
  }
}

// -----
// Only the leading token dimension may be dynamic.
module attributes {test.case = "dynamic_dim"} {
  // expected-error @+1 {{dimension 1 of 'tensor<8x?xf32>' is dynamic; only the leading token dimension may be, every other dimension needs a static size}}
  func.func @forward(%x: tensor<8x?xf32>) -> tensor<8x?xf32> {
    %y = llm.silu %x : tensor<8x?xf32>
    return %y : tensor<8x?xf32>
  }
}

// -----
// A weight name used with two types is a frontend bug worth stopping at.
module attributes {test.case = "weight_types"} {
  func.func @forward(%x: tensor<?x64xbf16>) -> tensor<?x64xbf16> {
    %a = llm.weight @w : tensor<64xbf16>
    %y = llm.rms_norm %x, %a epsilon = 1.0e-05 : tensor<?x64xbf16>, tensor<64xbf16>
    // expected-error @+1 {{weight @w is used as 'memref<64xf16>' here but as 'memref<64xbf16>' before}}
    %b = llm.weight @w : tensor<64xf16>
    return %y : tensor<?x64xbf16>
  }
}
