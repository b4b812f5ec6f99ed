"""module.yaml reading, submission validation and the learner workspace."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import FIXTURES

from grading.engine.workspace import (
    SubmissionError,
    build_workspace,
    load_module,
    reference_files,
    validate_files,
)


def write_module(tmp_path: Path, text: str) -> Path:
    (tmp_path / "module.yaml").write_text(text)
    return tmp_path


def test_fixture_module_loads_with_its_editable_files_steps_and_runtime():
    spec = load_module(FIXTURES / "tiny_torch")
    assert spec.slug == "tiny_torch" and spec.runtime == "torch"
    assert spec.editable_paths == ["nanochat/tinymlp.py"] and spec.steps == ["step1", "step2"]
    assert spec.limits == {"wall_seconds": 60}


@pytest.mark.parametrize(
    "text",
    [
        "- a list\n",
        "files: []\n",
        "files: [{nopath: 1}]\n",
        "files: [{path: a.py}]\nruntime: java\n",
        "files: [{path: a.py}]\nlimits: [1]\n",
    ],
)
def test_malformed_module_yaml_is_refused(tmp_path, text):
    with pytest.raises(ValueError):
        load_module(write_module(tmp_path, text))


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        ({"/abs/add.py": b""}, "relative"),
        ({"a\\b.py": b""}, "relative"),
        ({"./add.py": b""}, "normalised"),
        ({"": b""}, "non-empty"),
        ({"add.py": 3}, "text"),
        ({"add.py": b"\xc3"}, "UTF-8"),
    ],
)
def test_submissions_with_bad_paths_or_content_are_refused(files, needle):
    with pytest.raises(SubmissionError, match=needle):
        validate_files(load_module(FIXTURES / "add"), files)


def test_text_submissions_are_accepted_as_utf8_bytes():
    assert validate_files(load_module(FIXTURES / "add"), {"add.py": "é = 1\n"}) == {
        "add.py": "é = 1\n".encode()
    }
    with pytest.raises(SubmissionError):
        validate_files(load_module(FIXTURES / "add"), ["add.py"])  # type: ignore[arg-type]


def test_the_total_size_is_capped(tmp_path, monkeypatch):
    spec = load_module(write_module(tmp_path, "files: [{path: a.py}, {path: b.py}]\n"))
    monkeypatch.setattr("grading.engine.workspace.MAX_TOTAL_BYTES", 10)
    with pytest.raises(SubmissionError, match="submission is larger"):
        validate_files(spec, {"a.py": b"x" * 6, "b.py": b"y" * 6})


def test_reference_package_is_renamed_and_skips_caches(tmp_path):
    ref = tmp_path / "nanochat_ref"
    (ref / "__pycache__").mkdir(parents=True)
    (ref / "gpt.py").write_text("gpt")
    (ref / "__pycache__" / "gpt.cpython-311.pyc").write_bytes(b"pyc")
    (ref / "tasks").mkdir()
    (ref / "tasks" / "x.py").write_text("x")
    assert reference_files(tmp_path) == {"nanochat/gpt.py": b"gpt", "nanochat/tasks/x.py": b"x"}


def test_workspace_drops_the_edited_reference_and_falls_back_to_the_starter(tmp_path):
    repo = tmp_path / "repo"
    (repo / "nanochat_ref").mkdir(parents=True)
    for name in ("gpt.py", "common.py", "muon.py"):
        (repo / "nanochat_ref" / name).write_text(f"ref {name}")
    module = write_module(
        tmp_path,
        "files:\n"
        "  - {path: nanochat/gpt.py, starter: starter/gpt.py, reference: nanochat_ref/gpt.py}\n"
        "  - {path: nanochat/muon.py, reference: nanochat_ref/muon.py}\n",
    )
    (module / "starter").mkdir()
    (module / "starter" / "gpt.py").write_text("starter gpt")
    spec = load_module(module)
    assert build_workspace(spec, {}, repo) == {
        "nanochat/common.py": b"ref common.py",
        "nanochat/gpt.py": b"starter gpt",
    }
    assert build_workspace(spec, {"nanochat/gpt.py": b"mine"}, repo)["nanochat/gpt.py"] == b"mine"


def test_the_real_workspace_contains_the_reference_package_but_not_content():
    ws = build_workspace(load_module(FIXTURES / "add"), {"add.py": b"x"})
    assert ws["add.py"] == b"x" and "nanochat/__init__.py" in ws
    assert not any(p.startswith(("content/", "tests/", "nanochat_ref/")) for p in ws)
