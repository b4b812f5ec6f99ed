"""Hidden tests for module 08: slicing edges, mixtures of views, real tasks, the full mixture, long generator runs,
epochs, ranks, schedule edges."""

import pytest
import torch

from grading.engine.errors import LearnerError
from grading.testkit import assert_number
from nanochat_ref.scripts import mid_train as ref
from nanochat_ref.tasks.arc import ARC
from nanochat_ref.tasks.common import TaskMixture, TaskSequence, render_mc

# --- step 1 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h10")
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
@pytest.mark.hint("h10")
def test_indices_below_minus_len_raise_index_error(view, seq):
    task, _ = view(stop=3)
    assert seq.get(task, -3) == view(stop=3)[1][0]
    with pytest.raises(LearnerError) as exc:
        seq.get(task, -4)
    assert exc.value.type_name == "IndexError"


@pytest.mark.step("step1")
@pytest.mark.hint("h10")
def test_a_non_integer_index_is_rejected(view, seq):
    task, _ = view()
    with pytest.raises(LearnerError) as exc:
        seq.get(task, 1.0)
    assert exc.value.type_name == "AssertionError"


@pytest.mark.step("step1")
@pytest.mark.hint("h10")
def test_a_mixture_of_views_matches_the_reference(learner, view, seq):
    (a, ref_a), (b, ref_b) = view(stop=4), view(start=5, step=2)
    mixture = learner.module("nanochat.tasks.common").TaskMixture([a, b, a])
    expected = TaskMixture([ref_a, ref_b, ref_a])
    assert seq.len(mixture) == len(expected) == 11
    assert [seq.get(mixture, i) for i in range(len(expected))] == [expected[i] for i in range(len(expected))]


@pytest.mark.step("step1")
@pytest.mark.hint("h10")
def test_a_sequence_of_views_matches_the_reference(learner, view, seq):
    (a, ref_a), (b, ref_b) = view(start=7), view(step=3)
    sequence = learner.module("nanochat.tasks.common").TaskSequence([a, b])
    expected = TaskSequence([ref_a, ref_b])
    assert seq.len(sequence) == len(expected) == 7
    assert [seq.get(sequence, i) for i in range(len(expected))] == [expected[i] for i in range(len(expected))]


@pytest.mark.step("step1")
@pytest.mark.hint("h12")
def test_arc_examples_match_the_reference(learner, seq):
    task = learner.module("nanochat.tasks.arc").ARC("ARC-Challenge", "test", start=3, stop=40, step=7)
    expected = ARC("ARC-Challenge", "test", start=3, stop=40, step=7)
    assert [seq.get(task, i) for i in range(len(expected))] == [expected[i] for i in range(len(expected))]


@pytest.mark.step("step1")
@pytest.mark.hint("h12")
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
@pytest.mark.hint("h3")
def test_full_mixture_sizes_match_the_reference(mid, learner, base_dir):
    train, val = mid.mid_mixture(False)
    ref_train, ref_val = ref.mid_mixture(False)
    assert learner.value(train.lengths) == ref_train.lengths, "full train mixture task sizes"
    assert learner.value(val.lengths) == ref_val.lengths, "full val mixture task sizes"


@pytest.mark.step("step2")
@pytest.mark.hint("h1")
def test_full_mixture_conversations_match_the_reference(mid, base_dir):
    train, val = mid.mid_mixture(False)
    ref_train, ref_val = ref.mid_mixture(False)
    for i in (0, 7, 1234, len(ref_train) - 1):
        assert train[i] == ref_train[i], f"train conversation {i} differs"
    for i in (0, len(ref_val) - 1):
        assert val[i] == ref_val[i], f"val conversation {i} differs"


