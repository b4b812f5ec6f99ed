"""Visible tests for module 12 (tool use). Learner code is reached only through the ``learner`` fixture.

Step 1 checks ``use_calculator`` on expressions where each rule of the whitelist changes the answer; step 2 runs
``Engine.generate`` on a scripted model (``conftest.py``) and compares every yielded ``(column, masks)`` step and
what the model was fed with nanochat's engine; step 3 runs programs through ``execute_code``, including the
HumanEval-style grading that nanochat's eval does with it, and checks that no process outlives a run.
"""

import pytest

from grading.testkit import assert_number
from nanochat_ref.engine import use_calculator

# --- step 1: the calculator -----------------------------------------------------------------------------------


@pytest.fixture
def eng(learner):
    return learner.module("nanochat.engine")


def _refused(eng, expr: str, cause: str) -> None:
    assert use_calculator(expr) is None
    got = eng.use_calculator(expr)
    assert got is None, (
        f"use_calculator({expr!r}): expected None (refused), got {got!r}. Likely cause: {cause} "
        "(step 1: the calculator)"
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_the_calculator_evaluates_plain_arithmetic(eng):
    got = eng.use_calculator("12*12 + (3 - 1) / 4")
    assert_number(
        got,
        144.5,
        what="use_calculator('12*12 + (3 - 1) / 4')",
        msg="plain arithmetic (digits, * + - / . ( ) and spaces) is evaluated; got None? the arithmetic "
        "whitelist must include the space (step 1)",
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_the_calculator_ignores_thousands_separators(eng):
    got = eng.use_calculator("1,000 + 2,000")
    assert_number(
        got,
        3000,
        rel=0,
        abs=0,
        what="use_calculator('1,000 + 2,000')",
        msg="remove the commas before anything else ('1,000' is 1000; eval would make a tuple) (step 1)",
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_the_calculator_refuses_powers(eng):
    _refused(eng, "2**10", "pure arithmetic containing ** must be refused: 10**10**10 would never finish")


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
@pytest.mark.parametrize(
    "expr, expected",
    [("'strawberry'.count('r')", 3), ('"Mississippi".count("ss")', 2)],
    ids=["single", "double"],
)
def test_the_calculator_counts_letters_in_a_string(eng, expr, expected):
    assert use_calculator(expr) == expected
    got = eng.use_calculator(expr)
    assert_number(
        got,
        expected,
        rel=0,
        abs=0,
        what=f"use_calculator({expr!r})",
        msg="a string .count() call is allowed: letters, digits, both quotes, ( ) . _ and space (step 1)",
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_the_calculator_refuses_dangerous_names(eng):
    _refused(eng, "__import__('os').system('ls')", "the deny-list (__, import, ...) must be checked")


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_the_calculator_checks_the_deny_list_in_lower_case(eng):
    _refused(
        eng,
        "'Directory'.count('r')",
        "DANGEROUS_PATTERNS are matched against expr.lower(), so 'Directory' contains 'dir' and is refused",
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_the_calculator_refuses_other_method_calls(eng):
    _refused(eng, "'abc'.upper()", "a non-arithmetic expression must contain '.count('")


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_the_calculator_evaluates_without_builtins(eng):
    _refused(
        eng,
        "str('strawberry'.count('r'))",
        "evaluate through eval_with_timeout, whose empty __builtins__ make str (and len, open...) unknown names",
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_the_calculator_turns_an_error_or_a_slow_expression_into_none(eng):
    _refused(eng, "1/0", "an expression that raises must give None (eval_with_timeout catches every error)")
    slow = "[x for x in [1]*10**5 for y in [1]*10**5 if 0]"  # 10**10 loop steps, no memory
    got = eng.eval_with_timeout(slow, 1)
    assert got is None, (
        f"eval_with_timeout({slow!r}, 1): expected None after its 1 s alarm, got {got!r}. Likely cause: the "
        "provided timeout() context manager was changed (step 1)"
    )


# --- step 2: the tool state machine ---------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_text_without_tool_calls_is_generated_with_mask_1(run_both, spec, same_steps):
    got, expected = run_both([*spec.e(" seven."), spec.s("assistant_end"), *spec.e(" more")])
    same_steps(got, expected, "sampled tokens have mask 1, and the loop stops once every row has emitted "
               "<|assistant_end|> (it is yielded, then the row is completed)")  # fmt: skip


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_bos_also_completes_a_row(run_both, spec, same_steps):
    got, expected = run_both([*spec.e(" 12"), spec.s("bos"), *spec.e(" more")])
    same_steps(got, expected, "<|bos|> completes a row exactly like <|assistant_end|>")


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_a_calculator_call_forces_its_result_with_mask_0(run_both, spec, same_steps):
    got, expected = run_both([*spec.call("3+4"), *spec.e(" so"), spec.s("assistant_end")])
    same_steps(got, expected, "after <|python_end|> queue <|output_start|>, tokenizer.encode(str(result)), "
               "<|output_end|> and emit them, one per step, with mask 0 before sampling again")  # fmt: skip


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_a_refused_expression_forces_nothing(run_both, spec, same_steps):
    got, expected = run_both([*spec.call("1/0"), *spec.e(" so"), spec.s("assistant_end")])
    same_steps(got, expected, "use_calculator returned None (1/0 fails): queue no forced tokens")


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_a_result_of_zero_is_still_forced(run_both, spec, same_steps):
    got, expected = run_both([*spec.call("'abc'.count('z')"), spec.s("assistant_end")])
    same_steps(got, expected, "the result 0 is falsy: test `result is not None`, not `if result:`")


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_two_calls_in_one_reply_are_evaluated_separately(run_both, spec, same_steps):
    got, expected = run_both(
        [*spec.call("12*12"), *spec.e(" ok"), *spec.call("3+4"), spec.s("assistant_end")]
    )
    same_steps(got, expected, "clear python_expr_tokens on <|python_start|> (and after <|python_end|>), or the "
               "second expression is decoded with the first one in front of it")  # fmt: skip


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_every_row_of_several_samples_runs_its_own_state_machine(run_both, spec, same_steps):
    got, expected = run_both([*spec.call("3+4"), *spec.e(" so"), spec.s("assistant_end")], num_samples=2)
    same_steps(got, expected, "one RowState per row (`[RowState(...) for _ in range(num_samples)]`, not "
               "`[RowState(...)] * num_samples`, which shares one queue between the rows)")  # fmt: skip


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_max_tokens_cuts_the_forced_output_short(run_both, spec, same_steps):
    got, expected = run_both([*spec.call("12*12"), spec.s("assistant_end")], max_tokens=6)
    same_steps(got, expected, "stop after exactly max_tokens yielded steps (num_generated >= max_tokens), forced "
               "tokens included")  # fmt: skip


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_the_model_is_fed_the_forced_tokens(run_both, spec):
    run_both([*spec.call("3+4"), *spec.e(" so"), spec.s("assistant_end")])
    got, expected = run_both.inputs
    assert got == expected, (
        f"the model's forward calls were fed {got}, expected {expected} (the prompt once, then one column per "
        "step). Likely cause: the next forward pass must get token_column, the tokens actually emitted (forced "
        "ones included), not the sampled ones, so the model sees the calculator's answer (step 2)"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_sampling_with_temperature_and_top_k_follows_the_model(run_both, spec, same_steps):
    got, expected = run_both([*spec.call("3+4"), spec.s("assistant_end")], temperature=1.0, top_k=5, seed=3)
    same_steps(got, expected, "sample with sample_next_token(logits, rng, temperature, top_k) and the seeded "
               "torch.Generator")  # fmt: skip


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_generate_batch_returns_the_reply_without_its_terminal_token(learner, tok, judge_tok, learner_scripted,
                                                                     judge_scripted, spec):  # fmt: skip
    from conftest import VOCAB_SIZE  # type: ignore[import-not-found]

    from nanochat_ref.engine import Engine as RefEngine

    script = [*spec.call("3+4"), spec.s("assistant_end")]
    prompt = [judge_tok.get_bos_token_id(), *judge_tok.encode("The answer is")]
    engine = learner.module("nanochat.engine").Engine(learner_scripted(script, VOCAB_SIZE), tok)
    got = learner.value(engine.generate_batch(prompt, 2, temperature=0.0, max_tokens=20))
    expected = RefEngine(judge_scripted(script, VOCAB_SIZE), judge_tok).generate_batch(
        prompt, 2, temperature=0.0, max_tokens=20
    )
    assert [list(x) for x in got] == [list(x) for x in expected], (
        f"generate_batch(prompt, 2): expected (results, masks) {expected}, got {got}. Likely cause: "
        "generate_batch only collects what generate yields, so check generate's steps (step 2)"
    )


# --- step 3: execute_code -------------------------------------------------------------------------------------


@pytest.fixture
def ex(learner):
    return learner.module("nanochat.execution")


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_execute_code_captures_stdout_of_a_successful_run(ex, result_fields, same_result):
    got = result_fields(ex.execute_code("print(sum(range(10)))", 5.0))
    expected = {"success": True, "stdout": "45\n", "stderr": "", "error": None, "timeout": False}
    same_result(got, expected, "execute_code('print(sum(range(10)))')",
                "return the child's result dict as ExecutionResult(**result)")  # fmt: skip


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_execute_code_captures_stderr(ex, result_fields, same_result):
    got = result_fields(ex.execute_code("import sys\nsys.stderr.write('careful')\nprint('done')", 5.0))
    expected = {"success": True, "stdout": "done\n", "stderr": "careful"}
    same_result(got, expected, "execute_code of a program writing to stderr",
                "keep stdout and stderr apart: ExecutionResult(**result)")  # fmt: skip


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_execute_code_reports_an_exception_as_a_failed_run(ex, result_fields, same_result):
    got = result_fields(ex.execute_code("assert 1 + 1 == 3, 'bad math'", 5.0))
    expected = {
        "success": False,
        "error": "AssertionError: bad math",
        "timeout": False,
        "memory_exceeded": False,
    }
    same_result(got, expected, "execute_code of a failing assert",
                "the child reports the error as 'Type: message'; pass it through unchanged")  # fmt: skip


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_executed_code_cannot_read_stdin(ex, result_fields, same_result):
    got = result_fields(ex.execute_code("import sys\nsys.stdin.read()", 5.0))
    expected = {"success": False, "error": "OSError: "}
    same_result(got, expected, "execute_code of a program reading stdin",
                "the child must run the code through _unsafe_execute, whose capture_io makes stdin raise")  # fmt: skip


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_execute_code_stops_an_endless_loop_with_the_childs_alarm(ex, result_fields, same_result):
    got = result_fields(ex.execute_code("while True:\n    pass", 0.5))
    expected = {"success": False, "timeout": True, "error": "Execution timed out"}
    same_result(got, expected, "execute_code of an endless loop (timeout 0.5 s)",
                "give the child the caller's timeout: _unsafe_execute(code, timeout, ...) arms its own alarm, so "
                "the parent only kills children that ignore it")  # fmt: skip


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
@pytest.mark.lab_addition("process-died-error")
def test_a_child_that_dies_without_a_result_is_not_a_timeout(ex, result_fields, same_result):
    got = result_fields(ex.execute_code("import os\nos._exit(3)", 5.0))
    expected = {"success": False, "timeout": False, "error": "Process died (exit 3)"}
    same_result(got, expected, "execute_code of a program that calls os._exit(3)",
                "no result and a child that exited by itself (p.exitcode == 3) is a crash, not a timeout: "
                "only a child the parent had to kill (exitcode None or -SIGKILL) timed out")  # fmt: skip


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_a_child_that_ignores_its_alarm_is_killed_and_does_not_survive(
    ex, result_fields, same_result, scratch, process_alive, learner
):
    pidfile = f"{scratch}/child.pid"
    code = (
        f"import os, signal\nopen({pidfile!r}, 'w').write(str(os.getpid()))\n"
        "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])\nwhile True:\n    pass"
    )
    got = result_fields(ex.execute_code(code, 0.5))
    pid = int(str(learner.module("pathlib").Path(pidfile).read_text()))
    alive = process_alive(pid)
    if alive:
        learner.module("os").kill(pid, 9)
    assert not alive, (
        f"execute_code returned {got} but its child (pid {pid}) is still running: expected no surviving process. "
        "Likely cause: when no result arrived within timeout + 1 seconds, kill the child that is still alive "
        "(p.kill()) (step 3)"
    )
    expected = {"success": False, "timeout": True, "error": "Execution timed out (process killed)"}
    same_result(got, expected, "execute_code of a loop that blocks SIGALRM (timeout 0.5 s)",
                "a child the parent had to kill is a timeout: success=False, timeout=True")  # fmt: skip


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_executed_code_cannot_start_processes_that_outlive_it(ex, result_fields, same_result, scratch,
                                                              process_alive, learner):  # fmt: skip
    pidfile = f"{scratch}/grandchild.pid"
    code = (
        f"import subprocess\np = subprocess.Popen(['sleep', '30'])\nopen({pidfile!r}, 'w').write(str(p.pid))"
    )
    got = result_fields(ex.execute_code(code, 2.0))
    if learner.module("os.path").exists(pidfile):
        pid = int(str(learner.module("pathlib").Path(pidfile).read_text()))
        alive = process_alive(pid)
        if alive:
            learner.module("os").kill(pid, 9)
        raise AssertionError(
            f"executed code started `sleep 30` (pid {pid}, {'still running' if alive else 'ended'}): expected "
            "subprocess.Popen to be disabled. Likely cause: the child must run _unsafe_execute, which calls "
            "reliability_guard before exec (step 3)"
        )
    same_result(got, {"success": False, "error": "TypeError: 'NoneType' object is not callable"},
                "execute_code of a program calling subprocess.Popen",
                "reliability_guard sets subprocess.Popen to None; run the code through _unsafe_execute")  # fmt: skip


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_a_memory_blow_up_is_reported(ex, result_fields, same_result):
    got = result_fields(ex.execute_code("x = bytearray(1024 * 1024 * 1024)", 5.0, 256 * 1024 * 1024))
    expected = {"success": False, "memory_exceeded": True, "timeout": False}
    same_result(got, expected, "execute_code of a 1 GiB allocation under a 256 MiB cap",
                "pass maximum_memory_bytes on to _unsafe_execute, whose reliability_guard sets RLIMIT_AS")  # fmt: skip
    assert str(got["error"]).startswith("Memory limit exceeded"), f"error: {got['error']!r}"


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_an_execution_result_prints_like_nanochats(ex, learner):
    from nanochat_ref.execution import ExecutionResult

    got = learner.repr(ex.execute_code("print('hi')", 5.0))
    expected = repr(ExecutionResult(success=True, stdout="hi\n", stderr=""))
    assert got == expected, f"repr(execute_code(\"print('hi')\")): expected {expected}, got {got} (step 3)"
    got = learner.repr(ex.execute_code("import sys\nsys.stderr.write('w')\nwhile True:\n    pass", 0.3))
    expected = repr(
        ExecutionResult(success=False, stdout="", stderr="", error="Execution timed out", timeout=True)
    )
    assert got == expected, (
        f"repr of a timed-out run: expected {expected}, got {got}. Likely cause: a run that times out reports "
        "no output, only timeout=True and the error (step 3)"
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_humaneval_style_grading_on_your_sandbox(ex, learner, metrics):
    """nanochat's HumanEval eval: imports + the completion's code + the tests + check(entry_point), one run each."""
    from nanochat_ref.chatdata.generators import CODE_PROBLEMS
    from nanochat_ref.tasks.humaneval import extract_imports, extract_program

    def program(row, completion: str) -> str:
        parts = [extract_imports(row["prompt"]), extract_program(completion), row["test"]]
        return "\n\n".join([*parts, f"check({row['entry_point']})"])

    runs = []  # (kind, program, should pass)
    for i, row in enumerate(CODE_PROBLEMS):
        head = row["prompt"].split('"""')[0].rstrip() + "\n"  # the def line (and any imports)
        good = f"Here it is:\n```python\n{row['prompt']}{row['canonical_solution']}```\nDone."
        wrong = f"{head}    return None\n" if i % 2 else f"{head}    raise ValueError('model gave up')\n"
        runs.append(("pass", program(row, good), True))
        runs.append(("wrong answer" if i % 2 else "exception", program(row, wrong), False))
    loop = "def f():\n    while True:\n        pass\n\nf()"
    runs.append(("timeout", program(CODE_PROBLEMS[0], loop), False))
    runs.append(("memory", program(CODE_PROBLEMS[0], "x = bytearray(1 << 30)"), False))

    passed, counts = [], {}
    for kind, program_text, should_pass in runs:
        result = ex.execute_code(program_text, 1.0)
        ok = learner.value(result.success)
        assert ok is should_pass, (
            f"HumanEval-style {kind!r} run: expected success={should_pass}, got {ok!r} for\n{program_text}\n"
            f"(result {learner.repr(result)}). Likely cause: success comes straight from the child's result "
            "(step 3)"
        )
        passed.append(ok)
        outcome = "timeout" if learner.value(result.timeout) else (
            "memory" if learner.value(result.memory_exceeded) else ("passed" if ok else "failed"))  # fmt: skip
        counts[outcome] = counts.get(outcome, 0) + 1
    metrics.series("humaneval/pass_rate_so_far", [sum(passed[: k + 1]) / (k + 1) for k in range(len(passed))])
    for outcome in ("passed", "failed", "timeout", "memory"):
        metrics.record(f"eval/{outcome}", counts.get(outcome, 0) / len(runs))
    assert counts.get("timeout") == 1 and counts.get("memory") == 1, (
        f"outcomes {counts}: expected exactly one timeout (the endless loop) and one memory_exceeded (the 1 GiB "
        "bytearray). Likely cause: pass timeout and maximum_memory_bytes on to the child (step 3)"
    )


# --- provided code the engine runs: the KV cache's growth and top-p sampling -----------------------------------


@pytest.mark.step("step2")
def test_the_provided_kv_cache_grows_past_its_length_and_keeps_what_it_held(eng, learner):
    """A conversation with tool output can outgrow the cache ``generate`` sized: ``insert_kv`` then grows along T
    (to a multiple of 1024 with 1024 spare) and the keys and values already stored must survive the copy."""
    import torch

    from nanochat_ref.engine import KVCache as RefCache

    gen = torch.Generator().manual_seed(0)
    chunks = [torch.randn(1, 2, t, 4, generator=gen) for t in (3, 2, 6)]  # 11 positions in a cache of 4
    cache, ref = eng.KVCache(1, 2, 4, 4, 1), RefCache(1, 2, 4, 4, 1)
    for i, k in enumerate(chunks):
        keys, values = cache.insert_kv(0, k, -k)
        ref_keys, ref_values = ref.insert_kv(0, k, -k)
        torch.testing.assert_close(
            learner.value(keys),
            ref_keys,
            msg=f"keys after insert {i + 1} (positions 0..{ref.pos - 1}): the cache must grow and keep its keys",
        )
        torch.testing.assert_close(learner.value(values), ref_values, msg=f"values after insert {i + 1}")
    assert learner.value(cache.pos) == 11, "pos advances by every insert into the last layer"
    shape = tuple(learner.value(cache.kv_cache).shape)
    assert shape == tuple(ref.kv_cache.shape) == (1, 2, 1, 2, 2048, 4), (
        f"cache shape {shape}: at 5 > 4 positions it grows to 5 + 1024 rounded up to a multiple of 1024 (2048), "
        "along T only, keeping the (layers, k/v, B, H, T, D) layout"
    )


@pytest.mark.step("step2")
@pytest.mark.lab_addition("generate-top-p")
def test_the_provided_top_p_sampling_keeps_the_smallest_prefix_reaching_p(eng, learner):
    """``sample_next_token(..., top_p=0.7)`` on probabilities 0.5, 0.3, 0.1, 0.1: only the two most likely tokens
    can come out (0.5 < 0.7 <= 0.8), both do, and with the same seed the draws are the reference's."""
    import torch

    from nanochat_ref.engine import sample_next_token

    logits = torch.log(torch.tensor([[0.1, 0.5, 0.1, 0.3]])).repeat(64, 1)  # (64, 4): 64 draws at once
    rng = learner.module("torch").Generator().manual_seed(7)
    got = learner.value(eng.sample_next_token(logits, rng, 1.0, None, 0.7))
    assert tuple(got.shape) == (64, 1), f"one token per row, shape (B, 1); got {tuple(got.shape)}"
    drawn = set(got.flatten().tolist())
    assert drawn == {1, 3}, f"top_p=0.7 keeps tokens 1 (p=0.5) and 3 (p=0.3); drew {sorted(drawn)}"
    expected = sample_next_token(logits, torch.Generator().manual_seed(7), 1.0, None, 0.7)
    assert torch.equal(got, expected), (
        "the same seed must draw the reference's tokens (sort, cumsum, renormalise)"
    )
