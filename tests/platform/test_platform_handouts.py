"""Handouts: maths, figures, facts and deviations in guides, from the Markdown to the module API and the sync.

The renderer (``modules.handouts``) is tested on its own for what the page receives; the content sync
(``content_sync``) for what an author sees when a guide cites something that does not exist (a content error
naming it); the figure index (``modules.figures``) with a stand-in generator, so the subprocess path runs here
without torch; the fact check (``modules.facts``) on small reference files of each symbol form.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest
from platform_helpers import FIXTURE_CONTENT

from modules.facts import FactError, reference_value, same_value
from modules.figures import Figure, figures_ensure, manifest_write
from modules.handouts import GuideContext, guide_render, guide_to_html
from modules.models import Module
from modules.services import content_sync
from modules.spec import Deviation, Fact

SOFTCAP = Fact(
    id="softcap",
    text={"en": "logits are capped at $15$", "zh": "logits 的上限是 `15`"},
    source={
        "file": "nanochat/gpt.py",
        "symbol": "GPT.forward:softcap",
        "lines": "275-279",
        "commit": "48abd7d",
    },
    value=15,
)
HELPER = Deviation(
    id="helper",
    text={"en": "a lab helper, `attention`", "zh": "本实验的辅助函数 `attention`"},
    upstream={"file": "nanochat/gpt.py", "lines": "84-102"},
)
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>\n'
PLOT = json.dumps(
    {"title": "t", "x_label": "x", "y_label": "y", "series": [{"name": "s", "x": [0], "y": [1]}]}
)
FIGURES = {
    "05-gpt/mask": {"kind": "svg", "en": SVG, "zh": SVG.replace("10", "12")},
    "05-gpt/schedule": {"kind": "plot", "en": PLOT, "zh": PLOT},
    "06-optimizers/ns": {"kind": "svg", "en": SVG, "zh": SVG},
}


def context(lang: str = "en", **changes) -> GuideContext:
    base = dict(slug="05-gpt", lang=lang, facts={"softcap": SOFTCAP}, deviations=(HELPER,), figures=FIGURES)
    return GuideContext(**{**base, **changes})


# --- maths -------------------------------------------------------------------------------------------------------
def test_inline_maths_survives_markdown_and_sanitising():
    html = guide_to_html(r"Scores $q_i^\top k_j / \sqrt{d}$ and $a_1 * b_2 * c_3 < 1$ here.")
    assert r'<span class="arithmatex">\(q_i^\top k_j / \sqrt{d}\)</span>' in html
    assert r'<span class="arithmatex">\(a_1 * b_2 * c_3 &lt; 1\)</span>' in html
    assert "<em>" not in html and "<sub>" not in html


def test_display_maths_keeps_its_lines_and_backslashes():
    html = guide_to_html("$$\n\\eta(t) = \\begin{cases} 1 & t < w \\\\\n 0 & t \\ge w \\end{cases}\n$$\n")
    match = re.search(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', html, re.DOTALL)
    assert match, html
    assert "\\begin{cases} 1 &amp; t &lt; w \\\\\n 0" in match.group(1)


def test_a_fenced_math_block_is_display_maths_too():
    html = guide_to_html("```math\nx_1 < y_2\n```\n")
    assert html.strip() == r'<div class="arithmatex">\[x_1 &lt; y_2\]</div>'


def test_an_escaped_dollar_and_maths_in_code_stay_text():
    html = guide_to_html(r"It costs \$100, or \$24 an hour. `$not_maths$`")
    assert "arithmatex" not in html
    assert "$100" in html and "<code>$not_maths$</code>" in html


# --- facts and deviations -------------------------------------------------------------------------------------------
def test_a_fact_is_cited_in_the_guides_language_with_a_link_to_its_upstream_source():
    for lang, text in (("en", r'<span class="arithmatex">\(15\)</span>'), ("zh", "<code>15</code>")):
        html = guide_to_html("The cap: {{fact:softcap}}.", context(lang))
        assert text in html
        link = re.search(
            r'<sup class="fact-source"><a href="([^"]+)" title="([^"]+)"[^>]*>gpt.py:275</a></sup>', html
        )
        assert link, html
        assert link.group(1) == "https://github.com/karpathy/nanochat/blob/48abd7d/nanochat/gpt.py#L275-L279"
        assert "GPT.forward:softcap @ 48abd7d" in link.group(2)


def test_the_deviations_directive_renders_the_modules_deviations_in_a_box():
    for lang, words in (
        ("en", "Where the lab differs from nanochat"),
        ("zh", "本实验与 nanochat 的不同之处"),
    ):
        html = guide_to_html("## Deviations\n\n{{deviations}}\n\nAfter.", context(lang))
        box = re.search(r'<aside class="deviations">(.*?)</aside>', html, re.DOTALL)
        assert box, html
        assert words in box.group(1) and "<code>48abd7d</code>" in box.group(1)
        assert "<code>attention</code>" in box.group(1)
        assert (
            'href="https://github.com/karpathy/nanochat/blob/48abd7d/nanochat/gpt.py#L84-L102"'
            in box.group(1)
        )
        assert "<p>After.</p>" in html


def test_directives_inside_code_blocks_are_left_as_written():
    html = guide_to_html("```text\n{{fact:softcap}}\n{{deviations}}\n```\n", context())
    assert "{{fact:softcap}}" in html and "{{deviations}}" in html and "fact-source" not in html


# --- figures -------------------------------------------------------------------------------------------------------
def test_an_svg_figure_becomes_an_image_with_its_caption():
    for lang in ("en", "zh"):
        html = guide_to_html("Text.\n\n![The causal mask](figure:mask)\n", context(lang))
        figure = re.search(
            r'<figure class="guide-figure" data-figure="05-gpt/mask">(.*?)</figure>', html, re.DOTALL
        )
        assert figure, html
        src = re.search(
            r'<img alt="The causal mask" src="data:image/svg\+xml;base64,([^"]+)">', figure.group(1)
        )
        assert src and base64.b64decode(src.group(1)).decode() == FIGURES["05-gpt/mask"][lang]
        assert "<figcaption>The causal mask</figcaption>" in figure.group(1)
        assert "<svg" not in html and "<script" not in html, "the SVG is an image, never markup of the page"


def test_a_plot_figure_carries_its_spec_for_the_page_to_draw():
    html = guide_to_html("![The schedule](figure:schedule)\n", context())
    plot = re.search(
        r'<div aria-label="The schedule" class="guide-plot" data-plot="([^"]+)" role="img">', html
    )
    assert plot, html
    assert json.loads(plot.group(1).replace("&quot;", '"')) == json.loads(PLOT)


def test_a_figure_of_another_module_is_named_with_its_slug():
    rendered = guide_render("![Newton–Schulz](figure:06-optimizers/ns)\n", context())
    assert rendered.problems == [] and rendered.figures == ["06-optimizers/ns"]


def test_data_urls_stay_only_on_svg_images():
    html = guide_to_html(
        '<a href="data:text/html,<b>x</b>">x</a> <img src="data:image/png;base64,AA=="> '
        '<img src="data:image/svg+xml;base64,PHN2Zy8+">',
        context(),
    )
    assert "data:text/html" not in html and "data:image/png" not in html
    assert 'src="data:image/svg+xml;base64,PHN2Zy8+"' in html


# --- problems: named for the sync, never a broken page ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "problem", "placeholder"),
    [
        ("A {{fact:nope}} here.", "unknown fact 'nope'", "[unknown fact “nope”]"),
        ("![x](figure:nope)\n", "unknown figure 'nope' (05-gpt/nope)", "Figure “nope” is not available."),
        ("In ![x](figure:mask) text.", "figure 'mask' must stand in a paragraph of its own", "must stand"),
        ("{{figure:mask}}", "unknown directive '{{figure:mask}}'", "{{figure:mask}}"),
        ("See {{deviations}} inline.", "{{deviations}} must stand on a line of its own", "{{deviations}}"),
    ],
)
def test_a_citation_that_cannot_be_resolved_is_a_problem_and_a_visible_placeholder(
    text, problem, placeholder
):
    rendered = guide_render(text, context())
    assert rendered.problems == [problem]
    assert placeholder in rendered.html


def test_a_deviations_box_without_deviations_is_a_problem():
    rendered = guide_render("{{deviations}}\n", context(deviations=()))
    assert rendered.problems == ["{{deviations}}: module.yaml declares no deviations"]
    assert "<aside" not in rendered.html


# --- the sync: content errors name what is missing ----------------------------------------------------------------------
@pytest.fixture
def course(tmp_path, settings):
    content = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, content)
    settings.LAB_CONTENT_DIR = content
    settings.LAB_STARTERS_DIR = tmp_path / "starters"
    return content


@pytest.fixture
def figures_dir(tmp_path) -> Path:
    """A generated-figures folder with a fresh manifest: ``01-hello/demo`` (SVG), computed from nothing."""
    root = tmp_path / "figures"
    (root / "01-hello").mkdir(parents=True)
    files = {}
    for lang in ("en", "zh"):
        (root / "01-hello" / f"demo.{lang}.svg").write_text(f"<svg><title>{lang}</title></svg>\n")
        files[lang] = f"01-hello/demo.{lang}.svg"
    manifest_write(root, {"01-hello/demo": Figure(key="01-hello/demo", kind="svg", files=files, inputs={})})
    return root


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


@pytest.mark.django_db
def test_the_sync_names_an_unknown_fact_figure_and_deviations_box(course, figures_dir):
    append(course / "01-hello" / "guide.en.md", "\n{{fact:softcap}}\n\n![Demo](figure:missing)\n")
    append(course / "01-hello" / "guide.zh.md", "\n{{deviations}}\n")
    report = content_sync(content_dir=course, figures_dir=figures_dir)
    assert report.errors == {
        "01-hello": [
            "guide.en.md: unknown fact 'softcap'",
            "guide.en.md: unknown figure 'missing' (01-hello/missing)",
            "guide.zh.md: {{deviations}}: module.yaml declares no deviations",
        ]
    }


@pytest.mark.django_db
def test_a_shown_figure_reaches_the_page_from_the_payload_and_its_change_updates_the_module(
    course, figures_dir, learner
):
    append(course / "01-hello" / "guide.en.md", "\n![A demo figure](figure:demo)\n")
    append(course / "01-hello" / "guide.zh.md", "\n![演示图](figure:demo)\n")
    assert content_sync(content_dir=course, figures_dir=figures_dir).errors == {}
    module = Module.objects.get(slug="01-hello")
    assert set(module.payload["figures"]) == {"01-hello/demo"}
    html = learner.get_json("/api/modules/01-hello/").json()["guide_html"]
    src = re.search(
        r'data-figure="01-hello/demo"><img alt="A demo figure" src="data:image/svg\+xml;base64,([^"]+)"', html
    )
    assert src and base64.b64decode(src.group(1)) == b"<svg><title>en</title></svg>\n"

    (figures_dir / "01-hello" / "demo.en.svg").write_text("<svg><title>redrawn</title></svg>\n")
    report = content_sync(content_dir=course, figures_dir=figures_dir)
    assert report.updated == ["01-hello"], "a figure is part of the module's content hash"
    html = learner.get_json("/api/modules/01-hello/").json()["guide_html"]
    assert base64.b64encode(b"<svg><title>redrawn</title></svg>\n").decode() in html


@pytest.mark.django_db
def test_the_sync_refuses_a_fact_whose_value_the_reference_does_not_hold(course, repo_root):
    append(
        course / "01-hello" / "module.yaml",
        textwrap.dedent("""\
            facts:
              - id: softcap
                text: {en: "capped at 16", zh: "上限是 16"}
                value: 16
                source: {file: nanochat/gpt.py, symbol: "GPT.forward:softcap", lines: "275-279"}
            """),
    )
    report = content_sync(content_dir=course, repo_root=repo_root)
    assert report.errors == {
        "01-hello": [
            "fact softcap: value 16, but the reference has 15.0 at nanochat_ref/gpt.py GPT.forward:softcap"
        ]
    }


# --- the figure index: regenerate only when missing or stale ---------------------------------------------------------
GENERATOR = """\
import hashlib, json, pathlib, sys
out = pathlib.Path(sys.argv[sys.argv.index("--out") + 1])
if pathlib.Path("fail").exists():
    sys.exit("the stand-in generator was told to fail")
