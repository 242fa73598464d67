#!/usr/bin/env python3
"""Writes the inputs and goldens of quantize_test.cpp into data/quant/.

Independent of llmc: the goldens are numpy (float32 arithmetic throughout)
and ml_dtypes (float8_e4m3fn, round to nearest even) implementations of the
quantization contract in docs/quantization.md:
  symmetric:  scale = amax / qmax (1 when amax == 0),
              q = clip(rint(x / scale), qmin, qmax)      (rint: half to even)
              fp8: q = float8_e4m3fn(clip(x / scale, -448, 448))
  asymmetric: lo = min(min(x), 0), hi = max(max(x), 0),
              scale = (hi - lo) / (qmax - qmin) (1 when 0),
              zero = clip(rint(qmin - lo / scale), qmin, qmax),
              q = clip(rint(x / scale) + zero, qmin, qmax)
  int4: two values a byte, the even column in the low nibble.
Clipping search (`<case>_clip`, QuantScheme::searchClipping): per block, for
r_i = 1 - 0.5 * i / 19 (i = 0..19, float32), the range above with amax (or
lo and hi) multiplied by r_i; the block keeps the first candidate with the
smallest float64 sum of x^2 * (x - (q - zero) * scale)^2.
SmoothQuant: s_j = amax_x_j^alpha / amax_w_j^(1 - alpha), clipped to
[1e-5, 1e5], 1 where either maximum is 0.
GPTQ (`gptq_<case>`, QuantScheme::gptq), as the paper's reference code does
it, in float64: H = gram + 0.01 * mean(diag(gram)) * I (a channel with
gram[j][j] == 0 gets a row and column of zeros and 1 on the diagonal first),
U = upper Cholesky factor of inv(H) (numpy.linalg.cholesky(inv(H)).T); then
column by column over all rows: per-channel scales from the weight as
given, group scales from the group's current values (range as above, on
the float32 values) when its first column is reached; v = float32(w[:, j]),
code and value r = float32((q - zero) * scale) (fp8: float32(e4m3(q)) *
scale) as above; w[:, k] -= (v - r) / U[j][j] * U[j][k] for k > j.
gram.f32 is x^T x / 512 (float32) of inputs x [512, 256] whose channels are
correlated (an AR(1) walk along the channels, every 7th channel louder).

Inputs: quant.safetensors (f32 `w` [6, 256], `norm` [256], `up` [4, 256],
`gate` [5, 256]), act_absmax.f32 (calibration maxima of the 256
channels) and gram.f32 (GPTQ's input statistics, [256, 256]). Goldens: `<case>.bin` (quantized bytes), `<case>.scale.f32`,
`<case>.zero.bin`; smoothing: smooth.factors.f32, smooth.norm.f32,
smooth.up.f32, smooth.act_scale.f32. Run from anywhere; deterministic.
Needs numpy, ml_dtypes and safetensors.
"""

import os

import ml_dtypes
import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data", "quant")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(2026)
f32 = np.float32


def make_weight():
    w = rng.normal(0.0, 0.05, size=(6, 256)).astype(f32)
    w[1, :] = 0.0  # amax == 0: scale 1, all zeros
    w[2, :] = np.abs(w[2, :])  # all positive: asymmetric zero at qmin
    w[3, 0] = 1.5  # an outlier dominating its channel and group
    # Exact ties after division (x / scale = k + 0.5) test half-to-even:
    # row 4 has amax 127 * 0.5 so the scale is exactly 0.5.
    w[4, :] = rng.integers(-100, 100, size=256).astype(f32) * f32(0.25)
    w[4, 7] = f32(63.5)
    return w


