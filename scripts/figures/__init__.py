"""Figures for the handouts, generated from the reference code: ``python -m scripts.figures --out var/figures``.

Design choices:
- Every figure is computed by running ``nanochat_ref`` (a mask read off the attention layer, the Newton–Schulz map
  of the optimiser, the schedule of the training script), so a figure cannot disagree with the code the learner is
  compared with. Generators import torch, so they live here, in build tooling, and never in the web process: the
  content sync reads what they wrote (``modules/figures.py``) and runs this package as a subprocess when the
  figures are missing or stale. They are not in ``nanochat_ref`` either, which mirrors nanochat's own files.
- A figure is an SVG written by hand (``svg.py``, no dependency) or a plot spec for the page's Plotly adapter
  (``labplatform/schemas/guide-plot.schema.json``), one file per guide language, under
  ``<out>/<slug>/<name>.<lang>.svg|json``, plus ``<out>/manifest.json`` listing every figure with the SHA-256 of the
  files it was computed from (this package and the reference files it names).
- Deterministic: no timestamps, rounded numbers, sorted keys; generating twice writes byte-identical files
  (``tests/content/test_handouts.py``). Files are replaced atomically, the manifest last.

Adding a figure (docs/authoring.md, "Handouts"): write ``make(lang) -> str`` in a module here, add a
:class:`FigureSpec` to :data:`FIGURES` with the reference files it reads, and cite it in the guide as
``![caption](figure:<name>)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from modules.figures import Figure, atomic_write, manifest_write, sha256_file
from scripts.figures.attention import causal_mask
from scripts.figures.bpe_compression import bpe_compression
from scripts.figures.core_centring import core_centring
from scripts.figures.dataset_shards import dataset_shards
from scripts.figures.kv_cache import kv_cache_memory
from scripts.figures.lr_schedule import lr_schedule
from scripts.figures.newton_schulz import newton_schulz
from scripts.figures.params_by_depth import params_by_depth
from scripts.figures.pg_variance import pg_variance
from scripts.figures.report_run import run_losses, speed_quality
from scripts.figures.rope import rope_relative
from scripts.figures.sharding import sharding
from scripts.figures.stage_runs import mid_lr_compounding, sft_supervised_share
from scripts.figures.tiny_run import tiny_run
from scripts.figures.tool_use import tool_stream_figure

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = Path(__file__).resolve().parent
LANGS = ("en", "zh")
SUFFIX = {"svg": "svg", "plot": "json"}


@dataclass(frozen=True)
class FigureSpec:
    slug: str  # the module whose guide shows it
    name: str  # cited as figure:<name> there, figure:<slug>/<name> elsewhere
    kind: str  # svg | plot
    make: Callable[[str], str]  # language -> the file's text
    inputs: tuple[str, ...]  # repository files it is computed from, besides this package

    @property
    def key(self) -> str:
        return f"{self.slug}/{self.name}"


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "02-tokenizer",
        "bpe-compression",
        "plot",
        bpe_compression,
        ("nanochat_ref/bpe_python.py", "nanochat_ref/tokenizer.py"),
    ),
    FigureSpec(
        "04-dataloader",
        "sharding",
        "svg",
        sharding,
        ("nanochat_ref/dataloader.py", "nanochat_ref/scripts/make_shards.py", "nanochat_ref/dataset.py"),
    ),
    FigureSpec(
        "01-onboarding",
        "params-by-depth",
        "plot",
        params_by_depth,
        ("content/01-onboarding/reference/hello.py", "nanochat_ref/gpt.py"),
    ),
    FigureSpec(
        "03-dataset",
        "rank-striding",
        "svg",
        dataset_shards,
        ("nanochat_ref/dataset.py", "nanochat_ref/scripts/make_shards.py"),
    ),
    FigureSpec("05-gpt", "causal-mask", "svg", causal_mask, ("nanochat_ref/gpt.py",)),
    FigureSpec("05-gpt", "rope-relative", "plot", rope_relative, ("nanochat_ref/gpt.py",)),
    FigureSpec("06-optimizers", "newton-schulz", "svg", newton_schulz, ("nanochat_ref/muon.py",)),
    FigureSpec(
        "07-base-training",
        "lr-schedule",
        "plot",
        lr_schedule,
        ("nanochat_ref/scripts/base_train.py", "nanochat_ref/gpt.py"),
    ),
    FigureSpec(
        "08-midtraining",
        "mid-lr-compounding",
        "plot",
        mid_lr_compounding,
        ("nanochat_ref/scripts/mid_train.py",),
    ),
    FigureSpec(
        "09-sft",
        "sft-supervised-share",
        "plot",
        sft_supervised_share,
        (
            "nanochat_ref/scripts/chat_sft.py",
            "nanochat_ref/tokenizer.py",
            "nanochat_ref/checkpoints/tokenizer/tokenizer.pkl",
        ),
    ),
    FigureSpec(
        "11-engine",
        "kv-cache-memory",
        "plot",
        kv_cache_memory,
        ("nanochat_ref/engine.py", "nanochat_ref/scripts/base_train.py", "nanochat_ref/gpt.py"),
    ),
    FigureSpec(
        "12-tool-use",
        "tool-stream",
        "svg",
        tool_stream_figure,
        ("nanochat_ref/engine.py", "nanochat_ref/tokenizer.py", "nanochat_ref/bpe_python.py"),
    ),
    FigureSpec(
        "07-base-training",
        "tiny-run",
        "plot",
        tiny_run,
        (
            "nanochat_ref/scripts/base_train.py",
            "nanochat_ref/gpt.py",
            "nanochat_ref/muon.py",
            "nanochat_ref/adamw.py",
        ),
    ),
    FigureSpec("10-rl", "pg-variance", "plot", pg_variance, ("nanochat_ref/scripts/chat_rl.py",)),
    FigureSpec("13-eval", "core-centring", "plot", core_centring, ("nanochat_ref/scripts/base_eval.py",)),
    FigureSpec(
        "15-report",
        "run-losses",
        "plot",
        run_losses,
        (
            "nanochat_ref/report.py",
            "nanochat_ref/checkpoints/run/curves.json",
            "nanochat_ref/checkpoints/run/speedrun.md",
        ),
    ),
    FigureSpec(
        "15-report",
        "speed-quality",
        "plot",
        speed_quality,
        (
            "nanochat_ref/report.py",
            "nanochat_ref/checkpoints/run/curves.json",
            "nanochat_ref/checkpoints/run/speedrun.md",
        ),
    ),
)


def _inputs(spec: FigureSpec) -> dict[str, str]:
    package = sorted(p.relative_to(REPO_ROOT).as_posix() for p in PACKAGE_DIR.glob("*.py"))
    return {rel: sha256_file(REPO_ROOT / rel) for rel in sorted({*package, *spec.inputs})}


def generate(out: Path, specs: Iterable[FigureSpec] = FIGURES) -> dict[str, Figure]:
    """Write every figure of ``specs`` and the manifest under ``out``; returns the manifest's figures."""
    out = Path(out)
    figures = {}
    for spec in specs:
        files = {}
        for lang in LANGS:
            rel = f"{spec.slug}/{spec.name}.{lang}.{SUFFIX[spec.kind]}"
            atomic_write(out / rel, spec.make(lang))
            files[lang] = rel
        figures[spec.key] = Figure(key=spec.key, kind=spec.kind, files=files, inputs=_inputs(spec))
    manifest_write(out, figures)
    return figures
