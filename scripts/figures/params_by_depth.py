"""Module 1's figure: parameters against depth, from module 1's reference ``hello.py`` checked against nanochat's GPT.

For depths 2, 4, ..., 32 with the speedrun's 65,536-token vocabulary, ``config_from_depth`` and ``count_params``
of ``content/01-onboarding/reference/hello.py`` give the total, split into the two (untied) embedding matrices
and the transformer blocks. Each count is checked against ``nanochat_ref.gpt.GPT`` built on the meta device
(nothing allocated), so the curve is what the model really holds. The result is a plot spec
(``labplatform/schemas/guide-plot.schema.json``) the page draws with Plotly.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import torch

from nanochat_ref.gpt import GPT, GPTConfig

HELLO = Path(__file__).resolve().parents[2] / "content" / "01-onboarding" / "reference" / "hello.py"
DEPTHS = list(range(2, 33, 2))
MILLION = 1e6

WORDS = {
    "en": {
        "title": "Parameters of nanochat's GPT by depth (vocabulary 65,536)",
        "x": "depth d (n_layer; n_embd = 64 d)",
        "y": "parameters (millions)",
        "total": "total",
        "blocks": "transformer blocks: 12 (64 d)² d",
        "embeddings": "wte + lm_head: 2 × 65,536 × 64 d",
    },
    "zh": {
        "title": "nanochat 的 GPT 参数量随深度的变化（词表 65,536）",
        "x": "深度 d（n_layer；n_embd = 64 d）",
        "y": "参数量（百万）",
        "total": "总计",
        "blocks": "Transformer 块：12 (64 d)² d",
        "embeddings": "wte + lm_head：2 × 65,536 × 64 d",
    },
}


def hello() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lab_hello_reference", HELLO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def counts() -> dict[str, list[int]]:
    """Total, embedding and block parameters per depth; the total is checked against the real model."""
    ref = hello()
    out: dict[str, list[int]] = {"total": [], "embeddings": [], "blocks": []}
    for depth in DEPTHS:
        config = ref.config_from_depth(depth)
        total = ref.count_params(config)
        with torch.device("meta"):
            model = GPT(GPTConfig(**config))
        assert total == sum(p.numel() for p in model.parameters()), depth
        embeddings = model.transformer.wte.weight.numel() + model.lm_head.weight.numel()
        out["total"].append(total)
        out["embeddings"].append(embeddings)
        out["blocks"].append(total - embeddings)
    return out


def params_by_depth(lang: str) -> str:
    words = WORDS[lang]
    data = counts()
    series = [
        {"name": words[key], "x": DEPTHS, "y": [round(n / MILLION, 3) for n in data[key]], **extra}
        for key, extra in (("total", {}), ("blocks", {"dash": True}), ("embeddings", {"dash": True}))
    ]
    spec = {"title": words["title"], "x_label": words["x"], "y_label": words["y"], "series": series}
    return json.dumps(spec, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
