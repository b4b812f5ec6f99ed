"""Visible tests for module 1 (hello nanochat). Learner code is reached only through the ``learner`` fixture."""

import importlib.metadata
import platform

import pytest

from grading.engine.errors import LearnerError


@pytest.fixture
def hello(learner):
    return learner.module("hello")


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_env_report_has_exactly_the_four_keys(hello):
    report = hello.env_report()
    assert isinstance(report, dict), f"env_report() must return a dict, got {type(report).__name__}"
    assert set(report) == {"python", "torch", "tiktoken", "rustbpe"}


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_env_report_gives_the_running_python_version(hello):
    assert hello.env_report()["python"] == platform.python_version()


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_env_report_gives_the_installed_torch_version(hello):
    assert hello.env_report()["torch"] == importlib.metadata.version("torch")


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_greet_says_hello_with_the_name(hello):
    assert hello.greet("Ada") == "Hello, Ada! Welcome to nanochat."


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_greet_strips_surrounding_whitespace(hello):
    assert hello.greet("  Grace \n") == "Hello, Grace! Welcome to nanochat."


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_greet_rejects_a_blank_name(hello):
    with pytest.raises(LearnerError) as excinfo:
        hello.greet("   ")
    assert excinfo.value.type_name == "ValueError"


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_config_from_depth_20_is_the_speedrun_model(hello):
    assert hello.config_from_depth(20) == {
        "sequence_len": 2048,
        "vocab_size": 65536,
        "n_layer": 20,
        "n_embd": 1280,
        "n_head": 10,
        "n_kv_head": 10,
    }


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_count_params_of_d20_is_561_million(hello, metrics):
    n = hello.count_params(hello.config_from_depth(20))
    metrics.record("d20_params", n)
    assert n == 560_988_160
