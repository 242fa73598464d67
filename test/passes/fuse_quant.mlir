// llm-fuse on quantized modules: the tiny llama quantized by llm-quantize
// (and CSE, as `llmc compile` runs them) fuses to 8 groups/GEMMs per layer.
// RUN: llmc-opt %S/../Inputs/tiny_llama.mlir --llm-quantize="scheme=fp8" --cse --llm-fuse | FileCheck %s --check-prefix=FP8
// RUN: llmc-opt %S/../Inputs/tiny_llama.mlir --llm-quantize="scheme=w4a16 group-size=32 symmetric=false" --cse --llm-fuse | FileCheck %s --check-prefix=W4
// RUN: llmc-opt %S/../Inputs/tiny_llama.mlir --llm-quantize="scheme=fp8 weight-granularity=per-tensor" --cse --llm-fuse | FileCheck %s --check-prefix=TENSOR
// RUN: llmc-opt %S/../Inputs/tiny_llama.mlir --llm-quantize="scheme=fp8 kv-cache=fp8" --cse --llm-fuse | FileCheck %s --check-prefix=KV
// RUN: llmc-opt %S/../Inputs/tiny_llama.mlir --llm-quantize="scheme=fp8" --cse --llm-fuse="quantize=false" | FileCheck %s --check-prefix=NOQUANT

// W8A8 (fp8, dynamic per-token activations): the norm quantizes its rows;
// Q/K/V share that quantization and merge, weights and [N, 1] scales
// concatenated; the attention output is quantized where attention writes it;
// the residual adds are epilogues of the quantized GEMMs; gate/up merge and
// quantize their gated product.
// FP8-LABEL: func.func @forward
// FP8: %[[X:.+]]:2 = llm.fused ins(%{{.+}}, %{{.+}} : tensor<?x64xbf16>, tensor<64xbf16>) attributes {kind = "rms_norm_quantize_dynamic"}
// FP8: llm.rms_norm
// FP8-NEXT: llm.quantize_dynamic
// FP8: %[[W:.+]] = llm.weight @model.layers.0.self_attn.qkv_proj.weight {llm.concat = {axis = 0 : i64, parts = ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.v_proj.weight"]}, llm.quant = {granularity = "channel", scale = "model.layers.0.self_attn.qkv_proj.weight.scale", scheme = "fp8_per_channel", symmetric = true}} : tensor<128x64xf8E4M3FN>
// FP8-NEXT: %[[WS:.+]] = llm.weight @model.layers.0.self_attn.qkv_proj.weight.scale {llm.concat = {axis = 0 : i64, parts = ["model.layers.0.self_attn.q_proj.weight.scale", "model.layers.0.self_attn.k_proj.weight.scale", "model.layers.0.self_attn.v_proj.weight.scale"]}} : tensor<128x1xf32>
// FP8-NEXT: %[[QKV:.+]] = llm.linear %[[X]]#0, %[[W]] scales(%[[X]]#1, %[[WS]] : tensor<?x1xf32>, tensor<128x1xf32>) : tensor<?x64xf8E4M3FN>, tensor<128x64xf8E4M3FN> -> tensor<?x128xbf16>
// FP8-NEXT: %[[Q:.+]] = llm.fused ins(%[[QKV]], {{.+}} attributes {kind = "rope_kv_write"}
// FP8: %[[O:.+]]:2 = llm.fused ins(%[[Q]], %{{.+}} : tensor<?x4x16xbf16>, !llm.batch) attributes {kind = "cached_attention_quantize_dynamic"}
// FP8-NEXT: ^bb0
// FP8-NEXT: llm.cached_attention
// FP8-NEXT: llm.reshape
// FP8-NEXT: llm.quantize_dynamic
// FP8: %[[H1:.+]] = llm.fused ins(%[[O]]#0, %{{.+}}, %[[O]]#1, %{{.+}}, %{{.+}} : tensor<?x64xf8E4M3FN>, tensor<64x64xf8E4M3FN>, tensor<?x1xf32>, tensor<64x1xf32>, tensor<?x64xbf16>) attributes {kind = "linear_residual"}
// FP8: %[[X2:.+]]:2 = llm.fused ins(%[[H1]], %{{.+}}) attributes {kind = "rms_norm_quantize_dynamic"}
// FP8: %[[GU:.+]] = llm.weight @model.layers.0.mlp.gate_up_proj.weight {{.+}} : tensor<256x64xf8E4M3FN>
// FP8-NEXT: %[[GUS:.+]] = llm.weight @model.layers.0.mlp.gate_up_proj.weight.scale {{.+}} : tensor<256x1xf32>
// FP8-NEXT: %[[ACT:.+]]:2 = llm.fused ins(%[[X2]]#0, %[[GU]], %[[X2]]#1, %[[GUS]] : {{.+}}) attributes {kind = "linear_gated_activation_quantize_dynamic"}
// FP8: llm.fused ins(%[[ACT]]#0, %{{.+}}, %[[ACT]]#1, %{{.+}}, %[[H1]] : {{.+}}) attributes {kind = "linear_residual"}
// FP8-NOT: llm.weight @model.layers.0.self_attn.q_proj.weight
// FP8: return

