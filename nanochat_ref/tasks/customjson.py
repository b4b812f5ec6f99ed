"""CustomJSON: conversations from a JSONL file, one JSON array of alternating user/assistant messages per line.

Used for the identity conversations (the capstone). Each line is validated on load: at least two messages, roles
alternate starting with `user`, contents are strings.
"""

from __future__ import annotations

import json
import os

from .common import Task


class CustomJSON(Task):
    def __init__(self, filepath: str, **kwargs):
        super().__init__(**kwargs)
        self.filepath = filepath
        self.conversations = []
        if not os.path.exists(filepath):
            print(f"Warning: CustomJSON file {filepath} does not exist; the task is empty")
            return
        with open(filepath) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                messages = json.loads(line)
                assert isinstance(messages, list), f"Expected a list of messages, got {type(messages)}"
                assert len(messages) >= 2, f"Conversation must have at least 2 messages, got {len(messages)}"
                for i, m in enumerate(messages):
                    assert "role" in m and "content" in m, f"Message {i} needs role and content"
                    expected = "user" if i % 2 == 0 else "assistant"
                    assert m["role"] == expected, f"Message {i} has role {m['role']} but should be {expected}"
                    assert isinstance(m["content"], str), f"Message {i} content must be a string"
                self.conversations.append(messages)

    @property
    def eval_type(self) -> str:
        return "generative"

    def num_examples(self) -> int:
        return len(self.conversations)

    def get_example(self, index: int) -> dict:
        return {"messages": self.conversations[index]}
