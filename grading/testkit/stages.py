"""The shipped stage chain (base -> mid -> SFT -> RL) for the modules that train from it, and the chat checks.

Design choices:

- The checkpoints are the ones in ``nanochat_ref/checkpoints/`` (``speedrun --tiny --export``), read in the judge
  (which mounts ``nanochat_ref``). The learner's process gets byte-for-byte copies of the tokenizer and of the
  stages a module starts from, written into a fresh temp folder that becomes its ``NANOCHAT_BASE_DIR``, plus the
  identity conversations written by ``chatdata.generators`` (what the speedrun does before midtraining).
- A learner's trained weights come back as a state dict of tensors (``torch.load(..., weights_only=True)`` in
  the learner's process; tensors cross the pipe as data) and are evaluated by the judge with the reference model,
  so the numbers that grade a run never come from learner code.
- The chat checks are *format* checks, the skills midtraining and SFT teach a ~2M-parameter model: on fixed
  held-out prompts of each task, greedy decoding (the Engine, with its calculator), a reply is valid when it ends
  with ``<|assistant_end|>`` within the token budget and its text has the task's shape (a single offered letter for
  multiple choice, ``#### <number>`` for arithmetic and letter counting, any non-empty text for small talk).
- Losses are the mean cross-entropy over a fixed list of rendered conversations: every token (``masked=False``,
  midtraining's objective) or only the supervised ones (``masked=True``, SFT's).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STAGE_DIRS = {"base": "base_checkpoints", "mid": "mid_checkpoints", "sft": "chatsft_checkpoints"}
_LEARNER_DIRS: dict[tuple[str, ...], str] = {}
_NUMBER_ANSWER = re.compile(r"#### *-?[\d,]+(\.\d+)?\s*$")


def shipped_dir() -> Path:
    """``nanochat_ref/checkpoints`` (the frozen chain)."""
    import nanochat_ref

    return Path(nanochat_ref.__file__).resolve().parent / "checkpoints"


def _stage_files(stage: str) -> list[Path]:
    folder = shipped_dir() / STAGE_DIRS[stage]
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert files, f"no shipped {stage} checkpoint under {folder}: run nanochat_ref.speedrun --tiny --export"
    return files


def learner_stage_base(learner: Any, stages: tuple[str, ...]) -> str:
    """A learner-side base dir with the shipped tokenizer, the ``stages``' checkpoints and the identity rows.

    Built once per learner process (and reused while it exists); it is left as the learner's NANOCHAT_BASE_DIR.
    """
    os_mod = learner.module("os")
    base = _LEARNER_DIRS.get(stages)
    if base is None or not os_mod.path.isdir(base):
        base = learner.module("tempfile").mkdtemp(prefix="stages-")
        path_cls = learner.module("pathlib").Path
        root = shipped_dir()
        files = sorted((root / "tokenizer").iterdir()) + [f for s in stages for f in _stage_files(s)]
        for f in files:
            target = os_mod.path.join(base, str(f.relative_to(root)))
            os_mod.makedirs(os_mod.path.dirname(target), exist_ok=True)
            path_cls(target).write_bytes(f.read_bytes())
        learner.module("nanochat.chatdata.generators").main(["--out", base])
        _LEARNER_DIRS[stages] = base
    os_mod.environ.update({"NANOCHAT_BASE_DIR": base})
    return base


def judge_stage_base(folder: Path, stage: str) -> str:
    """The judge's twin of :func:`learner_stage_base` for one stage, in ``folder``, for the reference's runs."""
    import shutil

    from nanochat_ref.chatdata import generators

    from .environ import env_vars

    for name in ("tokenizer", STAGE_DIRS[stage]):
        shutil.copytree(shipped_dir() / name, folder / name)
    with env_vars(os.environ, NANOCHAT_BASE_DIR=str(folder)):
        generators.main(["--out", str(folder)])
    return str(folder)


def shipped_model(stage: str) -> tuple[Any, Any, dict]:
    """The judge's copy of a shipped stage: ``(model, tokenizer, meta)``, fp32 on CPU, in eval mode."""
    from nanochat_ref.checkpoint_manager import load_model

    from .environ import env_vars

    with env_vars(os.environ, NANOCHAT_BASE_DIR=str(shipped_dir())):
        model, tokenizer, meta = load_model(stage, "cpu", phase="eval")
    return model, tokenizer, meta


def model_from_state(state: dict, meta: dict) -> Any:
    """A reference GPT of ``meta``'s config holding ``state`` (a learner's trained weights), fp32, eval mode."""
    import torch

    from nanochat_ref.gpt import GPT, GPTConfig

    from .numbers import check_tensor

    with torch.device("meta"):
        model = GPT(GPTConfig(**meta["model_config"]))
    model.to_empty(device="cpu")
    model.init_weights()
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    assert not missing, f"the saved model has no {missing}: was model.state_dict() saved?"
    clean = {
        k: check_tensor(state[k], shape=v.shape, what=f"saved parameter {k}").float()
        for k, v in expected.items()
    }
    model.load_state_dict(clean, strict=True, assign=True)
    model.eval()
    return model


