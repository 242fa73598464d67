#!/usr/bin/env python3
"""Writes a Llama-3-8B-shaped W8A8 plan module (32 layers) for timing CUDA
code generation, until the quantization passes produce such plans:

    make_llama3_8b_w8a8_plan.py fp8|int8 > plan.mlir

Each layer: add + rms_norm, per-token quantize, QKV GEMM (generated), RoPE
on q and k, attention, quantize, O GEMM, add + rms_norm, quantize, gate and
up GEMMs, silu, mul, quantize, down GEMM. The shapes are Llama-3-8B's
(hidden 4096, 32 query / 8 KV heads of 128, MLP 14336, vocab 128256);
buffer offsets are all 0 (code generation does not read them).
"""
import sys

HIDDEN, HEADS, KV_HEADS, HEAD_DIM, MLP, VOCAB, LAYERS, TOKENS = (
    4096, 32, 8, 128, 14336, 128256, 32, 512)


def main():
    quant = sys.argv[1] if len(sys.argv) > 1 else "fp8"
    q = {"fp8": "f8E4M3FN", "int8": "i8"}[quant]
    lines = []
    counter = [0]

    def slice_(shape, element, weight=None):
        counter[0] += 1
        name = f"%v{counter[0]}"
        arena = "weights" if weight else "activations"
        attrs = f'{{plan.weight = "{weight}"}}' if weight else "{plan.token_rows}"
        dims = "x".join(str(d) for d in shape)
        lines.append(f"    {name} = plan.slice @{arena}[0] {attrs} : memref<{dims}x{element}>")
        return name, f"memref<{dims}x{element}>"

    def compute(op, inputs, outputs, attrs=""):
        ins = ", ".join(v for v, _ in inputs)
        in_types = ", ".join(t for _, t in inputs)
        outs = ", ".join(v for v, _ in outputs)
        out_types = ", ".join(t for _, t in outputs)
        lines.append(f'    plan.compute "{op}"({ins} : {in_types} -> {outs} : {out_types}){attrs}')

    def quantize(x, cols):
        xq = slice_([TOKENS, cols], q)
        xs = slice_([TOKENS, 1], "f32")
        compute("quantize_dynamic", [x], [xq, xs])
        return xq, xs

    def gemm(xq, xs, name, n, k):
        w = slice_([n, k], q, name)
        ws = slice_([n, 1], "f32", name + ".scale")
        y = slice_([TOKENS, n], "bf16")
        lines.append(
            f"    plan.gemm generated {xq[0]}, {w[0]} into {y[0]} transpose_b "
            f"scale_a({xs[0]} : {xs[1]}) scale_b({ws[0]} : {ws[1]}) : "
            f"{xq[1]}, {w[1]}, {y[1]}")
        return y

    ids = slice_([TOKENS], "i32")
    pos = slice_([TOKENS], "i32")
    table = slice_([VOCAB, HIDDEN], "bf16", "embed")
    h = slice_([TOKENS, HIDDEN], "bf16")
    compute("embedding", [table, ids], [h])
    rope = (' {scaling = "llama3", scaling_factor = 8.0 : f64, '
            'scaling_high_freq_factor = 4.0 : f64, scaling_low_freq_factor = 1.0 : f64, '
            'scaling_original_max_position = 8192 : i64, style = "half", theta = 500000.0 : f64}')
    for layer in range(LAYERS):
        ln = slice_([HIDDEN], "bf16", f"l{layer}.ln1")
        x = slice_([TOKENS, HIDDEN], "bf16")
        compute("rms_norm", [h, ln], [x], " {epsilon = 1.0e-05 : f64}")
        xq, xs = quantize(x, HIDDEN)
        qkv = gemm(xq, xs, f"l{layer}.qkv", (HEADS + 2 * KV_HEADS) * HEAD_DIM, HIDDEN)
        qh = slice_([TOKENS, HEADS, HEAD_DIM], "bf16")
        kh = slice_([TOKENS, KV_HEADS, HEAD_DIM], "bf16")
        vh = slice_([TOKENS, KV_HEADS, HEAD_DIM], "bf16")
        qr = slice_([TOKENS, HEADS, HEAD_DIM], "bf16")
        kr = slice_([TOKENS, KV_HEADS, HEAD_DIM], "bf16")
        compute("rope", [qh, pos], [qr], rope)
        compute("rope", [kh, pos], [kr], rope)
        o = slice_([TOKENS, HEADS, HEAD_DIM], "bf16")
        compute("attention", [qr, kr, vh], [o], f" {{layer = {layer} : i64, scale = 0.08838834764 : f64}}")
        o2 = slice_([TOKENS, HIDDEN], "bf16")
        oq, os_ = quantize(o2, HIDDEN)
        attn = gemm(oq, os_, f"l{layer}.o", HIDDEN, HIDDEN)
        h1 = slice_([TOKENS, HIDDEN], "bf16")
        compute("add", [h, attn], [h1])
        ln2 = slice_([HIDDEN], "bf16", f"l{layer}.ln2")
        x2 = slice_([TOKENS, HIDDEN], "bf16")
        compute("rms_norm", [h1, ln2], [x2], " {epsilon = 1.0e-05 : f64}")
        x2q, x2s = quantize(x2, HIDDEN)
        gate = gemm(x2q, x2s, f"l{layer}.gate", MLP, HIDDEN)
        up = gemm(x2q, x2s, f"l{layer}.up", MLP, HIDDEN)
        act = slice_([TOKENS, MLP], "bf16")
        compute("silu", [gate], [act])
        prod = slice_([TOKENS, MLP], "bf16")
        compute("mul", [act, up], [prod])
        pq, ps = quantize(prod, MLP)
        down = gemm(pq, ps, f"l{layer}.down", HIDDEN, MLP)
        h = slice_([TOKENS, HIDDEN], "bf16")
        compute("add", [h1, down], [h])
    lnf = slice_([HIDDEN], "bf16", "norm")
    xf = slice_([TOKENS, HIDDEN], "bf16")
    compute("rms_norm", [h, lnf], [xf], " {epsilon = 1.0e-05 : f64}")
    print("module {")
    print("  plan.arena @activations kind = activations size = 4294967296 alignment = 256")
    print("  plan.arena @weights kind = weights size = 17179869184 alignment = 4096")
    print("  plan.rank 0 {")
    print("\n".join(lines))
    print("  }")
    print("}")


if __name__ == "__main__":
    main()
