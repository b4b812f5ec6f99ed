"""Writes of "assemble your own nanochat": request a run, take it from the lane, record its events, chat.

Design choices:
- ``assemble_create`` checks the gate (``selectors.access_assemble``: every module of the stage completed), freezes
  the learner's files (their best passing submission per module), writes the ``queued`` row in the lane
  (``assemble_lane``: the routing rule ``lane_of`` on the stage's needs — ``gpu`` when a GPU worker serves that
  queue, else ``long``) and wakes a worker after commit. One run per learner at a time: the database refuses a
  second active row, reported as ``assemble_busy`` (409). A run left ``running`` by a dead worker for longer than
  the job could have lived is closed as failed first, so it never blocks its learner for good.
- Events go to the row first (progress, the loss curve, bounded by the engine), then to the learner's websocket
  group after commit (``grading.events.push_assemble``).
- Deleting an account deletes its assembled models on disk (``assemble_forget``, after the deletion commits; the
  rows go by cascade). A run that ends after its learner was deleted keeps nothing (``grading.assemble.jobs``).
- ``assemble_reply_create`` queues one prompt (at most ``PROMPT_CHARS`` characters) for the learner's model and
  the reference's on the ``short`` lane and returns at once; a worker of the lane answers it
  (``grading.assemble.jobs.assemble_reply_next``: two sandboxed jobs, ``grading.engine.assemble.reply``), so no
  learner code, no torch and no wait runs in the web request. One reply per learner at a time (the database's
  constraint, 409 ``assemble_busy``); one whose worker died is closed as failed after its cap. The text so far
  goes to the learner's websocket as it is generated (``reply`` events, not stored), then ``reply_end`` after the
  answers are saved.
"""

from __future__ import annotations

import logging
import shutil
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grading import events, queues
from grading.assemble import selectors
from grading.assemble.models import AssembleReply, AssembleRun
from modules.services import Conflict, Forbidden, InvalidInput
from modules.spec import lane_of

Job = TypeVar("Job", AssembleRun, AssembleReply)

log = logging.getLogger(__name__)

PROMPT_CHARS = 500
#: The lane replies wait in: a reply takes seconds (``DECISIONS.md``, "Queues").
REPLY_LANE = "short"
#: Seconds past its own cap after which a ``running`` run is taken for one whose worker died.
STALE_MARGIN_SECONDS = 120


class AssembleBusy(Conflict):
    code = "assemble_busy"


class AssembleLocked(Forbidden):
    code = "assemble_locked"


def assemble_lane() -> str:
    """The lane of an assemble run: ``gpu`` when a GPU worker serves that queue (production), else ``long``."""
    gpu = settings.LAB_GPU_WORKER and settings.LAB_GRADING_QUEUE == "celery"
    return lane_of({"lane": "long", "limits": {"gpu": gpu}})


def _close_stale(*, user: User) -> None:
    cutoff = timezone.now() - timedelta(seconds=settings.LAB_ASSEMBLE_WALL_SECONDS + STALE_MARGIN_SECONDS)
    AssembleRun.objects.filter(user=user, status=AssembleRun.Status.RUNNING, started_at__lt=cutoff).update(
        status=AssembleRun.Status.FAILED, message="the worker running it stopped", finished_at=timezone.now()
    )


def assemble_create(*, user: User, stage: Any) -> AssembleRun:
    """Queue an assemble run of ``stage`` for ``user`` with their own files; raises if locked or one is active."""
    if not isinstance(stage, str) or stage not in selectors.STAGES:
        raise InvalidInput(_("no such stage"))
    if not selectors.access_assemble(user=user, stage=stage):
        raise AssembleLocked(_("complete every module of this stage first"))
    if stage == "chat" and selectors.run_latest(user=user, stage="base", done=True) is None:
        raise AssembleLocked(_("assemble your base model first: the chat model starts from it"))
    _close_stale(user=user)
    files = selectors.own_files(user=user, slugs=selectors.stage_modules(stage=stage))
    lane = assemble_lane()
    try:
        with transaction.atomic():
            run = AssembleRun.objects.create(
                user=user, stage=stage, lane=lane, files=files, created_at=timezone.now()
            )
    except IntegrityError:
        raise AssembleBusy(_("one assemble run at a time: wait for the current one to finish")) from None
    transaction.on_commit(partial(queues.wake, lane))
    return run


def _claim_oldest(model: type[Job], *, lane: str, token: str) -> Job | None:
    """Mark the oldest queued row of ``model`` in ``lane`` running, for ``token`` (each learner has at most one
    queued or running row, so oldest first is fair); rows another worker holds are skipped."""
    with transaction.atomic():
        job = (
            model.objects.select_for_update(skip_locked=True)
            .filter(lane=lane, status=AssembleRun.Status.QUEUED)
            .order_by("created_at", "id")
            .first()
        )
        if job is None:
            return None
        job.status, job.claim, job.started_at = AssembleRun.Status.RUNNING, token[:64], timezone.now()
        job.save(update_fields=["status", "claim", "started_at"])
    return job


def assemble_claim(*, lane: str, token: str = "") -> AssembleRun | None:
    """Take the oldest queued run of ``lane``."""
    run = _claim_oldest(AssembleRun, lane=lane, token=token)
    if run is not None:
        _push(run, {"type": "status", "status": run.status})
    return run


