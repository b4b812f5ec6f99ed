"""Whole runs through the real sandbox: the CLI, the event stream, warm vs cold, and the torch fixture."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from engine_helpers import FIXTURES, GOLDEN, run

from grading.engine.pool import LearnerPool

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grading", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_cli_prints_one_event_per_line_and_the_result_last(tmp_path):
    submission = tmp_path / "add.py"
    shutil.copy(GOLDEN / "add" / "prints_then_passes.py", submission)
    proc = cli("run", str(FIXTURES / "add"), str(submission), "--submission-id", "cli-1")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines[0]["type"] == "phase" and lines[0]["phase"] == "started"
    assert [e["seq"] for e in lines[:-1]] == list(range(len(lines) - 1))
    result = lines[-1]
    assert result["schema_version"] == 1 and result["status"] == "pass" and result["submission_id"] == "cli-1"
    first_output = next(e for e in lines if e.get("type") == "output")
    assert first_output["test_id"] == "visible/test_add.py::test_add_small_numbers"
    assert first_output["stream"] == "stdout" and first_output["data"].startswith("adding 2")


def test_cli_maps_files_explicitly_and_refuses_unknown_names(tmp_path):
    proc = cli(
        "run",
        str(FIXTURES / "add"),
        "--file",
        f"add.py={GOLDEN / 'add' / 'syntax_error.py'}",
        "--wall-seconds",
        "15",
    )
    assert proc.returncode == 0
    assert json.loads(proc.stdout.splitlines()[-1])["outcome"] == "compile_error"
    other = tmp_path / "other.py"
    other.write_text("x = 1\n")
    bad = cli("run", str(FIXTURES / "add"), str(other))
    assert bad.returncode != 0 and "cannot map" in bad.stderr
    bad = cli("run", str(FIXTURES / "add"), "--file", "add.py")
    assert bad.returncode != 0 and "path=local" in bad.stderr


def test_a_platform_error_makes_the_cli_exit_non_zero(tmp_path):
    (tmp_path / "module.yaml").write_text("files: [{path: a.py}]\n")
    proc = cli("run", str(tmp_path), "--file", f"a.py={GOLDEN / 'add' / 'all_pass.py'}")
    assert proc.returncode == 1
    assert json.loads(proc.stdout.splitlines()[-1])["outcome"] == "platform_error"


def test_symlinks_a_learner_plants_to_host_files_are_removed_without_touching_the_targets(
    add_module, tmp_path
):
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    (host_dir / "keep.txt").write_text("precious")
    planting = (
        f"import os\nos.symlink({str(host_dir)!r}, 'linked_dir')\n"
        f"os.symlink({str(host_dir / 'keep.txt')!r}, 'linked_file')\n"
        "def add(a, b):\n    return a + b\n\ndef total(values):\n    return sum(values)\n"
    )
    result = run(add_module, {"add.py": planting.encode()})[-1]["result"]
    assert result["status"] == "pass", result["message"]
    assert (host_dir / "keep.txt").read_text() == "precious"


def test_warm_run_events_arrive_in_order_with_output_attributed(add_module, pool):
    events = run(add_module, {"add.py": (GOLDEN / "add" / "prints_then_passes.py").read_bytes()}, pool=pool)
    phases = [e["phase"] for e in events if e["type"] == "phase"]
    assert phases == ["started", "sandbox_ready", "tests_collected", "finished"]
    assert events[0]["t"] < 0.3
    started = [e["id"] for e in events if e["type"] == "test_started"]
    finished = [e["test"]["id"] for e in events if e["type"] == "test_finished"]
    assert started == finished and len(started) == 4
    outputs: dict[str, str] = {}
    for e in events:
        if e["type"] == "output":  # chunks may split anywhere; their order and attribution may not
            outputs[e["test_id"]] = outputs.get(e["test_id"], "") + e["data"]
    assert list(outputs.items()) == [
        ("visible/test_add.py::test_add_small_numbers", "adding 2 and 3\n"),
        ("visible/test_add.py::test_add_negative_numbers", "adding -2 and -3\n"),
        ("visible/test_add.py::test_total_of_a_list", "summing 4 values\n"),
    ]
    assert events[-1]["result"]["usage"]["cpu_seconds"] > 0


def test_a_warm_verdict_is_faster_than_a_cold_one(add_module, pool):
    source = {"add.py": (GOLDEN / "add" / "all_pass.py").read_bytes()}
    pool.wait_ready(30)
    t0 = time.monotonic()
    warm = run(add_module, source, pool=pool)[-1]["result"]
    warm_s = time.monotonic() - t0
    t0 = time.monotonic()
    cold = run(add_module, source)[-1]["result"]
    cold_s = time.monotonic() - t0
    assert warm["status"] == cold["status"] == "pass"
    assert warm_s < cold_s


@pytest.fixture(scope="module")
def torch_pool():
    with LearnerPool(size=1, runtimes=("torch",), limits={"wall_seconds": 60}, content_root=FIXTURES) as p:
        p.wait_ready(120)
        yield p


@pytest.mark.slow
def test_torch_submission_passes_with_tensors_handles_and_bf16(torch_module, torch_pool):
    source = (GOLDEN / "tiny_torch" / "all_pass.py").read_bytes()
    result = run(torch_module, {"nanochat/tinymlp.py": source}, pool=torch_pool)[-1]["result"]
    assert (result["status"], result["outcome"]) == ("pass", "ok"), result["message"]
    assert result["metrics"]["losses"] == [3.0, 2.0, 1.5] and result["metrics"]["softmax_max_abs_err"] < 1e-6


@pytest.mark.slow
def test_torch_submission_with_an_unstable_softmax_fails_only_the_hidden_test(torch_module, torch_pool):
    source = (GOLDEN / "tiny_torch" / "unstable_softmax.py").read_bytes()
    result = run(torch_module, {"nanochat/tinymlp.py": source}, pool=torch_pool)[-1]["result"]
    assert (result["status"], result["outcome"]) == ("fail", "tests_failed")
    assert [t["id"] for t in result["tests"] if t["status"] != "pass"] == [
        "hidden/test_tinymlp_hidden.py::test_softmax_is_stable_for_large_logits"
    ]
    assert result["tests"][-1]["message"] == "Hidden test failed."
