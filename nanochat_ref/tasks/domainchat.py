"""DomainChat and DomainEval: the shipped chat model's training conversations and frozen evaluation set as Tasks.

Extra (nanochat Lab): nanochat teaches identity, spelling and the calculator with synthetic conversations mixed
into midtraining and SFT; these Tasks carry ours (`chatdata/domains.py`) into the same `TaskMixture` machinery.

- `DomainChat(size, split)`: row `i` of the train split is `train_conversation(Random(i))`; the val split uses
  seeds from 50,000,000 on, and `domain_mixture("sft")` takes its SFT rows from 90,000,000 on, so mid, SFT and val
  rows never repeat each other. All of them use the training template family.
- `DomainEval(category, lang)`: the frozen `chatdata/domain_eval.jsonl` rows of one category and language (e.g.
  `Domains-arithmetic-en` in `chat_eval`), scored by `domains.score` on the decoded reply.
"""

from __future__ import annotations

import random

from ..chatdata import domains
from .common import Task, TaskMixture

SPLIT_SEEDS = {"train": 0, "val": 50_000_000, "sft": 90_000_000}


class DomainChat(Task):
    def __init__(self, size: int = 1000, split: str = "train", **kwargs):
        super().__init__(**kwargs)
        assert split in SPLIT_SEEDS, f"DomainChat split must be one of {sorted(SPLIT_SEEDS)}"
        self.size = size
        self.offset = SPLIT_SEEDS[split]

    @property
    def eval_type(self) -> str:
        return "generative"

    def num_examples(self) -> int:
        return self.size

    def get_example(self, index: int) -> dict:
        return domains.train_conversation(random.Random(self.offset + index))


class DomainEval(Task):
    def __init__(self, category: str, lang: str, **kwargs):
        super().__init__(**kwargs)
        self.problems = [p for p in domains.load_eval() if p["category"] == category and p["lang"] == lang]
        assert self.problems, f"no evaluation problems for {category}/{lang}"

    @property
    def eval_type(self) -> str:
        return "generative"

    def num_examples(self) -> int:
        return len(self.problems)

    def get_example(self, index: int) -> dict:
        p = self.problems[index]
        return {
            "messages": [
                {"role": "user", "content": p["prompt"]},
                {"role": "assistant", "content": str(p["answer"])},
            ],
            "problem": p,
        }

    def evaluate(self, conversation: dict, assistant_response: str) -> int:
        return int(domains.score(conversation["problem"], assistant_response))

    def reward(self, conversation: dict, assistant_response: str) -> float:
        return float(self.evaluate(conversation, assistant_response))


def domain_mixture(stage: str, size: int = 0) -> tuple[Task, Task]:
    """(train, val) for the chat model's `stage` ("mid" or "sft"): `size` domain conversations (0: the default
    40,000 for mid, 3,000 for SFT) and 200 val conversations."""
    if stage == "mid":
        train: Task = TaskMixture([DomainChat(size=size or 40_000, split="train")])
    else:
        train = TaskMixture([DomainChat(size=size or 3_000, split="sft")])
    return train, DomainChat(size=200, split="val")
