"""Optional steps (module.yaml ``optional: true``): their tests are shown and scored, but the run passes without
them, also when the learner's process is stopped during one of them. The verdict is built by the runner's own
``result()`` from the tests it saw, so these tests give it tests directly, with no sandbox."""

from __future__ import annotations

from pathlib import Path

from grading.engine.runner import _Job
from grading.engine.workspace import load_module

MODULE_DIR = Path(__file__).resolve().parents[2] / "content" / "02-tokenizer"


def _job(statuses: dict[str, tuple[str, str]]) -> _Job:
    """A job of module 2 whose tests (id -> (step, status)) have run."""
    job = _Job(MODULE_DIR, {}, None, None, None, object(), None)
    job.module = load_module(MODULE_DIR)
    job.optional = job.module.optional_steps
    for tid, (step, status) in statuses.items():
        job.order.append(tid)
        job.tests[tid] = {
            "id": tid, "name": tid.rpartition("::")[2], "step": step, "status": status, "message": "",
            "output": "", "duration_seconds": 0.1, "visibility": "visible", "hint": None, "metrics": {},
        }  # fmt: skip
    return job


def test_a_failing_optional_step_does_not_fail_the_run_but_is_scored():
    job = _job({"visible/a.py::t1": ("step1", "pass"), "visible/b.py::t2": ("step6", "fail")})
    result = job.result()
    assert (result["status"], result["outcome"], result["fault"]) == ("pass", "ok", None)
    assert (result["score"], result["max_score"]) == (1.0, 2.0)
    assert result["message"] == "All 1 required tests passed; 0 of 1 tests of optional steps passed."


def test_a_failing_required_step_still_fails_the_run():
    job = _job({"visible/a.py::t1": ("step1", "fail"), "visible/b.py::t2": ("step6", "pass")})
    assert (job.result()["status"], job.result()["outcome"]) == ("fail", "tests_failed")


def test_a_learner_stopped_during_an_optional_test_does_not_fail_the_run():
    job = _job({"visible/a.py::t1": ("step1", "pass"), "visible/b.py::t2": ("step6", "error")})
    job.current = "visible/b.py::t2"
    job._add_outcome("timeout")  # what a call past its deadline records
    job.current = None
    assert job.result()["status"] == "pass"
    job.current = "visible/a.py::t1"
    job._add_outcome("timeout")  # the same in a required step's test decides the verdict
    assert (job.result()["status"], job.result()["outcome"]) == ("fail", "timeout")
