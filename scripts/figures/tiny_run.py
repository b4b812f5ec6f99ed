"""Module 7's second figure: a real tiny training run of the reference's ``train_step``, its loss and smoothed loss.

A depth-1 GPT (``model_config_for(1, ...)``, 512-token vocabulary) trains for ``STEPS`` optimizer steps of
``GRAD_ACCUM`` micro-steps on synthetic, learnable sequences (each token a fixed function of the previous one, with
some noise), through ``nanochat_ref.scripts.base_train.train_step`` with nanochat's schedules
(``get_lr_multiplier`` with the default 20 % warmdown, ``get_muon_momentum``). The figure shows each step's loss,
the debiased EMA that ``base_train`` logs, and the same EMA without the debias, which starts near 0: the reason
for the division. No data files, no tokenizer: about a second of CPU, single-threaded and deterministic.
"""

from __future__ import annotations

import contextlib
import functools
import json

import torch

from nanochat_ref.gpt import GPT
from nanochat_ref.scripts.base_train import get_lr_multiplier, get_muon_momentum, model_config_for, train_step

STEPS = 30
GRAD_ACCUM = 2
B, T, VOCAB = 4, 32, 512
EMA_BETA = 0.9

WORDS = {
    "en": {
        "title": "A tiny run of train_step (depth 1, {n} steps, {k} micro-steps each)",
        "x": "step",
        "y": "loss (nats per token)",
        "loss": "train loss (last micro-step)",
        "smooth": "logged: EMA / (1 - 0.9^(t+1))",
        "raw": "EMA without the debias",
    },
    "zh": {
        "title": "train_step 的一次小规模训练（深度 1，{n} 步，每步 {k} 个微步）",
        "x": "步数",
        "y": "损失（每 token 的 nat）",
        "loss": "训练损失（最后一个微步）",
        "smooth": "日志中的值：EMA / (1 - 0.9^(t+1))",
        "raw": "未去偏的 EMA",
    },
}


def _batches(n: int, seed: int = 0):
    """``n`` synthetic (x, y, state) batches: token t+1 is (5 t + 17) mod 256, replaced by noise 10 % of the time."""
    gen = torch.Generator().manual_seed(seed)
    for _ in range(n):
        seq = torch.empty(B, T + 1, dtype=torch.long)
        seq[:, 0] = torch.randint(0, 256, (B,), generator=gen)
        for t in range(T):
            nxt = (5 * seq[:, t] + 17) % 256
            noise = torch.rand(B, generator=gen) < 0.1
            seq[:, t + 1] = torch.where(noise, torch.randint(0, VOCAB, (B,), generator=gen), nxt)
        yield seq[:, :-1].contiguous(), seq[:, 1:].contiguous(), {}


@functools.lru_cache(maxsize=1)
def run() -> dict[str, list[float]]:
    """Per step: the train loss, the logged (debiased) smoothed loss and the raw EMA, rounded for stable files."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        model = GPT(model_config_for(1, T, VOCAB))
        model.init_weights()
        optimizers = model.setup_optimizers()
        loader = _batches(STEPS * GRAD_ACCUM + 1)
        x, y, _ = next(loader)
        losses, smooth, raw = [], [], []
        ema = 0.0
        for step in range(STEPS):
            lrm = get_lr_multiplier(step, STEPS, 0.0, 0.2, 0.0)
            loss, _, (x, y, _) = train_step(
                model, optimizers, loader, (x, y), GRAD_ACCUM, 1.0, lrm, get_muon_momentum(step),
                contextlib.nullcontext(),
            )  # fmt: skip
            ema = EMA_BETA * ema + (1 - EMA_BETA) * loss.item()
            losses.append(round(loss.item(), 4))
            smooth.append(round(ema / (1 - EMA_BETA ** (step + 1)), 4))
            raw.append(round(ema, 4))
    finally:
        torch.set_num_threads(threads)
    return {"loss": losses, "smooth": smooth, "raw": raw}


def tiny_run(lang: str) -> str:
    words = WORDS[lang]
    data = run()
    steps = list(range(STEPS))
    spec = {
        "title": words["title"].format(n=STEPS, k=GRAD_ACCUM),
        "x_label": words["x"],
        "y_label": words["y"],
        "series": [
            {"name": words["loss"], "x": steps, "y": data["loss"]},
            {"name": words["smooth"], "x": steps, "y": data["smooth"]},
            {"name": words["raw"], "x": steps, "y": data["raw"], "dash": True},
        ],
    }
    return json.dumps(spec, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