// Weight-only int4 with groups and zero points: the quantized weights,
// their [N, K/G] scales and zero points concatenate and one dequantize
// feeds the packed linear; epilogues keep the dequantize outside.
// W4-LABEL: func.func @forward
// W4: %[[W:.+]] = llm.weight @model.layers.0.self_attn.qkv_proj.weight {{.+}}llm.quant = {clip_search, granularity = "group", group_size = 32 : i64, scale = "model.layers.0.self_attn.qkv_proj.weight.scale", scheme = "int4_group32_asym", symmetric = false, zero_point = "model.layers.0.self_attn.qkv_proj.weight.zero_point"}} : tensor<128x64xi4>
// W4-NEXT: %[[S:.+]] = llm.weight @model.layers.0.self_attn.qkv_proj.weight.scale {{.+}} : tensor<128x2xf32>
// W4-NEXT: %[[Z:.+]] = llm.weight @model.layers.0.self_attn.qkv_proj.weight.zero_point {llm.concat = {axis = 0 : i64, parts = ["model.layers.0.self_attn.q_proj.weight.zero_point", "model.layers.0.self_attn.k_proj.weight.zero_point", "model.layers.0.self_attn.v_proj.weight.zero_point"]}} : tensor<128x2xi8>
// W4-NEXT: %[[D:.+]] = llm.dequantize %[[W]], %[[S]], %[[Z]] : tensor<128x64xi4>, tensor<128x2xf32>, tensor<128x2xi8> -> tensor<128x64xbf16>
// W4-NEXT: %[[QKV:.+]] = llm.linear %{{.+}}, %[[D]] :
// W4-NEXT: llm.fused ins(%[[QKV]], {{.+}} attributes {kind = "rope_kv_write"}
// W4: %[[OD:.+]] = llm.dequantize {{.+}} -> tensor<64x64xbf16>
// W4-NEXT: llm.fused ins(%{{.+}}, %[[OD]], %{{.+}}) attributes {kind = "linear_residual"}
// W4: attributes {kind = "linear_gated_activation"}
// W4: attributes {kind = "linear_residual"}

// A per-tensor [] weight scale cannot be concatenated: Q/K/V stay apart
// (and so RoPE and the KV write), the epilogues still form.
// TENSOR-LABEL: func.func @forward
// TENSOR-NOT: llm.concat
// TENSOR-NOT: rope_kv_write
// TENSOR: llm.attention
// TENSOR: kind = "linear_residual"

// A quantized KV cache: the fused write and the cached read carry its type.
// KV-LABEL: func.func @forward
// KV: llm.kv_cache_write {{.+}} {kv_cache_dtype = f8E4M3FN, layer = 0 : i64}
// KV: llm.cached_attention {{.+}} {kv_cache_dtype = f8E4M3FN, layer = 0 : i64, scale = 2.500000e-01 : f64}

// quantize=false: the quantizations stay their own steps.
// NOQUANT-LABEL: func.func @forward
// NOQUANT-NOT: _quantize_dynamic
// NOQUANT: llm.quantize_dynamic
