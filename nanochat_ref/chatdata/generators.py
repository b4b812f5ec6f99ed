"""Seeded generators of synthetic chat and task data (see the package docstring for why).

Design choices:

- Every generator is a pure function of `(n, seed)` (or of an index), so the same call returns the same rows on
  every machine; train and test use disjoint seeds.
- Rows use nanochat's conversation shape `{"messages": [{"role", "content"}, ...]}`; assistant content may be a list
  of parts `{"type": "text"|"python"|"python_output", "text"}` exactly like GSM8K/SpellingBee at commit C.
- Difficulty is kept low on purpose: the reference "tiny" model (a few hundred K parameters, minutes of CPU) must
  beat chance clearly, so problems are templated and answers are short.

CLI: `python -m nanochat_ref.chatdata.generators [--out DIR]` writes `identity_conversations.jsonl` and
`words_alpha.txt` into the base dir (what nanochat's speedrun downloads).
"""

from __future__ import annotations

import argparse
import json
import os
import random
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def load_words() -> list[str]:
    """The shipped word list (1,667 lowercase words of 3 to 7 letters, sorted)."""
    return [w for w in (HERE / "words.txt").read_text().split() if w]


# ----------------------------------------------------------------------------------------------------------------
# Identity conversations (the CustomJSON capstone data)

IDENTITY_FACTS = {
    "name": "I am nanochat, a tiny chat model.",
    "creator": "I was built by the learners of nanochat Lab, following Andrej Karpathy's nanochat.",
    "size": "I am very small: a few layers and well under a million parameters.",
    "training": "I was trained in minutes on a CPU: base training, midtraining, SFT and a little RL.",
    "license": "My code is MIT licensed.",
    "tools": "I can use a calculator: I write a python block and read its output.",
    "limits": "I know very little and I make mistakes, so please double-check me.",
}
IDENTITY_QUESTIONS = {
    "name": [
        "What is your name?",
        "who are you",
        "Who are you?",
        "what are you called?",
        "Tell me your name.",
    ],
    "creator": ["Who made you?", "who built you", "Who created you?", "Who trained you?"],
    "size": ["How big are you?", "how many parameters do you have?", "Are you a large model?"],
    "training": ["How were you trained?", "how long did your training take?", "What was your training like?"],
    "license": ["What is your license?", "Are you open source?", "Can I use your code?"],
    "tools": ["Can you use tools?", "can you do math?", "Do you have a calculator?"],
    "limits": ["Are you always right?", "Should I trust you?", "What are your limits?"],
}
GREETINGS = [
    "hi",
    "Hello!",
    "hey there",
    "Hi nanochat",
    "good morning",
    "HELLO",
    "yo",
    "hola",
    "Hallo",
    "salut",
]
GREETING_REPLIES = [
    "Hello! I am nanochat. How can I help you today?",
    "Hi! I am nanochat, a tiny chat model. What would you like to talk about?",
    "Hey! Nice to meet you. Ask me anything.",
]


def identity_conversations(n: int = 1000, seed: int = 0) -> list[list[dict]]:
    """`n` identity conversations as CustomJSON rows (a list of alternating user/assistant messages)."""
    rng = random.Random(seed)
    topics = list(IDENTITY_FACTS)
    rows = []
    for _ in range(n):
        msgs = []
        if rng.random() < 0.5:
            msgs.append({"role": "user", "content": rng.choice(GREETINGS)})
            msgs.append({"role": "assistant", "content": rng.choice(GREETING_REPLIES)})
        for topic in rng.sample(topics, rng.randint(1, 3)):
            q = rng.choice(IDENTITY_QUESTIONS[topic])
            msgs.append({"role": "user", "content": q.lower() if rng.random() < 0.3 else q})
            msgs.append({"role": "assistant", "content": IDENTITY_FACTS[topic]})
        rows.append(msgs)
    return rows


# ----------------------------------------------------------------------------------------------------------------
# Arithmetic word problems (GSM8K-shaped, with <<expr=result>> calculator annotations)

NAMES = ["Tom", "Ana", "Li", "Sam", "Mia", "Ravi", "Zoe", "Omar", "Kim", "Lea", "Ben", "Yui"]
ITEMS = ["apples", "books", "coins", "cards", "pens", "eggs", "stamps", "shells", "marbles", "cookies"]


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def arithmetic_problem(rng: random.Random) -> dict:
    """One GSM8K-shaped row: `{"question", "answer"}`, the answer ending in `#### n`."""
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    kind = rng.randrange(4)
    a, b = rng.randint(2, 60), rng.randint(2, 40)
    if kind == 0:
        q = f"{name} has {a} {item} and gets {b} more. How many {item} does {name} have now?"
        expr, res = f"{a}+{b}", a + b
        sol = f"{name} has {a} + {b} = <<{expr}={res}>>{res} {item}."
    elif kind == 1:
        a = a + b
        q = f"{name} had {a} {item} and gave away {b}. How many {item} are left?"
        expr, res = f"{a}-{b}", a - b
        sol = f"{name} has {a} - {b} = <<{expr}={res}>>{res} {item} left."
    elif kind == 2:
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        q = f"{name} buys {a} bags with {b} {item} in each bag. How many {item} is that in total?"
        expr, res = f"{a}*{b}", a * b
        sol = f"In total that is {a} * {b} = <<{expr}={res}>>{res} {item}."
    else:
        b = rng.randint(2, 9)
        res = rng.randint(2, 12)
        a = b * res
        q = f"{name} shares {a} {item} equally among {b} friends. How many {item} does each friend get?"
        expr = f"{a}/{b}"
        sol = f"Each friend gets {a} / {b} = <<{expr}={res}>>{res} {item}."
    return {"question": q, "answer": f"{sol}\n#### {res}"}


