"""Upstream tracking: which modules, steps, guide sections and tests a newer nanochat commit affects.

    python manage.py content_upstream_diff --from 48abd7d --to <commit> --repo <nanochat git checkout or mirror>

Three parts, all Django-free (the management command and the admin only present what :func:`diff_report` returns):

1. **The mapping** (:func:`anchors`): each module spec names the upstream places its content is built on.
   - every stub is one: ``files[].reference`` ``nanochat_ref/<f>`` mirrors nanochat's ``nanochat/<f>``
     (``tasks/<f>`` and ``scripts/<f>`` are top-level folders upstream), a function stub names its symbol, a region
     stub stands for the function around its markers (the whole file for a script's top-level code);
   - a step's ``upstream: [{file, symbol?}]`` adds places its tests are built on beyond its stubs;
   - a fact's ``source`` and a deviation's ``upstream`` are module-wide (they reach the guide, not a step).
2. **The diff** (:func:`compare`): both versions of each anchored file are read with ``git show`` and parsed, and a
   symbol is compared as syntax trees, never as lines: the signature (arguments, defaults, decorators, return or
   bases) and the body without its docstring, so reformatting, comments and docstrings are not changes. A symbol
   gone from its file is looked for in every Python file at the newer commit: the same qualified name elsewhere is *moved*,
   the same body under another name is *renamed*; else it is *removed*. A symbol absent at the older commit is a
   lab-only helper (nanochat_ref splits some code out for teaching) and never flags anything.
3. **The report** (:func:`diff_report`): per module, the changed anchors by step with unified diff hunks, the facts
   whose upstream value or place changed (values read with :mod:`modules.facts` from both commits), the
   deviations whose upstream place changed, and what cites them: guide sections (by heading, both languages: a
   section citing a changed fact, the deviations box, or a changed symbol in a code span) and tests (by step
   marker, by a ``lab_addition`` naming a changed deviation, or by naming a changed symbol). :func:`to_markdown`
   renders it for authors; the JSON form is the same dictionary.
"""

from __future__ import annotations

import ast
import difflib
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modules.facts import FactError, same_value, value_in_source
from modules.spec import REFERENCE_PACKAGE, REPO_ROOT, ModuleSpec
from modules.starters import region_function

#: What happened to an upstream symbol between two commits. ``lab-only`` and ``unchanged`` flag nothing.
UNCHANGED, BODY, SIGNATURE, REMOVED, MOVED, RENAMED, LAB_ONLY = (
    "unchanged",
    "body changed",
    "signature changed",
    "removed",
    "moved",
    "renamed",
    "lab-only",
)
FLAGGING = (BODY, SIGNATURE, REMOVED, MOVED, RENAMED)
WHOLE_FILE = "(whole file)"

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_FACT_RE = re.compile(r"\{\{\s*fact:([A-Za-z0-9_-]+)\s*\}\}")
_DEVIATIONS_RE = re.compile(r"\{\{\s*deviations\s*\}\}")
_CODE_SPAN_RE = re.compile(r"`([^`\n]+)`")
_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class UpstreamError(ValueError):
    """A repository or commit that cannot be read (the message says which)."""


# --- 1. the mapping -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Anchor:
    """One upstream place a module is built on. ``symbol`` None is the whole file; ``step`` None is module-wide."""

    file: str
    symbol: str | None
    step: str | None
    origin: str  # "stub", "step", "fact:<id>", "deviation:<id>"


def upstream_file(reference: str) -> str | None:
    """nanochat's path for a reference file: ``nanochat_ref/gpt.py`` -> ``nanochat/gpt.py``; None for lab files."""
    if not reference.startswith(REFERENCE_PACKAGE):
        return None
    rest = reference.removeprefix(REFERENCE_PACKAGE)
    return rest if rest.startswith(("tasks/", "scripts/")) else "nanochat/" + rest


def _region_symbol(path: Path, region: str) -> str | None:
    try:
        return region_function(path.read_text(encoding="utf-8"), region)
    except (OSError, UnicodeDecodeError):
        return None


