"""The server keeps the contract: real answers, page data and websocket frames follow labplatform/schemas/.

The same JSON Schemas generate the frontend's wire types and validators (frontend/scripts/gen-wire.mjs), so a
server change that breaks what the page reads fails here first. The engine's result schema
(grading/engine/result.schema.json) is referenced by its ``$id``, not copied.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.serializers.json import DjangoJSONEncoder
from platform_helpers import GOOD_HELLO, Persona, pass_result
from referencing import Registry, Resource

from grading import tasks
from grading.engine.schema import RESULT_SCHEMA
from grading.services import submission_create, submission_event_record, submission_start, verdict_record
from labplatform.asgi import application
from modules.models import Module

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "labplatform" / "schemas"
BASE = "https://nanochat-lab.invalid/schemas/"
SCHEMAS = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(SCHEMA_DIR.glob("*.schema.json"))]
REGISTRY: Registry = Registry().with_resources(
    (schema["$id"], Resource.from_contents(schema)) for schema in [*SCHEMAS, RESULT_SCHEMA]
)


def conforms(ref: str, instance: Any) -> None:
    """Raise unless ``instance`` (as it goes over the wire) follows the schema at ``ref`` (file#/pointer)."""
    wire = json.loads(json.dumps(instance, cls=DjangoJSONEncoder))
    validator = jsonschema.Draft202012Validator({"$ref": BASE + ref}, registry=REGISTRY)
    error = jsonschema.exceptions.best_match(validator.iter_errors(wire))
    if error is not None:
        path = "/".join(map(str, error.absolute_path)) or "(root)"
        raise AssertionError(f"{ref} at {path}: {error.message}")


def page_data(persona: Persona, url: str) -> dict[str, Any]:
    response = persona.get(url)
    assert response.status_code == 200, response.status_code
    return response.context["page_data"]


def test_every_schema_is_a_draft_2020_12_schema_under_the_lab_base():
    for schema in SCHEMAS:
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"].startswith(BASE)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_a_payload_that_breaks_the_contract_is_caught():
    with pytest.raises(AssertionError, match="'open' is not one of"):
        conforms("common.schema.json#/$defs/module_state", "open")


@pytest.mark.django_db
def test_the_dashboard_page_data_follows_its_schema(course, learner, pass_module, instructor, submit):
    pass_module(learner, course["01-hello"])
    learner.post_json("/api/notes/", {"text": "a note", "module": "01-hello"})
    submission = submit(learner, course["01-hello"])
    learner.post_json(
        "/api/modules/01-hello/threads/",
        {"kind": "review", "title": "Look?", "body": "please", "submission": submission.pk},
    )
    conforms("page-dashboard.schema.json", page_data(learner, "/"))
    instructor_page = page_data(instructor, "/")
    assert instructor_page["mentor_queue"], "the instructor's dashboard lists the open review"
    conforms("page-dashboard.schema.json", instructor_page)


@pytest.mark.django_db
def test_the_module_page_data_follows_its_schema(course, learner, pass_module, submit):
    fresh = page_data(learner, "/modules/01-hello/")
    conforms("page-module.schema.json", fresh)
    pass_module(learner, course["01-hello"])
    submit(learner, course["01-hello"])
    learner.post_json("/api/modules/01-hello/hints/reveal/", {"level": 1})
    learner.put_json("/api/modules/01-hello/draft/", {"files": {"hello.py": GOOD_HELLO}})
    questions = fresh["reflection"]["questions"]
    answers = {q["id"]: (q["choices"][0]["id"] if q["choices"] else "because") for q in questions}
    learner.post_json("/api/modules/01-hello/reflection/", {"answers": answers})
    worked = page_data(learner, "/modules/01-hello/")
    assert worked["hints"]["revealed"] and worked["attempts"] and worked["reflection"]["answers"]
    conforms("page-module.schema.json", worked)


@pytest.mark.django_db
def test_the_module_answers_follow_their_schemas(course, learner):
    conforms("module-list.schema.json", learner.get("/api/modules/").json())
    conforms("module-detail.schema.json", learner.get("/api/modules/01-hello/").json())
    conforms("api.schema.json#/$defs/files", learner.get("/api/modules/01-hello/draft/").json())
    saved = learner.put_json("/api/modules/01-hello/draft/", {"files": {"hello.py": GOOD_HELLO}})
    conforms("api.schema.json#/$defs/files", saved.json())
    conforms(
        "api.schema.json#/$defs/hints",
        learner.post_json("/api/modules/01-hello/hints/reveal/", {"level": 1}).json(),
    )
    error = learner.post_json("/api/modules/01-hello/hints/reveal/", {"level": 3})
    assert error.status_code >= 400
    conforms("api.schema.json#/$defs/error", error.json())


@pytest.mark.django_db
def test_the_submission_answers_follow_their_schemas(course, learner, instructor):
    created = learner.post_json("/api/modules/01-hello/submissions/", {"files": {"hello.py": GOOD_HELLO}})
    conforms("api.schema.json#/$defs/submission_created", created.json())
    sid = created.json()["id"]
    waiting = learner.get(f"/api/submissions/{sid}/").json()
    assert waiting["queue"] is not None
    conforms("submission-detail.schema.json", waiting)
    verdict_record(
        submission_id=sid, result=pass_result("01-hello", status="fail", message="NotImplementedError")
    )
    done = learner.get(f"/api/submissions/{sid}/").json()
    assert done["advice"], "the fixture's feedback rule matches"
    conforms("submission-detail.schema.json", done)
    conforms("submission-detail.schema.json", instructor.get(f"/api/submissions/{sid}/").json())
    replaced, *_ = (
        learner.post_json("/api/modules/01-hello/submissions/", {"files": {"hello.py": GOOD_HELLO}}).json()[
            "id"
        ]
        for _ in range(3)
    )
    superseded = learner.get(f"/api/submissions/{replaced}/").json()
    assert superseded["status"] == "superseded"
    conforms("submission-detail.schema.json", superseded)
    conforms("submission-list.schema.json", learner.get("/api/modules/01-hello/submissions/").json())
    conforms("api.schema.json#/$defs/reference", instructor.get("/api/modules/01-hello/reference/").json())


@pytest.mark.django_db
def test_the_learning_answers_follow_their_schemas(course, learner, pass_module):
    pass_module(learner, course["01-hello"])
    questions = learner.get("/modules/01-hello/").context["page_data"]["reflection"]["questions"]
    answers = {q["id"]: (q["choices"][0]["id"] if q["choices"] else "because") for q in questions}
    conforms(
        "api.schema.json#/$defs/reflection",
        learner.post_json("/api/modules/01-hello/reflection/", {"answers": answers}).json(),
    )
    conforms("common.schema.json#/$defs/note", learner.post_json("/api/notes/", {"text": "hm"}).json())
    conforms("api.schema.json#/$defs/notes", learner.get("/api/notes/").json())
    lint = learner.post_json("/api/tools/lint/", {"path": "a.py", "text": "import os\ndef f(:\n"}).json()
    assert lint["diagnostics"]
    conforms("api.schema.json#/$defs/lint", lint)
    conforms(
        "api.schema.json#/$defs/format",
        learner.post_json("/api/tools/format/", {"path": "a.py", "text": "x=1"}).json(),
    )


@pytest.mark.django_db
def test_the_discussion_answers_follow_their_schemas(course, learner, instructor, submit):
    submission = submit(learner, course["01-hello"])
    made = learner.post_json(
        "/api/modules/01-hello/threads/",
        {"kind": "review", "title": "Look?", "body": "**please**", "submission": submission.pk},
    )
    conforms("api.schema.json#/$defs/thread_detail", made.json())
    tid = made.json()["id"]
    conforms(
        "api.schema.json#/$defs/post",
        instructor.post_json(f"/api/threads/{tid}/posts/", {"body": "ok"}).json(),
    )
    conforms("api.schema.json#/$defs/thread_detail", learner.get(f"/api/threads/{tid}/").json())
    conforms("api.schema.json#/$defs/threads", learner.get("/api/modules/01-hello/threads/").json())
    conforms("api.schema.json#/$defs/reviews", instructor.get("/api/reviews/").json())
    conforms(
        "api.schema.json#/$defs/thread_detail", learner.post_json(f"/api/threads/{tid}/resolve/", {}).json()
    )


def _headers(persona: Persona) -> list[tuple[bytes, bytes]]:
    return [
        (b"origin", b"http://testserver"),
        (b"host", b"testserver"),
        (b"cookie", f"sessionid={persona.cookies['sessionid'].value}".encode()),
    ]


ENGINE_EVENTS: list[dict[str, Any]] = [
    {"type": "phase", "seq": 0, "t": 0.0, "phase": "started"},
    {"type": "phase", "seq": 1, "t": 0.2, "phase": "tests_collected", "count": 2},
    {
        "type": "test_started",
        "seq": 2,
        "t": 0.3,
        "id": "visible/test_hello.py::test_greet",
        "name": "test_greet",
        "step": "step1",
        "visibility": "visible",
    },
    {"type": "output", "seq": 3, "t": 0.4, "stream": "stdout", "test_id": None, "data": "hi\n"},
    {"type": "metric", "seq": 4, "t": 0.5, "name": "loss", "series": [3.0, 2.0]},
    {"type": "metric", "seq": 5, "t": 0.6, "name": "max_abs_err", "value": 1e-6},
    {"type": "test_finished", "seq": 6, "t": 0.7, "test": pass_result("01-hello")["tests"][1]},
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_every_websocket_frame_follows_its_schema(course, learner):
    created = await database_sync_to_async(submission_create)(
        user=learner.user, module=await Module.objects.aget(slug="01-hello"), files={"hello.py": GOOD_HELLO}
    )
    submission = await database_sync_to_async(submission_start)(
        submission_id=created.pk
    )  # as the worker does
    assert submission is not None
    communicator = WebsocketCommunicator(application, "/ws/grading/", headers=_headers(learner))
    connected, _ = await communicator.connect()
    assert connected
    frames: list[dict[str, Any]] = []
    for event in ENGINE_EVENTS:  # pushed live as the worker records them
        await database_sync_to_async(submission_event_record)(submission=submission, event=dict(event))
        frames.append(await communicator.receive_json_from())
    await database_sync_to_async(verdict_record)(submission_id=submission.pk, result=pass_result("01-hello"))
    frames.append(await communicator.receive_json_from())
    await communicator.send_json_to({"type": "subscribe", "submission_id": submission.pk})
    replay_count = len(ENGINE_EVENTS) + 2  # subscribed, the stored events, the verdict
    frames += [await communicator.receive_json_from() for _ in range(replay_count)]
    await communicator.send_json_to({"type": "ping"})
    await communicator.send_json_to({"type": "subscribe", "submission_id": 10**9})
    frames += [await communicator.receive_json_from(), await communicator.receive_json_from()]
    runs = [  # the third supersedes the first: queue frames pushed live, then on subscribing to each
        await database_sync_to_async(submission_create)(
            user=learner.user, module=submission.module, files={"hello.py": GOOD_HELLO}
        )
        for _ in range(3)
    ]
    for run in runs[:2]:
        await communicator.send_json_to({"type": "subscribe", "submission_id": run.pk})
    while not await communicator.receive_nothing(timeout=0.5):
        frames.append(await communicator.receive_json_from())
    await communicator.disconnect()

    kinds = [f["type"] for f in frames]
    assert {"grading.event", "grading.queue", "subscribed", "pong", "error"} <= set(kinds)
    assert {f["status"] for f in frames if f["type"] == "grading.queue"} == {"queued", "superseded"}
    assert {f["event"]["type"] for f in frames if f["type"] == "grading.event"} >= {
        "phase",
        "test_started",
        "output",
        "metric",
        "test_finished",
        "verdict",
    }
    for frame in frames:
        conforms("ws-frame.schema.json", frame)


@pytest.mark.slow
@pytest.mark.django_db
def test_a_run_of_the_real_engine_follows_the_schemas(course, learner, submit):
    """The real engine in the sandbox: its events as stored and replayed, and its verdict."""
    submission = submit(
        learner, course["01-hello"], "def greet(name):\n    raise NotImplementedError('TODO')\n"
    )
    assert tasks.grade_next(lane="short") == "graded"
    detail = learner.get(f"/api/submissions/{submission.pk}/").json()
    assert {e["type"] for e in detail["events"]} >= {"phase", "test_started", "test_finished", "verdict"}
    conforms("submission-detail.schema.json", detail)


def test_assemble_frames_follow_the_contract():
    from grading import events

    for event in (
        {"type": "status", "status": "running"},
        {"type": "progress", "stage": "base_train", "fraction": 0.5},
        {"type": "metric", "series": "loss/base_train", "x": 3, "y": 5.25},
        {"type": "end", "status": "done", "message": ""},
        {"type": "reply", "reply_id": 4, "side": "mine", "text": "Paris"},
        {"type": "reply_end", "reply_id": 4, "status": "done"},
    ):
        conforms("ws-frame.schema.json", events.assemble_frame(run_id=1, stage="base", event=event))
    with pytest.raises(AssertionError):
        conforms("ws-frame.schema.json", events.assemble_frame(run_id=1, stage="rl", event={"type": "end"}))


@pytest.mark.django_db
def test_an_assemble_reply_follows_the_contract_queued_and_answered(learner):
    from django.utils import timezone

    from grading.assemble import selectors
    from grading.assemble.models import AssembleReply, AssembleRun

    run = AssembleRun.objects.create(user=learner.user, stage="base", created_at=timezone.now())
    reply = AssembleReply.objects.create(
        user=learner.user, run=run, stage="base", prompt="Hi", created_at=timezone.now()
    )
    conforms("assemble.schema.json#/$defs/reply", selectors.reply_summary(reply))
    reply.status, reply.finished_at = AssembleReply.Status.DONE, timezone.now()
    reply.mine = {"ok": True, "text": "Hello", "message": ""}
    reply.reference = {"ok": False, "text": "", "message": "the model did not answer (timeout)."}
    conforms("assemble.schema.json#/$defs/reply", selectors.reply_summary(reply))


@pytest.mark.django_db
def test_the_assemble_stages_follow_the_contract(learner, settings):
    settings.LAB_CONTENT_DIR = Path(__file__).resolve().parents[2] / "content"
    conforms("assemble.schema.json#/$defs/stages", learner.get("/api/assemble/").json())
