"""``modules.spec``: the one loader of module.yaml and the one rule for learner files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from content_helpers import CONTENT_DIR

from modules import spec as module_spec
from modules.spec import DEFAULT_FILE_BYTES, DEFAULT_TOTAL_BYTES, SpecError, SubmissionError

BASE = {
    "slug": "01-demo",
    "order": 1,
    "status": "ready",
    "title": {"en": "Demo", "zh": "演示"},
    "summary": {"en": "A demo.", "zh": "演示。"},
    "prerequisites": [],
    "goals": {"en": ["g"], "zh": ["目标"]},
    "files": [
        {
            "path": "nanochat/gpt.py",
            "reference": "nanochat_ref/gpt.py",
            "stubs": [
                {"function": "norm", "step": "step1", "todo": "RMSNorm"},
                {"function": "GPT.forward", "step": "step2", "todo": "forward", "doc": "The forward pass."},
            ],
        }
    ],
    "steps": [
        {"id": "step1", "title": {"en": "A", "zh": "甲"}},
        {"id": "step2", "title": {"en": "B", "zh": "乙"}},
    ],
    "runtime": "torch",
}


FACT = {
    "id": "softcap",
    "text": {"en": "capped", "zh": "截断"},
    "value": 15,
    "source": {"file": "nanochat/gpt.py"},
}


def write(tmp_path: Path, data: dict) -> Path:
    folder = tmp_path / data.get("slug", "01-demo")
    folder.mkdir(exist_ok=True)
    (folder / "module.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder


def with_(**changes) -> dict:
    return {**BASE, **changes}


def test_a_module_loads_typed_with_defaults_for_what_it_does_not_say(tmp_path):
    spec = module_spec.load(write(tmp_path, with_(limits={"wall_seconds": 90, "file_bytes": 2048})))
    assert (spec.slug, spec.order, spec.runtime, spec.status) == ("01-demo", 1, "torch", "ready")
    assert spec.step_ids == ["step1", "step2"] and spec.editable_paths == ["nanochat/gpt.py"]
    entry = spec.file("nanochat/gpt.py")
    assert entry.reference_package_path == "nanochat/gpt.py" and entry.in_reference_package
    assert [s.target for s in entry.stubs] == ["norm", "GPT.forward"]
    assert entry.stubs[1].message == "TODO(step 2): forward" and entry.stubs[1].doc == "The forward pass."
    assert spec.limits == {"wall_seconds": 90} and spec.gpu is False and spec.lane == "short"
    assert (spec.file_limits.file_bytes, spec.file_limits.total_bytes) == (2048, DEFAULT_TOTAL_BYTES)
    assert (spec.needs, spec.facts, spec.deviations, dict(spec.gates)) == ((), (), (), {})


@pytest.mark.parametrize(
    ("changes", "lane"),
    [
        ({"lane": "long"}, "long"),
        ({"lane": "short", "limits": {"gpu": True}}, "gpu"),
        ({"lane": "long", "limits": {"gpu": True}}, "gpu"),
        ({"limits": {"gpu": False}}, "short"),
    ],
)
def test_a_module_goes_to_its_declared_lane_or_to_gpu_when_its_limits_ask_for_one(tmp_path, changes, lane):
    spec = module_spec.load(write(tmp_path, with_(**changes)))
    assert spec.lane == lane
    assert module_spec.lane_of(with_(**changes)) == lane


def test_a_lane_other_than_short_or_long_is_refused(tmp_path):
    with pytest.raises(SpecError, match="lane"):
        module_spec.load(write(tmp_path, with_(lane="gpu")))


def test_the_reserved_fields_are_typed_when_filled(tmp_path):
    spec = module_spec.load(
        write(
            tmp_path,
            with_(
                needs=["nanochat/common.py"],
                gates={"reference_effort_attempts": 3},
                facts=[
                    {
                        "id": "softcap",
                        "text": {"en": "logits are capped at 15", "zh": "logits 上限 15"},
                        "value": 15,
                        "source": {"file": "nanochat/gpt.py", "symbol": "GPT.forward", "commit": "48abd7d"},
                    }
                ],
                deviations=[{"id": "dist", "text": {"en": "one rank", "zh": "单进程"}}],
            ),
        )
    )
    assert spec.needs == ("nanochat/common.py",) and spec.gates == {"reference_effort_attempts": 3}
    assert spec.facts[0].value == 15 and spec.facts[0].source["commit"] == "48abd7d"
    assert spec.deviations[0].text["zh"] == "单进程" and spec.deviations[0].upstream == {}


def test_a_review_rubric_is_typed_in_its_order_with_an_optional_guide(tmp_path):
    rubric = [
        {"id": "held-out", "kind": "scale", "prompt": {"en": "Held out?", "zh": "留出？"},
         "guide": {"en": "5: no leak", "zh": "5 分：无泄漏"}},
        {"id": "improve", "kind": "text", "prompt": {"en": "One change", "zh": "一项修改"}},
    ]  # fmt: skip
    spec = module_spec.load(write(tmp_path, with_(review_rubric=rubric)))
    assert [(q.id, q.kind) for q in spec.review_rubric] == [("held-out", "scale"), ("improve", "text")]
    assert spec.review_rubric[0].guide["zh"] == "5 分：无泄漏" and spec.review_rubric[1].guide == {}
    assert module_spec.load(write(tmp_path, BASE)).review_rubric == ()


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (with_(surprise=1), "Additional properties"),
        (with_(runtime="java"), "'java' is not one of"),
        (with_(files=[{"path": "a.py", "reference": "reference/a.py", "starter": "starter/a.py", "stubs": []}]), "starter"),
        (with_(files=[{"path": "a.py", "reference": "../a.py", "stubs": [{"function": "f", "step": "step1", "todo": "t"}]}]), "does not match"),
        (with_(files=[{"path": "a.py", "reference": "reference/a.py", "stubs": [{"function": "f", "step": "step9", "todo": "t"}]}]), "unknown step 'step9'"),
        (with_(files=[{"path": "a.py", "reference": "reference/a.py", "stubs": [{"function": "f", "region": "r", "step": "step1", "todo": "t"}]}]), "is valid under each of"),
        (with_(files=[{"path": "a.py", "reference": "reference/a.py", "stubs": [{"function": "f", "step": "step1", "todo": "t"}, {"function": "f", "step": "step2", "todo": "u"}]}]), "f is stubbed twice"),
        (with_(files=[BASE["files"][0], BASE["files"][0]]), "each path may appear once"),
        (with_(steps=[{"id": "step1", "title": {"en": "A", "zh": "甲"}}] * 2), "step ids must be unique"),
        (with_(limits={"file_bytes": 4096, "total_bytes": 2048}), "total_bytes must be at least file_bytes"),
        (with_(limits={"file_bytes": 10**9}), "is greater than the maximum"),
        (with_(needs=["nanochat/gpt.py"]), "is a learner file of this module, not a need"),
        (with_(needs=["gpt.py"]), "does not match"),
        (with_(facts=[FACT, FACT]), "facts: ids must be unique"),
        (with_(facts=[{**FACT, "check": ""}]), "should be non-empty"),
        (with_(deviations=[{"id": "d", "text": {"en": "e", "zh": "中"}, "upstream": {"file": "f.py", "lines": "9-3"}}]), "deviations d: lines '9-3' must run forwards"),
        (with_(review_rubric=[{"id": "q", "kind": "stars", "prompt": {"en": "e", "zh": "中"}}]), "'stars' is not one of"),
        (with_(review_rubric=[{"id": "q", "kind": "text", "prompt": {"en": "e", "zh": "中"}}] * 2), "review_rubric: ids must be unique"),
    ],
)  # fmt: skip
def test_an_invalid_module_yaml_is_refused_with_the_reason(tmp_path, data, needle):
    with pytest.raises(SpecError, match=needle):
        module_spec.load(write(tmp_path, data))


def test_every_problem_is_reported_at_once(tmp_path):
    data = with_(files=[{"path": "a.py", "reference": "reference/a.py", "stubs": [
        {"function": "f", "step": "step7", "todo": "t"}, {"function": "f", "step": "step8", "todo": "t"}]}])  # fmt: skip
    with pytest.raises(SpecError) as info:
        module_spec.load(write(tmp_path, data))
    assert len(info.value.problems) == 3


def test_a_missing_or_unreadable_module_yaml_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="module.yaml is missing"):
        module_spec.load(tmp_path)
    (tmp_path / "module.yaml").write_text("slug: [unclosed\n")
    with pytest.raises(SpecError, match="module.yaml:"):
        module_spec.load(tmp_path)


def test_a_loaded_module_is_cached_until_its_yaml_changes(tmp_path):
    folder = write(tmp_path, BASE)
    first = module_spec.load(folder)
    assert module_spec.load(folder) is first
    write(tmp_path, with_(order=2))
    os.utime(folder / "module.yaml", ns=(1, 1))  # a different mtime, whatever the clock's resolution
    assert module_spec.load(folder).order == 2


def test_a_synced_module_parses_from_its_stored_metadata_like_from_disk():
    folder = CONTENT_DIR / "05-gpt"
    stored = yaml.safe_load((folder / "module.yaml").read_text(encoding="utf-8"))
    assert module_spec.parse(stored, root=folder) == module_spec.load(folder)


def test_every_content_module_loads():
    specs = [module_spec.load(folder) for folder in module_spec.discover(CONTENT_DIR)]
    assert len(specs) == 16 and all(spec.files and spec.steps for spec in specs)


# --- learner files ------------------------------------------------------------------------------------------------
SPEC = module_spec.parse(BASE, root=CONTENT_DIR / "01-demo")


@pytest.mark.parametrize(
    ("files", "code"),
    [
        (["nanochat/gpt.py"], "files_invalid"),
        ({"nanochat/gpt.py": 3}, "files_invalid"),
        ({"": "x"}, "path_invalid"),
        ({"/etc/passwd": "x"}, "path_invalid"),
        ({"nanochat\\gpt.py": "x"}, "path_invalid"),
        ({"nanochat/../gpt.py": "x"}, "path_invalid"),
        ({"./nanochat/gpt.py": "x"}, "path_invalid"),
        ({"nanochat/gpt.py\0": "x"}, "path_invalid"),
        ({"nanochat/other.py": "x"}, "unknown_file"),
        ({"nanochat/gpt.py": b"\xff\xfe"}, "not_utf8"),
        ({"nanochat/gpt.py": "lone \ud800 surrogate"}, "not_utf8"),
        ({"nanochat/gpt.py": "a\x00b"}, "binary_file"),
        ({"nanochat/gpt.py": "x" * (DEFAULT_FILE_BYTES + 1)}, "too_large"),
        ({"nanochat/gpt.py": "é" * (DEFAULT_FILE_BYTES // 2 + 1)}, "too_large"),
    ],
)
def test_learner_files_break_one_rule_each_with_a_stable_code(files, code):
    with pytest.raises(SubmissionError) as info:
        module_spec.validate_files(SPEC, files)
    assert info.value.code == code
    assert str(info.value) == (
        info.value.template % info.value.params if info.value.params else info.value.template
    )


def test_the_total_cap_counts_every_file_together(tmp_path):
    second = {**BASE["files"][0], "path": "nanochat/muon.py", "reference": "nanochat_ref/muon.py"}
    spec = module_spec.parse(
        with_(files=[BASE["files"][0], second], limits={"file_bytes": 1024, "total_bytes": 1536}),
        root=tmp_path,
    )
    assert module_spec.validate_files(spec, {"nanochat/gpt.py": "x" * 1024, "nanochat/muon.py": "y" * 512})
    with pytest.raises(SubmissionError) as info:
        module_spec.validate_files(spec, {"nanochat/gpt.py": "x" * 1024, "nanochat/muon.py": "y" * 513})
    assert info.value.code == "too_large" and info.value.params == {"max": 1536}


def test_good_files_come_back_as_text_and_an_empty_mapping_is_valid():
    assert module_spec.validate_files(SPEC, {"nanochat/gpt.py": "π = 3\n".encode()}) == {
        "nanochat/gpt.py": "π = 3\n"
    }
    assert module_spec.validate_files(SPEC, {}) == {}


def test_a_course_knows_each_modules_prerequisites_and_who_writes_each_file():
    course = module_spec.course(CONTENT_DIR)
    assert module_spec.ancestors("04-dataloader", course) == {"01-onboarding", "02-tokenizer", "03-dataset"}
    assert module_spec.ancestors("01-onboarding", course) == set()
    assert module_spec.owners(course)["nanochat/engine.py"] == ["11-engine", "12-tool-use"]
    report = course["15-report"].file("nanochat/report.py")
    assert next(s for s in report.stubs if s.function == "Report.log").stand_in.startswith("return None")


def test_the_survey_fills_its_topic_into_the_default_questions_and_takes_authored_ones(tmp_path):
    spec = module_spec.load(
        write(
            tmp_path,
            with_(
                survey={
                    "topic": {"en": "byte pairs", "zh": "字节对"},
                    "difficulty": {"en": "Was merging hard?", "zh": "合并难吗？"},
                }
            ),
        )
    )
    en = spec.survey.texts(lang="en", title=spec.title)
    zh = spec.survey.texts(lang="zh", title=spec.title)
    assert en["confidence_before"] == "How confident are you about byte pairs?"
    assert zh["confidence_after"] == "通过之后，你对「字节对」有多大把握？"
    assert (en["difficulty"], zh["difficulty"]) == ("Was merging hard?", "合并难吗？")
    assert en["helpfulness"] == module_spec.SURVEY_DEFAULTS["helpfulness"]["en"]


def test_without_a_survey_the_questions_name_the_modules_title(tmp_path):
    spec = module_spec.load(write(tmp_path, with_()))
    assert spec.survey.texts(lang="en", title={"en": "Hello", "zh": "你好"})["confidence_before"] == (
        "How confident are you about Hello?"
    )


@pytest.mark.parametrize("survey", [{"mood": {"en": "x", "zh": "y"}}, {"topic": {"en": "only english"}}])
def test_a_survey_with_an_unknown_question_or_one_language_is_refused(tmp_path, survey):
    with pytest.raises(module_spec.SpecError, match="survey"):
        module_spec.load(write(tmp_path, with_(survey=survey)))
