#!/usr/bin/env python3
"""Writes the goldens the CPU backend's unit tests compare against (data/*.npy).

The reference is PyTorch (CPU) and Hugging Face transformers, an implementation
independent of ours; the tests read the committed .npy files and run without
torch. Regenerate with

    pip install torch transformers numpy    # producing goldens only
    python3 test/unit/cpu_backend/make_goldens.py

Every input comes from torch.Generator seeds below, so the files are
reproducible. bf16/f16 tensors are stored as their uint16 bit patterns
(suffix _bf16 / _f16); everything else is float32 (or int32 for ids and
positions). How each golden is made:

- rms_norm_*: transformers' LlamaRMSNorm (eps 1e-6) in f32; rms_norm_bf16_*:
  the same f32 computation on bf16 inputs widened to f32 (the test checks our
  bf16 output to within bf16 rounding of it).
- layer_norm_*: torch.nn.functional.layer_norm in f32 (weight and bias).
- linear_<case>_*: torch.nn.functional.linear in f32; for bf16/f16 weights
  the weight is rounded to that type first and the product taken in f32
  (which is what widening in registers computes).
- rope_<case>_*: transformers' LlamaRotaryEmbedding (rope_type default,
  linear, llama3) + apply_rotary_pos_emb for the half style; the interleaved
  style rotates pairs (2i, 2i+1) with the same cos/sin, as Meta's original
  Llama does with torch.polar; partial rotary applies HF's rotation to the
  first rotary_dim elements (GPT-NeoX). rope_inv_freq_yarn: transformers'
  ROPE_INIT_FUNCTIONS["yarn"].
- attention_<case>_*: torch.nn.functional.scaled_dot_product_attention per
  sequence with GQA through repeat_interleave of the KV heads and a boolean
  causal mask built from absolute positions; the window/softcap case computes
  logits = q k^T * scale, softcap * tanh(logits / softcap), a sliding-window
  causal mask (p - k < window) and softmax in torch.
- gelu_exact / gelu_tanh / silu / softmax: torch.nn.functional.gelu
  (approximate="none"/"tanh"), silu and softmax in f32.
- sampler_*: transformers' RepetitionPenaltyLogitsProcessor, TopKLogitsWarper
  and TopPLogitsWarper on fixed logits (kept tokens are the ones not -inf).
"""

import os

import numpy as np
import torch
import torch.nn.functional as F
from transformers import LlamaConfig
from transformers.generation.logits_process import (
    RepetitionPenaltyLogitsProcessor,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
from transformers.models.llama.modeling_llama import (
    LlamaRMSNorm,
    LlamaRotaryEmbedding,
    apply_rotary_pos_emb,
)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def save(name, tensor):
    if isinstance(tensor, torch.Tensor):
        if tensor.dtype == torch.bfloat16:
            array = tensor.view(torch.int16).numpy().view(np.uint16)
        elif tensor.dtype == torch.float16:
            array = tensor.view(torch.int16).numpy().view(np.uint16)
        else:
            array = tensor.detach().numpy()
    else:
        array = np.asarray(tensor)
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(array))


def randn(gen, *shape, scale=1.0):
    return torch.randn(*shape, generator=gen, dtype=torch.float32) * scale


def norms(gen):
    x = randn(gen, 5, 96, scale=2.0)
    w = randn(gen, 96) * 0.5 + 1.0
    norm = LlamaRMSNorm(96, eps=1e-6)
    with torch.no_grad():
        norm.weight.copy_(w)
        save("rms_norm_x", x)
        save("rms_norm_w", w)
        save("rms_norm_y", norm(x))
        xb, wb = x.bfloat16(), w.bfloat16()
        norm.weight.copy_(wb.float())
        save("rms_norm_bf16_x", xb)
        save("rms_norm_bf16_w", wb)
        save("rms_norm_bf16_y", norm(xb.float()))
    x = randn(gen, 4, 80, scale=3.0) + 1.5
    w, b = randn(gen, 80), randn(gen, 80)
    save("layer_norm_x", x)
    save("layer_norm_w", w)
    save("layer_norm_b", b)
    save("layer_norm_y", F.layer_norm(x, (80,), w, b, eps=1e-5))


