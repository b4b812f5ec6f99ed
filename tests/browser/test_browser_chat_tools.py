"""The chat page (nanochat_ref/ui.html, served by scripts/chat_web.py) shows a calculator call and its output as a
tool box, never as raw special-token text, in English and Chinese.

The server is the real FastAPI app streaming nanochat's SSE events; its worker replays, token by token, a reply
shaped exactly as the Engine produces one (python call, forced output, text), so the page is tested on the real
event stream without depending on a model's sampling. That the shipped chat model itself emits such replies is
tested in tests/nanochat_ref/test_chat_model_shipped.py.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOKENIZER_DIR = REPO / "nanochat_ref" / "checkpoints" / "tokenizer"
REPLIES = {
    "en": ("What is 12 + 7?", "12 + 7", "19", "The answer is 19."),
    "zh": ("12加7等于多少？", "12+7", "19", "答案是 19。"),
}


class ReplayEngine:
    """Streams `<|python_start|>call<|python_end|><|output_start|>result<|output_end|>text<|assistant_end|>`."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.prompts: list[str] = []

    def generate(self, tokens: list[int], **kwargs: Any) -> Iterator[tuple[list[int], list[int]]]:
        tok = self.tokenizer
        prompt = tok.decode(tokens)
        self.prompts.append(prompt)
        lang = "zh" if "多少" in prompt.split("<|user_start|>")[-1] else "en"
        _, call, result, text = REPLIES[lang]
        ids = [tok.encode_special("<|python_start|>"), *tok.encode(call), tok.encode_special("<|python_end|>"),
               tok.encode_special("<|output_start|>"), *tok.encode(result), tok.encode_special("<|output_end|>"),
               *tok.encode(text), tok.encode_special("<|assistant_end|>")]  # fmt: skip
        for token in ids:
            time.sleep(0.01)
            yield [token], [1]


@pytest.fixture(scope="module")
def chat_server() -> Iterator[tuple[str, ReplayEngine]]:
    import torch
    import uvicorn

    from nanochat_ref.scripts.chat_web import Worker, WorkerPool, build_parser, create_app
    from nanochat_ref.tokenizer import RustBPETokenizer

    tokenizer = RustBPETokenizer.from_directory(str(TOKENIZER_DIR))
    engine = ReplayEngine(tokenizer)
    pool = WorkerPool(num_gpus=1, device_type="cpu")
    pool.add_worker(Worker(0, torch.device("cpu"), engine, tokenizer, nullcontext))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    app = create_app(build_parser().parse_args([]), worker_pool=pool)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "the chat server did not start"
    try:
        yield f"http://127.0.0.1:{port}", engine
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_chat_page_shows_a_calculator_call_and_its_output_as_a_tool_box(
    chat_server: tuple[str, ReplayEngine], chromium: Any, screenshots: Path, lang: str
):
    url, engine = chat_server
    question, call, result, text = REPLIES[lang]
    label, placeholder = {"en": ("Calculator", "Ask anything"), "zh": ("计算器", "随便问")}[lang]
    page = chromium.new_page(viewport={"width": 900, "height": 640})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sent: list[dict] = []
    page.on(
        "request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/chat/completions") else None
    )
    page.goto(f"{url}/?lang={lang}")
    box = page.locator("#chatInput")
    assert placeholder in (box.get_attribute("placeholder") or "")

    box.fill(question)
    box.press("Enter")
    page.locator(".message.assistant .tool .tool-output").wait_for()
    page.wait_for_function("() => !document.querySelector('#chatInput').disabled && "
                           "document.querySelector('#sendButton') && !document.querySelector('.typing')")  # fmt: skip
    page.wait_for_function(f"() => document.querySelector('.message.assistant').innerText.includes({text!r})")
    page.screenshot(path=str(screenshots / f"chat-tool-box-{lang}.png"), full_page=True)

    reply = page.locator(".message.assistant").first
    assert "<|" not in page.locator("body").inner_text()
    assert reply.locator(".tool-label").inner_text().strip().lower() == label.lower()
    assert reply.locator(".tool-call .tool-code").inner_text() == call
    assert reply.locator(".tool-output .tool-code").inner_text() == result
    assert text in reply.inner_text()

    # The next turn sends the reply's text as history, without the special-token text of its tool call.
    box.fill("ok")
    box.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('.message.assistant .tool').length === 2")
    history = sent[-1]["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "user"]
    assert history[1]["content"] == text
    assert engine.prompts[-1].split("<|assistant_start|>")[1].split("<|assistant_end|>")[0] == text
    assert errors == []
