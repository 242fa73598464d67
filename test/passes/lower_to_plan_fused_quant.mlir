// The fused groups of quantized modules lower to one step each: quantized
// GEMM epilogues are plan.gemm with their scales (and zero points) and
// beta = 1; the norm, the attention and the gated product quantize their
// rows in the step that produces them; the fused KV write names the cache's
// type.
// RUN: llmc-opt %S/../Inputs/tiny_llama.mlir --llm-quantize="scheme=fp8 kv-cache=fp8" --cse --llm-fuse --llm-lower-to-plan="max-tokens=8" | FileCheck %s --check-prefix=FP8
// RUN: llmc-opt %S/../Inputs/tiny_llama.mlir --llm-quantize="scheme=w4a16 group-size=32 symmetric=false" --cse --llm-fuse --llm-lower-to-plan="max-tokens=8" | FileCheck %s --check-prefix=W4

// FP8-LABEL: plan.rank 0
// FP8: plan.compute "rms_norm_quantize_dynamic"(%[[H:.+]], %{{.+}} : memref<8x64xbf16>, memref<64xbf16> -> %[[XQ:.+]], %[[XS:.+]] : memref<8x64xf8E4M3FN>, memref<8x1xf32>) {epsilon = 1.000000e-05 : f64}
// FP8: %[[W:.+]] = plan.slice @weights[{{[0-9]+}}] {plan.quant = {scale = "model.layers.0.self_attn.qkv_proj.weight.scale", scheme = "fp8_per_channel"}, plan.weight = "model.layers.0.self_attn.qkv_proj.weight"} : memref<128x64xf8E4M3FN>
// FP8-NEXT: %[[WS:.+]] = plan.slice @weights[{{[0-9]+}}] {plan.weight = "model.layers.0.self_attn.qkv_proj.weight.scale"} : memref<128x1xf32>
// FP8: plan.gemm cpu %[[XQ]], %[[W]] into %[[QKV:.+]] transpose_b scale_a(%[[XS]] : memref<8x1xf32>) scale_b(%[[WS]] : memref<128x1xf32>) : memref<8x64xf8E4M3FN>, memref<128x64xf8E4M3FN>, memref<8x128xbf16>
// FP8: plan.compute "rope_kv_write"(%[[QKV]], %{{.+}} : memref<8x128xbf16>, memref<8xi32> -> %[[Q:.+]] : memref<8x4x16xbf16>) {head_dim = 16 : i64, kv_cache_dtype = "f8E4M3FN", layer = 0 : i64
// FP8: plan.compute "cached_attention_quantize_dynamic"(%[[Q]] : memref<8x4x16xbf16> -> %[[OQ:.+]], %[[OS:.+]] : memref<8x64xf8E4M3FN>, memref<8x1xf32>) {kv_cache_dtype = "f8E4M3FN", layer = 0 : i64, scale = 2.500000e-01 : f64}
// FP8-NEXT: plan.gemm cpu %[[OQ]], %{{.+}} into %[[H]] transpose_b scale_a(%[[OS]] : memref<8x1xf32>) scale_b(%{{.+}} : memref<64x1xf32>) beta = 1.000000e+00
// FP8: plan.compute "rms_norm_quantize_dynamic"(%[[H]], %{{.+}} -> %[[XQ2:.+]], %[[XS2:.+]] : memref<8x64xf8E4M3FN>, memref<8x1xf32>)
// FP8: plan.compute "linear_gated_activation_quantize_dynamic"(%[[XQ2]], %{{.+}}, %[[XS2]], %{{.+}} : memref<8x64xf8E4M3FN>, memref<256x64xf8E4M3FN>, memref<8x1xf32>, memref<256x1xf32> -> %[[AQ:.+]], %[[AS:.+]] : memref<8x128xf8E4M3FN>, memref<8x1xf32>) {activation = "silu", approximation = "none", product_dtype = "bf16"}
// FP8-NEXT: plan.gemm cpu %[[AQ]], %{{.+}} into %[[H]] transpose_b scale_a(%[[AS]] : memref<8x1xf32>) scale_b(%{{.+}} : memref<64x1xf32>) beta = 1.000000e+00

// Weight-only: B is the packed i4 weight with its [N, K/G] scales and zero
// points, in the GEMM and in the gated-activation step (after x and w).
// W4-LABEL: plan.rank 0
// W4: plan.gemm cpu %{{.+}}, %{{.+}} into %{{.+}} transpose_b scale_b(%{{.+}} : memref<128x2xf32>) zero_b(%{{.+}} : memref<128x2xi8>) : memref<8x64xbf16>, memref<128x64xi4>, memref<8x128xbf16>
// W4: plan.compute "rope_kv_write"
// W4-NOT: kv_cache_dtype
// W4: plan.gemm cpu %{{.+}}, %{{.+}} into %[[H:.+]] transpose_b scale_b(%{{.+}} : memref<64x2xf32>) zero_b(%{{.+}} : memref<64x2xi8>) beta = 1.000000e+00 : memref<8x64xbf16>, memref<64x64xi4>, memref<8x64xbf16>
// W4: plan.compute "linear_gated_activation"(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} : memref<8x64xbf16>, memref<256x64xi4>, memref<256x2xf32>, memref<256x2xi8> -> %{{.+}} : memref<8x128xbf16>)
// W4-NOT: plan.compute "dequantize"
