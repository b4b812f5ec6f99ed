"""Upstream tracking (modules/upstream.py): which modules, steps, facts, guide sections and tests a newer nanochat
commit affects. The fixtures are two commits of a small local git repository shaped like nanochat (a changed
function, a renamed one, a removed file, a signature change, a moved function, a changed default, and changes
that are only comments, docstrings or formatting), and a small course of four modules built on it; the report
must name exactly the affected modules and steps. No network.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from modules import spec as spec_mod
from modules import upstream

REPO_ROOT = Path(__file__).resolve().parents[2]

GPT_A = '''\
"""The GPT model."""
from dataclasses import dataclass


@dataclass
class GPTConfig:
    n_layer: int = 12
    softcap: float = 15.0


def norm(x):
    """RMSNorm."""
    return x / (x * x).mean() ** 0.5


def apply_rotary_emb(x, cos, sin):
    return x * cos + x * sin


def untouched(x):
    # add one
    return x + 1


class GPT:
    def forward(self, idx, targets=None):
        return idx

    def setup(self):
        return 0
'''

GPT_B = '''\
"""The GPT model, newer."""
from dataclasses import dataclass


@dataclass
class GPTConfig:
    n_layer: int = 20
    softcap: float = 15.0


def norm(x):
    """RMSNorm."""
    return x / ((x * x).mean() + 1e-6) ** 0.5


def apply_rope(x, cos, sin):
    return x * cos + x * sin


def untouched(x):
    """Now with a docstring, a new comment and other formatting: no change to the syntax tree."""
    # one more than x
    return (x +
            1)


class GPT:
    def forward(self, idx, targets=None, kv_cache=None):
        return idx

    def setup(self):
        return 0
'''

ENGINE_A = """\
def sample_next_token(logits, rng, temperature=1.0, top_k=None):
    return logits


class Engine:
    def generate(self, tokens):
        out = list(tokens)
        return out
"""

ENGINE_B = """\
class Engine:
    def generate(self, tokens):
        out = list(tokens)
        return out
"""

SAMPLING_B = """\
def sample_next_token(logits, rng, temperature=1.0, top_k=None):
    if top_k == 0:
        top_k = None
    return logits
"""

DATASET_A = "def list_parquet_files(data_dir=None):\n    return []\n"
BASE_TRAIN = "depth = 20\nprint(depth)\n"


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def commit_files(repo: Path, files: dict[str, str | None], message: str) -> str:
    for path, text in files.items():
        target = repo / path
        if text is None:
            git(repo, "rm", "-q", path)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        git(repo, "add", path)
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def nanochat(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A git repository shaped like nanochat, with an older and a newer commit."""
    repo = tmp_path_factory.mktemp("nanochat")
    git(repo, "init", "-q")
    old = commit_files(
        repo,
        {
            "nanochat/gpt.py": GPT_A,
            "nanochat/engine.py": ENGINE_A,
            "nanochat/dataset.py": DATASET_A,
            "scripts/base_train.py": BASE_TRAIN,
        },
        "old",
    )
    new = commit_files(
        repo,
        {
            "nanochat/gpt.py": GPT_B,
            "nanochat/engine.py": ENGINE_B,
            "nanochat/sampling.py": SAMPLING_B,
            "nanochat/dataset.py": None,
        },
        "new",
    )
    return repo, old, new


def module_yaml(slug: str, order: int, files: str, steps: str, extra: str = "") -> str:
    return (
        textwrap.dedent(
            f"""\
        slug: {slug}
        order: {order}
        status: ready
        title: {{en: "{slug}", zh: "{slug}"}}
        summary: {{en: "s", zh: "s"}}
        prerequisites: []
        goals: {{en: ["g"], zh: ["g"]}}
        runtime: python
        """
        )
        + textwrap.dedent(files)
        + textwrap.dedent(steps)
        + textwrap.dedent(extra)
    )


