"""The grading websocket through the real ASGI application (origin check, session auth, consumer)."""

import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from platform_helpers import pass_result

from grading import events
from grading.services import verdict_record
from labplatform.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def headers(persona=None, origin=b"http://testserver"):
    result = [(b"origin", origin), (b"host", b"testserver")]
    if persona is not None and persona.user is not None:
        result.append((b"cookie", f"sessionid={persona.cookies['sessionid'].value}".encode()))
    return result


async def connect(persona, origin=b"http://testserver"):
    communicator = WebsocketCommunicator(application, "/ws/grading/", headers=headers(persona, origin))
    connected, _ = await communicator.connect()
    return communicator, connected


async def test_it_refuses_anonymous_sockets(anonymous):
    communicator, connected = await connect(anonymous)
    assert not connected
    await communicator.disconnect()


async def test_it_refuses_sockets_from_a_foreign_origin(learner):
    communicator, connected = await connect(learner, origin=b"http://evil.example")
    assert not connected
    await communicator.disconnect()


async def test_it_answers_a_ping(learner):
    communicator, connected = await connect(learner)
    assert connected
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        json.dumps([1, 2]),
        json.dumps({"type": "shout"}),
        json.dumps({"type": "subscribe"}),
        json.dumps({"type": "subscribe", "submission_id": "7"}),
        json.dumps({"type": "subscribe", "submission_id": True}),
        "x" * 10_000,
    ],
)
async def test_it_answers_malformed_frames_with_an_error_and_stays_open(learner, frame):
    communicator, _ = await connect(learner)
    await communicator.send_to(text_data=frame)
    reply = await communicator.receive_json_from()
    assert reply["type"] == "error" and reply["message"]
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.disconnect()


async def test_it_answers_binary_frames_with_an_error(learner):
    communicator, _ = await connect(learner)
    await communicator.send_to(bytes_data=b"\x00\x01")
    assert (await communicator.receive_json_from())["type"] == "error"
    await communicator.disconnect()


async def test_it_refuses_to_subscribe_to_a_foreign_submission(course, learner, other_learner, submit):
    submission = await database_sync_to_async(submit)(learner, course["01-hello"])
    communicator, _ = await connect(other_learner)
    await communicator.send_json_to({"type": "subscribe", "submission_id": submission.pk})
    reply = await communicator.receive_json_from()
    assert reply == {"type": "error", "message": "no such submission"}
    await communicator.disconnect()


async def test_it_replays_stored_events_on_subscribe(course, learner, submit):
    submission = await database_sync_to_async(submit)(learner, course["01-hello"])
    await database_sync_to_async(verdict_record)(submission_id=submission.pk, result=pass_result("01-hello"))
    communicator, _ = await connect(learner)
    await communicator.send_json_to({"type": "subscribe", "submission_id": submission.pk})
    assert await communicator.receive_json_from() == {
        "type": "subscribed",
        "submission_id": submission.pk,
        "status": "done",
    }
    replay = await communicator.receive_json_from()
    assert replay["type"] == "grading.event" and replay["event"]["type"] == "verdict"
    hidden = [t for t in replay["event"]["result"]["tests"] if t["visibility"] == "hidden"][0]
    assert hidden["output"] == ""
    await communicator.disconnect()


async def test_it_streams_events_of_my_submissions_only_to_me(learner, other_learner):
    mine, _ = await connect(learner)
    theirs, _ = await connect(other_learner)
    event = {"type": "output", "stream": "stdout", "test_id": None, "data": "hello", "seq": 1, "t": 0.1}
    await get_channel_layer().group_send(
        f"grading.user.{learner.user.pk}", {"type": "grading.event", "submission_id": 5, "event": event}
    )
    assert await mine.receive_json_from() == {"type": "grading.event", "submission_id": 5, "event": event}
    assert await theirs.receive_nothing(timeout=0.2)
    await mine.disconnect()
    await theirs.disconnect()


async def test_it_says_where_a_waiting_run_stands_after_the_subscription(course, learner, submit):
    submission = await database_sync_to_async(submit)(learner, course["01-hello"])
    communicator, _ = await connect(learner)
    await communicator.send_json_to({"type": "subscribe", "submission_id": submission.pk})
    assert (await communicator.receive_json_from())["status"] == "queued"
    assert await communicator.receive_json_from() == {
        "type": "grading.queue",
        "submission_id": submission.pk,
        "status": "queued",
        "queue": {
            "lane": "short",
            "position": 1,
            "learners_ahead": 0,
            "waiting_for_own": False,
            "next_run_replaces": False,
            "cap": 2,
        },
        "superseded_by": None,
    }
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_it_tells_a_superseded_runs_page_what_replaced_it(course, learner, submit):
    runs = [await database_sync_to_async(submit)(learner, course["01-hello"]) for _ in range(3)]
    communicator, _ = await connect(learner)
    await communicator.send_json_to({"type": "subscribe", "submission_id": runs[0].pk})
    assert (await communicator.receive_json_from())["status"] == "superseded"
    frame = await communicator.receive_json_from()
    assert (frame["type"], frame["status"], frame["queue"], frame["superseded_by"]) == (
        "grading.queue",
        "superseded",
        None,
        runs[2].pk,
    )
    await communicator.disconnect()


async def test_it_pushes_queue_changes_of_my_runs_only_to_me(learner, other_learner):
    mine, _ = await connect(learner)
    theirs, _ = await connect(other_learner)
    await database_sync_to_async(events.push_queue)(
        user_id=learner.user.pk, submission_id=9, status="superseded", queue=None, superseded_by=10
    )
    assert await mine.receive_json_from() == {
        "type": "grading.queue",
        "submission_id": 9,
        "status": "superseded",
        "queue": None,
        "superseded_by": 10,
    }
    assert await theirs.receive_nothing(timeout=0.2)
    await mine.disconnect()
    await theirs.disconnect()


async def test_it_streams_hidden_tests_in_whole_seconds(learner):
    socket, _ = await connect(learner)
    hidden = {
        "id": "hidden/t.py::t",
        "visibility": "hidden",
        "duration_seconds": 2.7,
        "output": "",
        "metrics": {},
    }
    event = {"type": "test_finished", "seq": 3, "t": 5.37, "test": hidden}
    await get_channel_layer().group_send(
        f"grading.user.{learner.user.pk}", {"type": "grading.event", "submission_id": 5, "event": event}
    )
    received = (await socket.receive_json_from())["event"]
    assert (received["t"], received["test"]["duration_seconds"]) == (6.0, 3.0)
    await socket.disconnect()


async def test_it_streams_my_assemble_runs_events_only_to_me(learner, other_learner):
    mine, _ = await connect(learner)
    theirs, _ = await connect(other_learner)
    event = {"type": "metric", "series": "loss/base_train", "x": 3, "y": 5.25}
    await database_sync_to_async(events.push_assemble)(
        user_id=learner.user.pk, run_id=9, stage="base", event=event
    )
    frame = await mine.receive_json_from()
    assert frame == {"type": "assemble.event", "run_id": 9, "stage": "base", "event": event}
    assert await theirs.receive_nothing(timeout=0.2)
    await mine.disconnect()
    await theirs.disconnect()
