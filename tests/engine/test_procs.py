"""A sandboxed process's frame reader: back-pressure on a full queue, and a clean end when it is finished.

The peers are scripted (tests/engine/scripted_peer.py); the runner-level consequences (deadlines read on every
pass, a pooled learner held to its job's clock) are in test_runner.py.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from engine_helpers import scripted

from grading.engine.procs import ENGINE_TARGET, REPO_ROOT, SINK_FRAMES, FrameSink, Layout
from sandbox.docker import DockerSandbox

OUTPUT = {"kind": "output", "stream": "stdout", "data": "x" * 100}


def _reader_alive(proc) -> bool:
    return any(t.name == f"{proc.tag}-frames" for t in threading.enumerate())


def test_a_flooding_process_fills_its_own_pipe_not_the_workers_memory():
    proc = scripted("learner", [["flood", [OUTPUT, 20_000]], ["exit", 0]])
    try:
        sink = FrameSink(SINK_FRAMES)
        proc.attach(sink)
        time.sleep(1.0)
        assert sink.qsize() <= SINK_FRAMES
        assert proc.alive(), "it should be blocked writing to its full pipe"
        frames = 0
        while sink.get(timeout=10)[1] is not None:
            frames += 1
        assert frames == 20_000
    finally:
        proc.finish(timeout=2.0, grace=0.0)


def test_finishing_a_process_releases_a_reader_waiting_on_a_full_queue():
    proc = scripted("learner", [["flood", [OUTPUT, 100]], ["sleep", 30]])
    proc.attach(FrameSink(2))
    time.sleep(0.5)
    assert _reader_alive(proc)
    proc.finish(timeout=2.0, grace=0.0)
    deadline = time.monotonic() + 5
    while _reader_alive(proc) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _reader_alive(proc)


def test_attaching_to_a_full_queue_never_waits_and_keeps_the_order():
    # A restarted learner is attached from the runner's own thread, the queue's only consumer, which a killed
    # flooder may have left full: a waiting put there would wait on itself forever (seen in CI, a 900 s hang).
    proc = scripted("learner", [["flood", [OUTPUT, 5]], ["sleep", 30]])
    try:
        deadline = time.monotonic() + 10
        while proc._sink.qsize() < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        sink = FrameSink(2)
        sink.put(("old", None))
        sink.put(("old", None))
        attaching = threading.Thread(target=proc.attach, args=(sink,), daemon=True)
        attaching.start()
        attaching.join(5)
        assert not attaching.is_alive(), "attach waited on a full queue"
        got = [sink.get_nowait() for _ in range(7)]
        assert [tag for tag, _ in got] == ["old", "old"] + [proc.tag] * 5
        assert all(frame.kind == "output" for _, frame in got[2:])
    finally:
        proc.finish(timeout=2.0, grace=0.0)


def test_an_expiring_process_is_killed_as_a_timeout():
    proc = scripted("learner", [["sleep", 30]])
    proc.expire_in(0.3)
    result = proc.job.wait(10)
    assert result.outcome == "timeout"
    proc.finish(timeout=2.0, grace=0.0)


def test_a_docker_sandbox_runs_jobs_with_its_image_s_python_and_binds_only_the_engine() -> None:
    # a container's uid cannot traverse the host paths a venv points into (/root/.pyenv): the image brings its own
    layout = Layout.detect(DockerSandbox())
    assert (layout.python(), [(str(m.source), m.target) for m in layout.base_mounts()]) == (
        "/opt/venv/bin/python",
        [(str(REPO_ROOT / "grading" / "engine"), f"{ENGINE_TARGET}/grading/engine")],
    )
    host = Layout.detect(None)
    assert host.image_runtime is False and any(m.source == Path(host.venv) for m in host.base_mounts())
