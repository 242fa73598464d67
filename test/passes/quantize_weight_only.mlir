// RUN: llmc-opt %s --split-input-file --verify-diagnostics --llm-quantize="scheme=w4a16 symmetric=false" | FileCheck %s
// RUN: llmc-opt %s --split-input-file --llm-quantize="scheme=w8a16 weight-granularity=per-channel" | FileCheck %s --check-prefix=W8
// RUN: llmc-opt %s --split-input-file --llm-quantize="scheme=w4a16 clip-search=false" 2>/dev/null | FileCheck %s --check-prefix=NOCLIP
// RUN: llmc-opt %s --split-input-file --llm-quantize="scheme=w4a16 group-size=64 keep-fp=*.down_proj.*,lm_head" | FileCheck %s --check-prefix=G64

// W4A16, asymmetric, groups of 128 (the default): i4 weight, [N, K/128]
// scales and i8 zero points, dequantized into the float linear.
// CHECK-LABEL: func.func @mlp
// CHECK: %[[Q:.+]] = llm.weight @mlp.up_proj.weight {llm.quant = {clip_search, granularity = "group", group_size = 128 : i64, scale = "mlp.up_proj.weight.scale", scheme = "int4_group128_asym", symmetric = false, zero_point = "mlp.up_proj.weight.zero_point"}} : tensor<16x256xi4>
// CHECK: %[[S:.+]] = llm.weight @mlp.up_proj.weight.scale {llm.derived = {kind = "scale", of = "mlp.up_proj.weight"}} : tensor<16x2xf32>
// CHECK: %[[Z:.+]] = llm.weight @mlp.up_proj.weight.zero_point {llm.derived = {kind = "zero_point", of = "mlp.up_proj.weight"}} : tensor<16x2xi8>
// CHECK: %[[W:.+]] = llm.dequantize %[[Q]], %[[S]], %[[Z]] : tensor<16x256xi4>, tensor<16x2xf32>, tensor<16x2xi8> -> tensor<16x256xbf16>
// CHECK: llm.linear %{{.+}}, %[[W]] : tensor<?x256xbf16>, tensor<16x256xbf16> -> tensor<?x16xbf16>
// The down projection's 16 inputs are fewer than a group: per channel.
// CHECK: llm.weight @mlp.down_proj.weight {llm.quant = {clip_search, granularity = "channel", scale = "mlp.down_proj.weight.scale", scheme = "int4_per_channel_asym", symmetric = false, zero_point = "mlp.down_proj.weight.zero_point"}} : tensor<256x16xi4>
// CHECK: llm.weight @mlp.down_proj.weight.scale {{.+}} : tensor<256x1xf32>

// clip-search=false: the scales are the plain maxima (no clip_search).
// NOCLIP-LABEL: func.func @mlp
// NOCLIP: llm.weight @mlp.up_proj.weight {llm.quant = {granularity = "group"

// W8A16 per channel, symmetric: no zero points.
// W8-LABEL: func.func @mlp
// W8: %[[Q:.+]] = llm.weight @mlp.up_proj.weight {llm.quant = {clip_search, granularity = "channel", scale = "mlp.up_proj.weight.scale", scheme = "int8_per_channel", symmetric = true}} : tensor<16x256xi8>
// W8: %[[S:.+]] = llm.weight @mlp.up_proj.weight.scale {{.+}} : tensor<16x1xf32>
// W8-NOT: zero_point
// W8: llm.dequantize %[[Q]], %[[S]] : tensor<16x256xi8>, tensor<16x1xf32> -> tensor<16x256xbf16>

// group-size=64 gives [N, 4] scales; keep-fp globs keep the down projection.
// G64-LABEL: func.func @mlp
// G64: llm.weight @mlp.up_proj.weight {llm.quant = {clip_search, granularity = "group", group_size = 64 : i64, scale = "mlp.up_proj.weight.scale", scheme = "int4_group64", symmetric = true}} : tensor<16x256xi4>
// G64: llm.weight @mlp.up_proj.weight.scale {{.+}} : tensor<16x4xf32>
// G64: %[[D:.+]] = llm.weight @mlp.down_proj.weight : tensor<256x16xbf16>
// G64: llm.linear %{{.+}}, %[[D]] : tensor<?x16xbf16>, tensor<256x16xbf16> -> tensor<?x256xbf16>
func.func @mlp(%x: tensor<?x256xbf16>) -> tensor<?x256xbf16> {
  %wu = llm.weight @mlp.up_proj.weight : tensor<16x256xbf16>
  %u = llm.linear %x, %wu : tensor<?x256xbf16>, tensor<16x256xbf16> -> tensor<?x16xbf16>
  %wd = llm.weight @mlp.down_proj.weight : tensor<256x16xbf16>
  %d = llm.linear %u, %wd : tensor<?x16xbf16>, tensor<256x16xbf16> -> tensor<?x256xbf16>
  return %d : tensor<?x256xbf16>
}

// -----

// 576 input channels (SmolLM2's hidden size) are not a multiple of 128: the
// largest even group below 128 that divides them, 96, is used instead.
// CHECK-LABEL: func.func @odd_width
// CHECK: llm.weight @proj.weight {llm.quant = {clip_search, granularity = "group", group_size = 96 : i64, scale = "proj.weight.scale", scheme = "int4_group96_asym", symmetric = false, zero_point = "proj.weight.zero_point"}} : tensor<8x576xi4>
// CHECK: llm.weight @proj.weight.scale {{.+}} : tensor<8x6xf32>
func.func @odd_width(%x: tensor<?x576xbf16>) -> tensor<?x8xbf16> {
  %w = llm.weight @proj.weight : tensor<8x576xbf16>
  %y = llm.linear %x, %w : tensor<?x576xbf16>, tensor<8x576xbf16> -> tensor<?x8xbf16>
  return %y : tensor<?x8xbf16>
}
