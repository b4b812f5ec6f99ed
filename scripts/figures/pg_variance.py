"""Module 10's figure: why a baseline reduces the variance of the policy gradient, on a one-question bandit.

The policy answers one question with 16 samples; each sample is right with probability ``P`` and earns reward
``c + 1`` (else ``c``): ``c`` is a constant offset, which changes nothing about which answer is better. For a
softmax policy over "right" and "wrong" with logit ``theta``, d/dtheta log pi(a) is ``1 - P`` for a right sample and
``-P`` for a wrong one, so the per-question gradient estimate is ``mean_i A_i * dlogpi(a_i)``. The figure draws,
for every offset, the standard deviation of that estimate over many simulated questions with the raw reward as the
advantage (plain REINFORCE) and with ``compute_advantages`` from ``nanochat_ref.scripts.chat_rl`` (reward minus
the group's mean). Both have the same expected direction; without the baseline the spread grows with the offset,
with it the offset cancels. Seeded, so the file is byte-identical on every build.
"""

from __future__ import annotations

import json

import torch

from nanochat_ref.scripts.chat_rl import compute_advantages

NUM_SAMPLES = 16
TRIALS = 4000
P = 0.3
OFFSETS = [round(0.25 * i, 2) for i in range(13)]

WORDS = {
    "en": {
        "title": "Spread of the policy-gradient estimate (one question, 16 samples, p = 0.3)",
        "x": "reward offset c (right: c + 1, wrong: c)",
        "y": "std of the gradient estimate",
        "raw": "advantage = reward (no baseline)",
        "centred": "advantage = reward − mean (compute_advantages)",
    },
    "zh": {
        "title": "策略梯度估计的离散程度（一道题，16 个样本，p = 0.3）",
        "x": "奖励偏移 c（答对 c + 1，答错 c）",
        "y": "梯度估计的标准差",
        "raw": "优势 = 奖励（无基线）",
        "centred": "优势 = 奖励 − 均值（compute_advantages）",
    },
}


def spreads() -> tuple[list[float], list[float]]:
    gen = torch.Generator().manual_seed(0)
    right = (torch.rand(TRIALS, NUM_SAMPLES, generator=gen) < P).float()  # (TRIALS, N)
    dlogp = torch.where(right > 0, torch.tensor(1 - P), torch.tensor(-P))  # d/dtheta log pi(a_i)
    raw, centred = [], []
    for c in OFFSETS:
        rewards = right + c
        adv = torch.stack([compute_advantages(r) for r in rewards])
        raw.append(round(float((rewards * dlogp).mean(dim=1).std()), 5))
        centred.append(round(float((adv * dlogp).mean(dim=1).std()), 5))
    return raw, centred


def pg_variance(lang: str) -> str:
    words = WORDS[lang]
    raw, centred = spreads()
    spec = {
        "title": words["title"],
        "x_label": words["x"],
        "y_label": words["y"],
        "series": [
            {"name": words["raw"], "x": OFFSETS, "y": raw, "dash": True},
            {"name": words["centred"], "x": OFFSETS, "y": centred},
        ],
    }
    return json.dumps(spec, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
