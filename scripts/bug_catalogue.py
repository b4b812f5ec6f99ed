"""The bug catalogue: plausible learner bugs per module, kept as patches against the reference, and the runs that
judge whether the module's tests catch them (docs/authoring.md, "Bug catalogue").

    python -m scripts.bug_catalogue                      # kill rate of every catalogue (visible + hidden tests)
    python -m scripts.bug_catalogue --module 05-gpt -v   # one module, every patch with the tests that caught it
    python -m scripts.bug_catalogue new 05-gpt gelu-not-relu2 --edited /tmp/gpt.py --step step3 \\
        --bug-class "wrong activation" --summary "GELU instead of ReLU squared in the MLP"

A patch is ``tests/content/bugs/<slug>/<NN>-<short-name>.patch``: a header of ``Key: value`` lines, then a unified
diff of one learner file (its workspace path, ``files[].path`` in module.yaml, as ``--- a/<path>``/``+++ b/<path>``)
against that file's reference. Header keys:

- ``Step`` (required): the module.yaml step whose visible tests must catch the bug.
- ``Class`` (required): the bug class (off-by-one, wrong axis, missing division by grad-accum steps, ...).
- ``Summary`` (required): one line, what the learner got wrong.
- ``Known-gap`` (optional): why the module's visible tests of that step do not catch it yet. The CI check then
  asserts the patch is still missed, so the line goes once a test catches it.
- ``Also-fails`` (optional, repeatable): ``<test or step> <why>``, tests outside the step that fail too because
  they run the step's code: one test (``hidden/test_x.py::test_y``, any parameters) or every test of a step
  (``step3``, for a function the whole later model is built on). The near-miss check asserts that exactly these fail
  outside the step: an undeclared failure is a patch that breaks too much, a declaration that nothing matches is
  stale.

Design choices:
- A patch is applied in memory to the reference text (exact context, at the line it names or the nearest line
  where its context matches, as ``patch`` does); one that no longer applies fails loudly, naming the hunk.
- The workspace is the engine's (``grading.engine.workspace.build_workspace``, as the CLI builds it): every learner
  file of the module is submitted as its reference, the patched one replaced, so only the bug differs.
- Patches run in-process, since the code is our own reference (DECISIONS.md, "CI budget"): one child pytest per
  module with ``tests/content/inprocess_learner.py`` and ``tests/content/catalogue_plugin.py`` judges every patch
  and, as a control, the unpatched reference, which must pass, or no verdict is trusted.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
CONTENT_DIR = REPO_ROOT / "content"
BUGS_DIR = REPO_ROOT / "tests" / "content" / "bugs"
HARNESS_DIR = REPO_ROOT / "tests" / "content"
PATCH_NAME_RE = re.compile(r"^(\d{2})-([a-z0-9][a-z0-9-]*)\.patch$")
HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
HEADER_RE = re.compile(r"^([A-Za-z][A-Za-z-]*):\s*(.*)$")
REQUIRED_KEYS = ("step", "class", "summary")
KNOWN_KEYS = (*REQUIRED_KEYS, "known-gap", "also-fails")
CONTROL = "reference"
SELECTS = ("step-visible", "outside-step", "all")
#: Seconds one test may take before pytest-timeout fails it: a patch that loops forever (an infinite loader read
#: to its end) is caught like the engine's deadline would catch it, without stalling the whole run. 120 s: module
#: 8's twenty-step training check ran past 45 s beside the other catalogues on two busy cores.
TEST_TIMEOUT_S = 120.0


class PatchError(ValueError):
    """A patch file that cannot be read, or that no longer applies to its reference."""


@dataclass(frozen=True)
class Patch:
    """One catalogued bug: where it lives, what it targets, and its diff."""

    slug: str
    name: str  # "<NN>-<short-name>", the file name without .patch
    source: Path
    path: str  # the learner file it patches (workspace path)
    step: str
    bug_class: str
    summary: str
    diff: str
    known_gap: str | None = None
    also_fails: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.slug}/{self.name}"


@dataclass(frozen=True)
class TestResult:
    test: str  # "visible/test_x.py::test_y[params]"
    step: str | None
    visibility: str
    outcome: str  # passed | failed | skipped | not run


@dataclass(frozen=True)
class Outcome(TestResult):
    message: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.outcome in ("failed", "not run")


@dataclass
class Verdict:
    """What the tests said about one patch."""

    patch: Patch
    tests: list[Outcome] = field(default_factory=list)

    @property
    def caught_by(self) -> list[Outcome]:
        """Failing visible tests of the patch's step."""
        return [t for t in self.tests if t.failed and t.visibility == "visible" and t.step == self.patch.step]

    @property
    def caught_elsewhere(self) -> list[Outcome]:
        """Failing tests that are hidden or of another step."""
        return [t for t in self.tests if t.failed and t not in self.caught_by]

    @property
    def outside_failures(self) -> list[Outcome]:
        """Failing tests of another step."""
        return [t for t in self.tests if t.failed and t.step != self.patch.step]

    @property
    def undeclared_failures(self) -> list[Outcome]:
        """Failing tests of another step that the patch's ``Also-fails`` lines do not name (near-miss breaches)."""
        return [t for t in self.outside_failures if not any(_declares(d, t) for d in self.patch.also_fails)]

    @property
    def stale_declarations(self) -> list[str]:
        """``Also-fails`` entries that no failing test matches (the tests changed: update the patch)."""
        return [d for d in self.patch.also_fails if not any(_declares(d, t) for t in self.outside_failures)]

    @property
    def near_miss(self) -> bool:
        return not self.undeclared_failures and not self.stale_declarations

    @property
    def status(self) -> str:
        if self.caught_by:
            return "caught"
        return "elsewhere" if self.caught_elsewhere else "missed"


