"""The capstone, end to end: identity data -> a short SFT on it -> held-out probes -> a written summary.

    python -m nanochat.scripts.capstone                  # from the shipped SFT checkpoint, the graded recipe
    python -m nanochat.scripts.capstone --steps 2        # a smoke run

nanochat does these as lines of `speedrun.sh`: `dev/gen_synthetic_data.py` writes `identity_conversations.jsonl`,
and `scripts/chat_sft.py` mixes it in as a `CustomJSON` task among the other SFT tasks. This script runs the same
chain in one process, on the tiny model, and measures what changed.

Design choices:

- **Held-out probes.** `PROBES` are questions about the facts of `identity_data.KNOWLEDGE`, phrased differently from
  every question the generator writes; each names the short text (`expect`) a correct reply contains. A probe
  that leaked into the training data would measure memory, not learning, so `drop_leaks` removes every generated
  conversation with a user turn equal to a probe question (compared after `normalize`: case, punctuation and
  spacing do not hide a leak). The held-out identity conversations (for a loss) come from another seed, minus any
  conversation that is also a training one.
- **Mixed, not alone.** Fine-tuning on identity rows only teaches the facts and erodes the earlier skills
  (catastrophic forgetting); `capstone_mixture` repeats the identity rows `epochs` times (as nanochat's midtraining
  lists its `CustomJSON` twice) and shuffles them with rows of the earlier SFT tasks (`TaskMixture`).
- **The same loss as SFT.** `finetune` reuses `chat_sft`'s `sft_data_generator` (padding, the assistant-only mask)
  and `set_lr`, with the LR decaying linearly to zero over `--steps`; `masked_loss` measures held-out rows with the
  same mask: only assistant tokens count.
- **Measured before and after on the same model object:** probe accuracy (greedy replies, a hit when the reply
  contains `expect`, ignoring case), the held-out identity loss and the earlier-skill loss (held-out rows of the
  earlier tasks' test splits: the forgetting check).
- **The summary is written from the measured numbers** (`write_summary`) into `<base>/report/capstone.md`, where
  nanochat's report sections live; the fine-tuned weights go to `<base>/chatsft_checkpoints/capstone/`.
"""

from __future__ import annotations

import argparse
import os
import re
import time

import torch

from ..checkpoint_manager import load_model, save_checkpoint
from ..common import get_base_dir, print0
from ..engine import Engine
from ..tasks.arc import ARC
from ..tasks.common import TaskMixture
from ..tasks.customjson import CustomJSON
from ..tasks.gsm8k import GSM8K
from ..tasks.smoltalk import SmolTalk
from ..tasks.spellingbee import SpellingBee
from .chat_sft import set_lr, sft_data_generator

# Held-out probes: questions in wrappers the generator never writes (and one rephrased outright); `expect` is text
# of the fact's KNOWLEDGE value that a correct reply contains.
PROBES: list[dict] = [
    {"question": "Tell me: what is your name?", "fact": "name", "expect": "nanochat"},
    {"question": "Excuse me, who built you?", "fact": "creator", "expect": "Karpathy"},
    {"question": "Out of curiosity, who created you?", "fact": "year", "expect": "2025"},
    {"question": "Tell me: what is your license?", "fact": "license", "expect": "MIT"},
    {"question": "Excuse me, how much did you cost?", "fact": "cost", "expect": "$100"},
    {"question": "One more thing: what did your training cost?", "fact": "cost", "expect": "$100"},
    {"question": "Out of curiosity, can you browse the web?", "fact": "limitations", "expect": "no internet"},
    {"question": "Tell me: are you always right?", "fact": "limitations", "expect": "mistakes"},
    {"question": "Excuse me, what is your architecture?", "fact": "architecture", "expect": "Transformer"},
    {"question": "One more thing: how do you work?", "fact": "architecture", "expect": "Transformer"},
    {"question": "Out of curiosity, how were you trained?", "fact": "training", "expect": "FineWeb"},
    {"question": "Which person made you?", "fact": "creator", "expect": "Karpathy"},
]


