"""What an assemble job may hand back: the tokenizer and the final checkpoint, regular files only, within a cap.

The job's work dir is written by learner code, so ``collect_model`` reads it as hostile: a planted symlink is never
followed, files it does not expect are left behind, and a model over ``STORE_BYTES`` is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grading.engine import assemble


def plant(base: Path, steps: tuple[int, ...] = (4,)) -> Path:
    (base / "tokenizer").mkdir(parents=True)
    (base / "tokenizer" / "tokenizer.pkl").write_bytes(b"tok")
    (base / "tokenizer" / "token_bytes.pt").write_bytes(b"tb")
    ckpt = base / "base_checkpoints" / "d1"
    ckpt.mkdir(parents=True)
    for step in steps:
        (ckpt / f"model_{step:06d}.pt").write_bytes(b"w" * step)
        (ckpt / f"meta_{step:06d}.json").write_text("{}")
        (ckpt / f"optim_{step:06d}_rank0.pt").write_bytes(b"o")
    return ckpt


def test_it_keeps_the_tokenizer_and_the_last_checkpoint_only(tmp_path):
    plant(tmp_path / "work", steps=(2, 8))
    (tmp_path / "work" / "base_data").mkdir()
    (tmp_path / "work" / "base_data" / "shard.parquet").write_bytes(b"data")
    store = tmp_path / "store"
    assert assemble.collect_model(tmp_path / "work", "base", store) == 3 + 2 + 8 + 2
    kept = sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file())
    assert kept == [
        "base_checkpoints/d1/meta_000008.json",
        "base_checkpoints/d1/model_000008.pt",
        "tokenizer/token_bytes.pt",
        "tokenizer/tokenizer.pkl",
    ]
    assert os.stat(store).st_mode & 0o777 == 0o700


def test_it_never_follows_a_planted_symlink(tmp_path):
    secret = tmp_path / "someone-elses-model.pt"
    secret.write_bytes(b"secret weights")
    ckpt = plant(tmp_path / "work")
    (ckpt / "model_000004.pt").unlink()
    (ckpt / "model_000004.pt").symlink_to(secret)
    with pytest.raises(ValueError, match="without a checkpoint"):
        assemble.collect_model(tmp_path / "work", "base", tmp_path / "store")
    assert not (tmp_path / "store").exists()


def test_it_refuses_a_model_over_the_cap(tmp_path, monkeypatch):
    plant(tmp_path / "work", steps=(64,))
    monkeypatch.setattr(assemble, "STORE_BYTES", 32)
    with pytest.raises(ValueError, match="more than the 32"):
        assemble.collect_model(tmp_path / "work", "base", tmp_path / "store")


def test_it_replaces_the_learners_previous_model(tmp_path):
    plant(tmp_path / "work")
    store = tmp_path / "store"
    (store / "base_checkpoints" / "d9").mkdir(parents=True)
    (store / "base_checkpoints" / "d9" / "model_000001.pt").write_bytes(b"old")
    assemble.collect_model(tmp_path / "work", "base", store)
    assert not (store / "base_checkpoints" / "d9").exists()
    assert (store / "base_checkpoints" / "d1" / "model_000004.pt").read_bytes() == b"wwww"


def test_the_workspace_holds_the_learners_files_and_cuts_modules_outside_the_stage():
    content = Path(__file__).resolve().parents[2] / "content"
    workspace = assemble.stage_workspace(content, "base", {"05-gpt": {"nanochat/gpt.py": "# my gpt\n"}})
    assert workspace["nanochat/gpt.py"] == b"# my gpt\n"
    # engine.py belongs to module 11, outside the base stage: its parts are cut out, never the reference's
    assert b"not yet: module 11-engine writes this" in workspace["nanochat/engine.py"]


def test_a_run_without_a_tokenizer_keeps_nothing(tmp_path):
    plant(tmp_path / "work")
    for child in (tmp_path / "work" / "tokenizer").iterdir():
        child.unlink()
    with pytest.raises(ValueError, match="without a tokenizer"):
        assemble.collect_model(tmp_path / "work", "base", tmp_path / "store")


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        (b"step 00015/00060 (25.00%) | loss: 6.123456 | lrm: 1.00 | dt: 9.1ms", (15, 0.25, 6.123456)),
        (b"step 00010 (12.5%) | loss: 0.7543 | lrm: 0.90", (10, 0.125, 0.7543)),
        (b"Step 00004/00040 | train loss: 1.5 | tokens: 812", (4, 0.1, 1.5)),
        (b"step 00003/00002 (150.00%) | loss: 1e-3", (3, 1.0, 0.001)),
    ],
)
def test_it_reads_the_training_scripts_step_lines(line, parsed):
    assert assemble.parse_step(line) == parsed


@pytest.mark.parametrize(
    "line",
    [
        b"Step 00005 | val loss: 1.0",  # an evaluation, not a training step
        b"step 00001/00010 (10%) | loss: nan",
        b"step 00001/00010 (10%) | loss: inf",
        b"print('step 00001/00010 | loss: 1')",
        b"step 123456789/1 | loss: 1.0",  # more digits than a step has: not ours
        b"step 00001/00010 (10%) | loss: 1e999",  # overflows to infinity
    ],
)
def test_it_ignores_what_is_not_a_training_step(line):
    assert assemble.parse_step(line) is None
