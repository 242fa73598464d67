// RUN: llmc-opt %s --split-input-file --verify-diagnostics --plan-memory=report --plan-verify-memory | FileCheck %s
// RUN: llmc-opt %S/../Inputs/tiny_llama.mlir --llm-lower-to-plan="max-tokens=8 backend=cpu" --plan-memory --plan-verify-memory | FileCheck %s --check-prefix=TINY8
// RUN: llmc-opt %S/../Inputs/tiny_llama.mlir --llm-lower-to-plan="max-tokens=8" --plan-memory=report -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT8
// RUN: llmc-opt %S/../Inputs/tiny_llama.mlir --llm-lower-to-plan="max-tokens=512" --plan-memory=report -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT512

// The tiny Llama (test/Inputs/tiny_llama.mlir) through both passes, by hand:
// naive, every buffer 256-byte aligned, at 8 tokens: ids and positions
// 2 x 256; h0, x1, q, qr, o3, attn, h1, x2, mlp, h2, xf 11 x 1024
// ([8, 64] bf16); k, v, kr 3 x 512; gate, up, act, prod 4 x 2048; bf16
// logits 4096; f32 logits 8192: 512 + 11264 + 1536 + 8192 + 12288 = 33792.
// The peak is the last step, where the bf16 logits (4096) are read and the
// f32 logits (8192) written: 12288, a lower bound the planner reaches (the
// MLP needs at most act + up + prod + h1 = 7168). At 512 tokens every buffer
// grows 64 times except ids and positions (2048 each): 64 x 33280 + 4096 =
// 2134016 naive, 512 x 256 x (2 + 4) = 786432 at peak.
// TINY8: plan.arena @activations kind = activations size = 12288 alignment = 256
// TINY8: plan.rank 0 {
// TINY8: plan.slice @activations[{{[0-9]+}}] {plan.input = "token_ids", plan.token_rows} : memref<8xi32>
// TINY8: %[[L16:.+]] = plan.slice @activations[8192] {plan.token_rows} : memref<8x256xbf16>
// TINY8: %[[L:.+]] = plan.slice @activations[0] {plan.output = "logits", plan.token_rows} : memref<8x256xf32>
// TINY8-NEXT: plan.compute "convert"(%[[L16]] : memref<8x256xbf16> -> %[[L]] : memref<8x256xf32>)
// REPORT8: remark: activations arena @activations: 12288 bytes at peak, 33792 bytes naive
// REPORT512: remark: activations arena @activations: 786432 bytes at peak, 2134016 bytes naive

// A chain of equal buffers: each is dead once the next step has read it, so
// two places suffice. The input is live from before the first step, the
// output until after the last.
// CHECK-LABEL: module attributes {test.case = "chain"}
// CHECK-NEXT: plan.arena @act kind = activations size = 2048 alignment = 256
// CHECK: %[[A:.+]] = plan.slice @act[0] {plan.input = "arg0"} : memref<256xf32>
// CHECK: %[[B:.+]] = plan.slice @act[1024] : memref<256xf32>
// CHECK: %[[C:.+]] = plan.slice @act[0] : memref<256xf32>
// CHECK: %[[D:.+]] = plan.slice @act[1024] {plan.output = "logits"} : memref<256xf32>
module attributes {test.case = "chain"} {
  // expected-remark @+1 {{activations arena @act: 2048 bytes at peak, 4096 bytes naive (each buffer in its own bytes)}}
  plan.arena @act kind = activations size = 4096 alignment = 256
  plan.rank 0 {
    %a = plan.slice @act[0] {plan.input = "arg0"} : memref<256xf32>
    %b = plan.slice @act[1024] : memref<256xf32>
    plan.compute "silu"(%a : memref<256xf32> -> %b : memref<256xf32>)
    %c = plan.slice @act[2048] : memref<256xf32>
    plan.compute "silu"(%b : memref<256xf32> -> %c : memref<256xf32>)
    %d = plan.slice @act[3072] {plan.output = "logits"} : memref<256xf32>
    plan.compute "silu"(%c : memref<256xf32> -> %d : memref<256xf32>)
  }
}

