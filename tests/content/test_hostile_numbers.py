"""Hostile submissions that return values which are not numbers score nothing for them, through the real engine.

Each ``hostile/<name>.py`` is appended to one learner file of a module, so its functions replace the file's own:
to the generated starter (nothing else implemented: the whole module must score 0) or to the reference (only
the tests of the replaced functions may fail). ``hostile/<name>.json`` is the expected result: the module, the
file, the base, and for each test the hostile must fail, a part of its message that names the cause (hidden tests
show only "Hidden test failed."). Graded with the CLI, ``python -m grading run content/NN-slug --file path=local``,
as a learner's submission is. Compared with plain ``== pytest.approx``, ``==`` and builtin ``max`` instead of the
kit, they would score: ``rl_non_numbers`` 8/30 (an empty tensor and a string of digits pass as numbers),
``mid_train_bool`` 5/50 (``True == approx(1.0)``), ``base_train_nan_after_first`` both training-step tests
(``max`` skips the NaN), ``engine_calculator_tensor`` 8 calculator tests (``tensor(3000) == 3000``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from content_helpers import CONTENT_DIR, REPO_ROOT

from modules import spec as module_spec
from modules.starters import starters

HOSTILE = Path(__file__).resolve().parent / "hostile"
NAMES = sorted(p.stem for p in HOSTILE.glob("*.json"))


def _submission(expected: dict, tmp_path: Path) -> list[str]:
    """``--file path=local`` arguments: every learner file of the module, the hostile one with its code appended."""
    spec = module_spec.load(CONTENT_DIR / expected["module"])
    if expected["base"] == "starter":
        texts = starters(spec)
    else:
        texts = {
            f.path: f.reference_path(spec.root, REPO_ROOT).read_text(encoding="utf-8") for f in spec.files
        }
    texts[expected["file"]] += "\n\n" + (HOSTILE / expected["hostile"]).read_text(encoding="utf-8")
    args = []
    for i, (path, text) in enumerate(sorted(texts.items())):
        local = tmp_path / f"file{i}.py"
        local.write_text(text, encoding="utf-8")
        args += ["--file", f"{path}={local}"]
    return args


def _grade(expected: dict, tmp_path: Path) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "grading",
        "run",
        str(CONTENT_DIR / expected["module"]),
        *_submission(expected, tmp_path),
    ]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_a_hostile_submission_scores_nothing_for_values_that_are_not_numbers(name, tmp_path):
    expected = json.loads((HOSTILE / f"{name}.json").read_text(encoding="utf-8"))
    result = _grade({**expected, "hostile": f"{name}.py"}, tmp_path)
    tests = {t["id"]: t for t in result["tests"]}
    for test_id, cause in expected["fails"].items():
        assert test_id in tests, f"{test_id} did not run"
        assert tests[test_id]["status"] != "pass", f"{test_id} passed a value that is not a number"
        assert cause in tests[test_id]["message"], tests[test_id]["message"]
    passed = {test_id for test_id, t in tests.items() if t["status"] == "pass"}
    if expected["base"] == "starter":
        assert result["score"] == 0 and passed == set(), sorted(passed)
    else:  # only the replaced functions' tests fail
        assert passed == set(tests) - set(expected["fails"]), sorted(
            set(tests) - passed - set(expected["fails"])
        )


def test_every_hostile_submission_has_its_expected_result():
    assert {p.stem for p in HOSTILE.glob("*.py")} == set(NAMES)
    assert len(NAMES) >= 3
    assert {json.loads((HOSTILE / f"{n}.json").read_text())["module"] for n in NAMES} >= {"10-rl"}
