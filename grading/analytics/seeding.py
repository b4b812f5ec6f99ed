"""A synthetic class for the analytics benchmark: learners × modules × attempts, written in bulk.

Design choices:
- Rows are generated in Python from one seeded RNG (the same arguments give the same class) and written per chunk
  of learners: PostgreSQL takes them through ``COPY`` (the only way 3.2 million submissions and their results
  load in minutes), other databases (SQLite in tests) through ``bulk_create``.
- The rows are what the running platform would hold after that many verdicts: users; submissions, each with its
  result; one ``Progress`` row per learner and module in the state machine's state (passed at the first passing
  attempt, completed when a reflection followed); the aggregates the verdict listener keeps
  (``LearnerModuleStat``, ``DailyTestCount``); survey answers and skips. ``tests/platform`` checks them against
  each other, and the analytics page against the raw rows.
- Every learner attempts every module ``attempts`` times at random moments between sign-up (spread over the last
  ``weeks`` weeks) and a random share of the time since, so cohorts and retention vary; some never pass a module.
- Ids are assigned here (after the current maximum) so results can name their submissions inside one ``COPY``;
  the sequences are moved past them afterwards.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from grading.analytics.models import DailyTestCount, LearnerModuleStat, SurveyResponse
from grading.models import Result, Submission
from modules.models import Module, Progress

#: Tests per module in the synthetic results, and how often each fails in a failing attempt.
TESTS = ("test_shapes", "test_values", "test_edge_cases", "test_dtype", "test_grad", "test_speed_counted")
FAIL_WEIGHTS = (0.9, 0.6, 0.45, 0.2, 0.3, 0.1)
NEVER_PASS = 0.12
REFLECT = 0.7


@dataclass
class SeedReport:
    learners: int
    submissions: int
    progress: int
    surveys: int


def _table_writer(model: type[models.Model]) -> Callable[[Sequence[str], Iterable[Sequence[Any]]], None]:
    """Write rows (tuples in ``columns`` order, column names as in the database) into ``model``'s table."""
    table = model._meta.db_table
    if connection.vendor == "postgresql":

        def copy(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
            buf = io.StringIO()
            writer = csv.writer(buf)
            for row in rows:
                writer.writerow(["\\N" if v is None else v for v in row])
            buf.seek(0)
            with connection.cursor() as cursor:
                cursor.cursor.copy_expert(
                    f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buf
                )

        return copy
    by_column = {f.column: f.attname for f in model._meta.concrete_fields}

    def bulk(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        names = [by_column[c] for c in columns]
        model._default_manager.bulk_create([model(**dict(zip(names, row, strict=True))) for row in rows])

    return bulk


def _next_id(model: type[models.Model]) -> int:
    return int(model._default_manager.aggregate(m=Max("pk"))["m"] or 0) + 1


def _sequences_reset(models_: Sequence[type[models.Model]]) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models_:
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def class_seed(
    *,
    learners: int,
    attempts: int,
    weeks: int = 12,
    seed: int = 1,
    prefix: str = "seed-",
    chunk: int = 250,
    now: datetime | None = None,
    log: Callable[[str], None] = lambda _line: None,
) -> SeedReport:
    """Add ``learners`` learners, each with ``attempts`` graded attempts on every active module."""
    now = now or timezone.now()
    rng = random.Random(seed)
    modules = list(Module.objects.filter(status=Module.Status.ACTIVE).defer("payload").order_by("order"))
    if not modules:
        raise ValueError("no active modules: run sync_content first")
    write = {
        m: _table_writer(m)
        for m in (User, Submission, Result, Progress, LearnerModuleStat, SurveyResponse, DailyTestCount)
    }
    user_id, submission_id = _next_id(User), _next_id(Submission)
    start = timezone.now()
    tests: dict[tuple[int, str, Any], list[int]] = defaultdict(lambda: [0, 0])
    totals = SeedReport(0, 0, 0, 0)
    for first in range(0, learners, chunk):
        rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        users, subs, results = rows["users"], rows["subs"], rows["results"]
        progress, stats, surveys = rows["progress"], rows["stats"], rows["surveys"]
        for i in range(first, min(learners, first + chunk)):
            joined = now - timedelta(seconds=rng.uniform(0, weeks * 7 * 86400))
            users.append(
                (user_id, "!", f"{prefix}{i:06d}", "", "", "", False, False, True, _iso(joined), None)
            )
            horizon = (now - joined).total_seconds() * rng.uniform(0.05, 1.0)
            moments = sorted(
                joined + timedelta(seconds=rng.uniform(0, horizon)) for _ in range(len(modules) * attempts)
            )
            for index, module in enumerate(modules):
                times = moments[index * attempts : (index + 1) * attempts]
                pass_at = None if rng.random() < NEVER_PASS else rng.randint(1, attempts)
                first_pass = None
                for number, created in enumerate(times, start=1):
                    ok = pass_at is not None and (
                        number == pass_at or (number > pass_at and rng.random() < 0.7)
                    )
                    graded = created + timedelta(seconds=rng.uniform(2, 40))
                    if ok and first_pass is None:
                        first_pass = (number, graded)
                    subs.append(
                        (submission_id, user_id, module.pk, "{}", "done", "short", "", module.content_hash, 1,
                         _iso(created), _iso(created), _iso(graded))
                    )  # fmt: skip
                    status = "pass" if ok else "fail"
                    score = len(TESTS) if ok else rng.randint(0, len(TESTS) - 1)
                    body = json.dumps({"schema_version": 1, "status": status, "score": score})
                    results.append(
                        (
                            submission_id,
                            status,
                            "ok" if ok else "tests_failed",
                            score,
                            len(TESTS),
                            body,
                            _iso(graded),
                        )
                    )
                    day = graded.date()
                    for name, weight in zip(TESTS, FAIL_WEIGHTS, strict=True):
                        counts = tests[(module.pk, name, day)]
                        counts[0] += 1
                        counts[1] += int(not ok and rng.random() < weight)
                    submission_id += 1
                last = times[-1] + timedelta(seconds=40)
                state, passed_at, completed_at = "in_progress", None, None
                if first_pass is not None:
                    passed_at = first_pass[1]
                    state = "passed"
                    if rng.random() < REFLECT:
                        state, completed_at = "completed", passed_at + timedelta(minutes=rng.uniform(1, 60))
                        last = max(last, completed_at)
                progress.append(
                    (user_id, module.pk, state, attempts, len(TESTS) if first_pass else 3, len(TESTS),
                     _iso(passed_at), _iso(completed_at), submission_id - 1, "own", _iso(last))
                )  # fmt: skip
                stats.append(
                    (user_id, module.pk, attempts, _iso(times[0]), first_pass[0] if first_pass else None,
                     (first_pass[1] - times[0]).total_seconds() if first_pass else None)
                )  # fmt: skip
                if rng.random() < 0.8:
                    skipped = rng.random() < 0.15
                    surveys.append(
                        (user_id, module.pk, "start", skipped, None if skipped else rng.randint(1, 4), None, None,
                         "", _iso(times[0]))
                    )  # fmt: skip
                if first_pass and rng.random() < 0.6:
                    skipped = rng.random() < 0.2
                    surveys.append(
                        (user_id, module.pk, "after", skipped, None if skipped else rng.randint(2, 5),
                         None if skipped else rng.randint(1, 5), None if skipped else rng.randint(2, 5),
                         "" if skipped or rng.random() < 0.9 else f"note {user_id}-{module.pk}",
                         _iso(first_pass[1]))
                    )  # fmt: skip
            user_id += 1
        with transaction.atomic():
            write[User](
                ["id", "password", "username", "first_name", "last_name", "email", "is_superuser", "is_staff",
                 "is_active", "date_joined", "last_login"], users)  # fmt: skip
            write[Submission](
                ["id", "user_id", "module_id", "files", "status", "lane", "claim", "content_hash", "runs",
                 "created_at", "started_at", "finished_at"], subs)  # fmt: skip
            write[Result](
                ["submission_id", "status", "outcome", "score", "max_score", "result", "created_at"], results
            )
            write[Progress](
                ["user_id", "module_id", "status", "attempts", "best_score", "max_score", "passed_at",
                 "completed_at", "last_submission_id", "carry_forward", "updated_at"], progress)  # fmt: skip
            write[LearnerModuleStat](
                [
                    "user_id",
                    "module_id",
                    "attempts",
                    "first_attempt_at",
                    "attempts_to_pass",
                    "seconds_to_pass",
                ],
                stats,
            )
            write[SurveyResponse](
                ["user_id", "module_id", "stage", "skipped", "confidence", "difficulty", "helpfulness", "comment",
                 "created_at"], surveys)  # fmt: skip
        totals.learners += len(users)
        totals.submissions += len(subs)
        totals.progress += len(progress)
        totals.surveys += len(surveys)
        log(
            f"{totals.learners} learners, {totals.submissions} attempts ({(timezone.now() - start).total_seconds():.0f} s)"
        )
    existing = {
        (row.module_id, row.test_id, row.day): row
        for row in DailyTestCount.objects.filter(
            module_id__in=[m.pk for m in modules], test_id__startswith="visible/"
        )
    }
    fresh = []
    for (module_id, name, day), (runs, failures) in tests.items():
        row = existing.get((module_id, f"visible/{name}", day)) or DailyTestCount(
            module_id=module_id, test_id=f"visible/{name}", name=name, day=day
        )
        row.runs += runs
        row.failures += failures
        row.message = row.message or (f"AssertionError: {name} failed" if failures else "")
        fresh.append(row)
    DailyTestCount.objects.bulk_create(
        fresh,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["module", "test_id", "day"],
        update_fields=["runs", "failures", "message"],
    )
    _sequences_reset([User, Submission, Result, Progress, LearnerModuleStat, SurveyResponse])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # as autovacuum would: statistics and the visibility map
    return totals
