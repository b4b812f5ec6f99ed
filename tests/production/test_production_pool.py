"""Production mode on the warm pool: a prefork Celery worker keeps warm sandboxes in its child, never its parent.

The real course's ``01-onboarding`` is graded through HTTP, Redis, a Celery worker and the real engine (bubblewrap).
The warm processes are observed from outside as the worker's sandboxed ``learner_host`` / ``judge`` descendants
(psutil): where they live (the prefork child, started after the fork), and that the ones waiting before a
submission are gone after its verdict (taken, served, dead) while fresh ones replace them. No clock is asserted;
submit → verdict times are printed for the record.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import psutil
import pytest
from lab_stack import REPO_ROOT

pytestmark = [pytest.mark.production, pytest.mark.slow]

SLUG = "01-onboarding"
REFERENCE = (REPO_ROOT / "content" / SLUG / "reference" / "hello.py").read_text(encoding="utf-8")
ROLES = ("grading.engine.learner_host", "grading.engine.judge")


def start_prefork_worker(stack, name: str, pool_size: int) -> subprocess.Popen:
    """A ``celery worker`` as compose runs it (prefork), with one child, on the stack's queue ``short``."""
    # One warm shape (01-onboarding's, the first module): every warm process then serves this test's submissions,
    # so "the ones waiting before a submission are gone after it" holds for all of them.
    env = {
        **stack.env,
        "GRADING_POOL_SIZE": str(pool_size),
        "GRADING_POOL_RUNTIMES": "python",
        "GRADING_POOL_MAX_SHAPES": "1",
    }
    log_path = stack.workdir / f"worker-{name}.log"
    log = open(log_path, "ab")  # closed with the process
    argv = [sys.executable, "-m", "celery", "-A", "labplatform", "worker", "-Q", "short", "--pool", "prefork"]
    argv += ["--concurrency", "1", "-n", f"{name}@%h", "--without-gossip", "--without-mingle"]
    argv += ["--without-heartbeat", "-l", "info"]
    proc = subprocess.Popen(
        argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    proc.log_path = log_path  # type: ignore[attr-defined]  # read back when a wait fails
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if "ready." in log_path.read_text(errors="replace"):
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    raise RuntimeError(f"worker {name} did not start:\n" + log_path.read_text(errors="replace"))


def sandboxes(process: psutil.Process, *, recursive: bool = True) -> dict[int, str]:
    """pid → role of the sandboxed engine processes below ``process``."""
    found = {}
    for child in process.children(recursive=recursive):
        try:
            cmdline = " ".join(child.cmdline())
        except psutil.Error:
            continue
        for role in ROLES:
            if role in cmdline:
                found[child.pid] = role
    return found


def wait_for_warm(worker: subprocess.Popen, *, minimum: int = 2, timeout: float = 60) -> dict[int, str]:
    parent = psutil.Process(worker.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sandboxes(parent)
        if set(found.values()) == set(ROLES) and len(found) >= minimum:
            return found
        time.sleep(0.2)
    log = worker.log_path.read_text(errors="replace")[-6000:]  # type: ignore[attr-defined]
    raise TimeoutError(
        f"no warm learner host and judge under the worker: {sandboxes(parent)}\nworker log:\n{log}"
    )


def running(pid: int) -> bool:
    """Still running (a zombie waiting to be reaped has finished)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def submit_and_wait(stack, session) -> tuple[dict, float]:
    started = time.monotonic()
    submission_id = stack.submit(session, SLUG, {"hello.py": REFERENCE})
    body = stack.wait_for(session, submission_id, "done", timeout=120)
    return body, time.monotonic() - started


def stop(stack, proc: subprocess.Popen) -> None:
    stack.kill(proc, signal.SIGTERM)


def test_a_prefork_worker_grades_two_submissions_from_warm_sandboxes_started_after_the_fork(stack):
    worker = start_prefork_worker(stack, "warm", pool_size=1)
    try:
        parent = psutil.Process(worker.pid)
        warm = wait_for_warm(worker)
        # the pool lives in the prefork child: nothing warm hangs directly off the parent
        assert not sandboxes(parent, recursive=False)
        children = parent.children()
        assert children and all(sandboxes(child) for child in children)

        session = stack.login()
        timings = []
        for _ in range(2):
            warm = wait_for_warm(worker)
            body, seconds = submit_and_wait(stack, session)
            timings.append(seconds)
            assert body["result"]["status"] == "pass", body["result"]["message"]
            # the processes that waited before the submission served it and are gone; fresh ones replace them
            after = wait_for_warm(worker)
            assert not set(warm) & set(after)
            assert not [pid for pid in warm if running(pid)]
        print(f"\nsubmit -> verdict with pool: {', '.join(f'{t:.2f} s' for t in timings)}")
        assert stack.idle_deaths("warm") == []  # every warm process lived until a job took it
    finally:
        stop(stack, worker)


def test_a_worker_with_pool_size_zero_grades_cold_and_keeps_nothing_warm(stack):
    worker = start_prefork_worker(stack, "cold", pool_size=0)
    try:
        parent = psutil.Process(worker.pid)
        time.sleep(1.0)
        assert not sandboxes(parent)
        session = stack.login()
        body, seconds = submit_and_wait(stack, session)
        assert body["result"]["status"] == "pass", body["result"]["message"]
        assert not sandboxes(parent)
        print(f"\nsubmit -> verdict without pool: {seconds:.2f} s")
    finally:
        stop(stack, worker)
