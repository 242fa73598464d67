#!/usr/bin/env bash
# Fuzzes every parser with libFuzzer + ASan + UBSan (clang-22), each for
# SECONDS (default 600), starting from and adding to its committed corpus in
# test/fuzz/corpus/<target>/. Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
build=build-fuzz
# The parser libraries themselves must be instrumented too, so the whole
# configure uses clang with coverage instrumentation on every object.
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=vptr" \
  -DLLMC_BUILD_FUZZERS=ON >/dev/null
mapfile -t targets < <(if [ $# -gt 0 ]; then printf '%s\n' "$@"; else
  ls test/fuzz/corpus; fi)
cmake --build "$build" --target "${targets[@]/#/fuzz-}"
for target in "${targets[@]}"; do
  echo "== fuzz-$target for ${seconds}s"
  mkdir -p "$build/fuzz-new/$target"
  "$build/bin/fuzz-$target" -max_total_time="$seconds" -print_final_stats=1 \
    -timeout=10 -rss_limit_mb=2048 "$build/fuzz-new/$target" "test/fuzz/corpus/$target"
  # Keep the corpus small: merge only inputs that add coverage.
  "$build/bin/fuzz-$target" -merge=1 "test/fuzz/corpus/$target" "$build/fuzz-new/$target" >/dev/null 2>&1
done
