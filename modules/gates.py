"""The reference gate, step by step (DECISIONS.md, "One module state machine"; TEACHING.md, "Learning gates").

A step's reference opens once the learner has earned it, never for an untouched starter:
- **passed**: one of their attempts passed every test of that step (visible and hidden, at least one);
- **effort**: they submitted ``gates.reference_effort_attempts`` (module.yaml; default
  :data:`DEFAULT_EFFORT_ATTEMPTS`) *different* versions of that step's code, each different from the starter's;
  resubmitting the same code, or code that only renames or reformats nothing, does not count;
- instructors see every step.

What they then see is the reference with every step that is still closed cut out exactly as the starter cuts it
(:func:`modules.starters.generate`), and with the parts of modules they have not done cut out too, so a reference
never shows another module's solution or a step they have not earned ("step-by-step compare").

Design choices:
- A step's code is compared as syntax trees (``ast.dump`` of each of its parts, docstrings left out): a comment,
  a blank line or a changed docstring is not effort. A part is a stub's function; a region stub's part is the
  function around its markers in the reference (the markers never reach the learner). A file that does not parse
  counts as no version at all.
- Pure functions over texts and stubs: the grading app, which owns attempts and results, gathers them
  (``grading.selectors.reference_gate``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modules.spec import ModuleSpec, Stub
from modules.starters import functions, generate, generate_rust, region_function

__all__ = [
    "ReferenceGate",
    "StepGate",
    "Stub",
    "generate",
    "passed_steps",
    "reference_files",
    "reference_gate",
]

#: Different versions of a step's code, each unlike the starter's, after which its reference opens without a pass.
DEFAULT_EFFORT_ATTEMPTS = 3
PASSED, EFFORT, INSTRUCTOR = "passed", "effort", "instructor"


def effort_attempts(spec: ModuleSpec) -> int:
    return int(spec.gates.get("reference_effort_attempts") or DEFAULT_EFFORT_ATTEMPTS)


def _body_dump(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        if isinstance(body[0].value.value, str):
            body = body[1:]
    return ast.dump(ast.Module(body=body, type_ignores=[]), include_attributes=False)


def step_parts(spec: ModuleSpec, step: str, references: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(learner path, qualified function)`` of every part of ``step``: stubbed functions, and the function
    around each region stub (read off the module's reference texts, ``references`` by learner path)."""
    parts: list[tuple[str, str]] = []
    for entry in spec.files:
        for stub in entry.stubs:
            if stub.step != step:
                continue
            name = stub.function
            if name is None and stub.region is not None:
                name = region_function(references.get(entry.path, ""), stub.region)
            if name is not None and (entry.path, name) not in parts:
                parts.append((entry.path, name))
    return parts


def step_code(files: Mapping[str, str], parts: Sequence[tuple[str, str]]) -> str | None:
    """The step's code in ``files`` as one normalised string; None when a file does not parse or a part is
    missing (such a version never counts as effort)."""
    trees: dict[str, dict[str, ast.FunctionDef | ast.AsyncFunctionDef]] = {}
    out = []
    for path, name in parts:
        if path not in trees:
            text = files.get(path)
            if not isinstance(text, str):
                return None
            try:
                trees[path] = functions(ast.parse(text))
            except (SyntaxError, ValueError):
                return None
        node = trees[path].get(name)
        if node is None:
            return None
        out.append(f"{path}:{name}:{_body_dump(node)}")
    return "\n".join(out)


def passed_steps(result: Mapping[str, Any]) -> set[str]:
    """Steps whose every test passed in one graded result (a step with no test never passes)."""
    seen: dict[str, bool] = {}
    for test in result.get("tests") or []:
        step = test.get("step")
        if isinstance(step, str):
            seen[step] = seen.get(step, True) and test.get("status") == "pass"
    return {step for step, ok in seen.items() if ok}


@dataclass
class StepGate:
    open: bool
    why: str | None  # passed | effort | instructor | None
    versions: int  # different versions of the step's code submitted, each unlike the starter's
    needed: int

    def as_dict(self) -> dict[str, Any]:
        return {"open": self.open, "why": self.why, "versions": self.versions, "needed": self.needed}


@dataclass
class ReferenceGate:
    steps: dict[str, StepGate] = field(default_factory=dict)

    @property
    def open_steps(self) -> list[str]:
        return [s for s, g in self.steps.items() if g.open]

    @property
    def any_open(self) -> bool:
        return any(g.open for g in self.steps.values())


def reference_gate(
    spec: ModuleSpec,
    *,
    starters: Mapping[str, str],
    references: Mapping[str, str],
    attempts: Iterable[tuple[Mapping[str, str], Mapping[str, Any] | None]],
    instructor: bool = False,
) -> ReferenceGate:
    """Which steps' reference ``attempts`` (``(files, result or None)``, any order) have opened."""
    needed = effort_attempts(spec)
    if instructor:
        return ReferenceGate({s: StepGate(True, INSTRUCTOR, 0, needed) for s in spec.step_ids})
    parts = {step: step_parts(spec, step, references) for step in spec.step_ids}
    starter_code = {step: step_code(starters, p) for step, p in parts.items()}
    passed: set[str] = set()
    versions: dict[str, set[str]] = {step: set() for step in spec.step_ids}
    for files, result in attempts:
        if result:
            passed |= passed_steps(result)
        for step, p in parts.items():
            code = step_code(files, p) if p else None
            if code is not None and code != starter_code[step]:
                versions[step].add(code)
    gate = ReferenceGate()
    for step in spec.step_ids:
        n = len(versions[step])
        if step in passed:
            gate.steps[step] = StepGate(True, PASSED, n, needed)
        elif n >= needed:
            gate.steps[step] = StepGate(True, EFFORT, n, needed)
        else:
            gate.steps[step] = StepGate(False, None, n, needed)
    return gate


def reference_files(
    spec: ModuleSpec,
    references: Mapping[str, str],
    gate: ReferenceGate,
    *,
    foreign: Mapping[str, Sequence[tuple[str, Stub]]] | None = None,
) -> dict[str, str]:
    """The reference as ``gate`` lets the learner see it: closed steps cut as the starter cuts them, and
    ``foreign`` (per learner path: other modules' stubs the learner has not done) cut too."""
    closed = {s for s, g in gate.steps.items() if not g.open}
    files = {}
    for entry in spec.files:
        text = references.get(entry.path)
        if text is None:
            continue
        stubs = [stub for stub in entry.stubs if stub.step in closed]
        others = list((foreign or {}).get(entry.path, ()))
        cut = generate_rust if entry.path.endswith(".rs") else generate  # as the starter is cut
        files[entry.path] = cut(text, stubs, where=f"{spec.slug}: {entry.path}", foreign=others)
    return files
