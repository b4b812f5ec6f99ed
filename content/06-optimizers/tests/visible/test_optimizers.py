"""Visible tests for module 6 (Muon and DistAdamW). Learner code is reached only through the ``learner`` fixture."""

import pytest
import torch

from grading.testkit import assert_numbers, check_tensor, finite_max, finite_numbers
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


def _orthogonality_error(X: torch.Tensor) -> float:
    """``||X X^T - I||_F / sqrt(m)`` on the wide orientation (m = the smaller side): 0 for a semi-orthogonal X."""
    X = X.float()
    if X.size(0) > X.size(1):
        X = X.T
    eye = torch.eye(X.size(0))
    return float((X @ X.T - eye).norm() / X.size(0) ** 0.5)


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_newton_schulz_error_per_iteration_in_bf16_and_fp32(muon, metrics):
    """The orthogonality error after 0..8 iterations: the learner's bf16 run must follow nanochat's bf16 run; the
    fp32 run (the reference in float32) shows what bf16 costs."""
    gen = torch.Generator().manual_seed(11)
    G = torch.randn(32, 64, generator=gen)
    iterations = range(9)
    got, bf16, fp32, gap = [], [], [], []
    for k in iterations:
        X = check_tensor(
            muon.zeropower_via_newtonschulz5(G, k), shape=G.shape, what=f"zeropower_via_newtonschulz5(G, {k})"
        )
        got.append(_orthogonality_error(X))
        ref16 = ref_muon.zeropower_via_newtonschulz5(G, k).float()
        ref32 = ref_muon.zeropower_via_newtonschulz5(G, k, dtype=torch.float32)
        bf16.append(_orthogonality_error(ref16))
        fp32.append(_orthogonality_error(ref32))
        gap.append(float((X.float() - ref32).norm() / ref32.norm()))
    finite_numbers(got, what="orthogonality error per iteration")
    metrics.series("ns_orth_error_bf16", got)
    metrics.series("ns_orth_error_fp32", fp32)
    metrics.series("ns_bf16_vs_fp32_gap", gap)
    for k, (g, e) in enumerate(zip(got, bf16)):
        assert_numbers(
            g,
            e,
            abs=0.03,
            what=f"||X X^T - I|| / sqrt(m) after {k} iteration(s)",
            msg=(
                "Likely cause: "
                + (
                    "the normalisation (divide by the Frobenius norm of the whole matrix, plus 1e-7)"
                    if k == 0
                    else "the quintic (A = X X^T, B = b*A + c*A@A, X = a*X + B@X with a, b, c = 3.4445, -4.7750, "
                    "2.0315) or the number of iterations (exactly `steps`)"
                )
                + ". Step 1."
            ),
        )


# --- real multi-process groups (``run_ranks`` in conftest.py) ------------------------------------------------


def rank_problem(spec: dict) -> tuple[list[torch.Tensor], list[list[list[torch.Tensor]]]]:
    """The parameters and per-step, per-rank gradients every rank builds from ``spec`` (the worker's order)."""
    gen = torch.Generator().manual_seed(spec["seed"])
    params = [torch.randn(s, generator=gen) for s in spec["shapes"]]
    grads = [
        [[torch.randn(s, generator=gen) for s in spec["shapes"]] for _ in range(spec["world_size"])]
        for _ in range(spec["steps"])
    ]
    return params, grads


