"""The assemble runs' work: take a run from a lane and train it (the engine does, in a sandbox); take a reply and
answer it with the learner's model and the reference's.

``assemble_next`` and ``assemble_reply_next`` are the job sources ``AssembleConfig.ready`` registers with
``grading.queues``: a worker of the lane (an embedded thread, or a Celery ``grading.grade_lane`` message) runs one
when no submission waits there. Any failure of the engine becomes a failed run (or both answers saying so) with a
platform message; the learner always gets an end. A run whose learner was deleted while it trained keeps nothing:
its model is not moved into place and their folder goes.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings

from grading.assemble import selectors, services
from grading.assemble.models import AssembleReply, AssembleRun

log = logging.getLogger(__name__)


def assemble_next(*, lane: str, token: str = "") -> str:
    """Train the lane's next queued assemble run: "assembled", "failed", or "idle" (none waits)."""
    run = services.assemble_claim(lane=lane, token=token)
    if run is None:
        return "idle"
    from grading.engine import assemble

    end: dict[str, Any] = {"ok": False, "message": "the assemble run stopped without an end"}
    try:
        limits = selectors.run_limits(
            seconds=settings.LAB_ASSEMBLE_WALL_SECONDS,
            cpu=settings.LAB_ASSEMBLE_CPU_SECONDS,
            memory_gib=4,
            work_mib=1024,
            output_bytes=assemble.OUTPUT_BYTES,
        )
        base = selectors.store_dir(user_id=run.user_id, stage="base")
        store = selectors.store_dir(user_id=run.user_id, stage=run.stage)
        store.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        staging = store.parent / f".{run.stage}-{run.pk}"
        for event in assemble.train(
            stage=run.stage,
            workspace=selectors.run_workspace(run=run),
            store=staging,
            start_store=base if run.stage != "base" else None,
            limits=limits,
            profile=settings.LAB_ASSEMBLE_PROFILE,
            gpu=run.lane == "gpu",
        ):
            if event.get("type") == "end":
                end = event
                break
            services.assemble_event_record(run=run, event=event)
        if end.get("ok") and AssembleRun.objects.filter(pk=run.pk).exists():
            _replace(staging, store)
    except Exception as exc:  # an engine failure is ours: the run ends, failed, with a platform message
        log.exception("assemble run %s failed", run.pk)
        end = {"ok": False, "message": f"the platform failed: {type(exc).__name__}"}
    if not AssembleRun.objects.filter(pk=run.pk).exists():  # the account was deleted meanwhile
        services.assemble_forget(user_id=run.user_id)
        return "failed"
    services.assemble_finish(run=run, end=end)
    return "assembled" if end.get("ok") else "failed"


def _replace(staging: Path, store: Path) -> None:
    """Swap the new model in for the old one (the chat keeps answering from a whole model)."""
    old = store.parent / f".{store.name}-old"
    if old.exists():
        shutil.rmtree(old)
    if store.exists():
        store.rename(old)
    staging.rename(store)
    if old.exists():
        shutil.rmtree(old)


def assemble_reply_next(*, lane: str, token: str = "") -> str:
    """Answer the lane's next queued reply: "answered", or "idle" (none waits)."""
    reply = services.assemble_reply_claim(lane=lane, token=token)
    if reply is None:
        return "idle"
    from grading.engine import assemble

    try:
        limits = selectors.run_limits(
            seconds=settings.LAB_ASSEMBLE_REPLY_SECONDS,
            cpu=60,
            memory_gib=3,
            work_mib=512,
            output_bytes=2**21,
        )
        store = selectors.store_dir(user_id=reply.user_id, stage=reply.stage)
        workspace = selectors.run_workspace(run=reply.run)
        ask = partial(assemble.reply, stage=reply.stage, prompt=reply.prompt, limits=limits)
        # two sandboxes side by side: the learner waits for one
        with ThreadPoolExecutor(max_workers=2) as pool:
            mine = pool.submit(
                ask,
                workspace=workspace,
                store=store,
                on_text=_streamer(reply, "mine"),
            )
            reference = pool.submit(ask, on_text=_streamer(reply, "reference"))
            answers = {"mine": mine.result(), "reference": reference.result()}
    except Exception as exc:  # an engine failure is ours: both sides say so
        log.exception("assemble reply %s failed", reply.pk)
        failed = {"ok": False, "text": "", "message": f"the platform failed: {type(exc).__name__}"}
        answers = {"mine": failed, "reference": failed}
    services.assemble_reply_finish(reply=reply, **answers)
    return "answered"


def _streamer(reply: AssembleReply, side: str) -> Callable[[str], None]:
    """What hears one side's text so far: a push to the learner (``services.assemble_reply_text``)."""
    return lambda text: services.assemble_reply_text(reply=reply, side=side, text=text)
