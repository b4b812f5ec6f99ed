"""Hidden tests for module 13: slicing edges, mixtures and real tasks, region edges, schema, few-shot, cropping."""

import pytest

from grading.engine.errors import LearnerError
from nanochat_ref import core_eval as ref
from nanochat_ref.tasks.arc import ARC
from nanochat_ref.tasks.common import TaskMixture, render_mc

# --- step 1 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
@pytest.mark.parametrize(
    "kwargs",
    [{"stop": 50}, {"start": 9}, {"start": 10}, {"start": 12}, {"start": 4, "stop": 4}, {"step": 4},
     {"start": 3, "stop": 9, "step": 2}, {"step": 11}],
    ids=str,
)  # fmt: skip
def test_every_slice_has_the_reference_length_and_examples(view, seq, kwargs):
    task, expected = view(**kwargs)
    assert seq.len(task) == len(expected)
    assert [seq.get(task, i) for i in range(len(expected))] == [expected[i] for i in range(len(expected))]


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_indices_below_minus_len_raise_index_error(view, seq):
    task, _ = view(stop=3)
    assert seq.get(task, -3) == view(stop=3)[1][0]
    with pytest.raises(LearnerError) as exc:
        seq.get(task, -4)
    assert exc.value.type_name == "IndexError"


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_a_non_integer_index_is_rejected(view, seq):
    task, _ = view()
    with pytest.raises(LearnerError) as exc:
        seq.get(task, 1.0)
    assert exc.value.type_name == "AssertionError"


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_a_mixture_of_views_matches_the_reference(learner, view, seq):
    (a, ref_a), (b, ref_b) = view(stop=4), view(start=5, step=2)
    mixture = learner.module("nanochat.tasks.common").TaskMixture([a, b, a])
    expected = TaskMixture([ref_a, ref_b, ref_a])
    assert seq.len(mixture) == len(expected) == 11
    assert [seq.get(mixture, i) for i in range(len(expected))] == [expected[i] for i in range(len(expected))]


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_arc_examples_match_the_reference(learner, seq):
    task = learner.module("nanochat.tasks.arc").ARC("ARC-Challenge", "test", start=3, stop=40, step=7)
    expected = ARC("ARC-Challenge", "test", start=3, stop=40, step=7)
    assert [seq.get(task, i) for i in range(len(expected))] == [expected[i] for i in range(len(expected))]


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
@pytest.mark.parametrize(
    "args",
    [
        ("Pick one:", ["A", "B", "C", "D", "E"], ["1", "2", "3", "4", "5"]),
        ("你好吗？", ["A", "B"], ["很好", "不好"]),
        ("Odd = signs", ["A", "B"], ["x=y", " leading space"]),
    ],
    ids=["five", "unicode", "equals"],
)
def test_render_mc_matches_the_reference(tc, args):
    assert tc.render_mc(*args) == render_mc(*args)


# --- step 2 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
@pytest.mark.parametrize(
    "seqs",
    [
        [[1, 2, 3]],
        [[1, 2], [3, 4]],
        [[1, 2, 3], [1, 2]],
        [[7], [7], [7]],
        [[2, 2, 5, 2], [2, 2, 6, 2]],
        [[], [1]],
    ],
    ids=["one", "nothing-shared", "prefix-of-other", "single-tokens", "both-ends", "empty"],
)
@pytest.mark.parametrize("direction", ["left", "right"])
def test_common_lengths_match_the_reference(ce, seqs, direction):
    assert ce.find_common_length(seqs, direction) == ref.find_common_length(seqs, direction)


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_schema_answer_regions_match_the_reference(ce, tok, judge_tok, data):
    for item in data.SCHEMA:
        prompts = ref.render_prompts_schema(item, " ")
        got = ce.batch_sequences_schema(tok, prompts)
        expected = ref.batch_sequences_schema(judge_tok, prompts)
        assert [list(x) for x in got] == [list(x) for x in expected]


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_few_shot_multiple_choice_regions_match_the_reference(ce, tok, judge_tok, data):
    prompts = ref.render_prompts_mc(data.MC[4], " ", [data.MC[0], data.MC[1]])
    got = ce.batch_sequences_mc(tok, prompts)
    assert [list(x) for x in got] == [list(x) for x in ref.batch_sequences_mc(judge_tok, prompts)]


# --- step 3 ---------------------------------------------------------------------------------------------------


def _scores(ce, models, tok, judge_tok, items, meta, sequence_len=64):
    model, judge = models(sequence_len)
    got = [ce.evaluate_example(i, model, tok, items, "cpu", meta) for i in range(len(items))]
    expected = [ref.evaluate_example(i, judge, judge_tok, items, "cpu", meta) for i in range(len(items))]
    return got, expected


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_schema_items_are_scored_like_the_reference(ce, models, tok, judge_tok, data):
    got, expected = _scores(ce, models, tok, judge_tok, data.SCHEMA, data.meta("schema"))
    assert got == expected


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
@pytest.mark.parametrize("kind", ["multiple_choice", "schema", "language_modeling"])
def test_few_shot_items_are_scored_like_the_reference(ce, models, tok, judge_tok, data, kind):
    items = {"multiple_choice": data.MC, "schema": data.SCHEMA, "language_modeling": data.LM}[kind]
    got, expected = _scores(ce, models, tok, judge_tok, items, data.meta(kind, num_fewshot=2))
    assert got == expected


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_prompts_longer_than_the_context_are_cropped_from_the_left(ce, models, tok, judge_tok, data):
    got, expected = _scores(
        ce, models, tok, judge_tok, data.MC, data.meta("multiple_choice", 3), sequence_len=12
    )
    assert got == expected


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_an_unknown_task_type_raises_value_error(ce, models, tok, data):
    model, _ = models()
    with pytest.raises(LearnerError) as exc:
        ce.evaluate_example(0, model, tok, data.MC, "cpu", data.meta("ranking"))
    assert exc.value.type_name == "ValueError"


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_forward_model_handles_a_padded_batch(ce, models, judge_tok):
    import torch

    model, judge = models()
    rows = [
        judge_tok.encode(t, prepend=judge_tok.get_bos_token_id())
        for t in ("The", "The man went to the store")
    ]
    ids = ref.stack_sequences(rows, judge_tok.get_bos_token_id())
    losses, predictions = ce.forward_model(model, ids)
    ref_losses, ref_predictions = ref.forward_model(judge, ids)
    torch.testing.assert_close(losses, ref_losses, equal_nan=True)
    assert torch.equal(predictions, ref_predictions)
