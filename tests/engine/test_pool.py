"""LearnerPool: warm processes per runtime, one submission each, background refill, thread safety."""

from __future__ import annotations

import threading
import time

import pytest
from engine_helpers import FIXTURES, scripted

from grading.engine import pool as pool_mod
from grading.engine.pool import LearnerPool
from sandbox.limits import resolve

WAITING = [["send", {"kind": "ready"}], ["drain", None]]


@pytest.fixture
def fake_start(monkeypatch):
    started: list[tuple[str, str]] = []

    def learner(sandbox, runtime, limits, layout=None):
        started.append(("learner", runtime))
        return scripted("learner", WAITING, limits=limits)

    def judge(sandbox, runtime, limits, content_root, layout=None):
        started.append(("judge", runtime))
        return scripted("judge", WAITING, limits=limits)

    monkeypatch.setattr(pool_mod, "start_learner", learner)
    monkeypatch.setattr(pool_mod, "start_judge", judge)
    return started


def test_the_pool_fills_every_runtime_and_role(fake_start):
    with LearnerPool(sandbox=object(), size=2, runtimes=("python", "torch"), content_root=FIXTURES) as p:
        assert p.wait_ready(20)
        assert sorted(fake_start) == sorted(
            [(r, rt) for r in ("learner", "judge") for rt in ("python", "torch")] * 2
        )


def test_each_process_is_handed_out_once_and_replaced(fake_start):
    with LearnerPool(sandbox=object(), size=1, runtimes=("python",)) as p:
        assert p.wait_ready(20)
        first = p.take_learner("python", resolve(None))
        second = p.take_learner("python", resolve(None))
        assert first is not None and first is not second
        assert p.wait_ready(20) and p.started >= 2
        first.finish(grace=0.0)
        if second is not None:
            second.finish(grace=0.0)


def test_incompatible_limits_or_content_roots_get_no_warm_process(fake_start, tmp_path):
    with LearnerPool(sandbox=object(), size=1, runtimes=("python",), content_root=FIXTURES) as p:
        assert p.wait_ready(20)
        assert p.take_learner("python", resolve({"memory_bytes": 123456789})) is None
        assert p.take_judge("python", resolve(None), tmp_path) is None
        assert p.take_learner("torch", resolve(None)) is None
        judge = p.take_judge("python", resolve({"wall_seconds": 5}), FIXTURES)
        assert judge is not None and judge.role == "judge"
        judge.finish(grace=0.0)
    assert LearnerPool(sandbox=object(), size=0).take_judge("python", resolve(None), FIXTURES) is None


def test_the_pool_learns_to_keep_other_limits_warm(fake_start):
    with LearnerPool(sandbox=object(), size=1, runtimes=("python",)) as p:
        assert p.wait_ready(20)
        other = resolve({"memory_bytes": 3 * 1024**3})
        assert p.take_learner("python", other) is None
        assert p.wait_ready(20)
        proc = p.take_learner("python", other)
        assert proc is not None and proc.limits.memory_bytes == 3 * 1024**3
        proc.finish(grace=0.0)
        for i in range(6):
            p.take_learner("python", resolve({"open_files": 100 + i}))
        assert len({k[2] for k in p._keys()}) == pool_mod.MAX_LIMIT_SHAPES


def test_a_process_without_enough_sandbox_time_left_is_not_handed_out(fake_start):
    with LearnerPool(sandbox=object(), size=1, runtimes=("python",), max_age_seconds=5) as p:
        assert p.wait_ready(20)
        assert p.take_learner("python", resolve({"wall_seconds": 600})) is None


def test_old_processes_are_recycled(fake_start):
    with LearnerPool(sandbox=object(), size=1, runtimes=("python",), max_age_seconds=0.5) as p:
        assert p.wait_ready(20)
        old = next(iter(p._procs.values()))[0][1]
        time.sleep(0.6)
        fresh = p.take_learner("python", resolve(None))
        assert fresh is not old and (fresh is None or fresh.alive())
        assert p.wait_ready(20)
        deadline = time.monotonic() + 10
        while old.alive() and time.monotonic() < deadline:  # the refill thread retires it too
            time.sleep(0.05)
        assert not old.alive() and p.deaths == 0


def test_a_process_that_dies_while_idle_is_replaced_before_any_take(fake_start, caplog):
    with LearnerPool(sandbox=object(), size=1, runtimes=("python",)) as p:
        assert p.wait_ready(20)
        dead = next(iter(p._procs.values()))[0][1]
        dead.kill()
        deadline = time.monotonic() + 10
        while p.started < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert p.wait_ready(20) and p.started == 2 and p.deaths == 1
        assert [proc for entries in p._procs.values() for _, proc in entries if proc is dead] == []
        assert p.hits == p.misses == 0
        assert f"warm {dead.tag} (python) died while idle" in caplog.text
        fresh = p.take_learner("python", resolve(None))
        assert fresh is not None and fresh is not dead and fresh.alive()
        fresh.finish(grace=0.0)


def test_a_failing_sandbox_is_counted_and_retried(monkeypatch):
    calls = []

    def broken(*a, **k):
        calls.append(1)
        raise OSError("no bwrap")

    monkeypatch.setattr(pool_mod, "start_learner", broken)
    with LearnerPool(sandbox=object(), size=1, runtimes=("python",)) as p:
        assert not p.wait_ready(1.5)
        assert p.failures >= 2 and len(calls) == p.failures


def test_concurrent_takes_never_share_a_process(fake_start):
    with LearnerPool(sandbox=object(), size=3, runtimes=("python",)) as p:
        assert p.wait_ready(30)
        got: list = []
        lock = threading.Lock()

        def take():
            proc = p.take_learner("python", resolve(None))
            with lock:
                got.append(proc)

        threads = [threading.Thread(target=take) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        procs = [g for g in got if g is not None]
        assert len(procs) >= 3 and len({id(x) for x in procs}) == len(procs)
        for proc in procs:
            proc.finish(grace=0.0)


def test_closing_the_pool_kills_idle_processes(fake_start):
    p = LearnerPool(sandbox=object(), size=2, runtimes=("python",))
    assert p.wait_ready(20)
    procs = [proc for entries in p._procs.values() for _, proc in entries]
    p.close()
    assert procs and all(not proc.alive() for proc in procs)
    assert p.take_learner("python", resolve(None)) is None


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        LearnerPool(sandbox=object(), runtimes=("java",))
    with pytest.raises(ValueError):
        LearnerPool(sandbox=object(), size=-1)


def test_a_process_started_while_closing_is_killed_not_kept(monkeypatch):
    made: list = []
    gate = threading.Event()

    def slow(sandbox, runtime, limits, layout=None):
        gate.wait(5)
        proc = scripted("learner", WAITING, limits=limits)
        made.append(proc)
        return proc

    monkeypatch.setattr(pool_mod, "start_learner", slow)
    p = LearnerPool(sandbox=object(), size=1, runtimes=("python",))
    time.sleep(0.1)
    p.close()
    gate.set()
    p._thread.join(5)
    assert not p._thread.is_alive()
    assert len(made) == 1 and not made[0].alive() and p.started == 0
