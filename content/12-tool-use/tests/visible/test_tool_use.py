"""Visible tests for module 12 (tool use). Learner code is reached only through the ``learner`` fixture."""

import pytest

from grading.testkit import assert_number
from nanochat_ref.engine import use_calculator

# --- step 1: the calculator -----------------------------------------------------------------------------------


@pytest.fixture
def eng(learner):
    return learner.module("nanochat.engine")


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_the_calculator_evaluates_plain_arithmetic(eng):
    got = eng.use_calculator("12*12 + (3 - 1) / 4")
    assert_number(
        got, 144.5, what="use_calculator('12*12 + (3 - 1) / 4')", msg="plain arithmetic gives 144.5"
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_the_calculator_ignores_thousands_separators(eng):
    got = eng.use_calculator("1,000 + 2,000")
    assert_number(
        got, 3000, rel=0, abs=0, what="use_calculator('1,000 + 2,000')", msg="strip the commas: 3000"
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_the_calculator_refuses_powers(eng):
    got = eng.use_calculator("2**10")
    assert got is None, f"use_calculator must refuse ** (huge numbers) and return None, got {got!r}"


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_the_calculator_counts_letters_in_a_string(eng):
    got = eng.use_calculator("'strawberry'.count('r')")
    assert use_calculator("'strawberry'.count('r')") == 3
    assert_number(
        got,
        3,
        rel=0,
        abs=0,
        what="use_calculator(\"'strawberry'.count('r')\")",
        msg="a .count() call gives 3",
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_the_calculator_refuses_dangerous_names(eng):
    expr = "__import__('os').system('ls')"
    got = eng.use_calculator(expr)
    assert got is None, f"use_calculator must refuse {expr!r} (return None), got {got!r}"


# --- step 2: the tool state machine ---------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_text_without_tool_calls_is_generated_with_mask_1(run_both, spec):
    got, expected = run_both([*spec.e(" seven."), spec.s("assistant_end")])
    assert got == expected, f"steps (column, masks) of a plain reply: got {got}, expected {expected}"


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_a_calculator_call_forces_its_result_with_mask_0(run_both, spec):
    got, expected = run_both([*spec.call("3+4"), *spec.e(" so"), spec.s("assistant_end")])
    forced = [s for s in expected if s[1] == [0]]
    assert got == expected, (
        f"after <|python_end|> the engine must force <|output_start|> 7 <|output_end|> with mask 0 {forced}; "
        f"got {got}, expected {expected}"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_a_refused_expression_forces_nothing(run_both, spec):
    got, expected = run_both([*spec.call("2**100"), spec.s("assistant_end")])
    assert got == expected, (
        f"a refused expression (None) must queue no forced tokens: got {got}, expected {expected}"
    )


# --- step 3: execute_code -------------------------------------------------------------------------------------


@pytest.fixture
def ex(learner):
    return learner.module("nanochat.execution")


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_execute_code_captures_stdout_of_a_successful_run(ex, result_fields):
    got = result_fields(ex.execute_code("print(sum(range(10)))", 5.0))
    assert got["success"] is True and got["stdout"] == "45\n", f"execute_code of print(45): {got}"


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_execute_code_reports_an_exception_as_a_failed_run(ex, result_fields):
    got = result_fields(ex.execute_code("assert 1 + 1 == 3, 'bad math'", 5.0))
    assert got["success"] is False and got["error"] == "AssertionError: bad math", (
        f"execute_code of a failing assert: {got}"
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_execute_code_stops_an_endless_loop(ex, result_fields):
    got = result_fields(ex.execute_code("while True:\n    pass", 0.5))
    assert got["success"] is False and got["timeout"] is True, (
        f"execute_code of an endless loop (timeout 0.5 s): {got}"
    )
