#!/usr/bin/env python3
"""Writes tiny Llama-, Qwen2-, Qwen3-, Mistral- and Gemma 3-shaped checkpoints for llmc's import tests.

Each architecture gets the same random weights in both formats llmc imports:

  OUT/<arch>/                       Hugging Face directory: config.json,
                                    generation_config.json, model.safetensors (f32),
                                    tokenizer.json, tokenizer_config.json
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

  OUT/<arch>.tokenizer.expected.json
                                    texts and the ids / decodes Hugging Face
                                    `tokenizers` gives for them with the model's
                                    tokenizer.json (with and without special tokens)

Each model has a real small BPE vocabulary (vocab_size tokens: its special
tokens, the characters of TOKENIZER_CORPUS, and merges learned on it): byte-level
for llama (`llama-bpe`) and the Qwens (`qwen2`), SentencePiece-style scored
pieces for Mistral (space prefix) and Gemma 3 (none). The GGUF files carry it as
`tokenizer.ggml.*` metadata; the Hugging Face tokenizer.json is built from the
same vectors by test/unit/tokenizer/tokenizer_parity.py's reference construction.
OUT/mistral_swa/ is the Mistral directory with `sliding_window` set (llama.cpp's
converter writes Mistral as `llama` and drops the window, so it has no GGUF).

OUT/bad/ holds broken variants for the error tests. Only numpy, safetensors,
gguf (llama.cpp's gguf-py, from PyPI) and tokenizers are used: they are the
independent implementation the C++ importer is checked against.

    python3 scripts/make_tiny_model.py OUT
"""

import argparse
import json
import math
import os
import re
import shutil
import sys

import numpy as np
from safetensors.numpy import save_file

import gguf
import tokenizers

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test",
                                "unit", "tokenizer"))
