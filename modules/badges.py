"""Badges: milestones a learner has reached, read from the rows the learning loop already writes.

Design choices:
- Computed, never stored: a badge is a fact about existing rows (progress, hint reveals, reflections, notes),
  so it can't drift from them, needs no migration, and a new badge applies to history at once. Its date is the
  time of the event that earned it (the N-th qualifying event), not the time it was first displayed.
- Each badge is data (id, texts in en + zh, a target, the qualifying events): the dashboard shows earned badges
  with their date and the others greyed with progress ``count/target``, so a badge also says what to do next.
- Content-agnostic: no badge names a module, so renaming or adding modules never breaks one; the route-wide
  ones scale with the number of active modules.
- A constant number of queries (five; three when the dashboard hands in the module states it already read),
  whatever the learner's history: ``badges_for`` is on the dashboard.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Min

from .models import HintReveal, Module, Note, Progress, Reflection
from .selectors import PASSED_STATUSES, ModuleState, localize


@dataclass(frozen=True)
class Facts:
    """What the badges are computed from: event times per kind, and the size of the route."""

    passes: list[datetime] = field(default_factory=list)
    unaided_passes: list[datetime] = field(default_factory=list)
    reflections: list[datetime] = field(default_factory=list)
    notes: list[datetime] = field(default_factory=list)
    module_count: int = 0


@dataclass(frozen=True)
class Badge:
    id: str
    title: dict[str, str]
    description: dict[str, str]
    events: Callable[[Facts], list[datetime]]
    target: Callable[[Facts], int]


def _fixed(n: int) -> Callable[[Facts], int]:
    return lambda facts: n


BADGES: tuple[Badge, ...] = (
    Badge(
        "first_pass",
        {"en": "First green", "zh": "首次通过"},
        {"en": "Pass the tests of your first module.", "zh": "通过第一个模块的全部测试。"},
        lambda f: f.passes,
        _fixed(1),
    ),
    Badge(
        "unaided",
        {"en": "No hints needed", "zh": "无需提示"},
        {"en": "Pass a module without revealing any of its hints.", "zh": "不查看任何提示就通过一个模块。"},
        lambda f: f.unaided_passes,
        _fixed(1),
    ),
    Badge(
        "reflective",
        {"en": "Reflective learner", "zh": "善于反思"},
        {"en": "Answer the reflection questions of 3 modules.", "zh": "完成 3 个模块的反思问题。"},
        lambda f: f.reflections,
        _fixed(3),
    ),
    Badge(
        "chronicler",
        {"en": "Chronicler", "zh": "勤于记录"},
        {"en": "Write 5 entries in your learning log.", "zh": "在学习日志中写下 5 条笔记。"},
        lambda f: f.notes,
        _fixed(5),
    ),
    Badge(
        "halfway",
        {"en": "Halfway there", "zh": "已过半程"},
        {"en": "Pass half of the modules.", "zh": "通过一半的模块。"},
        lambda f: f.passes,
        lambda f: max(1, math.ceil(f.module_count / 2)),
    ),
    Badge(
        "graduate",
        {"en": "nanochat builder", "zh": "nanochat 构建者"},
        {"en": "Pass every module: you rebuilt nanochat.", "zh": "通过所有模块：你亲手重建了 nanochat。"},
        lambda f: f.passes,
        lambda f: max(1, f.module_count),
    ),
)


def badge_facts(*, user: User, states: list[ModuleState] | None = None) -> Facts:
    """The learner's qualifying events: five queries, three given the dashboard's ``module_states`` (which hold
    the active modules and their progress). Passes count on active modules only."""
    if states is None:
        rows = Progress.objects.filter(
            user=user,
            status__in=PASSED_STATUSES,
            passed_at__isnull=False,
            module__status=Module.Status.ACTIVE,
        ).values_list("module_id", "passed_at")
        # ``at is not None`` repeats the filter's NULL check, for the type checker
        passed = [(module_id, at) for module_id, at in rows if at is not None]
        module_count = Module.objects.filter(status=Module.Status.ACTIVE).count()
    else:
        passed = [
            (s.progress.module_id, s.progress.passed_at)
            for s in states
            if s.progress is not None
            and s.progress.status in PASSED_STATUSES
            and s.progress.passed_at is not None
        ]
        module_count = len(states)
    first_reveal = dict(
        HintReveal.objects.filter(user=user)
        .values("module_id")
        .annotate(first=Min("revealed_at"))
        .values_list("module_id", "first")
    )
    # A hint revealed after the pass (reviewing) doesn't take the pass back.
    unaided = [
        at for module_id, at in passed if module_id not in first_reveal or first_reveal[module_id] > at
    ]
    return Facts(
        passes=[at for _, at in passed],
        unaided_passes=unaided,
        reflections=list(Reflection.objects.filter(user=user).values_list("submitted_at", flat=True)),
        notes=list(Note.objects.filter(user=user).values_list("created_at", flat=True)),
        module_count=module_count,
    )


def badges_evaluate(facts: Facts) -> list[dict[str, Any]]:
    """Every badge with ``earned``, ``earned_at`` (the target-th event) and ``count``/``target``; texts unlocalized."""
    out = []
    for badge in BADGES:
        events = sorted(badge.events(facts))
        target = badge.target(facts)
        earned = len(events) >= target
        out.append(
            {
                "id": badge.id,
                "title": badge.title,
                "description": badge.description,
                "earned": earned,
                "earned_at": events[target - 1].isoformat() if earned else None,
                "count": min(len(events), target),
                "target": target,
            }
        )
    return out


def badges_for(*, user: User, lang: str, states: list[ModuleState] | None = None) -> list[dict[str, Any]]:
    """The dashboard's badges for ``user``: earned ones first (oldest first), then the rest in definition order.

    ``states``: ``selectors.module_states(user=user)`` when the caller has them already (saves two queries).
    """
    items = badges_evaluate(badge_facts(user=user, states=states))
    for item in items:
        item["title"] = localize(item["title"], lang)
        item["description"] = localize(item["description"], lang)
    earned = sorted((i for i in items if i["earned"]), key=lambda i: i["earned_at"])
    return earned + [i for i in items if not i["earned"]]
