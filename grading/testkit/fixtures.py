"""Fixtures that several modules define the same way, made by factories a conftest assigns to its own names.

Design choices:

- A factory returns fixture functions already named (``pytest.fixture(name=...)``); a conftest binds them at
  module level, e.g. ``judge_tok, tok = tokenizer_fixtures(TEXTS, VOCAB_SIZE, probes=(...))``, and pytest
  registers them there as if they were written in place. The module's own data (texts, vocabulary size, probe
  strings) stays in its conftest, next to the tests that rely on it.
- Only fixtures whose whole body is shared live here; a fixture that adds module-specific behaviour stays in
  its conftest and calls the helpers in this package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pytest

from .data import judge_base_data, point_reference_at
from .tokenizers import judge_tokenizer, learner_tokenizer


def tokenizer_fixtures(
    texts: Sequence[str], vocab_size: int, probes: Iterable[str]
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``judge_tok`` (session: the reference tokenizer trained on ``texts``) and ``tok`` (the learner's, a handle)."""
    texts, probes = list(texts), list(probes)

    @pytest.fixture(scope="session", name="judge_tok")
    def judge_tok() -> Any:
        return judge_tokenizer(texts, vocab_size)

    @pytest.fixture(name="tok")
    def tok(learner: Any, judge_tok: Any) -> Any:
        """The same tokenizer in the learner's process (a handle), checked against the judge's copy."""
        return learner_tokenizer(learner, judge_tok, texts, vocab_size, probes)

    return judge_tok, tok


def base_data_fixtures() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``judge_base`` (session: the judge's copy of the tiny data) and ``ref_env`` (the reference reads it)."""

    @pytest.fixture(scope="session", name="judge_base")
    def judge_base(tmp_path_factory: Any) -> str:
        return judge_base_data(str(tmp_path_factory.mktemp("judge_base")))

    @pytest.fixture(name="ref_env")
    def ref_env(judge_base: str, monkeypatch: Any) -> str:
        """Point the judge's reference code at its copy of the data, as rank 0 of 1."""
        return point_reference_at(monkeypatch, judge_base)

    return judge_base, ref_env
