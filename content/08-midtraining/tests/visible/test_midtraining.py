"""Visible tests for module 08 (midtraining). Learner code is reached only through the ``learner`` fixture."""

import pytest
import torch

from grading.engine.errors import LearnerError
from grading.testkit import (
    assert_number,
    assert_numbers,
    check_tensor,
    finite_max,
    finite_number,
    finite_numbers,
)
from nanochat_ref.scripts import mid_train as ref
from nanochat_ref.tasks.common import render_mc

# --- step 1: Task views and render_mc -------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h10")
def test_the_length_of_an_unsliced_task_is_its_number_of_examples(view, seq):
    task, _ = view()
    assert seq.len(task) == 10, f"len() of a task over 10 conversations: got {seq.len(task)}"


@pytest.mark.step("step1")
@pytest.mark.hint("h10")
def test_the_length_of_a_strided_view_rounds_up(view, seq):
    task, expected = view(start=1, stop=8, step=3)
    assert seq.len(task) == len(expected) == 3, (
        f"len() of view [1:8:3] must be ceil((8 - 1) / 3) = 3, got {seq.len(task)}"
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h10")
def test_an_index_maps_to_start_plus_index_times_step(view, seq, md):
    task, _ = view(start=2, step=3)
    got = seq.get(task, 1)
    assert got == {"messages": md.TASK_ROWS[5]}, (
        f"index 1 of view [2::3] must be underlying example 2 + 1*3 = 5, got {got}"
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h10")
def test_a_negative_index_counts_from_the_end_and_past_the_end_raises_index_error(view, seq, md):
    task, _ = view(stop=6)
    assert seq.get(task, -1) == {"messages": md.TASK_ROWS[5]}, "index -1 must be the last example of the view"
    with pytest.raises(LearnerError) as exc:
        seq.get(task, 6)
    if exc.value.type_name == "NotImplementedError":
        raise exc.value
    assert exc.value.type_name == "IndexError", (
        f"index 6 of a 6-example view must raise IndexError: {exc.value}"
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h11")
def test_render_mc_puts_the_letter_after_each_choice(tc):
    args = ("What color is the sky?", ["A", "B", "C"], ["blue", "green", "red"])
    got = tc.render_mc(*args)
    expected = render_mc(*args)
    assert got == expected, f"render_mc prompt:\n{got!r}\nexpected:\n{expected!r}"


# --- step 2: mid_mixture ---------------------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h3")
def test_tiny_train_mixture_has_the_reference_tasks_and_sizes(mid, learner, base_dir):
    train, _ = mid.mid_mixture(True)
    sizes = learner.value(train.lengths)
    ref_train, _ = ref.mid_mixture(True)
    assert sizes == ref_train.lengths, (
        f"task sizes of the tiny train mixture: expected {ref_train.lengths}, got {sizes}"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h2")
def test_identity_is_listed_twice_in_the_train_mixture(mid, learner, base_dir, md):
    train, _ = mid.mid_mixture(True)
    sizes = learner.value(train.lengths)
    n = len(md.IDENTITY)
    assert sizes.count(n) >= 2, (
        f"identity ({n} rows) must appear twice in the train mixture, sizes are {sizes}"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h3")
def test_tiny_val_mixture_has_the_reference_tasks_and_sizes(mid, learner, base_dir):
    _, val = mid.mid_mixture(True)
    sizes = learner.value(val.lengths)
    _, ref_val = ref.mid_mixture(True)
    assert sizes == ref_val.lengths, (
        f"task sizes of the tiny val mixture: expected {ref_val.lengths}, got {sizes}"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h1")
def test_the_train_mixture_order_matches_the_reference(mid, base_dir):
    train, _ = mid.mid_mixture(True)
    ref_train, _ = ref.mid_mixture(True)
    assert len(train) == len(ref_train), (
        f"the mixture must hold {len(ref_train)} conversations, got {len(train)}"
    )
    for i in (0, 1, 2, 100, len(ref_train) - 1):
        assert train[i] == ref_train[i], (
            f"conversation {i} differs: shuffle the TaskMixture with random.Random(42)"
        )


# --- step 3: mid_data_generator --------------------------------------------------------------------------------


@pytest.mark.step("step3")
@pytest.mark.hint("h6")
def test_generator_yields_b_by_t_int64_windows(mid, tok, lnext, md):
    inputs, targets = lnext(mid.mid_data_generator(md.CONVERSATIONS, tok, 2, 8, "cpu"))
    assert tuple(inputs.shape) == (2, 8), f"inputs must be (B, T) = (2, 8), got {tuple(inputs.shape)}"
    assert tuple(targets.shape) == (2, 8), f"targets must be (B, T) = (2, 8), got {tuple(targets.shape)}"
    assert inputs.dtype == torch.long and targets.dtype == torch.long, "inputs and targets must be int64"


@pytest.mark.step("step3")
@pytest.mark.hint("h6")
def test_targets_are_the_inputs_shifted_by_one_token(mid, tok, lnext, md):
    inputs, targets = lnext(mid.mid_data_generator(md.CONVERSATIONS, tok, 2, 8, "cpu"))
    assert torch.equal(inputs.reshape(-1)[1:], targets.reshape(-1)[:-1]), (
        "one B*T+1 window: targets are the same tokens as inputs shifted by one (no padding)"
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h5")
def test_the_first_window_is_the_first_conversation_with_every_token(mid, tok, lnext, judge_tok, md):
    inputs, _ = lnext(mid.mid_data_generator(md.CONVERSATIONS, tok, 1, 12, "cpu"))
    ids, _ = judge_tok.render_conversation(md.CONVERSATIONS[0])
    assert inputs[0].tolist() == ids[:12], (
        "the window must start with the whole rendered first conversation, user tokens included (mask ignored)"
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h4")
def test_the_first_windows_match_the_reference(mid, tok, lnext, judge_tok, md):
    gen = mid.mid_data_generator(md.CONVERSATIONS, tok, 2, 16, "cpu", num_epochs=10)
    ref_gen = ref.mid_data_generator(md.CONVERSATIONS, judge_tok, 2, 16, "cpu", num_epochs=10)
    for step in range(3):
        got, want = lnext(gen), next(ref_gen)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1]), f"window {step} differs"


# --- step 4: schedule and stopping -----------------------------------------------------------------------------


@pytest.mark.step("step4")
@pytest.mark.hint("h7")
def test_lr_multiplier_is_one_for_the_first_80_percent(mid):
    progress = (0.0, 0.3, 0.79)
    values = [mid.get_lr_multiplier(p) for p in progress]
    for p, got in zip(progress, values):
        assert_number(
            got,
            1.0,
            what=f"get_lr_multiplier({p})",
            msg=f"lr multiplier before progress 0.8 must be 1.0: {values}",
        )


@pytest.mark.step("step4")
@pytest.mark.hint("h8")
def test_lr_multiplier_falls_linearly_to_zero(mid):
    progress = (0.8, 0.9, 1.0)
    values = [mid.get_lr_multiplier(p) for p in progress]
    for p, got, expected in zip(progress, values, (1.0, 0.5, 0.0)):
        assert_number(
            got,
            expected,
            abs=1e-9,
            what=f"get_lr_multiplier({p})",
            msg=f"lr multiplier at progress 0.8, 0.9, 1.0 must be 1.0, 0.5, 0.0 (falling, not rising): {values}",
        )


@pytest.mark.step("step4")
@pytest.mark.hint("h9")
def test_the_state_reports_progress_and_last_step(mid, tok, lnext, lstate, learner, md):
    state = lstate()
    gen = mid.mid_data_generator(md.CONVERSATIONS, tok, 1, 8, "cpu", state=state)
    lnext(gen)
    first = learner.value(state.data)
    assert set(first) >= {"last_step", "progress"}, f"state must hold last_step and progress, got {first}"
    progress = finite_number(
        first["progress"], what="state['progress']", msg=f"after one short window: {first}"
    )
    assert first["last_step"] is False and 0.0 < progress < 1.0, f"after one short window: {first}"


# --- step 5: the loop step, and a real midtraining run from the shipped base -----------------------------------

# 20 tiny steps (2 micro-steps each: gradient accumulation) from the shipped base; the last 20% decay the LR
SMOKE_FLAGS = ["--tiny", "--device_type=cpu", "--device_batch_size=2", "--max_seq_len=32", "--total_batch_size=128",
               "--num_iterations=20", "--eval_every=10", "--eval_tokens=64"]  # fmt: skip
RUN_STEPS = 24
# the graded run: a short midtraining on a slice of the tiny mixture, from the shipped base
RUN_FLAGS = ["--tiny", "--device_type=cpu", "--device_batch_size=8", "--max_seq_len=256", "--total_batch_size=2048",
             f"--num_iterations={RUN_STEPS}", "--eval_every=-1", "--eval_tokens=2048"]  # fmt: skip


def _saved_params(learner, base: str, step: int) -> dict:
    """The weights a run saved at ``step`` (both runs save under the base model's tag, d3)."""
    from grading.testkit.stages import learner_saved_state

    return learner_saved_state(learner, f"{base}/mid_checkpoints/d3", step)


@pytest.mark.step("step5")
@pytest.mark.hint("h13")
def test_twenty_steps_of_mid_train_match_nanochat(mid, learner, stage_env, ref_mid_run, judge_stage_base):
    got = mid.main(SMOKE_FLAGS)
    expected = ref_mid_run(SMOKE_FLAGS)
    losses = finite_numbers(got["train_losses"], what="train_losses returned by main()")
    assert len(losses) == 20, f"--num_iterations=20 must run 20 optimizer steps, got {len(losses)} (step 5)"
    assert_numbers(
        got["lrms"],
        expected["lrms"],
        abs=1e-9,
        what="LR multiplier per step",
        msg="expected get_lr_multiplier(step / num_iterations): 1.0, then down over the last 20% (step 5)",
    )
    assert_numbers(
        losses[:1],
        expected["train_losses"][:1],
        rel=1e-4,
        what="train loss of step 0",
        msg="the first micro-step's loss is the model on the first window: the same forward as nanochat's; "
        "likely cause: the log keeps the divided loss (loss / grad_accum_steps) (step 5)",
    )
    assert_numbers(
        losses,
        expected["train_losses"],
        rel=1e-3,
        what="train loss per step",
        msg="after step 0 the update differs from nanochat's. Likely causes: the loss not divided by "
        "grad_accum_steps, zero_grad missing or inside the micro-steps, the LR set from the current lr (a "
        "multiplier that compounds) instead of initial_lr, the batch not advanced per micro-step (step 5)",
    )

    ref_state = torch.load(f"{judge_stage_base}/mid_checkpoints/d3/model_000020.pt", weights_only=True)
    state = _saved_params(learner, stage_env, 20)
    errors = [
        float(
            (check_tensor(state.get(k), shape=v.shape, what=f"saved parameter {k}").float() - v).abs().max()
        )
        for k, v in ref_state.items()
    ]
    err = finite_max(errors, what="max abs error of the saved parameters")
    assert err < 1e-4, (
        f"after 20 steps the saved parameters differ from nanochat's by {err:.3g}: the last steps (LR decay, "
        "Muon momentum) or the optimizer steps differ (step 5)"
    )
    assert_numbers(
        [v for _, v in got["val_loss_history"]],
        [v for _, v in expected["val_loss_history"]],
        rel=1e-3,
        what="val loss at steps 0, 10 and 20",
        msg="the val loss is measured on the same windows; it differs when the model does (step 5)",
    )


@pytest.mark.graded_run
@pytest.mark.step("step5")
@pytest.mark.hint("h14")
def test_a_short_midtraining_run_teaches_the_base_model_the_chat_format(mid, learner, stage_env, metrics):
    from grading.testkit.stages import chat_loss, format_probes, format_rates, model_from_state, shipped_model

    got = mid.main(RUN_FLAGS)
    losses = finite_numbers(got["train_losses"], what="train losses of the run")
    metrics.series("train_loss", losses)
    metrics.series("lr_multiplier", finite_numbers(got["lrms"], what="LR multipliers of the run"))
    base, tokenizer, meta = shipped_model("base")
    trained = model_from_state(_saved_params(learner, stage_env, RUN_STEPS), meta)
    probes = format_probes()
    before = format_rates(base, tokenizer, probes)
    after = format_rates(trained, tokenizer, probes)
    for task in before:
        if task != "all":
            metrics.record(f"eval/{task}", after[task])
            metrics.record(f"format_{task}_baseline", before[task])
            metrics.record(f"format_{task}_ours", after[task])
    _, val = ref.mid_mixture(True)
    conversations = [val[i] for i in range(0, len(val), 5)]
    loss_before = chat_loss(base, tokenizer, conversations, masked=False)
    loss_after = chat_loss(trained, tokenizer, conversations, masked=False)
    metrics.record("chat_loss_baseline", loss_before)
    metrics.record("chat_loss_ours", loss_after)
    assert loss_after < loss_before - 0.1, (
        f"loss on held-out chat conversations: base {loss_before:.3f}, after your run {loss_after:.3f}; it must fall "
        "by more than 0.1 nats. Likely cause: the optimizer never steps, or the LR is zero (step 5)"
    )
    assert after["all"] > before["all"] + 0.2, (
        f"share of replies in the task's format (ending with <|assistant_end|>): base {before['all']:.2f}, after "
        f"your run {after['all']:.2f}; per task {after}. It must rise by more than 0.2 (step 5)"
    )
