"""Fair queues benchmark (not a test): while one learner floods a lane with slow legal runs, how long another waits.

Both grading modes, side by side in one run, each with one grader on the ``short`` lane:
- embedded: ``runlab`` (daphne + the in-process worker threads) on SQLite, as ``make run`` starts it;
- production: PostgreSQL + Redis + daphne + one Celery worker (``--pool solo``, queue ``short``), as
  ``tests/production/lab_stack.py`` brings them up (set ``LAB_TEST_REDIS_DB`` to a Redis index of your own).
Learner ``demo`` floods: every ``--interval`` seconds they submit module 1's reference plus a ``time.sleep`` at
import (legal: the module allows 60 s), so they always have one run going and, past the cap, replace their waiting
run with the newer one. Each round, right after one of the flood's runs starts (the worst moment for the other
learner), learner ``other`` submits the reference solution. From the API's timestamps (one server clock):
``other_wait`` = their run's start - its submission; ``job`` = the flood run that was going, start to finish.
Round-robin promises ``other_wait <= job`` (one job length): ``wait_over_job`` is that ratio.
Prints ``name: value`` lines. Usage: ``.venv/bin/python bench/bench_queues.py [--rounds 3] [--sleep 4]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests" / "production"))

from bench_platform import EmbeddedLab  # noqa: E402  (a sibling script)
from lab_stack import LabStack  # noqa: E402

SLUG = "01-onboarding"
REFERENCE = (REPO_ROOT / "content" / SLUG / "reference" / "hello.py").read_text(encoding="utf-8")
OTHER, PASSWORD = "other", "bench-other-password-42"
CREATE_OTHER = (
    f"from modules.services import learner_create; learner_create(username='{OTHER}', password='{PASSWORD}')"
)


def login(base: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=10)
    response = session.post(
        f"{base}/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        allow_redirects=False,
        timeout=10,
    )
    if response.status_code != 302:
        raise RuntimeError(f"login {username}: HTTP {response.status_code}")
    session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
    return session


def submit(base: str, session: requests.Session, code: str) -> requests.Response:
    return session.post(
        f"{base}/api/modules/{SLUG}/submissions/", json={"files": {"hello.py": code}}, timeout=30
    )


def detail(base: str, session: requests.Session, submission_id: int) -> dict[str, Any]:
    return session.get(f"{base}/api/submissions/{submission_id}/", timeout=30).json()


def attempts(base: str, session: requests.Session) -> list[dict[str, Any]]:
    return session.get(f"{base}/api/modules/{SLUG}/submissions/", timeout=30).json()["submissions"]


def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(what)


def seconds(later: str, earlier: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


def measure(base: str, flooder: requests.Session, other: requests.Session, args: argparse.Namespace) -> dict:
    slow = REFERENCE + f"\nimport time\n\ntime.sleep({args.sleep})\n"
    stop = threading.Event()
    sent: list[int] = []  # HTTP status of each flood submission

    def flood() -> None:
        while not stop.is_set():
            response = submit(base, flooder, slow)
            sent.append(response.status_code)  # 429: both of their runs going, the cap refuses a third
            if response.status_code not in (201, 429):
                raise RuntimeError(f"flood submit: HTTP {response.status_code} {response.text}")
            stop.wait(args.interval)

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    waits, jobs, ahead, seen = [], [], [], set()
    try:
        for _ in range(args.rounds):
            going = until(
                lambda: next(
                    (
                        a["id"]
                        for a in attempts(base, flooder)
                        if a["status"] == "running" and a["id"] not in seen
                    ),
                    None,
                ),
                timeout=120,
                what="a new flood run starts",
            )
            seen.add(going)
            ahead.append(sum(a["status"] == "queued" for a in attempts(base, flooder)))
            response = submit(base, other, REFERENCE)
            if response.status_code != 201:
                raise RuntimeError(f"other submit: HTTP {response.status_code} {response.text}")
            mine = until(
                lambda sid=response.json()["id"]: (d := detail(base, other, sid))["status"] == "done" and d,
                timeout=180,
                what="the other learner's verdict",
            )
            if mine["result"]["status"] != "pass":
                raise RuntimeError("the reference did not pass: " + mine["result"]["message"])
            theirs = until(
                lambda sid=going: (d := detail(base, flooder, sid))["status"] == "done" and d,
                timeout=180,
                what="the flood run's verdict",
            )
            waits.append(seconds(mine["started_at"], mine["created_at"]))
            jobs.append(seconds(theirs["finished_at"], theirs["started_at"]))
    finally:
        stop.set()
        thread.join(timeout=30)
    statuses = [a["status"] for a in attempts(base, flooder)]
    return {
        "job_seconds_median": statistics.median(jobs),
        "other_wait_seconds_median": statistics.median(waits),
        "other_wait_seconds_max": max(waits),
        "wait_over_job_max": max(w / j for w, j in zip(waits, jobs, strict=True)),
        "flood_runs_waiting_when_other_submitted_max": max(ahead),
        "flood_submissions": len(sent),
        "flood_superseded": statuses.count("superseded"),
        "flood_refused_429": sent.count(429),
    }


def embedded(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-queues-") as tmp:
        lab = EmbeddedLab(Path(tmp))
        lab.start()
        try:
            lab.manage("shell", "-c", CREATE_OTHER)
            return measure(lab.base, lab.login(), login(lab.base, OTHER, PASSWORD), args)
        finally:
            lab.stop()


def production(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-queues-prod-") as tmp:
        try:  # PostgreSQL and Redis reachable?
            stack = LabStack(Path(tmp), visibility_timeout_seconds=3600)
            redis.Redis(host="127.0.0.1", port=6379, db=stack.redis_db).ping()
        except (RuntimeError, redis.exceptions.ConnectionError) as exc:
            print(f"production mode skipped ({exc}); `make services` starts them", file=sys.stderr)
            return {"skipped": 1}
        stack.setup()
        try:
            stack.manage("shell", "-c", CREATE_OTHER)
            stack.start_web()
            stack.start_worker("bench")
            return measure(stack.base_url, stack.login(), login(stack.base_url, OTHER, PASSWORD), args)
        finally:
            stack.teardown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="times the other learner submits")
    parser.add_argument("--sleep", type=float, default=4.0, help="seconds each flood run sleeps at import")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between the flood's submissions")
    parser.add_argument(
        "--modes",
        default="embedded,production",
        help="comma list of embedded, production (PostgreSQL + Redis)",
    )
    args = parser.parse_args()
    runs = {"embedded": embedded, "production": production}
    for mode in args.modes.split(","):
        for name, value in runs[mode](args).items():
            print(f"{mode}_{name}: {value:.2f}" if isinstance(value, float) else f"{mode}_{name}: {value}")


if __name__ == "__main__":
    main()