import tokenizer_parity  # noqa: E402  (the Hugging Face reference construction)

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
    "qwen2": dict(
        # Qwen2.5-0.5B-like: q/k/v biases, tied embeddings, no sliding window.
        hf=dict(
            model_type="qwen2",
            architectures=["Qwen2ForCausalLM"],
            vocab_size=96,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=32768,
            rms_norm_eps=1e-6,
            rope_theta=1000000.0,
            hidden_act="silu",
            use_sliding_window=False,
            sliding_window=32768,
            max_window_layers=21,
            tie_word_embeddings=True,
            bos_token_id=1,
            eos_token_id=2,
        ),
    ),
    "mistral": dict(
        # Mistral-7B-v0.2/v0.3-like: llama layout, no sliding window.
        hf=dict(
            model_type="mistral",
            architectures=["MistralForCausalLM"],
            vocab_size=96,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=16,
            max_position_embeddings=32768,
            rms_norm_eps=1e-5,
            rope_theta=1000000.0,
            sliding_window=None,
            hidden_act="silu",
            tie_word_embeddings=False,
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

# convert_hf_to_gguf.py writes MistralForCausalLM with its LlamaModel.
GGUF_ARCH = {"llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3", "mistral": "llama",
             "gemma3": "gemma3"}
# LlamaModel permutes the Q/K rows for llama.cpp's RoPE layout.
PERMUTED = ("llama", "mistral")


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

    def bias(size):
        return (rng.standard_normal(size) * 0.1).astype(np.float32)

    w = {"model.embed_tokens.weight": matrix(v, h)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = norm(h)
        w[p + "self_attn.q_proj.weight"] = matrix(nq * d, h)
        w[p + "self_attn.k_proj.weight"] = matrix(nkv * d, h)
        w[p + "self_attn.v_proj.weight"] = matrix(nkv * d, h)
        w[p + "self_attn.o_proj.weight"] = matrix(h, nq * d)
        if arch == "qwen2":
            w[p + "self_attn.q_proj.bias"] = bias(nq * d)
            w[p + "self_attn.k_proj.bias"] = bias(nkv * d)
            w[p + "self_attn.v_proj.bias"] = bias(nkv * d)
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
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.bias": "attn_v.bias",
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
    if arch in PERMUTED and hf.endswith("self_attn.q_proj.weight"):
        return permute(w, cfg["num_attention_heads"])
    if arch in PERMUTED and hf.endswith("self_attn.k_proj.weight"):
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


def add_metadata(writer, arch, cfg, file_type, tokenizer_overrides=None):
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
    v = dict(tiny_tokenizer(arch, cfg))
    for key, value in (tokenizer_overrides or {}).items():
        if value is None:
            v.pop(key, None)
        else:
            v[key] = value
    writer.add_tokenizer_model(v["tokenizer.ggml.model"])
    if "tokenizer.ggml.pre" in v:
        writer.add_tokenizer_pre(v["tokenizer.ggml.pre"])
    writer.add_token_list(v["tokenizer.ggml.tokens"])
    if "tokenizer.ggml.merges" in v:
        writer.add_token_merges(v["tokenizer.ggml.merges"])
    if "tokenizer.ggml.scores" in v:
        writer.add_token_scores(v["tokenizer.ggml.scores"])
    if "tokenizer.ggml.token_type" in v:
        writer.add_token_types(v["tokenizer.ggml.token_type"])
    if "tokenizer.ggml.bos_token_id" in v:
        writer.add_bos_token_id(v["tokenizer.ggml.bos_token_id"])
    if "tokenizer.ggml.eos_token_id" in v:
        writer.add_eos_token_id(v["tokenizer.ggml.eos_token_id"])
    if "tokenizer.ggml.unknown_token_id" in v:
        writer.add_unk_token_id(v["tokenizer.ggml.unknown_token_id"])
    if "tokenizer.ggml.padding_token_id" in v:
        writer.add_pad_token_id(v["tokenizer.ggml.padding_token_id"])
    if "tokenizer.ggml.add_bos_token" in v:
        writer.add_add_bos_token(v["tokenizer.ggml.add_bos_token"])
    if "tokenizer.ggml.add_eos_token" in v:
        writer.add_add_eos_token(v["tokenizer.ggml.add_eos_token"])
    if "tokenizer.ggml.add_space_prefix" in v:
        writer.add_add_space_prefix(v["tokenizer.ggml.add_space_prefix"])
    if "tokenizer.chat_template" in v:
        writer.add_chat_template(v["tokenizer.chat_template"])


# --- the tokenizers: small real BPE vocabularies learned on TOKENIZER_CORPUS

TOKENIZER_CORPUS = (
    "the quick brown fox jumps over the lazy dog. the compiler reads the model and "
    "writes the plan.\nthe runtime loads the plan, then it runs the model on the text. "
    "it's fast!\nwhere is the tokenizer? here it is: the tokenizer turns text into "
    "tokens.\nthe model writes tokens, the tokenizer reads them.\n")

LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] "
    "+ '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}")
CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}")
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}"
    "{{ message['content'] + eos_token }}{% endif %}{% endfor %}")
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% set role = 'model' if message['role'] "
    "== 'assistant' else message['role'] %}{{ '<start_of_turn>' + role + '\n' + "
    "message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<start_of_turn>model\n' }}{% endif %}")

# Per model: GGUF tokenizer.ggml.model, pre-tokenizer, special tokens (ids 0..),
# which of them are bos / eos / unk, flags and chat template.
QWEN_TOKENIZER = dict(model="gpt2", pre="qwen2",
                      specials=["<|pad|>", "<|endoftext|>", "<|im_end|>", "<|im_start|>"],
                      add_bos=False, template=CHATML_TEMPLATE,
                      special_text="<|im_start|>user\nthe plan<|im_end|>\n<|im_start|>assistant\n")
