"""The published OpenAPI document (GET /api/schema/) covers the API exactly, is valid, and the live answers follow it.

Answers are validated against the schema taken from the document itself (path, method, status), so a view whose
declaration and behaviour disagree fails here, as does a route added without a declaration.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import path as url_path
from django.urls import reverse
from platform_helpers import GOOD_HELLO, pass_result
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from rest_framework.response import Response

from grading.services import verdict_record
from labplatform.openapi import UndocumentedRoute, document_build, openapi_document
from modules.api import LabAPIView

META_SCHEMA = json.loads(Path(__file__).with_name("openapi-3.1.meta.json").read_text(encoding="utf-8"))
DOC_URI = "urn:nanochat-lab:openapi"
METHODS = ("get", "post", "put", "patch", "delete")


def document() -> dict[str, Any]:
    return openapi_document()


def pointer(*parts: str) -> str:
    return "#/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def conforms(instance: Any, *where: str) -> None:
    """Raise unless ``instance`` (as it goes over the wire) follows the document's schema at ``where``."""
    registry: Registry = Registry().with_resource(
        DOC_URI, Resource(contents=document(), specification=DRAFT202012)
    )
    validator = jsonschema.Draft202012Validator({"$ref": DOC_URI + pointer(*where)}, registry=registry)
    wire = json.loads(json.dumps(instance, cls=DjangoJSONEncoder))
    error = jsonschema.exceptions.best_match(validator.iter_errors(wire))
    if error is not None:
        at = "/".join(map(str, error.absolute_path)) or "(root)"
        raise AssertionError(f"{' '.join(where[:5])} at {at}: {error.message}")


def follows_document(response: Any, template: str, method: str, *, sent: Any = None) -> None:
    """Raise unless ``response`` has a status the document lists for ``method template`` and a body that
    follows the schema the document gives for it; ``sent``, the body of an accepted request, must follow the
    documented request schema."""
    operation = document()["paths"][template][method]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method.upper()} {template} answered {status}, not documented"
    conforms(
        response.json(),
        "paths",
        template,
        method,
        "responses",
        status,
        "content",
        "application/json",
        "schema",
    )
    if sent is not None:
        assert response.status_code < 300, "only an accepted request's body tells whether the schema is right"
        conforms(sent, "paths", template, method, "requestBody", "content", "application/json", "schema")


def served_routes() -> set[tuple[str, str]]:
    """(path template, method) for every API view the URL conf serves under /api/, read from Django's resolver."""
    from django.urls import URLPattern, URLResolver, get_resolver

    out = set()

    def walk(patterns: list[Any], prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern) and (prefix + str(entry.pattern)).startswith("api/"):
                view = entry.callback.view_class  # type: ignore[attr-defined]
                template = "/" + (prefix + str(entry.pattern))
                for converter in ("<slug:slug>", "<slug:stage>", "<int:submission_id>", "<int:thread_id>"):
                    template = template.replace(converter, "{" + converter[1:-1].split(":")[1] + "}")
                out.update((template, m) for m in METHODS if hasattr(view, m))

    walk(get_resolver().url_patterns, "")
    return out


def test_every_served_route_and_method_is_documented_and_nothing_else():
    documented = {(p, m) for p, item in document()["paths"].items() for m in item if m in METHODS}
    served = served_routes()
    assert ("/api/modules/{slug}/submissions/", "post") in served
    assert served == documented