def _declares(entry: str, test: Outcome) -> bool:
    """Does an ``Also-fails`` entry (a step id, or a test id without parameters) cover ``test``?"""
    if "::" not in entry:
        return test.step == entry
    return test.test == entry or test.test.startswith(entry + "[")


@dataclass
class CatalogueRun:
    slug: str
    select: str
    control: list[Outcome]
    verdicts: list[Verdict]
    seconds: float

    @property
    def control_failures(self) -> list[Outcome]:
        return [t for t in self.control if t.outcome != "passed"]


# --- patch files ----------------------------------------------------------------------------------------------


def parse_patch(source: Path, slug: str | None = None) -> Patch:
    """Read a catalogue patch file; raises :class:`PatchError` naming what is wrong."""
    match = PATCH_NAME_RE.match(source.name)
    if match is None:
        raise PatchError(
            f"{source}: the file name must be <NN>-<short-name>.patch (lower case, digits, dashes)"
        )
    text = source.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    header: dict[str, list[str]] = {}
    start = None
    for i, line in enumerate(lines):
        if line.startswith("--- "):
            start = i
            break
        stripped = line.strip()
        if not stripped:
            continue
        kv = HEADER_RE.match(stripped)
        if kv is None:
            raise PatchError(f"{source}:{i + 1}: expected a 'Key: value' header line, got {stripped!r}")
        key = kv.group(1).lower()
        if key not in KNOWN_KEYS:
            raise PatchError(
                f"{source}:{i + 1}: unknown header key {kv.group(1)!r} (known: {', '.join(KNOWN_KEYS)})"
            )
        if key in header and key != "also-fails":
            raise PatchError(f"{source}:{i + 1}: {kv.group(1)!r} given twice")
        header.setdefault(key, []).append(kv.group(2).strip())
    missing = [k for k in REQUIRED_KEYS if not (header.get(k) or [""])[0]]
    if missing:
        raise PatchError(f"{source}: the header lacks {', '.join(missing)}")
    if start is None or start + 1 >= len(lines) or not lines[start + 1].startswith("+++ "):
        raise PatchError(f"{source}: no unified diff (a '--- a/<path>' line followed by '+++ b/<path>')")
    old_path = _diff_path(lines[start], "--- ", "a/")
    new_path = _diff_path(lines[start + 1], "+++ ", "b/")
    if old_path != new_path:
        raise PatchError(
            f"{source}: the diff renames {old_path} to {new_path}; a patch edits one file in place"
        )
    diff = "".join(lines[start:])
    if not any(HUNK_RE.match(line) for line in lines[start + 2 :]):
        raise PatchError(f"{source}: the diff has no hunk")
    return Patch(
        slug=slug or source.parent.name,
        name=source.stem,
        source=source,
        path=old_path,
        step=header["step"][0],
        bug_class=header["class"][0],
        summary=header["summary"][0],
        diff=diff,
        known_gap=(header.get("known-gap") or [""])[0] or None,
        also_fails=tuple(v.split()[0] for v in header.get("also-fails", []) if v.strip()),
    )


