"""The starters learners get are the references with exactly the module spec's stubs cut out.

Starters are generated (``modules.starters``), never committed. These tests hold the generated files of every
module to what a learner relies on: every stub keeps the reference's signature (name, parameters, defaults,
annotations, decorators, async-ness), its body is the TODO of its step and nothing else, and everything outside the
stubs is the reference itself — so a learner who finishes the TODOs holds nanochat's file. Comparisons are on ASTs
(positions dropped), so formatting is free but code is not.
"""

from __future__ import annotations

import ast

import pytest
from content_helpers import CONTENT_DIR, EXPECTED_SLUGS, REPO_ROOT

from modules import spec as module_spec
from modules import starters as starter_gen

COURSE = module_spec.course(CONTENT_DIR)
PAIRS = [
    (slug, entry)
    for slug in EXPECTED_SLUGS
    for entry in module_spec.load(CONTENT_DIR / slug).files
    if module_spec.load(CONTENT_DIR / slug).status == "ready"
]
IDS = [f"{slug}:{entry.path}" for slug, entry in PAIRS]
#: Python files are compared as syntax trees; Rust files (region stubs only) as text, below.
PY_PAIRS = [(slug, entry) for slug, entry in PAIRS if entry.path.endswith(".py")]
PY_IDS = [f"{slug}:{entry.path}" for slug, entry in PY_PAIRS]
RUST_PAIRS = [(slug, entry) for slug, entry in PAIRS if entry.path.endswith(".rs")]
RUST_IDS = [f"{slug}:{entry.path}" for slug, entry in RUST_PAIRS]


def _texts(slug: str, entry: module_spec.LearnerFile) -> tuple[str, str]:
    spec = module_spec.load(CONTENT_DIR / slug)
    reference = entry.reference_path(spec.root, REPO_ROOT).read_text(encoding="utf-8")
    return reference, starter_gen.starter_text(spec, entry)


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    return ast.dump(
        ast.Module(
            body=[type(node)(name=node.name, args=node.args, body=[ast.Pass()], decorator_list=node.decorator_list,
                             returns=node.returns, type_params=getattr(node, "type_params", []))],
            type_ignores=[],
        )
    )  # fmt: skip


def _without_bodies(tree: ast.Module, names: set[str]) -> str:
    """The module's AST with the bodies of ``names`` replaced by ``pass`` (docstrings dropped everywhere)."""
    for name, node in starter_gen.functions(tree).items():
        if name in names:
            node.body = [ast.Pass()]
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def test_every_ready_module_has_generated_starters_to_check():
    assert len(PAIRS) >= 20
    assert not list(CONTENT_DIR.glob("*/starter")), "starters are generated, never committed"


@pytest.mark.parametrize(("slug", "entry"), PY_PAIRS, ids=PY_IDS)
def test_every_stub_keeps_the_reference_signature(slug, entry):
    reference, starter = _texts(slug, entry)
    ref_defs, starter_defs = (
        starter_gen.functions(ast.parse(reference)),
        starter_gen.functions(ast.parse(starter)),
    )
    for stub in entry.stubs:
        if stub.function is None:
            continue
        assert stub.function in starter_defs, f"{slug}: {stub.function} is missing from the starter"
        assert _signature(starter_defs[stub.function]) == _signature(ref_defs[stub.function]), (
            f"{slug}: the starter's {stub.function} does not have the reference's signature"
        )


@pytest.mark.parametrize(("slug", "entry"), PAIRS, ids=IDS)
def test_every_stub_body_is_the_todo_of_its_step(slug, entry):
    _, starter = _texts(slug, entry)
    defs = starter_gen.functions(ast.parse(starter)) if entry.path.endswith(".py") else {}
    for stub in entry.stubs:
        if stub.function is None:
            assert f'"{stub.message}"' in starter
            continue
        node = defs[stub.function]
        code = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        raise_stmt = code[0]
        assert isinstance(raise_stmt, ast.Raise) and isinstance(raise_stmt.exc, ast.Call)
        assert ast.unparse(raise_stmt.exc) == f"NotImplementedError({stub.message!r})"
        assert stub.message.startswith(f"TODO(step {stub.step.removeprefix('step')}): ")
        # a generator stays a generator: only an unreachable bare yield may follow
        assert all(isinstance(s, ast.Expr) and isinstance(s.value, ast.Yield) for s in code[1:])
        expected_doc = (
            stub.doc
            if stub.doc is not None
            else ast.get_docstring(starter_gen.functions(ast.parse(_texts(slug, entry)[0]))[stub.function])
        )
        assert ast.get_docstring(node) == expected_doc


def _later_parts(slug: str, path: str) -> set[str]:
    """Functions of ``path`` that modules other than ``slug`` and its prerequisites write (cut from its starter)."""
    allowed = module_spec.ancestors(slug, COURSE) | {slug}
    return {
        stub.function
        for other in module_spec.owners(COURSE)[path]
        if other not in allowed
        for stub in COURSE[other].file(path).stubs
        if stub.function is not None
    }


@pytest.mark.parametrize(("slug", "entry"), PY_PAIRS, ids=PY_IDS)
def test_outside_its_stubs_the_starter_is_the_reference(slug, entry):
    reference, starter = _texts(slug, entry)
    cut = {stub.function for stub in entry.stubs if stub.function is not None} | _later_parts(
        slug, entry.path
    )
    regions = [stub for stub in entry.stubs if stub.region is not None]
    if regions:  # a region is cut in the middle of a body: compare with the reference cut the same way
        reference = starter_gen.generate(reference, regions)
    assert _without_bodies(ast.parse(starter), cut) == _without_bodies(ast.parse(reference), cut)


def test_a_starter_never_holds_the_part_a_later_module_writes_in_the_same_file():
    """engine.py is written in module 11 (the KV cache, sampling, generate) and 12 (the calculator): module 11's
    starter must not hand its learners module 12's solution."""
    reference, starter = _texts("11-engine", COURSE["11-engine"].file("nanochat/engine.py"))
    # module 12 extends Engine.generate too, which module 11's learner writes anyway
    assert _later_parts("11-engine", "nanochat/engine.py") == {"use_calculator", "Engine.generate"}
    assert "not yet: module 12-tool-use writes this" in starter
    assert "in DANGEROUS_PATTERNS)" in reference and "in DANGEROUS_PATTERNS)" not in starter


def test_two_generations_write_byte_identical_files(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    assert starter_gen.main([str(CONTENT_DIR), "--out", str(first)]) == 0
    assert starter_gen.main([str(CONTENT_DIR), "--out", str(second)]) == 0
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(files) == len(PAIRS)
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel


@pytest.mark.parametrize(("slug", "entry"), RUST_PAIRS, ids=RUST_IDS)
def test_a_rust_starter_is_the_reference_with_one_unimplemented_line_per_region(slug, entry):
    reference, starter = _texts(slug, entry)
    regions = module_spec.rust_regions_check(entry, starter, reference)
    assert [r.strip() for r in regions] == [f'unimplemented!("{stub.message}");' for stub in entry.stubs]
    assert "// lab:" not in starter
    # the finished file passes the same check, so a learner who writes the regions is accepted
    assert len(module_spec.rust_regions_check(entry, reference, reference)) == len(entry.stubs)
