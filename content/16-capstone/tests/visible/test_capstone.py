"""Visible tests for module 16, steps 4-7: the capstone script (identity data -> SFT -> probes -> summary).

The graded run is ``test_the_capstone_teaches_the_identity_without_forgetting``: the learner's ``main()`` runs end
to end from the shipped SFT checkpoint, its loss curve and the probe accuracy before/after are charted, and the
judge re-measures the saved weights itself. ``test_the_summary_goes_to_review`` shows the summary that goes to the
reviewer.
"""

import json
import re

import pytest

from grading.testkit import assert_number, finite_numbers
from nanochat_ref.tasks.customjson import CustomJSON

pytestmark = pytest.mark.lab_addition("capstone-run")

SECTIONS = ("## Data", "## Training", "## Probes", "## Earlier skills")


def _conv(*turns: str) -> list[dict]:
    roles = ["user", "assistant"]
    return [{"role": roles[i % 2], "content": t} for i, t in enumerate(turns)]


def _summary_values(text: str) -> dict[str, str]:
    """The ``- key: value`` lines of a summary."""
    return dict(re.findall(r"^- ([a-z_]+): (.+?)\s*$", text, flags=re.M))


# --- step 4: probes that stay held out -------------------------------------------------------------------------


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Who are you?", "who are you"),
        ("  WHO   are YOU?! ", "who are you"),
        ("what's your name", "what s your name"),
    ],
)
def test_normalize_ignores_case_punctuation_and_spacing(cap, text, expected):
    got = cap.normalize(text)
    assert got == expected, (
        f"normalize({text!r}) gave {got!r}, expected {expected!r}: lowercase, every run of characters that are not "
        "letters or digits becomes one space, then strip; otherwise 'who are you' and 'Who are you?' look like "
        "different questions and a probe leaks into the training data (step 4)"
    )


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
def test_drop_leaks_drops_a_conversation_asking_a_probe_in_other_words_case(cap, capd):
    convs = [_conv("who are you", "I am nanochat."), _conv("hello", "Hi!")]
    kept, dropped = cap.drop_leaks(convs, capd.PROBES)
    assert (kept, dropped) == ([convs[1]], 1), (
        f"drop_leaks kept {kept} and counted {dropped} dropped: 'who are you' is the probe 'Who are you?' once "
        "normalized, so that conversation is a leak (the probe would measure memory, not learning) (step 4)"
    )


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
def test_drop_leaks_looks_at_every_user_turn(cap, capd):
    convs = [
        _conv("Hi!", "Hello!", "Which person made you?", "Andrej Karpathy."),
        _conv("hey", "Hello!", "thanks", "You're welcome!"),
    ]
    kept, dropped = cap.drop_leaks(convs, capd.PROBES)
    assert (kept, dropped) == ([convs[1]], 1), (
        f"drop_leaks kept {len(kept)} and dropped {dropped}: the first conversation asks a probe in its second user "
        "turn; check every user turn, not only the first message (step 4)"
    )


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
def test_drop_leaks_keeps_the_order_and_never_drops_on_assistant_text(cap, capd):
    convs = [_conv("a", "Who are you?"), _conv("b", "c"), _conv("d", "e")]
    kept, dropped = cap.drop_leaks(convs, capd.PROBES)
    assert (kept, dropped) == (convs, 0), (
        f"drop_leaks kept {kept} (dropped {dropped}): only user turns can leak a probe question; keep the other "
        "conversations in their order (step 4)"
    )


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_make_identity_data_writes_the_generated_rows_minus_the_leaks(cap, learner, lfs, capd, tmp_path):
    idd = learner.module("identity_data")
    generated = learner.value(idd.generate_conversations(60, seed=3))
    probes = [*capd.PROBES, {"question": generated[0][-2]["content"], "fact": "name", "expect": "x"}]
    leak = capd.normalized(probes[-1]["question"])
    expected = [c for c in generated if not any(m["role"] == "user" and capd.normalized(m["content"]) in
                {capd.normalized(p["question"]) for p in probes} for m in c)]  # fmt: skip
    path = lfs.tmpfile("identity_conversations.jsonl")
    record = learner.value(cap.make_identity_data(path, 60, 3, probes, 8))
    assert record["rows"] == len(expected) and record["dropped"] == 60 - len(expected), (
        f"rows {record['rows']}, dropped {record['dropped']}: of generate_conversations(60, seed=3), "
        f"{60 - len(expected)} ask a probe (e.g. {leak!r}); expected rows {len(expected)} (step 4)"
    )
    local = tmp_path / "identity_conversations.jsonl"
    local.write_text(lfs.read(path), encoding="utf-8")
    written = [CustomJSON(filepath=str(local))[i]["messages"] for i in range(record["rows"])]
    assert written == expected, (
        "the file must hold the generated conversations of that seed, leaks removed, in order (write_jsonl) (step 4)"
    )


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_held_out_rows_come_from_another_seed_and_are_no_training_rows(cap, learner, lfs, capd):
    path = lfs.tmpfile("identity_conversations.jsonl")
    record = learner.value(cap.make_identity_data(path, 200, 5, capd.PROBES, 16))
    training = {json.dumps(json.loads(line)) for line in lfs.read(path).splitlines() if line.strip()}
    held_out = record["held_out"]
    assert isinstance(held_out, list) and len(held_out) == 16, (
        f"held_out must be a list of n_held_out (16) conversations, got {type(held_out).__name__} of "
        f"{len(held_out) if isinstance(held_out, list) else '?'} (step 4)"
    )
    same = [c for c in held_out if json.dumps(c) in training]
    assert not same, (
        f"{len(same)} of the 16 held-out conversations are training rows: generate them from seed + 1 (the same "
        "seed gives the same conversations) and drop any that is also a training row, or the held-out loss "
        "measures memory (step 4)"
    )


