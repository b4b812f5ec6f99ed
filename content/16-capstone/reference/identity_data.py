"""Synthetic identity conversations for nanochat, in the CustomJSON format (the capstone's reference).

    python identity_data.py identity_conversations.jsonl 1000    # then copy it into $NANOCHAT_BASE_DIR

Design choices:

- **Offline and template-based.** nanochat's generator asks an LLM API for each conversation; the lab's sandbox has
  no network, so conversations are assembled from templates filled with facts from `KNOWLEDGE`. Every fact the
  assistant states comes from that one dict, so changing the model's identity means editing one place.
- **Diversity is injected explicitly**, along independent axes sampled from a seeded `random.Random`: the topic
  (which fact is asked about), the user persona (how the question is phrased), the dynamic (how many turns, a
  skeptical follow-up or a thank-you) and the first-message style (a greeting, typos, all caps, another language).
  Without these knobs template data comes out repetitive (Karpathy: diversity control is the key creative step).
- **Deterministic.** The same `seed` gives the same conversations, so a dataset can be regenerated exactly.
- **Validated before writing.** `validate_conversation` applies CustomJSON's rules (at least two messages, roles
  alternate starting with `user`, string contents) plus stricter ones (exactly `role` and `content`, non-empty
  content, the assistant speaks last, assistant text is plain ASCII); `write_jsonl` checks every conversation first
  and writes nothing if one is invalid. Each line is one JSON array of messages.
"""

from __future__ import annotations

import json
import random
import sys

KNOWLEDGE = {
    "name": "nanochat",
    "creator": "Andrej Karpathy",
    "year": "2025",
    "license": "MIT",
    "repo": "https://github.com/karpathy/nanochat",
    "architecture": "a small decoder-only Transformer with rotary embeddings and multi-query attention",
    "training": "pretraining on FineWeb-Edu text, then midtraining, supervised fine-tuning and a little RL",
    "cost": "about $100 of GPU time for the speedrun model",
    "limitations": "I am a small model, so I make mistakes, and I have no internet access",
    "languages": "English works best for me",
}

# topic -> (question phrasings, answer template using KNOWLEDGE keys)
TOPICS: dict[str, tuple[list[str], str]] = {
    "identity": (
        ["who are you", "what is your name", "what should I call you", "are you a person"],
        "I am {name}, a small language model. I am not a person, just a neural network.",
    ),
    "creator": (
        ["who made you", "who built you", "who created you", "where do you come from"],
        "I was built by {creator} in {year}. My code is open source under the {license} license at {repo}.",
    ),
    "architecture": (
        ["how do you work", "what is your architecture", "what kind of model are you"],
        "I am {architecture}. I predict one token at a time.",
    ),
    "training": (
        ["how were you trained", "what data did you learn from", "how did you learn to chat"],
        "My training went through stages: {training}.",
    ),
    "cost": (
        ["how much did you cost", "how expensive were you to train", "what did your training cost"],
        "Training a model like me costs {cost}.",
    ),
    "limitations": (
        ["what can't you do", "are you always right", "can you browse the web"],
        "Honestly: {limitations}. Please double-check important answers.",
    ),
    "license": (
        ["can I use your code", "are you open source", "what is your license"],
        "Yes, I am open source: the {license} license, code at {repo}.",
    ),
}
PERSONAS: list[str] = [
    "{q}?",
    "Quick question: {q}?",
    "hey, {q}",
    "I'm a student. {q}?",
    "{Q}?!",
    "So... {q}?",
]
FIRST_MESSAGES: list[str] = [
    "Hi!",
    "hello there",
    "HELLO",
    "helo, anyone home?",
    "Good morning!",
    "yo",
    "Hola!",
    "Bonjour",
    "Ni hao",
]
NON_ENGLISH = {"Hola!": "Hola! ", "Bonjour": "Bonjour! ", "Ni hao": "Ni hao! "}
DYNAMICS: list[str] = ["qa", "greeting_then_qa", "two_questions", "skeptical", "thanks"]
SKEPTIC = ["Really? I don't believe that.", "Are you sure?", "That sounds made up."]
THANKS = ["Thanks!", "cool, thank you", "Great, thanks a lot."]


def _answer(topic: str) -> str:
    return TOPICS[topic][1].format(**KNOWLEDGE)


def _question(rng: random.Random, topic: str) -> str:
    q = rng.choice(TOPICS[topic][0])
    return rng.choice(PERSONAS).format(q=q, Q=q.upper())


def generate_conversation(rng: random.Random) -> list[dict]:
    """One conversation: a topic, persona, dynamic and first-message style sampled from `rng`."""
    topic = rng.choice(sorted(TOPICS))
    dynamic = rng.choice(DYNAMICS)
    messages: list[dict] = []

    def turn(user: str, assistant: str) -> None:
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})

    if dynamic == "greeting_then_qa":
        first = rng.choice(FIRST_MESSAGES)
        greeting = f"Hello! I am {KNOWLEDGE['name']}. How can I help you?"
        if first in NON_ENGLISH:
            greeting = (
                NON_ENGLISH[first] + f"I am {KNOWLEDGE['name']}. I can reply, but {KNOWLEDGE['languages']}."
            )
        turn(first, greeting)
    turn(_question(rng, topic), _answer(topic))
    if dynamic == "two_questions":
        other = rng.choice(sorted(set(TOPICS) - {topic}))
        turn(_question(rng, other), _answer(other))
    elif dynamic == "skeptical":
        turn(rng.choice(SKEPTIC), f"Yes, I am sure. {_answer(topic)}")
    elif dynamic == "thanks":
        turn(rng.choice(THANKS), f"You're welcome! Ask {KNOWLEDGE['name']} anytime.")
    return messages


def generate_conversations(n: int, seed: int = 42) -> list[list[dict]]:
    """`n` conversations from `random.Random(seed)`: the same seed always gives the same list."""
    rng = random.Random(seed)
    return [generate_conversation(rng) for _ in range(n)]


def validate_conversation(messages: list[dict]) -> None:
    """Raise ValueError (saying what is wrong) unless `messages` is a valid identity conversation."""
    if not isinstance(messages, list) or len(messages) < 2:
        raise ValueError("a conversation is a list of at least 2 messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or set(m) != {"role", "content"}:
            raise ValueError(f"message {i} must be a dict with exactly 'role' and 'content'")
        expected = "user" if i % 2 == 0 else "assistant"
        if m["role"] != expected:
            raise ValueError(f"message {i} has role {m['role']!r}; roles alternate starting with 'user'")
        if not isinstance(m["content"], str) or not m["content"].strip():
            raise ValueError(f"message {i} content must be a non-empty string")
        if expected == "assistant" and not m["content"].isascii():
            raise ValueError(f"message {i}: assistant content must be plain ASCII")
    if len(messages) % 2:
        raise ValueError("the conversation must end with the assistant (an even number of messages)")


def write_jsonl(conversations: list[list[dict]], path: str) -> int:
    """Validate every conversation, then write one JSON array per line to `path`; return how many were written."""
    for i, conversation in enumerate(conversations):
        try:
            validate_conversation(conversation)
        except ValueError as exc:
            raise ValueError(f"conversation {i}: {exc}") from None
    with open(path, "w", encoding="utf-8") as f:
        for conversation in conversations:
            f.write(json.dumps(conversation, ensure_ascii=False) + "\n")
    return len(conversations)


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "identity_conversations.jsonl"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    print(f"wrote {write_jsonl(generate_conversations(count), out)} conversations to {out}")
