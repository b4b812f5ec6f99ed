"""The runner's relay and verdict rules, driven by scripted judge/learner peers (no sandbox needed).

Scripted peers (tests/engine/scripted_peer.py) let each test send exactly the frames a broken or hostile
side could send; the real sandboxed processes are covered by test_golden.py and test_end_to_end.py.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from engine_helpers import FIXTURES, scripted

from grading.engine import procs, runner
from grading.engine.schema import validate_result
from sandbox import SandboxError
from sandbox.limits import resolve

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
    monkeypatch,
    judge_steps,
    learner_steps,
    *,
    limits=None,
    outcome="exited",
    extra_learners=(),
    on_event=None,
    source=PASS_SRC,
):
    learners = [scripted("learner", learner_steps, outcome), *extra_learners]

    def fake_learner(sandbox, runtime, limits, layout=None):
        if not learners:
            raise RuntimeError("no sandbox left")
        return learners.pop(0)

    monkeypatch.setattr(runner, "start_learner", fake_learner)
    monkeypatch.setattr(runner, "start_judge", lambda *a, **k: scripted("judge", judge_steps))
    events = []
    for event in runner.grade(FIXTURES / "add", {"add.py": source}, sandbox=object(), limits=limits):
        events.append(event)
        if on_event is not None:
            on_event(event)
    result = events[-1]["result"]
    validate_result(result)
    return events, result


def out(data="x", stream="stdout"):
    return {"kind": "output", "stream": stream, "data": data}


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


@pytest.mark.parametrize(
    "frame",
    [{"kind": "output", "stream": "stdout", "data": ""}, {"kind": "ready"}, {"kind": "setup_done"}],
    ids=["empty-output", "ready-again", "setup-done-again"],
)
def test_a_frame_that_costs_no_output_is_a_protocol_fault_the_first_time(monkeypatch, frame):
    judge = [READY, START, collected(T1), started(T1), op(1, "call", target={"id": "h"}), ["recv", None]]
    judge += [finished(T1, "pass"), DONE, ["drain", None]]
    learner = [*LEARNER_UP, ["recv", None], ["send", frame], ["sleep", 0.3]]
    learner += [["send", {"kind": "reply", "id": 1, "ok": True, "value": 1}], ["drain", None]]
    _, result = grade_scripted(monkeypatch, judge, learner)
    assert (result["outcome"], result["fault"]) == ("runtime_error", "learner")


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


def test_a_call_clock_starts_only_once_the_learner_host_is_set_up(monkeypatch):
    # A restarted (or pooled, not yet ready) learner host may take seconds to start on a loaded machine: none of
    # the learner's code has run, so the call's limit must not be spent on it (seen in CI: a fork bomb's restarts).
    judge = [READY, START, collected(T1), started(T1), op(1, "import", name="add"), ["report", T1], DONE]
    learner = [READY, ["recv", None], ["sleep", 1.5], ["send", {"kind": "setup_done"}]]
    learner += [["reply", {"ok": True, "value": 1}], ["drain", None]]
    _, result = grade_scripted(monkeypatch, judge + [["drain", None]], learner, limits={"call_seconds": 1})
    assert [t["status"] for t in result["tests"]] == ["pass"], result["message"]


def test_a_learner_host_that_never_starts_is_the_platforms_fault(monkeypatch):
    monkeypatch.setattr(runner, "LEARNER_BOOT_SECONDS", 1.0)
    judge = [READY, START, collected(T1), started(T1), op(1, "import", name="add"), ["sleep", 30]]
    learner = [READY, ["recv", None], ["sleep", 30]]
    started_at = time.monotonic()
    _, result = grade_scripted(monkeypatch, judge, learner, limits={"call_seconds": 60})
    assert (result["status"], result["outcome"], result["fault"]) == ("error", "platform_error", "platform")
    assert "did not start in time" in result["message"]
    assert time.monotonic() - started_at < 15


def test_a_learner_host_that_never_takes_the_call_is_the_platforms_fault(monkeypatch):
    monkeypatch.setattr(runner, "LEARNER_BOOT_SECONDS", 1.0)
    judge = [READY, START, collected(T1), started(T1), op(1, "import", name="add", **{"$pad": 1 << 20})]
    judge += [["sleep", 30]]
    learner = [READY, ["sleep", 30]]
    _, result = grade_scripted(monkeypatch, judge, learner, limits={"call_seconds": 60})
    assert (result["status"], result["outcome"]) == ("error", "platform_error")
    assert "did not start in time" in result["message"]


#: A submission larger than a pipe's buffer: handing it to a host that does not read cannot complete.
BIG_SRC = PASS_SRC + b"#" + b"x" * (200 * 1024) + b"\n"


def test_a_learner_host_that_never_takes_its_files_is_the_platforms_fault(monkeypatch):
    monkeypatch.setattr(runner, "LEARNER_BOOT_SECONDS", 1.0)
    judge = [READY, ["sleep", 30]]
    _, result = grade_scripted(monkeypatch, judge, [READY, ["sleep", 30]], source=BIG_SRC)
    assert (result["status"], result["outcome"]) == ("error", "platform_error")
    assert "did not start in time" in result["message"]


def test_a_restarted_host_that_never_takes_its_files_leaves_the_test_failed(monkeypatch):
    monkeypatch.setattr(runner, "LEARNER_BOOT_SECONDS", 1.0)
    judge = crash_then_second_test("error")
    learner = [READY, ["recv", None], ["send", {"kind": "setup_done"}], ["exit", 1]]
    stuck = scripted("learner", [READY, ["sleep", 30]])
    _, result = grade_scripted(monkeypatch, judge, learner, extra_learners=[stuck], source=BIG_SRC)
    assert [t["status"] for t in result["tests"]] == ["error", "error"]
    assert "could not restart your code: it did not start in time" in result["message"]


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


def fds_under(root):
    """Paths under ``root`` this process holds an fd on."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:  # the listing's own fd, closed meanwhile
            continue
        if target.startswith(str(root)):
            held.append(target)
    return held


