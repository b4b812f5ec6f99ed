"""Content module 02-tokenizer: the real grading engine passes the reference and fails every test of the starter.

The reference run submits the reference ``rustbpe/src/lib.rs`` too, so the optional Rust step compiles in the
learner sandbox and passes; the starter run submits a ``lib.rs`` whose region does not compile, so the step's
tests fail with rustc's diagnostics while every other test fails on its ``NotImplementedError``.
"""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULE_DIR = REPO / "content" / "02-tokenizer"
FILES = {
    "nanochat/bpe_python.py": "nanochat_ref/bpe_python.py",
    "nanochat/tokenizer.py": "nanochat_ref/tokenizer.py",
    "rustbpe/src/lib.rs": "rustbpe/src/lib.rs",
}


def _verdict(sources: dict[str, Path], texts: dict[str, str] | None = None) -> dict:
    from grading.engine.runner import grade

    files = {path: src.read_bytes() for path, src in sources.items()}
    files.update({path: text.encode() for path, text in (texts or {}).items()})
    events = list(grade(MODULE_DIR, files))
    assert events[-1]["type"] == "verdict"
    return events[-1]["result"]


@pytest.mark.slow
def test_the_engine_passes_the_reference_tokenizer_on_every_test():
    result = _verdict({path: REPO / ref for path, ref in FILES.items()})
    assert (result["status"], result["outcome"]) == ("pass", "ok"), result["message"]
    assert result["score"] == result["max_score"] >= 30
    assert {t["visibility"] for t in result["tests"]} == {"visible", "hidden"}
    rust = [t for t in result["tests"] if t["step"] == "step6"]
    assert len(rust) >= 6 and all(t["status"] == "pass" for t in rust)
    assert result["metrics"]["train_seconds_optimized"] < result["metrics"]["train_seconds_baseline"]
    assert result["metrics"]["rust_compile_seconds"] > 0


@pytest.mark.slow
def test_the_engine_fails_every_test_of_the_tokenizer_starter():
    from modules import spec as module_spec
    from modules import starters

    spec = module_spec.load(MODULE_DIR)
    lib = starters.starter_text(spec, spec.file("rustbpe/src/lib.rs"))
    todo = next(line for line in lib.splitlines() if "unimplemented!" in line)
    broken = lib.replace(todo, "        let out: Vec<u32> = self.ids.iter().map(|&x| x).colect();", 1)
    line = lib.splitlines().index(todo) + 1
    # the Python files are the starters the engine generates; lib.rs is attempted but does not compile
    result = _verdict({}, {"rustbpe/src/lib.rs": broken})
    assert result["status"] == "fail"
    assert result["score"] == 0 and len(result["tests"]) >= 30
    visible = [t for t in result["tests"] if t["visibility"] == "visible"]
    assert all("NotImplementedError" in t["message"] for t in visible if t["step"] != "step6")
    rust = [t for t in visible if t["step"] == "step6"]
    assert rust and all("does not compile" in t["message"] for t in rust)
    assert f"rustbpe/src/lib.rs:{line}:" in rust[0]["message"], rust[0]["message"]
    assert "colect" in rust[0]["message"]
