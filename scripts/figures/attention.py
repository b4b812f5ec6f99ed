"""Module 5's figure: the causal mask and grouped-query head sharing, read off the reference's attention layer.

Both panels are measured, not drawn from a formula: ``nanochat_ref.gpt.CausalSelfAttention`` is run with weights
chosen so its output *is* the quantity drawn.
- Mask: q and k projections zero (every score equal), v and the output projection the identity, one-hot inputs
  per position. Output row i is then query i's attention weights over the keys: 1/(i+1) on keys 0..i, 0 after.
- GQA: again equal scores; key/value head g carries the constant g+1, so each query head's output names the K/V
  head it read.
"""

from __future__ import annotations

import torch

from nanochat_ref.gpt import CausalSelfAttention, GPTConfig
from scripts.figures.svg import MUTED, PALETTE, Svg

T = 8  # positions in the mask panel
N_HEAD, N_KV_HEAD = 6, 2  # the GQA panel: three query heads per K/V head

WORDS = {
    "en": {
        "title": "Causal self-attention: the mask and grouped-query heads (nanochat_ref.gpt.CausalSelfAttention)",
        "mask": "(a) the causal mask, T = 8",
        "mask_note": (
            "equal scores: query i spreads its weight 1/(i+1)",
            "over keys j ≤ i; keys j > i are masked (−∞)",
        ),
        "key": "key position j",
        "query": "query position i",
        "gqa": "(b) grouped-query attention",
        "gqa_shape": f"n_head = {N_HEAD}, n_kv_head = {N_KV_HEAD}",
        "queries": "query heads",
        "kv": "key/value heads",
        "gqa_note": (
            f"each K/V head serves n_head / n_kv_head = {N_HEAD // N_KV_HEAD} query heads",
            "(enable_gqa=True; n_kv_head = 1 is multi-query attention)",
        ),
    },
    "zh": {
        "title": "因果自注意力：掩码与分组查询头（nanochat_ref.gpt.CausalSelfAttention）",
        "mask": "(a) 因果掩码，T = 8",
        "mask_note": ("分数相同时：查询 i 把权重 1/(i+1)", "平均分给键 j ≤ i；键 j > i 被屏蔽（−∞）"),
        "key": "键的位置 j",
        "query": "查询的位置 i",
        "gqa": "(b) 分组查询注意力",
        "gqa_shape": f"n_head = {N_HEAD}，n_kv_head = {N_KV_HEAD}",
        "queries": "查询头",
        "kv": "键/值头",
        "gqa_note": (
            f"每个 K/V 头服务 n_head / n_kv_head = {N_HEAD // N_KV_HEAD} 个查询头",
            "（enable_gqa=True；n_kv_head = 1 即多查询注意力 MQA）",
        ),
    },
}


def _layer(n_embd: int, n_head: int, n_kv_head: int) -> CausalSelfAttention:
    config = GPTConfig(
        sequence_len=T, vocab_size=8, n_layer=1, n_head=n_head, n_kv_head=n_kv_head, n_embd=n_embd
    )
    layer = CausalSelfAttention(config, layer_idx=0)
    with torch.no_grad():
        layer.c_q.weight.zero_()
        layer.c_k.weight.zero_()
        layer.c_proj.weight.copy_(torch.eye(n_embd))
    return layer


