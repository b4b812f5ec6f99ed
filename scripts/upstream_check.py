"""Does nanochat's own library file pass our tests? Grade the upstream file at a pinned commit as a learner's file.

    python -m scripts.upstream_check --repo /path/to/nanochat.git --commit 48abd7d
    python -m scripts.upstream_check --repo ... --module 05-gpt --harness inprocess   # full messages, no sandbox

For every content module whose learner file has a counterpart in nanochat at the commit, the upstream file is
extracted (``git show``) into a temporary folder OUTSIDE the repository, submitted as the learner's file (the
module's other learner files are our references; the rest of the workspace is the CLI's: the declared needs, as the
module's prerequisites see them), and the module's visible and hidden tests run on it. The report gives, per
module, the tests passed and failed, and which failures are on tests marked ``@pytest.mark.lab_addition(...)``
(checks of something nanochat does not do or name, each explained by a deviation in module.yaml). Every other
failure is a test that holds the learner to something nanochat itself does not satisfy: the content must either
change or mark it (DECISIONS.md, "nanochat's own code"). Nothing fetched is ever written into the repository.

Mapping a learner file (workspace path) to upstream: ``nanochat/<f>`` -> ``nanochat/<f>``; ``nanochat/tasks/<f>`` ->
``tasks/<f>`` (a top-level package upstream). Files with no counterpart: lab-only files (outside ``nanochat/``, or
absent upstream) and ``nanochat/scripts/<f>``: upstream scripts are top-level programs, only ever run as
subprocesses with flags, so no library file is compared with them.

Harness: the real engine (``grading.engine.runner.grade``, the default) runs the upstream file in the learner
sandbox, as a learner's drop-in file would run: only the declared needs beside it, values crossing the proxy as
data, the module's limits. Upstream code is code we did not write, so it never runs unsandboxed by default.
``--harness inprocess`` uses ``tests/content/inprocess_learner.py`` instead: no sandbox, but the hidden tests'
messages are shown (the engine reduces them to a neutral message).

Exit status: 0 when every failure is on a test marked as a lab addition, 1 otherwise, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
CONTENT_DIR = REPO_ROOT / "content"
DEFAULT_COMMIT = "48abd7d"
MARKER = "lab_addition"
NO_COUNTERPART = "no learner file has an upstream counterpart"


# --- which upstream file a learner file is --------------------------------------------------------------------


def upstream_path(learner_path: str, upstream_files: set[str]) -> tuple[str | None, str]:
    """``(upstream path or None, why)`` for a learner file's workspace path."""
    if not learner_path.startswith("nanochat/"):
        return None, "lab-only file (not part of nanochat)"
    rest = learner_path.removeprefix("nanochat/")
    if rest.startswith("scripts/"):
        where = f" ({rest} upstream)" if rest in upstream_files else ""
        return None, f"upstream script{where}: a top-level program, run only as a subprocess"
    candidate = rest if rest.startswith("tasks/") else learner_path
    if candidate not in upstream_files:
        return None, f"not in nanochat at this commit ({candidate})"
    return candidate, f"upstream {candidate}"


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} in {repo} failed: {proc.stderr.strip()}")
    return proc.stdout


def resolve(repo: Path, commit: str) -> str:
    """The full hash of ``commit`` in ``repo`` (a bare mirror or a work tree), or "" if it is not there."""
    proc = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() if proc.returncode == 0 else ""


# --- tests marked as lab additions ----------------------------------------------------------------------------


def lab_additions(module_dir: Path) -> dict[str, str]:
    """``{"visible/test_x.py::test_y": deviation id}`` for every test marked ``lab_addition`` (read, not imported).

    Finds ``@pytest.mark.lab_addition("id")`` on test functions, test classes (every test in them) and a module's
    ``pytestmark`` (every test in the file). Write it as ``pytest.mark.lab_addition("<deviation id>")``, the id a
    string literal: an alias of the marker is not seen, and a non-literal argument reads as ``""``.
    """
    found: dict[str, str] = {}
    for path in sorted((module_dir / "tests").glob("*/test_*.py")):
        rel = f"{path.parent.name}/{path.name}"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        file_mark = None
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
            ):
                marks = node.value.elts if isinstance(node.value, ast.List | ast.Tuple) else [node.value]
                file_mark = next((m for m in map(_marker_arg, marks) if m is not None), file_mark)
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                class_mark = _first(_decorated(node), file_mark)
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name.startswith("test"):
                        mark = _first(_decorated(item), class_mark)
                        if mark is not None:
                            found[f"{rel}::{node.name}::{item.name}"] = mark
            elif isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                mark = _first(_decorated(node), file_mark)
                if mark is not None:
                    found[f"{rel}::{node.name}"] = mark
    return found


