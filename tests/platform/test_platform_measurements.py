"""My measurements (``/measurements/``): per module, the metrics of the learner's best passing attempt (or their
latest, until one passes) beside the plots the module's guide shows; empty, the modules whose tests record
measurements."""

from __future__ import annotations

import json
import shutil

import pytest
from test_platform_pages import page_data
from test_platform_schemas import conforms

from grading.selectors import measurements_for
from grading.services import verdict_record
from tests.platform.platform_helpers import pass_result

pytestmark = pytest.mark.django_db

PAGE = "/measurements/"
PLOT = {"title": "Curve", "x_label": "x", "series": [{"name": "y", "x": [0, 1], "y": [1.0, 2.0]}]}


def grade(submit, persona, module, *, status: str, score: float, metrics: dict) -> int:
    """A graded attempt of ``persona`` whose visible tests recorded ``metrics``."""
    submission = submit(persona, module)
    result = pass_result(module.slug, status=status)
    result.update(score=score, metrics=metrics)
    verdict_record(submission_id=submission.pk, result=result)
    return submission.pk


def test_it_shows_the_best_passing_attempts_metrics_not_a_newer_failing_ones(
    course, learner, hello, submit, django_assert_num_queries
):
    grade(submit, learner, hello, status="pass", score=1.0, metrics={"old": 1.0})
    best = grade(
        submit,
        learner,
        hello,
        status="pass",
        score=2.0,
        metrics={"train_seconds_baseline": 4.0, "train_seconds_optimized": 1.0, "loss": [3.0, 2.0, 1.5]},
    )
    grade(submit, learner, hello, status="fail", score=0.0, metrics={"newer": 9.0})
    with django_assert_num_queries(6):  # module states (3), candidate results, chosen results, figures
        measurements_for(user=learner.user, lang="en")
    data = page_data(learner.get(PAGE))
    conforms("page-measurements.schema.json", data)
    [module] = data["modules"]
    assert module["slug"] == "01-hello" and module["url"] == "/modules/01-hello/"
    assert module["attempt"]["submission_id"] == best and module["attempt"]["passed"] is True
    assert module["attempt"]["score"] == 2.0
    assert module["metrics"] == {
        "train_seconds_baseline": 4.0,
        "train_seconds_optimized": 1.0,
        "loss": [3.0, 2.0, 1.5],
    }


def test_until_an_attempt_passes_it_shows_the_latest(course, learner, hello, submit):
    grade(submit, learner, hello, status="fail", score=1.0, metrics={"first": 1.0})
    latest = grade(submit, learner, hello, status="fail", score=0.0, metrics={"second": 2.0})
    [module] = page_data(learner.get(PAGE))["modules"]
    assert module["attempt"]["submission_id"] == latest and module["attempt"]["passed"] is False
    assert module["metrics"] == {"second": 2.0}


def test_the_reference_plots_are_the_guides_plots_in_the_learners_language(course, learner, hello, submit):
    hello.payload["figures"] = {
        "01-hello/curve": {
            "kind": "plot",
            "en": json.dumps(PLOT),
            "zh": json.dumps({**PLOT, "title": "曲线"}, ensure_ascii=False),
        },
        "01-hello/drawing": {"kind": "svg", "en": "<svg/>", "zh": "<svg/>"},
    }
    hello.save(update_fields=["payload"])
    grade(submit, learner, hello, status="pass", score=2.0, metrics={"loss": [2.0, 1.0]})
    [module] = page_data(learner.get(PAGE))["modules"]
    assert [r["key"] for r in module["reference"]] == ["01-hello/curve"]
    assert json.loads(module["reference"][0]["plot"])["title"] == "Curve"
    [zh] = page_data(learner.get(PAGE, HTTP_ACCEPT_LANGUAGE="zh-hans"))["modules"]
    assert json.loads(zh["reference"][0]["plot"])["title"] == "曲线"


def test_attempts_without_metrics_and_other_learners_attempts_are_not_shown(
    course, learner, other_learner, hello, submit
):
    grade(submit, learner, hello, status="pass", score=2.0, metrics={})
    grade(submit, other_learner, hello, status="pass", score=2.0, metrics={"theirs": 1.0})
    assert page_data(learner.get(PAGE))["modules"] == []


def test_empty_it_lists_the_modules_whose_tests_record_measurements(course, learner, settings, tmp_path):
    content = tmp_path / "content"
    shutil.copytree(settings.LAB_CONTENT_DIR, content)
    visible = content / "01-hello" / "tests" / "visible" / "test_hello.py"
    visible.write_text(visible.read_text() + '\n\ndef test_measures(metrics):\n    metrics.record("n", 1)\n')
    settings.LAB_CONTENT_DIR = str(content)
    response = learner.get(PAGE)
    data = page_data(response)
    conforms("page-measurements.schema.json", data)
    assert data["modules"] == []
    assert data["producers"] == [
        {"slug": "01-hello", "order": 1, "title": "Hello", "url": "/modules/01-hello/", "state": "unlocked"}
    ]
    html = response.content.decode()
    assert (
        'data-testid="measurements-page"' in html
        and 'aria-current="page" data-testid="nav-measurements"' in html
    )


def test_the_page_is_for_signed_in_learners_and_only_reads(course, learner, anonymous):
    response = anonymous.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert learner.post(PAGE).status_code == 405
    assert "我的测量结果" in learner.get(PAGE, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