def learner_saved_state(learner: Any, folder: str, step: int) -> dict:
    """The state dict of ``<folder>/model_<step:06d>.pt`` (a learner-side checkpoint), loaded weights-only."""
    os_mod = learner.module("os")
    path = os_mod.path.join(folder, f"model_{step:06d}.pt")
    found = sorted(os_mod.listdir(folder)) if os_mod.path.isdir(folder) else []
    assert os_mod.path.isfile(path), (
        f"no {path}; the folder holds {found}: the run must save its last step there"
    )
    state = learner.value(learner.module("torch").load(path, weights_only=True))
    assert isinstance(state, dict), f"{path} holds {type(state).__name__}, not a state dict"
    return state


# --- chat checks ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One held-out prompt: which task, the conversation, and what a valid reply looks like."""

    task: str
    conversation: dict
    kind: str  # "letter" | "number" | "text"


def format_probes(per_task: int = 6) -> list[Probe]:
    """Fixed held-out prompts, ``per_task`` from each chat task the stages train on (test splits only)."""
    from nanochat_ref.tasks.arc import ARC
    from nanochat_ref.tasks.gsm8k import GSM8K
    from nanochat_ref.tasks.mmlu import MMLU
    from nanochat_ref.tasks.smoltalk import SmolTalk
    from nanochat_ref.tasks.spellingbee import SpellingBee

    tasks = (
        ("ARC-Easy", ARC(subset="ARC-Easy", split="test"), "letter"),
        ("MMLU", MMLU(subset="all", split="test"), "letter"),
        ("GSM8K", GSM8K(subset="main", split="test"), "number"),
        ("SpellingBee", SpellingBee(size=per_task, split="test"), "number"),
        ("SmolTalk", SmolTalk(split="test"), "text"),
    )
    return [Probe(name, task[i], kind) for name, task, kind in tasks for i in range(per_task)]


def reply(model: Any, tokenizer: Any, conversation: dict, max_tokens: int) -> tuple[str, bool]:
    """Greedy reply to ``conversation`` (its last assistant turn dropped): ``(text, ended)``.

    ``ended`` is True when the model wrote ``<|assistant_end|>`` within ``max_tokens``; the calculator's forced
    tokens are part of the text, as the Engine makes them.
    """
    import torch

    from nanochat_ref.engine import Engine

    end = tokenizer.encode_special("<|assistant_end|>")
    prompt = tokenizer.render_for_completion(conversation)
    budget = min(max_tokens, model.config.sequence_len - len(prompt))
    out: list[int] = []
    ended = False
    with torch.no_grad():
        for column, _ in Engine(model, tokenizer).generate(prompt, max_tokens=budget, temperature=0.0):
            if column[0] == end:
                ended = True
                break
            out.append(column[0])
    return tokenizer.decode(out), ended


def valid_reply(probe: Probe, text: str, ended: bool) -> bool:
    """Whether a reply has the task's format (and ended with ``<|assistant_end|>``)."""
    if not ended:
        return False
    if probe.kind == "letter":
        return text.strip() in probe.conversation["letters"]
    if probe.kind == "number":
        return bool(_NUMBER_ANSWER.search(text.strip()))
    return bool(text.strip())


def format_rates(model: Any, tokenizer: Any, probes: list[Probe], max_tokens: int = 128) -> dict[str, float]:
    """Per task, the fraction of probes whose greedy reply is valid (``valid_reply``); key ``all`` for the mean."""
    hits: dict[str, list[bool]] = {}
    for probe in probes:
        text, ended = reply(model, tokenizer, probe.conversation, max_tokens)
        hits.setdefault(probe.task, []).append(valid_reply(probe, text, ended))
    rates = {task: sum(v) / len(v) for task, v in hits.items()}
    rates["all"] = sum(sum(v) for v in hits.values()) / sum(len(v) for v in hits.values())
    return rates


def chat_loss(
    model: Any, tokenizer: Any, conversations: list[dict], *, masked: bool, max_tokens: int = 256
) -> float:
    """Mean cross-entropy (nats per predicted token) over rendered conversations; ``masked``: supervised only."""
    import torch
    import torch.nn.functional as F

    total, count = 0.0, 0
    with torch.no_grad():
        for conversation in conversations:
            ids, mask = tokenizer.render_conversation(conversation, max_tokens=max_tokens)
            x = torch.tensor([ids[:-1]], dtype=torch.long)  # (1, T)
            y = torch.tensor([ids[1:]], dtype=torch.long)  # (1, T)
            if masked:
                y[0, torch.tensor(mask[1:]) == 0] = -1
            logits = model(x).float()  # (1, T, V)
            loss = F.cross_entropy(
                logits.view(-1, logits.size(-1)), y.view(-1), ignore_index=-1, reduction="sum"
            )
            total += float(loss)
            count += int((y >= 0).sum())
    return total / max(count, 1)