def _rotary(n_embd: int, n_head: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    half = n_embd // n_head // 2
    return torch.ones(1, length, 1, half), torch.zeros(1, length, 1, half)  # identity rotation: q, k are zero


@torch.no_grad()
def attention_weights() -> list[list[float]]:
    """(T, T): row i = query i's weights over keys, measured through the reference layer."""
    layer = _layer(T, 1, 1)
    layer.c_v.weight.copy_(torch.eye(T))
    x = torch.eye(T).unsqueeze(0)  # (1, T, T): position t is the one-hot e_t
    y = layer(x, _rotary(T, 1, T))  # (1, T, T)
    return [[round(float(w), 4) for w in row] for row in y[0]]


@torch.no_grad()
def kv_head_of_query_heads() -> list[int]:
    """For each query head, the K/V head it reads, measured through the reference layer."""
    head_dim = 2
    n_embd = N_HEAD * head_dim
    layer = _layer(n_embd, N_HEAD, N_KV_HEAD)
    layer.c_v.weight.zero_()
    for g in range(N_KV_HEAD):
        layer.c_v.weight[g * head_dim, 0] = g + 1  # K/V head g carries the value g+1
    x = torch.zeros(1, 1, n_embd)
    x[0, 0, 0] = 1.0
    y = layer(x, _rotary(n_embd, N_HEAD, 1))[0, 0]  # (n_embd,)
    return [round(float(y[h * head_dim])) - 1 for h in range(N_HEAD)]


WIDTH = 560
GQA_TOP = 474  # the GQA panel sits below the mask


def _mask_panel(svg: Svg, words: dict, weights: list[list[float]]) -> None:
    x0, y0, cell = 150, 92, 34
    svg.text(20, 30, words["mask"], font_size=15, font_weight="600")
    svg.text(x0 + T * cell / 2, y0 - 30, words["key"], text_anchor="middle", fill=MUTED)
    cx, cy = x0 - 44, y0 + T * cell / 2
    svg.text(cx, cy, words["query"], text_anchor="middle", fill=MUTED, transform=f"rotate(-90 {cx} {cy:g})")
    for j in range(T):
        svg.text(x0 + j * cell + cell / 2, y0 - 9, str(j), text_anchor="middle", font_size=12, fill=MUTED)
    for i, row in enumerate(weights):
        svg.text(x0 - 12, y0 + i * cell + cell / 2 + 4, str(i), text_anchor="end", font_size=12, fill=MUTED)
        for j, w in enumerate(row):
            x, y = x0 + j * cell, y0 + i * cell
            if w > 0:
                svg.rect(x, y, cell, cell, fill=PALETTE[0], fill_opacity=0.18 + 0.82 * w, stroke="#ffffff")
                label = "1" if w >= 0.995 else f"{w:.2f}".lstrip("0")
                svg.text(x + cell / 2, y + cell / 2 + 4, label, text_anchor="middle", font_size=11,
                         fill="#ffffff" if w > 0.3 else "#1e1b4b")  # fmt: skip
            else:
                svg.rect(x, y, cell, cell, fill="#f1f5f9", stroke="#ffffff")
                svg.text(
                    x + cell / 2, y + cell / 2 + 4, "−∞", text_anchor="middle", font_size=10, fill="#94a3b8"
                )
    for n, line in enumerate(words["mask_note"]):
        svg.text(20, y0 + T * cell + 32 + 19 * n, line, font_size=13, fill=MUTED)


def _gqa_panel(svg: Svg, words: dict, groups: list[int]) -> None:
    top, box_w, box_h, gap = GQA_TOP, 60, 32, 16
    left = (WIDTH - N_HEAD * box_w - (N_HEAD - 1) * gap) / 2
    qy, ky = top + 76, top + 196
    svg.line(20, top - 24, WIDTH - 20, top - 24, stroke="#e2e8f0")
    svg.text(20, top, words["gqa"], font_size=15, font_weight="600")
    svg.text(20, top + 22, words["gqa_shape"], font_size=13)
    svg.text(20, qy - 12, words["queries"], fill=MUTED, font_size=13)
    q_centres = [left + h * (box_w + gap) + box_w / 2 for h in range(N_HEAD)]
    kv_centres = []
    for g in range(N_KV_HEAD):
        members = [q_centres[h] for h, owner in enumerate(groups) if owner == g]
        kv_centres.append(sum(members) / len(members) if members else left + g * 2 * (box_w + gap))
    for h, g in enumerate(groups):
        svg.line(q_centres[h], qy + box_h, kv_centres[g], ky, stroke=PALETTE[1 + g], stroke_width=2.0)
    for h, g in enumerate(groups):
        svg.rect(q_centres[h] - box_w / 2, qy, box_w, box_h, rx=6, fill=PALETTE[1 + g], fill_opacity=0.15,
                 stroke=PALETTE[1 + g])  # fmt: skip
        svg.text(q_centres[h], qy + 21, f"q{h}", text_anchor="middle", font_size=13)
    for g, centre in enumerate(kv_centres):
        svg.rect(
            centre - 70,
            ky,
            140,
            box_h + 4,
            rx=6,
            fill=PALETTE[1 + g],
            fill_opacity=0.3,
            stroke=PALETTE[1 + g],
        )
        svg.text(centre, ky + 23, f"k{g}, v{g}", text_anchor="middle", font_size=13, font_weight="600")
    svg.text(20, ky + box_h + 28, words["kv"], fill=MUTED, font_size=13)
    for n, line in enumerate(words["gqa_note"]):
        svg.text(20, ky + box_h + 62 + 19 * n, line, font_size=13, fill=MUTED)


def causal_mask(lang: str) -> str:
    words = WORDS[lang]
    svg = Svg(WIDTH, GQA_TOP + 330, title=words["title"])
    _mask_panel(svg, words, attention_weights())
    _gqa_panel(svg, words, kv_head_of_query_heads())
    return svg.render()