def test_the_document_is_openapi_3_1():
    doc = document()
    jsonschema.Draft202012Validator(META_SCHEMA).validate(doc)
    assert doc["openapi"].startswith("3.1.")
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_the_meta_schema_catches_a_broken_document():
    broken = json.loads(json.dumps(document()))
    del broken["paths"]["/api/modules/"]["get"]["responses"]["200"]["description"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(META_SCHEMA).validate(broken)


def test_every_ref_resolves():
    doc = document()
    resolver = (
        Registry().with_resource(DOC_URI, Resource(contents=doc, specification=DRAFT202012)).resolver(DOC_URI)
    )
    refs: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            refs.extend([node["$ref"]] if isinstance(node.get("$ref"), str) else [])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(doc)
    assert len(refs) > 50
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        resolver.lookup(ref)


def test_the_document_reuses_the_contract_schemas():
    schemas = document()["components"]["schemas"]
    assert schemas["common"]["$defs"]["note"]["title"] == "WireNote"
    assert schemas["result-v1"]["title"] == "GradingResult"
    assert "$id" not in schemas["api"]


@pytest.mark.django_db
def test_it_serves_the_document_without_a_login(anonymous):
    response = anonymous.get(reverse("api-schema"))
    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(document()))


class Undeclared(LabAPIView):
    def get(self, request: Any) -> Response:
        return Response({})


urlpatterns = [url_path("api/undeclared/", Undeclared.as_view())]


def test_a_route_without_a_declaration_cannot_be_published(settings):
    settings.ROOT_URLCONF = __name__
    with pytest.raises(UndocumentedRoute, match="GET /api/undeclared/"):
        document_build()


@pytest.mark.django_db
def test_the_module_answers_follow_the_document(course, learner, anonymous):
    follows_document(learner.get("/api/modules/"), "/api/modules/", "get")
    follows_document(learner.get("/api/modules/01-hello/"), "/api/modules/{slug}/", "get")
    follows_document(learner.get("/api/modules/02-next/"), "/api/modules/{slug}/", "get")
    follows_document(learner.get("/api/modules/nope/"), "/api/modules/{slug}/", "get")
    follows_document(anonymous.get("/api/modules/"), "/api/modules/", "get")
    draft = "/api/modules/{slug}/draft/"
    follows_document(learner.get("/api/modules/01-hello/draft/"), draft, "get")
    follows_document(
        learner.put_json("/api/modules/01-hello/draft/", {"files": {"hello.py": GOOD_HELLO}}),
        draft,
        "put",
        sent={"files": {"hello.py": GOOD_HELLO}},
    )
    hints = "/api/modules/{slug}/hints/reveal/"
    follows_document(
        learner.post_json("/api/modules/01-hello/hints/reveal/", {"level": 1}),
        hints,
        "post",
        sent={"level": 1},
    )
    follows_document(learner.post_json("/api/modules/01-hello/hints/reveal/", {"level": 3}), hints, "post")
    carry = "/api/modules/{slug}/carry-forward/"
    follows_document(learner.get("/api/modules/01-hello/carry-forward/"), carry, "get")
    follows_document(learner.put_json("/api/modules/01-hello/carry-forward/", {"use": "bad"}), carry, "put")
    follows_document(
        learner.get("/api/modules/01-hello/reflection/"), "/api/modules/{slug}/reflection/", "get"
    )
    reflection = "/api/modules/{slug}/reflection/"
    questions = learner.get("/modules/01-hello/").context["page_data"]["reflection"]["questions"]
    answers = {q["id"]: (q["choices"][0]["id"] if q["choices"] else "because") for q in questions}
    follows_document(
        learner.post_json("/api/modules/01-hello/reflection/", {"answers": answers}),
        reflection,
        "post",
        sent={"answers": answers},
    )
    follows_document(learner.get("/api/modules/01-hello/reflection/"), reflection, "get")
    follows_document(
        learner.post_json("/api/modules/02-next/reflection/", {"answers": {}}), reflection, "post"
    )
    follows_document(learner.get("/api/notes/"), "/api/notes/", "get")
    follows_document(
        learner.post_json("/api/notes/", {"text": "a note", "module": "01-hello"}),
        "/api/notes/",
        "post",
        sent={"text": "a note", "module": "01-hello"},
    )


