"""Guides (handouts) as HTML: trusted Markdown from ``content/`` with maths, figures, facts and deviations.

What an author writes (docs/authoring.md, "Handouts"):
- maths: ``$...$`` inline, ``$$...$$`` (or a fenced ``math`` block) on its own lines for display; ``\\$`` for a
  dollar sign. pymdown-extensions' arithmatex (generic mode) lifts the TeX out before Markdown sees it, so
  underscores, asterisks and backslashes survive; it reaches the page as ``<span class="arithmatex">\\(...\\)</span>``
  / ``<div class="arithmatex">\\[...\\]</div>`` and the page's KaTeX (``frontend/src/maths.ts``, self-hosted)
  typesets it after sanitising. Bad TeX shows its source in an error style there.
- figures: ``![caption](figure:causal-mask)`` in a paragraph of its own names a figure generated from the
  reference code (``scripts/figures``, see ``modules.figures``); ``figure:<slug>/<name>`` names another module's.
  An SVG becomes an ``<img>`` with a ``data:`` URI (an image never runs script); a plot spec becomes a
  ``<div class="guide-plot" data-plot="...">`` that the page draws with Plotly. Both get the caption.
- facts: ``{{fact:softcap}}`` inserts the fact's text (module.yaml ``facts``, in the guide's language) and a
  superscript link to its upstream source at the pinned commit.
- deviations: ``{{deviations}}`` on a line of its own renders the module's deviations from nanochat ``48abd7d``
  (module.yaml ``deviations``) as a styled aside.

Design choices:
- One renderer for the content sync and the pages: :func:`guide_render` returns the HTML and every problem it
  met (unknown fact or figure, a figure inside running text, ``{{deviations}}`` without deviations, an unknown
  directive). The sync reports the problems as content errors naming them; a page never breaks on one (the
  spot shows a visible placeholder instead).
- The page's HTML is cleaned by nh3 after rendering, figures included: ``data:`` URIs are kept only as the
  ``src`` of an ``<img>`` holding SVG, classes only on the tags the page styles.
- :func:`guide_html_cached` caches per (content hash, language); the content hash covers module.yaml (facts,
  deviations) and the figures a guide shows (``modules.content``), so a cached page is never stale.
"""

from __future__ import annotations

import base64
import re
import threading
import xml.etree.ElementTree as etree
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any

import markdown
import nh3
from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor

from modules.spec import UPSTREAM_COMMIT, Deviation, Fact

FIGURE_SCHEME = "figure:"
SVG_DATA_PREFIX = "data:image/svg+xml;base64,"
_FACT_RE = re.compile(r"\{\{\s*fact:([^}\s]*)\s*\}\}")
_DEVIATIONS_LINE_RE = re.compile(r"^\s*\{\{\s*deviations\s*\}\}\s*$")
_DIRECTIVE_RE = re.compile(r"\{\{\s*([a-z]+)(:[^}]*)?\s*\}\}")
_MATH_FENCE_RE = re.compile(r'<pre><code class="language-math">(.*?)</code></pre>', re.DOTALL)
_FIGURE_KEY_RE = re.compile(r"^(?:([a-z0-9][a-z0-9_-]*)/)?([a-z0-9][a-z0-9_-]*)$")

#: Words of the page's own around cited content, in the guide's language.
_WORDS = {
    "en": {
        "deviations": "Where the lab differs from nanochat",
        "missing_figure": "Figure “{key}” is not available.",
        "misplaced_figure": "[figure “{key}” must stand in a paragraph of its own]",
        "missing_fact": "[unknown fact “{id}”]",
        "source": "nanochat source",
    },
    "zh": {
        "deviations": "本实验与 nanochat 的不同之处",
        "missing_figure": "图 “{key}” 不可用。",
        "misplaced_figure": "[图 “{key}” 必须单独成段]",
        "missing_fact": "[未知的事实 “{id}”]",
        "source": "nanochat 源码",
    },
}


@dataclass(frozen=True)
class GuideContext:
    """What a guide may cite besides its own text.

    ``figures`` maps a figure key (``<slug>/<name>``) to ``{"kind": "svg" | "plot", "<lang>": file text}``.
    """

    slug: str = ""
    lang: str = "en"
    facts: Mapping[str, Fact] = field(default_factory=dict)
    deviations: tuple[Deviation, ...] = ()
    figures: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def words(self, key: str) -> str:
        return _WORDS.get(self.lang, _WORDS["en"])[key]

    def figure_key(self, name: str) -> str | None:
        """``name`` or ``<slug>/<name>`` as a figure key; None when it is not a figure name at all."""
        match = _FIGURE_KEY_RE.match(name)
        if match is None:
            return None
        return f"{match.group(1) or self.slug}/{match.group(2)}"