@pytest.mark.parametrize("role", ["learner", "judge"])
def test_a_sandbox_that_cannot_start_leaves_no_job_dir_behind(role, tmp_path, monkeypatch):
    class Refusing:
        def start(self, spec):
            raise SandboxError("no free sandbox uid: too many jobs at once")

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(SandboxError):
        if role == "learner":
            procs.start_learner(Refusing(), "python", resolve())
        else:
            procs.start_judge(Refusing(), "python", resolve(), FIXTURES / "add")
    assert (os.listdir(tmp_path), fds_under(tmp_path)) == ([], [])


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


# --------------------------------------------------------------------------- floods, clocks, caps


def test_a_call_past_its_deadline_times_out_while_output_keeps_arriving(monkeypatch):
    """The per-call deadline is read on every pass, not only when no frame is waiting.

    The consumer takes 20 ms per output event (as a database write might), so frames keep queueing up behind
    the one in hand; the learner replies only after 3 s, on a call whose limit is 1 s.
    """
    judge = one_call_that_errors()
    learner = [*LEARNER_UP, ["recv", None], ["flood", [out(), 600]], ["sleep", 3]]
    learner += [["send", {"kind": "reply", "id": 1, "ok": True, "value": 1}], ["drain", None]]
    started = time.monotonic()

    def slow_consumer(event):
        if event["type"] == "output":
            time.sleep(0.02)

    events, result = grade_scripted(
        monkeypatch, judge, learner, limits={"call_seconds": 1}, on_event=slow_consumer
    )
    assert result["outcome"] == "timeout", result["message"]
    stopped = next(e["t"] for e in events if e["type"] == "test_finished")
    assert stopped < 2.5 and time.monotonic() - started < 8


def test_frame_headers_count_against_the_output_cap(monkeypatch):
    judge = one_call_that_errors()
    learner = [*LEARNER_UP, ["recv", None], ["flood", [out("x"), 200]], ["sleep", 5]]
    _, result = grade_scripted(monkeypatch, judge, learner, limits={"output_bytes": 4096})
    assert result["outcome"] == "output_limit"  # 200 bytes of text, but over 4 KiB on the wire


def test_output_frames_per_job_are_capped(monkeypatch):
    monkeypatch.setattr(runner, "OUTPUT_FRAMES_MAX", 50)
    judge = one_call_that_errors()
    learner = [*LEARNER_UP, ["recv", None], ["flood", [out("x"), 60]], ["sleep", 5]]
    _, result = grade_scripted(monkeypatch, judge, learner)
    assert result["outcome"] == "output_limit"
    assert "more than 50 pieces" in result["message"]


def test_live_output_events_are_capped_with_one_summary_and_tests_keep_their_output(monkeypatch):
    monkeypatch.setattr(runner, "OUTPUT_EVENTS_MAX", 5)
    judge = [READY, START, collected(T1), started(T1), op(1, "call", target={"id": "h"}), ["recv", None]]
    judge += [finished(T1), DONE, ["drain", None]]
    learner = [*LEARNER_UP, ["recv", None], ["flood", [out("line\n"), 30]]]
    learner += [["send", {"kind": "reply", "id": 1, "ok": True, "value": 1}], ["drain", None]]
    events, result = grade_scripted(monkeypatch, judge, learner)
    outputs = [e for e in events if e["type"] == "output"]
    assert [e["data"] for e in outputs] == ["line\n"] * 5 + [runner.OUTPUT_CUT_NOTE]
    assert result["tests"][0]["output"] == "line\n" * 30 and result["status"] == "pass"


