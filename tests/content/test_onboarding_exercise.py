"""Module 01's own tests accept its reference and reject its starter.

Two harnesses:
- in-process (``inprocess_learner.py``): always available; runs content/01-onboarding/tests in a child pytest
  with the reference or the generated starter ``hello.py`` as the workspace.
- the real engine (``grading.engine.runner.grade``): the sandboxed path learners go through.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from content_helpers import CONTENT_DIR, REPO_ROOT

from modules import spec as module_spec
from modules.starters import starters

MODULE_DIR = CONTENT_DIR / "01-onboarding"
HERE = Path(__file__).resolve().parent


def _run_module_tests(tmp_path: Path, hello_source: Path) -> dict[str, str]:
    """Runs the module's visible and hidden tests against ``hello_source``; returns test name -> outcome."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "hello.py").write_bytes(hello_source.read_bytes())
    ini = tmp_path / "pytest.ini"
    ini.write_text("[pytest]\naddopts = -p no:cacheprovider -p no:django -p no:randomly\n")
    junit = tmp_path / "junit.xml"
    env = {
        **os.environ,
        "INPROC_WORKSPACE": str(workspace),
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(HERE)]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-c", str(ini), "--rootdir", str(tmp_path),
         "-p", "inprocess_learner", f"--junitxml={junit}", str(MODULE_DIR / "tests")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    outcomes = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        outcomes[case.get("name")] = "skipped" if skipped else ("failed" if failed else "passed")
    return outcomes


@pytest.mark.slow
def test_the_reference_passes_every_onboarding_test(tmp_path):
    outcomes = _run_module_tests(tmp_path, MODULE_DIR / "reference" / "hello.py")
    assert len(outcomes) >= 20
    assert {name for name, result in outcomes.items() if result != "passed"} == set()


@pytest.mark.slow
def test_the_starter_fails_every_onboarding_test(tmp_path):
    starter = tmp_path / "starter_hello.py"
    starter.write_text(starters(module_spec.load(MODULE_DIR))["hello.py"], encoding="utf-8")
    outcomes = _run_module_tests(tmp_path, starter)
    assert len(outcomes) >= 20
    assert {name for name, result in outcomes.items() if result != "failed"} == set()


@pytest.mark.slow
def test_the_engine_passes_the_reference_and_fails_the_starter():
    """Needs grading.engine.runner (the engine engineer's work); this is the end-to-end content check."""
    from grading.engine.runner import grade

    def verdict(source: Path) -> dict:
        events = list(grade(MODULE_DIR, {"hello.py": source.read_bytes()}))
        assert events[-1]["type"] == "verdict"
        return events[-1]["result"]

    good = verdict(MODULE_DIR / "reference" / "hello.py")
    assert (good["status"], good["outcome"]) == ("pass", "ok"), good["message"]
    assert good["score"] == good["max_score"] > 0
    assert all(t["status"] == "pass" for t in good["tests"])

    events = list(grade(MODULE_DIR, {}))  # nothing submitted: the engine grades the generated starter
    bad = events[-1]["result"]
    assert (bad["status"], bad["fault"]) == ("fail", "learner")
    # every stub raises NotImplementedError, so tests error (runtime_error) rather than merely fail
    assert bad["outcome"] in ("runtime_error", "tests_failed")
    assert bad["score"] == 0
    assert all(t["status"] in ("fail", "error") for t in bad["tests"])
