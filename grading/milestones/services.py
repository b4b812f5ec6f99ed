"""Milestone writes: notifications (created idempotently by key, read by the learner), certificates, study time.

``milestones_sync`` is the one place that turns a learner's standing into milestones: modules newly open, badges
earned, the course (or a route) completed. It runs after every change of standing (``modules.listeners``) and
creates only what is missing, so it may run any number of times.

A learner's first sync (no notification yet) may find a standing built before it could notify: a learner who passed
modules before milestones existed, or whose progress was imported. What that standing earned before the change
that triggered the sync is recorded as read, under one unread summary, so the bell does not fill with old news.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from grading.milestones.models import Certificate, Notification, StudyDay
from modules.badges import Facts, badge_facts, badges_evaluate
from modules.models import Route
from modules.roles import INSTRUCTOR_GROUP
from modules.selectors import ModuleState, bilingual, module_states, user_is_instructor
from modules.services import InvalidInput

#: What one heartbeat may credit at most (pages beat every 60 s while the learner is active).
STUDY_BEAT_CAP_SECONDS = 120
#: Notification ids one "mark read" request may name.
READ_IDS_MAX = 200

LANGS = (("en", "en"), ("zh-hans", "zh"))


def both(message: str, **params: Any) -> dict[str, str]:
    """``message`` translated into English and Chinese, ``%(name)s`` params filled per language (a ``{en, zh}``
    param gives each language its own text)."""
    out = {}
    for code, key in LANGS:
        with translation.override(code):
            values = {k: (v.get(key) or "") if isinstance(v, Mapping) else v for k, v in params.items()}
            out[key] = gettext(message) % values
    return out


def notification_create(
    *, user: User, kind: str, key: str, title: dict[str, str], url: str = "", read: bool = False
) -> bool:
    """Notify ``user`` once per ``key`` (``read``: recorded as already read); False when that key was notified
    before."""
    now = timezone.now()
    try:
        with transaction.atomic():
            _, created = Notification.objects.get_or_create(
                user=user,
                key=key,
                defaults={
                    "kind": kind,
                    "title": title,
                    "url": url,
                    "created_at": now,
                    "read_at": now if read else None,
                },
            )
    except IntegrityError:  # a concurrent sync created it first
        return False
    return created


def notifications_read(*, user: User, ids: Any = None) -> int:
    """Mark ``user``'s notifications read: those in ``ids`` (a list of ids), or every one when ``ids`` is None."""
    rows = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        if (
            not isinstance(ids, list)
            or len(ids) > READ_IDS_MAX
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
        ):
            raise InvalidInput(
                gettext("ids must be a list of at most %(max)d notification ids") % {"max": READ_IDS_MAX},
                code="ids_invalid",
            )
        rows = rows.filter(pk__in=ids)
    return rows.update(read_at=timezone.now())


# --- what a change of standing earns ------------------------------------------------------------------------------
class _Candidate(NamedTuple):
    kind: str
    title: Callable[[], dict[str, str]]
    url: str
    earned_at: datetime | None  # None: not known (a module an instructor opened), taken as earlier


