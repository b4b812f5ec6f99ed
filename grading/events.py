"""Websocket fan-out of grading events to the learner's channel group ``grading.user.<id>``.

Design choices:
- One group per learner, not per submission: a learner's open pages all hear about all of their submissions, and
  nobody else's. Frames: ``{"type": "grading.event", "submission_id": int, "event": {engine event}}``, and while
  a run waits ``{"type": "grading.queue", "submission_id", "status", "queue": {...} | null, "superseded_by"}``
  whenever its place in the queue changes (``queue_frame``; not stored: the submission detail says the same).
- Assemble runs (``grading.assemble``) speak on the same group: ``{"type": "assemble.event", "run_id", "stage",
  "event"}`` (``assemble_frame``), stored on the run first, so a page opened later reads the same from the API.
- Pushing is best effort (events are stored for replay first); a failed push is logged, never raised.
- Embedded mode uses the in-memory channel layer, whose queues belong to the web server's event loop. The grading
  thread therefore hands its sends to that loop (registered by the consumer when a socket connects) instead of
  spinning up a private loop that no listener would hear. With Redis (production) any loop works.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

log = logging.getLogger(__name__)

_loop_lock = threading.Lock()
_server_loop: asyncio.AbstractEventLoop | None = None


def group_name(user_id: int) -> str:
    return f"grading.user.{user_id}"


def frame(*, submission_id: int, event: dict[str, Any]) -> dict[str, Any]:
    return {"type": "grading.event", "submission_id": submission_id, "event": event}


def queue_frame(
    *, submission_id: int, status: str, queue: dict[str, Any] | None, superseded_by: int | None
) -> dict[str, Any]:
    """Where a run stands in its lane (``ws-frame.schema.json#/$defs/queue``): ``queue`` while it waits
    (``grading.selectors.queue_info``), ``superseded_by`` once a newer run replaced it."""
    return {
        "type": "grading.queue",
        "submission_id": submission_id,
        "status": status,
        "queue": queue,
        "superseded_by": superseded_by,
    }


def assemble_frame(*, run_id: int, stage: str, event: dict[str, Any]) -> dict[str, Any]:
    """An assemble run's event (``ws-frame.schema.json#/$defs/assemble_event``): progress, a loss point, its end."""
    return {"type": "assemble.event", "run_id": run_id, "stage": stage, "event": event}


def register_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Remember the event loop that serves websockets (called by the consumer on connect)."""
    global _server_loop
    with _loop_lock:
        _server_loop = loop


def push(*, user_id: int, submission_id: int, event: dict[str, Any]) -> None:
    """Send one event to the learner's group; never raises."""
    _send(user_id, frame(submission_id=submission_id, event=event), submission_id)


def push_queue(
    *, user_id: int, submission_id: int, status: str, queue: dict[str, Any] | None, superseded_by: int | None
) -> None:
    """Send a run's place in its queue to the learner's group; never raises."""
    message = queue_frame(
        submission_id=submission_id, status=status, queue=queue, superseded_by=superseded_by
    )
    _send(user_id, message, submission_id)


def push_assemble(*, user_id: int, run_id: int, stage: str, event: dict[str, Any]) -> None:
    """Send an assemble run's event to its learner's group; never raises."""
    _send(user_id, assemble_frame(run_id=run_id, stage=stage, event=event), run_id)


def _send(user_id: int, message: dict[str, Any], submission_id: int) -> None:
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        loop = _server_loop
        if isinstance(layer, InMemoryChannelLayer) and loop is not None and loop.is_running():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not loop:
                future = asyncio.run_coroutine_threadsafe(
                    layer.group_send(group_name(user_id), message), loop
                )
                future.result(timeout=5)
                return
        async_to_sync(layer.group_send)(group_name(user_id), message)
    except Exception:  # a lost push must never break grading; the event is stored for replay
        log.warning("could not push event for submission %s", submission_id, exc_info=True)
