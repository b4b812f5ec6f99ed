"""POST/GET /api/modules/<slug>/submissions/ and GET /api/submissions/<id>/."""

import pytest
from platform_helpers import GOOD_HELLO, pass_result

from grading.models import Submission
from grading.services import verdict_record

pytestmark = pytest.mark.django_db

URL = "/api/modules/01-hello/submissions/"


def test_it_creates_a_queued_submission(course, learner, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = learner.post_json(URL, {"files": {"hello.py": GOOD_HELLO}})
        assert enqueued == []  # not before commit
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "queued"
    submission = Submission.objects.get(pk=body["id"])
    assert submission.files == {"hello.py": GOOD_HELLO}
    assert submission.content_hash == course["01-hello"].content_hash
    assert enqueued == [body["id"]]  # after commit


def test_it_enqueues_nothing_when_the_submission_is_rejected(
    course, learner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = learner.post_json(URL, {"files": {"evil.py": "x"}})
    assert response.status_code == 400
    assert callbacks == []


def test_it_rejects_a_file_the_module_does_not_let_you_edit(course, learner):
    response = learner.post_json(URL, {"files": {"other.py": "x"}})
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_file"


def test_it_rejects_a_path_that_leaves_the_workspace(course, learner):
    response = learner.post_json(URL, {"files": {"../etc/passwd": "x"}})
    assert response.status_code == 400
    assert response.json()["code"] == "path_invalid"


def test_it_rejects_an_oversized_submission(course, learner):
    module = course["01-hello"]
    module.metadata = {**module.metadata, "limits": {**module.metadata.get("limits", {}), "file_bytes": 1024}}
    module.save(update_fields=["metadata"])
    assert learner.post_json(URL, {"files": {"hello.py": "x" * 1024}}).status_code == 201
    response = learner.post_json(URL, {"files": {"hello.py": "x" * 1025}})
    assert response.status_code == 400
    assert response.json()["code"] == "too_large" and "1024" in response.json()["detail"]


def test_it_rejects_binary_content(course, learner):
    response = learner.post_json(URL, {"files": {"hello.py": "ok\x00bin"}})
    assert response.status_code == 400
    assert response.json()["code"] == "binary_file"


def test_it_rejects_text_that_is_not_utf8(course, learner):
    response = learner.post(URL, b'{"files": {"hello.py": "\\ud800"}}', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "not_utf8"


def test_it_rejects_a_body_that_is_not_utf8(course, learner):
    response = learner.post(URL, b'{"files": {"hello.py": "\xff\xfe"}}', content_type="application/json")
    assert response.status_code == 400


def test_it_rejects_malformed_json(course, learner):
    response = learner.post(URL, b'{"files": ', content_type="application/json")
    assert response.status_code == 400


def test_it_rejects_files_that_are_not_an_object(course, learner):
    response = learner.post_json(URL, {"files": ["hello.py"]})
    assert response.status_code == 400


def test_it_refuses_a_submission_to_a_locked_module(course, learner):
    response = learner.post_json(
        "/api/modules/02-next/submissions/", {"files": {"nanochat/next.py": "VALUE = 1"}}
    )
    assert response.status_code == 403


def test_it_refuses_a_submission_from_anonymous(course, anonymous):
    assert anonymous.post_json(URL, {"files": {"hello.py": GOOD_HELLO}}).status_code == 403
    assert Submission.objects.count() == 0


def test_it_answers_404_for_submissions_to_a_missing_module(course, learner):
    assert learner.post_json("/api/modules/99-x/submissions/", {"files": {"a.py": ""}}).status_code == 404


def test_it_rate_limits_submissions(course, learner, settings):
    settings.LAB_SUBMISSIONS_PER_MINUTE = 2
    codes = [learner.post_json(URL, {"files": {"hello.py": GOOD_HELLO}}).status_code for _ in range(3)]
    assert codes == [201, 201, 429]


def test_it_rejects_put_on_submissions(course, learner):
    assert learner.put_json(URL, {}).status_code == 405


def test_it_lists_only_my_attempts_newest_first(course, learner, other_learner, submit):
    first = submit(learner, course["01-hello"])
    second = submit(learner, course["01-hello"])
    submit(other_learner, course["01-hello"])
    response = learner.get(URL)
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["submissions"]] == [second.pk, first.pk]


def test_it_lists_attempts_in_a_fixed_number_of_queries(
    course, learner, pass_module, django_assert_max_num_queries
):
    for _ in range(5):
        pass_module(learner, course["01-hello"], status="fail")
    with django_assert_max_num_queries(7):
        response = learner.get(URL)
    assert len(response.json()["submissions"]) == 5
    assert response.json()["submissions"][0]["result"]["status"] == "fail"


def test_it_shows_a_submission_with_its_result_and_events(course, learner, pass_module):
    submission = pass_module(learner, course["01-hello"])
    body = learner.get(f"/api/submissions/{submission.pk}/").json()
    assert body["status"] == "done"
    assert body["files"] == {"hello.py": GOOD_HELLO}
    assert body["result"]["status"] == "pass"
    assert body["events"][-1]["type"] == "verdict"


def test_it_hides_hidden_test_output_from_learners(course, learner, pass_module):
    submission = pass_module(learner, course["01-hello"])
    body = learner.get(f"/api/submissions/{submission.pk}/").json()
    hidden = [t for t in body["result"]["tests"] if t["visibility"] == "hidden"][0]
    assert hidden["output"] == "" and hidden["metrics"] == {}
    assert "secret hidden output" not in str(body["events"])


def test_it_matches_feedback_rules_to_the_verdict(course, learner, submit):
    submission = submit(learner, course["01-hello"])
    verdict_record(
        submission_id=submission.pk,
        result=pass_result("01-hello", status="fail", message="NotImplementedError: x"),
    )
    body = learner.get(f"/api/submissions/{submission.pk}/").json()
    assert body["advice"] == [{"id": "not-implemented", "advice": "Replace the raise line."}]


def test_it_hides_another_learners_submission(course, learner, other_learner, submit):
    submission = submit(learner, course["01-hello"])
    assert other_learner.get(f"/api/submissions/{submission.pk}/").status_code == 404


def test_it_lets_instructors_read_any_submission(course, learner, instructor, pass_module):
    submission = pass_module(learner, course["01-hello"])
    body = instructor.get(f"/api/submissions/{submission.pk}/").json()
    hidden = [t for t in body["result"]["tests"] if t["visibility"] == "hidden"][0]
    assert hidden["output"] == "secret hidden output"


def test_it_answers_404_for_a_missing_submission(course, learner):
    assert learner.get("/api/submissions/999999/").status_code == 404


def test_it_refuses_submission_detail_to_anonymous(course, anonymous, learner, submit):
    submission = submit(learner, course["01-hello"])
    assert anonymous.get(f"/api/submissions/{submission.pk}/").status_code == 403


def test_it_rejects_post_on_submission_detail(course, learner, submit):
    submission = submit(learner, course["01-hello"])
    assert learner.post_json(f"/api/submissions/{submission.pk}/", {}).status_code == 405
