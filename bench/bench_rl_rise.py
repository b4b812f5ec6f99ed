"""How reliably module 10's graded RL run raises the reward, over many seeds; prints ``name: value`` lines.

    .venv/bin/python bench/bench_rl_rise.py                   # seeds 0..19, the graded run's settings
    .venv/bin/python bench/bench_rl_rise.py --seeds 5 --first 100

The graded run (``content/10-rl/tests/visible/test_rl.py``) trains the reference ``scripts.chat_rl`` for
``RL_RUN_FLAGS`` from the shipped chat model with its answer marker muted (``grading/testkit/shipped.py``)
and asserts the statistic *rise* = mean reward of the last quarter of the steps minus the reward of the first step
(sampled by the weak start before any update) > 0, at one fixed seed. This script runs the same thing for every seed in a fresh base dir and reports, per seed, the
rewards and the rise, then how many seeds rose (the module wants at least 18 of 20) and the wall time per run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root

from grading.testkit.environ import env_vars
from grading.testkit.shipped import (
    PHASE_DIRS,
    RL_MUTE,
    RL_MUTED_TOKEN,
    RL_RUN_FLAGS,
    SHIPPED_STEP,
    SHIPPED_TAG,
    muted,
    shipped_dir,
    shipped_state,
)


def write_base(base: str, state: dict, meta: dict) -> None:
    """The weak start as the SFT checkpoint under ``base``, with the shipped tokenizer."""
    import json
    import shutil

    shutil.copytree(os.path.join(shipped_dir(), "tokenizer"), os.path.join(base, "tokenizer"))
    folder = os.path.join(base, PHASE_DIRS["sft"], SHIPPED_TAG)
    os.makedirs(folder)
    torch.save(state, os.path.join(folder, f"model_{SHIPPED_STEP:06d}.pt"))
    with open(os.path.join(folder, f"meta_{SHIPPED_STEP:06d}.json"), "w", encoding="utf-8") as fh:
        json.dump(meta, fh)


def rise(rewards: list[float]) -> float:
    """Mean reward of the last quarter of the steps minus the first step's (the weak start, before any update)."""
    q = len(rewards) // 4
    return sum(rewards[-q:]) / q - rewards[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20, help="how many seeds")
    p.add_argument("--first", type=int, default=0, help="the first seed")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from nanochat_ref.scripts import chat_rl

    state, meta = shipped_state()
    flat = muted(state, RL_MUTED_TOKEN, RL_MUTE)
    rises, times = [], []
    for seed in range(args.first, args.first + args.seeds):
        with (
            tempfile.TemporaryDirectory(prefix="rl-rise-") as base,
            env_vars(os.environ, NANOCHAT_BASE_DIR=base),
        ):
            write_base(base, flat, meta)
            flags = [f for f in RL_RUN_FLAGS if not f.startswith("--seed=")] + [f"--seed={seed}"]
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                out = chat_rl.main(flags)
            times.append(time.perf_counter() - t0)
        rewards = out["rewards"]
        rises.append(rise(rewards))
        print(
            f"seed_{seed}: rise {rises[-1]:+.3f} rewards " + " ".join(f"{r:.2f}" for r in rewards), flush=True
        )
    print(f"seeds_risen: {sum(r > 0 for r in rises)}/{len(rises)}")
    print(f"rise_mean: {statistics.mean(rises):.4f}")
    print(f"rise_min: {min(rises):.4f}")
    print(f"run_seconds_median: {statistics.median(times):.1f}")


if __name__ == "__main__":
    main()
