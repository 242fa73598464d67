#!/usr/bin/env python3
"""Tokenizer parity of llmc-tokenize against Hugging Face `tokenizers` on a real
model's vocabulary (the `e2e` ctest runs it).

For a GGUF model file:
  1. gguf-py (llama.cpp's own GGUF reader) dumps the `tokenizer.*` keys to
     <workdir>/<name>.vectors.json, under their GGUF key names: what the GGUF
     frontend hands the runtime's TokenizerVectors.
  2. The reference: a Hugging Face `tokenizers.Tokenizer` built here directly
     from the dumped vocabulary (not with transformers' GGUF converter, which
     is not installed): for `gpt2` models the pipeline of the model family's
     tokenizer.json (SmolLM2: Digits(individual) + ByteLevel pre-tokenizer,
     ByteLevel decoder; Llama 3 / Qwen2: Split(regex) + ByteLevel); for `llama`
     models the SentencePiece pipeline of Gemma's / Llama 2's tokenizer.json
     (Replace ' ' -> U+2581 [+ Prepend], BPE with byte_fallback, decoder
     Replace/ByteFallback/Fuse[/Strip]) with merges derived from the scores the
     way transformers' SentencePieceExtractor derives them. It is written to
     <workdir>/<name>.tokenizer.json.
  3. llmc-tokenize encodes every input twice, through the vectors loader and
     through the tokenizer.json loader, with and without add_special_tokens
     and with special-token parsing off; ids must equal HF's, decode must equal
     HF's decode, the streamed decode must equal the decode, and
     decode(encode(x)) == x wherever HF round-trips.

Inputs: every line of test/data/tokenizer_corpus.txt, plus the lines joined in
groups of 7 with real newlines. Exit status 1 on any mismatch.
"""

import argparse
import json
import pathlib
import subprocess
import sys

import gguf
import tokenizers

REPO = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "test" / "data"))
import gen_tokenizer_corpus  # noqa: E402

METASPACE = "\u2581"

# HF pre_tokenizer of each `tokenizer.ggml.pre` family, as in the models'
# tokenizer.json files.
GPT2_REGEX = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN2_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def byte_level(use_regex):
    return {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
            "use_regex": use_regex}


def split(regex):
    return {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated",
            "invert": False}


PRE_TOKENIZERS = {
    "gpt-2": byte_level(True),
    "smollm": {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True}, byte_level(True)]},
    "llama-bpe": {"type": "Sequence", "pretokenizers": [split(LLAMA3_REGEX), byte_level(False)]},
    "qwen2": {"type": "Sequence", "pretokenizers": [split(QWEN2_REGEX), byte_level(False)]},
}


def dump_vectors(gguf_path):
    reader = gguf.GGUFReader(gguf_path)
    out = {}
    for key, field in reader.fields.items():
        if key.startswith("tokenizer."):
            value = field.contents()
            out[key] = value
    return out


def added_token(token_id, content, special):
    return {"id": token_id, "content": content, "single_word": False, "lstrip": False,
            "rstrip": False, "normalized": False, "special": special}


def sentencepiece_merges(tokens, scores):
    """transformers' SentencePieceExtractor: every split of a piece into two
    vocabulary pieces is a merge, ordered by the piece's score, best first."""
    vocab = {token: i for i, token in reversed(list(enumerate(tokens)))}
    merges = []
    for piece, score in zip(tokens, scores):
        local = []
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in vocab and right in vocab:
                local.append((left, right, score))
        local.sort(key=lambda m: (vocab[m[0]], vocab[m[1]]))
        merges.extend(local)
    merges.sort(key=lambda m: m[2], reverse=True)
    # Pairs, not "left right" strings: Gemma pieces can contain spaces.
    return [[left, right] for left, right, _ in merges]