(out / "01-hello").mkdir(parents=True, exist_ok=True)
(out / "01-hello" / "demo.en.svg").write_text("<svg/>")
runs = pathlib.Path("runs")
runs.write_text(runs.read_text() + "x" if runs.exists() else "x")
digest = hashlib.sha256(pathlib.Path("input.txt").read_bytes()).hexdigest()
figure = {"kind": "svg", "files": {"en": "01-hello/demo.en.svg"}, "inputs": {"input.txt": digest}}
(out / "manifest.json").write_text(json.dumps({"version": 1, "figures": {"01-hello/demo": figure}}))
"""


@pytest.fixture
def repo(tmp_path) -> Path:
    """A repository whose figure generator is a stand-in: it counts its runs in ``runs``."""
    root = tmp_path / "repo"
    (root / "scripts" / "figures").mkdir(parents=True)
    (root / "scripts" / "figures" / "__main__.py").write_text(GENERATOR)
    (root / "input.txt").write_text("the reference\n")
    return root


def runs(repo: Path) -> int:
    path = repo / "runs"
    return len(path.read_text()) if path.exists() else 0


def test_missing_figures_are_generated_then_reused_while_fresh(repo, tmp_path):
    out = tmp_path / "figures"
    index = figures_ensure(root=out, repo_root=repo)
    assert (index.error, list(index), runs(repo)) == (None, ["01-hello/demo"], 1)
    assert index["01-hello/demo"] == {"kind": "svg", "en": "<svg/>"}
    figures_ensure(root=out, repo_root=repo)
    assert runs(repo) == 1, "a fresh manifest is not regenerated"


def test_figures_are_regenerated_when_an_input_changes_or_a_file_is_gone(repo, tmp_path):
    out = tmp_path / "figures"
    figures_ensure(root=out, repo_root=repo)
    (repo / "input.txt").write_text("the reference, changed\n")
    assert figures_ensure(root=out, repo_root=repo).error is None and runs(repo) == 2
    (out / "01-hello" / "demo.en.svg").unlink()
    assert figures_ensure(root=out, repo_root=repo).error is None and runs(repo) == 3


def test_an_input_the_deployment_does_not_carry_is_trusted(repo, tmp_path):
    out = tmp_path / "figures"
    figures_ensure(root=out, repo_root=repo)
    (repo / "input.txt").unlink()
    assert list(figures_ensure(root=out, repo_root=repo)) == ["01-hello/demo"] and runs(repo) == 1


def test_a_failing_or_absent_generator_is_reported(repo, tmp_path):
    (repo / "fail").write_text("")
    index = figures_ensure(root=tmp_path / "figures", repo_root=repo)
    assert index.error and "exited with 1" in index.error and "told to fail" in index.error
    shutil.rmtree(repo / "scripts")
    index = figures_ensure(root=tmp_path / "figures", repo_root=repo)
    assert index.error == "the figure generator (scripts.figures) is not part of this deployment"
    assert list(index) == []


@pytest.mark.django_db
def test_the_sync_says_why_a_cited_figure_could_not_be_generated(course, repo, tmp_path):
    (repo / "fail").write_text("")
    append(course / "01-hello" / "guide.en.md", "\n![Demo](figure:demo)\n")
    report = content_sync(content_dir=course, repo_root=repo, figures_dir=tmp_path / "figures")
    problems = report.errors["01-hello"]
    assert problems[0] == "guide.en.md: unknown figure 'demo' (01-hello/demo)"
    assert problems[1].startswith("figures: python -m scripts.figures exited with 1")


# --- the fact check: each symbol form, read from the source ------------------------------------------------------------
REFERENCE = """\
import argparse
NS_COEFFS = (3.4445, -4.7750, 2.0315)
RATIO: float = 0.2

