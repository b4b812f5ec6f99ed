"""Faults under a 60 s mini-load, one at a time: every submission gets exactly one verdict, none is lost.

The stack runs its own Redis and PostgreSQL (``LabStack(own_services=True)``), so restarting them touches nothing
that other tests share. Two Celery workers serve the ``short`` lane, as compose's ``worker`` service does with
``--concurrency 2``; the mini-load (``mini_load.py``) is three learners, each submitting module 1 every 8 s, half
of them the reference and half a failing variant. Each test prints one ``[fault ...]`` line with its figures.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lab_stack import REPO_ROOT, LabStack
from mini_load import (
    PASSWORD,
    REFERENCE,
    SLUG,
    MiniLoad,
    assert_exactly_one_verdict_each,
    make_learners,
    summary,
)

from tests.browser.lab import set_editor_text

pytestmark = [pytest.mark.production, pytest.mark.slow]

LOAD_SECONDS = 60.0
# Each learner submits this often: 3 learners every 10 s is 18 runs a minute, well within two workers on two
# otherwise idle cores (a module 1 verdict takes about 2 s there); on a machine shared with other work, where a
# verdict takes 30 s, ask for a lighter load.
PERIOD_SECONDS = float(os.environ.get("LAB_FAULT_LOAD_PERIOD_SECONDS", "10"))
FAULT_AT_SECONDS = 20.0
SETTLE_SECONDS = 400.0
REWAKE_SECONDS = 5
LEARNERS = ["load0", "load1", "load2"]
# A job here takes seconds: the visibility timeout is above that, so a slow job is never redelivered while it runs.
VISIBILITY_SECONDS = 15


@pytest.fixture(scope="module")
def faults(tmp_path_factory):
    lab = LabStack(
        tmp_path_factory.mktemp("fault-stack"),
        visibility_timeout_seconds=VISIBILITY_SECONDS,
        own_services=True,
    )
    lab.env["LAB_QUEUE_MAX_PER_LEARNER"] = "100"  # open loop: a run is never superseded while the load waits
    lab.env["LAB_GRADING_REWAKE_SECONDS"] = str(REWAKE_SECONDS)
    # the guides' figures are made once in the checkout's var/ and reused (sync_content makes them when missing)
    lab.env["LAB_FIGURES_DIR"] = str(REPO_ROOT / "var" / "figures")
    try:
        lab.setup()
        make_learners(lab, LEARNERS)
        lab.start_web()
        lab.start_worker("a")
        lab.start_worker("b")
        yield lab
    finally:
        lab.teardown()


def run_load(stack: LabStack, fault: Callable[[], Fault]) -> tuple[MiniLoad, Fault]:
    """Run the mini-load, call ``fault()`` ``FAULT_AT_SECONDS`` into it, wait for the backlog to drain."""
    idle(stack)
    load = MiniLoad(stack, LEARNERS, seconds=LOAD_SECONDS, period=PERIOD_SECONDS)
    load.start()
    time.sleep(max(0.0, FAULT_AT_SECONDS - load.elapsed()))
    done = fault()
    load.join()
    done.drain_s = round(load.settle(SETTLE_SECONDS), 1)
    return load, done


def idle(stack: LabStack) -> None:
    """Wait until no run waits or runs: a test starts from an empty lane, whatever the one before it left."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while stack.sql("SELECT count(*) FROM grading_submission WHERE status IN ('queued', 'running')") != [
        (0,)
    ]:
        assert time.monotonic() < deadline, "the lane never emptied before the test"
        time.sleep(1)


@dataclass
class Fault:
    started: datetime  # the fault began
    over: datetime  # the service is back (or the replacement worker is ready)
    drain_s: float = 0.0

    def recovery(self, load: MiniLoad) -> float | None:
        """Seconds from the fault to the first verdict recorded after the service was back."""
        first = load.first_verdict_after(self.over)
        return round((first - self.started).total_seconds(), 1) if first else None


def busy_claims(stack: LabStack, name: str) -> list[int]:
    """Runs that worker ``name`` is grading now: claimed by a message its log says it received and never ended."""
    log = (stack.workdir / f"worker-{name}.log").read_text(errors="replace")
    received = re.findall(r"grading\.grade_lane\[([0-9a-f-]+)\] received", log)
    ended = set(re.findall(r"grading\.grade_lane\[([0-9a-f-]+)\] (?:succeeded|failed|retry)", log))
    open_ids = [task for task in received if task not in ended]
    if not open_ids:
        return []
    rows = stack.sql(
        "SELECT id FROM grading_submission WHERE status = 'running' AND claim = ANY(%s)", open_ids
    )
    return [row[0] for row in rows]