@dataclass
class RenderedGuide:
    html: str
    problems: list[str]
    figures: list[str]  # keys of the figures shown, in order


class _Run:
    """State of one rendering: the context, the problems met, the figures used."""

    def __init__(self, context: GuideContext) -> None:
        self.context = context
        self.problems: list[str] = []
        self.figures: list[str] = []

    def problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)


# --- markdown extension ------------------------------------------------------------------------------------------
#: Maths protected from Markdown and written out for KaTeX (``\(...\)`` inline, ``\[...\]`` display).
_MATHS_EXTENSIONS = ["pymdownx.arithmatex"]
_MATHS_CONFIG = {"pymdownx.arithmatex": {"generic": True}}


def _inline_markdown(text: str) -> str:
    """A short author text (a deviation) as inline HTML, with its maths and code."""
    html = markdown.markdown(text, extensions=_MATHS_EXTENSIONS, extension_configs=_MATHS_CONFIG)
    return html.removeprefix("<p>").removesuffix("</p>")


def _source_link(source: Mapping[str, Any], url: str, words: str) -> str:
    file = str(source["file"])
    lines = str(source.get("lines") or "")
    label = file.rsplit("/", 1)[-1] + (f":{lines.split('-')[0]}" if lines else "")
    symbol = f" {source['symbol']}" if source.get("symbol") else ""
    title = f"{words}: {file}{symbol} @ {source.get('commit') or UPSTREAM_COMMIT}"
    return f'<a href="{escape(url)}" title="{escape(title)}">{escape(label)}</a>'


class _Directives(Preprocessor):
    """``{{fact:id}}`` and ``{{deviations}}``; runs after fenced code is stashed, so code blocks keep them."""

    def __init__(self, md: markdown.Markdown, run: _Run) -> None:
        super().__init__(md)
        self.run_state = run

    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        for line in lines:
            if _DEVIATIONS_LINE_RE.match(line):
                box = self._deviations()
                out += ["", self.md.htmlStash.store(box), ""] if box else [""]
                continue
            line = _FACT_RE.sub(self._fact, line)
            for match in _DIRECTIVE_RE.finditer(line):
                kind = match.group(1)
                if kind == "deviations":
                    self.run_state.problem("{{deviations}} must stand on a line of its own")
                elif match.group(2) is not None:
                    self.run_state.problem(f"unknown directive {match.group(0)!r}")
            out.append(line)
        return out

    def _fact(self, match: re.Match[str]) -> str:
        context = self.run_state.context
        fact = context.facts.get(match.group(1))
        if fact is None:
            self.run_state.problem(f"unknown fact {match.group(1)!r}")
            return self.md.htmlStash.store(
                f'<span class="guide-missing">{escape(context.words("missing_fact").format(id=match.group(1)))}</span>'
            )
        text = fact.text.get(context.lang) or fact.text.get("en") or ""
        link = _source_link(fact.source, fact.url, context.words("source"))
        return text + self.md.htmlStash.store(f'<sup class="fact-source">{link}</sup>')

    def _deviations(self) -> str:
        context = self.run_state.context
        if not context.deviations:
            self.run_state.problem("{{deviations}}: module.yaml declares no deviations")
            return ""
        items = []
        for deviation in context.deviations:
            text = _inline_markdown(deviation.text.get(context.lang) or deviation.text.get("en") or "")
            link = ""
            if deviation.url is not None:
                link = f' <span class="upstream">({_source_link(deviation.upstream, deviation.url, context.words("source"))})</span>'
            items.append(f"<li>{text}{link}</li>")
        title = f"{escape(context.words('deviations'))} <code>{UPSTREAM_COMMIT}</code>"
        return f'<aside class="deviations"><p class="deviations-title">{title}</p><ul>{"".join(items)}</ul></aside>'


