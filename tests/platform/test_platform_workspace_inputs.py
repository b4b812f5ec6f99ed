"""What the platform hands the engine for a learner's sandbox: the modules they have done and their own work.

A learner's sandbox holds their files and the nanochat files the module needs; a needed file written in a module
the learner passed is their own passing file ("carry my work forward"), and the engine cuts whatever a module they
have not passed writes out of the reference. These tests pin the platform's half: ``done`` and ``provided``.
"""

from __future__ import annotations

import pytest
from django.utils import timezone
from platform_helpers import pass_result

from grading.models import Result, Submission
from grading.selectors import workspace_inputs
from grading.services import verdict_record
from modules.models import Module, Progress

pytestmark = pytest.mark.django_db


def module_row(slug: str, order: int, files: list[str], needs: list[str], prerequisites: list[str]) -> Module:
    metadata = {
        "slug": slug,
        "order": order,
        "status": "ready",
        "title": {"en": slug, "zh": slug},
        "summary": {"en": "s", "zh": "s"},
        "prerequisites": prerequisites,
        "goals": {"en": ["g"], "zh": ["g"]},
        "files": [
            {"path": p, "reference": f"nanochat_ref/{p.removeprefix('nanochat/')}",
             "stubs": [{"function": "f", "step": "step1", "todo": "t"}]}
            for p in files
        ],
        "steps": [{"id": "step1", "title": {"en": "s", "zh": "s"}}],
        "runtime": "python",
        "needs": needs,
    }  # fmt: skip
    return Module.objects.create(
        slug=slug, order=order, title=metadata["title"], content_hash=slug, metadata=metadata,
        payload={"starters": {}}, synced_at=timezone.now(),
    )  # fmt: skip


@pytest.fixture
def chain(db):
    """gpt (writes gpt.py), engine (writes engine.py, needs gpt.py), tools (writes engine.py too), web (needs both)."""
    return {
        "gpt": module_row("05-gpt", 5, ["nanochat/gpt.py"], ["nanochat/common.py"], []),
        "engine": module_row("11-engine", 11, ["nanochat/engine.py"], ["nanochat/gpt.py"], ["05-gpt"]),
        "tools": module_row("12-tools", 12, ["nanochat/engine.py"], ["nanochat/gpt.py"], ["11-engine"]),
        "web": module_row("14-web", 14, ["nanochat/chat_web.py"], ["nanochat/gpt.py", "nanochat/engine.py",
                                                                    "nanochat/common.py"], ["11-engine"]),
    }  # fmt: skip


def attempt(persona, module: Module, files: dict[str, str], status: str = "pass") -> Submission:
    submission = Submission.objects.create(
        user=persona.user, module=module, files=files, content_hash="h", created_at=timezone.now()
    )
    verdict_record(submission_id=submission.pk, result=pass_result(module.slug, status=status))
    return submission


def test_nothing_done_means_nothing_provided(chain, learner):
    submission = attempt(learner, chain["web"], {"nanochat/chat_web.py": "x"}, status="fail")
    assert workspace_inputs(submission=submission) == (set(), {})


def test_a_passed_module_lends_its_latest_passing_file(chain, learner):
    attempt(learner, chain["gpt"], {"nanochat/gpt.py": "first pass"})
    attempt(learner, chain["gpt"], {"nanochat/gpt.py": "second pass"})
    attempt(learner, chain["gpt"], {"nanochat/gpt.py": "a later failure"}, status="fail")
    submission = attempt(learner, chain["engine"], {"nanochat/engine.py": "mine"}, status="fail")
    done, provided = workspace_inputs(submission=submission)
    assert done == {"05-gpt"}
    assert provided == {"nanochat/gpt.py": b"second pass"}


def test_a_file_written_in_two_modules_comes_from_the_later_one_passed(chain, learner):
    attempt(learner, chain["gpt"], {"nanochat/gpt.py": "gpt"})
    attempt(learner, chain["engine"], {"nanochat/engine.py": "engine of module 11"})
    submission = attempt(learner, chain["web"], {"nanochat/chat_web.py": "web"}, status="fail")
    assert workspace_inputs(submission=submission)[1]["nanochat/engine.py"] == b"engine of module 11"
    attempt(learner, chain["tools"], {"nanochat/engine.py": "engine of module 12"})
    done, provided = workspace_inputs(submission=submission)
    assert done == {"05-gpt", "11-engine", "12-tools"}
    assert provided == {"nanochat/gpt.py": b"gpt", "nanochat/engine.py": b"engine of module 12"}


def test_other_learners_work_is_never_lent(chain, learner, other_learner):
    attempt(other_learner, chain["gpt"], {"nanochat/gpt.py": "not yours"})
    Progress.objects.filter(user=other_learner.user).delete()
    submission = attempt(learner, chain["engine"], {"nanochat/engine.py": "mine"}, status="fail")
    assert workspace_inputs(submission=submission) == (set(), {})


def test_instructors_may_read_every_solution_and_get_references(chain, instructor):
    submission = attempt(instructor, chain["web"], {"nanochat/chat_web.py": "web"}, status="fail")
    assert workspace_inputs(submission=submission) == ({"05-gpt", "11-engine", "12-tools", "14-web"}, {})


def test_it_takes_four_queries(chain, learner, django_assert_num_queries):
    attempt(learner, chain["gpt"], {"nanochat/gpt.py": "gpt"})
    submission = Submission.objects.select_related("user", "module").get(
        pk=attempt(learner, chain["engine"], {"nanochat/engine.py": "e"}, status="fail").pk
    )
    with django_assert_num_queries(4):  # modules, instructor check, passed modules, passing attempts
        workspace_inputs(submission=submission)
    assert Result.objects.count() == 2


def test_a_learner_who_chose_the_reference_for_a_module_gets_its_reference(chain, learner):
    from modules.services import carry_forward_set

    attempt(learner, chain["gpt"], {"nanochat/gpt.py": "mine"})
    carry_forward_set(user=learner.user, module=chain["gpt"], use="reference")
    submission = attempt(learner, chain["engine"], {"nanochat/engine.py": "e"}, status="fail")
    assert workspace_inputs(submission=submission) == ({"05-gpt"}, {})
