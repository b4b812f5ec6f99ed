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
# the tiny run: depth 1, 4 x 32 tokens per micro-step, 256 per step (2 micro-steps: gradient accumulation)
TINY_FLAGS = ["--device_type=cpu", "--depth=1", "--max_seq_len=32", "--device_batch_size=4",
              "--total_batch_size=256", "--eval_tokens=512", "--core_metric_every=-1", "--sample_every=-1",
              "--num_threads=1"]  # fmt: skip


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


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_evaluate_bpb_draws_exactly_steps_batches(learner, twin_model):
    model, ref = twin_model(2)
    batches = _batches(7, 4)
    got = learner.module("nanochat.loss_eval").evaluate_bpb(model, batches, 2, TOKEN_BYTES)
    assert_number(
        got,
        ref_evaluate_bpb(ref, batches[:2], 2, TOKEN_BYTES),
        rel=1e-5,
        what="evaluate_bpb(model, four_batches, 2, token_bytes)",
        msg="draw exactly `steps` batches with next(): main() passes an endless val loader, so reading all of "
        "`batches` would never end (step 1)",
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


def _first_difference(got: list, expected: list) -> str:
    for i, (g, e) in enumerate(zip(got, expected)):
        if (
            not isinstance(g, (int, float))
            or isinstance(g, bool)
            or abs(g - e) > 1e-9 * (abs(e) if abs(e) > 1 else 1.0)
        ):
            return f"first difference at step {i}: expected {e!r}, got {g!r}"
    return f"expected {len(expected)} values, got {len(got)}"


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_lr_multiplier_over_every_step_of_a_run(learner, metrics):
    bt = learner.module("nanochat.scripts.base_train")
    for settings in [(50, 0.0, 0.2, 0.0), (40, 0.1, 0.3, 0.1)]:
        n = settings[0]
        got = [bt.get_lr_multiplier(it, *settings) for it in range(n + 1)]
        expected = [ref_train.get_lr_multiplier(it, *settings) for it in range(n + 1)]
        if settings[1] > 0:
            metrics.series("lr_multiplier", finite_numbers(got, what="get_lr_multiplier over a run"))
        assert_numbers(
            got,
            expected,
            rel=1e-9,
            what=f"get_lr_multiplier(it, {', '.join(map(str, settings))}) for it = 0..{n}",
            msg=f"{_first_difference(got, expected)}. Likely cause: an off-by-one at a phase boundary (warmup "
            "is (it + 1) / warmup_iters; the warmdown reaches final_lr_frac exactly at it = num_iterations) "
            "(step 2)",
        )


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_muon_momentum_over_every_step_of_a_run(learner, metrics):
    bt = learner.module("nanochat.scripts.base_train")
    got = [bt.get_muon_momentum(it) for it in range(0, 401, 5)]
    expected = [ref_train.get_muon_momentum(it) for it in range(0, 401, 5)]
    metrics.series("muon_momentum", finite_numbers(got, what="get_muon_momentum over 400 steps"))
    assert_numbers(
        got,
        expected,
        rel=1e-9,
        what="get_muon_momentum(it) for it = 0, 5, ..., 400",
        msg=f"{_first_difference(got, expected)} (every 5th step). Likely cause: the ramp goes 0.85 -> 0.95 "
        "linearly over the first 300 steps and then stays at 0.95 (step 2)",
    )


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
@pytest.mark.hint("h7")
def test_every_rank_writes_its_own_optimizer_shard_and_only_rank_zero_the_model(learner, learner_tmp):
    cm = learner.module("nanochat.checkpoint_manager")
    for rank in [1, 0, 2]:
        shard = [{"rank": rank, "exp_avg": torch.full((2,), float(rank))}]
        cm.save_checkpoint(learner_tmp, 8, {"w": torch.ones(1)}, shard, {"step": 8}, rank)
        if rank == 1:
            names = sorted(learner.module("os").listdir(learner_tmp))
            assert names == ["optim_000008_rank1.pt"], (
                f"after saving as rank 1: expected only ['optim_000008_rank1.pt'], got {names}. Likely cause: "
                "model_/meta_ files are written by rank 0 only (the weights are the same on every rank) (step 3)"
            )
    names = sorted(learner.module("os").listdir(learner_tmp))
    expected = ["meta_000008.json", "model_000008.pt", "optim_000008_rank0.pt", "optim_000008_rank1.pt",
                "optim_000008_rank2.pt"]  # fmt: skip
    assert names == expected, f"after ranks 1, 0 and 2 saved: expected {expected}, got {names} (step 3)"
    for rank in [2, 1]:
        _, shard, _ = cm.load_checkpoint(learner_tmp, 8, "cpu", True, rank)
        got = learner.value(shard)[0].get("rank") if isinstance(learner.value(shard), list) else None
        assert got == rank, (
            f"load_checkpoint(..., load_optimizer=True, rank={rank}): expected rank {rank}'s optimizer shard, got "
            f"{got!r}. Likely cause: the optimizer file name must carry the rank, optim_{{step:06d}}_rank{{rank}}.pt "
            "(step 3)"
        )


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_build_model_loads_a_compiled_models_checkpoint(learner, learner_env, twin_model):
    cm = learner.module("nanochat.checkpoint_manager")
    _, ref = twin_model(8)
    state = {"_orig_mod." + k: v for k, v in ref.state_dict().items()}
    ckpt = f"{learner_env}/base_checkpoints/compiled"
    cm.save_checkpoint(ckpt, 2, state, None, {"step": 2, "model_config": {**ref.config.__dict__}}, 0)
    rebuilt, _, _ = cm.build_model(ckpt, 2, learner.module("torch").device("cpu"), "eval")
    idx = torch.randint(0, 512, (1, 16))
    assert_tensor(
        rebuilt(idx),
        ref(idx).detach(),
        rtol=1e-5,
        atol=1e-5,
        what="logits of a model rebuilt from keys saved as '_orig_mod.<name>'",
        msg="torch.compile prefixes every key with '_orig_mod.': strip it before load_state_dict (step 3)",
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_build_model_rebuilds_a_saved_gpt(learner, learner_env, twin_model):
    cm = learner.module("nanochat.checkpoint_manager")
    model, ref = twin_model(3)
    ckpt = f"{learner_env}/base_checkpoints/d2"
    meta = {"step": 5, "model_config": {**ref.config.__dict__}}
    cm.save_checkpoint(ckpt, 5, ref.state_dict(), None, meta, 0)
    rebuilt, tokenizer, got_meta = cm.build_model(ckpt, 5, learner.module("torch").device("cpu"), "eval")
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


def _run_steps(train_step, model, opts, batches, start, grad_accum_steps, lrms, momentums, autocast, it=None):
    """``len(lrms)`` train_step calls from ``batches[start]`` on; returns (losses, norms, next_index)."""
    losses, norms = [], []
    pos = start
    for lrm, momentum in zip(lrms, momentums):
        loss, norm, _ = train_step(
            model, opts, it(batches[pos + 1 :]) if it else iter(batches[pos + 1 :]), batches[pos][:2],
            grad_accum_steps, 1.0, lrm, momentum, autocast,
        )  # fmt: skip
        losses.append(loss)
        norms.append(norm)
        pos += grad_accum_steps
    return losses, norms, pos


def _step_batches(seed: int, n: int):
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randint(0, 512, (2, 16), generator=gen), torch.randint(0, 512, (2, 16), generator=gen), {})
            for _ in range(n)]  # fmt: skip


