// RUN: llmc-opt %s --split-input-file --verify-diagnostics --llm-quantize="scheme=w4a16 weight-granularity=per-channel"

// INT4 packs two input channels a byte: an odd count is refused, naming the
// weight and the way out.
func.func @odd_int4(%x: tensor<?x7xf32>) -> tensor<?x4xf32> {
  %w = llm.weight @mlp.up.weight : tensor<4x7xf32>
  // expected-error @+1 {{llm-quantize: weight @mlp.up.weight has 7 input channels; int4 packs two per byte and needs an even count (keep it in high precision with keep-fp)}}
  %y = llm.linear %x, %w : tensor<?x7xf32>, tensor<4x7xf32> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}
