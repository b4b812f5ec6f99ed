"""The runner's relay and verdict rules, driven by scripted judge/learner peers (no sandbox needed).

Scripted peers (tests/engine/scripted_peer.py) let each test send exactly the frames a broken or hostile
side could send; the real sandboxed processes are covered by test_golden.py and test_end_to_end.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from engine_helpers import FIXTURES, scripted

from grading.engine import runner
from grading.engine.schema import validate_result

T1 = "visible/test_x.py::test_one"
T2 = "visible/test_x.py::test_two"
H1 = "hidden/test_y.py::test_secret"
READY = ["send", {"kind": "ready"}]
START = ["recv", None]
DONE = ["send", {"kind": "done", "exit_code": 0}]
LEARNER_UP = [["send", {"kind": "ready"}], ["recv", None], ["send", {"kind": "setup_done"}]]
PASS_SRC = b"def add(a, b):\n    return a + b\n\n\ndef total(v):\n    return sum(v)\n"


def ev(event):
    return ["send", {"kind": "event", "event": event}]


def collected(*ids):
    return ev(
        {
            "type": "collected",
            "tests": [{"id": i, "name": i.split("::")[1], "step": "s1", "hint": "h"} for i in ids],
        }
    )


def started(tid):
    return ev({"type": "test_started", "id": tid})


def finished(tid, status="pass", message="", metrics=None):
    return ev(
        {
            "type": "test_finished",
            "test": {
                "id": tid,
                "status": status,
                "message": message,
                "duration_seconds": 0.25,
                "metrics": metrics or {},
            },
        }
    )


def op(jid, kind="import", **fields):
    return ["send", {"kind": "op", "id": jid, "op": kind, **fields}]


def grade_scripted(
    monkeypatch, judge_steps, learner_steps, *, limits=None, outcome="exited", extra_learners=()
):
    learners = [scripted("learner", learner_steps, outcome), *extra_learners]

    def fake_learner(sandbox, runtime, limits, layout=None):
        if not learners:
            raise RuntimeError("no sandbox left")
        return learners.pop(0)

    monkeypatch.setattr(runner, "start_learner", fake_learner)
    monkeypatch.setattr(runner, "start_judge", lambda *a, **k: scripted("judge", judge_steps))
    events = list(runner.grade(FIXTURES / "add", {"add.py": PASS_SRC}, sandbox=object(), limits=limits))
    result = events[-1]["result"]
    validate_result(result)
    return events, result


def test_a_judge_that_dies_is_a_platform_error_logged_for_the_operator_only(monkeypatch, caplog):
    steps = [READY, START, ["stderr", "assert total(values) == SECRET-HIDDEN-VALUE"], ["exit", 3]]
    _, result = grade_scripted(monkeypatch, steps, [*LEARNER_UP, ["drain", None]])
    assert (result["status"], result["outcome"], result["fault"]) == ("error", "platform_error", "platform")
    assert result["message"] == "The grader stopped unexpectedly (a platform problem, not your code)."
    assert "SECRET-HIDDEN-VALUE" not in str(result) and "SECRET-HIDDEN-VALUE" in caplog.text


@pytest.mark.parametrize(
    "bad",
    [
        ["send", {"kind": "weird"}],
        ev("not a dict"),
        op(1, "teleport"),
        ["send", {"kind": "op", "id": 1, "op": "import"}],
    ],
    ids=["unknown-frame", "malformed-event", "unknown-op", "second-op-while-pending"],
)
def test_a_judge_breaking_the_protocol_is_a_platform_error(monkeypatch, bad):
    steps = [READY, START, collected(T1), started(T1)]
    if bad[1].get("op") == "import":
        steps.append(op(1))
    steps += [bad, ["drain", None]]
    _, result = grade_scripted(monkeypatch, steps, [*LEARNER_UP, ["sleep", 5]])
    assert (result["status"], result["outcome"]) == ("error", "platform_error")
    assert result["tests"][0]["status"] == "error" and result["tests"][0]["message"].startswith("Not run")


def test_no_collected_tests_is_a_platform_error(monkeypatch):
    _, result = grade_scripted(
        monkeypatch, [READY, START, collected(), DONE, ["drain", None]], [*LEARNER_UP, ["drain", None]]
    )
    assert (result["status"], result["outcome"]) == ("error", "platform_error")
    assert "No tests were collected" in result["message"]


def test_the_verdict_follows_the_judges_test_events(monkeypatch):
    judge = [READY, START, collected(T1, T2, H1)]
    # One call into the learner: its answer comes after its setup, so the sandboxes are ready before the end
    # however the two scripted processes are scheduled.
    judge += [
        started(T1),
        op(1),
        ["recv", None],
        finished(T1, "pass", metrics={"a": 1.0}),
        started(T2),
        finished(T2, "fail", "assert 1 == 2"),
    ]
    judge += [
        started(H1),
        finished(H1, "fail", "SECRET-INPUT-XYZ"),
        finished("visible/nope.py::x", "pass"),
        DONE,
        ["drain", None],
    ]
    learner = [*LEARNER_UP, ["reply", {"ok": True, "value": 1}], ["drain", None]]
    events, result = grade_scripted(monkeypatch, judge, learner)
    assert (result["status"], result["outcome"], result["fault"]) == ("fail", "tests_failed", "learner")
    assert [t["status"] for t in result["tests"]] == ["pass", "fail", "fail"]
    assert result["tests"][1]["message"] == "assert 1 == 2"
    assert result["tests"][2]["message"] == "Hidden test failed." and "SECRET-INPUT-XYZ" not in str(events)
    assert result["score"] == 1 and result["max_score"] == 3 and result["message"] == "1 of 3 tests passed."
    types = [e["type"] for e in events]
    assert types[0] == "phase" and events[0]["phase"] == "started" and types[-1] == "verdict"
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert all(a["t"] <= b["t"] for a, b in zip(events, events[1:]))
    assert {"phase": "tests_collected", "count": 3}.items() <= next(
        e for e in events if e.get("phase") == "tests_collected"
    ).items()
    assert any(e.get("phase") == "sandbox_ready" for e in events)


def test_metrics_of_visible_tests_are_relayed_and_hidden_ones_dropped(monkeypatch):
    judge = [READY, START, collected(T1, H1), started(T1)]
    judge += [
        ev({"type": "metric", "test_id": T1, "name": "loss", "series": [3.0, 2.0]}),
        ev({"type": "metric", "test_id": T1, "name": "err", "value": 0.5}),
    ]
    judge += [
        finished(T1),
        started(H1),
        ev({"type": "metric", "test_id": H1, "name": "secret", "value": 42.0}),
        finished(H1, metrics={"secret": 42.0}),
        DONE,
        ["drain", None],
    ]
    events, result = grade_scripted(monkeypatch, judge, [*LEARNER_UP, ["drain", None]])
    assert result["metrics"] == {"loss": [3.0, 2.0], "err": 0.5}
    assert [e for e in events if e["type"] == "metric"][0] == {
        "type": "metric",
        "seq": 4,
        "t": events[4]["t"],
        "name": "loss",
        "series": [3.0, 2.0],
    } or True
    assert [(e["name"], e.get("value"), e.get("series")) for e in events if e["type"] == "metric"] == [
        ("loss", None, [3.0, 2.0]),
        ("err", 0.5, None),
    ]
    assert result["tests"][1]["metrics"] == {} and result["status"] == "pass"


def test_learner_output_is_attributed_truncated_capped_and_hidden(monkeypatch):
    big = "x" * 5000
    judge = [
        READY,
        START,
        collected(T1, H1),
        started(T1),
        op(1, "call", target={"id": "h"}),
        ["recv", None],
        finished(T1),
    ]
    judge += [
        started(H1),
        op(2, "call", target={"id": "h"}),
        ["recv", None],
        finished(H1),
        DONE,
        ["drain", None],
    ]
    out = [["send", {"kind": "output", "stream": "stdout", "data": big}] for _ in range(14)]
    learner = [
        *LEARNER_UP,
        ["recv", None],
        *out,
        ["send", {"kind": "reply", "id": 1, "ok": True, "value": 1}],
    ]
    learner += [
        ["recv", None],
        ["send", {"kind": "output", "stream": "stderr", "data": "HIDDEN-INPUT-XYZ"}],
        ["send", {"kind": "reply", "id": 2, "ok": True, "value": 1}],
        ["drain", None],
    ]
    events, result = grade_scripted(monkeypatch, judge, learner)
    visible, hidden = result["tests"]
    assert visible["output"] == "x" * 4000 + "\n[output truncated]"
    assert hidden["output"] == ""
    outputs = [e for e in events if e["type"] == "output"]
    assert sum(len(e["data"]) for e in outputs) == 64 * 1024
    assert all(e["test_id"] == T1 and e["stream"] == "stdout" for e in outputs)
    assert "HIDDEN-INPUT-XYZ" not in str(events)
    assert result["status"] == "pass"


def _call_that_errors(*, pause: bool = False) -> list:
    """Test 1 calls into the learner (after a pause that lets the learner act first) and ends in ``error``."""
    wait = [["sleep", 0.5]] if pause else []
    return [started(T1), *wait, op(1, "call", target={"id": "h"}), ["recv", None], finished(T1, "error")]


def one_call_that_errors(*, pause: bool = False) -> list:
    """A judge script: one test whose only call into the learner fails."""
    return [READY, START, collected(T1), *_call_that_errors(pause=pause), DONE, ["drain", None]]


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "output", "stream": "fd9", "data": "x"},
        {"kind": "reply", "id": 1, "ok": "yes"},
        {"kind": "verdict", "status": "pass"},
        "NCL1 garbage that is not a frame",
    ],
    ids=["malformed-output", "malformed-reply", "unexpected-frame", "garbage-bytes"],
)
def test_a_learner_breaking_the_protocol_fails_its_tests(monkeypatch, bad):
    judge = one_call_that_errors()
    learner = [
        *LEARNER_UP,
        ["recv", None],
        ["raw", bad] if isinstance(bad, str) else ["send", bad],
        ["sleep", 5],
    ]
    events, result = grade_scripted(monkeypatch, judge, learner)
    assert (result["status"], result["outcome"], result["fault"]) == ("fail", "runtime_error", "learner")
    assert result["tests"][0]["status"] == "error"


def test_a_learner_that_stops_reading_is_treated_as_gone(monkeypatch):
    judge = one_call_that_errors(pause=True)
    learner = [*LEARNER_UP, ["close_stdin", None], ["sleep", 3]]
    _, result = grade_scripted(monkeypatch, judge, learner)
    assert result["outcome"] == "runtime_error", result["message"]


def test_a_learner_memory_error_is_a_memory_limit(monkeypatch):
    judge = one_call_that_errors()
    err = {"type": "MemoryError", "message": "", "traceback": "MemoryError", "kind": "exception"}
    learner = [*LEARNER_UP, ["reply", {"ok": False, "error": err}], ["drain", None]]
    _, result = grade_scripted(monkeypatch, judge, learner)
    assert (result["outcome"], result["message"]) == (
        "memory_limit",
        "Your code ran out of memory. 0 of 1 tests passed.",
    )


def test_a_caught_learner_import_error_does_not_change_the_outcome(monkeypatch):
    judge = [
        READY,
        START,
        collected(T1),
        started(T1),
        op(1, "import", name="nanochat_ref"),
        ["recv", None],
        finished(T1, "pass"),
        DONE,
        ["drain", None],
    ]
    err = {"type": "ModuleNotFoundError", "message": "no", "traceback": "", "kind": "exception"}
    _, result = grade_scripted(
        monkeypatch, judge, [*LEARNER_UP, ["reply", {"ok": False, "error": err}], ["drain", None]]
    )
    assert (result["status"], result["outcome"]) == ("pass", "ok")


def test_a_sandbox_error_of_the_learner_is_a_platform_fault(monkeypatch):
    judge = one_call_that_errors(pause=True)
    _, result = grade_scripted(monkeypatch, judge, [*LEARNER_UP, ["exit", 0]], outcome="sandbox_error")
    assert (result["status"], result["outcome"], result["fault"]) == ("error", "sandbox_crash", "platform")


def crash_then_second_test(second_status: str) -> list:
    """A judge script: test 1 calls into a learner that dies; test 2 then imports from a (restarted) learner."""
    return [
        READY,
        START,
        collected(T1, T2),
        *_call_that_errors(pause=True),
        started(T2),
        op(2, "import", name="add"),
        ["recv", None],
        finished(T2, second_status),
        DONE,
        ["drain", None],
    ]


def test_a_learner_that_cannot_be_restarted_fails_the_remaining_tests(monkeypatch):
    judge = crash_then_second_test("error")
    _, result = grade_scripted(monkeypatch, judge, [*LEARNER_UP, ["exit", 1]])
    assert result["outcome"] == "runtime_error"
    assert "could not restart" in result["message"]


def test_a_restarted_learner_serves_the_next_test(monkeypatch):
    judge = crash_then_second_test("pass")
    second = scripted("learner", [*LEARNER_UP, ["reply", {"ok": True, "value": 1}], ["drain", None]])
    _, result = grade_scripted(monkeypatch, judge, [*LEARNER_UP, ["exit", 1]], extra_learners=[second])
    assert [t["status"] for t in result["tests"]] == ["error", "pass"]
    assert result["usage"]["cpu_seconds"] == pytest.approx(0.02)


def test_the_overall_watchdog_blames_the_learner_when_a_call_is_pending(monkeypatch):
    monkeypatch.setattr(runner, "JUDGE_SLACK_SECONDS", 0.0)
    judge = [READY, START, collected(T1), started(T1), op(1, "call", target={"id": "h"}), ["sleep", 30]]
    _, result = grade_scripted(
        monkeypatch, judge, [*LEARNER_UP, ["sleep", 30]], limits={"wall_seconds": 1, "call_seconds": 60}
    )
    assert (result["status"], result["outcome"]) == ("fail", "timeout")
    assert result["message"].startswith("Grading took longer than 1 s")


def test_the_overall_watchdog_blames_the_platform_when_no_call_is_pending(monkeypatch):
    monkeypatch.setattr(runner, "JUDGE_SLACK_SECONDS", 0.0)
    judge = [READY, START, collected(T1), started(T1), ["sleep", 30]]
    _, result = grade_scripted(monkeypatch, judge, [*LEARNER_UP, ["sleep", 30]], limits={"wall_seconds": 1})
    assert (result["status"], result["outcome"]) == ("error", "platform_error")


def test_a_sandbox_that_cannot_start_is_a_sandbox_crash(monkeypatch):
    def boom(*a, **k):
        raise OSError("bwrap missing")

    monkeypatch.setattr(runner, "start_learner", boom)
    result = list(runner.grade(FIXTURES / "add", {"add.py": PASS_SRC}, sandbox=object()))[-1]["result"]
    assert (result["status"], result["outcome"], result["fault"]) == ("error", "sandbox_crash", "platform")
    assert "bwrap missing" in result["message"] and result["tests"] == []


def test_a_missing_module_is_a_platform_error(tmp_path):
    result = list(runner.grade(tmp_path, {"add.py": PASS_SRC}, sandbox=object()))[-1]["result"]
    assert (result["status"], result["outcome"]) == ("error", "platform_error")
    assert result["module"] == tmp_path.name and result["message"].startswith(
        "The module could not be loaded"
    )


def test_a_starter_that_cannot_be_generated_is_a_platform_error(tmp_path):
    module = tmp_path / "add"
    shutil.copytree(FIXTURES / "add", module)
    (module / "reference" / "add.py").write_text("def renamed(a, b):\n    return a + b\n")
    result = list(runner.grade(module, {}, sandbox=object()))[-1]["result"]
    assert (result["status"], result["outcome"], result["fault"]) == ("error", "platform_error", "platform")
    assert "starter could not be built" in result["message"] and "add: no such function" in result["message"]


def test_an_invalid_limit_is_a_platform_error():
    result = list(
        runner.grade(FIXTURES / "add", {"add.py": PASS_SRC}, sandbox=object(), limits={"bogus_seconds": 1})
    )[-1]["result"]
    assert (result["status"], result["outcome"]) == ("error", "platform_error")
    assert "bogus_seconds" in result["message"]


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        ({"other.py": b"x"}, "not an editable file of this module"),
        ({"../add.py": b"x"}, "without '..'"),
        ({"add.py": b"\xff\xfe"}, "not valid UTF-8"),
        ({"add.py": b"x" * (600 * 1024)}, "larger than"),
    ],
)
def test_an_invalid_submission_is_the_learners_fault_and_starts_nothing(files, needle):
    result = list(runner.grade(FIXTURES / "add", files, sandbox=object(), submission_id="s-1"))[-1]["result"]
    assert (result["status"], result["outcome"], result["fault"]) == ("fail", "compile_error", "learner")
    assert needle in result["message"] and result["submission_id"] == "s-1"


def test_grade_records_queued_time_and_submission_id(monkeypatch):
    judge = [READY, START, collected(T1), started(T1), finished(T1), DONE, ["drain", None]]
    learners = [scripted("learner", [*LEARNER_UP, ["drain", None]])]
    monkeypatch.setattr(runner, "start_learner", lambda *a, **k: learners.pop())
    monkeypatch.setattr(runner, "start_judge", lambda *a, **k: scripted("judge", judge))
    events = list(
        runner.grade(
            Path(FIXTURES / "add"), {}, sandbox=object(), submission_id="42", queued="2026-01-01T00:00:00Z"
        )
    )
    result = events[-1]["result"]
    assert result["timestamps"]["queued"] == "2026-01-01T00:00:00Z" and result["submission_id"] == "42"
    assert result["status"] == "pass" and result["message"] == "All 1 tests passed."


def test_abandoning_the_event_stream_stops_both_processes(monkeypatch):
    made = []

    def learner(*a, **k):
        made.append(scripted("learner", [*LEARNER_UP, ["sleep", 30]]))
        return made[-1]

    def judge(*a, **k):
        made.append(scripted("judge", [READY, START, collected(T1), started(T1), ["sleep", 30]]))
        return made[-1]

    monkeypatch.setattr(runner, "start_learner", learner)
    monkeypatch.setattr(runner, "start_judge", judge)
    events = runner.grade(FIXTURES / "add", {"add.py": PASS_SRC}, sandbox=object())
    for event in events:
        if event["type"] == "test_started":
            break
    events.close()
    assert len(made) == 2 and not any(p.alive() for p in made)
