"""Module 6's figure: what Muon's Newton–Schulz iteration does to each singular value, measured on the reference.

``nanochat_ref.muon.zeropower_via_newtonschulz5`` is run on a batch of 2x2 matrices ``diag(s, sqrt(1 - s^2))``:
their Frobenius norm is 1, so the function's normalisation leaves them as they are, and the iteration keeps a
diagonal matrix diagonal, so the output's first entry is the k-step singular-value map applied to s. One step is
the quintic p(s) = a s + b s^3 + c s^5 with nanochat's (a, b, c); the curves are 1, 2, 3 and 5 steps in float32,
and 5 steps in bfloat16, the precision nanochat runs it in.
"""

from __future__ import annotations

import torch

from nanochat_ref.muon import NS_COEFFS, zeropower_via_newtonschulz5
from scripts.figures.svg import MUTED, PALETTE, Box, Series, Svg, line_chart

LOW, POINTS = 1e-3, 160
STEPS = (1, 2, 3, 5)

WORDS = {
    "en": {
        "title": "Newton–Schulz in Muon: the singular-value map (nanochat_ref.muon.zeropower_via_newtonschulz5)",
        "heading": "Newton–Schulz: where each singular value σ lands after k steps",
        "x": "singular value σ before (log scale)",
        "y": "singular value after",
        "step": "{k} step",
        "steps": "{k} steps",
        "bf16": "5 steps in bfloat16 (as nanochat runs it)",
        "target": "exact orthogonalisation (σ = 1)",
        "poly": "one step: p(σ) = aσ + bσ³ + cσ⁵ with (a, b, c) = ({a}, {b}, {c})",
    },
    "zh": {
        "title": "Muon 中的 Newton–Schulz：奇异值映射（nanochat_ref.muon.zeropower_via_newtonschulz5）",
        "heading": "Newton–Schulz：每个奇异值 σ 经过 k 步之后落在哪里",
        "x": "迭代前的奇异值 σ（对数坐标）",
        "y": "迭代后的奇异值",
        "step": "{k} 步",
        "steps": "{k} 步",
        "bf16": "bfloat16 下 5 步（nanochat 的实际精度）",
        "target": "精确正交化（σ = 1）",
        "poly": "一步：p(σ) = aσ + bσ³ + cσ⁵，其中 (a, b, c) = ({a}, {b}, {c})",
    },
}


def sigmas() -> list[float]:
    """Log-spaced singular values in [1e-3, 1]."""
    return [LOW ** (1 - i / (POINTS - 1)) for i in range(POINTS)]


@torch.no_grad()
def singular_value_map(steps: int, dtype: torch.dtype = torch.float32) -> list[tuple[float, float]]:
    """(s, NS_steps(s)) for every s of :func:`sigmas`, through the reference function."""
    s = torch.tensor(sigmas(), dtype=torch.float64)
    G = torch.zeros(len(s), 2, 2, dtype=torch.float64)
    G[:, 0, 0] = s
    G[:, 1, 1] = torch.sqrt(1 - s**2)  # (N, 2, 2) with Frobenius norm 1
    X = zeropower_via_newtonschulz5(G.float(), steps, dtype=dtype)  # (N, 2, 2)
    return [(float(a), round(float(b), 4)) for a, b in zip(s, X[:, 0, 0].float())]


def newton_schulz(lang: str) -> str:
    words = WORDS[lang]
    svg = Svg(560, 520, title=words["title"])
    svg.text(20, 30, words["heading"], font_size=15, font_weight="600")
    series = [
        Series(
            (words["step"] if k == 1 else words["steps"]).format(k=k),
            singular_value_map(k),
            PALETTE[i],
            width=2.5 if k == 5 else 1.8,
        )
        for i, k in enumerate(STEPS)
    ]
    series.append(
        Series(words["bf16"], singular_value_map(5, torch.bfloat16), PALETTE[3], dash="2 3", width=1.5)
    )
    series.append(Series(words["target"], [(LOW, 1.0), (1.0, 1.0)], MUTED, dash="6 4", width=1.2))
    # legend: the short entries in a first column, the long ones in a second
    legend = [(70, 410), (70, 432), (70, 454), (190, 410), (190, 432), (190, 454)]
    line_chart(
        svg,
        Box(70, 50, 460, 280),
        series,
        x_range=(LOW, 1.0),
        y_range=(0.0, 1.4),
        x_ticks=(0.001, 0.01, 0.1, 1.0),
        y_ticks=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4),
        x_label=words["x"],
        y_label=words["y"],
        x_log=True,
        legend=legend,
    )
    a, b, c = (f"{v:.4f}".replace("-", "−") for v in NS_COEFFS)
    svg.text(20, 500, words["poly"].format(a=a, b=b, c=c), font_size=13, fill=MUTED)
    return svg.render()
