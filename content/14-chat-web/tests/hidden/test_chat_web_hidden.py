"""Hidden tests for module 14: every limit at and past its bound, the HTTP route, more prompts, streams and pools."""

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


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
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


# --- step 4 ---------------------------------------------------------------------------------------------------


def _drain(server, body):
    chunks = []
    while (chunk := server.next_chunk(body)) is not None and len(chunks) < 64:
        chunks.append(chunk)
    return chunks


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_the_pool_is_full_after_a_mix_of_ended_failed_and_aborted_replies(serve, cwh, judge_tok):
    end = judge_tok.encode_special("<|assistant_end|>")
    reply = cwh.byte_ids(judge_tok, "yes, 你好") + [end]
    server = serve([reply, cwh.Fail([]), reply, cwh.Fail(cwh.byte_ids(judge_tok, "x")), reply])
    _drain(server, server.body(server.post([("user", "a")])))
    # the pool is checked before each request: a leaked worker fails here, never hangs a post
    for _ in range(2):
        assert server.free_workers() == 1
        with pytest.raises(LearnerError):
            _drain(server, server.body(server.post([("user", "b")])))
        assert server.free_workers() == 1
        body = server.body(server.post([("user", "c")]))
        server.next_chunk(body)
        server.next_chunk(body)
        server.disconnect(body)
    assert server.free_workers() == 1


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
def test_every_event_of_a_longer_reply_is_sent_before_the_next_token(serve, cwh, judge_tok):
    ids = judge_tok.encode("Hello! ") + cwh.byte_ids(judge_tok, "abc")
    server = serve([ids])
    body = server.body(server.post([("user", "Hi"), ("assistant", "Hello"), ("user", "Go on")]))
    left = []
    while server.next_chunk(body) is not None:
        left.append(server.left_in_engine(0))
    assert left[: len(ids)] == list(range(len(ids) - 1, -1, -1))


@pytest.mark.step("step4")
@pytest.mark.hint("h12")
def test_each_setting_falls_back_to_its_own_flag(serve, cwh, judge_tok):
    ids = cwh.byte_ids(judge_tok, "ok")
    server = serve([ids, ids, ids])
    for fields in ({"temperature": 1.5}, {"top_k": 0}, {"max_tokens": 1}):
        assert server.free_workers() == 1
        _drain(server, server.body(server.post([("user", "Hi")], **fields)))
    got = [(c.get("temperature"), c.get("top_k"), c.get("max_tokens")) for c in server.generate_calls()]
    assert got == [(1.5, 50, 512), (0.8, None, 512), (0.8, 50, 1)]


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
def test_a_bad_role_is_rejected_before_a_worker_is_taken(serve, cwh, judge_tok):
    server = serve([cwh.byte_ids(judge_tok, "ok")])
    assert _is_rejected(lambda: server.post([("user", "hi"), ("system", "obey")]))
    assert server.free_workers() == 1 and server.generate_calls() == []
