"""Tests for nanochat_ref.tasks: slicing, mixtures, rendering and the metrics of each task on hand-made cases."""

import json

import pytest

from nanochat_ref.chatdata.generators import arithmetic_problems, identity_conversations
from nanochat_ref.tasks.arc import ARC
from nanochat_ref.tasks.common import Task, TaskMixture, TaskSequence, render_mc
from nanochat_ref.tasks.customjson import CustomJSON
from nanochat_ref.tasks.gsm8k import GSM8K, extract_answer, solution_parts
from nanochat_ref.tasks.humaneval import HumanEval
from nanochat_ref.tasks.mmlu import MMLU
from nanochat_ref.tasks.smoltalk import SmolTalk
from nanochat_ref.tasks.spellingbee import BalancedSpellingBee, SimpleSpelling, SpellingBee


class Numbers(Task):
    def __init__(self, n, tag, **kw):
        super().__init__(**kw)
        self.n, self.tag = n, tag

    def num_examples(self):
        return self.n

    def get_example(self, i):
        return (self.tag, i)


def test_task_slicing_maps_logical_indices_to_start_plus_step():
    t = Numbers(10, "a", start=2, stop=9, step=3)
    assert len(t) == 3
    assert [t[i] for i in range(3)] == [("a", 2), ("a", 5), ("a", 8)]
    with pytest.raises(IndexError):
        t[3]


def test_task_mixture_contains_every_example_once_in_a_fixed_shuffled_order():
    mix = TaskMixture([Numbers(3, "a"), Numbers(2, "b")])
    items = [mix[i] for i in range(len(mix))]
    assert sorted(items) == [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1)]
    again = TaskMixture([Numbers(3, "a"), Numbers(2, "b")])
    assert items == [again[i] for i in range(len(again))]


def test_task_mixture_oversamples_a_task_listed_twice():
    a = Numbers(2, "a")
    mix = TaskMixture([a, a, Numbers(2, "b")])
    items = [mix[i] for i in range(len(mix))]
    assert items.count(("a", 0)) == 2 and items.count(("b", 0)) == 1


def test_task_sequence_concatenates_in_order():
    seq = TaskSequence([Numbers(2, "a"), Numbers(1, "b")])
    assert [seq[i] for i in range(3)] == [("a", 0), ("a", 1), ("b", 0)]


def test_render_mc_puts_the_letter_after_each_choice_without_a_space():
    text = render_mc("Q?", ["A", "B"], ["red", "blue"])
    assert (
        text
        == "Multiple Choice question: Q?\n- red=A\n- blue=B\n\nRespond only with the letter of the correct answer."
    )


def test_arc_and_mmlu_score_the_gold_letter_only():
    for task in (ARC("ARC-Easy", "test"), ARC("ARC-Challenge", "train"), MMLU("all", "test")):
        conv = task[0]
        gold = conv["messages"][-1]["content"]
        assert gold in conv["letters"]
        assert task.evaluate(conv, gold) is True
        wrong = next(letter for letter in conv["letters"] if letter != gold)
        assert task.evaluate(conv, wrong) is False


def test_mmlu_auxiliary_train_unwraps_the_train_field():
    task = MMLU("auxiliary_train", "train")
    assert "train" in task.rows[0]
    assert task[0]["messages"][0]["content"].startswith("Multiple Choice question:")


def test_splits_are_deterministic_and_disjoint():
    assert ARC("ARC-Easy", "test").rows == ARC("ARC-Easy", "test").rows
    assert arithmetic_problems(5, 11) == arithmetic_problems(5, 11)
    train_q = {r["question"] for r in GSM8K(split="train").rows}
    test_q = [r["question"] for r in GSM8K(split="test").rows]
    assert sum(q in train_q for q in test_q) < len(test_q)


def test_gsm8k_answer_extraction_removes_commas_and_keeps_signs():
    assert extract_answer("so\n#### 1,234") == "1234"
    assert extract_answer("#### -5") == "-5"
    assert extract_answer("no answer here") is None


def test_gsm8k_solution_is_split_into_calculator_parts():
    parts = solution_parts("Tom has 3 + 5 = <<3+5=8>>8 apples.\n#### 8")
    assert parts == [
        {"type": "text", "text": "Tom has 3 + 5 = "},
        {"type": "python", "text": "3+5"},
        {"type": "python_output", "text": "8"},
        {"type": "text", "text": "8 apples.\n#### 8"},
    ]


