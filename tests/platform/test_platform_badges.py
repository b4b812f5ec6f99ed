"""Badges: computed from the learning loop's own rows, dated by the event that earned them, in a fixed query count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from platform_helpers import pass_result

from modules import badges
from modules.models import HintReveal, Module, Progress
from modules.selectors import module_states
from modules.services import hint_reveal, note_create, progress_record_verdict

pytestmark = pytest.mark.django_db


def by_id(items: list[dict]) -> dict[str, dict]:
    return {item["id"]: item for item in items}


def pass_module(persona, module: Module, submission_id: int = 1) -> Progress:
    return progress_record_verdict(
        user=persona.user, module=module, submission_id=submission_id, result=pass_result(module.slug)
    )


def test_a_new_learner_has_every_badge_still_to_earn_with_its_progress(course, learner):
    items = badges.badges_for(user=learner.user, lang="en")
    assert [i["id"] for i in items] == [b.id for b in badges.BADGES]
    assert not any(i["earned"] or i["earned_at"] for i in items)
    assert {i["id"]: (i["count"], i["target"]) for i in items} == {
        "first_pass": (0, 1),
        "unaided": (0, 1),
        "reflective": (0, 3),
        "chronicler": (0, 5),
        "halfway": (0, 1),  # two modules in the fixture course: half is one
        "graduate": (0, 2),
    }


def test_a_pass_without_hints_earns_first_pass_unaided_and_halfway_dated_by_the_pass(course, learner, hello):
    progress = pass_module(learner, hello)
    items = by_id(badges.badges_for(user=learner.user, lang="en"))
    for badge in ("first_pass", "unaided", "halfway"):
        assert items[badge]["earned"] and items[badge]["earned_at"] == progress.passed_at.isoformat()
    assert (items["graduate"]["earned"], items["graduate"]["count"]) == (False, 1)


def test_a_hint_revealed_before_the_pass_costs_unaided_but_one_revealed_after_does_not(
    course, learner, other_learner, hello
):
    hint_reveal(user=learner.user, module=hello, level=1)
    pass_module(learner, hello)
    assert not by_id(badges.badges_for(user=learner.user, lang="en"))["unaided"]["earned"]

    pass_module(other_learner, hello)
    hint_reveal(user=other_learner.user, module=hello, level=1)
    assert HintReveal.objects.filter(user=other_learner.user).exists()
    assert by_id(badges.badges_for(user=other_learner.user, lang="en"))["unaided"]["earned"]


def test_the_fifth_note_earns_chronicler_dated_by_that_note(course, learner):
    notes = [note_create(user=learner.user, text=f"note {i}") for i in range(5)]
    base = timezone.now() - timedelta(days=10)
    for i, note in enumerate(notes):  # spread them out so the date proves which note counted
        note.created_at = base + timedelta(days=i)
        note.save(update_fields=["created_at"])
    items = by_id(badges.badges_for(user=learner.user, lang="en"))
    assert items["chronicler"]["earned"]
    assert items["chronicler"]["earned_at"] == (base + timedelta(days=4)).isoformat()
    assert not by_id(badges.badges_for(user=learner.user, lang="en"))["reflective"]["earned"]


def test_passing_every_module_graduates_and_earned_badges_come_first_oldest_first(course, learner):
    first = pass_module(learner, course["01-hello"])
    second = pass_module(learner, course["02-next"], submission_id=2)
    items = badges.badges_for(user=learner.user, lang="en")
    earned = [i for i in items if i["earned"]]
    assert {i["id"] for i in earned} == {"first_pass", "unaided", "halfway", "graduate"}
    assert earned == sorted(earned, key=lambda i: i["earned_at"])
    assert (
        by_id(items)["graduate"]["earned_at"] == second.passed_at.isoformat() != first.passed_at.isoformat()
    )
    assert [i["earned"] for i in items] == [True] * 4 + [False] * 2


def test_a_retired_module_neither_counts_as_a_pass_nor_towards_the_route(course, learner, hello):
    pass_module(learner, hello)
    Module.objects.filter(slug="02-next").update(status=Module.Status.RETIRED)
    assert by_id(badges.badges_for(user=learner.user, lang="en"))["graduate"]["earned"]
    Module.objects.filter(slug="02-next").update(status=Module.Status.ACTIVE)
    hello.status = Module.Status.RETIRED
    hello.save(update_fields=["status"])
    items = by_id(badges.badges_for(user=learner.user, lang="en"))
    assert (items["first_pass"]["earned"], items["graduate"]["target"]) == (False, 1)


def test_texts_follow_the_language(course, learner):
    zh = by_id(badges.badges_for(user=learner.user, lang="zh-hans"))
    en = by_id(badges.badges_for(user=learner.user, lang="en"))
    assert (en["first_pass"]["title"], zh["first_pass"]["title"]) == ("First green", "首次通过")
    assert zh["graduate"]["description"].startswith("通过所有模块")


def test_badges_cost_five_queries_however_long_the_history(course, learner, hello, django_assert_num_queries):
    with django_assert_num_queries(5):
        badges.badges_for(user=learner.user, lang="en")
    pass_module(learner, hello)
    hint_reveal(user=learner.user, module=hello, level=1)
    for i in range(7):
        note_create(user=learner.user, text=f"n{i}")
    with django_assert_num_queries(5):
        badges.badges_for(user=learner.user, lang="en")


def test_the_dashboards_module_states_save_two_queries_and_give_the_same_badges(
    course, learner, hello, django_assert_num_queries
):
    pass_module(learner, hello)
    note_create(user=learner.user, text="n")
    Module.objects.filter(slug="02-next").update(status=Module.Status.RETIRED)
    states = module_states(user=learner.user)
    with django_assert_num_queries(3):
        given = badges.badges_for(user=learner.user, lang="en", states=states)
    assert given == badges.badges_for(user=learner.user, lang="en")
    assert by_id(given)["graduate"]["earned"]
