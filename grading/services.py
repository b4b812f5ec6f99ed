"""Writes for grading: create submissions, record streamed events, record the one verdict; code tools.

Design choices:
- ``submission_create`` validates (module unlocked, only the module's editable files, text only, size cap, rate
  limit), writes the row and enqueues grading (``grading.queues``) with ``transaction.on_commit`` — a worker never
  sees an uncommitted id, and a rolled-back request enqueues nothing.
- Per-learner cap per lane (``LAB_QUEUE_MAX_PER_LEARNER`` runs queued or running): a submission past it replaces
  the learner's oldest still-queued run of the same module, which becomes ``superseded`` — terminal, never run,
  no Result and no verdict, ``superseded_by`` the new run; it stays in the attempts (and in ``Progress.attempts``,
  which counts what the learner submitted) so the history reads "replaced by attempt #N". When none of their runs
  of this module is waiting (the others are running, or wait for other modules), the submission is refused with
  429 ``queue_full`` rather than drop a run of another module. The learner's row is locked while this is decided,
  so two tabs cannot both slip under the cap.
- ``submission_claim`` is the grader's door (both modes): the next queued run of a lane in
  ``grading.queues.fair_order``, taken with a conditional update (``queued`` -> ``running``) that only one
  claimer can win — a loser tries the next run, and reads the lane again when all it saw were taken, so a worker
  never comes back empty while a run waits. ``token`` (the Celery message id) is stored as the run's ``claim``;
  ``submission_resume`` finds it again when the broker redelivers that message after its worker died, so the
  interrupted run is graded again (run 2) instead of waiting forever in ``running``.
- ``submission_start`` starts one given submission: a submission already done or superseded is skipped (a
  redelivered job after a worker died), otherwise its run counter goes up and the events of an interrupted run are
  dropped; ``submissions_recover`` puts runs a stopped embedded process left ``running`` back in the queue.
- Every change of a lane's queue (a submission, a supersede, a claim) pushes, after commit, each waiting learner's
  new ``queue`` info to their sockets (``events.push_queue``), so the page says why a run waits as it moves up.
- ``verdict_record`` is idempotent: it locks the submission row, and if a Result exists it returns it untouched.
  The one-to-one Result table makes a second verdict impossible even for racing workers. Progress and unlocks
  (modules services) are updated in the same transaction, then the verdict event is built from them
  (``selectors.verdict_event``: advice, attempt, progress, newly opened modules, next module); the websocket
  push happens after commit.
- Engine events are stored before they are pushed, so a page that opens or reconnects mid-grading can replay them.
  At most ``LAB_EVENTS_PER_SUBMISSION_MAX`` per run: the next one is replaced by a summary, later ones are
  neither stored nor pushed (the verdict is stored apart, always).
- Every string of an event or a verdict is made valid Unicode without NUL before it is stored
  (``grading.engine.redact``): learner code chose some of it, and PostgreSQL's JSONB refuses ``\u0000`` while a
  lone surrogate breaks every page that renders it.
- Lint/format run ``ruff`` as a subprocess with an argv list and the text on stdin: never a shell string, size and
  time capped, ``--isolated`` so no config file from the server's disk applies.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from datetime import timedelta
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from grading import events, queues, selectors
from grading.engine.redact import clean_tree
from grading.engine.schema import SCHEMA_VERSION
from grading.models import Result, Submission, SubmissionEvent
from modules import selectors as module_selectors
from modules import services as module_services
from modules import spec as module_spec
from modules.listeners import Listeners
from modules.models import Module
from modules.services import Forbidden, InvalidInput, RateLimited, ServiceError
from modules.spec import SubmissionError, submission_lane

log = logging.getLogger(__name__)

#: A verdict was recorded: ``listener(submission=..., result=...)`` (the result JSON), inside the verdict's
#: transaction; apps above grading (analytics) register here and keep their aggregates in step (grading imports none of them).
verdict_recorded = Listeners()

#: What counts against the per-learner cap of a lane.
QUEUE_STATUSES = (Submission.Status.QUEUED, Submission.Status.RUNNING)


class QueueFull(ServiceError):
    http_status = 429
    code = "queue_full"


# --- submissions --------------------------------------------------------------------------------------------------
def submission_create(*, user: User, module: Module, files: Any) -> Submission:
    """Validate and store a submission, then enqueue its grading after commit."""
    if not module_selectors.access_module_unlocked(user=user, module=module):
        raise Forbidden(_("this module is locked"), code="locked")
    files = module_services.files_validate(module=module, files=files)
    starters = module.payload.get("starters", {})
    complete = {
        entry["path"]: files.get(entry["path"], starters.get(entry["path"], ""))
        for entry in module.metadata.get("files", [])
    }
    # a run that compiles the learner's Rust crate takes minutes: it goes to the long lane
    lane = submission_lane(module_selectors.module_spec_of(module=module), complete)
    since = timezone.now() - timedelta(seconds=60)
    with transaction.atomic():
        recent = Submission.objects.filter(user=user, created_at__gte=since).count()
        if recent >= settings.LAB_SUBMISSIONS_PER_MINUTE:
            raise RateLimited(
                _("at most %(n)d submissions a minute; try again shortly")
                % {"n": settings.LAB_SUBMISSIONS_PER_MINUTE}
            )
        # one learner's submissions one at a time: two tabs must not both count themselves under the cap
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
        replaced = _make_room(user=user, module=module, lane=lane)
        submission = Submission.objects.create(
            user=user,
            module=module,
            files=complete,
            status=Submission.Status.QUEUED,
            lane=lane,
            content_hash=module.content_hash,
            created_at=timezone.now(),
        )
        superseded = None
        if replaced is not None:
            Submission.objects.filter(pk=replaced).update(superseded_by=submission)
            superseded = (replaced, submission.pk)
        module_services.progress_record_attempt(user=user, module=module)
        transaction.on_commit(partial(queues.enqueue, submission.pk))
        transaction.on_commit(partial(_lane_changed, lane=lane, user_id=user.pk, superseded=superseded))
    return submission


def _make_room(*, user: User, module: Module, lane: str) -> int | None:
    """Under the cap: nothing to do (None). At it: supersede the learner's oldest queued run of ``module`` and
    return its id, or refuse (``QueueFull``) when none of theirs waits. Called with the learner's row locked, so
    only workers race with it, and they only ever take queued runs: a run taken meanwhile is counted again."""
    cap = settings.LAB_QUEUE_MAX_PER_LEARNER
    while True:
        outstanding = list(
            Submission.objects.filter(user=user, lane=lane, status__in=QUEUE_STATUSES)
            .order_by("created_at", "id")
            .values_list("pk", "module_id", "status")
        )
        if len(outstanding) < cap:
            return None
        waiting = [
            pk
            for pk, module_id, status in outstanding
            if status == Submission.Status.QUEUED and module_id == module.pk
        ]
        if not waiting:
            raise _queue_full(runs=len(outstanding), lane=lane)
        taken = Submission.objects.filter(pk=waiting[0], status=Submission.Status.QUEUED).update(
            status=Submission.Status.SUPERSEDED, finished_at=timezone.now()
        )
        if taken:
            return waiting[0]


def _queue_full(*, runs: int, lane: str) -> QueueFull:
    message = _("%(n)d of your runs are waiting or being graded (%(lane)s queue); wait for one to finish")
    return QueueFull(message % {"n": runs, "lane": lane})


def _lane_changed(
    *, lane: str, user_id: int | None = None, superseded: tuple[int, int] | None = None
) -> None:
    """After commit: tell every learner waiting in ``lane`` where their runs stand now, and ``user_id`` that
    ``superseded`` = (old run, new run) was replaced. Best effort, like every push."""
    try:
        if superseded is not None and user_id is not None:
            old, new = superseded
            events.push_queue(
                user_id=user_id, submission_id=old, status="superseded", queue=None, superseded_by=new
            )
        snapshot = selectors.lane_snapshot(lane=lane)
        for run in snapshot.order:
            events.push_queue(
                user_id=run.learner,
                submission_id=run.id,
                status="queued",
                queue=selectors.queue_info(snapshot=snapshot, submission_id=run.id),
                superseded_by=None,
            )
    except Exception:  # a lost push must never fail a submission or a claim; the page can read the detail
        log.warning("could not push the %s queue", lane, exc_info=True)


def submission_claim(*, lane: str, token: str = "") -> Submission | None:
    """Start the next queued run of ``lane`` (round-robin between learners); None when none waits.

    ``token`` identifies who claims (the Celery message id; empty for the embedded worker): ``submission_resume``
    finds the run by it after a redelivery.
    """
    while True:
        order = selectors.lane_snapshot(lane=lane).order
        if not order:
            return None
        for run in order:
            submission = _claim_one(submission_id=run.id, token=token)
            if submission is not None:
                transaction.on_commit(partial(_lane_changed, lane=lane))
                return submission


def _claim_one(*, submission_id: int, token: str) -> Submission | None:
    with transaction.atomic():
        taken = Submission.objects.filter(pk=submission_id, status=Submission.Status.QUEUED).update(
            status=Submission.Status.RUNNING, runs=F("runs") + 1, started_at=timezone.now(), claim=token
        )
        if not taken:
            return None
        submission = Submission.objects.select_related("module").get(pk=submission_id)
        SubmissionEvent.objects.filter(submission=submission, run__lt=submission.runs).delete()
    return submission


def submission_resume(*, token: str) -> Submission | None:
    """The run that the message ``token`` claimed and that never finished (its worker died), started again."""
    if not token:
        return None
    interrupted = (
        Submission.objects.filter(claim=token, status=Submission.Status.RUNNING)
        .values_list("pk", flat=True)
        .first()
    )
    if interrupted is None:
        return None
    return submission_start(submission_id=interrupted)


def submissions_recover() -> int:
    """Put the runs a stopped process left ``running`` back in their lanes (embedded mode, at start); a run that
    has already started ``LAB_GRADING_MAX_RUNS`` times gets its platform-error verdict instead. Returns how many
    runs wait in the queue now."""
    for submission_id in Submission.objects.filter(
        status=Submission.Status.RUNNING, runs__gte=settings.LAB_GRADING_MAX_RUNS
    ).values_list("pk", flat=True):
        submission_start(submission_id=submission_id)  # records the platform-error verdict
    Submission.objects.filter(status=Submission.Status.RUNNING).update(
        status=Submission.Status.QUEUED, claim=""
    )
    return Submission.objects.filter(status=Submission.Status.QUEUED).count()


def submission_start(*, submission_id: int) -> Submission | None:
    """Mark a submission running for a new run; None when it is missing, has its verdict or was superseded.

    A job that keeps killing its workers (it has already started ``LAB_GRADING_MAX_RUNS`` times) is not run again:
    it gets a platform-error verdict instead, so a poison job cannot circle through the workers forever.
    """
    with transaction.atomic():
        submission = (
            Submission.objects.select_for_update(of=("self",))
            .filter(pk=submission_id)
            .select_related("module")
            .first()
        )
        if submission is None or submission.status in (Submission.Status.DONE, Submission.Status.SUPERSEDED):
            return None
        if submission.runs >= settings.LAB_GRADING_MAX_RUNS:
            exhausted = True
        else:
            exhausted = False
            submission.runs += 1
            submission.status = Submission.Status.RUNNING
            submission.started_at = timezone.now()
            submission.save(update_fields=["runs", "status", "started_at"])
            SubmissionEvent.objects.filter(submission=submission, run__lt=submission.runs).delete()
    if exhausted:
        message = _("grading was interrupted %(n)d times; please submit again") % {"n": submission.runs}
        verdict_record(
            submission_id=submission.pk, result=platform_error_result(submission=submission, message=message)
        )
        return None
    return submission


def _capped_event(event: dict[str, Any]) -> dict[str, Any]:
    limit = settings.LAB_EVENT_OUTPUT_MAX_CHARS
    if event.get("type") == "output" and isinstance(event.get("data"), str) and len(event["data"]) > limit:
        return {**event, "data": event["data"][:limit] + "\n… (output truncated)"}
    return event


def submission_event_record(*, submission: Submission, event: dict[str, Any]) -> None:
    """Store one engine event of the current run (cleaned, up to the per-run cap), then push it to the learner."""
    event = clean_tree(_capped_event(event))
    seq = event.get("seq")
    if not isinstance(seq, int) or seq < 0:
        seq = SubmissionEvent.objects.filter(submission=submission, run=submission.runs).count()
    cap = settings.LAB_EVENTS_PER_SUBMISSION_MAX
    if seq > cap:
        return
    if seq == cap:
        # Worded like the engine's own notes in output (untranslated): it stands in for output.
        note = f"\n[further events of this run were not stored: it sent more than {cap}]\n"
        event = {"type": "output", "seq": seq, "t": event.get("t", 0), "stream": "stderr", "test_id": None}
        event["data"] = note
    try:
        with transaction.atomic():
            SubmissionEvent.objects.create(
                submission=submission,
                run=submission.runs,
                seq=seq,
                type=str(event.get("type", ""))[:32],
                event=event,
                created_at=timezone.now(),
            )
    except IntegrityError:  # the same event delivered twice: keep the first
        return
    transaction.on_commit(
        partial(events.push, user_id=submission.user_id, submission_id=submission.pk, event=event)
    )


def platform_error_result(*, submission: Submission, message: str) -> dict[str, Any]:
    """A schema-1 result for "we could not grade this" (never the learner's fault)."""
    now = timezone.now().isoformat()
    return {
        "schema_version": SCHEMA_VERSION,
        "status": "error",
        "outcome": "platform_error",
        "fault": "platform",
        "message": message,
        "score": 0,
        "max_score": 0,
        "tests": [],
        "metrics": {},
        "usage": {"wall_seconds": 0.0, "cpu_seconds": 0.0, "max_rss_bytes": None},
        "timestamps": {
            "queued": submission.created_at.isoformat(),
            "started": submission.started_at.isoformat() if submission.started_at else now,
            "finished": now,
        },
        "module": submission.module.slug,
        "submission_id": str(submission.pk),
    }


def verdict_record(*, submission_id: int, result: dict[str, Any]) -> tuple[Result, bool]:
    """Record the verdict of a submission exactly once; returns (result row, created)."""
    if not isinstance(result, dict) or result.get("status") not in {"pass", "fail", "error"}:
        raise InvalidInput("result must be a schema-1 result with a status", code="result_invalid")
    result = clean_tree(result)
    with transaction.atomic():
        submission = (
            Submission.objects.select_for_update(of=("self",)).select_related("module").get(pk=submission_id)
        )
        existing = Result.objects.filter(submission=submission).first()
        if existing is not None:
            return existing, False
        if submission.status == Submission.Status.SUPERSEDED:
            raise InvalidInput("a superseded submission is never graded", code="superseded")
        locked_before = module_selectors.locked_module_slugs(user=submission.user)
        now = timezone.now()
        row = Result.objects.create(
            submission=submission,
            status=result["status"],
            outcome=str(result.get("outcome") or "")[:32],
            score=float(result.get("score") or 0.0),
            max_score=float(result.get("max_score") or 0.0),
            result=result,
            created_at=now,
        )
        submission.status = Submission.Status.DONE
        submission.finished_at = now
        submission.save(update_fields=["status", "finished_at"])
        module_services.progress_record_verdict(
            user=submission.user, module=submission.module, submission_id=submission.pk, result=result
        )
        verdict_recorded.notify(submission=submission, result=result)
        last_seq = (
            SubmissionEvent.objects.filter(submission=submission, run=submission.runs)
            .order_by("-seq")
            .values_list("seq", flat=True)
            .first()
        )
        event = selectors.verdict_event(
            submission=submission,
            result=result,
            seq=(last_seq + 1) if last_seq is not None else 0,
            locked_before=locked_before,
        )
        SubmissionEvent.objects.create(
            submission=submission,
            run=max(submission.runs, 1),
            seq=event["seq"],
            type="verdict",
            event=event,
            created_at=now,
        )
        transaction.on_commit(
            partial(events.push, user_id=submission.user_id, submission_id=submission.pk, event=event)
        )
    return row, True


# --- code tools ---------------------------------------------------------------------------------------------------
class ToolFailed(ServiceError):
    http_status = 400
    code = "tool_failed"


def _ruff() -> str:
    candidate = Path(sys.executable).with_name("ruff")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("ruff")
    if not found:
        raise ToolFailed("ruff is not installed on the server", code="tool_missing")
    return found


def _tool_input(path: Any, text: Any) -> tuple[str, str]:
    """A lint/format request: a relative .py path and its text, under the module spec's per-file rule."""
    if not isinstance(path, str) or not path or len(path) > 200:
        raise InvalidInput("path must be a file path", code="path_invalid")
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or "\\" in path or pure.suffix not in {".py", ".pyi"}:
        raise InvalidInput("path must be a relative .py path", code="path_invalid")
    if not isinstance(text, str):
        raise InvalidInput("text must be a string", code="text_invalid")
    try:
        text = module_spec.text_check(path, text, module_spec.DEFAULT_FILE_BYTES)
    except SubmissionError as exc:
        raise InvalidInput(module_services.submission_error_message(exc), code=exc.code) from None
    return path, text


def _run_tool(argv: list[str], text: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(  # argv list, no shell; the text goes to stdin
            argv,
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=settings.LAB_TOOL_TIMEOUT_SECONDS,
            check=False,
            env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"},
        )
    except subprocess.TimeoutExpired:
        raise ToolFailed(_("the tool took too long"), code="tool_timeout") from None


def code_lint(*, path: Any, text: Any) -> list[dict[str, Any]]:
    """Ruff diagnostics: [{code, message, line, column, end_line, end_column, severity, fixable}]."""
    path, text = _tool_input(path, text)
    argv = [
        _ruff(),
        "check",
        "--isolated",
        "--no-cache",
        "--output-format",
        "json",
        "--stdin-filename",
        PurePosixPath(path).name,
        "-",
    ]
    proc = _run_tool(argv, text)
    if proc.returncode not in (0, 1):
        raise ToolFailed(proc.stderr.decode("utf-8", "replace")[:2000] or "ruff failed")
    try:
        raw = json.loads(proc.stdout.decode("utf-8") or "[]")
    except ValueError:
        raise ToolFailed("ruff produced unreadable output") from None
    return [
        {
            "code": item.get("code"),
            "message": item.get("message", ""),
            "line": (item.get("location") or {}).get("row"),
            "column": (item.get("location") or {}).get("column"),
            "end_line": (item.get("end_location") or {}).get("row"),
            "end_column": (item.get("end_location") or {}).get("column"),
            "severity": "error"
            if not item.get("code") or str(item.get("code")).startswith(("E9", "F8"))
            else "warning",
            "fixable": item.get("fix") is not None,
        }
        for item in raw
    ]


def code_format(*, path: Any, text: Any) -> str:
    """The text formatted by ``ruff format`` (line length 110, as in the repository)."""
    path, text = _tool_input(path, text)
    argv = [
        _ruff(),
        "format",
        "--isolated",
        "--no-cache",
        "--line-length",
        "110",
        "--stdin-filename",
        PurePosixPath(path).name,
        "-",
    ]
    proc = _run_tool(argv, text)
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip()[:2000]
        raise ToolFailed(message or _("ruff could not format this file"), code="format_failed")
    return proc.stdout.decode("utf-8")