@pytest.mark.django_db
def test_the_grading_answers_follow_the_document(course, learner, other_learner, instructor):
    listing = "/api/modules/{slug}/submissions/"
    created = learner.post_json("/api/modules/01-hello/submissions/", {"files": {"hello.py": GOOD_HELLO}})
    follows_document(created, listing, "post", sent={"files": {"hello.py": GOOD_HELLO}})
    sid = created.json()["id"]
    detail = "/api/submissions/{submission_id}/"
    follows_document(learner.get(f"/api/submissions/{sid}/"), detail, "get")
    verdict_record(submission_id=sid, result=pass_result("01-hello"))
    follows_document(learner.get(f"/api/submissions/{sid}/"), detail, "get")
    follows_document(instructor.get(f"/api/submissions/{sid}/"), detail, "get")
    refused = other_learner.get(f"/api/submissions/{sid}/")
    assert refused.status_code == 404
    follows_document(refused, detail, "get")
    follows_document(learner.get("/api/modules/01-hello/submissions/"), listing, "get")
    export = "/api/submissions/{submission_id}/export/"
    follows_document(learner.get(f"/api/submissions/{sid}/export/?as=exercism"), export, "get")
    follows_document(learner.get(f"/api/submissions/{sid}/export/?as=moodle"), export, "get")
    follows_document(other_learner.get(f"/api/submissions/{sid}/export/?as=exercism"), export, "get")
    gradebook = "/api/instructor/gradebook.csv"
    follows_document(learner.get(gradebook), gradebook, "get")
    assert instructor.get(gradebook).status_code == 200
    assert "text/csv" in document()["paths"][gradebook]["get"]["responses"]["200"]["content"]
    follows_document(learner.get("/api/modules/01-hello/reference/"), "/api/modules/{slug}/reference/", "get")
    code = {"path": "a.py", "text": "x=1\n"}
    follows_document(learner.post_json("/api/tools/format/", code), "/api/tools/format/", "post", sent=code)
    follows_document(
        learner.post_json("/api/tools/format/", {"path": "a.py", "text": "x=(\n"}),
        "/api/tools/format/",
        "post",
    )
    lint = {"path": "a.py", "text": "import os\n"}
    follows_document(learner.post_json("/api/tools/lint/", lint), "/api/tools/lint/", "post", sent=lint)


@pytest.mark.django_db
def test_the_discussion_answers_follow_the_document(course, learner, other_learner, instructor, pass_module):
    submission = pass_module(learner, course["01-hello"])
    threads = "/api/modules/{slug}/threads/"
    review = {"kind": "review", "title": "Look?", "body": "please", "submission": submission.pk}
    created = learner.post_json("/api/modules/01-hello/threads/", review)
    follows_document(created, threads, "post", sent=review)
    tid = created.json()["id"]
    follows_document(learner.get("/api/modules/01-hello/threads/"), threads, "get")
    follows_document(learner.get(f"/api/threads/{tid}/"), "/api/threads/{thread_id}/", "get")
    follows_document(other_learner.get(f"/api/threads/{tid}/"), "/api/threads/{thread_id}/", "get")
    posts = "/api/threads/{thread_id}/posts/"
    follows_document(
        instructor.post_json(f"/api/threads/{tid}/posts/", {"body": "ok"}), posts, "post", sent={"body": "ok"}
    )
    follows_document(instructor.get("/api/reviews/"), "/api/reviews/", "get")
    follows_document(learner.get("/api/reviews/"), "/api/reviews/", "get")
    follows_document(
        learner.post_json(f"/api/threads/{tid}/resolve/", {}), "/api/threads/{thread_id}/resolve/", "post"
    )


@pytest.mark.django_db
def test_a_wrong_status_or_shape_fails_the_check(course, learner):
    response = learner.get("/api/modules/")
    response.status_code = 201
    with pytest.raises(AssertionError, match="not documented"):
        follows_document(response, "/api/modules/", "get")
    with pytest.raises(AssertionError, match="'modules' is a required property"):
        follows_document(learner.get("/api/notes/"), "/api/modules/", "get")
    with pytest.raises(AssertionError, match="5 is not of type 'string'"):
        follows_document(
            learner.post_json("/api/notes/", {"text": "x"}), "/api/notes/", "post", sent={"text": 5}
        )
