#!/usr/bin/env bash
# Issue 7's GPU checks in one prepared run, for a session that is lent a GPU
# machine (no MLIR, nothing installable there, 64 MiB per carried call).
#
#   test/gpu/device_session.sh prepare      # here, after scripts/build.sh
#   test/gpu/device_session.sh run          # there, in the repository root
#
# `prepare` fills build-gpu/ (ignored by git, /build*/): bin/ with
# llmc-runtime, the GPU test binary and the shared
# libraries they need beyond libc/libstdc++ (libpcre2-8, libutf8proc), the
# artifacts of test/gpu/make_artifacts.sh for h100 (the tiny Llama in every
# mode; SmolLM2 in SMOLLM2_QUANTS, default "fp8", the H100 default) and the
# Llama-3-8B-shaped synthetic fp8 artifact of scripts/bench-gpu.sh. Files
# over 60 MiB are split into parts; the parts are grouped into carries of at
# most 60 MiB, build-gpu/carry-N, and the run commands are printed: carry
# build-gpu/carry-1, -2, ... in one call each (the machine keeps what earlier
# calls carried while it stays warm), the last call with `run`.
#
# `run` joins the parts, then writes under $OUT (or build-gpu/report/):
# nvidia-smi, the GPU tests (CUDA vs CPU on the same artifacts),
# compute-sanitizer memcheck of decode steps, and
# scripts/bench-gpu.sh (decode/prefill against the roofline, PyTorch bf16
# beside it). Each part is logged on its own; one failing does not stop the
# others. Copy the figures into docs/benchmarks.md with the device named.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
stage="$root/build-gpu"
part_bytes=$((60 * 1024 * 1024))

prepare() {
  set -e
  local build="${BUILD_DIR:-$root/build}"
  rm -rf "$stage"
  mkdir -p "$stage/bin" "$stage/artifacts"
  for binary in llmc-runtime llmc-cuda-gpu-tests; do
    cp "$build/bin/$binary" "$stage/bin/"
  done
  # Shared libraries a bare machine may lack.
  ldd "$build/bin/llmc-runtime" | awk '/pcre2|utf8proc/ {print $3}' |
    while read -r library; do cp -L "$library" "$stage/bin/"; done
  local smollm2="${LLMC_MODEL_CACHE:-$HOME/.cache/llmc/models}/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
  for quant in f32 bf16 fp8 int8; do
    "$build/bin/llmc" compile "$build/test/Inputs/tiny-models/llama" \
      --target=h100 --quant="$quant" --max-tokens=16 \
      -o "$stage/artifacts/tiny-h100-$quant.llmc"
  done
  for quant in ${SMOLLM2_QUANTS-fp8}; do
    [[ -f "$smollm2" ]] || { echo "no $smollm2: scripts/fetch-models.sh smollm2" >&2; exit 1; }
    "$build/bin/llmc" compile "$smollm2" --target=h100 --quant="$quant" \
      --max-tokens=16 -o "$stage/artifacts/smollm2-h100-$quant.llmc"
  done
  LLMC="$build/bin/llmc" "$root/scripts/bench-gpu.sh" --compile \
    "$stage/artifacts/bench-8b-fp8.llmc" >/dev/null

  # Split what is larger than a carry, then pack files into carries.
  (cd "$stage" && find bin artifacts -type f -size +"$((part_bytes / 1024))"k |
    while read -r big; do
      split -b "$part_bytes" -d -a 2 "$big" "$big.part-" && rm "$big"
    done)
  # First fit, largest first.
  local -a used=()
  local file size carry
  while read -r size file; do
    for ((carry = 0; carry < ${#used[@]}; ++carry)); do
      (( used[carry] + size <= part_bytes )) && break
    done
    used[carry]=$(( ${used[carry]:-0} + size ))
    mkdir -p "$stage/carry-$((carry + 1))/$(dirname "$file")"
    mv "$stage/$file" "$stage/carry-$((carry + 1))/$file"
  done < <(cd "$stage" && find bin artifacts -type f -printf '%s %p\n' | sort -rn)
  carry=${#used[@]}
  rm -rf "$stage/bin" "$stage/artifacts"
  echo "prepared $carry carries under $stage:"
  du -sh "$stage"/carry-*
  for ((i = 1; i < carry; ++i)); do
    echo "  run(carry=[\"build-gpu/carry-$i\"], command=\"true\")"
  done
  echo "  run(carry=[\"build-gpu/carry-$carry\"], command=\"test/gpu/device_session.sh run\")"
}

run() {
  local out="${OUT:-$stage/report}" work="$stage/joined"
  mkdir -p "$out" "$work"
  # Join every carry's files (and split parts) into one tree.
  for carry in "$stage"/carry-*; do
    (cd "$carry" && find . -type f | while read -r file; do
      mkdir -p "$work/$(dirname "$file")"
      cp "$file" "$work/$file"
    done)
  done
  (cd "$work" && find . -name '*.part-00' | while read -r first; do
    base="${first%.part-00}"
    cat "$base".part-* > "$base" && rm "$base".part-*
  done)
  chmod +x "$work"/bin/llmc-* 2>/dev/null
  export LD_LIBRARY_PATH="$work/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export LLMC_GPU_TEST_ARTIFACTS="$work/artifacts"
  local status=0
  step() { # step NAME COMMAND...: logged to $out/NAME.log
    local name="$1"; shift
    echo "== $name: $*" > "$out/$name.log"
    local start=$SECONDS
    "$@" >> "$out/$name.log" 2>&1
    local rc=$?
    echo "== $name: exit $rc in $((SECONDS - start)) s" >> "$out/$name.log"
    tail -n 25 "$out/$name.log"
    (( rc == 0 )) || status=1
  }
  step device nvidia-smi
  # A SmolLM2 mode that was not prepared (SMOLLM2_QUANTS) is left out by
  # name rather than failing on a missing file.
  local filter="*"
  [[ -f "$work/artifacts/smollm2-h100-bf16.llmc" ]] ||
    filter="-CudaGpu.SmolLM2Bf16MatchesCpu"
  step gpu-tests "$work/bin/llmc-cuda-gpu-tests" --gtest_filter="$filter"
  step memcheck bash "$root/test/gpu/memcheck_decode.sh" "$work/bin/llmc-cuda-gpu-tests"
  LLMC_RUNTIME="$work/bin/llmc-runtime" \
    step bench bash "$root/scripts/bench-gpu.sh" "$work/artifacts/bench-8b-fp8.llmc"
  return $status
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: device_session.sh prepare|run" >&2; exit 2 ;;
esac