def anchors(spec: ModuleSpec, repo_root: Path = REPO_ROOT) -> list[Anchor]:
    """Every upstream place ``spec`` is built on, in spec order (stubs, steps' ``upstream``, facts, deviations)."""
    found: list[Anchor] = []
    for entry in spec.files:
        file = upstream_file(entry.reference)
        if file is None:
            continue
        for stub in entry.stubs:
            symbol = stub.function
            if symbol is None and stub.region is not None:
                symbol = _region_symbol(entry.reference_path(spec.root, repo_root), stub.region)
            found.append(Anchor(file, symbol, stub.step, "stub"))
    for step in spec.steps:
        for place in step.upstream:
            found.append(Anchor(place["file"], place.get("symbol"), step.id, "step"))
    for fact in spec.facts:
        if fact.source.get("file"):
            symbol = str(fact.source.get("symbol") or "").partition(":")[0] or None
            found.append(Anchor(str(fact.source["file"]), symbol, None, f"fact:{fact.id}"))
    for deviation in spec.deviations:
        if deviation.upstream.get("file"):
            symbol = str(deviation.upstream.get("symbol") or "") or None
            found.append(Anchor(str(deviation.upstream["file"]), symbol, None, f"deviation:{deviation.id}"))
    unique: dict[tuple[str, str | None, str | None], Anchor] = {}
    for anchor in found:  # a step that declares what its stub already names counts it once
        key = (anchor.file, anchor.symbol, anchor.step if anchor.step else anchor.origin)
        unique.setdefault(key, anchor)
    return list(unique.values())


# --- 2. the diff ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Symbol:
    """A definition or module/class-level assignment of one file: its source and its normalised syntax."""

    name: str
    kind: str  # "def", "class", "assign"
    signature: str
    body: str
    source: str


def _strip_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        if isinstance(body[0].value.value, str):
            return body[1:]
    return body


def _dump(node: ast.AST | list[Any]) -> str:
    if isinstance(node, list):
        return "[" + ", ".join(_dump(n) for n in node) + "]"
    return ast.dump(node, include_attributes=False)


def _segment(lines: list[str], node: ast.AST) -> str:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])  # type: ignore[attr-defined]
    return "\n".join(lines[first - 1 : node.end_lineno]) + "\n"  # type: ignore[attr-defined]


def symbols(text: str) -> dict[str, Symbol]:
    """Functions, classes, methods (``Class.method``) and module/class-level names of Python source ``text``."""
    tree = ast.parse(text)
    lines = text.splitlines()
    table: dict[str, Symbol] = {}

    def visit(nodes: list[ast.stmt], prefix: str, defs_only: bool = False) -> None:
        for node in nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                signature = (
                    _dump([node.args, node.returns, *node.decorator_list])
                    if node.returns
                    else _dump([node.args, *node.decorator_list])
                )
                table[prefix + node.name] = Symbol(
                    prefix + node.name,
                    "def",
                    signature,
                    _dump(_strip_docstring(node.body)),
                    _segment(lines, node),
                )
                visit(node.body, prefix + node.name + ".", defs_only=True)  # nested helpers: ``outer.inner``
            elif isinstance(node, ast.ClassDef):
                signature = _dump([*node.bases, *node.keywords, *node.decorator_list])
                table[prefix + node.name] = Symbol(
                    prefix + node.name,
                    "class",
                    signature,
                    _dump(_strip_docstring(node.body)),
                    _segment(lines, node),
                )
                visit(node.body, prefix + node.name + ".", defs_only)
            elif isinstance(node, ast.Assign | ast.AnnAssign) and not defs_only:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in _names(target):
                        value = _dump(node.value) if node.value is not None else ""
                        table.setdefault(
                            prefix + name, Symbol(prefix + name, "assign", "", value, _segment(lines, node))
                        )

    visit(tree.body, "")
    return table


def _names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):
        return [n for e in target.elts for n in _names(e)]
    return []


