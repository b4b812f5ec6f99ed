"""Module 4's figure: which rank reads which row group, and where a resumed run restarts.

Computed by running the reference loader's document reader (``nanochat_ref.dataloader.document_batches``, one
pass) as every rank over small shards written by the reference ``make_shards`` into a temporary folder: the same
shape as the tests' wide data set (12 row groups a file), so 8 ranks do not divide the row groups evenly.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from scripts.figures.svg import MUTED, Svg

WIDTH = 560
ROW_GROUPS = 12
SHARDS = {"num_shards": 3, "row_groups_per_shard": ROW_GROUPS, "rows_per_group": 2, "max_doc_chars": 120,
          "sources": ["pydoc"]}  # fmt: skip
RANK_COLOURS = ("#4f46e5", "#0d9488", "#d97706", "#db2777", "#2563eb", "#65a30d", "#7c3aed", "#dc2626")
RESUME = {"pq_idx": 0, "rg_idx": 5}
RESUME_WORLD = 4

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Which rank reads which row group (nanochat_ref document reader, one pass)",
        "shard": "8 ranks, train split: 2 files of 12 row groups",
        "file": "file {i}",
        "rg": "row group",
        "note1": "Rank r reads row groups r, r+8, ... of every file: ranks 0-3 get 2 a file,",
        "note2": "ranks 4-7 only 1. No row group is read twice and none is missed.",
        "resume": "Resume with pq_idx=0, rg_idx=5 on 4 ranks",
        "done": "read before the checkpoint",
        "skipped": "skipped",
        "note3": "The round of rg_idx 5 (row groups 4-7) is skipped as a whole: rank r restarts",
        "note4": "at (5 // 4 + 1) * 4 + r = 8 + r. Nothing is read twice; 6 and 7 are never read.",
    },
    "zh": {
        "title": "哪个 rank 读取哪个行组（nanochat_ref 的文档读取器，一遍）",
        "shard": "8 个 rank，训练集：2 个文件，每个 12 个行组",
        "file": "文件 {i}",
        "rg": "行组",
        "note1": "第 r 号 rank 读取每个文件的行组 r、r+8……：",
        "note2": "rank 0-3 每个文件读 2 个，rank 4-7 只读 1 个；没有重复，也没有遗漏。",
        "resume": "4 个 rank 从 pq_idx=0、rg_idx=5 续训",
        "done": "检查点之前已读",
        "skipped": "被跳过",
        "note3": "rg_idx 5 所在的一轮（行组 4-7）被整体跳过：",
        "note4": "rank r 从 (5 // 4 + 1) * 4 + r = 8 + r 续读；不会重复，行组 6、7 不会被读到。",
    },
}


@contextmanager
def _shards() -> Iterator[None]:
    """Small shards in a temporary base dir, set as ``NANOCHAT_BASE_DIR`` for the block."""
    from nanochat_ref.scripts.make_shards import make_shards

    old = os.environ.get("NANOCHAT_BASE_DIR")
    with tempfile.TemporaryDirectory(prefix="nanochat-fig-") as base:
        make_shards(os.path.join(base, "base_data"), **SHARDS)
        os.environ["NANOCHAT_BASE_DIR"] = base
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("NANOCHAT_BASE_DIR", None)
            else:
                os.environ["NANOCHAT_BASE_DIR"] = old


def _reads(rank: int, world_size: int, resume: dict | None = None) -> list[tuple[int, int]]:
    from nanochat_ref.dataloader import document_batches

    out: list[tuple[int, int]] = []
    for _docs, loc in document_batches("train", rank, world_size, 128, resume, 1):
        if not out or out[-1] != loc:
            out.append(loc)
    return out


def owners(world_size: int = 8) -> dict[tuple[int, int], list[int]]:
    """``(pq_idx, rg_idx) -> ranks that read it`` over one pass of the train split."""
    with _shards():
        table: dict[tuple[int, int], list[int]] = {}
        for rank in range(world_size):
            for loc in _reads(rank, world_size):
                table.setdefault(loc, []).append(rank)
    return table


def resumed_reads(world_size: int = RESUME_WORLD) -> dict[int, list[tuple[int, int]]]:
    """``rank -> row groups it reads`` after resuming from :data:`RESUME`, one pass."""
    with _shards():
        return {rank: _reads(rank, world_size, RESUME) for rank in range(world_size)}


def sharding(lang: str) -> str:
    words = WORDS[lang]
    table = owners(8)
    resumed = resumed_reads(RESUME_WORLD)
    cell, x0 = 36, 80
    svg = Svg(WIDTH, 470, title=words["title"])
    svg.text(20, 28, words["shard"], font_size=15, font_weight="600")
    for j in range(ROW_GROUPS):
        svg.text(x0 + j * cell + cell / 2, 52, str(j), text_anchor="middle", font_size=12, fill=MUTED)
    for i in range(2):
        y = 60 + i * (cell + 6)
        svg.text(x0 - 10, y + cell / 2 + 5, words["file"].format(i=i), text_anchor="end", font_size=13)
        for j in range(ROW_GROUPS):
            ranks = table.get((i, j), [])
            colour = RANK_COLOURS[ranks[0]] if len(ranks) == 1 else "#94a3b8"
            svg.rect(x0 + j * cell, y, cell - 2, cell, fill=colour, fill_opacity=0.85, rx=3)
            label = ",".join(f"r{r}" for r in ranks) if ranks else "-"
            svg.text(x0 + j * cell + cell / 2 - 1, y + cell / 2 + 5, label, text_anchor="middle", font_size=12,
                     fill="#ffffff", font_weight="600")  # fmt: skip
    svg.text(20, 166, words["note1"], font_size=13, fill=MUTED)
    svg.text(20, 186, words["note2"], font_size=13, fill=MUTED)

    top = 232
    svg.text(20, top, words["resume"], font_size=15, font_weight="600")
    for j in range(ROW_GROUPS):
        svg.text(x0 + j * cell + cell / 2, top + 24, str(j), text_anchor="middle", font_size=12, fill=MUTED)
    for rank in range(RESUME_WORLD):
        y = top + 32 + rank * (cell - 6)
        svg.text(x0 - 10, y + (cell - 8) / 2 + 5, f"r{rank}", text_anchor="end", font_size=13)
        first_file = [rg for pq, rg in resumed[rank] if pq == RESUME["pq_idx"]]
        for j in range(ROW_GROUPS):
            x = x0 + j * cell
            if j in first_file:
                svg.rect(x, y, cell - 2, cell - 8, fill=RANK_COLOURS[rank], fill_opacity=0.85, rx=3)
            elif j % RESUME_WORLD == rank and j <= RESUME["rg_idx"]:
                svg.rect(x, y, cell - 2, cell - 8, fill="#cbd5e1", rx=3)
            elif j % RESUME_WORLD == rank:
                svg.rect(
                    x, y, cell - 2, cell - 8, fill="#ffffff", stroke="#dc2626", stroke_dasharray="4 3", rx=3
                )
            else:
                svg.rect(x, y, cell - 2, cell - 8, fill="#f8fafc", rx=3)
    ly = top + 32 + RESUME_WORLD * (cell - 6) + 14
    svg.rect(20, ly, 14, 14, fill="#cbd5e1", rx=2)
    svg.text(40, ly + 12, words["done"], font_size=13, fill=MUTED)
    svg.rect(220, ly, 14, 14, fill="#ffffff", stroke="#dc2626", stroke_dasharray="4 3", rx=2)
    svg.text(240, ly + 12, words["skipped"], font_size=13, fill=MUTED)
    svg.text(20, ly + 38, words["note3"], font_size=13, fill=MUTED)
    svg.text(20, ly + 58, words["note4"], font_size=13, fill=MUTED)
    return svg.render()
