#!/usr/bin/env bash
# Issue 5's scale benchmark: compile a Llama-3-8B-shaped synthetic bf16
# checkpoint to an fp8 artifact for h100 and print the wall time and the peak
# RSS (goal: <= 60 s, <= 2 GB; docs/benchmarks.md, "Compiling Llama-3-8B").
#
#   scripts/bench-compile-8b.sh [CHECKPOINT_DIR] [OUT_DIR]
#
# CHECKPOINT_DIR (default /work/synth/llama3-8b-bf16, or $LLMC_SYNTH_8B) is
# written with scripts/make_synthetic_checkpoint.py when it has no index
# (16 GB). OUT_DIR (default /dev/shm) takes the 9.1 GB artifact, which is
# deleted afterwards: on a slow disk the write alone can dominate, so the
# default measures the compiler and a disk directory measures the machine.
# LLMC (default build/bin/llmc) is the compiler; extra compile flags go in
# $LLMC_FLAGS.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
checkpoint="${1:-${LLMC_SYNTH_8B:-/work/synth/llama3-8b-bf16}}"
out_dir="${2:-/dev/shm}"
llmc="${LLMC:-$root/build/bin/llmc}"

if [[ ! -f "$checkpoint/model.safetensors.index.json" ]]; then
  echo "writing the synthetic checkpoint to $checkpoint (16 GB)..." >&2
  python3 "$root/scripts/make_synthetic_checkpoint.py" \
    "$root/test/tools/llmc/Inputs/llama3-8b-config/config.json" "$checkpoint"
fi
[[ -x "$llmc" ]] || { echo "no compiler at $llmc; build the llmc target" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "needs GNU time (/usr/bin/time)" >&2; exit 1; }

out="$out_dir/bench-8b-$$.llmc"
log="$(mktemp)"
trap 'rm -f "$out" "$out.tmp" "$log"' EXIT
# shellcheck disable=SC2086
/usr/bin/time -v "$llmc" compile "$checkpoint" --target=h100 --quant=fp8 -v \
  ${LLMC_FLAGS:-} -o "$out" 2>"$log" || { cat "$log" >&2; exit 1; }

grep -E '^llmc: (kernels|wrote)' "$log" || true
wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log")
rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")
user=$(sed -n 's/.*User time (seconds): //p' "$log")
sys=$(sed -n 's/.*System time (seconds): //p' "$log")
echo "wall $wall  max RSS $((rss_kb / 1024)) MiB  user ${user} s  system ${sys} s  (output in $out_dir)"
