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
    shown = {  # `figure:<slug>/<name>` cites another module's figure (docs/authoring.md, "Figures")
        name if "/" in name else f"{d.name}/{name}"
        for d in module_dirs()
        for name in FIGURE_RE.findall(guide(d.name, "en"))
    }
    assert set(figures) == shown
    assert {
        "02-tokenizer/bpe-compression",
        "04-dataloader/sharding",
        "05-gpt/causal-mask",
        "05-gpt/rope-relative",
        "06-optimizers/newton-schulz",
        "07-base-training/lr-schedule",
        "11-engine/kv-cache-memory",
        "12-tool-use/tool-stream",
        "01-onboarding/params-by-depth",
        "03-dataset/rank-striding",
        "07-base-training/tiny-run",
    } <= shown


# --- generation ---------------------------------------------------------------------------------------------------
def test_generating_twice_writes_byte_identical_files(generated, tmp_path):
    from scripts.figures import FIGURES, generate

    generate(tmp_path)
    first = {p.relative_to(generated): p.read_bytes() for p in generated.rglob("*") if p.is_file()}
    second = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    # each figure in 2 languages, and the manifest
    assert len(first) == 2 * len(FIGURES) + 1 and first == second


def test_the_manifest_is_fresh_and_names_the_reference_files_each_figure_is_computed_from(generated):
    listed = manifest_read(generated)
    assert listed is not None and stale(listed, generated, REPO_ROOT) == []
    assert "nanochat_ref/gpt.py" in listed["05-gpt/causal-mask"].inputs
    assert "nanochat_ref/bpe_python.py" in listed["02-tokenizer/bpe-compression"].inputs
    assert "nanochat_ref/gpt.py" in listed["05-gpt/rope-relative"].inputs
    assert "nanochat_ref/muon.py" in listed["06-optimizers/newton-schulz"].inputs
    assert "nanochat_ref/scripts/base_train.py" in listed["07-base-training/lr-schedule"].inputs
    assert "nanochat_ref/engine.py" in listed["11-engine/kv-cache-memory"].inputs

    assert "nanochat_ref/engine.py" in listed["12-tool-use/tool-stream"].inputs
    assert all("scripts/figures/svg.py" in figure.inputs for figure in listed.values())


def test_svg_figures_are_well_formed_svg_in_each_language(figures):
    for key in ("05-gpt/causal-mask", "06-optimizers/newton-schulz", "12-tool-use/tool-stream"):
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


