"""Trust boundaries for HTML: learner and discussion text is sanitised strictly (no ``class``/``id``/``style``, no
images, only http(s)/mailto/relative links); guides are trusted content and keep their markup.

Hostile golden inputs go through the discussion API (``POST /api/modules/<slug>/threads/``) and come back as the
``body_html`` the page inserts; the guide through ``GET /api/modules/<slug>/``.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db

THREADS = "/api/modules/01-hello/threads/"


def rendered(persona, body: str) -> str:
    response = persona.post_json(THREADS, {"kind": "question", "title": "Look", "body": body})
    assert response.status_code == 201, response.content
    return response.json()["posts"][0]["body_html"]


def test_a_remote_image_is_never_loaded(course, learner):
    html = rendered(
        learner, '<img src="https://evil.example/pixel.png">\n\n![chart](https://evil.example/c.png)'
    )
    assert "<img" not in html


def test_a_markdown_image_becomes_a_plain_link_to_it(course, learner):
    html = rendered(learner, "![my loss curve](https://example.org/loss.png)")
    assert re.search(r'<a href="https://example.org/loss.png"[^>]*>my loss curve</a>', html), html


def test_a_data_uri_image_cannot_draw_a_fake_badge(course, learner):
    html = rendered(
        learner, '<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=">\n\n![ok](data:image/png;base64,AA==)'
    )
    assert "data:" not in html and "<img" not in html


def test_a_post_cannot_clobber_a_page_id(course, learner):
    html = rendered(
        learner, '<a id="csrf_token" name="csrf_token">x</a>\n\n<h2 id="csrf_token">Heading</h2>\n\n## Toc'
    )
    assert "id=" not in html and "name=" not in html


def test_a_post_cannot_dress_up_as_a_pass_badge(course, learner):
    html = rendered(learner, '<div class="badge badge-pass">PASSED</div>\n\n```python\nx = 1\n```')
    assert "class=" not in html
    assert "PASSED" in html, "the words stay, only the styling hook goes"


def test_a_post_cannot_style_itself(course, learner):
    html = rendered(learner, '<p style="position:fixed;inset:0">cover the page</p>\n\n| a |\n|:-:|\n| b |')
    assert "style=" not in html


def test_a_javascript_link_loses_its_target(course, learner):
    html = rendered(learner, '[click](javascript:alert(1))\n\n<a href="JaVaScRiPt:alert(1)">x</a>')
    assert "javascript" not in html.lower()


def test_an_svg_onload_never_reaches_the_page(course, learner):
    html = rendered(learner, '<svg onload="alert(1)"><script>alert(2)</script></svg><p onclick="x()">hi</p>')
    assert "<svg" not in html and "onload" not in html and "onclick" not in html and "<script" not in html


def test_links_in_posts_are_marked_as_user_content(course, learner):
    html = rendered(learner, "[nanochat](https://github.com/karpathy/nanochat)")
    assert re.search(r'<a href="https://github.com/karpathy/nanochat" rel="([^"]*)"', html), html
    rel = set(re.search(r'rel="([^"]*)"', html).group(1).split())
    assert {"nofollow", "noopener", "noreferrer", "ugc"} <= rel


def test_a_guide_keeps_its_heading_ids_and_code_classes(course, learner):
    html = learner.get_json("/api/modules/01-hello/").json()["guide_html"]
    assert '<h1 id="hello">' in html
    assert 'class="language-python"' in html
    assert "<script" not in html, "trusted is not unsanitised: a slip in a guide never becomes script"
