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
- Chat: base models complete the prompt with ``GPT.generate`` (the learner's ``gpt.py``); chat models answer in the
  chat template through ``Engine.generate`` (their ``engine.py``), as ``scripts/chat_cli.py`` does. Greedy
  (temperature 0), so the learner's reply and the reference's are comparable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

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
MAX_REPLY_TOKENS = 48


def announce(**fields: object) -> None:
    print("@@assemble " + json.dumps(fields), flush=True)


def train(stage: str, profile: str) -> None:
    import importlib

    import torch

    torch.set_num_threads(max(1, int(os.environ.get("LAB_ASSEMBLE_THREADS", "1"))))
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


def reply(stage: str, prompt: str) -> str:
    import torch
    from nanochat.checkpoint_manager import load_model

    torch.manual_seed(0)
    model, tokenizer, _ = load_model(FINAL_SOURCE[stage], torch.device("cpu"), phase="eval")
    if stage == "base":
        tokens = tokenizer.encode(prompt, prepend=tokenizer.get_bos_token_id())
        out = list(model.generate(tokens, max_tokens=MAX_REPLY_TOKENS, temperature=0.0))
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
    text = reply(args.stage, str(request.get("prompt", "")))
    announce(reply=text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
