"""Module 5's figure: rotary embeddings make the attention score depend only on the distance between positions.

One fixed query vector and one fixed key vector (head size 64) are rotated by the reference's own
``apply_rotary_emb`` with the reference model's bf16 cos/sin tables, the query at position ``n + Δ`` and the key at
position ``n``. The score ``q·k`` is plotted against ``Δ`` for keys at ``n = 0`` and at ``n = 100``: the two curves
lie on top of each other (up to bf16 rounding of the tables), which is the relative-position property. The result
is a plot spec (``labplatform/schemas/guide-plot.schema.json``) the page draws with Plotly.
"""

from __future__ import annotations

import json

import torch

from nanochat_ref.gpt import GPT, GPTConfig, apply_rotary_emb

HEAD_DIM = 64
MAX_OFFSET = 96
KEY_POSITIONS = (0, 100)

WORDS = {
    "en": {
        "title": "RoPE: the score q·k depends only on the distance Δ (head size 64)",
        "x": "Δ = query position − key position",
        "y": "q·k after rotation",
        "series": "key at position {n}",
    },
    "zh": {
        "title": "RoPE：得分 q·k 只取决于距离 Δ（头维度 64）",
        "x": "Δ = query 位置 − key 位置",
        "y": "旋转后的 q·k",
        "series": "key 在位置 {n}",
    },
}


def scores(key_position: int) -> list[float]:
    """q·k for the query at key_position + Δ and the key at key_position, Δ = 0 .. MAX_OFFSET."""
    config = GPTConfig(sequence_len=32, vocab_size=64, n_layer=1, n_head=1, n_kv_head=1, n_embd=HEAD_DIM)
    model = GPT(config)  # its cos/sin tables cover 10 * sequence_len = 320 positions
    gen = torch.Generator().manual_seed(0)
    q, k = torch.randn(HEAD_DIM, generator=gen), torch.randn(HEAD_DIM, generator=gen)
    positions = key_position + torch.arange(MAX_OFFSET + 1)
    cos, sin = model.cos[:, positions], model.sin[:, positions]  # (1, Δ+1, 1, D/2)
    rq = apply_rotary_emb(q.expand(1, MAX_OFFSET + 1, 1, HEAD_DIM).contiguous(), cos, sin)[0, :, 0]
    rk = apply_rotary_emb(k.expand(1, 1, 1, HEAD_DIM).contiguous(), cos[:, :1], sin[:, :1])[0, 0, 0]
    return [round(float(v), 4) for v in rq @ rk]


def rope_relative(lang: str) -> str:
    words = WORDS[lang]
    offsets = list(range(MAX_OFFSET + 1))
    series = [
        {"name": words["series"].format(n=n), "x": offsets, "y": scores(n), **({"dash": True} if i else {})}
        for i, n in enumerate(KEY_POSITIONS)
    ]
    spec = {"title": words["title"], "x_label": words["x"], "y_label": words["y"], "series": series}
    return json.dumps(spec, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