def assemble_event_record(*, run: AssembleRun, event: dict[str, Any]) -> None:
    """Keep a progress or loss event on the run, then push it to the learner."""
    if event.get("type") == "progress":
        run.progress, run.step = float(event["fraction"]), str(event["stage"])[:40]
        run.save(update_fields=["progress", "step"])
    elif event.get("type") == "metric":
        series = run.loss.setdefault(str(event["series"])[:60], {"x": [], "y": []})
        series["x"].append(event["x"])
        series["y"].append(event["y"])
        run.save(update_fields=["loss"])
    else:
        return
    _push(run, event)


def assemble_finish(*, run: AssembleRun, end: dict[str, Any]) -> AssembleRun:
    """Record how the run ended (the engine's ``end`` event; an empty one is a platform fault)."""
    ok = bool(end.get("ok"))
    run.status = AssembleRun.Status.DONE if ok else AssembleRun.Status.FAILED
    run.progress = 1.0 if ok else run.progress
    run.message = str(end.get("message") or ("" if ok else _("the assemble run failed")))[:4000]
    run.wall_seconds = end.get("wall_seconds")
    run.cpu_seconds = end.get("cpu_seconds")
    run.model_bytes = end.get("model_bytes")
    run.finished_at = timezone.now()
    run.save(
        update_fields=[
            "status",
            "progress",
            "message",
            "wall_seconds",
            "cpu_seconds",
            "model_bytes",
            "finished_at",
        ]
    )
    _push(run, {"type": "end", "status": run.status, "message": run.message})
    return run


def _push(run: AssembleRun, event: dict[str, Any]) -> None:
    transaction.on_commit(
        partial(events.push_assemble, user_id=run.user_id, run_id=run.pk, stage=run.stage, event=event)
    )


def assemble_forget(*, user_id: int) -> None:
    """Delete a learner's assembled models from disk (their runs' rows go with the account)."""
    shutil.rmtree(selectors.learner_dir(user_id=user_id), ignore_errors=True)


def on_user_deleted(sender: Any, instance: User, **kwargs: Any) -> None:
    """``post_delete`` of a user: forget their models once the deletion commits (a rollback keeps them)."""
    transaction.on_commit(partial(assemble_forget, user_id=instance.pk))


def _close_stale_replies(*, user: User) -> None:
    cutoff = timezone.now() - timedelta(
        seconds=2 * settings.LAB_ASSEMBLE_REPLY_SECONDS + STALE_MARGIN_SECONDS
    )
    AssembleReply.objects.filter(
        user=user,
        status__in=[AssembleReply.Status.QUEUED, AssembleReply.Status.RUNNING],
        created_at__lt=cutoff,
    ).update(status=AssembleReply.Status.FAILED, finished_at=timezone.now())


def assemble_reply_create(*, user: User, stage: Any, prompt: Any) -> AssembleReply:
    """Queue ``prompt`` for the learner's model of ``stage`` and the reference; raises if refused or one waits."""
    if not isinstance(stage, str) or stage not in selectors.STAGES:
        raise InvalidInput(_("no such stage"))
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInput(_("write a prompt first"))
    if len(prompt) > PROMPT_CHARS or "\x00" in prompt:
        raise InvalidInput(_("a prompt is at most %(max)d characters") % {"max": PROMPT_CHARS})
    if not selectors.access_assemble(user=user, stage=stage):
        raise AssembleLocked(_("complete every module of this stage first"))
    run = selectors.run_latest(user=user, stage=stage, done=True)
    if run is None:
        raise AssembleLocked(_("no model yet: assemble it first"))
    _close_stale_replies(user=user)
    try:
        with transaction.atomic():
            reply = AssembleReply.objects.create(
                user=user,
                run=run,
                stage=stage,
                prompt=prompt.strip(),
                lane=REPLY_LANE,
                created_at=timezone.now(),
            )
    except IntegrityError:
        raise AssembleBusy(_("one reply at a time")) from None
    transaction.on_commit(partial(queues.wake, REPLY_LANE))
    return reply


def assemble_reply_claim(*, lane: str, token: str = "") -> AssembleReply | None:
    """Take the oldest queued reply of ``lane``."""
    return _claim_oldest(AssembleReply, lane=lane, token=token)


def assemble_reply_text(*, reply: AssembleReply, side: str, text: str) -> None:
    """Push one side's text so far to the learner (from the worker's job threads: nothing is stored)."""
    event = {"type": "reply", "reply_id": reply.pk, "side": side, "text": text}
    events.push_assemble(user_id=reply.user_id, run_id=reply.run_id, stage=reply.stage, event=event)


def assemble_reply_finish(
    *, reply: AssembleReply, mine: dict[str, Any], reference: dict[str, Any]
) -> AssembleReply | None:
    """Save both answers and tell the learner; None if the reply is gone (its account was deleted meanwhile)."""
    reply.status, reply.mine, reply.reference = AssembleReply.Status.DONE, mine, reference
    reply.finished_at = timezone.now()
    if not AssembleReply.objects.filter(pk=reply.pk).update(
        status=reply.status, mine=mine, reference=reference, finished_at=reply.finished_at
    ):
        return None
    event = {"type": "reply_end", "reply_id": reply.pk, "status": reply.status}
    transaction.on_commit(
        partial(
            events.push_assemble, user_id=reply.user_id, run_id=reply.run_id, stage=reply.stage, event=event
        )
    )
    return reply