# --- step 4: probes that stay held out --------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Lowercase, every run of characters that are not letters or digits replaced by one space, stripped."""
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def drop_leaks(conversations: list[list[dict]], probes: list[dict]) -> tuple[list[list[dict]], int]:
    """The conversations none of whose user turns equals a probe question (after `normalize`), and how many went."""
    questions = {normalize(p["question"]) for p in probes}
    kept = [
        c
        for c in conversations
        if not any(m["role"] == "user" and normalize(m["content"]) in questions for m in c)
    ]
    return kept, len(conversations) - len(kept)


def make_identity_data(path: str, n: int, seed: int, probes: list[dict], n_held_out: int = 32) -> dict:
    """Generate `n` conversations from `seed`, drop the probe leaks, write the rest to `path`; return the record.

    Returns ``{"rows": <conversations written>, "dropped": <leaks dropped>, "held_out": <list of conversations>}``:
    ``held_out`` is at most `n_held_out` conversations generated from ``seed + 1`` that are not training rows.
    """
    import identity_data

    kept, dropped = drop_leaks(identity_data.generate_conversations(n, seed=seed), probes)
    rows = identity_data.write_jsonl(kept, path)
    seen = {repr(c) for c in kept}
    others, _ = drop_leaks(identity_data.generate_conversations(4 * n_held_out, seed=seed + 1), probes)
    held_out = [c for c in others if repr(c) not in seen][:n_held_out]
    return {"rows": rows, "dropped": dropped, "held_out": held_out}


# --- step 5: the mixture ----------------------------------------------------------------------------------------


def earlier_tasks(rows: int) -> list:
    """`rows` training rows of each earlier SFT task (the tiny SFT mixture's tasks, train splits)."""
    return [
        ARC(subset="ARC-Easy", split="train", stop=rows),
        GSM8K(subset="main", split="train", stop=rows),
        SmolTalk(split="train", stop=rows),
        SpellingBee(size=rows, split="train"),
    ]


def capstone_mixture(identity_path: str, epochs: int, others: list) -> TaskMixture:
    """A `TaskMixture` of the identity file as `CustomJSON`, listed `epochs` times, and every task of `others`."""
    return TaskMixture([CustomJSON(filepath=identity_path) for _ in range(epochs)] + list(others))


# --- step 6: measuring ------------------------------------------------------------------------------------------


def score_reply(reply: str, expect: str) -> bool:
    """A probe's hit: `expect` occurs in `reply`, ignoring case."""
    return expect.lower() in reply.lower()


