"""``modules.starters.generate``: cutting stubs out of a reference, one behaviour per test, on small sources."""

from __future__ import annotations

import ast
import textwrap

import pytest

from modules.spec import SpecError, Stub
from modules.starters import GENERATOR_TAIL, generate


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def stub(target: str, step: str = "step1", todo: str = "do it", **kw) -> Stub:
    if target.startswith("region:"):
        return Stub(step=step, todo=todo, region=target.removeprefix("region:"), **kw)
    return Stub(step=step, todo=todo, function=target, **kw)


REFERENCE = src(
    '''
    """A module."""

    import math  # kept


    def area(r: float) -> float:
        """Area of a circle."""
        # the solution's comment goes with the body
        return math.pi * r * r


    class Shape:
        sides = 0

        def describe(self, name: str = "shape") -> str:
            """A description."""
            return f"{name} with {self.sides} sides"

        def untouched(self) -> int:
            return self.sides
    '''
)


def test_a_function_body_after_its_docstring_becomes_the_todo_of_its_step():
    out = generate(REFERENCE, [stub("area", step="step3", todo="pi r squared")])
    assert '    """Area of a circle."""\n    raise NotImplementedError("TODO(step 3): pi r squared")\n' in out
    assert "math.pi * r * r" not in out and "the solution's comment" not in out


def test_everything_outside_the_stubs_is_the_reference_text():
    out = generate(REFERENCE, [stub("Shape.describe")])
    assert out.replace('        raise NotImplementedError("TODO(step 1): do it")\n', "") == REFERENCE.replace(
        '        return f"{name} with {self.sides} sides"\n', ""
    )


def test_methods_are_named_by_class_and_other_methods_stay():
    out = generate(REFERENCE, [stub("Shape.describe")])
    assert 'def describe(self, name: str = "shape") -> str:' in out and "return self.sides" in out


def test_a_stub_doc_replaces_the_docstring_with_the_learner_specification():
    out = generate(REFERENCE, [stub("area", doc="Area of a circle.\n\nUse math.pi; r may be 0.")])
    assert '    """Area of a circle.\n\n    Use math.pi; r may be 0.\n    """\n    raise' in out


def test_a_doc_is_added_where_the_reference_has_no_docstring():
    out = generate(REFERENCE, [stub("Shape.untouched", doc="The number of sides.")])
    assert '        """The number of sides."""\n        raise NotImplementedError' in out


def test_a_function_without_docstring_and_a_multiline_signature_keeps_its_header():
    reference = src(
        """
        def f(
            a: dict[str, int],
            b: int = 1,
        ) -> int:  # a comment on the header
            x = a["k"] + b
            return x
        """
    )
    out = generate(reference, [stub("f")])
    assert out == src(
        """
        def f(
            a: dict[str, int],
            b: int = 1,
        ) -> int:  # a comment on the header
            raise NotImplementedError("TODO(step 1): do it")
        """
    )


def test_a_generator_stays_a_generator():
    reference = src(
        """
        def batches(n):
            def helper():
                yield 0  # a nested generator does not make batches one
            for i in range(n):
                yield i
        """
    )
    out = generate(reference, [stub("batches")])
    assert out.endswith(f"    {GENERATOR_TAIL}\n")
    plain = generate(src("def f():\n    g = (x for x in range(3))\n    return list(g)\n"), [stub("f")])
    assert "yield" not in plain


def test_an_async_generator_stays_an_async_generator():
    out = generate(src("async def stream():\n    yield 1\n"), [stub("stream")])
    tree = ast.parse(out)
    assert isinstance(tree.body[0], ast.AsyncFunctionDef) and "yield" in out


def test_long_todos_are_wrapped_as_ruff_formats_a_long_call():
    out = generate(REFERENCE, [stub("area", todo="x" * 120)])
    assert '    raise NotImplementedError(\n        "TODO(step 1): ' + "x" * 120 + '"\n    )\n' in out


def test_quotes_and_backslashes_in_a_todo_are_escaped():
    out = generate(REFERENCE, [stub("area", todo='say "hi" \\ bye')])
    node = ast.parse(out).body[2]
    assert isinstance(node, ast.FunctionDef)
    raised = node.body[1]
    assert isinstance(raised, ast.Raise) and isinstance(raised.exc, ast.Call)
    assert ast.literal_eval(raised.exc.args[0]) == 'TODO(step 1): say "hi" \\ bye'


