"""Structural fingerprints of learner code, and how alike two sets of them are (Django-free, pure).

Method (docs/similarity.md):
1. Each step's code is the body of the functions the step stubs (``modules.gates.step_parts``: a stub's function,
   or the function around a region stub), docstrings left out.
2. The body becomes a token stream by a pre-order walk of its syntax tree: one token per node type, identifiers
   (names, arguments, attributes) replaced by ``ID``, literals by their type (``STR``, ``NUM``); comments and
   formatting are gone with the parse. Renaming every variable or reformatting the file changes nothing.
3. Every k consecutive tokens (a k-gram, :data:`K`) is hashed; winnowing (Schleimer, Wilkerson and Aiken, 2003)
   keeps the smallest hash of every window of :data:`WINDOW` consecutive k-grams, so any shared run of at least
   ``K + WINDOW - 1`` tokens is guaranteed a shared fingerprint while the set stays small.
4. The starter's own fingerprints are subtracted from both sides: code the learner was given never counts.
5. Two step versions score ``|A ∩ B| / |A ∪ B|`` (Jaccard); a submission's score pools its steps' counts. A
   step with fewer than :data:`MIN_FINGERPRINTS` learner-written fingerprints on either side is too small to
   judge and scores nothing.

Hostile input: sources larger than :data:`SOURCE_MAX_CHARS`, code that does not parse, trees deeper than the parser
or :data:`DEPTH_MAX` allow, and more than :data:`TOKENS_MAX` tokens give no fingerprints (an empty set), never an
exception; the walk is iterative, so no recursion limit is reached here.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from modules.gates import step_parts
from modules.spec import ModuleSpec
from modules.starters import functions

#: Tokens per k-gram: short enough to match a renamed statement, long enough that a lone ``x = y + 1`` is no match.
K = 12
#: k-grams per winnowing window.
WINDOW = 6
#: Learner-written fingerprints a step needs on both sides before its similarity means anything.
MIN_FINGERPRINTS = 4
#: A learner file longer than this is not fingerprinted (submissions are capped well below it).
SOURCE_MAX_CHARS = 400_000
#: Tokens (syntax-tree nodes) of one step beyond which it is not fingerprinted.
TOKENS_MAX = 100_000
#: Nesting beyond which a tree is not fingerprinted.
DEPTH_MAX = 200

Fingerprints = frozenset[int]
EMPTY: Fingerprints = frozenset()


class TooComplex(Exception):
    """The code is too large or too deep to fingerprint."""


def _literal(value: object) -> str:
    if isinstance(value, str | bytes):
        return "STR"
    if isinstance(value, bool) or value is None or value is Ellipsis:
        return repr(value)
    return "NUM"


def tokens(nodes: Sequence[ast.AST]) -> Iterator[str]:
    """The normalised token stream of ``nodes`` in pre-order (identifiers and literals abstracted)."""
    stack: list[tuple[ast.AST, int]] = [(node, 0) for node in reversed(nodes)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > TOKENS_MAX or depth > DEPTH_MAX:
            raise TooComplex
        if isinstance(node, ast.expr_context):  # Load/Store/Del add nothing a reader sees
            continue
        if isinstance(node, ast.Constant):
            yield f"C:{_literal(node.value)}"
            continue
        yield type(node).__name__
        if isinstance(node, ast.Name | ast.arg | ast.Attribute | ast.keyword | ast.alias):
            yield "ID"
        children = list(ast.iter_child_nodes(node))
        stack.extend((child, depth + 1) for child in reversed(children))


def winnow(stream: Sequence[str], *, k: int = K, window: int = WINDOW) -> Fingerprints:
    """The winnowed k-gram hashes of ``stream`` (every k-gram's hash when there are fewer than ``window``)."""
    if len(stream) < k:
        return EMPTY
    hashes = [
        int.from_bytes(hashlib.blake2b(" ".join(stream[i : i + k]).encode(), digest_size=8).digest(), "big")
        for i in range(len(stream) - k + 1)
    ]
    if len(hashes) <= window:
        return frozenset(hashes)
    picked: set[int] = set()
    for i in range(len(hashes) - window + 1):
        picked.add(min(hashes[i : i + window]))
    return frozenset(picked)


def _body(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.stmt]:
    body = node.body
    first = body[0] if body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        body = body[1:]
    return body


def _parse(text: str) -> ast.Module | None:
    if len(text) > SOURCE_MAX_CHARS or "\x00" in text:
        return None
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None


def part_fingerprints(files: Mapping[str, str], parts: Sequence[tuple[str, str]]) -> Fingerprints:
    """Fingerprints of the bodies of ``parts`` (``(path, qualified function)``) in ``files``; a file that is
    missing, does not parse or is too complex contributes nothing."""
    trees: dict[str, dict[str, ast.FunctionDef | ast.AsyncFunctionDef]] = {}
    nodes: list[ast.AST] = []
    for path, name in parts:
        if path not in trees:
            text = files.get(path)
            tree = _parse(text) if isinstance(text, str) else None
            trees[path] = functions(tree) if tree is not None else {}
        node = trees[path].get(name)
        if node is not None:
            nodes.extend(_body(node))
    if not nodes:
        return EMPTY
    try:
        return winnow(list(tokens(nodes)))
    except (TooComplex, RecursionError, MemoryError):
        return EMPTY


@dataclass(frozen=True)
class StepScore:
    step: str
    shared: int  # learner-written fingerprints both sides have
    union: int  # learner-written fingerprints either side has

    @property
    def score(self) -> float:
        return self.shared / self.union if self.union else 0.0


def step_compare(a: Fingerprints, b: Fingerprints, *, starter: Fingerprints, step: str) -> StepScore:
    """How alike two versions of one step are, the starter's fingerprints left out of both."""
    own_a, own_b = a - starter, b - starter
    if len(own_a) < MIN_FINGERPRINTS or len(own_b) < MIN_FINGERPRINTS:
        return StepScore(step, 0, 0)
    return StepScore(step, len(own_a & own_b), len(own_a | own_b))


def pooled(scores: Sequence[StepScore]) -> float:
    """A submission's score over its steps: shared over union, summed across steps (0 when none is judged)."""
    union = sum(s.union for s in scores)
    return sum(s.shared for s in scores) / union if union else 0.0


def submission_fingerprints(
    spec: ModuleSpec, files: Mapping[str, str], *, references: Mapping[str, str]
) -> dict[str, Fingerprints]:
    """Step id -> fingerprints of that step's code in ``files`` (``references`` locate region stubs)."""
    return {step: part_fingerprints(files, step_parts(spec, step, references)) for step in spec.step_ids}


def submissions_compare(
    a: Mapping[str, Fingerprints], b: Mapping[str, Fingerprints], *, starter: Mapping[str, Fingerprints]
) -> list[StepScore]:
    """Per step, how alike two submissions' fingerprints (``submission_fingerprints``) are."""
    return [
        step_compare(a.get(step, EMPTY), b.get(step, EMPTY), starter=starter.get(step, EMPTY), step=step)
        for step in a
    ]
