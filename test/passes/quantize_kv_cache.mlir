// RUN: llmc-opt %s --llm-quantize="scheme=fp16 kv-cache=fp8" | FileCheck %s
// RUN: llmc-opt %s --llm-quantize="scheme=bf16 kv-cache=int8" | FileCheck %s --check-prefix=INT8
// RUN: llmc-opt %s --llm-quantize="scheme=fp8" | FileCheck %s --check-prefix=NONE

// kv-cache marks every attention; fp16/bf16 leave the linears alone (the
// importer builds the 16-bit graph), whatever kv-cache says.
// CHECK-LABEL: func.func @forward
// CHECK: %[[W:.+]] = llm.weight @layers.0.q_proj.weight : tensor<64x64xf16>
// CHECK: llm.linear %{{.+}}, %[[W]] : tensor<?x64xf16>, tensor<64x64xf16> -> tensor<?x64xf16>
// CHECK: llm.attention {{.+}}kv_cache_dtype = f8E4M3FN
// INT8: llm.attention {{.+}}kv_cache_dtype = i8
// Without kv-cache the cache holds the key's type.
// NONE-NOT: kv_cache_dtype
func.func @forward(%x: tensor<?x64xf16>, %b: !llm.batch) -> tensor<?x4x16xf16> {
  %w = llm.weight @layers.0.q_proj.weight : tensor<64x64xf16>
  %q = llm.linear %x, %w : tensor<?x64xf16>, tensor<64x64xf16> -> tensor<?x64xf16>
  %q3 = llm.reshape %q : tensor<?x64xf16> -> tensor<?x4x16xf16>
  %o = llm.attention %q3, %q3, %q3, %b {layer = 0 : i64, scale = 0.25 : f64} : tensor<?x4x16xf16>, tensor<?x4x16xf16>, tensor<?x4x16xf16> -> tensor<?x4x16xf16>
  return %o : tensor<?x4x16xf16>
}
