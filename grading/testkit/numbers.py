"""Assertions that a learner's value is a number (or a tensor) before it is compared with the expected one.

Why: careless comparisons accept values that are not numbers at all. ``value == pytest.approx(x)`` is true when
``value`` is an empty tensor or array (every one of its zero items is close), ``True == pytest.approx(1.0)``
holds, ``float("0")`` turns a string into a number, ``tensor([inf]) == inf`` is a true tensor, and builtin
``max()``/``min()`` skip a NaN that is not the first item. Every content test compares learner numbers through
these helpers instead, so each property is checked in this order: the type, then the shape and dtype (tensors),
then finiteness, then closeness.

Design choices:

- A number is an ``int`` or ``float`` (numpy's real scalars too), never a ``bool``, a string, a tensor, an array or
  a container; it is finite unless the expected value itself is infinite or NaN (then it must be exactly that).
- Closeness of numbers follows ``pytest.approx``: ``rel`` defaults to 1e-6 and ``abs`` to 1e-12, and giving only
  ``abs`` turns the relative tolerance off; ``rel=0, abs=0`` is exact equality. Closeness of tensors is
  ``torch.testing.assert_close`` (dtype-based default tolerances), after the kit's own shape, dtype and
  finiteness checks, whose messages name the cause ("got an empty tensor", "got NaN at index (2, 3)").
- Failures raise ``AssertionError`` with a message for the learner: what was checked (``what``), what was
  expected, what came, the likely cause, then the test's own teaching message (``msg``), which says which
  property of the step was being checked.
- Importing this module imports neither torch nor numpy: a value is recognised as a tensor or an array only when
  its library is already loaded (it cannot be one otherwise), so a pure-Python judge can use every helper.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Mapping, Sequence
from typing import Any

#: ``pytest.approx``'s defaults.
DEFAULT_REL = 1e-6
DEFAULT_ABS = 1e-12

_NAN_CAUSE = "NaN comes from 0/0, log(0), inf - inf or a NaN earlier in the computation"
_INF_CAUSE = "an infinity comes from a division by zero, log(0) or an overflow"
_EMPTY_CAUSE = (
    "an empty {} holds no value at all: a placeholder return, or a slice or mask that selects nothing"
)


# --- recognising values -----------------------------------------------------------------------------------------


def _torch() -> Any:
    return sys.modules.get("torch")


def _numpy() -> Any:
    return sys.modules.get("numpy")


def _is_tensor(value: object) -> bool:
    torch = _torch()
    return torch is not None and isinstance(value, torch.Tensor)


def _is_ndarray(value: object) -> bool:
    np = _numpy()
    return np is not None and isinstance(value, np.ndarray)


def _is_bool(value: object) -> bool:
    np = _numpy()
    return isinstance(value, bool) or (np is not None and isinstance(value, np.bool_))


def is_number(value: object) -> bool:
    """An ``int`` or ``float`` (numpy real scalars included), not a ``bool``: the only values numbers are."""
    return isinstance(value, numbers.Real) and not _is_bool(value)


def _shape(value: Any) -> tuple[int, ...]:
    return tuple(int(n) for n in value.shape)


def _short(value: object, limit: int = 80) -> str:
    try:
        text = repr(value)
    except Exception:  # a learner object whose repr fails still gets a description
        text = f"<{type(value).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _non_finite_name(x: float) -> str:
    return "NaN" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def describe(value: object, *, wanted: str = "a number") -> tuple[str, str]:
    """``(what came, its likely cause)`` for a value that is not ``wanted``; the cause is "" when none is known."""
    if value is None:
        return "None", "nothing was returned: is a `return` missing?"
    if _is_bool(value):
        return f"the bool {value!r}", f"a comparison (True/False) was returned where {wanted} is expected"
    if isinstance(value, str | bytes):
        return f"the {type(value).__name__} {_short(value)}", f"text was returned where {wanted} is expected"
    for is_kind, kind in ((_is_tensor, "tensor"), (_is_ndarray, "array")):
        if is_kind(value):
            shape, dtype = _shape(value), value.dtype  # type: ignore[attr-defined]
            if math.prod(shape) == 0:
                return f"an empty {kind} (shape {shape})", _EMPTY_CAUSE.format(kind)
            item = " (`.item()` is the number in a one-element tensor)" if kind == "tensor" else ""
            return (
                f"a {kind} of shape {shape} and dtype {dtype}: {_short(value)}",
                f"a {kind} was returned where {wanted} is expected{item}",
            )
    if isinstance(value, list | tuple | dict | set):
        return (
            f"a {type(value).__name__} of {len(value)} items: {_short(value)}",
            f"a container was returned where {wanted} is expected",
        )
    if is_number(value):
        x = float(value)  # type: ignore[arg-type]
        if not math.isfinite(x):
            return _non_finite_name(x), _NAN_CAUSE if math.isnan(x) else _INF_CAUSE
        return _short(value), ""
    return f"a {type(value).__name__}: {_short(value)}", f"an object was returned where {wanted} is expected"


def _fail(what: str, expected: str, came: str, cause: str = "", msg: str | None = None) -> None:
    __tracebackhide__ = True
    text = f"{what}: expected {expected}, got {came}."
    if cause:
        text += f"\nLikely cause: {cause}."
    if msg:
        text += f"\n{msg}"
    raise AssertionError(text)


# --- numbers ------------------------------------------------------------------------------------------------------


def tolerance(expected: float, rel: float | None = None, abs: float | None = None) -> float:
    """``pytest.approx``'s tolerance: ``max(rel * |expected|, abs)``; only ``abs`` given: ``abs`` alone."""
    if rel is None and abs is not None:
        return abs
    return max(
        (DEFAULT_REL if rel is None else rel) * math.fabs(expected), DEFAULT_ABS if abs is None else abs
    )


