#!/usr/bin/env python3
"""Writes tiny Llama-, Qwen3- and Gemma 3-shaped checkpoints for llmc's import tests.

Each architecture gets the same random weights in both formats llmc imports:

  OUT/<arch>/                       Hugging Face directory: config.json,
                                    generation_config.json, model.safetensors (f32)
  OUT/<arch>.f32.gguf               GGUF written the way llama.cpp's
  OUT/<arch>.f16.gguf               convert_hf_to_gguf.py writes it (metadata keys,
  OUT/<arch>.q8_0.gguf              tensor names, llama Q/K row permutation, Gemma
                                    norms stored as 1 + w, 1-D tensors in F32,
                                    matrices in F32 / F16 / Q8_0 via gguf.quants)
  OUT/<arch>.expected.safetensors   what every imported weight must equal, in the
                                    Hugging Face layout and meaning (Gemma norms as
                                    1 + w, computed in f32)
  OUT/<arch>.f16.expected.safetensors
                                    the same rounded to f16 by numpy (the F16 file
                                    imports as an f16 module)
  OUT/<arch>.q8_0.expected.safetensors
                                    the same for the Q8_0 file, from gguf-py's own
                                    dequantization (not from the original weights)

and OUT/bad/ holds broken variants for the error tests. Only numpy, safetensors
and gguf (llama.cpp's gguf-py, from PyPI) are used: they are the independent
implementation the C++ importer is checked against.

    python3 scripts/make_tiny_model.py OUT
"""

import argparse
import json
import math
import os
import shutil
import sys

import numpy as np
from safetensors.numpy import save_file

import gguf

# Sizes: every matrix row is a multiple of 32 so that Q8_0 applies to all of them.
ARCHS = {
    "llama": dict(
        hf=dict(
            model_type="llama",
            architectures=["LlamaForCausalLM"],
            vocab_size=96,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=131072,
            rms_norm_eps=1e-5,
            rope_theta=500000.0,
            rope_scaling=dict(
                rope_type="llama3",
                factor=8.0,
                low_freq_factor=1.0,
                high_freq_factor=4.0,
                original_max_position_embeddings=8192,
            ),
            hidden_act="silu",
            tie_word_embeddings=False,
            bos_token_id=1,
            eos_token_id=2,
        ),
    ),
    "qwen3": dict(
        hf=dict(
            model_type="qwen3",
            architectures=["Qwen3ForCausalLM"],
            vocab_size=96,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=32,
            max_position_embeddings=40960,
            rms_norm_eps=1e-6,
            rope_theta=1000000.0,
            hidden_act="silu",
            tie_word_embeddings=True,
            bos_token_id=1,
            eos_token_id=2,
        ),
    ),
    "gemma3": dict(
        hf=dict(
            model_type="gemma3_text",
            architectures=["Gemma3ForCausalLM"],
            vocab_size=96,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=6,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=32,
            query_pre_attn_scalar=32,
            max_position_embeddings=32768,
            rms_norm_eps=1e-6,
            rope_theta=1000000.0,
            rope_local_base_freq=10000.0,
            rope_scaling=dict(rope_type="linear", factor=8.0),
            sliding_window=16,
            sliding_window_pattern=6,
            hidden_activation="gelu_pytorch_tanh",
            final_logit_softcapping=None,
            attn_logit_softcapping=None,
            tie_word_embeddings=True,
            bos_token_id=2,
            eos_token_id=1,
        ),
    ),
}

GGUF_ARCH = {"llama": "llama", "qwen3": "qwen3", "gemma3": "gemma3"}


