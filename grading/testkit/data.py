"""The tiny pretraining data (parquet shards and a tokenizer) that modules 3, 4 and 7 build on both sides.

Design choices:

- Both sides build it with their own ``make_shards`` / ``train_tokenizer`` (the reference's in the judge, the
  workspace's in the learner's process) from Python's documentation prose only, which is always present. Both
  are byte-for-byte deterministic, so the judge can compute expected values on its own copy.
- The learner's copy is built once per learner process and reused while its folder exists; a new learner
  process (a new temp folder) gets a new one.
- The learner's ``NANOCHAT_BASE_DIR`` is left pointing at its copy: every test that asks for the data wants it.
  The judge's is set only while building; tests point the reference at it with ``point_reference_at``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: ``make_shards`` keyword arguments: 3 shards x 4 row groups x 16 documents of at most 300 characters.
TINY_SHARDS: dict[str, Any] = {
    "num_shards": 3,
    "row_groups_per_shard": 4,
    "rows_per_group": 16,
    "max_doc_chars": 300,
    "sources": ["pydoc"],
}
TINY_VOCAB_SIZE = 512
RANK_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE")
_LEARNER_BASES: dict[bool, str] = {}


def build_base_data(
    base: str, make_shards: Callable[..., Any], train_tokenizer: Callable[..., Any] | None = None
) -> None:
    """Shards in ``<base>/base_data`` and, given ``train_tokenizer``, a tokenizer in ``<base>/tokenizer``."""
    make_shards(os.path.join(base, "base_data"), **TINY_SHARDS)
    if train_tokenizer is not None:
        train_tokenizer(TINY_VOCAB_SIZE, 10**9, 10_000, "auto", os.path.join(base, "tokenizer"))


def judge_base_data(base: str) -> str:
    """Build the shards and tokenizer in the judge under ``base`` with the reference; returns ``base``."""
    from nanochat_ref.scripts.make_shards import make_shards
    from nanochat_ref.scripts.tok_train import train_tokenizer

    from .environ import env_vars

    with env_vars(os.environ, NANOCHAT_BASE_DIR=base):
        build_base_data(base, make_shards, train_tokenizer)
    return base


def learner_base_data(learner: Any, *, tokenizer: bool = True) -> str:
    """The learner-side base dir holding the data (built there once), set as its ``NANOCHAT_BASE_DIR``."""
    os_mod = learner.module("os")
    base = _LEARNER_BASES.get(tokenizer)
    if base is None or not os_mod.path.isdir(base):
        base = learner.module("tempfile").mkdtemp(prefix="nanochat-")
        os_mod.environ.update({"NANOCHAT_BASE_DIR": base})
        train = learner.module("nanochat.scripts.tok_train").train_tokenizer if tokenizer else None
        build_base_data(base, learner.module("nanochat.scripts.make_shards").make_shards, train)
        _LEARNER_BASES[tokenizer] = base
    os_mod.environ.update({"NANOCHAT_BASE_DIR": base})
    return base


@contextmanager
def reference_at(base: str) -> Iterator[None]:
    """While the block runs, the judge's reference code reads ``base`` as its base dir, as rank 0 of 1.

    The environment is restored afterwards, so a learner that shares the judge's ``os.environ`` (the in-process
    harness of the bug catalogue) keeps its own base dir around the reference's run.
    """
    from .environ import env_vars

    with env_vars(os.environ, NANOCHAT_BASE_DIR=base, **dict.fromkeys(RANK_VARS)):
        yield


def point_reference_at(monkeypatch: Any, base: str) -> str:
    """For one test, the judge's reference code reads ``base`` as its base dir, as rank 0 of 1."""
    monkeypatch.setenv("NANOCHAT_BASE_DIR", base)
    for name in RANK_VARS:
        monkeypatch.delenv(name, raising=False)
    return base