# --- step 5: the mixture ---------------------------------------------------------------------------------------


def _identity_file(lfs, n: int) -> tuple[str, list]:
    convs = [_conv(f"question {i}?", f"I am nanochat, fact {i}.") for i in range(n)]
    path = lfs.tmpfile("identity_conversations.jsonl")
    lfs.write(path, "".join(json.dumps(c) + "\n" for c in convs))
    return path, convs


def _rows(learner, mixture, n: int) -> list:
    """The messages of the first ``n`` rows of a learner-side task."""
    getitem = learner.module("operator").getitem
    return [learner.value(getitem(mixture, i))["messages"] for i in range(n)]


@pytest.mark.step("step5")
@pytest.mark.hint("h12")
def test_the_mixture_lists_the_identity_rows_epochs_times_with_the_earlier_tasks(cap, learner, lfs):
    path, convs = _identity_file(lfs, 6)
    others = cap.earlier_tasks(5)
    mixture = cap.capstone_mixture(path, 3, others)
    rows = _rows(learner, mixture, learner.module("builtins").len(mixture))
    identity = sum(r in convs for r in rows)
    other = len(rows) - identity
    n_other = 4 * 5  # earlier_tasks(5): four tasks of 5 rows
    assert identity == 3 * 6, (
        f"the mixture holds {identity} identity rows, expected epochs x rows = 3 x 6 = 18: list CustomJSON(identity) "
        "epochs times (step 5)"
    )
    assert other == n_other, (
        f"the mixture holds {other} rows of the earlier tasks, expected {n_other} (4 tasks x 5): without them the "
        "fine-tuning forgets the earlier skills (step 5)"
    )


@pytest.mark.step("step5")
@pytest.mark.hint("h12")
def test_the_mixture_shuffles_identity_rows_among_the_others(cap, learner, lfs):
    path, convs = _identity_file(lfs, 20)
    mixture = cap.capstone_mixture(path, 1, cap.earlier_tasks(20))
    first = [row in convs for row in _rows(learner, mixture, 20)]
    assert 0 < sum(first) < 20, (
        f"{sum(first)} of the first 20 rows are identity rows: use TaskMixture (shuffled), not one task after "
        "another, or the first steps train on identity only (step 5)"
    )


