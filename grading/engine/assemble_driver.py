"""Inside the sandbox: "assemble your own nanochat" — train a stage with the learner's files, or chat with a model.

    python -m grading.engine.assemble_driver train base|chat --profile tiny|smoke   (cwd: the learner's workspace)
    python -m grading.engine.assemble_driver chat base|chat < {"prompt": ...}        (NANOCHAT_BASE_DIR: a model)

Design choices:
- This runs in the learner's sandbox next to their code (``nanochat/`` in the work dir is their workspace), so
  nothing it prints is trusted: the worker (``grading.engine.assemble``) parses stdout with bounded patterns and
  only ever shows the result to the learner whose code printed it. It holds no secret and reads nothing but the
  workspace and the model folder it is given.
- Each stage is the real script's ``main(argv)`` called in-process (as ``nanochat_ref.speedrun`` does), with the
  speedrun's ``--tiny`` flags cut so a stage fits the assemble cap on 2 cores (``PROFILES``); ``smoke`` is the toy
  size for tests. Stage starts are announced as ``@@assemble {"stage": ...}`` lines; the scripts' own step lines
  (``step 00010/00060 ... | loss: ...``) are the loss curve.
- The trained model comes back on stdout, whatever the backend (``docker`` discards the container's /work): after
  the last step the driver prints the tokenizer files and the final checkpoint (last step of the stage's final
  phase) as ``@@assemble {"put": path, "data": base64}`` lines of at most ``CHUNK_BYTES`` bytes each. The worker
  checks every path and counts the bytes against its cap, so a learner who forges these lines gets nothing more
  than a model of their own that fails to load.
- Chat: base models complete the prompt with ``GPT.generate`` (the learner's ``gpt.py``); chat models answer in the
  chat template through ``Engine.generate`` (their ``engine.py``), as ``scripts/chat_cli.py`` does. Greedy
  (temperature 0), so the learner's reply and the reference's are comparable. The text so far is announced after
  each token (``{"partial": text}``), the whole reply last (``{"reply": text}``), so the page can show it growing.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
from collections.abc import Callable

#: Per stage, the pipeline steps ``(name, module, argv)``; cut from ``nanochat_ref.speedrun.PROFILES``.
PROFILES: dict[str, dict[str, list[tuple[str, str, list[str]]]]] = {
    "tiny": {
        "base": [
            ("shards", "make_shards", ["--num_shards", "3", "--row_groups_per_shard", "2", "--rows_per_group", "512"]),
            ("tokenizer", "tok_train", ["--vocab_size", "2048", "--max_chars", "2000000"]),
            ("base_train", "base_train", ["--tiny", "--depth", "3", "--max_seq_len", "256", "--device_batch_size", "16",
                                          "--total_batch_size", "4096", "--num_iterations", "60", "--eval_every", "100000",
                                          "--eval_tokens", "16384", "--core_metric_every", "-1",
                                          "--sample_every", "-1", "--matrix_lr", "0.03"]),
        ],
        "chat": [
            ("mid_train", "mid_train", ["--tiny", "--device_batch_size", "16", "--max_seq_len", "256",
                                        "--total_batch_size", "4096", "--num_iterations", "80", "--eval_every", "-1",
                                        "--eval_tokens", "16384",
                                        "--matrix_lr", "0.03"]),
            ("chat_sft", "chat_sft", ["--tiny", "--source", "mid", "--device_batch_size", "8",
                                      "--target_examples_per_step", "16", "--init_lr_frac", "0.1",
                                      "--num_iterations", "40"]),
        ],
    },
    "smoke": {
        "base": [
            ("shards", "make_shards", ["--num_shards", "2", "--row_groups_per_shard", "1", "--rows_per_group", "128"]),
            ("tokenizer", "tok_train", ["--vocab_size", "512", "--max_chars", "100000"]),
            ("base_train", "base_train", ["--tiny", "--depth", "1", "--max_seq_len", "64", "--device_batch_size", "4",
                                          "--total_batch_size", "256", "--num_iterations", "8", "--eval_every", "100000",
                                          "--eval_tokens", "512", "--core_metric_every", "-1",
                                          "--sample_every", "-1"]),
        ],
        "chat": [
            ("mid_train", "mid_train", ["--tiny", "--device_batch_size", "4", "--max_seq_len", "64",
                                        "--total_batch_size", "256", "--num_iterations", "4", "--eval_every", "-1",
                                        "--eval_tokens", "256"]),
            ("chat_sft", "chat_sft", ["--tiny", "--source", "mid", "--device_batch_size", "2",
                                      "--target_examples_per_step", "4", "--num_iterations", "3", "--eval_steps", "2"]),
        ],
    },
}  # fmt: skip

#: Which checkpoint folder a stage's model ends in (``checkpoint_manager.PHASE_DIRS``' keys).
FINAL_SOURCE = {"base": "base", "chat": "sft"}
#: The folders of those phases under ``NANOCHAT_BASE_DIR`` (``checkpoint_manager.PHASE_DIRS``).
PHASE_DIRS = {"base": "base_checkpoints", "sft": "chatsft_checkpoints"}
TOKENIZER_FILES = ("tokenizer.pkl", "tokenizer.tiktoken", "token_bytes.pt")
#: Bytes of a file per ``put`` line (base64 makes 3200 characters of them: a line stays under the reader's bound).
CHUNK_BYTES = 2400
MAX_REPLY_TOKENS = 48
_CKPT_RE = re.compile(r"^(model|meta)_([0-9]{6})\.(pt|json)$")


def announce(**fields: object) -> None:
    print("@@assemble " + json.dumps(fields), flush=True)


def train(stage: str, profile: str) -> None:
    import importlib

    steps = PROFILES[profile][stage]
    announce(stages=[name for name, _, _ in steps])
    if stage == "chat":
        from nanochat.chatdata import generators

        generators.main(["--out", os.environ["NANOCHAT_BASE_DIR"]])
    for name, module, argv in steps:
        announce(stage=name)
        script = importlib.import_module(f"nanochat.scripts.{module}")
        script.main(argv)
    announce(done=True)
    send_model(os.environ["NANOCHAT_BASE_DIR"], stage)


def model_files(base: str, stage: str) -> list[str]:
    """The files of a stage's model under ``base``: the tokenizer and the last step of the final checkpoint."""
    files = [f"tokenizer/{n}" for n in TOKENIZER_FILES if _plain(os.path.join(base, "tokenizer", n))]
    phase = os.path.join(base, PHASE_DIRS[FINAL_SOURCE[stage]])
    tags = (
        sorted(t for t in os.listdir(phase) if os.path.isdir(os.path.join(phase, t)))
        if os.path.isdir(phase)
        else []
    )
    if tags:
        names = [
            n
            for n in sorted(os.listdir(os.path.join(phase, tags[0])))
            if _plain(os.path.join(phase, tags[0], n))
        ]
        matches = [m for m in map(_CKPT_RE.match, names) if m]
        last = max((m[2] for m in matches), default=None)
        files += [f"{PHASE_DIRS[FINAL_SOURCE[stage]]}/{tags[0]}/{m[0]}" for m in matches if m[2] == last]
    return files


