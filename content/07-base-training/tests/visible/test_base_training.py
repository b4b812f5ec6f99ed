"""Visible tests for module 7 (base training). Learner code is reached only through the ``learner`` fixture."""

import contextlib
import math

import pytest
import torch

from grading.testkit import (
    assert_number,
    assert_numbers,
    assert_tensor,
    check_tensor,
    finite_max,
    finite_number,
    finite_numbers,
)
from nanochat_ref.loss_eval import evaluate_bpb as ref_evaluate_bpb
from nanochat_ref.scripts import base_train as ref_train

TOKEN_BYTES = torch.tensor([0, 0] + [1, 2, 3, 4] * 127 + [5, 6])  # ids 0 and 1 are "special": 0 bytes


def _batches(seed: int, n: int = 3):
    gen = torch.Generator().manual_seed(seed)
    return [
        (torch.randint(0, 512, (2, 16), generator=gen), torch.randint(0, 512, (2, 16), generator=gen))
        for _ in range(n)
    ]


def _max_abs_error(got: dict, expected: dict) -> float:
    """The largest |got - expected| over every parameter, once each is a finite tensor of the right shape."""
    missing = sorted(set(expected) - set(got))
    assert not missing, f"the model's state dict has no {missing}"
    errors = [
        float((check_tensor(got[k], shape=v.shape, what=f"parameter {k}") - v).abs().max())
        for k, v in expected.items()
    ]
    return finite_max(errors, what="max abs error per parameter")


