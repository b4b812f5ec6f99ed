"""The instructors' gradebook CSV (GET /api/instructor/gradebook.csv) and a single attempt's result in the
Gradescope, Exercism and PrairieLearn formats (GET /api/submissions/<id>/export/?as=...)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from platform_helpers import Persona

from grading.engine import exporters
from grading.gradebook import COLUMNS, gradebook_rows, time_spent_seconds
from grading.models import Submission
from grading.selectors import learner_view_of_result
from modules.services import learner_create

GRADEBOOK = "/api/instructor/gradebook.csv"


def table(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(response.content.decode("utf-8")))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


@pytest.mark.django_db
def test_it_lists_every_learner_and_module_including_a_learner_with_no_attempts(
    course, learner, other_learner, instructor, pass_module
):
    passed = pass_module(learner, course["01-hello"])
    rows = table(instructor.get(GRADEBOOK))
    assert [(r["username"], r["module"]) for r in rows] == [
        ("ada", "01-hello"),
        ("ada", "02-next"),
        ("bo", "01-hello"),
        ("bo", "02-next"),
    ]
    ada_hello, ada_next, bo_hello, bo_next = rows
    passed_at = passed.user.progress.get(module=course["01-hello"]).passed_at
    assert ada_hello == {
        "username": "ada",
        "module": "01-hello",
        "state": "passed",
        "best_score": "2.0",
        "max_score": "2.0",
        "attempts": "1",
        "passed_at": passed_at.isoformat(),
        "completed_at": "",
        "time_spent_seconds": "0",
    }
    assert ada_next["state"] == "locked", "dependants open on completed, not passed"
    assert bo_hello == {
        "username": "bo",
        "module": "01-hello",
        "state": "unlocked",
        "best_score": "",
        "max_score": "",
        "attempts": "0",
        "passed_at": "",
        "completed_at": "",
        "time_spent_seconds": "0",
    }
    assert bo_next["state"] == "locked"


@pytest.mark.django_db
def test_it_counts_time_between_submissions_in_sessions(course, learner, instructor, submit):
    start = timezone.now() - timedelta(hours=2)
    for minutes in (0, 10, 50, 55):
        submission = submit(learner, course["01-hello"])
        Submission.objects.filter(pk=submission.pk).update(created_at=start + timedelta(minutes=minutes))
    rows = table(instructor.get(GRADEBOOK))
    assert rows[0]["module"] == "01-hello"
    assert rows[0]["time_spent_seconds"] == str((10 + 5) * 60), "the 40-minute gap starts a new session"


def test_time_spent_is_zero_for_one_or_no_submission():
    now = timezone.now()
    assert time_spent_seconds([]) == 0
    assert time_spent_seconds([now]) == 0
    assert time_spent_seconds([now, now + timedelta(minutes=29)]) == 29 * 60
    assert time_spent_seconds([now, now + timedelta(minutes=30)]) == 0


@pytest.mark.django_db
def test_it_guards_cells_against_spreadsheet_formulas(course, instructor):
    for name in ("=cmd", "+sum", "-neg", "@at"):
        learner_create(username=name, password="correct horse battery")
    names = {row["username"] for row in table(instructor.get(GRADEBOOK))}
    assert names == {"'=cmd", "'+sum", "'-neg", "'@at"}


@pytest.mark.django_db
def test_it_reads_each_table_once_whatever_the_class_size(course, instructor, pass_module):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            gradebook_rows()
        return len(queries)

    first = Persona(learner_create(username="first", password="correct horse battery"))
    pass_module(first, course["01-hello"])
    small = count()
    for n in range(4):
        pass_module(
            Persona(learner_create(username=f"more{n}", password="correct horse battery")), course["01-hello"]
        )
    assert small == count() == 5


@pytest.mark.django_db
def test_it_refuses_learners_and_anonymous(course, learner, anonymous):
    refused = learner.get(GRADEBOOK)
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_instructor"
    assert anonymous.get(GRADEBOOK).status_code == 403


@pytest.mark.django_db
def test_it_rejects_a_wrong_method(course, instructor):
    assert instructor.post(GRADEBOOK).status_code == 405


def export_url(submission_id: int, export_format: str) -> str:
    return f"/api/submissions/{submission_id}/export/?as={export_format}"


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["pass", "fail"])
def test_each_export_format_is_the_exporters_output_of_what_the_learner_sees(
    course, learner, pass_module, status
):
    submission = pass_module(learner, course["01-hello"], status=status)
    seen = learner_view_of_result(submission.result.result)
    expected = {
        "gradescope": exporters.to_gradescope(seen),
        "exercism": exporters.to_exercism(seen, steps=["step1"]),
        "prairielearn": exporters.to_prairielearn(seen),
    }
    for export_format, body in expected.items():
        response = learner.get(export_url(submission.pk, export_format))
        assert response.status_code == 200, (export_format, response.content)
        assert response.json() == body
    assert "secret hidden output" not in str(expected)
    assert expected["exercism"]["version"] == 3
    assert 0 <= expected["prairielearn"]["score"] <= 1


@pytest.mark.django_db
def test_an_instructor_exports_the_full_result(course, learner, instructor, pass_module):
    submission = pass_module(learner, course["01-hello"])
    response = instructor.get(export_url(submission.pk, "gradescope"))
    assert response.status_code == 200
    assert "secret hidden output" in str(response.json())


@pytest.mark.django_db
def test_it_refuses_a_foreign_or_missing_submission_export(
    course, learner, other_learner, anonymous, pass_module
):
    submission = pass_module(learner, course["01-hello"])
    assert other_learner.get(export_url(submission.pk, "gradescope")).status_code == 404
    assert learner.get(export_url(submission.pk + 1000, "gradescope")).status_code == 404
    assert anonymous.get(export_url(submission.pk, "gradescope")).status_code == 403


@pytest.mark.django_db
def test_it_rejects_an_unknown_format_and_an_ungraded_submission(course, learner, submit):
    submission = submit(learner, course["01-hello"])
    unknown = learner.get(export_url(submission.pk, "moodle"))
    assert (unknown.status_code, unknown.json()["code"]) == (400, "format_invalid")
    waiting = learner.get(export_url(submission.pk, "gradescope"))
    assert (waiting.status_code, waiting.json()["code"]) == (409, "not_graded")
