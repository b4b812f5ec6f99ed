"""Every module-scoped endpoint against the same conditions: anonymous, missing module, locked module, instructor."""

import pytest
from django.test import Client

from modules.services import module_unlock

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    ("get", "/api/modules/{slug}/", None),
    ("get", "/api/modules/{slug}/draft/", None),
    ("put", "/api/modules/{slug}/draft/", {"files": {"nanochat/next.py": "VALUE = 1\n"}}),
    ("get", "/api/modules/{slug}/submissions/", None),
    ("post", "/api/modules/{slug}/submissions/", {"files": {"nanochat/next.py": "VALUE = 1\n"}}),
    ("get", "/api/modules/{slug}/reference/", None),
    ("post", "/api/modules/{slug}/hints/reveal/", {"level": 1}),
    ("post", "/api/modules/{slug}/reflection/", {"answers": {}}),
]
IDS = [f"{method} {url}" for method, url, _ in ENDPOINTS]


def call(persona, method, url, body, slug):
    url = url.format(slug=slug)
    if method == "get":
        return persona.get(url)
    return getattr(persona, f"{method}_json")(url, body)


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS, ids=IDS)
def test_it_refuses_anonymous_everywhere(course, anonymous, method, url, body):
    assert call(anonymous, method, url, body, "01-hello").status_code == 403


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS, ids=IDS)
def test_it_answers_404_for_a_missing_module_everywhere(course, learner, method, url, body):
    assert call(learner, method, url, body, "77-missing").status_code == 404


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS, ids=IDS)
def test_it_refuses_a_locked_module_everywhere(course, learner, method, url, body):
    response = call(learner, method, url, body, "02-next")
    assert response.status_code == 403
    assert response.json()["detail"] == "this module is locked"


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS, ids=IDS)
def test_it_answers_404_for_a_retired_module_everywhere(course, learner, method, url, body):
    course["01-hello"].status = "retired"
    course["01-hello"].save(update_fields=["status"])
    assert call(learner, method, url, body, "01-hello").status_code == 404


def test_instructors_can_work_on_a_module_learners_cannot_open_yet(course, instructor):
    assert instructor.get("/api/modules/02-next/").status_code == 200
    response = instructor.post_json(
        "/api/modules/02-next/submissions/", {"files": {"nanochat/next.py": "VALUE = 1"}}
    )
    assert response.status_code == 201


def test_an_instructor_unlock_opens_a_module_for_that_learner_only(course, learner, other_learner):
    module_unlock(user=learner.user, module=course["02-next"], reason="instructor")
    assert learner.get("/api/modules/02-next/").status_code == 200
    assert other_learner.get("/api/modules/02-next/").status_code == 403
    states = {m["slug"]: m["state"] for m in learner.get("/api/modules/").json()["modules"]}
    assert states["02-next"] == "unlocked"


def test_it_enforces_csrf_on_session_authenticated_writes(course, learner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(learner.user)
    url = "/api/modules/01-hello/submissions/"
    body = '{"files": {"hello.py": "x = 1"}}'
    assert browser.post(url, body, content_type="application/json").status_code == 403
    browser.get("/")  # sets the csrftoken cookie, as the page does
    token = browser.cookies["csrftoken"].value
    response = browser.post(url, body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201