// -----
// Largest first: the 4 KiB buffer is placed first, the 2 KiB input above it;
// the small buffers, live with the big one but after the input, reuse the
// input's bytes rather than growing the arena. Sizes round up to 256 bytes.
// CHECK-LABEL: module attributes {test.case = "best_fit"}
// CHECK-NEXT: plan.arena @act kind = activations size = 6144 alignment = 256
// CHECK: plan.slice @act[4096] {plan.input = "arg0"} : memref<512xf32>
// CHECK: plan.slice @act[0] : memref<1024xf32>
// CHECK: plan.slice @act[4096] : memref<100xf32>
// CHECK: plan.slice @act[4608] : memref<100xf32>
module attributes {test.case = "best_fit"} {
  // expected-remark @+1 {{6144 bytes at peak, 7168 bytes naive}}
  plan.arena @act kind = activations size = 8192 alignment = 256
  plan.rank 0 {
    %x = plan.slice @act[0] {plan.input = "arg0"} : memref<512xf32>
    %big = plan.slice @act[2048] : memref<1024xf32>
    plan.compute "fill"(%x : memref<512xf32> -> %big : memref<1024xf32>)
    %s1 = plan.slice @act[6144] : memref<100xf32>
    plan.compute "fill"(%big : memref<1024xf32> -> %s1 : memref<100xf32>)
    %s2 = plan.slice @act[6656] : memref<100xf32>
    plan.compute "fill"(%big, %s1 : memref<1024xf32>, memref<100xf32> -> %s2 : memref<100xf32>)
  }
}

// -----
// Views move with their base and keep their place in it; a use of a view
// keeps the base alive.
// CHECK-LABEL: module attributes {test.case = "views"}
// CHECK: %[[X:.+]] = plan.slice @act[0] {plan.input = "arg0"} : memref<2x256xf32>
// CHECK: %[[Y:.+]] = plan.slice @act[2048] : memref<2x256xf32>
// CHECK: %[[ROW:.+]] = plan.slice @act[3072] view(%[[Y]] : memref<2x256xf32>) : memref<256xf32>
// CHECK: %[[Z:.+]] = plan.slice @act[0] {plan.output = "logits"} : memref<256xf32>
module attributes {test.case = "views"} {
  // expected-remark @+1 {{4096 bytes at peak, 5120 bytes naive}}
  plan.arena @act kind = activations size = 8192 alignment = 256
  plan.rank 0 {
    %x = plan.slice @act[0] {plan.input = "arg0"} : memref<2x256xf32>
    %y = plan.slice @act[4096] : memref<2x256xf32>
    plan.compute "silu"(%x : memref<2x256xf32> -> %y : memref<2x256xf32>)
    %row = plan.slice @act[5120] view(%y : memref<2x256xf32>) : memref<256xf32>
    %z = plan.slice @act[6144] {plan.output = "logits"} : memref<256xf32>
    plan.compute "silu"(%row : memref<256xf32> -> %z : memref<256xf32>)
  }
}

// -----
// The output is never reused: a scratch buffer written after it is live
// gets its own bytes, while the input's bytes, dead after the first step,
// are reused.
// CHECK-LABEL: module attributes {test.case = "io"}
// CHECK: plan.slice @act[0] {plan.input = "token_ids"} : memref<256xi32>
// CHECK: plan.slice @act[1024] {plan.output = "logits"} : memref<256xf32>
// CHECK: plan.slice @act[0] : memref<256xf32>
module attributes {test.case = "io"} {
  // expected-remark @+1 {{2048 bytes at peak, 3072 bytes naive}}
  plan.arena @act kind = activations size = 3072 alignment = 256
  plan.rank 0 {
    %ids = plan.slice @act[0] {plan.input = "token_ids"} : memref<256xi32>
    %out = plan.slice @act[1024] {plan.output = "logits"} : memref<256xf32>
    plan.compute "embedding"(%ids : memref<256xi32> -> %out : memref<256xf32>)
    %scratch = plan.slice @act[2048] : memref<256xf32>
    plan.compute "fill"( -> %scratch : memref<256xf32>)
  }
}

// -----
// Every rank is planned; the shared arena is sized for the one that needs
// the most. Weights, host and KV-cache arenas are left alone.
// CHECK-LABEL: module attributes {test.case = "ranks"}
// CHECK: plan.arena @act kind = activations size = 2048 alignment = 256
// CHECK: plan.arena @w kind = weights size = 8192 alignment = 4096
// CHECK: plan.rank 0 {
// CHECK: plan.slice @act[0] : memref<256xf32>
// CHECK: plan.rank 1 {
// CHECK: plan.slice @act[0] : memref<256xf32>
// CHECK: plan.slice @act[1024] : memref<256xf32>
module attributes {test.case = "ranks"} {
  // expected-remark @+1 {{2048 bytes at peak, 2048 bytes naive}}
  plan.arena @act kind = activations size = 65536 alignment = 256
  plan.arena @w kind = weights size = 8192 alignment = 4096
  plan.rank 0 {
    %w = plan.slice @w[4096] : memref<256xf32>
    %a = plan.slice @act[8192] : memref<256xf32>
    plan.compute "fill"(%w : memref<256xf32> -> %a : memref<256xf32>)
  }
  plan.rank 1 {
    %a = plan.slice @act[0] : memref<256xf32>
    %b = plan.slice @act[4096] : memref<256xf32>
    plan.compute "fill"( -> %a, %b : memref<256xf32>, memref<256xf32>)
  }
}
