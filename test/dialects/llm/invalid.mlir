// RUN: llmc-opt %s --split-input-file --verify-diagnostics

func.func @weight_dynamic() {
  // expected-error @+1 {{weight @w must have a static, non-empty shape, got [?, 64]}}
  %w = "llm.weight"() {name = @w} : () -> tensor<?x64xf32>
  return
}

// -----
// A weight with a zero-sized dimension holds nothing.
func.func @weight_empty() {
  // expected-error @+1 {{weight @w must have a static, non-empty shape, got [0, 64]}}
  %w = llm.weight @w : tensor<0x64xf32>
  return
}

// -----
// Weights may not be stored as f64.
func.func @weight_element_type() {
  // expected-error @+1 {{result #0 must be ranked tensor of}}
  %w = llm.weight @w : tensor<4xf64>
  return
}

// -----
// The embedding table is two-dimensional.
func.func @embedding_table_rank(%t: tensor<4x4x4xf32>, %ids: tensor<?xi32>) {
  // expected-error @+1 {{expected a [vocab, hidden] table but got shape [4, 4, 4]}}
  %h = llm.embedding %t[%ids] : tensor<4x4x4xf32>, tensor<?xi32> -> tensor<?x4xf32>
  return
}

// -----
// The result row width is the table's hidden size.
func.func @embedding_result_shape(%t: tensor<256x64xf32>, %ids: tensor<?xi32>) {
  // expected-error @+1 {{expected result of shape [?, 64] but got [?, 32]}}
  %h = llm.embedding %t[%ids] : tensor<256x64xf32>, tensor<?xi32> -> tensor<?x32xf32>
  return
}

// -----
// Embedding keeps the table's element type.
func.func @embedding_result_type(%t: tensor<256x64xbf16>, %ids: tensor<?xi32>) {
  // expected-error @+1 {{result element type 'f32' differs from the table's 'bf16'}}
  %h = llm.embedding %t[%ids] : tensor<256x64xbf16>, tensor<?xi32> -> tensor<?x64xf32>
  return
}

// -----
// Token ids are i32.
func.func @embedding_ids_type(%t: tensor<256x64xf32>, %ids: tensor<?xi64>) {
  // expected-error @+1 {{operand #1 must be 1D tensor of 32-bit signless integer values}}
  %h = llm.embedding %t[%ids] : tensor<256x64xf32>, tensor<?xi64> -> tensor<?x64xf32>
  return
}

// -----
// The norm weight has the size of the normalized dimension.
func.func @rms_norm_weight_size(%x: tensor<?x576xf32>, %w: tensor<512xf32>) {
  // expected-error @+1 {{expected weight of shape [576] (the input's last dimension) but got [512]}}
  %y = llm.rms_norm %x, %w epsilon = 1.0e-5 : tensor<?x576xf32>, tensor<512xf32>
  return
}

// -----
// Epsilon guards a division and must be positive.
func.func @rms_norm_epsilon(%x: tensor<?x576xf32>, %w: tensor<576xf32>) {
  // expected-error @+1 {{epsilon must be a positive number, got -1}}
  %y = llm.rms_norm %x, %w epsilon = -1.0 : tensor<?x576xf32>, tensor<576xf32>
  return
}

// -----
// A scalar has no dimension to normalize.
func.func @rms_norm_scalar(%x: tensor<f32>, %w: tensor<1xf32>) {
  // expected-error @+1 {{input must have at least one dimension}}
  %y = llm.rms_norm %x, %w epsilon = 1.0e-5 : tensor<f32>, tensor<1xf32>
  return
}

// -----
// The layer norm bias has the size of the normalized dimension.
func.func @layer_norm_bias_size(%x: tensor<?x768xf16>, %w: tensor<768xf16>, %b: tensor<760xf16>) {
  // expected-error @+1 {{expected bias of shape [768] (the input's last dimension) but got [760]}}
  %y = llm.layer_norm %x, %w, %b epsilon = 1.0e-5 : tensor<?x768xf16>, tensor<768xf16>, tensor<760xf16>
  return
}

// -----
// Layer norm epsilon must be positive too.
func.func @layer_norm_epsilon(%x: tensor<?x768xf16>, %w: tensor<768xf16>) {
  // expected-error @+1 {{epsilon must be a positive number, got 0}}
  %y = llm.layer_norm %x, %w epsilon = 0.0 : tensor<?x768xf16>, tensor<768xf16>
  return
}

// -----
// The weight's in_features must equal the input's feature count.
func.func @linear_in_features(%x: tensor<?x4096xbf16>, %w: tensor<4096x1024xbf16>) {
  // expected-error @+1 {{input has 4096 features but weight of shape [4096, 1024] expects 1024}}
  %y = llm.linear %x, %w : tensor<?x4096xbf16>, tensor<4096x1024xbf16> -> tensor<?x4096xbf16>
  return
}

