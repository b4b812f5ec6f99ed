"""Similarity check (``grading.similarity``, docs/similarity.md): the fingerprints themselves (renamed copies score
high, an independent solution low, the starter nothing, hostile code no crash), what a pass records after its verdict,
the learner's self-check prompt, and the instructors' pages."""

from __future__ import annotations

import pytest

from grading.services import submission_create, verdict_record
from grading.similarity import fingerprints as fp
from grading.similarity.models import Match, SubmissionPrint
from grading.similarity.services import submission_similarity_record
from tests.platform.platform_helpers import pass_result

REFERENCE = '''
def greet(name):
    """Say hello."""
    parts = []
    for i, ch in enumerate(name.strip()):
        if i == 0:
            parts.append(ch.upper())
        else:
            parts.append(ch.lower())
    cleaned = "".join(parts)
    if not cleaned:
        return "Hello, stranger!"
    return f"Hello, {cleaned}!"
'''

# the reference with every name changed, comments added and the layout changed
RENAMED = """
def greet(name):
    out = []   # letters
    for k, letter in enumerate(
        name.strip()
    ):
        if k == 0:
            out.append(letter.upper())
        else:
            out.append(letter.lower())
    who = "".join(out)
    if not who:
        return "Hi, nobody!"
    return f"Hi, {who}!"
"""

# a correct solution written another way
INDEPENDENT = """
def greet(name):
    name = name.strip()
    who = name[:1].upper() + name[1:].lower() if name else "stranger"
    return "Hello, " + who + "!"
"""

STARTER = '''
def greet(name):
    """Say hello."""
    raise NotImplementedError("TODO(step 1): return the greeting")
'''

PARTS = [("hello.py", "greet")]


def prints(text: str) -> fp.Fingerprints:
    return fp.part_fingerprints({"hello.py": text}, PARTS)


def score(a: str, b: str, starter: str = STARTER) -> float:
    return fp.step_compare(prints(a), prints(b), starter=prints(starter), step="step1").score


# --- the method ---------------------------------------------------------------------------------------------------
def test_a_copy_with_renamed_variables_and_new_layout_scores_high():
    assert score(RENAMED, REFERENCE) >= 0.9


def test_an_independent_correct_solution_scores_low():
    assert score(INDEPENDENT, REFERENCE) < 0.3


def test_starter_only_code_scores_zero():
    assert score(STARTER, REFERENCE) == 0.0
    assert (
        fp.pooled([fp.step_compare(prints(STARTER), prints(STARTER), starter=prints(STARTER), step="s")])
        == 0.0
    )


def test_code_the_starter_gives_is_left_out():
    given = "    total = sum(range(10)) * 2 + len(str(name)) - max(1, 2, 3)\n" * 3
    starter = f"def greet(name):\n{given}    raise NotImplementedError\n"
    learner_a = f"def greet(name):\n{given}    return 'a' + name\n"
    learner_b = f"def greet(name):\n{given}    return name.upper().center(40, '*')\n"
    # alike only through what the starter gave: nothing learner-written is shared
    assert score(learner_a, learner_b, starter=starter) == 0.0


def test_a_file_that_does_not_parse_has_no_fingerprints():
    assert prints("def greet(name:\n    return") == fp.EMPTY
    assert prints("def greet(name):\n    return '\x00'\n") == fp.EMPTY


def test_deeply_nested_code_is_refused_without_an_exception():
    deep = "def greet(name):\n    return " + "(" * 5000 + "name" + ")" * 5000 + "\n"
    assert prints(deep) == fp.EMPTY
    nested = (
        "def greet(name):\n    x = "
        + "[" * 180
        + "]" * 180
        + "\n"
        + "    return -" * 1
        + "-" * 400
        + "name\n"
    )
    assert prints(nested) == fp.EMPTY  # a unary chain past DEPTH_MAX


def test_a_huge_submission_is_refused_without_an_exception():
    huge = "def greet(name):\n" + "    name = name + 'x'\n" * 30_000 + "    return name\n"
    assert len(huge) > fp.SOURCE_MAX_CHARS and prints(huge) == fp.EMPTY
    many = "def greet(name):\n" + "    name = name + 'x'\n" * 15_000
    assert len(many) < fp.SOURCE_MAX_CHARS and prints(many) == fp.EMPTY  # past TOKENS_MAX


