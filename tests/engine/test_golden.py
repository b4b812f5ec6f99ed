"""Golden submissions (Exercism style): every outcome class, each with its expected result JSON.

Run with ``UPDATE_GOLDEN=1`` to rewrite the expected files after an intended change, then review the diff.
Submissions live under ``golden/<fixture module>/``: ``add`` (every outcome class, and the cheats) and ``vault``
(hidden tests with secret inputs).  The ``cheat_*`` submissions try to forge a pass (patching pytest or
builtins, printing fake events, writing fake result files, exiting 0, forging protocol frames, sleeping past the
deadline, hunting the filesystem for the hidden tests, which does find them when run outside the sandbox),
to outlast their deadlines (flooding the runner with frames) or to turn their failure into a platform error (replies that decode but
cannot be relayed); ``stall_reading`` stops reading the runner's frames, ``bad_text_output`` and
``prints_nul`` print text no database or page can hold as is, and the ``leak_*`` ones try to read hidden
inputs back (a failing import's traceback, output printed after a hidden call, timings).  Properties
that must hold for every submission are checked apart from the JSON files.
"""

from __future__ import annotations

import json
import os

import pytest
from engine_helpers import FIXTURES, GOLDEN, normalise, run

from grading.engine import runner

MODULES = ("add", "vault")
SUBMISSIONS = sorted(f"{module}/{p.stem}" for module in MODULES for p in (GOLDEN / module).glob("*.py"))
#: Submissions whose per-test text depends on timing: which process of a fork bomb answers first, how
#: stdout and stderr chunks interleave, how many lines a thread printed before a test ended.
VOLATILE_MESSAGES = {
    "add/fork_bomb",
    "add/cheat_fake_events",
    "add/cheat_flood_output",
    "vault/leak_output_between_tests",
}
CALL_SECONDS = 2
#: A memory bomb must meet the memory cap, and an output flood the output cap, not the call deadline, however
#: loaded the machine is (a flood of tiny frames took over 2 s to pass 1 MiB on a loaded machine); importing
#: pytest inside the learner's import took over 2 s there too.
#: A fork bomb must meet the pids cap, not the deadline: under a load of 30+ on Docker it took over 2 s.
CALL_SECONDS_FOR = {
    "add/memory_bomb": 15,
    "add/cheat_flood_output": 30,
    "add/cheat_patch_pytest": 15,
    "add/cpu_burn_threads": 60,
    "add/fork_bomb": 15,
}
#: Module limits some submissions run under (a small work dir fills in a blink).
#: A CPU burner in threads meets its CPU seconds long before the call deadline or the wall clock.
LIMITS_FOR = {
    "add/disk_fill_work": {"work_bytes": 16 * 1024 * 1024},
    "add/cpu_burn_threads": {"cpu_seconds": 4, "wall_seconds": 120},
}
#: Submissions graded cold: their limits are a shape of their own, which would hold one of the pool's few warm
#: shapes (``pool.MAX_LIMIT_SHAPES``, first come first kept) for the rest of the session.
COLD = {"add/cpu_burn_threads"}
#: The vault's hidden tests' inputs: no event a learner can read may hold one.
SECRETS = ("7340211", "1000003", "4242017", "3133711", "9876541", "1234577")
#: Live events one job may send: phases, two per test, capped output (plus its summary) and metrics.
MAX_EVENTS = 4 + 2 * 5 + runner.OUTPUT_EVENTS_MAX + 1 + runner.METRIC_EVENTS_MAX + 1


_CACHE: dict[str, list[dict]] = {}


def _events(pool: object, name: str) -> list[dict]:
    """Grade a golden submission once per session (the property checks reuse the golden runs)."""
    if name not in _CACHE:
        module, stem = name.split("/")
        source = (GOLDEN / module / f"{stem}.py").read_bytes()
        _CACHE[name] = run(
            FIXTURES / module,
            {f"{module}.py": source},
            pool=None if name in COLD else pool,
            limits={"call_seconds": CALL_SECONDS_FOR.get(name, CALL_SECONDS), **LIMITS_FOR.get(name, {})},
        )
    return _CACHE[name]


