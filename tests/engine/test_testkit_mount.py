"""The shared test kit (``grading/testkit``) is mounted into every judge, warm or cold, and never into a learner.

The fixture module ``kit_probe`` holds the checks, since only code running inside the sandboxes can see what is
mounted there: one test imports the kit in the judge (from its mount point) and uses it, the other asks the
learner host to import it and to look for its folder. Both must pass, through a cold judge (module folder at
``/opt/module``) and through a pooled one (content root at ``/opt/content``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import FIXTURES, run

from grading.engine.pool import LearnerPool

SOURCE = {"probe.py": b"VALUE = 1\n"}
PROBES = [
    "visible/test_kit_probe.py::test_the_judge_imports_the_test_kit_from_its_mount",
    "visible/test_kit_probe.py::test_the_learner_cannot_import_or_see_the_test_kit",
]


@pytest.fixture(scope="module")
def kit_module() -> Path:
    return FIXTURES / "kit_probe"


def _passed(result: dict) -> list[str]:
    return [t["id"] for t in result["tests"] if t["status"] == "pass"]


def test_a_cold_judge_imports_the_test_kit_and_its_learner_cannot(kit_module):
    result = run(kit_module, SOURCE)[-1]["result"]
    assert (result["status"], result["outcome"]) == ("pass", "ok"), result["tests"]
    assert _passed(result) == PROBES


def test_a_pooled_judge_imports_the_test_kit_and_its_learner_cannot(kit_module, pool: LearnerPool):
    assert pool.wait_ready(30)
    hits = pool.hits
    result = run(kit_module, SOURCE, pool=pool)[-1]["result"]
    assert pool.hits == hits + 2  # both processes came warm from the pool: the judge saw /opt/content
    assert (result["status"], result["outcome"]) == ("pass", "ok"), result["tests"]
    assert _passed(result) == PROBES