class Repo:
    """Read-only access to a nanochat git repository (a work tree or a bare mirror) through ``git``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._texts: dict[tuple[str, str], str | None] = {}
        self._files: dict[str, list[str]] = {}

    def _git(self, *args: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                ["git", "-C", str(self.path), *args], capture_output=True, text=True, check=False, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise UpstreamError(f"git {' '.join(args)} in {self.path}: {exc}") from None

    def resolve(self, commit: str) -> str:
        proc = self._git("rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}")
        if proc.returncode != 0 or not proc.stdout.strip():
            raise UpstreamError(f"{commit!r} is not a commit of {self.path}")
        return proc.stdout.strip()

    def text(self, commit: str, path: str) -> str | None:
        key = (commit, path)
        if key not in self._texts:
            proc = self._git("show", f"{commit}:{path}")
            self._texts[key] = proc.stdout if proc.returncode == 0 else None
        return self._texts[key]

    def prefetch(self, commit: str, paths: list[str]) -> None:
        """Read many files of one commit with a single ``git cat-file --batch`` (one process, not one per file)."""
        wanted = [p for p in paths if (commit, p) not in self._texts]
        if not wanted:
            return
        request = "".join(f"{commit}:{p}\n" for p in wanted).encode()
        try:
            proc = subprocess.run(
                ["git", "-C", str(self.path), "cat-file", "--batch"],
                input=request,
                capture_output=True,
                timeout=120,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise UpstreamError(f"git cat-file in {self.path}: {exc}") from None
        data, at = proc.stdout, 0
        for path in wanted:
            end = data.find(b"\n", at)
            header = data[at:end].split()
            at = end + 1
            if len(header) != 3:  # "<name> missing"
                self._texts[(commit, path)] = None
                continue
            size = int(header[2])
            self._texts[(commit, path)] = data[at : at + size].decode("utf-8", errors="replace")
            at += size + 1

    def python_files(self, commit: str) -> list[str]:
        if commit not in self._files:
            proc = self._git("ls-tree", "-r", "--name-only", commit)
            if proc.returncode != 0:
                raise UpstreamError(f"cannot list {commit} in {self.path}: {proc.stderr.strip()}")
            self._files[commit] = [p for p in proc.stdout.splitlines() if p.endswith(".py")]
        return self._files[commit]


@dataclass(frozen=True)
class Change:
    file: str
    symbol: str | None
    status: str
    detail: str = ""
    hunk: str = ""

    @property
    def flags(self) -> bool:
        return self.status in FLAGGING

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "symbol": self.symbol or WHOLE_FILE,
            "status": self.status,
            "detail": self.detail,
            "hunk": self.hunk,
        }


def _hunk(old: str, new: str, old_name: str, new_name: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{old_name}", f"b/{new_name}", n=3
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


class Comparer:
    """Compares anchored symbols between two commits of one repository, caching parsed files."""

    def __init__(self, repo: Repo, old: str, new: str) -> None:
        self.repo, self.old, self.new = repo, old, new
        self._tables: dict[tuple[str, str], dict[str, Symbol] | None] = {}
        self._index: dict[str, list[tuple[str, Symbol]]] | None = None
        self._cache: dict[tuple[str, str | None], Change] = {}

    def table(self, commit: str, path: str) -> dict[str, Symbol] | None:
        key = (commit, path)
        if key not in self._tables:
            text = self.repo.text(commit, path)
            try:
                self._tables[key] = symbols(text) if text is not None else None
            except SyntaxError:
                self._tables[key] = None
        return self._tables[key]

    def _new_index(self) -> dict[str, list[tuple[str, Symbol]]]:
        if self._index is None:
            self._index = {}
            paths = self.repo.python_files(self.new)
            self.repo.prefetch(self.new, paths)
            for path in paths:
                for symbol in (self.table(self.new, path) or {}).values():
                    self._index.setdefault("name:" + symbol.name, []).append((path, symbol))
                    self._index.setdefault("body:" + symbol.body, []).append((path, symbol))
        return self._index

    def compare(self, file: str, symbol: str | None) -> Change:
        key = (file, symbol)
        if key not in self._cache:
            self._cache[key] = self._compare(file, symbol)
        return self._cache[key]

    def _compare(self, file: str, symbol: str | None) -> Change:
        if symbol is None:
            return self._compare_file(file)
        before = self.table(self.old, file)
        if before is None or symbol not in before:
            return Change(file, symbol, LAB_ONLY, f"not in {file} at {self.old[:7]}")
        old = before[symbol]
        after = self.table(self.new, file)
        if after is not None and symbol in after:
            new = after[symbol]
            hunk = _hunk(old.source, new.source, f"{file}:{symbol}", f"{file}:{symbol}")
            if old.kind == new.kind and old.signature != new.signature:
                return Change(file, symbol, SIGNATURE, "", hunk)
            if old.kind != new.kind or old.body != new.body:
                return Change(file, symbol, BODY, "", hunk)
            return Change(file, symbol, UNCHANGED)
        return self._gone(file, old)

    def _gone(self, file: str, old: Symbol) -> Change:
        index = self._new_index()
        # the same qualified name (``Class.method`` keeps its class) in another file: a method name alone
        # (``__init__``, ``step``) says nothing
        same_name = [(p, s) for p, s in index.get("name:" + old.name, []) if s.kind == old.kind and p != file]
        if same_name:
            path, new = same_name[0]
            hunk = _hunk(old.source, new.source, f"{file}:{old.name}", f"{path}:{new.name}")
            return Change(file, old.name, MOVED, f"now {path}:{new.name}", hunk)
        if old.kind != "assign":
            same_body = [(p, s) for p, s in index.get("body:" + old.body, []) if s.kind == old.kind]
            if same_body:
                path, new = same_body[0]
                hunk = _hunk(old.source, new.source, f"{file}:{old.name}", f"{path}:{new.name}")
                return Change(file, old.name, RENAMED, f"now {path}:{new.name}", hunk)
        where = "the file is gone" if self.repo.text(self.new, file) is None else f"no longer in {file}"
        return Change(
            file, old.name, REMOVED, where, _hunk(old.source, "", f"{file}:{old.name}", "/dev/null")
        )

    def _compare_file(self, file: str) -> Change:
        old_text, new_text = self.repo.text(self.old, file), self.repo.text(self.new, file)
        if old_text is None:
            return Change(file, None, LAB_ONLY, f"no {file} at {self.old[:7]}")
        if new_text is None:
            return Change(file, None, REMOVED, "the file is gone", _hunk(old_text, "", file, "/dev/null"))
        try:
            same = _dump(ast.parse(old_text)) == _dump(ast.parse(new_text))
        except SyntaxError:
            same = old_text == new_text
        if same:
            return Change(file, None, UNCHANGED)
        return Change(file, None, BODY, "", _hunk(old_text, new_text, file, file))


# --- 3. the report --------------------------------------------------------------------------------------------------
def guide_sections(text: str) -> list[tuple[str, str]]:
    """``(heading, body)`` of each section of a Markdown guide (text before the first heading is ``""``)."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    fence = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        match = None if fence else _HEADING_RE.match(line)
        if match:
            sections.append((match.group(2), []))
        else:
            sections[-1][1].append(line)
    return [
        (heading, "\n".join(body)) for heading, body in sections if heading or any(s.strip() for s in body)
    ]


