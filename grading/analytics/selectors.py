"""Analytics reads: the instructors' page (modules, tests, cohorts), a learner's timeline, the survey prompt.

Design choices:
- Completion, pass and activity read the one module state machine (``modules.models.Progress``): a module is
  *started* once its state left "not started" (the first attempt), *passed* in state passed or completed,
  *completed* in state completed (``DECISIONS.md``). Rates are over the learners who started the module.
- Attempts to pass and time to pass (from the first graded attempt to the pass) come from
  ``LearnerModuleStat``, test failures from ``DailyTestCount``: both kept at grading, so no query here scans
  submissions. Every table is one aggregate query over indexed rows (``bench/bench_analytics.py`` times them on
  10,000 learners × 16 modules × 20 attempts).
- Filters: a route keeps the route's modules and the learners who follow it; dates pick learners by sign-up day
  (a cohort view), except the tests table, which counts the test runs made on those days (tests are counted per
  day, not per learner). Instructors, staff and inactive accounts are no learners.
- Retention: a learner is retained at N days when their module state last changed N or more days after they
  signed up; a cohort's rate is over its learners who signed up at least N days ago (younger ones cannot be
  retained yet), so a young cohort reads "—", not 0 %.
- Median time to pass: PostgreSQL's ``percentile_cont``; other databases (SQLite in tests) take the median in
  Python.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Aggregate, Avg, Count, FloatField, Max, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from grading.analytics.models import DailyTestCount, LearnerModuleStat, SurveyResponse
from grading.discussions.models import Thread
from grading.models import Submission
from modules import selectors as module_selectors
from modules.models import Module, Note, Progress, Route
from modules.roles import INSTRUCTOR_GROUP
from modules.services import InvalidInput

#: Retention windows, in days.
RETENTION_DAYS = (7, 30)
#: How many of the most-failed tests the page lists.
TOP_TESTS = 20
#: How many recent survey comments the page lists.
COMMENTS = 20
#: How many attempts a learner's timeline shows (the latest).
TIMELINE_ATTEMPTS = 400


class Median(Aggregate):
    """PostgreSQL's median of a column."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


@dataclass(frozen=True)
class Filters:
    route: Route | None = None
    since: date | None = None
    until: date | None = None
    module: Module | None = None  # the tests table only

    def query(self) -> dict[str, str]:
        """The filters as query parameters (for links: CSV export keeps the page's filters)."""
        out = {}
        if self.route is not None:
            out["route"] = self.route.slug
        if self.since is not None:
            out["since"] = self.since.isoformat()
        if self.until is not None:
            out["until"] = self.until.isoformat()
        if self.module is not None:
            out["module"] = self.module.slug
        return out