def test_metric_series_are_downsampled_and_never_cut_by_output_caps(monkeypatch):
    monkeypatch.setattr(runner, "OUTPUT_EVENTS_MAX", 2)
    long = [float(i) for i in range(3000)]
    judge = [READY, START, collected(T1), started(T1), op(1, "call", target={"id": "h"}), ["recv", None]]
    judge += [
        ev({"type": "metric", "test_id": T1, "name": "loss", "series": long}),
        finished(T1, metrics={"loss": long}),
        DONE,
        ["drain", None],
    ]
    learner = [*LEARNER_UP, ["recv", None], ["flood", [out(), 10]]]
    learner += [["send", {"kind": "reply", "id": 1, "ok": True, "value": 1}], ["drain", None]]
    events, result = grade_scripted(monkeypatch, judge, learner)
    (metric,) = [e for e in events if e["type"] == "metric"]
    series = metric["series"]
    assert len(series) == runner.METRIC_POINTS and series[0] == 0.0 and series[-1] == 2999.0
    assert series == sorted(series) and result["metrics"]["loss"] == series
    assert result["tests"][0]["metrics"]["loss"] == series


def test_live_metric_events_are_capped_but_the_result_keeps_every_metric(monkeypatch):
    monkeypatch.setattr(runner, "METRIC_EVENTS_MAX", 3)
    metrics = [ev({"type": "metric", "test_id": T1, "name": f"m{i}", "value": float(i)}) for i in range(5)]
    judge = [READY, START, collected(T1), started(T1), *metrics, finished(T1), DONE, ["drain", None]]
    events, result = grade_scripted(monkeypatch, judge, [*LEARNER_UP, ["drain", None]])
    assert [e["name"] for e in events if e["type"] == "metric"] == ["m0", "m1", "m2"]
    assert result["metrics"] == {f"m{i}": float(i) for i in range(5)}


def test_a_learner_that_stops_reading_cannot_hold_the_runner_past_the_deadline(monkeypatch):
    big = {"$pad": 1_000_000}  # more than a pipe holds: the write itself would wait on the learner
    judge = [READY, START, collected(T1), started(T1), op(1, "call", target={"id": "h"}, **big)]
    judge += [["recv", None], finished(T1, "error"), DONE, ["drain", None]]
    started_at = time.monotonic()
    _, result = grade_scripted(monkeypatch, judge, [*LEARNER_UP, ["sleep", 20]], limits={"call_seconds": 1})
    assert result["outcome"] == "timeout" and time.monotonic() - started_at < 10


def test_a_pooled_learner_is_killed_at_the_jobs_wall_clock_even_if_nobody_reads_the_events(monkeypatch):
    """A warm learner's own sandbox clock runs far longer than the job's: the job holds it to its own."""
    learner = scripted("learner", [*LEARNER_UP, ["sleep", 60]])  # no sandbox clock at all

    class Pool:
        def take_learner(self, runtime, limits):
            return learner

        def take_judge(self, runtime, limits, content_root):
            return None

    judge = [READY, START, collected(T1), started(T1), op(1, "call", target={"id": "h"}), ["sleep", 60]]
    monkeypatch.setattr(runner, "start_judge", lambda *a, **k: scripted("judge", judge))
    events = runner.grade(
        FIXTURES / "add",
        {"add.py": PASS_SRC},
        sandbox=object(),
        pool=Pool(),
        limits={"wall_seconds": 2, "call_seconds": 60},
    )
    for event in events:
        if event["type"] == "test_started":
            break  # the consumer stalls here: the runner's loop does not run
    deadline = time.monotonic() + 8
    while learner.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        assert not learner.alive()
        assert learner.job.reason == "timeout"
    finally:
        events.close()


def test_no_learner_process_is_restarted_after_the_jobs_wall_clock(monkeypatch):
    monkeypatch.setattr(runner, "JUDGE_SLACK_SECONDS", 30.0)
    judge = [READY, START, collected(T1, T2), started(T1), op(1, "call", target={"id": "h"}), ["recv", None]]
    judge += [finished(T1, "error"), ["sleep", 1.5], started(T2), op(2, "import", name="add"), ["recv", None]]
    judge += [finished(T2, "error"), DONE, ["drain", None]]
    second = scripted("learner", [*LEARNER_UP, ["reply", {"ok": True, "value": 1}], ["drain", None]])
    _, result = grade_scripted(
        monkeypatch,
        judge,
        [*LEARNER_UP, ["sleep", 30]],
        limits={"wall_seconds": 1, "call_seconds": 60},
        extra_learners=[second],
    )
    assert result["outcome"] == "timeout"
    assert second.alive(), "a fresh learner was started after the job's wall clock"
    second.finish(timeout=2.0, grace=0.0)


