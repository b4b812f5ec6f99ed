"""The test kit's number assertions (``grading/testkit/numbers.py``): values that are not numbers never pass.

Each test feeds one kind of non-number (or one near miss) to one helper and checks that it fails with a message
naming what came, or that a real number passes. The kit runs inside judges; here it runs in-process, which is
the same code.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from grading.testkit import (
    assert_number,
    assert_numbers,
    assert_tensor,
    check_tensor,
    finite_max,
    finite_min,
    finite_number,
    finite_numbers,
)
from grading.testkit.numbers import tolerance


def _fails(match: str):
    return pytest.raises(AssertionError, match=match)


# --- assert_number: what counts as a number -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "got", [0.5, np.float64(0.5), np.float32(0.5), 0.5000001], ids=["float", "np64", "np32", "close"]
)
def test_assert_number_accepts_a_close_real_number(got):
    assert assert_number(got, 0.5) == pytest.approx(0.5)


def test_assert_number_accepts_an_int_for_an_integral_float():
    assert assert_number(3, 3.0, rel=0, abs=0) == 3.0


def test_assert_number_returns_a_python_float():
    assert type(assert_number(np.float32(2.0), 2.0)) is float


def test_assert_number_refuses_an_empty_tensor():
    with _fails(r"got an empty tensor \(shape \(0,\)\)"):
        assert_number(torch.tensor([]), 0.5)


def test_assert_number_refuses_an_empty_array():
    with _fails(r"got an empty array \(shape \(0,\)\)"):
        assert_number(np.array([]), 0.5)


def test_assert_number_refuses_a_one_element_tensor_and_names_item():
    with _fails(r"(?s)a tensor of shape \(\) and dtype torch.float32.*`\.item\(\)`"):
        assert_number(torch.tensor(0.5), 0.5)


@pytest.mark.parametrize(("got", "expected"), [(True, 1.0), (False, 0.0), (np.bool_(True), 1.0)])
def test_assert_number_refuses_a_bool_even_when_it_equals_the_number(got, expected):
    with _fails("got the bool True|got the bool False|got the bool np.True_"):
        assert_number(got, expected)


def test_assert_number_refuses_a_string_of_digits():
    with _fails(r"got the str '0'.*\n.*text was returned"):
        assert_number("0", 0.0)


def test_assert_number_refuses_none_and_asks_for_a_return():
    with _fails("nothing was returned"):
        assert_number(None, 0.0)


def test_assert_number_refuses_a_list_holding_the_number():
    with _fails("got a list of 1 items"):
        assert_number([0.5], 0.5)


@pytest.mark.parametrize(("got", "name"), [(math.nan, "NaN"), (math.inf, "inf"), (-math.inf, "-inf")])
def test_assert_number_refuses_a_non_finite_number(got, name):
    with _fails(f"got {name}\\."):
        assert_number(got, 1.0)


def test_assert_number_refuses_a_number_out_of_tolerance_and_says_by_how_much():
    with _fails(r"close to 0\.5 ± 5\.0e-07, got 0\.51 \(off by \+0\.01\)"):
        assert_number(0.51, 0.5)


def test_assert_number_appends_the_tests_teaching_message():
    with _fails("(?s)got 0.25.*\npass@1 is 2/4$"):
        assert_number(0.25, 0.5, what="pass_at_k(records, 1)", msg="pass@1 is 2/4")


def test_assert_number_names_what_was_checked():
    with _fails(r"^pass_at_k\(records, 1\): expected"):
        assert_number(None, 0.5, what="pass_at_k(records, 1)")


def test_assert_number_with_an_infinite_expected_value_accepts_only_that_number():
    assert assert_number(math.inf, math.inf) == math.inf
    with _fails("expected the number inf, got a tensor"):
        assert_number(torch.tensor([math.inf]), math.inf)
    with _fails("expected the number inf, got 1e"):
        assert_number(1e300, math.inf)


def test_assert_number_with_a_nan_expected_value_accepts_nan():
    assert math.isnan(assert_number(math.nan, math.nan))


def test_assert_number_refuses_an_expected_value_that_is_not_a_number():
    with pytest.raises(TypeError, match="the expected value must be a number"):
        assert_number(0.5, torch.tensor(0.5))


# The tolerance is pytest.approx's, so a conversion from `x == pytest.approx(y, ...)` keeps each test's meaning.
@pytest.mark.parametrize("kwargs", [{}, {"rel": 1e-3}, {"abs": 1e-3}, {"rel": 1e-3, "abs": 1e-9}, {"rel": 0}])
@pytest.mark.parametrize("expected", [0.0, 1e-10, 0.5, -3.0, 1e6])
@pytest.mark.parametrize("offset", [0.0, 1e-13, 1e-9, 4e-7, 2e-6, 5e-4, 2e-3, 1.0])
def test_assert_number_agrees_with_pytest_approx(kwargs, expected, offset):
    got = expected + offset
    want = got == pytest.approx(expected, **kwargs)  # the behaviour being mirrored
    try:
        assert_number(got, expected, **kwargs)
        passed = True
    except AssertionError:
        passed = False
    assert passed == want, (got, expected, kwargs, tolerance(expected, kwargs.get("rel"), kwargs.get("abs")))


# --- finite_number, finite_numbers, finite_max, finite_min ------------------------------------------------------


def test_finite_number_returns_the_float():
    assert finite_number(7) == 7.0


def test_finite_number_refuses_a_tensor():
    with _fails("got a tensor of shape"):
        finite_number(torch.tensor(1.0))


def test_finite_numbers_names_the_index_of_a_nan_after_the_first_item():
    with _fails(r"^values\[2\]: expected a finite number, got NaN"):
        finite_numbers([0.1, 0.2, math.nan], what="values")


def test_finite_numbers_refuses_a_tensor_of_numbers():
    with _fails("expected a list of finite numbers, got a tensor"):
        finite_numbers(torch.tensor([0.1, 0.2]))


def test_finite_numbers_checks_the_length():
    with _fails("expected a list of finite numbers of 3 items, got 2 items"):
        finite_numbers([0.1, 0.2], length=3)


def test_finite_numbers_accepts_a_tuple_and_returns_floats():
    assert finite_numbers((1, 2.5)) == [1.0, 2.5]


def test_builtin_max_skips_a_nan_after_the_first_item_and_finite_max_does_not():
    values = [0.5, math.nan, 0.25]
    assert max(values) == 0.5  # the hole: the NaN is ignored
    with _fails(r"\[1\]: expected a finite number, got NaN"):
        finite_max(values)


def test_finite_min_refuses_a_nan_after_the_first_item():
    with _fails(r"\[1\]: expected a finite number, got NaN"):
        finite_min([0.5, math.nan])


def test_finite_max_and_min_refuse_an_empty_list():
    with _fails("expected at least one number, got an empty list"):
        finite_max([])
    with _fails("expected at least one number, got an empty list"):
        finite_min([])


def test_finite_max_and_min_return_the_extremes():
    assert (finite_max([1, 3.5, 2]), finite_min([1, 3.5, 2])) == (3.5, 1.0)


# --- assert_numbers: lists and dicts of numbers ------------------------------------------------------------------


def test_assert_numbers_accepts_a_close_list():
    assert_numbers([1.0, 0.5000001, 0], [1.0, 0.5, 0.0])


def test_assert_numbers_refuses_bools_in_a_list():
    with _fails(r"^values\[0\]: expected a number close to 1\.0.*got the bool True"):
        assert_numbers([True, True, False], [1.0, 1.0, 0.0], what="values")


def test_assert_numbers_refuses_an_empty_tensor_for_a_list():
    with _fails("expected a list of 2 items, got an empty tensor"):
        assert_numbers(torch.tensor([]), [0.5, 0.5])


def test_assert_numbers_refuses_a_shorter_list():
    with _fails("expected 3 items: .*, got 2 items"):
        assert_numbers([1.0, 1.0], [1.0, 1.0, 1.0])


def test_assert_numbers_compares_dict_values_by_key():
    expected = {"gpu_type": "H100", "hourly_rate": 24.0, "estimated_total": None}
    assert_numbers({"hourly_rate": 24.000001, "gpu_type": "H100", "estimated_total": None}, expected)
    with _fails(r"cost\['hourly_rate'\]: expected a number close to 24\.0.*got an empty array"):
        assert_numbers({**expected, "hourly_rate": np.array([])}, expected, what="cost")


def test_assert_numbers_names_missing_and_unexpected_keys():
    with _fails(
        r"expected the keys \['a', 'b'\], got keys \['a', 'c'\], missing \['b'\], unexpected \['c'\]"
    ):
        assert_numbers({"a": 1, "c": 2}, {"a": 1, "b": 2})


def test_assert_numbers_wants_other_leaves_equal_and_of_the_same_type():
    with _fails(r"\['estimated_total'\]: expected None, got 0\.0"):
        assert_numbers({"estimated_total": 0.0}, {"estimated_total": None})


# --- check_tensor and assert_tensor ------------------------------------------------------------------------------


def test_check_tensor_refuses_a_python_number():
    with _fails(r"expected a tensor of shape \(\), got 0\.5\.\nLikely cause: a Python number was returned"):
        check_tensor(0.5, shape=())


def test_check_tensor_refuses_an_empty_tensor_for_a_shape_with_values():
    with _fails(r"expected a tensor of shape \(4,\), got an empty tensor \(shape \(0,\)\)"):
        check_tensor(torch.tensor([]), shape=(4,))


def test_check_tensor_names_both_shapes_when_a_dimension_is_missing():
    with _fails(
        r"(?s)expected a tensor of shape \(4, 1\), got a tensor of shape \(4,\).*dimension is missing"
    ):
        check_tensor(torch.zeros(4), shape=(4, 1))


def test_check_tensor_names_both_dtypes():
    with _fails(r"expected dtype torch.float32, got dtype torch.float64"):
        check_tensor(torch.zeros(2, dtype=torch.float64), dtype=torch.float32)


def test_check_tensor_names_the_first_nan_and_counts_them():
    x = torch.zeros(4, 5)
    x[2, 3] = math.nan
    x[3, 0] = math.inf
    with _fails(r"got NaN at index \(2, 3\) \(2 of 20 values are not finite\)"):
        check_tensor(x, shape=(4, 5))


def test_check_tensor_skips_finiteness_of_integer_tensors_and_returns_the_tensor():
    x = torch.arange(3)
    assert check_tensor(x, shape=(3,), dtype=torch.long) is x


def test_check_tensor_checks_finiteness_only_where_asked():
    x = torch.tensor([math.nan, 1.0])
    check_tensor(x, finite=torch.tensor([False, True]))
    with _fails("got NaN at index"):
        check_tensor(x, finite=torch.tensor([True, False]))


def test_check_tensor_of_an_array_refuses_a_tensor():
    with _fails("expected an? array.*got a tensor"):
        check_tensor(torch.zeros(2), kind="array")


def test_assert_tensor_refuses_an_empty_tensor_that_broadcasting_would_hide():
    with _fails(r"got an empty tensor"):
        assert_tensor(torch.tensor([]), torch.tensor([0.5, -0.5]))


def test_assert_tensor_refuses_a_scalar_tensor_where_a_vector_is_expected():
    with _fails(r"expected a tensor of shape \(2,\), got a tensor of shape \(\)"):
        assert_tensor(torch.tensor(0.0), torch.zeros(2))


def test_assert_tensor_refuses_nan_where_the_expected_value_is_finite():
    with _fails(r"got NaN at index \(1,\)"):
        assert_tensor(torch.tensor([0.0, math.nan]), torch.tensor([0.0, math.nan]))


def test_assert_tensor_with_equal_nan_accepts_nan_only_where_expected():
    expected = torch.tensor([1.0, math.nan])
    assert_tensor(torch.tensor([1.0, math.nan]), expected, equal_nan=True)
    with _fails(r"got NaN at index \(0,\)"):
        assert_tensor(torch.tensor([math.nan, math.nan]), expected, equal_nan=True)


def test_assert_tensor_reports_closeness_with_the_tests_message_and_torchs_details():
    with _fails(
        r"(?s)^advantages differs from the expected values\.\nr - mean\(r\)\n.*Mismatched elements: 1 / 2"
    ):
        assert_tensor(
            torch.tensor([0.5, 0.4]), torch.tensor([0.5, -0.5]), what="advantages", msg="r - mean(r)"
        )


def test_assert_tensor_passes_a_close_tensor_and_returns_it():
    got = torch.tensor([0.5, -0.5])
    assert assert_tensor(got, torch.tensor([0.5, -0.5 + 1e-7])) is got


def test_assert_tensor_ignores_the_dtype_only_when_told():
    assert_tensor(torch.zeros(2, dtype=torch.float64), torch.zeros(2), check_dtype=False)
    with _fails("expected dtype torch.float32"):
        assert_tensor(torch.zeros(2, dtype=torch.float64), torch.zeros(2))


def test_assert_tensor_compares_arrays_with_arrays():
    assert_tensor(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    with _fails("got a tensor"):
        assert_tensor(torch.tensor([1.0, 2.0]), np.array([1.0, 2.0]))
    with _fails("(?s)values close to the expected ones.*Mismatched elements"):
        assert_tensor(np.array([1.0, 2.5]), np.array([1.0, 2.0]))


def test_assert_tensor_refuses_an_expected_value_that_is_not_a_tensor():
    with pytest.raises(TypeError, match="must be a tensor or an array"):
        assert_tensor(torch.zeros(1), [0.0])


def test_importing_the_kit_imports_neither_torch_nor_numpy():
    code = "import sys, grading.testkit; print(sorted({'torch', 'numpy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_check_tensor_names_nan_in_a_complex_tensor():
    with _fails(r"got \(nan\+0j\) at index \(1,\).*\nLikely cause: NaN comes from"):
        check_tensor(torch.tensor([1 + 1j, complex("nan")]))
