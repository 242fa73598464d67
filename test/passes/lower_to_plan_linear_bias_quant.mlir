// A biased quantized linear (Qwen2's QKV under W8A8 or weight-only) is one
// linear_bias step: the GEMM's scales (W8A8: scale_a, scale_b; weight-only:
// scale_b, zero_b) come between the weight and the bias, and no bias_add
// step is left.
// RUN: llmc-opt %s --llm-quantize="scheme=int8" --cse --llm-fuse --llm-lower-to-plan="max-tokens=8" | FileCheck %s --check-prefix=INT8
// RUN: llmc-opt %s --llm-quantize="scheme=w4a16 group-size=16 symmetric=false" --cse --llm-fuse --llm-lower-to-plan="max-tokens=8" | FileCheck %s --check-prefix=W4
// RUN: llmc-opt %s --llm-quantize="scheme=fp8" --cse --llm-fuse | FileCheck %s --check-prefix=FUSED

// INT8-LABEL: plan.rank 0
// INT8: plan.compute "quantize_dynamic"(%{{.+}} : memref<8x32xf32> -> %[[XQ:.+]], %[[XS:.+]] : memref<8x32xi8>, memref<8x1xf32>)
// INT8: plan.compute "linear_bias"(%[[XQ]], %{{.+}}, %[[XS]], %{{.+}}, %{{.+}} : memref<8x32xi8>, memref<48x32xi8>, memref<8x1xf32>, memref<48x1xf32>, memref<48xf32> -> %{{.+}} : memref<8x48xf32>)
// INT8-NOT: bias_add

// W4-LABEL: plan.rank 0
// W4: plan.compute "linear_bias"(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} : memref<8x32xf32>, memref<48x32xi4>, memref<48x2xf32>, memref<48x2xi8>, memref<48xf32> -> %{{.+}} : memref<8x48xf32>)
// W4-NOT: bias_add
// W4-NOT: plan.compute "dequantize"

// FUSED: llm.fused ins({{.+}}) attributes {kind = "linear_bias"}
// FUSED: llm.linear %{{.+}}, %{{.+}}, %{{.+}} scales(%{{.+}}, %{{.+}} : tensor<?x1xf32>, tensor<48x1xf32>) : tensor<?x32xf8E4M3FN>, tensor<48x32xf8E4M3FN>, tensor<48xf32> -> tensor<?x48xf32>

func.func @forward(%x: tensor<?x32xf32>) -> tensor<?x48xf32> {
  %w = llm.weight @qkv.weight : tensor<48x32xf32>
  %b = llm.weight @qkv.bias : tensor<48xf32>
  %y = llm.linear %x, %w, %b : tensor<?x32xf32>, tensor<48x32xf32>, tensor<48xf32> -> tensor<?x48xf32>
  return %y : tensor<?x48xf32>
}
