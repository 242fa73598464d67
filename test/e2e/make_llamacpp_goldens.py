#!/usr/bin/env python3
"""llama.cpp goldens for llmc's end-to-end tests on the real models.

Run by hand, never by CI (CI compares against the committed output):

    pip install -r scripts/requirements-goldens.txt     # llama-cpp-python builds llama.cpp
    python3 test/e2e/make_llamacpp_goldens.py           # writes test/e2e/data/llamacpp/

For each model (SmolLM2-135M-Instruct Q4_1, Gemma 3 270M Q4_K_M; scripts/fetch-models.sh
puts them in the model cache) llama.cpp runs twice, through llama-cpp-python, on the CPU:

  quant  the GGUF file as shipped, llama.cpp's default settings (f16 KV cache, no flash
         attention). llama.cpp multiplies Q4_1/Q4_K/Q5_0/Q6_K/Q8_0 weights against
         activations it first quantizes to Q8_1/Q8_K/Q8_0, so this is not what an
         f32-dequantizing runtime computes.
  f32    the same weights dequantized by gguf-py into an F32 GGUF (test/e2e/dequantize_gguf.py;
         bitwise the values llmc's importer produces) with an f32 KV cache: llama.cpp's
         pure-f32 path, the reference an f32 runtime should match closely.

Comparing the two runs measures what the quantized-activation path alone changes; that
is the principled tolerance for "llmc's f32 runtime against llama.cpp on the same GGUF".
A third run (f32 weights, f32 KV, one token per llama_decode call instead of one batch)
measures llama.cpp's own f32 noise floor.

Per model and run (prefix MODEL.RUN.) on test/e2e/data/eval_text.txt:
  tokens.npy        int32 [T]      llama.cpp's tokenization (BOS added iff the GGUF says so)
  top64_ids.npy     int32 [T, 64]  the 64 largest logits of each position, descending
  top64_logits.npy  f32   [T, 64]
  lse.npy           f32   [T]      logsumexp of each full row (computed in float64)
  nll.npy           f32   [T-1]    -log p(token[t+1] | tokens[..t])
  rows.npy          f32   [R, V]   full logit rows at positions manifest rows_pos
The full [T, V] logits are not stored (SmolLM2: V = 49152, Gemma 3: V = 262144; over
15 MB each in float16). manifest.json holds perplexities, greedy generations, settings,
versions and the quant-vs-f32 statistics.
"""

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys

import numpy as np

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))
TOPK = 64
N_GEN = 64
N_THREADS = 2

MODELS = {
    "smollm2": dict(
        fetch="smollm2",
        file="smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf",
        rows=12,
        chat=True,
        prompts=[
            "What is the capital of France?",
            "Write a short poem about the sea.",
            "Explain in two sentences what a compiler does.",
            "List three fruits that are red.",
            "Write a Python function that returns the square of a number.",
        ],
    ),
    "gemma3": dict(
        fetch="gemma3",
        file="gemma-3-270m/gemma-3-270m-q4_k_m.gguf",
        rows=4,
        chat=False,  # the pretrained 270M GGUF carries no chat template: raw prompts + BOS
        prompts=[
            "The capital of France is",
            "Once upon a time, in a small village by the sea,",
            "def fibonacci(n):\n",
            "The three primary colors are",
            "Water boils at a temperature of",
        ],
    ),
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(name):
    out = subprocess.run([os.path.join(REPO, "scripts", "fetch-models.sh"), name],
                         check=True, stdout=subprocess.PIPE, text=True).stdout.split()
    return out[-1]


def dequantized(src, work, name):
    os.makedirs(work, exist_ok=True)
    dst = os.path.join(work, f"{name}.f32.gguf")
    stamp = dst + ".src-sha256"
    src_sha = sha256(src)
    if not (os.path.exists(dst) and os.path.exists(stamp) and open(stamp).read() == src_sha):
        subprocess.run([sys.executable, os.path.join(HERE, "dequantize_gguf.py"), src, dst],
                       check=True)
        with open(stamp, "w") as f:
            f.write(src_sha)
    return dst, src_sha


def lse64(x):
    x = x.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))[..., 0]


