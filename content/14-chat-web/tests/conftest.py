"""Fixtures for module 14: the same tiny tokenizer on both sides, a scripted engine, and an async-stream driver.

Design choices:

- No model: the tests script the engine. In the learner's process the engine is a ``unittest.mock.Mock`` whose
  ``generate`` returns an iterator over fixed ``([token], [1])`` items, so the stream is exact and the call's
  arguments can be checked; the judge runs the reference ``generate_stream`` on the same items.
- The tokenizer is trained on both sides from the same texts with the pure-Python BPE trainer (deterministic,
  < 1 s); ``tokenizers_agree`` checks that both give the same ids before any comparison relies on it.
- The learner's async generator is driven from the judge one item at a time on a single learner-side event loop
  (``loop.run_until_complete(anext(agen, None))``); ``asyncio.run`` per item would close the generator.
- The route (step 4) is the learner's own FastAPI endpoint, called as the server calls it: the judge awaits it on
  that loop and pulls the ``StreamingResponse``'s body one chunk at a time, as a client reading the socket would.
  After each chunk it counts what the engine has produced so far (``operator.length_hint`` of the scripted
  iterator) and how many workers are free: incremental streaming and the pool's state are counts, never timings.
  A disconnect is the server closing the body generator (``aclose()``), which is what Starlette does.
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
        byte_ids=byte_ids,
        request=request,
        ref_request=ref_request,
        ref_stream=ref_stream,
        events=events,
        Fail=Fail,
    )


class Server:
    """The learner's app over a pool of one scripted worker (gpu id 0), driven one SSE chunk at a time.

    ``replies`` are the engine's replies in request order: a list of token ids, or ``Fail(ids)`` for an engine that
    yields ``ids`` and then raises ``RuntimeError``.
    """

    def __init__(self, learner, cw, tok, replies):
        self.learner, self.cw = learner, cw
        self.builtins = learner.module("builtins")
        self.operator = learner.module("operator")
        mock = learner.module("unittest.mock")
        self.iterators = []
        for reply in replies:
            items = [[[i], [1]] for i in (reply.ids if isinstance(reply, Fail) else reply)]
            if isinstance(reply, Fail):
                scripted = mock.Mock(side_effect=[*items, self.builtins.RuntimeError("the engine fell over")])
                self.iterators.append(self.builtins.iter(scripted, None))
            else:
                self.iterators.append(self.builtins.iter(items))
        self.engine = mock.Mock(**{"generate.side_effect": self.iterators})
        self.pool = cw.WorkerPool(1, "cpu")
        self.pool.add_worker(cw.Worker(0, "cpu", self.engine, tok, learner.module("contextlib").nullcontext))
        self.args = cw.build_parser().parse_args([])
        self.app = cw.create_app(self.args, self.pool)
        self.app.state.worker_pool = self.pool  # what the lifespan hook does when the server starts
        self.loop = learner.module("asyncio").new_event_loop()
        routes = self.app.routes
        found = [
            routes[i] for i in range(len(routes)) if learner.value(routes[i].path) == "/chat/completions"
        ]
        assert found, "the app has no POST /chat/completions route"
        self.endpoint = found[0].endpoint

    def post(self, messages, **fields):
        """Await the route as the server does; returns the response (a learner handle)."""
        request = self.cw.ChatRequest(messages=[{"role": r, "content": c} for r, c in messages], **fields)
        return self.loop.run_until_complete(self.endpoint(request))

    def body(self, response):
        """The response's body iterator, after checking that the route answers with a Server-Sent Events stream."""
        media_type = (
            self.learner.value(response.media_type)
            if self.learner.value(self.builtins.hasattr(response, "body_iterator"))
            else None
        )
        assert media_type == "text/event-stream", (
            "the route must return StreamingResponse(<async generator>, media_type='text/event-stream'); "
            f"got a response with media type {media_type!r} and no stream to read"
        )
        return response.body_iterator

    def next_chunk(self, body):
        """The next chunk the client would read, as text; None at the end of the stream."""
        chunk = self.loop.run_until_complete(self.builtins.anext(body, None))
        return chunk.decode("utf-8") if isinstance(chunk, bytes) else chunk

    def disconnect(self, body):
        """The client goes away: the server closes the body generator."""
        self.loop.run_until_complete(body.aclose())

    def free_workers(self) -> int:
        return self.learner.value(self.pool.available_workers.qsize())

    def left_in_engine(self, request: int) -> int:
        """How many scripted tokens of request ``request`` the engine has not produced yet."""
        return self.learner.value(self.operator.length_hint(self.iterators[request]))

    def generate_calls(self) -> list[dict]:
        kwargs = self.operator.attrgetter("kwargs")
        return self.builtins.list(self.builtins.map(kwargs, self.engine.generate.call_args_list))

    def close(self):
        self.loop.close()


class Fail:
    """An engine reply that yields ``ids`` and then raises."""

    def __init__(self, ids):
        self.ids = list(ids)


@pytest.fixture
def serve(learner, cw, tok):
    """``serve(replies)`` -> a :class:`Server` over the learner's app; closed after the test."""
    servers = []

    def _serve(replies):
        servers.append(Server(learner, cw, tok, replies))
        return servers[-1]

    yield _serve
    for server in servers:
        server.close()


@pytest.fixture
def stream_steps(learner, cw, tok):
    """``stream_steps(ids)`` -> [(SSE chunk, tokens the engine has not produced yet)] for the learner's
    ``generate_stream``, one chunk at a time."""
    builtins = learner.module("builtins")
    operator = learner.module("operator")

    def _steps(ids):
        items = builtins.iter([[[i], [1]] for i in ids])
        engine = learner.module("unittest.mock").Mock(**{"generate.return_value": items})
        worker = cw.Worker(3, "cpu", engine, tok, learner.module("contextlib").nullcontext)
        agen = cw.generate_stream(worker, [1, 2, 3], 0.8, 64, 50)
        loop = learner.module("asyncio").new_event_loop()
        steps = []
        try:
            for _ in range(len(ids) + 2):
                chunk = loop.run_until_complete(builtins.anext(agen, None))
                if chunk is None:
                    break
                steps.append((chunk, learner.value(operator.length_hint(items))))
        finally:
            loop.close()
        return steps

    return _steps
