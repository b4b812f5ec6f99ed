"""Visible tests for module 08 (midtraining). Learner code is reached only through the ``learner`` fixture."""

import pytest
import torch

from grading.engine.errors import LearnerError
from grading.testkit import assert_number, finite_number
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
