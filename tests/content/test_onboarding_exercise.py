"""Module 01's own tests accept its reference and reject its starter.

Two harnesses:
- in-process (``inprocess_learner.py``): always available; runs content/01-onboarding/tests in a child pytest
  with the reference or the generated starter ``hello.py`` as the workspace.
- the real engine (``grading.engine.runner.grade``): the sandboxed path learners go through.
"""

from __future__ import annotations

import ast
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


@pytest.mark.parametrize("tests_file", ["visible/test_hello.py", "hidden/test_hello_hidden.py"])
def test_the_parameter_counts_the_judge_checks_are_what_nanochats_model_counts(tests_file):
    """Module 1's judge reads each GPT's parameter count from ``NANOCHAT_GPT_PARAMS`` (building the models there
    would import torch on every verdict); here every shape of the table is built as nanochat_ref's GPT and counted."""
    from nanochat_ref.gpt import GPT, GPTConfig

    tree = ast.parse((MODULE_DIR / "tests" / tests_file).read_text(encoding="utf-8"))
    tables = [
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "NANOCHAT_GPT_PARAMS" for t in node.targets)
    ]
    assert len(tables) == 1 and tables[0], f"{tests_file}: one non-empty NANOCHAT_GPT_PARAMS table"
    for shape, count in tables[0]:
        assert sum(p.numel() for p in GPT(GPTConfig(**shape)).parameters()) == count, shape


def test_module_1s_tests_never_import_torch():
    """Its runtime is ``python``: a warm judge without torch. An import of torch (or of nanochat_ref.gpt, which
    imports it) in its tests would cost seconds of CPU on every verdict."""
    for path in sorted((MODULE_DIR / "tests").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [
            alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        ]
        names += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        heavy = [n for n in names if n.split(".")[0] == "torch" or n.startswith("nanochat_ref.gpt")]
        assert heavy == [], f"{path.relative_to(MODULE_DIR)} imports {heavy}"
