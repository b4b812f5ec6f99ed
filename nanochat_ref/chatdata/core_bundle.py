"""A small offline stand-in for the CORE `eval_bundle` (nanochat downloads ~162 MB from S3; we may not).

Same layout as the real bundle: `core.yaml` (icl_tasks with label, dataset_uri, num_fewshot, icl_task_type,
continuation_delimiter), `eval_meta_data.csv` (Eval Task, Random baseline in percent) and `eval_data/*.jsonl`
with the real row shapes: multiple_choice `{query, choices, gold}`, schema `{context_options, continuation, gold}`,
language_modeling `{context, continuation}`. The five tasks are templated from the synthetic facts in
`generators.py`, so they are deterministic and easy enough that a tiny model can beat the random baseline.
"""

from __future__ import annotations

import json
import os
import random

import yaml

from .generators import CAPITALS, CATEGORIES, OPPOSITES

NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def _opposites(rng: random.Random, n: int) -> list[dict]:
    rows = []
    words = [w for pair in OPPOSITES for w in pair]
    for _ in range(n):
        a, b = rng.choice(OPPOSITES)
        if rng.random() < 0.5:
            a, b = b, a
        choices = [b, *rng.sample([w for w in words if w not in (a, b)], 3)]
        rng.shuffle(choices)
        rows.append({"query": f"The opposite of {a} is", "choices": choices, "gold": choices.index(b)})
    return rows


def _categories(rng: random.Random, n: int) -> list[dict]:
    rows = []
    for _ in range(n):
        cat = rng.choice(list(CATEGORIES))
        word = rng.choice(CATEGORIES[cat])
        choices = [cat, *rng.sample([c for c in CATEGORIES if c != cat], 3)]
        rng.shuffle(choices)
        rows.append({"query": f"Question: what kind of thing is a {word}?\nAnswer:", "choices": choices,
                     "gold": choices.index(cat)})  # fmt: skip
    return rows


def _capitals_schema(rng: random.Random, n: int) -> list[dict]:
    rows = []
    for _ in range(n):
        picks = rng.sample(CAPITALS, 2)
        gold = rng.randrange(2)
        rows.append({
            "context_options": [f"The country is {country}." for country, _ in picks],
            "continuation": f"Its capital is {picks[gold][1]}.",
            "gold": gold,
        })  # fmt: skip
    return rows


def _counting_lm(rng: random.Random, n: int) -> list[dict]:
    rows = []
    for _ in range(n):
        start = rng.randint(1, 40)
        seq = [str(start + i) for i in range(5)]
        rows.append({"context": ", ".join(seq[:4]) + ",", "continuation": seq[4]})
    return rows


def _number_words_lm(rng: random.Random, n: int) -> list[dict]:
    rows = []
    for _ in range(n):
        start = rng.randint(0, 6)
        rows.append(
            {"context": " ".join(NUMBER_WORDS[start : start + 4]), "continuation": NUMBER_WORDS[start + 4]}
        )
    return rows


TASKS = [
    # label, file, type, num_fewshot, delimiter, random baseline (%), builder
    ("opposites", "opposites.jsonl", "multiple_choice", 3, " ", 25.0, _opposites),
    ("categories", "categories.jsonl", "multiple_choice", 3, " ", 25.0, _categories),
    ("capitals_schema", "capitals_schema.jsonl", "schema", 2, " ", 50.0, _capitals_schema),
    ("counting", "counting.jsonl", "language_modeling", 2, " ", 0.0, _counting_lm),
    ("number_words", "number_words.jsonl", "language_modeling", 2, " ", 0.0, _number_words_lm),
]


def write_eval_bundle(bundle_dir: str, rows_per_task: int = 200, seed: int = 0) -> str:
    """Write the synthetic bundle into `bundle_dir` (created); returns the dir."""
    os.makedirs(os.path.join(bundle_dir, "eval_data"), exist_ok=True)
    icl_tasks = []
    meta_lines = ["Eval Task,Task Category,Task Type,#shots,Random baseline,Centered Metric?"]
    for i, (label, fname, task_type, shots, delim, baseline, builder) in enumerate(TASKS):
        rows = builder(random.Random(seed * 100 + i), rows_per_task)
        with open(os.path.join(bundle_dir, "eval_data", fname), "w") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
        icl_tasks.append({"label": label, "dataset_uri": fname, "num_fewshot": [shots], "icl_task_type": task_type,
                          "continuation_delimiter": delim})  # fmt: skip
        meta_lines.append(f"{label},synthetic,{task_type},{shots},{baseline},yes")
    with open(os.path.join(bundle_dir, "core.yaml"), "w") as f:
        yaml.safe_dump({"icl_tasks": icl_tasks}, f, sort_keys=False)
    with open(os.path.join(bundle_dir, "eval_meta_data.csv"), "w") as f:
        f.write("\n".join(meta_lines) + "\n")
    return bundle_dir
