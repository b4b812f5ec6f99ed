"""Serve a chat model over HTTP with a streaming API and a small web UI (nanochat `scripts/chat_web.py`, commit C).

    python -m nanochat_ref.scripts.chat_web                     # sft model, http://0.0.0.0:8000
    python -m nanochat_ref.scripts.chat_web -i rl --device-type cpu -p 8001

Design choices:

- **Data-parallel workers.** A `Worker` is one full model replica (engine + tokenizer) on one device; a
  `WorkerPool` hands workers out through an `asyncio.Queue`, so with N GPUs N requests generate concurrently and
  the rest wait. Several workers need CUDA. Models load once, in the FastAPI lifespan hook.
- **Streaming only.** `POST /chat/completions` answers with Server-Sent Events: `data: {"token": ..., "gpu": id}`
  per chunk, then `data: {"done": true}`. It is UTF-8 safe: all tokens so far are re-decoded and only the new
  suffix is sent, and only when it does not end in U+FFFD (a multi-byte character split across tokens).
- Generation stops on `<|assistant_end|>` or `<|bos|>`, uses a random seed per request, and each decode step runs
  in a thread (`asyncio.to_thread`) so `/health` and other requests stay responsive during a long reply. The
  worker is released in a `finally`, also when the client disconnects.
- The route validates before it takes a worker (a rejected request never holds one), and request fields that are
  None fall back to the server's flags (`is not None`: temperature 0.0 is a real choice, greedy decoding).
- **Abuse limits** (`validate_chat_request`, HTTP 400): 1-500 messages, each non-empty and <= 8,000 characters,
  <= 32,000 characters in total, roles `user`/`assistant` only, temperature 0-2, top_k 0-200 (0 = off),
  max_tokens 1-4096. CORS is open to every origin, as in nanochat.
- `GET /` serves `ui.html` (self-contained: no CDN) with its `API_URL` rewritten to the same origin.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel

logger = logging.getLogger("chat_web")

MAX_MESSAGES_PER_REQUEST = 500
MAX_MESSAGE_LENGTH = 8000
MAX_TOTAL_CONVERSATION_LENGTH = 32000
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.0, 2.0
MIN_TOP_K, MAX_TOP_K = 0, 200
MIN_MAX_TOKENS, MAX_MAX_TOKENS = 1, 4096

UI_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ui.html")
LOGO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="14" fill="#111"/>'
    '<text x="16" y="21" font-size="14" text-anchor="middle" fill="#fff" font-family="monospace">nc</text></svg>'
)


class ChatMessage(BaseModel):
    role: str
    content: str


class ChatRequest(BaseModel):
    messages: list[ChatMessage]
    temperature: float | None = None
    max_tokens: int | None = None
    top_k: int | None = None


def validate_chat_request(request: ChatRequest) -> None:
    """Raise HTTP 400 when a request breaks one of the abuse limits."""
    if len(request.messages) == 0:
        raise HTTPException(status_code=400, detail="At least one message is required")
    if len(request.messages) > MAX_MESSAGES_PER_REQUEST:
        raise HTTPException(status_code=400, detail=f"Too many messages. Maximum {MAX_MESSAGES_PER_REQUEST}")
    total_length = 0
    for i, message in enumerate(request.messages):
        if not message.content:
            raise HTTPException(status_code=400, detail=f"Message {i} has empty content")
        if len(message.content) > MAX_MESSAGE_LENGTH:
            raise HTTPException(
                status_code=400, detail=f"Message {i} is too long. Maximum {MAX_MESSAGE_LENGTH} characters"
            )
        total_length += len(message.content)
        if message.role not in ("user", "assistant"):
            raise HTTPException(
                status_code=400, detail=f"Message {i} has invalid role: must be user or assistant"
            )
    if total_length > MAX_TOTAL_CONVERSATION_LENGTH:
        raise HTTPException(
            status_code=400,
            detail=f"Conversation is too long. Maximum {MAX_TOTAL_CONVERSATION_LENGTH} characters",
        )
    if request.temperature is not None and not MIN_TEMPERATURE <= request.temperature <= MAX_TEMPERATURE:
        raise HTTPException(
            status_code=400, detail=f"Temperature must be between {MIN_TEMPERATURE} and {MAX_TEMPERATURE}"
        )
    if request.top_k is not None and not MIN_TOP_K <= request.top_k <= MAX_TOP_K:
        raise HTTPException(status_code=400, detail=f"top_k must be between {MIN_TOP_K} and {MAX_TOP_K}")
    if request.max_tokens is not None and not MIN_MAX_TOKENS <= request.max_tokens <= MAX_MAX_TOKENS:
        raise HTTPException(
            status_code=400, detail=f"max_tokens must be between {MIN_MAX_TOKENS} and {MAX_MAX_TOKENS}"
        )


@dataclass
class Worker:
    """One model replica on one device."""

    gpu_id: int
    device: Any
    engine: Any
    tokenizer: Any
    autocast_ctx: Any  # a zero-argument callable returning a fresh autocast context


class WorkerPool:
    """Model replicas handed out to requests through an asyncio queue."""

    def __init__(self, num_gpus: int | None = None, device_type: str = "cpu"):
        self.num_gpus = num_gpus if num_gpus is not None else 1
        self.device_type = device_type
        self.workers: list[Worker] = []
        self.available_workers: asyncio.Queue[Worker] = asyncio.Queue()

    def add_worker(self, worker: Worker) -> None:
        self.workers.append(worker)
        self.available_workers.put_nowait(worker)

    async def initialize(self, source: str, model_tag: str | None = None, step: int | None = None) -> None:
        """Load one replica per device."""
        import torch

        from ..checkpoint_manager import load_model
        from ..common import autocast_ctx
        from ..engine import Engine

        if self.num_gpus > 1:
            assert self.device_type == "cuda", "Only CUDA supports multiple workers"
        for gpu_id in range(self.num_gpus):
            device = (
                torch.device(f"cuda:{gpu_id}")
                if self.device_type == "cuda"
                else torch.device(self.device_type)
            )
            logger.info("Loading model on %s...", device)
            model, tokenizer, _ = load_model(source, device, phase="eval", model_tag=model_tag, step=step)
            engine = Engine(model, tokenizer)
            device_type = self.device_type
            self.add_worker(
                Worker(gpu_id, device, engine, tokenizer, lambda dt=device_type: autocast_ctx(dt))
            )

    async def acquire_worker(self) -> Worker:
        return await self.available_workers.get()

    async def release_worker(self, worker: Worker) -> None:
        await self.available_workers.put(worker)


def build_prompt(tokenizer, messages: list[ChatMessage]) -> list[int]:
    """`<|bos|>`, each turn wrapped in its role's special tokens, then `<|assistant_start|>`."""
    special = tokenizer.encode_special
    tokens = [tokenizer.get_bos_token_id()]
    for message in messages:
        if message.role == "user":
            tokens += [special("<|user_start|>"), *tokenizer.encode(message.content), special("<|user_end|>")]
        else:
            tokens += [special("<|assistant_start|>"), *tokenizer.encode(message.content)]
            tokens.append(special("<|assistant_end|>"))
    tokens.append(special("<|assistant_start|>"))
    return tokens


