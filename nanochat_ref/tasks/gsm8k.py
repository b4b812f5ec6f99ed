r"""GSM8K-shaped math word problems with calculator tool calls (generative), on offline synthetic problems.

Design choices (as nanochat `tasks/gsm8k.py`):

- The solution text carries calculator annotations `<<expr=result>>`. `get_example` splits on them and builds the
  assistant message as parts: text, `{"type": "python", "text": expr}`, `{"type": "python_output", "text": result}`,
  text... Rendering supervises the python call but not its output (the Engine injects that at test time).
- The answer is the number after `#### ` (regex `#### (\-?[0-9\.\,]+)`, commas removed); `evaluate` is exact match
  and `reward` returns it as a float for RL.
"""

from __future__ import annotations

import re

from ..chatdata.generators import arithmetic_problems
from .common import Task

GSM_RE = re.compile(r"#### (\-?[0-9\.\,]+)")
SIZES = {"train": 2000, "test": 300}
SPLIT_SEEDS = {"train": 11, "test": 12}


def extract_answer(completion: str) -> str | None:
    """The number after `#### `, with commas removed, or None."""
    match = GSM_RE.search(completion)
    if match:
        return match.group(1).strip().replace(",", "")
    return None


def solution_parts(answer: str) -> list[dict]:
    """Split a solution with `<<expr=result>>` annotations into text / python / python_output parts."""
    parts = []
    for piece in re.split(r"(<<[^>]+>>)", answer):
        if piece.startswith("<<") and piece.endswith(">>"):
            expr, _, result = piece[2:-2].rpartition("=")
            parts.append({"type": "python", "text": expr})
            parts.append({"type": "python_output", "text": result})
        elif piece:
            parts.append({"type": "text", "text": piece})
    return parts


class GSM8K(Task):
    def __init__(self, subset: str = "main", split: str = "train", **kwargs):
        super().__init__(**kwargs)
        assert subset in ("main", "socratic"), "GSM8K subset must be main|socratic"
        assert split in SIZES, "GSM8K split must be train|test"
        self.rows = arithmetic_problems(SIZES[split], seed=SPLIT_SEEDS[split])

    @property
    def eval_type(self) -> str:
        return "generative"

    def num_examples(self) -> int:
        return len(self.rows)

    def get_example(self, index: int) -> dict:
        row = self.rows[index]
        return {
            "messages": [
                {"role": "user", "content": row["question"]},
                {"role": "assistant", "content": solution_parts(row["answer"])},
            ]
        }

    def evaluate(self, conversation: dict, assistant_response: str) -> int:
        assert isinstance(assistant_response, str), "Assuming simple string response for now"
        content = conversation["messages"][-1]["content"]
        last_text = content[-1]["text"] if isinstance(content, list) else content
        ref = extract_answer(last_text)
        pred = extract_answer(assistant_response)
        return int(pred is not None and pred == ref)

    def reward(self, conversation: dict, assistant_response: str) -> float:
        return float(self.evaluate(conversation, assistant_response))
