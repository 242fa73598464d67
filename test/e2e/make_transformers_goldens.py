#!/usr/bin/env python3
"""Hugging Face `transformers` goldens for llmc's tiny synthetic models.

Run by hand, never by CI (CI compares against the committed output):

    pip install -r scripts/requirements-goldens.txt
    python3 test/e2e/make_transformers_goldens.py            # writes test/e2e/data/transformers/

The tiny checkpoints are regenerated here with scripts/make_tiny_model.py (default seed,
the same call the build makes), twice, to check the generator is deterministic. Each
model runs in float32 with eager attention on the CPU:

  prefill   16 prompt tokens (BOS first) in one forward     -> <arch>.prefill_logits.npy [16, V]
  decode    8 greedy steps with the KV cache (DynamicCache) -> <arch>.decode_logits.npy  [8, V]
            decode_logits[i] is the output after feeding generated[i];
            generated[0] = argmax(prefill_logits[-1]), generated[i+1] = argmax(decode_logits[i])
  full      one no-cache forward over prompt + generated    -> <arch>.full_logits.npy    [24, V]
            (cross-check: equals concat(prefill, decode) up to float noise)
  batch     two sequences of different lengths (11 and 16 tokens) in one right-padded
            batch with an attention mask; only the valid rows are kept, concatenated in
            order like a ragged token batch                 -> <arch>.batch_logits.npy   [27, V]
  long      one 40-token prefill (crosses the 16-token sliding window of gemma3 and
            mistral_swa)                                    -> <arch>.long_logits.npy    [40, V]

manifest.json records the inputs, generated tokens, model sha256s (the goldens are valid
only for byte-identical model.safetensors), the resolved transformers config facts
(layer types, RoPE parameters) and the self-consistency figures (cached vs no-cache,
batched vs single, float32 vs the same model in float64).
"""

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile

import numpy as np

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
ARCHS = ["llama", "qwen2", "qwen3", "mistral", "mistral_swa", "gemma3"]
SEED = 1234  # scripts/make_tiny_model.py's default, what the build uses
PROMPT_TEXT = "the quick brown fox jumps over the lazy dog. the compiler reads the model"
SHORT_TEXT = "where is the tokenizer? here it is: the tokenizer turns text into tokens."
N_PROMPT, N_DECODE, N_SHORT, N_LONG = 16, 8, 11, 40


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_models(out):
    subprocess.run([sys.executable, os.path.join(REPO, "scripts", "make_tiny_model.py"),
                    "--seed", str(SEED), out], check=True, stdout=subprocess.DEVNULL)
    return {a: sha256(os.path.join(out, a, "model.safetensors")) for a in ARCHS}


def prompt_ids(tok, cfg, text, n):
    """[BOS] + the first n-1 ids of `text` (no special tokens), and the text they decode to."""
    body = tok(text, add_special_tokens=False)["input_ids"]
    if len(body) < n - 1:
        raise SystemExit(f"'{text}' gives only {len(body)} tokens")
    ids = [cfg.bos_token_id] + body[:n - 1]
    return ids, tok.decode(body[:n - 1])