def finite_number(got: object, *, what: str = "the value", msg: str | None = None) -> float:
    """``got`` as a ``float`` once it is a finite number (see :func:`is_number`); fails naming what came instead."""
    __tracebackhide__ = True
    if not is_number(got):
        _fail(what, "a finite number (int or float)", *describe(got), msg)
    x = float(got)  # type: ignore[arg-type]
    if not math.isfinite(x):
        _fail(what, "a finite number", *describe(got), msg)
    return x


def assert_number(
    got: object,
    expected: float,
    *,
    rel: float | None = None,
    abs: float | None = None,
    what: str = "the value",
    msg: str | None = None,
) -> float:
    """``got`` is a finite number close to ``expected`` (``pytest.approx``'s tolerances); returns it as a float.

    An infinite or NaN ``expected`` asks for exactly that value (a number, not a tensor holding it).
    """
    __tracebackhide__ = True
    if not is_number(expected):
        raise TypeError(f"assert_number: the expected value must be a number, not {_short(expected)}")
    target = float(expected)
    if not math.isfinite(target):
        if not is_number(got):
            _fail(what, f"the number {_non_finite_name(target)}", *describe(got), msg)
        x = float(got)  # type: ignore[arg-type]
        if not (x == target or (math.isnan(x) and math.isnan(target))):
            _fail(what, f"the number {_non_finite_name(target)}", _short(got), "", msg)
        return x
    tol = tolerance(target, rel, abs)
    expectation = f"{expected!r}" if tol == 0 else f"a number close to {expected!r} ± {tol:.1e}"
    if not is_number(got):
        _fail(what, expectation, *describe(got), msg)
    x = float(got)  # type: ignore[arg-type]
    if not math.isfinite(x):
        _fail(what, expectation, *describe(got), msg)
    if not math.fabs(x - target) <= tol:
        _fail(what, expectation, f"{got!r} (off by {x - target:+.3g})", "", msg)
    return x


def finite_numbers(
    got: object, *, what: str = "the values", length: int | None = None, msg: str | None = None
) -> list[float]:
    """``got`` as a list of floats once it is a list or tuple of finite numbers (of ``length`` items, if given)."""
    __tracebackhide__ = True
    wanted = "a list of finite numbers" + (f" of {length} items" if length is not None else "")
    if not isinstance(got, list | tuple):
        _fail(what, wanted, *describe(got, wanted="a list of numbers"), msg)
    assert isinstance(got, list | tuple)  # for the type checker: _fail raised otherwise
    if length is not None and len(got) != length:
        _fail(what, wanted, f"{len(got)} items: {_short(got)}", "", msg)
    for i, item in enumerate(got):
        finite_number(item, what=f"{what}[{i}]", msg=msg)
    return [float(v) for v in got]