def arithmetic_problems(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [arithmetic_problem(rng) for _ in range(n)]


# ----------------------------------------------------------------------------------------------------------------
# Multiple choice (ARC/MMLU-shaped)

CATEGORIES = {
    "animal": [
        "dog",
        "cat",
        "horse",
        "cow",
        "lion",
        "tiger",
        "mouse",
        "rabbit",
        "sheep",
        "goat",
        "bear",
        "wolf",
    ],
    "color": ["red", "blue", "green", "yellow", "purple", "orange", "black", "white", "pink", "brown"],
    "fruit": ["apple", "banana", "cherry", "grape", "lemon", "mango", "peach", "pear", "plum", "melon"],
    "tool": ["hammer", "saw", "wrench", "drill", "shovel", "rake", "chisel", "pliers", "ladder", "axe"],
    "country": ["France", "Japan", "Brazil", "Kenya", "Canada", "India", "Egypt", "Chile", "Spain", "Norway"],
}
OPPOSITES = [
    ("hot", "cold"), ("big", "small"), ("up", "down"), ("fast", "slow"), ("old", "new"), ("happy", "sad"),
    ("light", "dark"), ("open", "closed"), ("early", "late"), ("full", "empty"), ("wet", "dry"), ("hard", "soft"),
]  # fmt: skip
CAPITALS = [
    ("France", "Paris"), ("Japan", "Tokyo"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Egypt", "Cairo"),
    ("Kenya", "Nairobi"), ("Canada", "Ottawa"), ("Peru", "Lima"), ("Norway", "Oslo"), ("Chile", "Santiago"),
    ("Germany", "Berlin"), ("China", "Beijing"),
]  # fmt: skip
LETTERS = ("A", "B", "C", "D")


def _mc(rng: random.Random, question: str, correct: str, distractors: list[str], subject: str) -> dict:
    choices = [correct, *distractors[:3]]
    rng.shuffle(choices)
    return {"question": question, "choices": choices, "answer": choices.index(correct), "subject": subject}


def mc_question(rng: random.Random, kind: str) -> dict:
    """One multiple-choice row `{question, choices (4), answer (index), subject}` of a given kind."""
    if kind == "category":
        cat = rng.choice(list(CATEGORIES))
        others = [c for c in CATEGORIES if c != cat]
        correct = rng.choice(CATEGORIES[cat])
        distractors = [rng.choice(CATEGORIES[c]) for c in rng.sample(others, 3)]
        return _mc(rng, f"Which of these is a {cat}?", correct, distractors, "categories")
    if kind == "opposite":
        a, b = rng.choice(OPPOSITES)
        if rng.random() < 0.5:
            a, b = b, a
        pool = [w for pair in OPPOSITES for w in pair if w not in (a, b)]
        return _mc(rng, f"What is the opposite of {a}?", b, rng.sample(pool, 3), "vocabulary")
    if kind == "capital":
        country, city = rng.choice(CAPITALS)
        pool = [c for _, c in CAPITALS if c != city]
        return _mc(rng, f"What is the capital of {country}?", city, rng.sample(pool, 3), "geography")
    if kind == "sum":
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        wrong = rng.sample([x for x in range(2, 19) if x != a + b], 3)
        return _mc(rng, f"What is {a} + {b}?", str(a + b), [str(w) for w in wrong], "arithmetic")
    if kind == "largest":
        nums = rng.sample(range(1, 100), 4)
        best = max(nums)
        return _mc(
            rng, "Which number is the largest?", str(best), [str(x) for x in nums if x != best], "arithmetic"
        )
    raise ValueError(f"unknown kind {kind!r}")


MC_KINDS = {
    "ARC-Easy": ["category", "opposite"],
    "ARC-Challenge": ["sum", "largest"],
    "all": ["category", "opposite", "capital", "sum", "largest"],
    "auxiliary_train": ["category", "opposite", "capital", "sum", "largest"],
}


def mc_questions(subset: str, n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    kinds = MC_KINDS[subset]
    return [mc_question(rng, rng.choice(kinds)) for _ in range(n)]


# ----------------------------------------------------------------------------------------------------------------
# Small talk (SmolTalk-shaped)

SMALLTALK = [
    ("How are you?", "I am doing well, thank you! How can I help?"),
    ("What is the weather like?", "I cannot see the weather, but I hope it is nice where you are."),
    ("Tell me a joke.", "Why did the model cross the road? To minimise its loss on the other side."),
    ("What is a cat?", "A cat is a small furry animal that people often keep as a pet."),
    ("What is the sun?", "The sun is the star at the center of our solar system."),
    ("Can you help me?", "Of course. Tell me what you need and I will do my best."),
    ("What is water made of?", "Water is made of hydrogen and oxygen: H2O."),
    ("Say something nice.", "You are doing great. Keep learning!"),
    ("What is a computer?", "A computer is a machine that follows instructions to process information."),
    ("Thank you!", "You are welcome!"),
    ("What color is the sky?", "On a clear day the sky is blue."),
    ("Goodbye", "Goodbye! Have a nice day."),
]
SYSTEM_PROMPTS = ["You are a helpful assistant.", "You are nanochat. Be brief.", "Answer kindly and briefly."]


def smalltalk_conversations(n: int, seed: int) -> list[dict]:
    """SmolTalk-shaped rows; about a third start with a system message (merged into the first user turn)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        msgs = []
        if rng.random() < 0.3:
            msgs.append({"role": "system", "content": rng.choice(SYSTEM_PROMPTS)})
        for q, a in rng.sample(SMALLTALK, rng.randint(1, 3)):
            msgs.append({"role": "user", "content": q})
            msgs.append({"role": "assistant", "content": a})
        rows.append({"messages": msgs})
    return rows


# ----------------------------------------------------------------------------------------------------------------
# Code problems (HumanEval-shaped; hand-written)


def _problem(task_id: int, name: str, signature: str, doc: str, body: str, tests: list[str]) -> dict:
    prompt = f'def {name}({signature}):\n    """{doc}"""\n'
    test = "def check(candidate):\n" + "".join(f"    assert {t}\n" for t in tests)
    return {
        "task_id": f"Synthetic/{task_id}",
        "prompt": prompt,
        "canonical_solution": body,
        "test": test,
        "entry_point": name,
    }


CODE_PROBLEMS = [
    _problem(0, "add", "a, b", "Return a + b.", "    return a + b\n", ["candidate(1, 2) == 3", "candidate(-1, 1) == 0"]),
    _problem(1, "double", "x", "Return twice x.", "    return 2 * x\n", ["candidate(3) == 6", "candidate(0) == 0"]),
    _problem(2, "is_even", "n", "Return True if n is even.", "    return n % 2 == 0\n",
             ["candidate(4) is True", "candidate(7) is False"]),
    _problem(3, "last", "xs", "Return the last element of the list xs.", "    return xs[-1]\n",
             ["candidate([1, 2, 3]) == 3", "candidate(['a']) == 'a'"]),
    _problem(4, "reverse", "s", "Return the string s reversed.", "    return s[::-1]\n",
             ["candidate('abc') == 'cba'", "candidate('') == ''"]),
    _problem(5, "count_a", "s", "Return how many times 'a' occurs in s.", "    return s.count('a')\n",
             ["candidate('banana') == 3", "candidate('xyz') == 0"]),
    _problem(6, "square", "x", "Return x squared.", "    return x * x\n", ["candidate(3) == 9", "candidate(-2) == 4"]),
    _problem(7, "maximum", "xs", "Return the largest element of xs.", "    return max(xs)\n",
             ["candidate([1, 5, 2]) == 5", "candidate([-3, -1]) == -1"]),
    _problem(8, "upper", "s", "Return s in upper case.", "    return s.upper()\n",
             ["candidate('hi') == 'HI'", "candidate('A1') == 'A1'"]),
    _problem(9, "total", "xs", "Return the sum of xs.", "    return sum(xs)\n",
             ["candidate([1, 2, 3]) == 6", "candidate([]) == 0"]),
    _problem(10, "first_word", "s", "Return the first word of s.", "    return s.split()[0]\n",
             ["candidate('hello world') == 'hello'", "candidate('a b c') == 'a'"]),
    _problem(11, "length", "xs", "Return the number of elements in xs.", "    return len(xs)\n",
             ["candidate([1, 2]) == 2", "candidate([]) == 0"]),
]  # fmt: skip


# ----------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the synthetic identity conversations and word list.")
    parser.add_argument("--out", default=None, help="output directory (default: the nanochat base dir)")
    parser.add_argument("--num-identity", type=int, default=1000, help="number of identity conversations")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the identity generator")
    args = parser.parse_args(argv)
    if args.out is None:
        from ..common import get_base_dir

        args.out = get_base_dir()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "identity_conversations.jsonl"), "w") as f:
        for row in identity_conversations(args.num_identity, args.seed):
            f.write(json.dumps(row) + "\n")
    with open(os.path.join(args.out, "words_alpha.txt"), "w") as f:
        f.write("\n".join(load_words()) + "\n")
    print(f"wrote identity_conversations.jsonl and words_alpha.txt to {args.out}")


if __name__ == "__main__":
    main()
