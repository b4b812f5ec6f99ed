"""Drafts, reference, hints, reflection and notes endpoints for every persona."""

import pytest

from modules.models import HintReveal, Progress

pytestmark = pytest.mark.django_db

DRAFT = "/api/modules/01-hello/draft/"
REFERENCE = "/api/modules/01-hello/reference/"
HINTS = "/api/modules/01-hello/hints/reveal/"
REFLECTION = "/api/modules/01-hello/reflection/"


# --- drafts -------------------------------------------------------------------------------------------------------
def test_it_saves_and_returns_a_draft(course, learner):
    assert learner.put_json(DRAFT, {"files": {"hello.py": "x = 1\n"}}).status_code == 200
    assert learner.get(DRAFT).json() == {"files": {"hello.py": "x = 1\n"}}
    files = learner.get("/api/modules/01-hello/").json()["files"]
    assert files[0]["draft"] == "x = 1\n"


def test_it_keeps_drafts_per_learner(course, learner, other_learner):
    learner.put_json(DRAFT, {"files": {"hello.py": "mine"}})
    assert other_learner.get(DRAFT).json() == {"files": {}}


def test_it_rejects_a_draft_for_an_unknown_file(course, learner):
    response = learner.put_json(DRAFT, {"files": {"other.py": "x"}})
    assert response.status_code == 400 and response.json()["code"] == "unknown_file"


def test_it_rejects_an_oversized_draft(course, learner):
    module = course["01-hello"]
    module.metadata = {**module.metadata, "limits": {"file_bytes": 1024, "total_bytes": 1024}}
    module.save(update_fields=["metadata"])
    response = learner.put_json(DRAFT, {"files": {"hello.py": "x" * 1025}})
    assert response.status_code == 400 and response.json()["code"] == "too_large"


def test_a_saved_draft_keeps_only_the_files_the_module_still_has(course, learner):
    from modules.models import Draft

    assert learner.put_json(DRAFT, {"files": {"hello.py": "x = 1\n"}}).status_code == 200
    Draft.objects.filter(module=course["01-hello"]).update(files={"hello.py": "x = 1\n", "gone.py": "old"})
    response = learner.put_json(DRAFT, {"files": {"hello.py": "x = 2\n"}})
    assert response.status_code == 200 and response.json()["files"] == {"hello.py": "x = 2\n"}


def test_it_rejects_a_malformed_draft_body(course, learner):
    assert learner.put(DRAFT, b"{not json", content_type="application/json").status_code == 400


def test_it_refuses_drafts_to_anonymous(course, anonymous):
    assert anonymous.get(DRAFT).status_code == 403
    assert anonymous.put_json(DRAFT, {"files": {"hello.py": ""}}).status_code == 403


def test_it_refuses_drafts_of_a_locked_module(course, learner):
    assert (
        learner.put_json("/api/modules/02-next/draft/", {"files": {"nanochat/next.py": ""}}).status_code
        == 403
    )


def test_it_rejects_post_on_drafts(course, learner):
    assert learner.post_json(DRAFT, {"files": {"hello.py": ""}}).status_code == 405


def test_it_answers_404_for_the_draft_of_a_missing_module(course, learner):
    assert learner.get("/api/modules/99-x/draft/").status_code == 404


# --- reference ----------------------------------------------------------------------------------------------------
def test_it_withholds_the_reference_before_the_first_attempt(course, learner):
    response = learner.get(REFERENCE)
    assert response.status_code == 403 and response.json()["code"] == "reference_locked"


def test_an_unchanged_starter_never_opens_the_reference_however_often_it_is_submitted(
    course, learner, submit
):
    starter = course["01-hello"].payload["starters"]["hello.py"]
    for _ in range(5):
        submit(learner, course["01-hello"], starter)
    response = learner.get(REFERENCE)
    assert response.status_code == 403, "resubmitting the starter is not effort"
    assert "or after 3 attempts that change its code" in response.json()["detail"]


def test_the_same_change_resubmitted_counts_once_and_formatting_is_not_a_change(course, learner, submit):
    for text in (
        "def greet(name):\n    return None\n",
        "def greet(name):\n    # a comment\n    return None\n",
        'def greet(name):\n    """New docstring."""\n    return (None)\n',
    ):
        submit(learner, course["01-hello"], text)
    assert learner.get(REFERENCE).status_code == 403


def test_the_reference_opens_after_enough_different_attempts_at_the_step(course, learner, submit):
    for value in ("None", "name", "'hi'"):
        submit(learner, course["01-hello"], f"def greet(name):\n    return {value}\n")
    response = learner.get(REFERENCE)
    assert response.status_code == 200
    body = response.json()
    assert "Hello, {name}!" in body["files"]["hello.py"]
    assert body["steps"] == {"step1": {"open": True, "why": "effort", "versions": 3, "needed": 3}}


