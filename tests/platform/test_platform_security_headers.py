"""Security headers on the lab's responses: the Content Security Policy (no inline or evaluated script; what Monaco,
Plotly and KaTeX need; ``frame-ancestors`` from ``LAB_FRAME_ANCESTORS`` for LTI launches) and framing.

The policy's effect in a real browser (the pages boot with no violation) is tests/browser/test_browser_csp.py.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, "no Content-Security-Policy header"
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def test_the_dashboard_sends_a_content_security_policy(course, learner):
    assert policy(learner.get("/"))


def test_the_login_page_sends_the_policy_too(anonymous):
    assert policy(anonymous.get("/accounts/login/"))


def test_scripts_come_only_from_the_lab_itself(course, learner):
    directives = policy(learner.get("/modules/01-hello/"))
    assert directives["script-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]


def test_plugins_and_base_rewrites_are_off(course, learner):
    directives = policy(learner.get("/"))
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]


def test_the_policy_allows_what_monaco_plotly_and_katex_need(course, learner):
    directives = policy(learner.get("/modules/01-hello/"))
    assert directives["worker-src"] == ["'self'"], "Monaco's editor worker is a same-origin module file"
    assert directives["style-src"] == ["'self'", "'unsafe-inline'"], (
        "Monaco and Plotly inject styles; KaTeX sets them"
    )
    assert set(directives["img-src"]) == {"'self'", "data:"}, "Monaco and Plotly draw icons from data: URIs"
    assert set(directives["font-src"]) == {"'self'", "data:"}
    assert directives["connect-src"] == ["'self'"], "the API and the grading websocket are same-origin"


def test_only_the_lab_may_frame_its_pages_by_default(course, learner):
    response = learner.get("/")
    assert policy(response)["frame-ancestors"] == ["'self'"]
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_frame_ancestors_list_the_registered_lms_platforms(course, learner, settings):
    settings.LAB_FRAME_ANCESTORS = ["https://lms.example.edu", "https://*.instructure.com"]
    directives = policy(learner.get("/modules/01-hello/"))
    assert directives["frame-ancestors"] == ["'self'", "https://lms.example.edu", "https://*.instructure.com"]
