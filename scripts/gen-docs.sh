#!/usr/bin/env bash
# Regenerates the dialect and pass reference from the .td files into
# docs/reference/ (a lit test fails when the committed copy is stale).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build --target llmc-docs
rm -rf docs/reference
mkdir -p docs/reference
cp -r build/docs/. docs/reference/
find docs/reference -type f ! -name '*.md' -delete
