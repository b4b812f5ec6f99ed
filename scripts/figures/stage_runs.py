"""Figures of modules 8 and 9, from the reference's own midtraining schedule and SFT collation.

- ``mid-lr-compounding``: over the twenty-step run module 8's step-5 test compares with nanochat, the LR
  multiplier ``get_lr_multiplier(step / 20)`` that the loop sets from ``initial_lr``, against what the learning rate
  becomes when the loop multiplies the *current* lr instead (``lr *= m``): the same until the decay starts, then
  compounding towards zero.
- ``sft-supervised-share``: for the first 200 conversations of the tiny SFT mixture, rendered with the shipped
  tokenizer and collated by ``sft_collate``, the share of target positions that are supervised (not -1), sorted:
  how much of each row the masked loss actually averages over.

Both are plot specs (``labplatform/schemas/guide-plot.schema.json``).
"""

from __future__ import annotations

import json
import os

STEPS = 20  # the step-5 test's --num_iterations
CONVERSATIONS = 200

WORDS = {
    "en": {
        "lr_title": "LR multiplier of a 20-step midtraining run",
        "step": "step",
        "lr_y": "× initial_lr",
        "right": "lr = initial_lr × m(step / 20)",
        "compound": "lr = lr × m(step / 20) (compounds)",
        "share_title": "Supervised share of each SFT row (tiny mixture, 200 conversations)",
        "rank": "conversations, sorted",
        "share_y": "supervised targets / all targets",
        "share": "sft_collate: targets that are not -1",
    },
    "zh": {
        "lr_title": "20 步中期训练的学习率倍数",
        "step": "步数",
        "lr_y": "× initial_lr",
        "right": "lr = initial_lr × m(step / 20)",
        "compound": "lr = lr × m(step / 20)（层层相乘）",
        "share_title": "每行 SFT 数据中被监督的比例（tiny 数据混合，200 段对话）",
        "rank": "对话（排序后）",
        "share_y": "被监督的目标 / 全部目标",
        "share": "sft_collate：不为 -1 的目标",
    },
}


def _dump(spec: dict) -> str:
    return json.dumps(spec, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


def mid_lr_compounding(lang: str) -> str:
    from nanochat_ref.scripts.mid_train import get_lr_multiplier

    words = WORDS[lang]
    steps = list(range(STEPS))
    right = [round(get_lr_multiplier(s / STEPS), 6) for s in steps]
    compound, lr = [], 1.0
    for m in right:
        lr *= m
        compound.append(round(lr, 6))
    return _dump(
        {
            "title": words["lr_title"],
            "x_label": words["step"],
            "y_label": words["lr_y"],
            "y_range": [0, 1.05],
            "series": [
                {"name": words["right"], "x": steps, "y": right},
                {"name": words["compound"], "x": steps, "y": compound, "dash": True},
            ],
        }
    )


def sft_supervised_share(lang: str) -> str:
    from nanochat_ref.common import get_base_dir
    from nanochat_ref.scripts.chat_sft import sft_collate, sft_mixture
    from nanochat_ref.tokenizer import get_tokenizer

    words = WORDS[lang]
    shipped = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "nanochat_ref")
    old = os.environ.get("NANOCHAT_BASE_DIR")
    os.environ["NANOCHAT_BASE_DIR"] = os.path.normpath(os.path.join(shipped, "checkpoints"))
    try:
        assert get_base_dir().endswith("checkpoints")
        tokenizer = get_tokenizer()
        train, _ = sft_mixture(True)
        pad = tokenizer.encode_special("<|assistant_end|>")
        shares = []
        for i in range(CONVERSATIONS):
            _, targets = sft_collate([tokenizer.render_conversation(train[i], max_tokens=256)], pad)
            shares.append(round(float((targets >= 0).float().mean()), 4))
    finally:
        if old is None:
            os.environ.pop("NANOCHAT_BASE_DIR", None)
        else:
            os.environ["NANOCHAT_BASE_DIR"] = old
    shares.sort()
    return _dump(
        {
            "title": words["share_title"],
            "x_label": words["rank"],
            "y_label": words["share_y"],
            "y_range": [0, 1.0],
            "series": [{"name": words["share"], "x": list(range(len(shares))), "y": shares}],
        }
    )
