#!/usr/bin/env bash
# Issue 7's GPU benchmark: a Llama-3-8B-shaped fp8 artifact (synthetic
# weights) on the CUDA backend against the machine's limits and PyTorch.
#
#   scripts/bench-gpu.sh --compile OUT.llmc     # here: needs the built llmc
#   scripts/bench-gpu.sh ARTIFACT.llmc          # on the GPU machine
#
# Prints (docs/runtime-cuda.md, "Benchmark on a lent GPU"):
#  - decode tokens/s at batch 1 (`llmc-runtime bench -n`) against the HBM
#    roofline: measured device-to-device copy bandwidth / (weights + KV bytes
#    per token) (`bench --bandwidth`);
#  - prefill tokens/s of a 2048-token prompt (`bench -p 2048`) against the
#    GPU's dense FP8 peak: 2 x (non-embedding parameters) FLOP per token;
#  - PyTorch bf16 (transformers LlamaForCausalLM, eager, random weights of
#    the same shapes) on the same prompt and decode lengths.
# LLMC_RUNTIME (default build/bin/llmc-runtime) is the prebuilt runtime,
# PEAK_FP8_TFLOPS (default: H100 SXM's 1979; H100 PCIe 1513, H200 1979) the
# peak, PROMPT / DECODE / REPS the lengths (2048 / 128 / 3). Nothing is
# installed: python3 with torch and transformers is used when present.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
config_dir="$root/test/tools/llmc/Inputs/llama3-8b-config"

if [[ "${1:-}" == "--compile" ]]; then
  out="${2:?usage: bench-gpu.sh --compile OUT.llmc}"
  llmc="${LLMC:-$root/build/bin/llmc}"
  [[ -x "$llmc" ]] || { echo "no compiler at $llmc; build the llmc target" >&2; exit 1; }
  # 4096 positions of KV cache for one sequence: 2048 prompt + decode fit.
  "$llmc" compile "$config_dir" --target=h100 --quant=fp8 --synthetic-weights \
    --max-tokens=2048 --max-seq-len=4096 --max-batch=1 -o "$out"
  ls -l "$out"
  exit 0
fi

artifact="${1:?usage: bench-gpu.sh ARTIFACT.llmc (compile it with --compile)}"
runtime="${LLMC_RUNTIME:-$root/build/bin/llmc-runtime}"
prompt="${PROMPT:-2048}"
decode="${DECODE:-128}"
reps="${REPS:-3}"
peak="${PEAK_FP8_TFLOPS:-1979}"
[[ -x "$runtime" ]] || { echo "no runtime at $runtime" >&2; exit 1; }

command -v nvidia-smi >/dev/null &&
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

echo "== llmc-runtime bench --device=cuda (fp8, batch 1)"
bench_log="$(mktemp)"
trap 'rm -f "$bench_log"' EXIT
"$runtime" bench "$artifact" --device=cuda -p "$prompt" -n "$decode" \
  -r "$reps" --bandwidth | tee "$bench_log"

params=$("$runtime" inspect "$artifact" --json | python3 -c '
import json, sys
from math import prod
d = json.load(sys.stdin)
# Weights proper: matrices and vectors, not their scales or the embedding
# table (gathered by rows, not multiplied).
n = sum(prod(t["shape"]) for t in d["tensors"]
        if "embed_tokens" not in t["name"] and not t["name"].endswith(".scale"))
print(n)')
python3 - "$bench_log" "$params" "$peak" "$prompt" <<'PY'
import re, sys
log, params, peak, prompt = open(sys.argv[1]).read(), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
pp = re.search(r"\| +pp\d+ \| +([0-9.]+)", log)
if pp:
    rate = float(pp.group(1))
    flops = 2.0 * params  # per token; attention over the prompt adds a few %
    print(f"prefill {prompt}: {rate:.1f} tokens/s = {rate * flops / 1e12:.1f} TFLOP/s "
          f"= {100 * rate * flops / (peak * 1e12):.1f}% of {peak:.0f} TFLOP/s FP8 peak "
          f"({params / 1e9:.2f} B non-embedding parameters)")
PY

echo "== PyTorch bf16 (transformers LlamaForCausalLM, eager, same shapes)"
python3 - "$config_dir/config.json" "$prompt" "$decode" <<'PY' || echo "PyTorch side-by-side failed (see above)"
import json, sys, time
try:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(0)
config = LlamaConfig(**json.load(open(sys.argv[1])))
prompt, decode = int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)
torch.set_default_dtype(torch.bfloat16)  # no f32 copy of 8B weights first
with torch.device("cuda"):
    model = LlamaForCausalLM(config).eval()
ids = torch.randint(0, config.vocab_size, (1, prompt), device="cuda")
def timed(fn):
    torch.cuda.synchronize(); start = time.perf_counter(); out = fn()
    torch.cuda.synchronize(); return out, time.perf_counter() - start
with torch.inference_mode():
    timed(lambda: model(ids[:, :128]))  # warm-up
    out, seconds = timed(lambda: model(ids, use_cache=True))
    print(f"prefill {prompt}: {prompt / seconds:.1f} tokens/s")
    cache, token = out.past_key_values, ids[:, -1:]
    def run_decode():
        nonlocal_cache = cache
        t = token
        for _ in range(decode):
            o = model(t, past_key_values=nonlocal_cache, use_cache=True)
            nonlocal_cache, t = o.past_key_values, o.logits[:, -1:].argmax(-1)
    _, seconds = timed(run_decode)
    print(f"decode batch 1: {decode / seconds:.1f} tokens/s "
          f"(weights {sum(p.numel() for p in model.parameters()) * 2 / 1e9:.2f} GB bf16)")
PY
