"""Visible tests for module 13 (evaluation). Learner code is reached only through the ``learner`` fixture."""

import pytest
import torch

from grading.testkit import assert_number, finite_number
from nanochat_ref import core_eval as ref

# --- step 1: answer regions -----------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h4")
def test_the_common_prefix_length_of_token_sequences(ce):
    seqs = [[5, 6, 7, 8], [5, 6, 7, 9, 10], [5, 6, 1]]
    got = ce.find_common_length(seqs, "left")
    assert got == 2, f"common prefix of {seqs}: expected 2, got {got}"


@pytest.mark.step("step1")
@pytest.mark.hint("h5")
def test_the_common_suffix_length_of_token_sequences(ce):
    seqs = [[1, 2, 8, 9], [3, 8, 9], [4, 4, 4, 2, 8, 9]]
    got = ce.find_common_length(seqs, "right")
    assert got == 2, f"common suffix of {seqs}: expected 2, got {got}"


@pytest.mark.step("step1")
@pytest.mark.hint("h4")
def test_identical_sequences_share_their_whole_length(ce):
    got = ce.find_common_length([[4, 5, 6], [4, 5, 6]], "left")
    assert got == 3, f"common prefix of two identical 3-token sequences: expected 3, got {got}"


@pytest.mark.step("step1")
@pytest.mark.hint("h4")
def test_a_sequence_that_is_a_prefix_of_another_shares_its_own_length(ce):
    seqs = [[4, 5, 6], [4, 5, 6, 7, 8]]
    got = ce.find_common_length(seqs, "left")
    assert got == 3, (
        f"common prefix of {seqs}: expected 3, the shorter sequence's length, got {got}; no position past the "
        "shortest sequence can be shared (step 1)"
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h6")
def test_multiple_choice_answer_regions_match_the_reference(ce, tok, judge_tok, data):
    prompts = ref.render_prompts_mc(data.MC[0], " ")
    got = ce.batch_sequences_mc(tok, prompts)
    expected = ref.batch_sequences_mc(judge_tok, prompts)
    assert [list(x) for x in got] == [list(x) for x in expected], (
        f"(tokens, answer starts, answer ends) of a multiple-choice item: got {got}, expected {expected}"
    )


# --- step 2: forward_model and evaluate_example ---------------------------------------------------------------


def _input_ids(judge_tok, texts):
    return ref.stack_sequences([judge_tok.encode(t, prepend=judge_tok.get_bos_token_id()) for t in texts], 0)


@pytest.mark.step("step2")
@pytest.mark.hint("h7")
def test_forward_model_gives_next_token_losses_with_a_nan_last_column(ce, models, judge_tok):
    model, judge = models()
    ids = _input_ids(judge_tok, ["The sky is blue.", "Grass is green and the sun is hot."])
    losses, _ = ce.forward_model(model, ids)
    ref_losses, _ = ref.forward_model(judge, ids)
    assert tuple(losses.shape) == tuple(ids.shape), f"losses must be (B, T) = {tuple(ids.shape)}"
    assert torch.isnan(losses[:, -1]).all(), "the last column of the losses has no target: it must be NaN"
    torch.testing.assert_close(
        losses, ref_losses, equal_nan=True, msg="per-position next-token losses differ"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h7")
def test_forward_model_predictions_are_the_argmax_token(ce, models, judge_tok):
    model, judge = models()
    ids = _input_ids(judge_tok, ["The capital of France is Paris."])
    _, predictions = ce.forward_model(model, ids)
    _, expected = ref.forward_model(judge, ids)
    assert torch.equal(predictions, expected), (
        f"predictions must be the argmax over the vocabulary: {predictions}"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h8")
def test_multiple_choice_items_are_scored_like_the_reference(ce, models, tok, judge_tok, data):
    model, judge = models()
    meta = data.meta("multiple_choice")
    got = [ce.evaluate_example(i, model, tok, data.MC, "cpu", meta) for i in range(len(data.MC))]
    expected = [ref.evaluate_example(i, judge, judge_tok, data.MC, "cpu", meta) for i in range(len(data.MC))]
    assert got == expected, (
        f"right/wrong per multiple-choice item: got {got}, expected {expected} (lowest mean loss)"
    )


#: Options of different lengths whose mean and summed losses rank differently on the trained tiny GPT.
UNEVEN_MC_ITEMS = [
    {"query": "The cat sat on the", "choices": ["mat. The sun is hot", "milk"], "gold": 0},
    {"query": "The sun is", "choices": ["hot and the snow is cold", "blue"], "gold": 0},
]


@pytest.mark.step("step2")
@pytest.mark.hint("h8")
def test_options_of_different_lengths_are_ranked_by_their_mean_loss(ce, models, tok, judge_tok, data):
    model, judge = models()
    meta = data.meta("multiple_choice")
    items = UNEVEN_MC_ITEMS
    got = [ce.evaluate_example(i, model, tok, items, "cpu", meta) for i in range(len(items))]
    expected = [ref.evaluate_example(i, judge, judge_tok, items, "cpu", meta) for i in range(len(items))]
    assert got == expected, (
        f"right/wrong per item whose options have different lengths: got {got}, expected {expected}. Rank the "
        "options by the MEAN loss over each continuation's tokens: a sum favours the shortest option (step 2)"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h9")
def test_language_modelling_items_are_scored_like_the_reference(ce, models, tok, judge_tok, data):
    model, judge = models()
    meta = data.meta("language_modeling")
    got = [ce.evaluate_example(i, model, tok, data.LM, "cpu", meta) for i in range(len(data.LM))]
    expected = [ref.evaluate_example(i, judge, judge_tok, data.LM, "cpu", meta) for i in range(len(data.LM))]
    assert got == expected, (
        f"right/wrong per language-modelling item: got {got}, expected {expected} (greedy argmax)"
    )


# --- step 3: the generative evaluation loop -------------------------------------------------------------------


def _learner_chat(learner, phase: str):
    """(model, tokenizer, engine) of the learner-side checkpoint ``phase``, loaded by the learner's own code."""
    model, tokenizer, _ = learner.module("nanochat.checkpoint_manager").load_model(
        "rl" if phase == "rl" else "sft", "cpu", phase="eval"
    )
    return model, tokenizer, learner.module("nanochat.engine").Engine(model, tokenizer)


#: 4 samples of the first 8 problems: on the noised checkpoint a problem passes on a later sample only, so scoring
#: only the first sample shows.
GEN = {"num_samples": 4, "max_new_tokens": 48, "temperature": 1.0, "top_k": 50, "max_problems": 8}


@pytest.mark.step("step3")
@pytest.mark.hint("h10")
@pytest.mark.timeout(120)
@pytest.mark.parametrize("phase", ["rl", "sft"], ids=["shipped", "noised"])
def test_generative_eval_passes_a_problem_if_any_sample_is_right(learner, chat_base, judge_chat, phase):
    from nanochat_ref.scripts import chat_eval as ref_chat
    from nanochat_ref.tasks.gsm8k import GSM8K

    model, tokenizer, engine = _learner_chat(learner, phase)
    task = learner.module("nanochat.tasks.gsm8k").GSM8K(subset="main", split="test")
    got = learner.module("nanochat.scripts.chat_eval").run_generative_eval(
        task, tokenizer, model, engine, GEN["num_samples"], GEN["max_new_tokens"], GEN["temperature"],
        GEN["top_k"], max_problems=GEN["max_problems"],
    )  # fmt: skip
    jm, jt, je = judge_chat(phase)
    expected = ref_chat.run_generative_eval(GSM8K(subset="main", split="test"), jt, jm, je, GEN["num_samples"],
                                            GEN["max_new_tokens"], GEN["temperature"], GEN["top_k"], max_problems=GEN["max_problems"])  # fmt: skip
    assert_number(
        got,
        expected,
        abs=1e-9,
        what=f"run_generative_eval(GSM8K test, 4 samples, max_problems=8) on the {phase} checkpoint",
        msg="the fraction of the first 8 problems where ANY of the 4 samples is right (task.evaluate on the text "
        "decoded after the prompt). Likely cause: all samples required, only the first one scored, max_problems "
        "ignored, or the prompt decoded with the completion (step 3)",
    )


# --- step 4: centring, CORE, ChatCORE and the report ---------------------------------------------------------


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_chatcore_is_the_mean_centred_accuracy_over_the_six_tasks(learner):
    chat_eval = learner.module("nanochat.scripts.chat_eval")
    results = {"ARC-Easy": 0.55, "ARC-Challenge": 0.25, "MMLU": 0.4, "GSM8K": 0.3, "HumanEval": 0.1,
               "SpellingBee": 0.9, "SimpleSpelling": 0.5}  # fmt: skip
    expected = ((0.55 - 0.25) / 0.75 + 0.0 + (0.4 - 0.25) / 0.75 + 0.3 + 0.1 + 0.9) / 6
    assert_number(
        chat_eval.chatcore(results),
        expected,
        rel=1e-9,
        what="chatcore(results of the six ChatCORE tasks plus SimpleSpelling)",
        msg="the mean over BASELINES' six tasks of (acc - b) / (1 - b): b = 0.25 for ARC-Easy, ARC-Challenge and "
        "MMLU, 0 for the others; a task outside BASELINES does not count. Likely cause: accuracies not centred, "
        "divided by 1 - b missing, or every result averaged (step 4)",
    )


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_chatcore_is_none_until_every_task_ran(learner):
    chat_eval = learner.module("nanochat.scripts.chat_eval")
    got = chat_eval.chatcore({"ARC-Easy": 0.5, "MMLU": 0.5, "GSM8K": 0.5})
    assert got is None, (
        f"chatcore of three of the six tasks must be None (not comparable with a full ChatCORE), got {got!r} "
        "(step 4)"
    )


@pytest.mark.step("step4")
@pytest.mark.hint("h12")
def test_core_centres_each_task_by_its_random_baseline(learner, chat_base):
    model, tokenizer, _ = _learner_chat(learner, "rl")
    out = learner.module("nanochat.scripts.base_eval").evaluate_model(model, tokenizer, "cpu", max_per_task=4)
    baselines = {
        "opposites": 25.0,
        "categories": 25.0,
        "capitals_schema": 50.0,
        "counting": 0.0,
        "number_words": 0.0,
    }
    results = out["results"]
    assert sorted(results) == sorted(baselines), (
        f"expected an accuracy per bundle task, got {sorted(results)}"
    )
    for label, b in baselines.items():
        assert_number(
            out["centered_results"][label],
            (results[label] - 0.01 * b) / (1 - 0.01 * b),
            rel=1e-9,
            abs=1e-12,
            what=f"centered_results[{label!r}] (accuracy {results[label]}, random baseline {b}%)",
            msg="centred = (accuracy - 0.01 * baseline%) / (1 - 0.01 * baseline%): 0 at chance, 1 when perfect. "
            "Likely cause: the baseline used as a fraction though the CSV gives percent, or no division (step 4)",
        )
    assert_number(
        out["core_metric"],
        sum(out["centered_results"].values()) / len(baselines),
        rel=1e-9,
        abs=1e-12,
        what="core_metric",
        msg="CORE is the mean of the centred scores, not of the raw accuracies (step 4)",
    )


REPORT_TASKS = ["ARC-Easy", "ARC-Challenge", "MMLU", "GSM8K", "HumanEval", "SpellingBee"]


@pytest.mark.graded_run
@pytest.mark.step("step4")
@pytest.mark.hint("h12")
@pytest.mark.timeout(
    240
)  # two models on seven evaluations (module.yaml call_seconds); the catalogue's default is 20 s
def test_the_report_compares_the_shipped_model_with_a_noised_copy(learner, chat_base, metrics):
    chat_eval = learner.module("nanochat.scripts.chat_eval")
    args = learner.module("argparse").Namespace(batch_size=8, num_samples=1, max_new_tokens=48, temperature=0.0,
                                                top_k=50, max_problems=8)  # fmt: skip
    from nanochat_ref.scripts.chat_eval import chatcore as ref_chatcore

    scores, accuracies = {}, {}
    for phase, name in (("rl", "ours"), ("sft", "baseline")):  # the shipped model; its noised copy
        model, tokenizer, _ = _learner_chat(learner, phase)
        results = learner.value(chat_eval.evaluate_all(model, tokenizer, REPORT_TASKS, "cpu", args))
        core = learner.module("nanochat.scripts.base_eval").evaluate_model(
            model, tokenizer, "cpu", max_per_task=4
        )
        results["CORE"] = finite_number(core["core_metric"], what=f"CORE of the {phase} model")
        scores[name] = finite_number(chat_eval.chatcore(results), what=f"chatcore of the {phase} model")
        accuracies[name] = [
            finite_number(results[task], what=f"{task} of the {phase} model") for task in REPORT_TASKS
        ]
        for task in [*REPORT_TASKS, "CORE"]:
            metrics.record(f"{task}_{name}", results[task])  # the baseline-vs-custom bars
            if name == "ours":
                radar = sorted((0.0, results[task], 1.0))[1]  # CORE can be below 0
                metrics.record(f"eval/{task}", radar)  # the radar of the shipped model
        metrics.record(f"ChatCORE_{name}", scores[name])
        assert_number(
            scores[name],
            ref_chatcore(dict(zip(REPORT_TASKS, accuracies[name]))),
            rel=1e-9,
            abs=1e-12,
            what=f"chatcore of the {phase} model's report",
            msg="ChatCORE of the six accuracies your evaluate_all returned, centred by BASELINES (step 4)",
        )
    assert accuracies["ours"] != accuracies["baseline"], (
        f"the shipped model and its noised copy got the same accuracy on every task: {accuracies}. Likely cause: "
        "the generative loop does not run the model it is given (step 3)"
    )
