"""Shared fixtures for the nanochat_ref tests (stable: other areas' tests use them too).

Fixtures:
- ``nanochat_base_dir`` (function): an EMPTY tmp folder set as ``$NANOCHAT_BASE_DIR``; returns its ``Path``.
- ``tiny_base_dir`` (function): a tmp ``$NANOCHAT_BASE_DIR`` pre-filled with a private copy of the tiny artifacts
  below, so ``dataset.list_parquet_files()``, ``tokenizer.get_tokenizer()``, ``tokenizer.get_token_bytes()`` and the
  data loader work out of the box. Writable: each test gets its own copy. Returns its ``Path``.
- ``tiny_artifacts`` (session, read-only): the folder the copies come from, built once per session:
    base_data/shard_00000..00002.parquet  3 shards x 4 row groups x 16 documents (<= 300 chars each),
                                          made by ``scripts.make_shards`` from offline text; the last is val
    tokenizer/tokenizer.pkl, tokenizer.tiktoken, token_bytes.pt
                                          vocab 512 (503 mergeable ranks + 9 specials), trained on the
                                          train split by ``scripts.tok_train`` (rustbpe if built, else Python)
- ``tiny_shards_kwargs`` (session): the ``make_shards`` keyword arguments used above (to regenerate or compare).
- ``tiny_config`` (session): ``{"vocab_size", "num_shards", "row_groups_per_shard", "rows_per_group"}`` of the
  artifacts above, for assertions.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

TINY_VOCAB_SIZE = 512
TINY_NUM_SHARDS = 3
TINY_ROW_GROUPS_PER_SHARD = 4
TINY_ROWS_PER_GROUP = 16
TINY_SHARDS_KWARGS = {
    "num_shards": TINY_NUM_SHARDS,
    "row_groups_per_shard": TINY_ROW_GROUPS_PER_SHARD,
    "rows_per_group": TINY_ROWS_PER_GROUP,
    "max_doc_chars": 300,
}


@pytest.fixture(scope="session")
def tiny_shards_kwargs() -> dict:
    return dict(TINY_SHARDS_KWARGS)


@pytest.fixture(scope="session")
def tiny_config() -> dict:
    return {
        "vocab_size": TINY_VOCAB_SIZE,
        "num_shards": TINY_NUM_SHARDS,
        "row_groups_per_shard": TINY_ROW_GROUPS_PER_SHARD,
        "rows_per_group": TINY_ROWS_PER_GROUP,
    }


@pytest.fixture(scope="session")
def tiny_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nanochat_ref.scripts.make_shards import make_shards
    from nanochat_ref.scripts.tok_train import train_tokenizer

    base = tmp_path_factory.mktemp("nanochat_tiny")
    old = os.environ.get("NANOCHAT_BASE_DIR")
    os.environ["NANOCHAT_BASE_DIR"] = str(base)
    try:
        make_shards(str(base / "base_data"), **TINY_SHARDS_KWARGS)
        train_tokenizer(
            TINY_VOCAB_SIZE, max_chars=10**9, doc_cap=10_000, tokenizer_dir=str(base / "tokenizer")
        )
    finally:
        if old is None:
            os.environ.pop("NANOCHAT_BASE_DIR", None)
        else:
            os.environ["NANOCHAT_BASE_DIR"] = old
    return base


@pytest.fixture
def nanochat_base_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    base = tmp_path / "nanochat_base"
    base.mkdir()
    monkeypatch.setenv("NANOCHAT_BASE_DIR", str(base))
    return base


@pytest.fixture
def tiny_base_dir(tiny_artifacts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    base = tmp_path / "nanochat_tiny_base"
    shutil.copytree(tiny_artifacts, base)
    monkeypatch.setenv("NANOCHAT_BASE_DIR", str(base))
    return base