// -----
// The result's last dimension is out_features.
func.func @linear_result_shape(%x: tensor<?x4096xbf16>, %w: tensor<1024x4096xbf16>) {
  // expected-error @+1 {{expected result of shape [?, 1024] but got [?, 4096]}}
  %y = llm.linear %x, %w : tensor<?x4096xbf16>, tensor<1024x4096xbf16> -> tensor<?x4096xbf16>
  return
}

// -----
// Linear weights are matrices.
func.func @linear_weight_rank(%x: tensor<?x64xbf16>, %w: tensor<64xbf16>) {
  // expected-error @+1 {{expected an [out_features, in_features] weight but got shape [64]}}
  %y = llm.linear %x, %w : tensor<?x64xbf16>, tensor<64xbf16> -> tensor<?x64xbf16>
  return
}

// -----
// Mixed element types need an explicit quantize or dequantize.
func.func @linear_mixed_types(%x: tensor<?x64xbf16>, %w: tensor<32x64xi8>) {
  // expected-error @+1 {{input element type 'bf16' differs from the weight's 'i8'; dequantize or quantize one of them first}}
  %y = llm.linear %x, %w : tensor<?x64xbf16>, tensor<32x64xi8> -> tensor<?x32xbf16>
  return
}

// -----
// Integer linears are the W8A8 form: they need scales.
func.func @linear_int_without_scales(%x: tensor<?x64xi8>, %w: tensor<32x64xi8>) {
  // expected-error @+1 {{'i8' inputs need scales (W8A8): llm.linear %x, %w scales(%sx, %sw : ...) with f32 input_scale [] or [tokens, 1] and weight_scale [] or [N, 1]}}
  %y = llm.linear %x, %w : tensor<?x64xi8>, tensor<32x64xi8> -> tensor<?x32xbf16>
  return
}

// -----
// The i32-accumulator form is gone: the scaled result is float.
func.func @linear_int_accumulator(%x: tensor<?x64xi8>, %w: tensor<32x64xi8>, %sx: tensor<?x1xf32>, %sw: tensor<32x1xf32>) {
  // expected-error @+1 {{quantized inputs give an f32, f16 or bf16 result, not 'i32'}}
  %y = llm.linear %x, %w scales(%sx, %sw : tensor<?x1xf32>, tensor<32x1xf32>) : tensor<?x64xi8>, tensor<32x64xi8> -> tensor<?x32xi32>
  return
}

// -----
// FP8 products come out in a wider float.
func.func @linear_f8_result(%x: tensor<?x64xf8E4M3FN>, %w: tensor<32x64xf8E4M3FN>, %s: tensor<f32>) {
  // expected-error @+1 {{quantized inputs give an f32, f16 or bf16 result, not 'f8E4M3FN'}}
  %y = llm.linear %x, %w scales(%s, %s : tensor<f32>, tensor<f32>) : tensor<?x64xf8E4M3FN>, tensor<32x64xf8E4M3FN> -> tensor<?x32xf8E4M3FN>
  return
}

// -----
// Weight-only i4 is a dequantize feeding a float linear, never an i4 linear.
func.func @linear_i4(%x: tensor<?x64xi4>, %w: tensor<32x64xi4>) {
  // expected-error @+1 {{no linear takes 'i4' inputs}}
  %y = llm.linear %x, %w : tensor<?x64xi4>, tensor<32x64xi4> -> tensor<?x32xbf16>
  return
}

// -----
// Float linears take no scales.
func.func @linear_float_scales(%x: tensor<?x64xf16>, %w: tensor<32x64xf16>, %s: tensor<f32>) {
  // expected-error @+1 {{scales apply to i8 or f8 inputs; 'f16' inputs take none}}
  %y = llm.linear %x, %w scales(%s, %s : tensor<f32>, tensor<f32>) : tensor<?x64xf16>, tensor<32x64xf16> -> tensor<?x32xf16>
  return
}

// -----
// Per-token input scales have one value per row.
func.func @linear_input_scale_shape(%x: tensor<?x64xi8>, %w: tensor<32x64xi8>, %sx: tensor<?x64xf32>, %sw: tensor<32x1xf32>) {
  // expected-error @+1 {{expected input_scale of shape [] (per tensor) or [?, 1] (per token) but got [?, 64]}}
  %y = llm.linear %x, %w scales(%sx, %sw : tensor<?x64xf32>, tensor<32x1xf32>) : tensor<?x64xi8>, tensor<32x64xi8> -> tensor<?x32xf32>
  return
}

// -----
// Per-channel weight scales have one value per output channel.
func.func @linear_weight_scale_shape(%x: tensor<?x64xi8>, %w: tensor<32x64xi8>, %sx: tensor<f32>, %sw: tensor<64x1xf32>) {
  // expected-error @+1 {{expected weight_scale of shape [] (per tensor) or [32, 1] (per output channel) but got [64, 1]}}
  %y = llm.linear %x, %w scales(%sx, %sw : tensor<f32>, tensor<64x1xf32>) : tensor<?x64xi8>, tensor<32x64xi8> -> tensor<?x32xf32>
  return
}

