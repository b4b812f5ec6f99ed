"""The bug catalogues (``tests/content/bugs/<slug>/*.patch``): well-formed, and caught by the right visible tests.

- Static checks (no child process): every patch parses, names a learner file and a step of its module, applies to
  the current reference and still compiles; a catalogued module has at least 10 distinct patches.
- The CI check, per module, in one child pytest (``scripts/bug_catalogue.py``): each patch fails at least one
  VISIBLE test of its step, unless its ``Known-gap`` line says why not yet; then it must still be missed, so the
  line goes as soon as a test catches it. The unpatched reference runs in the same child and must pass every
  visible test, or a broken harness would count as kills. Both leave out a module's graded training run (tests
  marked ``graded_run``): a training step's cheap tests (a few steps against nanochat's) must catch its bugs.
- The near-miss check (slow): each patch fails no test outside its step beyond the ``Also-fails`` it declares.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from modules import spec as module_spec
from scripts import bug_catalogue as bc

CATALOGUES = bc.discover()
PATCHES = [p for patches in CATALOGUES.values() for p in patches]
MIN_PATCHES = 10


def _listing(verdicts, why) -> str:
    return "\n".join(f"  {v.patch.id} [{v.patch.step}, {v.patch.bug_class}]: {why(v)}" for v in verdicts)


# --- static checks --------------------------------------------------------------------------------------------


def test_every_catalogue_folder_is_a_module_with_enough_patches():
    assert CATALOGUES, f"no catalogue under {bc.BUGS_DIR}"
    slugs = {p.name for p in bc.CONTENT_DIR.iterdir() if (p / "module.yaml").is_file()}
    for slug, patches in CATALOGUES.items():
        assert slug in slugs, f"tests/content/bugs/{slug}: no module content/{slug}"
        assert len(patches) >= MIN_PATCHES, f"{slug}: {len(patches)} patches, at least {MIN_PATCHES} wanted"
        numbers = [p.name[:2] for p in patches]
        assert len(set(numbers)) == len(numbers), f"{slug}: two patches share a number: {sorted(numbers)}"


@pytest.mark.parametrize("patch", PATCHES, ids=[p.id for p in PATCHES])
def test_a_patch_targets_a_step_of_its_module_and_applies_to_the_reference(patch):
    module = bc._module(patch.slug)
    assert patch.step in module.step_ids, f"{patch.id}: Step {patch.step} is not one of {module.step_ids}"
    for entry in patch.also_fails:
        assert "::" in entry or entry in module.step_ids, (
            f"{patch.id}: Also-fails {entry!r} is no step or test"
        )
        assert entry != patch.step, f"{patch.id}: Also-fails names its own step"
    text = bc.patched_text(module, patch)
    assert text != bc.references(module)[patch.path], f"{patch.id}: the patch changes nothing"
    if patch.path.endswith(".rs"):  # only the learner's regions change; rustc compiles it in the catch check
        entry = module.file(patch.path)
        module_spec.rust_regions_check(entry, text, bc.references(module)[patch.path])
    else:
        ast.parse(text, filename=patch.path)  # a near-miss still compiles


@pytest.mark.parametrize("slug", sorted(CATALOGUES))
def test_the_patches_of_a_module_are_distinct(slug):
    module = bc._module(slug)
    seen: dict[str, str] = {}
    for patch in CATALOGUES[slug]:
        text = patch.path + "\0" + bc.patched_text(module, patch)
        assert text not in seen, f"{patch.id} makes the same file as {seen.get(text)}"
        seen[text] = patch.id


# --- the patch format -----------------------------------------------------------------------------------------

REFERENCE = "".join(f"line {i}\n" for i in range(1, 21))


def _write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / "05-gpt" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


DIFF = "--- a/nanochat/x.py\n+++ b/nanochat/x.py\n@@ -4,3 +4,3 @@\n line 4\n-line 5\n+LINE FIVE\n line 6\n"


def test_a_patch_file_gives_its_header_and_diff(tmp_path):
    path = _write(tmp_path, "03-five.patch", "Step: step2\nClass: wrong axis\nSummary: five\n"
                  "Known-gap: not yet\nAlso-fails: step3 why\nAlso-fails: hidden/t.py::test_a  why\n\n" + DIFF)  # fmt: skip
    patch = bc.parse_patch(path)
    assert (patch.id, patch.path, patch.step, patch.bug_class, patch.summary, patch.known_gap) == (
        "05-gpt/03-five",
        "nanochat/x.py",
        "step2",
        "wrong axis",
        "five",
        "not yet",
    )
    assert patch.also_fails == ("step3", "hidden/t.py::test_a")
    assert bc.apply_patch(REFERENCE, patch.diff) == REFERENCE.replace("line 5\n", "LINE FIVE\n")


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        ("5-x.patch", "Step: step1\nClass: c\nSummary: s\n\n" + DIFF, "<NN>-<short-name>.patch"),
        ("01-x.patch", "Class: c\nSummary: s\n\n" + DIFF, "lacks step"),
        ("01-x.patch", "Step: step1\nClass: c\nSummary: s\nColour: red\n\n" + DIFF, "unknown header key"),
        ("01-x.patch", "Step: step1\nStep: step2\nClass: c\nSummary: s\n\n" + DIFF, "given twice"),
        ("01-x.patch", "Step: step1\nClass: c\nSummary: s\n", "no unified diff"),
        ("01-x.patch", "Step: step1\nClass: c\nSummary: s\n\n--- a/x.py\n+++ b/y.py\n@@ -1 +1 @@\n-a\n+b\n", "renames"),
    ],
)  # fmt: skip
def test_a_malformed_patch_file_is_refused_with_the_reason(tmp_path, name, body, expected):
    with pytest.raises(bc.PatchError, match=re.escape(expected)):
        bc.parse_patch(_write(tmp_path, name, body))


def test_a_hunk_applies_where_its_context_moved_to():
    moved = "new first line\nnew second line\n" + REFERENCE
    assert bc.apply_patch(moved, DIFF) == moved.replace("line 5\n", "LINE FIVE\n")


def test_a_hunk_whose_context_is_gone_fails_naming_the_hunk():
    changed = REFERENCE.replace("line 6\n", "line six\n")
    with pytest.raises(
        bc.PatchError, match=r"05-gpt/09-x: hunk 1 \(at line 4\) does not match the reference"
    ):
        bc.apply_patch(changed, DIFF, "05-gpt/09-x")


def test_two_hunks_and_a_pure_insertion_apply_in_order():
    diff = "@@ -1,2 +1,3 @@\n line 1\n+inserted\n line 2\n@@ -19,2 +20,1 @@\n line 19\n-line 20\n"
    expected = REFERENCE.replace("line 1\n", "line 1\ninserted\n").replace("line 20\n", "")
    assert bc.apply_patch(REFERENCE, diff) == expected


# --- the command line on a small catalogue (module 1: no torch) ------------------------------------------------


def test_the_cli_writes_a_patch_and_reports_what_caught_it(tmp_path, capsys):
    hello = (bc.CONTENT_DIR / "01-onboarding" / "reference" / "hello.py").read_text(encoding="utf-8")
    no_strip = tmp_path / "no_strip.py"
    no_strip.write_text(
        hello.replace("    cleaned = name.strip()\n", "    cleaned = name\n"), encoding="utf-8"
    )
    silent = tmp_path / "silent.py"
    silent.write_text(hello.replace('"name must not be empty"', '"empty"'), encoding="utf-8")
    bugs = tmp_path / "bugs"
    for name, edited in (("no-strip", no_strip), ("terse-error", silent)):
        code = bc.main(["new", "01-onboarding", name, "--edited", str(edited), "--step", "step2",
                        "--bug-class", "c", "--summary", f"{name} summary", "--bugs-dir", str(bugs)])  # fmt: skip
        assert code == 0
    assert sorted(p.name for p in (bugs / "01-onboarding").iterdir()) == [
        "01-no-strip.patch",
        "02-terse-error.patch",
    ]
    capsys.readouterr()
    assert bc.main(["--bugs-dir", str(bugs), "--verbose"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^01-onboarding\s+2\s+1\s+0\s+1\s+0\s+50 %", out, re.M), out
    caught = out.split("01-onboarding/01-no-strip [step2, c] caught: no-strip summary\n", 1)[1]
    assert caught.startswith("    caught by visible/test_hello.py::test_greet_s"), out
    assert "01-onboarding/02-terse-error [step2, c] missed: terse-error summary" in out


def test_the_ci_selections_leave_out_graded_runs_and_the_kill_rate_keeps_them(tmp_path):
    module = tmp_path / "m"
    (module / "tests" / "visible").mkdir(parents=True)
    (module / "tests" / "visible" / "test_m.py").write_text(
        "import pytest\n\n\n"
        '@pytest.mark.step("step1")\ndef test_cheap(learner):\n    pass\n\n\n'
        '@pytest.mark.graded_run\n@pytest.mark.step("step1")\ndef test_graded(learner):\n    pass\n',
        encoding="utf-8",
    )
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (tmp_path / "a").mkdir()
    runs = [bc.Run("ci", workspace, "step-visible", "step1", graded_runs=False)]
    outcomes, _ = bc.run_inprocess(module, runs, (tmp_path / "a").resolve(), timeout_s=120)
    assert [(t.test, t.outcome) for t in outcomes["ci"]] == [("visible/test_m.py::test_cheap", "passed")]
    runs = [bc.Run("all", workspace, "all", "step1")]
    (tmp_path / "b").mkdir()
    outcomes, _ = bc.run_inprocess(module, runs, (tmp_path / "b").resolve(), timeout_s=120)
    assert sorted(t.test for t in outcomes["all"]) == [
        "visible/test_m.py::test_cheap",
        "visible/test_m.py::test_graded",
    ]


# --- the module checks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", sorted(CATALOGUES))
def test_every_patch_is_caught_by_a_visible_test_of_its_step(slug):
    run = bc.judge(slug, CATALOGUES[slug], "step-visible")
    assert not run.control_failures, "the reference fails, so no verdict can be trusted:\n" + "\n".join(
        f"  {t.test}: {t.message}" for t in run.control_failures
    )
    missed = [v for v in run.verdicts if v.status != "caught" and not v.patch.known_gap]
    assert not missed, "not caught by a visible test of the patch's step:\n" + _listing(
        missed, lambda v: v.patch.summary
    )
    closed = [v for v in run.verdicts if v.status == "caught" and v.patch.known_gap]
    assert not closed, "caught now: delete the patch's Known-gap line:\n" + _listing(
        closed, lambda v: ", ".join(t.test for t in v.caught_by)
    )


@pytest.mark.slow
@pytest.mark.parametrize("slug", sorted(CATALOGUES))
def test_every_patch_is_a_near_miss(slug):
    run = bc.judge(slug, CATALOGUES[slug], "outside-step")
    assert not run.control_failures, "the reference fails:\n" + "\n".join(
        t.test for t in run.control_failures
    )
    breaches = [v for v in run.verdicts if not v.near_miss]
    assert not breaches, "tests outside the patch's step fail other than its Also-fails say:\n" + _listing(
        breaches,
        lambda v: "; ".join(
            [f"{t.test} fails ({t.step})" for t in v.undeclared_failures]
            + [f"Also-fails {d} no longer fails" for d in v.stale_declarations]
        ),
    )
