#!/usr/bin/env bash
# ctest e2e/import_*: imports a real GGUF model from the model cache (put there
# by scripts/fetch-models.sh), materializes every weight, and FileChecks the
# module's structure.
#   import_gguf.sh MODEL_IN_CACHE FETCH_NAME LLMC FILECHECK CHECKFILE
set -euo pipefail
relative="$1" fetch_name="$2" llmc="$3" filecheck="$4" checks="$5"
cache="${LLMC_MODEL_CACHE:-$HOME/.cache/llmc/models}"
model="$cache/$relative"
if [[ ! -f "$model" ]]; then
  echo "error: $model is missing; run scripts/fetch-models.sh $fetch_name (it puts the model in \${LLMC_MODEL_CACHE:-\$HOME/.cache/llmc/models})" >&2
  exit 1
fi
"$llmc" import --check-weights "$model" -o - | "$filecheck" "$checks"