def test_a_marked_region_is_cut_at_its_indentation_and_every_marker_disappears():
    reference = src(
        """
        def train(steps):
            loss = 0.0
            for step in range(steps):
                # lab: begin step-update
                loss = loss * 0.9 + step
                loss += 1
                # lab: end step-update
            # lab: begin logging
            print(loss)
            # lab: end logging
            return loss
        """
    )
    out = generate(reference, [stub("region:step-update", step="step2", todo="update the loss")])
    assert out == src(
        """
        def train(steps):
            loss = 0.0
            for step in range(steps):
                raise NotImplementedError("TODO(step 2): update the loss")
            print(loss)
            return loss
        """
    )


@pytest.mark.parametrize(
    ("reference", "stubs", "needle"),
    [
        (REFERENCE, [stub("nope")], "no such function"),
        (REFERENCE, [stub("Shape.nope")], "no such function"),
        (src("def f(): return 1\n"), [stub("f")], "def line"),
        (src('def f():\n    """Only a docstring."""\n'), [stub("f")], "no code after its docstring"),
        (REFERENCE, [stub("region:missing")], "exactly one"),
        (src("x = 1\n# lab: begin r\n# lab: end r\n"), [stub("region:r")], "empty"),
        (src("# lab: begin r\nx = 1\n# lab: end r\n# lab: begin r\n"), [stub("region:r")], "exactly one"),
        (
            src("def f():\n    # lab: begin r\n    x = 1\n    # lab: end r\n    return x\n"),
            [stub("f"), stub("region:r")],
            "overlap",
        ),
        ("def f(:\n", [stub("f")], "does not parse"),
        (REFERENCE, [stub("area", doc='has """ inside')], '"""'),
    ],
)
def test_stubs_that_cannot_be_cut_are_refused_with_the_reason(reference, stubs, needle):
    with pytest.raises(SpecError, match=needle):
        generate(reference, stubs)


def test_every_problem_is_reported_at_once():
    with pytest.raises(SpecError) as info:
        generate(REFERENCE, [stub("nope"), stub("region:gone")])
    assert len(info.value.problems) == 2


def test_generation_is_deterministic_and_parses():
    stubs = [stub("area"), stub("Shape.describe", step="step2", doc="Describe it.")]
    first, second = generate(REFERENCE, stubs), generate(REFERENCE, stubs)
    assert first == second
    ast.parse(first)


def test_another_modules_part_is_cut_with_a_not_yet_message():
    out = generate(
        REFERENCE, [stub("area")], foreign=[("15-report", stub("Shape.describe", todo="describe"))]
    )
    assert 'raise NotImplementedError("not yet: module 15-report writes this (describe)")' in out
    assert "with {self.sides} sides" not in out


def test_a_stand_in_replaces_another_modules_part_that_earlier_code_calls_in_passing():
    later = Stub(
        step="step1", todo="log it", function="Shape.describe", stand_in="return None  # logs nothing"
    )
    out = generate(REFERENCE, [], foreign=[("15-report", later)])
    assert (
        "        # not yet: module 15-report writes this (log it)\n        return None  # logs nothing\n"
        in out
    )


def test_the_learners_own_stub_wins_over_another_modules_stub_of_the_same_function():
    out = generate(
        REFERENCE, [stub("area", todo="mine")], foreign=[("12-tools", stub("area", todo="theirs"))]
    )
    assert "TODO(step 1): mine" in out and "theirs" not in out


# --- Rust sources: region stubs only ------------------------------------------------------------------------------
RUST_REFERENCE = src(
    """
    fn train(words: &mut Vec<Word>) -> u32 {
        let mut merges = 0;
        while merges < 10 {
            // lab: begin merge-update
            for w in words.iter_mut() {
                w.merge_pair(pair, new_id);
            }
            // lab: end merge-update
            merges += 1;
        }
        merges
    }
    """
)


def test_a_rust_region_becomes_unimplemented_and_its_markers_vanish():
    from modules.starters import generate_rust

    out = generate_rust(
        RUST_REFERENCE, [stub("region:merge-update", step="step6", todo="merge {pair} in every word")]
    )
    assert out == src(
        """
        fn train(words: &mut Vec<Word>) -> u32 {
            let mut merges = 0;
            while merges < 10 {
                unimplemented!("TODO(step 6): merge {{pair}} in every word");
                merges += 1;
            }
            merges
        }
        """
    )
    assert generate_rust(RUST_REFERENCE, []) == "".join(
        line for line in RUST_REFERENCE.splitlines(keepends=True) if "// lab:" not in line
    )


def test_a_rust_file_refuses_function_stubs_and_missing_regions():
    from modules.starters import generate_rust

    with pytest.raises(SpecError) as excinfo:
        generate_rust(RUST_REFERENCE, [stub("train"), stub("region:nowhere")])
    problems = str(excinfo.value)
    assert "region stubs only" in problems and "'// lab: begin nowhere'" in problems
