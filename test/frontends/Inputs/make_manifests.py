#!/usr/bin/env python3
"""Writes the weight manifests the lit tests in test/frontends/ read.

Each manifest lists the tensors a real Hugging Face safetensors checkpoint of
that family holds (names as transformers saves them, [out, in] linear
weights), at the tiny sizes of the matching *.config.json. They are written
from the transformers module structure, not from llmc's builder, so the tests
check the builder against the checkpoints' layout. Run from this folder:
`python3 make_manifests.py`.
"""
import json


def t(dtype, *shape):
    return {"dtype": dtype, "shape": list(shape)}


def decoder(prefix, layers, hidden, inter, heads, kv, head_dim, dtype,
            qkv_bias=False, qk_norm=False, gemma_norms=False):
    w = {}
    for i in range(layers):
        p = f"{prefix}layers.{i}."
        w[p + "input_layernorm.weight"] = t(dtype, hidden)
        w[p + "post_attention_layernorm.weight"] = t(dtype, hidden)
        if gemma_norms:
            w[p + "pre_feedforward_layernorm.weight"] = t(dtype, hidden)
            w[p + "post_feedforward_layernorm.weight"] = t(dtype, hidden)
        for name, rows in (("q", heads), ("k", kv), ("v", kv)):
            w[p + f"self_attn.{name}_proj.weight"] = t(dtype, rows * head_dim, hidden)
            if qkv_bias:
                w[p + f"self_attn.{name}_proj.bias"] = t(dtype, rows * head_dim)
        w[p + "self_attn.o_proj.weight"] = t(dtype, hidden, heads * head_dim)
        if qk_norm:
            w[p + "self_attn.q_norm.weight"] = t(dtype, head_dim)
            w[p + "self_attn.k_norm.weight"] = t(dtype, head_dim)
        w[p + "mlp.gate_proj.weight"] = t(dtype, inter, hidden)
        w[p + "mlp.up_proj.weight"] = t(dtype, inter, hidden)
        w[p + "mlp.down_proj.weight"] = t(dtype, hidden, inter)
    return w


def model(vocab, hidden, dtype, tied, prefix="model.", lm_head="lm_head.weight", **kw):
    w = {prefix + "embed_tokens.weight": t(dtype, vocab, hidden),
         prefix + "norm.weight": t(dtype, hidden)}
    w.update(decoder(prefix, hidden=hidden, dtype=dtype, **kw))
    if not tied:
        w[lm_head] = t(dtype, vocab, hidden)
    return w


def write(name, tensors):
    # One tensor per line, like a pretty-printed safetensors header.
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(tensors.items())]
    with open(name, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")


# SmolLM2-style Llama: GQA 4/2, tied embeddings; old transformers also saved
# rotary_emb.inv_freq, which the builder must accept and ignore.
llama = model(256, 64, "BF16", True, layers=2, inter=128, heads=4, kv=2, head_dim=16)
llama["model.layers.0.self_attn.rotary_emb.inv_freq"] = t("F32", 8)
write("llama_tied.weights.json", llama)

# Llama 3.2-style: llama3 rope scaling, untied head, f32 weights.
write("llama3.weights.json",
      model(512, 64, "F32", False, layers=2, inter=160, heads=4, kv=1, head_dim=16))

# Mistral v0.1-style: sliding window on every layer, f16.
write("mistral.weights.json",
      model(320, 64, "F16", False, layers=2, inter=224, heads=8, kv=2, head_dim=8))

# Qwen2.5-style: q/k/v biases, tied.
write("qwen2.weights.json",
      model(384, 64, "BF16", True, layers=2, inter=96, heads=4, kv=2, head_dim=16,
            qkv_bias=True))

# Qwen3-style: explicit head_dim (heads * head_dim != hidden), QK-norm.
write("qwen3.weights.json",
      model(384, 64, "BF16", True, layers=2, inter=96, heads=4, kv=2, head_dim=32,
            qk_norm=True))

# Gemma 3 (text): 3 layers, pattern 3 -> local, local, global.
write("gemma3_text.weights.json",
      model(300, 40, "BF16", True, layers=3, inter=80, heads=2, kv=1, head_dim=16,
            qk_norm=True, gemma_norms=True))

# Gemma 3 multimodal (transformers < 4.52 layout): text decoder under
# language_model.model., plus a vision tower the text import leaves alone.
mm = model(300, 40, "BF16", True, prefix="language_model.model.", layers=2,
           inter=80, heads=2, kv=1, head_dim=16, qk_norm=True, gemma_norms=True)
mm["vision_tower.vision_model.embeddings.patch_embedding.weight"] = t("BF16", 32, 3, 14, 14)
mm["multi_modal_projector.mm_input_projection_weight"] = t("BF16", 32, 40)
write("gemma3_mm.weights.json", mm)
