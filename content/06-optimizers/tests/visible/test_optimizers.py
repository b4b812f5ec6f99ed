"""Visible tests for module 6 (Muon and DistAdamW). Learner code is reached only through the ``learner`` fixture."""

import pytest
import torch

from grading.testkit import check_tensor, finite_max
from nanochat_ref import muon as ref_muon


def _orthogonalized(muon, G, steps=5):
    """The learner's Newton–Schulz result for ``G``, once it is a finite tensor of ``G``'s shape (its dtype has a
    test of its own)."""
    X = muon.zeropower_via_newtonschulz5(G, steps)
    return check_tensor(X, shape=G.shape, what=f"zeropower_via_newtonschulz5(G, {steps})")


# --- step 1: Newton–Schulz ------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_newton_schulz_returns_bf16_of_the_input_shape(muon):
    X = muon.zeropower_via_newtonschulz5(torch.randn(24, 40), 5)
    check_tensor(X, what="zeropower_via_newtonschulz5(G, 5)", finite=False)
    assert X.dtype == torch.bfloat16, "work (and return) in bfloat16"
    assert tuple(X.shape) == (24, 40)


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
@pytest.mark.parametrize("shape", [(32, 96), (96, 32)], ids=["wide", "tall"])
def test_newton_schulz_singular_values_land_between_half_and_one_and_a_half(muon, metrics, shape):
    G = torch.randn(*shape)
    s = torch.linalg.svdvals(_orthogonalized(muon, G).float())
    metrics.record(f"sv_min_{shape[0]}x{shape[1]}", float(s.min()))
    metrics.record(f"sv_max_{shape[0]}x{shape[1]}", float(s.max()))
    assert s.min() > 0.5 and s.max() < 1.5, f"singular values in [{float(s.min()):.3f}, {float(s.max()):.3f}]"


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_newton_schulz_matches_nanochat(muon):
    G = torch.randn(48, 80)
    got = _orthogonalized(muon, G).float()
    expected = ref_muon.zeropower_via_newtonschulz5(G, 5).float()
    assert (got - expected).norm() / expected.norm() < 0.02, "Newton–Schulz result differs from nanochat's"


# --- step 2: the Muon step ------------------------------------------------------------------------------------


def _muon_problem(seed=0):
    gen = torch.Generator().manual_seed(seed)
    shapes = [(16, 16), (64, 16), (16, 48)]
    params = [torch.randn(s, generator=gen) for s in shapes]
    grads = [[torch.randn(s, generator=gen) for s in shapes] for _ in range(3)]
    return params, grads


def _reference_muon(params, grads, **kwargs):
    ps = [torch.nn.Parameter(p.clone()) for p in params]
    opt = ref_muon.Muon(ps, **kwargs)
    for step_grads in grads:
        for p, g in zip(ps, step_grads):
            p.grad = g.clone()
        opt.step()
    return [p.detach() for p in ps]


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_the_first_step_fills_a_momentum_buffer_with_one_minus_mu_times_the_gradient(muon, remote_params):
    params, grads = _muon_problem()
    handles, set_grads, _ = remote_params(params)
    opt = muon.Muon(handles, lr=0.02, momentum=0.9)
    set_grads(grads[0])
    opt.step()
    state = opt.state_dict()["state"]
    assert len(state) == 3, "one state entry per parameter"
    buffers = sorted((s["momentum_buffer"] for s in state.values()), key=lambda b: tuple(b.shape))
    expected = sorted((0.1 * g for g in grads[0]), key=lambda b: tuple(b.shape))
    for b, e in zip(buffers, expected):
        torch.testing.assert_close(b, e, msg="momentum_buffer starts at 0, then buf.lerp_(g, 1 - momentum)")


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_one_muon_step_matches_nanochat(muon, remote_params):
    params, grads = _muon_problem(1)
    handles, set_grads, read = remote_params(params)
    opt = muon.Muon(handles, lr=0.02, momentum=0.95)
    set_grads(grads[0])
    opt.step()
    for got, expected in zip(read(), _reference_muon(params, grads[:1], lr=0.02, momentum=0.95)):
        torch.testing.assert_close(
            got, expected, atol=1e-4, rtol=0, msg="parameters after one Muon step differ"
        )


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_three_muon_steps_on_tall_and_wide_matrices_match_nanochat(muon, remote_params, metrics):
    params, grads = _muon_problem(2)
    handles, set_grads, read = remote_params(params)
    opt = muon.Muon(handles, lr=0.05, momentum=0.95)
    for step_grads in grads:
        set_grads(step_grads)
        opt.step()
    expected = _reference_muon(params, grads, lr=0.05, momentum=0.95)
    got = read()
    names = ["square", "tall (x2)", "wide"]
    errors = [
        float((check_tensor(a, shape=b.shape, dtype=b.dtype, what=f"the {name} matrix") - b).abs().max())
        for name, a, b in zip(names, got, expected)
    ]
    metrics.record("muon_max_abs_err", finite_max(errors, what="max abs error per matrix"))
    for name, a, b in zip(names, got, expected):
        torch.testing.assert_close(a, b, atol=2e-4, rtol=0, msg=f"{name} matrix differs after 3 steps")


