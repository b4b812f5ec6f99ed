"""The judge's pytest plugin and learner proxy, run in-process against an in-process learner host."""

from __future__ import annotations

import os
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from grading.engine.judge import Learner, LearnerClient, RemoteProxy, run_tests
from grading.engine.learner_host import Host
from grading.engine.protocol import Channel, ProtocolError

LEARNER_SOURCE = """
class Counter:
    def __init__(self, start=0):
        self.n = start
        self.items = ["a", "b"]
    def bump(self, by=1):
        self.n += by
        return self.n
    def __eq__(self, other):
        return True
class BadLen:
    def __len__(self):
        raise ValueError("no size")
class NoLen:
    def __iter__(self):
        return iter([1, 2])
def ident(x):
    return x
def add(a, b):
    print("adding", a, b)
    return a + b
def explode():
    raise RuntimeError("kaboom")
"""

TESTS = {
    "visible/test_jv.py": """
        import pytest
        from grading.engine import LearnerError
        from grading.engine.protocol import ProtocolError

        pytestmark = pytest.mark.step("s1")

        @pytest.mark.hint("h1")
        def test_passes(learner, metrics):
            mod = learner.module("jmod")
            assert mod.add(2, 3) == 5
            metrics.record("m", 1.5)
            metrics.series("curve", [1, 2])
            metrics.series("bpt", [3, 2], x=[0, 16], title={"en": "B", "zh": "乙"}, x_label={"en": "m", "zh": "次"})
            assert learner.files == {"jmod.py": "source"}

        def test_proxy_semantics(learner):
            mod = learner.module("jmod")
            c = mod.Counter(1)
            assert c.bump(by=2) == 3
            c.n = 10
            assert learner.value(c.n) == 10
            assert mod.ident(c.n) == 10
            assert learner.value(7) == 7
            assert c.items[1] == "b"
            assert len(c.items) == 2
            assert list(c.items) == ["a", "b"]
            assert list(mod.NoLen()) == [1, 2]
            assert learner.repr(c.items) == "['a', 'b']"
            assert learner.str(c.n) == "10"
            assert c != c.n and not (c == 1)
            assert "Counter" in repr(c) and ".n" in repr(c.n)
            with pytest.raises(AttributeError):
                c.__wrapped__
            with pytest.raises(ProtocolError):
                c.bump(object())
            with pytest.raises(TypeError):
                len(c)
            with pytest.raises(LearnerError):
                len(mod.BadLen())

        def test_fails_on_assertion(learner):
            assert learner.module("jmod").add(1, 1) == 3

        def test_errors_on_learner_exception(learner):
            learner.module("jmod").explode()

        @pytest.mark.skip(reason="not today")
        def test_skipped():
            pass

        @pytest.fixture
        def broken_fixture():
            raise RuntimeError("fixture broke")

        def test_setup_error(broken_fixture):
            pass

        @pytest.fixture
        def bad_teardown():
            yield
            raise RuntimeError("teardown broke")

        def test_teardown_error(bad_teardown):
            pass

        def test_timeout_and_crash_map_to_their_classes(learner):
            from grading.engine import LearnerCrashed, LearnerTimeout
            with pytest.raises(LearnerTimeout):
                learner.module("__timeout__")
            with pytest.raises(LearnerCrashed):
                learner.module("__crash__")
            with pytest.raises(ProtocolError):
                learner.module("__noerr__")
            with pytest.raises(ProtocolError):
                learner.module("__value__")

        def test_a_caught_timeout_is_the_news_not_the_assertion(learner):
            with pytest.raises(LearnerError) as excinfo:
                learner.module("__timeout__")
            assert excinfo.value.type_name == "ValueError"

        def test_fails_with_its_own_sentence(learner):
            assert learner.module("jmod").add(1, 1) == 3, "add(1, 1) should be 3"

        def test_bad_metric_is_an_error(metrics):
            with pytest.raises(ValueError):
                metrics.record("x", float("nan"))
            with pytest.raises(ValueError):
                metrics.series("y", [1.0, float("inf")])
            with pytest.raises(ValueError):
                metrics.series("y", [1.0, 2.0], x=[0.0])
            with pytest.raises(ValueError):
                metrics.series("y", [1.0], title={"en": "only English"})
    """,
    "hidden/test_jh.py": """
        def test_hidden_passes(learner):
            assert learner.module("jmod").add(1, 2) == 3
    """,
}


