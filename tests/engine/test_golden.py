"""Golden submissions (Exercism style): every outcome class, each with its expected result JSON.

Run with ``UPDATE_GOLDEN=1`` to rewrite the expected files after an intended change, then review the diff.
The ``cheat_*`` submissions try to forge a pass (patching pytest or builtins, printing fake events, writing
fake result files, exiting 0, forging protocol frames, sleeping past the deadline, hunting the filesystem for
the hidden tests, which does find them when run outside the sandbox); their golden results are all failures, and :func:`test_no_cheat_ever_passes` says so independently of the JSON files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from engine_helpers import GOLDEN, normalise, run

SUBMISSIONS = sorted(p.stem for p in (GOLDEN / "add").glob("*.py"))
#: Submissions whose per-test text depends on timing: which process of a fork bomb answers first, how
#: stdout and stderr chunks interleave.
VOLATILE_MESSAGES = {"fork_bomb", "cheat_fake_events"}
CALL_SECONDS = 2
#: A memory bomb must meet the memory cap, not the call deadline, however loaded the machine is.
CALL_SECONDS_FOR = {"memory_bomb": 15}


_CACHE: dict[str, dict] = {}


def _grade(add_module: Path, pool: object, name: str) -> dict:
    """Grade a golden submission once per session (the cheat checks reuse the golden runs)."""
    if name not in _CACHE:
        _CACHE[name] = _grade_now(add_module, pool, name)
    return _CACHE[name]


def _grade_now(add_module: Path, pool: object, name: str) -> dict:
    source = (GOLDEN / "add" / f"{name}.py").read_bytes()
    events = run(
        add_module,
        {"add.py": source},
        pool=pool,
        limits={"call_seconds": CALL_SECONDS_FOR.get(name, CALL_SECONDS)},
    )
    return events[-1]["result"]


def _comparable(name: str, result: dict) -> dict:
    out = normalise(result)
    if name in VOLATILE_MESSAGES:
        out["tests"] = [{**t, "message": "<volatile>", "output": "<volatile>"} for t in out["tests"]]
    return out


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_golden_submission_gets_its_expected_result(add_module, pool, name):
    result = _comparable(name, _grade(add_module, pool, name))
    expected_path = GOLDEN / "add" / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        expected_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    assert result == json.loads(expected_path.read_text())


@pytest.mark.parametrize("name", [n for n in SUBMISSIONS if n.startswith("cheat_")])
def test_no_cheat_ever_passes(add_module, pool, name):
    result = _grade(add_module, pool, name)
    assert result["status"] == "fail"
    assert result["score"] == 0
    assert all(t["status"] != "pass" for t in result["tests"])


def test_every_outcome_class_has_a_golden_submission():
    outcomes = {json.loads(p.read_text())["outcome"] for p in (GOLDEN / "add").glob("*.json")}
    learner_outcomes = {
        "ok",
        "tests_failed",
        "compile_error",
        "import_error",
        "runtime_error",
        "timeout",
        "memory_limit",
        "output_limit",
    }
    assert learner_outcomes <= outcomes
    assert {p.stem for p in (GOLDEN / "add").glob("*.json")} == set(SUBMISSIONS)
