"""Module 2's optional Rust step: only ``lib.rs`` regions are accepted, and nothing in them reaches files at compile
time. Every refusal happens before any sandbox starts (the engine's verdict, through ``grading.engine.runner``)."""

from __future__ import annotations

import pytest
from content_helpers import CONTENT_DIR, REPO_ROOT

from grading.engine.runner import grade
from modules import spec as module_spec
from modules import starters

MODULE_DIR = CONTENT_DIR / "02-tokenizer"
LIB = "rustbpe/src/lib.rs"
SPEC = module_spec.load(MODULE_DIR)
REFERENCE = (REPO_ROOT / LIB).read_text(encoding="utf-8")
STARTER = starters.starter_text(SPEC, SPEC.file(LIB))
#: The first line of the learner's merge-pair region in the reference.
ANCHOR = "        let mut i = 0;\n"


def _in_region(line: str) -> str:
    assert REFERENCE.count(ANCHOR) == 1
    return REFERENCE.replace(ANCHOR, ANCHOR + f"        {line}\n")


def _verdict(text: str) -> dict:
    events = list(grade(MODULE_DIR, {LIB: text.encode()}, sandbox=object()))  # a sandbox would crash if used
    assert events[-1]["type"] == "verdict"
    return events[-1]["result"]


@pytest.mark.parametrize(
    "line",
    [
        'let _secret = include_str!("/etc/passwd");',
        'let _t = include_bytes!("/opt/module/tests/hidden/test_bpe_hidden.py");',
        'let _t = std::include_str!("../../tests/hidden/test_bpe_hidden.py");',
        'let _t = r#include_str!("/etc/passwd");',
        "use std::include_str as read_at_compile_time;",
        'include!("/work/nanochat/tokenizer.py");',
        'let _home = env!("HOME");',
        'let _key = option_env!("SECRET_KEY");',
        '#[path = "/etc/passwd"] mod leak;',
        "extern crate proc_macro;",
        '#[no_mangle] pub extern "C" fn PyInit_other() {}',
    ],
)
def test_a_region_that_reaches_files_or_the_environment_at_compile_time_is_refused(line):
    text = _in_region(line)
    with pytest.raises(module_spec.SubmissionError) as caught:
        module_spec.validate_files(SPEC, {LIB: text})
    assert caught.value.code == "rust_denied"
    result = _verdict(text)
    assert (result["status"], result["outcome"], result["tests"]) == ("fail", "compile_error", [])
    assert "is not allowed in your code" in result["message"]


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace("fn pairs(&self)", "fn pairs(&self) /* renamed */", 1),  # outside any region
        lambda t: t.replace("#[pymodule]\n", "#[pymodule]\n#[allow(unused)]\n", 1),
        lambda t: "// a build script could go here\n" + t,
        lambda t: t + "\nfn extra() {}\n",
        lambda t: t.replace("    #[test]\n", "    #[test]\n    #[ignore]\n", 1),  # the crate's own unit tests
    ],
    ids=["signature", "attribute", "prefix", "suffix", "unit-test"],
)
def test_only_the_marked_regions_of_lib_rs_are_accepted(edit):
    for base in (STARTER, REFERENCE):
        text = edit(base)
        assert text != base
        with pytest.raises(module_spec.SubmissionError) as caught:
            module_spec.validate_files(SPEC, {LIB: text})
        assert caught.value.code == "rust_outside_regions"
    assert "only the marked regions" in _verdict(edit(STARTER))["message"]


@pytest.mark.parametrize("path", ["rustbpe/build.rs", "rustbpe/Cargo.toml", "rustbpe/.cargo/config.toml"])
def test_no_other_file_of_the_crate_can_be_submitted(path):
    with pytest.raises(module_spec.SubmissionError) as caught:
        module_spec.validate_files(SPEC, {path: "fn main() {}\n"})
    assert caught.value.code == "unknown_file"


def test_a_submission_that_attempts_the_rust_step_goes_to_the_long_lane():
    assert SPEC.lane == "short" and SPEC.optional_steps == {"step6"}
    assert module_spec.submission_lane(SPEC, {LIB: STARTER}) == "short"
    assert module_spec.submission_lane(SPEC, {}) == "short"
    assert module_spec.submission_lane(SPEC, {LIB: REFERENCE}) == "long"
    one_region = STARTER.replace(
        next(line for line in STARTER.splitlines(keepends=True) if "unimplemented!" in line), ANCHOR, 1
    )
    assert module_spec.crate_attempted(SPEC.file(LIB), one_region)
