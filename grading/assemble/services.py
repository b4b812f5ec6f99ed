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
- ``assemble_reply`` answers one prompt with the learner's model and with the reference's, each a sandboxed job
  (``grading.engine.assemble.reply``): no learner code and no torch in the web process. One reply at a time per
  learner (a cache lock), a prompt of at most ``PROMPT_CHARS`` characters.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grading import events, queues
from grading.assemble import selectors
from grading.assemble.models import AssembleRun
from modules.services import Conflict, Forbidden, InvalidInput
from modules.spec import lane_of

log = logging.getLogger(__name__)

PROMPT_CHARS = 500
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


def assemble_claim(*, lane: str, token: str = "") -> AssembleRun | None:
    """Take the oldest queued run of ``lane`` (each learner has at most one, so oldest first is fair)."""
    with transaction.atomic():
        run = (
            AssembleRun.objects.select_for_update(skip_locked=True)
            .filter(lane=lane, status=AssembleRun.Status.QUEUED)
            .order_by("created_at", "id")
            .first()
        )
        if run is None:
            return None
        run.status, run.claim, run.started_at = AssembleRun.Status.RUNNING, token[:64], timezone.now()
        run.save(update_fields=["status", "claim", "started_at"])
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


def assemble_reply(*, user: User, stage: Any, prompt: Any) -> dict[str, Any]:
    """``{"prompt", "mine": {ok, text, message}, "reference": {...}}``: the learner's model and the reference."""
    if not isinstance(stage, str) or stage not in selectors.STAGES:
        raise InvalidInput(_("no such stage"))
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInput(_("write a prompt first"))
    if len(prompt) > PROMPT_CHARS or "\x00" in prompt:
        raise InvalidInput(_("a prompt is at most %(max)d characters") % {"max": PROMPT_CHARS})
    if not selectors.access_assemble(user=user, stage=stage):
        raise AssembleLocked(_("complete every module of this stage first"))
    run = AssembleRun.objects.filter(user=user, stage=stage, status=AssembleRun.Status.DONE).first()
    if run is None:
        raise AssembleLocked(_("no model yet: assemble it first"))
    key = f"assemble-reply:{user.pk}"
    if not cache.add(key, 1, timeout=2 * settings.LAB_ASSEMBLE_REPLY_SECONDS + 30):
        raise AssembleBusy(_("one reply at a time"))
    try:
        mine, reference = _replies(run=run, prompt=prompt.strip())
    finally:
        cache.delete(key)
    return {"prompt": prompt.strip(), "mine": mine, "reference": reference}


def _replies(*, run: AssembleRun, prompt: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The learner's model's reply and the reference model's to the same prompt: two sandboxed jobs."""
    from grading.engine import assemble  # the engine stays out of the web process until a reply is asked for

    limits = selectors.run_limits(
        seconds=settings.LAB_ASSEMBLE_REPLY_SECONDS,
        cpu=60,
        memory_gib=3,
        work_mib=512,
    )
    store = selectors.store_dir(user_id=run.user_id, stage=run.stage)
    workspace = selectors.run_workspace(run=run)
    with ThreadPoolExecutor(max_workers=2) as pool:  # two sandboxes side by side: the learner waits for one
        mine = pool.submit(
            assemble.reply, stage=run.stage, prompt=prompt, limits=limits, workspace=workspace, store=store
        )
        reference = pool.submit(assemble.reply, stage=run.stage, prompt=prompt, limits=limits)
        return mine.result(), reference.result()
