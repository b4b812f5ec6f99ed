"""MMLU-shaped multiple-choice task (categorical), on offline synthetic questions.

nanochat loads `cais/mmlu` (`all` for evaluation, `auxiliary_train` for midtraining, where each row is wrapped in an
extra `train` field that the loader unwraps). The synthetic rows here mix five "subjects" (categories, vocabulary,
geography, arithmetic); the `auxiliary_train` rows are stored wrapped the same way and unwrapped on access.
"""

from __future__ import annotations

from ..chatdata.generators import mc_questions
from .arc import mc_conversation
from .common import Task

SIZES = {
    ("all", "test"): 500,
    ("all", "validation"): 200,
    ("all", "dev"): 20,
    ("auxiliary_train", "train"): 3000,
}


class MMLU(Task):
    letters = ("A", "B", "C", "D")

    def __init__(self, subset: str, split: str, **kwargs):
        super().__init__(**kwargs)
        assert subset in ("all", "auxiliary_train"), f"subset {subset} must be all|auxiliary_train"
        assert (subset, split) in SIZES, f"split {split} not available for subset {subset}"
        seed = 1000 + list(SIZES).index((subset, split))
        rows = mc_questions(subset, SIZES[(subset, split)], seed=seed)
        self.subset = subset
        self.rows = [{"train": r} for r in rows] if subset == "auxiliary_train" else rows

    @property
    def eval_type(self) -> str:
        return "categorical"

    def num_examples(self) -> int:
        return len(self.rows)

    def get_example(self, index: int) -> dict:
        row = self.rows[index]
        if self.subset == "auxiliary_train":
            row = row["train"]
        conversation = mc_conversation(row)
        conversation["subject"] = row["subject"]
        return conversation

    def evaluate(self, conversation: dict, assistant_response: str) -> bool:
        assert assistant_response in self.letters, f"{assistant_response} not in {self.letters}"
        return assistant_response == conversation["messages"][-1]["content"]
