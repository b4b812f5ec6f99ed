"""Facts a guide states, checked against the reference: a fact's ``value`` must be what ``nanochat_ref`` says.

Design choices:
- The reference is read as source (``ast``), never imported: the check runs in the content sync (the web process
  never imports torch) and in the content tests alike, so a fact cannot drift silently from the code it describes.
- A fact names its place upstream (``source: {file, symbol}``). ``nanochat_ref`` mirrors nanochat's file names and
  symbols, so the same symbol is looked up in the mirror of the file (``nanochat/gpt.py`` ->
  ``nanochat_ref/gpt.py``, ``scripts/base_train.py`` -> ``nanochat_ref/scripts/base_train.py``), unless the fact
  says ``check``: the symbol where the mirror spells it differently.
- Symbols:
  - ``NAME``: a module-level assignment; in a script without one, the ``--NAME`` option's default (nanochat's
    configurator turns ``--NAME=value`` into that global; the mirror declares the option with argparse);
  - ``Class.NAME``: a class attribute or dataclass field;
  - ``function:NAME`` or ``Class.method:NAME``: the parameter's default, else the first assignment to NAME in the
    body; ``function:a,b,c``: a tuple assignment; ``function:--flag``: an argparse option's default.
  A value that is itself a module-level name (``a, b, c = NS_COEFFS``) is followed to its literal.
- Values compare as literals, tuples as lists, ints equal to floats (YAML's ``15`` is the reference's ``15.0``).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from modules.spec import REFERENCE_PACKAGE, Fact, ModuleSpec

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class FactError(ValueError):
    """A fact whose value cannot be found in the reference (the message says why)."""


def mirror_path(upstream_file: str) -> str:
    """The file of ``nanochat_ref`` that mirrors nanochat's ``upstream_file``."""
    return REFERENCE_PACKAGE + upstream_file.removeprefix("nanochat/")


def fact_symbol(fact: Fact) -> str | None:
    return fact.check or fact.source.get("symbol")


def reference_value(fact: Fact, repo_root: Path) -> Any:
    """The value the reference holds at the fact's symbol; raises :class:`FactError` when there is none."""
    symbol = fact_symbol(fact)
    if not symbol:
        raise FactError("has a value but neither check nor source.symbol to look it up")
    path = mirror_path(str(fact.source["file"]))
    try:
        tree = ast.parse((repo_root / path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError) as exc:
        raise FactError(f"{path} is not readable Python ({exc})") from None
    node = _resolve(tree, symbol)
    if node is None:
        raise FactError(f"{path} has no {symbol}")
    return _literal(tree, node, f"{path} {symbol}")


def value_in_source(text: str, symbol: str, where: str) -> Any:
    """The literal at ``symbol`` (the syntax above) in Python source ``text``; raises :class:`FactError`."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise FactError(f"{where} is not readable Python ({exc})") from None
    node = _resolve(tree, symbol)
    if node is None:
        raise FactError(f"{where} has no {symbol}")
    return _literal(tree, node, f"{where} {symbol}")


def same_value(expected: Any, actual: Any) -> bool:
    """Literal equality with tuples as lists; booleans never equal numbers."""
    expected, actual = _plain(expected), _plain(actual)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(map(same_value, expected, actual))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return bool(expected == actual)


def fact_problems(spec: ModuleSpec, repo_root: Path) -> list[str]:
    """One line per fact with a ``value`` that the reference does not hold."""
    problems = []
    for fact in spec.facts:
        if fact.value is None:
            continue
        try:
            actual = reference_value(fact, repo_root)
        except FactError as exc:
            problems.append(f"fact {fact.id}: {exc}")
            continue
        if not same_value(fact.value, actual):
            where = f"{mirror_path(str(fact.source['file']))} {fact_symbol(fact)}"
            problems.append(
                f"fact {fact.id}: value {fact.value!r}, but the reference has {actual!r} at {where}"
            )
    return problems


# --- lookup ---------------------------------------------------------------------------------------------------------
def _resolve(tree: ast.Module, symbol: str) -> ast.expr | None:
    scope_path, colon, name = symbol.partition(":")
    if colon:
        scope = _definition(tree, scope_path)
        if scope is None:
            return None
        name = name.strip()
        if name.startswith("--"):
            return _option_default(scope, name)
        return _parameter_default(scope, name) or _assignment(scope, name)
    *owner, name = symbol.split(".")
    if owner:
        cls = _definition(tree, ".".join(owner))
        return _assignment(cls, name, shallow=True) if isinstance(cls, ast.ClassDef) else None
    return _assignment(tree, name, shallow=True) or _option_default(tree, f"--{name}")


def _definition(tree: ast.Module, dotted: str) -> ast.AST | None:
    """The class or function ``A.b`` (nested definitions by name)."""
    scope: ast.AST = tree
    for part in dotted.split("."):
        found = next((n for n in getattr(scope, "body", []) if isinstance(n, _DEFS) and n.name == part), None)
        if found is None:
            return None
        scope = found
    return scope


def _parameter_default(scope: ast.AST, name: str) -> ast.expr | None:
    if not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    args = scope.args
    positional = args.posonlyargs + args.args
    for arg, default in zip(positional[len(positional) - len(args.defaults) :], args.defaults):
        if arg.arg == name:
            return default
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults):
        if arg.arg == name and kw_default is not None:
            return kw_default
    return None


def _assignment(scope: ast.AST, name: str, *, shallow: bool = False) -> ast.expr | None:
    """The value of the first assignment to ``name`` (or to the tuple ``a,b,c``), in source order."""
    names = [n.strip() for n in name.split(",")]
    nodes = getattr(scope, "body", []) if shallow else ast.walk(scope)
    candidates: list[ast.Assign | ast.AnnAssign] = []
    for node in nodes:
        if isinstance(node, ast.Assign):
            if any(_target_names(t) == names for t in node.targets):
                candidates.append(node)
        elif (
            isinstance(node, ast.AnnAssign) and node.value is not None and _target_names(node.target) == names
        ):
            candidates.append(node)
    if not candidates:
        return None
    first = min(candidates, key=lambda n: (n.lineno, n.col_offset))
    return first.value


def _target_names(target: ast.expr) -> list[str] | None:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple) and all(isinstance(e, ast.Name) for e in target.elts):
        return [e.id for e in target.elts if isinstance(e, ast.Name)]
    return None


def _option_default(scope: ast.AST, flag: str) -> ast.expr | None:
    """The ``default=`` of ``<parser>.add_argument(flag, ...)`` inside ``scope``."""
    for node in ast.walk(scope):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "add_argument"
            and any(isinstance(a, ast.Constant) and a.value == flag for a in node.args)
        ):
            return next((kw.value for kw in node.keywords if kw.arg == "default"), None)
    return None


def _literal(tree: ast.Module, node: ast.expr, where: str) -> Any:
    for _ in range(4):  # follow NAME -> module-level NAME = ... a few times
        if not isinstance(node, ast.Name):
            break
        target = _assignment(tree, node.id, shallow=True)
        if target is None:
            raise FactError(f"{where} is {node.id}, which is not a module-level constant")
        node = target
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise FactError(f"{where} is {ast.unparse(node)!r}, not a literal") from None


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
