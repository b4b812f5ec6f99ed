"""Evaluate a chat model on the task suite (nanochat `scripts/chat_eval.py`, commit C).

    python -m nanochat_ref.scripts.chat_eval -i sft                    # all tasks
    python -m nanochat_ref.scripts.chat_eval -i rl -a "GSM8K|SpellingBee" -x 100

Design choices:

- Two kinds of task. *Categorical* (ARC, MMLU): prompts are batched and right-padded with BOS, one forward pass,
  and at each prompt's last position the logits are restricted to the allowed letters; the argmax letter is the
  prediction (no sampling, so small models are not penalised for formatting). *Generative* (GSM8K, HumanEval,
  SpellingBee): `render_for_completion` -> `Engine.generate_batch` -> decode -> `task.evaluate`; a problem passes
  if any of `num_samples` samples is correct (pass@k).
- Problems are strided across ranks and the counts all-reduced, so the same code runs under torchrun.
- ChatCORE = mean over tasks of `(acc - baseline) / (1 - baseline)`, baselines 0.25 for the 4-way multiple-choice
  tasks and 0 for generative ones; only reported when nanochat's six tasks ran (the extra tasks stay out of it).
- Extra (nanochat Lab): `SpellingBee-balanced` (true counts 0-3 equally likely) and `SimpleSpelling` (exact
  spelling) are evaluated too, and each generative task is printed and reported next to its *majority baseline*:
  the accuracy of always giving the most common reference answer on the same problems. A tiny model's number only
  means something above that line (nanochat's SpellingBee alone has a baseline of ~0.8: most counts are 1).
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
import torch.distributed as dist

from ..common import autocast_ctx, autodetect_device_type, compute_init, get_dist_info, print0
from ..engine import Engine
from ..tasks.arc import ARC
from ..tasks.gsm8k import GSM8K
from ..tasks.humaneval import HumanEval
from ..tasks.mmlu import MMLU
from ..tasks.spellingbee import BalancedSpellingBee, SimpleSpelling, SpellingBee

TASKS = {
    "HumanEval": HumanEval,
    "MMLU": partial(MMLU, subset="all", split="test"),
    "ARC-Easy": partial(ARC, subset="ARC-Easy", split="test"),
    "ARC-Challenge": partial(ARC, subset="ARC-Challenge", split="test"),
    "GSM8K": partial(GSM8K, subset="main", split="test"),
    "SpellingBee": partial(SpellingBee, size=256, split="test"),
    # Extra (nanochat Lab): spelling evals whose constant-answer baseline is low (see tasks/spellingbee.py).
    "SpellingBee-balanced": partial(BalancedSpellingBee, size=256, split="test"),
    "SimpleSpelling": partial(SimpleSpelling, size=256, split="test"),
}


def domain_tasks() -> dict:
    """Extra (nanochat Lab): the shipped chat model's frozen evaluation set, one task per category and language
    (`Domains-arithmetic-en`, ...). Looked up by name only, never part of the default all-tasks run; imported
    here, so the modules whose workspaces hold this file need none of the chat model's data files."""
    from ..chatdata import domains
    from ..tasks.domainchat import DomainEval

    return {
        f"Domains-{category}-{lang}": partial(DomainEval, category=category, lang=lang)
        for category in domains.CATEGORIES
        for lang in domains.LANGS
    }


BASELINES = {
    "ARC-Easy": 0.25,
    "ARC-Challenge": 0.25,
    "MMLU": 0.25,
    "GSM8K": 0.0,
    "HumanEval": 0.0,
    "SpellingBee": 0.0,
}