# a schedule that stays below 1 for several steps in a row, as the warmdown does
SCHEDULE_LRMS = [1.0, 0.5, 0.5, 0.25, 0.8]
SCHEDULE_MOMENTA = [ref_train.get_muon_momentum(it) for it in [0, 100, 200, 300, 400]]


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_several_steps_in_a_row_follow_the_schedule(learner, twin_model):
    model, ref = twin_model(11)
    batches = _step_batches(11, 2 * len(SCHEDULE_LRMS) + 1)
    bt = learner.module("nanochat.scripts.base_train")
    opts = model.setup_optimizers()
    ref_opts = ref.setup_optimizers()
    builtins = learner.module("builtins")
    got_losses, _, _ = _run_steps(
        bt.train_step, model, opts, batches, 0, 2, SCHEDULE_LRMS, SCHEDULE_MOMENTA,
        learner.module("contextlib").nullcontext(), it=builtins.iter,
    )  # fmt: skip
    exp_losses, _, _ = _run_steps(
        ref_train.train_step, ref, ref_opts, batches, 0, 2, SCHEDULE_LRMS, SCHEDULE_MOMENTA,
        contextlib.nullcontext(),
    )  # fmt: skip
    for opt, ref_opt in zip(opts, ref_opts):
        for group, ref_group in zip(learner.value(opt.param_groups), ref_opt.param_groups):
            assert_number(
                group["lr"],
                ref_group["lr"],
                rel=1e-9,
                what=f"lr of an optimizer group after {len(SCHEDULE_LRMS)} steps with multipliers {SCHEDULE_LRMS}",
                msg="expected initial_lr * 0.8 (the last multiplier). Likely cause: the lr is scaled from the "
                "CURRENT lr (group['lr'] *= lrm), so the multipliers compound step after step; set it from "
                "group['initial_lr'] (step 4)",
            )
    got = [finite_number(learner.value(x).item(), what="train_loss") for x in got_losses]
    assert_numbers(
        got,
        [x.item() for x in exp_losses],
        rel=1e-4,
        what=f"train_loss of {len(SCHEDULE_LRMS)} consecutive train_step calls",
        msg="the first step matches but later ones drift: look at what one step leaves behind for the next "
        "(gradients zeroed with set_to_none=True, lr set from initial_lr) (step 4)",
    )
    err = _max_abs_error(model.state_dict(), ref.state_dict())
    assert err < 1e-4, (
        f"parameters after {len(SCHEDULE_LRMS)} steps differ from nanochat's by {err:.3g} (step 4)"
    )


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_save_resume_with_optimizer_state_equals_a_straight_run(learner, learner_tmp, twin_model, metrics):
    """Train 3 steps, save model + optimizer state, rebuild and load, train 2 more == 5 steps straight."""
    n, m = 3, 2
    model, ref = twin_model(12)
    fresh, _ = twin_model(13)  # different weights: everything must come from the checkpoint
    batches = _step_batches(12, 2 * (n + m) + 1)
    bt = learner.module("nanochat.scripts.base_train")
    cm = learner.module("nanochat.checkpoint_manager")
    builtins = learner.module("builtins")
    autocast = learner.module("contextlib").nullcontext()
    opts = model.setup_optimizers()
    _, _, pos = _run_steps(bt.train_step, model, opts, batches, 0, 2, SCHEDULE_LRMS[:n], SCHEDULE_MOMENTA[:n],
                           autocast, it=builtins.iter)  # fmt: skip
    cm.save_checkpoint(learner_tmp, n, model.state_dict(), [o.state_dict() for o in opts], {"step": n}, 0)
    model_data, optim_data, _ = cm.load_checkpoint(learner_tmp, n, "cpu", True, 0)
    fresh.load_state_dict(model_data)
    fresh_opts = fresh.setup_optimizers()
    for opt, data in zip(fresh_opts, optim_data):
        opt.load_state_dict(data)
    got_losses, got_norms, _ = _run_steps(bt.train_step, fresh, fresh_opts, batches, pos, 2, SCHEDULE_LRMS[n:],
                                          SCHEDULE_MOMENTA[n:], autocast, it=builtins.iter)  # fmt: skip
    ref_opts = ref.setup_optimizers()
    exp_losses, exp_norms, _ = _run_steps(ref_train.train_step, ref, ref_opts, batches, 0, 2, SCHEDULE_LRMS,
                                          SCHEDULE_MOMENTA, contextlib.nullcontext())  # fmt: skip
    err = _max_abs_error(fresh.state_dict(), ref.state_dict())
    metrics.record("resume_max_abs_err", err)
    assert_numbers(
        [finite_number(learner.value(x).item(), what="train_loss") for x in got_losses],
        [x.item() for x in exp_losses[n:]],
        rel=1e-4,
        what=f"train_loss of steps {n}..{n + m - 1} after resuming from step {n}",
        msg="a resumed run must continue exactly like the straight run (step 4)",
    )
    assert err < 1e-4, (
        f"after {n} steps, save, load and {m} more: parameters differ from {n + m} straight steps by {err:.3g}. "
        "Likely cause: the optimizer state (AdamW moments, Muon momentum buffers) was not saved or not restored "
        "with load_optimizer=True, or train_step keeps state outside the model and optimizers (step 4)"
    )