def linears(gen):
    # (name, rows, out, in): gemv with a K tail, a small gemm, and a gemm
    # spanning several 64-row blocks and two K chunks of 512.
    for name, m, n, k in [("gemv", 1, 70, 200), ("gemm", 3, 70, 200),
                          ("big", 9, 130, 515)]:
        x = randn(gen, m, k)
        w = randn(gen, n, k, scale=k ** -0.5)
        b = randn(gen, n)
        save(f"linear_{name}_x", x)
        save(f"linear_{name}_w", w)
        save(f"linear_{name}_b", b)
        save(f"linear_{name}_y", F.linear(x, w, b))
        save(f"linear_{name}_w_bf16", w.bfloat16())
        save(f"linear_{name}_y_bf16w", F.linear(x, w.bfloat16().float(), b))
        save(f"linear_{name}_w_f16", w.half())
        save(f"linear_{name}_y_f16w", F.linear(x, w.half().float(), b))


def rotary(head_dim, rope_parameters):
    config = LlamaConfig(hidden_size=head_dim * 4, num_attention_heads=4,
                         head_dim=head_dim, max_position_embeddings=131072,
                         rope_parameters=rope_parameters)
    return LlamaRotaryEmbedding(config)


def ropes(gen):
    positions = torch.tensor([[0, 1, 7, 100, 2047, 4000, 9000, 20000]])
    save("rope_positions", positions[0].to(torch.int32))
    cases = {
        "default": (64, {"rope_type": "default", "rope_theta": 10000.0}),
        "linear": (64, {"rope_type": "linear", "rope_theta": 10000.0,
                        "factor": 4.0}),
        "llama3": (64, {"rope_type": "llama3", "rope_theta": 500000.0,
                        "factor": 8.0, "low_freq_factor": 1.0,
                        "high_freq_factor": 4.0,
                        "original_max_position_embeddings": 8192}),
    }
    for name, (head_dim, params) in cases.items():
        emb = rotary(head_dim, params)
        q = randn(gen, 1, 3, positions.shape[1], head_dim)  # [b, h, s, d]
        cos, sin = emb(q, positions)
        rotated, _ = apply_rotary_pos_emb(q, q, cos, sin)
        # Stored as [tokens, heads, head_dim], the runtime's layout.
        save(f"rope_{name}_x", q[0].transpose(0, 1).contiguous())
        save(f"rope_{name}_y", rotated[0].transpose(0, 1).contiguous())
        save(f"rope_{name}_inv_freq", emb.inv_freq)
    # Interleaved (GPT-J / Meta Llama): pairs (2i, 2i+1), same angles.
    emb = rotary(64, cases["default"][1])
    q = randn(gen, positions.shape[1], 3, 64)
    angles = positions[0].float()[:, None] * emb.inv_freq[None, :]  # [s, 32]
    pairs = torch.view_as_complex(q.reshape(positions.shape[1], 3, 32, 2))
    rotated = torch.view_as_real(pairs * torch.polar(torch.ones_like(angles),
                                                     angles)[:, None, :])
    save("rope_interleaved_x", q)
    save("rope_interleaved_y", rotated.reshape(positions.shape[1], 3, 64))
    # Partial rotary (NeoX style): rotary_dim 32 of head_dim 64.
    emb = rotary(32, cases["default"][1])
    q = randn(gen, 1, 3, positions.shape[1], 64)
    cos, sin = emb(q, positions)
    rotated, _ = apply_rotary_pos_emb(q[..., :32], q[..., :32], cos, sin)
    full = torch.cat([rotated, q[..., 32:]], dim=-1)
    save("rope_partial_x", q[0].transpose(0, 1).contiguous())
    save("rope_partial_y", full[0].transpose(0, 1).contiguous())
    # YaRN inverse frequencies and attention factor.
    config = LlamaConfig(hidden_size=512, num_attention_heads=4, head_dim=128,
                         max_position_embeddings=131072,
                         rope_parameters={"rope_type": "yarn",
                                          "rope_theta": 1000000.0,
                                          "factor": 4.0,
                                          "original_max_position_embeddings":
                                              32768})
    inv_freq, attention_factor = ROPE_INIT_FUNCTIONS["yarn"](config, "cpu")
    save("rope_inv_freq_yarn", inv_freq)
    save("rope_yarn_attention_factor", np.float32([attention_factor]))