def _diff_path(line: str, marker: str, prefix: str) -> str:
    path = line[len(marker) :].split("\t")[0].strip()
    return path[len(prefix) :] if path.startswith(prefix) else path


def apply_patch(text: str, diff: str, where: str = "patch") -> str:
    """Apply a unified diff of one file to ``text``; raises :class:`PatchError` if a hunk does not match.

    Each hunk's old lines (context and removals) must match exactly, at the line the hunk names (shifted by what
    earlier hunks added or removed) or else at the nearest line where they do, as ``patch`` does with no fuzz.
    """
    lines = text.splitlines(keepends=True)
    diff_lines = diff.splitlines(keepends=True)
    i = 0
    while i < len(diff_lines) and not HUNK_RE.match(diff_lines[i]):
        i += 1
    out: list[str] = []
    cursor = 0  # the next line of ``lines`` not copied to ``out`` yet
    offset = 0  # where the last hunk applied, minus where it said it would
    hunk_no = 0
    while i < len(diff_lines):
        head = HUNK_RE.match(diff_lines[i])
        if head is None:
            raise PatchError(f"{where}: unexpected line {diff_lines[i]!r} between hunks")
        hunk_no += 1
        old: list[str] = []
        new: list[str] = []
        i += 1
        while i < len(diff_lines) and not HUNK_RE.match(diff_lines[i]):
            line = diff_lines[i]
            i += 1
            if line.startswith("\\"):  # "\ No newline at end of file"
                continue
            if line.startswith(" ") or line in ("\n", "\r\n"):  # a blank context line may lose its space
                old.append(line[1:] if line.startswith(" ") else "\n")
                new.append(old[-1])
            elif line.startswith("-"):
                old.append(line[1:])
            elif line.startswith("+"):
                new.append(line[1:])
            else:
                raise PatchError(f"{where}: hunk {hunk_no}: a line must start with ' ', '-' or '+': {line!r}")
        stated = int(head.group(1)) - (1 if old else 0)  # a pure insertion names the line it follows
        at = _find(lines, old, stated + offset, cursor)
        if at is None:
            shown = "".join(old[:6]) or "(nothing)"
            raise PatchError(
                f"{where}: hunk {hunk_no} (at line {head.group(1)}) does not match the reference; "
                f"its first old lines are:\n{shown}"
            )
        out.extend(lines[cursor:at])
        out.extend(new)
        cursor = at + len(old)
        offset = at - stated
    out.extend(lines[cursor:])
    return "".join(out)


def _find(lines: list[str], block: list[str], expected: int, lowest: int) -> int | None:
    """The position of ``block`` in ``lines`` nearest to ``expected``, at or after ``lowest``."""
    n = len(block)
    for delta in range(len(lines) + 1):
        for pos in (expected - delta, expected + delta) if delta else (expected,):
            if lowest <= pos <= len(lines) - n and lines[pos : pos + n] == block:
                return pos
    return None


def discover(bugs_dir: Path = BUGS_DIR, slugs: Iterable[str] | None = None) -> dict[str, list[Patch]]:
    """``slug -> patches`` (sorted by name) for every catalogue folder, or only ``slugs``."""
    wanted = set(slugs) if slugs is not None else None
    found: dict[str, list[Patch]] = {}
    if not bugs_dir.is_dir():
        return found
    for folder in sorted(p for p in bugs_dir.iterdir() if p.is_dir()):
        if wanted is not None and folder.name not in wanted:
            continue
        found[folder.name] = [parse_patch(f, folder.name) for f in sorted(folder.glob("*.patch"))]
    return found


# --- workspaces -----------------------------------------------------------------------------------------------


