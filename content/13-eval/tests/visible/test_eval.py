"""Visible tests for module 13 (evaluation). Learner code is reached only through the ``learner`` fixture."""

import pytest
import torch

from nanochat_ref import core_eval as ref

# --- step 1: answer regions -----------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h4")
def test_the_common_prefix_length_of_token_sequences(ce):
    seqs = [[5, 6, 7, 8], [5, 6, 7, 9, 10], [5, 6, 1]]
    got = ce.find_common_length(seqs, "left")
    assert got == 2, f"common prefix of {seqs}: expected 2, got {got}"


@pytest.mark.step("step1")
@pytest.mark.hint("h5")
def test_the_common_suffix_length_of_token_sequences(ce):
    seqs = [[1, 2, 8, 9], [3, 8, 9], [4, 4, 4, 2, 8, 9]]
    got = ce.find_common_length(seqs, "right")
    assert got == 2, f"common suffix of {seqs}: expected 2, got {got}"


@pytest.mark.step("step1")
@pytest.mark.hint("h4")
def test_identical_sequences_share_their_whole_length(ce):
    got = ce.find_common_length([[4, 5, 6], [4, 5, 6]], "left")
    assert got == 3, f"common prefix of two identical 3-token sequences: expected 3, got {got}"


@pytest.mark.step("step1")
@pytest.mark.hint("h6")
def test_multiple_choice_answer_regions_match_the_reference(ce, tok, judge_tok, data):
    prompts = ref.render_prompts_mc(data.MC[0], " ")
    got = ce.batch_sequences_mc(tok, prompts)
    expected = ref.batch_sequences_mc(judge_tok, prompts)
    assert [list(x) for x in got] == [list(x) for x in expected], (
        f"(tokens, answer starts, answer ends) of a multiple-choice item: got {got}, expected {expected}"
    )


# --- step 2: forward_model and evaluate_example ---------------------------------------------------------------


def _input_ids(judge_tok, texts):
    return ref.stack_sequences([judge_tok.encode(t, prepend=judge_tok.get_bos_token_id()) for t in texts], 0)


@pytest.mark.step("step2")
@pytest.mark.hint("h7")
def test_forward_model_gives_next_token_losses_with_a_nan_last_column(ce, models, judge_tok):
    model, judge = models()
    ids = _input_ids(judge_tok, ["The sky is blue.", "Grass is green and the sun is hot."])
    losses, _ = ce.forward_model(model, ids)
    ref_losses, _ = ref.forward_model(judge, ids)
    assert tuple(losses.shape) == tuple(ids.shape), f"losses must be (B, T) = {tuple(ids.shape)}"
    assert torch.isnan(losses[:, -1]).all(), "the last column of the losses has no target: it must be NaN"
    torch.testing.assert_close(
        losses, ref_losses, equal_nan=True, msg="per-position next-token losses differ"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h7")
def test_forward_model_predictions_are_the_argmax_token(ce, models, judge_tok):
    model, judge = models()
    ids = _input_ids(judge_tok, ["The capital of France is Paris."])
    _, predictions = ce.forward_model(model, ids)
    _, expected = ref.forward_model(judge, ids)
    assert torch.equal(predictions, expected), (
        f"predictions must be the argmax over the vocabulary: {predictions}"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h8")
def test_multiple_choice_items_are_scored_like_the_reference(ce, models, tok, judge_tok, data):
    model, judge = models()
    meta = data.meta("multiple_choice")
    got = [ce.evaluate_example(i, model, tok, data.MC, "cpu", meta) for i in range(len(data.MC))]
    expected = [ref.evaluate_example(i, judge, judge_tok, data.MC, "cpu", meta) for i in range(len(data.MC))]
    assert got == expected, (
        f"right/wrong per multiple-choice item: got {got}, expected {expected} (lowest mean loss)"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h9")
def test_language_modelling_items_are_scored_like_the_reference(ce, models, tok, judge_tok, data):
    model, judge = models()
    meta = data.meta("language_modeling")
    got = [ce.evaluate_example(i, model, tok, data.LM, "cpu", meta) for i in range(len(data.LM))]
    expected = [ref.evaluate_example(i, judge, judge_tok, data.LM, "cpu", meta) for i in range(len(data.LM))]
    assert got == expected, (
        f"right/wrong per language-modelling item: got {got}, expected {expected} (greedy argmax)"
    )