def run_model(path, torch, transformers):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    cfg = AutoConfig.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32,
                                                 attn_implementation="eager")
    model.eval()
    V = cfg.vocab_size
    res, arrays = {}, {}

    ids, text = prompt_ids(tok, cfg, PROMPT_TEXT, N_PROMPT)
    with torch.no_grad():
        # prefill + greedy decode with the KV cache
        out = model(torch.tensor([ids]), use_cache=True)
        prefill = out.logits[0].float().numpy()
        past = out.past_key_values
        generated = [int(prefill[-1].argmax())]
        decode = []
        for _ in range(N_DECODE):
            out = model(torch.tensor([[generated[-1]]]), past_key_values=past, use_cache=True)
            past = out.past_key_values
            row = out.logits[0, -1].float().numpy()
            decode.append(row)
            generated.append(int(row.argmax()))
        decode = np.stack(decode)
        fed = generated[:N_DECODE]  # tokens fed during the decode steps
        # no-cache forward over everything
        full = model(torch.tensor([ids + fed]), use_cache=False).logits[0].float().numpy()
        cached = np.concatenate([prefill, decode])  # rows line up with full
        # transformers' own generate() (greedy, EOS ignored) must agree
        gen = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids),
                             dtype=torch.long), do_sample=False, max_new_tokens=N_DECODE,
                             min_new_tokens=N_DECODE, pad_token_id=0)
        gen_tokens = gen[0, len(ids):].tolist()

        # batch of two different lengths, right-padded, attention mask
        short, short_text = prompt_ids(tok, cfg, SHORT_TEXT, N_SHORT)
        seqs = [short, ids]
        L = max(map(len, seqs))
        pad = cfg.pad_token_id if getattr(cfg, "pad_token_id", None) is not None else 0
        inp = torch.tensor([s + [pad] * (L - len(s)) for s in seqs])
        mask = torch.tensor([[1] * len(s) + [0] * (L - len(s)) for s in seqs])
        bl = model(inp, attention_mask=mask, use_cache=False).logits.float().numpy()
        batch = np.concatenate([bl[i, :len(s)] for i, s in enumerate(seqs)])
        single = np.concatenate([model(torch.tensor([s]), use_cache=False).logits[0].float()
                                 .numpy() for s in seqs])

        # long prefill: deterministic ids from the non-special range
        rng = np.random.default_rng(SEED)
        specials = set(tok.all_special_ids)
        pool = [i for i in range(V) if i not in specials]
        long_ids = [cfg.bos_token_id] + [int(x) for x in rng.choice(pool, N_LONG - 1)]
        long = model(torch.tensor([long_ids]), use_cache=False).logits[0].float().numpy()

    # how far float32 itself is from the same model in float64 (prefill and long)
    model64 = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float64,
                                                   attn_implementation="eager").eval()
    with torch.no_grad():
        p64 = model64(torch.tensor([ids]), use_cache=False).logits[0].numpy()
        l64 = model64(torch.tensor([long_ids]), use_cache=False).logits[0].numpy()
    f32_vs_f64 = float(max(np.abs(prefill - p64).max(), np.abs(long - l64).max()))

    def margin(x):
        s = np.sort(x, axis=-1)
        return float((s[..., -1] - s[..., -2]).min())

    arrays = dict(prefill_logits=prefill, decode_logits=decode, full_logits=full,
                  batch_logits=batch, long_logits=long)
    res.update(
        vocab_size=V,
        prompt_ids=ids, prompt_text=text,
        prompt_text_roundtrips=tok(text, add_special_tokens=False)["input_ids"] == ids[1:],
        generated=generated[:N_DECODE],
        generated_next=generated[N_DECODE],
        hf_generate_tokens=gen_tokens,
        hf_generate_agrees=gen_tokens == generated[:N_DECODE],
        batch_seqs=seqs, batch_lengths=[len(s) for s in seqs], batch_pad_id=pad,
        batch_short_text=short_text,
        long_ids=long_ids,
        max_abs_cached_vs_nocache=float(np.abs(cached - full).max()),
        max_abs_batched_vs_single=float(np.abs(batch - single).max()),
        max_abs_f32_vs_f64=f32_vs_f64,
        max_abs_logit=float(max(np.abs(a).max() for a in arrays.values())),
        min_top2_margin={k: margin(a) for k, a in arrays.items()},
        resolved_config=dict(
            model_type=cfg.model_type,
            layer_types=getattr(cfg, "layer_types", None),
            rope_parameters=getattr(cfg, "rope_parameters", None),
            sliding_window=getattr(cfg, "sliding_window", None),
            tie_word_embeddings=getattr(cfg, "tie_word_embeddings", None),
        ),
    )
    return res, arrays


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "test", "e2e", "data", "transformers"))
    ap.add_argument("--keep-models", help="also keep the generated models in this directory")
    args = ap.parse_args()

    import torch
    import transformers
    torch.manual_seed(0)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    tmp = tempfile.mkdtemp(prefix="llmc-tiny-")
    try:
        a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
        sha_a, sha_b = make_models(a), make_models(b)
        if sha_a != sha_b:
            raise SystemExit(f"scripts/make_tiny_model.py is not deterministic: {sha_a} != {sha_b}")
        print("make_tiny_model.py deterministic (two runs, identical sha256)")

        os.makedirs(args.out, exist_ok=True)
        manifest = dict(
            generator=dict(script="scripts/make_tiny_model.py", seed=SEED,
                           command=f"python3 scripts/make_tiny_model.py --seed {SEED} OUT",
                           deterministic_two_runs=True),
            produced_by="test/e2e/make_transformers_goldens.py",
            versions=dict(python=platform.python_version(), torch=torch.__version__,
                          transformers=transformers.__version__, numpy=np.__version__),
            settings=dict(dtype="float32", attn_implementation="eager", device="cpu",
                          torch_threads=1, deterministic_algorithms=True,
                          n_prompt=N_PROMPT, n_decode=N_DECODE, n_short=N_SHORT, n_long=N_LONG,
                          prompt_source_text=PROMPT_TEXT, short_source_text=SHORT_TEXT),
            models={},
        )
        for arch in ARCHS:
            res, arrays = run_model(os.path.join(a, arch), torch, transformers)
            res["model_safetensors_sha256"] = sha_a[arch]
            res["files"] = {}
            for k, arr in arrays.items():
                name = f"{arch}.{k}.npy"
                np.save(os.path.join(args.out, name), arr.astype(np.float32))
                res["files"][k] = dict(file=name, shape=list(arr.shape), dtype="float32")
            manifest["models"][arch] = res
            print(f"{arch:12s} generated={res['generated']} "
                  f"cached-vs-nocache={res['max_abs_cached_vs_nocache']:.2e} "
                  f"batched-vs-single={res['max_abs_batched_vs_single']:.2e} "
                  f"f32-vs-f64={res['max_abs_f32_vs_f64']:.2e} "
                  f"max|logit|={res['max_abs_logit']:.2f} hf_generate_agrees={res['hf_generate_agrees']}")
        with open(os.path.join(args.out, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
        with open(os.path.join(args.out, "SHA256SUMS"), "w") as f:
            for name in sorted(os.listdir(args.out)):
                if name.endswith(".npy"):
                    f.write(f"{sha256(os.path.join(args.out, name))}  {name}\n")
        if args.keep_models:
            shutil.rmtree(args.keep_models, ignore_errors=True)
            shutil.copytree(a, args.keep_models)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
