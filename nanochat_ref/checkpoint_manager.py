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
    if rank == 0:
        os.makedirs(checkpoint_dir, exist_ok=True)
        model_path = os.path.join(checkpoint_dir, f"model_{step:06d}.pt")
        torch.save(model_data, model_path)
        log0(f"Saved model parameters to: {model_path}")
        meta_path = os.path.join(checkpoint_dir, f"meta_{step:06d}.json")
        with open(meta_path, "w", encoding="utf-8") as f:
            json.dump(meta_data, f, indent=2)
        log0(f"Saved metadata to: {meta_path}")
    if optimizer_data is not None:
        os.makedirs(checkpoint_dir, exist_ok=True)
        optimizer_path = os.path.join(checkpoint_dir, f"optim_{step:06d}_rank{rank:d}.pt")
        torch.save(optimizer_data, optimizer_path)
        logger.info(f"Saved optimizer state to: {optimizer_path}")


def load_checkpoint(checkpoint_dir, step: int, device, load_optimizer: bool = False, rank: int = 0):
    """Return ``(model_data, optimizer_data or None, meta_data)`` for ``step``."""
    model_path = os.path.join(checkpoint_dir, f"model_{step:06d}.pt")
    model_data = torch.load(model_path, map_location=device, weights_only=True)
    optimizer_data = None
    if load_optimizer:
        optimizer_path = os.path.join(checkpoint_dir, f"optim_{step:06d}_rank{rank:d}.pt")
        optimizer_data = torch.load(optimizer_path, map_location=device, weights_only=True)
    meta_path = os.path.join(checkpoint_dir, f"meta_{step:06d}.json")
    with open(meta_path, encoding="utf-8") as f:
        meta_data = json.load(f)
    return model_data, optimizer_data, meta_data


def build_model(checkpoint_dir, step: int, device, phase: str):
    """Rebuild the GPT saved at ``step`` on ``device``; return ``(model, tokenizer, meta_data)``.

    ``phase`` is ``"train"`` or ``"eval"`` (sets the module mode). The tokenizer is the one in the base dir; its
    vocabulary size must match the checkpoint's.
    """
    from .tokenizer import get_tokenizer

    assert phase in ("train", "eval"), f"Invalid phase: {phase}"
    device = torch.device(device)
    model_data, _, meta_data = load_checkpoint(checkpoint_dir, step, device, load_optimizer=False)
    if device.type in ("cpu", "mps"):
        model_data = {k: v.float() if v.dtype == torch.bfloat16 else v for k, v in model_data.items()}
    model_data = {k.removeprefix("_orig_mod."): v for k, v in model_data.items()}
    model_config_kwargs = meta_data["model_config"]
    log0(f"Building model with config: {model_config_kwargs}")
    model_config = GPTConfig(**model_config_kwargs)
    with torch.device("meta"):
        model = GPT(model_config)
    model.to_empty(device=device)
    model.init_weights()  # the rotary buffers are not in the state dict
    model.load_state_dict(model_data, strict=True, assign=True)
    if phase == "eval":
        model.eval()
    else:
        model.train()
    tokenizer = get_tokenizer()
    assert tokenizer.get_vocab_size() == model_config_kwargs["vocab_size"], (
        f"tokenizer vocab {tokenizer.get_vocab_size()} != model vocab {model_config_kwargs['vocab_size']}"
    )
    return model, tokenizer, meta_data


def find_largest_model(checkpoints_dir) -> str:
    """The tag of the largest ``d<N>`` model in ``checkpoints_dir``, else the most recently modified folder."""
    model_tags = [f for f in os.listdir(checkpoints_dir) if os.path.isdir(os.path.join(checkpoints_dir, f))]
    if not model_tags:
        raise FileNotFoundError(f"No checkpoints found in {checkpoints_dir}")
    candidates = []
    for model_tag in model_tags:
        match = re.fullmatch(r"d(\d+)", model_tag)
        if match:
            candidates.append((int(match.group(1)), model_tag))
    if candidates:
        candidates.sort(key=lambda x: x[0], reverse=True)
        return candidates[0][1]
    model_tags.sort(key=lambda x: os.path.getmtime(os.path.join(checkpoints_dir, x)), reverse=True)
    return model_tags[0]


def find_last_step(checkpoint_dir) -> int:
    """The largest step with a ``model_<step>.pt`` file in ``checkpoint_dir``."""
    checkpoint_files = glob.glob(os.path.join(checkpoint_dir, "model_*.pt"))
    if not checkpoint_files:
        raise FileNotFoundError(f"No checkpoints found in {checkpoint_dir}")
    return max(int(os.path.basename(f).split("_")[-1].split(".")[0]) for f in checkpoint_files)


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
