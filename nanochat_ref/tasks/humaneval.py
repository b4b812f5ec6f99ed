"""HumanEval-shaped code generation task (generative), on a small hand-written problem set.

As in nanochat: the program that is executed is the prompt's import lines + the first fenced python block of the
completion (or the whole completion) + the problem's `test` code + `check(entry_point)`, run by
`execution.execute_code`; the problem passes if that run succeeds.
"""

from __future__ import annotations

import re

from ..chatdata.generators import CODE_PROBLEMS
from ..execution import execute_code
from .common import Task


def extract_imports(prompt: str) -> str:
    """The `import`/`from` lines at the top of a prompt."""
    lines = []
    for line in prompt.split("\n"):
        stripped = line.strip()
        if stripped.startswith(("import ", "from ")):
            lines.append(stripped)
        elif stripped and not stripped.startswith("#"):
            break
    return "\n".join(lines)


def extract_program(completion: str) -> str:
    """The first ```python fenced block of a completion, or the completion itself."""
    match = re.search(r"```(?:python|py)?\s*\n(.*?)```", completion, re.DOTALL)
    return match.group(1).strip() if match else completion.strip()


class HumanEval(Task):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rows = CODE_PROBLEMS

    @property
    def eval_type(self) -> str:
        return "generative"

    def num_examples(self) -> int:
        return len(self.rows)

    def get_example(self, index: int) -> dict:
        row = self.rows[index]
        completion = row["prompt"] + row["canonical_solution"]
        return {
            "messages": [
                {"role": "user", "content": row["prompt"]},
                {"role": "assistant", "content": completion},
            ],
            "entry_point": row["entry_point"],
            "test": row["test"],
        }

    def evaluate(self, conversation: dict, completion: str) -> bool:
        imports = extract_imports(conversation["messages"][0]["content"])
        program = "\n\n".join(
            [
                imports,
                extract_program(completion),
                conversation["test"],
                f"check({conversation['entry_point']})",
            ]
        )
        return execute_code(program, timeout=5.0).success