def test_the_reference_opens_once_the_steps_tests_pass(course, learner, pass_module):
    pass_module(learner, course["01-hello"])
    body = learner.get(REFERENCE).json()
    assert body["steps"]["step1"]["why"] == "passed"
    assert "Hello, {name}!" in body["files"]["hello.py"]


def test_a_failed_step_stays_closed(course, learner, pass_module):
    pass_module(learner, course["01-hello"], status="fail")
    assert learner.get(REFERENCE).status_code == 403


def test_it_keeps_the_reference_closed_for_other_learners(course, learner, other_learner, pass_module):
    pass_module(learner, course["01-hello"])
    assert learner.get(REFERENCE).status_code == 200
    assert other_learner.get(REFERENCE).status_code == 403


def test_it_shows_instructors_the_reference(course, instructor):
    assert instructor.get(REFERENCE).status_code == 200


def test_it_refuses_the_reference_to_anonymous(course, anonymous):
    assert anonymous.get(REFERENCE).status_code == 403


def test_it_rejects_post_on_the_reference(course, learner):
    assert learner.post_json(REFERENCE, {}).status_code == 405


# --- hints --------------------------------------------------------------------------------------------------------
def test_it_reveals_a_hint_and_records_it(course, learner):
    response = learner.post_json(HINTS, {"level": 1})
    assert response.status_code == 200
    assert response.json()["hints"] == [{"id": "h1", "step": "step1", "level": 1, "text": "Use an f-string."}]
    assert HintReveal.objects.filter(user=learner.user, hint_id="h1").count() == 1


def test_it_reveals_hints_in_layers(course, learner):
    assert learner.post_json(HINTS, {"level": 2}).status_code == 409
    assert learner.post_json(HINTS, {"level": 1}).status_code == 200
    assert learner.post_json(HINTS, {"level": 2}).json()["hints"][0]["id"] == "h2"


def test_it_rejects_a_hint_level_out_of_range(course, learner):
    for bad in (0, 4, "1", None, True):
        assert learner.post_json(HINTS, {"level": bad}).status_code == 400


def test_it_rejects_a_malformed_hint_request(course, learner):
    assert learner.post(HINTS, b"[", content_type="application/json").status_code == 400


def test_it_refuses_hints_to_anonymous(course, anonymous):
    assert anonymous.post_json(HINTS, {"level": 1}).status_code == 403


def test_it_refuses_hints_of_a_locked_module(course, learner):
    assert learner.post_json("/api/modules/02-next/hints/reveal/", {"level": 1}).status_code == 403


def test_it_rejects_get_on_hint_reveal(course, learner):
    assert learner.get(HINTS).status_code == 405


def test_it_lists_revealed_hints_on_the_module_page(course, learner):
    learner.post_json(HINTS, {"level": 1})
    page = learner.get("/modules/01-hello/").context["page_data"]
    assert [h["id"] for h in page["hints"]["revealed"]] == ["h1"]
    assert page["hints"]["levels"] == [1, 2, 3]


# --- reflection ---------------------------------------------------------------------------------------------------
ANSWERS = {"answers": {"q1": "a", "q2": "Strings are easy."}}


def test_it_stores_a_reflection_and_grades_choices(course, learner):
    response = learner.post_json(REFLECTION, ANSWERS)
    assert response.status_code == 200
    assert response.json()["correct"] == {"q1": True}
    assert learner.get(REFLECTION).json()["answers"] == ANSWERS["answers"]


def test_it_completes_a_passed_module_with_its_reflection(course, learner, pass_module):
    pass_module(learner, course["01-hello"])
    assert learner.post_json(REFLECTION, ANSWERS).json()["state"] == "completed"
    assert Progress.objects.get(user=learner.user, module=course["01-hello"]).status == "completed"


def test_it_completes_on_pass_when_the_reflection_came_first(course, learner, pass_module):
    learner.post_json(REFLECTION, ANSWERS)
    pass_module(learner, course["01-hello"])
    assert Progress.objects.get(user=learner.user, module=course["01-hello"]).status == "completed"


def test_it_rejects_an_unknown_choice(course, learner):
    response = learner.post_json(REFLECTION, {"answers": {"q1": "z", "q2": "x"}})
    assert response.status_code == 400 and response.json()["code"] == "choice_invalid"


def test_it_rejects_a_missing_answer(course, learner):
    assert learner.post_json(REFLECTION, {"answers": {"q1": "a"}}).json()["code"] == "answer_missing"