def _all_reduce(*values, device):
    ddp, _, _, _ = get_dist_info()
    t = torch.tensor(values, dtype=torch.long, device=device)
    if ddp and dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def run_generative_eval(
    task_object,
    tokenizer,
    model,
    engine,
    num_samples,
    max_new_tokens,
    temperature,
    top_k,
    max_problems=None,
    verbose=False,
):
    """Fraction of problems for which at least one of `num_samples` completions is correct."""
    _, rank, _, world_size = get_dist_info()
    device = model.get_device()
    num_problems = len(task_object) if max_problems is None else min(len(task_object), max_problems)
    num_passed, total = 0, 0
    for i in range(rank, num_problems, world_size):
        conversation = task_object[i]
        encoded_prompt = tokenizer.render_for_completion(conversation)
        results, _ = engine.generate_batch(
            encoded_prompt,
            num_samples=num_samples,
            max_tokens=max_new_tokens,
            temperature=temperature,
            top_k=top_k,
        )
        prefix_length = len(encoded_prompt)
        completions = [tokenizer.decode(r[prefix_length:]) for r in results]
        outcomes = [task_object.evaluate(conversation, c) for c in completions]
        passed = any(outcomes)
        total += 1
        num_passed += int(passed)
        if verbose:
            print(f"\r\033[K{num_passed}/{total} ({100 * num_passed / total:.2f}%)", end="", flush=True)
    if verbose:
        print()
    num_passed, total = _all_reduce(num_passed, total, device=device)
    return num_passed / max(total, 1)


def run_categorical_eval(task_object, tokenizer, model, batch_size, max_problems=None):
    """Accuracy of the argmax over the allowed answer letters at the end of each prompt."""
    _, rank, _, world_size = get_dist_info()
    device = model.get_device()
    bos = tokenizer.get_bos_token_id()
    num_problems = len(task_object) if max_problems is None else min(len(task_object), max_problems)
    num_batches = -(-num_problems // batch_size)
    letter_to_id: dict[str, int] = {}
    num_passed, total = 0, 0
    for i in range(rank, num_batches, world_size):
        i0, i1 = i * batch_size, min((i + 1) * batch_size, num_problems)
        conversations = [task_object[ii] for ii in range(i0, i1)]
        prompt_ids = [tokenizer.render_for_completion(c) for c in conversations]
        max_length = max(len(ids) for ids in prompt_ids)
        answer_positions = [len(ids) - 1 for ids in prompt_ids]
        padded = [ids + [bos] * (max_length - len(ids)) for ids in prompt_ids]
        idx = torch.tensor(padded, dtype=torch.long, device=device)  # (B, T)
        with torch.no_grad():
            logits = model(idx)  # (B, T, V)
        for row, conversation in enumerate(conversations):
            letters = conversation["letters"]
            letter_ids = []
            for letter in letters:
                if letter not in letter_to_id:
                    encoded = tokenizer.encode(letter)
                    assert len(encoded) == 1, "each answer letter must be a single token"
                    letter_to_id[letter] = encoded[0]
                letter_ids.append(letter_to_id[letter])
            focus = logits[row, answer_positions[row], letter_ids]  # (num_letters,)
            predicted = letters[focus.argmax(dim=-1).item()]
            num_passed += int(task_object.evaluate(conversation, predicted))
            total += 1
    num_passed, total = _all_reduce(num_passed, total, device=device)
    return num_passed / max(total, 1)


def run_chat_eval(
    task_name,
    model,
    tokenizer,
    engine,
    batch_size=1,
    num_samples=1,
    max_new_tokens=512,
    temperature=0.0,
    top_k=50,
    max_problems=None,
):
    """Accuracy of `model` on the named task."""
    task_object = (TASKS[task_name] if task_name in TASKS else domain_tasks()[task_name])()
    if task_object.eval_type == "generative":
        return run_generative_eval(
            task_object,
            tokenizer,
            model,
            engine,
            num_samples,
            max_new_tokens,
            temperature,
            top_k,
            max_problems,
        )
    if task_object.eval_type == "categorical":
        return run_categorical_eval(task_object, tokenizer, model, batch_size, max_problems)
    raise ValueError(f"Unsupported task evaluation type: {task_object.eval_type}")


MAJORITY_TASKS = ("GSM8K", "SpellingBee", "SpellingBee-balanced", "SimpleSpelling")


def reference_answer(conversation: dict) -> str | None:
    """The answer a reply is scored against: the `#### n` number for parts-style answers, else the whole text."""
    from ..tasks.gsm8k import extract_answer

    content = conversation["messages"][-1]["content"]
    if isinstance(content, list):
        return extract_answer(content[-1]["text"])
    return extract_answer(content) if "#### " in content else content.strip()


def majority_baseline(task_name: str, max_problems: int | None = None) -> float | None:
    """Accuracy of always giving the most common reference answer on the same problems, else None.

    Context for small models: on SpellingBee most letters occur once, so a constant "1" already scores high; on
    SpellingBee-balanced it is ~0.25-0.3 and on SimpleSpelling (a different word each time) ~0.
    """
    from collections import Counter

    if task_name not in MAJORITY_TASKS:
        return None
    task = TASKS[task_name]()
    n = len(task) if max_problems is None else min(len(task), max_problems)
    answers = [reference_answer(task[i]) for i in range(n)]
    return Counter(answers).most_common(1)[0][1] / max(n, 1)


def chatcore(results: dict[str, float]) -> float | None:
    """Mean centred accuracy over all tasks, or None unless every task ran."""
    if not all(name in results for name in BASELINES):
        return None
    centred = [(results[n] - b) / (1.0 - b) for n, b in BASELINES.items()]
    return sum(centred) / len(centred)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Evaluate a chat model on ARC/MMLU/GSM8K/HumanEval/SpellingBee/SimpleSpelling"
    )
    parser.add_argument("-i", "--source", type=str, required=True, help="which model: mid|sft|rl")
    parser.add_argument(
        "-a", "--task-name", type=str, default=None, help="tasks separated by |; default: all"
    )
    parser.add_argument(
        "-d", "--dtype", type=str, default="bfloat16", choices=["float32", "bfloat16"], help="dtype"
    )
    parser.add_argument("-t", "--temperature", type=float, default=0.0, help="sampling temperature")
    parser.add_argument("-m", "--max-new-tokens", type=int, default=512, help="max new tokens per completion")
    parser.add_argument("-n", "--num-samples", type=int, default=1, help="samples per problem (pass@n)")
    parser.add_argument("-k", "--top-k", type=int, default=50, help="top-k sampling")
    parser.add_argument("-b", "--batch-size", type=int, default=8, help="batch size for categorical tasks")
    parser.add_argument("-g", "--model-tag", type=str, default=None, help="model tag to load")
    parser.add_argument("-s", "--step", type=int, default=None, help="checkpoint step to load")
    parser.add_argument("-x", "--max-problems", type=int, default=None, help="max problems per task")
    parser.add_argument("--device-type", type=str, default="", help="cuda|cpu|mps (empty: autodetect)")
    parser.add_argument("--no-report", action="store_true", help="do not write a report section")
    return parser


