"""The instructors' gradebook: one row per learner and active module, as CSV (``GET /api/instructor/gradebook.csv``).

Design choices:
- Rows: every active account in the ``learner`` group that is neither an instructor nor a superuser, by username,
  times every active module in course order, attempted or not (a learner with no attempts has rows too).
- ``state`` is the module state machine of DECISIONS.md (locked, unlocked, passed, completed), computed as
  ``modules.selectors.module_states`` does, from rows loaded once for the whole class: five queries in all
  (modules, learners, progress, unlocks, submissions), never one per learner.
- ``time_spent_seconds``: per learner and module, the sum of the gaps between consecutive submissions that are
  shorter than :data:`SESSION_GAP_SECONDS` (30 minutes); a longer gap starts a new working session and counts
  nothing. One submission, or none, is 0. It measures time between attempts, not time spent reading or before
  the first attempt.
- CSV injection: a text cell that starts with ``= + - @``, a tab or a carriage return gets a leading ``'``, so a
  spreadsheet shows it as text instead of evaluating it.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User

from grading.models import Submission
from modules.models import Module, Progress, Unlock
from modules.roles import INSTRUCTOR_GROUP, LEARNER_GROUP
from modules.selectors import access_module_unlocked

SESSION_GAP_SECONDS = 30 * 60
COLUMNS = (
    "username",
    "module",
    "state",
    "best_score",
    "max_score",
    "attempts",
    "passed_at",
    "completed_at",
    "time_spent_seconds",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class GradebookRow:
    username: str
    module: str
    state: str
    best_score: float | None
    max_score: float | None
    attempts: int
    passed_at: datetime | None
    completed_at: datetime | None
    time_spent_seconds: int


def time_spent_seconds(times: list[datetime]) -> int:
    """Sum of the gaps under :data:`SESSION_GAP_SECONDS` between consecutive ``times`` (sorted ascending)."""
    gaps = ((later - earlier).total_seconds() for earlier, later in zip(times, times[1:], strict=False))
    return int(sum(gap for gap in gaps if gap < SESSION_GAP_SECONDS))


def gradebook_rows() -> list[GradebookRow]:
    """Every learner x active module (see the module docstring), in five queries."""
    modules = list(
        Module.objects.filter(status=Module.Status.ACTIVE).only("pk", "slug", "metadata", "status")
    )
    learners = list(
        User.objects.filter(is_active=True, is_superuser=False, groups__name=LEARNER_GROUP)
        .exclude(groups__name=INSTRUCTOR_GROUP)
        .order_by("username")
        .distinct()
    )
    ids = [user.pk for user in learners]
    progress = {(p.user_id, p.module_id): p for p in Progress.objects.filter(user_id__in=ids)}
    unlocks: dict[int, set[int]] = defaultdict(set)
    for user_id, module_id in Unlock.objects.filter(user_id__in=ids).values_list("user_id", "module_id"):
        unlocks[user_id].add(module_id)
    times: dict[tuple[int, int], list[datetime]] = defaultdict(list)
    for user_id, module_id, created_at in (
        Submission.objects.filter(user_id__in=ids)
        .order_by("created_at")
        .values_list("user_id", "module_id", "created_at")
    ):
        times[(user_id, module_id)].append(created_at)

    slug_by_id = {m.pk: m.slug for m in modules}
    completed: dict[int, set[str]] = defaultdict(set)
    for (user_id, module_id), p in progress.items():
        if p.status == Progress.Status.COMPLETED:
            completed[user_id].add(slug_by_id.get(module_id, ""))
    rows = []
    for user in learners:
        for module in modules:
            row = progress.get((user.pk, module.pk))
            if row is not None and row.status in (Progress.Status.COMPLETED, Progress.Status.PASSED):
                state = str(row.status)
            elif access_module_unlocked(
                user=user,
                module=module,
                completed_slugs=completed[user.pk],
                unlocked_ids=unlocks[user.pk],
                instructor=False,
            ):
                state = "unlocked"
            else:
                state = "locked"
            attempted = row is not None and row.attempts > 0
            rows.append(
                GradebookRow(
                    username=user.username,
                    module=module.slug,
                    state=state,
                    best_score=row.best_score if row is not None and attempted else None,
                    max_score=row.max_score if row is not None and attempted else None,
                    attempts=row.attempts if row is not None else 0,
                    passed_at=row.passed_at if row is not None else None,
                    completed_at=row.completed_at if row is not None else None,
                    time_spent_seconds=time_spent_seconds(times.get((user.pk, module.pk), [])),
                )
            )
    return rows


def csv_cell(value: object) -> str:
    """A CSV cell: blank for None, ISO 8601 for times, text guarded against formula injection."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_STARTS) else value
    return str(value)


def gradebook_csv(rows: list[GradebookRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([csv_cell(getattr(row, column)) for column in COLUMNS])
    return out.getvalue()