def test_a_reply_that_cannot_be_relayed_is_the_learners_fault_and_the_judge_hears_of_it(monkeypatch):
    """Strict decoding refuses what cannot be encoded again; should anything slip through, it stays theirs."""
    monkeypatch.setattr(runner, "JUDGE_SLACK_SECONDS", 0.0)
    real = procs.encode_frame

    def fussy(header, buffers=None):
        if header.get("value") == "UNENCODABLE":
            raise ValueError("cannot encode this")
        return real(header, buffers)

    monkeypatch.setattr(procs, "encode_frame", fussy)
    judge = [READY, START, collected(T1), started(T1), op(1, "call", target={"id": "h"}), ["recv", None]]
    judge += [finished(T1, "error"), DONE, ["drain", None]]
    learner = [*LEARNER_UP, ["reply", {"ok": True, "value": "UNENCODABLE"}], ["sleep", 10]]
    _, result = grade_scripted(monkeypatch, judge, learner, limits={"wall_seconds": 3})
    assert (result["outcome"], result["fault"]) == ("runtime_error", "learner"), result["message"]


# --------------------------------------------------------------------------- hidden stays hidden


def _hidden_after_visible(learner_tail):
    judge = [READY, START, collected(T1, H1), started(T1), finished(T1), started(H1)]
    judge += [op(1, "call", target={"id": "h"}), ["recv", None], finished(H1), ["sleep", 0.3], DONE]
    learner = [*LEARNER_UP, ["recv", None], *learner_tail]
    return judge + [["drain", None]], learner


def test_output_between_tests_after_a_hidden_test_is_never_shown(monkeypatch):
    judge, learner = _hidden_after_visible(
        [["send", {"kind": "reply", "id": 1, "ok": True, "value": 1}], ["sleep", 0.1]]
        + [["send", out("HIDDEN-INPUT-42")], ["drain", None]]
    )
    events, result = grade_scripted(monkeypatch, judge, learner)
    assert "HIDDEN-INPUT-42" not in str(events)
    assert result["status"] == "pass"


def test_hidden_durations_and_event_times_are_whole_seconds(monkeypatch):
    judge, learner = _hidden_after_visible(
        [["sleep", 0.3], ["send", {"kind": "reply", "id": 1, "ok": True, "value": 1}], ["drain", None]]
    )
    events, result = grade_scripted(monkeypatch, judge, learner)
    hidden_from = next(i for i, e in enumerate(events) if e.get("visibility") == "hidden")
    assert all(float(e["t"]).is_integer() for e in events[hidden_from:])
    assert not all(float(e["t"]).is_integer() for e in events[:hidden_from])
    assert result["tests"][1]["duration_seconds"] == 0.0  # the judge said 0.25 s
    assert result["tests"][0]["duration_seconds"] == 0.25


def test_an_import_that_failed_in_a_hidden_test_is_not_quoted(monkeypatch):
    judge = [READY, START, collected(T1, H1), started(T1), finished(T1), started(H1)]
    judge += [op(1, "import", name="add"), ["recv", None], finished(H1, "error"), DONE, ["drain", None]]
    err = {"type": "ImportError", "message": "saw 7340211", "traceback": "saw 7340211", "kind": "exception"}
    learner = [*LEARNER_UP, ["reply", {"ok": False, "error": err}], ["drain", None]]
    _, result = grade_scripted(monkeypatch, judge, learner)
    assert result["outcome"] == "import_error" and "7340211" not in str(result)
    assert result["message"] == "Your code could not be imported (in a hidden test). 1 of 2 tests passed."


def test_how_a_learner_process_ended_is_not_told_once_hidden_tests_ran(monkeypatch):
    judge = [READY, START, collected(H1, T1), started(H1), op(1, "call", target={"id": "h"}), ["report", H1]]
    judge += [started(T1), op(2, "call", target={"id": "h"}), ["report", T1], DONE, ["drain", None]]
    _, result = grade_scripted(monkeypatch, judge, [*LEARNER_UP, ["recv", None], ["exit", 42]])
    assert result["tests"][1]["message"] == "Your code's process ended unexpectedly."


# --------------------------------------------------------------------------- text from learner code


def test_learner_text_reaches_events_and_the_result_without_nul(monkeypatch):
    judge = [READY, START, collected(T1), started(T1), op(1, "call", target={"id": "h"}), ["recv", None]]
    judge += [finished(T1, "fail", "assert 'a\x00b' == 'ab'"), DONE, ["drain", None]]
    learner = [*LEARNER_UP, ["recv", None], ["send", out("x\x00y")]]
    learner += [["send", {"kind": "reply", "id": 1, "ok": True, "value": 1}], ["drain", None]]
    events, result = grade_scripted(monkeypatch, judge, learner)
    assert "\x00" not in str(events)
    assert result["tests"][0]["output"] == "x\ufffdy"
    assert result["tests"][0]["message"] == "assert 'a\ufffdb' == 'ab'"
