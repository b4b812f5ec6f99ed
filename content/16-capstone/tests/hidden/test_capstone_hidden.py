"""Hidden tests for module 16, steps 4-7: the same properties as the visible ones, on other inputs."""

import re

import pytest

pytestmark = pytest.mark.lab_addition("capstone-run")


def _conv(*turns: str) -> list[dict]:
    roles = ["user", "assistant"]
    return [{"role": roles[i % 2], "content": t} for i, t in enumerate(turns)]


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
def test_normalize_collapses_tabs_newlines_and_symbols(cap):
    assert cap.normalize("\tHow   much\n did YOU cost -- $100?? ") == "how much did you cost 100"


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
def test_drop_leaks_with_several_probes_and_conversations(cap):
    probes = [{"question": "What is your license?", "fact": "license", "expect": "MIT"},
              {"question": "how were you trained", "fact": "training", "expect": "FineWeb"}]  # fmt: skip
    convs = [
        _conv("WHAT IS YOUR LICENSE", "MIT."),
        _conv("hi", "Hello!", "How were you trained?!", "In stages."),
        _conv("what is your name", "nanochat"),
        _conv("hello", "What is your license?"),
    ]
    kept, dropped = cap.drop_leaks(convs, probes)
    assert (kept, dropped) == ([convs[2], convs[3]], 2)


@pytest.mark.step("step6")
@pytest.mark.hint("h13")
@pytest.mark.parametrize(
    ("reply", "expect", "hit"),
    [
        ("it cost ABOUT $100.", "about $100", True),
        ("no", "No Internet", False),
        ("NO INTERNET here", "no internet", True),
    ],
)
def test_score_reply_on_other_texts(cap, reply, expect, hit):
    assert cap.score_reply(reply, expect) is hit


@pytest.mark.step("step7")
@pytest.mark.hint("h15")
def test_the_summary_of_other_numbers(cap, lfs):
    rows = [{"question": f"q{i}", "expect": "e", "reply": "r", "hit": i % 2 == 0} for i in range(3)]
    numbers = {
        "rows": 10, "dropped": 0, "held_out": 4, "steps": 3, "train_losses": [1.0, 0.5, 0.25],
        "before": {"probe_accuracy": 1 / 3, "probes": rows, "identity_loss": 2.0, "earlier_loss": 0.5},
        "after": {"probe_accuracy": 2 / 3, "probes": rows[::-1], "identity_loss": 0.125, "earlier_loss": 0.625},
    }  # fmt: skip
    text = cap.write_summary(lfs.tmpfile("capstone.md"), numbers)
    values = dict(re.findall(r"^- ([a-z_]+): (.+?)\s*$", text, flags=re.M))
    assert values["accuracy_before"] == "0.3333" and values["accuracy_after"] == "0.6667"
    assert values["loss_last"] == "0.2500" and values["identity_loss_after"] == "0.1250"
    table = re.findall(r"^\| (q\d) \| e \| (hit|miss) \| (hit|miss) \|$", text, flags=re.M)
    assert table == [("q0", "hit", "hit"), ("q1", "miss", "miss"), ("q2", "hit", "hit")]
