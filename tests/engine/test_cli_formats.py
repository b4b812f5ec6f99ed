"""``python -m grading run ... --format``: the autograder documents for a real module (content/01-onboarding).

Each export format prints exactly one JSON document (no event lines) for the final result; ``json`` keeps the
event stream (tests/engine/test_end_to_end.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import GOLDEN

from grading.__main__ import main

REPO = Path(__file__).resolve().parents[2]
ONBOARDING = REPO / "content" / "01-onboarding"
REFERENCE = ONBOARDING / "reference" / "hello.py"
#: content/01-onboarding/module.yaml lists its steps in this order (Exercism's task_id is the 1-based index).
STEPS = ["step1", "step2", "step3"]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[Any]]:
    """Exit status and every JSON line printed by ``python -m grading run ...``."""
    status = main(["run", *args])
    return status, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_gradescope_gives_one_point_per_passed_test_of_the_reference(capsys):
    status, lines = cli(
        capsys, str(ONBOARDING), str(REFERENCE), "--format", "gradescope", "--submission-id", "g1"
    )
    assert status == 0 and len(lines) == 1
    doc = lines[0]
    assert len(doc["tests"]) >= 10
    assert doc["score"] == len(doc["tests"]) == sum(t["score"] for t in doc["tests"])
    assert {t["status"] for t in doc["tests"]} == {"passed"}
    assert [t["number"] for t in doc["tests"]] == [str(n) for n in range(1, len(doc["tests"]) + 1)]
    assert {t["tags"][0] for t in doc["tests"]} == set(STEPS)
    assert {t["tags"][1] for t in doc["tests"]} == {"visible", "hidden"}
    assert doc["extra_data"] == {
        "schema_version": 1,
        "outcome": "ok",
        "fault": None,
        "module": "01-onboarding",
        "submission_id": "g1",
    }
    assert doc["execution_time"] > 0


def test_exercism_maps_each_test_to_its_step_as_a_task(capsys):
    status, lines = cli(capsys, str(ONBOARDING), str(REFERENCE), "--format", "exercism")
    assert status == 0 and len(lines) == 1
    doc = lines[0]
    assert (doc["version"], doc["status"]) == (3, "pass") and "message" not in doc
    names = {t["name"]: t for t in doc["tests"]}
    assert names["test_greet_says_hello_with_the_name"] == {
        "name": "test_greet_says_hello_with_the_name",
        "status": "pass",
        "task_id": STEPS.index("step2") + 1,
    }
    assert {t["task_id"] for t in doc["tests"]} == {1, 2, 3}


def test_prairielearn_scores_the_reference_one_in_zero_to_one(capsys):
    status, lines = cli(capsys, str(ONBOARDING), str(REFERENCE), "--format", "prairielearn")
    assert status == 0 and len(lines) == 1
    doc = lines[0]
    assert (doc["gradable"], doc["score"], doc["outcome"]) == (True, 1.0, "ok")
    assert sum(t["points"] for t in doc["tests"]) == sum(t["max_points"] for t in doc["tests"]) > 0
    assert all(t["description"].startswith(("visible/", "hidden/")) for t in doc["tests"])


def test_prairielearn_marks_a_platform_fault_ungradable_and_the_cli_fails(capsys, tmp_path):
    (tmp_path / "module.yaml").write_text("files: [{path: a.py}]\n")
    status, lines = cli(
        capsys, str(tmp_path), "--file", f"a.py={GOLDEN / 'add' / 'all_pass.py'}", "--format", "prairielearn"
    )
    assert status == 1 and len(lines) == 1
    assert lines[0]["gradable"] is False and lines[0]["format_errors"] == [lines[0]["message"]]


def test_an_unknown_format_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(ONBOARDING), str(REFERENCE), "--format", "junit"])
    assert exit_info.value.code == 2 and "invalid choice: 'junit'" in capsys.readouterr().err
