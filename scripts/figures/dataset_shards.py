"""Module 3's figure: which row groups each rank reads, measured by running the reference's reader on real shards.

Tiny shards are made with ``nanochat_ref.scripts.make_shards`` (the tests' layout: 3 shards of 4 row groups) in a
temporary base dir; ``nanochat_ref.dataset.parquets_iter_batched(split, start=rank, step=world_size)`` is then run
for every rank of 2 and of 3 processes, and every batch it yields is matched back to the (shard, row group) it came
from. Nothing in the picture is drawn from the rule; it is what the code read.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from typing import Any

import pyarrow.parquet as pq

from scripts.figures.svg import MUTED, PALETTE, Svg

SHARDS: dict[str, Any] = {
    "num_shards": 3,
    "row_groups_per_shard": 4,
    "rows_per_group": 16,
    "max_doc_chars": 300,
    "sources": ["pydoc"],
}
WORLDS = (1, 2, 3)

WORDS: dict[str, dict[str, Any]] = {
    "en": {
        "title": "Which row groups each rank reads: parquets_iter_batched(split, start=rank, step=world_size)",
        "shard": "shard_{i:05d}",
        "val": "val = the last shard",
        "train": "train = every other shard",
        "world": "world_size = {w}",
        "rank": "rank {r}",
        "rg": "row group {g}",
        "note": (
            "Each cell is one row group (1,024 documents in nanochat, 16 here); its colour is the rank that read it.",
            "Rank r reads row groups r, r + W, r + 2W, ... of EVERY file: with 4 groups per file and W = 3,",
            "rank 0 reads two groups per file and ranks 1 and 2 one each.",
        ),
    },
    "zh": {
        "title": "每个 rank 读取哪些行组：parquets_iter_batched(split, start=rank, step=world_size)",
        "shard": "shard_{i:05d}",
        "val": "val = 最后一个分片",
        "train": "train = 其余所有分片",
        "world": "world_size = {w}",
        "rank": "rank {r}",
        "rg": "行组 {g}",
        "note": (
            "每个格子是一个行组（nanochat 中为 1,024 篇文档，这里为 16 篇）；颜色表示读取它的 rank。",
            "rank r 读取每个文件的第 r、r + W、r + 2W…… 个行组：每个文件 4 个行组、W = 3 时，",
            "rank 0 每个文件读两个行组，rank 1 和 rank 2 各读一个。",
        ),
    },
}


def measured_owners() -> dict[tuple[str, int], list[list[int]]]:
    """``{(split, world_size): owner[shard][row_group]}`` (-1: not in the split), from the reference's reader."""
    from nanochat_ref import dataset
    from nanochat_ref.scripts.make_shards import make_shards

    with tempfile.TemporaryDirectory() as base:
        data_dir = os.path.join(base, "base_data")
        with contextlib.redirect_stdout(io.StringIO()):  # make_shards reports what it wrote
            make_shards(data_dir, **SHARDS)
        where: dict[tuple[str, ...], tuple[int, int]] = {}
        files = dataset.list_parquet_files(data_dir)
        for i, path in enumerate(files):
            pf = pq.ParquetFile(path)
            for g in range(pf.num_row_groups):
                where[tuple(pf.read_row_group(g).column("text").to_pylist())] = (i, g)
        groups = int(SHARDS["row_groups_per_shard"])
        owners: dict[tuple[str, int], list[list[int]]] = {}
        saved, dataset.DATA_DIR = dataset.DATA_DIR, data_dir
        try:
            for split in ("train", "val"):
                for world in WORLDS:
                    owner = [[-1] * groups for _ in files]
                    for rank in range(world):
                        for batch in dataset.parquets_iter_batched(split, start=rank, step=world):
                            i, g = where[tuple(batch)]
                            owner[i][g] = rank
                    owners[(split, world)] = owner
        finally:
            dataset.DATA_DIR = saved
    return owners


CELL_W, CELL_H, GAP = 46, 26, 14
LEFT, TOP = 140, 70


def dataset_shards(lang: str) -> str:
    words = WORDS[lang]
    owners = measured_owners()
    shards, groups = int(SHARDS["num_shards"]), int(SHARDS["row_groups_per_shard"])
    shard_w = groups * CELL_W + GAP
    width = LEFT + shards * shard_w + 40
    height = TOP + len(WORLDS) * (CELL_H + 18) + 150
    svg = Svg(width, height, title=words["title"])
    svg.text(20, 28, words["title"], **{"font-weight": "bold", "font-size": 15})
    for i in range(shards):
        x0 = LEFT + i * shard_w
        svg.text(x0, TOP - 26, words["shard"].format(i=i), **{"font-weight": "bold"})
        split_label = words["val"] if i == shards - 1 else words["train"]
        svg.text(x0, TOP - 10, split_label, fill=MUTED, **{"font-size": 12})
    for row, world in enumerate(WORLDS):
        y = TOP + row * (CELL_H + 18)
        svg.text(20, y + CELL_H - 8, words["world"].format(w=world))
        for i in range(shards):
            split = "val" if i == shards - 1 else "train"
            owner = owners[(split, world)]
            for g in range(groups):
                x = LEFT + i * shard_w + g * CELL_W
                rank = owner[i][g]
                fill = PALETTE[rank % len(PALETTE)] if rank >= 0 else "#f1f5f9"
                svg.rect(x, y, CELL_W - 4, CELL_H, fill=fill, rx=3)
                svg.text(
                    x + (CELL_W - 4) / 2,
                    y + CELL_H - 8,
                    str(rank),
                    fill="#ffffff",
                    **{"text-anchor": "middle"},
                )
    legend_y = TOP + len(WORLDS) * (CELL_H + 18) + 12
    for r in range(max(WORLDS)):
        x = LEFT + r * 110
        svg.rect(x, legend_y, 18, 14, fill=PALETTE[r], rx=2)
        svg.text(x + 24, legend_y + 12, words["rank"].format(r=r))
    for k, line in enumerate(words["note"]):
        svg.text(20, legend_y + 44 + 20 * k, line, fill=MUTED, **{"font-size": 13})
    return svg.render()
