"""Tests for scripts/chat_web.py through HTTP (FastAPI TestClient): streaming events, limits, health, UI."""

import json
from contextlib import nullcontext

import pytest
import torch
from fastapi.testclient import TestClient

from nanochat_ref.chatdata.generators import smalltalk_conversations
from nanochat_ref.engine import Engine
from nanochat_ref.gpt import GPT, GPTConfig
from nanochat_ref.scripts.chat_web import Worker, WorkerPool, build_parser, create_app
from nanochat_ref.tokenizer import RustBPETokenizer


@pytest.fixture(scope="module")
def client():
    texts = [m["content"] for r in smalltalk_conversations(50, 0) for m in r["messages"]] + [
        "héllo wörld 你好"
    ]
    tokenizer = RustBPETokenizer.train_from_iterator(iter(texts), 300, backend="python")
    torch.manual_seed(0)
    model = GPT(GPTConfig(sequence_len=128, vocab_size=300, n_layer=1, n_head=2, n_kv_head=2, n_embd=32))
    model.init_weights()
    with torch.no_grad():
        model.lm_head.weight.normal_(0, 0.5)
    pool = WorkerPool(num_gpus=1, device_type="cpu")
    pool.add_worker(Worker(0, torch.device("cpu"), Engine(model.eval(), tokenizer), tokenizer, nullcontext))
    with TestClient(create_app(build_parser().parse_args([]), worker_pool=pool)) as c:
        yield c


def parse_events(text):
    chunks = text.split("\n\n")
    assert chunks[-1] == ""
    events = []
    for chunk in chunks[:-1]:
        assert chunk.startswith("data: ") and "\n" not in chunk
        events.append(json.loads(chunk[len("data: ") :]))
    return events


def chat(client, **body):
    return client.post("/chat/completions", json={"messages": [{"role": "user", "content": "hi"}], **body})


def test_it_streams_well_formed_server_sent_events(client):
    r = chat(client, max_tokens=20, temperature=1.0)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = parse_events(r.text)
    assert events[-1] == {"done": True}
    tokens = events[:-1]
    assert tokens and all(set(e) == {"token", "gpu"} and e["gpu"] == 0 and e["token"] for e in tokens)


class ByteByByteEngine:
    """Emits the UTF-8 bytes of a fixed text one token at a time, then <|assistant_end|>."""

    def __init__(self, tokenizer, text):
        self.ids = [tokenizer.enc.encode_single_token(bytes([b])) for b in text.encode("utf-8")]
        self.ids.append(tokenizer.encode_special("<|assistant_end|>"))

    def generate(self, tokens, **kwargs):
        for token in self.ids:
            yield [token], [1]


def test_it_never_splits_a_multibyte_character_across_events(client):
    pool = client.app.state.worker_pool
    worker = pool.workers[0]
    original = worker.engine
    worker.engine = ByteByByteEngine(worker.tokenizer, "aé🌍!")
    try:
        events = parse_events(chat(client).text)
    finally:
        worker.engine = original
    assert [e.get("token") for e in events] == ["a", "é", "🌍", "!", None]
    assert events[-1] == {"done": True}


def test_it_respects_max_tokens(client):
    events = parse_events(chat(client, max_tokens=3, temperature=1.0).text)
    assert 1 <= len(events) <= 4


def test_it_releases_the_worker_after_a_stream(client):
    chat(client, max_tokens=5)
    assert client.get("/stats").json()["available_workers"] == 1


def test_health_and_stats_describe_the_pool(client):
    assert client.get("/health").json() == {
        "status": "ok",
        "ready": True,
        "num_gpus": 1,
        "available_workers": 1,
    }
    stats = client.get("/stats").json()
    assert stats == {"total_workers": 1, "available_workers": 1, "busy_workers": 0,
                     "workers": [{"gpu_id": 0, "device": "cpu"}]}  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        {"messages": []},
        {"messages": [{"role": "system", "content": "x"}]},
        {"messages": [{"role": "user", "content": ""}]},
        {"messages": [{"role": "user", "content": "x" * 8001}]},
        {"messages": [{"role": "user", "content": "x" * 8000}] * 5},
        {"messages": [{"role": "user", "content": "x"}] * 501},
        {"messages": [{"role": "user", "content": "x"}], "temperature": 2.5},
        {"messages": [{"role": "user", "content": "x"}], "temperature": -0.1},
        {"messages": [{"role": "user", "content": "x"}], "top_k": 201},
        {"messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
        {"messages": [{"role": "user", "content": "x"}], "max_tokens": 4097},
    ],
)
def test_it_rejects_requests_that_break_the_limits(client, body):
    r = client.post("/chat/completions", json=body)
    assert r.status_code == 400 and r.json()["detail"]


def test_it_rejects_malformed_json_bodies(client):
    assert client.post("/chat/completions", json={"messages": "hi"}).status_code == 422
    assert client.get("/chat/completions").status_code == 405


def test_it_serves_a_self_contained_ui_pointing_at_the_same_origin(client):
    r = client.get("/")
    assert r.status_code == 200 and "<title>nanochat</title>" in r.text
    assert "const API_URL = '';" in r.text
    assert "http://" not in r.text.replace("http://www.w3.org", "") and "https://" not in r.text