# --- step 1: bits per byte ------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_evaluate_bpb_matches_nanochat(learner, twin_model, metrics):
    model, ref = twin_model()
    batches = _batches(0)
    got = learner.module("nanochat.loss_eval").evaluate_bpb(model, batches, 3, TOKEN_BYTES)
    expected = ref_evaluate_bpb(ref, batches, 3, TOKEN_BYTES)
    metrics.record("bpb", finite_number(got, what="evaluate_bpb(...)"))
    assert_number(
        got,
        expected,
        rel=1e-5,
        what="evaluate_bpb(...)",
        msg="bpb = nats / (ln 2 * bytes) over counted targets",
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_special_and_ignored_targets_count_for_nothing(learner, twin_model):
    model, ref = twin_model(1)
    x, y = _batches(1, 1)[0]
    y[0, :5] = -1  # ignored by the loss mask
    y[1, :3] = 1  # a special token: 0 bytes
    got = learner.module("nanochat.loss_eval").evaluate_bpb(model, [(x, y)], 1, TOKEN_BYTES)
    losses = ref(x, y, loss_reduction="none").detach()
    keep = (y.view(-1) >= 0) & (TOKEN_BYTES[y.view(-1).clamp(min=0)] > 0)
    nats = losses[keep].sum().item()
    n_bytes = TOKEN_BYTES[y.view(-1)[keep]].sum().item()
    assert_number(
        got,
        nats / (math.log(2) * n_bytes),
        rel=1e-5,
        what="evaluate_bpb(...) with ignored (-1) and special (0-byte) targets",
        msg="targets of -1 and tokens of 0 bytes count for nothing: neither their nats nor their bytes",
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_evaluate_bpb_is_infinite_when_no_byte_was_counted(learner, twin_model):
    model, _ = twin_model()
    x, y = _batches(2, 1)[0]
    y[:] = -1
    got = learner.module("nanochat.loss_eval").evaluate_bpb(model, [(x, y)], 1, TOKEN_BYTES)
    assert_number(
        got,
        math.inf,
        what="evaluate_bpb(...) with no counted byte",
        msg="no byte counted: bpb is float('inf')",
    )


# --- step 2: schedules ----------------------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_lr_multiplier_without_warmup_holds_then_warms_down_to_zero(learner):
    bt = learner.module("nanochat.scripts.base_train")
    for it in [0, 50, 79, 80, 81, 90, 99, 100]:
        got = bt.get_lr_multiplier(it, 100, 0.0, 0.2, 0.0)
        expected = ref_train.get_lr_multiplier(it, 100, 0.0, 0.2, 0.0)
        assert_number(got, expected, what=f"get_lr_multiplier({it}, 100, 0.0, 0.2, 0.0)", msg=f"step {it}")


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_lr_multiplier_with_warmup_and_a_final_fraction(learner):
    bt = learner.module("nanochat.scripts.base_train")
    for it in [0, 4, 9, 10, 60, 85, 100]:
        got = bt.get_lr_multiplier(it, 100, 0.1, 0.3, 0.1)
        expected = ref_train.get_lr_multiplier(it, 100, 0.1, 0.3, 0.1)
        assert_number(got, expected, what=f"get_lr_multiplier({it}, 100, 0.1, 0.3, 0.1)", msg=f"step {it}")


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_muon_momentum_ramps_from_085_to_095_over_300_steps(learner):
    bt = learner.module("nanochat.scripts.base_train")
    for it in [0, 1, 150, 299, 300, 1000]:
        got = bt.get_muon_momentum(it)
        assert_number(got, ref_train.get_muon_momentum(it), what=f"get_muon_momentum({it})", msg=f"step {it}")


# --- step 3: checkpoints --------------------------------------------------------------------------------------


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_save_checkpoint_writes_nanochats_file_names(learner, learner_tmp):
    cm = learner.module("nanochat.checkpoint_manager")
    cm.save_checkpoint(learner_tmp, 42, {"w": torch.ones(2)}, [{"s": torch.zeros(1)}], {"step": 42}, 0)
    names = sorted(learner.module("os").listdir(learner_tmp))
    assert names == ["meta_000042.json", "model_000042.pt", "optim_000042_rank0.pt"]


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_load_checkpoint_round_trips_what_was_saved(learner, learner_tmp):
    cm = learner.module("nanochat.checkpoint_manager")
    model_data = {"a": torch.randn(3, 4), "b": torch.arange(5)}
    meta = {"step": 7, "val_bpb": 1.5, "model_config": {"n_layer": 2}}
    cm.save_checkpoint(learner_tmp, 7, model_data, [{"exp_avg": torch.ones(3)}], meta, 0)
    got_model, got_optim, got_meta = cm.load_checkpoint(learner_tmp, 7, "cpu", True, 0)
    assert got_meta == meta
    torch.testing.assert_close(got_model["a"], model_data["a"])
    torch.testing.assert_close(got_optim[0]["exp_avg"], torch.ones(3))
    _, no_optim, _ = cm.load_checkpoint(learner_tmp, 7, "cpu")
    assert no_optim is None, "load_optimizer defaults to False"


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_find_last_step_and_find_largest_model(learner, learner_tmp):
    cm = learner.module("nanochat.checkpoint_manager")
    os_mod = learner.module("os")
    for tag in ["d4", "d12", "d2"]:
        os_mod.makedirs(f"{learner_tmp}/{tag}")
    for step in [100, 2500, 30]:
        cm.save_checkpoint(f"{learner_tmp}/d12", step, {"w": torch.zeros(1)}, None, {"step": step}, 0)
    assert cm.find_largest_model(learner_tmp) == "d12"
    assert cm.find_last_step(f"{learner_tmp}/d12") == 2500


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_build_model_rebuilds_a_saved_gpt(learner, learner_env, twin_model):
    cm = learner.module("nanochat.checkpoint_manager")
    model, ref = twin_model(3)
    ckpt = f"{learner_env}/base_checkpoints/d2"
    meta = {"step": 5, "model_config": {**ref.config.__dict__}}
    cm.save_checkpoint(ckpt, 5, ref.state_dict(), None, meta, 0)
    rebuilt, tokenizer, got_meta = cm.build_model(ckpt, 5, "cpu", "eval")
    idx = torch.randint(0, 512, (1, 16))
    torch.testing.assert_close(rebuilt(idx), ref(idx).detach(), atol=1e-5, rtol=1e-5)
    assert got_meta["step"] == 5 and tokenizer.get_vocab_size() == 512


# --- step 4: the training loop --------------------------------------------------------------------------------


def _train_step_both(learner, twin_model, grad_accum_steps, grad_clip, lrm, momentum, seed=0):
    model, ref = twin_model(seed)
    builtins = learner.module("builtins")
    gen = torch.Generator().manual_seed(10 + seed)
    batches = [(torch.randint(0, 512, (2, 16), generator=gen), torch.randint(0, 512, (2, 16), generator=gen), {})
               for _ in range(grad_accum_steps + 1)]  # fmt: skip
    opts = model.setup_optimizers()
    got_loss, got_norm, got_next = learner.module("nanochat.scripts.base_train").train_step(
        model, opts, builtins.iter(batches[1:]), batches[0][:2], grad_accum_steps, grad_clip, lrm, momentum,
        learner.module("contextlib").nullcontext(),
    )  # fmt: skip
    ref_opts = ref.setup_optimizers()
    exp_loss, exp_norm, _ = ref_train.train_step(
        ref, ref_opts, iter(batches[1:]), batches[0][:2], grad_accum_steps, grad_clip, lrm, momentum,
        contextlib.nullcontext(),
    )  # fmt: skip
    return (model, got_loss, got_norm, got_next, opts), (ref, exp_loss, exp_norm, batches, ref_opts)


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_one_training_step_with_gradient_accumulation_matches_nanochat(learner, twin_model, metrics):
    (model, loss, norm, nxt, _), (ref, exp_loss, exp_norm, batches, _) = _train_step_both(
        learner, twin_model, 3, 1.0, 1.0, 0.85
    )
    assert_tensor(
        loss,
        exp_loss,
        rtol=1e-5,
        atol=0,
        what="train_loss (the first value train_step returns)",
        msg="train_loss is the last micro-step's loss, detached: a 0-d tensor",
    )
    assert_number(
        norm,
        exp_norm,
        rel=1e-4,
        what="grad_norm (the second value train_step returns)",
        msg="grad norm (before clipping) differs",
    )
    assert torch.equal(nxt[0], batches[-1][0]), "return the batch fetched after the last micro-step"
    err = _max_abs_error(model.state_dict(), ref.state_dict())
    metrics.record("param_max_abs_err", err)
    assert err < 1e-4, "parameters after the step differ from nanochat's"


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_training_step_sets_lrs_from_initial_lr_and_the_muon_momentum(learner, twin_model):
    (_, _, _, _, opts), (_, _, _, _, ref_opts) = _train_step_both(
        learner, twin_model, 1, 1.0, 0.25, 0.9, seed=1
    )
    for opt, ref_opt in zip(opts, ref_opts):
        for group, ref_group in zip(learner.value(opt.param_groups), ref_opt.param_groups):
            assert_number(
                group["lr"],
                ref_group["lr"],
                what="lr of an optimizer group",
                msg="lr = initial_lr * multiplier",
            )
    for group in learner.value(opts[1].param_groups):
        assert_number(
            group["momentum"], 0.9, rel=0, abs=0, what="momentum of a Muon group", msg="set the Muon momentum"
        )


@pytest.mark.step("step4")
@pytest.mark.hint("h12")
def test_tiny_base_training_run_lowers_val_bpb_like_nanochat(learner, learner_env, ref_env, metrics):
    flags = ["--device_type=cpu", "--depth=2", "--max_seq_len=64", "--device_batch_size=4",
             "--total_batch_size=512", "--num_iterations=12", "--eval_every=6", "--eval_tokens=1024",
             "--core_metric_every=-1", "--sample_every=-1", "--num_threads=1"]  # fmt: skip
    got = learner.module("nanochat.scripts.base_train").main(flags)
    expected = ref_train.main(flags)
    history = finite_numbers([b for _, b in got["val_bpb_history"]], what="val bpb history")
    metrics.series("val_bpb", history)
    assert history[-1] < history[0] - 0.2, f"val bpb should drop: {history}"
    assert_numbers(
        history,
        [b for _, b in expected["val_bpb_history"]],
        rel=1e-3,
        what="val bpb history",
        msg="the tiny run must evaluate at the same steps and reach the same val bpb as nanochat's",
    )
    os_mod = learner.module("os")
    names = os_mod.listdir(f"{os_mod.environ.get('NANOCHAT_BASE_DIR')}/base_checkpoints/d2")
    assert "model_000012.pt" in names and "meta_000012.json" in names, "the last step saves a checkpoint"
