"""The numbers lint: content tests compare learner numbers only through the test kit (``grading/testkit/numbers.py``).

Every Python file under ``content/*/tests/`` is parsed (never imported) and refused when it uses a comparison that
lets a non-number pass (docs/authoring.md, "Tests that catch"):

- ``pytest.approx`` at all: ``value == pytest.approx(x)`` is true for an empty tensor or array and for
  ``True == approx(1.0)``. Use ``assert_number``, ``assert_numbers`` (lists, dicts) or ``assert_tensor``.
- ``math.isclose`` and any ``.allclose(...)`` / ``.isclose(...)`` call: ``math.isclose(True, 1.0)`` holds and
  ``torch.allclose`` broadcasts a wrong shape. Use the kit, or ``torch.testing.assert_close``, which checks type,
  shape, dtype and NaN.
- builtin ``max()``/``min()`` on anything but counts: they skip a NaN that is not the first item
  (``max([0.5, nan]) == 0.5``). Every argument must be an integer literal, a ``len(...)`` call, or a ``+``/``-``
  of those; anything else goes through ``finite_max``/``finite_min``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from content_helpers import CONTENT_DIR

CONTENT_TESTS = sorted(CONTENT_DIR.glob("*/tests/**/*.py"))


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for a name or an attribute chain, else ""."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def _is_count(node: ast.expr) -> bool:
    """An integer literal, a ``len(...)`` call, or ``+``/``-`` of those: values that cannot be NaN."""
    if isinstance(node, ast.Constant):
        return type(node.value) is int
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id == "len"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        return _is_count(node.left) and _is_count(node.right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _is_count(node.operand)
    return False


def number_problems(source: str) -> list[tuple[int, str]]:
    """``(line, problem)`` for every comparison in ``source`` that lets a non-number pass as a number."""
    tree = ast.parse(source)
    approx_names = {"pytest.approx"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "pytest":
            approx_names |= {alias.asname or alias.name for alias in node.names if alias.name == "approx"}
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name | ast.Attribute) and _dotted(node) in approx_names:
            problems.append((node.lineno, "pytest.approx accepts an empty tensor or a bool: use the kit"))
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name == "math.isclose" or (
            isinstance(node.func, ast.Attribute) and node.func.attr in ("allclose", "isclose")
        ):
            problems.append(
                (
                    node.lineno,
                    f"{name or node.func.attr}() lets non-numbers or wrong shapes pass: use the kit",
                )
            )
        if isinstance(node.func, ast.Name) and node.func.id in ("max", "min"):
            if not node.args or node.keywords or not all(_is_count(arg) for arg in node.args):
                problems.append(
                    (node.lineno, f"builtin {node.func.id}() skips a NaN: use finite_{node.func.id}")
                )
    return sorted(problems)


# --- the lint's rules ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "assert got == pytest.approx(0.5)",
        "assert pytest.approx(0.5) == got",
        "assert got != pytest.approx(0.5)",
        "assert 0 < got == pytest.approx(0.5)",
        "from pytest import approx\nassert got == approx(0.5)",
        "from pytest import approx as near\nassert near(0.5) == got",
        "assert_numbers(got, pytest.approx([0.5]))",
    ],
    ids=["left", "right", "not-equal", "chained", "imported", "aliased", "as-an-argument"],
)
def test_the_lint_refuses_pytest_approx(source):
    assert [problem for _, problem in number_problems(source)] == [
        "pytest.approx accepts an empty tensor or a bool: use the kit"
    ]


@pytest.mark.parametrize(
    "source",
    [
        "import math\nassert math.isclose(got, 0.5)",
        "assert torch.allclose(got, expected)",
        "assert np.isclose(got, expected).all()",
        "assert torch.isclose(got, expected).all()",
    ],
    ids=["math.isclose", "torch.allclose", "np.isclose", "torch.isclose"],
)
def test_the_lint_refuses_isclose_and_allclose(source):
    assert len(number_problems(source)) == 1


@pytest.mark.parametrize(
    "source",
    [
        "err = max(float((a - b).abs().max()) for a, b in pairs)",
        "err = max([float(x) for x in values])",
        "err = min(values)",
        "err = max(a, b)",
        "err = min(float(a), 0.0)",
        "err = max(len(a), 0.5)",
        "err = min(values, key=abs)",
        "err = max(*values)",
    ],
    ids=["generator", "list", "name", "two-names", "float-call", "float-literal", "key", "starred"],
)
def test_the_lint_refuses_builtin_max_and_min_over_anything_but_counts(source):
    builtin = source.split(" = ")[1][:3]
    assert [problem for _, problem in number_problems(source)] == [
        f"builtin {builtin}() skips a NaN: use finite_{builtin}"
    ]


@pytest.mark.parametrize(
    "source",
    [
        "n = min(len(got_lines), len(want_lines))",
        "n = max(len(a) - 1, 0)",
        "x = t.max() <= 15.0",
        "x = torch.max(t)",
        "assert_number(got, 0.5)",
        "torch.testing.assert_close(got, expected)",
        "value = finite_max(errors, what='errors')",
        "source = 'assert got == pytest.approx(0.5)'",
    ],
    ids=[
        "lengths",
        "length-arithmetic",
        "tensor-method",
        "torch-max",
        "kit",
        "assert-close",
        "finite-max",
        "text",
    ],
)
def test_the_lint_allows_counts_tensor_methods_and_the_kit(source):
    assert number_problems(source) == []


def test_the_lint_reports_the_line_of_each_problem():
    assert [line for line, _ in number_problems("x = 1\nassert x == pytest.approx(1)\ny = max(v)\n")] == [
        2,
        3,
    ]


# --- the content ----------------------------------------------------------------------------------------------


def test_there_are_content_tests_to_lint():
    assert len(CONTENT_TESTS) >= 40
    assert any(path.name == "conftest.py" for path in CONTENT_TESTS)


@pytest.mark.parametrize("path", CONTENT_TESTS, ids=lambda p: str(p.relative_to(CONTENT_DIR)))
def test_content_tests_compare_numbers_only_through_the_kit(path: Path):
    problems = number_problems(path.read_text(encoding="utf-8"))
    assert problems == [], "\n".join(
        f"{path.relative_to(CONTENT_DIR)}:{line}: {text}" for line, text in problems
    )
