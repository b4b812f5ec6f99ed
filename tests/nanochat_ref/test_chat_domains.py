"""The chat model's domain data (chatdata/domains.py): correct tool calls, a frozen evaluation set that no
training conversation overlaps, and the scoring of replies."""

import random

import pytest

from nanochat_ref.chatdata import domains
from nanochat_ref.engine import use_calculator
from nanochat_ref.speedrun import PROFILES
from nanochat_ref.tasks.domainchat import SPLIT_SEEDS, DomainChat, DomainEval


def _profile_size(stage: str) -> int:
    flags = PROFILES["chat"][stage]
    return int(flags[flags.index("--domains") + 1])


def trained_rows() -> list[dict]:
    """Every conversation the `--chat` recipe trains on: the mid rows and the SFT rows."""
    mid = DomainChat(size=_profile_size("mid"), split="train")
    sft = DomainChat(size=_profile_size("sft"), split="sft")
    return [mid[i] for i in range(len(mid))] + [sft[i] for i in range(len(sft))]


def test_the_frozen_evaluation_set_is_what_the_evaluation_family_generates():
    assert domains.load_eval() == domains.eval_problems()


def test_the_evaluation_set_has_at_least_200_prompts_per_category_and_language():
    problems = domains.load_eval()
    for category in domains.CATEGORIES:
        for lang in domains.LANGS:
            assert len([p for p in problems if p["category"] == category and p["lang"] == lang]) >= 200


@pytest.mark.slow
def test_no_evaluation_prompt_shares_an_ngram_with_the_training_conversations():
    report = domains.overlap_report(trained_rows(), domains.load_eval())
    assert report["prompts"] == 1600
    assert report["exact"] == []
    assert report["sharing_ngram"] == []


def test_the_overlap_check_finds_a_leaked_evaluation_prompt():
    problems = domains.load_eval()
    leaked = [p for p in problems if p["category"] == "arithmetic" and p["lang"] == "en"][0]
    zh = [p for p in problems if p["category"] == "letters" and p["lang"] == "zh"][0]
    rows = domains.train_conversations(50)
    rows.append(
        {"messages": [{"role": "user", "content": leaked["prompt"]}, {"role": "assistant", "content": "x"}]}
    )
    rows.append(
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": zh["prompt"]}]}
    )
    report = domains.overlap_report(rows, problems)
    assert leaked["prompt"] in report["exact"]
    assert {leaked["prompt"], zh["prompt"]} <= {prompt for prompt, _ in report["sharing_ngram"]}


def test_evaluation_words_are_held_out_from_the_training_words():
    train_words, eval_words = domains.split_words()
    assert len(eval_words) > 300 and not set(train_words) & set(eval_words)
    rows = domains.train_conversations(300)
    calls = [p["text"] for r in rows for m in r["messages"] if isinstance(m["content"], list) for p in m["content"]
             if p["type"] == "python" and ".count(" in p["text"]]  # fmt: skip
    assert calls and all(
        call.split("'")[1].strip().strip('"') not in eval_words for call in calls if "'" in call
    )


def test_every_training_tool_call_evaluates_to_its_output_with_the_engine_calculator():
    calls = 0
    for row in domains.train_conversations(400):
        for message in row["messages"]:
            if not isinstance(message["content"], list):
                continue
            parts = message["content"]
            assert [p["type"] for p in parts] == ["python", "python_output", "text"]
            assert str(use_calculator(parts[0]["text"])) == parts[1]["text"]
            assert parts[1]["text"] in parts[2]["text"]
            calls += 1
    assert calls > 200


def test_a_letter_call_copies_the_word_as_the_user_typed_it():
    rng = random.Random(3)
    for _ in range(50):
        user, parts, _n = domains._letters_turn(rng, domains.TRAIN, "en", domains.split_words()[0])
        literal = parts[0]["text"].split(".count(")[0]
        typed = literal[1:-1] if literal.startswith("' ") else literal
        assert (" " + typed.strip() if literal.startswith("' ") else typed) in " " + user


def test_the_rows_of_mid_sft_and_val_never_repeat_each_other():
    seeds = sorted(SPLIT_SEEDS.values())
    assert all(b - a > 1_000_000 for a, b in zip(seeds, seeds[1:], strict=False))
    assert DomainChat(size=3, split="train")[1] == domains.train_conversation(random.Random(1))


@pytest.mark.parametrize(
    ("problem", "completion", "ok"),
    [
        ({"category": "arithmetic", "lang": "en", "answer": 19},
         "<|python_start|>12+7<|python_end|><|output_start|>19<|output_end|>The answer is 19.", True),
        ({"category": "arithmetic", "lang": "en", "answer": 19},
         "<|python_start|>12+7<|python_end|><|output_start|>19<|output_end|>The answer is 18.", False),
        ({"category": "letters", "lang": "zh", "answer": 2}, "字母 r 出现了 2 次。", True),
        ({"category": "identity", "lang": "en", "answer": "creator"}, "I am nanochat.", False),
        ({"category": "identity", "lang": "zh", "answer": "creator"}, "我是 nanochat，由 Andrej Karpathy ...", True),
        ({"category": "refusal", "lang": "en", "answer": "refusal"}, domains.REPLY["refusal"]["en"], True),
        ({"category": "refusal", "lang": "zh", "answer": "refusal"},
         "<|python_start|>1+1<|python_end|>" + domains.REPLY["refusal"]["zh"], False),
    ],
)  # fmt: skip
def test_a_reply_is_scored_on_what_the_model_wrote_after_its_tool_output(problem, completion, ok):
    assert domains.score(problem, completion) is ok


def test_domain_eval_tasks_hand_the_problem_to_the_scorer():
    task = DomainEval("arithmetic", "en")
    example = task[0]
    answer = example["problem"]["answer"]
    assert task.evaluate(example, f"<|output_end|>The answer is {answer}.") == 1
    assert task.evaluate(example, f"The answer is {answer + 1}.") == 0
