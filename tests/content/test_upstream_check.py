"""``scripts/upstream_check.py``: nanochat's own files graded as learners' files, and the ``lab_addition`` marker.

The upstream repository is faked: a git repository built in a temporary folder holding our references under
nanochat's paths (one of them broken on purpose), so the check's verdicts are known in advance.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

from modules import spec as module_spec
from scripts import upstream_check as uc

REPO = Path(__file__).resolve().parents[2]
UPSTREAM = {"nanochat/dataset.py", "nanochat/gpt.py", "tasks/common.py", "scripts/base_train.py"}


@pytest.mark.parametrize(
    ("learner_path", "expected", "why"),
    [
        ("nanochat/gpt.py", "nanochat/gpt.py", "upstream nanochat/gpt.py"),
        ("nanochat/tasks/common.py", "tasks/common.py", "upstream tasks/common.py"),
        ("nanochat/scripts/base_train.py", None, "upstream script (scripts/base_train.py upstream)"),
        ("nanochat/bpe_python.py", None, "not in nanochat at this commit"),
        ("hello.py", None, "lab-only file"),
    ],
)
def test_a_learner_file_maps_to_its_upstream_library_file_or_says_why_not(learner_path, expected, why):
    got, reason = uc.upstream_path(learner_path, UPSTREAM)
    assert got == expected
    assert reason.startswith(why)


def test_lab_additions_are_read_from_functions_classes_and_pytestmark(tmp_path):
    tests = tmp_path / "tests"
    (tests / "visible").mkdir(parents=True)
    (tests / "hidden").mkdir()
    (tests / "visible" / "test_a.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.step('step1')\n@pytest.mark.lab_addition('helper-split')\ndef test_one(): pass\n\n"
        "def test_two(): pass\n\n"
        "@pytest.mark.lab_addition('extra-arg')\nclass TestGroup:\n    def test_in_class(self): pass\n\n"
        "NAME = 'x'\n@pytest.mark.lab_addition(NAME)\ndef test_not_a_literal(): pass\n",
        encoding="utf-8",
    )
    (tests / "hidden" / "test_b.py").write_text(
        "import pytest\npytestmark = [pytest.mark.lab_addition('whole-file')]\n\ndef test_three(): pass\n",
        encoding="utf-8",
    )
    assert uc.lab_additions(tmp_path) == {
        "visible/test_a.py::test_one": "helper-split",
        "visible/test_a.py::TestGroup::test_in_class": "extra-arg",
        "visible/test_a.py::test_not_a_literal": "",
        "hidden/test_b.py::test_three": "whole-file",
    }


def test_every_lab_addition_names_a_deviation_of_its_module():
    """DECISIONS.md: every test marked as a lab addition has its line in the guide's deviations box."""
    for folder in module_spec.discover(REPO / "content"):
        deviations = {d.id for d in module_spec.load(folder).deviations}
        for test, deviation in uc.lab_additions(folder).items():
            assert deviation in deviations, (
                f"{folder.name}: {test} is marked lab_addition({deviation!r}), which is no deviation id in "
                f"module.yaml ({sorted(deviations)})"
            )


def test_the_lab_addition_marker_is_registered_by_the_judge_and_the_in_process_harness():
    for path in (
        REPO / "grading" / "engine" / "judge.py",
        REPO / "tests" / "content" / "inprocess_learner.py",
    ):
        text = path.read_text(encoding="utf-8")
        strings = [n.value for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Constant)]
        assert any(isinstance(s, str) and s.startswith("lab_addition(deviation)") for s in strings), path


def _fake_upstream(tmp_path: Path, files: dict[str, str]) -> tuple[Path, str]:
    repo = tmp_path / "nanochat"
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text, encoding="utf-8")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "fake nanochat"], check=True)
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], check=True, capture_output=True, text=True)
    return repo, head.stdout.strip()


def _upstream_like(tmp_path: Path) -> tuple[Path, str]:
    """Upstream holds our dataset.py as is and a report.py whose floats have 2 decimals instead of 4."""
    report = (REPO / "nanochat_ref" / "report.py").read_text(encoding="utf-8")
    assert 'return f"{value:.4f}"' in report
    return _fake_upstream(
        tmp_path,
        {
            "nanochat/dataset.py": (REPO / "nanochat_ref" / "dataset.py").read_text(encoding="utf-8"),
            "nanochat/report.py": report.replace('return f"{value:.4f}"', 'return f"{value:.2f}"'),
            "scripts/chat_sft.py": "print('a top-level program')\n",
        },
    )


def test_the_check_reports_what_fails_on_the_upstream_file_and_what_passes(tmp_path, capsys):
    repo, commit = _upstream_like(tmp_path)
    args = ["--repo", str(repo), "--commit", commit, "--harness", "inprocess"]
    code = uc.main([*args, "--module", "03-dataset", "--module", "15-report", "--module", "09-sft"])
    out = capsys.readouterr().out
    assert code == 1, out  # a failure on a test that is not a lab addition
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line[:2].isdigit() and "  " in line}
    dataset, report = rows["03-dataset"], rows["15-report"]
    assert dataset[1] == "nanochat/dataset.py" and dataset[4:] == ["0", "0", "0"], out
    assert (
        report[1] == "nanochat/report.py"
        and int(report[4]) > 0
        and report[4] == report[6]
        and report[5] == "0"
    )
    assert "15-report: FAILS visible/" in out
    assert "09-sft: nanochat/scripts/chat_sft.py: our reference (upstream script" in out


def test_nothing_is_extracted_inside_the_repository(tmp_path, monkeypatch, capsys):
    repo, commit = _upstream_like(tmp_path)
    monkeypatch.setattr(uc, "REPO_ROOT", tmp_path)  # as if the temporary folder were inside the repository
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with pytest.raises(SystemExit) as exc:
        uc.main(["--repo", str(repo), "--commit", commit, "--module", "03-dataset"])
    assert exc.value.code == 2
    assert "is inside the repository" in capsys.readouterr().err


def test_a_commit_that_is_not_in_the_repository_is_refused(tmp_path, capsys):
    repo, _ = _fake_upstream(tmp_path, {"README.md": "x\n"})
    with pytest.raises(SystemExit) as exc:
        uc.main(["--repo", str(repo), "--commit", "48abd7d"])
    assert exc.value.code == 2
    assert "48abd7d does not resolve to a commit" in capsys.readouterr().err


@pytest.mark.slow
def test_the_engine_harness_grades_the_upstream_file_in_the_sandbox(tmp_path, capsys):
    repo, commit = _upstream_like(tmp_path)
    assert uc.main(["--repo", str(repo), "--commit", commit, "--module", "03-dataset"]) == 0
    out = capsys.readouterr().out
    assert "harness: engine" in out
    (row,) = [line.split() for line in out.splitlines() if line.startswith("03-dataset ")]
    assert int(row[2]) >= 10 and row[4:] == ["0", "0", "0"], out
