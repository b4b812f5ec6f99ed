"""Fixtures for module 15: the same hand-written report folder on both sides, and file helpers for each side.

Design choices:

- The section files for ``generate()`` are written by hand here (fixed timestamps, the launch README's numbers),
  not with the learner's ``log``: a step 2 test then does not depend on step 1, and the expected report is exact.
- The learner's files live in a temp folder made in the learner's process (``tempfile.mkdtemp`` there); the judge
  writes the same files under ``tmp_path`` and runs the reference on them. Files cross as plain text through
  ``pathlib.Path(...).read_text()`` / ``write_text()`` calls on the learner side.
- ``reset()`` is never called: it shells out to git and imports torch, which is slow and machine-dependent.
- Steps 4-6 analyse the course's real tiny run, ``nanochat_ref/checkpoints/run/`` (its report sections and
  ``curves.json``), copied to both sides; the unit tests build small run dicts by hand (``small_run``) so that each
  rule (a tie, a missing number, a task one stage lacks) changes the result.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from grading.testkit import LearnerFiles

TIMESTAMP = re.compile(r"^timestamp: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", re.MULTILINE)

HEADER = (
    "# nanochat training report\n\nGenerated: 2026-01-01 09:00:00\n\n## Environment\n\n"
    "### Hardware\n- Platform: Linux\n- GPUs: 8x NVIDIA H100 80GB HBM3\n\n"
    "### Bloat\n- Characters: 351,234\n- Lines: 8,304\n- Files: 44\n- Tokens (approx): 87,808\n\n"
    "Run started: 2026-01-01 09:00:00\n\n---\n\n"
)


def section(title: str, stamp: str, metrics: dict[str, str]) -> str:
    """A section file exactly as ``Report.log`` writes it."""
    items = "".join(f"- {k}: {v}\n" for k, v in metrics.items())
    return f"## {title}\ntimestamp: {stamp}\n\n{items}\n"


CHAT = ["ARC-Easy", "ARC-Challenge", "MMLU", "GSM8K", "HumanEval", "ChatCORE"]
FULL_RUN = {
    "header.md": HEADER,
    "tokenizer-training.md": section("Tokenizer training", "2026-01-01 09:03:10", {"vocab_size": "65,536"}),
    "base-model-training.md": section(
        "Base model training", "2026-01-01 12:01:00", {"num_iterations": "21,400", "mfu": "48.2100"}
    ),
    "base-model-evaluation.md": section("Base model evaluation", "2026-01-01 12:10:30", {"CORE": "0.2219"}),
    "midtraining.md": section("Midtraining", "2026-01-01 12:25:00", {"min_val_bpb": "0.3956"}),
    "chat-evaluation-mid.md": section(
        "Chat evaluation mid",
        "2026-01-01 12:31:00",
        dict(zip(CHAT, ["0.3561", "0.2875", "0.3111", "0.0250", "0.0671", "0.0730"], strict=True)),
    ),
    "chat-sft.md": section("Chat SFT", "2026-01-01 12:40:00", {"num_iterations": "701"}),
    "chat-evaluation-sft.md": section(
        "Chat evaluation sft",
        "2026-01-01 12:51:45",
        dict(zip(CHAT, ["0.3876", "0.2807", "0.3151", "0.0455", "0.0854", "0.0884"], strict=True)),
    ),
    "chat-rl.md": section("Chat RL", "2026-01-01 14:30:00", {"num_steps": "467"}),
    "chat-evaluation-rl.md": section("Chat evaluation rl", "2026-01-01 14:40:00", {"GSM8K": "0.0758"}),
}


def run_files() -> dict[str, str]:
    """The shipped tiny run's report folder (sections, speedrun.md and curves.json), name -> text."""
    from pathlib import Path

    import nanochat_ref

    folder = Path(nanochat_ref.__file__).resolve().parent / "checkpoints" / "run"
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir()) if p.is_file()}
    assert "curves.json" in files, f"no curves.json in {folder}: see nanochat_ref/checkpoints/README.md"
    return files


def small_run(**changes) -> dict:
    """A collected run by hand: three evaluated stages, two shared tasks (and one only MID, one only SFT has), times, losses."""
    run = {
        "times": {"base": 120.0, "mid": 300.0, "sft": 60.0, "rl": 30.0, "total": 600.0},
        "losses": {"base": [6.0, 5.0, 4.5, 4.0], "mid": [2.0, 1.5], "sft": [1.0, 0.8, 0.9]},
        "rewards": [0.25, 0.5, 0.75],
        "evals": {
            "mid": {"GSM8K": 0.1, "MMLU": 0.3, "ARC-Easy": 0.25},
            "sft": {"GSM8K": 0.6, "MMLU": 0.3, "HumanEval": 0.05},
            "rl": {"GSM8K": 0.7, "MMLU": 0.3},
        },
        "core": 0.02,
        "base": {"params": 2113536.0, "tokens": 245760.0, "flops_per_token": 12091390.0},
        "missing": [],
    }
    run.update(changes)
    return run


@pytest.fixture
def rpt(learner):
    """The learner's ``nanochat.report`` module (a proxy)."""
    return learner.module("nanochat.report")


@pytest.fixture
def lfs(learner):
    """File helpers in the learner's process: ``mkdtemp()``, ``write(path, text)``, ``read(path)``, ``exists``."""
    return LearnerFiles(learner, prefix="report-")


@pytest.fixture
def make_run(lfs, tmp_path):
    """``make_run(files)`` writes ``files`` (name -> text) on both sides; returns (learner_dir, judge_dir)."""

    def _make(files: dict[str, str]) -> tuple[str, str]:
        ldir = lfs.mkdtemp()
        jdir = tmp_path / "judge_report"
        jdir.mkdir(exist_ok=True)
        for name, text in files.items():
            lfs.write(lfs.join(ldir, name), text)
            (jdir / name).write_text(text)
        return ldir, str(jdir)

    return _make


def summary_rows(report_text: str) -> list[list[str]]:
    """The cells of each metric row of the summary table (heading and rule lines left out)."""
    summary = report_text.split("## Summary", 1)[1]
    rows = [line for line in summary.splitlines() if line.startswith("| ")][1:]
    return [[cell.strip() for cell in row.split("|")[1:-1]] for row in rows]


def without_timestamps(text: str) -> str:
    return TIMESTAMP.sub("timestamp: <now>", text)


def first_difference(got: str, expected: str) -> str | None:
    """None when equal, else a short description of the first differing line (keeps messages readable)."""
    if got == expected:
        return None
    got_lines, want_lines = got.split("\n"), expected.split("\n")
    for i, (g, w) in enumerate(zip(got_lines, want_lines, strict=False)):
        if g != w:
            return f"line {i + 1}: got {g!r}, expected {w!r}"
    n = min(len(got_lines), len(want_lines))
    return f"line {n + 1}: got {len(got_lines)} lines, expected {len(want_lines)}"


@pytest.fixture
def shipped_run(make_run):
    """(learner_dir, judge_dir) holding the shipped tiny run's report folder."""
    return make_run(run_files())


@pytest.fixture(scope="session")
def rd():
    """The report data and helpers above, for the test files (they do not import conftest)."""
    return SimpleNamespace(
        HEADER=HEADER,
        FULL_RUN=FULL_RUN,
        section=section,
        summary_rows=summary_rows,
        without_timestamps=without_timestamps,
        TIMESTAMP=TIMESTAMP,
        first_difference=first_difference,
        small_run=small_run,
        run_files=run_files,
    )
