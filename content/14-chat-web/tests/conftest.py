"""Fixtures for module 14: the same tiny tokenizer on both sides, a scripted engine, and an async-stream driver.

Design choices:

- No model: the tests script the engine. In the learner's process the engine is a ``unittest.mock.Mock`` whose
  ``generate`` returns an iterator over fixed ``([token], [1])`` items, so the stream is exact and the call's
  arguments can be checked; the judge runs the reference ``generate_stream`` on the same items.
- The tokenizer is trained on both sides from the same texts with the pure-Python BPE trainer (deterministic,
  < 1 s); ``tokenizers_agree`` checks that both give the same ids before any comparison relies on it.
- The learner's async generator is driven from the judge one item at a time on a single learner-side event loop
  (``loop.run_until_complete(anext(agen, None))``); ``asyncio.run`` per item would close the generator.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import nullcontext
from types import SimpleNamespace
from unittest import mock

import pytest

from grading.testkit import tokenizer_fixtures
from nanochat_ref.scripts import chat_web as ref

TEXTS = [
    "Hello! How are you today? I am fine, thank you.",
    "What is the capital of France? The capital of France is Paris.",
    "héllo wörld 你好, café and naïve",
] * 5
VOCAB_SIZE = 300


@pytest.fixture
def cw(learner):
    """The learner's ``nanochat.scripts.chat_web`` module (a proxy)."""
    return learner.module("nanochat.scripts.chat_web")


judge_tok, tok = tokenizer_fixtures(TEXTS, VOCAB_SIZE, probes=("Hello there!", "héllo 🌍", "Paris"))


def byte_ids(judge_tok, text: str) -> list[int]:
    """One token per UTF-8 byte of ``text``: a multi-byte character spans several tokens."""
    return [judge_tok.enc.encode_single_token(bytes([b])) for b in text.encode("utf-8")]


def request(cw, messages, **fields):
    """A learner-side ``ChatRequest`` (handle); ``messages`` is a list of (role, content) pairs."""
    return cw.ChatRequest(messages=[{"role": r, "content": c} for r, c in messages], **fields)


def ref_request(messages, **fields):
    return ref.ChatRequest(messages=[{"role": r, "content": c} for r, c in messages], **fields)


@pytest.fixture
def stream(learner, cw, tok):
    """``stream(ids, temperature=0.8, max_new_tokens=64, top_k=50)`` -> (SSE chunks, generate() call kwargs).

    Runs the learner's ``generate_stream`` on a worker whose engine yields ``ids`` one by one.
    """
    builtins = learner.module("builtins")
    learner_asyncio = learner.module("asyncio")

    def _stream(ids, temperature=0.8, max_new_tokens=64, top_k=50):
        items = builtins.iter([[[i], [1]] for i in ids])
        engine = learner.module("unittest.mock").Mock(**{"generate.return_value": items})
        worker = cw.Worker(3, "cpu", engine, tok, learner.module("contextlib").nullcontext)
        agen = cw.generate_stream(worker, [1, 2, 3], temperature, max_new_tokens, top_k)
        loop = learner_asyncio.new_event_loop()
        chunks = []
        try:
            for _ in range(len(ids) + 2):
                chunk = loop.run_until_complete(builtins.anext(agen, None))
                if chunk is None:
                    break
                chunks.append(chunk)
        finally:
            loop.close()
        return chunks, learner.value(engine.generate.call_args.kwargs)

    return _stream


def ref_stream(judge_tok, ids, temperature=0.8, max_new_tokens=64, top_k=50) -> list[str]:
    """The reference ``generate_stream`` on the same scripted items, in the judge."""
    engine = mock.Mock(**{"generate.return_value": iter([[i], [1]] for i in ids)})
    worker = ref.Worker(3, "cpu", engine, judge_tok, nullcontext)

    async def collect():
        return [c async for c in ref.generate_stream(worker, [1, 2, 3], temperature, max_new_tokens, top_k)]

    return asyncio.run(collect())


def events(chunks: list[str]) -> list[dict]:
    """Parse SSE chunks (``data: {json}\\n\\n``) into their payloads; a malformed chunk fails the test."""
    out = []
    for chunk in chunks:
        assert chunk.startswith("data: ") and chunk.endswith("\n\n"), (
            f"an SSE chunk is 'data: <json>\\n\\n': {chunk!r}"
        )
        out.append(json.loads(chunk[len("data: ") : -2]))
    return out


@pytest.fixture(scope="session")
def cwh():
    """The helpers above, for the test files (they do not import conftest)."""
    return SimpleNamespace(
        byte_ids=byte_ids, request=request, ref_request=ref_request, ref_stream=ref_stream, events=events
    )
