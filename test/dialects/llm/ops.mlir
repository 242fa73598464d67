// RUN: llmc-opt %s | FileCheck %s
// Round trip: the printed form parses back to the same thing.
// RUN: llmc-opt %s | llmc-opt | FileCheck %s
// RUN: llmc-opt %s --mlir-print-op-generic | llmc-opt | FileCheck %s

// CHECK-LABEL: func.func @weights_and_embedding
func.func @weights_and_embedding(%ids: tensor<?xi32>) -> tensor<?x576xbf16> {
  // CHECK: %[[T:.+]] = llm.weight @model.embed_tokens.weight : tensor<49152x576xbf16>
  %t = llm.weight @model.embed_tokens.weight : tensor<49152x576xbf16>
  // CHECK: llm.embedding %[[T]][%{{.+}}] : tensor<49152x576xbf16>, tensor<?xi32> -> tensor<?x576xbf16>
  %h = llm.embedding %t[%ids] : tensor<49152x576xbf16>, tensor<?xi32> -> tensor<?x576xbf16>
  return %h : tensor<?x576xbf16>
}

// CHECK-LABEL: func.func @norms
func.func @norms(%x: tensor<?x768xf16>, %w: tensor<768xf16>, %b: tensor<768xf16>) -> (tensor<?x768xf16>, tensor<?x768xf16>, tensor<?x768xf16>) {
  // CHECK: llm.rms_norm %{{.+}}, %{{.+}} epsilon = 9.9999999999999995E-7 : tensor<?x768xf16>, tensor<768xf16>
  %r = llm.rms_norm %x, %w epsilon = 1.0e-6 : tensor<?x768xf16>, tensor<768xf16>
  // CHECK: llm.layer_norm %{{.+}}, %{{.+}}, %{{.+}} epsilon = 1.000000e-05 : tensor<?x768xf16>, tensor<768xf16>, tensor<768xf16>
  %l = llm.layer_norm %x, %w, %b epsilon = 1.0e-5 : tensor<?x768xf16>, tensor<768xf16>, tensor<768xf16>
  // CHECK: llm.layer_norm %{{.+}}, %{{.+}} epsilon = 1.000000e-05 : tensor<?x768xf16>, tensor<768xf16>{{$}}
  %n = llm.layer_norm %x, %w epsilon = 1.0e-5 : tensor<?x768xf16>, tensor<768xf16>
  return %r, %l, %n : tensor<?x768xf16>, tensor<?x768xf16>, tensor<?x768xf16>
}

// CHECK-LABEL: func.func @linear_layers
func.func @linear_layers(%x: tensor<?x4096xbf16>, %x8: tensor<?x4096xi8>, %sx: tensor<?x1xf32>,
                         %xf8: tensor<?x4096xf8E4M3FN>, %st: tensor<f32>, %b: tensor<1024xbf16>) {
  %w = llm.weight @w : tensor<1024x4096xbf16>
  %w8 = llm.weight @w8 : tensor<1024x4096xi8>
  %sw = llm.weight @w8.scale : tensor<1024x1xf32>
  %wf8 = llm.weight @wf8 : tensor<1024x4096xf8E4M3FN>
  %swt = llm.weight @wf8.scale : tensor<f32>
  // CHECK: llm.linear %{{.+}}, %{{.+}} : tensor<?x4096xbf16>, tensor<1024x4096xbf16> -> tensor<?x1024xbf16>
  %0 = llm.linear %x, %w : tensor<?x4096xbf16>, tensor<1024x4096xbf16> -> tensor<?x1024xbf16>
  // CHECK: llm.linear %{{.+}}, %{{.+}}, %{{.+}} : tensor<?x4096xbf16>, tensor<1024x4096xbf16>, tensor<1024xbf16> -> tensor<?x1024xbf16>
  %1 = llm.linear %x, %w, %b : tensor<?x4096xbf16>, tensor<1024x4096xbf16>, tensor<1024xbf16> -> tensor<?x1024xbf16>
  // W8A8 INT8: per-token and per-channel scales.
  // CHECK: llm.linear %{{.+}}, %{{.+}} scales(%{{.+}}, %{{.+}} : tensor<?x1xf32>, tensor<1024x1xf32>) : tensor<?x4096xi8>, tensor<1024x4096xi8> -> tensor<?x1024xbf16>
  %2 = llm.linear %x8, %w8 scales(%sx, %sw : tensor<?x1xf32>, tensor<1024x1xf32>) : tensor<?x4096xi8>, tensor<1024x4096xi8> -> tensor<?x1024xbf16>
  // FP8 with per-tensor scales and a bias.
  // CHECK: llm.linear %{{.+}}, %{{.+}}, %{{.+}} scales(%{{.+}}, %{{.+}} : tensor<f32>, tensor<f32>) : tensor<?x4096xf8E4M3FN>, tensor<1024x4096xf8E4M3FN>, tensor<1024xbf16> -> tensor<?x1024xbf16>
  %3 = llm.linear %xf8, %wf8, %b scales(%st, %swt : tensor<f32>, tensor<f32>) : tensor<?x4096xf8E4M3FN>, tensor<1024x4096xf8E4M3FN>, tensor<1024xbf16> -> tensor<?x1024xbf16>
  return
}