def _first(*marks: str | None) -> str | None:
    return next((m for m in marks if m is not None), None)


def _decorated(node: ast.FunctionDef | ast.ClassDef) -> str | None:
    return next((m for m in map(_marker_arg, node.decorator_list) if m is not None), None)


def _marker_arg(node: ast.expr) -> str | None:
    """The argument of ``pytest.mark.lab_addition("...")`` (any prefix before ``.lab_addition``), else None."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == MARKER:
        if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            return node.args[0].value
        return ""  # marked, but without a literal deviation id: reported as such
    return None


def test_key(test_id: str) -> str:
    """A test id without its parameters: ``visible/test_x.py::test_y[3]`` -> ``visible/test_x.py::test_y``."""
    return test_id.split("[", 1)[0]


# --- running ---------------------------------------------------------------------------------------------------


@dataclass
class ModuleResult:
    slug: str
    files: dict[str, str]  # learner path -> what was submitted ("upstream <path>" or "reference: <why>")
    tests: list[dict[str, Any]] = field(default_factory=list)  # id, step, visibility, status, message
    marked: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [t for t in self.tests if t["status"] != "pass"]

    @property
    def failed_marked(self) -> list[dict[str, Any]]:
        return [t for t in self.failed if test_key(t["id"]) in self.marked]

    @property
    def failed_unmarked(self) -> list[dict[str, Any]]:
        return [t for t in self.failed if test_key(t["id"]) not in self.marked]

    @property
    def passed_marked(self) -> list[dict[str, Any]]:
        """Tests marked as lab additions that nanochat passes anyway (the mark may be wrong)."""
        return [t for t in self.tests if t["status"] == "pass" and test_key(t["id"]) in self.marked]


def _grade_engine(module_dir: Path, files: dict[str, bytes]) -> list[dict[str, Any]]:
    from grading.engine.runner import grade

    result: dict[str, Any] = {}
    for event in grade(module_dir, files):
        if event["type"] == "verdict":
            result = event["result"]
    if result.get("status") == "error":
        raise RuntimeError(f"the engine failed (platform fault): {result.get('message', '')}")
    return [
        {k: t.get(k) for k in ("id", "step", "visibility", "status", "message")}
        for t in result.get("tests", [])
    ]


def _grade_inprocess(module: Any, files: dict[str, bytes], work: Path) -> list[dict[str, Any]]:
    from scripts import bug_catalogue as bc

    workspace = bc.write_workspace(module, files, work / "workspace")
    outcomes, _seconds = bc.run_inprocess(module.root, [bc.Run("upstream", workspace, "all")], work)
    status = {"passed": "pass", "skipped": "skip"}
    return [
        {
            "id": o.test,
            "step": o.step,
            "visibility": o.visibility,
            "status": status.get(o.outcome, "fail"),
            "message": o.message,
        }  # fmt: skip
        for o in outcomes["upstream"]
    ]


def check_module(
    module: Any, repo: Path, commit: str, upstream_files: set[str], harness: str, tmp: Path
) -> ModuleResult:
    """Grade the module with its upstream counterparts (``error`` says so when no learner file has one)."""
    described: dict[str, str] = {}
    mapped: dict[str, str] = {}
    for entry in module.files:
        upstream, why = upstream_path(entry.path, upstream_files)
        described[entry.path] = why if upstream else f"our reference ({why})"
        if upstream:
            mapped[entry.path] = upstream
    if not mapped:
        return ModuleResult(module.slug, described, error=NO_COUNTERPART)
    work = Path(tempfile.mkdtemp(prefix=f"{module.slug}-", dir=tmp))
    files: dict[str, bytes] = {}
    for entry in module.files:
        if entry.path in mapped:
            local = work / "upstream" / mapped[entry.path]
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_text(git(repo, "show", f"{commit}:{mapped[entry.path]}"), encoding="utf-8")
            files[entry.path] = local.read_bytes()
        else:
            files[entry.path] = entry.reference_path(module.root).read_bytes()
    result = ModuleResult(module.slug, described, marked=lab_additions(module.root))
    try:
        if harness == "engine":
            result.tests = _grade_engine(module.root, files)
        else:
            result.tests = _grade_inprocess(module, files, work)
    except (RuntimeError, OSError) as exc:
        result.error = str(exc)
    return result


# --- the report ------------------------------------------------------------------------------------------------


def render(results: list[ModuleResult], commit: str, harness: str) -> str:
    rows = [("module", "upstream file(s)", "tests", "passed", "failed", "on lab additions", "unmarked")]
    notes: list[str] = []
    none: list[str] = []
    for r in results:
        if r.error == NO_COUNTERPART:
            none.append(f"  {r.slug}: " + "; ".join(f"{path}: {why}" for path, why in r.files.items()))
            continue
        ups = ", ".join(w.removeprefix("upstream ") for w in r.files.values() if w.startswith("upstream "))
        for path, why in r.files.items():
            if not why.startswith("upstream "):
                notes.append(f"{r.slug}: {path} is {why}")
        if r.error:
            rows.append((r.slug, ups, "-", "-", "-", "-", "-"))
            notes.append(f"{r.slug}: NOT RUN: {r.error}")
            continue
        passed = len(r.tests) - len(r.failed)
        rows.append((r.slug, ups, str(len(r.tests)), str(passed), str(len(r.failed)), str(len(r.failed_marked)),
                     str(len(r.failed_unmarked))))  # fmt: skip
        for t in r.failed_unmarked:
            first = (t.get("message") or "").strip().splitlines()
            why = first[0][:200] if first else ""
            notes.append(f"{r.slug}: FAILS {t['id']} ({t['visibility']}, {t['step']}): {why}")
        for t in r.failed_marked:
            notes.append(f"{r.slug}: fails {t['id']}, a lab addition ({r.marked[test_key(t['id'])]})")
        for t in r.passed_marked:
            notes.append(f"{r.slug}: {t['id']} is marked a lab addition but nanochat passes it")
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    table = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    out = [f"nanochat {commit}, harness: {harness}", "", *table]
    if notes:
        out += ["", *notes]
    if none:
        out += ["", "No upstream counterpart (not checked):", *none]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.upstream_check",
        description="Grade nanochat's own library files at a commit as learners' files; report what fails.",
    )
    parser.add_argument(
        "--repo", type=Path, required=True, help="a nanochat git repository (a bare mirror or a clone)"
    )
    parser.add_argument(
        "--commit", default=DEFAULT_COMMIT, help="the nanochat commit to compare with (default: %(default)s)"
    )
    parser.add_argument(
        "--module",
        action="append",
        default=None,
        metavar="SLUG",
        help="only this module (repeatable; default: every module with an upstream counterpart)",
    )
    parser.add_argument(
        "--harness",
        choices=("engine", "inprocess"),
        default="engine",
        help="engine: the sandboxed grading engine (default); inprocess: no sandbox, hidden messages shown",
    )
    parser.add_argument(
        "--content", type=Path, default=CONTENT_DIR, help="the course folder (default: content/)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    args = parser.parse_args(argv)

    from modules import spec as module_spec

    repo = args.repo.resolve()
    commit = resolve(repo, args.commit)
    if not commit:
        parser.error(f"{args.commit} does not resolve to a commit in {repo}")
    upstream_files = set(git(repo, "ls-tree", "-r", "--name-only", commit).splitlines())
    course = module_spec.course(args.content)
    slugs = args.module or sorted(course)
    unknown = sorted(set(slugs) - set(course))
    if unknown:
        parser.error(f"no module {', '.join(unknown)} in {args.content}")
    results: list[ModuleResult] = []
    with tempfile.TemporaryDirectory(prefix="upstream-check-") as tmp:
        if Path(tmp).resolve().is_relative_to(REPO_ROOT):
            parser.error(f"the temporary folder {tmp} is inside the repository; set TMPDIR elsewhere")
        for slug in slugs:
            results.append(check_module(course[slug], repo, commit, upstream_files, args.harness, Path(tmp)))
    if args.json:
        print(json.dumps([
            {"module": r.slug, "files": r.files, "error": r.error, "tests": len(r.tests), "failed": len(r.failed),
             "failed_lab_additions": [t["id"] for t in r.failed_marked],
             "failed_unmarked": [{"id": t["id"], "step": t["step"], "visibility": t["visibility"],
                                  "message": t["message"]} for t in r.failed_unmarked],
             "marked_but_passing": [t["id"] for t in r.passed_marked]}
            for r in results
        ], indent=2))  # fmt: skip
    else:
        print(render(results, f"{args.commit} ({commit[:12]})", args.harness))
    return 1 if any(r.failed_unmarked for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