def _day(params: Any, key: str) -> date | None:
    raw = (params.get(key) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(
            _("%(field)s must be a date like 2026-01-31") % {"field": key}, code="date_invalid"
        ) from None


def filters_parse(params: Any) -> Filters:
    """The page's filters from query parameters ``route``, ``since``, ``until``, ``module`` (all optional)."""
    route = None
    if slug := (params.get("route") or "").strip():
        route = Route.objects.filter(slug=slug).first()
        if route is None:
            raise InvalidInput(_("no such route: %(slug)s") % {"slug": slug}, code="route_invalid")
    module = None
    if slug := (params.get("module") or "").strip():
        module = Module.objects.filter(slug=slug).defer("payload").first()
        if module is None:
            raise InvalidInput(_("no such module: %(slug)s") % {"slug": slug}, code="module_invalid")
    since, until = _day(params, "since"), _day(params, "until")
    if since and until and since > until:
        raise InvalidInput(_("the start date is after the end date"), code="date_invalid")
    return Filters(route=route, since=since, until=until, module=module)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def learners(filters: Filters) -> QuerySet[User]:
    """The learners the filters pick (see the module docstring)."""
    qs = User.objects.filter(is_active=True, is_staff=False, is_superuser=False).exclude(
        groups__name=INSTRUCTOR_GROUP
    )
    if filters.since is not None:
        qs = qs.filter(date_joined__gte=_midnight(filters.since))
    if filters.until is not None:
        qs = qs.filter(date_joined__lt=_midnight(filters.until + timedelta(days=1)))
    if filters.route is not None:
        if filters.route.is_default:
            qs = qs.filter(
                Q(lab_settings__isnull=True)
                | Q(lab_settings__route__isnull=True)
                | Q(lab_settings__route=filters.route)
            )
        else:
            qs = qs.filter(lab_settings__route=filters.route)
    return qs


def learner_rows(filters: Filters) -> Q:
    """A condition on rows with a ``user`` (progress, stats, answers) that keeps the filtered learners' rows.

    Without learner filters it excludes the few accounts that are no learners by id (1 query) instead of joining
    every row against the learners: on 10,000 learners × 16 modules the join is most of the page's time."""
    if filters.since is None and filters.until is None and filters.route is None:
        others = list(
            User.objects.filter(
                Q(is_active=False)
                | Q(is_staff=True)
                | Q(is_superuser=True)
                | Q(groups__name=INSTRUCTOR_GROUP)
            )
            .values_list("pk", flat=True)
            .distinct()
        )
        return ~Q(user_id__in=others) if others else Q()
    return Q(user__in=learners(filters).values("pk"))


def modules_in(filters: Filters) -> list[Module]:
    """The active modules on the filtered route (every one without a route filter), in order."""
    modules = list(
        Module.objects.filter(status=Module.Status.ACTIVE).defer("payload").order_by("order", "slug")
    )
    if filters.route is None:
        return modules
    slugs = module_selectors.route_module_slugs(route=filters.route, modules=modules)
    return [m for m in modules if m.slug in slugs]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _pass_stats(stats: QuerySet[LearnerModuleStat]) -> dict[int, tuple[float, float]]:
    """Per module, the mean attempts to pass and the median seconds to pass of the learners who passed (1 query)."""
    passed = stats.filter(attempts_to_pass__isnull=False, seconds_to_pass__isnull=False)
    if connection.vendor == "postgresql":
        rows = (
            passed.values("module_id")
            .annotate(avg=Avg("attempts_to_pass"), median=Median("seconds_to_pass"))
            .order_by()
        )
        return {r["module_id"]: (float(r["avg"]), float(r["median"])) for r in rows}
    by_module: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for module_id, attempts, seconds in passed.values_list(
        "module_id", "attempts_to_pass", "seconds_to_pass"
    ):
        if attempts is not None and seconds is not None:
            by_module[module_id].append((attempts, seconds))
    return {
        module_id: (statistics.mean(a for a, _ in values), statistics.median(s for _, s in values))
        for module_id, values in by_module.items()
    }


def module_rows(*, filters: Filters, lang: str, modules: list[Module] | None = None) -> list[dict[str, Any]]:
    """Per module: learners who started, passed and completed it and the rates, average attempts and median
    seconds to pass, the survey's means (confidence at the start and after passing, difficulty, helpfulness)
    and how many answered or skipped each prompt (4 queries; 5 without ``modules``, ``modules_in(filters)``)."""
    modules = modules if modules is not None else modules_in(filters)
    ids = [m.pk for m in modules]
    who = learner_rows(filters)
    progress = {
        r["module_id"]: r
        for r in Progress.objects.filter(who, module_id__in=ids)
        .values("module_id")
        .annotate(
            started=Count("pk", filter=~Q(status=Progress.Status.NOT_STARTED)),
            passed=Count("pk", filter=Q(status__in=[Progress.Status.PASSED, Progress.Status.COMPLETED])),
            completed=Count("pk", filter=Q(status=Progress.Status.COMPLETED)),
        )
        .order_by()
    }
    passes = _pass_stats(LearnerModuleStat.objects.filter(who, module_id__in=ids))
    surveys: dict[tuple[int, str], dict[str, Any]] = {
        (r["module_id"], r["stage"]): dict(r)
        for r in SurveyResponse.objects.filter(who, module_id__in=ids)
        .values("module_id", "stage")
        .annotate(
            answered=Count("pk", filter=Q(skipped=False)),
            skipped=Count("pk", filter=Q(skipped=True)),
            confidence=Avg("confidence"),
            difficulty=Avg("difficulty"),
            helpfulness=Avg("helpfulness"),
        )
        .order_by()
    }
    rows = []
    for m in modules:
        p = progress.get(m.pk) or {"started": 0, "passed": 0, "completed": 0}
        start = surveys.get((m.pk, SurveyResponse.Stage.START)) or {}
        after = surveys.get((m.pk, SurveyResponse.Stage.AFTER)) or {}
        rows.append(
            {
                "slug": m.slug,
                "order": m.order,
                "title": module_selectors.localize(m.title, lang) or m.slug,
                "started": p["started"],
                "passed": p["passed"],
                "completed": p["completed"],
                "pass_rate": _rate(p["passed"], p["started"]),
                "completion_rate": _rate(p["completed"], p["started"]),
                "avg_attempts_to_pass": passes[m.pk][0] if m.pk in passes else None,
                "median_seconds_to_pass": passes[m.pk][1] if m.pk in passes else None,
                "confidence_before": start.get("confidence"),
                "confidence_after": after.get("confidence"),
                "difficulty": after.get("difficulty"),
                "helpfulness": after.get("helpfulness"),
                "survey_answered": (start.get("answered") or 0, after.get("answered") or 0),
                "survey_skipped": (start.get("skipped") or 0, after.get("skipped") or 0),
            }
        )
    return rows


def test_rows(*, filters: Filters, lang: str, modules: list[Module] | None = None) -> list[dict[str, Any]]:
    """The most-failed tests (runs on the filtered days, of the filtered modules): runs, failures, pass rate and
    the latest failure message (2 queries; 3 without ``modules``)."""
    by_id = {m.pk: m for m in (modules if modules is not None else modules_in(filters))}
    if filters.module is not None:
        by_id = {k: v for k, v in by_id.items() if k == filters.module.pk}
    days = DailyTestCount.objects.filter(module_id__in=list(by_id))
    if filters.since is not None:
        days = days.filter(day__gte=filters.since)
    if filters.until is not None:
        days = days.filter(day__lte=filters.until)
    top = list(
        days.values("module_id", "test_id")
        .annotate(runs=Sum("runs"), failures=Sum("failures"), name=Max("name"), last_failed=Max("day"))
        .filter(failures__gt=0)
        .order_by("-failures", "module_id", "test_id")[:TOP_TESTS]
    )
    messages: dict[tuple[int, str], str] = {}
    if top:
        which = Q()
        for r in top:
            which |= Q(module_id=r["module_id"], test_id=r["test_id"], day=r["last_failed"])
        for module_id, test_id, message in days.filter(which).values_list("module_id", "test_id", "message"):
            messages[(module_id, test_id)] = message
    return [
        {
            "module": by_id[r["module_id"]].slug,
            "module_title": module_selectors.localize(by_id[r["module_id"]].title, lang),
            "test_id": r["test_id"],
            "name": r["name"],
            "runs": r["runs"],
            "failures": r["failures"],
            "pass_rate": _rate(r["runs"] - r["failures"], r["runs"]),
            "message": messages.get((r["module_id"], r["test_id"]), ""),
        }
        for r in top
    ]


def cohort_rows(*, filters: Filters, now: datetime | None = None) -> list[dict[str, Any]]:
    """Learners by sign-up week (Monday, UTC): how many, and per retention window how many could be retained
    (signed up long enough ago), how many were, and the rate (1 query: each learner's sign-up and last state
    change, counted here)."""
    now = now or timezone.now()
    weeks: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = (
        learners(filters)
        .annotate(last_change=Max("progress__updated_at"))
        .values_list("date_joined", "last_change")
    )
    for joined, last_change in rows.order_by():
        day = joined.astimezone(UTC).date()
        counts = weeks[day - timedelta(days=day.weekday())]
        counts["size"] += 1
        for days in RETENTION_DAYS:
            if joined <= now - timedelta(days=days):
                counts[f"eligible_{days}"] += 1
                if last_change is not None and last_change >= joined + timedelta(days=days):
                    counts[f"retained_{days}"] += 1
    out = []
    for week, counts in sorted(weeks.items()):
        row: dict[str, Any] = {"week": week.isoformat(), "size": counts["size"]}
        for days in RETENTION_DAYS:
            row[f"eligible_{days}"] = counts[f"eligible_{days}"]
            row[f"retained_{days}"] = counts[f"retained_{days}"]
            row[f"retention_{days}"] = _rate(counts[f"retained_{days}"], counts[f"eligible_{days}"])
        out.append(row)
    return out


def survey_comments(*, filters: Filters, lang: str, modules: list[Module]) -> list[dict[str, Any]]:
    """The latest free-text answers after passing, on ``modules`` (2 queries)."""
    ids = [m.pk for m in modules]
    rows = (
        SurveyResponse.objects.filter(learner_rows(filters), module_id__in=ids)
        .exclude(comment="")
        .select_related("module", "user")
        .defer("module__payload", "module__metadata")
        .order_by("-created_at", "-pk")[:COMMENTS]
    )
    return [
        {
            "module_title": module_selectors.localize(r.module.title, lang),
            "learner": r.user.get_username(),
            "comment": r.comment,
            "created_at": r.created_at,
        }
        for r in rows
    ]


def overview(*, filters: Filters, lang: str) -> dict[str, Any]:
    """Everything the analytics page shows (11 queries)."""
    modules = modules_in(filters)
    return {
        "modules": module_rows(filters=filters, lang=lang, modules=modules),
        "tests": test_rows(filters=filters, lang=lang, modules=modules),
        "cohorts": cohort_rows(filters=filters),
        "comments": survey_comments(filters=filters, lang=lang, modules=modules),
        "learner_count": learners(filters).count(),
    }


def access_analytics(*, user: User) -> bool:
    """Instructors (and superusers) read analytics; learners never."""
    return module_selectors.user_is_instructor(user)


def learner_find(*, query: str, limit: int = 20) -> list[User]:
    """Learners whose username starts with ``query`` (case-insensitive), for the drill-down search."""
    query = query.strip()
    if not query:
        return []
    return list(learners(Filters()).filter(username__istartswith=query).order_by("username")[:limit])


def learner_detail(*, user: User, lang: str) -> dict[str, Any]:
    """One learner's timeline: their attempts (module, verdict, score), notes, threads (questions and review
    requests they opened or posted in) and survey answers (5 queries)."""
    attempts = list(
        Submission.objects.filter(user=user)
        .select_related("module", "result")
        .defer("files", "module__payload", "module__metadata", "result__result")
        .order_by("-created_at", "-pk")[:TIMELINE_ATTEMPTS]
    )
    attempts.reverse()
    numbers: dict[int, int] = defaultdict(int)
    timeline = []
    for s in attempts:
        numbers[s.module_id] += 1
        result = getattr(s, "result", None)
        timeline.append(
            {
                "at": s.created_at,
                "module": s.module.slug,
                "module_title": module_selectors.localize(s.module.title, lang),
                "order": s.module.order,
                "number": numbers[s.module_id],
                "status": result.status if result else s.status,
                "score_pct": round(100 * result.score / result.max_score)
                if result and result.max_score
                else None,
            }
        )
    threads = (
        Thread.objects.filter(Q(author=user) | Q(posts__author=user))
        .distinct()
        .select_related("module")
        .defer("module__payload", "module__metadata")
        .annotate(n_posts=Count("posts", distinct=True))
        .order_by("-updated_at")[:100]
    )
    notes = Note.objects.filter(user=user).select_related("module").order_by("-created_at")[:100]
    surveys = (
        SurveyResponse.objects.filter(user=user).select_related("module").order_by("module__order", "stage")
    )
    return {
        "attempts": timeline,
        "notes": [
            {
                "text": n.text,
                "module_title": module_selectors.localize(n.module.title, lang) if n.module else "",
                "created_at": n.created_at,
            }
            for n in notes
        ],
        "threads": [
            {
                "title": t.title,
                "kind": t.kind,
                "status": t.status,
                "module_title": module_selectors.localize(t.module.title, lang),
                "posts": t.n_posts,
                "url": f"/modules/{t.module.slug}/#thread-{t.pk}",
                "updated_at": t.updated_at,
            }
            for t in threads
        ],
        "surveys": [
            {
                "module_title": module_selectors.localize(r.module.title, lang),
                "stage": r.stage,
                "skipped": r.skipped,
                "confidence": r.confidence,
                "difficulty": r.difficulty,
                "helpfulness": r.helpfulness,
                "comment": r.comment,
            }
            for r in surveys
        ],
    }


# --- the learner's prompt -----------------------------------------------------------------------------------------
def survey_for(*, user: User, module: Module, lang: str) -> dict[str, Any]:
    """The module's survey for the learner: which prompt is due (``start`` until answered or skipped and while
    the module is not passed; ``after`` once passed, until answered or skipped; else null), the questions in
    ``lang`` and the stored answers (2 queries)."""
    state = module_selectors.module_state(user=user, module=module)
    stored = {r.stage: r for r in SurveyResponse.objects.filter(user=user, module=module)}
    passed = state in ("passed", "completed")
    due = None
    if passed and SurveyResponse.Stage.AFTER not in stored:
        due = SurveyResponse.Stage.AFTER.value
    elif not passed and state != "locked" and SurveyResponse.Stage.START not in stored:
        due = SurveyResponse.Stage.START.value
    spec = module_selectors.module_spec_of(module=module)
    texts = spec.survey.texts(lang="zh" if lang.startswith("zh") else "en", title=spec.title)
    return {
        "due": due,
        "questions": texts,
        "scale": [1, 5],
        "answers": {stage: _answer(stored.get(stage)) for stage in SurveyResponse.Stage.values},
    }


def _answer(row: SurveyResponse | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "skipped": row.skipped,
        "confidence": row.confidence,
        "difficulty": row.difficulty,
        "helpfulness": row.helpfulness,
        "comment": row.comment,
    }
