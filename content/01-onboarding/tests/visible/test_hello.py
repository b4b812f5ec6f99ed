"""Visible tests for module 1 (hello nanochat). Learner code is reached only through the ``learner`` fixture.

Each failure message says what was expected, what came, the likely cause and the step. The parameter count is
checked against nanochat's own model, not against a formula: ``NANOCHAT_GPT_PARAMS`` holds what
``nanochat_ref.gpt.GPT`` counts for each shape used here, and tests/content/test_onboarding_exercise.py builds every
one of those models and checks the table. The judge does not build them itself: that would import torch, seconds of
CPU on every verdict of a module whose own code needs no torch.
"""

import importlib.metadata
import math
import platform

import pytest

from grading.engine.errors import LearnerError
from grading.testkit import assert_number, finite_numbers

KEYS = {"python", "torch", "tiktoken", "rustbpe"}


@pytest.fixture
def hello(learner):
    return learner.module("hello")


#: ``sum(p.numel() for p in GPT(GPTConfig(**shape)).parameters())`` of nanochat_ref.gpt, per shape (checked in CI).
NANOCHAT_GPT_PARAMS = [
    (
        {"sequence_len": 16, "vocab_size": 1000, "n_layer": 2, "n_head": 4, "n_kv_head": 4, "n_embd": 64},
        229_376,
    ),
    (
        {"sequence_len": 16, "vocab_size": 300, "n_layer": 3, "n_head": 4, "n_kv_head": 2, "n_embd": 128},
        622_592,
    ),
    (
        {"sequence_len": 16, "vocab_size": 512, "n_layer": 2, "n_head": 2, "n_kv_head": 2, "n_embd": 64},
        163_840,
    ),
]


def _model_params(shape):
    for known, count in NANOCHAT_GPT_PARAMS:
        if known == shape:
            return count
    raise KeyError(f"no count of nanochat's GPT for {shape}: add it to NANOCHAT_GPT_PARAMS")