# --- step 3: DistAdamW ----------------------------------------------------------------------------------------

ADAMW = dict(betas=(0.8, 0.95), eps=1e-10)


def _adamw_problem(seed=0):
    gen = torch.Generator().manual_seed(seed)
    shapes = [(64, 8), (32, 16)]
    params = [torch.randn(s, generator=gen) for s in shapes]
    grads = [[torch.randn(s, generator=gen) for s in shapes] for _ in range(3)]
    return params, grads


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_dist_adamw_on_one_rank_matches_torch_adamw_for_three_steps(adamw, remote_params, one_rank_group):
    params, grads = _adamw_problem()
    handles, set_grads, read = remote_params(params)
    opt = adamw.DistAdamW([{"params": handles}], lr=0.01, weight_decay=0.1, **ADAMW)
    ref_ps = [torch.nn.Parameter(p.clone()) for p in params]
    ref_opt = torch.optim.AdamW([{"params": ref_ps}], lr=0.01, weight_decay=0.1, **ADAMW)
    for step, step_grads in enumerate(grads):
        set_grads(step_grads)
        opt.step()
        for p, g in zip(ref_ps, step_grads):
            p.grad = g.clone()
        ref_opt.step()
        for got, expected in zip(read(), ref_ps):
            torch.testing.assert_close(
                got, expected.detach(), msg=f"differs from torch.optim.AdamW at step {step}"
            )


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_dist_adamw_keeps_first_and_second_moments_per_parameter(adamw, remote_params, one_rank_group):
    params, grads = _adamw_problem(1)
    handles, set_grads, _ = remote_params(params)
    opt = adamw.DistAdamW([{"params": handles}], lr=0.01, weight_decay=0.0, **ADAMW)
    set_grads(grads[0])
    opt.step()
    state = opt.state_dict()["state"]
    assert len(state) == 2
    for entry, g in zip(state.values(), grads[0]):
        assert {"exp_avg", "exp_avg_sq"} <= set(entry), "keep exp_avg and exp_avg_sq in the state"
        torch.testing.assert_close(entry["exp_avg"], 0.2 * g, msg="exp_avg after one step is (1 - beta1) * g")
        torch.testing.assert_close(entry["exp_avg_sq"], 0.05 * g * g, msg="exp_avg_sq is (1 - beta2) * g^2")


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_dist_adamw_weight_decay_is_decoupled_from_the_gradient(adamw, remote_params, one_rank_group):
    params, _ = _adamw_problem(2)
    handles, set_grads, read = remote_params(params)
    opt = adamw.DistAdamW([{"params": handles}], lr=0.5, weight_decay=0.1, **ADAMW)
    set_grads([torch.zeros_like(p) for p in params])  # no gradient: only the decay moves the weights
    opt.step()
    for got, p in zip(read(), params):
        torch.testing.assert_close(
            got, p * (1 - 0.5 * 0.1), msg="decoupled decay: p *= 1 - lr * weight_decay"
        )