def test_winnowing_keeps_a_shared_run_of_k_plus_window_tokens():
    stream = [f"t{i}" for i in range(60)]
    run = stream[20 : 20 + fp.K + fp.WINDOW - 1]
    assert fp.winnow(stream) & fp.winnow(["x"] * 5 + run + ["y"] * 5)


# --- after grading ------------------------------------------------------------------------------------------------
@pytest.fixture
def rich_hello(hello):
    """``01-hello`` with a reference and a starter large enough to fingerprint."""
    hello.payload = {
        **hello.payload,
        "references": {"hello.py": REFERENCE},
        "starters": {"hello.py": STARTER},
    }
    hello.save(update_fields=["payload"])
    return hello


def graded(persona, module, text: str, status: str = "pass"):
    submission = submission_create(user=persona.user, module=module, files={"hello.py": text})
    verdict_record(submission_id=submission.pk, result=pass_result(module.slug, status=status))
    return submission


@pytest.mark.django_db
def test_a_pass_records_its_match_with_the_reference(course, rich_hello, learner):
    submission = graded(learner, rich_hello, RENAMED)
    assert submission_similarity_record(submission_id=submission.pk) == 1
    match = Match.objects.get(submission=submission)
    assert match.kind == "reference" and match.other is None and match.score >= 0.9
    assert [s["step"] for s in match.steps] == ["step1"]
    # idempotent: a second run writes nothing
    assert submission_similarity_record(submission_id=submission.pk) == 0
    assert Match.objects.filter(submission=submission).count() == 1


@pytest.mark.django_db
def test_a_failed_attempt_is_not_fingerprinted(course, rich_hello, learner):
    submission = graded(learner, rich_hello, RENAMED, status="fail")
    assert submission_similarity_record(submission_id=submission.pk) == 0
    assert not SubmissionPrint.objects.exists()


@pytest.mark.django_db
def test_two_learners_with_the_same_structure_are_paired(course, rich_hello, learner, other_learner):
    first = graded(other_learner, rich_hello, INDEPENDENT)
    submission_similarity_record(submission_id=first.pk)
    second = graded(learner, rich_hello, INDEPENDENT.replace("who", "person"))
    assert submission_similarity_record(submission_id=second.pk) == 2
    pair = Match.objects.get(submission=second, kind="learner")
    assert pair.other_id == first.pk and pair.score == 1.0
    # ... and neither is near the reference
    assert Match.objects.get(submission=second, kind="reference").score < 0.3


@pytest.mark.django_db
def test_the_module_page_asks_for_a_self_check_only_when_the_match_is_high(
    course, rich_hello, learner, other_learner
):
    close = graded(learner, rich_hello, RENAMED)
    submission_similarity_record(submission_id=close.pk)
    own = graded(other_learner, rich_hello, INDEPENDENT)
    submission_similarity_record(submission_id=own.pk)
    page = learner.get("/modules/01-hello/")
    assert page.context["page_data"]["self_check"]["submission"] == close.pk
    assert other_learner.get("/modules/01-hello/").context["page_data"]["self_check"] is None


@pytest.mark.django_db
def test_instructors_see_pairs_above_the_threshold_side_by_side(course, rich_hello, learner, instructor):
    submission = graded(learner, rich_hello, RENAMED)
    submission_similarity_record(submission_id=submission.pk)
    match = Match.objects.get(submission=submission)
    listing = instructor.get("/instructor/similarity/")
    assert listing.status_code == 200
    assert f'data-match="{match.pk}"' in listing.content.decode()
    detail = instructor.get(f"/instructor/similarity/{match.pk}/").content.decode()
    assert "for k, letter in enumerate(" in detail and "for i, ch in enumerate(name.strip()):" in detail
    assert 'class="diff-change"' in detail


@pytest.mark.django_db
def test_learners_may_not_see_similarity_pages(course, rich_hello, learner, anonymous):
    submission = graded(learner, rich_hello, RENAMED)
    submission_similarity_record(submission_id=submission.pk)
    match = Match.objects.get(submission=submission)
    assert learner.get("/instructor/similarity/").status_code == 403
    assert learner.get(f"/instructor/similarity/{match.pk}/").status_code == 403
    assert anonymous.get("/instructor/similarity/").status_code == 302


@pytest.mark.django_db
def test_a_missing_pair_is_404(course, instructor):
    assert instructor.get("/instructor/similarity/999999/").status_code == 404
    assert instructor.get("/instructor/similarity/?module=no-such").status_code == 404