def _mentions(text: str, symbol: str) -> bool:
    """Does a code span of ``text`` name ``symbol`` (``GPT.forward``, ``forward``, ``forward()``)?"""
    last = symbol.rsplit(".", 1)[-1]
    for span in _CODE_SPAN_RE.findall(text):
        words = set(_IDENT_RE.findall(span))
        dotted = span.replace("(", " ").replace(")", " ")
        if symbol in dotted.split() or last in words:
            return True
    return False


@dataclass
class _TestInfo:
    id: str
    step: str | None
    deviation: str | None
    names: set[str]


def _marker(decorators: Iterable[ast.expr], name: str) -> str | None:
    for deco in decorators:
        if (
            isinstance(deco, ast.Call)
            and isinstance(deco.func, ast.Attribute)
            and deco.func.attr == name
            and deco.args
            and isinstance(deco.args[0], ast.Constant)
            and isinstance(deco.args[0].value, str)
        ):
            return deco.args[0].value
    return None


def _module_marks(tree: ast.Module, name: str) -> str | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            values = node.value.elts if isinstance(node.value, ast.List | ast.Tuple) else [node.value]
            found = _marker(values, name)
            if found:
                return found
    return None


def _test_info(
    node: ast.FunctionDef | ast.AsyncFunctionDef, rel: str, prefix: str, step: str | None, dev: str | None
) -> _TestInfo:
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute):
            names.add(sub.attr)
        elif isinstance(sub, ast.Name):
            names.add(sub.id)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and _IDENT_RE.fullmatch(sub.value):
            names.add(sub.value)
    return _TestInfo(
        f"{rel}::{prefix}{node.name}",
        _marker(node.decorator_list, "step") or step,
        _marker(node.decorator_list, "lab_addition") or dev,
        names,
    )


