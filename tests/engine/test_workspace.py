"""The engine's view of a module (the one module spec), submission validation and the learner workspace."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from engine_helpers import FIXTURES

from grading.engine.workspace import (
    SpecError,
    SubmissionError,
    build_workspace,
    load_module,
    validate_files,
)
from modules import spec as module_spec
from modules import starters

REPO = Path(__file__).resolve().parents[2]
CONTENT = REPO / "content"
COURSE = module_spec.course(CONTENT)

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


def write_course(tmp_path: Path) -> tuple[Path, Path]:
    """A repo with nanochat_ref/{gpt,engine,common}.py and a course: 05-gpt writes gpt.py; 11-engine writes
    engine.py and needs gpt.py and common.py; 12-tools writes engine.py's tool and needs gpt.py."""
    repo = tmp_path / "repo"
    (repo / "nanochat_ref").mkdir(parents=True)
    (repo / "nanochat_ref" / "common.py").write_text("COMMON = 1\n")
    (repo / "nanochat_ref" / "gpt.py").write_text("def norm(x):\n    return x * 2\n")
    (repo / "nanochat_ref" / "engine.py").write_text(
        "def sample(x):\n    return x + 1\n\n\ndef calculator(e):\n    return eval(e)\n"
    )
    course = tmp_path / "course"
    for slug, order, path, stub, needs, prerequisites in (
        ("05-gpt", 5, "gpt.py", "norm", [], []),
        ("11-engine", 11, "engine.py", "sample", ["nanochat/gpt.py", "nanochat/common.py"], ["05-gpt"]),
        ("12-tools", 12, "engine.py", "calculator", ["nanochat/gpt.py"], ["11-engine"]),
    ):
        folder = course / slug
        folder.mkdir(parents=True)
        text = MODULE_YAML.replace("slug: tmp", f"slug: {slug}").replace("order: 1", f"order: {order}")
        text = text.replace("prerequisites: []", f"prerequisites: {prerequisites}")
        text += (
            f"files:\n  - {{path: nanochat/{path}, reference: nanochat_ref/{path},"
            f" stubs: [{{function: {stub}, step: step1, todo: write {stub}}}]}}\n"
        )
        if needs:
            text += "needs: [" + ", ".join(needs) + "]\n"
        (folder / "module.yaml").write_text(text)
    return repo, course


def test_the_workspace_holds_the_learner_files_and_the_declared_needs_only(tmp_path):
    repo, course = write_course(tmp_path)
    spec = load_module(course / "11-engine")
    workspace = build_workspace(spec, {"nanochat/engine.py": b"mine"}, repo)
    assert sorted(workspace) == ["nanochat/common.py", "nanochat/engine.py", "nanochat/gpt.py"]
    assert workspace["nanochat/engine.py"] == b"mine" and workspace["nanochat/common.py"] == b"COMMON = 1\n"


def test_a_needed_file_of_a_done_module_is_its_reference(tmp_path):
    repo, course = write_course(tmp_path)
    workspace = build_workspace(
        load_module(course / "11-engine"), {}, repo
    )  # the CLI: prerequisites are done
    assert workspace["nanochat/gpt.py"] == b"def norm(x):\n    return x * 2\n"


def test_a_needed_file_of_a_module_not_done_has_that_modules_parts_cut(tmp_path):
    repo, course = write_course(tmp_path)
    workspace = build_workspace(load_module(course / "11-engine"), {}, repo, done=set())
    assert b"x * 2" not in workspace["nanochat/gpt.py"]
    assert b"not yet: module 05-gpt writes this (write norm)" in workspace["nanochat/gpt.py"]


def test_a_shared_file_hides_the_part_a_later_module_writes(tmp_path):
    repo, course = write_course(tmp_path)
    starter = build_workspace(load_module(course / "11-engine"), {}, repo)["nanochat/engine.py"]
    assert b"eval(e)" not in starter and b"not yet: module 12-tools writes this" in starter
    assert b'raise NotImplementedError("TODO(step 1): write sample")' in starter
    later = build_workspace(load_module(course / "12-tools"), {}, repo)["nanochat/engine.py"]
    assert b"return x + 1" in later, (
        "module 11 is done by the time module 12 opens: its part is the reference"
    )


def test_the_platform_hands_over_the_learners_own_passing_files(tmp_path):
    repo, course = write_course(tmp_path)
    workspace = build_workspace(
        load_module(course / "11-engine"), {}, repo, done={"05-gpt"}, provided={"nanochat/gpt.py": b"my gpt"}
    )
    assert workspace["nanochat/gpt.py"] == b"my gpt"


def test_a_starter_that_cannot_be_cut_is_a_spec_error(tmp_path):
    repo, course = write_course(tmp_path)
    (repo / "nanochat_ref" / "gpt.py").write_text("def other(x):\n    return x\n")
    with pytest.raises(SpecError, match="norm: no such function"):
        build_workspace(load_module(course / "05-gpt"), {}, repo)


def _code(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    return ast.dump(ast.Module(body=body, type_ignores=[]))


@pytest.mark.parametrize("slug", sorted(COURSE))
def test_no_solution_of_a_module_outside_the_learners_reach_is_in_any_content_workspace(slug):
    """For every module, as the CLI builds it: exactly the learner files and the declared needs; and every part
    that a module other than this one and its prerequisites writes is cut out, wherever it appears."""
    spec = COURSE[slug]
    workspace = build_workspace(spec, {})
    crates = {path for entry in spec.files if entry.crate is not None for path in entry.crate.files}
    assert set(workspace) == set(spec.editable_paths) | set(spec.needs) | crates
    allowed = module_spec.ancestors(slug, COURSE) | {slug}
    checked = 0
    for path, data in workspace.items():
        writers = [other for other in module_spec.owners(COURSE).get(path, []) if other not in allowed]
        if not writers:
            continue
        reference = (REPO / "nanochat_ref" / path.removeprefix("nanochat/")).read_text(encoding="utf-8")
        got, ref = starters.functions(ast.parse(data.decode())), starters.functions(ast.parse(reference))
        for other in writers:
            if other in allowed:
                continue
            for stub in COURSE[other].file(path).stubs:
                # a region stub stands for the function around its markers
                name = stub.function or starters.region_function(reference, stub.region or "")
                assert name is not None, f"{other}: {path}: stub {stub} names no function"
                assert _code(got[name]) != _code(ref[name]), (
                    f"{slug}: {path} holds {other}'s solution of {name}"
                )
                checked += 1
    assert checked or slug in NOTHING_TO_HIDE


#: Modules whose workspace holds no file that a later module writes (a fact the loop above must not assume).
NOTHING_TO_HIDE = {"01-onboarding", "02-tokenizer", "03-dataset", "06-optimizers", "12-tool-use", "15-report",
                   "16-capstone", "13-eval"}  # fmt: skip


def test_the_real_workspace_of_a_fixture_module_is_its_file_alone():
    ws = build_workspace(load_module(FIXTURES / "add"), {"add.py": b"x"})
    assert ws == {"add.py": b"x"}
