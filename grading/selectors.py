"""Reads for grading, including ``access_submission`` (one condition per line).

Design choices:
- A learner sees only their own submissions; instructors see everyone's (read-only, through the API and admin).
- What learners see of hidden tests is cut down here a second time (the engine already neutralises messages):
  no output, no metrics, and only the hidden tests' name/status/neutral message; their durations, the times of
  the events around them and the run's usage in whole seconds, no peak memory (``grading.engine.redact``).
- Stored events and results are handed out cleaned once more (``redact.clean_tree``), to learners and
  instructors alike: a row written before the services cleaned everything must still render.
- Feedback rules (``feedback.yaml``) are matched against the verdict here and returned as ``advice``.
- The verdict event carries what the module page shows after a run (advice, the attempt, progress, the modules
  it opened, the next module), so a page follows a run over the websocket alone.
- Why a run waits (``queue_info``) is read from the lane as the scheduler sees it (``lane_snapshot``: the queued
  rows in ``grading.queues.fair_order``, who has runs going), so the position shown is the order runs are taken.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Max
from django.urls import reverse

from grading.engine import exporters
from grading.engine.redact import clean_tree, coarse_duration, coarse_time, learner_usage
from grading.models import Result, Submission, SubmissionEvent
from grading.queues import Waiting, fair_order
from modules import gates
from modules.models import CarryForward, Module, Progress
from modules.selectors import (
    PASSED_STATUSES,
    bilingual,
    localize,
    module_spec_of,
    module_standing,
    module_states,
    user_is_instructor,
)
from modules.starters import foreign_stubs


def access_submission(*, user: User | AnonymousUser, submission: Submission) -> bool:
    if not user.is_authenticated:
        return False
    if submission.user_id == user.pk:
        return True
    return user_is_instructor(user)


def access_gradebook(*, user: User | AnonymousUser) -> bool:
    return user_is_instructor(user)


def access_submission_subscribe(*, user: User | AnonymousUser, submission: Submission) -> bool:
    """Websocket subscriptions: strictly one's own submissions (the group is per learner)."""
    if not user.is_authenticated:
        return False
    return submission.user_id == user.pk


def submission_get(*, submission_id: int) -> Submission | None:
    return Submission.objects.select_related("module", "result").filter(pk=submission_id).first()


def submissions_for(*, user: User, module: Module, limit: int = 100) -> list[Submission]:
    """The learner's attempts at ``module``, newest first (2 queries: rows + their results)."""
    return list(
        Submission.objects.filter(user=user, module=module)
        .select_related("result")
        .defer("files", "result__result")
        .order_by("-created_at", "-id")[:limit]
    )


def _result_summary(result: Result | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "status": result.status,
        "outcome": result.outcome,
        "score": result.score,
        "max_score": result.max_score,
    }


def submission_summary(submission: Submission) -> dict[str, Any]:
    """One attempt in lists: {id, status, created_at, finished_at, result {status, outcome, score, max_score}|null,
    superseded_by (the id of the run that replaced it while it waited)|null, url}."""
    result = getattr(submission, "result", None) if submission.status == Submission.Status.DONE else None
    return {
        "id": submission.pk,
        "status": submission.status,
        "created_at": submission.created_at.isoformat(),
        "finished_at": submission.finished_at.isoformat() if submission.finished_at else None,
        "result": _result_summary(result),
        "superseded_by": submission.superseded_by_id,
        "url": f"/api/submissions/{submission.pk}/",
    }


# --- the queue ----------------------------------------------------------------------------------------------------
@dataclass
class LaneSnapshot:
    """A lane as the scheduler sees it: its queued runs in the order they will be taken, and who has runs going."""

    lane: str
    order: list[Waiting[int]]
    #: user id -> their running submissions in the lane
    running: Counter[int] = field(default_factory=Counter)
    #: queued submission id -> module id
    modules: dict[int, int] = field(default_factory=dict)