GUIDE = """\
Intro text.

## Norm
We write `norm` first.

## Config
{{fact:n-layer}}

## Softcap
{{fact:softcap}}

## Other
`untouched` stays as it was.

## Deviations
{{deviations}}
"""

GPT_TESTS = """\
import pytest

@pytest.mark.step("step1")
def test_norm(learner):
    assert learner.gpt.norm

@pytest.mark.step("step2")
def test_rotary(learner):
    pass

@pytest.mark.step("step3")
def test_forward(learner):
    pass

@pytest.mark.step("step4")
def test_untouched(learner):
    pass

def test_uses_rotary_without_a_step(learner):
    learner.gpt.apply_rotary_emb(1, 2, 3)

@pytest.mark.step("step4")
@pytest.mark.lab_addition("kv-arg")
def test_lab_addition(learner):
    pass

@pytest.mark.step("step4")
class TestGroup:
    def test_in_class(self):
        pass
"""


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, spec_mod.ModuleSpec]]:
    """A lab repository root with its own nanochat_ref/ and a course of four modules built on the fixture."""
    root = tmp_path_factory.mktemp("lab")
    ref = root / "nanochat_ref"
    ref.mkdir()
    (ref / "gpt.py").write_text(GPT_A + "\n\ndef lab_helper():\n    return 1\n")
    (ref / "engine.py").write_text(
        ENGINE_A.replace(
            "        out = list(tokens)\n",
            "        # lab: begin loop\n        out = list(tokens)\n        # lab: end loop\n",
        )
    )
    (ref / "dataset.py").write_text(DATASET_A)
    content = root / "content"
    shutil.copytree(REPO_ROOT / "content" / "schema", content / "schema")
    modules = {
        "01-gpt": module_yaml(
            "01-gpt",
            1,
            """\
            files:
              - path: nanochat/gpt.py
                reference: nanochat_ref/gpt.py
                stubs:
                  - {function: norm, step: step1, todo: "t"}
                  - {function: apply_rotary_emb, step: step2, todo: "t"}
                  - {function: GPT.forward, step: step3, todo: "t"}
                  - {function: untouched, step: step4, todo: "t"}
                  - {function: lab_helper, step: step4, todo: "t"}
            """,
            """\
            steps:
              - {id: step1, title: {en: "Norm", zh: "Norm"}}
              - {id: step2, title: {en: "Rotary", zh: "Rotary"}}
              - {id: step3, title: {en: "Forward", zh: "Forward"}}
              - {id: step4, title: {en: "Other", zh: "Other"}}
            """,
            """\
            facts:
              - id: n-layer
                text: {en: "12 layers", zh: "12 层"}
                value: 12
                source: {file: nanochat/gpt.py, symbol: GPTConfig.n_layer}
              - id: softcap
                text: {en: "cap 15", zh: "上限 15"}
                value: 15
                source: {file: nanochat/gpt.py, symbol: GPTConfig.softcap}
            deviations:
              - id: kv-arg
                text: {en: "the lab's forward", zh: "实验室的 forward"}
                upstream: {file: nanochat/gpt.py, symbol: GPT.forward}
            """,
        ),
        "02-data": module_yaml(
            "02-data",
            2,
            """\
            files:
              - path: nanochat/dataset.py
                reference: nanochat_ref/dataset.py
                stubs:
                  - {function: list_parquet_files, step: step1, todo: "t"}
            """,
            """\
            steps:
              - {id: step1, title: {en: "List", zh: "List"}}
            """,
        ),
        "03-engine": module_yaml(
            "03-engine",
            3,
            """\
            files:
              - path: nanochat/engine.py
                reference: nanochat_ref/engine.py
                stubs:
                  - {function: sample_next_token, step: step1, todo: "t"}
                  - {region: loop, step: step2, todo: "t"}
            """,
            """\
            steps:
              - {id: step1, title: {en: "Sample", zh: "Sample"}}
              - id: step2
                title: {en: "Loop", zh: "Loop"}
                upstream: [{file: scripts/base_train.py}]
            """,
            """\
            deviations:
              - id: loop
                text: {en: "d", zh: "d"}
                upstream: {file: nanochat/engine.py, symbol: Engine.generate}
            """,
        ),
        "04-lab": module_yaml(
            "04-lab",
            4,
            """\
            files:
              - path: hello.py
                reference: reference/hello.py
                stubs:
                  - {function: hello, step: step1, todo: "t"}
            """,
            """\
            steps:
              - {id: step1, title: {en: "Hello", zh: "Hello"}}
            """,
        ),
    }
    for slug, text in modules.items():
        folder = content / slug
        (folder / "tests" / "visible").mkdir(parents=True)
        (folder / "module.yaml").write_text(text)
        (folder / "guide.en.md").write_text(GUIDE)
        (folder / "guide.zh.md").write_text(GUIDE.replace("## Norm", "## 归一化"))
    (content / "01-gpt" / "tests" / "visible" / "test_gpt.py").write_text(GPT_TESTS)
    (content / "04-lab" / "reference").mkdir()
    (content / "04-lab" / "reference" / "hello.py").write_text("def hello():\n    return 1\n")
    return root, spec_mod.course(content)


