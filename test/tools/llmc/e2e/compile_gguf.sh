#!/usr/bin/env bash
# ctest e2e/compile_*: compiles a real GGUF model from the model cache (put
# there by scripts/fetch-models.sh) into a .llmc artifact for the CPU,
# inspects it (which verifies every checksum) and FileChecks the report.
# Prints the artifact size, the compile's wall time and peak RSS.
#   compile_gguf.sh MODEL_IN_CACHE FETCH_NAME LLMC FILECHECK CHECKFILE OUTDIR
set -euo pipefail
relative="$1" fetch_name="$2" llmc="$3" filecheck="$4" checks="$5" outdir="$6"
cache="${LLMC_MODEL_CACHE:-$HOME/.cache/llmc/models}"
model="$cache/$relative"
if [[ ! -f "$model" ]]; then
  echo "error: $model is missing; run scripts/fetch-models.sh $fetch_name (it puts the model in \${LLMC_MODEL_CACHE:-\$HOME/.cache/llmc/models})" >&2
  exit 1
fi
mkdir -p "$outdir"
out="$outdir/$(basename "$model" .gguf).cpu.llmc"
rm -f "$out"
timing="$outdir/time.txt"
if [[ -x /usr/bin/time ]]; then
  /usr/bin/time -v -o "$timing" "$llmc" compile "$model" --target=cpu --quant=f32 -o "$out"
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$timing")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$timing")
else
  start=$(date +%s.%N)
  "$llmc" compile "$model" --target=cpu --quant=f32 -o "$out"
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  rss=unknown
fi
echo "compile: $(stat -c %s "$out") bytes, wall $wall, peak RSS ${rss} KB"
"$llmc" inspect "$out" | "$filecheck" "$checks"
