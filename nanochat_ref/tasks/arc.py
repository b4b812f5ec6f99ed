"""ARC-shaped multiple-choice task (categorical), on offline synthetic questions.

nanochat loads `allenai/ai2_arc` (ARC-Easy / ARC-Challenge). Here the rows come from
`chatdata.generators.mc_questions`: "ARC-Easy" asks category/opposite questions, "ARC-Challenge" small sums and
"largest number" questions. Splits use disjoint seeds; row shapes and the rendered prompt match nanochat's.
"""

from __future__ import annotations

from ..chatdata.generators import LETTERS, mc_questions
from .common import Task, render_mc

SIZES = {"train": 2000, "validation": 200, "test": 400}
SPLIT_SEEDS = {"train": 1, "validation": 2, "test": 3}


def mc_conversation(row: dict) -> dict:
    """Turn a `{question, choices, answer}` row into a conversation with a one-letter assistant reply."""
    letters = LETTERS[: len(row["choices"])]
    user = render_mc(row["question"], letters, row["choices"])
    return {
        "messages": [
            {"role": "user", "content": user},
            {"role": "assistant", "content": letters[row["answer"]]},
        ],
        "letters": list(letters),
    }


class ARC(Task):
    def __init__(self, subset: str, split: str, **kwargs):
        super().__init__(**kwargs)
        assert subset in ("ARC-Easy", "ARC-Challenge"), (
            f"ARC subset {subset} must be ARC-Easy or ARC-Challenge"
        )
        assert split in SIZES, f"ARC split {split} must be train|validation|test"
        offset = 0 if subset == "ARC-Easy" else 100
        self.rows = mc_questions(subset, SIZES[split], seed=offset + SPLIT_SEEDS[split])

    @property
    def eval_type(self) -> str:
        return "categorical"

    def num_examples(self) -> int:
        return len(self.rows)

    def get_example(self, index: int) -> dict:
        return mc_conversation(self.rows[index])

    def evaluate(self, conversation: dict, assistant_response: str) -> bool:
        assert assistant_response in conversation["letters"], (
            f"{assistant_response} not in {conversation['letters']}"
        )
        return assistant_response == conversation["messages"][-1]["content"]