def loopback(chan: Channel, host: Host, events: list) -> None:
    """Plays runner + learner for the judge: answers ops with ``host``, records events."""
    while True:
        frame = chan.recv()
        if frame is None:
            return
        if frame.kind == "event":
            events.append(frame.header["event"])
            continue
        if frame.kind != "op":
            events.append({"type": "other", "kind": frame.kind})
            continue
        h = frame.header
        reply = {"kind": "reply", "id": h["id"]}
        special = h.get("name") if h.get("op") == "import" else None
        if special in ("__timeout__", "__crash__"):
            kind = "timeout" if special == "__timeout__" else "crashed"
            chan.send(
                {**reply, "ok": False, "error": {"type": "T", "message": "m", "traceback": "", "kind": kind}}
            )
            continue
        if special == "__noerr__":
            chan.send({**reply, "ok": False})
            continue
        if special == "__value__":
            chan.send({**reply, "ok": True, "value": 5})
            continue
        buffers: list[bytes] = []
        try:
            value, buffers = host.execute(h, frame.buffers)
            reply.update(ok=True, value=value)
        except BaseException as exc:
            reply.update(ok=False, error=host.error(exc))
            buffers = []
        chan.send(reply, buffers)


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    """Run the fixture tests once through the judge plugin (in-process, nested pytest)."""
    tmp_path = tmp_path_factory.mktemp("judge")
    mp = pytest.MonkeyPatch()
    mp.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    mp.setenv("TMPDIR", str(tmp_path))
    mp.setattr(sys, "path", list(sys.path))
    work = tmp_path / "work"
    work.mkdir()
    (work / "jmod.py").write_text(LEARNER_SOURCE)
    module = tmp_path / "mod"
    for rel, text in TESTS.items():
        path = module / "tests" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    a_r, b_w = os.pipe()
    b_r, a_w = os.pipe()
    judge_chan = Channel(os.fdopen(a_r, "rb"), os.fdopen(a_w, "wb"))
    peer_chan = Channel(os.fdopen(b_r, "rb"), os.fdopen(b_w, "wb"))
    host = Host(peer_chan, str(work))
    sys.path.insert(0, str(work))
    events: list = []
    thread = threading.Thread(target=loopback, args=(peer_chan, host, events), daemon=True)
    thread.start()
    try:
        code = run_tests(judge_chan, module, {"jmod.py": "source"})
    finally:
        judge_chan.wfile.close()
        thread.join(5)
        for name in ("jmod", "test_jv", "test_jh"):
            sys.modules.pop(name, None)
        mp.undo()
    return code, events


def _finished(events):
    return {e["test"]["id"].split("::")[1]: e["test"] for e in events if e["type"] == "test_finished"}


def test_collection_reports_every_test_with_step_hint_and_visibility(judged):
    _, events = judged
    collected = next(e for e in events if e["type"] == "collected")["tests"]
    by_name = {t["name"]: t for t in collected}
    assert len(collected) == 12
    assert by_name["test_passes"] == {
        "id": "visible/test_jv.py::test_passes",
        "name": "test_passes",
        "step": "s1",
        "hint": "h1",
        "visibility": "visible",
    }
    assert (
        by_name["test_hidden_passes"]["visibility"] == "hidden"
        and by_name["test_hidden_passes"]["step"] is None
    )


def test_statuses_distinguish_pass_fail_error_and_skip(judged):
    code, events = judged
    done = _finished(events)
    assert code == 1
    assert {k: v["status"] for k, v in done.items()} == {
        "test_passes": "pass",
        "test_proxy_semantics": "pass",
        "test_fails_on_assertion": "fail",
        "test_errors_on_learner_exception": "error",
        "test_skipped": "skip",
        "test_setup_error": "error",
        "test_teardown_error": "error",
        "test_timeout_and_crash_map_to_their_classes": "pass",
        "test_a_caught_timeout_is_the_news_not_the_assertion": "error",
        "test_fails_with_its_own_sentence": "fail",
        "test_bad_metric_is_an_error": "pass",
        "test_hidden_passes": "pass",
    }


def test_failure_messages_are_useful(judged):
    done = _finished(judged[1])
    assert "assert 2 == 3" in done["test_fails_on_assertion"]["message"]
    msg = done["test_errors_on_learner_exception"]["message"]
    assert msg.startswith("RuntimeError: kaboom") and 'File "jmod.py"' in msg and "in explode" in msg
    assert "not today" in done["test_skipped"]["message"]
    assert "fixture broke" in done["test_setup_error"]["message"]
    assert "teardown broke" in done["test_teardown_error"]["message"]


def test_messages_carry_no_internal_markers_and_say_things_once(judged):
    done = _finished(judged[1])
    # a stop the test caught and compared (`assert 'T' == 'ValueError'`) reads as the stop's own sentence
    assert done["test_a_caught_timeout_is_the_news_not_the_assertion"]["message"] == "m"
    # a failed assertion with a sentence shows that sentence, not pytest's repetition of it
    assert done["test_fails_with_its_own_sentence"]["message"] == "add(1, 1) should be 3"
    # a learner exception names itself first and once, then the traceback through their file
    msg = done["test_errors_on_learner_exception"]["message"]
    assert msg.count("RuntimeError: kaboom") == 1 and msg.index("Traceback") > 0


