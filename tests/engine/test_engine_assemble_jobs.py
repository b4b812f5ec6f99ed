""" "Assemble your own nanochat" jobs in a real sandbox: a stage's pipeline streams its progress and loss and sends
the model back on stdout; a reply streams its text so far; what a learner's pipeline can get wrong (a crash, too
much output, forged or oversized model files, no model at all) ends the run with a message, never an exception.

The learner's files here are a toy pipeline (their ``nanochat/scripts/*`` and ``checkpoint_manager``, each a few
lines) so a job costs the interpreter, not a training run; the real scripts run the same driver in the platform's
assemble tests and the browser walks. The reference reply is the real one (``nanochat_ref`` and the shipped
checkpoints). The jobs run on the default backend (``SANDBOX_BACKEND``): `make test` runs the first two on Docker
too, where the model can only come back on stdout.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from grading.engine import assemble
from sandbox.limits import resolve

pytestmark = pytest.mark.slow

LIMITS = resolve(
    {
        "wall_seconds": 120,
        "cpu_seconds": 120,
        "memory_bytes": 3 * 2**30,
        "work_bytes": 256 * 2**20,
        "output_bytes": assemble.OUTPUT_BYTES,
    }
)

# The learner's toy pipeline: base = shards, tokenizer, training; chat = chat data, midtraining, SFT.
SCRIPTS = {
    "nanochat/__init__.py": "",
    "nanochat/scripts/__init__.py": "",
    "nanochat/chatdata/__init__.py": "",
    "nanochat/chatdata/generators.py": "def main(argv):\n    print('chat data', argv)\n",
    # what the driver reads as its own but is not: broken JSON, a JSON value that is no object
    "nanochat/scripts/make_shards.py": "def main(argv):\n    print('@@assemble {broken')\n    print('@@assemble [1]')\n",
    "nanochat/scripts/tok_train.py": textwrap.dedent(
        """
        import os

        def main(argv):
            folder = os.path.join(os.environ["NANOCHAT_BASE_DIR"], "tokenizer")
            os.makedirs(folder, exist_ok=True)
            for name in ("tokenizer.pkl", "token_bytes.pt"):
                with open(os.path.join(folder, name), "wb") as f:
                    f.write(name.encode())
        """
    ),
    "nanochat/scripts/base_train.py": textwrap.dedent(
        """
        import os, sys

        def main(argv):
            for step in range(1, 5):
                print(f"step {step:05d}/00004 ({25 * step:.2f}%) | loss: {5.0 - step:.4f} | dt: 1ms", flush=True)
            print("a warning of the learner's", file=sys.stderr)
            folder = os.path.join(os.environ["NANOCHAT_BASE_DIR"], "base_checkpoints", "d1")
            os.makedirs(folder, exist_ok=True)
            for step, weights in ((2, b"early"), (4, b"W" * 5000 + b"base weights")):
                with open(os.path.join(folder, f"model_{step:06d}.pt"), "wb") as f:
                    f.write(weights)
                with open(os.path.join(folder, f"meta_{step:06d}.json"), "w") as f:
                    f.write("{}")
        """
    ),
    "nanochat/scripts/mid_train.py": textwrap.dedent(
        """
        import os

        def main(argv):
            assert os.path.exists(os.path.join(os.environ["NANOCHAT_BASE_DIR"], "base_checkpoints", "d1"))
            for step in range(1, 251):
                print(f"step {step:05d} ({step / 2.5:.1f}%) | loss: {3.0 / step}", flush=True)
        """
    ),
    "nanochat/scripts/chat_sft.py": textwrap.dedent(
        """
        import os

        def main(argv):
            print("Step 00002/00002 | train loss: 1.25", flush=True)
            folder = os.path.join(os.environ["NANOCHAT_BASE_DIR"], "chatsft_checkpoints", "d1")
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "model_000001.pt"), "wb") as f:
                f.write(b"chat weights")
            with open(os.path.join(folder, "meta_000001.json"), "w") as f:
                f.write("{}")
        """
    ),
    # a model that "generates" the tail of its weights file, one character a token
    "nanochat/checkpoint_manager.py": textwrap.dedent(
        """
        import glob, os

        PHASES = {"base": "base_checkpoints", "sft": "chatsft_checkpoints"}

        class Tokenizer:
            def encode(self, text, prepend=None):
                return [ord(c) for c in text]
            def decode(self, ids):
                return "".join(chr(i) for i in ids)
            def get_bos_token_id(self):
                return 0
            def encode_special(self, name):
                return {"<|assistant_end|>": 1}.get(name, 2)

        class Model:
            def __init__(self, text):
                self.text = text
            def generate(self, tokens, max_tokens, temperature):
                for c in self.text[-max_tokens:]:
                    yield ord(c)

        def load_model(source, device, phase):
            print("loading the model")
            (path,) = glob.glob(os.path.join(os.environ["NANOCHAT_BASE_DIR"], PHASES[source], "*", "model_*.pt"))
            with open(path) as f:
                return Model(f.read()), Tokenizer(), {}
        """
    ),
    "nanochat/engine.py": textwrap.dedent(
        """
        class Engine:
            def __init__(self, model, tokenizer):
                self.model = model
            def generate(self, tokens, num_samples, max_tokens, temperature):
                for token in self.model.generate(tokens, max_tokens, temperature):
                    yield [token], [1]
                yield [1], [1]
        """
    ),
}


@pytest.fixture(scope="module", autouse=True)
def engine_answers() -> None:
    """On ``SANDBOX_BACKEND=docker`` (`make test`'s engine-docker area) the jobs run in containers: skip without an
    engine, as the golden runs do."""
    if os.environ.get("SANDBOX_BACKEND") == "docker":
        from sandbox.base import SandboxError
        from sandbox.docker import connect

        try:
            connect().close()
        except SandboxError as exc:
            pytest.skip(f"SANDBOX_BACKEND=docker but no Docker engine here ({exc})")


def workspace(**changes: str) -> dict[str, bytes]:
    return {path: text.encode() for path, text in {**SCRIPTS, **changes}.items()}


def train(stage: str, store: Path, start_store: Path | None = None, **changes: str) -> list[dict[str, Any]]:
    return list(
        assemble.train(
            stage=stage,
            workspace=workspace(**changes),
            store=store,
            start_store=start_store,
            limits=LIMITS,
            profile="smoke",
        )
    )


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def base_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    store = tmp_path_factory.mktemp("learner") / "base"
    return store, train("base", store)


def test_a_base_run_streams_progress_and_loss_and_brings_the_model_back(base_store):
    store, events = base_store
    end = events[-1]
    assert end["type"] == "end" and end["ok"] is True, end
    assert end["model_bytes"] == len("tokenizer.pkl") + len("token_bytes.pt") + 5000 + len("base weights") + 2
    progress = [e["fraction"] for e in events if e["type"] == "progress"]
    assert progress[:2] == [0.0, 1 / 3] and progress[-1] == pytest.approx(2 / 3 + 1 / 3)
    assert progress == sorted(progress)
    metrics = [(e["series"], e["x"], e["y"]) for e in events if e["type"] == "metric"]
    assert metrics == [("loss/base_train", step, 5.0 - step) for step in range(1, 5)]
    # the last step only, and the tokenizer: the job's other files stay behind
    assert files_under(store) == {
        "base_checkpoints/d1/meta_000004.json": b"{}",
        "base_checkpoints/d1/model_000004.pt": b"W" * 5000 + b"base weights",
        "tokenizer/token_bytes.pt": b"token_bytes.pt",
        "tokenizer/tokenizer.pkl": b"tokenizer.pkl",
    }


def test_the_learners_model_answers_and_streams_its_text_so_far(base_store):
    store, _ = base_store
    seen: list[str] = []
    answer = assemble.reply(
        stage="base", prompt="Hi", limits=LIMITS, workspace=workspace(), store=store, on_text=seen.append
    )
    text = ("W" * 5000 + "base weights")[-48:]
    assert answer == {"ok": True, "text": text, "message": ""}
    assert len(seen) == 48 and seen[0] == text[0] and seen[-1] == text
    assert all(later.startswith(earlier) for earlier, later in zip(seen, seen[1:], strict=False))


def test_the_chat_stage_trains_from_the_learners_base_model_and_chats_through_their_engine(
    base_store, tmp_path
):
    base, _ = base_store
    refused = train("chat", tmp_path / "chat")
    message = "assemble the base model first: the chat model starts from it"
    assert refused == [{"type": "end", "ok": False, "message": message}]

    events = train("chat", tmp_path / "chat", start_store=base)
    assert events[-1]["ok"] is True, events[-1]
    # the curve keeps every step up to half its points, then every other one
    mid = [e["x"] for e in events if e["type"] == "metric" and e["series"] == "loss/mid_train"]
    assert mid == [*range(1, 101), *range(102, 251, 2)]
    sft = [(e["x"], e["y"]) for e in events if e["type"] == "metric" and e["series"] == "loss/chat_sft"]
    assert sft == [(2, 1.25)]
    kept = files_under(tmp_path / "chat")
    assert kept["chatsft_checkpoints/d1/model_000001.pt"] == b"chat weights"
    assert (
        kept["tokenizer/tokenizer.pkl"] == b"tokenizer.pkl"
    )  # their base model's tokenizer, carried forward
    answer = assemble.reply(
        stage="chat", prompt="Hi", limits=LIMITS, workspace=workspace(), store=tmp_path / "chat"
    )
    assert answer == {"ok": True, "text": "chat weights", "message": ""}


def test_the_reference_model_answers_the_same_prompt():
    seen: list[str] = []
    answer = assemble.reply(
        stage="base", prompt="The capital of France is", limits=LIMITS, on_text=seen.append
    )
    assert answer["ok"] is True, answer
    assert answer["text"].strip() and seen[-1] == answer["text"]


def test_a_reply_needs_a_model_and_says_why_the_learners_one_did_not_answer(base_store, tmp_path):
    missing = assemble.reply(
        stage="base", prompt="Hi", limits=LIMITS, workspace=workspace(), store=tmp_path / "none"
    )
    assert missing == {"ok": False, "text": "", "message": "no model yet: assemble it first"}
    store, _ = base_store
    broken = workspace(
        **{"nanochat/checkpoint_manager.py": "def load_model(*a, **k):\n    raise OSError('my bug')\n"}
    )
    answer = assemble.reply(stage="base", prompt="Hi", limits=LIMITS, workspace=broken, store=store)
    assert answer["ok"] is False
    assert (
        answer["message"].startswith("the model did not answer (exited).")
        and "OSError: my bug" in answer["message"]
    )


def test_a_pipeline_that_crashes_ends_the_run_with_its_traceback(tmp_path):
    crash = "def main(argv):\n    raise RuntimeError('loss exploded')\n"
    events = train("base", tmp_path / "store", **{"nanochat/scripts/base_train.py": crash})
    end = events[-1]
    assert end["ok"] is False and end["message"].startswith("your pipeline stopped (exited, exit 1).")
    assert "RuntimeError: loss exploded" in end["message"]
    assert end["wall_seconds"] > 0 and not (tmp_path / "store").exists()


def test_a_pipeline_that_leaves_no_model_keeps_nothing(tmp_path):
    events = train(
        "base", tmp_path / "store", **{"nanochat/scripts/base_train.py": "def main(argv):\n    pass\n"}
    )
    assert events[-1]["ok"] is False
    assert events[-1]["message"] == "the run ended without a tokenizer and a checkpoint"
    assert not (tmp_path / "store").exists()


FORGE = (
    "def main(argv):\n    print('@@assemble ' + {line!r}, flush=True)\n    print('@@assemble ' + {line!r})\n"
)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"put": "../../escaped.pt", "data": ""}', "the run sent back a file that is not part of a model"),
        (
            '{"put": "base_checkpoints/d1/notes.txt", "data": ""}',
            "the run sent back a file that is not part of a model",
        ),
        (
            '{"put": "tokenizer/tokenizer.pkl", "data": "not base64!"}',
            "the run sent back a model file that does not decode",
        ),
    ],
)
def test_forged_model_lines_write_nothing_outside_a_model(tmp_path, line, message):
    events = train("base", tmp_path / "store", **{"nanochat/scripts/make_shards.py": FORGE.format(line=line)})
    assert events[-1]["ok"] is False and events[-1]["message"] == message
    assert not (tmp_path / "store").exists()
    assert not list(tmp_path.parent.rglob("escaped.pt"))


def test_a_model_over_the_cap_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(assemble, "STORE_BYTES", 4096)
    events = train("base", tmp_path / "store")
    assert events[-1]["ok"] is False
    assert events[-1]["message"] == "the model takes more than the 4096 bytes an assembled model may"
    assert not (tmp_path / "store").exists()


def test_a_pipeline_that_prints_past_its_output_cap_is_stopped(tmp_path):
    small = resolve({"wall_seconds": 60, "memory_bytes": 3 * 2**30, "output_bytes": 64 * 1024})
    flood = "def main(argv):\n    while True:\n        print('x' * 1000)\n"
    events = list(
        assemble.train(
            stage="base",
            workspace=workspace(**{"nanochat/scripts/make_shards.py": flood}),
            store=tmp_path / "store",
            start_store=None,
            limits=small,
        )
    )
    assert events[-1]["ok"] is False
    assert events[-1]["message"].startswith("your pipeline printed more than its output cap")
