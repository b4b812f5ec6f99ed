"""Hidden tests for module 16: a 1,000-conversation run, ASCII replies, validation edges, refusing bad files."""

import json

import pytest

from grading.engine.errors import LearnerError
from nanochat_ref.tasks.customjson import CustomJSON

# --- step 1 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_a_thousand_conversations_are_valid_and_mostly_distinct(idd, cd):
    convs = idd.generate_conversations(1000, seed=11)
    assert len(convs) == 1000
    problems = [p for p in map(cd.conversation_problem, convs) if p]
    assert not problems, f"{len(problems)} invalid conversations, e.g. {problems[0]}"
    distinct = len({json.dumps(c, sort_keys=True) for c in convs})
    assert distinct >= 300, f"only {distinct} distinct conversations out of 1000: too many duplicates"


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_assistant_replies_are_plain_ascii(idd):
    convs = idd.generate_conversations(300, seed=12)
    bad = [m["content"] for c in convs for m in c if m["role"] == "assistant" and not m["content"].isascii()]
    assert not bad, f"assistant replies must be plain ASCII, e.g. {bad[0]!r}"


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_conversations_vary_in_length(idd):
    lengths = {len(c) for c in idd.generate_conversations(200, seed=13)}
    assert len(lengths) >= 2, (
        f"every conversation has {lengths} messages: vary the dynamics (number of turns)"
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_generating_zero_conversations_gives_an_empty_list(idd):
    assert idd.generate_conversations(0, seed=1) == []


# --- step 2 ---------------------------------------------------------------------------------------------------


def _bad_cases(valid):
    cases = {
        "single-message": valid[:1],
        "empty-list": [],
        "ends-with-user": valid[:3],
        "extra-key": [dict(valid[0], name="x"), *valid[1:]],
        "missing-content": [{"role": "user"}, *valid[1:]],
        "non-string-content": [valid[0], {"role": "assistant", "content": 42}],
        "content-parts": [valid[0], {"role": "assistant", "content": [{"type": "text", "text": "hi"}]}],
        "system-role": [{"role": "system", "content": "be nice"}, *valid],
        "non-ascii-assistant": [valid[0], {"role": "assistant", "content": "Je suis nanochat \u00e9"}],
        "not-a-list": {"messages": valid},
        "not-a-dict": ["hello", "world"],
    }
    return cases


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
@pytest.mark.parametrize(
    "case",
    [
        "single-message",
        "empty-list",
        "ends-with-user",
        "extra-key",
        "missing-content",
        "non-string-content",
        "content-parts",
        "system-role",
        "non-ascii-assistant",
        "not-a-list",
        "not-a-dict",
    ],
)
def test_validate_rejects_each_kind_of_bad_conversation(idd, cd, case):
    with pytest.raises(LearnerError) as excinfo:
        idd.validate_conversation(_bad_cases(cd.valid())[case])
    assert excinfo.value.type_name == "ValueError", f"{case}: must raise ValueError"


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_validate_accepts_non_english_user_messages(idd):
    messages = [
        {"role": "user", "content": "\u4f60\u597d"},
        {"role": "assistant", "content": "Ni hao! I am nanochat."},
    ]
    assert idd.validate_conversation(messages) is None, "user messages may be in any language"


# --- step 3 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_write_jsonl_refuses_an_invalid_conversation_and_writes_nothing(idd, lfs, cd):
    path = lfs.tmpfile()
    bad = [cd.valid(), cd.valid()[1:]]
    with pytest.raises(LearnerError) as excinfo:
        idd.write_jsonl(bad, path)
    assert excinfo.value.type_name == "ValueError", "an invalid conversation must raise ValueError"
    assert not lfs.exists(path) or lfs.read(path) == "", "validate everything before writing: no partial file"


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_customjson_loads_a_thousand_generated_conversations(idd, lfs, tmp_path):
    path = lfs.tmpfile()
    convs = idd.generate_conversations(1000, seed=21)
    assert idd.write_jsonl(convs, path) == 1000
    local = tmp_path / "identity_conversations.jsonl"
    local.write_text(lfs.read(path), encoding="utf-8")
    task = CustomJSON(filepath=str(local))
    assert len(task) == 1000
    assert [task[i]["messages"] for i in (0, 499, 999)] == [convs[0], convs[499], convs[999]]


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_write_jsonl_keeps_non_ascii_user_text_readable(idd, lfs, tmp_path):
    path = lfs.tmpfile()
    messages = [
        {"role": "user", "content": "\u4f60\u597d"},
        {"role": "assistant", "content": "Hello! I am nanochat."},
    ]
    idd.write_jsonl([messages], path)
    local = tmp_path / "one.jsonl"
    local.write_text(lfs.read(path), encoding="utf-8")
    assert CustomJSON(filepath=str(local))[0] == {"messages": messages}


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_write_jsonl_of_no_conversations_writes_an_empty_file(idd, lfs):
    path = lfs.tmpfile()
    assert idd.write_jsonl([], path) == 0
    assert lfs.read(path).strip() == "", "no conversations: an empty file"
