"""Every content/NN-slug folder is complete, valid against content/schema, bilingual, and consistent.

Schema checks cover shapes; the cross-file rules (slugs, orders, the unlock DAG, hint levels per step, markers
in test files, file existence for ready modules) are checked here one rule per test.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from content_helpers import CONTENT_DIR, EXPECTED_SLUGS, REPO_ROOT, load_yaml, module_dirs
from jsonschema import Draft202012Validator

from modules import spec as module_spec
from modules.starters import starters

CJK = re.compile(r"[\u4e00-\u9fff]")
LONG_GUIDES = {"01-onboarding", "02-tokenizer", "03-dataset", "04-dataloader", "05-gpt", "06-optimizers",
               "07-base-training"}  # fmt: skip
YAML_FILES = ("module", "hints", "reflection", "feedback", "references")


def _i18n_values(node, lang: str):
    """Yields every string stored under key ``lang`` in an {en, zh} object anywhere inside ``node``."""
    if isinstance(node, dict):
        if set(node) == {"en", "zh"}:
            value = node[lang]
            if isinstance(value, list):
                yield from value
            else:
                yield value
        else:
            for child in node.values():
                yield from _i18n_values(child, lang)
    elif isinstance(node, list):
        for child in node:
            yield from _i18n_values(child, lang)


def _marker_args(test_file: Path, marker: str) -> list[str]:
    """String arguments of every ``pytest.mark.<marker>("...")`` call in a test file (parsed, not imported)."""
    found = []
    for node in ast.walk(ast.parse(test_file.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == marker
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr == "mark"
        ):
            found.extend(
                a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
            )
    return found


def _test_files(slug: str) -> list[Path]:
    return sorted((CONTENT_DIR / slug / "tests").glob("*/test_*.py"))


def _ready(modules) -> list[str]:
    return [slug for slug, meta in modules.items() if meta.get("status") == "ready"]


def test_the_content_folder_holds_exactly_the_16_modules():
    assert [d.name for d in module_dirs()] == EXPECTED_SLUGS


@pytest.mark.parametrize("name", YAML_FILES)
def test_the_schemas_are_valid_json_schemas(schemas, name):
    Draft202012Validator.check_schema(schemas[name])


@pytest.mark.parametrize("name", YAML_FILES)
@pytest.mark.parametrize("slug", EXPECTED_SLUGS)
def test_each_yaml_file_matches_its_schema(schemas, slug, name):
    data = load_yaml(CONTENT_DIR / slug / f"{name}.yaml")
    errors = sorted(Draft202012Validator(schemas[name]).iter_errors(data), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


@pytest.mark.parametrize("slug", EXPECTED_SLUGS)
def test_slug_equals_the_folder_name_and_order_its_prefix(modules, slug):
    assert modules[slug]["slug"] == slug
    assert modules[slug]["order"] == int(slug[:2])


@pytest.mark.parametrize("slug", EXPECTED_SLUGS)
def test_both_guides_exist_with_real_text(slug):
    minimum = 60 if slug in LONG_GUIDES else 20
    for lang in ("en", "zh"):
        text = (CONTENT_DIR / slug / f"guide.{lang}.md").read_text(encoding="utf-8")
        assert len(text.splitlines()) >= minimum, f"guide.{lang}.md is shorter than {minimum} lines"
        assert text.lstrip().startswith("# "), f"guide.{lang}.md must open with a level-1 heading"
    zh = (CONTENT_DIR / slug / "guide.zh.md").read_text(encoding="utf-8")
    assert len(CJK.findall(zh)) > 200, "guide.zh.md must be written in Chinese"


@pytest.mark.parametrize("slug", EXPECTED_SLUGS)
def test_every_zh_text_is_chinese_and_every_en_text_is_not(slug):
    for name in YAML_FILES:
        data = load_yaml(CONTENT_DIR / slug / f"{name}.yaml")
        for text in _i18n_values(data, "zh"):
            assert CJK.search(text), f"{name}.yaml: zh text without Chinese: {text!r}"
        for text in _i18n_values(data, "en"):
            assert not CJK.search(text.replace("小明", "")), f"{name}.yaml: en text with Chinese: {text!r}"


@pytest.mark.parametrize("slug", EXPECTED_SLUGS)
def test_step_ids_are_unique(modules, slug):
    ids = [s["id"] for s in modules[slug]["steps"]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("slug", EXPECTED_SLUGS)
def test_every_step_has_hints_at_levels_1_2_and_3(modules, slug):
    hints = load_yaml(CONTENT_DIR / slug / "hints.yaml")["hints"]
    for step in modules[slug]["steps"]:
        levels = sorted(h["level"] for h in hints if h["step"] == step["id"])
        assert levels == [1, 2, 3], f"{step['id']} has hint levels {levels}"


@pytest.mark.parametrize("slug", EXPECTED_SLUGS)
def test_hints_name_existing_steps_and_have_unique_ids(modules, slug):
    hints = load_yaml(CONTENT_DIR / slug / "hints.yaml")["hints"]
    steps = {s["id"] for s in modules[slug]["steps"]}
    assert {h["step"] for h in hints} <= steps
    ids = [h["id"] for h in hints]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("slug", EXPECTED_SLUGS)
def test_reflection_has_two_or_three_questions_and_valid_answers(slug):
    questions = load_yaml(CONTENT_DIR / slug / "reflection.yaml")["questions"]
    assert 2 <= len(questions) <= 3
    assert len({q["id"] for q in questions}) == len(questions)
    for q in questions:
        if "answer" in q:
            assert q["answer"] in {c["id"] for c in q["choices"]}


@pytest.mark.parametrize("slug", EXPECTED_SLUGS)
def test_feedback_regexes_compile_and_ids_are_unique(slug):
    rules = load_yaml(CONTENT_DIR / slug / "feedback.yaml")["rules"]
    assert len({r["id"] for r in rules}) == len(rules)
    for rule in rules:
        for key in ("message_regex", "output_regex"):
            if key in rule["match"]:
                re.compile(rule["match"][key])


def test_prerequisites_name_existing_modules(modules):
    """Module numbers follow the product's order; a prerequisite may have a higher number where the code really
    depends on it (RL, module 10, needs the engine and tool use, 11 and 12): the DAG test below forbids cycles."""
    for slug, meta in modules.items():
        for prereq in meta["prerequisites"]:
            assert prereq in modules, f"{slug}: unknown prerequisite {prereq}"
            assert prereq != slug, f"{slug} lists itself"


def test_the_prerequisites_follow_what_the_code_needs(modules):
    """The graph of the content issue: 5 builds on onboarding only; RL needs the engine and tool use; evaluation
    needs the engine; the report comes after evaluation."""
    assert modules["05-gpt"]["prerequisites"] == ["01-onboarding"]
    assert {"11-engine", "12-tool-use"} <= set(modules["10-rl"]["prerequisites"])
    assert "11-engine" in modules["13-eval"]["prerequisites"]
    assert modules["15-report"]["prerequisites"] == ["13-eval"]


def test_the_unlock_graph_is_a_dag_rooted_at_onboarding_that_reaches_every_module(modules):
    roots = [slug for slug, meta in modules.items() if not meta["prerequisites"]]
    assert roots == ["01-onboarding"]
    # Kahn's algorithm: a topological order exists iff there is no cycle; it visits every reachable module.
    remaining = {slug: set(meta["prerequisites"]) for slug, meta in modules.items()}
    order = []
    while True:
        free = sorted(slug for slug, pre in remaining.items() if not pre)
        if not free:
            break
        for slug in free:
            order.append(slug)
            del remaining[slug]
            for pre in remaining.values():
                pre.discard(slug)
    assert not remaining, f"cycle or unreachable modules: {sorted(remaining)}"
    assert sorted(order) == EXPECTED_SLUGS


def test_the_capstone_comes_last_and_requires_every_branch(modules):
    depended_on = {p for meta in modules.values() for p in meta["prerequisites"]}
    leaves = set(modules) - depended_on
    assert leaves == {"16-capstone"}


@pytest.mark.parametrize("slug", EXPECTED_SLUGS)
def test_references_point_into_nanochat_ref_or_the_module_folder(modules, slug):
    for f in modules[slug]["files"]:
        ref = f["reference"]
        if ref.startswith("nanochat_ref/"):
            assert f["path"] == "nanochat/" + ref.removeprefix("nanochat_ref/"), f"{f['path']} vs {ref}"
        elif ref.startswith("rustbpe/"):  # the crate's own file, edited in place
            assert f["path"] == ref and "crate" in f, f"{slug}: {f['path']} vs {ref}"
        else:
            assert ref == f"reference/{f['path']}", (
                f"{slug}: a module's own reference lives in reference/: {ref}"
            )


def test_at_least_the_onboarding_module_is_ready(modules):
    assert "01-onboarding" in _ready(modules)


def test_ready_modules_have_every_referenced_file(modules):
    for slug in _ready(modules):
        folder = CONTENT_DIR / slug
        for f in modules[slug]["files"]:
            base = REPO_ROOT if f["reference"].startswith(module_spec.REPOSITORY_REFERENCES) else folder
            assert (base / f["reference"]).is_file(), f"{slug}: missing reference {f['reference']}"
        assert not (folder / "starter").exists(), f"{slug}: starters are generated, never committed"
        assert list((folder / "tests" / "visible").glob("test_*.py")), f"{slug}: no visible tests"
        assert list((folder / "tests" / "hidden").glob("test_*.py")), f"{slug}: no hidden tests"


def test_ready_module_tests_use_known_steps_and_hints_and_cover_every_step(modules):
    for slug in _ready(modules):
        steps = {s["id"] for s in modules[slug]["steps"]}
        hints = {h["id"] for h in load_yaml(CONTENT_DIR / slug / "hints.yaml")["hints"]}
        used_steps: set[str] = set()
        for test_file in _test_files(slug):
            file_steps = _marker_args(test_file, "step")
            assert file_steps, f"{test_file.name}: no step markers"
            assert set(file_steps) <= steps, f"{test_file.name}: unknown steps {set(file_steps) - steps}"
            assert set(_marker_args(test_file, "hint")) <= hints, f"{test_file.name}: unknown hint ids"
            used_steps.update(file_steps)
        assert used_steps == steps, f"{slug}: steps without tests {steps - used_steps}"


def test_ready_starters_mark_each_todo_with_an_existing_step(modules):
    for slug in _ready(modules):
        step_numbers = {s["id"].removeprefix("step") for s in modules[slug]["steps"]}
        for path, text in starters(module_spec.load(CONTENT_DIR / slug)).items():
            todos = re.findall(r'(?:NotImplementedError|unimplemented!)\(\s*"TODO\(step (\d+)\)', text)
            assert todos, f"{slug}/{path}: no TODO(step N) stubs"
            assert set(todos) <= step_numbers


@pytest.mark.parametrize("slug", EXPECTED_SLUGS)
def test_reflection_prompts_hold_no_tex_they_would_show_raw(slug):
    """Reflection prompts are rendered as text with code spans, not typeset: a ``$...$`` would show its TeX."""
    doc = load_yaml(CONTENT_DIR / slug / "reflection.yaml") or {}
    raw = [
        f"{q['id']} ({lang})"
        for q in doc.get("questions") or []
        for lang, text in (q.get("prompt") or {}).items()
        if re.search(r"\$[^$]+\$", text)
    ]
    assert raw == [], f"write these formulas as text (12 · 64² · d³): {raw}"