// -----
// Scales come in pairs (generic form, which can omit one).
func.func @linear_one_scale(%x: tensor<?x64xi8>, %w: tensor<32x64xi8>, %sx: tensor<f32>) {
  // expected-error @+1 {{input_scale and weight_scale come together: give both or neither}}
  %y = "llm.linear"(%x, %w, %sx) {operandSegmentSizes = array<i32: 1, 1, 0, 1, 0>} : (tensor<?x64xi8>, tensor<32x64xi8>, tensor<f32>) -> tensor<?x32xf32>
  return
}

// -----
// Float products stay float.
func.func @linear_float_result(%x: tensor<?x64xf16>, %w: tensor<32x64xf16>) {
  // expected-error @+1 {{float inputs give a float result, not 'i32'}}
  %y = llm.linear %x, %w : tensor<?x64xf16>, tensor<32x64xf16> -> tensor<?x32xi32>
  return
}

// -----
// The bias has out_features elements.
func.func @linear_bias_size(%x: tensor<?x64xf16>, %w: tensor<32x64xf16>, %b: tensor<64xf16>) {
  // expected-error @+1 {{expected bias of shape [32] (the weight's out_features) but got [64]}}
  %y = llm.linear %x, %w, %b : tensor<?x64xf16>, tensor<32x64xf16>, tensor<64xf16> -> tensor<?x32xf16>
  return
}

// -----
// The bias has the result's element type.
func.func @linear_bias_type(%x: tensor<?x64xf16>, %w: tensor<32x64xf16>, %b: tensor<32xf32>) {
  // expected-error @+1 {{bias element type 'f32' differs from the result's 'f16'}}
  %y = llm.linear %x, %w, %b : tensor<?x64xf16>, tensor<32x64xf16>, tensor<32xf32> -> tensor<?x32xf16>
  return
}

// -----
// Matmul contracts the last dimension of the lhs with the rhs's second-to-last.
func.func @matmul_contracting(%a: tensor<2x8x16xf32>, %b: tensor<2x8x16xf32>) {
  // expected-error @+1 {{contracting dimensions differ: 16 in [2, 8, 16] and 8 in [2, 8, 16]}}
  %c = llm.matmul %a, %b : tensor<2x8x16xf32>, tensor<2x8x16xf32> -> tensor<2x8x16xf32>
  return
}

// -----
// Batch dimensions must agree.
func.func @matmul_batch(%a: tensor<2x8x16xf32>, %b: tensor<3x16x8xf32>) {
  // expected-error @+1 {{batch dimensions differ: [2, 8, 16] and [3, 16, 8]}}
  %c = llm.matmul %a, %b : tensor<2x8x16xf32>, tensor<3x16x8xf32> -> tensor<2x8x8xf32>
  return
}

// -----
// Matmul operands have equal ranks of at least 2.
func.func @matmul_rank(%a: tensor<16xf32>, %b: tensor<16x8xf32>) {
  // expected-error @+1 {{operands must have the same rank of at least 2, got [16] and [16, 8]}}
  %c = llm.matmul %a, %b : tensor<16xf32>, tensor<16x8xf32> -> tensor<8xf32>
  return
}

// -----
// The result is [M, N].
func.func @matmul_result(%a: tensor<8x16xf32>, %b: tensor<8x16xf32>) {
  // expected-error @+1 {{expected result of shape [8, 8] but got [8, 16]}}
  %c = llm.matmul %a, %b {transpose_rhs} : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32>
  return
}

// -----
// Matmul operands share an element type.
func.func @matmul_types(%a: tensor<8x16xf32>, %b: tensor<16x8xf16>) {
  // expected-error @+1 {{operand element types differ: 'f32' and 'f16'}}
  %c = llm.matmul %a, %b : tensor<8x16xf32>, tensor<16x8xf16> -> tensor<8x8xf32>
  return
}

// -----
// Reshape keeps the element count.
func.func @reshape_count(%x: tensor<?x576xbf16>) {
  // expected-error @+1 {{cannot reshape [?, 576] into [?, 8, 64]: the element counts differ}}
  %y = llm.reshape %x : tensor<?x576xbf16> -> tensor<?x8x64xbf16>
  return
}

// -----
// The dynamic token dimension cannot appear or vanish.
func.func @reshape_dynamic(%x: tensor<?x576xbf16>) {
  // expected-error @+1 {{each side may have one dynamic dimension, and then both must; got [?, 576] -> [9, 64]}}
  %y = llm.reshape %x : tensor<?x576xbf16> -> tensor<9x64xbf16>
  return
}