def milestones_sync(*, user: User) -> int:
    """Notify what ``user``'s standing earned and was not notified yet: modules open now (those with
    prerequisites), badges, certificates (issued here). Returns the number of new unread notifications.

    One query finds which of the candidates were notified before; only the others are written (and only their
    titles translated). On the first sync, what was earned before the latest change of standing is recorded as read
    under one summary (``_first_sync_earlier``)."""
    states = module_states(user=user)
    facts = badge_facts(user=user, states=states)
    candidates: dict[str, _Candidate] = {}
    if not user_is_instructor(user):
        done_at = {s.module.slug: _completed_at(s) for s in states}
        for state in states:
            prerequisites = state.module.metadata.get("prerequisites")
            if state.state == "locked" or not prerequisites:
                continue
            met = [done_at.get(slug) for slug in prerequisites]
            opened_at = None if None in met else max(at for at in met if at is not None)
            candidates[f"unlock:{state.module.slug}"] = _Candidate(
                Notification.Kind.UNLOCK,
                partial(
                    both, gettext_noop("Module unlocked: %(title)s"), title=bilingual(state.module.title)
                ),
                reverse("module-page", args=[state.module.slug]),
                opened_at,
            )
    for badge in badges_evaluate(facts):
        if badge["earned"]:
            candidates[f"badge:{badge['id']}"] = _Candidate(
                Notification.Kind.BADGE,
                partial(both, gettext_noop("Badge earned: %(title)s"), title=bilingual(badge["title"])),
                reverse("dashboard") + "#badges",
                datetime.fromisoformat(badge["earned_at"]),
            )
    for certificate in certificates_issue(user=user, states=states):
        finished = [m["completed_at"] for m in certificate.modules]
        candidates[f"certificate:{certificate.scope}"] = _Candidate(
            Notification.Kind.CERTIFICATE,
            partial(both, gettext_noop("Certificate issued: %(title)s"), title=certificate.title),
            reverse("certificate", args=[certificate.code]),
            datetime.fromisoformat(max(finished)) if finished and all(finished) else None,
        )
    if not candidates:
        return 0
    notified = set(Notification.objects.filter(user=user, key__in=candidates).values_list("key", flat=True))
    fresh = {key: c for key, c in candidates.items() if key not in notified}
    earlier: set[str] = set()
    if fresh and not notified and not Notification.objects.filter(user=user).exists():
        earlier = _first_sync_earlier(fresh, latest=_latest_change(facts=facts, states=states))
    created = 0
    for key, candidate in fresh.items():
        read = key in earlier
        new = notification_create(
            user=user, kind=candidate.kind, key=key, title=candidate.title(), url=candidate.url, read=read
        )
        created += new and not read
    if earlier:
        created += notification_create(
            user=user,
            kind=Notification.Kind.SUMMARY,
            key="summary:earlier",
            title=both(
                gettext_noop("%(count)d milestones from before: see your dashboard"), count=len(earlier)
            ),
            url=reverse("dashboard") + "#badges",
        )
    return created


def _latest_change(*, facts: Facts, states: list[ModuleState]) -> datetime | None:
    """When the learner's standing last changed: the newest pass, completion, reflection or note (a service stamps
    every row of one change with the same instant)."""
    stamps = [*facts.passes, *facts.reflections, *facts.notes]
    stamps += [at for s in states if (at := _completed_at(s)) is not None]
    return max(stamps, default=None)


def _first_sync_earlier(fresh: Mapping[str, _Candidate], *, latest: datetime | None) -> set[str]:
    """The keys of ``fresh`` earned before the change of standing that triggered a learner's first sync; empty when
    at most one is (one notification is no flood, and it keeps its own words)."""
    earlier = {
        key for key, c in fresh.items() if latest is None or c.earned_at is None or c.earned_at < latest
    }
    return earlier if len(earlier) > 1 else set()


def certificate_code() -> str:
    """80 random bits as four groups of four letters and digits (``K7QX-2MPA-...``): unguessable, easy to read out."""
    raw = base64.b32encode(secrets.token_bytes(10)).decode()
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _completed_at(state: ModuleState) -> datetime | None:
    return state.progress.completed_at if state.progress is not None else None


def certificates_issue(*, user: User, states: list[ModuleState]) -> list[Certificate]:
    """Issue the certificates ``user`` has earned and lacks: the course once every active module is completed, a
    route once every active module of it is (a route that holds the whole course adds nothing). Returns the new
    ones."""
    done = [s for s in states if s.state == "completed"]
    if not done:
        return []
    scopes: list[tuple[str, Route | None, dict[str, str], list[ModuleState]]] = []
    if len(done) == len(states):
        scopes.append(("course", None, both(gettext_noop("the nanochat Lab course")), states))
    all_ids = {s.module.pk for s in states}
    for route in Route.objects.filter(modules__in=[s.module.pk for s in done]).distinct():
        members = [s for s in states if s.module.route_id == route.pk]
        if (
            members
            and {s.module.pk for s in members} != all_ids
            and all(s.state == "completed" for s in members)
        ):
            scopes.append(
                (
                    f"route:{route.slug}",
                    route,
                    both(gettext_noop("the route %(title)s"), title=bilingual(route.title)),
                    members,
                )
            )
    have = set(Certificate.objects.filter(user=user).values_list("scope", flat=True))
    issued = []
    for scope, scope_route, title, members in scopes:
        if scope in have:
            continue
        modules = [
            {
                "slug": s.module.slug,
                "title": bilingual(s.module.title),
                "completed_at": at.isoformat() if (at := _completed_at(s)) else None,
            }
            for s in members
        ]
        try:
            with transaction.atomic():
                issued.append(
                    Certificate.objects.create(
                        user=user,
                        scope=scope,
                        route=scope_route,
                        code=certificate_code(),
                        name=user.get_full_name() or user.get_username(),
                        title=title,
                        modules=modules,
                        issued_at=timezone.now(),
                    )
                )
        except IntegrityError:  # issued concurrently
            continue
    return issued