# --- step 6: measuring -----------------------------------------------------------------------------------------


@pytest.mark.step("step6")
@pytest.mark.hint("h13")
@pytest.mark.parametrize(
    ("reply", "expect", "hit"),
    [("I am NanoChat.", "nanochat", True), ("Built by andrej karpathy", "Karpathy", True),
     ("I am a chat model.", "nanochat", False), ("MIT licensed, code at github.", "MIT", True)],
)  # fmt: skip
def test_score_reply_finds_the_fact_ignoring_case(cap, reply, expect, hit):
    got = cap.score_reply(reply, expect)
    assert got is hit, (
        f"score_reply({reply!r}, {expect!r}) gave {got!r}, expected {hit}: a hit when expect occurs anywhere in the "
        "reply, ignoring case (a tiny model capitalises freely) (step 6)"
    )


@pytest.mark.step("step6")
@pytest.mark.hint("h14")
@pytest.mark.timeout(120)  # loads the shipped SFT model on both sides
def test_masked_loss_counts_only_the_assistants_tokens(cap, learner_sft, judge_sft, capd):
    from grading.testkit.stages import chat_loss

    convs = [{"messages": _conv("Who made you?", "I was built by Andrej Karpathy.")},
             {"messages": _conv("hi", "Hello! I am nanochat.", "thanks", "You're welcome!")}]  # fmt: skip
    got = cap.masked_loss(learner_sft[0], learner_sft[1], convs)
    expected = chat_loss(judge_sft[0], judge_sft[1], convs, masked=True)
    unmasked = chat_loss(judge_sft[0], judge_sft[1], convs, masked=False)
    assert_number(
        got,
        expected,
        rel=1e-4,
        what="masked_loss of two conversations",
        msg=f"the mean cross-entropy per supervised token (targets -1 where mask[1:] is 0; {unmasked:.4f} is the loss "
        "over every token: the mask is missing). Weight each conversation by its number of supervised tokens (step 6)",
    )


@pytest.mark.step("step6")
@pytest.mark.hint("h13")
@pytest.mark.timeout(120)  # loads the shipped SFT model on both sides
def test_probe_accuracy_scores_greedy_replies(cap, learner, learner_sft, judge_sft, capd):
    from grading.testkit.stages import reply

    accuracy, rows = learner.value(cap.probe_accuracy(learner_sft[0], learner_sft[1], capd.PROBES, 24))
    expected = []
    for probe in capd.PROBES:
        conversation = {"messages": _conv(probe["question"], "")}
        text, _ = reply(judge_sft[0], judge_sft[1], conversation, 24)
        expected.append({"question": probe["question"], "expect": probe["expect"], "reply": text,
                         "hit": probe["expect"].lower() in text.lower()})  # fmt: skip
    assert rows == expected, (
        f"rows {rows}, expected {expected}: one row per probe with its question, expect, the greedy reply "
        "(answer(model, tokenizer, question, max_tokens)) and hit = score_reply(reply, expect) (step 6)"
    )
    assert_number(
        accuracy,
        sum(r["hit"] for r in expected) / len(expected),
        abs=1e-9,
        what="probe accuracy",
        msg="the fraction of probes that are hits (divide by the number of probes) (step 6)",
    )


# --- step 7: the summary and the run ---------------------------------------------------------------------------


def _numbers() -> dict:
    probe = [
        {"question": "Who made you?", "expect": "Karpathy", "reply": "r", "hit": h} for h in (False, True)
    ]
    return {
        "rows": 377, "dropped": 3, "held_out": 32, "steps": 25, "train_losses": [2.5, 1.25, 0.8125],
        "before": {"probe_accuracy": 0.25, "probes": [probe[0], probe[0]], "identity_loss": 3.5, "earlier_loss": 0.75},
        "after": {"probe_accuracy": 0.75, "probes": [probe[1], probe[0]], "identity_loss": 0.5, "earlier_loss": 0.875},
    }  # fmt: skip