def _grade(pool: object, name: str) -> dict:
    return _events(pool, name)[-1]["result"]


def _comparable(name: str, result: dict) -> dict:
    out = normalise(result)
    if name in VOLATILE_MESSAGES:
        out["tests"] = [{**t, "message": "<volatile>", "output": "<volatile>"} for t in out["tests"]]
    return out


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_golden_submission_gets_its_expected_result(pool, name):
    result = _comparable(name, _grade(pool, name))
    expected_path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        expected_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    assert result == json.loads(expected_path.read_text())


@pytest.mark.parametrize("name", [n for n in SUBMISSIONS if "/cheat_" in n])
def test_no_cheat_ever_passes(pool, name):
    result = _grade(pool, name)
    assert result["status"] == "fail"
    assert result["score"] == 0
    assert all(t["status"] != "pass" for t in result["tests"])


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_no_submission_is_ever_blamed_on_the_platform(pool, name):
    result = _grade(pool, name)
    assert result["fault"] != "platform", result["message"]


@pytest.mark.parametrize("name", [n for n in SUBMISSIONS if n.startswith("vault/")])
def test_no_hidden_input_reaches_any_event(pool, name):
    text = json.dumps(_events(pool, name))
    assert not [secret for secret in SECRETS if secret in text]


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_times_are_whole_seconds_once_a_hidden_test_has_started(pool, name):
    events = _events(pool, name)
    first = next((i for i, e in enumerate(events) if e.get("visibility") == "hidden"), len(events))
    assert all(float(e["t"]).is_integer() for e in events[first:])
    hidden = [t for t in events[-1]["result"]["tests"] if t["visibility"] == "hidden"]
    assert all(float(t["duration_seconds"]).is_integer() for t in hidden)


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_a_job_sends_a_bounded_number_of_events(pool, name):
    events = _events(pool, name)
    assert len(events) <= MAX_EVENTS
    assert sum(1 for e in events if e["type"] == "output") <= runner.OUTPUT_EVENTS_MAX + 1


def test_code_that_burns_cpu_in_threads_is_stopped_by_the_cpu_limit_and_told_so(pool):
    result = _grade(pool, "add/cpu_burn_threads")
    assert result["outcome"] == "timeout"
    stopped = [t for t in result["tests"] if t["status"] == "error"]
    assert stopped and all(
        t["message"] == "Your code used up its 4 CPU seconds (all its threads together) and was stopped (CPU "
        "time limit)."
        for t in stopped
    ), [t["message"] for t in stopped]  # the 60 s call deadline would say "took longer than 60 s"


def test_every_outcome_class_has_a_golden_submission():
    outcomes = {json.loads(p.read_text())["outcome"] for p in (GOLDEN / "add").glob("*.json")}
    learner_outcomes = {
        "ok",
        "tests_failed",
        "compile_error",
        "import_error",
        "runtime_error",
        "timeout",
        "memory_limit",
        "output_limit",
    }
    assert learner_outcomes <= outcomes
    for module in MODULES:
        assert {p.stem for p in (GOLDEN / module).glob("*.json")} == {
            p.stem for p in (GOLDEN / module).glob("*.py")
        }


def test_a_runaway_function_costs_one_deadline_and_fails_only_its_own_tests(pool):
    events = _events(pool, "add/infinite_loop")
    started = {e["id"]: e["t"] for e in events if e["type"] == "test_started"}
    took = {
        e["test"]["name"]: e["t"] - started[e["test"]["id"]] for e in events if e["type"] == "test_finished"
    }
    tests = {t["name"]: t for t in events[-1]["result"]["tests"]}
    assert took["test_add_small_numbers"] >= CALL_SECONDS
    # the second test of the same function does not wait for it again, and says why
    assert took["test_add_negative_numbers"] < CALL_SECONDS / 2
    assert tests["test_add_negative_numbers"]["message"].startswith("Not run: add() ran out of time (2 s)")
    assert {n: t["status"] for n, t in tests.items() if "add" not in n} == {
        "test_total_of_a_list": "pass",
        "test_total_of_many_numbers": "pass",
    }