// -----
// Reshape does not convert.
func.func @reshape_type(%x: tensor<4x4xbf16>) {
  // expected-error @+1 {{element type changes from 'bf16' to 'f16'}}
  %y = llm.reshape %x : tensor<4x4xbf16> -> tensor<16xf16>
  return
}

// -----
// RoPE works on [tokens, heads, head_dim].
func.func @rope_rank(%x: tensor<?x64xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{expected [tokens, heads, head_dim] input but got shape [?, 64]}}
  %y = llm.rope %x, %p {theta = 10000.0 : f64} : tensor<?x64xf32>, tensor<?xi32>
  return
}

// -----
// One position per token.
func.func @rope_positions(%x: tensor<8x4x16xf32>, %p: tensor<7xi32>) {
  // expected-error @+1 {{input has 8 tokens but positions has 7}}
  %y = llm.rope %x, %p {theta = 10000.0 : f64} : tensor<8x4x16xf32>, tensor<7xi32>
  return
}

// -----
// Rotations pair elements, so rotary_dim is even and fits in the head.
func.func @rope_rotary_dim(%x: tensor<?x4x16xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{rotary_dim must be even and in (0, head_dim = 16], got 17}}
  %y = llm.rope %x, %p {theta = 10000.0 : f64, rotary_dim = 17 : i64} : tensor<?x4x16xf32>, tensor<?xi32>
  return
}

// -----
// theta is the base of the frequencies.
func.func @rope_theta(%x: tensor<?x4x16xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{theta must be a positive number, got 0}}
  %y = llm.rope %x, %p {theta = 0.0 : f64} : tensor<?x4x16xf32>, tensor<?xi32>
  return
}

// -----
// The head dimension must be known to build the frequency table.
func.func @rope_dynamic_head_dim(%x: tensor<?x4x?xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{head_dim must be static}}
  %y = llm.rope %x, %p {theta = 10000.0 : f64} : tensor<?x4x?xf32>, tensor<?xi32>
  return
}

// -----
// A rope scaling factor must be positive.
func.func @rope_scaling_factor(%x: tensor<?x4x16xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{rope scaling factor must be a positive number, got 0}}
  %y = llm.rope %x, %p {theta = 10000.0 : f64, scaling = #llm.rope_scaling<linear, factor = 0.0>} : tensor<?x4x16xf32>, tensor<?xi32>
  return
}

// -----
// llama3 scaling needs the original context length.
func.func @rope_scaling_llama3_context(%x: tensor<?x4x16xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{llama3 rope scaling needs original_max_position > 0, got 0}}
  %y = llm.rope %x, %p {theta = 10000.0 : f64, scaling = #llm.rope_scaling<llama3, factor = 8.0>} : tensor<?x4x16xf32>, tensor<?xi32>
  return
}

// -----
// llama3 scaling interpolates between a low and a higher frequency factor.
func.func @rope_scaling_llama3_factors(%x: tensor<?x4x16xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor, got 4 and 1}}
  %y = llm.rope %x, %p {theta = 10000.0 : f64, scaling = #llm.rope_scaling<llama3, factor = 8.0, low_freq_factor = 4.0, high_freq_factor = 1.0, original_max_position = 8192>} : tensor<?x4x16xf32>, tensor<?xi32>
  return
}

// -----
// Unknown scaling kinds are named.
func.func @rope_scaling_kind(%x: tensor<?x4x16xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{unknown rope scaling kind 'dynamic'; expected linear, llama3 or yarn}}
  %y = llm.rope %x, %p {theta = 10000.0 : f64, scaling = #llm.rope_scaling<dynamic, factor = 2.0>} : tensor<?x4x16xf32>, tensor<?xi32>
  return
}

// -----
// Unknown scaling parameters are named.
func.func @rope_scaling_parameter(%x: tensor<?x4x16xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{unknown rope scaling parameter 'beta_fast'}}
  %y = llm.rope %x, %p {theta = 10000.0 : f64, scaling = #llm.rope_scaling<yarn, factor = 2.0, beta_fast = 32.0>} : tensor<?x4x16xf32>, tensor<?xi32>
  return
}

// -----
// Every scaling kind needs its factor.
func.func @rope_scaling_no_factor(%x: tensor<?x4x16xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{rope scaling needs 'factor'}}
  %y = llm.rope %x, %p {theta = 10000.0 : f64, scaling = #llm.rope_scaling<linear>} : tensor<?x4x16xf32>, tensor<?xi32>
  return
}

// -----
// Query heads group evenly over KV heads.
func.func @attention_gqa(%q: tensor<?x9x64xf32>, %k: tensor<?x4x64xf32>, %b: !llm.batch) {
  // expected-error @+1 {{query heads (9) must be a multiple of KV heads (4) for grouped-query attention}}
  %o = llm.attention %q, %k, %k, %b {layer = 0 : i64, scale = 0.125 : f64} : tensor<?x9x64xf32>, tensor<?x4x64xf32>, tensor<?x4x64xf32> -> tensor<?x9x64xf32>
  return
}