def reference_tokenizer_json(v):
    """A tokenizer.json for the model, built from the GGUF vectors."""
    tokens = v["tokenizer.ggml.tokens"]
    types = v.get("tokenizer.ggml.token_type", [1] * len(tokens))
    vocab = {}
    for i, token in enumerate(tokens):
        vocab.setdefault(token, i)
    added = [added_token(i, t, ty == 3) for i, (t, ty) in enumerate(zip(tokens, types))
             if ty in (3, 4)]
    model = v["tokenizer.ggml.model"]
    bos = v.get("tokenizer.ggml.bos_token_id")
    eos = v.get("tokenizer.ggml.eos_token_id")
    if model == "gpt2":
        pre = v.get("tokenizer.ggml.pre", "gpt-2")
        add_bos = v.get("tokenizer.ggml.add_bos_token", False)
        doc = {
            "normalizer": None,
            "pre_tokenizer": PRE_TOKENIZERS[pre],
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                        "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None,
                      "continuing_subword_prefix": None, "end_of_word_suffix": None,
                      "fuse_unk": False, "byte_fallback": False,
                      "ignore_merges": pre == "llama-bpe", "vocab": vocab,
                      "merges": v["tokenizer.ggml.merges"]},
        }
    elif model == "llama":
        add_bos = v.get("tokenizer.ggml.add_bos_token", True)
        prefix = v.get("tokenizer.ggml.add_space_prefix", True)
        normalizers = [{"type": "Replace", "pattern": {"String": " "}, "content": METASPACE}]
        decoders = [{"type": "Replace", "pattern": {"String": METASPACE}, "content": " "},
                    {"type": "ByteFallback"}, {"type": "Fuse"}]
        if prefix:
            decoders.append({"type": "Strip", "content": " ", "start": 1, "stop": 0})
        unk = v.get("tokenizer.ggml.unknown_token_id")
        merges = v.get("tokenizer.ggml.merges") or sentencepiece_merges(
            tokens, v["tokenizer.ggml.scores"])
        doc = {
            "normalizer": {"type": "Sequence", "normalizers": normalizers},
            "pre_tokenizer": {"type": "Metaspace", "replacement": METASPACE,
                              "prepend_scheme": "first" if prefix else "never",
                              "split": False},
            "decoder": {"type": "Sequence", "decoders": decoders},
            "model": {"type": "BPE", "dropout": None,
                      "unk_token": tokens[unk] if unk is not None else None,
                      "continuing_subword_prefix": None, "end_of_word_suffix": None,
                      "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                      "vocab": vocab, "merges": merges},
        }
    else:
        raise SystemExit(f"tokenizer.ggml.model {model!r} is not covered")
    single = [{"Sequence": {"id": "A", "type_id": 0}}]
    special = {}
    if add_bos and bos is not None:
        single.insert(0, {"SpecialToken": {"id": tokens[bos], "type_id": 0}})
        special[tokens[bos]] = {"id": tokens[bos], "ids": [bos], "tokens": [tokens[bos]]}
    if v.get("tokenizer.ggml.add_eos_token", False) and eos is not None:
        single.append({"SpecialToken": {"id": tokens[eos], "type_id": 0}})
        special[tokens[eos]] = {"id": tokens[eos], "ids": [eos], "tokens": [tokens[eos]]}
    doc["post_processor"] = {"type": "TemplateProcessing", "single": single, "pair": single,
                             "special_tokens": special}
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": doc["normalizer"], "pre_tokenizer": doc["pre_tokenizer"],
            "post_processor": doc["post_processor"], "decoder": doc["decoder"],
            "model": doc["model"]}