def _module(slug: str, content_dir: Path = CONTENT_DIR):
    from grading.engine.workspace import load_module

    return load_module(content_dir / slug)


def references(module: Any) -> dict[str, str]:
    """Every learner file of ``module`` as its reference text (workspace path -> text)."""
    return {f.path: f.reference_path(module.root).read_text(encoding="utf-8") for f in module.files}


def patched_text(module: Any, patch: Patch) -> str:
    """The reference of the file ``patch`` edits, with the patch applied."""
    refs = references(module)
    if patch.path not in refs:
        raise PatchError(
            f"{patch.id}: {patch.path} is not a learner file of {module.slug} ({', '.join(refs)})"
        )
    return apply_patch(refs[patch.path], patch.diff, patch.id)


def submission(module: Any, patch: Patch | None = None) -> dict[str, bytes]:
    """What the patched learner submits: every learner file as its reference, the patched one replaced."""
    files = {path: text.encode("utf-8") for path, text in references(module).items()}
    if patch is not None:
        files[patch.path] = patched_text(module, patch).encode("utf-8")
    return files


def write_workspace(module: Any, files: dict[str, bytes], dest: Path) -> Path:
    """The engine's workspace for ``files`` (the CLI's: needs as the module's prerequisites see them) in ``dest``."""
    from grading.engine.workspace import build_workspace

    for path, data in build_workspace(module, files).items():
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    prebuild_crates(module, dest)
    return dest


#: One target dir for every in-process Rust build (our own crate, patched): the dependencies compile once.
RUST_TARGET = REPO_ROOT / "var" / "rust-inprocess-target"


def prebuild_crates(module: Any, workspace: Path) -> None:
    """Compile each attempted crate of ``workspace`` now, outside any test's timeout (a compile takes seconds to
    tens of seconds): ``.lab-rust/<module>.so``, or ``.lab-rust/<module>.error`` with rustc's message. The
    in-process harness imports the one or raises the other, as the learner host would after its own build."""
    from grading.engine import rustbuild
    from grading.engine.procs import rust_sysroot
    from modules.spec import crate_attempted

    for entry in module.files:
        crate = entry.crate
        text = (workspace / entry.path).read_text(encoding="utf-8")
        if crate is None or not crate_attempted(entry, text):
            continue
        out = workspace / rustbuild.BUILD_DIR
        out.mkdir(parents=True, exist_ok=True)
        # most workspaces hold the reference lib.rs: one compile per distinct text, kept across runs
        known = RUST_TARGET / "by-text" / hashlib.sha256(text.encode()).hexdigest()
        if not (known.with_suffix(".so").is_file() or known.with_suffix(".error").is_file()):
            known.parent.mkdir(parents=True, exist_ok=True)
            toolchain = str(rust_sysroot() or rustbuild.TOOLCHAIN_TARGET)
            try:
                built = rustbuild.compile_crate(
                    workspace, crate.root, 900, target=RUST_TARGET, toolchain=toolchain
                )
            except rustbuild.RustBuildError as exc:
                known.with_suffix(".error").write_text(str(exc), encoding="utf-8")
            else:
                shutil.copyfile(built, known.with_suffix(".so"))
        for suffix in (".so", ".error"):
            if known.with_suffix(suffix).is_file():
                shutil.copyfile(known.with_suffix(suffix), out / f"{crate.module}{suffix}")


# --- running the module's tests in-process --------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    id: str
    workspace: Path
    select: str  # step-visible | outside-step | visible | all
    step: str | None = None
    first_failure: bool = False  # skip the run's remaining tests once one failed
    graded_runs: bool = True  # False: leave out the tests marked graded_run (the CI checks)