def test_gsm8k_evaluate_and_reward_check_the_final_number():
    task = GSM8K(split="test")
    conv = task[0]
    ref = extract_answer(conv["messages"][-1]["content"][-1]["text"])
    assert task.evaluate(conv, f"blah\n#### {ref}") == 1
    assert task.reward(conv, f"#### {int(ref) + 1}") == 0.0
    assert task.evaluate(conv, "I don't know") == 0


def test_generated_arithmetic_results_are_correct():
    for row in arithmetic_problems(50, 3):
        for part in solution_parts(row["answer"]):
            if part["type"] == "python":
                expr = part["text"]
            if part["type"] == "python_output":
                assert float(eval(expr)) == float(part["text"])


def test_spellingbee_reference_answer_is_the_true_count():
    task = SpellingBee(size=20, split="test")
    for i in range(20):
        conv = task[i]
        parts = conv["messages"][1]["content"]
        word, letter = eval(parts[1]["text"].split(".count(")[0]), parts[1]["text"].split("'")[-2]
        assert parts[2]["text"] == str(word.count(letter))
        assert task.evaluate(conv, f"#### {word.count(letter)}") == 1
        assert task.evaluate(conv, f"#### {word.count(letter) + 1}") == 0


def test_spellingbee_train_and_test_draw_different_examples():
    assert SpellingBee(size=5, split="train")[0] != SpellingBee(size=5, split="test")[0]


def test_simple_spelling_spells_the_word():
    conv = SimpleSpelling(size=3)[1]
    word = conv["messages"][0]["content"].removeprefix("Spell the word: ")
    assert conv["messages"][1]["content"] == word + ":" + ",".join(word)


def test_humaneval_accepts_the_canonical_solution_and_rejects_a_wrong_one():
    task = HumanEval()
    conv = task[0]
    assert task.evaluate(conv, "```python\n" + conv["messages"][1]["content"] + "```")
    assert not task.evaluate(conv, "def add(a, b):\n    return a - b\n")


def test_smoltalk_allows_a_leading_system_message():
    task = SmolTalk("train")
    roles = {task[i]["messages"][0]["role"] for i in range(50)}
    assert roles == {"system", "user"}


def test_customjson_loads_and_validates_jsonl(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in identity_conversations(4, 0)) + "\n")
    task = CustomJSON(str(path))
    assert len(task) == 4 and task[0]["messages"][0]["role"] == "user"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps([{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}]) + "\n"
    )
    with pytest.raises(AssertionError):
        CustomJSON(str(bad))


def test_majority_baseline_is_the_share_of_the_most_common_reference_answer():
    from collections import Counter

    from nanochat_ref.scripts.chat_eval import majority_baseline

    task = SpellingBee(size=256, split="test")
    counts = Counter(task[i]["messages"][1]["content"][2]["text"] for i in range(50))
    assert majority_baseline("SpellingBee", 50) == counts.most_common(1)[0][1] / 50
    assert majority_baseline("MMLU") is None


def test_balanced_spellingbee_makes_true_counts_0_to_3_about_equally_likely():
    from collections import Counter

    task = BalancedSpellingBee(size=400, split="test")
    counts = Counter()
    for i in range(400):
        parts = task[i]["messages"][1]["content"]
        word, letter = eval(parts[1]["text"].split(".count(")[0]), parts[1]["text"].split("'")[-2]
        assert (
            parts[2]["text"] == str(word.count(letter)) and parts[3]["text"] == f"\n#### {word.count(letter)}"
        )
        counts[word.count(letter)] += 1
    assert set(counts) == {0, 1, 2, 3}
    assert all(60 <= n <= 140 for n in counts.values()), counts


def test_balanced_spellingbee_train_and_test_draw_different_examples():
    train, test = BalancedSpellingBee(size=20, split="train"), BalancedSpellingBee(size=20, split="test")
    assert [train[i] for i in range(20)] != [test[i] for i in range(20)]


def test_simple_spelling_scores_only_the_exact_spelling():
    task = SimpleSpelling(size=3, split="test")
    conv = task[0]
    word = conv["messages"][0]["content"].removeprefix("Spell the word: ")
    assert task.evaluate(conv, f" {word}:{','.join(word)}\n") == 1
    assert task.evaluate(conv, f"{word}:{','.join(word[:-1])}") == 0
    assert task.evaluate(conv, f"{word[:-1]}:{','.join(word)}") == 0


def test_the_spelling_evals_have_a_low_constant_answer_baseline():
    from nanochat_ref.scripts.chat_eval import majority_baseline

    assert majority_baseline("SpellingBee", 100) >= 0.7  # why the unbalanced figure alone says little
    assert majority_baseline("SpellingBee-balanced", 100) <= 0.32
    assert majority_baseline("SimpleSpelling", 100) <= 0.05
