"""The benchmark's synthetic class (``manage.py analytics_seed``) holds what the running platform would: its
aggregates agree with its raw submissions and results, and the page's numbers with both."""

from __future__ import annotations

import statistics
from collections import defaultdict

import pytest
from django.core.management import CommandError, call_command

from grading.analytics import selectors
from grading.analytics.models import DailyTestCount, LearnerModuleStat
from grading.analytics.seeding import TESTS
from grading.models import Result
from modules.models import Progress


@pytest.fixture
def seeded(course):
    call_command("analytics_seed", learners=5, attempts=4, weeks=3, seed=7, verbosity=0)
    return course


def first_passes() -> dict[tuple[int, int], tuple[int, float]]:
    """(user, module) -> (attempt number of the first pass, seconds from the first attempt), from raw rows."""
    by_pair = defaultdict(list)
    for r in Result.objects.select_related("submission").order_by("submission__created_at"):
        by_pair[(r.submission.user_id, r.submission.module_id)].append(r)
    out = {}
    for pair, results in by_pair.items():
        for number, r in enumerate(results, start=1):
            if r.status == "pass":
                out[pair] = (number, (r.created_at - results[0].submission.created_at).total_seconds())
                break
    return out


def test_it_writes_learners_times_modules_times_attempts(seeded):
    assert Result.objects.count() == 5 * 2 * 4
    assert Progress.objects.count() == LearnerModuleStat.objects.count() == 5 * 2
    assert sum(DailyTestCount.objects.values_list("runs", flat=True)) == 5 * 2 * 4 * len(TESTS)


def test_its_aggregates_agree_with_its_raw_rows(seeded):
    passes = first_passes()
    for stat in LearnerModuleStat.objects.all():
        expected = passes.get((stat.user_id, stat.module_id))
        assert stat.attempts_to_pass == (expected[0] if expected else None)
        assert stat.seconds_to_pass == (pytest.approx(expected[1]) if expected else None)
    for p in Progress.objects.all():
        assert (p.status in ("passed", "completed")) == ((p.user_id, p.module_id) in passes)


def test_the_page_reads_the_same_numbers_as_the_raw_rows(seeded):
    passes = first_passes()
    for row in selectors.module_rows(filters=selectors.Filters(), lang="en"):
        module = seeded[row["slug"]]
        mine = [v for (user, m), v in passes.items() if m == module.pk]
        assert row["started"] == 5
        assert row["passed"] == len(mine)
        assert row["avg_attempts_to_pass"] == (
            pytest.approx(statistics.mean(n for n, _ in mine)) if mine else None
        )
        assert row["median_seconds_to_pass"] == (
            pytest.approx(statistics.median(s for _, s in mine)) if mine else None
        )


def test_the_same_seed_gives_the_same_class(course):
    call_command("analytics_seed", learners=2, attempts=2, weeks=1, seed=3, prefix="a-", verbosity=0)
    first = sorted(Result.objects.values_list("status", "score"))
    Result.objects.all().delete()
    call_command("analytics_seed", learners=2, attempts=2, weeks=1, seed=3, prefix="b-", verbosity=0)
    assert sorted(Result.objects.values_list("status", "score")) == first


def test_it_refuses_an_empty_class(course):
    with pytest.raises(CommandError):
        call_command("analytics_seed", learners=0, verbosity=0)