// -----
// Queries and keys share a head dimension.
func.func @attention_head_dim(%q: tensor<?x8x64xf32>, %k: tensor<?x2x32xf32>, %b: !llm.batch) {
  // expected-error @+1 {{query head_dim 64 differs from key head_dim 32}}
  %o = llm.attention %q, %k, %k, %b {layer = 0 : i64, scale = 0.125 : f64} : tensor<?x8x64xf32>, tensor<?x2x32xf32>, tensor<?x2x32xf32> -> tensor<?x8x32xf32>
  return
}

// -----
// Keys and values have the same heads.
func.func @attention_value_heads(%q: tensor<?x8x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x4x64xf32>, %b: !llm.batch) {
  // expected-error @+1 {{key has 2 heads but value has 4}}
  %o = llm.attention %q, %k, %v, %b {layer = 0 : i64, scale = 0.125 : f64} : tensor<?x8x64xf32>, tensor<?x2x64xf32>, tensor<?x4x64xf32> -> tensor<?x8x64xf32>
  return
}

// -----
// Every operand has one row per token.
func.func @attention_tokens(%q: tensor<5x8x64xf32>, %k: tensor<4x2x64xf32>, %b: !llm.batch) {
  // expected-error @+1 {{key has 4 tokens but query has 5}}
  %o = llm.attention %q, %k, %k, %b {layer = 0 : i64, scale = 0.125 : f64} : tensor<5x8x64xf32>, tensor<4x2x64xf32>, tensor<4x2x64xf32> -> tensor<5x8x64xf32>
  return
}

// -----
// Attention operands are [tokens, heads, head_dim].
func.func @attention_rank(%q: tensor<?x512xf32>, %k: tensor<?x2x64xf32>, %b: !llm.batch) {
  // expected-error @+1 {{expected query of shape [tokens, heads, head_dim] but got [?, 512]}}
  %o = llm.attention %q, %k, %k, %b {layer = 0 : i64, scale = 0.125 : f64} : tensor<?x512xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32> -> tensor<?x512xf32>
  return
}

// -----
// One element type throughout.
func.func @attention_types(%q: tensor<?x8x64xf32>, %k: tensor<?x2x64xf16>, %b: !llm.batch) {
  // expected-error @+1 {{key element type 'f16' differs from the query's 'f32'}}
  %o = llm.attention %q, %k, %k, %b {layer = 0 : i64, scale = 0.125 : f64} : tensor<?x8x64xf32>, tensor<?x2x64xf16>, tensor<?x2x64xf16> -> tensor<?x8x64xf32>
  return
}

// -----
// The result has the query's heads and the value's head dimension.
func.func @attention_result(%q: tensor<?x8x64xf32>, %k: tensor<?x2x64xf32>, %b: !llm.batch) {
  // expected-error @+1 {{expected result of shape [?, 8, 64] but got [?, 2, 64]}}
  %o = llm.attention %q, %k, %k, %b {layer = 0 : i64, scale = 0.125 : f64} : tensor<?x8x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32> -> tensor<?x2x64xf32>
  return
}

// -----
// Head counts must be static.
func.func @attention_dynamic_heads(%q: tensor<?x?x64xf32>, %k: tensor<?x2x64xf32>, %b: !llm.batch) {
  // expected-error @+1 {{head counts and head dimensions must be static}}
  %o = llm.attention %q, %k, %k, %b {layer = 0 : i64, scale = 0.125 : f64} : tensor<?x?x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32> -> tensor<?x?x64xf32>
  return
}

// -----
// Layers index the KV cache from 0.
func.func @attention_layer(%q: tensor<?x8x64xf32>, %k: tensor<?x2x64xf32>, %b: !llm.batch) {
  // expected-error @+1 {{layer must be non-negative, got -1}}
  %o = llm.attention %q, %k, %k, %b {layer = -1 : i64, scale = 0.125 : f64} : tensor<?x8x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32> -> tensor<?x8x64xf32>
  return
}

// -----
// The logit scale is positive.
func.func @attention_scale(%q: tensor<?x8x64xf32>, %k: tensor<?x2x64xf32>, %b: !llm.batch) {
  // expected-error @+1 {{scale must be a positive number, got 0}}
  %o = llm.attention %q, %k, %k, %b {layer = 0 : i64, scale = 0.0 : f64} : tensor<?x8x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32> -> tensor<?x8x64xf32>
  return
}

// -----
// A sliding window covers at least one key.
func.func @attention_window(%q: tensor<?x8x64xf32>, %k: tensor<?x2x64xf32>, %b: !llm.batch) {
  // expected-error @+1 {{sliding_window must be positive, got 0}}
  %o = llm.attention %q, %k, %k, %b {layer = 0 : i64, scale = 0.125 : f64, sliding_window = 0 : i64} : tensor<?x8x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32> -> tensor<?x8x64xf32>
  return
}

