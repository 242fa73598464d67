#!/usr/bin/env bash
# Formats every tracked C/C++ source with clang-format (LLVM style, .clang-format).
# `scripts/format.sh --check` only reports files that would change.
set -euo pipefail
cd "$(dirname "$0")/.."
clang_format=$(command -v clang-format-22 || command -v /usr/lib/llvm-22/bin/clang-format || command -v clang-format)
mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.c' '*.cu')
if [ "${1:-}" = "--check" ]; then
  "$clang_format" --dry-run --Werror "${files[@]}"
else
  "$clang_format" -i "${files[@]}"
fi
