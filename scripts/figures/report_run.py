"""Module 15's figures: the course's tiny stage chain as the report's analysis sees it (``nanochat_ref.report``).

Both are read from the shipped run folder (``nanochat_ref/checkpoints/run/``: the report sections and
``curves.json``) with the reference's ``collect_run`` and ``chart_series``, so the handout shows exactly the series
the graded run charts: the smoothed train loss of each training stage on one global step axis, and each stage's mean
accuracy on the stage sweep against the cumulative training time (speed vs quality). No torch, no training.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from nanochat_ref import report

RUN_DIR = Path(report.__file__).resolve().parent / "checkpoints" / "run"

WORDS: dict[str, dict[str, Any]] = {
    "en": {
        "loss_title": "The tiny chain's train loss, stage after stage (debiased EMA, as logged)",
        "loss_x": "optimizer step (stages one after another)",
        "loss_y": "loss (nats per token)",
        "sq_title": "Speed vs quality: mean sweep accuracy after each stage",
        "sq_x": "cumulative training seconds (2 busy CPU cores)",
        "sq_y": "mean accuracy on the six sweep tasks",
        "sq_series": "stages BASE, MID, SFT, RL",
        "stage": {"base": "base (bpb-style LM loss)", "mid": "midtraining", "sft": "SFT (supervised tokens)"},
    },
    "zh": {
        "loss_title": "tiny 阶段链的训练损失，一个阶段接一个阶段（去偏 EMA，与日志一致）",
        "loss_x": "优化步（各阶段首尾相接）",
        "loss_y": "损失（每 token 的 nat）",
        "sq_title": "速度与质量：每个阶段之后在横评任务上的平均准确率",
        "sq_x": "累计训练秒数（2 个繁忙的 CPU 核）",
        "sq_y": "六个横评任务的平均准确率",
        "sq_series": "BASE、MID、SFT、RL 各阶段",
        "stage": {"base": "基础训练（语言模型损失）", "mid": "中期训练", "sft": "SFT（仅监督 token）"},
    },
}


@functools.lru_cache(maxsize=1)
def charts() -> dict:
    return report.chart_series(report.collect_run(str(RUN_DIR)))


def _dump(spec: dict) -> str:
    return json.dumps(spec, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


def run_losses(lang: str) -> str:
    words = WORDS[lang]
    series, offset = [], 0
    for stage, values in charts()["loss"].items():
        xs = list(range(offset, offset + len(values)))
        series.append({"name": words["stage"][stage], "x": xs, "y": [round(v, 4) for v in values]})
        offset += len(values)
    return _dump({"title": words["loss_title"], "x_label": words["loss_x"], "y_label": words["loss_y"],
                  "series": series})  # fmt: skip


def speed_quality(lang: str) -> str:
    words = WORDS[lang]
    sq = charts()["speed_quality"]
    series = [{"name": words["sq_series"], "x": [round(s, 1) for s in sq["seconds"]],
               "y": [round(v, 4) for v in sq["score"]]}]  # fmt: skip
    return _dump({"title": words["sq_title"], "x_label": words["sq_x"], "y_label": words["sq_y"],
                  "y_range": [0, 1], "series": series})  # fmt: skip