def run_inprocess(
    module_dir: Path,
    runs: Sequence[Run],
    work_dir: Path,
    *,
    timeout_s: float = 900,
    test_timeout_s: float = TEST_TIMEOUT_S,
) -> tuple[dict[str, list[Outcome]], float]:
    """Run the module's tests for every run in ONE child pytest (in-process harness); return outcomes and seconds.

    A selected test that never finished (the child died or timed out) is ``not run``, which counts as failed.
    """
    manifest = work_dir / "manifest.json"
    results = work_dir / "results.jsonl"
    manifest.write_text(
        json.dumps({"runs": [{"id": r.id, "workspace": str(r.workspace), "select": r.select, "step": r.step,
                              "first_failure": r.first_failure, "graded_runs": r.graded_runs} for r in runs]}),
        encoding="utf-8",
    )  # fmt: skip
    ini = work_dir / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("NANOCHAT_BASE_DIR", "PYTEST_ADDOPTS")}
    env.update(
        LAB_CATALOGUE_MANIFEST=str(manifest),
        LAB_CATALOGUE_RESULTS=str(results),
        PYTHONPATH=os.pathsep.join([str(REPO_ROOT), str(HARNESS_DIR)]),
        PYTHONDONTWRITEBYTECODE="1",
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",  # only the plugins named below, as in the judge
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )
    cmd = [
        sys.executable, "-m", "pytest", "-q", "-c", str(ini), "--rootdir", str(work_dir),
        "--basetemp", str(work_dir / "basetemp"), "-p", "no:cacheprovider", "-p", "pytest_timeout",
        "-p", "inprocess_learner", "-p", "catalogue_plugin", "-o", f"timeout={test_timeout_s:g}",
        "-W", "ignore::DeprecationWarning", str(module_dir / "tests"),
    ]  # fmt: skip
    start = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, env=env, cwd=work_dir, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        tail = (proc.stdout[-3000:] + proc.stderr[-3000:]).strip()
    except subprocess.TimeoutExpired as exc:
        tail = f"the child pytest ran past {timeout_s:g} s: {exc}"
    seconds = time.monotonic() - start
    selected: list[dict[str, Any]] = []
    finished: dict[tuple[str, str], dict[str, Any]] = {}
    if results.exists():
        for line in results.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["kind"] == "selected":
                selected = record["tests"]
            else:
                finished[(record["run"], record["test"])] = record
    if not selected:
        raise RuntimeError(f"the child pytest for {module_dir.name} selected no test:\n{tail}")
    outcomes: dict[str, list[Outcome]] = {r.id: [] for r in runs}
    for test in selected:
        done = finished.get((test["run"], test["test"]))
        outcomes[test["run"]].append(
            Outcome(
                test=test["test"],
                step=test["step"],
                visibility=test["visibility"],
                outcome=done["outcome"] if done else "not run",
                seconds=float(done.get("seconds", 0.0)) if done else 0.0,
                message=done["message"]
                if done
                else f"the child ended before this test finished: {tail[-800:]}",
            )
        )
    return outcomes, seconds


def judge(
    slug: str,
    patches: Sequence[Patch],
    select: str = "step-visible",
    *,
    content_dir: Path = CONTENT_DIR,
    work_dir: Path | None = None,
    timeout_s: float = 900,
    test_timeout_s: float = TEST_TIMEOUT_S,
) -> CatalogueRun:
    """Judge every patch of one module in one child pytest, with the unpatched reference as the control.

    ``select``: ``step-visible`` (each patch against the visible tests of its step, up to the first that fails, so
    ``caught_by`` names one test; the control runs every visible test), ``outside-step`` (each patch against every
    test of the other steps; the control runs all) or ``all``. The two CI selections leave out the tests marked
    ``graded_run`` (a module's graded training run), for the patches and the control alike; ``all`` keeps them.
    """
    if select not in SELECTS:
        raise ValueError(f"select must be one of {SELECTS}")
    module = _module(slug, content_dir)
    with tempfile.TemporaryDirectory(prefix=f"catalogue-{slug}-", dir=work_dir) as tmp:
        root = Path(tmp)
        graded_runs = select == "all"
        runs = [Run(CONTROL, write_workspace(module, submission(module), root / CONTROL),
                    "visible" if select == "step-visible" else "all", graded_runs=graded_runs)]  # fmt: skip
        for patch in patches:
            if patch.name == CONTROL:
                raise PatchError(f"{patch.id}: the name {CONTROL!r} is the control's")
            files = submission(module, patch)
            workspace = write_workspace(module, files, root / patch.name)
            # The CI check needs one failing test per patch: the rest of its run is skipped.
            first_failure = select == "step-visible"
            runs.append(Run(patch.name, workspace, select, patch.step, first_failure, graded_runs))
        outcomes, seconds = run_inprocess(
            module.root, runs, root, timeout_s=timeout_s, test_timeout_s=test_timeout_s
        )
    verdicts = [Verdict(p, outcomes[p.name]) for p in patches]
    return CatalogueRun(slug, select, outcomes[CONTROL], verdicts, seconds)