// -----
// A soft-cap divides the logits and must be positive.
func.func @attention_softcap(%q: tensor<?x8x64xf32>, %k: tensor<?x2x64xf32>, %b: !llm.batch) {
  // expected-error @+1 {{softcap must be a positive number, got -50}}
  %o = llm.attention %q, %k, %k, %b {layer = 0 : i64, scale = 0.125 : f64, softcap = -50.0 : f64} : tensor<?x8x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32> -> tensor<?x8x64xf32>
  return
}

// -----
// Elementwise operands share one type.
func.func @add_types(%a: tensor<?x64xf32>, %b: tensor<?x64xf16>) {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %c = "llm.add"(%a, %b) : (tensor<?x64xf32>, tensor<?x64xf16>) -> tensor<?x64xf32>
  return
}

// -----
// Activations apply to floats only.
func.func @silu_int(%a: tensor<?x64xi8>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values}}
  %c = llm.silu %a : tensor<?x64xi8>
  return
}

// -----
// The softmax axis lies within the rank.
func.func @softmax_axis(%a: tensor<?x64xf32>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %c = llm.softmax %a axis = 2 : tensor<?x64xf32>
  return
}

// -----
// Scales split the input into whole blocks.
func.func @quantize_blocks(%w: tensor<1024x4096xf16>, %s: tensor<1024x3xf16>) {
  // expected-error @+1 {{scale of shape [1024, 3] does not split input of shape [1024, 4096] into blocks: 4096 is not a multiple of 3 along dimension 1}}
  %q = llm.quantize %w, %s : tensor<1024x4096xf16>, tensor<1024x3xf16> -> tensor<1024x4096xi8>
  return
}

// -----
// A scale is a scalar or has the input's rank.
func.func @quantize_scale_rank(%w: tensor<1024x4096xf16>, %s: tensor<1024xf16>) {
  // expected-error @+1 {{scale must be a scalar or have the input's rank 2, got shape [1024]}}
  %q = llm.quantize %w, %s : tensor<1024x4096xf16>, tensor<1024xf16> -> tensor<1024x4096xi8>
  return
}

// -----
// Over a static input dimension the scale's is static too.
func.func @quantize_scale_dynamic(%x: tensor<16x64xf16>, %s: tensor<?x1xf16>) {
  // expected-error @+1 {{scale dimension 0 must be static and positive where the input's is static, got shape [?, 1]}}
  %q = llm.quantize %x, %s : tensor<16x64xf16>, tensor<?x1xf16> -> tensor<16x64xi8>
  return
}

// -----
// Over a dynamic input dimension, a scale is shared (1) or per token (dynamic).
func.func @quantize_scale_over_dynamic(%x: tensor<?x64xf16>, %s: tensor<4x1xf16>) {
  // expected-error @+1 {{scale dimension 0 must be 1 or dynamic where the input's is dynamic, got 4}}
  %q = llm.quantize %x, %s : tensor<?x64xf16>, tensor<4x1xf16> -> tensor<?x64xi8>
  return
}

// -----
// Quantization keeps the shape.
func.func @quantize_shape(%w: tensor<32x64xf16>, %s: tensor<f32>) {
  // expected-error @+1 {{result shape [64, 32] differs from input shape [32, 64]}}
  %q = llm.quantize %w, %s : tensor<32x64xf16>, tensor<f32> -> tensor<64x32xi8>
  return
}

// -----
// FP8 is symmetric: no zero points.
func.func @quantize_fp8_zero_point(%w: tensor<32x64xf16>, %s: tensor<32x1xf32>, %z: tensor<32x1xi8>) {
  // expected-error @+1 {{zero points apply to integer quantization only, not 'f8E4M3FN'}}
  %q = llm.quantize %w, %s, %z : tensor<32x64xf16>, tensor<32x1xf32>, tensor<32x1xi8> -> tensor<32x64xf8E4M3FN>
  return
}

// -----
// Zero points pair one-to-one with scales.
func.func @quantize_zero_point_shape(%w: tensor<32x256xf16>, %s: tensor<32x2xf16>, %z: tensor<32x1xi8>) {
  // expected-error @+1 {{zero point shape [32, 1] must equal scale shape [32, 2]}}
  %q = llm.quantize %w, %s, %z : tensor<32x256xf16>, tensor<32x2xf16>, tensor<32x1xi8> -> tensor<32x256xi4>
  return
}

// -----
// Quantize produces a quantized storage type.
func.func @quantize_result_type(%w: tensor<32x64xf16>, %s: tensor<f32>) {
  // expected-error @+1 {{result #0 must be ranked tensor of f8E4M3FN type or f8E5M2 type or 8-bit signless integer or 4-bit signless integer values}}
  %q = llm.quantize %w, %s : tensor<32x64xf16>, tensor<f32> -> tensor<32x64xf16>
  return
}

