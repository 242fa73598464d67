#!/usr/bin/env python3
"""Accuracy of llmc's quantization modes on the real SmolLM2-135M-Instruct, against
llmc's own full-precision artifact and llama.cpp's quantizations of the same model.

    python3 test/e2e/quant_accuracy.py --llmc build/bin/llmc --runtime build/bin/llmc-runtime \
        --work DIR [--text FILE] [--baselines FILE.json] [--check]

For each mode the GGUF is compiled for the CPU (`llmc compile --target=cpu --quant=MODE`,
fp8 with static scales and SmoothQuant of the norms, int8 with SmoothQuant of the norms
and of down_proj/o_proj, w8a16/w4a16 with the same smoothing (AWQ-style activation-aware
scaling), all calibrated on --calib-text; w8a16/w4a16 also with the clipping search;
the GPTQ rows round with --gptq instead of to nearest) and
evaluated with `llmc-runtime eval --perplexity TEXT --ctx 512 --reference f32.llmc`
(PPL ratio, mean KL divergence, same top-1 against the f32 artifact). The llama.cpp
rows come from test/e2e/make_quant_baselines.py (llama.cpp's own Q8_0 and Q4_K_M
quantizations of the same weights, evaluated with the same protocol).

With --check (how ctest runs it, label e2e, on test/e2e/data/eval_text.txt) the targets
of issue 5 are reported (int8's and w8a16's asserted; fp8 and w4a16, missed on this
model, are not) and a mean-KL ceiling per mode is asserted against regressions. The
targets:
  fp8 (W8A8, static calibrated scales)   ΔPPL <= +1.5 %
  int8 (W8A8 SmoothQuant)                ΔPPL <= +3 %, and below int8 without smoothing
  w8a16                                  ΔPPL <= +0.5 %
  w4a16 (group 128)                      ΔPPL <= llama.cpp Q4_K_M's ΔPPL + 1 point
The calibration text is the Apache License 2.0 as Debian's base-files installs it
(/usr/share/common-licenses/Apache-2.0): English prose, not the evaluated text.

GPTQ fits the calibration text's kind of English: on eval_text.txt (narrative) it
does not help, so --check also evaluates the GPTQ rows and their round-to-nearest
twins on --in-domain-text (the GPL-3, another license, not in the calibration) and
asserts that GPTQ lowers the mean KL there.
"""

