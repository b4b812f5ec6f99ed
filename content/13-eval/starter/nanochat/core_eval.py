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
    """Length of the common prefix (`left`) or suffix (`right`) of all sequences.

    The number of leading (``direction="left"``) or trailing (``"right"``) positions where every sequence holds the
    same token; at most the length of the shortest sequence.
    """
    raise NotImplementedError("TODO(step 2): count the tokens shared at the start (left) or end (right)")


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
    """Per-position losses `(B, T)` (next-token; the last column is NaN) and argmax predictions `(B, T)`.

    ``model(input_ids)`` gives logits ``(B, T, V)``. The target at position t is the token at t+1 (``torch.roll``
    by -1 along T); the loss is the unreduced cross-entropy, with the last column set to NaN (it has no target).
    Predictions are the argmax over V at each position.
    """
    raise NotImplementedError("TODO(step 3): next-token losses (last column NaN) and argmax predictions")


# ------------------------------------------------------------------------------------------------------------------
# Scoring


@torch.no_grad()
def evaluate_example(idx: int, model, tokenizer, data: list[dict], device, task_meta: dict) -> bool:
    """Whether the model gets example `idx` right.

    1. Few-shot: if ``task_meta["num_fewshot"]`` > 0, draw that many other items with
       ``random.Random(1234 + idx).sample([i for i in range(len(data)) if i != idx], num_fewshot)``.
    2. Render with ``render_prompts_{mc,schema,lm}`` by ``task_meta["task_type"]`` (``multiple_choice``,
       ``schema``, ``language_modeling``; anything else: ValueError) and batch with the matching
       ``batch_sequences_*`` (tokens with BOS, answer start and end per row).
    3. If the model has ``config.sequence_len``, crop longer rows from the LEFT, shifting their start/end.
    4. ``stack_sequences`` (pad with BOS), ``forward_model``.
    5. Language modelling: right only if the predictions at ``si-1 .. ei-2`` equal the tokens at ``si .. ei-1``.
       Otherwise: the row with the lowest mean loss over ``losses[i, si-1:ei-1]`` is the answer; compare with
       ``item["gold"]``.
    """
    raise NotImplementedError("TODO(step 3): render, tokenize, run the model and pick the answer")


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
