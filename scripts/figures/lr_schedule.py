"""Module 7's figure: the learning-rate multiplier over a d20 base-training run, from the reference's own schedule.

The horizon is the one ``nanochat_ref.scripts.base_train`` computes with its default flags: a d20 model (built on
the meta device, so nothing is allocated) with the speedrun's 65,536-token vocabulary, 20 tokens per parameter,
524,288 tokens per step. Each curve is ``get_lr_multiplier`` at every step (sampled every 50 steps, plus the
steps where the schedule bends); the dashed one shows what ``--warmup_ratio`` and ``--final_lr_frac`` change.
The result is a plot spec (``labplatform/schemas/guide-plot.schema.json``) the page draws with Plotly.
"""

from __future__ import annotations

import json

import torch

from nanochat_ref.gpt import GPT
from nanochat_ref.scripts.base_train import get_lr_multiplier, model_config_for, parse_args

SPEEDRUN_VOCAB = 65536  # the speedrun trains its tokenizer with --vocab_size=65536
EVERY = 50
VARIANT = {"warmup_ratio": 0.05, "final_lr_frac": 0.1}

WORDS = {
    "en": {
        "title": "Learning-rate multiplier of a d20 run ({n:,} steps)",
        "x": "step",
        "y": "× initial_lr",
        "defaults": "defaults: warmup_ratio 0, warmdown_ratio 0.2, final_lr_frac 0",
        "variant": "--warmup_ratio=0.05 --final_lr_frac=0.1",
    },
    "zh": {
        "title": "d20 训练的学习率倍数（共 {n:,} 步）",
        "x": "步数",
        "y": "× initial_lr",
        "defaults": "默认值：warmup_ratio 0，warmdown_ratio 0.2，final_lr_frac 0",
        "variant": "--warmup_ratio=0.05 --final_lr_frac=0.1",
    },
}


def d20_iterations() -> int:
    """The number of steps base_train chooses for d20 with its default flags (Chinchilla ratio 20)."""
    args = parse_args([])
    with torch.device("meta"):
        model = GPT(model_config_for(args.depth, args.max_seq_len, SPEEDRUN_VOCAB))
    num_params = sum(p.numel() for p in model.parameters())
    return int(args.target_param_data_ratio * num_params // args.total_batch_size)


def schedule(num_iterations: int, warmup_ratio: float, warmdown_ratio: float, final_lr_frac: float) -> dict:
    """Steps and multipliers, every EVERY steps and at every bend of the schedule."""
    warmup = round(warmup_ratio * num_iterations)
    warmdown_start = num_iterations - round(warmdown_ratio * num_iterations)
    steps = sorted(
        set(range(0, num_iterations + 1, EVERY))
        | {max(warmup - 1, 0), warmup, warmdown_start, num_iterations}
    )
    values = [
        round(get_lr_multiplier(it, num_iterations, warmup_ratio, warmdown_ratio, final_lr_frac), 6)
        for it in steps
    ]
    return {"x": steps, "y": values}


def lr_schedule(lang: str) -> str:
    words = WORDS[lang]
    args = parse_args([])
    n = d20_iterations()
    defaults = schedule(n, args.warmup_ratio, args.warmdown_ratio, args.final_lr_frac)
    variant = schedule(n, VARIANT["warmup_ratio"], args.warmdown_ratio, VARIANT["final_lr_frac"])
    spec = {
        "title": words["title"].format(n=n),
        "x_label": words["x"],
        "y_label": words["y"],
        "y_range": [0, 1.05],
        "series": [
            {"name": words["defaults"], **defaults},
            {"name": words["variant"], **variant, "dash": True},
        ],
    }
    return json.dumps(spec, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
