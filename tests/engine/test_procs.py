"""A sandboxed process's frame reader: back-pressure on a full queue, and a clean end when it is finished.

The peers are scripted (tests/engine/scripted_peer.py); the runner-level consequences (deadlines read on every
pass, a pooled learner held to its job's clock) are in test_runner.py.
"""

from __future__ import annotations

import queue
import threading
import time

from engine_helpers import scripted

from grading.engine.procs import SINK_FRAMES

OUTPUT = {"kind": "output", "stream": "stdout", "data": "x" * 100}


def _reader_alive(proc) -> bool:
    return any(t.name == f"{proc.tag}-frames" for t in threading.enumerate())


def test_a_flooding_process_fills_its_own_pipe_not_the_workers_memory():
    proc = scripted("learner", [["flood", [OUTPUT, 20_000]], ["exit", 0]])
    try:
        sink: queue.Queue = queue.Queue(SINK_FRAMES)
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
    proc.attach(queue.Queue(2))
    time.sleep(0.5)
    assert _reader_alive(proc)
    proc.finish(timeout=2.0, grace=0.0)
    deadline = time.monotonic() + 5
    while _reader_alive(proc) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _reader_alive(proc)


def test_an_expiring_process_is_killed_as_a_timeout():
    proc = scripted("learner", [["sleep", 30]])
    proc.expire_in(0.3)
    result = proc.job.wait(10)
    assert result.outcome == "timeout"
    proc.finish(timeout=2.0, grace=0.0)