// CHECK-LABEL: func.func @matmul
func.func @matmul(%a: tensor<9x16x64xf32>, %b: tensor<9x64x16xf32>) -> (tensor<9x16x16xf32>, tensor<9x16x16xf32>) {
  // CHECK: llm.matmul %{{.+}}, %{{.+}} : tensor<9x16x64xf32>, tensor<9x64x16xf32> -> tensor<9x16x16xf32>
  %0 = llm.matmul %a, %b : tensor<9x16x64xf32>, tensor<9x64x16xf32> -> tensor<9x16x16xf32>
  // CHECK: llm.matmul %{{.+}}, %{{.+}} {transpose_rhs} : tensor<9x16x64xf32>, tensor<9x16x64xf32> -> tensor<9x16x16xf32>
  %1 = llm.matmul %a, %a {transpose_rhs} : tensor<9x16x64xf32>, tensor<9x16x64xf32> -> tensor<9x16x16xf32>
  return %0, %1 : tensor<9x16x16xf32>, tensor<9x16x16xf32>
}

// CHECK-LABEL: func.func @reshape
func.func @reshape(%q: tensor<?x576xbf16>) -> tensor<?x9x64xbf16> {
  // CHECK: llm.reshape %{{.+}} : tensor<?x576xbf16> -> tensor<?x9x64xbf16>
  %0 = llm.reshape %q : tensor<?x576xbf16> -> tensor<?x9x64xbf16>
  return %0 : tensor<?x9x64xbf16>
}

