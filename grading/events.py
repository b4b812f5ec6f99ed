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
  spinning up a private loop that no listener would hear.
- With Redis (production) any loop works, but the layer keeps its connections per event loop, and ``async_to_sync``
  runs each call on a loop of its own that it then closes: every event paid a new Redis connection (measured
  4.1 ms and 3.3 ms of CPU per event on this machine, 62 % of recording one; a module 1 run sends 70). Sends from
  sync code therefore go to one loop per process that lives as long as it (``_push_loop``: a daemon thread,
  made again after a fork), whose connection is reused; a send that does not finish in ``PUSH_TIMEOUT_SECONDS``
  is cancelled and logged, like any failed push.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Coroutine
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

log = logging.getLogger(__name__)

_loop_lock = threading.Lock()
_server_loop: asyncio.AbstractEventLoop | None = None
_push: tuple[int, asyncio.AbstractEventLoop] | None = None  # (pid, loop) of this process's push loop
PUSH_TIMEOUT_SECONDS = 5.0


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
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if isinstance(layer, InMemoryChannelLayer):
            if loop is not None and loop.is_running() and running is not loop:
                _send_on(loop, layer.group_send(group_name(user_id), message))
                return
        elif running is None:
            _send_on(_push_loop(), layer.group_send(group_name(user_id), message))
            return
        async_to_sync(layer.group_send)(group_name(user_id), message)
    except Exception:  # a lost push must never break grading; the event is stored for replay
        log.warning("could not push event for submission %s", submission_id, exc_info=True)


def _send_on(loop: asyncio.AbstractEventLoop, send: Coroutine[Any, Any, None]) -> None:
    """Run ``send`` on ``loop`` (another thread's) and wait for it; cancelled after ``PUSH_TIMEOUT_SECONDS``."""
    future = asyncio.run_coroutine_threadsafe(send, loop)
    try:
        future.result(timeout=PUSH_TIMEOUT_SECONDS)
    except TimeoutError:
        future.cancel()
        raise


def _push_loop() -> asyncio.AbstractEventLoop:
    """This process's loop for sends from sync code: started on first use, on a daemon thread, and again in a
    forked child (threads do not survive a fork; the parent's loop is not the child's to use)."""
    global _push
    with _loop_lock:
        if _push is None or _push[0] != os.getpid() or _push[1].is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="grading-push-loop", daemon=True).start()
            _push = (os.getpid(), loop)
        return _push[1]
