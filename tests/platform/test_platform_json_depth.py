"""Over-deep JSON: a body nested past the lab's bound answers 400 with a clear message (never 500), and a websocket
frame nested too deeply gets an error frame on a socket that stays open."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator

from labplatform.asgi import application

DEEP = "[" * 10_000 + "]" * 10_000


def put_raw(persona, url: str, body: str):
    return persona.put(url, body, content_type="application/json")


def post_raw(persona, url: str, body: str):
    return persona.post(url, body, content_type="application/json")


def nested_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.django_db
def test_a_deeply_nested_draft_answers_400(course, learner):
    response = put_raw(learner, "/api/modules/01-hello/draft/", DEEP)
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


@pytest.mark.django_db
def test_a_deeply_nested_note_answers_400(course, learner):
    response = post_raw(learner, "/api/notes/", '{"text": ' + DEEP + "}")
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


@pytest.mark.django_db
def test_a_deeply_nested_thread_answers_400(course, learner):
    response = post_raw(learner, "/api/modules/01-hello/threads/", nested_object(5_000))
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


@pytest.mark.django_db
def test_nesting_just_past_the_bound_answers_400_too(course, learner):
    """Parsable but past the bound: refused the same way, so nothing downstream recurses on it."""
    response = post_raw(learner, "/api/notes/", '{"text": "t", "extra": ' + nested_object(40) + "}")
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


@pytest.mark.django_db
def test_ordinary_nesting_is_accepted(course, learner):
    response = learner.put_json("/api/modules/01-hello/draft/", {"files": {"hello.py": "x = 1\n"}})
    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_deeply_nested_websocket_frame_gets_an_error_and_the_socket_stays_open(learner):
    headers = [
        (b"origin", b"http://testserver"),
        (b"host", b"testserver"),
        (b"cookie", f"sessionid={learner.cookies['sessionid'].value}".encode()),
    ]
    communicator = WebsocketCommunicator(application, "/ws/grading/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_to(text_data="[" * 2000 + "]" * 2000)
    answer = await communicator.receive_json_from()
    assert answer["type"] == "error" and "nested" in answer["message"]
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.disconnect()
