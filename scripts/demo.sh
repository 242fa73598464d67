#!/usr/bin/env bash
# The main job, as far as it goes today: set up, build, list the targets, then
# compile a tiny Llama-shaped model written in the llm dialect for an H100 and
# for the CPU (verify + canonicalize, emitted as MLIR), and show how an
# impossible target/precision pair is refused.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
llmc=build/bin/llmc
model=test/Inputs/tiny_llama.mlir

echo "== llmc targets"
"$llmc" targets
for target in h100 cpu; do
  echo "== llmc compile $model --target=$target --emit=mlir"
  "$llmc" compile "$model" --target="$target" --emit=mlir -o "build/tiny_llama.$target.mlir"
  echo "wrote build/tiny_llama.$target.mlir ($(grep -c 'llm\.' "build/tiny_llama.$target.mlir") llm ops)"
done
echo "== llmc compile $model --target=t4 --quant=fp8 (refused: Turing has no FP8)"
if "$llmc" compile "$model" --target=t4 --quant=fp8 -o build/tiny_llama.t4.llmc; then
  echo "demo: expected a refusal" >&2
  exit 1
fi