// CHECK-LABEL: func.func @rope_variants
func.func @rope_variants(%q: tensor<?x32x128xbf16>, %pos: tensor<?xi32>) {
  // CHECK: llm.rope %{{.+}}, %{{.+}} {theta = 1.000000e+04 : f64} : tensor<?x32x128xbf16>, tensor<?xi32>
  %0 = llm.rope %q, %pos {theta = 10000.0 : f64} : tensor<?x32x128xbf16>, tensor<?xi32>
  // CHECK: llm.rope {{.+}} {rotary_dim = 64 : i64, style = #llm<rope_style interleaved>, theta = 1.000000e+04 : f64}
  %1 = llm.rope %q, %pos {theta = 10000.0 : f64, rotary_dim = 64 : i64, style = #llm<rope_style interleaved>} : tensor<?x32x128xbf16>, tensor<?xi32>
  // CHECK: scaling = #llm.rope_scaling<linear, factor = 4.000000e+00>
  %2 = llm.rope %q, %pos {theta = 10000.0 : f64, scaling = #llm.rope_scaling<linear, factor = 4.0>} : tensor<?x32x128xbf16>, tensor<?xi32>
  // CHECK: scaling = #llm.rope_scaling<llama3, factor = 8.000000e+00, low_freq_factor = 1.000000e+00, high_freq_factor = 4.000000e+00, original_max_position = 8192>
  %3 = llm.rope %q, %pos {theta = 500000.0 : f64,
      scaling = #llm.rope_scaling<llama3, factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position = 8192>}
      : tensor<?x32x128xbf16>, tensor<?xi32>
  // CHECK: scaling = #llm.rope_scaling<yarn, factor = 4.000000e+00, original_max_position = 32768>
  %4 = llm.rope %q, %pos {theta = 1000000.0 : f64, scaling = #llm.rope_scaling<yarn, factor = 4.0, original_max_position = 32768>} : tensor<?x32x128xbf16>, tensor<?xi32>
  return
}

// CHECK-LABEL: func.func @attention
// CHECK-SAME: %{{.+}}: !llm.batch
func.func @attention(%q: tensor<?x8x256xbf16>, %k: tensor<?x1x256xbf16>, %v: tensor<?x1x256xbf16>, %batch: !llm.batch) {
  // GQA/MQA: 8 query heads over one KV head.
  // CHECK: llm.attention %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} {layer = 3 : i64, scale = 6.250000e-02 : f64}
  %0 = llm.attention %q, %k, %v, %batch {layer = 3 : i64, scale = 0.0625 : f64}
      : tensor<?x8x256xbf16>, tensor<?x1x256xbf16>, tensor<?x1x256xbf16> -> tensor<?x8x256xbf16>
  // Gemma-style: sliding window and logit soft-cap.
  // CHECK: llm.attention {{.+}} {layer = 4 : i64, scale = 6.250000e-02 : f64, sliding_window = 512 : i64, softcap = 5.000000e+01 : f64}
  %1 = llm.attention %q, %k, %v, %batch {layer = 4 : i64, scale = 0.0625 : f64, sliding_window = 512 : i64, softcap = 50.0 : f64}
      : tensor<?x8x256xbf16>, tensor<?x1x256xbf16>, tensor<?x1x256xbf16> -> tensor<?x8x256xbf16>
  return
}

// CHECK-LABEL: func.func @elementwise
func.func @elementwise(%a: tensor<?x1536xbf16>, %b: tensor<?x1536xbf16>) -> tensor<?x1536xbf16> {
  // CHECK: llm.silu %{{.+}} : tensor<?x1536xbf16>
  %0 = llm.silu %a : tensor<?x1536xbf16>
  // CHECK: llm.gelu %{{.+}} : tensor<?x1536xbf16>
  %1 = llm.gelu %a : tensor<?x1536xbf16>
  // CHECK: llm.gelu %{{.+}} approximation = tanh : tensor<?x1536xbf16>
  %2 = llm.gelu %a approximation = tanh : tensor<?x1536xbf16>
  // CHECK: llm.mul %{{.+}}, %{{.+}} : tensor<?x1536xbf16>
  %3 = llm.mul %0, %b : tensor<?x1536xbf16>
  // CHECK: llm.add %{{.+}}, %{{.+}} : tensor<?x1536xbf16>
  %4 = llm.add %3, %2 : tensor<?x1536xbf16>
  // CHECK: llm.scale %{{.+}} by 5.000000e-01 : tensor<?x1536xbf16>
  %5 = llm.scale %4 by 0.5 : tensor<?x1536xbf16>
  // CHECK: llm.softmax %{{.+}} axis = -1 : tensor<?x1536xbf16>
  %6 = llm.softmax %5 axis = -1 : tensor<?x1536xbf16>
  return %6 : tensor<?x1536xbf16>
}

// CHECK-LABEL: func.func @quantization
func.func @quantization(%w: tensor<1024x4096xbf16>, %x: tensor<?x4096xbf16>, %sx: tensor<?x1xf32>) {
  // Per-output-channel FP8 weights.
  %s = llm.weight @w.scale : tensor<1024x1xf32>
  // CHECK: llm.quantize %{{.+}}, %{{.+}} : tensor<1024x4096xbf16>, tensor<1024x1xf32> -> tensor<1024x4096xf8E4M3FN>
  %0 = llm.quantize %w, %s : tensor<1024x4096xbf16>, tensor<1024x1xf32> -> tensor<1024x4096xf8E4M3FN>
  // CHECK: llm.dequantize %{{.+}}, %{{.+}} : tensor<1024x4096xf8E4M3FN>, tensor<1024x1xf32> -> tensor<1024x4096xbf16>
  %1 = llm.dequantize %0, %s : tensor<1024x4096xf8E4M3FN>, tensor<1024x1xf32> -> tensor<1024x4096xbf16>
  // Per-tensor E5M2 with a scalar scale.
  %st = llm.weight @x.scale : tensor<f32>
  // CHECK: llm.quantize {{.+}} : tensor<?x4096xbf16>, tensor<f32> -> tensor<?x4096xf8E5M2>
  %2 = llm.quantize %x, %st : tensor<?x4096xbf16>, tensor<f32> -> tensor<?x4096xf8E5M2>
  // Per-token INT8: one scale per row of the dynamic token dimension.
  // CHECK: llm.quantize {{.+}} : tensor<?x4096xbf16>, tensor<?x1xf32> -> tensor<?x4096xi8>
  %3 = llm.quantize %x, %sx : tensor<?x4096xbf16>, tensor<?x1xf32> -> tensor<?x4096xi8>
  // Group-wise asymmetric INT4, group size 128, with zero points.
  %sg = llm.weight @w.group_scale : tensor<1024x32xf16>
  %zg = llm.weight @w.group_zero : tensor<1024x32xi8>
  // CHECK: llm.quantize %{{.+}}, %{{.+}}, %{{.+}} : tensor<1024x4096xbf16>, tensor<1024x32xf16>, tensor<1024x32xi8> -> tensor<1024x4096xi4>
  %4 = llm.quantize %w, %sg, %zg : tensor<1024x4096xbf16>, tensor<1024x32xf16>, tensor<1024x32xi8> -> tensor<1024x4096xi4>
  // CHECK: llm.dequantize %{{.+}}, %{{.+}}, %{{.+}} : tensor<1024x4096xi4>, tensor<1024x32xf16>, tensor<1024x32xi8> -> tensor<1024x4096xf16>
  %5 = llm.dequantize %4, %sg, %zg : tensor<1024x4096xi4>, tensor<1024x32xf16>, tensor<1024x32xi8> -> tensor<1024x4096xf16>
  return
}

// CHECK-LABEL: func.func @collectives
func.func @collectives(%x: tensor<?x4096xbf16>, %l: tensor<?x24576xf32>) -> tensor<?x4096xbf16> {
  // CHECK: llm.all_reduce sum %{{.+}} group = [0, 1, 2, 3] : tensor<?x4096xbf16>
  %0 = llm.all_reduce sum %x group = [0, 1, 2, 3] : tensor<?x4096xbf16>
  // CHECK: llm.all_reduce max %{{.+}} group = [0, 1] : tensor<?x4096xbf16>
  %1 = llm.all_reduce max %0 group = [0, 1] : tensor<?x4096xbf16>
  // CHECK: llm.all_gather %{{.+}} axis = 1 group = [0, 1] : tensor<?x24576xf32> -> tensor<?x49152xf32>
  %2 = llm.all_gather %l axis = 1 group = [0, 1] : tensor<?x24576xf32> -> tensor<?x49152xf32>
  // CHECK: llm.send %{{.+}} to 1 : tensor<?x4096xbf16>
  llm.send %1 to 1 : tensor<?x4096xbf16>
  // CHECK: llm.recv from 0 : tensor<?x4096xbf16>
  %3 = llm.recv from 0 : tensor<?x4096xbf16>
  return %3 : tensor<?x4096xbf16>
}

// CHECK-LABEL: func.func @fused_group
func.func @fused_group(%h: tensor<?x576xbf16>, %r: tensor<?x576xbf16>) -> tensor<?x576xbf16> {
  %w = llm.weight @norm.weight : tensor<576xbf16>
  // CHECK: llm.fused ins(%{{.+}}, %{{.+}}, %{{.+}} : tensor<?x576xbf16>, tensor<?x576xbf16>, tensor<576xbf16>) attributes {kind = "add_rms_norm"} {
  // CHECK-NEXT: ^bb0(%[[A:.+]]: tensor<?x576xbf16>, %[[B:.+]]: tensor<?x576xbf16>, %[[G:.+]]: tensor<576xbf16>):
  // CHECK-NEXT:   %[[S:.+]] = llm.add %[[A]], %[[B]] : tensor<?x576xbf16>
  // CHECK-NEXT:   %[[Y:.+]] = llm.rms_norm %[[S]], %[[G]] epsilon = 1.000000e-05
  // CHECK-NEXT:   llm.yield %[[Y]] : tensor<?x576xbf16>
  // CHECK-NEXT: } -> tensor<?x576xbf16>
  %0 = llm.fused ins(%h, %r, %w : tensor<?x576xbf16>, tensor<?x576xbf16>, tensor<576xbf16>) attributes {kind = "add_rms_norm"} {
  ^bb0(%a: tensor<?x576xbf16>, %b: tensor<?x576xbf16>, %g: tensor<576xbf16>):
    %s = llm.add %a, %b : tensor<?x576xbf16>
    %y = llm.rms_norm %s, %g epsilon = 1.0e-05 : tensor<?x576xbf16>, tensor<576xbf16>
    llm.yield %y : tensor<?x576xbf16>
  } -> tensor<?x576xbf16>
  return %0 : tensor<?x576xbf16>
}

// CHECK-LABEL: func.func @quantize_dynamic
func.func @quantize_dynamic(%x: tensor<?x4096xbf16>, %y: tensor<16x64xf32>) {
  // CHECK: llm.quantize_dynamic %{{.+}} : tensor<?x4096xbf16> -> tensor<?x4096xi8>, tensor<?x1xf32>
  %q, %s = llm.quantize_dynamic %x : tensor<?x4096xbf16> -> tensor<?x4096xi8>, tensor<?x1xf32>
  // CHECK: llm.quantize_dynamic %{{.+}} : tensor<16x64xf32> -> tensor<16x64xf8E4M3FN>, tensor<16x1xf32>
  %q8, %s8 = llm.quantize_dynamic %y : tensor<16x64xf32> -> tensor<16x64xf8E4M3FN>, tensor<16x1xf32>
  return
}

// CHECK-LABEL: func.func @attention_quantized_cache
func.func @attention_quantized_cache(%q: tensor<?x9x64xbf16>, %k: tensor<?x3x64xbf16>, %v: tensor<?x3x64xbf16>, %batch: !llm.batch) {
  // CHECK: kv_cache_dtype = f8E4M3FN
  %0 = llm.attention %q, %k, %v, %batch {layer = 0 : i64, scale = 0.125 : f64, kv_cache_dtype = f8E4M3FN} : tensor<?x9x64xbf16>, tensor<?x3x64xbf16>, tensor<?x3x64xbf16> -> tensor<?x9x64xbf16>
  // CHECK: kv_cache_dtype = i8
  %1 = llm.attention %q, %k, %v, %batch {layer = 1 : i64, scale = 0.125 : f64, kv_cache_dtype = i8} : tensor<?x9x64xbf16>, tensor<?x3x64xbf16>, tensor<?x3x64xbf16> -> tensor<?x9x64xbf16>
  return
}

// The packed-projection ops llm-fuse creates.
// CHECK-LABEL: func.func @packed_qkv
func.func @packed_qkv(%qkv: tensor<?x128xbf16>, %batch: !llm.batch) -> tensor<?x4x16xbf16> {
  // CHECK: %[[P:.+]]:3 = llm.split %{{.+}} : tensor<?x128xbf16> -> tensor<?x64xbf16>, tensor<?x32xbf16>, tensor<?x32xbf16>
  %q, %k, %v = llm.split %qkv : tensor<?x128xbf16> -> tensor<?x64xbf16>, tensor<?x32xbf16>, tensor<?x32xbf16>
  %q3 = llm.reshape %q : tensor<?x64xbf16> -> tensor<?x4x16xbf16>
  %k3 = llm.reshape %k : tensor<?x32xbf16> -> tensor<?x2x16xbf16>
  %v3 = llm.reshape %v : tensor<?x32xbf16> -> tensor<?x2x16xbf16>
  // CHECK: llm.kv_cache_write %{{.+}}, %{{.+}}, %{{.+}} {layer = 1 : i64} : tensor<?x2x16xbf16>, tensor<?x2x16xbf16>
  llm.kv_cache_write %k3, %v3, %batch {layer = 1 : i64} : tensor<?x2x16xbf16>, tensor<?x2x16xbf16>
  // CHECK: llm.cached_attention %{{.+}}, %{{.+}} {layer = 1 : i64, scale = 2.500000e-01 : f64, sliding_window = 8 : i64} : tensor<?x4x16xbf16> -> tensor<?x4x16xbf16>
  %o = llm.cached_attention %q3, %batch {layer = 1 : i64, scale = 0.25 : f64, sliding_window = 8 : i64} : tensor<?x4x16xbf16> -> tensor<?x4x16xbf16>
  return %o : tensor<?x4x16xbf16>
}