# --- the command line -----------------------------------------------------------------------------------------


def _report(runs: list[CatalogueRun], verbose: bool) -> str:
    rows = [("module", "patches", "caught (visible, right step)", "caught only elsewhere/hidden", "missed",
             "near-miss breaches", "kill rate", "s/patch")]  # fmt: skip
    lines: list[str] = []
    for run in runs:
        n = len(run.verdicts)
        caught = sum(v.status == "caught" for v in run.verdicts)
        elsewhere = sum(v.status == "elsewhere" for v in run.verdicts)
        missed = sum(v.status == "missed" for v in run.verdicts)
        outside_ran = run.select != "step-visible"
        not_near = str(sum(not v.near_miss for v in run.verdicts)) if outside_ran else "-"
        rate = f"{100 * caught / n:.0f} %" if n else "-"
        per = f"{run.seconds / max(n, 1):.2f}"
        rows.append((run.slug, str(n), str(caught), str(elsewhere), str(missed), not_near, rate, per))
        if run.control_failures:
            lines.append(f"{run.slug}: THE REFERENCE FAILS (no verdict is trusted): "
                         + ", ".join(t.test for t in run.control_failures))  # fmt: skip
        for v in run.verdicts:
            if verbose or v.status != "caught":
                lines.append(
                    f"{v.patch.id} [{v.patch.step}, {v.patch.bug_class}] {v.status}: {v.patch.summary}"
                )
                if v.patch.known_gap:
                    lines.append(f"    known gap: {v.patch.known_gap}")
                for t in v.caught_by if verbose else []:
                    lines.append(f"    caught by {t.test}")
                for t in v.caught_elsewhere:
                    lines.append(f"    fails elsewhere: {t.test} ({t.visibility}, {t.step})")
            for t in v.undeclared_failures:
                lines.append(
                    f"{v.patch.id}: NOT A NEAR-MISS, {t.test} ({t.step}) fails and no Also-fails names it"
                )
            for d in v.stale_declarations if outside_ran else []:
                lines.append(
                    f"{v.patch.id}: Also-fails {d} is stale: no test outside {v.patch.step} fails there"
                )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    table = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(table + ([""] + lines if lines else []))


def _as_json(runs: list[CatalogueRun]) -> list[dict[str, Any]]:
    return [
        {
            "module": run.slug,
            "seconds": round(run.seconds, 2),
            "control_failures": [t.test for t in run.control_failures],
            "patches": [
                {
                    "id": v.patch.id,
                    "step": v.patch.step,
                    "class": v.patch.bug_class,
                    "summary": v.patch.summary,
                    "status": v.status,
                    "known_gap": v.patch.known_gap,
                    "caught_by": [t.test for t in v.caught_by],
                    "fails_elsewhere": [t.test for t in v.caught_elsewhere],
                    "outside_failures": [t.test for t in v.outside_failures],
                    "undeclared_failures": [t.test for t in v.undeclared_failures],
                    "stale_declarations": v.stale_declarations,
                    "seconds": round(sum(t.seconds for t in v.tests), 2),
                }
                for v in run.verdicts
            ],
        }
        for run in runs
    ]


