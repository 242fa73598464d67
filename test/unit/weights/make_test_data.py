#!/usr/bin/env python3
"""Writes the test inputs and goldens of test/unit/weights into data/.

Inputs are written by the reference implementations themselves, and goldens
are computed by them, never by llmc:
  * GGUF: gguf-py (llama.cpp's own writer). Legacy quant types are quantized
    with gguf.quants.quantize; gguf-py cannot quantize K-quants, so Q4_K,
    Q5_K and Q6_K tensors are random but valid blocks (finite f16 scales).
    Goldens are what gguf.GGUFReader reads back, dequantized with
    gguf.quants.dequantize (numpy, same formulas as ggml's C code).
  * safetensors: the `safetensors` package (numpy API, and TensorSpec for
    BF16/F8, which numpy lacks). Goldens: numpy casts; bf16 by shifting the
    bits into a float32; float8 by the OCP FP8 formulas written out below.
  * WeightStore transforms: numpy (transpose, slicing, concatenate, +1) and a
    Q/K permutation written here from convert_hf_to_gguf.py's description.

Goldens are raw little-endian float32 (`*.f32`) or the raw bytes a
transform must produce (`*.bin`). Run from anywhere; needs numpy, gguf and
safetensors (scripts/requirements.txt). Output is deterministic.
"""

import json
import math
import os
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q, GGUFValueType as V
from safetensors import TensorSpec, serialize_file
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
rng = np.random.default_rng(1234)


def golden(name, array):
    np.ascontiguousarray(array, dtype=np.float32).tofile(os.path.join(DATA, name + ".f32"))


def raw_golden(name, data: bytes):
    with open(os.path.join(DATA, name + ".bin"), "wb") as f:
        f.write(data)


def hf_to_gguf_permute(w, n_head):
    """convert_hf_to_gguf.py's Q/K row order, written from its description:
    within each head, rows are split in two halves [first | second] and
    interleaved first[0], second[0], first[1], second[1], ..."""
    rows = w.shape[0]
    head_dim = rows // n_head
    half = head_dim // 2
    out = np.empty_like(w)
    for h in range(n_head):
        for i in range(half):
            out[h * head_dim + 2 * i] = w[h * head_dim + i]
            out[h * head_dim + 2 * i + 1] = w[h * head_dim + half + i]
    return out