def _check_logging(summary: dict, where: str) -> None:
    """The logged smoothed loss, tokens/s and MFU follow nanochat's formulas from the same run's losses and dt."""
    losses = finite_numbers(summary["train_losses"], what=f"{where}: train losses")
    smooth = finite_numbers(summary["smooth_losses"], what=f"{where}: smoothed losses")
    first = summary["first_step"]
    ema, expected = 0.0, []
    for k, loss in enumerate(losses):
        ema = 0.9 * ema + 0.1 * loss
        expected.append(ema / (1 - 0.9 ** (first + k + 1)))
    if first == 0:  # a resumed run starts from the EMA saved in the checkpoint
        assert_numbers(
            smooth,
            expected,
            rel=1e-6,
            what=f"{where}: the logged (debiased) smoothed loss per step",
            msg="expected ema = 0.9 * ema + 0.1 * loss, shown as ema / (1 - 0.9 ** (step + 1)). Likely cause: "
            "no debias (the first steps read far too low), the weights swapped, or the divided loss (step 4)",
        )
    dts = finite_numbers(summary["step_times"], what=f"{where}: step times")
    batch = summary["total_batch_size"]
    assert_numbers(
        summary["tok_per_sec"],
        [int(batch / dt) for dt in dts],
        rel=0,
        what=f"{where}: the logged tokens/s per step",
        msg=f"expected int(total_batch_size / dt) with total_batch_size = {batch} (all micro-steps, all ranks) "
        "(step 4)",
    )
    flops = summary["num_flops_per_token"]
    assert_numbers(
        summary["mfu"],
        [100 * flops * batch / dt / 989e12 for dt in dts],
        rel=1e-9,
        what=f"{where}: the logged MFU per step",
        msg="expected 100 * num_flops_per_token * total_batch_size / dt / (989e12 * world_size), a percentage of "
        "the H100's dense bf16 peak (step 4)",
    )


