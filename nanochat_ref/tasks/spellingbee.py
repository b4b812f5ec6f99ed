"""SpellingBee (count a letter in a word, with a python `.count()` check) and SimpleSpelling (spell a word).

As in nanochat (commit C): each example is generated from its index with a seeded RNG (test split: seed + 10,000,000);
90% of the time the letter is taken from the word, 10% it is random. The assistant answer is built as parts: a
manual letter-by-letter count, a python part `'word'.count('x')`, its output, and `#### n`, so evaluation reuses
GSM8K's `#### ` extraction and the Engine's calculator handles the `.count(` call. Words come from the shipped
word list (`chatdata/words.txt`) instead of a downloaded `words_alpha.txt`.

Extra (nanochat Lab): nanochat's letter draw makes the true count 1 most of the time (~80% on our word list), so a
model that always answers "1" beats most small models. `BalancedSpellingBee` draws the true count first (0, 1, 2
or 3, uniformly) and then a word and letter with that count, so a constant answer scores about 0.25 and the
accuracy means something. `SimpleSpelling.evaluate` scores an exact spelling (`word:w,o,r,d`), whose constant
baseline is ~0. Both are evaluation sets over the same word list the training tasks use: the problems are held
out (disjoint seeds), the words are not.
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


def _assistant_parts(word: str, letter: str) -> list[dict]:
    count = word.count(letter)
    spelled = ",".join(word)
    manual = f"We are looking for '{letter}' in '{word}'. Spelled out: {spelled}. "
    return [
        {"type": "text", "text": manual + "Let me check with python: "},
        {"type": "python", "text": f"'{word}'.count('{letter}')"},
        {"type": "python_output", "text": str(count)},
        {"type": "text", "text": f"\n#### {count}"},
    ]


def _seed(split: str, index: int) -> int:
    """Each example comes from its own seeded RNG; the test split's seeds are disjoint from the train split's."""
    return index if split == "train" else TEST_RANDOM_SEED_OFFSET + index


def _user_message(rng: random.Random, word: str, letter: str) -> str:
    template = rng.choice(USER_MSG_TEMPLATES)
    if rng.random() < 0.3:
        template = template.lower()
    quote = rng.choice(QUOTES)
    user = template.format(letter=f"{quote}{letter}{quote}", word=f"{quote}{word}{quote}")
    if rng.random() < 0.5:
        user += "?"
    return user


class _WordTask(Task):
    """A generated, generative task over the shipped word list: ``size`` examples per split, rewards = scores."""

    def __init__(self, size: int = 1000, split: str = "train", **kwargs):
        super().__init__(**kwargs)
        assert split in ("train", "test"), f"{type(self).__name__} split must be train|test"
        self.size = size
        self.split = split
        self.words = load_words()

    @property
    def eval_type(self) -> str:
        return "generative"

    def num_examples(self) -> int:
        return self.size

    def reward(self, conversation: dict, assistant_response: str) -> float:
        return float(self.evaluate(conversation, assistant_response))


class SpellingBee(_WordTask):
    def get_example(self, index: int) -> dict:
        rng = random.Random(_seed(self.split, index))
        word, letter = self._draw(rng)
        user = _user_message(rng, word, letter)
        parts = _assistant_parts(word, letter)
        return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": parts}]}

    def _draw(self, rng: random.Random) -> tuple[str, str]:
        """nanochat's draw: a word, then one of its letters 90% of the time (a random letter otherwise)."""
        word = rng.choice(self.words)
        letter = rng.choice(word) if rng.random() < 0.9 else rng.choice(LETTERS)
        return word, letter

    def evaluate(self, conversation: dict, assistant_response: str) -> int:
        content = conversation["messages"][-1]["content"]
        ref = extract_answer(content[-1]["text"])
        pred = extract_answer(assistant_response)
        return int(pred is not None and pred == ref)


class BalancedSpellingBee(SpellingBee):
    """SpellingBee with the true count drawn uniformly from 0-3 first (a constant answer scores ~0.25).

    Same prompts and answer format as `SpellingBee`; only `_draw`, the (word, letter) draw, differs: count `c`
    uniform in {0, 1, 2, 3}, then a word that has a letter occurring exactly `c` times (any word for 0), then such
    a letter.
    """

    MAX_COUNT = 3

    def __init__(self, size: int = 1000, split: str = "train", **kwargs):
        super().__init__(size=size, split=split, **kwargs)
        self.by_count: dict[int, list[str]] = {c: [] for c in range(self.MAX_COUNT + 1)}
        for word in self.words:
            counts = {word.count(letter) for letter in LETTERS}
            for c in counts:
                if c <= self.MAX_COUNT:
                    self.by_count[c].append(word)

    def _draw(self, rng: random.Random) -> tuple[str, str]:
        count = rng.randint(0, self.MAX_COUNT)
        word = rng.choice(self.by_count[count])
        letter = rng.choice([c for c in LETTERS if word.count(c) == count])
        return word, letter


class SimpleSpelling(_WordTask):
    """`Spell the word: X` -> `X:x,y,z` (teaches the model how words split into letters)."""

    def get_example(self, index: int) -> dict:
        word = random.Random(_seed(self.split, index)).choice(self.words)
        return {
            "messages": [
                {"role": "user", "content": f"Spell the word: {word}"},
                {"role": "assistant", "content": f"{word}:{','.join(word)}"},
            ]
        }

    def evaluate(self, conversation: dict, assistant_response: str) -> int:
        """1 iff the reply is exactly the reference `word:w,o,r,d` (surrounding whitespace ignored)."""
        return int(assistant_response.strip() == conversation["messages"][-1]["content"].strip())
