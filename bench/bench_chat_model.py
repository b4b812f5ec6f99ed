"""Serving speed of the shipped chat model (nanochat_ref/checkpoints/chat) through the chat page's streaming API.

    .venv/bin/python bench/bench_chat_model.py               # torch's default threads
    .venv/bin/python bench/bench_chat_model.py --threads 2   # the "2 CPU cores" figure

Loads the model as `scripts.chat_web` does, sends a few prompts of each domain to `POST /chat/completions`
(FastAPI TestClient, greedy), and prints `name: value` lines: streamed characters and generated tokens per
second (every token the Engine yields, forced tool outputs included), and time to first event.
A figure, not a test: the machine's load changes it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

PROMPTS = [
    "What is 23 + 58?",
    "How many r are in strawberry?",
    "Who are you?",
    "Write a poem about the sea.",
    "12乘以7等于多少？",
    "你是谁？",
]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Serving speed of the shipped chat model")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--rounds", type=int, default=2, help="passes over the prompts")
    args = p.parse_args(argv)
    os.environ["NANOCHAT_BASE_DIR"] = os.path.join(REPO, "nanochat_ref", "checkpoints", "chat")
    import torch
    from fastapi.testclient import TestClient

    from nanochat_ref.scripts.chat_web import build_parser, create_app

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    app = create_app(build_parser().parse_args(["-i", "sft", "--device-type", "cpu"]))
    with TestClient(app) as client:
        worker = app.state.worker_pool.workers[0]
        generate, counted = worker.engine.generate, [0]

        def counting_generate(*a, **k):  # every token the Engine yields, forced tool outputs included
            for item in generate(*a, **k):
                counted[0] += 1
                yield item

        worker.engine.generate = counting_generate
        chars = 0
        first_event: list[float] = []
        t_total = 0.0
        for _ in range(args.rounds):
            for prompt in PROMPTS:
                body = {
                    "messages": [{"role": "user", "content": prompt}],
                    "temperature": 0.0,
                    "max_tokens": 128,
                }
                t0 = time.perf_counter()
                text = ""
                with client.stream("POST", "/chat/completions", json=body) as r:
                    for line in r.iter_lines():
                        if line.startswith("data: ") and '"token"' in line:
                            if not text:
                                first_event.append(time.perf_counter() - t0)
                            text += json.loads(line[6:])["token"]
                t_total += time.perf_counter() - t0
                chars += len(text)
        tokens = counted[0]
    print(f"threads: {torch.get_num_threads()}")
    print(f"replies: {args.rounds * len(PROMPTS)}")
    print(f"chat_model_tokens_per_s: {tokens / t_total:.1f}")
    print(f"chat_model_chars_per_s: {chars / t_total:.1f}")
    print(f"chat_model_first_event_ms: {1000 * sum(first_event) / max(len(first_event), 1):.0f}")


if __name__ == "__main__":
    main()
