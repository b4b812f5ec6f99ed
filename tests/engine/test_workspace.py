"""The engine's view of a module (the one module spec), submission validation and the learner workspace."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import FIXTURES

from grading.engine.workspace import (
    SpecError,
    SubmissionError,
    build_workspace,
    load_module,
    reference_files,
    validate_files,
)

MODULE_YAML = """\
slug: tmp
order: 1
status: ready
title: {en: "T", zh: "T"}
summary: {en: "T", zh: "T"}
prerequisites: []
goals: {en: ["g"], zh: ["g"]}
steps:
  - {id: step1, title: {en: "S", zh: "S"}}
runtime: python
"""


def write_module(tmp_path: Path, files: str, extra: str = "") -> Path:
    module = tmp_path / "tmp"
    module.mkdir(exist_ok=True)
    (module / "module.yaml").write_text(MODULE_YAML + "files:\n" + files + extra)
    return module


def test_fixture_module_loads_with_its_editable_files_steps_and_runtime():
    spec = load_module(FIXTURES / "tiny_torch")
    assert spec.slug == "tiny_torch" and spec.runtime == "torch"
    assert spec.editable_paths == ["nanochat/tinymlp.py"] and spec.step_ids == ["step1", "step2"]
    assert spec.limits == {"wall_seconds": 60}


@pytest.mark.parametrize(
    "text",
    ["- a list\n", "files: []\n", "files: [{nopath: 1}]\n", "runtime: java\n"],
)
def test_malformed_module_yaml_is_refused(tmp_path, text):
    (tmp_path / "module.yaml").write_text(text)
    with pytest.raises(SpecError):
        load_module(tmp_path)


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        ({"/abs/add.py": b""}, "relative"),
        ({"a\\b.py": b""}, "relative"),
        ({"./add.py": b""}, "normalised"),
        ({"": b""}, "non-empty"),
        ({"add.py": 3}, "text"),
        ({"add.py": b"\xc3"}, "UTF-8"),
        ({"sub.py": b""}, "not an editable file"),
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
        validate_files(load_module(FIXTURES / "add"), ["add.py"])


def test_the_module_caps_file_and_total_size(tmp_path):
    module = write_module(
        tmp_path,
        "  - {path: a.py, reference: a.py, stubs: [{function: f, step: step1, todo: t}]}\n"
        "  - {path: b.py, reference: b.py, stubs: [{function: f, step: step1, todo: t}]}\n",
        "limits: {file_bytes: 1024, total_bytes: 1536}\n",
    )
    spec = load_module(module)
    with pytest.raises(SubmissionError, match="larger than 1024 bytes"):
        validate_files(spec, {"a.py": b"x" * 1025})
    with pytest.raises(SubmissionError, match="1536 bytes in total"):
        validate_files(spec, {"a.py": b"x" * 1000, "b.py": b"y" * 1000})


def test_reference_package_is_renamed_and_skips_caches(tmp_path):
    ref = tmp_path / "nanochat_ref"
    (ref / "__pycache__").mkdir(parents=True)
    (ref / "gpt.py").write_text("gpt")
    (ref / "__pycache__" / "gpt.cpython-311.pyc").write_bytes(b"pyc")
    (ref / "tasks").mkdir()
    (ref / "tasks" / "x.py").write_text("x")
    assert reference_files(tmp_path) == {"nanochat/gpt.py": b"gpt", "nanochat/tasks/x.py": b"x"}


def test_workspace_drops_the_edited_reference_and_falls_back_to_the_generated_starter(tmp_path):
    repo = tmp_path / "repo"
    (repo / "nanochat_ref").mkdir(parents=True)
    for name in ("common.py", "muon.py"):
        (repo / "nanochat_ref" / name).write_text(f"ref = {name!r}\n")
    (repo / "nanochat_ref" / "gpt.py").write_text("def norm(x):\n    return x\n")
    module = write_module(
        tmp_path,
        "  - {path: nanochat/gpt.py, reference: nanochat_ref/gpt.py,"
        " stubs: [{function: norm, step: step1, todo: RMSNorm}]}\n",
    )
    spec = load_module(module)
    assert build_workspace(spec, {}, repo) == {
        "nanochat/common.py": b"ref = 'common.py'\n",
        "nanochat/muon.py": b"ref = 'muon.py'\n",
        "nanochat/gpt.py": b'def norm(x):\n    raise NotImplementedError("TODO(step 1): RMSNorm")\n',
    }
    assert build_workspace(spec, {"nanochat/gpt.py": b"mine"}, repo)["nanochat/gpt.py"] == b"mine"


def test_a_starter_that_cannot_be_cut_is_a_spec_error(tmp_path):
    repo = tmp_path / "repo"
    (repo / "nanochat_ref").mkdir(parents=True)
    (repo / "nanochat_ref" / "gpt.py").write_text("def other(x):\n    return x\n")
    module = write_module(
        tmp_path,
        "  - {path: nanochat/gpt.py, reference: nanochat_ref/gpt.py,"
        " stubs: [{function: norm, step: step1, todo: RMSNorm}]}\n",
    )
    with pytest.raises(SpecError, match="norm: no such function"):
        build_workspace(load_module(module), {}, repo)


def test_the_real_workspace_contains_the_reference_package_but_not_content():
    ws = build_workspace(load_module(FIXTURES / "add"), {"add.py": b"x"})
    assert ws["add.py"] == b"x" and "nanochat/__init__.py" in ws
    assert not any(p.startswith(("content/", "tests/", "nanochat_ref/", "reference/")) for p in ws)