# --- step 1 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_env_report_has_exactly_the_four_keys(hello):
    report = hello.env_report()
    assert isinstance(report, dict), f"env_report() must return a dict, got {type(report).__name__} (step 1)."
    assert set(report) == KEYS, (
        f"env_report() keys: expected {sorted(KEYS)}, got {sorted(report)}. Likely cause: a missing 'python' "
        "entry, or a package name spelled differently (step 1)."
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_env_report_gives_the_running_python_version(hello):
    got = hello.env_report()["python"]
    assert got == platform.python_version(), (
        f"env_report()['python']: expected {platform.python_version()!r} (platform.python_version()), got {got!r}. "
        "Likely cause: sys.version (which adds the build and compiler) or sys.version_info (step 1)."
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_env_report_gives_the_installed_torch_version(hello):
    got = hello.env_report()["torch"]
    expected = importlib.metadata.version("torch")
    assert got == expected, (
        f"env_report()['torch']: expected the installed version {expected!r} as a string, got {got!r} (step 1)."
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_a_package_that_is_not_installed_maps_to_none(learner, hello):
    """Run with an empty ``sys.path``: package metadata finds nothing, so every package is "not installed"."""
    sys_path = learner.module("sys").path
    saved = list(learner.value(sys_path))  # a copy: in-process the value IS the list
    sys_path.clear()
    try:
        report = hello.env_report()
    except LearnerError as exc:
        report = exc
    finally:
        sys_path.extend(saved)
    assert not isinstance(report, LearnerError), (
        f"env_report() raised {report.type_name}: {report.message} when a package is not installed: expected "
        "None for that package. Likely cause: importlib.metadata.PackageNotFoundError is not caught (step 1)."
    )
    got = {k: report.get(k) for k in ("torch", "tiktoken", "rustbpe")}
    assert got == {"torch": None, "tiktoken": None, "rustbpe": None}, (
        f"with nothing installed, expected every package to map to None, got {got}. Likely cause: a default "
        "such as '' or 'unknown' instead of None, or a version read some other way than importlib.metadata (step 1)."
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_env_report_does_not_import_the_packages(learner):
    """A fresh Python process runs env_report(); afterwards torch must not be in ``sys.modules``."""
    os_path = learner.module("os").path
    folder = os_path.dirname(learner.module("inspect").getfile(learner.module("hello")))
    # the answer is the last line, marked, so the learner's own prints (at import or in env_report) don't count
    code = (
        "import sys, hello; hello.env_report(); "
        "print('\\nIMPORTED=' + repr(sorted(m for m in ('torch', 'tiktoken') if m in sys.modules)))"
    )
    done = learner.module("subprocess").run(
        [learner.value(learner.module("sys").executable), "-c", code],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [line for line in learner.value(done.stdout).splitlines() if line.startswith("IMPORTED=")]
    out = lines[-1].removeprefix("IMPORTED=") if lines else ""
    assert out == "[]", (
        f"after env_report() in a fresh process, imported: {out or learner.value(done.stderr)[-300:]}; expected "
        "none. Likely cause: `import torch` to read torch.__version__, which costs seconds; read the version "
        "from package metadata with importlib.metadata.version(name) (step 1)."
    )


# --- step 2 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_greet_says_hello_with_the_name(hello):
    got = hello.greet("Ada")
    assert got == "Hello, Ada! Welcome to nanochat.", (
        f"greet('Ada'): expected 'Hello, Ada! Welcome to nanochat.', got {got!r}. Likely cause: a typo in the "
        "punctuation or spacing of the template (step 2)."
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_greet_strips_surrounding_whitespace(hello):
    got = hello.greet("  Grace \n")
    assert got == "Hello, Grace! Welcome to nanochat.", (
        f"greet('  Grace \\n'): expected 'Hello, Grace! Welcome to nanochat.', got {got!r}. Likely cause: no "
        "strip(), or strip(' ') which keeps the newline (step 2)."
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
@pytest.mark.parametrize("name", ["   ", "\t\n"], ids=["spaces", "tab-newline"])
def test_greet_rejects_a_blank_name(hello, name):
    with pytest.raises(LearnerError) as excinfo:
        got = hello.greet(name)
        pytest.fail(
            f"greet({name!r}) returned {got!r}: expected ValueError. Likely cause: the blank check runs "
            "before strip(), so whitespace counts as a name (step 2)."
        )
    assert excinfo.value.type_name == "ValueError", (
        f"greet({name!r}) raised {excinfo.value.type_name}: expected ValueError (raise ValueError(...), not assert) "
        "(step 2)."
    )


# --- step 3 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_config_from_depth_20_is_the_speedrun_model(hello):
    got = hello.config_from_depth(20)
    expected = {
        "sequence_len": 2048,
        "vocab_size": 65536,
        "n_layer": 20,
        "n_embd": 1280,
        "n_head": 10,
        "n_kv_head": 10,
    }
    assert got == expected, f"config_from_depth(20): expected {expected}, got {got} (step 3)."


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
@pytest.mark.parametrize("depth", [1, 3, 5, 26])
def test_config_from_depth_rounds_the_head_count_up(hello, depth):
    got = hello.config_from_depth(depth, vocab_size=50304, sequence_len=1024)
    n_embd = 64 * depth
    expected = {
        "sequence_len": 1024,
        "vocab_size": 50304,
        "n_layer": depth,
        "n_embd": n_embd,
        "n_head": math.ceil(n_embd / 128),
        "n_kv_head": math.ceil(n_embd / 128),
    }
    assert got == expected, (
        f"config_from_depth({depth}, vocab_size=50304, sequence_len=1024): expected {expected}, got {got}. Likely "
        f"cause: n_head = n_embd // 128 rounds {n_embd}/128 down (nanochat rounds up: (n_embd + 127) // 128), "
        "n_kv_head not equal to n_head, or the vocab_size/sequence_len arguments ignored (step 3)."
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_config_from_depth_rejects_depth_zero(hello):
    with pytest.raises(LearnerError) as excinfo:
        got = hello.config_from_depth(0)
        pytest.fail(
            f"config_from_depth(0) returned {got}: expected ValueError (a GPT needs a layer) (step 3)."
        )
    assert excinfo.value.type_name == "ValueError", (
        f"expected ValueError, got {excinfo.value.type_name} (step 3)."
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_count_params_of_d20_is_561_million(hello, metrics):
    n = hello.count_params(hello.config_from_depth(20))
    metrics.record("d20_params", n)
    assert_number(
        n,
        560_988_160,
        rel=0,
        abs=0,
        what="count_params(config_from_depth(20))",
        msg="two untied 65,536 x 1,280 embeddings plus 20 blocks of 12 x 1,280^2 (step 3)",
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
@pytest.mark.parametrize(
    "shape",
    [
        {"sequence_len": 16, "vocab_size": 1000, "n_layer": 2, "n_head": 4, "n_kv_head": 4, "n_embd": 64},
        {"sequence_len": 16, "vocab_size": 300, "n_layer": 3, "n_head": 4, "n_kv_head": 2, "n_embd": 128},
    ],
    ids=["vocab-padding", "grouped-query"],
)
def test_count_params_equals_nanochats_model(hello, shape):
    expected = _model_params(shape)
    got = hello.count_params(shape)
    assert_number(
        got,
        expected,
        rel=0,
        abs=0,
        what=f"count_params({shape})",
        msg="nanochat's GPT with this config has that many parameters. Likely cause: the vocabulary not "
        "padded UP to a multiple of 64 (1000 -> 1024, 300 -> 320), c_k/c_v sized n_embd instead of "
        "n_kv_head * head_dim, tied embeddings, or a missing MLP matrix (step 3)",
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_count_params_defaults_n_kv_head_to_n_head(hello):
    shape = {"sequence_len": 16, "vocab_size": 512, "n_layer": 2, "n_head": 2, "n_embd": 64}
    try:
        got = hello.count_params(shape)
    except LearnerError as exc:
        pytest.fail(
            f"count_params without 'n_kv_head' raised {exc.type_name}: {exc.message}. Expected n_kv_head to "
            "default to n_head (config.get('n_kv_head', n_head)) (step 3)."
        )
    assert_number(
        got, _model_params({**shape, "n_kv_head": 2}), rel=0, abs=0, what="count_params without n_kv_head"
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_parameters_grow_with_the_cube_of_depth(hello, metrics):
    """The measurement: parameters of d4 ... d32 (the chart); per-block parameters are 12 * (64 d)^2, so the
    non-embedding count over d^3 is the constant 12 * 64^2 = 49,152."""
    depths = list(range(4, 33, 4))
    counts = finite_numbers(
        [hello.count_params(hello.config_from_depth(d)) for d in depths],
        what="count_params(config_from_depth(d)) for d = 4, 8, ..., 32",
    )
    depth = {"en": "depth", "zh": "深度"}
    metrics.series(
        "params_by_depth",
        counts,
        x=depths,
        title={"en": "Parameters by depth", "zh": "各深度的参数量"},
        x_label=depth,
    )
    ratios = [(n - 2 * 65536 * 64 * d) / d**3 for n, d in zip(counts, depths, strict=True)]
    metrics.series(
        "non_embedding_params_over_depth_cubed",
        ratios,
        x=depths,
        title={"en": "Non-embedding parameters / depth³", "zh": "非嵌入参数量 / 深度³"},
        x_label=depth,
    )
    for d, r in zip(depths, ratios, strict=True):
        assert_number(
            r,
            49_152,
            rel=0,
            abs=0,
            what=f"(params - embeddings) / depth^3 at depth {d}",
            msg="each block holds 4 attention and 2 MLP matrices: 12 n_embd^2 with n_embd = 64 depth (step 3)",
        )
