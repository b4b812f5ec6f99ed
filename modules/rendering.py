"""Markdown guides to safe HTML: rendered with python-markdown, then sanitized with nh3 (an allow-list).

Design choices: content is trusted-ish (reviewed authors) but the HTML still goes through nh3 so a slip in a guide
can never become script on a learner's page. ``class`` survives on code/pre/span/div (syntax highlighting, math
blocks) and ``id`` on headings (anchors). The result is cached per (content hash, language).
"""

from __future__ import annotations

from functools import lru_cache

import markdown
import nh3

_ATTRIBUTES = {tag: set(values) for tag, values in nh3.ALLOWED_ATTRIBUTES.items()}
for _tag in ("code", "pre", "span", "div"):
    _ATTRIBUTES.setdefault(_tag, set()).add("class")
for _tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
    _ATTRIBUTES.setdefault(_tag, set()).add("id")


def markdown_to_safe_html(text: str) -> str:
    html = markdown.markdown(
        text, extensions=["fenced_code", "tables", "sane_lists", "toc"], output_format="html"
    )
    return nh3.clean(html, attributes=_ATTRIBUTES, link_rel="noopener noreferrer")


@lru_cache(maxsize=128)
def guide_html_cached(content_hash: str, lang: str, text: str) -> str:  # noqa: ARG001 - hash/lang key the cache
    return markdown_to_safe_html(text)
