"""Visible tests for module 16 (identity data). Learner code is reached only through the ``learner`` fixture."""

import json

import pytest

from grading.engine.errors import LearnerError
from nanochat_ref.tasks.customjson import CustomJSON

# --- step 1: the generator -------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_generate_conversations_returns_n_conversations(idd):
    convs = idd.generate_conversations(20, seed=1)
    assert isinstance(convs, list) and len(convs) == 20, "generate_conversations(20) must return a list of 20"


@pytest.mark.step("step1")
@pytest.mark.hint("h4")
def test_every_generated_conversation_alternates_roles_from_the_user(idd, cd):
    for i, conv in enumerate(idd.generate_conversations(100, seed=2)):
        problem = cd.conversation_problem(conv)
        assert problem is None, f"generated conversation {i}: {problem}"


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_the_same_seed_gives_the_same_conversations(idd):
    a = idd.generate_conversations(30, seed=7)
    b = idd.generate_conversations(30, seed=7)
    c = idd.generate_conversations(30, seed=8)
    assert a == b, (
        "the same seed must give the same conversations (use random.Random(seed), not global random)"
    )
    assert a != c, "a different seed must give different conversations"


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_generated_conversations_are_diverse(idd):
    convs = idd.generate_conversations(200, seed=3)
    distinct = len({json.dumps(c, sort_keys=True) for c in convs})
    openers = len({c[0]["content"] for c in convs})
    assert distinct >= 100, f"only {distinct} distinct conversations out of 200: inject more diversity"
    assert openers >= 30, f"only {openers} distinct first user messages out of 200: inject more diversity"


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_the_assistant_states_the_name_from_the_knowledge_base(idd, learner):
    name = learner.value(idd.KNOWLEDGE)["name"]
    convs = idd.generate_conversations(200, seed=4)
    said = sum(any(name in m["content"] for m in c if m["role"] == "assistant") for c in convs)
    assert said >= 20, f"the assistant says its name ({name!r}) in only {said} of 200 conversations"


# --- step 2: validation ----------------------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_validate_accepts_a_valid_conversation(idd, cd):
    assert idd.validate_conversation(cd.valid()) is None, "a valid conversation must pass (return None)"


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_validate_rejects_a_conversation_starting_with_the_assistant(idd, cd):
    messages = cd.valid()[1:] + [{"role": "user", "content": "hi"}]
    with pytest.raises(LearnerError) as excinfo:
        idd.validate_conversation(messages)
    assert excinfo.value.type_name == "ValueError", "a first message from the assistant must raise ValueError"


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_validate_rejects_two_user_messages_in_a_row(idd, cd):
    messages = cd.valid()
    messages[1]["role"] = "user"
    with pytest.raises(LearnerError) as excinfo:
        idd.validate_conversation(messages)
    assert excinfo.value.type_name == "ValueError", (
        "roles must alternate: two user turns must raise ValueError"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_validate_rejects_empty_content(idd, cd):
    messages = cd.valid()
    messages[3]["content"] = "   "
    with pytest.raises(LearnerError) as excinfo:
        idd.validate_conversation(messages)
    assert excinfo.value.type_name == "ValueError", "blank content must raise ValueError"


# --- step 3: the JSONL file ------------------------------------------------------------------------------------


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_write_jsonl_returns_the_count_and_writes_one_line_each(idd, lfs, cd):
    path = lfs.tmpfile()
    count = idd.write_jsonl([cd.valid(), cd.valid()[:2]], path)
    lines = lfs.read(path).splitlines()
    assert count == 2, f"write_jsonl must return the number of conversations written (2), got {count}"
    assert len(lines) == 2, f"one line per conversation: expected 2 lines, got {len(lines)}"


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_each_line_is_a_json_array_of_messages(idd, lfs, cd):
    path = lfs.tmpfile()
    idd.write_jsonl([cd.valid()], path)
    line = json.loads(lfs.read(path).splitlines()[0])
    assert line == cd.valid(), "each line must be the JSON array of messages itself (not {'messages': ...})"


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_customjson_loads_the_generated_file(idd, lfs, tmp_path):
    path = lfs.tmpfile()
    convs = idd.generate_conversations(50, seed=5)
    idd.write_jsonl(convs, path)
    local = tmp_path / "identity_conversations.jsonl"
    local.write_text(lfs.read(path), encoding="utf-8")
    task = CustomJSON(filepath=str(local))
    assert len(task) == 50, f"nanochat's CustomJSON must load all 50 conversations, got {len(task)}"
    assert task[0] == {"messages": convs[0]}, "CustomJSON must read back the first conversation unchanged"