def new_patch(
    slug: str, name: str, edited: Path, *, path: str | None, step: str, bug_class: str, summary: str,
    bugs_dir: Path = BUGS_DIR, content_dir: Path = CONTENT_DIR,
) -> Path:  # fmt: skip
    """Write ``<bugs_dir>/<slug>/<NN>-<name>.patch`` from an edited copy of a learner file; return its path."""
    module = _module(slug, content_dir)
    refs = references(module)
    if path is None:
        if len(refs) != 1:
            raise SystemExit(f"{slug} has several learner files ({', '.join(refs)}): say which with --file")
        path = next(iter(refs))
    if path not in refs:
        raise SystemExit(f"{path} is not a learner file of {slug} ({', '.join(refs)})")
    if step not in module.step_ids:
        raise SystemExit(f"{step} is not a step of {slug} ({', '.join(module.step_ids)})")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise SystemExit("the name is lower case letters, digits and dashes")
    text = edited.read_text(encoding="utf-8")
    if path.endswith(".py"):
        ast.parse(text)  # a near-miss still compiles (a Rust one is compiled by the check itself)
    diff = "".join(
        difflib.unified_diff(
            refs[path].splitlines(keepends=True), text.splitlines(keepends=True), f"a/{path}", f"b/{path}"
        )  # fmt: skip
    )
    if not diff:
        raise SystemExit(f"{edited} is the reference of {path}: nothing to catalogue")
    folder = bugs_dir / slug
    folder.mkdir(parents=True, exist_ok=True)
    taken = [int(m.group(1)) for f in folder.glob("*.patch") if (m := PATCH_NAME_RE.match(f.name))]
    target = folder / f"{max(taken, default=0) + 1:02d}-{name}.patch"
    header = f"Step: {step}\nClass: {bug_class}\nSummary: {summary}\n\n"
    target.write_text(header + diff, encoding="utf-8")
    parse_patch(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bug_catalogue",
        description="Run the bug catalogues (tests/content/bugs/) and print the kill rate per module.",
    )
    sub = parser.add_subparsers(dest="command")
    new = sub.add_parser(
        "new", help="add a patch to a module's catalogue from an edited copy of a learner file"
    )
    parser.add_argument(
        "--bugs-dir", type=Path, default=BUGS_DIR, help="the catalogues' folder (default: %(default)s)"
    )
    parser.add_argument("--module", action="append", default=None, metavar="SLUG",
                        help="only this module's catalogue (repeatable; default: every catalogue)")  # fmt: skip
    parser.add_argument(
        "--select",
        choices=SELECTS,
        default="all",
        help="tests each patch runs against: all (default; tells hidden and other-step catches apart), "
        "step-visible (the CI check: the visible tests of its step), outside-step (the near-miss check)",
    )
    parser.add_argument(
        "--test-timeout",
        type=float,
        default=TEST_TIMEOUT_S,
        metavar="SECONDS",
        help=f"fail a test that runs longer than this (default {TEST_TIMEOUT_S:g})",
    )
    parser.add_argument("--json", action="store_true", help="print the verdicts as JSON instead of the table")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list every patch and the tests that caught it"
    )
    new.add_argument("slug", help="the module (content/<slug>)")
    new.add_argument(
        "name", help="the patch's short name, e.g. gelu-not-relu2 (the number is the next free one)"
    )
    new.add_argument("--edited", type=Path, required=True, help="the learner file with the bug in it")
    new.add_argument("--file", default=None, help="the learner file's workspace path (needed if several)")
    new.add_argument("--step", required=True, help="the step whose visible tests should catch it")
    new.add_argument("--bug-class", required=True, help="the bug class, e.g. off-by-one, wrong axis")
    new.add_argument("--summary", required=True, help="one line: what the learner got wrong")
    new.add_argument(
        "--bugs-dir", type=Path, default=BUGS_DIR, help="the catalogues' folder (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.command == "new":
        target = new_patch(args.slug, args.name, args.edited, path=args.file, step=args.step,
                           bug_class=args.bug_class, summary=args.summary, bugs_dir=args.bugs_dir)  # fmt: skip
        print(target.relative_to(REPO_ROOT) if target.is_relative_to(REPO_ROOT) else target)
        return 0
    catalogues = discover(args.bugs_dir, slugs=args.module)
    if args.module:
        unknown = sorted(set(args.module) - set(catalogues))
        if unknown:
            parser.error(f"no catalogue for {', '.join(unknown)} under {args.bugs_dir}")
    runs = [
        judge(slug, patches, args.select, test_timeout_s=args.test_timeout)
        for slug, patches in catalogues.items()
        if patches
    ]
    print(json.dumps(_as_json(runs), indent=2) if args.json else _report(runs, args.verbose))
    return 1 if any(run.control_failures for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
