#!/usr/bin/env python3
"""llama.cpp's own quantizations of the real model, measured as llmc measures its own.

Run by hand, never by CI (docs/accuracy.md quotes the output):

    pip install -r scripts/requirements-goldens.txt     # llama-cpp-python
    python3 test/e2e/make_quant_baselines.py [--text FILE] [--ctx 512] [--out FILE.json]

The shipped SmolLM2-135M-Instruct GGUF (Q4_1) is dequantized by gguf-py to F32
(test/e2e/dequantize_gguf.py: bitwise the weights llmc imports), then quantized by
llama.cpp itself (llama_model_quantize, as the llama-quantize tool does) to Q8_0 and
Q4_K_M (and Q4_0, its plain 4-bit format). llama.cpp runs each file over the text on the CPU with an f32 KV cache, using
the protocol of `llmc-runtime eval --perplexity FILE --ctx N`: the text's tokens (BOS
as the GGUF says) cut into chunks of N, each chunk a fresh sequence, every position but
a chunk's last predicting the next token. The perplexities and their ratios to the F32
run are written as JSON: the baselines llmc's fp8/int8/w8a16/w4a16 rows are set
against.

The default text is the GNU GPL version 3 as Debian's base-files package installs it
(/usr/share/common-licenses/GPL-3, 35,149 bytes): present on every Debian machine,
fixed since 2007, English prose.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_llamacpp_goldens as goldens  # noqa: E402  (fetch, dequantize, open_llama)

DEFAULT_TEXT = "/usr/share/common-licenses/GPL-3"


def quantize(llama_cpp, src, dst, ftype):
    if os.path.exists(dst) and os.path.getmtime(dst) > os.path.getmtime(src):
        return dst
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = goldens.N_THREADS
    if llama_cpp.llama_model_quantize(src.encode(), dst.encode(), params) != 0:
        raise SystemExit(f"llama_model_quantize failed for {dst}")
    return dst


def perplexity(llama_cpp, path, text, ctx):
    llm = goldens.open_llama(llama_cpp, path, n_ctx=ctx, f32_kv=True, n_batch=ctx)
    # add_bos=True adds BOS only where the GGUF says so, as llmc does.
    tokens = llm.tokenize(text.encode(), add_bos=True, special=False)
    nll = []
    for begin in range(0, len(tokens), ctx):
        chunk = tokens[begin:begin + ctx]
        if len(chunk) < 2:
            break
        logits = goldens.all_logits(llm, chunk).astype(np.float64)
        lse = goldens.lse64(logits[:-1])
        nll.extend(lse - logits[np.arange(len(chunk) - 1), chunk[1:]])
    nll = np.array(nll)
    ppl = float(np.exp(nll.mean()))
    err = ppl * float(np.sqrt(nll.var() / (len(nll) - 1)))
    return ppl, err, len(tokens), nll


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--text", default=DEFAULT_TEXT)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--work", default=os.path.expanduser("~/.cache/llmc/goldens"))
    ap.add_argument("--out", default=os.path.join(HERE, "data", "quant_baselines.gpl3.json"))
    args = ap.parse_args()

    import llama_cpp

    src = goldens.fetch("smollm2")
    f32, src_sha = goldens.dequantized(src, args.work, "smollm2")
    files = {
        "f32": f32,
        "q8_0": quantize(llama_cpp, f32, os.path.join(args.work, "smollm2.q8_0.gguf"),
                         llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0),
        "q4_k_m": quantize(llama_cpp, f32, os.path.join(args.work, "smollm2.q4_k_m.gguf"),
                           llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M),
        # SmolLM2's 576-wide rows are no multiple of Q4_K's 256-blocks, so
        # llama.cpp's "Q4_K_M" falls back to Q5_0/Q6_K/Q8_0 for most tensors
        # (6.17 bits per weight here); Q4_0 is its plain 4-bit format.
        "q4_0": quantize(llama_cpp, f32, os.path.join(args.work, "smollm2.q4_0.gguf"),
                         llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0),
    }
    text = open(args.text, encoding="utf-8").read()
    result = dict(model="SmolLM2-135M-Instruct", source_gguf_sha256=src_sha,
                  text=args.text, text_bytes=len(text.encode()), ctx=args.ctx,
                  llama_cpp_python=llama_cpp.__version__, runs={})
    base = None
    for name, path in files.items():
        ppl, err, n, nll = perplexity(llama_cpp, path, text, args.ctx)
        if base is None:
            base = nll
        diff = nll - base
        ratio = float(np.exp(diff.mean()))
        result["runs"][name] = dict(ppl=ppl, ppl_err=err, tokens=n, ppl_ratio=ratio,
                                    delta_ppl_percent=(ratio - 1) * 100)
        print(f"{name:8s} PPL {ppl:.4f} ± {err:.4f}  ratio {ratio:.5f}  ({n} tokens)")
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