def test_a_worker_killed_mid_job_under_load_leaves_every_run_one_verdict(faults):
    victim, victim_name = faults.workers[0], "a"
    interrupted: list[int] = []

    def kill_mid_job() -> Fault:
        deadline = time.monotonic() + 30
        while not (running := busy_claims(faults, victim_name)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running, f"worker {victim_name} never took a job within 30 s"
        interrupted.extend(running)
        started = datetime.now(UTC)
        faults.kill(victim)  # SIGKILL to the worker's process group, mid-job
        faults.workers.remove(victim)
        faults.start_worker("a2")  # its replacement, as compose's `restart: unless-stopped` would
        return Fault(started=started, over=datetime.now(UTC))

    load, fault = run_load(faults, kill_mid_job)
    report = load.check()
    regraded = faults.sql(
        "SELECT s.runs, r.created_at FROM grading_submission s JOIN grading_result r ON r.submission_id = s.id"
        " WHERE s.id = %s",
        interrupted[0],
    )
    print(
        summary(
            "kill-worker",
            report,
            interrupted=interrupted[0],
            recovery_s=round((regraded[0][1] - fault.started).total_seconds(), 1) if regraded else None,
            drain_s=fault.drain_s,
        )
    )
    assert_exactly_one_verdict_each(load, report)
    assert [runs for runs, _ in regraded] == [2], "the interrupted run is graded again, as run 2"


def test_a_redis_restart_under_load_leaves_every_run_one_verdict(faults):
    def restart_redis() -> Fault:
        started = datetime.now(UTC)
        faults.restart_redis(down_seconds=5)
        return Fault(started=started, over=datetime.now(UTC))

    load, fault = run_load(faults, restart_redis)
    report = load.check()
    print(summary("restart-redis", report, recovery_s=fault.recovery(load), drain_s=fault.drain_s))
    assert_exactly_one_verdict_each(load, report)


def test_a_postgres_restart_under_load_leaves_every_run_one_verdict(faults):
    def restart_postgres() -> Fault:
        started = datetime.now(UTC)
        faults.restart_postgres(down_seconds=5)
        return Fault(started=started, over=datetime.now(UTC))

    load, fault = run_load(faults, restart_postgres)
    report = load.check()
    print(summary("restart-postgres", report, recovery_s=fault.recovery(load), drain_s=fault.drain_s))
    assert_exactly_one_verdict_each(load, report)


def test_a_web_restart_while_the_page_streams_a_run_reconnects_and_shows_the_verdict(faults):
    """The module page (real Chromium) follows a run over its websocket; the web tier restarts mid-run. The page's
    own reconnect (``frontend/src/ws.ts``) opens a new socket and re-subscribes, and the page shows the verdict."""
    from playwright.sync_api import sync_playwright

    slow = REFERENCE + "\nimport time\n\ntime.sleep(6)\n"  # the run is still going when the web tier restarts
    sockets: list[list[str]] = []  # per websocket the page opened: the frames it received
    idle(faults)
    load = MiniLoad(faults, LEARNERS, seconds=LOAD_SECONDS, period=PERIOD_SECONDS)
    load.start()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_default_timeout(120_000)  # the module page (Monaco, Plotly) on a loaded machine

            def opened(ws: Any) -> None:
                frames: list[str] = []
                sockets.append(frames)
                ws.on("framereceived", lambda payload: frames.append(str(payload)))

            page.on("websocket", opened)
            page.goto(f"{faults.base_url}/accounts/login/")
            page.fill("#id_username", "demo")
            page.fill("#id_password", "nanochat-demo")
            page.click("[data-testid=login-submit]")
            page.wait_for_url(f"{faults.base_url}/")
            page.goto(f"{faults.base_url}/modules/{SLUG}/")
            page.wait_for_selector(".monaco-editor .view-lines")
            set_editor_text(page, slow)
            page.click("[data-testid=run]")
            deadline = time.monotonic() + 120
            while faults.sql(
                "SELECT count(*) FROM grading_submission s JOIN auth_user u ON u.id = s.user_id"
                " WHERE u.username = 'demo' AND s.status = 'running'"
            ) != [(1,)]:
                assert time.monotonic() < deadline, "the page's run never started"
                time.sleep(0.2)
            before = len(sockets)
            started = datetime.now(UTC)
            faults.restart_web()
            back = datetime.now(UTC)
            page.wait_for_selector("[data-testid=verdict] .verdict[data-status=pass]", timeout=180_000)
            shown = datetime.now(UTC)
            page.screenshot(path=str(faults.workdir / "web-restart-verdict.png"))
        finally:
            browser.close()
            load.join()  # the load's runs are drained here even when the page failed, not by the next test
            drain = load.settle(SETTLE_SECONDS)
    report = load.check()
    print(
        summary(
            "restart-web",
            report,
            web_down_s=round((back - started).total_seconds(), 1),
            verdict_shown_after_s=round((shown - started).total_seconds(), 1),
            sockets=len(sockets),
            verdict_on_new_socket=any(
                '"verdict"' in frame for frames in sockets[before:] for frame in frames
            ),
            drain_s=round(drain, 1),
        )
    )
    reopened = sockets[before:]
    # The page reconnected by itself; whether the verdict came on the new socket's replay or from the poll the
    # page falls back to after 10 s without a socket (frontend/src/module/follow.ts) is a race, either is right.
    assert reopened, "the page never opened a new socket after the restart"
    assert_exactly_one_verdict_each(load, report)


# Module 1's reference, followed by code that fills every volume a job may write (its /work, /tmp and /dev/shm,
# each a tmpfs capped per job: ``sandbox.workfs``) when the module is imported, in files under the per-file cap,
# until the file system refuses, and says how far it got. The reference's functions are all there, so it deserves
# a pass: a job that fills its own volumes breaks neither itself nor anyone else's job, and leaves nothing behind.
FILLER = (
    REFERENCE
    + """

import os as _os


def _fill(folder):
    written, block, index = 0, b"\\0" * (1 << 20), 0
    try:
        while True:
            with open(_os.path.join(folder, f"lab-fill-{index}"), "wb") as out:
                for _ in range(32):
                    out.write(block)
                    out.flush()
                    written += 1
            index += 1
    except OSError as exc:
        return written, exc.errno


for _folder in (".", "/tmp", "/dev/shm"):
    print("filled", _folder, *_fill(_folder), flush=True)
"""
)
FILLERS = 4


def fill_files(root: Path) -> list[Path]:
    """The filler's files anywhere under ``root`` (a worker's temp dir, the sandbox's state dir)."""
    found: list[Path] = []
    for folder, _, names in os.walk(root):
        found.extend(Path(folder) / name for name in names if name.startswith("lab-fill-"))
    return found


def test_jobs_that_fill_their_capped_volumes_under_load_leave_every_run_one_verdict(faults):
    """A learner whose code fills its job's /work, /tmp and /dev/shm to the cap, four times during the load: the
    other learners' runs on the same two workers keep their verdicts, the filler's own runs pass (the engine
    needs no room on the learner's volumes), nothing of the fill outlives its job, and the host's disk under the
    workers' temp dir holds none of it."""
    make_learners(faults, ["filler"])
    filler = faults.login("filler", PASSWORD)
    state_dir = Path(faults.env.get("SANDBOX_STATE_DIR") or "/run/nanochat-sandbox")
    temp_dir = Path(faults.env.get("TMPDIR") or tempfile.gettempdir())
    free_before = shutil.disk_usage(temp_dir).free
    sent: list[int] = []

    def fill_four_times() -> Fault:
        started = datetime.now(UTC)
        for _ in range(FILLERS):
            response = filler.post(
                f"{faults.base_url}/api/modules/{SLUG}/submissions/",
                json={"files": {"hello.py": FILLER}},
                timeout=30,
            )
            assert response.status_code == 201, response.text
            sent.append(response.json()["id"])
            time.sleep(PERIOD_SECONDS / 2)
        return Fault(started=started, over=datetime.now(UTC))

    load, fault = run_load(faults, fill_four_times)
    assert load.settle(SETTLE_SECONDS) < SETTLE_SECONDS, "the filler's runs never ended"
    report = load.check()
    rows = faults.sql(
        "SELECT s.id, s.status, r.status, r.outcome,"
        " (SELECT count(*) FROM grading_result x WHERE x.submission_id = s.id),"
        " (SELECT string_agg(e.event::text, ' ') FROM grading_submissionevent e WHERE e.submission_id = s.id)"
        " FROM grading_submission s LEFT JOIN grading_result r ON r.submission_id = s.id"
        " WHERE s.id = ANY(%s) ORDER BY s.id",
        sent,
    )
    # {folder: (MiB written, errno)} per run, from its output (which the events hold more than once)
    filled = [
        {
            folder: (int(mib), int(errno))
            for folder, mib, errno in re.findall(r"filled (\S+) (\d+) (\d+)", events or "")
        }
        for *_, events in rows
    ]
    print(
        summary(
            "fill-volumes",
            report,
            filler_verdicts=[f"{status}/{outcome}" for _, _, status, outcome, _, _ in rows],
            filled_mib=[{folder: mib for folder, (mib, _) in run.items()} for run in filled],
            host_free_drop_mib=round((free_before - shutil.disk_usage(temp_dir).free) / 2**20),
            drain_s=fault.drain_s,
        )
    )
    assert_exactly_one_verdict_each(load, report)
    assert [(status, verdict, results) for _, status, verdict, _, results, _ in rows] == [
        ("done", "pass", 1)
    ] * FILLERS, f"the filler's runs: {[row[:5] for row in rows]}"
    for run in filled:  # each run filled every volume to (nearly) its cap and was refused with ENOSPC (28)
        assert sorted(run) == [".", "/dev/shm", "/tmp"] and {errno for _, errno in run.values()} == {28}, run
        # the caps are 256, 64 and 64 MiB (module 1's limits: sandbox.limits.DEFAULTS)
        assert run["."][0] >= 230 and run["/tmp"][0] >= 57 and run["/dev/shm"][0] >= 57, run
    assert fill_files(state_dir) == [] and fill_files(temp_dir) == [], "the fill outlived its job"
