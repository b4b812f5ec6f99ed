"""The schema-1 validator and the Gradescope / Exercism / PrairieLearn exporters."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from engine_helpers import GOLDEN

from grading.engine.exporters import to_exercism, to_gradescope, to_prairielearn
from grading.engine.schema import RESULT_SCHEMA, ResultError, validate_result

DOC = Path(__file__).resolve().parents[2] / "docs" / "result-schema.md"


def golden(name: str) -> dict:
    result = json.loads((GOLDEN / "add" / f"{name}.json").read_text())
    result["usage"] = {"wall_seconds": 1.5, "cpu_seconds": 0.5, "max_rss_bytes": 1000}
    result["timestamps"] = {
        "queued": None,
        "started": "2026-01-01T00:00:00Z",
        "finished": "2026-01-01T00:00:01Z",
    }
    result["tests"] = [{**t, "duration_seconds": 0.1} for t in result["tests"]]
    for t in result["tests"]:  # goldens with timing-dependent text store placeholders
        t["output"] = "" if t["output"] == "<volatile>" else t["output"]
    return result


def platform_error() -> dict:
    r = golden("all_pass")
    r.update(
        status="error",
        outcome="platform_error",
        fault="platform",
        message="The grader stopped.",
        tests=[],
        score=0.0,
        max_score=0.0,
    )
    return r


@pytest.mark.parametrize("name", sorted(p.stem for p in (GOLDEN / "add").glob("*.json")))
def test_every_golden_result_is_valid(name):
    validate_result(golden(name))


@pytest.mark.parametrize(
    ("path", "value", "needle"),
    [
        ("schema_version", 2, "schema_version"),
        ("status", "error", "needs status"),
        ("fault", "platform", "needs status"),
        ("outcome", "exploded", "outcome"),
        ("score", 99.0, "above max_score"),
        ("extra", 1, "Additional properties"),
    ],
)
def test_the_validator_rejects_broken_results(path, value, needle):
    r = golden("all_pass")
    r[path] = value
    with pytest.raises(ResultError, match=needle):
        validate_result(r)


def test_platform_outcomes_need_status_error():
    validate_result(platform_error())
    r = platform_error()
    r["status"] = "fail"
    with pytest.raises(ResultError):
        validate_result(r)


def test_hidden_tests_may_not_carry_output():
    r = golden("some_fail")
    r["tests"][-1]["output"] = "leak"
    with pytest.raises(ResultError, match="hidden test"):
        validate_result(r)


def test_strings_must_be_valid_unicode_without_nul():
    r = golden("all_pass")
    r["tests"][0]["output"] = "a\x00b"
    with pytest.raises(ResultError, match="NUL or a lone surrogate"):
        validate_result(r)
    r["tests"][0]["output"] = "a\ud800b"
    with pytest.raises(ResultError, match="NUL or a lone surrogate"):
        validate_result(r)


def test_the_documented_json_schema_matches_the_code():
    text = DOC.read_text()
    block = re.search(r"```json\n(.*?)\n```", text, re.S)
    assert block is not None
    assert json.loads(block.group(1)) == json.loads(json.dumps(RESULT_SCHEMA))


def test_gradescope_export_gives_a_point_per_test():
    out = to_gradescope(golden("some_fail"))
    assert out["score"] == 3.0 and out["execution_time"] == 2.0  # whole seconds: hidden tests ran
    assert [t["status"] for t in out["tests"]] == ["passed", "passed", "passed", "failed"]
    assert [t["max_score"] for t in out["tests"]] == [1.0] * 4
    assert out["tests"][3]["output"] == "Hidden test failed." and out["tests"][3]["tags"] == [
        "step2",
        "hidden",
    ]
    assert out["extra_data"]["outcome"] == "tests_failed"


def test_gradescope_shows_the_exact_time_only_when_no_hidden_test_ran():
    result = golden("some_fail")
    result["tests"] = [t for t in result["tests"] if t["visibility"] == "visible"]
    result["score"], result["max_score"] = 3.0, 3.0
    assert to_gradescope(result)["execution_time"] == 1.5


def test_exercism_export_follows_version_3():
    out = to_exercism(golden("exception"), steps=["step1", "step2"])
    assert out["version"] == 3 and out["status"] == "fail" and out["message"]
    assert [t["status"] for t in out["tests"]] == ["pass", "error", "pass", "pass"]
    assert [t.get("task_id") for t in out["tests"]] == [1, 1, 2, 2]
    assert "negative numbers" in out["tests"][1]["message"]
    assert "message" not in out["tests"][0]


def test_exercism_export_uses_error_when_nothing_could_run():
    out = to_exercism(golden("syntax_error"))
    assert out["status"] == "error" and "syntax error" in out["message"]
    assert "task_id" not in out["tests"][0]
    assert to_exercism(platform_error()) == {
        "version": 3,
        "status": "error",
        "message": "The grader stopped.",
    }


def test_exercism_export_caps_output_and_explains_skips():
    r = golden("prints_then_passes")
    r["tests"][0]["output"] = "y" * 2000
    r["tests"][1]["status"], r["tests"][1]["message"] = "skip", ""
    r["status"], r["outcome"], r["fault"] = "fail", "tests_failed", "learner"
    out = to_exercism(r)
    assert len(out["tests"][0]["output"]) == 500 and out["tests"][0]["output"].endswith("[output truncated]")
    assert out["tests"][1] == {
        "name": "test_add_negative_numbers",
        "status": "fail",
        "message": "Skipped.",
        "output": "adding -2 and -3\n",
    }
    assert "message" not in to_exercism(golden("all_pass"))


def test_prairielearn_export_scores_in_zero_to_one():
    out = to_prairielearn(golden("some_fail"))
    assert out["gradable"] is True and out["score"] == 0.75
    assert [t["points"] for t in out["tests"]] == [1, 1, 1, 0] and all(
        t["max_points"] == 1 for t in out["tests"]
    )


def test_prairielearn_export_marks_platform_faults_ungradable():
    out = to_prairielearn(platform_error())
    assert out == {
        "gradable": False,
        "format_errors": ["The grader stopped."],
        "message": "The grader stopped.",
        "tests": [],
    }
    empty = golden("all_pass")
    empty.update(tests=[], score=0.0, max_score=0.0)
    assert to_prairielearn(empty)["score"] == 0.0


def test_exporters_do_not_modify_the_result():
    r = golden("some_fail")
    before = copy.deepcopy(r)
    to_gradescope(r), to_exercism(r), to_prairielearn(r)
    assert r == before
