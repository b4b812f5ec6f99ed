"""Tests for the SFT batching: one conversation per row, padding, and the assistant-only loss mask."""

import pytest
import torch

from nanochat_ref.chatdata.generators import smalltalk_conversations
from nanochat_ref.scripts.chat_sft import sft_collate, sft_data_generator
from nanochat_ref.tokenizer import RustBPETokenizer


@pytest.fixture(scope="module")
def tokenizer():
    texts = [m["content"] for r in smalltalk_conversations(50, 0) for m in r["messages"]]
    return RustBPETokenizer.train_from_iterator(iter(texts), 300, backend="python")


CONVERSATION = {
    "messages": [
        {"role": "user", "content": "What is 1+2?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me compute "},
                {"type": "python", "text": "1+2"},
                {"type": "python_output", "text": "3"},
                {"type": "text", "text": " so #### 3"},
            ],
        },
    ]
}


def test_sft_targets_are_only_assistant_tokens(tokenizer):
    ids, mask = tokenizer.render_conversation(CONVERSATION)
    inputs, targets = sft_collate([(ids, mask)], tokenizer.encode_special("<|assistant_end|>"))
    kept = targets[0][targets[0] >= 0].tolist()
    special = tokenizer.encode_special
    expected = (
        tokenizer.encode("Let me compute ")
        + [special("<|python_start|>"), *tokenizer.encode("1+2"), special("<|python_end|>")]
        + tokenizer.encode(" so #### 3")
        + [special("<|assistant_end|>")]
    )
    assert kept == expected
    assert tokenizer.encode("What is 1+2?")[0] not in targets[0][: len(tokenizer.encode("What is 1+2?")) + 2]
    assert special("<|output_start|>") not in kept and special("<|user_end|>") not in kept


def test_sft_inputs_are_ids_shifted_and_targets_follow_mask(tokenizer):
    ids, mask = tokenizer.render_conversation(CONVERSATION)
    inputs, targets = sft_collate([(ids, mask)], 0)
    assert inputs[0].tolist() == ids[:-1]
    for t in range(len(ids) - 1):
        assert targets[0, t].item() == (ids[t + 1] if mask[t + 1] else -1)


def test_sft_collate_pads_rows_with_ignored_targets():
    a = ([1, 2, 3, 4, 5], [0, 0, 1, 1, 1])
    b = ([1, 2, 3], [0, 1, 1])
    inputs, targets = sft_collate([a, b], pad_token_id=99)
    assert inputs.tolist() == [[1, 2, 3, 4], [1, 2, 99, 99]]
    assert targets.tolist() == [[-1, 3, 4, 5], [2, 3, -1, -1]]


def test_sft_data_generator_yields_one_conversation_per_row(tokenizer):
    dataset = [
        CONVERSATION,
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
    ]
    inputs, targets = next(sft_data_generator(dataset, tokenizer, batch_size=2, device="cpu"))
    bos = tokenizer.get_bos_token_id()
    assert inputs.shape[0] == 2 and (inputs[:, 0] == bos).all()
    assert inputs.dtype == torch.long and targets.shape == inputs.shape


def test_mid_data_generator_trains_on_every_token_and_stops_after_one_epoch(tokenizer):
    from nanochat_ref.scripts.mid_train import mid_data_generator

    dataset = [CONVERSATION] * 2
    ids, _ = tokenizer.render_conversation(CONVERSATION)
    state = {}
    gen = mid_data_generator(dataset, tokenizer, B=1, T=len(ids) - 1, device="cpu", state=state)
    x, y = next(gen)
    assert (
        x[0].tolist() == ids[:-1] and y[0].tolist() == ids[1:]
    )  # no mask: user text and tool output included
    assert not state["last_step"]
    next(gen)
    assert state["last_step"] and state["progress"] == 1.0


def test_mid_lr_multiplier_is_flat_then_decays_to_zero():
    from nanochat_ref.scripts.mid_train import get_lr_multiplier

    assert get_lr_multiplier(0.0) == 1.0 and get_lr_multiplier(0.79) == 1.0
    assert abs(get_lr_multiplier(0.9) - 0.5) < 1e-9 and abs(get_lr_multiplier(1.0)) < 1e-9