@pytest.mark.step("step7")
@pytest.mark.hint("h15")
def test_the_summary_has_its_sections_and_the_measured_numbers(cap, lfs):
    path = lfs.tmpfile("capstone.md")
    text = cap.write_summary(path, _numbers())
    assert lfs.read(path) == text, "write_summary must write the text it returns to path (step 7)"
    at = [text.find(s + "\n") for s in SECTIONS]
    assert all(i >= 0 for i in at) and at == sorted(at), (
        f"the summary needs the sections {SECTIONS} in this order, each heading on its own line (step 7)"
    )
    expected = {"rows": "377", "dropped": "3", "held_out": "32", "steps": "25", "loss_first": "2.5000",
                "loss_last": "0.8125", "accuracy_before": "0.2500", "accuracy_after": "0.7500",
                "earlier_loss_before": "0.7500", "earlier_loss_after": "0.8750", "identity_loss_before": "3.5000",
                "identity_loss_after": "0.5000"}  # fmt: skip
    got = _summary_values(text)
    wrong = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
    assert not wrong, (
        f"summary lines (got, expected): {wrong}. Every number must be the measured one: before from 'before', "
        "after from 'after', the first and last training loss, floats with 4 decimals (step 7)"
    )
    table = re.findall(r"^\| Who made you\? \| Karpathy \| (hit|miss) \| (hit|miss) \|$", text, flags=re.M)
    assert table == [("miss", "hit"), ("miss", "miss")], (
        f"probe table rows {table}, expected [('miss', 'hit'), ('miss', 'miss')]: one row per probe, "
        "| question | expect | before | after |, from each measurement's own probe rows (step 7)"
    )


SMOKE = ["--steps=2", "--num_conversations=40", "--other_rows=4", "--earlier_rows=1", "--batch_size=4",
         "--max_seq_len=128", "--out_tag=smoke"]  # fmt: skip


@pytest.mark.step("step7")
@pytest.mark.hint("h16")
@pytest.mark.timeout(240)
def test_a_two_step_run_writes_a_summary_of_what_it_measured(cap, learner, stage_env, lfs):
    got = learner.value(cap.main(SMOKE))
    losses = finite_numbers(got["train_losses"], what="train_losses returned by main()")
    assert len(losses) == 2, f"--steps=2 must run 2 optimizer steps, got {len(losses)} losses (step 7)"
    text = lfs.read(got["summary_path"])
    assert got["summary_path"] == lfs.join(stage_env, "report", "capstone.md"), (
        f"the summary went to {got['summary_path']}: write it to <base>/report/capstone.md (step 7)"
    )
    values = _summary_values(text)
    b, a = got["before"], got["after"]
    for key, number in (("accuracy_before", b["probe_accuracy"]), ("accuracy_after", a["probe_accuracy"]),
                        ("loss_first", losses[0]), ("loss_last", losses[-1]),
                        ("earlier_loss_after", a["earlier_loss"])):  # fmt: skip
        assert key in values, f"the summary has no '- {key}:' line (step 7)"
        assert_number(
            float(values[key]), number, abs=6e-5, what=f"summary {key}", msg="the measured value (step 7)"
        )
    assert int(values.get("rows", -1)) == got["rows"], "the summary's rows must be the rows written (step 7)"


# --- the graded run --------------------------------------------------------------------------------------------

RUN_STEPS = 30
RUN = [f"--steps={RUN_STEPS}", "--num_conversations=400", "--other_rows=100", "--earlier_rows=8",
       "--batch_size=8", "--lr_frac=0.5", "--seed=42", "--out_tag=graded"]  # fmt: skip
