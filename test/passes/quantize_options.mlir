// Option errors name the option and say what it takes.
// RUN: not llmc-opt %s --llm-quantize="scheme=int3" 2>&1 | FileCheck %s --check-prefix=SCHEME
// RUN: not llmc-opt %s --llm-quantize="scheme=fp8 weight-granularity=group" 2>&1 | FileCheck %s --check-prefix=GROUP
// RUN: not llmc-opt %s --llm-quantize="scheme=w4a16 weight-granularity=per-tensor" 2>&1 | FileCheck %s --check-prefix=TENSOR
// RUN: not llmc-opt %s --llm-quantize="scheme=w4a16 weight-granularity=blocks" 2>&1 | FileCheck %s --check-prefix=GRAN
// RUN: not llmc-opt %s --llm-quantize="scheme=w4a16 group-size=0" 2>&1 | FileCheck %s --check-prefix=GSIZE
// RUN: not llmc-opt %s --llm-quantize="scheme=int8 symmetric=false" 2>&1 | FileCheck %s --check-prefix=ASYM
// RUN: not llmc-opt %s --llm-quantize="scheme=fp8 activations=static" 2>&1 | FileCheck %s --check-prefix=NOCALIB
// RUN: not llmc-opt %s --llm-quantize="scheme=w8a16 activations=static calib-file=%S/Inputs/calib.json" 2>&1 | FileCheck %s --check-prefix=WOSTATIC
// RUN: not llmc-opt %s --llm-quantize="scheme=fp8 activations=sometimes" 2>&1 | FileCheck %s --check-prefix=ACT
// RUN: not llmc-opt %s --llm-quantize="scheme=fp8 kv-cache=fp4" 2>&1 | FileCheck %s --check-prefix=KV
// RUN: not llmc-opt %s --llm-quantize="scheme=fp8 calib-file=%S/Inputs/missing.json" 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not llmc-opt %s --llm-quantize="scheme=fp8 calib-file=%S/Inputs/calib_bad_format.json" 2>&1 | FileCheck %s --check-prefix=FORMAT
// RUN: not llmc-opt %s --llm-quantize="scheme=w4a16 keep-fp=[z-a]" 2>&1 | FileCheck %s --check-prefix=GLOB
// RUN: not llmc-opt %s --llm-quantize="scheme=fp8 calib-file=%S/Inputs/calib_bad_entry.json" 2>&1 | FileCheck %s --check-prefix=ENTRY

// SCHEME: llm-quantize option 'scheme': unknown scheme 'int3'; expected fp8, int8, w8a16, w4a16, fp16, bf16 or f32
// GROUP: llm-quantize option 'weight-granularity': scheme=fp8 (W8A8) takes per-tensor or per-channel weight scales, not group
// TENSOR: llm-quantize option 'weight-granularity': weight-only scheme=w4a16 takes per-channel or group scales, not per-tensor
// GRAN: llm-quantize option 'weight-granularity': unknown granularity 'blocks'; expected per-tensor, per-channel or group
// GSIZE: llm-quantize option 'group-size': must be positive, got 0
// ASYM: llm-quantize option 'symmetric': asymmetric (zero-point) quantization is for the weight-only schemes w8a16 and w4a16
// NOCALIB: llm-quantize option 'activations': static activation scales need calib-file
// WOSTATIC: llm-quantize option 'activations': static activation scales belong to the W8A8 schemes fp8 and int8, not w8a16
// ACT: llm-quantize option 'activations': unknown value 'sometimes'; expected dynamic or static
// KV: llm-quantize option 'kv-cache': unknown value 'fp4'; expected none, fp8 or int8
// MISSING: calibration file '{{.+}}missing.json': cannot read it
// FORMAT: calibration file '{{.+}}calib_bad_format.json': "format" must be "llmc-calibration-1"
// GLOB: llm-quantize option 'keep-fp': bad glob '[z-a]'
// ENTRY: calibration file '{{.+}}calib_bad_entry.json': inputs["w"].absmax must be a finite non-negative number
func.func @forward(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  return %x : tensor<?x8xf32>
}