# --- discussions --------------------------------------------------------------------------------------------------
def reply_notify(
    *,
    thread_id: int,
    module_slug: str,
    thread_author: User,
    replier: User,
    is_mentor: bool,
    post_id: int,
    title: str,
) -> bool:
    """Someone other than the thread's author replied: tell the author (a mentor's reply says so)."""
    if replier.pk == thread_author.pk:
        return False
    message = (
        gettext_noop("A mentor replied: %(title)s") if is_mentor else gettext_noop("New reply: %(title)s")
    )
    return notification_create(
        user=thread_author,
        kind=Notification.Kind.MENTOR_REPLY if is_mentor else Notification.Kind.REPLY,
        key=f"post:{post_id}",
        title=both(message, title=title),
        url=reverse("module-page", args=[module_slug]) + f"#thread-{thread_id}",
    )


def review_request_notify(*, thread_id: int, author: User, module_slug: str, title: str) -> int:
    """A learner asked for a review: tell every mentor (instructors and superusers) but the author."""
    mentors = (
        User.objects.filter(Q(is_superuser=True) | Q(groups__name=INSTRUCTOR_GROUP), is_active=True)
        .exclude(pk=author.pk)
        .distinct()
    )
    sent = 0
    for mentor in mentors:
        sent += notification_create(
            user=mentor,
            kind=Notification.Kind.REVIEW_REQUEST,
            key=f"review:{thread_id}",
            title=both(
                gettext_noop("Review requested by %(name)s: %(title)s"),
                name=author.get_username(),
                title=title,
            ),
            url=reverse("module-page", args=[module_slug]) + f"#thread-{thread_id}",
        )
    return sent


def review_assigned_notify(*, thread_id: int, mentor: User, module_slug: str, title: str) -> bool:
    """A review was given to ``mentor``: tell them (once per thread and mentor)."""
    return notification_create(
        user=mentor,
        kind=Notification.Kind.REVIEW_REQUEST,
        key=f"review-assigned:{thread_id}:{mentor.pk}",
        title=both(gettext_noop("Review assigned to you: %(title)s"), title=title),
        url=reverse("module-page", args=[module_slug]) + f"#thread-{thread_id}",
    )


def review_verdict_notify(
    *, thread_id: int, learner: User, module_slug: str, title: str, accepted: bool
) -> bool:
    """A mentor accepted the learner's work, or asked for changes: tell the learner (each verdict once)."""
    message = (
        gettext_noop("Your review was accepted: %(title)s")
        if accepted
        else gettext_noop("A mentor asked for changes: %(title)s")
    )
    return notification_create(
        user=learner,
        kind=Notification.Kind.MENTOR_REPLY,
        key=f"review-verdict:{thread_id}:{'accepted' if accepted else timezone.now().isoformat()}",
        title=both(message, title=title),
        url=reverse("module-page", args=[module_slug]) + f"#thread-{thread_id}",
    )


# --- study time ---------------------------------------------------------------------------------------------------
def study_heartbeat(*, user: User, now: datetime | None = None) -> StudyDay:
    """The learner is active on a page: credit the time since their previous beat, at most
    ``STUDY_BEAT_CAP_SECONDS`` (a gap longer than that was time away, and credits nothing)."""
    now = now or timezone.now()
    day = timezone.localdate(now)
    with transaction.atomic():
        last = StudyDay.objects.select_for_update().filter(user=user).order_by("-last_beat").first()
        gap = (now - last.last_beat).total_seconds() if last is not None else None
        credit = int(gap) if gap is not None and 0 < gap <= STUDY_BEAT_CAP_SECONDS else 0
        row, created = StudyDay.objects.select_for_update().get_or_create(
            user=user, day=day, defaults={"seconds": credit, "last_beat": now}
        )
        if not created:
            row.seconds += credit
            row.last_beat = max(row.last_beat, now)
            row.save(update_fields=["seconds", "last_beat"])
    return row
