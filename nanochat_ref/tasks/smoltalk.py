"""SmolTalk-shaped general conversations (training only), generated offline.

nanochat uses `HuggingFaceTB/smol-smoltalk` (460K train / 24K test). The synthetic rows here are templated small talk;
about a third start with a system message, which `render_conversation` merges into the first user turn.
"""

from __future__ import annotations

from ..chatdata.generators import smalltalk_conversations
from .common import Task

SIZES = {"train": 2000, "test": 200}
SPLIT_SEEDS = {"train": 21, "test": 22}


class SmolTalk(Task):
    def __init__(self, split: str, **kwargs):
        super().__init__(**kwargs)
        assert split in SIZES, "SmolTalk split must be train|test"
        self.rows = smalltalk_conversations(SIZES[split], seed=SPLIT_SEEDS[split])

    @property
    def eval_type(self) -> str:
        return "generative"

    def num_examples(self) -> int:
        return len(self.rows)

    def get_example(self, index: int) -> dict:
        messages = self.rows[index]["messages"]
        assert len(messages) >= 2, "SmolTalk messages must have length of at least 2"
        first, rest = (messages[0], messages[1:]) if messages[0]["role"] == "system" else (None, messages)
        for i, m in enumerate(rest):
            expected = "user" if i % 2 == 0 else "assistant"
            assert m["role"] == expected, f"Message {i} has role {m['role']} but should be {expected}"
        return {"messages": ([first] if first else []) + rest}
