"""The course's handouts: every fact holds in the reference, every guide renders without a problem in both
languages with the same figures, facts and deviations box, prose is never taken for maths, and the figures are
generated from the reference, byte-identical on every run.

The figures are generated once per session, in-process (``scripts.figures.generate``), into a temporary folder.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from content_helpers import CONTENT_DIR, REPO_ROOT, module_dirs

from modules import spec as module_spec
from modules.content import guide_context
from modules.facts import fact_problems
from modules.figures import FigureIndex, manifest_read, stale
from modules.handouts import guide_render

LANGS = ("en", "zh")
FACT_RE = re.compile(r"\{\{\s*fact:([^}\s]*)\s*\}\}")
FIGURE_RE = re.compile(r"\]\(figure:([^)\s]+)\)")
INLINE_MATHS_RE = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.DOTALL)
TEXT_COMMANDS_RE = re.compile(r"\\(?:text|mathrm|operatorname|textrm|mbox)\{[^}]*\}")
PROSE_RE = re.compile(r"[A-Za-z]{3,} [A-Za-z]{3,}")
SLUGS = [d.name for d in module_dirs()]


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> Path:
    from scripts.figures import generate

    out = tmp_path_factory.mktemp("figures")
    generate(out)
    return out


@pytest.fixture(scope="session")
def figures(generated) -> FigureIndex:
    listed = manifest_read(generated)
    assert listed is not None
    return FigureIndex(root=generated, figures=listed)


def guide(slug: str, lang: str) -> str:
    return (CONTENT_DIR / slug / f"guide.{lang}.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("slug", SLUGS)
def test_every_fact_with_a_value_holds_in_the_reference(slug):
    assert fact_problems(module_spec.load(CONTENT_DIR / slug), REPO_ROOT) == []


@pytest.mark.parametrize("slug", SLUGS)
def test_every_guide_renders_without_a_problem(slug, figures):
    spec = module_spec.load(CONTENT_DIR / slug)
    for lang in LANGS:
        rendered = guide_render(guide(slug, lang), guide_context(spec, lang, figures))
        assert rendered.problems == [], f"guide.{lang}.md"


@pytest.mark.parametrize("slug", SLUGS)
def test_both_guides_cite_the_same_facts_figures_and_deviations_box(slug):
    en, zh = guide(slug, "en"), guide(slug, "zh")
    assert sorted(FACT_RE.findall(en)) == sorted(FACT_RE.findall(zh))
    assert FIGURE_RE.findall(en) == FIGURE_RE.findall(zh)
    assert ("{{deviations}}" in en) == ("{{deviations}}" in zh)
    if module_spec.load(CONTENT_DIR / slug).deviations:
        assert "{{deviations}}" in en, "a module with deviations shows them in its guides"


@pytest.mark.parametrize("slug", SLUGS)
def test_prose_is_never_taken_for_maths(slug):
    """Two dollar amounts in a sentence make an inline formula of the words between them: escape them (\\$)."""
    for lang in LANGS:
        for tex in INLINE_MATHS_RE.findall(guide_render(guide(slug, lang)).html):
            assert not PROSE_RE.search(TEXT_COMMANDS_RE.sub("", tex)), (
                f"guide.{lang}.md: ${tex}$ reads as prose"
            )


def test_every_generated_figure_is_shown_by_its_modules_guides(figures):
    shown = {f"{d.name}/{name}" for d in module_dirs() for name in FIGURE_RE.findall(guide(d.name, "en"))}
    assert (
        set(figures)
        == shown
        == {
            "05-gpt/causal-mask",
            "06-optimizers/newton-schulz",
            "07-base-training/lr-schedule",
            "07-base-training/tiny-run",
        }
    )


# --- generation ---------------------------------------------------------------------------------------------------
def test_generating_twice_writes_byte_identical_files(generated, tmp_path):
    from scripts.figures import FIGURES, generate

    generate(tmp_path)
    first = {p.relative_to(generated): p.read_bytes() for p in generated.rglob("*") if p.is_file()}
    second = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert len(first) == 2 * len(FIGURES) + 1 and first == second  # each figure in 2 languages, and the manifest


def test_the_manifest_is_fresh_and_names_the_reference_files_each_figure_is_computed_from(generated):
    listed = manifest_read(generated)
    assert listed is not None and stale(listed, generated, REPO_ROOT) == []
    assert "nanochat_ref/gpt.py" in listed["05-gpt/causal-mask"].inputs
    assert "nanochat_ref/muon.py" in listed["06-optimizers/newton-schulz"].inputs
    assert "nanochat_ref/scripts/base_train.py" in listed["07-base-training/lr-schedule"].inputs
    assert all("scripts/figures/svg.py" in figure.inputs for figure in listed.values())


def test_svg_figures_are_well_formed_svg_in_each_language(figures):
    for key in ("05-gpt/causal-mask", "06-optimizers/newton-schulz"):
        titles = []
        for lang in LANGS:
            root = ET.fromstring(figures[key][lang])
            assert root.tag == "{http://www.w3.org/2000/svg}svg"
            assert not list(root.iter("{http://www.w3.org/2000/svg}script"))
            titles.append(root.findtext("{http://www.w3.org/2000/svg}title") or "")
        assert re.search(r"[\u4e00-\u9fff]", titles[1]) and not re.search(r"[\u4e00-\u9fff]", titles[0])


def test_the_schedule_plot_follows_the_page_contract(figures):
    schema = json.loads((REPO_ROOT / "labplatform" / "schemas" / "guide-plot.schema.json").read_text())
    for lang in LANGS:
        plot = json.loads(figures["07-base-training/lr-schedule"][lang])
        jsonschema.Draft202012Validator(schema).validate(plot)
        defaults = plot["series"][0]
        assert (
            defaults["x"][0] == 0 and defaults["x"][-1] == 21400 and len(defaults["x"]) == len(defaults["y"])
        )
        assert defaults["y"][0] == 1.0 and defaults["y"][-1] == 0.0
        assert defaults["y"][defaults["x"].index(17120)] == 1.0  # the warmdown starts at 80% of the steps


# --- the figures show what the reference does ---------------------------------------------------------------------
def test_the_mask_is_read_off_the_reference_attention_layer():
    from scripts.figures.attention import T, attention_weights, kv_head_of_query_heads

    weights = attention_weights()
    for i, row in enumerate(weights):
        assert row[: i + 1] == pytest.approx([1 / (i + 1)] * (i + 1), abs=1e-4)
        assert row[i + 1 :] == [0.0] * (T - i - 1)
    assert kv_head_of_query_heads() == [0, 0, 0, 1, 1, 1]


def test_one_newton_schulz_step_is_the_quintic_with_nanochats_coefficients():
    from nanochat_ref.muon import NS_COEFFS
    from scripts.figures.newton_schulz import singular_value_map

    a, b, c = NS_COEFFS
    for s, mapped in singular_value_map(1)[::20]:
        assert mapped == pytest.approx(a * s + b * s**3 + c * s**5, abs=1e-3)
    five = [mapped for _, mapped in singular_value_map(5)]
    assert min(five[len(five) // 2 :]) > 0.6 and max(five) < 1.25, "5 steps land every large σ near 1"


def test_the_tiny_run_figure_is_a_real_run_of_the_reference_train_step():
    from scripts.figures.tiny_run import EMA_BETA, STEPS, run

    data = run()
    loss, smooth, raw = data["loss"], data["smooth"], data["raw"]
    assert len(loss) == len(smooth) == len(raw) == STEPS
    assert loss[-1] < loss[0] - 2, f"the tiny run's loss should fall: {loss}"  # from ~ln(512) = 6.24
    ema = 0.0
    for t, value in enumerate(loss):  # the plotted curves are the EMA of the plotted losses, debiased and not
        ema = EMA_BETA * ema + (1 - EMA_BETA) * value
        assert abs(raw[t] - ema) < 1e-3 and abs(smooth[t] - ema / (1 - EMA_BETA ** (t + 1))) < 1e-3
    assert smooth[0] == loss[0] and raw[0] < loss[0] / 5, (
        "the debias is what keeps the first logged values honest"
    )