def reshape_permute(w, n_head):
    """The same permutation as convert_hf_to_gguf.py states it, as a
    reshape: [n_head, 2, head_dim/2, ...] with the middle axes swapped. The
    loop version above must agree with it."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def random_k_blocks(qtype, n_blocks):
    """Random K-quant blocks whose f16 scales are finite and modest."""
    block_bytes = gguf.GGML_QUANT_SIZES[qtype][1]
    blocks = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    def f16_bytes(lo, hi, n):
        return rng.uniform(lo, hi, size=n).astype(np.float16).view(np.uint8).reshape(n, 2)
    if qtype in (Q.Q4_K, Q.Q5_K):
        blocks[:, 0:2] = f16_bytes(0.001, 0.05, n_blocks)   # d
        blocks[:, 2:4] = f16_bytes(0.001, 0.05, n_blocks)   # dmin
    elif qtype == Q.Q6_K:
        blocks[:, 208:210] = f16_bytes(-0.01, 0.01, n_blocks)  # d
    return blocks


# ---------------------------------------------------------------------------
# GGUF v3 with every metadata value type and every supported ggml type.
# ---------------------------------------------------------------------------
def write_gguf():
    path = os.path.join(DATA, "model.gguf")
    w = gguf.GGUFWriter(path, arch="llama")  # adds general.architecture
    w.add_key_value("test.u8", 200, V.UINT8)
    w.add_key_value("test.i8", -100, V.INT8)
    w.add_key_value("test.u16", 60000, V.UINT16)
    w.add_key_value("test.i16", -30000, V.INT16)
    w.add_key_value("test.u32", 4000000000, V.UINT32)
    w.add_key_value("test.i32", -2000000000, V.INT32)
    w.add_key_value("test.f32", 0.1, V.FLOAT32)
    w.add_key_value("test.bool", True, V.BOOL)
    w.add_key_value("test.string", "héllo wörld", V.STRING)
    w.add_key_value("test.u64", 2**63 + 5, V.UINT64)
    w.add_key_value("test.i64", -(2**62), V.INT64)
    w.add_key_value("test.f64", 2.5e300, V.FLOAT64)
    w.add_key_value("llama.block_count", 1, V.UINT32)
    w.add_key_value("llama.context_length", 4096, V.UINT64)
    w.add_key_value("llama.attention.layer_norm_rms_epsilon", 1e-5, V.FLOAT32)
    w.add_key_value("tokenizer.ggml.tokens", ["<s>", "</s>", "hello", "▁wörld", ""], V.ARRAY, V.STRING)
    w.add_key_value("tokenizer.ggml.scores", [0.0, -1.5, -2.25, -1e9, 3.0], V.ARRAY, V.FLOAT32)
    w.add_key_value("tokenizer.ggml.token_type", [3, 3, 1, 1, 6], V.ARRAY, V.INT32)
    w.add_key_value("test.u8_array", [1, 2, 255], V.ARRAY, V.UINT8)
    w.add_key_value("test.i64_array", [-1, 2**40], V.ARRAY, V.INT64)
    w.add_key_value("test.f64_array", [0.5, -0.25], V.ARRAY, V.FLOAT64)
    w.add_key_value("test.bool_array", [True, False, True], V.ARRAY, V.BOOL)
    w.add_key_value("test.nested", [["a", "bc"], ["def"]], V.ARRAY, V.ARRAY)

    tensors = {}
    tensors["f32"] = rng.standard_normal((3, 64)).astype(np.float32)
    tensors["f16"] = rng.standard_normal((2, 64)).astype(np.float16)
    tensors["f64"] = rng.standard_normal((2, 32)).astype(np.float64)
    tensors["i8"] = rng.integers(-128, 128, size=(32,), dtype=np.int8)
    tensors["i16"] = rng.integers(-32768, 32768, size=(32,), dtype=np.int16)
    tensors["i32"] = rng.integers(-2**24, 2**24, size=(2, 16), dtype=np.int32)
    tensors["i64"] = rng.integers(-2**24, 2**24, size=(16,), dtype=np.int64)
    for name, array in tensors.items():
        w.add_tensor(name, array)
    source = rng.standard_normal((2, 64)).astype(np.float32)
    w.add_tensor("bf16", gguf.quants.quantize(source, Q.BF16), raw_dtype=Q.BF16)
    for qtype in (Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1):
        data = rng.standard_normal((4, 64)).astype(np.float32)
        w.add_tensor(qtype.name.lower(), gguf.quants.quantize(data, qtype), raw_dtype=qtype)
    for qtype in (Q.Q4_K, Q.Q5_K, Q.Q6_K):
        blocks = random_k_blocks(qtype, 6).reshape(3, -1)  # 3 rows of 512 values
        w.add_tensor(qtype.name.lower(), blocks, raw_dtype=qtype)

    # Llama attention Q as convert_hf_to_gguf.py stores it (2 heads of 8),
    # in F32 and Q8_0; the HF-order original is the golden.
    hf_q = rng.standard_normal((16, 32)).astype(np.float32)
    permuted = hf_to_gguf_permute(hf_q, 2)
    assert np.array_equal(permuted, reshape_permute(hf_q, 2))
    w.add_tensor("blk.0.attn_q.weight", permuted)
    w.add_tensor("blk.0.attn_q.q8", gguf.quants.quantize(permuted, Q.Q8_0), raw_dtype=Q.Q8_0)
    golden("store_unpermute_f32", hf_q)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    # Goldens from gguf-py's own reader and dequantizers.
    reader = gguf.GGUFReader(path)
    dequantized = {}
    for t in reader.tensors:
        if t.tensor_type in (Q.F64, Q.I8, Q.I16, Q.I32, Q.I64):
            # Plain numbers: GGUFReader already returns them typed.
            values = np.asarray(t.data).astype(np.float32)
        else:
            values = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        dequantized[t.name] = values
        golden("gguf_" + t.name, values)
    # llmc undoes the permutation of the Q8_0 copy row by row, then decodes.
    q8 = dequantized["blk.0.attn_q.q8"].reshape(16, 32)
    golden("store_unpermute_q8", q8[inverse_permutation_rows(16, 2)])
    return dequantized


def inverse_permutation_rows(rows, n_head):
    """Row indices r such that permuted[r] is HF row i, for i in order."""
    order = hf_to_gguf_permute(np.arange(rows).reshape(rows, 1), n_head).reshape(rows)
    inverse = np.empty(rows, dtype=np.int64)
    inverse[order] = np.arange(rows)
    return inverse


def write_small_gguf_files():
    # general.alignment = 64 and one tensor; also GGUF version 2.
    path = os.path.join(DATA, "align64.gguf")
    w = gguf.GGUFWriter(path, arch="test")
    w.add_custom_alignment(64)
    w.add_tensor("a", np.arange(8, dtype=np.float32))
    w.add_tensor("b", np.arange(3, dtype=np.float32) + 100)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    data = bytearray(open(path, "rb").read())
    assert data[4:8] == struct.pack("<I", 3)
    v2 = bytearray(data)
    v2[4:8] = struct.pack("<I", 2)  # v2 and v3 share the little-endian layout
    open(os.path.join(DATA, "align64_v2.gguf"), "wb").write(v2)


# ---------------------------------------------------------------------------
# safetensors with every dtype llmc reads.
# ---------------------------------------------------------------------------
def e4m3fn_to_float(b):
    sign = -1.0 if b & 0x80 else 1.0
    exponent = (b >> 3) & 0xF
    mantissa = b & 0x7
    if exponent == 0xF and mantissa == 0x7:
        return math.nan
    if exponent == 0:
        return sign * math.ldexp(mantissa / 8.0, -6)
    return sign * math.ldexp(1.0 + mantissa / 8.0, exponent - 7)


def e5m2_to_float(b):
    sign = -1.0 if b & 0x80 else 1.0
    exponent = (b >> 2) & 0x1F
    mantissa = b & 0x3
    if exponent == 0x1F:
        return sign * math.inf if mantissa == 0 else math.nan
    if exponent == 0:
        return sign * math.ldexp(mantissa / 4.0, -14)
    return sign * math.ldexp(1.0 + mantissa / 4.0, exponent - 15)


def write_safetensors():
    arrays = {
        "f64": rng.standard_normal((2, 3)),
        "f32": rng.standard_normal((4, 5)).astype(np.float32),
        # Every f16 bit pattern class: zeros, subnormals, max, inf, nan.
        "f16": np.concatenate([
            np.array([0.0, -0.0, 6e-8, -6e-8, 6.1e-5, 65504, -65504, np.inf, -np.inf, np.nan], dtype=np.float16),
            rng.standard_normal(22).astype(np.float16)]).reshape(2, 16),
        "i64": rng.integers(-2**40, 2**40, size=(3,), dtype=np.int64),
        "i32": rng.integers(-2**20, 2**20, size=(2, 2), dtype=np.int32),
        "i16": rng.integers(-32768, 32768, size=(5,), dtype=np.int16),
        "i8": rng.integers(-128, 128, size=(7,), dtype=np.int8),
        "u8": rng.integers(0, 256, size=(6,), dtype=np.uint8),
        "bool": np.array([True, False, False, True]),
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }
    keep_alive = []
    specs = {}
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        keep_alive.append(array)
        specs[name] = TensorSpec(dtype=array.dtype.name, shape=array.shape,
                                 data_ptr=array.ctypes.data, data_len=array.nbytes)
    bf16_bits = rng.integers(0, 2**16, size=(3, 8), dtype=np.uint16)
    bf16_bits[0, :4] = [0x3F80, 0x7F80, 0xFF80, 0x7FC0]  # 1, inf, -inf, nan
    all_bytes = np.arange(256, dtype=np.uint8)
    for name, dtype, raw in (("bf16", "bfloat16", bf16_bits),
                             ("f8_e4m3", "float8_e4m3fn", all_bytes),
                             ("f8_e5m2", "float8_e5m2", all_bytes)):
        raw = np.ascontiguousarray(raw)
        keep_alive.append(raw)
        specs[name] = TensorSpec(dtype=dtype, shape=raw.shape,
                                 data_ptr=raw.ctypes.data, data_len=raw.nbytes)
    serialize_file(specs, os.path.join(DATA, "mixed.safetensors"),
                   metadata={"format": "pt", "note": "llmc test"})

    for name, array in arrays.items():
        golden("st_" + name, array.astype(np.float32))
    golden("st_bf16", (bf16_bits.astype(np.uint32) << 16).view(np.float32))
    golden("st_f8_e4m3", np.array([e4m3fn_to_float(b) for b in range(256)], dtype=np.float32))
    golden("st_f8_e5m2", np.array([e5m2_to_float(b) for b in range(256)], dtype=np.float32))
    return arrays, bf16_bits


def write_sharded():
    folder = os.path.join(DATA, "sharded")
    os.makedirs(folder, exist_ok=True)
    shard1 = {"embed.weight": np.arange(12, dtype=np.float32).reshape(3, 4),
              "layers.0.w": np.full((2, 2), 7, dtype=np.float16)}
    shard2 = {"layers.1.w": np.arange(4, dtype=np.int32),
              "lm_head.weight": -np.arange(8, dtype=np.float32).reshape(2, 4)}
    names = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
    save_file(shard1, os.path.join(folder, names[0]), metadata={"format": "pt"})
    save_file(shard2, os.path.join(folder, names[1]), metadata={"format": "pt"})
    weight_map = {k: names[0] for k in shard1}
    weight_map.update({k: names[1] for k in shard2})
    total = sum(a.nbytes for a in list(shard1.values()) + list(shard2.values()))
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


# ---------------------------------------------------------------------------
# WeightStore transform goldens (numpy).
# ---------------------------------------------------------------------------
def write_store_goldens(deq, st_arrays, bf16_bits):
    golden("store_transpose_f32", deq["f32"].reshape(3, 64).T)
    golden("store_slice_rows_q4_0", deq["q4_0"].reshape(4, 64)[1:3])
    golden("store_slice_cols_f16", deq["f16"].reshape(2, 64)[:, 16:48])
    golden("store_transpose_slice_q4_k", deq["q4_k"].reshape(3, 512).T[100:300])
    golden("store_concat_rows",
           np.concatenate([deq["f32"].reshape(3, 64), deq["q8_0"].reshape(4, 64),
                           deq["q4_0"].reshape(4, 64)], axis=0))
    golden("store_concat_cols",
           np.concatenate([st_arrays["f32"], st_arrays["f32"][:, :2]], axis=1))
    bf16 = (bf16_bits.astype(np.uint32) << 16).view(np.float32)
    golden("store_add_one_f32", bf16 + np.float32(1.0))
    # Kept in BF16: f32 sum rounded to nearest even by gguf-py's BF16 code.
    raw_golden("store_add_one_bf16", gguf.quants.quantize(bf16 + np.float32(1.0), Q.BF16).tobytes())
    raw_golden("store_q6_k_to_f16", deq["q6_k"].astype(np.float16).tobytes())
    raw_golden("store_f32_to_bf16", gguf.quants.quantize(deq["f32"], Q.BF16).tobytes())


def main():
    os.makedirs(DATA, exist_ok=True)
    deq = write_gguf()
    write_small_gguf_files()
    st_arrays, bf16_bits = write_safetensors()
    write_sharded()
    write_store_goldens(deq, st_arrays, bf16_bits)
    total = 0
    for root, _, files in os.walk(DATA):
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)  # safetensors writes 0600
            total += os.path.getsize(os.path.join(root, f))
    print(f"wrote {DATA}: {total} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