def lane_snapshot(*, lane: str) -> LaneSnapshot:
    """The lane's queued runs in ``fair_order`` and its running runs per learner (3 queries)."""
    queued = list(
        Submission.objects.filter(lane=lane, status=Submission.Status.QUEUED).values_list(
            "pk", "user_id", "module_id", "created_at"
        )
    )
    users = {user_id for _, user_id, _, _ in queued}
    last_served = dict(
        Submission.objects.filter(lane=lane, user_id__in=users, started_at__isnull=False)
        .values("user_id")
        .annotate(last=Max("started_at"))
        .values_list("user_id", "last")
    )
    running = Counter(
        Submission.objects.filter(lane=lane, user_id__in=users, status=Submission.Status.RUNNING).values_list(
            "user_id", flat=True
        )
    )
    waiting = [Waiting(id=pk, learner=user_id, created_at=created) for pk, user_id, _, created in queued]
    return LaneSnapshot(
        lane=lane,
        order=fair_order(waiting, last_served),
        running=running,
        modules={pk: module_id for pk, _, module_id, _ in queued},
    )


def lanes_stalled(*, lanes: Iterable[str], since: datetime) -> list[str]:
    """The lanes among ``lanes`` in which a run has waited (``queued``) since before ``since`` while no run of the
    lane started since then (its workers are not busy with it: their wake-ups were lost), sorted."""
    waiting = set(
        Submission.objects.filter(status=Submission.Status.QUEUED, lane__in=list(lanes), created_at__lt=since)
        .values_list("lane", flat=True)
        .distinct()
    )
    busy = set(
        Submission.objects.filter(lane__in=waiting, started_at__gte=since)
        .values_list("lane", flat=True)
        .distinct()
    )
    return sorted(waiting - busy)


def queue_info(*, snapshot: LaneSnapshot, submission_id: int) -> dict[str, Any] | None:
    """Why a queued run waits (``common.schema.json#/$defs/queue_info``); None when it is not waiting in the lane.

    ``position``: 1 + the runs the scheduler takes before it; ``learners_ahead``: other learners with a run before
    it; ``waiting_for_own``: the learner has an earlier run going or waiting before it in this lane;
    ``next_run_replaces``: the learner is at the cap (``LAB_QUEUE_MAX_PER_LEARNER`` runs queued or running in the
    lane) and this is the run their next submission of the module would replace.
    """
    index = next((i for i, run in enumerate(snapshot.order) if run.id == submission_id), None)
    if index is None:
        return None
    me = snapshot.order[index].learner
    ahead = snapshot.order[:index]
    own_queued = [run for run in snapshot.order if run.learner == me]
    cap = int(settings.LAB_QUEUE_MAX_PER_LEARNER)
    module_id = snapshot.modules.get(submission_id)
    oldest_of_module = min(
        (run for run in own_queued if snapshot.modules.get(run.id) == module_id),
        key=lambda run: (run.created_at, run.id),
    )
    return {
        "lane": snapshot.lane,
        "position": index + 1,
        "learners_ahead": len({run.learner for run in ahead if run.learner != me}),
        "waiting_for_own": snapshot.running[me] > 0 or any(run.learner == me for run in ahead),
        "next_run_replaces": snapshot.running[me] + len(own_queued) >= cap
        and oldest_of_module.id == submission_id,
        "cap": cap,
    }


