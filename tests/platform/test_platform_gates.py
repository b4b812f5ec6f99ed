"""The reference gate's pure part (modules/gates.py): what counts as effort on a step, which steps a result passed,
and what a learner sees of the reference with some steps still closed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from modules import gates
from modules.spec import parse

REFERENCE = textwrap.dedent(
    '''\
    def norm(x):
        """RMS norm."""
        return x / 2


    def train(steps):
        total = 0
        for i in range(steps):
            # lab: begin step
            total += i
            # lab: end step
        return total


    def later(x):
        return x * 3
    '''
)


def spec_of(tmp_path: Path, gates_field: str = ""):
    yaml_text = textwrap.dedent(
        f"""\
        slug: 01-g
        order: 1
        status: ready
        title: {{en: g, zh: g}}
        summary: {{en: g, zh: g}}
        prerequisites: []
        goals: {{en: [g], zh: [g]}}
        runtime: python
        files:
          - path: nanochat/g.py
            reference: nanochat_ref/g.py
            stubs:
              - {{function: norm, step: step1, todo: "norm"}}
              - {{region: step, step: step2, todo: "the step"}}
        steps:
          - {{id: step1, title: {{en: a, zh: a}}}}
          - {{id: step2, title: {{en: b, zh: b}}}}
        {gates_field}
        """
    )
    import yaml

    return parse(yaml.safe_load(yaml_text), root=tmp_path / "01-g")


def starter(spec) -> dict[str, str]:
    return {"nanochat/g.py": gates.generate(REFERENCE, spec.files[0].stubs)}


REFS = {"nanochat/g.py": REFERENCE}


def attempt(norm_body: str = "raise NotImplementedError", loop_body: str | None = None) -> dict[str, str]:
    text = REFERENCE.replace("    return x / 2\n", f"    {norm_body}\n")
    if loop_body is not None:
        text = text.replace("            total += i\n", f"            {loop_body}\n")
    return {"nanochat/g.py": text}


def test_a_region_steps_code_is_the_function_around_its_markers(tmp_path):
    spec = spec_of(tmp_path)
    assert gates.step_parts(spec, "step2", REFS) == [("nanochat/g.py", "train")]
    assert gates.step_parts(spec, "step1", REFS) == [("nanochat/g.py", "norm")]


def test_effort_counts_distinct_changed_versions_per_step_only(tmp_path):
    spec = spec_of(tmp_path)
    tries = [
        (attempt("return x"), None),
        (attempt("return x"), None),  # the same version again
        (attempt("return x  # same tree"), None),  # a comment is no change
        (attempt("return -x"), None),
        ({"nanochat/g.py": "def broken(:\n"}, None),  # does not parse: no version
    ]
    gate = gates.reference_gate(spec, starters=starter(spec), references=REFS, attempts=tries)
    assert gate.steps["step1"].as_dict() == {"open": False, "why": None, "versions": 2, "needed": 3}
    # every file holds the same train() (the reference's loop, unlike the starter's): one version of step 2
    assert gate.steps["step2"].versions == 1
    gate = gates.reference_gate(
        spec, starters=starter(spec), references=REFS, attempts=[*tries, (attempt("return 0"), None)]
    )
    assert gate.steps["step1"].open and gate.steps["step1"].why == "effort"


def test_the_threshold_comes_from_the_module_spec(tmp_path):
    spec = spec_of(tmp_path, "gates: {reference_effort_attempts: 1}")
    gate = gates.reference_gate(
        spec, starters=starter(spec), references=REFS, attempts=[(attempt("return x"), None)]
    )
    assert gate.steps["step1"].open and gate.steps["step1"].needed == 1


def test_a_step_passes_only_when_every_one_of_its_tests_passed_in_one_result():
    result = {
        "tests": [
            {"step": "step1", "status": "pass"},
            {"step": "step1", "status": "pass"},
            {"step": "step2", "status": "pass"},
            {"step": "step2", "status": "fail"},
            {"step": None, "status": "pass"},
        ]
    }
    assert gates.passed_steps(result) == {"step1"}
    assert gates.passed_steps({"tests": []}) == set()


def test_the_learner_sees_open_steps_and_closed_ones_cut_like_the_starter(tmp_path):
    spec = spec_of(tmp_path)
    result = {"tests": [{"step": "step1", "status": "pass"}, {"step": "step2", "status": "fail"}]}
    gate = gates.reference_gate(spec, starters=starter(spec), references=REFS, attempts=[(attempt(), result)])
    assert gate.open_steps == ["step1"]
    shown = gates.reference_files(spec, REFS, gate)["nanochat/g.py"]
    assert "return x / 2" in shown, "step 1 is open"
    assert "total += i" not in shown and "TODO(step 2): the step" in shown, "step 2 is cut as in the starter"
    assert "lab: begin" not in shown


def test_parts_another_module_writes_are_cut_from_the_reference_too(tmp_path):
    spec = spec_of(tmp_path)
    gate = gates.reference_gate(spec, starters={}, references=REFS, attempts=(), instructor=True)
    later = gates.Stub(step="step1", todo="later's part", function="later")
    shown = gates.reference_files(spec, REFS, gate, foreign={"nanochat/g.py": [("09-later", later)]})
    text = shown["nanochat/g.py"]
    assert "return x * 3" not in text and "not yet: module 09-later writes this" in text
    assert "return x / 2" in text and "total += i" in text


@pytest.mark.parametrize("why", ["instructor"])
def test_instructors_see_every_step(tmp_path, why):
    spec = spec_of(tmp_path)
    gate = gates.reference_gate(spec, starters={}, references=REFS, attempts=(), instructor=True)
    assert {s: g.why for s, g in gate.steps.items()} == {"step1": why, "step2": why}
