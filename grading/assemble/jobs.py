"""The assemble runs' work: take a run from a lane and train it (the engine does, in a sandbox).

``assemble_next`` is the job source ``AssembleConfig.ready`` registers with ``grading.queues``: a worker of the
lane (an embedded thread, or a Celery ``grading.grade_lane`` message) runs it when no submission waits there. Any
failure of the engine becomes a failed run with a platform message; the learner always gets an end.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings

from grading.assemble import selectors, services

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
        if end.get("ok"):
            _replace(staging, store)
    except Exception as exc:  # an engine failure is ours: the run ends, failed, with a platform message
        log.exception("assemble run %s failed", run.pk)
        end = {"ok": False, "message": f"the platform failed: {type(exc).__name__}"}
    services.assemble_finish(run=run, end=end)
    return "assembled" if end.get("ok") else "failed"


def _replace(staging: Path, store: Path) -> None:
    """Swap the new model in for the old one (the chat keeps answering from a whole model)."""
    import shutil

    old = store.parent / f".{store.name}-old"
    if old.exists():
        shutil.rmtree(old)
    if store.exists():
        store.rename(old)
    staging.rename(store)
    if old.exists():
        shutil.rmtree(old)
