// RUN: llmc-opt %s --split-input-file --verify-diagnostics --plan-verify-memory | FileCheck %s

// Buffers that share bytes at different times, views of a live buffer and
// an in-place step are all fine.
// CHECK-LABEL: module attributes {test.case = "valid"}
module attributes {test.case = "valid"} {
  plan.arena @act kind = activations size = 4096 alignment = 256
  plan.rank 0 {
    %a = plan.slice @act[0] {plan.input = "arg0"} : memref<256xf32>
    %b = plan.slice @act[1024] : memref<256xf32>
    plan.compute "silu"(%a : memref<256xf32> -> %b : memref<256xf32>)
    %c = plan.slice @act[0] : memref<256xf32>
    plan.compute "silu"(%b : memref<256xf32> -> %c : memref<256xf32>)
    %half = plan.slice @act[512] view(%c : memref<256xf32>) : memref<128xf32>
    plan.compute "silu"(%half : memref<128xf32> -> %half : memref<128xf32>)
    %d = plan.slice @act[1024] {plan.output = "logits"} : memref<256xf32>
    plan.compute "silu"(%c : memref<256xf32> -> %d : memref<256xf32>)
  }
}

// -----
// A buffer written while another one in the same bytes is still to be read.
module attributes {test.case = "clobber"} {
  plan.arena @act kind = activations size = 4096 alignment = 256
  plan.rank 0 {
    // expected-note @+1 {{the other buffer}}
    %a = plan.slice @act[0] {plan.input = "arg0"} : memref<256xf32>
    // expected-error @+1 {{buffer of bytes [512, 1536) of @act live over steps 0 to 1 overlaps a buffer of bytes [0, 1024) live over steps -1 to 1; a slice meant to share another's bytes must be a view of it}}
    %b = plan.slice @act[512] : memref<256xf32>
    plan.compute "silu"(%a : memref<256xf32> -> %b : memref<256xf32>)
    %c = plan.slice @act[2048] {plan.output = "logits"} : memref<256xf32>
    plan.compute "add"(%a, %b : memref<256xf32>, memref<256xf32> -> %c : memref<256xf32>)
  }
}

// -----
// A scratch buffer in the bytes of the output, which the runtime reads after
// the last step.
module attributes {test.case = "output"} {
  plan.arena @act kind = activations size = 4096 alignment = 256
  plan.rank 0 {
    // expected-note @+1 {{the other buffer}}
    %out = plan.slice @act[0] {plan.output = "logits"} : memref<256xf32>
    plan.compute "fill"( -> %out : memref<256xf32>)
    // expected-error @+1 {{buffer of bytes [0, 1024) of @act live over steps 1 to 1 overlaps a buffer of bytes [0, 1024) live over steps 0 to 2}}
    %scratch = plan.slice @act[0] : memref<256xf32>
    plan.compute "fill"( -> %scratch : memref<256xf32>)
  }
}

// -----
// Host arenas are checked too; weights, which no step writes, are not.
module attributes {test.case = "host"} {
  plan.arena @io kind = host size = 4096 alignment = 64
  plan.arena @w kind = weights size = 4096 alignment = 4096
  plan.rank 0 {
    %w1 = plan.slice @w[0] : memref<256xf32>
    %w2 = plan.slice @w[0] : memref<256xf32>
    // expected-note @+1 {{the other buffer}}
    %x = plan.slice @io[0] : memref<256xf32>
    // expected-error @+1 {{buffer of bytes [64, 1088) of @io}}
    %y = plan.slice @io[64] : memref<256xf32>
    plan.compute "add"(%w1, %w2 : memref<256xf32>, memref<256xf32> -> %x, %y : memref<256xf32>, memref<256xf32>)
  }
}
