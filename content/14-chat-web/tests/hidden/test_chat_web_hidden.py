"""Hidden tests for module 14: every limit at and past its bound, the HTTP route, more prompts and streams."""

import pytest
from fastapi import HTTPException

from grading.engine.errors import LearnerError
from nanochat_ref.scripts import chat_web as ref


def _is_rejected(call) -> bool:
    try:
        call()
    except LearnerError as exc:
        if exc.type_name != "HTTPException":
            raise
        return exc.message.startswith("400")
    return False


def _ref_rejects(turns, fields, cwh) -> bool:
    try:
        ref.validate_chat_request(cwh.ref_request(turns, **fields))
    except HTTPException as exc:
        return exc.status_code == 400
    return False


# --- step 1 ---------------------------------------------------------------------------------------------------

ACCEPTED = {
    "total-32000": ([("user", "x" * 8000), ("assistant", "y" * 8000)] * 2, {}),
    "temperature-0": ([("user", "hi")], {"temperature": 0.0}),
    "top-k-0-off": ([("user", "hi")], {"top_k": 0}),
    "top-k-200": ([("user", "hi")], {"top_k": 200}),
    "max-tokens-1": ([("user", "hi")], {"max_tokens": 1}),
    "max-tokens-4096": ([("user", "hi")], {"max_tokens": 4096}),
    "assistant-first": ([("assistant", "Hi, how can I help?"), ("user", "hi")], {}),
}
REJECTED = {
    "empty-content": ([("user", "hi"), ("assistant", "")], {}),
    "total-32001": ([("user", "x" * 8000)] * 4 + [("assistant", "!")], {}),
    "tool-role": ([("user", "hi"), ("tool", "42")], {}),
    "temperature-negative": ([("user", "hi")], {"temperature": -0.1}),
    "top-k-negative": ([("user", "hi")], {"top_k": -1}),
    "top-k-201": ([("user", "hi")], {"top_k": 201}),
    "max-tokens-0": ([("user", "hi")], {"max_tokens": 0}),
    "max-tokens-4097": ([("user", "hi")], {"max_tokens": 4097}),
}


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
@pytest.mark.parametrize("case", ACCEPTED, ids=str)
def test_requests_at_every_bound_are_accepted(cw, cwh, case):
    turns, fields = ACCEPTED[case]
    assert not _ref_rejects(turns, fields, cwh)
    assert not _is_rejected(lambda: cw.validate_chat_request(cwh.request(cw, turns, **fields)))


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
@pytest.mark.parametrize("case", REJECTED, ids=str)
def test_requests_past_every_bound_are_rejected_with_400(cw, cwh, case):
    turns, fields = REJECTED[case]
    assert _ref_rejects(turns, fields, cwh)
    assert _is_rejected(lambda: cw.validate_chat_request(cwh.request(cw, turns, **fields)))


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_the_http_route_answers_400_to_a_bad_request(learner, cw):
    app = cw.create_app(cw.build_parser().parse_args([]), None)
    client = learner.module("fastapi.testclient").TestClient(app)
    response = client.post("/chat/completions", json={"messages": [{"role": "system", "content": "x"}]})
    assert learner.value(response.status_code) == 400


# --- step 2 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
@pytest.mark.parametrize(
    "turns",
    [
        [("assistant", "Hello! How are you today?"), ("user", "I am fine.")],
        [("user", "héllo wörld 你好 🌍")],
        [("user", "a"), ("assistant", "b")] * 20,
        [("user", "What is the capital of France?"), ("assistant", "The capital of France is Paris.")],
    ],
    ids=["assistant-first", "unicode", "forty-turns", "ends-with-assistant"],
)
def test_prompts_match_the_reference(cw, cwh, tok, judge_tok, turns):
    got = cw.build_prompt(tok, cwh.request(cw, turns).messages)
    assert got == ref.build_prompt(judge_tok, cwh.ref_request(turns).messages)


# --- step 3 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_a_mixed_reply_streams_like_the_reference(stream, cwh, judge_tok):
    ids = judge_tok.encode("Hello! ") + cwh.byte_ids(judge_tok, "你好 🌍 café")
    ids.append(judge_tok.encode_special("<|assistant_end|>"))
    chunks, _ = stream(ids)
    assert chunks == cwh.ref_stream(judge_tok, ids)


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_the_stream_also_stops_at_bos(stream, cwh, judge_tok):
    ids = cwh.byte_ids(judge_tok, "yes") + [judge_tok.get_bos_token_id()] + cwh.byte_ids(judge_tok, "no")
    assert stream(ids)[0] == cwh.ref_stream(judge_tok, ids)


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_a_reply_that_runs_out_of_tokens_still_ends_with_done(stream, cwh, judge_tok):
    ids = cwh.byte_ids(judge_tok, "cut off é")[:-1]  # the engine stops (max_tokens) inside a character
    chunks, _ = stream(ids)
    assert chunks == cwh.ref_stream(judge_tok, ids)
    assert cwh.events(chunks)[-1] == {"done": True}


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_an_immediate_end_sends_only_done(stream, cwh, judge_tok):
    chunks, _ = stream([judge_tok.encode_special("<|assistant_end|>")])
    assert cwh.events(chunks) == [{"done": True}]


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_the_engine_gets_the_sampling_settings(stream, cwh, judge_tok):
    ids = cwh.byte_ids(judge_tok, "ok")
    _, kwargs = stream(ids, temperature=0.3, max_new_tokens=7, top_k=12)
    assert (kwargs.get("num_samples"), kwargs.get("max_tokens"), kwargs.get("temperature")) == (1, 7, 0.3)
    assert kwargs.get("top_k") == 12 and isinstance(kwargs.get("seed"), int)


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_top_k_0_turns_top_k_sampling_off(stream, cwh, judge_tok):
    _, kwargs = stream(cwh.byte_ids(judge_tok, "ok"), top_k=0)
    assert "top_k" in kwargs and kwargs["top_k"] is None