def attention_reference(q, k, v, positions, scale, window=0, softcap=0.0):
    """q [t, hq, d] for one sequence; k, v [L, hkv, d] for positions 0..L-1."""
    group = q.shape[1] // k.shape[1]
    k = k.repeat_interleave(group, dim=1)
    v = v.repeat_interleave(group, dim=1)
    key_pos = torch.arange(k.shape[0])
    allowed = key_pos[None, :] <= positions[:, None]
    if window:
        allowed &= positions[:, None] - key_pos[None, :] < window
    qh, kh, vh = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
    if not softcap:
        out = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=allowed,
                                             scale=scale)
    else:
        logits = qh @ kh.transpose(-1, -2) * scale
        logits = softcap * torch.tanh(logits / softcap)
        logits = logits.masked_fill(~allowed, float("-inf"))
        out = torch.softmax(logits, dim=-1) @ vh
    return out.transpose(0, 1)


def attentions(gen):
    # Three sequences: a fresh prefill of 5 tokens, a decode step after 37
    # cached tokens, and a 3-token chunk after 20 cached tokens.
    seqs = [(0, 5), (37, 1), (20, 3)]  # (cached tokens, new tokens)
    cases = {
        "gqa": dict(hq=8, hkv=2, d=32, window=0, softcap=0.0),
        "window_softcap": dict(hq=8, hkv=2, d=32, window=8, softcap=2.0),
        "mqa": dict(hq=4, hkv=1, d=64, window=0, softcap=0.0),
    }
    for name, c in cases.items():
        scale = c["d"] ** -0.5
        qs, ks, vs, outs, positions = [], [], [], [], []
        for cached, new in seqs:
            length = cached + new
            k = randn(gen, length, c["hkv"], c["d"])
            v = randn(gen, length, c["hkv"], c["d"])
            q = randn(gen, new, c["hq"], c["d"], scale=2.0)
            pos = torch.arange(cached, length)
            outs.append(attention_reference(q, k, v, pos, scale, c["window"],
                                            c["softcap"]))
            qs.append(q)
            ks.append(k)
            vs.append(v)
            positions.append(pos)
        save(f"attention_{name}_q", torch.cat(qs))
        save(f"attention_{name}_k", torch.cat(ks))  # all sequences' rows
        save(f"attention_{name}_v", torch.cat(vs))
        save(f"attention_{name}_out", torch.cat(outs))
        save(f"attention_{name}_positions", torch.cat(positions).to(torch.int32))
        save(f"attention_{name}_meta",
             np.float32([c["hq"], c["hkv"], c["d"], c["window"], c["softcap"],
                         scale]))
    save("attention_seqs", np.int32(seqs))


def elementwise(gen):
    x = torch.linspace(-8.0, 8.0, 1001)
    save("act_x", x)
    save("gelu_exact_y", F.gelu(x, approximate="none"))
    save("gelu_tanh_y", F.gelu(x, approximate="tanh"))
    save("silu_y", F.silu(x))
    s = randn(gen, 4, 300, scale=4.0)
    save("softmax_x", s)
    save("softmax_y", torch.softmax(s, dim=-1))


def samplers(gen):
    logits = randn(gen, 1, 50, scale=2.0)
    logits[0, 3] = -1.5  # a negative logit among the penalized tokens
    logits[0, 7] = 2.5
    previous = torch.tensor([[7, 3, 7, 12, 49]])
    save("sampler_logits", logits[0])
    save("sampler_previous", previous[0].to(torch.int32))
    penalized = RepetitionPenaltyLogitsProcessor(1.3)(previous, logits.clone())
    save("sampler_penalized", penalized[0])
    kept_k = TopKLogitsWarper(5)(previous, logits.clone())
    save("sampler_topk5_kept", torch.isfinite(kept_k[0]).to(torch.int32))
    kept_p = TopPLogitsWarper(0.8)(previous, logits.clone())
    save("sampler_topp08_kept", torch.isfinite(kept_p[0]).to(torch.int32))


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20240611)
    norms(gen)
    linears(gen)
    ropes(gen)
    attentions(gen)
    elementwise(gen)
    samplers(gen)


if __name__ == "__main__":
    main()
