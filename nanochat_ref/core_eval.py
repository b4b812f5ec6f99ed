"""The CORE metric's per-example scoring (DCLM paper, arXiv 2406.11794; nanochat `core_eval.py`, commit C).

Design choices:

- Three task types, each rendered to token sequences whose *answer region* is found by comparing sequences:
  `multiple_choice` (same context, different continuations: the answer starts after the common token prefix),
  `schema` (different contexts, same continuation: the answer is the common token suffix) and
  `language_modeling` (one prompt with and without the continuation: the without-prompt must be a strict token
  prefix of the with-prompt).
- Few-shot examples are drawn with `random.Random(1234 + idx)`, excluding the item itself, and prompts are rendered
  with Jinja templates, as in nanochat. Every prompt starts with BOS; models with a maximum length crop from the left.
- Multiple-choice and schema: the option with the **lowest mean loss** over its answer tokens wins. Language
  modelling: correct only if **every** answer token is the greedy argmax prediction.
- `evaluate_task` strides examples across ranks and all-reduces the 0/1 vector, so it runs under torchrun.
"""

from __future__ import annotations

import random

import torch
import torch.distributed as dist
import torch.nn.functional as F
from jinja2 import Template

# ------------------------------------------------------------------------------------------------------------------
# Prompt rendering


def render_prompts_mc(
    item: dict, continuation_delimiter: str, fewshot_examples: list | None = None
) -> list[str]:
    """One prompt per choice: shared context, different continuations."""
    template_str = """
{%- for example in fewshot_examples -%}
{{ example.query }}{{ continuation_delimiter }}{{ example.choices[example.gold] }}

{% endfor -%}
{{ item.query }}{{ continuation_delimiter }}{{ choice }}""".strip()
    template = Template(template_str)
    context = {
        "fewshot_examples": fewshot_examples or [],
        "continuation_delimiter": continuation_delimiter,
        "item": item,
    }
    return [template.render(choice=choice, **context) for choice in item["choices"]]


def render_prompts_schema(
    item: dict, continuation_delimiter: str, fewshot_examples: list | None = None
) -> list[str]:
    """One prompt per context option: different contexts, shared continuation."""
    template_str = """
{%- for example in fewshot_examples -%}
{{ example.context_options[example.gold] }}{{ continuation_delimiter }}{{ example.continuation }}

{% endfor -%}
{{ context }}{{ continuation_delimiter }}{{ item.continuation }}""".strip()
    template = Template(template_str)
    context = {
        "fewshot_examples": fewshot_examples or [],
        "continuation_delimiter": continuation_delimiter,
        "item": item,
    }
    return [template.render(context=option, **context) for option in item["context_options"]]


def render_prompts_lm(
    item: dict, continuation_delimiter: str, fewshot_examples: list | None = None
) -> list[str]:
    """`[prompt_without_continuation, prompt_with_continuation]`; the first is stripped of trailing space."""
    template_str = """
{%- for example in fewshot_examples -%}
{{ example.context | trim }}{{ continuation_delimiter }}{{ example.continuation }}

{% endfor -%}
{{ item.context | trim }}{{ continuation_delimiter }}{% if include_continuation %}{{ item.continuation }}{% endif %}""".strip()
    template = Template(template_str)
    context = {
        "fewshot_examples": fewshot_examples or [],
        "continuation_delimiter": continuation_delimiter,
        "item": item,
    }
    prompt_without = template.render(include_continuation=False, **context).strip()
    prompt_with = template.render(include_continuation=True, **context)
    return [prompt_without, prompt_with]


# ------------------------------------------------------------------------------------------------------------------
# Tokenisation and batching


def find_common_length(token_sequences: list[list[int]], direction: str = "left") -> int:
    """Length of the common prefix (`left`) or suffix (`right`) of all sequences."""
    min_len = min(len(seq) for seq in token_sequences)
    indices = {"left": range(min_len), "right": range(-1, -min_len - 1, -1)}[direction]
    for i, idx in enumerate(indices):
        token = token_sequences[0][idx]
        if not all(seq[idx] == token for seq in token_sequences):
            return i
    return min_len


def stack_sequences(tokens: list[list[int]], pad_token_id: int) -> torch.Tensor:
    """Right-pad token lists into a `(B, T)` tensor."""
    bsz, seq_len = len(tokens), max(len(x) for x in tokens)
    input_ids = torch.full((bsz, seq_len), pad_token_id, dtype=torch.long)
    for i, x in enumerate(tokens):
        input_ids[i, : len(x)] = torch.tensor(x, dtype=torch.long)
    return input_ids


def batch_sequences_mc(tokenizer, prompts: list[str]):
    tokens = tokenizer.encode(prompts, prepend=tokenizer.get_bos_token_id())
    answer_start_idx = find_common_length(tokens, direction="left")
    start_indices = [answer_start_idx] * len(prompts)
    end_indices = [len(x) for x in tokens]
    return tokens, start_indices, end_indices