def answer(model, tokenizer, question: str, max_tokens: int = 48) -> str:
    """The model's greedy reply to a one-turn conversation (without `<|assistant_end|>`)."""
    conversation = {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": ""}]}
    prompt = tokenizer.render_for_completion(conversation)
    end = tokenizer.encode_special("<|assistant_end|>")
    budget = min(max_tokens, model.config.sequence_len - len(prompt))
    out: list[int] = []
    with torch.no_grad():
        for column, _ in Engine(model, tokenizer).generate(prompt, max_tokens=budget, temperature=0.0):
            if column[0] == end:
                break
            out.append(column[0])
    return tokenizer.decode(out)


def probe_accuracy(model, tokenizer, probes: list[dict], max_tokens: int = 48) -> tuple[float, list[dict]]:
    """The fraction of `probes` whose greedy reply scores a hit, and one row per probe: question, expect, reply, hit."""
    rows = []
    for probe in probes:
        reply = answer(model, tokenizer, probe["question"], max_tokens)
        rows.append(
            {
                "question": probe["question"],
                "expect": probe["expect"],
                "reply": reply,
                "hit": score_reply(reply, probe["expect"]),
            }
        )
    return sum(r["hit"] for r in rows) / len(rows), rows


def masked_loss(model, tokenizer, conversations: list[dict], max_tokens: int = 256) -> float:
    """Mean cross-entropy per supervised token (mask 1: the assistant's tokens) over rendered `conversations`."""
    total, count = 0.0, 0
    with torch.no_grad():
        for conversation in conversations:
            ids, mask = tokenizer.render_conversation(conversation, max_tokens=max_tokens)
            x = torch.tensor([ids[:-1]], dtype=torch.long)  # (1, T)
            y = torch.tensor([ids[1:]], dtype=torch.long)  # (1, T)
            y[0, torch.tensor(mask[1:]) == 0] = -1  # the mask is aligned with the target position
            n = int((y >= 0).sum())
            if n:
                total += float(model(x, y)) * n  # model(x, y) is the mean over the supervised targets
                count += n
    return total / max(count, 1)


def measure(model, tokenizer, probes: list[dict], held_out: list[dict], earlier: list[dict]) -> dict:
    """Probe accuracy (with the per-probe rows), held-out identity loss and earlier-skill loss of `model`."""
    model.eval()
    accuracy, rows = probe_accuracy(model, tokenizer, probes)
    return {
        "probe_accuracy": accuracy,
        "probes": rows,
        "identity_loss": masked_loss(model, tokenizer, held_out),
        "earlier_loss": masked_loss(model, tokenizer, earlier),
    }


# --- step 7: the summary ----------------------------------------------------------------------------------------


def write_summary(path: str, numbers: dict) -> str:
    """Write the capstone's summary (markdown) to `path` from the measured `numbers`; return the text.

    Four sections, in this order, each a heading then ``- key: value`` lines (floats with 4 decimals):
    ``## Data`` (rows, dropped, held_out), ``## Training`` (steps, loss_first, loss_last),
    ``## Probes`` (accuracy_before, accuracy_after, then a table ``| question | expect | before | after |`` with
    one row per probe: its question, expect, and "hit"/"miss" before and after) and ``## Earlier skills``
    (earlier_loss_before, earlier_loss_after, identity_loss_before, identity_loss_after).
    """
    b, a = numbers["before"], numbers["after"]
    lines = ["# Capstone: the model's identity", ""]
    lines += ["## Data", f"- rows: {numbers['rows']}", f"- dropped: {numbers['dropped']}",
              f"- held_out: {numbers['held_out']}", ""]  # fmt: skip
    lines += ["## Training", f"- steps: {numbers['steps']}", f"- loss_first: {numbers['train_losses'][0]:.4f}",
              f"- loss_last: {numbers['train_losses'][-1]:.4f}", ""]  # fmt: skip
    lines += ["## Probes", f"- accuracy_before: {b['probe_accuracy']:.4f}", f"- accuracy_after: {a['probe_accuracy']:.4f}",
              "", "| question | expect | before | after |", "|---|---|---|---|"]  # fmt: skip
    for pb, pa in zip(b["probes"], a["probes"], strict=True):
        lines.append(
            f"| {pb['question']} | {pb['expect']} | {'hit' if pb['hit'] else 'miss'} | {'hit' if pa['hit'] else 'miss'} |"
        )
    lines += ["", "## Earlier skills", f"- earlier_loss_before: {b['earlier_loss']:.4f}",
              f"- earlier_loss_after: {a['earlier_loss']:.4f}", f"- identity_loss_before: {b['identity_loss']:.4f}",
              f"- identity_loss_after: {a['identity_loss']:.4f}", ""]  # fmt: skip
    text = "\n".join(lines)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return text


# --- provided: the fine-tuning run and the orchestration --------------------------------------------------------


def finetune(
    model, tokenizer, dataset, steps: int, batch_size: int, lr_frac: float, max_seq_len: int
) -> list[float]:
    """`steps` optimizer steps of masked SFT on `dataset` (one batch each, LR 1 - step/steps); the losses."""
    optimizers = model.setup_optimizers(
        unembedding_lr=0.004, embedding_lr=0.2, matrix_lr=0.02, weight_decay=0.0
    )
    for opt in optimizers:
        for group in opt.param_groups:
            group["lr"] = group["lr"] * lr_frac
            group["initial_lr"] = group["lr"]
    batches = sft_data_generator(dataset, tokenizer, batch_size, "cpu", max_seq_len)
    model.train()
    losses = []
    for step in range(steps):
        x, y = next(batches)
        loss = model(x, y)  # mean cross-entropy over the assistant's tokens (targets -1 are ignored)
        loss.backward()
        set_lr(optimizers, 1.0 - step / steps)
        for opt in optimizers:
            opt.step()
        model.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        print0(f"step {step + 1:3d}/{steps} | loss {losses[-1]:.4f}")
    model.eval()
    return losses


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Capstone: identity data -> SFT -> held-out probes -> summary")
    p.add_argument("--source", type=str, default="sft", help="checkpoint to start from: mid|sft")
    p.add_argument("--num_conversations", type=int, default=400, help="identity conversations to generate")
    p.add_argument(
        "--seed", type=int, default=42, help="seed of the identity generator (held-out rows: seed + 1)"
    )
    p.add_argument("--epochs", type=int, default=2, help="times the identity rows are listed in the mixture")
    p.add_argument("--other_rows", type=int, default=100, help="rows of each earlier SFT task in the mixture")
    p.add_argument(
        "--earlier_rows", type=int, default=8, help="held-out rows per earlier task (forgetting check)"
    )
    p.add_argument("--steps", type=int, default=30, help="optimizer steps")
    p.add_argument("--batch_size", type=int, default=8, help="conversations per step")
    p.add_argument("--lr_frac", type=float, default=0.5, help="fraction of the base LRs to start from")
    p.add_argument("--max_seq_len", type=int, default=256, help="crop rendered conversations to this length")
    p.add_argument(
        "--out_tag", type=str, default="capstone", help="checkpoint tag under chatsft_checkpoints/"
    )
    return p


def main(argv: list[str] | None = None) -> dict:
    """Run the chain; return the measured numbers (what the summary says), with the summary's path."""
    args = build_parser().parse_args(argv)
    t0 = time.time()
    base = get_base_dir()
    identity_path = os.path.join(base, "identity_conversations.jsonl")
    data = make_identity_data(identity_path, args.num_conversations, args.seed, PROBES)
    print0(f"identity data: {data['rows']} conversations, {data['dropped']} leaks dropped")
    model, tokenizer, meta = load_model(args.source, "cpu", phase="eval")
    held_out = [{"messages": c} for c in data["held_out"]]
    earlier = [t[i] for t in earlier_tasks_held_out(args.earlier_rows) for i in range(len(t))]
    dataset = capstone_mixture(identity_path, args.epochs, earlier_tasks(args.other_rows))
    before = measure(model, tokenizer, PROBES, held_out, earlier)
    print0(f"before: probe accuracy {before['probe_accuracy']:.3f}")
    losses = finetune(model, tokenizer, dataset, args.steps, args.batch_size, args.lr_frac, args.max_seq_len)
    after = measure(model, tokenizer, PROBES, held_out, earlier)
    print0(f"after: probe accuracy {after['probe_accuracy']:.3f}")
    save_checkpoint(
        os.path.join(base, "chatsft_checkpoints", args.out_tag),
        args.steps,
        model.state_dict(),
        None,
        {"step": args.steps, "model_config": meta["model_config"]},
    )
    numbers = {
        "rows": data["rows"],
        "dropped": data["dropped"],
        "held_out": len(held_out),
        "mixture_rows": len(dataset),
        "steps": args.steps,
        "train_losses": losses,
        "before": before,
        "after": after,
    }
    numbers["summary_path"] = os.path.join(base, "report", "capstone.md")
    write_summary(numbers["summary_path"], numbers)
    numbers["seconds"] = time.time() - t0
    print0(f"summary written to {numbers['summary_path']}")
    return numbers


def earlier_tasks_held_out(rows: int) -> list:
    """`rows` held-out rows of each earlier task (test splits): the forgetting check."""
    return [
        ARC(subset="ARC-Easy", split="test", stop=rows),
        GSM8K(subset="main", split="test", stop=rows),
        SmolTalk(split="test", stop=rows),
        SpellingBee(size=rows, split="test"),
    ]


if __name__ == "__main__":
    main()
