"""Starters must not drift from the reference they were cut from.

A starter is the reference file with a few function bodies replaced by ``raise NotImplementedError("TODO(...)")``.
Everything else in it (imports, constants, the functions a learner does not write) must stay identical to the
reference, or a learner who finishes the TODOs still holds an outdated file — one that may fail the graders, or
pass here and break when dropped into nanochat. Design choice: compare ASTs (``ast.dump`` without positions), so
formatting and docstring-only edits in the starter (hints for the learner) don't count, while code does.
"""

from __future__ import annotations

import ast

import pytest
from content_helpers import CONTENT_DIR, REPO_ROOT, load_yaml, module_dirs


def _stubbed(node: ast.AST) -> bool:
    """True when a function body raises NotImplementedError("TODO...") — the part the learner writes."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Raise) and isinstance(sub.exc, ast.Call):
            func = sub.exc.func
            if isinstance(func, ast.Name) and func.id == "NotImplementedError":
                args = sub.exc.args
                if args and isinstance(args[0], ast.Constant) and str(args[0].value).startswith("TODO"):
                    return True
    return False


def _strip_docstrings(node: ast.AST) -> ast.AST:
    for sub in ast.walk(node):
        body = getattr(sub, "body", None)
        if (
            isinstance(sub, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            sub.body = body[1:] or [ast.Pass()]
    return node


def _definitions(tree: ast.Module) -> dict[str, ast.AST]:
    """Qualified name -> node for top-level statements, functions and methods (classes split into methods)."""
    out: dict[str, ast.AST] = {}
    for index, node in enumerate(tree.body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            out[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    out[f"{node.name}.{item.name}"] = item
                else:
                    out[f"{node.name}.<stmt {ast.dump(item)[:60]}>"] = item
            out[f"{node.name}.<bases>"] = ast.Tuple(elts=[*node.bases, *node.decorator_list], ctx=ast.Load())
        else:
            out[f"<top {index}: {ast.dump(node)[:60]}>"] = node
    return out


def _pairs() -> list[tuple[str, str, str]]:
    pairs = []
    for module_dir in module_dirs():
        meta = load_yaml(module_dir / "module.yaml")
        if meta.get("status") != "ready":
            continue
        for entry in meta["files"]:
            if entry.get("reference", "").startswith("nanochat_ref/"):
                pairs.append((module_dir.name, entry["starter"], entry["reference"]))
    return pairs


PAIRS = _pairs()


def test_there_are_starters_cut_from_nanochat_ref_to_check():
    assert len(PAIRS) >= 10


@pytest.mark.parametrize(("slug", "starter", "reference"), PAIRS, ids=[f"{p[0]}:{p[1]}" for p in PAIRS])
def test_the_starter_matches_the_reference_outside_its_todos(slug, starter, reference):
    starter_tree = _strip_docstrings(ast.parse((CONTENT_DIR / slug / starter).read_text(encoding="utf-8")))
    reference_tree = _strip_docstrings(ast.parse((REPO_ROOT / reference).read_text(encoding="utf-8")))
    starter_defs = _definitions(starter_tree)
    reference_defs = _definitions(reference_tree)
    stubs = {name for name, node in starter_defs.items() if _stubbed(node)}
    assert stubs, f"{slug}: {starter} has no TODO stub"
    kept = {name for name in starter_defs if name not in stubs}
    drifted = sorted(
        name
        for name in kept
        if name not in reference_defs or ast.dump(starter_defs[name]) != ast.dump(reference_defs[name])
    )
    missing = sorted(name for name in reference_defs if name not in starter_defs)
    assert not drifted, f"{slug}: {starter} differs from {reference} outside its TODOs in: {drifted}"
    assert not missing, f"{slug}: {starter} lacks these parts of {reference}: {missing}"