class _Figures(Treeprocessor):
    """``![caption](figure:name)`` alone in a paragraph becomes a ``<figure>`` with the generated figure."""

    def __init__(self, md: markdown.Markdown, run: _Run) -> None:
        super().__init__(md)
        self.run_state = run

    def run(self, root: etree.Element) -> None:
        parents = {child: parent for parent in root.iter() for child in parent}
        for img in [n for n in root.iter("img") if (n.get("src") or "").startswith(FIGURE_SCHEME)]:
            name = (img.get("src") or "").removeprefix(FIGURE_SCHEME)
            caption = img.get("alt") or ""
            parent = parents.get(img)
            alone = (
                parent is not None
                and parent.tag == "p"
                and len(parent) == 1
                and not (parent.text or "").strip()
                and not (img.tail or "").strip()
            )
            if parent is None or not alone:
                self.run_state.problem(f"figure {name!r} must stand in a paragraph of its own")
                img.tag, img.attrib = "span", {"class": "guide-missing"}  # keeps the text after it (its tail)
                img.text = self.run_state.context.words("misplaced_figure").format(key=name)
                continue
            figure = self._figure(name, caption)
            parent.clear()
            parent.tag, parent.attrib = figure.tag, figure.attrib
            parent.extend(list(figure))

    def _figure(self, name: str, caption: str) -> etree.Element:
        context = self.run_state.context
        key = context.figure_key(name)
        data = context.figures.get(key) if key is not None else None
        figure = etree.Element("figure", {"class": "guide-figure", "data-figure": key or name})
        text = (data.get(context.lang) or data.get("en")) if data is not None else None
        if data is None or text is None:
            self.run_state.problem(f"unknown figure {name!r}" + (f" ({key})" if key and key != name else ""))
            figure.set("class", "guide-figure is-missing")
            etree.SubElement(figure, "figcaption").text = context.words("missing_figure").format(key=name)
            return figure
        assert key is not None
        self.run_state.figures.append(key)
        if data.get("kind") == "plot":
            etree.SubElement(
                figure,
                "div",
                {"class": "guide-plot", "data-plot": text, "role": "img", "aria-label": caption},
            )
        else:
            encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
            etree.SubElement(figure, "img", {"src": SVG_DATA_PREFIX + encoded, "alt": caption})
        if caption:
            etree.SubElement(figure, "figcaption").text = caption
        return figure


class _GuideExtension(Extension):
    def __init__(self, run: _Run) -> None:
        super().__init__()
        self.run_state = run

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # python-markdown's hook name
        md.preprocessors.register(_Directives(md, self.run_state), "lab_directives", 22)
        md.treeprocessors.register(_Figures(md, self.run_state), "lab_figures", 15)


# --- sanitising ----------------------------------------------------------------------------------------------------
_GUIDE_ATTRIBUTES = {tag: set(values) for tag, values in nh3.ALLOWED_ATTRIBUTES.items()}
for _tag in ("code", "pre", "span", "div", "aside", "p", "sup", "figure"):
    _GUIDE_ATTRIBUTES.setdefault(_tag, set()).add("class")
for _tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
    _GUIDE_ATTRIBUTES.setdefault(_tag, set()).add("id")
_GUIDE_ATTRIBUTES["figure"].add("data-figure")
_GUIDE_ATTRIBUTES["div"] |= {"data-plot", "role", "aria-label"}


def _guide_attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    """``data:`` URLs only as an SVG image's source (an image never runs script)."""
    if value.strip().lower().startswith("data:") and attribute in ("src", "href"):
        return value if tag == "img" and attribute == "src" and value.startswith(SVG_DATA_PREFIX) else None
    return value


def _clean(html: str) -> str:
    return nh3.clean(
        html,
        attributes=_GUIDE_ATTRIBUTES,
        attribute_filter=_guide_attribute_filter,
        url_schemes=nh3.ALLOWED_URL_SCHEMES | {"data"},
        link_rel="noopener noreferrer",
    )


# --- entry points --------------------------------------------------------------------------------------------------
def guide_render(text: str, context: GuideContext | None = None) -> RenderedGuide:
    """A guide as sanitised HTML, with every problem met (see the module docstring)."""
    run = _Run(context or GuideContext())
    md = markdown.Markdown(
        extensions=["fenced_code", "tables", "sane_lists", "toc", *_MATHS_EXTENSIONS, _GuideExtension(run)],
        extension_configs=_MATHS_CONFIG,
        output_format="html",
    )
    html = md.convert(text)
    # a fenced ```math block is display maths, in the one shape the page typesets
    html = _MATH_FENCE_RE.sub(lambda m: f'<div class="arithmatex">\\[{m.group(1).rstrip()}\\]</div>', html)
    return RenderedGuide(html=_clean(html), problems=run.problems, figures=run.figures)


def guide_to_html(text: str, context: GuideContext | None = None) -> str:
    return guide_render(text, context).html


_cache: OrderedDict[tuple[str, str], str] = OrderedDict()
_cache_lock = threading.Lock()
CACHE_SIZE = 128


def guide_html_cached(content_hash: str, lang: str, text: str, context: Callable[[], GuideContext]) -> str:
    """:func:`guide_to_html`, cached per (content hash, language); ``context`` is built on a miss only."""
    key = (content_hash, lang)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    html = guide_to_html(text, context())
    with _cache_lock:
        _cache[key] = html
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return html