def finite_max(got: object, *, what: str = "the values", msg: str | None = None) -> float:
    """The largest of a non-empty list of finite numbers (builtin ``max`` skips a NaN that is not first)."""
    __tracebackhide__ = True
    values = finite_numbers(got, what=what, msg=msg)
    if not values:
        _fail(what, "at least one number", "an empty list", "", msg)
    return max(values)


def finite_min(got: object, *, what: str = "the values", msg: str | None = None) -> float:
    """The smallest of a non-empty list of finite numbers (builtin ``min`` skips a NaN that is not first)."""
    __tracebackhide__ = True
    values = finite_numbers(got, what=what, msg=msg)
    if not values:
        _fail(what, "at least one number", "an empty list", "", msg)
    return min(values)


def assert_numbers(
    got: object,
    expected: object,
    *,
    rel: float | None = None,
    abs: float | None = None,
    what: str = "the values",
    msg: str | None = None,
) -> None:
    """``got`` has ``expected``'s structure, with close numbers where ``expected`` has numbers.

    ``expected`` is a list or tuple (``got`` must be a list or tuple of the same length), a dict (the same keys),
    a number (:func:`assert_number` with ``rel``/``abs``) or any other value, which ``got`` must equal.
    """
    __tracebackhide__ = True
    if isinstance(expected, list | tuple):
        if not isinstance(got, list | tuple):
            _fail(what, f"a list of {len(expected)} items", *describe(got, wanted="a list"), msg)
        assert isinstance(got, list | tuple)
        if len(got) != len(expected):
            _fail(
                what,
                f"{len(expected)} items: {_short(expected)}",
                f"{len(got)} items: {_short(got)}",
                "",
                msg,
            )
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert_numbers(g, e, rel=rel, abs=abs, what=f"{what}[{i}]", msg=msg)
    elif isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            _fail(what, f"a dict with keys {sorted(expected)}", *describe(got, wanted="a dict"), msg)
        assert isinstance(got, Mapping)
        if set(got) != set(expected):
            missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
            came = f"keys {sorted(got, key=repr)}" + (f", missing {missing}" if missing else "")
            _fail(
                what,
                f"the keys {sorted(expected)}",
                came + (f", unexpected {extra}" if extra else ""),
                "",
                msg,
            )
        for key in expected:
            assert_numbers(got[key], expected[key], rel=rel, abs=abs, what=f"{what}[{key!r}]", msg=msg)
    elif is_number(expected):
        assert_number(got, expected, rel=rel, abs=abs, what=what, msg=msg)  # type: ignore[arg-type]
    elif type(got) is not type(expected) or got != expected:
        _fail(what, _short(expected), _short(got), "", msg)


# --- tensors ------------------------------------------------------------------------------------------------------


def _first_bad(bad: Any, values: Any) -> tuple[tuple[int, ...], str, int]:
    """(index of the first true position of ``bad``, the value there, how many are true): a tensor or an array."""
    index = tuple(int(i) for i in (bad.nonzero()[0] if _is_tensor(bad) else (i[0] for i in bad.nonzero())))
    value = values[index].item()
    name = str(value) if isinstance(value, complex) else _non_finite_name(float(value))
    return index, name, int(bad.sum())