TOKENIZERS = {
    "llama": dict(model="gpt2", pre="llama-bpe",
                  specials=["<|reserved_special_token_0|>", "<|begin_of_text|>",
                            "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                            "<|eot_id|>"],
                  add_bos=True, template=LLAMA3_TEMPLATE,
                  special_text="<|start_header_id|>user<|end_header_id|>\n\nthe plan<|eot_id|>"),
    "qwen2": QWEN_TOKENIZER,
    "qwen3": QWEN_TOKENIZER,
    "mistral": dict(model="llama", specials=["<unk>", "<s>", "</s>", "[INST]", "[/INST]"],
                    unk=0, add_bos=True, space_prefix=True, template=MISTRAL_TEMPLATE,
                    special_text="[INST] the plan [/INST]"),
    "gemma3": dict(model="llama", specials=["<unk>", "<eos>", "<bos>", "<start_of_turn>",
                                            "<end_of_turn>"],
                   unk=0, pad=0, add_bos=True, space_prefix=False, template=GEMMA_TEMPLATE,
                   special_text="<start_of_turn>user\nthe plan<end_of_turn>\n"),
}

# What the tests encode: in the corpus alphabet (byte-level models have no
# token for other bytes), plus each model's chat markup and, for the
# SentencePiece models, characters they lack (unknown token).
TOKENIZER_TEXTS = [
    "the quick brown fox jumps over the lazy dog.",
    "the  model runs, then it writes tokens!\n\nwhere?",
    "it's the tokenizer's text: a quiz on jazz",
    " leading and trailing spaces  ",
    "tokenizer\n\n\ntokens",
    "",
]


def bytes_to_unicode():
    """GPT-2's byte -> printable character map."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1))
                 + list(range(ord("\xae"), ord("\xff") + 1)))
    chars = list(printable)
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return dict(zip(printable, map(chr, chars)))


def learn_merges(words, tokens, vocab_size):
    """Plain BPE training: merge the most frequent adjacent pair (ties: the
    smallest pair) until the vocabulary has vocab_size tokens."""
    words = {tuple(word): count for word, count in words.items()}
    merges = []
    known = set(tokens)
    while len(tokens) < vocab_size:
        pairs = {}
        for word, count in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] = pairs.get(pair, 0) + count
        if not pairs:
            raise SystemExit("TOKENIZER_CORPUS is too small for the vocabulary")
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merged = best[0] + best[1]
        merges.append(best)
        if merged not in known:
            known.add(merged)
            tokens.append(merged)
        new_words = {}
        for word, count in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(merged)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            new_words[tuple(out)] = new_words.get(tuple(out), 0) + count
        words = new_words
    return merges


_TOKENIZER_CACHE = {}


def tiny_tokenizer(arch, cfg):
    """The model's tokenizer as GGUF `tokenizer.*` metadata (a dict keyed by
    the GGUF key names, the form tokenizer_parity.py works on)."""
    if arch in _TOKENIZER_CACHE:
        return _TOKENIZER_CACHE[arch]
    spec = TOKENIZERS[arch]
    tokens = list(spec["specials"])
    words = {}
    if spec["model"] == "gpt2":
        table = bytes_to_unicode()
        pieces = re.findall(r"'s|'t|'re|'ve|'m|'ll|'d|[^\r\n\w]?[a-z]+|\d| ?[^\s\w]+[\r\n]*"
                            r"|\s*[\r\n]+|\s+(?!\S)|\s+", TOKENIZER_CORPUS)
        for piece in pieces:
            word = "".join(table[b] for b in piece.encode("utf-8"))
            words[word] = words.get(word, 0) + 1
    else:
        text = TOKENIZER_CORPUS.replace(" ", tokenizer_parity.METASPACE)
        for piece in re.findall(tokenizer_parity.METASPACE + "?[^" + tokenizer_parity.METASPACE
                                + "]+", text):
            words[piece] = words.get(piece, 0) + 1
    alphabet = sorted({c for word in words for c in word})
    tokens += alphabet
    merges = learn_merges({tuple(w): c for w, c in words.items()}, tokens, cfg["vocab_size"])
    n_special = len(spec["specials"])
    v = {"tokenizer.ggml.model": spec["model"], "tokenizer.ggml.tokens": tokens,
         "tokenizer.ggml.token_type": [3] * n_special + [1] * (len(tokens) - n_special),
         "tokenizer.ggml.bos_token_id": cfg["bos_token_id"],
         "tokenizer.ggml.eos_token_id": cfg["eos_token_id"],
         "tokenizer.ggml.add_bos_token": spec["add_bos"],
         "tokenizer.ggml.add_eos_token": False,
         "tokenizer.chat_template": spec["template"]}
    if spec["model"] == "gpt2":
        v["tokenizer.ggml.pre"] = spec["pre"]
        v["tokenizer.ggml.merges"] = [f"{a} {b}" for a, b in merges]
    else:
        # SentencePiece pieces carry scores: a merged piece scores by how early
        # it was learned, characters and specials lowest / zero.
        rank = {a + b: i for i, (a, b) in reversed(list(enumerate(merges)))}
        v["tokenizer.ggml.scores"] = [
            0.0 if i < n_special else float(-1 - rank[t]) if t in rank else -1000.0
            for i, t in enumerate(tokens)]
        v["tokenizer.ggml.add_space_prefix"] = spec["space_prefix"]
        v["tokenizer.ggml.unknown_token_id"] = spec["unk"]
        if "pad" in spec:
            v["tokenizer.ggml.padding_token_id"] = spec["pad"]
    assert len(tokens) == cfg["vocab_size"], (arch, len(tokens))
    _TOKENIZER_CACHE[arch] = v
    return v


def write_hf_tokenizer(directory, arch, cfg):
    """tokenizer.json (tokenizer_parity.py's reference construction from the
    vectors), tokenizer_config.json, and the HF ids of the test texts."""
    v = tiny_tokenizer(arch, cfg)
    doc = tokenizer_parity.reference_tokenizer_json(v)
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    with open(os.path.join(directory, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(text)
    tokens = v["tokenizer.ggml.tokens"]
    config = {"bos_token": tokens[v["tokenizer.ggml.bos_token_id"]],
              "eos_token": tokens[v["tokenizer.ggml.eos_token_id"]],
              "add_bos_token": v["tokenizer.ggml.add_bos_token"],
              "add_eos_token": False,
              "chat_template": v["tokenizer.chat_template"],
              "model_max_length": cfg["max_position_embeddings"],
              "tokenizer_class": "PreTrainedTokenizerFast"}
    if "tokenizer.ggml.unknown_token_id" in v:
        config["unk_token"] = tokens[v["tokenizer.ggml.unknown_token_id"]]
    with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
    hf = tokenizers.Tokenizer.from_str(text)
    texts = list(TOKENIZER_TEXTS) + [TOKENIZERS[arch]["special_text"]]
    if v["tokenizer.ggml.model"] == "llama":
        texts.append("The Model runs; OK?")  # T, M, ;, O, K are not in the vocabulary
    ids = [hf.encode(t, add_special_tokens=False).ids for t in texts]
    return {"texts": texts, "ids": ids,
            "ids_with_special_tokens": [hf.encode(t, add_special_tokens=True).ids
                                        for t in texts],
            "decoded": [hf.decode(i, skip_special_tokens=False) for i in ids],
            "vocab_size": len(tokens), "bos_token_id": v["tokenizer.ggml.bos_token_id"],
            "eos_token_id": v["tokenizer.ggml.eos_token_id"]}


def write_gguf(path, arch, cfg, weights, kind, drop=(), override=None, extra=None,
               arch_name=None, tokenizer_overrides=None):
    """kind: f32, f16 or q8_0 (the matrix encoding; 1-D tensors stay F32).
    Returns {hf name: the values the importer must produce} for q8_0."""
    file_type = {
        "f32": gguf.LlamaFileType.ALL_F32,
        "f16": gguf.LlamaFileType.MOSTLY_F16,
        "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
    }[kind]
    writer = gguf.GGUFWriter(path, arch_name or GGUF_ARCH[arch])
    add_metadata(writer, arch, cfg, file_type, tokenizer_overrides)
    expected = {}
    if (cfg.get("rope_scaling") or {}).get("rope_type") == "llama3":
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
        if arch in PERMUTED and hf.endswith("q_proj.weight"):
            stored = unpermute(stored, cfg["num_attention_heads"])
        elif arch in PERMUTED and hf.endswith("k_proj.weight"):
            stored = unpermute(stored, cfg["num_key_value_heads"])
        expected[hf] = np.ascontiguousarray(stored)
    for name, (data, qtype) in (extra or {}).items():
        writer.add_tensor(name, data, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return expected


def write_hf(directory, cfg, weights, arch=None):
    """With `arch`, also the tokenizer files; returns the tokenizer goldens."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(dict(cfg, torch_dtype="float32"), f, indent=2)
    with open(os.path.join(directory, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": cfg["bos_token_id"],
                   "eos_token_id": cfg["eos_token_id"]}, f, indent=2)
    save_file(weights, os.path.join(directory, "model.safetensors"),
              metadata={"format": "pt"})
    return write_hf_tokenizer(directory, arch, cfg) if arch else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="output directory (replaced)")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    os.makedirs(os.path.join(args.out, "bad"))

    # Seeds by the order the architectures were added, so that adding one
    # leaves the others' weights alone.
    seed_offset = {"llama": 0, "qwen3": 1, "gemma3": 2, "qwen2": 3, "mistral": 4}
    for arch, spec in ARCHS.items():
        cfg = spec["hf"]
        rng = np.random.default_rng(args.seed + seed_offset[arch])
        weights = hf_weights(arch, cfg, rng)
        goldens = write_hf(os.path.join(args.out, arch), cfg, weights, arch)
        with open(os.path.join(args.out, f"{arch}.tokenizer.expected.json"), "w",
                  encoding="utf-8") as f:
            json.dump(goldens, f, indent=1, ensure_ascii=False)
        if arch == "mistral":
            # Mistral 7B v0.1: a 4096-token window on every layer (here 16).
            write_hf(os.path.join(args.out, "mistral_swa"),
                     dict(cfg, sliding_window=16, rope_theta=10000.0), weights, arch)
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
    # Tokenizer metadata: optional keys left out (llama.cpp's defaults apply),
    # and broken ones.
    mcfg = ARCHS["mistral"]["hf"]
    mweights = hf_weights("mistral", mcfg, np.random.default_rng(args.seed + 4))
    write_gguf(os.path.join(args.out, "mistral_tokenizer_defaults.gguf"), "mistral", mcfg,
               mweights, "f32", tokenizer_overrides={
                   key: None for key in (
                       "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                       "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.add_bos_token",
                       "tokenizer.ggml.add_eos_token", "tokenizer.ggml.add_space_prefix",
                       "tokenizer.ggml.token_type", "tokenizer.chat_template")})
    write_gguf(os.path.join(bad, "tokenizer_model.gguf"), "llama", cfg, weights, "f32",
               tokenizer_overrides={"tokenizer.ggml.model": "bert"})
    write_gguf(os.path.join(bad, "tokenizer_scores.gguf"), "mistral", mcfg, mweights, "f32",
               tokenizer_overrides={"tokenizer.ggml.scores": [0.0] * 95})
    write_gguf(os.path.join(bad, "tokenizer_pre.gguf"), "llama", cfg, weights, "f32",
               tokenizer_overrides={"tokenizer.ggml.pre": "no-such-pre"})
    missing = dict(weights)
    del missing["model.layers.1.mlp.up_proj.weight"]
    write_hf(os.path.join(bad, "hf_missing_tensor"), cfg, missing)
    shape = dict(weights)
    shape["model.layers.0.self_attn.k_proj.weight"] = np.zeros((48, 64), np.float32)
    write_hf(os.path.join(bad, "hf_shape_mismatch"), cfg, shape)
    # Hugging Face tokenizer and generation config files.
    stops = os.path.join(args.out, "qwen2_stops")
    write_hf(stops, ARCHS["qwen2"]["hf"], hf_weights("qwen2", ARCHS["qwen2"]["hf"],
                                                     np.random.default_rng(args.seed + 3)),
             "qwen2")
    with open(os.path.join(stops, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 1, "eos_token_id": [2, 1], "do_sample": True}, f)
    write_hf(os.path.join(args.out, "llama_no_tokenizer"), cfg, weights)
    bad_tok = os.path.join(bad, "hf_tokenizer_json")
    write_hf(bad_tok, cfg, weights, "llama")
    with open(os.path.join(bad_tok, "tokenizer.json"), "w") as f:
        f.write('{"model": {"type": "Unigram"}}')
    bad_gen = os.path.join(bad, "hf_generation_config")
    write_hf(bad_gen, cfg, weights)
    with open(os.path.join(bad_gen, "generation_config.json"), "w") as f:
        json.dump({"eos_token_id": ["</s>"]}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
