"""SpellingBee (count a letter in a word, with a python `.count()` check) and SimpleSpelling (spell a word).

As in nanochat (commit C): each example is generated from its index with a seeded RNG (test split: seed + 10,000,000);
90% of the time the letter is taken from the word, 10% it is random. The assistant answer is built as parts: a
manual letter-by-letter count, a python part `'word'.count('x')`, its output, and `#### n`, so evaluation reuses
GSM8K's `#### ` extraction and the Engine's calculator handles the `.count(` call. Words come from the shipped
word list (`chatdata/words.txt`) instead of a downloaded `words_alpha.txt`.
"""

from __future__ import annotations

import random

from ..chatdata.generators import load_words
from .common import Task
from .gsm8k import extract_answer

LETTERS = "abcdefghijklmnopqrstuvwxyz"
TEST_RANDOM_SEED_OFFSET = 10_000_000
# nanochat picks "", "'" or '"' uniformly. We favour single quotes: `'word` is then the same BPE chunk in the
# question and in the python call, so a tiny model can copy tokens instead of re-spelling the word.
QUOTES = ["'", "'", "'", "", '"']
USER_MSG_TEMPLATES = [
    "How many {letter} are in the word {word}",
    "How many {letter} are in {word}",
    "Count the number of {letter} in {word}",
    "How many times does {letter} appear in {word}",
    "how many {letter}s are in {word}",
    "Wie viele {letter} sind in {word}",
    "Combien de {letter} dans {word}",
    "{word}里有几个{letter}",
]


class SpellingBee(Task):
    def __init__(self, size: int = 1000, split: str = "train", **kwargs):
        super().__init__(**kwargs)
        assert split in ("train", "test"), "SpellingBee split must be train|test"
        self.size = size
        self.split = split
        self.words = load_words()

    @property
    def eval_type(self) -> str:
        return "generative"

    def num_examples(self) -> int:
        return self.size

    def get_example(self, index: int) -> dict:
        seed = index if self.split == "train" else TEST_RANDOM_SEED_OFFSET + index
        rng = random.Random(seed)
        word = rng.choice(self.words)
        letter = rng.choice(word) if rng.random() < 0.9 else rng.choice(LETTERS)
        count = word.count(letter)
        template = rng.choice(USER_MSG_TEMPLATES)
        if rng.random() < 0.3:
            template = template.lower()
        quote = rng.choice(QUOTES)
        user = template.format(letter=f"{quote}{letter}{quote}", word=f"{quote}{word}{quote}")
        if rng.random() < 0.5:
            user += "?"
        spelled = ",".join(word)
        manual = f"We are looking for '{letter}' in '{word}'. Spelled out: {spelled}. "
        parts = [
            {"type": "text", "text": manual + "Let me check with python: "},
            {"type": "python", "text": f"'{word}'.count('{letter}')"},
            {"type": "python_output", "text": str(count)},
            {"type": "text", "text": f"\n#### {count}"},
        ]
        return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": parts}]}

    def evaluate(self, conversation: dict, assistant_response: str) -> int:
        content = conversation["messages"][-1]["content"]
        ref = extract_answer(content[-1]["text"])
        pred = extract_answer(assistant_response)
        return int(pred is not None and pred == ref)

    def reward(self, conversation: dict, assistant_response: str) -> float:
        return float(self.evaluate(conversation, assistant_response))


class SimpleSpelling(Task):
    """`Spell the word: X` -> `X:x,y,z` (teaches the model how words split into letters)."""

    def __init__(self, size: int = 1000, split: str = "train", **kwargs):
        super().__init__(**kwargs)
        assert split in ("train", "test"), "SimpleSpelling split must be train|test"
        self.size = size
        self.split = split
        self.words = load_words()

    @property
    def eval_type(self) -> str:
        return "generative"

    def num_examples(self) -> int:
        return self.size

    def get_example(self, index: int) -> dict:
        seed = index if self.split == "train" else TEST_RANDOM_SEED_OFFSET + index
        word = random.Random(seed).choice(self.words)
        return {
            "messages": [
                {"role": "user", "content": f"Spell the word: {word}"},
                {"role": "assistant", "content": f"{word}:{','.join(word)}"},
            ]
        }
