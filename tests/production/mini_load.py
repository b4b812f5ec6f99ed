"""The fault tests' mini-load: a few simulated learners submitting module 1 over HTTP, open loop, for a while.

Each learner submits every ``period`` seconds whatever happened to the last one (open loop: a fault does not slow
the load down), alternating module 1's reference (expected ``pass``) and a variant whose greeting is wrong
(expected ``fail``). A submission counts as accepted only when the API answered 201 with its id; anything else
(an error status, a refused or cut connection while a service is down) is counted as refused, with the reason.

``check`` then reads the stack's database: every row the learners made (accepted or not: a request that failed
after its commit still made one) must end ``done`` with exactly one ``Result`` and one stored verdict event, every
accepted id must be among them, and each accepted verdict must be the one its code deserves.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from lab_stack import REPO_ROOT, LabStack

SLUG = "01-onboarding"
REFERENCE = (REPO_ROOT / "content" / SLUG / "reference" / "hello.py").read_text(encoding="utf-8")
FAILING = REFERENCE.replace("Welcome to nanochat.", "Welcome.")
assert FAILING != REFERENCE
PASSWORD = "mini-load-learner"


@dataclass
class Sent:
    submission_id: int
    expected: str
    at: datetime


@dataclass
class Report:
    accepted: list[Sent] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    rows: int = 0
    verdicts: int = 0
    lost: list[int] = field(default_factory=list)
    duplicated: list[int] = field(default_factory=list)
    wrong: list[tuple[int, str, str]] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        return (
            f"submissions {len(self.accepted)} accepted, {len(self.refused)} refused; rows {self.rows}; "
            f"verdicts {self.verdicts} {self.statuses}; lost {len(self.lost)}; duplicated {len(self.duplicated)}; "
            f"unexpected {len(self.wrong)}"
        )


def make_learners(stack: LabStack, names: list[str]) -> None:
    """Learner accounts with these names (the mini-load's password), made once per stack."""
    stack.manage(
        "shell",
        "-c",
        "from modules.services import demo_learner_ensure\n"
        f"for name in {names!r}:\n    demo_learner_ensure(username=name, password={PASSWORD!r})",
    )


class MiniLoad:
    """Start with ``start()``; ``join()`` waits for the load's end; ``settle()`` for the backlog; ``check()``."""

    def __init__(
        self, stack: LabStack, learners: list[str], *, seconds: float = 60.0, period: float = 8.0
    ) -> None:
        self.stack = stack
        self.sessions = [stack.login(name, PASSWORD) for name in learners]
        self.user_ids = [
            int(row[0]) for row in stack.sql("SELECT id FROM auth_user WHERE username = ANY(%s)", learners)
        ]
        self.seconds = seconds
        self.period = period
        self.report = Report()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.started_at = datetime.now(UTC)
        self._t0 = 0.0

    def start(self) -> None:
        self.started_at = datetime.now(UTC)
        self._t0 = time.monotonic()
        for index, session in enumerate(self.sessions):
            offset = index * self.period / len(self.sessions)
            thread = threading.Thread(target=self._learner, args=(session, offset), daemon=True)
            self._threads.append(thread)
            thread.start()

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def _learner(self, session: requests.Session, offset: float) -> None:
        due, turn = self._t0 + offset, 0
        while due < self._t0 + self.seconds:
            time.sleep(max(0.0, due - time.monotonic()))
            expected = "pass" if turn % 2 == 0 else "fail"
            code = REFERENCE if expected == "pass" else FAILING
            at = datetime.now(UTC)
            try:
                response = session.post(
                    f"{self.stack.base_url}/api/modules/{SLUG}/submissions/",
                    json={"files": {"hello.py": code}},
                    timeout=30,
                )
                outcome = (
                    Sent(response.json()["id"], expected, at)
                    if response.status_code == 201
                    else f"HTTP {response.status_code}"
                )
            except requests.RequestException as exc:
                outcome = type(exc).__name__
            with self._lock:
                if isinstance(outcome, Sent):
                    self.report.accepted.append(outcome)
                else:
                    self.report.refused.append(outcome)
            turn += 1
            due += self.period

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=self.seconds + 60)

    def _rows(self) -> list[tuple]:
        return self.stack.sql(
            "SELECT s.id, s.status,"
            " (SELECT count(*) FROM grading_result r WHERE r.submission_id = s.id),"
            " (SELECT count(*) FROM grading_submissionevent e WHERE e.submission_id = s.id AND e.type = 'verdict'),"
            " (SELECT r.status FROM grading_result r WHERE r.submission_id = s.id LIMIT 1),"
            " (SELECT r.outcome FROM grading_result r WHERE r.submission_id = s.id LIMIT 1),"
            " (SELECT r.created_at FROM grading_result r WHERE r.submission_id = s.id LIMIT 1)"
            " FROM grading_submission s WHERE s.user_id = ANY(%s) AND s.created_at >= %s ORDER BY s.id",
            self.user_ids,
            self.started_at,
        )

    def settle(self, timeout: float) -> float:
        """Wait until none of the load's rows waits or runs; returns how long that took (seconds)."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if all(status not in ("queued", "running") for _, status, *_ in self._rows()):
                return time.monotonic() - started
            time.sleep(0.5)
        return time.monotonic() - started

    def check(self, platform_faults: tuple[datetime, datetime] | None = None) -> Report:
        """Read the verdicts. ``platform_faults``: a window (start, end) in which a ``platform_error`` verdict
        is the right one (the fault is ours and the learner is told so); outside it every verdict must be the
        one the code deserves."""
        report = self.report
        rows = self._rows()
        report.rows = len(rows)
        by_id = {row[0]: row for row in rows}
        for submission_id, status, results, verdict_events, verdict, outcome, _ in rows:
            report.verdicts += results
            if status != "done" or results == 0:
                report.lost.append(submission_id)
            if results > 1 or verdict_events > 1:
                report.duplicated.append(submission_id)
            if verdict:
                key = outcome if verdict == "error" else verdict
                report.statuses[key] = report.statuses.get(key, 0) + 1
        for sent in report.accepted:
            row = by_id.get(sent.submission_id)
            if row is None:
                report.lost.append(sent.submission_id)
                continue
            verdict, outcome, at = row[4:7]
            excused = (
                platform_faults is not None
                and outcome == "platform_error"
                and platform_faults[0] <= at <= platform_faults[1]
            )
            if verdict is not None and verdict != sent.expected and not excused:
                report.wrong.append((sent.submission_id, sent.expected, f"{verdict}/{outcome}"))
        return report

    def first_verdict_after(self, moment: datetime) -> datetime | None:
        """When the first verdict of the load's runs was recorded after ``moment`` (recovery)."""
        rows = self.stack.sql(
            "SELECT min(r.created_at) FROM grading_result r JOIN grading_submission s ON s.id = r.submission_id"
            " WHERE s.user_id = ANY(%s) AND r.created_at > %s",
            self.user_ids,
            moment,
        )
        return rows[0][0]


def assert_exactly_one_verdict_each(load: MiniLoad, report: Report) -> None:
    """The fault tests' assertion: nothing lost, nothing twice, every verdict the one its code deserves."""
    assert report.accepted, f"no submission was accepted: {report.refused}"
    assert report.lost == [], f"lost: {report.lost}; {report.line()}"
    assert report.duplicated == [], f"duplicated: {report.duplicated}; {report.line()}"
    assert report.wrong == [], f"unexpected verdicts (id, expected, got): {report.wrong}; {report.line()}"
    assert report.verdicts == report.rows >= len(report.accepted), report.line()


def summary(name: str, report: Report, **numbers: Any) -> str:
    extra = ", ".join(f"{key} {value}" for key, value in numbers.items())
    return f"[fault {name}] {report.line()}; {extra}"