@pytest.fixture(scope="module")
def report(nanochat, course) -> dict:
    repo, old, new = nanochat
    root, specs = course
    return upstream.diff_report(repo, old, new, specs, repo_root=root)


def by_slug(report: dict) -> dict[str, dict]:
    return {m["slug"]: m for m in report["modules"]}


def test_the_report_names_exactly_the_affected_modules_and_steps(report):
    affected = {m["slug"]: [s["id"] for s in m["steps"]] for m in report["modules"] if m["affected"]}
    assert affected == {"01-gpt": ["step1", "step2", "step3"], "02-data": ["step1"], "03-engine": ["step1"]}
    assert report["modules_affected"] == 3
    assert upstream.summary(report) == "3 modules affected"


def test_each_change_is_classified_by_its_syntax_tree(report):
    changes = {
        (m["slug"], s["id"]): [(c["symbol"], c["status"], c["detail"]) for c in s["changes"]]
        for m in report["modules"]
        for s in m["steps"]
    }
    assert changes[("01-gpt", "step1")] == [("norm", "body changed", "")]
    assert changes[("01-gpt", "step2")] == [("apply_rotary_emb", "renamed", "now nanochat/gpt.py:apply_rope")]
    assert changes[("01-gpt", "step3")] == [("GPT.forward", "signature changed", "")]
    assert changes[("02-data", "step1")] == [("list_parquet_files", "removed", "the file is gone")]
    assert changes[("03-engine", "step1")] == [
        ("sample_next_token", "moved", "now nanochat/sampling.py:sample_next_token")
    ]


def test_comments_docstrings_formatting_lab_helpers_and_unchanged_files_flag_nothing(report):
    gpt = by_slug(report)["01-gpt"]
    flagged = {c["symbol"] for s in gpt["steps"] for c in s["changes"]}
    assert "untouched" not in flagged  # docstring, comment and line breaks only
    assert gpt["lab_only"] == ["nanochat/gpt.py:lab_helper"]
    engine = by_slug(report)["03-engine"]
    # the region's enclosing method (Engine.generate) and the whole unchanged script are not flagged
    assert [s["id"] for s in engine["steps"]] == ["step1"]
    assert engine["deviations"] == []
    lab = by_slug(report)["04-lab"]
    assert (lab["affected"], lab["anchors"]) == (False, 0)


def test_a_fact_whose_upstream_value_changed_is_flagged_with_both_values(report):
    facts = by_slug(report)["01-gpt"]["facts"]
    assert [(f["id"], f["value_from"], f["value_to"], f["value_changed"]) for f in facts] == [
        ("n-layer", 12, 20, True)
    ]