def module_tests(spec: ModuleSpec) -> list[_TestInfo]:
    """The module's tests (``visible/test_x.py::test_y``) with their step, lab-addition deviation and the names
    they use (attributes, names and string constants, where a test names what it calls)."""
    tests: list[_TestInfo] = []
    root = spec.root / "tests"
    for path in sorted(root.glob("*/test_*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, SyntaxError):
            continue
        file_step, file_dev = _module_marks(tree, "step"), _module_marks(tree, "lab_addition")
        rel = path.relative_to(root).as_posix()

        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
                tests.append(_test_info(node, rel, "", file_step, file_dev))
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                step = _marker(node.decorator_list, "step") or file_step
                dev = _marker(node.decorator_list, "lab_addition") or file_dev
                for sub in node.body:
                    if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef) and sub.name.startswith(
                        "test"
                    ):
                        tests.append(_test_info(sub, rel, node.name + "::", step, dev))
    return tests


def _fact_values(comparer: Comparer, fact: Any) -> tuple[Any, Any, str]:
    """The fact's value at both commits, read from upstream (``source.symbol``), and an error text if unreadable."""
    file, symbol = str(fact.source.get("file") or ""), str(fact.source.get("symbol") or "")
    if fact.value is None or not symbol:
        return None, None, ""
    values: list[Any] = []
    for commit in (comparer.old, comparer.new):
        text = comparer.repo.text(commit, file)
        if text is None:
            values.append(None)
            continue
        try:
            values.append(value_in_source(text, symbol, f"{file}@{commit[:7]}"))
        except FactError as exc:
            values.append(f"unreadable: {exc}")
    return values[0], values[1], ""


def module_report(spec: ModuleSpec, comparer: Comparer, repo_root: Path = REPO_ROOT) -> dict[str, Any]:
    """What the commit range changes under one module (see the module docstring)."""
    found = anchors(spec, repo_root)
    changes = {a: comparer.compare(a.file, a.symbol) for a in found}
    flagged = {a: c for a, c in changes.items() if c.flags}

    steps = []
    for step in spec.steps:
        items = [
            {**c.as_dict(), "origin": a.origin} for a, c in flagged.items() if a.step == step.id and c.flags
        ]
        if items:
            steps.append({"id": step.id, "title": dict(step.title), "changes": items})

    facts = []
    for fact in spec.facts:
        anchor = next((a for a in found if a.origin == f"fact:{fact.id}"), None)
        change = changes.get(anchor) if anchor else None
        old_value, new_value, _ = _fact_values(comparer, fact)
        value_changed = fact.value is not None and not same_value(old_value, new_value)
        if (change and change.flags) or value_changed:
            facts.append(
                {
                    "id": fact.id,
                    "file": str(fact.source.get("file")),
                    "symbol": str(fact.source.get("symbol") or ""),
                    "status": change.status if change else UNCHANGED,
                    "detail": change.detail if change else "",
                    "value": fact.value,
                    "value_from": old_value,
                    "value_to": new_value,
                    "value_changed": value_changed,
                    "hunk": change.hunk if change else "",
                }
            )
    changed_facts = {f["id"] for f in facts}

    deviations = []
    for deviation in spec.deviations:
        anchor = next((a for a in found if a.origin == f"deviation:{deviation.id}"), None)
        change = changes.get(anchor) if anchor else None
        if change and change.flags:
            deviations.append({"id": deviation.id, **change.as_dict()})
    changed_deviations = {d["id"] for d in deviations}

    changed_symbols = sorted({c.symbol for c in flagged.values() if c.symbol})
    flagged_steps = {s["id"] for s in steps}

    sections = []
    for lang in ("en", "zh"):
        path = spec.root / f"guide.{lang}.md"
        if not path.is_file():
            continue
        for heading, body in guide_sections(path.read_text(encoding="utf-8")):
            why = [f"cites fact {f}" for f in _FACT_RE.findall(body) if f in changed_facts]
            if changed_deviations and _DEVIATIONS_RE.search(body):
                why.append("shows the deviations box (" + ", ".join(sorted(changed_deviations)) + ")")
            why += [f"names `{s}`" for s in changed_symbols if _mentions(body, s)]
            if why:
                sections.append({"lang": lang, "heading": heading or "(top)", "why": why})

    tests = []
    for test in module_tests(spec):
        why = []
        if test.step in flagged_steps:
            why.append(f"tests {test.step}")
        if test.deviation in changed_deviations:
            why.append(f"lab addition {test.deviation}")
        why += [f"uses {s}" for s in changed_symbols if s.rsplit(".", 1)[-1] in test.names]
        if why:
            tests.append({"id": test.id, "step": test.step, "why": why})

    module_wide = [
        {**c.as_dict(), "origin": a.origin}
        for a, c in flagged.items()
        if a.step is None and not a.origin.startswith(("fact:", "deviation:"))
    ]
    affected = bool(steps or facts or deviations or module_wide)
    return {
        "slug": spec.slug,
        "title": dict(spec.title),
        "affected": affected,
        "anchors": len(found),
        "lab_only": sorted({f"{a.file}:{a.symbol}" for a, c in changes.items() if c.status == LAB_ONLY}),
        "steps": steps,
        "facts": facts,
        "deviations": deviations,
        "guide_sections": sections if affected else [],
        "tests": tests if affected else [],
    }


def diff_report(
    repo_path: Path,
    old: str,
    new: str,
    specs: Mapping[str, ModuleSpec],
    *,
    repo_root: Path = REPO_ROOT,
    modules: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The report for every module (or ``modules``) from commit ``old`` to ``new`` of the repository at
    ``repo_path``. Raises :class:`UpstreamError` for an unreadable repository or commit."""
    repo = Repo(repo_path)
    old_sha, new_sha = repo.resolve(old), repo.resolve(new)
    comparer = Comparer(repo, old_sha, new_sha)
    wanted = list(modules) if modules is not None else list(specs)
    unknown = [slug for slug in wanted if slug not in specs]
    if unknown:
        raise UpstreamError(f"no such module: {', '.join(unknown)}")
    reports = [module_report(specs[slug], comparer, repo_root) for slug in wanted]
    return {
        "from": old,
        "to": new,
        "from_commit": old_sha,
        "to_commit": new_sha,
        "modules_checked": len(reports),
        "modules_affected": sum(1 for r in reports if r["affected"]),
        "modules": reports,
    }


def summary(report: Mapping[str, Any]) -> str:
    n = report["modules_affected"]
    return f"{n} module{'s' if n != 1 else ''} affected"


def to_markdown(report: Mapping[str, Any]) -> str:
    """The report for authors, as Markdown: a summary table, then each affected module's steps, facts,
    deviations, guide sections and tests, with the diff hunks."""
    out = [
        f"# Upstream diff: nanochat {report['from']} → {report['to']}",
        "",
        f"`{report['from_commit'][:12]}` → `{report['to_commit'][:12]}`: **{summary(report)}** "
        f"of {report['modules_checked']} checked.",
        "",
        "| module | steps | facts | deviations | guide sections | tests |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for m in report["modules"]:
        if m["affected"]:
            out.append(
                f"| {m['slug']} | {', '.join(s['id'] for s in m['steps']) or '—'} | {len(m['facts'])} | "
                f"{len(m['deviations'])} | {len(m['guide_sections'])} | {len(m['tests'])} |"
            )
    for m in report["modules"]:
        if not m["affected"]:
            continue
        out += ["", f"## {m['slug']} — {m['title'].get('en', '')}", ""]
        for step in m["steps"]:
            out.append(f"### {step['id']}: {step['title'].get('en', '')}")
            out.append("")
            for c in step["changes"]:
                out.append(_change_line(c))
                out += _fenced(c["hunk"])
            out.append("")
        if m["facts"]:
            out += ["### Facts", ""]
            for f in m["facts"]:
                value = (
                    f"value {f['value_from']!r} → {f['value_to']!r}"
                    if f["value_changed"]
                    else f"value {f['value']!r}"
                )
                detail = f" ({f['detail']})" if f["detail"] else ""
                out.append(f"- `{f['id']}` at `{f['file']}` `{f['symbol']}`: {f['status']}{detail}; {value}")
                out += _fenced(f["hunk"])
            out.append("")
        if m["deviations"]:
            out += ["### Deviations", ""]
            for d in m["deviations"]:
                out.append(_change_line(d, label=d["id"]))
                out += _fenced(d["hunk"])
            out.append("")
        if m["guide_sections"]:
            out += ["### Guide sections that cite them", ""]
            out += [f"- {s['lang']}: “{s['heading']}” — {'; '.join(s['why'])}" for s in m["guide_sections"]]
            out.append("")
        if m["tests"]:
            out += ["### Tests built on them", ""]
            out += [f"- `{t['id']}` — {'; '.join(t['why'])}" for t in m["tests"]]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _change_line(c: Mapping[str, Any], label: str | None = None) -> str:
    detail = f" ({c['detail']})" if c.get("detail") else ""
    origin = f" [{c['origin']}]" if c.get("origin") and c["origin"] != "stub" else ""
    head = f"`{label}`: " if label else ""
    return f"- {head}`{c['file']}` `{c['symbol']}`: **{c['status']}**{detail}{origin}"


#: Markdown shows at most this many lines of a hunk (a removed file would fill pages); the JSON keeps all.
HUNK_LINES = 60


def _fenced(hunk: str) -> list[str]:
    if not hunk:
        return []
    lines = hunk.rstrip("\n").splitlines()
    if len(lines) > HUNK_LINES:
        lines = [*lines[:HUNK_LINES], f"… {len(lines) - HUNK_LINES} more lines (in the JSON report)"]
    return ["", "```diff", *lines, "```", ""]