def _plain(path: str) -> bool:
    """A regular file, not a symlink (the learner's code could plant one; its target is not ours to send)."""
    return os.path.isfile(path) and not os.path.islink(path)


def send_model(base: str, stage: str) -> None:
    """Print the model's files as ``put`` lines (the worker rebuilds them; see the module docstring)."""
    for rel in model_files(base, stage):
        with open(os.path.join(base, rel), "rb") as f:
            chunk = f.read(CHUNK_BYTES)
            announce(put=rel, data=base64.b64encode(chunk).decode("ascii"))  # an empty file is one empty put
            while chunk := f.read(CHUNK_BYTES):
                announce(put=rel, data=base64.b64encode(chunk).decode("ascii"))


def reply(stage: str, prompt: str, emit: Callable[[str], None]) -> str:
    """The greedy reply to ``prompt``; ``emit`` hears the text so far after each token."""
    import torch
    from nanochat.checkpoint_manager import load_model

    torch.manual_seed(0)
    model, tokenizer, _ = load_model(FINAL_SOURCE[stage], torch.device("cpu"), phase="eval")
    if stage == "base":
        tokens = tokenizer.encode(prompt, prepend=tokenizer.get_bos_token_id())
        out: list[int] = []
        for token in model.generate(tokens, max_tokens=MAX_REPLY_TOKENS, temperature=0.0):
            out.append(token)
            emit(str(tokenizer.decode(out)))
        return str(tokenizer.decode(out))
    from nanochat.engine import Engine

    special = tokenizer.encode_special
    bos = tokenizer.get_bos_token_id()
    end = special("<|assistant_end|>")
    tokens = [bos, special("<|user_start|>"), *tokenizer.encode(prompt), special("<|user_end|>")]
    tokens.append(special("<|assistant_start|>"))
    answer: list[int] = []
    for column, _ in Engine(model, tokenizer).generate(
        tokens, num_samples=1, max_tokens=MAX_REPLY_TOKENS, temperature=0.0
    ):
        if column[0] in (end, bos):
            break
        answer.append(column[0])
        emit(str(tokenizer.decode(answer)))
    return str(tokenizer.decode(answer))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="assemble your own nanochat (runs inside the sandbox)")
    p.add_argument("action", choices=("train", "chat"), help="train a stage, or answer one prompt")
    p.add_argument("stage", choices=tuple(FINAL_SOURCE), help="base model or chat model")
    p.add_argument("--profile", choices=tuple(PROFILES), default="tiny", help="sizes (smoke: tests)")
    args = p.parse_args(argv)
    sys.path.insert(0, os.getcwd())
    if args.action == "train":
        train(args.stage, args.profile)
        return 0
    request = json.loads(sys.stdin.read(65536) or "{}")
    text = reply(args.stage, str(request.get("prompt", "")), lambda so_far: announce(partial=so_far))
    announce(reply=text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
