#!/usr/bin/env python3
"""ctest e2e/tokenizer_import_*: the tokenizer that the compiler's GGUF import
path builds (compiler/frontends/TokenizerImport) encodes the first lines of
test/data/tokenizer_corpus.txt to the same ids as Hugging Face `tokenizers`.

The reference is the one test/unit/tokenizer/tokenizer_parity.py builds: gguf-py
dumps the file's `tokenizer.*` metadata and a tokenizer.json is constructed
from it. llmc-tokenizer-import-test imports the model as `llmc import` does and
prints the ids of each line, without and with add_special_tokens.

The model comes from the model cache that scripts/fetch-models.sh fills; a
missing model is a failure that says how to get it, never a silent skip.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "test" / "unit" / "tokenizer"))
import tokenizer_parity  # noqa: E402
from tokenizer_parity import gen_tokenizer_corpus  # noqa: E402

import tokenizers  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-in-cache", required=True,
                        help="path of the GGUF file inside the model cache")
    parser.add_argument("--fetch-name", required=True,
                        help="the scripts/fetch-models.sh name of the model")
    parser.add_argument("--tool", required=True, help="llmc-tokenizer-import-test")
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--corpus", default=str(gen_tokenizer_corpus.OUT))
    args = parser.parse_args()

    cache = pathlib.Path(os.environ.get("LLMC_MODEL_CACHE",
                                        pathlib.Path.home() / ".cache" / "llmc" / "models"))
    model = cache / args.model_in_cache
    if not model.is_file():
        print(f"error: {model} is missing; run scripts/fetch-models.sh {args.fetch_name} "
              "(it puts the model in ${LLMC_MODEL_CACHE:-$HOME/.cache/llmc/models})",
              file=sys.stderr)
        return 1

    reference = tokenizer_parity.reference_tokenizer_json(tokenizer_parity.dump_vectors(model))
    hf = tokenizers.Tokenizer.from_str(json.dumps(reference))
    lines = gen_tokenizer_corpus.read_corpus(pathlib.Path(args.corpus))[:args.lines]
    expected = [e.ids for e in hf.encode_batch(lines, add_special_tokens=False)]
    expected_special = [e.ids for e in hf.encode_batch(lines, add_special_tokens=True)]

    result = subprocess.run([args.tool, str(model), args.corpus, "--lines", str(args.lines)],
                            capture_output=True, check=False)
    sys.stderr.write(result.stderr.decode(errors="replace"))
    if result.returncode != 0:
        return 1
    got = [json.loads(line) for line in result.stdout.decode().split("\n") if line]
    if len(got) != len(lines):
        print(f"error: {len(got)} results for {len(lines)} lines", file=sys.stderr)
        return 1
    mismatches = 0
    for number, (text, ids, special, result) in enumerate(
            zip(lines, expected, expected_special, got), start=1):
        problems = []
        if result["ids"] != ids:
            problems.append(f"ids {result['ids'][:40]} != HF {ids[:40]}")
        if result["ids_with_special_tokens"] != special:
            problems.append(f"add_special_tokens: {result['ids_with_special_tokens'][:40]} "
                            f"!= HF {special[:40]}")
        if problems:
            mismatches += 1
            if mismatches <= 5:
                print(f"line {number} {text!r}:", file=sys.stderr)
                for problem in problems:
                    print(f"    {problem}", file=sys.stderr)
    print(f"{model.name}: {len(lines)} lines, {mismatches} mismatches")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