def head_dim(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def hf_weights(arch, cfg, rng):
    """Random weights under Hugging Face names, f32."""
    h, f, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    d = head_dim(cfg)
    nq, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    gemma = arch == "gemma3"

    def matrix(rows, cols):
        return (rng.standard_normal((rows, cols)) * 0.05).astype(np.float32)

    def norm(size):
        # Gemma stores w and applies 1 + w; the others store the scale itself.
        base = 0.0 if gemma else 1.0
        return (base + rng.standard_normal(size) * 0.1).astype(np.float32)

    w = {"model.embed_tokens.weight": matrix(v, h)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = norm(h)
        w[p + "self_attn.q_proj.weight"] = matrix(nq * d, h)
        w[p + "self_attn.k_proj.weight"] = matrix(nkv * d, h)
        w[p + "self_attn.v_proj.weight"] = matrix(nkv * d, h)
        w[p + "self_attn.o_proj.weight"] = matrix(h, nq * d)
        if arch in ("qwen3", "gemma3"):
            w[p + "self_attn.q_norm.weight"] = norm(d)
            w[p + "self_attn.k_norm.weight"] = norm(d)
        w[p + "post_attention_layernorm.weight"] = norm(h)
        if gemma:
            w[p + "pre_feedforward_layernorm.weight"] = norm(h)
            w[p + "post_feedforward_layernorm.weight"] = norm(h)
        w[p + "mlp.gate_proj.weight"] = matrix(f, h)
        w[p + "mlp.up_proj.weight"] = matrix(f, h)
        w[p + "mlp.down_proj.weight"] = matrix(h, f)
    w["model.norm.weight"] = norm(h)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = matrix(v, h)
    return w


# --- what convert_hf_to_gguf.py does


def permute(w, n_head):
    """LlamaModel.permute: interleave the two rotary halves of each head."""
    return (
        w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def unpermute(w, n_head):
    return (
        w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


LAYER_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def gguf_name(arch, hf):
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    _, _, layer, rest = hf.split(".", 3)
    if arch == "gemma3":
        special = {
            "post_attention_layernorm.weight": "post_attention_norm.weight",
            "pre_feedforward_layernorm.weight": "ffn_norm.weight",
            "post_feedforward_layernorm.weight": "post_ffw_norm.weight",
        }
    else:
        special = {"post_attention_layernorm.weight": "ffn_norm.weight"}
    return f"blk.{layer}." + special.get(rest, LAYER_NAMES.get(rest, rest))


def gguf_tensor(arch, cfg, hf, w):
    """The tensor convert_hf_to_gguf.py would store for `hf` (before its dtype)."""
    if arch == "llama" and hf.endswith("self_attn.q_proj.weight"):
        return permute(w, cfg["num_attention_heads"])
    if arch == "llama" and hf.endswith("self_attn.k_proj.weight"):
        return permute(w, cfg["num_key_value_heads"])
    if arch == "gemma3" and hf.endswith("norm.weight"):
        return w + np.float32(1.0)  # Gemma3Model: data_torch + 1 for norms
    return w


def llama3_rope_freqs(cfg):
    """LlamaModel.generate_extra_tensors: Llama 3 scaling as per-frequency factors."""
    s = cfg["rope_scaling"]
    base, dim = cfg["rope_theta"], head_dim(cfg)
    factor, low, high = s["factor"], s["low_freq_factor"], s["high_freq_factor"]
    old = s["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    freqs = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
    factors = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            factors.append(1)
        elif wavelen > low_wavelen:
            factors.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(factors, dtype=np.float32)


def add_metadata(writer, arch, cfg, file_type):
    a = GGUF_ARCH[arch]
    writer.add_name(f"tiny-{arch}")
    writer.add_context_length(cfg["max_position_embeddings"])
    writer.add_embedding_length(cfg["hidden_size"])
    writer.add_block_count(cfg["num_hidden_layers"])
    writer.add_feed_forward_length(cfg["intermediate_size"])
    writer.add_head_count(cfg["num_attention_heads"])
    writer.add_head_count_kv(cfg["num_key_value_heads"])
    writer.add_rope_freq_base(cfg["rope_theta"])
    writer.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    if "head_dim" in cfg:
        writer.add_key_length(cfg["head_dim"])
        writer.add_value_length(cfg["head_dim"])
    if a == "llama":
        writer.add_vocab_size(cfg["vocab_size"])
        writer.add_rope_dimension_count(head_dim(cfg))
    if a == "gemma3":
        writer.add_sliding_window(cfg["sliding_window"])
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(cfg["rope_scaling"]["factor"])
    writer.add_file_type(file_type)
    # A minimal tokenizer: enough metadata for a reader, not a real vocabulary.
    tokens = ["<unk>", "<s>", "</s>"] + [f"t{i}" for i in range(cfg["vocab_size"] - 3)]
    if a == "gemma3":
        tokens[1], tokens[2] = "<eos>", "<bos>"
        writer.add_tokenizer_model("llama")
        writer.add_token_scores([0.0] * len(tokens))
    else:
        writer.add_tokenizer_model("gpt2")
        writer.add_token_merges(["t 1", "t 2"])
    writer.add_token_list(tokens)
    writer.add_token_types([3, 3, 3] + [1] * (len(tokens) - 3))
    writer.add_bos_token_id(cfg["bos_token_id"])
    writer.add_eos_token_id(cfg["eos_token_id"])


def write_gguf(path, arch, cfg, weights, kind, drop=(), override=None, extra=None,
               arch_name=None):
    """kind: f32, f16 or q8_0 (the matrix encoding; 1-D tensors stay F32).
    Returns {hf name: the values the importer must produce} for q8_0."""
    file_type = {
        "f32": gguf.LlamaFileType.ALL_F32,
        "f16": gguf.LlamaFileType.MOSTLY_F16,
        "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
    }[kind]
    writer = gguf.GGUFWriter(path, arch_name or GGUF_ARCH[arch])
    add_metadata(writer, arch, cfg, file_type)
    expected = {}
    if arch == "llama":
        writer.add_tensor("rope_freqs.weight", llama3_rope_freqs(cfg))
    for hf, w in weights.items():
        name = gguf_name(arch, hf)
        if name in drop:
            continue
        data = gguf_tensor(arch, cfg, hf, w)
        if override and name in override:
            data = override[name]
        if data.ndim == 1 or kind == "f32":
            writer.add_tensor(name, data.astype(np.float32))
            stored = data.astype(np.float32)
        elif kind == "f16":
            writer.add_tensor(name, data.astype(np.float16))
            stored = data.astype(np.float16).astype(np.float32)
        else:
            q = gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(name, q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
            stored = gguf.quants.dequantize(q, gguf.GGMLQuantizationType.Q8_0)
            stored = stored.reshape(data.shape).astype(np.float32)
        # Back to the Hugging Face layout; norms keep the stored 1 + w.
        if arch == "llama" and hf.endswith("q_proj.weight"):
            stored = unpermute(stored, cfg["num_attention_heads"])
        elif arch == "llama" and hf.endswith("k_proj.weight"):
            stored = unpermute(stored, cfg["num_key_value_heads"])
        expected[hf] = np.ascontiguousarray(stored)
    for name, (data, qtype) in (extra or {}).items():
        writer.add_tensor(name, data, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return expected


def write_hf(directory, cfg, weights):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(dict(cfg, torch_dtype="float32"), f, indent=2)
    with open(os.path.join(directory, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": cfg["bos_token_id"],
                   "eos_token_id": cfg["eos_token_id"]}, f, indent=2)
    save_file(weights, os.path.join(directory, "model.safetensors"),
              metadata={"format": "pt"})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="output directory (replaced)")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    os.makedirs(os.path.join(args.out, "bad"))

    for index, (arch, spec) in enumerate(ARCHS.items()):
        cfg = spec["hf"]
        rng = np.random.default_rng(args.seed + index)
        weights = hf_weights(arch, cfg, rng)
        write_hf(os.path.join(args.out, arch), cfg, weights)
        # The meaning of each weight: Gemma's norms as 1 + w, in f32.
        meaning = {hf: (w + np.float32(1.0) if arch == "gemma3" and
                        hf.endswith("norm.weight") else w)
                   for hf, w in weights.items()}
        save_file(meaning, os.path.join(args.out, f"{arch}.expected.safetensors"))
        # An F16 file gives an f16 module: numpy's rounding of the meaning.
        save_file({hf: w.astype(np.float16) for hf, w in meaning.items()},
                  os.path.join(args.out, f"{arch}.f16.expected.safetensors"))
        for kind in ("f32", "f16"):
            write_gguf(os.path.join(args.out, f"{arch}.{kind}.gguf"), arch, cfg,
                       weights, kind)
        q8 = write_gguf(os.path.join(args.out, f"{arch}.q8_0.gguf"), arch, cfg,
                        weights, "q8_0")
        save_file(q8, os.path.join(args.out, f"{arch}.q8_0.expected.safetensors"))

    # Broken inputs, all from the tiny Llama.
    cfg = ARCHS["llama"]["hf"]
    weights = hf_weights("llama", cfg, np.random.default_rng(args.seed))
    bad = os.path.join(args.out, "bad")
    write_gguf(os.path.join(bad, "unknown_arch.gguf"), "llama", cfg, weights, "f32",
               arch_name="xyz")
    write_gguf(os.path.join(bad, "missing_tensor.gguf"), "llama", cfg, weights, "f32",
               drop={"blk.1.ffn_up.weight"})
    write_gguf(os.path.join(bad, "shape_mismatch.gguf"), "llama", cfg, weights, "f32",
               override={"blk.0.attn_k.weight": np.zeros((48, 64), np.float32)})
    # Q2_K: a ggml type llmc does not decode (84 bytes per block of 256).
    write_gguf(os.path.join(bad, "q2_k.gguf"), "llama", cfg, weights, "f32",
               extra={"blk.0.extra.weight": (np.zeros((1, 84), np.uint8),
                                             gguf.GGMLQuantizationType.Q2_K)})
    missing = dict(weights)
    del missing["model.layers.1.mlp.up_proj.weight"]
    write_hf(os.path.join(bad, "hf_missing_tensor"), cfg, missing)
    shape = dict(weights)
    shape["model.layers.0.self_attn.k_proj.weight"] = np.zeros((48, 64), np.float32)
    write_hf(os.path.join(bad, "hf_shape_mismatch"), cfg, shape)
    return 0


if __name__ == "__main__":
    sys.exit(main())