// -----
// Dequantize uses the same scale rule.
func.func @dequantize_blocks(%q: tensor<32x256xi4>, %s: tensor<32x3xf16>) {
  // expected-error @+1 {{scale of shape [32, 3] does not split input of shape [32, 256] into blocks: 256 is not a multiple of 3 along dimension 1}}
  %w = llm.dequantize %q, %s : tensor<32x256xi4>, tensor<32x3xf16> -> tensor<32x256xf16>
  return
}

// -----
// Dequantize keeps the shape.
func.func @dequantize_shape(%q: tensor<32x64xi8>, %s: tensor<f32>) {
  // expected-error @+1 {{result shape [32, 32] differs from input shape [32, 64]}}
  %w = llm.dequantize %q, %s : tensor<32x64xi8>, tensor<f32> -> tensor<32x32xf16>
  return
}

// -----
// A collective needs at least one rank.
func.func @all_reduce_empty_group(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{group must name at least one rank}}
  %y = llm.all_reduce sum %x group = [] : tensor<?x64xf32>
  return
}

// -----
// Ranks appear once in a group.
func.func @all_reduce_duplicate_rank(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{group names rank 1 twice}}
  %y = llm.all_reduce sum %x group = [0, 1, 1] : tensor<?x64xf32>
  return
}

// -----
// Ranks are non-negative.
func.func @all_reduce_negative_rank(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{group rank must be non-negative, got -1}}
  %y = llm.all_reduce sum %x group = [-1, 0] : tensor<?x64xf32>
  return
}

// -----
// Gathering multiplies the axis by the group size.
func.func @all_gather_shape(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{expected result of shape [?, 256] but got [?, 128]}}
  %y = llm.all_gather %x axis = 1 group = [0, 1, 2, 3] : tensor<?x64xf32> -> tensor<?x128xf32>
  return
}

// -----
// The gather axis lies within the rank.
func.func @all_gather_axis(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %y = llm.all_gather %x axis = 2 group = [0, 1] : tensor<?x64xf32> -> tensor<?x64xf32>
  return
}

// -----
// Gathering does not convert.
func.func @all_gather_type(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{result element type 'f16' differs from the input's 'f32'}}
  %y = llm.all_gather %x axis = 1 group = [0, 1] : tensor<?x64xf32> -> tensor<?x128xf16>
  return
}

// -----
// Gather groups follow the same rank rules.
func.func @all_gather_group(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{group names rank 0 twice}}
  %y = llm.all_gather %x axis = 1 group = [0, 0] : tensor<?x64xf32> -> tensor<?x128xf32>
  return
}

// -----
// Peers are ranks.
func.func @send_peer(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{peer rank must be non-negative, got -2}}
  llm.send %x to -2 : tensor<?x64xf32>
  return
}

// -----
// Peers are ranks on the receiving side too.
func.func @recv_peer() {
  // expected-error @+1 {{peer rank must be non-negative, got -1}}
  %x = llm.recv from -1 : tensor<?x64xf32>
  return
}

// -----
// The body takes one argument per input.
func.func @fused_arguments(%a: tensor<4xf32>) {
  // expected-error @+1 {{body takes 2 arguments but the group has 1 inputs}}
  %0 = llm.fused ins(%a : tensor<4xf32>) {
  ^bb0(%x: tensor<4xf32>, %y: tensor<4xf32>):
    llm.yield %x : tensor<4xf32>
  } -> tensor<4xf32>
  return
}

// -----
// Body argument types match the inputs.
func.func @fused_argument_types(%a: tensor<4xf32>) {
  // expected-error @+1 {{body argument 0 has type 'tensor<4xf16>' but input 0 has type 'tensor<4xf32>'}}
  %0 = llm.fused ins(%a : tensor<4xf32>) {
  ^bb0(%x: tensor<4xf16>):
    llm.yield %x : tensor<4xf16>
  } -> tensor<4xf32>
  return
}

// -----
// The yield gives the group's results.
func.func @fused_yield_types(%a: tensor<4xf32>) {
  // expected-error @+1 {{body yields 1 values of types 'tensor<4xf32>' but the group returns 'tensor<8xf32>'}}
  %0 = llm.fused ins(%a : tensor<4xf32>) {
  ^bb0(%x: tensor<4xf32>):
    llm.yield %x : tensor<4xf32>
  } -> tensor<8xf32>
  return
}

// -----
// A fused group that produces nothing would be a kernel without output.
func.func @fused_no_results(%a: tensor<4xf32>) {
  // expected-error @+1 {{a fused group must produce at least one result}}
  "llm.fused"(%a) ({
  ^bb0(%x: tensor<4xf32>):
    llm.yield
  }) : (tensor<4xf32>) -> ()
  return
}

