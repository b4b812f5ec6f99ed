"""Export a schema-1 result to the three common autograder formats.

Design choices (field meanings in /work/shared/anchors.md §4):
- Gradescope ``results.json``: one point per test (``score``/``max_score``), ``status`` passed/failed,
  the task section as a tag; our outcome and fault go to ``extra_data``; ``execution_time`` in whole seconds
  once hidden tests ran (:func:`.redact.learner_usage`).  Hidden tests are already reduced to
  name + status + neutral message, so they stay ``visible`` there, exactly as learners see them here.
- Exercism ``results.json`` version 3: ``status`` ``error`` only when no test could run (the submission does
  not compile or import, or the platform failed), tests in run order, ``task_id`` = 1-based index of the
  test's step in the module's step list (when given), ``output`` capped at 500 characters as the spec says.
- PrairieLearn ``results.json``: ``score`` in 0..1; platform faults are ``gradable: false`` (no attempt
  consumed) with the reason in ``format_errors``; learner faults stay gradable with score 0.
"""

from __future__ import annotations

from typing import Any

from .redact import learner_usage

EXERCISM_OUTPUT_CHARS = 500


def _text(test: dict[str, Any]) -> str:
    parts = [p for p in (test["message"], test["output"]) if p]
    return "\n\n".join(parts)


def to_gradescope(result: dict[str, Any]) -> dict[str, Any]:
    """Gradescope autograder ``results.json``."""
    tests = []
    for number, test in enumerate(result["tests"], start=1):
        passed = test["status"] == "pass"
        entry: dict[str, Any] = {
            "name": test["name"],
            "number": str(number),
            "score": 1.0 if passed else 0.0,
            "max_score": 1.0,
            "status": "passed" if passed else "failed",
            "output": _text(test),
            "output_format": "text",
            "visibility": "visible",
            "tags": [t for t in (test["step"], test["visibility"]) if t],
            "extra_data": {"id": test["id"], "status": test["status"]},
        }
        tests.append(entry)
    return {
        "score": float(result["score"]),
        "execution_time": float(learner_usage(result)["wall_seconds"]),
        "output": result["message"],
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "schema_version": result["schema_version"],
            "outcome": result["outcome"],
            "fault": result["fault"],
            "module": result["module"],
            "submission_id": result["submission_id"],
        },
    }


def to_exercism(result: dict[str, Any], steps: list[str] | None = None) -> dict[str, Any]:
    """Exercism test-runner ``results.json`` version 3."""
    no_test_ran = result["outcome"] in ("compile_error", "import_error", "sandbox_crash", "platform_error")
    status = "error" if no_test_ran or not result["tests"] else result["status"]
    out: dict[str, Any] = {"version": 3, "status": status}
    if status != "pass":
        out["message"] = result["message"][:65535]
    tests = []
    for test in result["tests"]:
        tstatus = {"pass": "pass", "fail": "fail", "error": "error"}.get(test["status"], "fail")
        entry: dict[str, Any] = {"name": test["name"], "status": tstatus}
        if tstatus != "pass":
            entry["message"] = test["message"] or ("Skipped." if test["status"] == "skip" else "Failed.")
        if test["output"]:
            output = test["output"]
            if len(output) > EXERCISM_OUTPUT_CHARS:
                notice = "\n[output truncated]"
                output = output[: EXERCISM_OUTPUT_CHARS - len(notice)] + notice
            entry["output"] = output
        if steps and test["step"] in steps:
            entry["task_id"] = steps.index(test["step"]) + 1
        tests.append(entry)
    if status != "error" or tests:
        out["tests"] = tests
    return out


def to_prairielearn(result: dict[str, Any]) -> dict[str, Any]:
    """PrairieLearn external-grader ``results.json``."""
    if result["fault"] == "platform":
        return {
            "gradable": False,
            "format_errors": [result["message"]],
            "message": result["message"],
            "tests": [],
        }
    max_score = float(result["max_score"])
    tests = [
        {
            "name": test["name"],
            "description": test["id"],
            "points": 1 if test["status"] == "pass" else 0,
            "max_points": 1,
            "message": test["message"],
            "output": test["output"],
        }
        for test in result["tests"]
    ]
    return {
        "gradable": True,
        "score": float(result["score"]) / max_score if max_score else 0.0,
        "message": result["message"],
        "output": "",
        "tests": tests,
        "outcome": result["outcome"],
        "schema_version": result["schema_version"],
    }
