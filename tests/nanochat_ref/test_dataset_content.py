"""Content module 03-dataset: the real grading engine passes the reference and fails every test of the starter."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULE_DIR = REPO / "content" / "03-dataset"
FILES = {"nanochat/dataset.py": "nanochat_ref/dataset.py"}


def _verdict(sources: dict[str, Path]) -> dict:
    from grading.engine.runner import grade

    events = list(grade(MODULE_DIR, {path: src.read_bytes() for path, src in sources.items()}))
    assert events[-1]["type"] == "verdict"
    return events[-1]["result"]


@pytest.mark.slow
def test_the_engine_passes_the_reference_dataset_on_every_test():
    result = _verdict({path: REPO / ref for path, ref in FILES.items()})
    assert (result["status"], result["outcome"]) == ("pass", "ok"), result["message"]
    assert result["score"] == result["max_score"] >= 12
    assert {t["visibility"] for t in result["tests"]} == {"visible", "hidden"}


@pytest.mark.slow
def test_the_engine_fails_every_test_of_the_dataset_starter():
    result = _verdict({})  # nothing submitted: the engine grades the starters it generates
    assert result["status"] == "fail"
    assert result["score"] == 0 and len(result["tests"]) >= 12
    assert all("NotImplementedError" in t["message"] for t in result["tests"] if t["visibility"] == "visible")
