// The llm dialect survives MLIR bytecode (what compile caches store): custom
// attributes (#llm.rope_scaling, enums) and types (!llm.batch) included.
// RUN: llmc-opt %s --emit-bytecode | llmc-opt | FileCheck %s

// CHECK-LABEL: func.func @layer
// CHECK-SAME: !llm.batch
// CHECK: llm.rope {{.+}} {scaling = #llm.rope_scaling<llama3, factor = 8.000000e+00, low_freq_factor = 1.000000e+00, high_freq_factor = 4.000000e+00, original_max_position = 8192>, style = #llm<rope_style interleaved>
// CHECK: llm.gelu %{{.+}} approximation = tanh
// CHECK: llm.all_reduce max
func.func @layer(%q: tensor<?x4x16xf32>, %pos: tensor<?xi32>, %b: !llm.batch) -> tensor<?x4x16xf32> {
  %r = llm.rope %q, %pos {theta = 500000.0 : f64, style = #llm<rope_style interleaved>,
      scaling = #llm.rope_scaling<llama3, factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position = 8192>}
      : tensor<?x4x16xf32>, tensor<?xi32>
  %g = llm.gelu %r approximation = tanh : tensor<?x4x16xf32>
  %m = llm.all_reduce max %g group = [0, 1] : tensor<?x4x16xf32>
  return %m : tensor<?x4x16xf32>
}