def open_llama(llama_cpp, path, n_ctx, f32_kv, n_batch):
    kw = dict(model_path=path, n_ctx=n_ctx, n_batch=n_batch, n_ubatch=n_batch,
              n_threads=N_THREADS, n_threads_batch=N_THREADS, logits_all=True, seed=0,
              flash_attn=False, n_gpu_layers=0, verbose=False)
    if f32_kv:
        kw.update(type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32)
    return llama_cpp.Llama(**kw)


def is_eog(llama_cpp, llm, tok):
    return bool(llama_cpp.llama_vocab_is_eog(llama_cpp.llama_model_get_vocab(llm.model), tok))


def topk_desc(x, k=TOPK):
    """Indices of the k largest entries of each row, largest first (ties: lower id first)."""
    part = np.argpartition(-x, k, axis=-1)[:, :k]
    vals = np.take_along_axis(x, part, -1)
    order = np.lexsort((part, -vals), axis=-1)
    return np.take_along_axis(part, order, -1)


def all_logits(llm, tokens, one_by_one=False):
    llm.reset()
    if one_by_one:
        for t in tokens:
            llm.eval([t])
    else:
        llm.eval(tokens)
    return np.array(llm.scores[:len(tokens)], dtype=np.float32)


def greedy(llama_cpp, llm, prompt_tokens):
    llm.reset()
    llm.eval(prompt_tokens)
    out, margins, stopped = [], [], False
    for _ in range(N_GEN):
        row = np.asarray(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        top2 = np.partition(row, -2)[-2:]
        tok = int(row.argmax())
        margins.append(float(top2[1] - top2[0]))
        out.append(tok)
        if is_eog(llama_cpp, llm, tok):
            stopped = True
            break
        llm.eval([tok])
    return out, margins, stopped


def render_chat(template, prompt, llm):
    import jinja2
    env = jinja2.Environment(trim_blocks=False, lstrip_blocks=False)
    bos = llm.detokenize([llm.token_bos()], special=True).decode("utf-8", "replace")
    eos = llm.detokenize([llm.token_eos()], special=True).decode("utf-8", "replace")
    return env.from_string(template).render(messages=[{"role": "user", "content": prompt}],
                                            add_generation_prompt=True, bos_token=bos,
                                            eos_token=eos)


def top1_stats(a, b):
    return float((a.argmax(-1) == b.argmax(-1)).mean())


def compare(ref, other, tokens):
    """Statistics of `other` against `ref`, both [T, V] float32."""
    d = np.abs(other - ref)  # float32
    ref_top = topk_desc(ref)
    d_top = np.take_along_axis(d, ref_top, axis=-1)
    top2 = np.take_along_axis(ref, ref_top[:, :2], -1)
    margin = top2[:, 0] - top2[:, 1]
    flips = ref.argmax(-1) != other.argmax(-1)
    lse_r, lse_o = lse64(ref), lse64(other)
    nll = lambda x, l: l[:-1] - x[np.arange(len(tokens) - 1), tokens[1:]]
    return dict(
        top1_agreement=top1_stats(ref, other),
        top1_flips=int(flips.sum()),
        ref_margin_at_flips=[float(m) for m in margin[flips]],
        max_abs_dlogit=float(d.max()),
        p999_abs_dlogit=float(np.quantile(d[::7].ravel(), 0.999)),  # every 7th row
        mean_abs_dlogit=float(d.mean()),
        max_abs_dlogit_ref_top64=float(d_top.max()),
        max_abs_dlogit_ref_top1=float(d_top[:, 0].max()),
        max_abs_dlse=float(np.abs(lse_r - lse_o).max()),
        max_abs_dlogprob_ref_top64=float(np.abs(
            (np.take_along_axis(ref, ref_top, -1) - lse_r[:, None]) -
            (np.take_along_axis(other, ref_top, -1) - lse_o[:, None])).max()),
        max_abs_dnll=float(np.abs(nll(ref, lse_r) - nll(other, lse_o)).max()),
        ppl_ref=float(np.exp(nll(ref, lse_r).mean())),
        ppl_other=float(np.exp(nll(other, lse_o).mean())),
    )


def save_run(out, prefix, logits, tokens, rows_pos):
    top = topk_desc(logits).astype(np.int32)
    lse = lse64(logits)
    nll = lse[:-1] - logits[np.arange(len(tokens) - 1), tokens[1:]].astype(np.float64)
    files = {}
    for k, arr in dict(top64_ids=top,
                       top64_logits=np.take_along_axis(logits, top, -1).astype(np.float32),
                       lse=lse.astype(np.float32), nll=nll.astype(np.float32),
                       rows=logits[rows_pos].astype(np.float32)).items():
        name = f"{prefix}.{k}.npy"
        np.save(os.path.join(out, name), arr)
        files[k] = dict(file=name, shape=list(arr.shape), dtype=str(arr.dtype))
    return files, float(np.exp(nll.mean()))


def run_model(name, spec, args, llama_cpp):
    src = fetch(spec["fetch"])
    f32_path, src_sha = dequantized(src, args.work, name)
    with open(os.path.join(HERE, "data", "eval_text.txt"), encoding="utf-8") as f:
        text = f.read()
    res = dict(gguf=os.path.relpath(src, os.path.expanduser("~")), gguf_sha256=src_sha,
               dequantized_f32_sha256=sha256(f32_path))

    # tokenization (llama.cpp's own tokenizer; add_bos=True adds BOS only if the GGUF's
    # tokenizer.ggml.add_bos_token says so)
    probe = open_llama(llama_cpp, src, 256, False, 256)
    tokens = probe.tokenize(text.encode("utf-8"), add_bos=True, special=False)
    template = probe.metadata.get("tokenizer.chat_template")
    prompts = []
    for p in spec["prompts"]:
        if spec["chat"]:
            rendered = render_chat(template, p, probe)
            ptoks = probe.tokenize(rendered.encode("utf-8"), add_bos=False, special=True)
        else:
            rendered = p
            ptoks = probe.tokenize(p.encode("utf-8"), add_bos=True, special=False)
        prompts.append(dict(prompt=p, rendered=rendered, prompt_tokens=ptoks))
    bos_added = tokens[:1] == [probe.token_bos()]
    del probe
    T = len(tokens)
    n_ctx = max(T, max(len(p["prompt_tokens"]) for p in prompts) + N_GEN)
    n_ctx = (n_ctx + 63) // 64 * 64
    rows_pos = np.unique(np.linspace(0, T - 1, spec["rows"]).round().astype(int))
    tokens_np = np.array(tokens, dtype=np.int32)
    np.save(os.path.join(args.out, f"{name}.tokens.npy"), tokens_np)
    res.update(n_tokens=T, bos_added=bos_added, n_ctx=n_ctx, rows_pos=rows_pos.tolist(),
               tokens_file=f"{name}.tokens.npy")
    print(f"{name}: {T} tokens (BOS added: {bos_added}), n_ctx {n_ctx}", flush=True)

    runs = dict(quant=(src, False), f32=(f32_path, True))
    logits, gens = {}, {}
    for run, (path, f32_kv) in runs.items():
        llm = open_llama(llama_cpp, path, n_ctx, f32_kv, n_ctx)
        logits[run] = all_logits(llm, tokens)
        files, ppl = save_run(args.out, f"{name}.{run}", logits[run], tokens_np, rows_pos)
        g = []
        for p in prompts:
            toks, margins, stopped = greedy(llama_cpp, llm, p["prompt_tokens"])
            g.append(dict(tokens=toks, text=llm.detokenize(toks).decode("utf-8", "replace"),
                          stopped_on_eog=stopped, min_top2_margin=min(margins),
                          step_margins=[round(m, 4) for m in margins]))
        gens[run] = g
        res[run] = dict(
            model_file="the GGUF as shipped" if run == "quant" else
            "dequantize_gguf.py output (all tensors F32)",
            kv_cache_type="f16 (llama.cpp default)" if not f32_kv else "f32",
            files=files, perplexity=ppl, generations=g)
        print(f"  {run}: ppl {ppl:.4f}", flush=True)
        if run == "f32" and not args.skip_noise_floor:
            one = all_logits(llm, tokens, one_by_one=True)
            res["noise_floor_f32_batch_vs_one_by_one"] = compare(logits["f32"], one, tokens_np)
        del llm

    res["prompts"] = prompts
    res["quant_vs_f32"] = compare(logits["f32"], logits["quant"], tokens_np)
    res["greedy_quant_equals_f32"] = [a["tokens"] == b["tokens"]
                                      for a, b in zip(gens["quant"], gens["f32"])]
    res["greedy_common_prefix_quant_f32"] = [
        next((i for i, (x, y) in enumerate(zip(a["tokens"], b["tokens"])) if x != y),
             min(len(a["tokens"]), len(b["tokens"])))
        for a, b in zip(gens["quant"], gens["f32"])]
    q = res["quant_vs_f32"]
    print(f"  quant vs f32: top1 {q['top1_agreement']:.4f} max|dlogit| {q['max_abs_dlogit']:.4f} "
          f"(top64 {q['max_abs_dlogit_ref_top64']:.4f}) max|dlse| {q['max_abs_dlse']:.4f}; "
          f"greedy equal {res['greedy_quant_equals_f32']}", flush=True)
    if "noise_floor_f32_batch_vs_one_by_one" in res:
        n = res["noise_floor_f32_batch_vs_one_by_one"]
        print(f"  f32 batch vs one-by-one: top1 {n['top1_agreement']:.4f} "
              f"max|dlogit| {n['max_abs_dlogit']:.2e}", flush=True)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="smollm2,gemma3")
    ap.add_argument("--out", default=os.path.join(HERE, "data", "llamacpp"))
    ap.add_argument("--work", default="/tmp/llmc-goldens",
                    help="where the dequantized F32 GGUFs go (0.5 GB and 1.1 GB)")
    ap.add_argument("--skip-noise-floor", action="store_true")
    args = ap.parse_args()

    import llama_cpp
    os.makedirs(args.out, exist_ok=True)
    manifest_path = os.path.join(args.out, "manifest.json")
    manifest = json.load(open(manifest_path)) if os.path.exists(manifest_path) else {}
    vendor = {}
    vendor_file = os.path.join(args.work, "llama_cpp_vendor.txt")
    if os.path.exists(vendor_file):  # written by hand at install time (see README)
        vendor = dict(l.split("=", 1) for l in open(vendor_file).read().split("\n") if "=" in l)
    manifest.update(
        produced_by="test/e2e/make_llamacpp_goldens.py",
        eval_text="test/e2e/data/eval_text.txt",
        eval_text_sha256=sha256(os.path.join(HERE, "data", "eval_text.txt")),
        versions=dict(python=platform.python_version(), numpy=np.__version__,
                      llama_cpp_python=llama_cpp.__version__, llama_cpp=vendor,
                      system_info=llama_cpp.llama_print_system_info().decode()),
        settings=dict(n_threads=N_THREADS, n_batch="= n_ctx (one llama_decode call)",
                      logits_all=True, flash_attn=False, n_gpu_layers=0, seed=0,
                      topk=TOPK, n_gen=N_GEN, greedy="argmax of the last row (ties: lowest "
                      "id), stop after an end-of-generation token (included) or 64 tokens",
                      perplexity="exp(mean NLL of tokens 1..T-1 given all earlier tokens), "
                      "one context, no striding (llama-perplexity scores only the second "
                      "half of each chunk, so its figure differs)",
                      chat="SmolLM2: the GGUF's tokenizer.chat_template rendered with jinja2 "
                      "(messages=[user], add_generation_prompt=True), tokenized with "
                      "special=True and no extra BOS; Gemma 3 270M: raw prompt, BOS added"),
    )
    manifest.setdefault("models", {})
    for name in args.models.split(","):
        manifest["models"][name] = run_model(name, MODELS[name], args, llama_cpp)
        with open(manifest_path, "w") as f:
            json.dump(manifest, f, indent=1, ensure_ascii=False)
            f.write("\n")
    with open(os.path.join(args.out, "SHA256SUMS"), "w") as f:
        for n in sorted(os.listdir(args.out)):
            if n.endswith(".npy"):
                f.write(f"{sha256(os.path.join(args.out, n))}  {n}\n")


if __name__ == "__main__":
    main()
