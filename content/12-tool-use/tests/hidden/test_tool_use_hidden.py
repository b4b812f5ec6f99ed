"""Hidden tests for module 12: calculator edges, tool calls across rows and steps, execution edges."""

import pytest

from grading.testkit import assert_number
from nanochat_ref.engine import use_calculator

# --- step 1 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
@pytest.mark.parametrize(
    "expr",
    [
        "7/2", "(1+2)*3", "  4 ", "1/0", "2 ** 8", "10 - 2 * 3", "'Mississippi'.count('ss')", "'abc'.upper()",
        "'a'.count('a') + 1", "open('x').count('a')", "GetAttr('a', 'count')", "'x'.count('x'); 1", "",
        "'aXa'.COUNT('a')", "[1].count(1)", "'é'.count('é')", "3 + 4 = 7",
    ],
    ids=repr,
)  # fmt: skip
def test_the_calculator_matches_the_reference(learner, expr):
    got = learner.module("nanochat.engine").use_calculator(expr)
    expected = use_calculator(expr)
    if expected is None:
        assert got is None, f"use_calculator({expr!r}) must refuse: None"
    else:
        assert_number(got, expected, rel=0, abs=0, what=f"use_calculator({expr!r})")


# --- step 2 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
@pytest.mark.parametrize(
    "exprs",
    [["'strawberry'.count('r')"], ["12*12", "1,000 + 2,000"], ["1/0"], [""], ["5-5", "'xyz'.count('a')"]],
    ids=["count", "two-calls", "error", "empty-block", "zeros"],
)
def test_tool_calls_match_the_reference(run_both, spec, exprs):
    script = [tok for expr in exprs for tok in [*spec.call(expr), *spec.e(" ok")]] + [spec.s("assistant_end")]
    got, expected = run_both(script)
    assert got == expected


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_every_row_of_several_samples_runs_the_tool(run_both, spec):
    got, expected = run_both([*spec.call("3+4"), spec.s("assistant_end")], num_samples=3)
    assert got == expected


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_max_tokens_cuts_forced_output_short(run_both, spec):
    got, expected = run_both([*spec.call("12*12"), spec.s("assistant_end")], max_tokens=6)
    assert got == expected


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_sampling_at_temperature_1_without_top_k_follows_the_model(run_both, spec):
    got, expected = run_both([*spec.e(" seven."), spec.s("assistant_end")], temperature=1.0, seed=11)
    assert got == expected


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_bos_also_completes_a_row(run_both, spec):
    got, expected = run_both([*spec.e(" 7"), spec.s("bos"), *spec.e(" more")])
    assert got == expected


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_python_end_without_python_start_is_plain_text(run_both, spec):
    got, expected = run_both([*spec.e("3+4"), spec.s("python_end"), spec.s("assistant_end")])
    assert got == expected


# --- step 3 ---------------------------------------------------------------------------------------------------


@pytest.fixture
def ex(learner):
    return learner.module("nanochat.execution")


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_stderr_is_captured(ex, result_fields):
    got = result_fields(ex.execute_code("import sys\nsys.stderr.write('warn')\nprint('out')", 5.0))
    assert (got["success"], got["stdout"], got["stderr"]) == (True, "out\n", "warn")


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_a_memory_blow_up_is_reported(ex, result_fields):
    got = result_fields(ex.execute_code("x = bytearray(512 * 1024 * 1024)", 5.0, 128 * 1024 * 1024))
    assert got["success"] is False and got["memory_exceeded"] is True


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
@pytest.mark.lab_addition("process-died-error")
def test_a_child_that_exits_hard_is_a_failed_run(ex, result_fields):
    got = result_fields(ex.execute_code("import os\nos._exit(3)", 5.0))
    assert got["success"] is False and got["timeout"] is False and "exit 3" in (got["error"] or "")


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_the_code_runs_in_a_fresh_process(learner, ex, result_fields):
    parent = learner.value(learner.module("os").getpid())
    got = result_fields(ex.execute_code(f"import os\nprint(os.getpid() != {parent})", 5.0))
    assert got["stdout"] == "True\n"


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_the_code_runs_in_a_temporary_folder_and_leaves_the_caller_alone(learner, ex, result_fields):
    os_mod = learner.module("os")
    before = os_mod.getcwd()
    got = result_fields(ex.execute_code("open('marker-12.txt', 'w').write('x')\nprint('ok')", 5.0))
    assert got["success"] is True and got["stdout"] == "ok\n"
    assert os_mod.getcwd() == before, "running code must not change the caller's working folder"
    assert not learner.module("os.path").exists(os_mod.path.join(before, "marker-12.txt")), (
        "the code must run in its own temporary folder"
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_a_child_that_ignores_its_alarm_is_killed_and_reported_as_a_timeout(
    learner, ex, result_fields, scratch, process_alive
):
    pidfile = f"{scratch}/sleeper.pid"
    code = (
        f"import os, signal, time\nopen({pidfile!r}, 'w').write(str(os.getpid()))\n"
        "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])\nwhile True:\n    time.sleep(0.01)"
    )
    got = result_fields(ex.execute_code(code, 0.3))
    pid = int(str(learner.module("pathlib").Path(pidfile).read_text()))
    alive = process_alive(pid)
    if alive:
        learner.module("os").kill(pid, 9)
    assert not alive
    assert (got["success"], got["timeout"]) == (False, True)
    assert got["error"] == "Execution timed out (process killed)"


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_a_short_timeout_is_the_childs_own(ex, result_fields):
    got = result_fields(ex.execute_code("import time\nwhile True:\n    time.sleep(0.01)", 0.3))
    assert (got["success"], got["timeout"], got["error"]) == (False, True, "Execution timed out")


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_a_smaller_memory_cap_is_applied(ex, result_fields):
    got = result_fields(ex.execute_code("x = bytes(700 * 1024 * 1024)", 5.0, 200 * 1024 * 1024))
    assert got["success"] is False and got["memory_exceeded"] is True


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_os_system_is_disabled_in_the_child(ex, result_fields):
    got = result_fields(ex.execute_code("import os\nos.system('true')", 5.0))
    assert (got["success"], got["error"]) == (False, "TypeError: 'NoneType' object is not callable")


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_input_cannot_read_stdin(ex, result_fields):
    got = result_fields(ex.execute_code("x = input()", 5.0))
    assert (got["success"], got["error"]) == (False, "OSError: ")


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
@pytest.mark.lab_addition("memory-cap-none")
def test_no_memory_cap_runs_the_code_unlimited(ex, result_fields):
    got = result_fields(ex.execute_code("print(len(bytearray(300 * 1024 * 1024)))", 5.0, None))
    assert (got["success"], got["stdout"]) == (True, "314572800\n")