def check_tensor(
    got: object,
    *,
    shape: Sequence[int] | None = None,
    dtype: Any = None,
    finite: bool | Any = True,
    kind: str = "tensor",
    what: str = "the tensor",
    msg: str | None = None,
) -> Any:
    """``got`` once it is a ``kind`` ("tensor", or "array" for numpy) of ``shape`` and ``dtype``, with finite values.

    ``finite`` may be a boolean tensor/array of ``got``'s shape: only the positions where it is true must hold
    finite values (e.g. where the expected values are finite). Returns ``got``.
    """
    __tracebackhide__ = True
    want_array = kind == "array"
    wanted = f"a {kind}" + (f" of shape {tuple(shape)}" if shape is not None else "")
    wanted += f" and dtype {dtype}" if dtype is not None else ""
    if not (_is_ndarray(got) if want_array else _is_tensor(got)):
        came, cause = describe(got, wanted=f"a {kind}")
        if is_number(got):
            cause = f"a Python number was returned where a {kind} is expected"
        _fail(what, wanted, came, cause, msg)
    got_shape = _shape(got)
    if shape is not None and got_shape != tuple(shape):
        expected_shape = tuple(int(n) for n in shape)
        if math.prod(got_shape) == 0 and math.prod(expected_shape) != 0:
            came, cause = f"an empty {kind} (shape {got_shape})", _EMPTY_CAUSE.format(kind)
        else:
            came = f"a {kind} of shape {got_shape}"
            cause = (
                "a dimension is missing or extra (keepdim, squeeze, unsqueeze, view)"
                if len(got_shape) != len(expected_shape)
                else "the sizes differ: check the slicing, padding and reshapes"
            )
        _fail(what, f"a {kind} of shape {expected_shape}", came, cause, msg)
    if dtype is not None and got.dtype != dtype:  # type: ignore[attr-defined]
        _fail(
            what,
            f"dtype {dtype}",
            f"dtype {got.dtype}",  # type: ignore[attr-defined]
            "a cast is missing or extra (.float(), .long(), .to(dtype))",
            msg,
        )
    if finite is not False:
        bad = _non_finite(got)
        if bad is not None:
            if finite is not True:
                bad = bad & finite
            if bool(bad.any()):
                index, name, count = _first_bad(bad, got)
                total = got.size if _is_ndarray(got) else got.numel()  # type: ignore[attr-defined]
                _fail(
                    what,
                    "finite values",
                    f"{name} at index {index} ({count} of {total} values are not finite)",
                    _NAN_CAUSE if "nan" in name.lower() else _INF_CAUSE,
                    msg,
                )
    return got


def _non_finite(values: Any) -> Any:
    """A boolean tensor/array, true where a floating or complex ``values`` is NaN or infinite; None for integers."""
    if _is_tensor(values):
        if not (values.is_floating_point() or values.is_complex()):
            return None
        return ~_torch().isfinite(values)
    if values.dtype.kind not in "fc":
        return None
    return ~_numpy().isfinite(values)


def assert_tensor(
    got: object,
    expected: Any,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    equal_nan: bool = False,
    check_dtype: bool = True,
    what: str = "the tensor",
    msg: str | None = None,
) -> Any:
    """``got`` has ``expected``'s type (tensor or array), shape and dtype, finite values, then is close to it.

    Closeness is ``torch.testing.assert_close(got, expected, rtol=, atol=, equal_nan=)`` for tensors and
    ``numpy.testing.assert_allclose`` for arrays. With ``equal_nan``, ``got`` may hold NaN/inf only where
    ``expected`` does. Returns ``got``.
    """
    __tracebackhide__ = True
    if not (_is_tensor(expected) or _is_ndarray(expected)):
        raise TypeError(
            f"assert_tensor: the expected value must be a tensor or an array, not {_short(expected)}"
        )
    finite = _non_finite(expected)
    finite_where = True if finite is None or not equal_nan else ~finite
    check_tensor(
        got,
        shape=_shape(expected),
        dtype=expected.dtype if check_dtype else None,
        finite=finite_where,
        kind="tensor" if _is_tensor(expected) else "array",
        what=what,
        msg=msg,
    )
    if _is_tensor(expected):
        torch = _torch()

        def _message(generated: str) -> str:
            return (
                f"{what} differs from the expected values." + (f"\n{msg}" if msg else "") + f"\n{generated}"
            )

        torch.testing.assert_close(
            got, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_dtype=check_dtype, msg=_message
        )
    else:
        np = _numpy()
        try:
            np.testing.assert_allclose(
                got,
                expected,
                rtol=1e-7 if rtol is None else rtol,
                atol=0.0 if atol is None else atol,
                equal_nan=equal_nan,
            )
        except AssertionError as exc:
            _fail(
                what,
                "values close to the expected ones",
                "values that differ",
                "",
                f"{msg or ''}\n{exc}".strip(),
            )
    return got


__all__: list[str] = [
    "DEFAULT_ABS",
    "DEFAULT_REL",
    "assert_number",
    "assert_numbers",
    "assert_tensor",
    "check_tensor",
    "describe",
    "finite_max",
    "finite_min",
    "finite_number",
    "finite_numbers",
    "is_number",
    "tolerance",
]
