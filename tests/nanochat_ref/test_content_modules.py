"""Content modules 08–16: the real grading engine passes each reference and fails every test of each starter.

Design choice: one data-driven test instead of a file per module. The files a learner edits, their starters and
their references come from the module's own ``module.yaml`` (the same data the platform loads), so a module can't
be checked against a different file list than learners get. Each module keeps its own floor on the test count, so
a module whose tests silently vanish still fails here. Modules 01–07 have richer engine checks of their own
(``test_*_content.py``, ``tests/content/test_onboarding_exercise.py``).
"""

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

#: module slug -> the least number of tests its module must have (visible + hidden)
MIN_TESTS = {
    "08-midtraining": 25,
    "09-sft": 20,
    "10-rl": 25,
    "11-engine": 20,
    "12-tool-use": 35,
    "13-eval": 40,
    "14-chat-web": 30,
    "15-report": 30,
    "16-capstone": 30,
}


def _files(slug: str) -> list[dict]:
    meta = yaml.safe_load((REPO / "content" / slug / "module.yaml").read_text(encoding="utf-8"))
    return meta["files"]


def _verdict(slug: str, sources: dict[str, Path]) -> dict:
    from grading.engine.runner import grade

    events = list(grade(REPO / "content" / slug, {path: src.read_bytes() for path, src in sources.items()}))
    assert events[-1]["type"] == "verdict"
    return events[-1]["result"]


@pytest.mark.slow
@pytest.mark.parametrize("slug", sorted(MIN_TESTS))
def test_the_engine_passes_the_reference_on_every_test(slug):
    result = _verdict(slug, {f["path"]: REPO / f["reference"] for f in _files(slug)})
    assert (result["status"], result["outcome"]) == ("pass", "ok"), result["message"]
    assert result["score"] == result["max_score"] >= MIN_TESTS[slug]
    assert {t["visibility"] for t in result["tests"]} == {"visible", "hidden"}


@pytest.mark.slow
@pytest.mark.parametrize("slug", sorted(MIN_TESTS))
def test_the_engine_fails_every_test_of_the_starter(slug):
    module_dir = REPO / "content" / slug
    result = _verdict(slug, {f["path"]: module_dir / f["starter"] for f in _files(slug)})
    assert result["status"] == "fail"
    assert result["score"] == 0 and len(result["tests"]) >= MIN_TESTS[slug]
    assert all("NotImplementedError" in t["message"] for t in result["tests"] if t["visibility"] == "visible")
