"""Markdown to safe HTML on two trust levels: learner text (strict) and guides (trusted content from ``content/``).

Design choices:
- Learner and discussion text (``markdown_to_safe_html``) is untrusted: a post is read by other learners and by
  mentors. It is rendered without extensions that mint ids (no ``toc``) and cleaned by nh3 with a tight allow-list:
  - no ``class``, ``id``, ``name`` or ``style`` on any tag: classes and styles let a post dress up as the page's own
    UI (a fake "passed" badge, an overlay), ids and names clobber DOM globals (``<a id="csrf_token">``);
  - no images at all: the lab has no image upload, so an image in a post is a remote tracking pixel (every
    reader's address and reading time), or a ``data:``/same-origin URL that draws a fake badge. A markdown image
    becomes a plain link to its URL, labelled with its alt text; a raw ``<img>`` is dropped;
  - links keep http(s), mailto and relative targets only, with ``rel="nofollow noopener noreferrer ugc"``.
- Guides (``guide_render``) are trusted content reviewed with the course, rendered by ``modules.handouts``
  (maths, figures, facts, deviations); they keep classes on the few tags the page styles, ids on headings
  (anchors) and ``data:`` SVG images (the figures). They still go through nh3, so a slip in a guide can never
  become script on a learner's page.
"""

from __future__ import annotations

import xml.etree.ElementTree as etree

import markdown
import nh3
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

# --- learner text ------------------------------------------------------------------------------------------------
_LEARNER_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "kbd", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_LEARNER_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "ol": {"start"}}
_LEARNER_CLEANER = nh3.Cleaner(
    tags=_LEARNER_TAGS,
    clean_content_tags={"script", "style"},
    attributes=_LEARNER_ATTRIBUTES,
    url_schemes={"http", "https", "mailto"},
    link_rel="nofollow noopener noreferrer ugc",
)


class _ImagesAsLinks(Treeprocessor):
    """``![alt](url)`` becomes ``<a href="url">alt</a>``: the reader can still follow it, nothing loads by itself."""

    def run(self, root: etree.Element) -> None:
        for node in root.iter("img"):
            src, alt = node.get("src", ""), node.get("alt") or node.get("src", "")
            node.tag = "a"
            node.attrib.clear()
            node.set("href", src)
            node.text = alt


class _ImagesAsLinksExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:  # python-markdown's hook name
        md.treeprocessors.register(_ImagesAsLinks(md), "lab_images_as_links", 0)


def markdown_to_safe_html(text: str) -> str:
    """Learner or discussion markdown as HTML that is safe to insert into any lab page (see the module docstring)."""
    html = markdown.markdown(
        text,
        extensions=["fenced_code", "tables", "sane_lists", _ImagesAsLinksExtension()],
        output_format="html",
    )
    return _LEARNER_CLEANER.clean(html)
