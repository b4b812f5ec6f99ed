"""The grading websocket (``/ws/grading/``): live engine events for the signed-in learner.

Protocol (JSON text frames):
- server -> client ``{"type": "grading.event", "submission_id": int, "event": {engine event}}`` for every event of
  every submission of this learner (group ``grading.user.<id>``), as it happens.
- server -> client ``{"type": "grading.queue", "submission_id", "status", "queue", "superseded_by"}`` whenever a
  waiting run's place in its lane changes, or it is superseded (``grading.events.queue_frame``).
- server -> client ``{"type": "assemble.event", "run_id", "stage", "event"}`` for this learner's assemble runs
  (``grading.events.assemble_frame``).
- client -> server ``{"type": "subscribe", "submission_id": int}``: the server answers
  ``{"type": "subscribed", "submission_id", "status"}``, then, for a run that waits or was superseded, one
  ``grading.queue`` frame with where it stands, and then replays the stored events of that submission as
  ``grading.event`` frames (clients de-duplicate by ``event.seq``). Foreign or unknown ids get an error frame.
- client -> server ``{"type": "ping"}`` -> ``{"type": "pong"}``.
- anything else (binary frames, invalid or over-deep JSON, unknown types, bad ids) -> ``{"type": "error", "message": ...}``;
  the socket stays open. Anonymous connections are refused at the handshake.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from grading import events, selectors
from grading.models import Submission
from modules.parsers import JSONNestingError, json_loads_bounded

MAX_FRAME_CHARS = 4096


class GradingConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        events.register_loop(asyncio.get_running_loop())
        self.group = events.group_name(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        if text_data is None:
            await self._error("binary frames are not accepted")
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self._error("frame too large")
            return
        try:
            content = json_loads_bounded(text_data)
        except JSONNestingError:
            await self._error("frames nested too deeply")
            return
        except ValueError:
            await self._error("frames must be JSON")
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            await self._error("frames must be JSON objects")
            return
        kind = content.get("type")
        if kind == "ping":
            await self.send_json({"type": "pong"})
            return
        if kind != "subscribe":
            await self._error("unknown frame type")
            return
        submission_id = content.get("submission_id")
        if not isinstance(submission_id, int) or isinstance(submission_id, bool) or submission_id <= 0:
            await self._error("submission_id must be a positive integer")
            return
        found = await self._subscribe(submission_id)
        if found is None:
            await self._error("no such submission")
            return
        status, queue, stored = found
        await self.send_json({"type": "subscribed", "submission_id": submission_id, "status": status})
        if queue is not None:
            await self.send_json(queue)
        for event in stored:
            await self.send_json(events.frame(submission_id=submission_id, event=event))

    @database_sync_to_async
    def _subscribe(
        self, submission_id: int
    ) -> tuple[str, dict[str, Any] | None, list[dict[str, Any]]] | None:
        submission = Submission.objects.filter(pk=submission_id).first()
        if submission is None:
            return None
        if not selectors.access_submission_subscribe(user=self.scope["user"], submission=submission):
            return None
        queue = None
        if submission.status in (Submission.Status.QUEUED, Submission.Status.SUPERSEDED):
            info = None
            if submission.status == Submission.Status.QUEUED:
                snapshot = selectors.lane_snapshot(lane=submission.lane)
                info = selectors.queue_info(snapshot=snapshot, submission_id=submission.pk)
            queue = events.queue_frame(
                submission_id=submission.pk,
                status=submission.status,
                queue=info,
                superseded_by=submission.superseded_by_id,
            )
        return submission.status, queue, selectors.submission_events(submission=submission)

    async def grading_event(self, message: dict[str, Any]) -> None:
        """A group message from ``grading.events.push``: forward it as a frame."""
        event = selectors.learner_view_of_event(message.get("event") or {})
        await self.send_json(events.frame(submission_id=message["submission_id"], event=event))

    async def grading_queue(self, message: dict[str, Any]) -> None:
        """A group message from ``grading.events.push_queue``: it is the frame."""
        await self.send_json(message)

    async def assemble_event(self, message: dict[str, Any]) -> None:
        """A group message from ``grading.events.push_assemble``: it is the frame."""
        await self.send_json(message)

    async def _error(self, message: str) -> None:
        await self.send_json({"type": "error", "message": message})
