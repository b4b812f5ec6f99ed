"""Hidden tests for module 13: region edges, schema, few-shot, cropping, padded batches, unknown task types."""

import pytest

from grading.engine.errors import LearnerError
from nanochat_ref import core_eval as ref

# --- step 1 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step1")
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


@pytest.mark.step("step1")
@pytest.mark.hint("h5")
def test_schema_answer_regions_match_the_reference(ce, tok, judge_tok, data):
    for item in data.SCHEMA:
        prompts = ref.render_prompts_schema(item, " ")
        got = ce.batch_sequences_schema(tok, prompts)
        expected = ref.batch_sequences_schema(judge_tok, prompts)
        assert [list(x) for x in got] == [list(x) for x in expected]


@pytest.mark.step("step1")
@pytest.mark.hint("h6")
def test_few_shot_multiple_choice_regions_match_the_reference(ce, tok, judge_tok, data):
    prompts = ref.render_prompts_mc(data.MC[4], " ", [data.MC[0], data.MC[1]])
    got = ce.batch_sequences_mc(tok, prompts)
    assert [list(x) for x in got] == [list(x) for x in ref.batch_sequences_mc(judge_tok, prompts)]


# --- step 2 ---------------------------------------------------------------------------------------------------


def _scores(ce, models, tok, judge_tok, items, meta, sequence_len=64):
    model, judge = models(sequence_len)
    got = [ce.evaluate_example(i, model, tok, items, "cpu", meta) for i in range(len(items))]
    expected = [ref.evaluate_example(i, judge, judge_tok, items, "cpu", meta) for i in range(len(items))]
    return got, expected


@pytest.mark.step("step2")
@pytest.mark.hint("h8")
def test_schema_items_are_scored_like_the_reference(ce, models, tok, judge_tok, data):
    got, expected = _scores(ce, models, tok, judge_tok, data.SCHEMA, data.meta("schema"))
    assert got == expected


@pytest.mark.step("step2")
@pytest.mark.hint("h8")
@pytest.mark.parametrize("kind", ["multiple_choice", "schema", "language_modeling"])
def test_few_shot_items_are_scored_like_the_reference(ce, models, tok, judge_tok, data, kind):
    items = {"multiple_choice": data.MC, "schema": data.SCHEMA, "language_modeling": data.LM}[kind]
    got, expected = _scores(ce, models, tok, judge_tok, items, data.meta(kind, num_fewshot=2))
    assert got == expected


@pytest.mark.step("step2")
@pytest.mark.hint("h9")
def test_prompts_longer_than_the_context_are_cropped_from_the_left(ce, models, tok, judge_tok, data):
    got, expected = _scores(
        ce, models, tok, judge_tok, data.MC, data.meta("multiple_choice", 3), sequence_len=12
    )
    assert got == expected


@pytest.mark.step("step2")
@pytest.mark.hint("h8")
def test_an_unknown_task_type_raises_value_error(ce, models, tok, data):
    model, _ = models()
    with pytest.raises(LearnerError) as exc:
        ce.evaluate_example(0, model, tok, data.MC, "cpu", data.meta("ranking"))
    assert exc.value.type_name == "ValueError"


@pytest.mark.step("step2")
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


# --- step 4 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_chatcore_matches_the_reference_on_other_results(learner):
    from grading.testkit import assert_number
    from nanochat_ref.scripts import chat_eval as ref_chat

    results = {"ARC-Easy": 0.2, "ARC-Challenge": 0.31, "MMLU": 0.27, "GSM8K": 0.05, "HumanEval": 0.0,
               "SpellingBee": 0.6, "SpellingBee-balanced": 0.4}  # fmt: skip
    got = learner.module("nanochat.scripts.chat_eval").chatcore(results)
    assert_number(got, ref_chat.chatcore(results), rel=1e-9, what="chatcore(results)")
