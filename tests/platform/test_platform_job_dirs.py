"""A grading worker sweeps, when it starts, the job dirs that dead workers left in the temp dir."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import pytest

from grading import tasks
from sandbox import jobdirs


@pytest.fixture
def temp_root(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


@pytest.fixture
def no_pool(settings):
    settings.GRADING_POOL_SIZE = 0
    yield
    tasks.close_grading_pool()


def left_by_a_dead_worker(root: Path, name: str) -> Path:
    path = root / name
    path.mkdir()
    (path / "add.py").write_text("def add(a, b):\n    return a + b\n")
    then = time.time() - 3600
    os.utime(path, (then, then))
    return path


def test_a_starting_grading_worker_sweeps_the_job_dirs_dead_workers_left(temp_root, no_pool) -> None:
    learner = left_by_a_dead_worker(temp_root, "lab-learner-dead1")
    judge = left_by_a_dead_worker(temp_root, "lab-judge-dead2")
    assert tasks.start_grading_pool() is None  # pool size 0: no pool, the sweep still runs
    assert (learner.exists(), judge.exists()) == (False, False)


def test_it_keeps_the_job_dirs_a_live_worker_holds(temp_root, no_pool) -> None:
    held = jobdirs.create("lab-learner-")
    then = time.time() - 3600
    os.utime(held, (then, then))
    try:
        tasks.start_grading_pool()
        assert held.exists()
    finally:
        jobdirs.remove(held)


def test_a_sweep_that_fails_is_logged_and_the_worker_starts_anyway(
    tmp_path, monkeypatch, no_pool, caplog
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    with caplog.at_level(logging.WARNING, logger="grading.tasks"):
        assert tasks.start_grading_pool() is None
    assert "could not sweep stale job dirs" in caplog.text