@pytest.mark.step("step2")
@pytest.mark.hint("h2")
def test_tiny_mixture_without_an_identity_file_still_builds(mid, learner, tmp_path, monkeypatch):
    los = learner.module("os")
    folder = learner.module("tempfile").mkdtemp(prefix="mid-empty-")
    old = los.environ.get("NANOCHAT_BASE_DIR")
    los.environ.update({"NANOCHAT_BASE_DIR": folder})
    try:
        train, _ = mid.mid_mixture(True)
        sizes = learner.value(train.lengths)
    finally:
        if old is None:
            los.environ.pop("NANOCHAT_BASE_DIR", None)
        else:
            los.environ.update({"NANOCHAT_BASE_DIR": old})
    monkeypatch.setenv("NANOCHAT_BASE_DIR", str(tmp_path))
    assert sizes == ref.mid_mixture(True)[0].lengths


# --- step 3 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step3")
@pytest.mark.hint("h6")
@pytest.mark.parametrize(("B", "T"), [(1, 4), (3, 5), (4, 32)])
def test_many_windows_match_the_reference_across_epochs(mid, tok, lnext, judge_tok, md, B, T):
    gen = mid.mid_data_generator(md.CONVERSATIONS, tok, B, T, "cpu", num_epochs=100)
    ref_gen = ref.mid_data_generator(md.CONVERSATIONS, judge_tok, B, T, "cpu", num_epochs=100)
    for step in range(8):
        got, want = lnext(gen), next(ref_gen)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1]), f"B={B} T={T}: window {step}"


@pytest.mark.step("step3")
@pytest.mark.hint("h4")
def test_generator_strides_over_the_dataset_by_rank(mid, tok, lnext, learner, judge_tok, md, monkeypatch):
    env = {"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2"}
    los = learner.module("os")
    los.environ.update(env)
    try:
        gen = mid.mid_data_generator(md.CONVERSATIONS, tok, 2, 8, "cpu", num_epochs=10)
        got = [lnext(gen) for _ in range(3)]
    finally:
        for key in env:
            los.environ.pop(key, None)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    ref_gen = ref.mid_data_generator(md.CONVERSATIONS, judge_tok, 2, 8, "cpu", num_epochs=10)
    for step in range(3):
        want = next(ref_gen)
        assert torch.equal(got[step][0], want[0]), f"rank 1 of 2 must start at row 1: window {step} differs"


# --- step 4 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step4")
@pytest.mark.hint("h8")
@pytest.mark.parametrize("progress", [0.0, 0.5, 0.7999, 0.8, 0.85, 0.95, 0.999, 1.0])
def test_lr_multiplier_matches_the_reference(mid, progress):
    got = mid.get_lr_multiplier(progress)
    assert_number(got, ref.get_lr_multiplier(progress), abs=1e-9, what=f"get_lr_multiplier({progress})")


@pytest.mark.step("step4")
@pytest.mark.hint("h9")
@pytest.mark.parametrize("num_epochs", [1, 2])
def test_state_progress_and_last_step_follow_the_reference(
    mid, tok, lnext, lstate, learner, judge_tok, md, num_epochs
):
    state = lstate()
    gen = mid.mid_data_generator(md.CONVERSATIONS, tok, 1, 16, "cpu", num_epochs=num_epochs, state=state)
    ref_state: dict = {}
    ref_gen = ref.mid_data_generator(
        md.CONVERSATIONS, judge_tok, 1, 16, "cpu", num_epochs=num_epochs, state=ref_state
    )
    for step in range(12):
        lnext(gen)
        next(ref_gen)
        got = learner.value(state.data)
        assert got["last_step"] == ref_state["last_step"], (
            f"last_step after window {step}: expected {ref_state}"
        )
        assert_number(got["progress"], ref_state["progress"], what=f"state['progress'] after window {step}")


@pytest.mark.step("step4")
@pytest.mark.hint("h9")
def test_last_step_is_set_once_the_cursor_wraps(mid, tok, lnext, lstate, learner, md):
    state = lstate()
    gen = mid.mid_data_generator(md.CONVERSATIONS, tok, 4, 64, "cpu", state=state)
    lnext(gen)  # 257 tokens cover every conversation of this small dataset at least once
    got = learner.value(state.data)
    message = f"after reading the whole dataset once, last_step must be True and progress 1.0: {got}"
    assert got["last_step"] is True, message
    assert_number(got["progress"], 1.0, what="state['progress']", msg=message)
