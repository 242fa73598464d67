#!/usr/bin/env bash
# Compiles the models of the GPU tests (test/gpu/cuda_gpu_test.cpp) on the
# build machine, where llmc (linked with MLIR) runs; a lent GPU machine then
# reads them with LLMC_GPU_TEST_ARTIFACTS=OUT_DIR. The real SmolLM2 (from
# scripts/fetch-models.sh smollm2) is large: its artifacts exceed one 64 MiB
# device carry, so copy them over in parts (split/cat) or skip them there.
#   test/gpu/make_artifacts.sh BUILD_DIR OUT_DIR [TARGET ...]   (default h100)
set -euo pipefail
build="${1:?usage: make_artifacts.sh BUILD_DIR OUT_DIR [TARGET ...]}"
out="${2:?usage: make_artifacts.sh BUILD_DIR OUT_DIR [TARGET ...]}"
shift 2
targets=("${@:-h100}")
smollm2="${LLMC_MODEL_CACHE:-$HOME/.cache/llmc/models}/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
mkdir -p "$out"
for target in "${targets[@]}"; do
  for quant in f32 bf16 fp8 int8; do
    "$build/bin/llmc" compile "$build/test/Inputs/tiny-models/llama" \
      --target="$target" --quant="$quant" --max-tokens=16 \
      -o "$out/tiny-$target-$quant.llmc"
    if [[ -f "$smollm2" && "$quant" != f32 ]]; then
      "$build/bin/llmc" compile "$smollm2" --target="$target" \
        --quant="$quant" --max-tokens=16 -o "$out/smollm2-$target-$quant.llmc"
    fi
  done
done
ls -l "$out"