def test_guide_sections_that_cite_a_change_are_named_in_both_languages(report):
    sections = {(s["lang"], s["heading"]): s["why"] for s in by_slug(report)["01-gpt"]["guide_sections"]}
    assert sections == {
        ("en", "Norm"): ["names `norm`"],
        ("zh", "归一化"): ["names `norm`"],
        ("en", "Config"): ["cites fact n-layer"],
        ("zh", "Config"): ["cites fact n-layer"],
        ("en", "Deviations"): ["shows the deviations box (kv-arg)"],
        ("zh", "Deviations"): ["shows the deviations box (kv-arg)"],
    }


def test_tests_built_on_a_change_are_named_with_the_reason(report):
    tests = {t["id"]: t["why"] for t in by_slug(report)["01-gpt"]["tests"]}
    assert tests == {
        "visible/test_gpt.py::test_norm": ["tests step1", "uses norm"],
        "visible/test_gpt.py::test_rotary": ["tests step2"],
        "visible/test_gpt.py::test_forward": ["tests step3"],
        "visible/test_gpt.py::test_uses_rotary_without_a_step": ["uses apply_rotary_emb"],
        "visible/test_gpt.py::test_lab_addition": ["lab addition kv-arg"],
    }


def test_the_markdown_report_has_the_summary_the_hunks_and_the_json_round_trips(report):
    text = upstream.to_markdown(report)
    assert "**3 modules affected** of 4 checked." in text
    assert "| 01-gpt | step1, step2, step3 | 1 | 1 | 6 | 5 |" in text
    assert "-    return x / (x * x).mean() ** 0.5\n+    return x / ((x * x).mean() + 1e-6) ** 0.5" in text
    assert "`n-layer` at `nanochat/gpt.py` `GPTConfig.n_layer`: body changed; value 12 → 20" in text
    assert "04-lab" not in text
    assert json.loads(json.dumps(report)) == report


def test_one_module_only_and_bad_input_are_refused_with_the_reason(nanochat, course):
    repo, old, new = nanochat
    root, specs = course
    only = upstream.diff_report(repo, old, new, specs, repo_root=root, modules=["02-data"])
    assert [m["slug"] for m in only["modules"]] == ["02-data"] and only["modules_affected"] == 1
    with pytest.raises(upstream.UpstreamError, match="no such module: 99-nope"):
        upstream.diff_report(repo, old, new, specs, repo_root=root, modules=["99-nope"])
    with pytest.raises(upstream.UpstreamError, match="'deadbeef' is not a commit"):
        upstream.diff_report(repo, "deadbeef", new, specs, repo_root=root)


def test_symbols_cover_functions_methods_classes_and_assignments():
    table = upstream.symbols(GPT_A)
    assert {"GPTConfig", "GPTConfig.n_layer", "norm", "GPT", "GPT.forward", "GPT.setup"} <= set(table)
    assert table["GPT.forward"].source.startswith("    def forward(self, idx, targets=None):")
    assert upstream.symbols(GPT_B)["untouched"].body == table["untouched"].body


def test_every_module_of_the_course_maps_to_places_in_nanochats_layout():
    """The mapping of the real course: every stub of a nanochat_ref file is an upstream symbol or a declared
    lab-only helper; its files mirror nanochat's layout."""
    specs = spec_mod.course(REPO_ROOT / "content")
    anchors = [a for s in specs.values() for a in upstream.anchors(s)]
    assert anchors, "no module names an upstream place"
    # upstream paths (nanochat/gpt.py, tasks/, scripts/, dev/, speedrun.sh), never our mirror's (nanochat_ref/...)
    outside = [a for a in anchors if a.file.startswith(("/", "nanochat_ref/", "content/")) or ".." in a.file]
    assert not outside, f"not a path of nanochat's layout: {outside}"
    gpt = [a for a in upstream.anchors(specs["05-gpt"]) if a.origin == "stub"]
    assert upstream.Anchor("nanochat/gpt.py", "norm", "step1", "stub") in gpt