def blocks(rows, cols, granularity, group):
    if granularity == "tensor":
        return np.zeros((rows, cols), dtype=np.int64), 1, ()
    if granularity == "channel":
        return np.repeat(np.arange(rows)[:, None], cols, 1), rows, (rows, 1)
    g = cols // group
    idx = np.arange(rows)[:, None] * g + (np.arange(cols)[None, :] // group)
    return idx, rows * g, (rows, g)


def block_range(lo, hi, qmin, qmax, symmetric, ratio=f32(1)):
    """Scales (and zero points) of blocks with value ranges [lo, hi] x ratio."""
    if symmetric:
        amax = (np.maximum(-lo, hi) * ratio).astype(f32)
        return np.where(amax > 0, amax / f32(qmax), f32(1)).astype(f32), None
    lo = (lo * ratio).astype(f32)
    hi = (hi * ratio).astype(f32)
    scale = ((hi - lo) / f32(qmax - qmin)).astype(f32)
    scale = np.where(scale > 0, scale, f32(1)).astype(f32)
    zero = np.clip(np.rint(f32(qmin) - lo / scale), qmin, qmax).astype(np.int8)
    return scale, zero


def integer_codes(w, scale, zero, idx, qmin, qmax):
    x = (w / scale[idx]).astype(f32)
    z = zero[idx].astype(f32) if zero is not None else f32(0)
    return np.clip(np.rint(x) + z, qmin, qmax).astype(np.int8)


def quantize(w, kind, granularity, group=0, symmetric=True, clip=False):
    rows, cols = w.shape
    idx, n, shape = blocks(rows, cols, granularity, group)
    lo = np.zeros(n, f32)
    hi = np.zeros(n, f32)
    np.minimum.at(lo, idx.ravel(), w.ravel())
    np.maximum.at(hi, idx.ravel(), w.ravel())
    qmin, qmax = {"int8": (-128, 127), "int4": (-8, 7), "fp8": (None, 448)}[kind]
    scale, zero = block_range(lo, hi, qmin, qmax, symmetric)
    if clip:
        best = None
        for i in range(20):
            ratio = f32(1) - f32(0.5) * f32(i) / f32(19)
            s, z = block_range(lo, hi, qmin, qmax, symmetric, ratio)
            q = integer_codes(w, s, z, idx, qmin, qmax).astype(np.float64)
            zz = z[idx].astype(np.float64) if z is not None else 0.0
            d = w.astype(np.float64) - (q - zz) * s[idx].astype(np.float64)
            err = np.zeros(n, np.float64)
            x2 = w.astype(np.float64) ** 2
            np.add.at(err, idx.ravel(), (x2 * d * d).ravel())
            if best is None:
                best = err
                continue
            better = err < best
            best = np.where(better, err, best)
            scale = np.where(better, s, scale).astype(f32)
            if z is not None:
                zero = np.where(better, z, zero).astype(np.int8)
    x = (w / scale[idx]).astype(f32)
    if kind == "fp8":
        q = np.clip(x, -448, 448).astype(ml_dtypes.float8_e4m3fn).view(np.uint8)
    else:
        z = zero[idx].astype(f32) if zero is not None else f32(0)
        q = np.clip(np.rint(x) + z, qmin, qmax).astype(np.int8)
        if kind == "int4":
            nib = q.view(np.uint8).ravel() & 0xF
            q = (nib[0::2] | (nib[1::2] << 4)).astype(np.uint8)
    return q, scale.reshape(shape), zero


def gptq(w, gram, kind, granularity, group=0, symmetric=True):
    rows, cols = w.shape
    h = gram.astype(np.float64).copy()
    dead = np.diag(h) == 0
    h[dead, :] = 0
    h[:, dead] = 0
    h[dead, dead] = 1
    h += 0.01 * np.mean(np.diag(gram.astype(np.float64))) * np.eye(cols)
    u = np.linalg.cholesky(np.linalg.inv(h)).T
    qmin, qmax = {"int8": (-128, 127), "int4": (-8, 7), "fp8": (None, 448)}[kind]
    if granularity == "group":
        scale = np.ones((rows, cols // group), f32)
        zero = None if symmetric else np.zeros((rows, cols // group), np.int8)
    else:  # the scales of plain rounding, from the weight as given
        _, scale, zero = quantize(w, kind, granularity, group, symmetric)
        scale = np.broadcast_to(scale.reshape(-1, 1), (rows, 1)).copy() \
            if granularity == "channel" else np.full((rows, 1), scale, f32)
        zero = None
    codes = np.zeros((rows, cols), np.int8 if kind != "fp8" else np.uint8)
    work = w.astype(np.float64).copy()
    for j in range(cols):
        b = j // group if granularity == "group" else 0
        if granularity == "group" and j % group == 0:
            part = work[:, j:j + group].astype(f32)
            lo = np.minimum(part.min(1), 0).astype(f32)
            hi = np.maximum(part.max(1), 0).astype(f32)
            s, z = block_range(lo, hi, qmin, qmax, symmetric)
            scale[:, b] = s
            if zero is not None:
                zero[:, b] = z
        v = work[:, j].astype(f32)
        x = (v / scale[:, b]).astype(f32)
        if kind == "fp8":
            c = np.clip(x, -448, 448).astype(ml_dtypes.float8_e4m3fn)
            codes[:, j] = c.view(np.uint8)
            r = (c.astype(f32) * scale[:, b]).astype(f32)
        else:
            z = zero[:, b].astype(f32) if zero is not None else f32(0)
            c = np.clip(np.rint(x) + z, qmin, qmax).astype(np.int8)
            codes[:, j] = c
            r = ((c.astype(f32) - z) * scale[:, b]).astype(f32)
        error = (v.astype(np.float64) - r.astype(np.float64)) / u[j, j]
        work[:, j + 1:] -= np.outer(error, u[j, j + 1:])
    q = codes
    if kind == "int4":
        nib = codes.view(np.uint8).ravel() & 0xF
        q = (nib[0::2] | (nib[1::2] << 4)).astype(np.uint8)
    if granularity == "tensor":
        scale = scale[:1, 0].reshape(())
    return q, scale, zero


def write(name, q, scale, zero):
    np.ascontiguousarray(q).tofile(os.path.join(OUT, name + ".bin"))
    np.ascontiguousarray(scale, dtype=f32).tofile(os.path.join(OUT, name + ".scale.f32"))
    if zero is not None:
        np.ascontiguousarray(zero).tofile(os.path.join(OUT, name + ".zero.bin"))


def main():
    w = make_weight()
    norm = rng.uniform(0.5, 1.5, size=256).astype(f32)
    up = rng.normal(0.0, 0.05, size=(4, 256)).astype(f32)
    gate = rng.normal(0.0, 0.05, size=(5, 256)).astype(f32)
    gate[:, 9] = 0.0  # a zero weight column: factor 1
    act = rng.uniform(0.1, 20.0, size=256).astype(f32)
    act[3] = 0.0  # a channel never active: factor 1
    save_file({"w": w, "norm": norm, "up": up, "gate": gate},
              os.path.join(OUT, "quant.safetensors"))
    act.tofile(os.path.join(OUT, "act_absmax.f32"))

    write("int8_per_channel", *quantize(w, "int8", "channel"))
    write("int8_per_tensor", *quantize(w, "int8", "tensor"))
    write("fp8_per_channel", *quantize(w, "fp8", "channel"))
    write("fp8_per_tensor", *quantize(w, "fp8", "tensor"))
    write("int8_group64_asym", *quantize(w, "int8", "group", 64, False))
    write("int4_group128_asym", *quantize(w, "int4", "group", 128, False))
    write("int4_group64", *quantize(w, "int4", "group", 64))
    write("int4_group64_clip", *quantize(w, "int4", "group", 64, clip=True))
    write("int4_group128_asym_clip", *quantize(w, "int4", "group", 128, False, clip=True))
    write("int8_per_channel_clip", *quantize(w, "int8", "channel", clip=True))

    alpha = f32(0.5)
    wmax = np.maximum(np.abs(up).max(0), np.abs(gate).max(0)).astype(f32)
    s = (act.astype(np.float64) ** 0.5 / wmax.astype(np.float64) ** 0.5)
    s = np.where((act > 0) & (wmax > 0), np.clip(s, 1e-5, 1e5), 1.0).astype(f32)
    s.tofile(os.path.join(OUT, "smooth.factors.f32"))
    (norm / s).astype(f32).tofile(os.path.join(OUT, "smooth.norm.f32"))
    (up * s[None, :]).astype(f32).tofile(os.path.join(OUT, "smooth.up.f32"))
    act_scale = np.array((act / s).max() / f32(448), dtype=f32)
    act_scale.tofile(os.path.join(OUT, "smooth.act_scale.f32"))

    x = np.zeros((512, 256))
    noise = rng.uniform(-0.5, 0.5, size=(512, 256))
    loud = np.where(np.arange(256) % 7 == 0, 5.0, 1.0)
    for c in range(256):
        x[:, c] = (0.8 * x[:, c - 1] if c else 0) + noise[:, c] * loud[c]
    gram = (x.T @ x / 512).astype(f32)
    gram[200, :] = gram[:, 200] = 0  # a channel never active
    gram.tofile(os.path.join(OUT, "gram.f32"))
    write("gptq_int4_group64", *gptq(w, gram, "int4", "group", 64))
    write("gptq_int4_group128_asym", *gptq(w, gram, "int4", "group", 128, False))
    write("gptq_int8_per_channel", *gptq(w, gram, "int8", "channel"))
    write("gptq_fp8_per_channel", *gptq(w, gram, "fp8", "channel"))
    write("gptq_fp8_per_tensor", *gptq(w, gram, "fp8", "tensor"))


if __name__ == "__main__":
    main()
