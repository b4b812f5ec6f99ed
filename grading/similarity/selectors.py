"""Similarity reads: the learner's self-check prompt, the instructors' list of pairs, one pair side by side, and
the authorization question of who may see pairs.

Side-by-side diffs are computed here (``difflib``) and rendered by the template as text: learner code is never
inserted as HTML.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from grading.models import Submission
from grading.similarity.models import Match
from modules.models import Module
from modules.selectors import user_is_instructor

#: Pairs the instructors' page lists at most.
PAIRS_LISTED = 200
#: Lines of one file a side-by-side diff shows at most.
DIFF_LINES_MAX = 2000


def threshold() -> float:
    """``LAB_SIMILARITY_THRESHOLD_PERCENT`` as a fraction: the score from which a pair counts as alike."""
    return settings.LAB_SIMILARITY_THRESHOLD_PERCENT / 100


def access_similarity_pairs(*, user: User | AnonymousUser) -> bool:
    return user_is_instructor(user)


def self_check_for(*, user: User, module: Module) -> dict[str, Any] | None:
    """``{score, submission}`` when the learner's latest passing submission of ``module`` matches the reference at
    or above the threshold (1 query), else None."""
    match = (
        Match.objects.filter(
            kind=Match.Kind.REFERENCE, submission__user=user, module=module, score__gte=threshold()
        )
        .order_by("-submission__created_at")
        .only("score", "submission_id")
        .first()
    )
    if match is None:
        return None
    return {"score": round(match.score, 2), "submission": match.submission_id}


def pairs_list(*, module: Module | None = None, limit: int = PAIRS_LISTED) -> QuerySet[Match]:
    """Matches at or above the threshold, highest first, with both learners joined (one query)."""
    qs = (
        Match.objects.filter(score__gte=threshold())
        .select_related("submission__user", "other__user", "module")
        .defer("module__payload", "submission__files", "other__files")
    )
    if module is not None:
        qs = qs.filter(module=module)
    return qs[:limit]


def match_get(*, match_id: int) -> Match | None:
    return (
        Match.objects.select_related("submission__user", "other__user", "module").filter(pk=match_id).first()
    )


@dataclass(frozen=True)
class DiffRow:
    kind: str  # same | change | left | right
    left_no: int | None
    left: str
    right_no: int | None
    right: str


@dataclass(frozen=True)
class FileDiff:
    path: str
    rows: list[DiffRow]
    same: bool


def side_by_side(left: str, right: str) -> list[DiffRow]:
    """Rows of a side-by-side diff of two texts (at most ``DIFF_LINES_MAX`` lines of each)."""
    a = left.splitlines()[:DIFF_LINES_MAX]
    b = right.splitlines()[:DIFF_LINES_MAX]
    rows: list[DiffRow] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            rows += [DiffRow("same", i + 1, a[i], j + 1, b[j]) for i, j in zip(range(i1, i2), range(j1, j2))]
            continue
        for k in range(max(i2 - i1, j2 - j1)):
            i, j = i1 + k, j1 + k
            has_a, has_b = i < i2, j < j2
            kind = "change" if has_a and has_b else ("left" if has_a else "right")
            rows.append(
                DiffRow(
                    kind,
                    i + 1 if has_a else None,
                    a[i] if has_a else "",
                    j + 1 if has_b else None,
                    b[j] if has_b else "",
                )
            )
    return rows


def files_diff(left: dict[str, str], right: dict[str, str]) -> list[FileDiff]:
    """Per path either side has, its side-by-side diff (paths in order)."""
    out = []
    for path in sorted(set(left) | set(right)):
        a, b = left.get(path, ""), right.get(path, "")
        out.append(FileDiff(path, side_by_side(a, b), a == b))
    return out


def submission_vs_reference(*, submission: Submission) -> list[FileDiff]:
    """A submission's learner files against the module's reference of the same paths."""
    references = (submission.module.payload or {}).get("references", {})
    files = submission.files or {}
    return files_diff(files, {path: references.get(path, "") for path in files})


def match_diff(*, match: Match) -> list[FileDiff]:
    """The two sides of ``match`` (the other learner's files, or the reference) side by side."""
    if match.other is None:
        return submission_vs_reference(submission=match.submission)
    return files_diff(match.submission.files or {}, match.other.files or {})
