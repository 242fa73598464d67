#!/usr/bin/env python3
"""Writes a copy of a GGUF file with every quantized tensor dequantized by gguf-py.

    python3 test/e2e/dequantize_gguf.py IN.gguf OUT.gguf [--type f32|f16]

All metadata is copied unchanged except general.file_type (0 = ALL_F32, 1 = MOSTLY_F16).
Tensors already stored as F32 stay F32; every other tensor is dequantized with
gguf.quants.dequantize (bitwise what llmc's importer produces) and written as F32, or
with --type f16 as F16 for tensors of two or more dimensions (1-D tensors stay F32, as
llama.cpp's converter writes them).

make_llamacpp_goldens.py uses it to measure how far llama.cpp on the quantized file is
from llama.cpp on the same weights in f32: llama.cpp multiplies Q4_1 / Q4_K / Q5_0 /
Q8_0 weights against activations it first quantizes to Q8_1 / Q8_K / Q8_0, which an
f32-dequantizing runtime does not do.
"""

import argparse

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--type", choices=["f32", "f16"], default="f32")
    args = ap.parse_args()

    reader = gguf.GGUFReader(args.src)
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(args.dst, arch=arch)
    file_type = gguf.LlamaFileType.ALL_F32 if args.type == "f32" else gguf.LlamaFileType.MOSTLY_F16
    alignment = None
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        if field.name == gguf.Keys.General.ALIGNMENT:
            alignment = field.contents()
        val_type = field.types[0]
        sub_type = field.types[-1] if val_type == gguf.GGUFValueType.ARRAY else None
        value = field.contents()
        if field.name == gguf.Keys.General.FILE_TYPE:
            value = int(file_type)
        writer.add_key_value(field.name, value, val_type, sub_type=sub_type)
    if alignment is not None:
        writer.data_alignment = alignment

    arrays = []
    for t in reader.tensors:
        if t.tensor_type == Q.F32:
            arr = np.array(t.data, dtype=np.float32)
        else:
            arr = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        # numpy shape = reversed ggml ne
        arr = arr.reshape(tuple(reversed([int(n) for n in t.shape])))
        if args.type == "f16" and arr.ndim >= 2:
            arr = arr.astype(np.float16)
        arrays.append((t.name, arr))
        writer.add_tensor_info(t.name, arr.shape, arr.dtype, arr.nbytes)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for name, arr in arrays:
        writer.write_tensor_data(arr)
    writer.close()


if __name__ == "__main__":
    main()