def run_llmc(binary, loader_args, flags, inputs):
    stdin = "".join(json.dumps(text) + "\n" for text in inputs)
    result = subprocess.run([binary, *loader_args, *flags, "batch"], input=stdin.encode(),
                            capture_output=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"llmc-tokenize failed: {result.stderr.decode(errors='replace')}")
    return [json.loads(line) for line in result.stdout.decode().split("\n") if line]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--gguf", help="model file")
    source.add_argument("--model", help="a model of scripts/fetch-models.sh (smollm2, gemma3)")
    parser.add_argument("--fetch-script", default=str(REPO / "scripts" / "fetch-models.sh"))
    parser.add_argument("--name", help="name for reports and workdir files (default: --model)")
    parser.add_argument("--llmc-tokenize", required=True, help="path of the CLI")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--corpus", default=str(gen_tokenizer_corpus.OUT))
    parser.add_argument("--pre", help="replace tokenizer.ggml.pre (gpt-2, llama-bpe, qwen2, "
                        "smollm): checks that family's split regex on this vocabulary")
    args = parser.parse_args()

    if args.model:
        # Idempotent: prints the path, downloading only what is missing.
        fetched = subprocess.run([args.fetch_script, args.model], capture_output=True, text=True,
                                 check=False)
        if fetched.returncode != 0 or not fetched.stdout.strip():
            print(f"model {args.model!r} is not available ({fetched.stderr.strip()}); run "
                  f"scripts/fetch-models.sh", file=sys.stderr)
            return 1
        args.gguf = fetched.stdout.strip().splitlines()[-1]
        args.name = args.name or args.model
    args.name = args.name or pathlib.Path(args.gguf).stem
    if not pathlib.Path(args.gguf).exists():
        print(f"{args.gguf} is missing: run scripts/fetch-models.sh", file=sys.stderr)
        return 1
    workdir = pathlib.Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    vectors = dump_vectors(args.gguf)
    if args.pre:
        if vectors["tokenizer.ggml.model"] != "gpt2":
            print("--pre needs a byte-level (gpt2) model", file=sys.stderr)
            return 1
        vectors["tokenizer.ggml.pre"] = args.pre
        args.name += "-pre-" + args.pre
    vectors_path = workdir / f"{args.name}.vectors.json"
    vectors_path.write_text(json.dumps(vectors, ensure_ascii=False), encoding="utf-8")
    reference = reference_tokenizer_json(vectors)
    reference_path = workdir / f"{args.name}.tokenizer.json"
    reference_path.write_text(json.dumps(reference, ensure_ascii=False), encoding="utf-8")
    hf = tokenizers.Tokenizer.from_str(json.dumps(reference))

    lines = gen_tokenizer_corpus.read_corpus(pathlib.Path(args.corpus))
    inputs = lines + ["\n".join(lines[i:i + 7]) for i in range(0, len(lines), 7)]
    loaders = {"vectors": ["--vectors-json", str(vectors_path)],
               "tokenizer.json": ["--tokenizer-json", str(reference_path)]}
    variants = {"default": ([], dict(add_special_tokens=False), False),
                "add_special_tokens": (["--add-special-tokens"],
                                       dict(add_special_tokens=True), False),
                "no_parse_special": (["--no-parse-special"],
                                     dict(add_special_tokens=False), True)}
    failures = 0
    checked = 0
    roundtrips = 0
    for variant, (flags, hf_options, no_parse) in variants.items():
        hf.encode_special_tokens = no_parse
        expected_ids = [e.ids for e in hf.encode_batch(inputs, **hf_options)]
        expected_text = hf.decode_batch(expected_ids, skip_special_tokens=False)
        for loader, loader_args in loaders.items():
            got = run_llmc(args.llmc_tokenize, loader_args, flags, inputs)
            mismatches = 0
            for text, ids, decoded, result in zip(inputs, expected_ids, expected_text, got):
                checked += 1
                problems = []
                if result["ids"] != ids:
                    problems.append(f"ids {result['ids'][:40]} != HF {ids[:40]}")
                if result["decoded"] != decoded:
                    problems.append(f"decode {result['decoded']!r} != HF {decoded!r}")
                if result["streamed"] != result["decoded"]:
                    problems.append(f"streamed {result['streamed']!r} != decode")
                if decoded == text:
                    roundtrips += 1
                    if result["decoded"] != text:
                        problems.append("HF round-trips but llmc does not")
                if problems:
                    mismatches += 1
                    if mismatches <= 5:
                        print(f"[{args.name}/{loader}/{variant}] {text!r}:", file=sys.stderr)
                        for problem in problems:
                            print(f"    {problem}", file=sys.stderr)
            failures += mismatches
            print(f"{args.name} {loader:14} {variant:18} {len(inputs)} inputs, "
                  f"{mismatches} mismatches")
    hf_roundtrip = sum(1 for t, d in zip(inputs, hf.decode_batch(
        [e.ids for e in hf.encode_batch(inputs)])) if t == d)
    print(f"{args.name}: {checked} comparisons, {failures} mismatches; HF round-trips "
          f"{hf_roundtrip}/{len(inputs)} inputs")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