// -----
// Fused groups are isolated: values from outside come in as inputs.
func.func @fused_isolated(%a: tensor<4xf32>) {
  // expected-note @+1 {{required by region isolation constraints}}
  %0 = llm.fused {
    // expected-error @+1 {{using value defined outside the region}}
    %s = llm.silu %a : tensor<4xf32>
    llm.yield %s : tensor<4xf32>
  } -> tensor<4xf32>
  return
}

// -----
// llm.yield only ends a fused group.
func.func @yield_outside(%a: tensor<4xf32>) {
  // expected-error @+1 {{expects parent op 'llm.fused'}}
  llm.yield %a : tensor<4xf32>
}

// -----
// Dynamic quantization gives one scale per row.
func.func @quantize_dynamic_scale_shape(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{expected per-token scale of shape [?, 1] but got [?, 64]}}
  %q, %s = llm.quantize_dynamic %x : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?x64xf32>
  return
}

// -----
// llm.split parts must cover the last dimension exactly.
func.func @split_short(%a: tensor<?x8xf32>) {
  // expected-error @+1 {{parts cover 6 columns but the input has 8}}
  %x, %y = llm.split %a : tensor<?x8xf32> -> tensor<?x4xf32>, tensor<?x2xf32>
  return
}

// -----
// Dynamic quantization keeps the shape.
func.func @quantize_dynamic_result_shape(%x: tensor<8x64xf32>) {
  // expected-error @+1 {{result shape [8, 32] differs from input shape [8, 64]}}
  %q, %s = llm.quantize_dynamic %x : tensor<8x64xf32> -> tensor<8x32xi8>, tensor<8x1xf32>
  return
}

// -----
// llm.split keeps every other dimension and the element type.
func.func @split_rows(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{part 1 of shape [3, 4] must keep every dimension but the last of [4, 8]}}
  %x, %y = llm.split %a : tensor<4x8xf32> -> tensor<4x4xf32>, tensor<3x4xf32>
  return
}

// -----
// Dynamic quantization produces i8 or f8E4M3FN.
func.func @quantize_dynamic_type(%x: tensor<8x64xf32>) {
  // expected-error @+1 {{result #0 must be ranked tensor of 8-bit signless integer or f8E4M3FN type values}}
  %q, %s = llm.quantize_dynamic %x : tensor<8x64xf32> -> tensor<8x64xi4>, tensor<8x1xf32>
  return
}

// -----
// llm.split parts keep the input's element type.
func.func @split_type(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{part 0 has element type 'bf16' but the input 'f32'}}
  %x, %y = llm.split %a : tensor<4x8xf32> -> tensor<4x4xbf16>, tensor<4x4xf32>
  return
}

// -----
// The KV cache is quantized to f8E4M3FN or i8 only.
func.func @attention_kv_cache_dtype(%q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>, %b: !llm.batch) {
  // expected-error @+1 {{kv_cache_dtype must be f8E4M3FN or i8 (a quantized KV cache), got 'f16'; omit it to cache the key's element type}}
  %o = llm.attention %q, %k, %v, %b {layer = 0 : i64, scale = 0.25 : f64, kv_cache_dtype = f16} : tensor<?x4x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32> -> tensor<?x4x16xf32>
  return
}

// -----
// llm.kv_cache_write: key and value are [tokens, kv_heads, head_dim] alike.
func.func @kv_write_shapes(%k: tensor<?x2x16xf32>, %v: tensor<?x2x8xf32>, %b: !llm.batch) {
  // expected-error @+1 {{must have one shape and type}}
  llm.kv_cache_write %k, %v, %b {layer = 0 : i64} : tensor<?x2x16xf32>, tensor<?x2x8xf32>
  return
}

// -----
func.func @kv_write_layer(%k: tensor<?x2x16xf32>, %b: !llm.batch) {
  // expected-error @+1 {{layer must be non-negative, got -1}}
  llm.kv_cache_write %k, %k, %b {layer = -1 : i64} : tensor<?x2x16xf32>, tensor<?x2x16xf32>
  return
}

// -----
// llm.cached_attention returns the query's type and needs a positive scale.
func.func @cached_attention_result(%q: tensor<?x4x16xf32>, %b: !llm.batch) {
  // expected-error @+1 {{the result type 'tensor<?x4x8xf32>' must be the query's 'tensor<?x4x16xf32>'}}
  %o = llm.cached_attention %q, %b {layer = 0 : i64, scale = 0.25 : f64} : tensor<?x4x16xf32> -> tensor<?x4x8xf32>
  return
}

// -----
func.func @cached_attention_scale(%q: tensor<?x4x16xf32>, %b: !llm.batch) {
  // expected-error @+1 {{scale must be a positive number, got 0}}
  %o = llm.cached_attention %q, %b {layer = 0 : i64, scale = 0.0 : f64} : tensor<?x4x16xf32> -> tensor<?x4x16xf32>
  return
}
