#!/usr/bin/env python3
"""Writes a Hugging Face checkpoint of real size filled with synthetic weights.

    python3 scripts/make_synthetic_checkpoint.py CONFIG.json OUT_DIR [--dtype bf16]

For compile-cost benchmarks (docs/benchmarks.md, "Compiling Llama-3-8B"): the files are
what a real checkpoint is (config.json plus safetensors shards of at most 5 GB and
model.safetensors.index.json, the names and shapes transformers writes for
LlamaForCausalLM), so `llmc compile` reads, converts and quantizes every byte, but no
model hub is needed. Values are normal(0, 0.02) (norm weights 1), drawn once per
64 MiB block and reused with a per-tensor rotation, which keeps the script fast while
every tensor still has its own contents.
"""

import argparse
import json
import os
import shutil

import numpy as np

SHARD_BYTES = 5 * 1024**3
BLOCK_ELEMENTS = 32 * 1024 * 1024


def llama_tensors(cfg):
    h, i, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    heads, kv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    d = cfg.get("head_dim", h // heads)
    yield "model.embed_tokens.weight", (v, h)
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        yield p + "input_layernorm.weight", (h,)
        yield p + "self_attn.q_proj.weight", (heads * d, h)
        yield p + "self_attn.k_proj.weight", (kv * d, h)
        yield p + "self_attn.v_proj.weight", (kv * d, h)
        yield p + "self_attn.o_proj.weight", (h, heads * d)
        yield p + "post_attention_layernorm.weight", (h,)
        yield p + "mlp.gate_proj.weight", (i, h)
        yield p + "mlp.up_proj.weight", (i, h)
        yield p + "mlp.down_proj.weight", (h, i)
    yield "model.norm.weight", (h,)
    if not cfg.get("tie_word_embeddings", False):
        yield "lm_head.weight", (v, h)


def to_bf16_bits(x):
    """float32 -> bfloat16 bits, round to nearest even."""
    bits = x.astype(np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def write_shard(path, entries, dtype_name):
    header, offset = {}, 0
    for name, shape, data in entries:
        header[name] = dict(dtype=dtype_name, shape=list(shape),
                            data_offsets=[offset, offset + data.nbytes])
        offset += data.nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as f:
        f.write(len(blob).to_bytes(8, "little"))
        f.write(blob)
        for _, _, data in entries:
            data.tofile(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("config")
    ap.add_argument("out")
    ap.add_argument("--dtype", choices=["bf16", "f16"], default="bf16")
    args = ap.parse_args()
    cfg = json.load(open(args.config))
    if cfg.get("model_type") not in ("llama", "mistral"):
        raise SystemExit(f"{args.config}: model_type {cfg.get('model_type')!r}; this script writes llama/mistral layouts")
    os.makedirs(args.out, exist_ok=True)
    shutil.copy(args.config, os.path.join(args.out, "config.json"))

    rng = np.random.default_rng(0)
    block = rng.normal(0.0, 0.02, BLOCK_ELEMENTS).astype(np.float32)
    block = to_bf16_bits(block) if args.dtype == "bf16" else block.astype(np.float16).view(np.uint16)
    one = to_bf16_bits(np.ones(1, np.float32))[0] if args.dtype == "bf16" else np.float16(1).view(np.uint16)
    dtype_name = "BF16" if args.dtype == "bf16" else "F16"

    tensors = list(llama_tensors(cfg))
    shards, current, current_bytes = [], [], 0
    for index, (name, shape) in enumerate(tensors):
        count = int(np.prod(shape))
        if len(shape) == 1:
            data = np.full(count, one, np.uint16)
        else:
            start = (index * 7919) % BLOCK_ELEMENTS
            reps = (start + count + BLOCK_ELEMENTS - 1) // BLOCK_ELEMENTS
            data = np.tile(block, reps)[start:start + count] if reps > 1 else block[start:start + count]
        if current and current_bytes + data.nbytes > SHARD_BYTES:
            shards.append(current)
            current, current_bytes = [], 0
        current.append((name, shape, data))
        current_bytes += data.nbytes
        if current_bytes >= SHARD_BYTES:
            shards.append(current)
            current, current_bytes = [], 0
    if current:
        shards.append(current)

    weight_map, total = {}, 0
    for n, entries in enumerate(shards):
        file = f"model-{n + 1:05d}-of-{len(shards):05d}.safetensors"
        write_shard(os.path.join(args.out, file), entries, dtype_name)
        for name, _, data in entries:
            weight_map[name] = file
            total += data.nbytes
        del entries[:]
        print(f"wrote {file}")
    json.dump(dict(metadata=dict(total_size=total), weight_map=weight_map),
              open(os.path.join(args.out, "model.safetensors.index.json"), "w"), indent=2)
    print(f"{len(tensors)} tensors, {total / 1e9:.2f} GB in {len(shards)} shards")


if __name__ == "__main__":
    main()
