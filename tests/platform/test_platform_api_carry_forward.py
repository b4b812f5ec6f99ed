"""``/api/modules/<slug>/carry-forward/``: what later modules that need this module's files run with."""

import pytest

pytestmark = pytest.mark.django_db

URL = "/api/modules/01-hello/carry-forward/"


def test_it_defaults_to_the_learners_own_code(course, learner):
    response = learner.get(URL)
    assert response.status_code == 200 and response.json() == {"use": "own"}


def test_it_switches_to_the_reference_and_back(course, learner):
    assert learner.put_json(URL, {"use": "reference"}).json() == {"use": "reference"}
    assert learner.get(URL).json() == {"use": "reference"}
    assert learner.put_json(URL, {"use": "own"}).json() == {"use": "own"}


def test_the_choice_is_per_learner(course, learner, other_learner):
    learner.put_json(URL, {"use": "reference"})
    assert other_learner.get(URL).json() == {"use": "own"}


@pytest.mark.parametrize("body", [{"use": "mine"}, {"use": None}, {}, ["reference"]])
def test_it_rejects_anything_but_own_or_reference(course, learner, body):
    response = learner.put_json(URL, body)
    assert response.status_code == 400 and response.json()["code"] == "use_invalid"


def test_it_refuses_anonymous_and_locked_and_unknown_modules(course, anonymous, learner):
    assert anonymous.get(URL).status_code == 403
    assert learner.put_json("/api/modules/02-next/carry-forward/", {"use": "own"}).status_code == 403
    assert learner.get("/api/modules/99-none/carry-forward/").status_code == 404


def test_it_answers_405_to_other_methods(course, learner):
    assert learner.post_json(URL, {"use": "own"}).status_code == 405
