"""Tests for core_eval.py (CORE scoring) and base_eval.py (the bundle and aggregation), on hand-made cases."""

import pytest
import torch

from nanochat_ref.chatdata.generators import smalltalk_conversations
from nanochat_ref.core_eval import (
    batch_sequences_lm,
    batch_sequences_mc,
    batch_sequences_schema,
    evaluate_example,
    evaluate_task,
    find_common_length,
    render_prompts_lm,
    render_prompts_mc,
    render_prompts_schema,
    stack_sequences,
)
from nanochat_ref.tokenizer import RustBPETokenizer


@pytest.fixture(scope="module")
def tokenizer():
    texts = [m["content"] for r in smalltalk_conversations(50, 0) for m in r["messages"]]
    return RustBPETokenizer.train_from_iterator(iter(texts), 300, backend="python")


class BigramModel:
    """Predicts, after each token, the token that followed it in `text` (a fake model with known preferences)."""

    def __init__(self, tokenizer, text, vocab=300):
        self.logits = torch.zeros(vocab, vocab)
        ids = tokenizer.encode(text, prepend=tokenizer.get_bos_token_id())
        for a, b in zip(ids, ids[1:]):
            self.logits[a, b] = 20.0

    def __call__(self, idx):
        return self.logits[idx]  # (B, T, V)


MC_ITEM = {"query": "The sky is", "choices": ["blue", "green", "loud"], "gold": 0}


def test_find_common_length_left_and_right():
    seqs = [[1, 2, 3, 9], [1, 2, 4, 9], [1, 2, 5, 9]]
    assert find_common_length(seqs, "left") == 2
    assert find_common_length(seqs, "right") == 1
    assert find_common_length([[1, 2], [1, 2, 3]], "left") == 2


def test_stack_sequences_right_pads():
    assert stack_sequences([[1, 2, 3], [4]], 0).tolist() == [[1, 2, 3], [4, 0, 0]]


def test_mc_prompts_share_the_context_and_include_fewshot_answers():
    shot = {"query": "Grass is", "choices": ["red", "green"], "gold": 1}
    prompts = render_prompts_mc(MC_ITEM, " ", [shot])
    assert prompts == ["Grass is green\n\nThe sky is blue", "Grass is green\n\nThe sky is green",
                       "Grass is green\n\nThe sky is loud"]  # fmt: skip


def test_schema_prompts_share_the_continuation():
    item = {"context_options": ["The cat", "The dog"], "continuation": "barked.", "gold": 1}
    assert render_prompts_schema(item, " ") == ["The cat barked.", "The dog barked."]


def test_lm_prompt_without_continuation_is_a_token_prefix(tokenizer):
    item = {"context": "one two three ", "continuation": "four"}
    without, with_ = render_prompts_lm(item, " ")
    assert without == "one two three" and with_ == "one two three four"
    tokens, starts, ends = batch_sequences_lm(tokenizer, [without, with_])
    assert tokens[0][: starts[0]] == tokenizer.encode(without, prepend=tokenizer.get_bos_token_id())
    assert ends[0] == len(tokens[0]) > starts[0]


def test_mc_and_schema_answer_regions(tokenizer):
    tokens, starts, ends = batch_sequences_mc(tokenizer, render_prompts_mc(MC_ITEM, " "))
    for t, s, e in zip(tokens, starts, ends):
        assert tokens[0][:s] == t[:s] and e == len(t)
    item = {"context_options": ["The cat", "A big dog"], "continuation": "barked.", "gold": 1}
    tokens, starts, ends = batch_sequences_schema(tokenizer, render_prompts_schema(item, " "))
    assert tokens[0][starts[0] :] == tokens[1][starts[1] :]


def test_mc_picks_the_choice_with_the_lowest_mean_loss(tokenizer):
    model = BigramModel(tokenizer, "The sky is loud")
    meta = {"task_type": "multiple_choice", "num_fewshot": 0, "continuation_delimiter": " "}
    assert evaluate_example(0, model, tokenizer, [{**MC_ITEM, "gold": 2}], "cpu", meta) is True
    assert evaluate_example(0, model, tokenizer, [MC_ITEM], "cpu", meta) is False


def test_lm_needs_every_continuation_token_to_be_the_argmax(tokenizer):
    meta = {"task_type": "language_modeling", "num_fewshot": 0, "continuation_delimiter": " "}
    item = {"context": "How are", "continuation": "you?"}
    assert evaluate_example(0, BigramModel(tokenizer, "How are you?"), tokenizer, [item], "cpu", meta) is True
    assert (
        evaluate_example(0, BigramModel(tokenizer, "How are they?"), tokenizer, [item], "cpu", meta) is False
    )


def test_evaluate_task_averages_over_examples(tokenizer):
    model = BigramModel(tokenizer, "The sky is blue")
    meta = {"task_type": "multiple_choice", "num_fewshot": 0, "continuation_delimiter": " "}
    data = [MC_ITEM, {**MC_ITEM, "gold": 1}]
    assert evaluate_task(model, tokenizer, data, "cpu", meta) == 0.5


def test_evaluate_model_reports_centered_scores_and_core(tokenizer, tmp_path):
    from nanochat_ref.scripts.base_eval import evaluate_model

    model = BigramModel(tokenizer, "x")
    model.config = type("C", (), {"sequence_len": 512})()
    out = evaluate_model(model, tokenizer, "cpu", max_per_task=6, bundle_dir=str(tmp_path / "bundle"))
    assert set(out["results"]) == {"opposites", "categories", "capitals_schema", "counting", "number_words"}
    for label, acc in out["results"].items():
        baseline = {"capitals_schema": 50.0, "counting": 0.0, "number_words": 0.0}.get(label, 25.0)
        assert out["centered_results"][label] == pytest.approx((acc - baseline / 100) / (1 - baseline / 100))
    assert out["core_metric"] == pytest.approx(sum(out["centered_results"].values()) / 5)
