#!/usr/bin/env bash
# compute-sanitizer --tool memcheck over the CUDA backend's decode steps (the
# launch-ABI kernel and the cuBLASLt GEMMs at T = 1, captured into a CUDA
# graph and replayed). Exit 77 (ctest: skipped) without a GPU or the tool.
# Usage: memcheck_decode.sh path/to/llmc-cuda-gpu-tests
set -u
tests="$1"
sanitizer="$(command -v compute-sanitizer || true)"
for candidate in "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer" \
                 /usr/local/cuda/compute-sanitizer/compute-sanitizer; do
  [ -z "$sanitizer" ] && [ -x "$candidate" ] && sanitizer="$candidate"
done
if [ -z "$sanitizer" ]; then
  echo "skipped: compute-sanitizer not found (CUDA toolkit)"; exit 77
fi
if ! "$tests" --gtest_filter='CudaGpu.CopyBandwidthIsPlausible' 2>&1 \
    | grep -q '\[       OK \]'; then
  echo "skipped: no CUDA device"; exit 77
fi
exec "$sanitizer" --tool memcheck --error-exitcode 1 --leak-check full \
  "$tests" --gtest_filter='CudaGpu.LaunchAbi*:CudaGpu.Gemm*'
