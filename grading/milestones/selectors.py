"""Milestone reads: the bell's notifications, certificates, the weekly report and the learning log as Markdown."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from grading.milestones.models import Certificate, Notification, StudyDay
from grading.models import Submission
from modules.models import Note, Progress, Reflection
from modules.selectors import bilingual, localize

#: Notifications the bell lists (newest first).
NOTIFICATIONS_LISTED = 30
#: How far back a streak is looked for.
STREAK_DAYS_MAX = 366


def notifications_for(*, user: User, lang: str, limit: int = NOTIFICATIONS_LISTED) -> dict[str, Any]:
    """``{unread, items [{id, kind, title, url, created_at, read}]}`` (2 queries)."""
    key = "zh" if lang.startswith("zh") else "en"
    rows = list(Notification.objects.filter(user=user)[:limit])
    return {
        "unread": Notification.objects.filter(user=user, read_at__isnull=True).count(),
        "items": [
            {
                "id": n.pk,
                "kind": n.kind,
                "title": bilingual(n.title)[key],
                "url": n.url,
                "created_at": n.created_at.isoformat(),
                "read": n.read_at is not None,
            }
            for n in rows
        ],
    }


def certificate_get(*, code: str) -> Certificate | None:
    return Certificate.objects.select_related("user").filter(code=code).first()


def certificates_for(*, user: User, lang: str) -> list[dict[str, Any]]:
    return [
        {
            "code": c.code,
            "scope": c.scope,
            "title": localize(c.title, lang),
            "issued_at": c.issued_at.isoformat(),
            "url": reverse("certificate", args=[c.code]),
        }
        for c in Certificate.objects.filter(user=user)
    ]


def _week_bounds(today: date) -> tuple[date, datetime, datetime]:
    monday = today - timedelta(days=today.weekday())
    start = timezone.make_aware(datetime.combine(monday, time.min))
    return monday, start, start + timedelta(days=7)


def streak_days(*, days: set[date], today: date) -> int:
    """Consecutive active days ending today (or yesterday, when today has no activity yet)."""
    day = today if today in days else today - timedelta(days=1)
    streak = 0
    while day in days:
        streak += 1
        day -= timedelta(days=1)
    return streak


def weekly_report(*, user: User, lang: str, today: date | None = None) -> dict[str, Any]:
    """This week (Monday on): ``{week_start, modules_passed [{slug, title}], modules_completed, attempts,
    study_seconds, days_studied, streak_days, total_study_seconds}``. A day is active when it has measured study
    time or an attempt (3 queries)."""
    today = today or timezone.localdate()
    monday, start, end = _week_bounds(today)
    sunday = monday + timedelta(days=7)
    since = min(monday, today - timedelta(days=STREAK_DAYS_MAX))
    progress = list(
        Progress.objects.filter(
            Q(passed_at__gte=start, passed_at__lt=end) | Q(completed_at__gte=start, completed_at__lt=end),
            user=user,
        )
        .select_related("module")
        .defer("module__payload", "module__metadata")  # only slug and title are shown: not 60 KB of JSON each
        .order_by("passed_at")
    )
    passed = [p for p in progress if p.passed_at is not None and start <= p.passed_at < end]
    study = list(StudyDay.objects.filter(user=user).values_list("day", "seconds"))
    attempts = [
        timezone.localdate(at)
        for at in Submission.objects.filter(
            user=user, created_at__gte=timezone.make_aware(datetime.combine(since, time.min))
        ).values_list("created_at", flat=True)
    ]
    days = {day for day, seconds in study if seconds > 0} | set(attempts)
    return {
        "week_start": monday.isoformat(),
        "modules_passed": [{"slug": p.module.slug, "title": localize(p.module.title, lang)} for p in passed],
        "modules_completed": sum(
            1 for p in progress if p.completed_at is not None and start <= p.completed_at < end
        ),
        "attempts": sum(1 for day in attempts if monday <= day < sunday),
        "study_seconds": sum(seconds for day, seconds in study if monday <= day < sunday),
        "days_studied": sum(1 for d in days if monday <= d < sunday),
        "streak_days": streak_days(days=days, today=today),
        "total_study_seconds": sum(seconds for _, seconds in study),
    }


def duration_text(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min"


def weekly_report_markdown(*, user: User, report: dict[str, Any], labels: dict[str, str]) -> str:
    """The weekly report as a Markdown summary; ``labels`` are its (translated) headings and field names."""
    lines = [
        f"# {labels['heading']} — {user.get_username()}",
        "",
        f"{labels['week_of']}: {report['week_start']}",
        "",
        f"- {labels['passed']}: {len(report['modules_passed'])}",
        f"- {labels['completed']}: {report['modules_completed']}",
        f"- {labels['attempts']}: {report['attempts']}",
        f"- {labels['study']}: {duration_text(report['study_seconds'])}",
        f"- {labels['days']}: {report['days_studied']}",
        f"- {labels['streak']}: {report['streak_days']}",
        f"- {labels['total']}: {duration_text(report['total_study_seconds'])}",
    ]
    if report["modules_passed"]:
        lines += ["", f"## {labels['passed']}", ""] + [f"- {m['title']}" for m in report["modules_passed"]]
    return "\n".join(lines) + "\n"


def learning_log_markdown(*, user: User, lang: str, labels: dict[str, str]) -> str:
    """Every note (oldest first, by module) and reflection of ``user`` as one Markdown document (2 queries)."""
    lines = [f"# {labels['heading']} — {user.get_username()}", ""]
    notes = (
        Note.objects.filter(user=user)
        .select_related("module")
        .defer("module__payload")
        .order_by("created_at", "id")
    )
    lines += [f"## {labels['notes']}", ""]
    for note in notes:
        where = f" · {localize(note.module.title, lang)}" if note.module is not None else ""
        lines += [
            f"### {timezone.localtime(note.created_at):%Y-%m-%d %H:%M}{where}",
            "",
            note.text.strip(),
            "",
        ]
    if not notes:
        lines += [labels["none"], ""]
    reflections = (
        Reflection.objects.filter(user=user)
        .select_related("module")
        .defer("module__payload")
        .order_by("submitted_at")
    )
    lines += [f"## {labels['reflections']}", ""]
    for reflection in reflections:
        questions = {q["id"]: q for q in (reflection.module.payload or {}).get("reflection", [])}
        lines += [f"### {localize(reflection.module.title, lang)}", ""]
        for qid, answer in reflection.answers.items():
            question = questions.get(qid, {})
            prompt = localize(question.get("prompt"), lang) or qid
            if question.get("kind") == "choice":
                choice = next((c for c in question.get("choices") or [] if c.get("id") == answer), None)
                answer = localize(choice.get("text"), lang) if choice else answer
            lines += [f"**{prompt}**", "", str(answer).strip(), ""]
    if not reflections:
        lines += [labels["none"], ""]
    return "\n".join(lines).rstrip() + "\n"