class Config:
    n_head: int = 6

def zeropower(G, steps=5, *, eps=1e-7):
    a, b, c = NS_COEFFS
    softcap = 15.0
    return G

def build_parser():
    p = argparse.ArgumentParser()
    p.add_argument("--warmdown_ratio", type=float, default=0.2)
    return p

def other():
    softcap = 30
"""


@pytest.mark.parametrize(
    ("symbol", "value"),
    [
        ("RATIO", 0.2),
        ("NS_COEFFS", [3.4445, -4.775, 2.0315]),
        ("Config.n_head", 6),
        ("zeropower:steps", 5),
        ("zeropower:eps", 1e-7),
        ("zeropower:softcap", 15),
        ("zeropower:a,b,c", [3.4445, -4.775, 2.0315]),
        ("build_parser:--warmdown_ratio", 0.2),
        ("warmdown_ratio", 0.2),
    ],
)
def test_a_fact_value_is_read_from_the_reference_at_its_symbol(tmp_path, symbol, value):
    (tmp_path / "nanochat_ref").mkdir()
    (tmp_path / "nanochat_ref" / "muon.py").write_text(REFERENCE)
    fact = Fact(id="f", text={}, source={"file": "nanochat/muon.py", "symbol": symbol}, value=value)
    assert same_value(value, reference_value(fact, tmp_path))
    assert not same_value(
        [*value, 1] if isinstance(value, list) else value + 1, reference_value(fact, tmp_path)
    )


@pytest.mark.parametrize(
    ("symbol", "message"),
    [
        ("nowhere", "nanochat_ref/muon.py has no nowhere"),
        ("zeropower:missing", "nanochat_ref/muon.py has no zeropower:missing"),
        ("Missing.x", "nanochat_ref/muon.py has no Missing.x"),
        ("zeropower:G", "nanochat_ref/muon.py has no zeropower:G"),
    ],
)
def test_a_fact_whose_symbol_is_not_in_the_reference_is_an_error(tmp_path, symbol, message):
    (tmp_path / "nanochat_ref").mkdir()
    (tmp_path / "nanochat_ref" / "muon.py").write_text(REFERENCE)
    fact = Fact(id="f", text={}, source={"file": "nanochat/muon.py", "symbol": symbol}, value=1)
    with pytest.raises(FactError, match=re.escape(message)):
        reference_value(fact, tmp_path)


def test_check_names_the_symbol_where_the_mirror_spells_it_differently(tmp_path):
    (tmp_path / "nanochat_ref" / "scripts").mkdir(parents=True)
    (tmp_path / "nanochat_ref" / "scripts" / "base_train.py").write_text(REFERENCE)
    source = {"file": "scripts/base_train.py", "symbol": "zeropower:a, b, c"}
    fact = Fact(id="f", text={}, source=source, value=[3.4445, -4.775, 2.0315], check="NS_COEFFS")
    assert reference_value(fact, tmp_path) == (3.4445, -4.775, 2.0315)


def test_values_compare_as_literals_with_booleans_apart_from_numbers():
    assert same_value(15, 15.0) and same_value([1, (2, 3)], (1, [2, 3]))
    assert not same_value(True, 1) and not same_value(0, False) and not same_value([1, 2], [1, 2, 3])


def test_figure_files_written_by_many_threads_at_once_are_always_whole(tmp_path):
    """``atomic_write`` gives each writer its own temporary file: writers of one figure in several threads never
    rename another's half-written file or find theirs gone (the sandbox's ``/etc`` writer, named by process id,
    failed exactly so), and a reader only ever sees one whole text."""
    from concurrent.futures import ThreadPoolExecutor

    from modules.figures import atomic_write

    target = tmp_path / "figures" / "loss.svg"
    texts = [f"<svg>{str(n) * 20_000}</svg>\n" for n in range(8)]
    for _ in range(5):
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda text: atomic_write(target, text), texts))
        assert target.read_text(encoding="utf-8") in texts
        assert sorted(p.name for p in target.parent.iterdir()) == ["loss.svg"]  # no temporary file left
        assert target.stat().st_mode & 0o777 == 0o644  # readable by the web process, as before
