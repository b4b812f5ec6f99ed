"""Module 11's figure: the KV-cache memory of one d20 sequence in bf16 as its context grows, from the reference.

The model shape is the one ``nanochat_ref.scripts.base_train`` builds for ``--depth=20`` (20 layers, 10 KV heads
of 128 dimensions). The "allocated" curve is what ``nanochat_ref.engine.KVCache`` really holds: a cache sized to
a 16-token prompt, then one ``insert_kv`` per generated token on the meta device (so nothing is allocated), which
grows in 1024-token chunks. The "needed" curve is the formula
``2 (K and V) x n_layer x B x T x n_kv_head x head_dim x 2 bytes``; the dashed one is the same in float32.
The result is a plot spec (``labplatform/schemas/guide-plot.schema.json``) the page draws with Plotly.
"""

from __future__ import annotations

import json
from functools import lru_cache

import torch

from nanochat_ref.engine import KVCache
from nanochat_ref.scripts.base_train import model_config_for, parse_args

DEPTH = 20
PROMPT = 16
LENGTH = 4096
EVERY = 32
MIB = 1024 * 1024

WORDS = {
    "en": {
        "title": "KV cache of one d20 sequence (20 layers × 10 KV heads × 128 dims)",
        "x": "context length T (tokens)",
        "y": "MiB",
        "allocated": "allocated by KVCache, bf16 (grows in 1024-token chunks)",
        "needed": "needed, bf16: 2·L·T·H_kv·D·2 bytes",
        "fp32": "needed, float32",
    },
    "zh": {
        "title": "一条 d20 序列的 KV 缓存（20 层 × 10 个 KV 头 × 128 维）",
        "x": "上下文长度 T（token）",
        "y": "MiB",
        "allocated": "KVCache 实际分配，bf16（按 1024 token 为单位增长）",
        "needed": "实际需要，bf16：2·L·T·H_kv·D·2 字节",
        "fp32": "实际需要，float32",
    },
}


def d20_kv_dims() -> dict[str, int]:
    """``num_layers``, ``num_heads`` (KV heads) and ``head_dim`` of the d20 model base_train builds."""
    args = parse_args([])
    config = model_config_for(DEPTH, args.max_seq_len, 65536)
    return {
        "num_layers": config.n_layer,
        "num_heads": config.n_kv_head,
        "head_dim": config.n_embd // config.n_head,
    }


def bytes_per_token(dims: dict[str, int], dtype_bytes: int = 2) -> int:
    """K and V of every layer for one token of one sequence."""
    return 2 * dims["num_layers"] * dims["num_heads"] * dims["head_dim"] * dtype_bytes


@lru_cache(maxsize=4)
def allocated_bytes(length: int = LENGTH, every: int = EVERY) -> list[tuple[int, int]]:
    """``(T, bytes)``: what the reference ``KVCache`` holds after a 16-token prefill and one insert per token."""
    dims = d20_kv_dims()
    cache = KVCache(batch_size=1, seq_len=PROMPT, **dims)
    # Only the last layer advances pos; writing that layer alone is enough to count the bytes.
    last = dims["num_layers"] - 1
    with torch.device("meta"):
        k = torch.empty(1, dims["num_heads"], PROMPT, dims["head_dim"], dtype=torch.bfloat16)
        cache.insert_kv(last, k, k)
        one = torch.empty(1, dims["num_heads"], 1, dims["head_dim"], dtype=torch.bfloat16)
        points = []
        for t in range(PROMPT, length + 1):
            if t % every == 0:
                points.append((t, cache.kv_cache.numel() * cache.kv_cache.element_size()))
            cache.insert_kv(last, one, one)
    return points


def kv_cache_memory(lang: str) -> str:
    words = WORDS[lang]
    dims = d20_kv_dims()
    allocated = allocated_bytes()
    xs = [t for t, _ in allocated]
    spec = {
        "title": words["title"],
        "x_label": words["x"],
        "y_label": words["y"],
        "series": [
            {"name": words["allocated"], "x": xs, "y": [round(b / MIB, 3) for _, b in allocated]},
            {"name": words["needed"], "x": xs, "y": [round(t * bytes_per_token(dims) / MIB, 3) for t in xs]},
            {
                "name": words["fp32"],
                "x": xs,
                "y": [round(t * bytes_per_token(dims, 4) / MIB, 3) for t in xs],
                "dash": True,
            },
        ],
    }
    return json.dumps(spec, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