def averaged(step_grads: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """The gradients averaged over ranks, parameter by parameter: what reduce-scatter(AVG) hands each owner."""
    return [torch.stack(per_rank).mean(0) for per_rank in zip(*step_grads)]


def _rows_that_differ(got: torch.Tensor, expected: torch.Tensor, world_size: int, atol: float) -> str:
    """Which ranks' dim-0 slices of a parameter differ: names the slice so an offset or a missing gather shows."""
    bad = ((got - expected).abs() > atol).reshape(got.size(0), -1).any(dim=1)
    size = got.size(0) // world_size
    ranks = [r for r in range(world_size) if bool(bad[r * size : (r + 1) * size].any())]
    return f"rows of rank(s) {ranks} (rank r owns rows [r*{size}, (r+1)*{size}))" if ranks else "no rows"


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


MUON_RANKS = dict(
    optimizer="DistMuon",
    world_size=2,
    seed=5,
    steps=3,
    shapes=[[16, 16], [32, 8], [16, 16], [16, 16]],
    options=dict(lr=0.05, momentum=0.9),
)


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
@pytest.mark.lab_addition("dist-wait-on-work")
def test_dist_muon_on_two_gloo_processes_matches_muon_on_the_averaged_gradients(run_ranks, metrics):
    """DistMuon (provided) on a real 2-process group, with your ``_muon_update``: three (16, 16) matrices (the
    second block of two is padded) and one tall (32, 8). Each rank gets different gradients; every rank must end
    with the parameters single-process Muon reaches on the averaged gradients, and only the owner of a parameter
    (rank i % 2 within its shape group) keeps its momentum buffer."""
    spec = MUON_RANKS
    params, grads = rank_problem(spec)
    ps = [torch.nn.Parameter(p.clone()) for p in params]
    ref = ref_muon.Muon(ps, **spec["options"])
    expected = []
    for step_grads in grads:
        for p, g in zip(ps, averaged(step_grads)):
            p.grad = g
        ref.step()
        expected.append([p.detach().clone() for p in ps])
    results = run_ranks(spec)
    errors = []
    for rank, result in enumerate(results):
        for step, (got_step, exp_step) in enumerate(zip(result["history"], expected, strict=True)):
            for i, (got, exp) in enumerate(zip(got_step, exp_step, strict=True)):
                check_tensor(
                    got, shape=exp.shape, dtype=exp.dtype, what=f"rank {rank}, parameter {i}, step {step}"
                )
                errors.append(float((got - exp).abs().max()))
                assert float((got - exp).abs().max()) < 2e-4, (
                    f"rank {rank}, parameter {i} {tuple(exp.shape)} after step {step}: expected single-process "
                    f"Muon on the rank-averaged gradients, got a max abs difference of "
                    f"{float((got - exp).abs().max()):.3g}.\nLikely cause: _muon_update (momentum, Nesterov, "
                    "Newton–Schulz, scale), which DistMuon's owner rank calls on the averaged gradient. Step 2."
                )
    metrics.record("dist_muon_max_abs_err", finite_max(errors, what="max abs error per parameter"))
    owners = [sorted(int(k) for k in result["state"]) for result in results]
    assert owners == [[0, 1, 3], [2]], (
        f"momentum buffers per rank: expected [[0, 1, 3], [2]] (parameter indices; the owner of the i-th matrix "
        f"of a shape is rank i % 2), got {owners}.\nLikely cause: _muon_update keeps its buffer in the `state` "
        "it is given, for the parameter it updates. Step 2."
    )


# --- step 3: DistAdamW ----------------------------------------------------------------------------------------

ADAMW = dict(betas=(0.8, 0.95), eps=1e-10)


def _adamw_problem(seed=0):
    gen = torch.Generator().manual_seed(seed)
    shapes = [(64, 8), (32, 16)]
    params = [torch.randn(s, generator=gen) for s in shapes]
    grads = [[torch.randn(s, generator=gen) for s in shapes] for _ in range(3)]
    return params, grads


@pytest.mark.step("step3")
@pytest.mark.lab_addition("dist-wait-on-work")
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
@pytest.mark.lab_addition("dist-wait-on-work")
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
@pytest.mark.lab_addition("dist-wait-on-work")
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


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
@pytest.mark.lab_addition("dist-wait-on-work")
def test_dist_adamw_resumed_from_its_state_dict_continues_like_torch_adamw(
    adamw, remote_params, one_rank_group
):
    """Two steps, then a NEW optimizer on the same parameters loads the first one's ``state_dict()`` and takes two
    more: the result must equal four uninterrupted steps of torch.optim.AdamW (the step count and both moments
    must live in ``self.state[p]``, which is what a checkpoint saves)."""
    params, _ = _adamw_problem(3)
    gen = torch.Generator().manual_seed(30)
    grads = [[torch.randn(p.shape, generator=gen) for p in params] for _ in range(4)]
    handles, set_grads, read = remote_params(params)
    first = adamw.DistAdamW([{"params": handles}], lr=0.05, weight_decay=0.1, **ADAMW)
    for step_grads in grads[:2]:
        set_grads(step_grads)
        first.step()
    saved = first.state_dict()
    resumed = adamw.DistAdamW([{"params": handles}], lr=0.05, weight_decay=0.1, **ADAMW)
    resumed.load_state_dict(saved)
    for step_grads in grads[2:]:
        set_grads(step_grads)
        resumed.step()
    ref_ps = [torch.nn.Parameter(p.clone()) for p in params]
    ref_opt = torch.optim.AdamW([{"params": ref_ps}], lr=0.05, weight_decay=0.1, **ADAMW)
    for step_grads in grads:
        for p, g in zip(ref_ps, step_grads):
            p.grad = g.clone()
        ref_opt.step()
    for i, (got, expected) in enumerate(zip(read(), ref_ps)):
        torch.testing.assert_close(
            got,
            expected.detach(),
            msg=lambda m, i=i: (
                f"parameter {i} after 2 steps + resume + 2 steps: expected 4 steps of torch.optim.AdamW.\n{m}\n"
                "Likely cause: the step count (bias correction) or a moment is kept outside self.state[p] (on the "
                "optimizer or in a local), so a resumed optimizer restarts it. Step 3."
            ),
        )


ADAMW_RANKS = dict(
    optimizer="DistAdamW",
    world_size=2,
    seed=9,
    steps=3,
    shapes=[[64, 8], [32, 16]],
    groups=[
        dict(params=[0], options=dict(lr=0.02)),
        dict(params=[1], options=dict(lr=0.005, weight_decay=0.0)),
    ],
    options=dict(betas=[0.8, 0.95], eps=1e-10, weight_decay=0.1),
)


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
@pytest.mark.lab_addition("dist-wait-on-work")
def test_dist_adamw_on_two_gloo_processes_matches_adamw_on_the_averaged_gradients(run_ranks, metrics):
    """Your DistAdamW on a real 2-process gloo group: each rank has its own gradients; after every step both ranks
    must hold what torch.optim.AdamW computes on the averaged gradients, and each rank's exp_avg must be the
    rows of its own slice (rank r: rows [r*N/2, (r+1)*N/2))."""
    spec = ADAMW_RANKS
    params, grads = rank_problem(spec)
    ps = [torch.nn.Parameter(p.clone()) for p in params]
    groups = [dict(g["options"], params=[ps[i] for i in g["params"]]) for g in spec["groups"]]
    opts = dict(spec["options"], betas=tuple(spec["options"]["betas"]))
    ref = torch.optim.AdamW(groups, **opts)
    expected = []
    for step_grads in grads:
        for p, g in zip(ps, averaged(step_grads)):
            p.grad = g
        ref.step()
        expected.append([p.detach().clone() for p in ps])
    results = run_ranks(spec)
    W = spec["world_size"]
    errors = []
    for step in range(spec["steps"]):
        for rank, result in enumerate(results):
            for i, exp in enumerate(expected[step]):
                got = check_tensor(
                    result["history"][step][i],
                    shape=exp.shape,
                    dtype=exp.dtype,
                    what=f"rank {rank}, parameter {i}",
                )
                err = float((got - exp).abs().max())
                errors.append(err)
                if err > 1e-5:
                    pytest.fail(
                        f"rank {rank}, parameter {i} {tuple(exp.shape)} after step {step}: expected torch.optim.AdamW "
                        f"on the rank-averaged gradients, got a max abs difference of {err:.3g} in "
                        f"{_rows_that_differ(got, exp, W, 1e-5)}.\nLikely cause: the rank's slice "
                        "p[rank * rank_size:(rank + 1) * rank_size] (the offset), the reduce-scatter (AVG, the full "
                        "gradient in, your slice out) or the all_gather_into_tensor of the updated slice into the "
                        "full parameter. Step 3.",
                        pytrace=False,
                    )
    metrics.record("dist_adamw_max_abs_err", finite_max(errors, what="max abs error per parameter"))
    for rank, result in enumerate(results):
        for i, p in enumerate(ps):
            size = p.size(0) // W
            want = ref.state[p]["exp_avg"][rank * size : (rank + 1) * size]
            state = result["state"].get(str(i), {})
            got = state.get("exp_avg")
            check_tensor(
                got,
                shape=want.shape,
                what=f"rank {rank}: exp_avg of parameter {i}",
                msg="ZeRO-2: each rank keeps the moments of its own slice only, shape (N / world_size, ...). Step 3.",
            )
            torch.testing.assert_close(
                got,
                want,
                msg=lambda m, rank=rank, i=i: (
                    f"rank {rank}: exp_avg of parameter {i} is not the moment of its rows "
                    f"[{rank}*N/{W}, {rank + 1}*N/{W}).\n{m}\nLikely cause: the slice offset or the gradient slice "
                    "used for the moments. Step 3."
                ),
            )


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
@pytest.mark.lab_addition("adamw-eps-placement")
def test_dist_adamw_adds_eps_after_the_bias_correction_like_torch(adamw, remote_params, one_rank_group):
    """A large ``eps`` (1e-2) and small gradients make its placement visible: ``denom = sqrt(v) / sqrt(1 - beta2^t)
    + eps``, as torch.optim.AdamW computes it."""
    params, _ = _adamw_problem(4)
    gen = torch.Generator().manual_seed(40)
    grads = [[0.01 * torch.randn(p.shape, generator=gen) for p in params] for _ in range(3)]
    handles, set_grads, read = remote_params(params)
    options = dict(lr=0.01, weight_decay=0.0, betas=(0.8, 0.95), eps=1e-2)
    opt = adamw.DistAdamW([{"params": handles}], **options)
    ref_ps = [torch.nn.Parameter(p.clone()) for p in params]
    ref_opt = torch.optim.AdamW([{"params": ref_ps}], **options)
    for step, step_grads in enumerate(grads):
        set_grads(step_grads)
        opt.step()
        for p, g in zip(ref_ps, step_grads):
            p.grad = g.clone()
        ref_opt.step()
        for i, (got, expected) in enumerate(zip(read(), ref_ps)):
            torch.testing.assert_close(
                got,
                expected.detach(),
                msg=lambda m, i=i, step=step: (
                    f"parameter {i} after step {step} with eps=1e-2: expected torch.optim.AdamW.\n{m}\n"
                    "Likely cause: where eps goes. denom = sqrt(exp_avg_sq) / sqrt(1 - beta2**t) + eps (after the "
                    "bias correction; not inside the square root, not before dividing). Step 3."
                ),
            )