def test_it_rejects_an_unknown_question(course, learner):
    response = learner.post_json(REFLECTION, {"answers": {"q1": "a", "q2": "x", "q9": "x"}})
    assert response.json()["code"] == "unknown_question"


def test_it_rejects_answers_that_are_not_an_object(course, learner):
    assert learner.post_json(REFLECTION, {"answers": "a"}).status_code == 400


def test_it_refuses_reflection_to_anonymous(course, anonymous):
    assert anonymous.post_json(REFLECTION, ANSWERS).status_code == 403


def test_it_refuses_reflection_on_a_locked_module(course, learner):
    assert learner.post_json("/api/modules/02-next/reflection/", ANSWERS).status_code == 403


def test_it_rejects_delete_on_reflection(course, learner):
    assert learner.delete(REFLECTION).status_code == 405


# --- notes --------------------------------------------------------------------------------------------------------
def test_it_creates_and_lists_notes(course, learner):
    response = learner.post_json("/api/notes/", {"text": "remember f-strings", "module": "01-hello"})
    assert response.status_code == 201
    assert response.json()["module"] == "01-hello"
    notes = learner.get("/api/notes/").json()["notes"]
    assert [n["text"] for n in notes] == ["remember f-strings"]


def test_it_keeps_notes_private(course, learner, other_learner):
    learner.post_json("/api/notes/", {"text": "mine"})
    assert other_learner.get("/api/notes/").json()["notes"] == []


def test_it_rejects_an_empty_note(course, learner):
    assert learner.post_json("/api/notes/", {"text": "  "}).status_code == 400


def test_it_rejects_an_oversized_note(course, learner, settings):
    settings.LAB_NOTE_MAX_CHARS = 5
    assert learner.post_json("/api/notes/", {"text": "123456"}).status_code == 400


def test_it_rejects_a_note_for_a_missing_module(course, learner):
    assert learner.post_json("/api/notes/", {"text": "x", "module": "99-x"}).status_code == 404


def test_it_refuses_notes_to_anonymous(course, anonymous):
    assert anonymous.get("/api/notes/").status_code == 403
    assert anonymous.post_json("/api/notes/", {"text": "x"}).status_code == 403


def test_it_rejects_put_on_notes(course, learner):
    assert learner.put_json("/api/notes/", {"text": "x"}).status_code == 405


def test_it_lists_notes_in_a_fixed_number_of_queries(course, learner, django_assert_max_num_queries):
    for i in range(10):
        learner.post_json("/api/notes/", {"text": f"note {i}", "module": "01-hello"})
    with django_assert_max_num_queries(4):
        assert len(learner.get("/api/notes/").json()["notes"]) == 10


# --- badges -------------------------------------------------------------------------------------------------------
def test_it_lists_badges_and_a_note_moves_one(course, learner):
    before = {b["id"]: b for b in learner.get("/api/badges/").json()["badges"]}
    assert before["chronicler"]["count"] == 0 and not before["chronicler"]["earned"]
    learner.post_json("/api/notes/", {"text": "a first entry"})
    after = {b["id"]: b for b in learner.get("/api/badges/").json()["badges"]}
    assert after["chronicler"]["count"] == 1


def test_it_keeps_badges_per_learner(course, learner, other_learner):
    learner.post_json("/api/notes/", {"text": "mine"})
    theirs = {b["id"]: b for b in other_learner.get("/api/badges/").json()["badges"]}
    assert theirs["chronicler"]["count"] == 0


def test_it_refuses_badges_to_anonymous(course, anonymous):
    assert anonymous.get("/api/badges/").status_code == 403


def test_it_rejects_post_on_badges(course, learner):
    assert learner.post_json("/api/badges/", {}).status_code == 405


# --- hints per step -----------------------------------------------------------------------------------------------
def test_it_reveals_one_steps_hints_level_by_level(course, learner):
    module = course["01-hello"]
    module.payload = {
        **module.payload,
        "hints": [
            {"id": "a1", "step": "step1", "level": 1, "text": {"en": "a1"}},
            {"id": "b1", "step": "step2", "level": 1, "text": {"en": "b1"}},
            {"id": "b2", "step": "step2", "level": 2, "text": {"en": "b2"}},
        ],
    }
    module.save(update_fields=["payload"])
    assert learner.post_json(HINTS, {"level": 2, "step": "step2"}).status_code == 409
    first = learner.post_json(HINTS, {"level": 1, "step": "step2"}).json()["hints"]
    assert [h["id"] for h in first] == ["b1"]
    second = learner.post_json(HINTS, {"level": 2, "step": "step2"}).json()["hints"]
    assert [h["id"] for h in second] == ["b2"]
    assert set(HintReveal.objects.values_list("hint_id", flat=True)) == {"b1", "b2"}  # step 1's stays closed