def evaluate_all(model, tokenizer, task_names, device_type, args) -> dict[str, float]:
    engine = Engine(model, tokenizer)
    results = {}
    for task_name in task_names:
        with autocast_ctx(device_type):
            acc = run_chat_eval(
                task_name,
                model,
                tokenizer,
                engine,
                batch_size=args.batch_size,
                num_samples=args.num_samples,
                max_new_tokens=args.max_new_tokens,
                temperature=args.temperature,
                top_k=args.top_k,
                max_problems=args.max_problems,
            )
        results[task_name] = acc
        print0(f"{task_name} accuracy: {100 * acc:.2f}%")
    return results


def main(argv: list[str] | None = None) -> dict:
    from ..checkpoint_manager import load_model
    from ..report import get_report

    args = build_parser().parse_args(argv)
    device_type = autodetect_device_type() if args.device_type == "" else args.device_type
    _, _, _, _, device = compute_init(device_type)
    model, tokenizer, _meta = load_model(
        args.source, device, phase="eval", model_tag=args.model_tag, step=args.step
    )
    task_names = list(TASKS) if args.task_name is None else args.task_name.split("|")
    results = evaluate_all(model, tokenizer, task_names, device_type, args)
    score = chatcore(results)
    if score is not None:
        print0(f"ChatCORE metric: {score:.4f}")
    baselines = {}
    for name in task_names:
        b = majority_baseline(name, args.max_problems)
        if b is not None:
            baselines[f"{name} majority baseline"] = b
            print0(f"{name} majority-answer baseline: {100 * b:.2f}%")
    if not args.no_report:
        data = {**results, **({"ChatCORE": score} if score is not None else {}), **baselines}
        get_report().log(f"Chat evaluation {args.source}", [vars(args), data])
    return results


if __name__ == "__main__":
    main()
