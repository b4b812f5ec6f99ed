"""Starter files, generated from the references: the learner edits the real nanochat file, minus what they write.

Design choices:
- A starter is its reference with each stub of the module spec cut out: a function's body (after its docstring)
  becomes ``raise NotImplementedError("TODO(step N): ...")``, a marked region (``# lab: begin <name>`` …
  ``# lab: end <name>``) becomes the same ``raise`` at the region's indentation. Everything else — imports,
  comments, formatting, the functions a learner does not write — is the reference's own text, so a change to the
  reference reaches learners at the next sync and nothing is written twice.
- Positions come from ``ast`` and the end of a ``def`` header from ``tokenize``, and the reference's lines are
  replaced from the bottom up; the output must parse, or generation fails. A stub's ``doc`` replaces the
  function's docstring (the learner-facing specification of what to write); without one the reference's stays.
- Another module's part of a shared or needed file that the learner has not written yet is cut the same way,
  raising "not yet: module <slug> writes this", or replaced by the stub's ``stand_in`` where earlier modules call
  it in passing (a report that logs nothing); never left as the reference's solution.
- A generator function stays a generator (an unreachable ``yield`` follows the ``raise``), so callers that
  iterate it fail with the TODO message rather than a confusing "not iterable".
- Generation is pure (text in, text out) and deterministic: two syncs write byte-identical files. Generated
  files go under an ignored folder (``var/starters/<slug>/<path>`` by default); ``python -m modules.starters``
  writes them for authors (``make starters``).
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import sys
import tokenize
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from modules import spec as module_spec
from modules.spec import LearnerFile, ModuleSpec, SpecError, Stub

MARKER_RE = re.compile(r"^(?P<indent>[ \t]*)# lab: (?P<kind>begin|end) (?P<name>[a-z0-9][a-z0-9-]*)[ \t]*$")
LINE_LENGTH = 110
GENERATOR_TAIL = "yield  # unreachable: keeps this function a generator, as the reference is"


@dataclass(frozen=True)
class _Edit:
    first: int  # 0-based index of the first replaced line
    last: int  # 0-based index one past the last replaced line
    lines: list[str]
    what: str


def functions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Qualified name -> definition, for module-level functions and methods of (nested) classes."""
    out: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                out[prefix + node.name] = node
            elif isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")

    visit(tree.body, "")
    return out