def test_the_rope_plot_shows_a_score_that_depends_only_on_the_distance(figures):
    import torch

    from nanochat_ref.gpt import apply_rotary_emb
    from scripts.figures.rope import HEAD_DIM, KEY_POSITIONS, MAX_OFFSET, scores

    schema = json.loads((REPO_ROOT / "labplatform" / "schemas" / "guide-plot.schema.json").read_text())
    for lang in LANGS:
        jsonschema.Draft202012Validator(schema).validate(json.loads(figures["05-gpt/rope-relative"][lang]))
    near, far = (scores(n) for n in KEY_POSITIONS)
    assert len(near) == len(far) == MAX_OFFSET + 1 and KEY_POSITIONS[1] >= 50
    spread = max(near) - min(near)
    assert spread > 5  # the score really moves with the distance ...
    assert max(abs(a - b) for a, b in zip(near, far, strict=True)) < 0.01 * spread  # ... and only with it
    x = torch.randn(1, 1, 1, HEAD_DIM)  # a rotation keeps the length: the rotated vectors are comparable
    angle = torch.rand(1, 1, 1, HEAD_DIM // 2)
    assert apply_rotary_emb(x, angle.cos(), angle.sin()).norm() == pytest.approx(x.norm().item(), rel=1e-5)


def test_one_newton_schulz_step_is_the_quintic_with_nanochats_coefficients():
    from nanochat_ref.muon import NS_COEFFS
    from scripts.figures.newton_schulz import singular_value_map

    a, b, c = NS_COEFFS
    for s, mapped in singular_value_map(1)[::20]:
        assert mapped == pytest.approx(a * s + b * s**3 + c * s**5, abs=1e-3)
    five = [mapped for _, mapped in singular_value_map(5)]
    assert min(five[len(five) // 2 :]) > 0.6 and max(five) < 1.25, "5 steps land every large σ near 1"


def test_the_compression_plot_is_the_reference_bpe_measured_on_train_and_held_text(figures):
    from nanochat_ref.bpe_python import Tokenizer
    from nanochat_ref.tokenizer import SPLIT_PATTERN
    from scripts.figures.bpe_compression import EVERY, MERGES, bytes_per_token, corpus

    schema = json.loads((REPO_ROOT / "labplatform" / "schemas" / "guide-plot.schema.json").read_text())
    plots = {lang: json.loads(figures["02-tokenizer/bpe-compression"][lang]) for lang in LANGS}
    for plot in plots.values():
        jsonschema.Draft202012Validator(schema).validate(plot)
    train_curve, held_curve = plots["en"]["series"]
    assert train_curve["x"] == list(range(0, MERGES + 1, EVERY)) == held_curve["x"]
    assert train_curve["y"][0] == held_curve["y"][0] == 1.0, "with no merge every byte is a token"
    assert all(a < b for a, b in zip(train_curve["y"], train_curve["y"][1:])), "each merge compresses more"
    assert all(h < t for h, t in zip(held_curve["y"][1:], train_curve["y"][1:])), (
        "held-out text compresses less"
    )
    assert plots["zh"]["series"][0]["y"] == train_curve["y"]
    # one point recomputed independently: a fresh run of 64 merges is the prefix of the long run
    train, held = corpus()
    short = Tokenizer()
    short.train_from_iterator(iter(train), 256 + 64, pattern=SPLIT_PATTERN)
    assert round(bytes_per_token(short.get_mergeable_ranks(), held), 4) == held_curve["y"][64 // EVERY]


def test_the_sharding_figure_gives_every_train_row_group_to_exactly_one_rank_and_resumes_in_the_next_round():
    from scripts.figures.sharding import RESUME, RESUME_WORLD, ROW_GROUPS, owners, resumed_reads

    table = owners(8)
    assert sorted(table) == [(pq, rg) for pq in range(2) for rg in range(ROW_GROUPS)], (
        "2 train files, all read"
    )
    assert all(ranks == [rg % 8] for (_pq, rg), ranks in table.items()), (
        "rank r reads r, r+8, ... exactly once"
    )
    per_rank = [sum(ranks == [r] for ranks in table.values()) for r in range(8)]
    assert per_rank == [4, 4, 4, 4, 2, 2, 2, 2], "12 row groups a file do not divide evenly over 8 ranks"
    resumed = resumed_reads(RESUME_WORLD)
    start = (RESUME["rg_idx"] // RESUME_WORLD + 1) * RESUME_WORLD
    for rank, reads in resumed.items():
        assert reads[0] == (RESUME["pq_idx"], start + rank), (
            "each rank restarts at its slot of the next round"
        )
        assert all(rg > RESUME["rg_idx"] for pq, rg in reads if pq == RESUME["pq_idx"]), "nothing read twice"
        assert reads[-1] == (1, ROW_GROUPS - RESUME_WORLD + rank), "then the next file from row group `rank`"


def test_the_kv_cache_figure_is_what_the_reference_cache_allocates():
    from scripts.figures.kv_cache import allocated_bytes, bytes_per_token, d20_kv_dims

    dims = d20_kv_dims()
    assert dims == {"num_layers": 20, "num_heads": 10, "head_dim": 128}
    assert bytes_per_token(dims) == 2 * 20 * 10 * 128 * 2 == 102400  # 100 KiB per token of context in bf16
    points = dict(allocated_bytes(length=2112, every=32))
    # A cache sized to a 16-token prompt grows on the first decode step to 17 + 1024 rounded up to 2048
    # positions, and again at 2049 to 4096: always a multiple of 1024 positions, never less than needed.
    assert points[32] == points[2048] == 2048 * 102400
    assert points[2080] == 4096 * 102400
    assert all(b >= t * 102400 and b % (1024 * 102400) == 0 for t, b in points.items())


def test_the_kv_cache_plot_follows_the_page_contract(figures):
    schema = json.loads((REPO_ROOT / "labplatform" / "schemas" / "guide-plot.schema.json").read_text())
    for lang in LANGS:
        plot = json.loads(figures["11-engine/kv-cache-memory"][lang])
        jsonschema.Draft202012Validator(schema).validate(plot)
        allocated, needed, fp32 = plot["series"]
        assert allocated["x"] == needed["x"] == fp32["x"] and needed["x"][-1] == 4096
        assert needed["y"][-1] == 400.0 and fp32["y"][-1] == 800.0  # MiB at 4096 tokens
        assert all(a >= n for a, n in zip(allocated["y"], needed["y"], strict=True))


def test_the_tool_stream_is_the_reference_engines_with_the_calculators_answer_forced():
    from scripts.figures.tool_use import tool_stream

    stream = tool_stream()
    texts = [item["text"] for item in stream]
    start, end = texts.index("<|python_start|>"), texts.index("<|python_end|>")
    out_start, out_end = texts.index("<|output_start|>"), texts.index("<|output_end|>")
    assert "".join(texts[start + 1 : end]) == "12*12"
    assert out_start == end + 1 and "".join(texts[out_start + 1 : out_end]) == "144"
    forced = [i for i, item in enumerate(stream) if item["mask"] == 0]
    assert forced == list(range(out_start, out_end + 1)), "exactly the output span is forced, with mask 0"
    assert (
        texts[-1] == "<|assistant_end|>" and "".join(texts[out_end + 1 : -1]) == " so the box holds 144 eggs."
    )


def test_the_rank_striding_figure_is_what_the_reference_reader_reads():
    from scripts.figures.dataset_shards import measured_owners

    owners = measured_owners()
    # train = shards 0 and 1, val = shard 2 (the last); rank r of W reads row groups r, r + W, ... of every file
    assert owners[("train", 2)] == [[0, 1, 0, 1], [0, 1, 0, 1], [-1, -1, -1, -1]]
    assert owners[("train", 3)] == [[0, 1, 2, 0], [0, 1, 2, 0], [-1, -1, -1, -1]]
    assert owners[("val", 1)] == [[-1, -1, -1, -1], [-1, -1, -1, -1], [0, 0, 0, 0]]


def test_the_depth_figure_counts_what_nanochats_model_holds():
    from scripts.figures.params_by_depth import DEPTHS, counts

    data = counts()  # each total is checked against nanochat_ref's GPT on the meta device
    d20 = DEPTHS.index(20)
    assert data["total"][d20] == 560_988_160
    assert data["embeddings"][d20] == 2 * 65536 * 1280
    assert all(b == 12 * (64 * d) ** 2 * d for b, d in zip(data["blocks"], DEPTHS, strict=True))


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
