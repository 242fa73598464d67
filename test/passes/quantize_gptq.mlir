// RUN: llmc-opt %s --llm-quantize="scheme=w4a16 gptq=true calib-file=%S/Inputs/calib_gptq.json" | FileCheck %s
// RUN: llmc-opt %s --llm-quantize="scheme=fp8 gptq=true calib-file=%S/Inputs/calib_gptq.json" | FileCheck %s --check-prefix=FP8
// RUN: not llmc-opt %s --llm-quantize="scheme=int8 gptq=true" 2>&1 | FileCheck %s --check-prefix=NOCALIB
// RUN: not llmc-opt %s --llm-quantize="scheme=int8 gptq=true calib-file=%S/Inputs/calib.json" 2>&1 | FileCheck %s --check-prefix=NOGRAM

// gptq=true names the calibration's Gram matrix file in each quantized
// weight's llm.quant (resolved beside the calibration file); the
// WeightStore reads the weight's input statistics from it (the pass reads
// no weights or matrices).
// CHECK: llm.weight @layers.0.q_proj.weight {llm.quant = {clip_search, gptq = "{{.*}}Inputs{{/|\\}}calib_gptq.json.gram", granularity = "channel", scale = "layers.0.q_proj.weight.scale", scheme = "int4_per_channel", symmetric = true}} : tensor<4x8xi4>
// FP8: llm.weight @layers.0.q_proj.weight {llm.quant = {gptq = "{{.*}}calib_gptq.json.gram", granularity = "channel", scale = "layers.0.q_proj.weight.scale", scheme = "fp8_per_channel", symmetric = true}} : tensor<4x8xf8E4M3FN>

// NOCALIB: error: llm-quantize option 'gptq': needs calib-file with Gram matrices (`llmc compile --calib TEXT --gptq`)
// NOGRAM: error: llm-quantize option 'gptq': calibration file '{{.*}}calib.json' has no gram_file; recalibrate with `llmc compile --calib TEXT --gptq`
func.func @layer(%x: tensor<?x8xf32>) -> tensor<?x4xf32> {
  %w = llm.weight @layers.0.q_proj.weight : tensor<4x8xf32>
  %y = llm.linear %x, %w : tensor<?x8xf32>, tensor<4x8xf32> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}
