"""Hidden tests for module 7: edge cases of bpb, schedules, checkpoints and the training step."""

import contextlib

import pytest
import torch

from grading.testkit import assert_number, check_tensor, finite_max
from nanochat_ref.loss_eval import evaluate_bpb as ref_evaluate_bpb
from nanochat_ref.scripts import base_train as ref_train

TOKEN_BYTES = torch.tensor([0, 0] + [1, 2, 3, 4] * 127 + [5, 6])


def _max_abs_error(got: dict, expected: dict) -> float:
    """The largest |got - expected| over every parameter, once each is a finite tensor of the right shape."""
    missing = sorted(set(expected) - set(got))
    assert not missing, f"the model's state dict has no {missing}"
    errors = [
        float((check_tensor(got[k], shape=v.shape, what=f"parameter {k}") - v).abs().max())
        for k, v in expected.items()
    ]
    return finite_max(errors, what="max abs error per parameter")


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_evaluate_bpb_reads_only_the_first_steps_batches(learner, twin_model):
    model, ref = twin_model(4)
    gen = torch.Generator().manual_seed(4)
    batches = [
        (torch.randint(0, 512, (2, 16), generator=gen), torch.randint(0, 512, (2, 16), generator=gen))
        for _ in range(4)
    ]
    got = learner.module("nanochat.loss_eval").evaluate_bpb(model, batches, 2, TOKEN_BYTES)
    assert_number(got, ref_evaluate_bpb(ref, batches[:2], 2, TOKEN_BYTES), rel=1e-5, what="evaluate_bpb(...)")


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_lr_multiplier_on_a_short_run_with_long_warmup(learner):
    bt = learner.module("nanochat.scripts.base_train")
    for it in range(11):
        got = bt.get_lr_multiplier(it, 10, 0.5, 0.5, 0.2)
        expected = ref_train.get_lr_multiplier(it, 10, 0.5, 0.5, 0.2)
        assert_number(got, expected, what=f"get_lr_multiplier({it}, 10, 0.5, 0.5, 0.2)")


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_only_rank_zero_writes_model_and_meta_files(learner, learner_tmp):
    cm = learner.module("nanochat.checkpoint_manager")
    cm.save_checkpoint(learner_tmp, 3, {"w": torch.ones(1)}, [{"s": torch.ones(1)}], {"step": 3}, 1)
    assert sorted(learner.module("os").listdir(learner_tmp)) == ["optim_000003_rank1.pt"]


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_find_largest_model_falls_back_to_the_newest_folder(learner, learner_tmp):
    cm = learner.module("nanochat.checkpoint_manager")
    os_mod = learner.module("os")
    for i, tag in enumerate(["alpha", "beta", "gamma"]):
        os_mod.makedirs(f"{learner_tmp}/{tag}")
        os_mod.utime(f"{learner_tmp}/{tag}", (1000, [1000, 3000, 2000][i]))
    assert cm.find_largest_model(learner_tmp) == "beta"


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_build_model_accepts_bf16_weights_saved_by_a_compiled_model(learner, learner_env, twin_model):
    cm = learner.module("nanochat.checkpoint_manager")
    _, ref = twin_model(5)
    state = {
        "_orig_mod." + k: v.bfloat16() if k == "transformer.wte.weight" else v
        for k, v in ref.state_dict().items()
    }
    ckpt = f"{learner_env}/base_checkpoints/d9"
    cm.save_checkpoint(ckpt, 1, state, None, {"model_config": {**ref.config.__dict__}}, 0)
    rebuilt, _, _ = cm.build_model(ckpt, 1, learner.module("torch").device("cpu"), "train")
    wte = rebuilt.state_dict()["transformer.wte.weight"]
    assert wte.dtype == torch.float32, "bf16 tensors are cast to float32 on CPU"
    torch.testing.assert_close(wte, ref.transformer.wte.weight.detach().bfloat16().float())


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_training_step_without_clipping_returns_no_grad_norm(learner, twin_model):
    model, ref = twin_model(6)
    gen = torch.Generator().manual_seed(6)
    batches = [
        (torch.randint(0, 512, (2, 16), generator=gen), torch.randint(0, 512, (2, 16), generator=gen), {})
        for _ in range(3)
    ]
    opts = model.setup_optimizers()
    _, norm, _ = learner.module("nanochat.scripts.base_train").train_step(
        model, opts, learner.module("builtins").iter(batches[1:]), batches[0][:2], 2, 0.0, 1.0, 0.95,
        learner.module("contextlib").nullcontext(),
    )  # fmt: skip
    assert norm is None
    ref_opts = ref.setup_optimizers()
    ref_train.train_step(
        ref, ref_opts, iter(batches[1:]), batches[0][:2], 2, 0.0, 1.0, 0.95, contextlib.nullcontext()
    )
    assert _max_abs_error(model.state_dict(), ref.state_dict()) < 1e-4
    assert learner.value(model.lm_head.weight.grad) is None, "zero_grad(set_to_none=True) after the step"


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_lr_multiplier_over_every_step_of_an_odd_length_run(learner):
    bt = learner.module("nanochat.scripts.base_train")
    settings = (37, 0.2, 0.5, 0.05)
    for it in range(38):
        assert_number(
            bt.get_lr_multiplier(it, *settings),
            ref_train.get_lr_multiplier(it, *settings),
            rel=1e-9,
            what=f"get_lr_multiplier({it}, 37, 0.2, 0.5, 0.05)",
        )


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_six_steps_in_a_row_with_a_falling_schedule(learner, twin_model):
    model, ref = twin_model(21)
    gen = torch.Generator().manual_seed(21)
    batches = [
        (torch.randint(0, 512, (2, 16), generator=gen), torch.randint(0, 512, (2, 16), generator=gen), {})
        for _ in range(13)
    ]
    lrms = [0.9, 0.7, 0.5, 0.3, 0.2, 0.1]
    opts, ref_opts = model.setup_optimizers(), ref.setup_optimizers()
    train_step = learner.module("nanochat.scripts.base_train").train_step
    for i, lrm in enumerate(lrms):
        rest = batches[2 * i + 1 :]
        train_step(
            model, opts, learner.module("builtins").iter(rest), batches[2 * i][:2], 2, 1.0, lrm, 0.9,
            learner.module("contextlib").nullcontext(),
        )  # fmt: skip
        ref_train.train_step(
            ref, ref_opts, iter(rest), batches[2 * i][:2], 2, 1.0, lrm, 0.9, contextlib.nullcontext()
        )
    assert _max_abs_error(model.state_dict(), ref.state_dict()) < 1e-4
