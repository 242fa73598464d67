#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs dependencies, builds, and
# runs every ctest test (labels: lit, unit). Extra arguments go to ctest,
# e.g. `scripts/test.sh -L lit`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
