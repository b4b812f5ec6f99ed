"""Saving and loading checkpoints (mirrors nanochat's ``nanochat/checkpoint_manager.py`` at commit C).

Layout under ``get_base_dir()``: one folder per phase (``base_checkpoints``, ``mid_checkpoints``,
``chatsft_checkpoints``, ``chatrl_checkpoints``), one sub-folder per model tag (``d20``, ``d4``, ...), and in it,
per saved step:

- ``model_{step:06d}.pt``: the model's ``state_dict`` (written by rank 0 only; weights are replicated),
- ``meta_{step:06d}.json``: ``model_config`` plus whatever the trainer adds (step, val_bpb, user_config, loader
  and loop state, ...), written by rank 0,
- ``optim_{step:06d}_rank{r}.pt``: written by EVERY rank, because DistAdamW/DistMuon state is sharded.

Design choices:
- ``build_model`` rebuilds the model the same way training does (on ``meta``, ``to_empty``, ``init_weights`` for
  the non-persistent rotary buffers), then ``load_state_dict(strict=True, assign=True)``: assign adopts the
  loaded tensors instead of copying into freshly allocated ones.
- bf16 tensors (``wte`` on CUDA) are upcast to fp32 when loading onto CPU/MPS, and the ``_orig_mod.`` prefix left
  by ``torch.compile`` is stripped, so a GPU checkpoint loads anywhere.
- ``find_largest_model`` prefers the largest ``d<N>`` tag, else the most recently modified folder.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re

import torch

from .common import get_base_dir, setup_default_logging
from .gpt import GPT, GPTConfig

setup_default_logging()
logger = logging.getLogger(__name__)


def log0(message: str) -> None:
    if int(os.environ.get("RANK", 0)) == 0:
        logger.info(message)


def save_checkpoint(checkpoint_dir, step: int, model_data, optimizer_data, meta_data, rank: int = 0) -> None:
    """Write the model and meta files (rank 0) and this rank's optimizer shard (when ``optimizer_data``)."""
    raise NotImplementedError("TODO(step 3): model_/meta_ files on rank 0, optim_{step:06d}_rank{r}.pt on every rank")


def load_checkpoint(checkpoint_dir, step: int, device, load_optimizer: bool = False, rank: int = 0):
    """Return ``(model_data, optimizer_data or None, meta_data)`` for ``step``."""
    raise NotImplementedError("TODO(step 3): torch.load the model (and optimizer) files, json.load the meta file")


def build_model(checkpoint_dir, step: int, device, phase: str):
    """Rebuild the GPT saved at ``step`` on ``device``; return ``(model, tokenizer, meta_data)``.

    ``phase`` is ``"train"`` or ``"eval"`` (sets the module mode). The tokenizer is the one in the base dir; its
    vocabulary size must match the checkpoint's.
    """
    raise NotImplementedError("TODO(step 3): upcast bf16 on CPU, strip _orig_mod., meta build, to_empty, init_weights, load")


def find_largest_model(checkpoints_dir) -> str:
    """The tag of the largest ``d<N>`` model in ``checkpoints_dir``, else the most recently modified folder."""
    raise NotImplementedError("TODO(step 3): the largest d<N> tag, else the most recently modified folder")


def find_last_step(checkpoint_dir) -> int:
    """The largest step with a ``model_<step>.pt`` file in ``checkpoint_dir``."""
    raise NotImplementedError("TODO(step 3): the largest step among model_<step>.pt files")


def load_model_from_dir(
    checkpoints_dir, device, phase: str, model_tag: str | None = None, step: int | None = None
):
    """Load ``model_tag`` (default: the largest) at ``step`` (default: the last) from a phase folder."""
    if model_tag is None:
        model_tag = find_largest_model(checkpoints_dir)
        log0(f"No model tag provided, guessing model tag: {model_tag}")
    checkpoint_dir = os.path.join(checkpoints_dir, model_tag)
    if step is None:
        step = find_last_step(checkpoint_dir)
    log0(f"Loading model from {checkpoint_dir} with step {step}")
    return build_model(checkpoint_dir, step, device, phase)


PHASE_DIRS = {
    "base": "base_checkpoints",
    "mid": "mid_checkpoints",
    "sft": "chatsft_checkpoints",
    "rl": "chatrl_checkpoints",
}


def load_model(source: str, device, phase: str, model_tag: str | None = None, step: int | None = None):
    """Load a model of ``source`` (``base``/``mid``/``sft``/``rl``); returns ``(model, tokenizer, meta_data)``."""
    checkpoints_dir = os.path.join(get_base_dir(), PHASE_DIRS[source])
    return load_model_from_dir(checkpoints_dir, device, phase, model_tag=model_tag, step=step)