def _seconds(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _learner_view_of_test(test: dict[str, Any]) -> dict[str, Any]:
    if test.get("visibility") != "hidden":
        return test
    duration = coarse_duration(_seconds(test.get("duration_seconds")))
    return {**test, "output": "", "metrics": {}, "duration_seconds": duration}


def _about_hidden_timing(event: dict[str, Any]) -> bool:
    """Events whose time could tell how long a hidden test took: its own, and the run's phases and verdict."""
    test = event.get("test")
    hidden_test = isinstance(test, dict) and test.get("visibility") == "hidden"
    return event.get("type") in ("phase", "verdict") or event.get("visibility") == "hidden" or hidden_test


def learner_view_of_event(event: dict[str, Any]) -> dict[str, Any]:
    event = clean_tree(event)
    if _about_hidden_timing(event) and "t" in event:
        event["t"] = coarse_time(_seconds(event["t"]))
    if event.get("type") == "test_finished" and isinstance(event.get("test"), dict):
        return {**event, "test": _learner_view_of_test(event["test"])}
    if event.get("type") == "verdict" and isinstance(event.get("result"), dict):
        return {**event, "result": learner_view_of_result(event["result"])}
    return event


def learner_view_of_result(result: dict[str, Any]) -> dict[str, Any]:
    result = clean_tree(result)
    tests = result.get("tests")
    if not isinstance(tests, list):
        return result
    return {
        **result,
        "tests": [_learner_view_of_test(t) if isinstance(t, dict) else t for t in tests],
        "usage": learner_usage(result),
    }


def feedback_advice(*, module: Module, result: dict[str, Any]) -> list[dict[str, Any]]:
    """feedback.yaml rules whose ``match`` fits the verdict or one of its failing tests: ``[{id, advice {en, zh}}]``
    (language-neutral; ``submission_detail`` localises, the verdict event leaves the choice to the page)."""
    advice = []
    tests = [t for t in result.get("tests") or [] if isinstance(t, dict)]
    for rule in module.payload.get("feedback", []):
        match = rule.get("match") or {}
        statuses = {match["status"]} if match.get("status") else {"fail", "error"}
        candidates = [(result.get("status"), result.get("message", ""), "")]
        candidates += [(t.get("status"), t.get("message", ""), t.get("output", "")) for t in tests]
        for status, message, output in candidates:
            if status not in statuses:
                continue
            if match.get("message_regex") and not re.search(match["message_regex"], str(message)[:8192]):
                continue
            if match.get("output_regex") and not re.search(match["output_regex"], str(output)[:8192]):
                continue
            advice.append({"id": str(rule.get("id")), "advice": bilingual(rule.get("advice") or {})})
            break
    return advice


def verdict_event(
    *, submission: Submission, result: dict[str, Any], seq: int, locked_before: set[str]
) -> dict[str, Any]:
    """The verdict as stored and pushed: ``{type, seq, result, advice, attempt, progress, unlocked, next_module}``,
    everything the module page updates after a run, in one frame and in no particular language
    (``events.schema.json#/$defs/verdict``). Called once progress and unlocks are recorded; ``locked_before`` is
    what was locked before. The advice is matched against the learner's view of the result, as the submission
    detail matches it, so hidden tests' output never shapes it."""
    return {
        "type": "verdict",
        "seq": seq,
        "result": result,
        "advice": feedback_advice(module=submission.module, result=learner_view_of_result(result)),
        "attempt": submission_summary(submission),
        **module_standing(user=submission.user, module=submission.module, locked_before=locked_before),
    }


def submission_detail(*, submission: Submission, lang: str, for_instructor: bool = False) -> dict[str, Any]:
    """Files, the result (or null), the events so far of the latest run, and while it waits why (``queue``)."""
    result_row = getattr(submission, "result", None) if submission.status == Submission.Status.DONE else None
    stored = list(
        SubmissionEvent.objects.filter(submission=submission, run__gte=max(submission.runs, 1))
        .order_by("seq")
        .values_list("event", flat=True)
    )
    result = clean_tree(result_row.result) if result_row else None
    if for_instructor:
        stored = clean_tree(stored)
    else:
        stored = [learner_view_of_event(e) for e in stored]
        result = learner_view_of_result(result) if result else None
    queue = None
    if submission.status == Submission.Status.QUEUED:
        queue = queue_info(snapshot=lane_snapshot(lane=submission.lane), submission_id=submission.pk)
    return {
        "id": submission.pk,
        "module": submission.module.slug,
        "status": submission.status,
        "queue": queue,
        "superseded_by": submission.superseded_by_id,
        "created_at": submission.created_at.isoformat(),
        "started_at": submission.started_at.isoformat() if submission.started_at else None,
        "finished_at": submission.finished_at.isoformat() if submission.finished_at else None,
        "content_hash": submission.content_hash,
        "files": submission.files,
        "result": result,
        "advice": [
            {"id": a["id"], "advice": localize(a["advice"], lang)}
            for a in (feedback_advice(module=submission.module, result=result) if result else [])
        ],
        "events": stored,
    }


def submission_events(*, submission: Submission, for_instructor: bool = False) -> list[dict[str, Any]]:
    """Stored events of the latest run, for websocket replay."""
    stored = list(
        SubmissionEvent.objects.filter(submission=submission, run__gte=max(submission.runs, 1))
        .order_by("seq")
        .values_list("event", flat=True)
    )
    if for_instructor:
        return clean_tree(stored)
    return [learner_view_of_event(e) for e in stored]


def workspace_inputs(*, submission: Submission) -> tuple[set[str], dict[str, bytes]]:
    """What shapes the learner's sandbox for ``submission`` (``grading.engine.workspace.build_workspace``).

    ``done``: the modules whose solutions the learner may read — the ones they passed (instructors: every module).
    ``provided``: for each nanochat file the module needs that a done module's learner writes, the learner's own
    file from their latest passing attempt of the latest such module ("carry my work forward"), unless they chose
    the reference for that module (``Progress.carry_forward``). Other needs are left to the engine, which gives the
    reference with the parts of modules they have not done cut out (4 queries).
    """
    user = submission.user
    modules = list(
        Module.objects.filter(status=Module.Status.ACTIVE).defer("payload").order_by("order", "slug")
    )
    if user_is_instructor(user):
        return {m.slug for m in modules}, {}
    progress = Progress.objects.filter(user=user, status__in=PASSED_STATUSES).values_list(
        "module__slug", "carry_forward"
    )
    done = {slug for slug, _ in progress}
    own = {slug for slug, use in progress if use == CarryForward.OWN}
    writers: dict[str, list[Module]] = {}
    for module in modules:
        for entry in module.metadata.get("files") or []:
            writers.setdefault(entry["path"], []).append(module)
    sources = {
        path: max((m for m in writers.get(path, []) if m.slug in done), key=lambda m: (m.order, m.slug))
        for path in module_spec_of(module=submission.module).needs
        if any(m.slug in done for m in writers.get(path, []))
    }
    sources = {path: module for path, module in sources.items() if module.slug in own}
    passing = (
        Submission.objects.filter(
            user=user, module__in={m.pk for m in sources.values()}, result__status=Result.Status.PASS
        )
        .order_by("-created_at", "-id")
        .only("module_id", "files")
    )
    latest: dict[int, dict[str, str]] = {}
    for row in passing:
        latest.setdefault(row.module_id, row.files)
    provided = {
        path: latest[module.pk][path].encode("utf-8")
        for path, module in sources.items()
        if path in latest.get(module.pk, {})
    }
    return done, provided


# --- the reference gate ---------------------------------------------------------------------------------------------
#: Attempts read to decide which steps' reference is open (the newest; effort needs only a few versions).
REFERENCE_GATE_ATTEMPTS = 200


def reference_gate(*, user: User, module: Module) -> gates.ReferenceGate:
    """Which steps of ``module``'s reference ``user`` has opened (``modules.gates``): a step whose tests all
    passed in one attempt, or after enough different versions of its code; instructors see every step."""
    spec = module_spec_of(module=module)
    payload = module.payload or {}
    if user_is_instructor(user):
        return gates.reference_gate(spec, starters={}, references={}, attempts=(), instructor=True)
    rows = (
        Submission.objects.filter(user=user, module=module)
        .select_related("result")
        .order_by("-created_at")
        .only("files", "result__result")[:REFERENCE_GATE_ATTEMPTS]
    )
    attempts = [(row.files or {}, _stored_result(row)) for row in rows]
    return gates.reference_gate(
        spec,
        starters=payload.get("starters", {}),
        references=payload.get("references", {}),
        attempts=attempts,
    )


def _stored_result(submission: Submission) -> dict[str, Any] | None:
    try:
        return submission.result.result
    except Result.DoesNotExist:
        return None


def reference_files(*, user: User, module: Module, gate: gates.ReferenceGate) -> dict[str, str]:
    """The reference as ``gate`` shows it to ``user``: closed steps cut, and the parts of other modules in the
    same files that ``user`` has not passed cut too (instructors: everything)."""
    spec = module_spec_of(module=module)
    references = (module.payload or {}).get("references", {})
    if user_is_instructor(user):
        return dict(references)
    modules = list(Module.objects.filter(status=Module.Status.ACTIVE).defer("payload"))
    course = {m.slug: module_spec_of(module=m) for m in modules}
    course[spec.slug] = spec
    passed = set(
        Progress.objects.filter(user=user, status__in=PASSED_STATUSES).values_list("module__slug", flat=True)
    )
    allowed = passed | {spec.slug}
    foreign = {entry.path: foreign_stubs(entry.path, course, allowed) for entry in spec.files}
    return gates.reference_files(spec, references, gate, foreign=foreign)


EXPORT_FORMATS = ("gradescope", "exercism", "prairielearn")


def submission_export(
    *, submission: Submission, export_format: str, for_instructor: bool
) -> dict[str, Any] | None:
    """The graded result of ``submission`` in an autograder format (``grading.engine.exporters``), as its viewer
    sees it (learners: hidden tests reduced, as in ``submission_detail``); None while it has no result."""
    result_row = getattr(submission, "result", None) if submission.status == Submission.Status.DONE else None
    if result_row is None:
        return None
    result = clean_tree(result_row.result)
    if not for_instructor:
        result = learner_view_of_result(result)
    if export_format == "gradescope":
        return exporters.to_gradescope(result)
    if export_format == "exercism":
        return exporters.to_exercism(result, steps=module_spec_of(module=submission.module).step_ids)
    return exporters.to_prairielearn(result)


# --- my measurements ----------------------------------------------------------------------------------------------
#: What a visible test calls to record a measurement (the ``metrics`` fixture of the module's tests).
_RECORDS_METRICS = "metrics.record("


def _module_measures(module: Module) -> bool:
    """Whether ``module``'s visible tests record measurements."""
    return _tests_record_metrics(str(Path(settings.LAB_CONTENT_DIR) / module.slug), module.content_hash)


@functools.lru_cache(maxsize=256)
def _tests_record_metrics(module_dir: str, content_hash: str) -> bool:
    """Whether the visible tests in ``module_dir`` record measurements (read once per content version)."""
    folder = Path(module_dir) / "tests" / "visible"
    try:
        return any(_RECORDS_METRICS in p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.py")))
    except OSError:
        return False


def _chosen_results(*, user: User, module_ids: list[int]) -> dict[int, Result]:
    """Per module: the learner's best passing result (highest score, then newest), else their newest result.
    Two queries: the candidates' small columns, then the chosen results whole."""
    rows = Result.objects.filter(submission__user=user, submission__module_id__in=module_ids).values_list(
        "pk", "submission__module_id", "status", "score", "created_at"
    )
    best: dict[int, tuple[bool, float, Any, int]] = {}
    for pk, module_id, status, score, created_at in rows:
        passed = status == Result.Status.PASS
        key = (passed, score if passed else 0.0, created_at, pk)
        if module_id not in best or key > best[module_id]:
            best[module_id] = key
    chosen = Result.objects.filter(pk__in=[key[3] for key in best.values()])
    return {r.submission.module_id: r for r in chosen.select_related("submission")}


def _reference_plots(figures: Any, lang: str) -> list[dict[str, str]]:
    """The plots a module's guides show, computed from its reference (``modules.figures``): {key, plot (the spec
    text in ``lang``, else English)}."""
    if not isinstance(figures, dict):
        return []
    key_lang = "zh" if lang.startswith("zh") else "en"
    return [
        {"key": key, "plot": figure.get(key_lang) or figure.get("en") or ""}
        for key, figure in sorted(figures.items())
        if isinstance(figure, dict) and figure.get("kind") == "plot"
    ]


def measurements_for(*, user: User, lang: str) -> dict[str, Any]:
    """``/measurements/``'s data: ``modules`` [{slug, order, title, url, attempt {submission_id, passed, score,
    max_score, at}, metrics, reference [{key, plot}]}] (the open modules where the learner's chosen attempt
    recorded metrics; ``_chosen_results``), and ``producers`` [{slug, order, title, url | null, state}] (every
    active module whose visible tests record measurements). 6 queries."""
    states = module_states(user=user)
    open_ids = [s.module.pk for s in states if s.state != "locked"]
    results = _chosen_results(user=user, module_ids=open_ids)
    figures = dict(Module.objects.filter(pk__in=list(results)).values_list("pk", "payload__figures"))
    modules, producers = [], []
    for state in states:
        module = state.module
        url = None if state.state == "locked" else reverse("module-page", args=[module.slug])
        title = localize(module.title, lang)
        if _module_measures(module):
            producers.append(
                {"slug": module.slug, "order": module.order, "title": title, "url": url, "state": state.state}
            )
        result = results.get(module.pk)
        metrics = (result.result.get("metrics") if result is not None else None) or {}
        if result is None or not isinstance(metrics, dict) or not metrics:
            continue
        modules.append(
            {
                "slug": module.slug,
                "order": module.order,
                "title": title,
                "url": url,
                "attempt": {
                    "submission_id": result.submission_id,
                    "passed": result.status == Result.Status.PASS,
                    "score": result.score,
                    "max_score": result.max_score,
                    "at": result.created_at.isoformat(),
                },
                "metrics": clean_tree(metrics),
                "reference": _reference_plots(figures.get(module.pk), lang),
            }
        )
    return {"modules": modules, "producers": producers}