#: probe accuracy must rise by at least this much: two of the reference's twelve probes. The reference rises by 0.50
#: on the graded seed (42, the default) and by 0.25 to 0.58 on seeds 1-6 (a learner's own generator gives other
#: rows, as another seed does), so 0.25 would leave a correct generator no margin at all
MIN_RISE = 0.16
_RUN: dict = {}


@pytest.mark.graded_run
@pytest.mark.step("step7")
@pytest.mark.hint("h16")
@pytest.mark.timeout(560)
def test_the_capstone_teaches_the_identity_without_forgetting(cap, learner, stage_env, lfs, metrics):
    from grading.testkit.stages import (
        format_probes,
        format_rates,
        learner_saved_state,
        model_from_state,
        shipped_model,
    )

    got = learner.value(cap.main(RUN))
    losses = finite_numbers(got["train_losses"], what="the training losses of the run")
    metrics.series(
        "capstone_loss",
        losses,
        x=list(range(1, len(losses) + 1)),
        title={"en": "Capstone SFT loss (assistant tokens)", "zh": "结业项目 SFT 损失（助手 token）"},
        x_label={"en": "step", "zh": "步"},
    )
    before, after = got["before"]["probe_accuracy"], got["after"]["probe_accuracy"]
    metrics.record("probe_accuracy_baseline", before)
    metrics.record("probe_accuracy_ours", after)
    metrics.record("earlier_loss_baseline", got["before"]["earlier_loss"])
    metrics.record("earlier_loss_ours", got["after"]["earlier_loss"])
    _RUN["summary"] = lfs.read(got["summary_path"])
    q = len(losses) // 4
    first, last = sum(losses[:q]) / q, sum(losses[-q:]) / q
    assert last < first, (
        f"the training loss must fall: mean of the first quarter {first:.4f}, of the last {last:.4f} (step 7)"
    )
    sft, tokenizer, meta = shipped_model("sft")
    trained = model_from_state(
        learner_saved_state(learner, f"{stage_env}/chatsft_checkpoints/graded", RUN_STEPS), meta
    )
    probes = learner.value(cap.PROBES)
    judged = [
        probe["expect"].lower() in _reply(trained, tokenizer, probe["question"]).lower() for probe in probes
    ]
    assert_number(
        after,
        sum(judged) / len(judged),
        abs=1e-9,
        what="probe accuracy after the run",
        msg="the judge re-measured your saved weights on your PROBES and got another accuracy: main() must measure "
        "the model it saves (step 7)",
    )
    assert after >= before + MIN_RISE, (
        f"probe accuracy {before:.2f} before, {after:.2f} after: it must rise by at least {MIN_RISE}. Likely causes: "
        "the identity rows are not in the mixture (step 5), probes scored case-sensitively (step 6) (step 7)"
    )
    held_out = format_probes(per_task=2)
    rate_before = format_rates(sft, tokenizer, held_out, max_tokens=64)["all"]
    rate_after = format_rates(trained, tokenizer, held_out, max_tokens=64)["all"]
    metrics.record("earlier_format_rate_baseline", rate_before)
    metrics.record("earlier_format_rate_ours", rate_after)
    assert rate_after >= rate_before - 0.2, (
        f"earlier skills forgotten: {rate_before:.2f} of held-out task prompts answered in format before, "
        f"{rate_after:.2f} after. Likely cause: the mixture holds identity rows only (step 5) (step 7)"
    )


def _reply(model, tokenizer, question: str) -> str:
    from grading.testkit.stages import reply

    return reply(model, tokenizer, {"messages": _conv(question, "")}, 48)[0]


@pytest.mark.graded_run
@pytest.mark.step("step7")
@pytest.mark.hint("h16")
def test_the_summary_goes_to_review(learner):
    text = _RUN.get("summary")
    assert text, "the graded run did not write a summary, so there is nothing to send to review (step 7)"
    missing = [s for s in SECTIONS if s + "\n" not in text]
    assert not missing, f"the summary lacks {missing} (step 7)"
    learner.module("builtins").print(text[:3800])
