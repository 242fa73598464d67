// The whole quantization pipeline on the tiny llama, down to a memory-planned
// plan: SmoothQuant on both norms, static INT8 / FP8, dynamic FP8 with an FP8
// KV cache, and weight-only INT4.
// RUN: llmc-opt %S/../Inputs/tiny_llama.mlir --llm-smooth="calib-file=%S/Inputs/tiny_llama_calib.json" --llm-quantize="scheme=int8 activations=static calib-file=%S/Inputs/tiny_llama_calib.json" | FileCheck %s --check-prefix=INT8
// RUN: llmc-opt %S/../Inputs/tiny_llama.mlir --llm-smooth="calib-file=%S/Inputs/tiny_llama_calib.json" --llm-quantize="scheme=int8 activations=static calib-file=%S/Inputs/tiny_llama_calib.json" --llm-lower-to-plan="max-tokens=16" --plan-memory --plan-verify-memory | FileCheck %s --check-prefix=PLAN
// RUN: llmc-opt %S/../Inputs/tiny_llama.mlir --llm-quantize="scheme=fp8 kv-cache=fp8" --cse --llm-lower-to-plan="max-tokens=16" --plan-memory --plan-verify-memory | FileCheck %s --check-prefix=FP8
// RUN: llmc-opt %S/../Inputs/tiny_llama.mlir --llm-quantize="scheme=fp8 kv-cache=fp8" --cse --llm-lower-to-plan="max-tokens=16" | FileCheck %s --check-prefix=KV
// RUN: llmc-opt %S/../Inputs/tiny_llama.mlir --llm-quantize="scheme=w4a16 group-size=32 symmetric=false" --llm-lower-to-plan="max-tokens=16" --plan-memory --plan-verify-memory | FileCheck %s --check-prefix=W4

// Both norms are smoothed, the final one (LM head, kept float) is not; the
// seven projections are i8 with static input scales from the smoothed maxima.
// INT8: llm.weight @model.layers.0.input_layernorm.weight {llm.smooth = {{{.+}}linears = ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.v_proj.weight"]
// INT8: llm.weight @model.layers.0.self_attn.q_proj.weight.input_scale {llm.activation_scale = {absmax = 6.500000e+00 : f64, qmax = 1.270000e+02 : f64, smoothed_by = "model.layers.0.input_layernorm.weight"}} : tensor<f32>
// INT8: llm.weight @model.layers.0.post_attention_layernorm.weight {llm.smooth =
// INT8: llm.weight @model.layers.0.mlp.down_proj.weight {llm.quant = {{.+}}} : tensor<64x128xi8>
// INT8: llm.weight @model.norm.weight : tensor<64xbf16>

// PLAN-COUNT-7: plan.gemm cpu {{.+}} scale_a(%{{.+}} : memref<f32>) scale_b(%{{.+}} : memref<{{[0-9]+}}x1xf32>) : memref<16x{{[0-9]+}}xi8>, memref<{{[0-9]+}}x{{[0-9]+}}xi8>, memref<16x{{[0-9]+}}xbf16>
// PLAN: plan.gemm cpu {{.+}} transpose_b : memref<16x64xbf16>, memref<256x64xbf16>, memref<16x256xbf16>

// Q, K and V share one per-token quantization of their input, and so do gate
// and up (CSE): four for seven linears. The KV cache is FP8.
// FP8-COUNT-4: plan.compute "quantize_dynamic"
// FP8-NOT: plan.compute "quantize_dynamic"
// KV: plan.compute "attention"{{.+}}kv_cache_dtype = "f8E4M3FN"

// W4: plan.slice @weights[{{[0-9]+}}] {plan.quant = {scale = "model.layers.0.self_attn.q_proj.weight.scale", scheme = "int4_group32_asym", zero_point = "model.layers.0.self_attn.q_proj.weight.zero_point"}, plan.weight = "model.layers.0.self_attn.q_proj.weight"} : memref<64x64xi4>
// W4-COUNT-7: zero_b(
// W4-NOT: "dequantize"
