#!/usr/bin/env bash
# Fuzzes every parser with libFuzzer + ASan + UBSan (clang-22), each for
# SECONDS (default 600), starting from its committed corpus in
# test/fuzz/corpus/<target>/. With --merge, inputs that add coverage are merged
# back into that corpus (for campaigns; the test suite's short run leaves the
# tree alone). Usage: scripts/fuzz.sh [--merge] [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
merge=false
if [ "${1:-}" = "--merge" ]; then merge=true; shift; fi
seconds=${1:-600}
shift || true
build=${LLMC_FUZZ_BUILD_DIR:-build-fuzz}
# The parser libraries must be instrumented too, so every object is compiled
# with clang and coverage instrumentation; only the fuzz targets are built.
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=vptr" \
  -DLLMC_BUILD_FUZZERS=ON >/dev/null
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(ls test/fuzz/corpus); fi
cmake --build "$build" --target "${targets[@]/#/fuzz-}"
for target in "${targets[@]}"; do
  echo "== fuzz-$target for ${seconds}s"
  found="$build/fuzz-found/$target"
  mkdir -p "$found"
  (cd "$build" && "bin/fuzz-$target" -max_total_time="$seconds" -print_final_stats=1 \
    -timeout=10 -rss_limit_mb=2048 "fuzz-found/$target" "$OLDPWD/test/fuzz/corpus/$target")
  if $merge; then
    "$build/bin/fuzz-$target" -merge=1 "test/fuzz/corpus/$target" "$found" >/dev/null 2>&1
  fi
done
