"""Visible tests for module 09 (SFT). Learner code is reached only through the ``learner`` fixture."""

import pytest
import torch

from grading.testkit import assert_numbers, check_tensor, finite_max, finite_numbers
from nanochat_ref.scripts import chat_sft as ref

PAD = 7

# --- step 1: sft_collate ---------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_collate_pads_every_row_to_the_longest_sequence_minus_one(sft):
    batch = [([1, 2, 3, 4, 5], [0, 0, 1, 1, 1]), ([1, 2, 3], [0, 1, 1])]
    inputs, targets = sft.sft_collate(batch, PAD)
    assert tuple(inputs.shape) == (2, 4), (
        f"inputs must be (B, longest - 1) = (2, 4), got {tuple(inputs.shape)}"
    )
    assert tuple(targets.shape) == (2, 4), (
        f"targets must be (B, longest - 1) = (2, 4), got {tuple(targets.shape)}"
    )
    assert inputs.dtype == torch.long and targets.dtype == torch.long, "inputs and targets must be int64"


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_collate_inputs_are_the_ids_without_the_last_and_padded_with_the_pad_id(sft):
    batch = [([1, 2, 3, 4, 5], [1, 1, 1, 1, 1]), ([9, 8, 6], [1, 1, 1])]
    inputs, _ = sft.sft_collate(batch, PAD)
    expected = torch.tensor([[1, 2, 3, 4], [9, 8, PAD, PAD]])
    assert torch.equal(inputs, expected), f"inputs are ids[:-1], right-padded with pad_token_id:\n{inputs}"


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_collate_targets_are_the_ids_shifted_by_one_and_minus_one_on_padding(sft):
    batch = [([1, 2, 3, 4, 5], [1, 1, 1, 1, 1]), ([9, 8, 6], [1, 1, 1])]
    _, targets = sft.sft_collate(batch, PAD)
    expected = torch.tensor([[2, 3, 4, 5], [8, 6, -1, -1]])
    assert torch.equal(targets, expected), f"targets are ids[1:], with -1 on padding:\n{targets}"


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_collate_masks_the_targets_with_the_mask_shifted_by_one(sft):
    batch = [([1, 2, 3, 4, 5, 6], [1, 0, 0, 1, 1, 0])]
    _, targets = sft.sft_collate(batch, PAD)
    expected = ref.sft_collate(batch, PAD)[1]
    assert torch.equal(targets, expected), (
        f"targets must be -1 where mask[1:] is 0: expected {expected.tolist()}, got {targets.tolist()}"
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_collate_on_a_rendered_conversation_supervises_only_the_assistant(sft, judge_tok, sd):
    ids, mask = judge_tok.render_conversation(sd.CONVERSATIONS[0])
    pad = judge_tok.encode_special("<|assistant_end|>")
    _, targets = sft.sft_collate([(ids, mask)], pad)
    _, expected = ref.sft_collate([(ids, mask)], pad)
    assert torch.equal(targets, expected), "targets of a rendered conversation: only assistant tokens stay"


# --- step 2: sft_data_generator --------------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_generator_yields_a_batch_of_batch_size_rows(sft, tok, lnext, sd):
    gen = sft.sft_data_generator(sd.CONVERSATIONS, tok, 3, "cpu")
    inputs, targets = lnext(gen)
    assert inputs.shape[0] == 3 and targets.shape[0] == 3, (
        f"a batch must hold batch_size (3) rows, got {inputs.shape[0]}"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_generator_first_batch_matches_the_reference(sft, tok, lnext, judge_tok, sd):
    inputs, targets = lnext(sft.sft_data_generator(sd.CONVERSATIONS, tok, 2, "cpu"))
    ref_inputs, ref_targets = next(ref.sft_data_generator(sd.CONVERSATIONS, judge_tok, 2, "cpu"))
    assert torch.equal(inputs, ref_inputs), "inputs of the first batch differ from the reference"
    assert torch.equal(targets, ref_targets), "targets of the first batch differ from the reference"


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_generator_pads_with_assistant_end(sft, tok, lnext, judge_tok, sd):
    batch = [sd.conv("Hi", "Hello! How are you today? I am fine."), sd.conv("Hi", "Yes.")]
    inputs, _ = lnext(sft.sft_data_generator(batch, tok, 2, "cpu"))
    pad = judge_tok.encode_special("<|assistant_end|>")
    assert int(inputs[1, -1]) == pad, (
        f"padding must be <|assistant_end|> (id {pad}), got {int(inputs[1, -1])}"
    )


# --- step 3: set_lr --------------------------------------------------------------------------------------------


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_set_lr_scales_the_initial_lr_of_every_group(sft, learner):
    opt = learner.module("types").SimpleNamespace(
        param_groups=[{"lr": 1.0, "initial_lr": 0.02}, {"lr": 1.0, "initial_lr": 0.004}]
    )
    sft.set_lr([opt], 0.5)
    lrs = [g["lr"] for g in learner.value(opt.param_groups)]
    assert_numbers(
        lrs,
        [0.01, 0.002],
        what="lrs",
        msg=f"lr must be initial_lr * lrm in every group, got {lrs}",
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_set_lr_updates_every_optimizer(sft, learner):
    ns = learner.module("types").SimpleNamespace
    opts = [
        ns(param_groups=[{"lr": 0.0, "initial_lr": 0.2}]),
        ns(param_groups=[{"lr": 0.0, "initial_lr": 0.02}]),
    ]
    sft.set_lr(opts, 0.25)
    lrs = [learner.value(o.param_groups)[0]["lr"] for o in opts]
    assert_numbers(
        lrs,
        [0.05, 0.005],
        what="lrs",
        msg=f"lr must be set in every optimizer (AdamW and Muon), got {lrs}",
    )


# --- step 4: the masked loss and the loop step, and a real SFT run from the shipped mid checkpoint -------------

# 4 tiny steps of 2 micro-steps (gradient accumulation), val loss at steps 0, 2, 4
SMOKE_FLAGS = ["--tiny", "--device_type=cpu", "--device_batch_size=2", "--target_examples_per_step=4",
               "--num_iterations=4", "--max_seq_len=64", "--eval_every=2", "--eval_steps=1",
               "--eval_metrics_max_problems=2", "--out_tag=smoke"]  # fmt: skip
RUN_STEPS = 12
# the graded run: a short SFT on a slice of the tiny mixture, from the shipped mid checkpoint
RUN_FLAGS = ["--tiny", "--device_type=cpu", "--device_batch_size=8", "--target_examples_per_step=16",
             f"--num_iterations={RUN_STEPS}", "--init_lr_frac=0.1", "--eval_every=6", "--eval_steps=2",
             "--eval_metrics_max_problems=4", "--out_tag=graded"]  # fmt: skip


def _saved_params(learner, base: str, tag: str, step: int) -> dict:
    from grading.testkit.stages import learner_saved_state

    return learner_saved_state(learner, f"{base}/chatsft_checkpoints/{tag}", step)


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
def test_four_steps_of_chat_sft_match_nanochat(sft, learner, stage_env, ref_sft_run, judge_stage_base):
    got = sft.main(SMOKE_FLAGS)
    expected = ref_sft_run(SMOKE_FLAGS)
    losses = finite_numbers(got["train_losses"], what="train_losses returned by main()")
    assert len(losses) == 4, f"--num_iterations=4 must run 4 optimizer steps, got {len(losses)} (step 4)"
    assert_numbers(
        got["lrms"],
        [1.0, 0.75, 0.5, 0.25],
        abs=1e-9,
        what="LR multiplier per step",
        msg="expected 1 - step / num_iterations, passed to set_lr (step 4)",
    )
    assert got["tokens_per_step"] == expected["tokens_per_step"], (
        f"supervised targets per step: expected {expected['tokens_per_step']}, got {got['tokens_per_step']}. "
        "Count the targets that are not -1 over every micro-step of the step: (y >= 0).sum(), not y.numel() "
        "(padding and user tokens are not supervised) (step 4)"
    )
    assert_numbers(
        losses[:1],
        expected["train_losses"][:1],
        rel=1e-4,
        what="train loss of step 0",
        msg="the loss of the last micro-step of step 0 is the model's masked cross-entropy model(x, y); likely "
        "cause: the log keeps the divided loss, or the batch is not advanced per micro-step (step 4)",
    )
    assert_numbers(
        losses,
        expected["train_losses"],
        rel=1e-3,
        what="train loss per step",
        msg="after step 0 the update differs from nanochat's. Likely causes: the loss not divided by "
        "grad_accum_steps, zero_grad missing or inside the micro-steps, the wrong LR multiplier (step 4)",
    )
    ref_state = torch.load(f"{judge_stage_base}/chatsft_checkpoints/smoke/model_000004.pt", weights_only=True)
    state = _saved_params(learner, stage_env, "smoke", 4)
    errors = [
        float(
            (check_tensor(state.get(k), shape=v.shape, what=f"saved parameter {k}").float() - v).abs().max()
        )
        for k, v in ref_state.items()
    ]
    err = finite_max(errors, what="max abs error of the saved parameters")
    assert err < 1e-4, (
        f"after 4 steps the saved parameters differ from nanochat's by {err:.3g}: the last step's update (its "
        "LR multiplier 0.25) or the optimizer steps differ (step 4)"
    )


@pytest.mark.graded_run
@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_a_short_sft_run_lowers_the_supervised_loss_and_replies_in_format(sft, learner, stage_env, metrics):
    from grading.testkit.stages import (
        chat_loss,
        format_probes,
        model_from_state,
        reply,
        shipped_model,
        valid_reply,
    )

    got = sft.main(RUN_FLAGS)
    metrics.series("train_loss", finite_numbers(got["train_losses"], what="train losses of the run"))
    metrics.series("val_loss", finite_numbers([v for _, v in got["val_loss_history"]], what="val losses"))
    mid_model, tokenizer, meta = shipped_model("mid")
    trained = model_from_state(_saved_params(learner, stage_env, "graded", RUN_STEPS), meta)
    _, val = ref.sft_mixture(True)
    held_out = [val[i] for i in range(len(val))]
    loss_before = chat_loss(mid_model, tokenizer, held_out, masked=True)
    loss_after = chat_loss(trained, tokenizer, held_out, masked=True)
    metrics.record("val_loss_baseline", loss_before)
    metrics.record("val_loss_ours", loss_after)
    probes = format_probes(per_task=2)
    rows, valid = [], {"mid": 0, "sft": 0}
    for probe in probes:
        cells = []
        for name, model in (("mid", mid_model), ("sft", trained)):
            text, ended = reply(model, tokenizer, probe.conversation, 128)
            valid[name] += valid_reply(probe, text, ended)
            shown = text if len(text) <= 70 else f"{text[:30]} … {text[-35:]}"
            cells.append(repr(shown) + ("" if ended else " [no <|assistant_end|>]"))
        rows.append(f"{probe.task:<12} | mid: {cells[0]}\n{'':<12} | sft: {cells[1]}")
    learner.module("builtins").print(
        "Replies to fixed prompts, greedy (mid vs your SFT):\n" + "\n".join(rows)
    )
    metrics.record("format_rate_baseline", valid["mid"] / len(probes))
    metrics.record("format_rate_ours", valid["sft"] / len(probes))
    assert loss_after < loss_before, (
        f"supervised loss on held-out conversations: mid {loss_before:.4f}, after your SFT {loss_after:.4f}; it must "
        "fall. Likely cause: the optimizer never steps, or the LR multiplier is zero (step 4)"
    )
    assert valid["sft"] >= len(probes) - 1, (
        f"{valid['sft']} of {len(probes)} replies end with <|assistant_end|> in the task's format (mid: "
        f"{valid['mid']}); at least {len(probes) - 1} wanted: SFT must keep the format midtraining taught. Likely "
        "cause: the LR multiplier or the update is far off, so the run damaged the model (step 4)"
    )
