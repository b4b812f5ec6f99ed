"""Task framework: lightweight sliced views over datasets, mixtures and sequences of them (nanochat `tasks/common.py`).

Design choices:

- A `Task` is a *view*: `start/stop/step` slice an underlying dataset without copying it, so `MMLU(...)[:5200]`-style
  crops cost nothing. Subclasses implement `num_examples()`, `get_example(index)` and `eval_type`, and evaluation
  tasks also `evaluate(conversation, assistant_response)`.
- `TaskMixture` builds the full list of `(task, index)` pairs and shuffles it once with `random.Random(42)`, so
  training sees tasks interleaved; listing a task twice oversamples it (two epochs of identity data).
- `TaskSequence` concatenates tasks in order (a curriculum).
- `render_mc` puts the letter *after* each choice (`- choice=A`), which small models bind better, with no space
  before the letter so the prompt uses the same token as the one-letter answer.
"""

from __future__ import annotations

import random


class Task:
    """Base class: a sliced view `[start:stop:step]` over a dataset of conversations."""

    def __init__(self, start: int = 0, stop: int | None = None, step: int = 1):
        assert start >= 0, f"Start must be non-negative, got {start}"
        assert stop is None or stop >= start, f"Stop should be at least start, got {stop} and {start}"
        assert step >= 1, f"Step must be strictly positive, got {step}"
        self.start = start
        self.stop = stop
        self.step = step

    @property
    def eval_type(self) -> str:
        """'generative' or 'categorical'."""
        raise NotImplementedError

    def num_examples(self) -> int:
        raise NotImplementedError

    def get_example(self, index: int) -> dict:
        raise NotImplementedError

    def __len__(self) -> int:
        """Number of examples in the view ``[start:stop:step]`` of the ``num_examples()`` underlying ones.

        ``stop`` None means the end; a ``stop`` past the end is clipped to ``num_examples()``; an empty span gives
        0; otherwise the count is the ceiling of ``(stop - start) / step``.
        """
        raise NotImplementedError("TODO(step 1): the length of the sliced view")

    def __getitem__(self, index: int) -> dict:
        """Logical example ``index`` of the view: underlying example ``start + index * step``.

        ``index`` must be an int (assert). Negative indices count from the end of the view, as for lists; an index
        outside the view (after that) raises ``IndexError``. Returns ``self.get_example(...)``.
        """
        raise NotImplementedError("TODO(step 1): map a logical index to get_example(start + index * step)")

    def evaluate(self, problem: dict, completion: str):
        raise NotImplementedError


class TaskMixture(Task):
    """All examples of several tasks, deterministically shuffled together (seed 42)."""

    def __init__(self, tasks: list[Task], **kwargs):
        super().__init__(**kwargs)
        self.tasks = tasks
        self.lengths = [len(t) for t in tasks]
        self.num_conversations = sum(self.lengths)
        self.index_map = [(ti, i) for ti, n in enumerate(self.lengths) for i in range(n)]
        random.Random(42).shuffle(self.index_map)

    def num_examples(self) -> int:
        return self.num_conversations

    def get_example(self, index: int) -> dict:
        assert 0 <= index < self.num_conversations, (
            f"Index {index} out of range for mixture of {self.num_conversations}"
        )
        ti, i = self.index_map[index]
        return self.tasks[ti][i]


class TaskSequence(Task):
    """Tasks one after another, in order (a curriculum)."""

    def __init__(self, tasks: list[Task], **kwargs):
        super().__init__(**kwargs)
        self.tasks = tasks
        self.lengths = [len(t) for t in tasks]
        self.num_conversations = sum(self.lengths)

    def num_examples(self) -> int:
        return self.num_conversations

    def get_example(self, index: int) -> dict:
        assert 0 <= index < self.num_conversations, (
            f"Index {index} out of range for sequence of {self.num_conversations}"
        )
        for task, n in zip(self.tasks, self.lengths):
            if index < n:
                return task[index]
            index -= n
        raise IndexError(index)


def render_mc(question: str, letters, choices) -> str:
    """The multiple-choice prompt shared by ARC and MMLU.

    The lines are ``Multiple Choice question: {question}``, then one ``- {choice}={letter}`` per choice (the
    letter AFTER the choice, no space before it), then a blank line and
    ``Respond only with the letter of the correct answer.`` (no newline at the very end).
    """
    raise NotImplementedError("TODO(step 1): render the multiple-choice prompt")
