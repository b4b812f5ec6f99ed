"""Module 2's figure: bytes per token against the number of BPE merges, from the reference trainer.

The reference pure-Python trainer (``nanochat_ref.bpe_python``, the same merges as rustbpe) learns ``MERGES`` merges
with nanochat's split pattern on a small corpus that ships with Python (``pydoc_data.topics``, no download): the
first ``N_TRAIN`` topics, each cropped to ``CROP`` characters. Greedy BPE is a prefix process (the first ``k`` merges
of a longer run are exactly what a run of ``k`` merges learns), so one run gives every vocabulary size: the ranks
cut to ``256 + k`` build a ``tiktoken.Encoding``, whose bytes per token is measured on the training text and on
held-out topics. The result is a plot spec (``labplatform/schemas/guide-plot.schema.json``).
"""

from __future__ import annotations

import json
from functools import lru_cache

import tiktoken

from nanochat_ref.bpe_python import Tokenizer
from nanochat_ref.tokenizer import SPLIT_PATTERN

MERGES = 256
EVERY = 16
N_TRAIN = 12
CROP = 2000
HELD = slice(40, 52)

WORDS = {
    "en": {
        "title": "Compression of the reference BPE as merges are added",
        "x": "merges (vocabulary size − 256)",
        "y": "bytes per token",
        "train": "training text",
        "held": "held-out text",
    },
    "zh": {
        "title": "参考 BPE 的压缩率随合并次数的变化",
        "x": "合并次数（词表大小 − 256）",
        "y": "每 token 字节数",
        "train": "训练文本",
        "held": "留出文本",
    },
}


def corpus() -> tuple[list[str], list[str]]:
    """(training texts, held-out texts): Python documentation topics, cropped."""
    from pydoc_data.topics import topics

    keys = sorted(topics)
    return [topics[k][:CROP] for k in keys[:N_TRAIN]], [topics[k][:CROP] for k in keys[HELD]]


def bytes_per_token(ranks: list[tuple[bytes, int]], texts: list[str]) -> float:
    enc = tiktoken.Encoding(
        name="figure", pat_str=SPLIT_PATTERN, mergeable_ranks=dict(ranks), special_tokens={}
    )
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    return n_bytes / sum(len(enc.encode_ordinary(t)) for t in texts)


@lru_cache(maxsize=1)
def curves() -> dict[str, dict[str, list]]:
    """Bytes per token every EVERY merges, on the training and the held-out texts."""
    train, held = corpus()
    trainer = Tokenizer()
    trainer.train_from_iterator(iter(train), 256 + MERGES, pattern=SPLIT_PATTERN)
    ranks = trainer.get_mergeable_ranks()
    xs = list(range(0, MERGES + 1, EVERY))
    out: dict[str, dict[str, list]] = {}
    for name, texts in (("train", train), ("held", held)):
        out[name] = {"x": xs, "y": [round(bytes_per_token(ranks[: 256 + k], texts), 4) for k in xs]}
    return out


def bpe_compression(lang: str) -> str:
    words = WORDS[lang]
    data = curves()
    spec = {
        "title": words["title"],
        "x_label": words["x"],
        "y_label": words["y"],
        "series": [
            {"name": words["train"], **data["train"]},
            {"name": words["held"], **data["held"], "dash": True},
        ],
    }
    return json.dumps(spec, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
