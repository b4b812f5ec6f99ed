"""The same tiny tokenizer on both sides, for modules whose tests compare token ids.

Design choice: both sides train with the deterministic pure-Python BPE trainer (< 1 s for a few short texts),
then ``learner_tokenizer`` checks that they agree on probe texts before any test relies on it: a disagreement
is a broken test setup, reported as such, not a wrong answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def judge_tokenizer(texts: Sequence[str], vocab_size: int) -> Any:
    """The reference ``RustBPETokenizer`` trained on ``texts``."""
    from nanochat_ref.tokenizer import RustBPETokenizer

    return RustBPETokenizer.train_from_iterator(iter(texts), vocab_size, backend="python")


def learner_tokenizer(
    learner: Any, judge_tok: Any, texts: Sequence[str], vocab_size: int, probes: Iterable[str]
) -> Any:
    """The learner's ``RustBPETokenizer`` trained on ``texts`` (a handle), checked against ``judge_tok``."""
    learner_tok = learner.module("nanochat.tokenizer").RustBPETokenizer.train_from_iterator(
        list(texts), vocab_size, backend="python"
    )
    for text in probes:
        if learner_tok.encode(text) != judge_tok.encode(text):
            raise AssertionError(f"test setup: the two tokenizers disagree on {text!r}")
    return learner_tok
