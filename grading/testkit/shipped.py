"""The shipped tiny chat model (``nanochat_ref/checkpoints``), copied into the learner's process, and a weak copy.

Design choices:

- The judge reads the shipped files; the learner's process writes them under a fresh temp folder laid out as a
  nanochat base dir (``tokenizer/``, ``<phase>_checkpoints/d3/``), so learner code loads them with its own
  ``checkpoint_manager.load_model`` and ``get_tokenizer``. The tokenizer crosses as the plain-text
  ``tokenizer.tiktoken`` (no pickle), the weights as ``torch.save`` bytes, the metadata as JSON text.
- Weak copies are made deterministically at test time. ``muted(state, text, factor)`` scales the unembedding
  row of one token, so the model still knows how to solve a problem but seldom writes the answer line the reward
  reads; on-policy RL restores it in a few steps (module 10). ``noised(state, scale, seed)`` adds seeded Gaussian
  noise of ``scale`` times each tensor's std, which damages every skill (module 13's baseline).
- The learner's ``NANOCHAT_BASE_DIR`` points at the folder while the ``chat_base`` context is open and is put back
  afterwards (under the in-process harness the "learner" is the judge's own process).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .environ import env_vars

#: The shipped model's tag and step (``nanochat_ref/checkpoints/README.md``).
SHIPPED_TAG = "d3"
SHIPPED_STEP = 11
PHASE_DIRS = {"base": "base_checkpoints", "mid": "mid_checkpoints", "sft": "chatsft_checkpoints",
              "rl": "chatrl_checkpoints"}  # fmt: skip
#: Module 10's graded RL run. The start: the shipped model with the unembedding row of ``RL_MUTED_TOKEN`` (the
#: ``#`` of the ``#### <answer>`` line) times ``RL_MUTE``, so it seldom writes a gradable answer. Then these flags
#: for ``scripts.chat_rl.main``: 12 steps of 4 questions x 8 samples, nanochat's LRs at ``init_lr_frac`` 0.05 except
#: the unembedding's, 20 times nanochat's, so the step can move the muted row in a few steps.
#: ``bench/bench_rl_rise.py`` measures on 20 seeds how often the reward rises; the test uses the seed given here.
RL_MUTED_TOKEN = "#"
RL_MUTE = 0.25
RL_RUN_FLAGS = ["--device_type=cpu", "--num_steps=12", "--examples_per_step=4", "--num_samples=8",
                "--device_batch_size=8", "--max_new_tokens=40", "--eval_every=0", "--save_every=1000",
                "--unembedding_lr=0.08", "--seed=0"]  # fmt: skip


def shipped_dir() -> str:
    import nanochat_ref

    return os.path.join(os.path.dirname(nanochat_ref.__file__), "checkpoints")


def shipped_state() -> tuple[dict[str, Any], dict[str, Any]]:
    """``(state_dict, meta)`` of the shipped RL-stage model, as stored (bf16 weights)."""
    import torch

    folder = os.path.join(shipped_dir(), PHASE_DIRS["rl"], SHIPPED_TAG)
    state = torch.load(os.path.join(folder, f"model_{SHIPPED_STEP:06d}.pt"), map_location="cpu")
    with open(os.path.join(folder, f"meta_{SHIPPED_STEP:06d}.json"), encoding="utf-8") as fh:
        meta = json.load(fh)
    return state, meta


def noised(state: dict[str, Any], scale: float, seed: int = 0) -> dict[str, Any]:
    """A copy of ``state`` with Gaussian noise of ``scale`` times each tensor's own std added (seeded)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, value in state.items():
        weights = value.float()
        noise = torch.randn(weights.shape, generator=gen) * weights.std() * scale
        out[key] = (weights + noise).to(value.dtype)
    return out


def muted(state: dict[str, Any], text: str, factor: float) -> dict[str, Any]:
    """A copy of ``state`` whose unembedding row of the single token ``text`` is multiplied by ``factor``."""
    from nanochat_ref.tokenizer import RustBPETokenizer

    ids = RustBPETokenizer.from_directory(os.path.join(shipped_dir(), "tokenizer")).encode(text)
    assert len(ids) == 1, f"{text!r} is not one token of the shipped tokenizer: {ids}"
    out = dict(state)
    key = next(k for k in state if k.endswith("lm_head.weight"))
    weight = state[key].clone()
    weight[ids[0]] *= factor
    out[key] = weight
    return out


def _to_bytes(state: dict[str, Any]) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


@contextmanager
def chat_base(learner: Any, models: dict[str, dict[str, Any]], meta: dict[str, Any]) -> Iterator[str]:
    """A learner-side base dir with the shipped tokenizer and ``models[phase]`` as that phase's checkpoint.

    Yields the folder; the learner's ``NANOCHAT_BASE_DIR`` points at it inside the block.
    """
    path = learner.module("pathlib").Path
    os_mod = learner.module("os")
    base = learner.module("tempfile").mkdtemp(prefix="nanochat-chat-")
    tok_dir = os_mod.path.join(base, "tokenizer")
    os_mod.makedirs(tok_dir)
    with open(os.path.join(shipped_dir(), "tokenizer", "tokenizer.tiktoken"), encoding="utf-8") as fh:
        path(os_mod.path.join(tok_dir, "tokenizer.tiktoken")).write_text(fh.read(), encoding="utf-8")
    for phase, state in models.items():
        folder = os_mod.path.join(base, PHASE_DIRS[phase], SHIPPED_TAG)
        os_mod.makedirs(folder)
        path(os_mod.path.join(folder, f"model_{SHIPPED_STEP:06d}.pt")).write_bytes(_to_bytes(state))
        path(os_mod.path.join(folder, f"meta_{SHIPPED_STEP:06d}.json")).write_text(
            json.dumps(meta), encoding="utf-8"
        )
    with env_vars(os_mod.environ, NANOCHAT_BASE_DIR=base):
        yield base
