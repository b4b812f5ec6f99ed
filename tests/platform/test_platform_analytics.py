"""The instructors' analytics page on a small class whose every number is worked out by hand below, its CSV export,
the learner drill-down, and who may read them.

The class (fixture course: ``01-hello``, then ``02-next``), with the clock set for each step:

==== ================= ===================================================================== ==================
who  signed up         on 01-hello                                                           survey
==== ================= ===================================================================== ==================
ada  Mon 02-02 10:00   fail 02-12 08:00, fail 09:00, pass 10:00 (3 attempts, 2 h);            start 2; after 4,
                       reflection 10:30 → completed; last change 10 days after sign-up         difficulty 3,
                                                                                               helpful 5, comment
bo   Tue 02-03 10:00   submit 03-10 09:00, pass 10:00 (1 attempt, 1 h) → passed; 35 days      start 4; after
                                                                                               skipped
cy   Mon 03-09 09:00   fail 03-10 08:00, fail 08:30 → in progress; 1 day                      start skipped
dee  Thu 03-12 10:00   nothing                                                                 —
==== ================= ===================================================================== ==================

"Now" is Mon 2026-03-16 12:00 UTC. 01-hello: started 3, passed 2, completed 1 → completion 33.3 %, average
attempts to pass (3 + 1) / 2 = 2.00, median time to pass (2 h, 1 h) = 1.5 h; confidence before (2 + 4) / 2 = 3.00,
after 4.00. Tests: the visible test fails in all four failing attempts (runs 6, failures 4, pass rate 33.3 %), the
hidden one only in each learner's first (runs 6, failures 2, 66.7 %). Retention: week of 02-02 — ada and bo, both
retained at 7 days (2/2), at 30 days only bo (1/2); week of 03-09 — cy could be retained at 7 days and was not
(0/1), dee signed up under 7 days ago; nobody of that week can be retained at 30 days yet ("—").
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from platform_helpers import GOOD_HELLO, Persona, pass_result

from grading.analytics import selectors
from grading.analytics.models import DailyTestCount, LearnerModuleStat
from grading.services import submission_create, verdict_record
from modules.models import LearnerSettings, Route
from modules.services import learner_create, note_create, reflection_submit

NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
VISIBLE = "visible/test_hello.py::test_greet_greets_by_name"
HIDDEN = "hidden/test_hello_hidden.py::test_greet_handles_another_name"


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    """Set the time the services read (``timezone.now``)."""
    state = {"now": NOW}
    monkeypatch.setattr(timezone, "now", lambda: state["now"])

    def _set(when: datetime) -> None:
        state["now"] = when

    return _set


def result(*, visible: str, hidden: str, message: str = "") -> dict[str, Any]:
    out = pass_result("01-hello", status="pass" if visible == hidden == "pass" else "fail")
    out["tests"][0] |= {"status": visible, "message": message or "ok"}
    out["tests"][1] |= {"status": hidden}
    return out


def attempt(clock, user: User, module, submitted: datetime, graded: datetime, res: dict[str, Any]) -> None:
    clock(submitted)
    submission = submission_create(user=user, module=module, files={"hello.py": GOOD_HELLO})
    clock(graded)
    verdict_record(submission_id=submission.pk, result=res)


def joined(username: str, when: datetime) -> User:
    user = learner_create(username=username, password="correct horse battery")
    User.objects.filter(pk=user.pk).update(date_joined=when)
    user.refresh_from_db()
    return user


@pytest.fixture
def klass(course, clock, instructor) -> dict[str, User]:
    from grading.analytics.services import survey_answer

    hello = course["01-hello"]
    ada = joined("ada", at(2, 2, 10))
    bo = joined("bo", at(2, 3, 10))
    cy = joined("cy", at(3, 9, 9))
    dee = joined("dee", at(3, 12, 10))
    fail_first = result(visible="fail", hidden="fail", message="expected 'Hello, Ada!'")
    fail_again = result(visible="fail", hidden="pass", message="expected 'Hello, Ada!' again")
    passed = result(visible="pass", hidden="pass")

    clock(at(2, 12, 7, 55))
    survey_answer(user=ada, module=hello, body={"stage": "start", "confidence": 2})
    attempt(clock, ada, hello, at(2, 12, 8), at(2, 12, 8, 1), fail_first)
    attempt(clock, ada, hello, at(2, 12, 9), at(2, 12, 9, 1), fail_again)
    attempt(clock, ada, hello, at(2, 12, 9, 59), at(2, 12, 10), passed)
    clock(at(2, 12, 10, 30))
    reflection_submit(user=ada, module=hello, answers={"q1": "a", "q2": "greetings"})
    survey_answer(
        user=ada,
        module=hello,
        body={
            "stage": "after",
            "confidence": 4,
            "difficulty": 3,
            "helpfulness": 5,
            "comment": "More pictures",
        },
    )
    note_create(user=ada, text="f-strings format names", module=hello)

    clock(at(3, 10, 8, 55))
    survey_answer(user=bo, module=hello, body={"stage": "start", "confidence": 4})
    attempt(clock, bo, hello, at(3, 10, 9), at(3, 10, 10), passed)
    survey_answer(user=bo, module=hello, body={"stage": "after", "skipped": True})

    survey_answer(user=cy, module=hello, body={"stage": "start", "skipped": True})
    attempt(clock, cy, hello, at(3, 10, 8), at(3, 10, 8, 1), fail_first | {"status": "fail"})
    cy_last = result(visible="fail", hidden="pass", message="expected 'Hello, Cy!' (attempt 2)")
    attempt(clock, cy, hello, at(3, 10, 8, 29), at(3, 10, 8, 30), cy_last)
    clock(NOW)
    return {"ada": ada, "bo": bo, "cy": cy, "dee": dee}


def row(rows: list[dict[str, Any]], slug: str) -> dict[str, Any]:
    return next(r for r in rows if r["slug"] == slug)


# --- the numbers ---------------------------------------------------------------------------------------------------
def test_module_rows_match_the_hand_computed_class(klass):
    hello = row(selectors.module_rows(filters=selectors.Filters(), lang="en"), "01-hello")
    assert (hello["started"], hello["passed"], hello["completed"]) == (3, 2, 1)
    assert hello["completion_rate"] == pytest.approx(1 / 3)
    assert hello["pass_rate"] == pytest.approx(2 / 3)
    assert hello["avg_attempts_to_pass"] == pytest.approx(2.0)
    assert hello["median_seconds_to_pass"] == pytest.approx(5400)
    assert hello["confidence_before"] == pytest.approx(3.0)
    assert hello["confidence_after"] == pytest.approx(4.0)
    assert (hello["difficulty"], hello["helpfulness"]) == (pytest.approx(3.0), pytest.approx(5.0))
    assert (hello["survey_answered"], hello["survey_skipped"]) == ((2, 1), (1, 1))


@pytest.mark.parametrize("params", [{}, {"since": "2026-01-01"}])
def test_instructors_staff_and_inactive_accounts_are_no_learners(klass, course, clock, instructor, params):
    hello = course["01-hello"]
    klass["dee"].is_active = False
    klass["dee"].save(update_fields=["is_active"])
    for user in (instructor.user, klass["dee"]):
        attempt(clock, user, hello, NOW, NOW, result(visible="pass", hidden="pass"))
    hello_row = row(selectors.module_rows(filters=selectors.filters_parse(params), lang="en"), "01-hello")
    assert (hello_row["started"], hello_row["passed"], hello_row["avg_attempts_to_pass"]) == (3, 2, 2.0)


def test_a_module_nobody_started_has_no_rates(klass):
    nxt = row(selectors.module_rows(filters=selectors.Filters(), lang="en"), "02-next")
    assert (nxt["started"], nxt["completion_rate"], nxt["avg_attempts_to_pass"]) == (0, None, None)


def test_the_aggregates_kept_at_grading_count_each_learners_attempts(klass):
    stats = {s.user.username: s for s in LearnerModuleStat.objects.select_related("user")}
    assert (stats["ada"].attempts, stats["ada"].attempts_to_pass, stats["ada"].seconds_to_pass) == (
        3,
        3,
        7200,
    )
    assert (stats["bo"].attempts, stats["bo"].attempts_to_pass, stats["bo"].seconds_to_pass) == (1, 1, 3600)
    assert (stats["cy"].attempts, stats["cy"].attempts_to_pass) == (2, None)


def test_a_platform_fault_is_no_attempt(klass, course, clock):
    hello = course["01-hello"]
    attempt(clock, klass["cy"], hello, NOW, NOW, pass_result("01-hello", status="error"))
    assert LearnerModuleStat.objects.get(user=klass["cy"]).attempts == 2
    assert DailyTestCount.objects.filter(day=NOW.date()).count() == 0


def test_the_most_failed_tests_come_first_with_their_latest_message(klass):
    tests = selectors.test_rows(filters=selectors.Filters(), lang="en")
    assert [(t["test_id"], t["runs"], t["failures"]) for t in tests] == [(VISIBLE, 6, 4), (HIDDEN, 6, 2)]
    assert tests[0]["pass_rate"] == pytest.approx(2 / 6)
    assert tests[0]["message"] == "expected 'Hello, Cy!' (attempt 2)"
    assert tests[1]["pass_rate"] == pytest.approx(4 / 6)


def test_dates_pick_learners_by_sign_up_and_test_runs_by_day(klass):
    filters = selectors.filters_parse({"until": "2026-02-28"})
    hello = row(selectors.module_rows(filters=filters, lang="en"), "01-hello")
    assert (hello["started"], hello["passed"], hello["completed"]) == (2, 2, 1)
    tests = selectors.test_rows(filters=filters, lang="en")
    assert [(t["test_id"], t["runs"], t["failures"]) for t in tests] == [(VISIBLE, 3, 2), (HIDDEN, 3, 1)]
    assert tests[0]["message"] == "expected 'Hello, Ada!' again"


def test_a_route_keeps_its_modules_and_its_learners(klass, course):
    track = Route.objects.create(slug="next-track", title={"en": "Next", "zh": "下一步"})
    track.members.add(course["02-next"])
    LearnerSettings.objects.create(user=klass["bo"], route=track, updated_at=NOW)
    rows = selectors.module_rows(filters=selectors.filters_parse({"route": "next-track"}), lang="en")
    assert [r["slug"] for r in rows] == ["01-hello", "02-next"]  # 02-next and the prerequisite it needs
    assert (row(rows, "01-hello")["started"], row(rows, "01-hello")["passed"]) == (1, 1)


def test_retention_by_sign_up_week(klass):
    cohorts = selectors.cohort_rows(filters=selectors.Filters(), now=NOW)
    assert [(c["week"], c["size"]) for c in cohorts] == [("2026-02-02", 2), ("2026-03-09", 2)]
    first, second = cohorts
    assert (first["retained_7"], first["eligible_7"], first["retained_30"], first["eligible_30"]) == (
        2,
        2,
        1,
        2,
    )
    assert (first["retention_7"], first["retention_30"]) == (1.0, 0.5)
    assert (second["retained_7"], second["eligible_7"], second["eligible_30"]) == (0, 1, 0)
    assert (second["retention_7"], second["retention_30"]) == (0.0, None)


@pytest.mark.parametrize(
    "params, code",
    [
        ({"since": "2026-13-01"}, "date_invalid"),
        ({"since": "2026-03-02", "until": "2026-03-01"}, "date_invalid"),
        ({"route": "nope"}, "route_invalid"),
        ({"module": "nope"}, "module_invalid"),
    ],
)
def test_bad_filters_are_refused(course, params, code):
    from modules.services import InvalidInput

    with pytest.raises(InvalidInput) as err:
        selectors.filters_parse(params)
    assert err.value.code == code


# --- the pages -------------------------------------------------------------------------------------------------
def test_the_page_shows_the_numbers_to_an_instructor(klass, instructor, django_assert_num_queries):
    # session, user, role (cached: the sidenav asks it again for free), the page (11), the filters' choices (2)
    with django_assert_num_queries(16):
        page = instructor.get("/analytics/")
    assert page.status_code == 200
    html = page.content.decode()
    for text in (
        'data-metric="completion_rate">33.3%',
        'data-metric="avg_attempts_to_pass">2.00',
        'data-metric="median_time_to_pass">1.5 h',
        'data-metric="confidence_before">3.00',
        'data-metric="confidence_after">4.00',
        "More pictures",
        'data-testid="nav-analytics"',
    ):
        assert text in html, text


def test_the_page_is_for_instructors_only(klass, anonymous):
    learner = Persona(klass["ada"])
    assert learner.get("/analytics/").status_code == 403
    assert learner.get("/analytics/export.csv").status_code == 403
    assert learner.get("/analytics/learners/bo/").status_code == 403
    assert 'data-testid="nav-analytics"' not in learner.get("/progress/").content.decode()
    assert anonymous.get("/analytics/").status_code == 302  # to the login page


def test_a_bad_filter_is_a_400_with_the_reason(klass, instructor):
    page = instructor.get("/analytics/?since=yesterday")
    assert page.status_code == 400
    assert "since must be a date" in page.content.decode()
    assert instructor.get("/analytics/export.csv?table=secrets").status_code == 400


def test_the_csv_export_carries_the_tables_and_the_filters(klass, instructor):
    modules = list(
        csv.DictReader(io.StringIO(instructor.get("/analytics/export.csv?table=modules").content.decode()))
    )
    hello = next(r for r in modules if r["module"] == "01-hello")
    assert (hello["started"], hello["completion_rate_pct"], hello["avg_attempts_to_pass"]) == (
        "3",
        "33.3",
        "2.00",
    )
    assert hello["median_hours_to_pass"] == "1.50"
    tests = instructor.get("/analytics/export.csv?table=tests&until=2026-02-28").content.decode()
    assert list(csv.reader(io.StringIO(tests)))[1][:6] == [
        "01-hello",
        VISIBLE,
        "test_greet_greets_by_name",
        "3",
        "2",
        "33.3",
    ]
    cohorts = list(
        csv.DictReader(io.StringIO(instructor.get("/analytics/export.csv?table=cohorts").content.decode()))
    )
    assert [(c["signup_week"], c["retention_7d_pct"], c["retention_30d_pct"]) for c in cohorts] == [
        ("2026-02-02", "100.0", "50.0"),
        ("2026-03-09", "0.0", ""),
    ]


def test_the_drill_down_shows_a_learners_attempts_notes_and_surveys(klass, instructor):
    page = instructor.get("/analytics/learners/ada/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-module="01-hello"') == 3
    assert 'data-status="pass"' in html and "f-strings format names" in html
    assert instructor.get("/analytics/learners/nobody/").status_code == 404


def test_the_learner_search_finds_by_name_prefix(klass, instructor):
    html = instructor.get("/analytics/?learner=b").content.decode()
    assert 'href="/analytics/learners/bo/"' in html and "/analytics/learners/ada/" not in html


def test_the_latest_message_shows_the_engines_sentences_in_the_pages_language(course, clock, instructor):
    learner = joined("eve", at(3, 1, 9))
    timeout = "greet() ran out of time: a call took longer than 10 s and was stopped."
    attempt(
        clock,
        learner,
        course["01-hello"],
        at(3, 10, 8),
        at(3, 10, 8, 1),
        result(visible="error", hidden="pass", message=timeout),
    )
    clock(NOW)
    english = instructor.get("/analytics/").content.decode()
    assert timeout in english
    chinese = instructor.get("/analytics/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "greet() 超时：一次调用超过了 10 秒，已被停止。" in chinese and timeout not in chinese
