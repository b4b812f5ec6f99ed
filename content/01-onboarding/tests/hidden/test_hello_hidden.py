"""Hidden tests for module 1: edge cases, and the parameter count checked against the real model."""

import importlib.metadata
import math

import pytest

from grading.engine.errors import LearnerError

#: ``sum(p.numel() for p in GPT(GPTConfig(**shape)).parameters())`` of nanochat_ref.gpt, per shape: the real model's
#: count, checked in CI (tests/content/test_onboarding_exercise.py) so the judge need not import torch.
NANOCHAT_GPT_PARAMS = [
    (
        {"sequence_len": 16, "vocab_size": 1000, "n_layer": 2, "n_head": 4, "n_kv_head": 4, "n_embd": 64},
        229_376,
    ),
    (
        {"sequence_len": 16, "vocab_size": 300, "n_layer": 3, "n_head": 4, "n_kv_head": 2, "n_embd": 128},
        622_592,
    ),
    ({"sequence_len": 8, "vocab_size": 64, "n_layer": 1, "n_head": 2, "n_kv_head": 1, "n_embd": 32}, 15_360),
]


@pytest.fixture
def hello(learner):
    return learner.module("hello")


def _installed(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_env_report_matches_installed_tiktoken_and_rustbpe(hello):
    report = hello.env_report()
    assert report["tiktoken"] == _installed("tiktoken")
    assert report["rustbpe"] == _installed("rustbpe")


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_env_report_values_are_strings_or_none(hello):
    assert all(v is None or isinstance(v, str) for v in hello.env_report().values())


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_greet_keeps_unicode_names_intact(hello):
    assert hello.greet("小明") == "Hello, 小明! Welcome to nanochat."


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_greet_rejects_the_empty_string(hello):
    with pytest.raises(LearnerError) as excinfo:
        hello.greet("")
    assert excinfo.value.type_name == "ValueError"


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
@pytest.mark.parametrize("depth", [1, 3, 12, 26, 32])
def test_config_from_depth_keeps_head_dim_128_rule(hello, depth):
    config = hello.config_from_depth(depth, vocab_size=50304, sequence_len=1024)
    assert config["n_layer"] == depth
    assert config["n_embd"] == 64 * depth
    assert config["n_head"] == math.ceil(64 * depth / 128)
    assert config["n_kv_head"] == config["n_head"]
    assert (config["vocab_size"], config["sequence_len"]) == (50304, 1024)


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_config_from_depth_rejects_zero(hello):
    with pytest.raises(LearnerError) as excinfo:
        hello.config_from_depth(0)
    assert excinfo.value.type_name == "ValueError"


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
@pytest.mark.parametrize(
    "shape",
    [
        {"sequence_len": 16, "vocab_size": 1000, "n_layer": 2, "n_head": 4, "n_kv_head": 4, "n_embd": 64},
        {"sequence_len": 16, "vocab_size": 300, "n_layer": 3, "n_head": 4, "n_kv_head": 2, "n_embd": 128},
        {"sequence_len": 8, "vocab_size": 64, "n_layer": 1, "n_head": 2, "n_kv_head": 1, "n_embd": 32},
    ],
)
def test_count_params_equals_the_reference_model(hello, shape):
    expected = next(count for known, count in NANOCHAT_GPT_PARAMS if known == shape)
    assert hello.count_params(shape) == expected


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_count_params_of_d32_matches_the_1000_dollar_tier(hello):
    # run1000.sh: d32 has 1,879,048,192 parameters
    assert hello.count_params(hello.config_from_depth(32)) == 1_879_048_192