def sse(payload: dict) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


async def generate_stream(worker: Worker, tokens, temperature: float, max_new_tokens: int, top_k: int | None):
    """Yield SSE lines of new text, UTF-8 safe, then the final `done` event."""
    assistant_end = worker.tokenizer.encode_special("<|assistant_end|>")
    bos = worker.tokenizer.get_bos_token_id()
    generator = worker.engine.generate(
        tokens,
        num_samples=1,
        max_tokens=max_new_tokens,
        temperature=temperature,
        top_k=top_k if top_k else None,
        seed=random.randint(0, 2**31 - 1),
    )

    def step():
        with worker.autocast_ctx():
            return next(generator, None)

    accumulated: list[int] = []
    last_clean_text = ""
    while True:
        item = await asyncio.to_thread(step)
        if item is None:
            break
        token = item[0][0]
        if token == assistant_end or token == bos:
            break
        accumulated.append(token)
        current_text = worker.tokenizer.decode(accumulated)
        if not current_text.endswith("\ufffd"):
            new_text = current_text[len(last_clean_text) :]
            if new_text:
                yield sse({"token": new_text, "gpu": worker.gpu_id})
                last_clean_text = current_text
    yield sse({"done": True})


def create_app(args: argparse.Namespace | None = None, worker_pool: WorkerPool | None = None) -> FastAPI:
    """The FastAPI app; with `worker_pool` given (tests), no model is loaded at startup."""
    args = args or build_parser().parse_args([])

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if worker_pool is not None:
            app.state.worker_pool = worker_pool
        else:
            from ..common import autodetect_device_type

            device_type = args.device_type or autodetect_device_type()
            pool = WorkerPool(num_gpus=args.num_gpus, device_type=device_type)
            await pool.initialize(args.source, model_tag=args.model_tag, step=args.step)
            app.state.worker_pool = pool
        logger.info("Server ready at http://%s:%s", args.host, args.port)
        yield

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True, allow_methods=["*"],
                       allow_headers=["*"])  # fmt: skip

    @app.get("/")
    async def root():
        with open(UI_PATH, encoding="utf-8") as f:
            html = f.read()
        html = html.replace(
            "const API_URL = `http://${window.location.hostname}:8000`;", "const API_URL = '';"
        )
        return HTMLResponse(content=html)

    @app.get("/logo.svg")
    async def logo():
        return Response(content=LOGO_SVG, media_type="image/svg+xml")

    @app.post("/chat/completions")
    async def chat_completions(request: ChatRequest):
        """Stream the reply to a conversation as Server-Sent Events.

        1. ``validate_chat_request(request)`` before anything else: a rejected request never holds a worker.
        2. ``worker = await pool.acquire_worker()`` (``pool = app.state.worker_pool``), then the prompt from
           ``build_prompt(worker.tokenizer, request.messages)``; if that raises, release the worker and re-raise.
        3. temperature, max_tokens and top_k: the request's value when it is not None, else the server's flag
           (``args.temperature``, ``args.max_tokens``, ``args.top_k``); a temperature of 0.0 is a real choice.
        4. Return ``StreamingResponse(<async generator>, media_type="text/event-stream")``. The generator yields each
           chunk of ``generate_stream(worker, tokens, temperature, max_new_tokens, top_k)`` as soon as it comes and
           calls ``await pool.release_worker(worker)`` in a ``finally``: the worker goes back exactly once, whether
           the reply ends, the engine raises, or the client disconnects (the server then closes the generator).
        """
        # lab: begin chat-route
        validate_chat_request(request)
        pool: WorkerPool = app.state.worker_pool
        logger.info("=" * 20)
        for message in request.messages:
            logger.info("[%s]: %s", message.role.upper(), message.content)
        worker = await pool.acquire_worker()
        try:
            tokens = build_prompt(worker.tokenizer, request.messages)
        except Exception:
            await pool.release_worker(worker)
            raise
        temperature = request.temperature if request.temperature is not None else args.temperature
        max_new_tokens = request.max_tokens if request.max_tokens is not None else args.max_tokens
        top_k = request.top_k if request.top_k is not None else args.top_k

        async def stream_and_release():
            response_tokens = []
            try:
                async for chunk in generate_stream(worker, tokens, temperature, max_new_tokens, top_k):
                    data = json.loads(chunk[len("data: ") :])
                    if "token" in data:
                        response_tokens.append(data["token"])
                    yield chunk
                logger.info("[ASSISTANT] (worker %d): %s", worker.gpu_id, "".join(response_tokens))
            finally:
                await pool.release_worker(worker)

        return StreamingResponse(stream_and_release(), media_type="text/event-stream")
        # lab: end chat-route

    @app.get("/health")
    async def health():
        pool = getattr(app.state, "worker_pool", None)
        return {
            "status": "ok",
            "ready": pool is not None and len(pool.workers) > 0,
            "num_gpus": pool.num_gpus if pool else 0,
            "available_workers": pool.available_workers.qsize() if pool else 0,
        }

    @app.get("/stats")
    async def stats():
        pool: WorkerPool = app.state.worker_pool
        available = pool.available_workers.qsize()
        return {
            "total_workers": len(pool.workers),
            "available_workers": available,
            "busy_workers": len(pool.workers) - available,
            "workers": [{"gpu_id": w.gpu_id, "device": str(w.device)} for w in pool.workers],
        }

    return app


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="nanochat web server")
    p.add_argument("-n", "--num-gpus", type=int, default=1, help="number of GPU workers (model replicas)")
    p.add_argument("-i", "--source", type=str, default="sft", help="which model: sft|mid|rl")
    p.add_argument("-t", "--temperature", type=float, default=0.8, help="default temperature")
    p.add_argument("-k", "--top-k", type=int, default=50, help="default top-k (0: off)")
    p.add_argument("-m", "--max-tokens", type=int, default=512, help="default max tokens per reply")
    p.add_argument("-g", "--model-tag", type=str, default=None, help="model tag to load")
    p.add_argument("-s", "--step", type=int, default=None, help="checkpoint step to load")
    p.add_argument("-p", "--port", type=int, default=8000, help="port")
    p.add_argument(
        "-d", "--dtype", type=str, default="bfloat16", choices=["float32", "bfloat16"], help="dtype"
    )
    p.add_argument("--device-type", type=str, default="", help="cuda|cpu|mps (empty: autodetect)")
    p.add_argument("--host", type=str, default="0.0.0.0", help="bind address")  # nanochat's default
    return p


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    uvicorn.run(create_app(args), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
