#!/usr/bin/env bash
# Compiles the tiny Llama for the GPU tests (test/gpu/cuda_gpu_test.cpp) on
# the build machine, where llmc (linked with MLIR) runs; a lent GPU machine
# then reads them with LLMC_GPU_TEST_ARTIFACTS=OUT_DIR.
#   test/gpu/make_artifacts.sh BUILD_DIR OUT_DIR [TARGET ...]   (default h100)
set -euo pipefail
build="${1:?usage: make_artifacts.sh BUILD_DIR OUT_DIR [TARGET ...]}"
out="${2:?usage: make_artifacts.sh BUILD_DIR OUT_DIR [TARGET ...]}"
shift 2
targets=("${@:-h100}")
mkdir -p "$out"
for target in "${targets[@]}"; do
  for quant in f32 bf16 fp8 int8; do
    "$build/bin/llmc" compile "$build/test/Inputs/tiny-models/llama" \
      --target="$target" --quant="$quant" --max-tokens=16 \
      -o "$out/tiny-$target-$quant.llmc"
  done
done
ls -l "$out"
