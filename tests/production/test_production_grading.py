"""Production mode end to end: PostgreSQL, Redis (broker + channel layer), uvicorn, Celery workers, the real engine.

Module 01-onboarding of the real course is graded by ``grading.engine.runner.grade`` in the bubblewrap sandbox.
"""

import json
import os
import signal
import time

import psutil
import pytest
from lab_stack import REPO_ROOT
from websockets.sync.client import connect

pytestmark = [pytest.mark.production, pytest.mark.slow]

SLUG = "01-onboarding"
REFERENCE = (REPO_ROOT / "content" / SLUG / "reference" / "hello.py").read_text(encoding="utf-8")


def test_an_idle_websocket_stays_open_on_the_redis_layer(stack):
    """redis-py 8's 5 s default read timeout raced channels_redis' 5 s blocking pop and killed idle sockets."""
    session = stack.login()
    with connect(
        f"ws://127.0.0.1:{stack.port}/ws/grading/",
        additional_headers=stack.ws_headers(session),
        open_timeout=10,
    ) as socket:
        time.sleep(12)
        socket.send(json.dumps({"type": "ping"}))
        assert json.loads(socket.recv(timeout=10)) == {"type": "pong"}


def test_it_grades_a_submission_and_streams_its_events(stack):
    worker = stack.start_worker("stream")
    try:
        session = stack.login()
        with connect(
            f"ws://127.0.0.1:{stack.port}/ws/grading/",
            additional_headers=stack.ws_headers(session),
            open_timeout=10,
        ) as socket:
            started = time.monotonic()
            submission_id = stack.submit(session, SLUG, {"hello.py": REFERENCE})
            frames, first_event_at = [], None
            while True:
                frame = json.loads(socket.recv(timeout=120))
                assert frame["submission_id"] == submission_id
                if frame["type"] == "grading.queue":  # where it waits, until a worker takes it
                    assert frame["status"] == "queued" and frame["queue"]["position"] == 1
                    continue
                assert frame["type"] == "grading.event"
                first_event_at = first_event_at or time.monotonic() - started
                frames.append(frame["event"])
                if frame["event"]["type"] == "verdict":
                    break
        assert frames[0]["type"] == "phase"
        assert frames[-1]["result"]["status"] == "pass", frames[-1]["result"]["message"]
        body = stack.wait_for(session, submission_id, "done", timeout=10)
        assert body["result"]["status"] == "pass"
        assert stack.sql("SELECT count(*) FROM grading_result WHERE submission_id = %s", submission_id) == [
            (1,)
        ]
        progress = stack.sql(
            "SELECT p.status FROM modules_progress p JOIN modules_module m ON m.id = p.module_id WHERE m.slug = %s",
            SLUG,
        )
        assert progress == [("passed",)]
        assert stack.idle_deaths("stream") == []
    finally:
        stack.kill(worker)


def test_a_killed_worker_leaves_the_job_to_another_that_records_one_verdict(stack):
    session = stack.login()
    slow = REFERENCE + "\nimport time\n\ntime.sleep(5)\n"  # importing it keeps the worker busy for 5 s
    first = stack.start_worker("first")
    submission_id = stack.submit(session, SLUG, {"hello.py": slow})
    stack.wait_for(session, submission_id, "running", timeout=60)
    time.sleep(1.0)
    stack.kill(first)  # SIGKILL to the worker's process group, mid-job
    assert stack.sql("SELECT status, runs FROM grading_submission WHERE id = %s", submission_id) == [
        ("running", 1)
    ]
    assert stack.sql("SELECT count(*) FROM grading_result WHERE submission_id = %s", submission_id) == [(0,)]

    second = stack.start_worker("second")
    try:
        body = stack.wait_for(session, submission_id, "done", timeout=120)
    finally:
        stack.kill(second)
    assert body["result"]["status"] == "pass", body["result"]["message"]
    assert stack.sql("SELECT count(*) FROM grading_result WHERE submission_id = %s", submission_id) == [(1,)]
    assert stack.sql("SELECT runs FROM grading_submission WHERE id = %s", submission_id) == [(2,)]
    verdicts = stack.sql(
        "SELECT count(*) FROM grading_submissionevent WHERE submission_id = %s AND type = 'verdict'",
        submission_id,
    )
    assert verdicts == [(1,)]
    assert stack.sql(
        "SELECT DISTINCT run FROM grading_submissionevent WHERE submission_id = %s", submission_id
    ) == [(2,)]


def web_processes(stack) -> list[psutil.Process]:
    """The live uvicorn worker processes under runlab (its multiprocessing children that serve, not the tracker;
    a killed one not yet reaped is a zombie and does not count)."""
    alive = []
    for child in psutil.Process(stack.web.pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(child.cmdline()):
                alive.append(child)
        except psutil.Error:  # it ended while we looked
            continue
    return alive


def test_the_web_tier_serves_from_several_processes_and_replaces_a_dead_one(stack):
    """runlab in production mode: LAB_WEB_WORKERS uvicorn processes on one socket; a killed one is replaced
    and the site keeps answering, pages and sockets alike."""
    before = web_processes(stack)
    assert len(before) == 2, [p.cmdline() for p in before]
    os.kill(before[0].pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = web_processes(stack)
        if len(now) == 2 and before[0].pid not in {p.pid for p in now}:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(
            f"the dead web process was not replaced: {[p.pid for p in web_processes(stack)]}"
        )
    session = stack.login()
    for _ in range(10):
        assert session.get(f"{stack.base_url}/", timeout=10).status_code == 200
    with connect(
        f"ws://127.0.0.1:{stack.port}/ws/grading/",
        additional_headers=stack.ws_headers(session),
        open_timeout=10,
    ) as socket:
        socket.send(json.dumps({"type": "ping"}))
        assert json.loads(socket.recv(timeout=10)) == {"type": "pong"}


def test_the_web_tier_reuses_its_database_connections(stack):
    """Each uvicorn process takes its PostgreSQL connections from a pool (``LAB_DATABASE_POOL``): under ASGI,
    Django's persistent connections opened a new session, a forked server process, for every request (1.01 per
    request measured before the pool). PostgreSQL counts every session it establishes."""
    session = stack.login()
    for _ in range(10):  # each process's pool is open
        assert session.get(f"{stack.base_url}/", timeout=10).status_code == 200

    def established() -> int:
        return stack.sql("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")[0][0]

    before = established()
    for _ in range(60):
        assert session.get(f"{stack.base_url}/", timeout=10).status_code == 200
        assert session.get(f"{stack.base_url}/modules/01-onboarding/", timeout=10).status_code == 200
    opened = established() - before - 1  # the query's own session
    assert opened <= 12, f"{opened} database sessions opened for 120 pages: the web tier does not reuse them"
