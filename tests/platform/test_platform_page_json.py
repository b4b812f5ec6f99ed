"""``page_json`` writes exactly what Django's ``json_script`` writes, on generated values and on real pages."""

from __future__ import annotations

import re

from django.template import Context, Template
from django.utils.html import json_script
from hypothesis import given
from hypothesis import strategies as st

from modules.templatetags.page_data import page_json

# Text that leans on what the escaping is about (markup, entities, a closing script tag) and on non-ASCII text.
TEXT = st.text(
    alphabet=st.sampled_from(list("<>&/\\\"' \n\tabc<script></script>&amp;中文字节\u2028\u2029é😀"))
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


@given(value=JSON, element_id=st.sampled_from(["page-data", "analytics-data", 'x"<y>']))
def test_page_json_is_django_json_script_byte_for_byte(value, element_id):
    assert str(page_json(value, element_id)) == str(json_script(value, element_id))


def test_no_text_in_the_data_can_close_the_element_or_open_markup():
    html = str(page_json({"guide": "</script><script>alert(1)</script>", "a&b": "<!--"}, "page-data"))
    inner = re.fullmatch(r'<script id="page-data" type="application/json">(.*)</script>', html).group(1)
    assert not set("<>&") & set(inner)


def test_the_filter_renders_through_a_template():
    rendered = Template('{% load page_data %}{{ data|page_json:"page-data" }}').render(
        Context({"data": {"x": "<b>"}})
    )
    assert rendered == str(json_script({"x": "<b>"}, "page-data"))