def batch_sequences_schema(tokenizer, prompts: list[str]):
    tokens = tokenizer.encode(prompts, prepend=tokenizer.get_bos_token_id())
    suffix_length = find_common_length(tokens, direction="right")
    end_indices = [len(x) for x in tokens]
    start_indices = [ei - suffix_length for ei in end_indices]
    return tokens, start_indices, end_indices


def batch_sequences_lm(tokenizer, prompts: list[str]):
    tokens = tokenizer.encode(prompts, prepend=tokenizer.get_bos_token_id())
    tokens_without, tokens_with = tokens
    start_idx, end_idx = len(tokens_without), len(tokens_with)
    assert start_idx < end_idx, "prompt without is supposed to be a prefix of prompt with"
    assert tokens_without == tokens_with[:start_idx], (
        "prompt without is supposed to be a prefix of prompt with"
    )
    return [tokens_with], [start_idx], [end_idx]


@torch.no_grad()
def forward_model(model, input_ids: torch.Tensor):
    """Per-position losses `(B, T)` (next-token; the last column is NaN) and argmax predictions `(B, T)`."""
    batch_size, seq_len = input_ids.size()
    outputs = model(input_ids)  # (B, T, V)
    target_ids = torch.roll(input_ids, shifts=-1, dims=1)  # (B, T)
    losses = F.cross_entropy(
        outputs.view(batch_size * seq_len, -1), target_ids.view(batch_size * seq_len), reduction="none"
    ).view(batch_size, seq_len)
    losses[:, -1] = float("nan")  # the last position has no target
    predictions = outputs.argmax(dim=-1)  # (B, T)
    return losses, predictions


# ------------------------------------------------------------------------------------------------------------------
# Scoring


@torch.no_grad()
def evaluate_example(idx: int, model, tokenizer, data: list[dict], device, task_meta: dict) -> bool:
    """Whether the model gets example `idx` right."""
    item = data[idx]
    task_type = task_meta["task_type"]
    num_fewshot = task_meta["num_fewshot"]
    continuation_delimiter = task_meta["continuation_delimiter"]
    fewshot_examples = []
    if num_fewshot > 0:
        rng = random.Random(1234 + idx)
        available = [i for i in range(len(data)) if i != idx]
        fewshot_examples = [data[i] for i in rng.sample(available, num_fewshot)]

    if task_type == "multiple_choice":
        prompts = render_prompts_mc(item, continuation_delimiter, fewshot_examples)
        tokens, start_idxs, end_idxs = batch_sequences_mc(tokenizer, prompts)
    elif task_type == "schema":
        prompts = render_prompts_schema(item, continuation_delimiter, fewshot_examples)
        tokens, start_idxs, end_idxs = batch_sequences_schema(tokenizer, prompts)
    elif task_type == "language_modeling":
        prompts = render_prompts_lm(item, continuation_delimiter, fewshot_examples)
        tokens, start_idxs, end_idxs = batch_sequences_lm(tokenizer, prompts)
    else:
        raise ValueError(f"Unsupported task type: {task_type}")

    max_tokens = getattr(getattr(model, "config", None), "sequence_len", None)
    if max_tokens is not None:  # crop from the left so the answer region survives
        new_tokens, new_starts, new_ends = [], [], []
        for t, s, e in zip(tokens, start_idxs, end_idxs):
            if len(t) > max_tokens:
                num_to_crop = len(t) - max_tokens
                new_tokens.append(t[-max_tokens:])
                new_starts.append(s - num_to_crop)
                new_ends.append(e - num_to_crop)
                assert s - num_to_crop >= 0, "the answer region does not fit in the model's context"
            else:
                new_tokens.append(t)
                new_starts.append(s)
                new_ends.append(e)
        tokens, start_idxs, end_idxs = new_tokens, new_starts, new_ends

    input_ids = stack_sequences(tokens, tokenizer.get_bos_token_id()).to(device)  # (B, T)
    losses, predictions = forward_model(model, input_ids)

    if task_type == "language_modeling":
        si, ei = start_idxs[0], end_idxs[0]
        predicted_tokens = predictions[0, si - 1 : ei - 1]  # the prediction at t is for token t+1
        actual_tokens = input_ids[0, si:ei]
        return bool(torch.all(predicted_tokens == actual_tokens).item())
    mean_losses = [
        losses[i, si - 1 : ei - 1].mean().item() for i, (si, ei) in enumerate(zip(start_idxs, end_idxs))
    ]
    pred_idx = mean_losses.index(min(mean_losses))
    return pred_idx == item["gold"]


def evaluate_task(model, tokenizer, data: list[dict], device, task_meta: dict) -> float:
    """Accuracy on one task, examples strided across ranks."""
    rank = dist.get_rank() if dist.is_initialized() else 0
    world_size = dist.get_world_size() if dist.is_initialized() else 1
    correct = torch.zeros(len(data), dtype=torch.float32, device=device)
    for idx in range(rank, len(data), world_size):
        correct[idx] = float(evaluate_example(idx, model, tokenizer, data, device, task_meta))
    if world_size > 1:
        dist.barrier()
        dist.all_reduce(correct, op=dist.ReduceOp.SUM)
    return correct.mean().item()