def test_metrics_are_events_and_part_of_the_test(judged):
    events = judged[1]
    metrics = [e for e in events if e["type"] == "metric"]
    assert {
        "type": "metric",
        "test_id": "visible/test_jv.py::test_passes",
        "name": "m",
        "value": 1.5,
    } in metrics
    assert {
        "type": "metric",
        "test_id": "visible/test_jv.py::test_passes",
        "name": "curve",
        "series": [1.0, 2.0],
    } in metrics
    bpt = {
        "y": [3.0, 2.0],
        "x": [0.0, 16.0],
        "title": {"en": "B", "zh": "乙"},
        "x_label": {"en": "m", "zh": "次"},
    }
    assert {
        "type": "metric",
        "test_id": "visible/test_jv.py::test_passes",
        "name": "bpt",
        "series": bpt,
    } in metrics
    assert _finished(events)["test_passes"]["metrics"] == {"m": 1.5, "curve": [1.0, 2.0], "bpt": bpt}


def test_every_started_test_finishes_in_order(judged):
    events = judged[1]
    seq = [
        (e["type"], e.get("id") or e.get("test", {}).get("id"))
        for e in events
        if e["type"] in ("test_started", "test_finished")
    ]
    assert len(seq) == 24
    for started, finished in zip(seq[::2], seq[1::2]):
        assert started[0] == "test_started" and finished[0] == "test_finished" and started[1] == finished[1]


class _Script:
    """A fake channel whose replies are scripted."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.sent = []

    def send(self, header, buffers=None):
        self.sent.append(header)

    def recv(self):
        return self.replies.pop(0)


def test_client_rejects_replies_that_do_not_match():
    from grading.engine import LearnerCrashed
    from grading.engine.protocol import Frame

    assert (
        LearnerClient(_Script([Frame({"kind": "reply", "id": 1, "ok": True, "value": 2})])).request("len")
        == 2
    )  # type: ignore[arg-type]
    with pytest.raises(LearnerCrashed):
        LearnerClient(_Script([None])).request("len")  # type: ignore[arg-type]
    with pytest.raises(ProtocolError):
        LearnerClient(_Script([Frame({"kind": "event"})])).request("len")  # type: ignore[arg-type]
    with pytest.raises(ProtocolError):
        LearnerClient(_Script([Frame({"kind": "reply", "id": 99, "ok": True})])).request("len")  # type: ignore[arg-type]
    with pytest.raises(ProtocolError):
        LearnerClient(
            _Script([Frame({"kind": "reply", "id": 1, "ok": True, "value": {"$t": "handle"}})])
        ).request("len")  # type: ignore[arg-type]


def test_proxy_len_must_be_an_int_and_import_must_give_a_handle():
    from grading.engine.protocol import Frame

    client = LearnerClient(_Script([Frame({"kind": "reply", "id": 1, "ok": True, "value": "3"})]))  # type: ignore[arg-type]
    with pytest.raises(ProtocolError):
        len(RemoteProxy(client, "h", (), "T"))
    client = LearnerClient(_Script([Frame({"kind": "reply", "id": 1, "ok": True, "value": 3})]))  # type: ignore[arg-type]
    with pytest.raises(ProtocolError):
        Learner(client, {}).module("x")


def test_judge_without_test_folders_collects_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    sent = _Script([])
    (tmp_path / "tests").mkdir()
    code = run_tests(sent, Path(tmp_path), {})  # type: ignore[arg-type]
    assert code != 0
    assert {"kind": "event", "event": {"type": "collected", "tests": []}} in sent.sent


def test_learner_errors_describe_themselves_for_learners():
    from grading.engine import LearnerCrashed, LearnerError, LearnerTimeout

    assert (
        LearnerError("KeyError", "'x'", "Traceback ...\nKeyError: 'x'").describe()
        == "KeyError: 'x'\nTraceback ..."
    )
    assert LearnerError("OSError", "full (/tmp)", "Traceback ...\nOSError: full").describe() == (
        "OSError: full (/tmp)\nTraceback ...\nOSError: full"
    )
    assert LearnerError("StopIteration", "").describe() == "StopIteration"
    assert (
        LearnerTimeout("Timeout", "Your code was stopped after 2 s.").describe()
        == "Your code was stopped after 2 s."
    )
    assert LearnerCrashed("Gone", "Your code's process ended.").describe() == "Your code's process ended."


def test_torch_warm_up_runs_the_first_assert_close():
    from grading.engine.judge import warm_torch

    warm_torch()
    assert "torch.testing" in sys.modules
