"""``{{ text|engine_message }}``: a stored grading message with the engine's own sentences in the page's language
(grading/engine/messages.py; the results pane does the same in frontend/src/engine-messages.ts)."""

from __future__ import annotations

from django import template
from django.utils import translation

from grading.engine.messages import localize

register = template.Library()


@register.filter
def engine_message(text: str) -> str:
    return localize(str(text or ""), translation.get_language() or "en")
