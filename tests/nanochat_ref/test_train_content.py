"""The graded content of modules 5-7 (GPT, optimizers, base training) accepts nanochat_ref and rejects the starters.

Runs each module's visible + hidden tests in a child pytest with the in-process learner harness
(``tests/content/inprocess_learner.py``): the workspace is a copy of ``nanochat_ref`` as package ``nanochat``, with
the module's learner files replaced by its generated starters for the "starter" runs. This guards the content against
changes of the reference (a renamed attribute, a changed signature) that would break grading.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from modules import spec as module_spec
from modules.starters import starters

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTENT = REPO_ROOT / "content"
MODULES = ["05-gpt", "06-optimizers", "07-base-training"]


def _workspace(tmp_path: Path, starter_of: str | None) -> Path:
    workspace = tmp_path / "workspace"
    shutil.copytree(
        REPO_ROOT / "nanochat_ref", workspace / "nanochat", ignore=shutil.ignore_patterns("__pycache__")
    )
    if starter_of is not None:
        for path, text in starters(module_spec.load(CONTENT / starter_of)).items():
            (workspace / path).write_text(text, encoding="utf-8")
    return workspace


def _run(tmp_path: Path, workspace: Path, modules: list[str]) -> dict[str, str]:
    """Run the modules' tests against ``workspace``; return ``{test id: passed|failed|skipped}``."""
    ini = tmp_path / "pytest.ini"
    ini.write_text("[pytest]\naddopts = -p no:cacheprovider -p no:django -p no:randomly\n")
    junit = tmp_path / "junit.xml"
    env = {
        **os.environ,
        "INPROC_WORKSPACE": str(workspace),
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "tests" / "content")]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
    }
    env.pop("NANOCHAT_BASE_DIR", None)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-c",
        str(ini),
        "--rootdir",
        str(tmp_path),
        "-p",
        "inprocess_learner",
    ]
    cmd += [f"--junitxml={junit}", *[str(CONTENT / m / "tests") for m in modules]]
    proc = subprocess.run(
        cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False
    )
    assert junit.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    outcomes = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = (
            "skipped" if skipped else ("failed" if failed else "passed")
        )
    return outcomes


@pytest.mark.slow
def test_the_reference_passes_every_test_of_modules_5_to_7(tmp_path):
    outcomes = _run(tmp_path, _workspace(tmp_path, None), MODULES)
    assert len(outcomes) >= 50
    for test_file in ("test_gpt", "test_optimizers", "test_base_training"):  # modules 5, 6, 7
        assert any(test_file in name for name in outcomes), f"no {test_file} tests ran"
    assert {name for name, result in outcomes.items() if result != "passed"} == set()


@pytest.mark.slow
@pytest.mark.parametrize("slug", MODULES)
def test_the_starter_fails_every_test_of_the_module(tmp_path, slug):
    outcomes = _run(tmp_path, _workspace(tmp_path, slug), [slug])
    assert len(outcomes) >= 10
    assert {name for name, result in outcomes.items() if result != "failed"} == set()