@pytest.mark.step("step4")
@pytest.mark.hint("h12")
def test_tiny_base_training_run_lowers_val_bpb_like_nanochat(learner, learner_env, ref_run, metrics):
    flags = [*TINY_FLAGS, "--model_tag=tiny", "--num_iterations=20", "--eval_every=10"]
    got = learner.module("nanochat.scripts.base_train").main(flags)
    expected = ref_run(flags)
    losses = finite_numbers(got["train_losses"], what="train losses of the tiny run")
    norms = finite_numbers(got["grad_norms"], what="grad norms of the tiny run")
    metrics.series("train_loss", losses)
    metrics.series("grad_norm", norms)
    metrics.series("smooth_train_loss", finite_numbers(got["smooth_losses"], what="smoothed losses"))
    history = finite_numbers([b for _, b in got["val_bpb_history"]], what="val bpb history")
    metrics.series("val_bpb", history)
    metrics.record("tok_per_sec", finite_number(float(sum(got["tok_per_sec"])) / len(losses), what="tok/s"))
    metrics.record("mfu_percent", finite_number(float(sum(got["mfu"])) / len(losses), what="MFU"))
    assert len(losses) == 20 and len(norms) == 20, (
        f"expected 20 optimizer steps with a loss and a grad norm each, got {len(losses)} and {len(norms)} (step 4)"
    )
    assert_numbers(
        losses,
        expected["train_losses"],
        rel=1e-3,
        what="train loss per step of the tiny run",
        msg="the tiny run must train like nanochat's: same batches, same schedule, same update (step 4)",
    )
    assert history[-1] < history[0] - 0.2, f"val bpb should drop: {history}"
    assert_numbers(
        history,
        [b for _, b in expected["val_bpb_history"]],
        rel=1e-3,
        what="val bpb history",
        msg="the tiny run must evaluate at the same steps and reach the same val bpb as nanochat's",
    )
    _check_logging(got, "tiny run")
    os_mod = learner.module("os")
    names = os_mod.listdir(f"{os_mod.environ.get('NANOCHAT_BASE_DIR')}/base_checkpoints/tiny")
    assert "model_000020.pt" in names and "meta_000020.json" in names, "the last step saves a checkpoint"


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_a_resumed_tiny_run_continues_like_nanochats(learner, learner_env, ref_run):
    first = [*TINY_FLAGS, "--model_tag=resume", "--num_iterations=6", "--eval_every=6", "--save_every=3"]
    second = [*first, "--resume_from_step=3"]
    bt = learner.module("nanochat.scripts.base_train")
    bt.main(first)
    got = bt.main(second)
    expected = ref_run(first, second)
    assert got["first_step"] == 3 and len(got["train_losses"]) == 3, (
        f"resuming from step 3 of 6: expected steps 3, 4, 5, got first step {got['first_step']} and "
        f"{len(got['train_losses'])} steps (step 4)"
    )
    assert_numbers(
        finite_numbers(got["train_losses"], what="train losses after resuming"),
        expected["train_losses"],
        rel=1e-3,
        what="train loss of steps 3..5 after --resume_from_step=3",
        msg="a resumed run must load the model, BOTH optimizers' state, the loader state and the loop state "
        "from the step-3 checkpoint, as nanochat does (steps 3 and 4)",
    )
    assert_numbers(
        finite_numbers(got["smooth_losses"], what="smoothed losses after resuming"),
        expected["smooth_losses"],
        rel=1e-3,
        what="smoothed loss after resuming",
        msg="the EMA continues from the checkpoint's loop_state (step 4)",
    )
    _check_logging(got, "resumed run")