def _docstring(node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.Expr | None:
    first = node.body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return first
    return None


def region_function(reference_text: str, region: str) -> str | None:
    """The qualified name of the innermost function or method around ``# lab: begin <region>`` (a key of
    :func:`functions`), or None at top level or when the text does not parse or has no such marker."""
    try:
        tree = ast.parse(reference_text)
    except SyntaxError:
        return None
    line = next(
        (
            n
            for n, text in enumerate(reference_text.splitlines(), 1)
            if text.strip() == f"# lab: begin {region}"
        ),
        None,
    )
    if line is None:
        return None
    around = [
        (node.lineno, name)
        for name, node in functions(tree).items()
        if node.lineno <= line <= (node.end_lineno or node.lineno)
    ]
    return max(around)[1] if around else None


def _is_generator(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether ``node`` itself yields (yields inside nested functions, lambdas or classes do not count)."""

    def walk(children: list[ast.AST]) -> Iterator[ast.AST]:
        for child in children:
            yield child
            if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
                yield from walk(list(ast.iter_child_nodes(child)))

    return any(isinstance(n, ast.Yield | ast.YieldFrom) for n in walk(list(node.body)))


def _header_end(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """1-based line of the ``:`` that ends the ``def`` header (signatures and annotations may span lines)."""
    snippet = "".join(lines[node.lineno - 1 :])
    depth = 0
    for token in tokenize.generate_tokens(io.StringIO(snippet).readline):
        if token.type != tokenize.OP:
            continue
        if token.string in "([{":
            depth += 1
        elif token.string in ")]}":
            depth -= 1
        elif token.string == ":" and depth == 0:
            return node.lineno + token.start[0] - 1
    raise SpecError(node.name, ["cannot find the end of the def header"])  # pragma: no cover - ast parsed it


def raise_lines(indent: str, message: str) -> list[str]:
    """``raise NotImplementedError("<message>")``, wrapped the way ruff formats a long call."""
    literal = '"' + message.replace("\\", "\\\\").replace('"', '\\"') + '"'
    one_line = f"{indent}raise NotImplementedError({literal})\n"
    if len(one_line) - 1 <= LINE_LENGTH:
        return [one_line]
    return [f"{indent}raise NotImplementedError(\n", f"{indent}    {literal}\n", f"{indent})\n"]


def _body(indent: str, message: str, stand_in: str | None) -> list[str]:
    """What replaces a cut: the ``raise`` of ``message``, or a ``stand_in`` (another module's part replaced by a
    harmless stand-in, e.g. a report that logs nothing) after a comment saying whose part it is."""
    if stand_in is None:
        return raise_lines(indent, message)
    return [f"{indent}# {message}\n", *(f"{indent}{line}\n" for line in stand_in.splitlines())]


def docstring_lines(indent: str, doc: str) -> list[str]:
    """A triple-quoted docstring at ``indent``: one line when it fits, else opening line, body, closing quotes."""
    text = doc.strip("\n").rstrip()
    if '"""' in text:
        raise SpecError("doc", ['a stub docstring may not contain """'])
    body = text.splitlines()
    if len(body) == 1 and len(indent) + len(text) + 6 <= LINE_LENGTH:
        return [f'{indent}"""{text}"""\n']
    out = [f'{indent}"""{body[0]}\n']
    out += [f"{indent}{line}\n" if line.strip() else "\n" for line in body[1:]]
    out.append(f'{indent}"""\n')
    return out


def _function_edits(
    lines: list[str],
    node: ast.FunctionDef | ast.AsyncFunctionDef,
    stub: Stub,
    message: str,
    stand_in: str | None = None,
) -> list[_Edit]:
    doc = _docstring(node)
    code = node.body[1:] if doc is not None else node.body
    if not code:
        raise SpecError(stub.target, ["has no code after its docstring to cut out"])
    if node.body[0].lineno == node.lineno:
        raise SpecError(stub.target, ["a function written on its def line cannot be stubbed"])
    indent = lines[node.body[0].lineno - 1][: node.body[0].col_offset]
    body_first = (doc.end_lineno or doc.lineno) if doc is not None else _header_end(lines, node)
    last = node.end_lineno or node.lineno
    # comment lines that directly follow the last statement at body indentation belong to the body
    while last < len(lines) and lines[last].startswith(indent) and lines[last].strip().startswith("#"):
        last += 1
    replacement = _body(indent, message, stand_in)
    if _is_generator(node):
        replacement.append(f"{indent}{GENERATOR_TAIL}\n")
    edits = [_Edit(body_first, last, replacement, stub.target)]
    if stub.doc is not None:
        new_doc = docstring_lines(indent, stub.doc)
        if doc is not None:
            edits.append(
                _Edit(doc.lineno - 1, doc.end_lineno or doc.lineno, new_doc, f"{stub.target} docstring")
            )
        else:
            edits[0] = _Edit(body_first, last, new_doc + replacement, stub.target)
    return edits


def _markers(lines: list[str]) -> dict[tuple[str, str], list[int]]:
    found: dict[tuple[str, str], list[int]] = {}
    for index, line in enumerate(lines):
        match = MARKER_RE.match(line.rstrip("\n"))
        if match:
            found.setdefault((match["kind"], match["name"]), []).append(index)
    return found


def _region_edit(
    lines: list[str],
    markers: dict[tuple[str, str], list[int]],
    stub: Stub,
    message: str,
    stand_in: str | None = None,
) -> _Edit:
    assert stub.region is not None
    begins, ends = markers.get(("begin", stub.region), []), markers.get(("end", stub.region), [])
    if len(begins) != 1 or len(ends) != 1:
        raise SpecError(
            stub.target,
            [f"needs exactly one '# lab: begin {stub.region}' and one '# lab: end {stub.region}'"],
        )
    begin, end = begins[0], ends[0]
    indent = MARKER_RE.match(lines[begin].rstrip("\n"))["indent"]  # type: ignore[index]
    if end <= begin + 1:
        raise SpecError(stub.target, ["the region is empty or its end comes before its begin"])
    return _Edit(begin, end + 1, _body(indent, message, stand_in), stub.target)


def generate(
    reference_text: str,
    stubs: Sequence[Stub],
    *,
    where: str = "reference",
    foreign: Sequence[tuple[str, Stub]] = (),
) -> str:
    """The starter cut from ``reference_text``; raises :class:`SpecError` naming every stub that cannot be cut.

    ``foreign`` are other modules' stubs in the same file, ``(slug, stub)``, that the learner has not written yet:
    they are cut too (their docstring stays the reference's), raising "not yet: module <slug> writes this".
    """
    try:
        tree = ast.parse(reference_text)
    except SyntaxError as exc:
        raise SpecError(where, [f"the reference does not parse: {exc}"]) from None
    lines = reference_text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    index = functions(tree)
    markers = _markers(lines)
    edits: list[_Edit] = []
    problems: list[str] = []
    cuts: list[tuple[Stub, str, str | None]] = [(stub, stub.message, None) for stub in stubs]
    targets = {stub.target for stub in stubs}
    for slug, stub in foreign:  # a part this module's learner writes too is theirs; one cut per target
        if stub.target not in targets:
            targets.add(stub.target)
            plain = Stub(step=stub.step, todo=stub.todo, function=stub.function, region=stub.region)
            cuts.append((plain, f"not yet: module {slug} writes this ({stub.todo})", stub.stand_in))
    for stub, message, stand_in in cuts:
        try:
            if stub.function is not None:
                node = index.get(stub.function)
                if node is None:
                    raise SpecError(stub.target, ["no such function or method in the reference"])
                edits.extend(_function_edits(lines, node, stub, message, stand_in))
            else:
                edits.append(_region_edit(lines, markers, stub, message, stand_in))
        except SpecError as exc:
            problems.append(f"stub {exc}")
    edits.sort(key=lambda e: e.first)
    for before, after in zip(edits, edits[1:], strict=False):
        if after.first < before.last:
            problems.append(f"stubs {before.what} and {after.what} overlap")
    if problems:
        raise SpecError(where, problems)
    for edit in reversed(edits):
        lines[edit.first : edit.last] = edit.lines
    out = "".join(line for line in lines if not MARKER_RE.match(line.rstrip("\n")))
    try:
        ast.parse(out)
    except SyntaxError as exc:  # pragma: no cover - a generator bug, not a content problem
        raise SpecError(where, [f"the generated starter does not parse: {exc}"]) from None
    return out


RUST_MARKER_RE = re.compile(
    r"^(?P<indent>[ \t]*)// lab: (?P<kind>begin|end) (?P<name>[a-z0-9][a-z0-9-]*)[ \t]*$"
)


def generate_rust(
    reference_text: str,
    stubs: Sequence[Stub],
    *,
    where: str = "reference",
    foreign: Sequence[tuple[str, Stub]] = (),
) -> str:
    """A Rust starter (``.rs``): each region stub, ``// lab: begin <name>`` … ``// lab: end <name>``, becomes
    ``unimplemented!("TODO(step N): ...");`` at the region's indentation; the markers never reach the starter.

    Only regions: a Rust file has no ``ast`` here to find a function's body, and a region says exactly which lines
    the learner writes (e.g. the merge update inside rustbpe's training loop). Raises :class:`SpecError` naming
    every stub that cannot be cut, like :func:`generate`.
    """
    lines = reference_text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    markers: dict[tuple[str, str], list[int]] = {}
    for index, line in enumerate(lines):
        match = RUST_MARKER_RE.match(line.rstrip("\n"))
        if match:
            markers.setdefault((match["kind"], match["name"]), []).append(index)
    cuts = [(stub, stub.message) for stub in stubs]
    targets = {stub.target for stub in stubs}
    for slug, stub in foreign:
        if stub.target not in targets:
            targets.add(stub.target)
            cuts.append((stub, f"not yet: module {slug} writes this ({stub.todo})"))
    edits: list[_Edit] = []
    problems: list[str] = []
    for stub, message in cuts:
        if stub.region is None:
            problems.append(f"stub {stub.target}: a Rust file takes region stubs only (// lab: begin <name>)")
            continue
        begins, ends = markers.get(("begin", stub.region), []), markers.get(("end", stub.region), [])
        if len(begins) != 1 or len(ends) != 1 or ends[0] <= begins[0] + 1:
            problems.append(
                f"stub {stub.target}: needs one non-empty '// lab: begin {stub.region}' … "
                f"'// lab: end {stub.region}'"
            )
            continue
        indent = RUST_MARKER_RE.match(lines[begins[0]].rstrip("\n"))["indent"]  # type: ignore[index]
        literal = (
            '"'
            + message.replace("\\", "\\\\").replace('"', '\\"').replace("{", "{{").replace("}", "}}")
            + '"'
        )
        edits.append(_Edit(begins[0], ends[0] + 1, [f"{indent}unimplemented!({literal});\n"], stub.target))
    edits.sort(key=lambda e: e.first)
    for before, after in zip(edits, edits[1:], strict=False):
        if after.first < before.last:
            problems.append(f"stubs {before.what} and {after.what} overlap")
    if problems:
        raise SpecError(where, problems)
    for edit in reversed(edits):
        lines[edit.first : edit.last] = edit.lines
    return "".join(line for line in lines if not RUST_MARKER_RE.match(line.rstrip("\n")))


def _course(spec: ModuleSpec, specs: Mapping[str, ModuleSpec] | None) -> dict[str, ModuleSpec]:
    course = dict(specs) if specs is not None else module_spec.course(spec.root.parent)
    course[spec.slug] = spec
    return course


def foreign_stubs(path: str, specs: Mapping[str, ModuleSpec], allowed: set[str]) -> list[tuple[str, Stub]]:
    """The stubs in ``path`` of the modules that own it and are not in ``allowed`` (not yet written)."""
    return [
        (slug, stub)
        for slug in module_spec.owners(specs).get(path, [])
        if slug not in allowed
        for stub in specs[slug].file(path).stubs
    ]


def _read(path: Path, where: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(where, [f"cannot read {path}: {exc}"]) from None


def starter_text(
    spec: ModuleSpec,
    entry: LearnerFile,
    repo_root: Path = module_spec.REPO_ROOT,
    *,
    specs: Mapping[str, ModuleSpec] | None = None,
    done: set[str] | None = None,
) -> str:
    """The starter of ``entry``: its reference minus this module's stubs and minus the parts that modules the
    learner has not done (``done``; default: the module's prerequisites, transitively) write in the same file."""
    course = _course(spec, specs)
    allowed = (module_spec.ancestors(spec.slug, course) if done is None else set(done)) | {spec.slug}
    where = f"{spec.slug}: files {entry.path}"
    reference = _read(entry.reference_path(spec.root, repo_root), where)
    cut = generate_rust if entry.path.endswith(".rs") else generate
    return cut(reference, entry.stubs, where=where, foreign=foreign_stubs(entry.path, course, allowed))


def needed_file(
    spec: ModuleSpec,
    path: str,
    repo_root: Path = module_spec.REPO_ROOT,
    *,
    specs: Mapping[str, ModuleSpec] | None = None,
    done: set[str] | None = None,
) -> bytes:
    """A nanochat file ``spec`` needs (``needs``) as its learner may see it: the reference, minus the parts that
    modules they have not done (``done``; default: the module's prerequisites, transitively) write."""
    course = _course(spec, specs)
    allowed = module_spec.ancestors(spec.slug, course) if done is None else set(done)
    where = f"{spec.slug}: needs {path}"
    source = repo_root / module_spec.REFERENCE_PACKAGE / path.removeprefix("nanochat/")
    foreign = foreign_stubs(path, course, allowed)
    if not foreign:
        try:
            return source.read_bytes()
        except OSError as exc:
            raise SpecError(where, [f"cannot read {source}: {exc}"]) from None
    return generate(_read(source, where), [], where=where, foreign=foreign).encode("utf-8")


def starters(
    spec: ModuleSpec,
    repo_root: Path = module_spec.REPO_ROOT,
    *,
    specs: Mapping[str, ModuleSpec] | None = None,
) -> dict[str, str]:
    """``{workspace path: starter text}`` for every learner file of ``spec``; every problem in one SpecError."""
    course = _course(spec, specs)
    out: dict[str, str] = {}
    problems: list[str] = []
    for entry in spec.files:
        try:
            out[entry.path] = starter_text(spec, entry, repo_root, specs=course)
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SpecError(spec.slug, problems)
    return out


def write_files(slug: str, texts: Mapping[str, str], out_root: Path) -> list[Path]:
    """Write ``out_root/<slug>/<path>`` for each text (only when the bytes change, so two runs leave the same files)."""
    written = []
    for path, text in texts.items():
        target = out_root / slug / path
        data = text.encode("utf-8")
        if not target.is_file() or target.read_bytes() != data:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m modules.starters", description="Generate the learner starter files of a course."
    )
    parser.add_argument("content_dir", type=Path, nargs="?", default=module_spec.REPO_ROOT / "content",
                        help="the course folder holding NN-slug/module.yaml (default: content/)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=module_spec.REPO_ROOT / "var" / "starters",
                        help="where to write <slug>/<path> (default: var/starters)")  # fmt: skip
    args = parser.parse_args(argv)
    failed = False
    for folder in module_spec.discover(args.content_dir):
        try:
            spec = module_spec.load(folder)
            paths = write_files(spec.slug, starters(spec), args.out)
        except SpecError as exc:
            failed = True
            print(f"error: {exc}", file=sys.stderr)
            continue
        for path in paths:
            print(path.relative_to(args.out))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