import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.expanduser("~/.cache/llmc/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
CALIB_TEXT = "/usr/share/common-licenses/Apache-2.0"
IN_DOMAIN_TEXT = "/usr/share/common-licenses/GPL-3"
# GPTQ rows and the round-to-nearest rows they are compared with.
GPTQ_PAIRS = [("w4a16 asym GPTQ", "w4a16 asym"), ("fp8 GPTQ", "fp8")]

# name -> extra `llmc compile` arguments
MODES = [
    ("fp8", ["--quant=fp8", "--calib={calib}", "--calib-cache={work}/calib.json"]),
    ("fp8 static unsmoothed", ["--quant=fp8", "--calib={calib}", "--calib-cache={work}/calib.json", "--no-smooth"]),
    ("fp8 dynamic", ["--quant=fp8"]),
    ("fp8 dynamic SmoothQuant", ["--quant=fp8", "--act-scales=dynamic", "--calib={calib}",
                                 "--calib-cache={work}/calib.json"]),
    ("int8 SmoothQuant", ["--quant=int8", "--calib={calib}", "--calib-cache={work}/calib.json"]),
    ("int8 unsmoothed", ["--quant=int8"]),
    ("w8a16", ["--quant=w8a16", "--calib={calib}", "--calib-cache={work}/calib.json"]),
    ("w8a16 uncalibrated", ["--quant=w8a16"]),
    ("w4a16", ["--quant=w4a16", "--calib={calib}", "--calib-cache={work}/calib.json"]),
    ("w4a16 asym", ["--quant=w4a16", "--asym", "--calib={calib}", "--calib-cache={work}/calib.json"]),
    ("w4a16 asym uncalibrated", ["--quant=w4a16", "--asym"]),
    ("w4a16 asym GPTQ", ["--quant=w4a16", "--asym", "--calib={calib}", "--calib-cache={work}/calib.json",
                         "--gptq"]),
    ("fp8 GPTQ", ["--quant=fp8", "--calib={calib}", "--calib-cache={work}/calib.json", "--gptq"]),
    ("bf16", ["--quant=bf16"]),
    ("f32 + fp8 KV cache", ["--quant=f32", "--kv-cache=fp8"]),
    ("f32 + int8 KV cache", ["--quant=f32", "--kv-cache=int8"]),
]


def run(cmd):
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        sys.exit(f"command failed ({result.returncode}): {' '.join(cmd)}\n{result.stderr}")
    return result.stdout


def evaluate(runtime, artifact, text, reference):
    out = run([runtime, "eval", artifact, "--perplexity", text, "--ctx", "512", "--reference", reference])
    number = r"([-+0-9.]+)"
    ppl = float(re.search(r"^PPL = " + number, out, re.M).group(1))
    ratio = float(re.search(r"^PPL ratio = " + number, out, re.M).group(1))
    kl = float(re.search(r"^mean KL divergence = " + number, out, re.M).group(1))
    top1 = float(re.search(r"^same top-1 = " + number, out, re.M).group(1))
    return dict(ppl=ppl, delta=(ratio - 1) * 100, kl=kl, top1=top1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llmc", required=True)
    ap.add_argument("--runtime", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--model", default=MODEL)
    ap.add_argument("--text", default=os.path.join(HERE, "data", "eval_text.txt"))
    ap.add_argument("--calib-text", default=CALIB_TEXT)
    ap.add_argument("--in-domain-text", default=IN_DOMAIN_TEXT)
    ap.add_argument("--baselines", default=os.path.join(HERE, "data", "quant_baselines.eval_text.json"))
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(args.model):
        sys.exit(f"{args.model} is missing; run scripts/fetch-models.sh smollm2")
    os.makedirs(args.work, exist_ok=True)

    reference = os.path.join(args.work, "f32.llmc")
    run([args.llmc, "compile", args.model, "--target=cpu", "--quant=f32", "-o", reference])
    rows, artifacts = {}, {}
    for name, extra in MODES:
        artifact = os.path.join(args.work, name.replace(" ", "_").replace("+", "") + ".llmc")
        flags = [f.format(calib=args.calib_text, work=args.work) for f in extra]
        run([args.llmc, "compile", args.model, "--target=cpu", *flags, "-o", artifact])
        rows[name] = evaluate(args.runtime, artifact, args.text, reference)
        artifacts[name] = artifact
    baselines = json.load(open(args.baselines))
    base = baselines["runs"]

    print(f"text: {args.text}; reference: llmc f32 (PPL {base['f32']['ppl']:.4f} in llama.cpp)")
    print(f"| mode | PPL | ΔPPL | mean KL | same top-1 |")
    print(f"| --- | --- | --- | --- | --- |")
    for name, r in rows.items():
        print(f"| llmc {name} | {r['ppl']:.4f} | {r['delta']:+.3f} % | {r['kl']:.5f} | {r['top1']:.2f} % |")
    for name in ("q8_0", "q4_k_m"):
        b = base[name]
        print(f"| llama.cpp {name.upper()} | {b['ppl']:.4f} | {b['delta_ppl_percent']:+.3f} % | | |")

    if args.check:
        # Issue 5's targets, reported. fp8 (E4M3's 3-bit mantissa on every GEMM)
        # and w4a16 (a second 4-bit grid on an already Q4_1 checkpoint) miss
        # theirs on this model (docs/accuracy.md says by how much and why), so
        # those are reported rather than asserted.
        print("issue 5 targets:")
        targets = [
            ("fp8 (static, calibrated) ΔPPL <= +1.5 %", rows["fp8"]["delta"], 1.5),
            ("int8 SmoothQuant ΔPPL <= +3 %", rows["int8 SmoothQuant"]["delta"], 3.0),
            ("int8 SmoothQuant ΔPPL below unsmoothed", rows["int8 SmoothQuant"]["delta"],
             rows["int8 unsmoothed"]["delta"]),
            ("w8a16 ΔPPL <= +0.5 %", rows["w8a16"]["delta"], 0.5),
            ("w4a16 ΔPPL <= llama.cpp Q4_K_M + 1 point", rows["w4a16"]["delta"],
             base["q4_k_m"]["delta_ppl_percent"] + 1.0),
        ]
        for name, value, limit in targets:
            print(f"  {'met' if value <= limit else 'MISSED'}: {name} ({value:+.3f} % vs {limit:+.3f} %)")

        # Asserted: int8's and w8a16's targets, and for every mode a ceiling on
        # the mean KL divergence (steadier than ΔPPL on 564 tokens) about 1.5x
        # what this code measured (docs/accuracy.md), so a regression fails CI.
        # w8a16 measures -0.40 % here (its paired standard error is 0.22
        # points; +0.05 % on the 7,639-token GPL-3): the bound keeps 0.9 points
        # of margin.
        failures = []

        def bound(name, value, limit):
            ok = value <= limit
            print(f"{'ok' if ok else 'FAIL'}: {name}: {value:.5f} <= {limit:.5f}")
            if not ok:
                failures.append(name)

        bound("int8 SmoothQuant ΔPPL %", rows["int8 SmoothQuant"]["delta"], 3.0)
        bound("int8 SmoothQuant ΔPPL % vs unsmoothed", rows["int8 SmoothQuant"]["delta"],
              rows["int8 unsmoothed"]["delta"])
        bound("w8a16 ΔPPL %", rows["w8a16"]["delta"], 0.5)
        bound("w8a16 mean KL vs uncalibrated", rows["w8a16"]["kl"], rows["w8a16 uncalibrated"]["kl"])
        bound("w4a16 asym mean KL vs uncalibrated", rows["w4a16 asym"]["kl"],
              rows["w4a16 asym uncalibrated"]["kl"])
        print(f"in-domain text: {args.in_domain_text}")
        for gptq, nearest in GPTQ_PAIRS:
            kl = {name: evaluate(args.runtime, artifacts[name], args.in_domain_text, reference)["kl"]
                  for name in (gptq, nearest)}
            bound(f"{gptq} mean KL vs {nearest}, in domain", kl[gptq], kl[nearest])
        for mode, limit in [("fp8", 0.045), ("fp8 dynamic", 0.04), ("int8 SmoothQuant", 0.017),
                            ("int8 unsmoothed", 0.042), ("w8a16", 0.0018),
                            ("w8a16 uncalibrated", 0.003), ("w4a16", 0.53), ("w4a16 asym", 0.36),
                            ("w4a16 asym uncalibrated", 0.52), ("w4a16 asym GPTQ", 0.43),
                            ("fp8 GPTQ", 0.047), ("bf16", 0.0016),
                            ("f32 + fp8 KV cache", 0.02), ("f32 + int8 KV cache", 0.01)]:
            bound(f"{mode} mean KL", rows[mode]["kl"], limit)
        if failures:
            sys.exit("accuracy bounds failed: " + ", ".join(failures))

if __name__ == "__main__":
    main()
